//! `run --python` and the app's "Run Python too": the reference run as a child process on
//! the same input, its records checked against ours. A stub interpreter (a shell script that
//! answers like reference_bench.py with canned records) covers agreement, disagreement,
//! random draws, a crash, a missing numpy or interpreter, the timeout and Cancel; the real
//! script runs too when this machine's Python has numpy (skipped with a message otherwise).
#![cfg(unix)]

use astroperf::analyses;
use astroperf::bench::python::{self, PyEvent, PythonOptions, PythonOutcome};
use astroperf::bench::{self, RunConfig, RunRecord};
use astroperf::engine::{Analysis, Control, Params};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use stub_python::{answering, stub};

mod stub_python;

fn planck() -> &'static dyn Analysis {
    analyses::find("planck").expect("planck is registered")
}

/// Our own run of `a` at its quick size with its default parameters (one call, one thread).
fn ours_of(a: &dyn Analysis) -> (astroperf::data::Loaded, Params, RunRecord) {
    let loaded = bench::generated_input(a, a.quick_size(), 1).expect("generate");
    let params = Params::resolve(&a.params(), &[]).expect("defaults");
    let cfg = RunConfig {
        repeat: 1,
        warmup: 0,
        threads: 1,
        ..Default::default()
    };
    let (record, _) = bench::run(
        a,
        &loaded.data,
        &loaded.info,
        &params,
        &cfg,
        &Control::new(),
    )
    .expect("our run");
    (loaded, params, record)
}

/// Our own run of planck at its quick size (the record the canned answers copy).
fn ours() -> RunRecord {
    ours_of(planck()).2
}

/// A Python record in the script's format whose summary is ours, changed by `edit`.
fn canned(ours: &RunRecord, same_input: bool, edit: impl Fn(&mut Value)) -> Value {
    let mut summary = serde_json::to_value(&ours.runs[0].summary).expect("summary");
    summary["method"] = json!("numpy stub");
    summary["library"] = json!("numpy");
    edit(&mut summary);
    json!([{
        "analysis": "planck",
        "input": {"kind": "spectrum", "source": "stub", "shape": [10]},
        "size": ours.size, "size_unit": ours.size_unit,
        "params": ours.params, "agree": true, "tool": "python",
        "same_input": same_input,
        "runs": [{
            "variant": "vectorized", "threads": 1, "first_s": 0.002, "times_s": [0.001, 0.001],
            "median_s": 0.001, "min_s": 0.001, "max_s": 0.001, "mad_s": 0.0,
            "throughput": 1.0, "throughput_unit": "points/s", "stages": [],
            "summary": summary, "agrees": true
        }]
    }])
}

fn opts(exe: &Path, timeout_s: u64) -> PythonOptions {
    PythonOptions {
        exe: Some(exe.to_path_buf()),
        repeat: 2,
        timeout: Duration::from_secs(timeout_s),
        profile: true,
    }
}

fn run_with(exe: &Path, timeout_s: u64, control: &Control) -> (PythonOutcome, Vec<PyEvent>) {
    let (loaded, params, record) = ours_of(planck());
    let mut events = Vec::new();
    let out = python::run_reference(
        planck(),
        &loaded.data,
        &params,
        &record,
        &opts(exe, timeout_s),
        control,
        &mut |e| events.push(e.clone()),
    );
    (out, events)
}

fn runs_of(o: &PythonOutcome) -> Vec<bench::VariantRun> {
    match o {
        PythonOutcome::Ran { records, .. } => records.iter().flat_map(|r| r.runs.clone()).collect(),
        other => panic!("expected records, got {other:?}"),
    }
}

#[test]
fn canned_records_that_match_ours_agree_and_bring_their_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = ours();
    let exe = answering(dir.path(), "agree", &canned(&record, true, |_| {}));
    let (out, events) = run_with(&exe, 60, &Control::new());
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PyEvent::Progress(p) if p.method == "numpy stub" && p.total == 2)),
        "the progress line was passed on: {events:?}"
    );
    let runs = runs_of(&out);
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].agrees_with_astroperf,
        Some(true),
        "{:?}",
        runs[0].agreement
    );
    assert!(runs[0]
        .agreement
        .as_deref()
        .is_some_and(|a| a.contains("peak_nm")));
    let PythonOutcome::Ran { profile, .. } = &out else {
        unreachable!()
    };
    let tree = profile
        .as_ref()
        .and_then(|p| p.profiles[0].tree.as_ref())
        .expect("the profile's call tree");
    assert_eq!(tree.children[0].name, "expm1");
}

#[test]
fn a_different_value_disagrees_and_names_it_and_random_draws_are_not_compared() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = ours();
    let off = canned(&record, true, |s| {
        let v = s["peak_nm"].as_f64().expect("peak_nm is a number");
        s["peak_nm"] = json!(v * 1.001);
    });
    let (out, _) = run_with(&answering(dir.path(), "off", &off), 60, &Control::new());
    let r = &runs_of(&out)[0];
    assert_eq!(r.agrees_with_astroperf, Some(false));
    let why = r.agreement.as_deref().unwrap_or_default();
    assert!(why.contains("peak_nm"), "{why}");
    let drawn = canned(&record, false, |_| {});
    let (out, _) = run_with(&answering(dir.path(), "drawn", &drawn), 60, &Control::new());
    let r = &runs_of(&out)[0];
    assert_eq!(r.agrees_with_astroperf, None);
    assert!(r
        .agreement
        .as_deref()
        .is_some_and(|a| a.contains("random numbers")));
}

#[test]
fn a_crash_is_one_line_with_the_scripts_last_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = stub(
        dir.path(),
        "crash",
        "echo 'Traceback (most recent call last):' >&2\necho '  File \"x.py\", line 1' >&2\necho 'ValueError: boom' >&2\nexit 1",
    );
    let (out, _) = run_with(&exe, 60, &Control::new());
    match out {
        PythonOutcome::Failed(msg) => {
            assert!(msg.contains("ValueError: boom"), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_missing_numpy_or_interpreter_says_what_to_install() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = stub(
        dir.path(),
        "nonumpy",
        "echo 'reference_bench: numpy is required (pip install numpy scipy numba astropy)' >&2\nexit 2",
    );
    match run_with(&exe, 60, &Control::new()).0 {
        PythonOutcome::Unavailable(msg) => {
            assert!(msg.contains("pip install numpy"), "{msg}")
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    match run_with(Path::new("/nonexistent/python3"), 60, &Control::new()).0 {
        PythonOutcome::Unavailable(msg) => {
            assert!(msg.contains("--python-exe"), "{msg}");
            assert!(msg.contains("pip install"), "{msg}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[test]
fn a_hanging_script_is_stopped_by_the_timeout_and_by_cancel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = stub(dir.path(), "hang", "exec sleep 60");
    let t = Instant::now();
    match run_with(&exe, 1, &Control::new()).0 {
        PythonOutcome::Failed(msg) => assert!(msg.contains("time limit"), "{msg}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let control = Control::new();
    let c = control.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        c.cancel();
    });
    let t = Instant::now();
    let (out, _) = run_with(&exe, 60, &control);
    canceller.join().expect("canceller");
    assert!(matches!(out, PythonOutcome::Cancelled), "{out:?}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args(args)
        .output()
        .expect("run astroperf")
}

#[test]
fn the_cli_puts_python_records_under_python_and_exits_0_without_python() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = ours();
    let exe = answering(dir.path(), "cli", &canned(&record, true, |_| {}));
    let args = [
        "run",
        "planck",
        "--repeat",
        "1",
        "--threads",
        "1",
        "--json",
        "--python",
        "--python-exe",
    ];
    let o = cli(&[&args[..], &[exe.to_str().expect("utf-8")]].concat());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let py = v["python"].as_array().expect("a top-level python list");
    assert_eq!(py[0]["tool"], "python");
    assert_eq!(py[0]["runs"][0]["summary"]["method"], "numpy stub");
    assert!(py[0]["runs"][0]["agreement"].is_string());
    assert!(v["python_profile"]["profiles"].is_array());
    // No interpreter: ours still runs, one line says what to install, exit 0.
    let o = cli(&[
        "run",
        "planck",
        "--repeat",
        "1",
        "--python",
        "--python-exe",
        "/nonexistent/python3",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("| planck |"), "our table is printed: {out}");
    assert!(out.contains("pip install numpy"), "{out}");
    // A crash: one line, exit 5.
    let crash = stub(dir.path(), "crash", "echo 'RuntimeError: no' >&2\nexit 1");
    let o = cli(&[
        "run",
        "planck",
        "--repeat",
        "1",
        "--python",
        "--python-exe",
        crash.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&o.stdout).contains("RuntimeError: no"));
}

/// The real reference script on planck, phase-fold and pairwise-distances at their quick
/// sizes, when this machine's Python has numpy: every implementation that runs on our
/// input agrees with ours.
#[test]
fn the_real_script_agrees_with_ours_when_numpy_is_present() {
    let (exe, _) = python::interpreter(None);
    let has_numpy = std::process::Command::new(&exe)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_numpy {
        eprintln!(
            "skipped: {} has no numpy (set ASTROPERF_PYTHON to a venv's python with `{}`)",
            exe.display(),
            python::PIP_INSTALL
        );
        return;
    }
    for id in ["planck", "phase-fold", "pairwise-distances"] {
        let a = analyses::find(id).expect("registered");
        let (loaded, params, record) = ours_of(a);
        let out = python::run_reference(
            a,
            &loaded.data,
            &params,
            &record,
            &PythonOptions {
                repeat: 1,
                ..PythonOptions::default()
            },
            &Control::new(),
            &mut |_| {},
        );
        let runs = runs_of(&out);
        assert!(!runs.is_empty(), "{id}: no Python implementation ran");
        for r in &runs {
            assert_eq!(
                r.agrees_with_astroperf,
                Some(true),
                "{id} {}: {:?}",
                python::method_of(r),
                r.agreement
            );
        }
    }
}

/// Every registered analysis has a Python reference in the bundled script (memory-layout
/// and catalog-chunks included): its WORKLOADS table names each id.
#[test]
fn every_analysis_has_a_python_reference() {
    let script = python::REFERENCE_SCRIPT;
    let table = script
        .split("\nWORKLOADS = {")
        .nth(1)
        .and_then(|t| t.split('}').next())
        .expect("the script's WORKLOADS table");
    for a in analyses::registry() {
        assert!(
            table.contains(&format!("\"{}\":", a.id())),
            "{} has no Python reference in reference_bench.py",
            a.id()
        );
    }
}
