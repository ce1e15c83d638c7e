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
