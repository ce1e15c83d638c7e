//! Ctrl-C during a CLI run: the run stops at its next cancellation check, prints one line
//! and exits with 130, well within a second.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigint_cancels_a_long_run_promptly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args([
            "run",
            "spectrum-pipeline",
            "--variant",
            "naive",
            "--repeat",
            "500",
            "--force",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start astroperf");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the run ended before Ctrl-C"
    );
    let sent = Instant::now();
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
    let out = child.wait_with_output().expect("wait");
    let waited = sent.elapsed();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(waited < Duration::from_secs(2), "took {waited:?} to stop");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), "astroperf: cancelled");
}

/// Send SIGINT to a child after `after` and wait for it.
fn interrupt(mut child: std::process::Child, after: Duration) -> (std::process::Output, Duration) {
    std::thread::sleep(after);
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the run ended before Ctrl-C"
    );
    let sent = Instant::now();
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
    let out = child.wait_with_output().expect("wait");
    (out, sent.elapsed())
}

#[test]
fn a_forced_long_run_starts_and_ctrl_c_reports_it_as_cancelled() {
    // About 70 s of naive angular distances: the guard wants --force, and gets it.
    let child = Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args([
            "run",
            "angular-distances",
            "--variant",
            "vectorized,naive",
            "--repeat",
            "60",
            "--warmup",
            "0",
            "--force",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start astroperf");
    let (out, waited) = interrupt(child, Duration::from_millis(1500));
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(waited < Duration::from_secs(2), "took {waited:?} to stop");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "astroperf: cancelled"
    );
    // The partial record: marked cancelled, never a completed timing.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON record");
    let c = &v["cancelled"];
    assert!(c.is_object(), "{v}");
    assert!(
        c["variant"] == "vectorized" || c["variant"] == "naive",
        "{c}"
    );
    assert!(c["elapsed_s"].as_f64().is_some(), "{c}");
    assert!(c["finished_stages"].is_array(), "{c}");
    let runs = v["runs"].as_array().expect("runs");
    assert!(
        runs.iter().all(|r| r["variant"] != c["variant"]),
        "the stopped variant is not listed as finished: {v}"
    );

    // The table form says CANCELLED.
    let child = Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args([
            "run",
            "angular-distances",
            "--variant",
            "naive",
            "--force",
            "--repeat",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start astroperf");
    let (out, _) = interrupt(child, Duration::from_millis(800));
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CANCELLED during naive"), "{text}");
}

#[test]
fn ctrl_c_during_bench_writes_what_finished_marked_cancelled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("bench.json");
    let child = Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args([
            "bench",
            "--suite",
            "chapter",
            "--only",
            "angular-distances",
            "--no-bandwidth",
            "--repeat",
            "50",
            "--json",
        ])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start astroperf");
    let (out, waited) = interrupt(child, Duration::from_millis(1500));
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(waited < Duration::from_secs(2), "took {waited:?} to stop");
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("Cancelled (Ctrl-C; not a timing)"), "{md}");
    assert!(md.contains("angular-distances: CANCELLED during"), "{md}");
    let recs = astroperf::bench::load_records(&json).expect("records written");
    assert_eq!(recs.len(), 1);
    assert!(recs[0].is_cancelled());
}
