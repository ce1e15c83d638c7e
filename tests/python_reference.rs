//! The Python reference bench (`assets/python/reference_bench.py`): the script is valid
//! Python, its records load with `bench::load_records`, name registered analyses at their
//! quick sizes, map implementations onto astroperf's variants consistently, and merge into
//! the comparison table. With `ASTROPERF_PYTHON` pointing at an interpreter that has numpy
//! (e.g. `ASTROPERF_PYTHON=/path/to/venv/bin/python`), the whole export → run → load path
//! is exercised too; without it those parts are skipped with a note.

use astroperf::analysis::{self, Variant};
use astroperf::bench::{self, report, RunRecord};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script() -> PathBuf {
    root().join("assets/python/reference_bench.py")
}

fn sample() -> Vec<RunRecord> {
    bench::load_records(&root().join("tests/data/python_records_sample.json"))
        .expect("the committed sample loads as run records")
}

/// An interpreter to run the script with, if one is on PATH (or given).
fn python() -> Option<String> {
    let cand = std::env::var("ASTROPERF_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&cand)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(cand)
}

#[test]
fn script_is_valid_python_and_prints_help_without_numpy() {
    assert!(script().is_file(), "{} is missing", script().display());
    let Some(py) = python() else {
        eprintln!("skipped: no python3 on PATH");
        return;
    };
    let cfile = std::env::temp_dir().join(format!("astroperf_refbench_{}.pyc", std::process::id()));
    let out = Command::new(&py)
        .arg("-c")
        .arg("import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)")
        .arg(script())
        .arg(&cfile)
        .output()
        .expect("run python");
    let _ = std::fs::remove_file(&cfile);
    assert!(
        out.status.success(),
        "py_compile failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // --help must work even where numpy and friends are not installed.
    let out = Command::new(&py)
        .arg(script())
        .arg("--help")
        .output()
        .expect("run python");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--out") && text.contains("--repeat") && text.contains("--only"));
}

/// The variant a run must carry, read from the implementation it names.
fn expected_variant(method: &str) -> Variant {
    if method.starts_with("pure Python") {
        Variant::Naive
    } else if method.contains("prange")
        || method.contains("workers=-1")
        || method.contains("ThreadPool")
    {
        Variant::Parallel
    } else {
        Variant::Vectorized
    }
}

fn check_records(records: &[RunRecord], quick_sizes: bool) {
    assert!(!records.is_empty());
    for r in records {
        assert_eq!(r.tool, "python", "{}", r.analysis);
        let a = analysis::find(&r.analysis)
            .unwrap_or_else(|| panic!("'{}' is not a registered analysis", r.analysis));
        assert_eq!(r.size_unit, a.size_unit(), "{}", r.analysis);
        if quick_sizes {
            assert_eq!(r.size, a.quick_size(), "{}: not the quick size", r.analysis);
        }
        assert!(r.agree, "{}: Python implementations disagree", r.analysis);
        assert!(!r.runs.is_empty(), "{}", r.analysis);
        for v in &r.runs {
            let method = v
                .summary
                .get("method")
                .and_then(|m| m.as_str())
                .unwrap_or_else(|| panic!("{}: a run without summary.method", r.analysis));
            assert_eq!(
                v.variant,
                expected_variant(method),
                "{}: '{method}' filed as {}",
                r.analysis,
                v.variant
            );
            assert!(!v.times_s.is_empty());
            assert!(
                v.min_s <= v.median_s && v.median_s <= v.max_s,
                "{}",
                r.analysis
            );
            assert!(v.first_s > 0.0 && v.mad_s >= 0.0);
            let tp = r.size as f64 / v.median_s;
            assert!((v.throughput - tp).abs() <= 1e-9 * tp, "{}", r.analysis);
            assert_eq!(v.throughput_unit, format!("{}/s", r.size_unit));
            if v.variant == Variant::Parallel {
                assert!(v.threads >= 1);
            } else {
                assert_eq!(v.threads, 1, "{}: serial run with threads != 1", r.analysis);
            }
        }
    }
}

#[test]
fn sample_records_load_with_python_tool_and_variant_mapping() {
    let records = sample();
    check_records(&records, true);
    let ids: Vec<&str> = records.iter().map(|r| r.analysis.as_str()).collect();
    for id in ["spectrum-pipeline", "ccd-pipeline", "period-search"] {
        assert!(ids.contains(&id), "sample lacks {id}");
    }
    // Every mapping occurs in the sample.
    for want in [Variant::Naive, Variant::Vectorized, Variant::Parallel] {
        assert!(
            records
                .iter()
                .any(|r| r.runs.iter().any(|v| v.variant == want)),
            "no {want} run in the sample"
        );
    }
    // Science carried in the summary: the Lomb-Scargle peak of the quick light curve
    // (generated with a 3.7-day period) is found by astropy on the exported grid.
    let ls = records
        .iter()
        .find(|r| r.analysis == "period-search")
        .expect("period-search");
    let p = ls.runs[0].summary["best_period"]
        .as_f64()
        .expect("best_period");
    assert!((p - 3.7).abs() < 0.05, "best period {p}");
}

#[test]
fn sample_merges_into_the_comparison_table() {
    let py = sample();
    // Stand in for astroperf's records: the same analyses with every time halved.
    let ours: Vec<RunRecord> = py
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.tool = "astroperf".into();
            for v in &mut r.runs {
                v.median_s /= 2.0;
            }
            r
        })
        .collect();
    let table = report::comparison(&ours, &py);
    for r in &py {
        assert!(
            table.contains(&format!("| {} |", r.analysis)),
            "no row for {}",
            r.analysis
        );
    }
    assert!(table.contains("2.0×"), "{table}");
    assert!(table.contains("scipy.ndimage.median_filter"), "{table}");
}

/// The full path when an interpreter with numpy is given: export the quick inputs of two
/// analyses, run the script on them, load and check what it wrote.
#[test]
fn export_run_and_load_end_to_end() {
    let Some(py) = python() else {
        eprintln!("skipped: no python3");
        return;
    };
    let has_numpy = Command::new(&py)
        .args(["-c", "import numpy, scipy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_numpy {
        eprintln!("skipped: {py} has no numpy/scipy (set ASTROPERF_PYTHON to a venv's python)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("astroperf_pyref_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let st = Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args([
            "bench",
            "--suite",
            "quick",
            "--only",
            "spectrum-pipeline,orbit-leapfrog",
        ])
        .arg("--export-inputs")
        .arg(&dir)
        .output()
        .expect("run astroperf");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let out = dir.join("records.json");
    let st = Command::new(&py)
        .arg(script())
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .args(["--repeat", "2"])
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .expect("run python");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let records = bench::load_records(Path::new(&out)).expect("records load");
    check_records(&records, true);
    assert_eq!(records.len(), 2);
    let orbit = records
        .iter()
        .find(|r| r.analysis == "orbit-leapfrog")
        .expect("orbit");
    // Leapfrog conserves energy to O(dt²): 1-hour steps over a year stay below 1e-8.
    let de = orbit.runs[0].summary["max_rel_energy_error"]
        .as_f64()
        .expect("energy error");
    assert!(de > 0.0 && de < 1e-8, "{de}");
    let _ = std::fs::remove_dir_all(&dir);
}
