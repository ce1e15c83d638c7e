//! The `astroperf` binary end to end: `info` on real files, exit code 3 with one stderr
//! line naming the file for every bad input, exit code 2 for bad arguments, and the
//! spectrum pipeline from the golden FITS/NPY/CSV copies and the real NGC 5548 spectrum.

use ndarray::{Array1, ArrayD};
use ndarray_npy::ReadNpyExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn astroperf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args(args)
        .output()
        .expect("run astroperf")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn npy1(p: &Path) -> Array1<f64> {
    let f = std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    ArrayD::<f64>::read_npy(f)
        .expect("read npy")
        .into_dimensionality()
        .expect("1-D")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn info_on_real_files() {
    let o = astroperf(&["info", s(&data("real/fast_ngc5548.fits"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("kind:     spectrum"), "{out}");
    assert!(out.contains("log-linear"), "{out}");
    assert!(out.contains("NAXIS2"), "the quirk warning is shown: {out}");

    let o = astroperf(&["info", s(&data("real/eso_ntt_emmi_R.fits")), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("info --json is JSON");
    assert_eq!(v["kind"], "frame");
    assert_eq!(v["shape"], serde_json::json!([256, 256]));
    assert_eq!(v["dtype"], "int16");
}

/// Write the bad inputs into `dir` and return their paths.
fn bad_files(dir: &Path) -> Vec<PathBuf> {
    let w = |name: &str, b: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, b).expect("write");
        p
    };
    let good = std::fs::read(data("golden/ccd_frame_f64.fits")).expect("read");
    // A header declaring 10^12 float64 pixels on a file of one block of data.
    let mut huge = String::new();
    for (k, v) in [
        ("SIMPLE", "T"),
        ("BITPIX", "-64"),
        ("NAXIS", "2"),
        ("NAXIS1", "1000000"),
        ("NAXIS2", "1000000"),
    ] {
        huge.push_str(&format!("{:<80}", format!("{k:<8}= {v:>20}")));
    }
    huge.push_str(&format!("{:<80}", "END"));
    let mut huge = format!("{huge:<2880}").into_bytes();
    huge.extend([0u8; 2880]);
    vec![
        w("truncated.fits", &good[..100_000]),
        w("notfits.fits", b"plain text pretending to be FITS\n"),
        w("empty.fits", b""),
        w("absurd.fits", &huge),
        w("words.csv", b"wavelength,flux\n1,2\n2,two\n"),
        w("unknown.xyz", b"1 2 3\n"),
        dir.join("missing.fits"),
    ]
}

#[test]
fn bad_inputs_exit_3_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    for p in bad_files(dir.path()) {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        for args in [
            vec!["info", s(&p)],
            vec![
                "run",
                "spectrum-pipeline",
                "--input",
                s(&p),
                "--repeat",
                "1",
            ],
        ] {
            let o = astroperf(&args);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(3), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
            assert!(
                err.contains(&name),
                "{args:?}: does not name the file: {err}"
            );
            assert!(!err.contains("panicked"), "{args:?}: {err}");
        }
    }
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        vec!["run", "no-such-analysis"],
        vec!["run", "spectrum-pipeline", "--param", "window=abc"],
        vec!["run", "spectrum-pipeline", "--param", "nonsense=1"],
    ] {
        let o = astroperf(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn spectrum_shorter_than_window_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("short.csv");
    let mut t = String::from("wavelength,flux\n");
    for i in 0..50 {
        t.push_str(&format!("{},{}\n", 5000 + i, 1.0 + (i % 3) as f64));
    }
    std::fs::write(&p, t).expect("write");
    let o = astroperf(&[
        "run",
        "spectrum-pipeline",
        "--input",
        s(&p),
        "--param",
        "window=101",
        "--repeat",
        "1",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("window"), "{err}");
}

/// Run the pipeline with window=101 on `input`, check agreement, continuum and lines.
fn golden_pipeline(input: &Path) {
    let out = tempfile::tempdir().expect("tempdir");
    let o = astroperf(&[
        "run",
        "spectrum-pipeline",
        "--input",
        s(input),
        "--variant",
        "all",
        "--param",
        "window=101",
        "--json",
        "--repeat",
        "1",
        "--warmup",
        "0",
        "--out",
        s(out.path()),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}: {}",
        input.display(),
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("run --json is JSON");
    assert_eq!(v["agree"], true, "{}", input.display());
    assert_eq!(v["runs"].as_array().map(|r| r.len()), Some(3));

    let got = npy1(&out.path().join("continuum.npy"));
    let want = npy1(&data("golden/spectrum_continuum_median101.npy"));
    assert_eq!(got.len(), want.len());
    let worst = (&got - &want).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
    assert!(
        worst <= 1e-9,
        "{}: continuum off by {worst}",
        input.display()
    );

    let lines = std::fs::read_to_string(out.path().join("lines.csv")).expect("lines.csv");
    let idx: Vec<i64> = lines
        .lines()
        .skip(1)
        .map(|l| {
            let f = l.split(',').next().unwrap_or("");
            f.parse::<f64>().expect("index") as i64
        })
        .collect();
    let f = std::fs::File::open(data("golden/spectrum_peaks_median101.npy")).expect("open");
    let want: Vec<i64> = ArrayD::<i64>::read_npy(f)
        .expect("read")
        .iter()
        .copied()
        .collect();
    assert_eq!(want.len(), 9);
    assert_eq!(idx, want, "{}", input.display());
}

#[test]
fn golden_spectrum_pipeline_from_fits() {
    golden_pipeline(&data("golden/spectrum.fits"));
}

#[test]
fn golden_spectrum_pipeline_from_npy() {
    golden_pipeline(&data("golden/spectrum.npy"));
}

#[test]
fn golden_spectrum_pipeline_from_csv() {
    // The golden set has no spectrum.csv; write it as numpy's %.17g would (exact floats).
    let f = std::fs::File::open(data("golden/spectrum.npy")).expect("open");
    let a = ArrayD::<f64>::read_npy(f).expect("read");
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("spectrum.csv");
    let mut t = String::from("wavelength_A,flux\n");
    for r in a.outer_iter() {
        t.push_str(&format!("{:?},{:?}\n", r[0], r[1]));
    }
    std::fs::write(&p, t).expect("write");
    golden_pipeline(&p);
}

#[test]
fn ngc5548_lines_at_the_galaxy_redshift() {
    // window=101 pixels (about 85 Å at 5000 Å on this log-linear grid) and k=3.
    let sum = &run_summary(
        "spectrum-pipeline",
        "real/fast_ngc5548.fits",
        &["--param", "window=101", "--param", "k=3"],
    );
    let lines: Vec<f64> = sum["line_wavelengths"]
        .as_array()
        .expect("line_wavelengths")
        .iter()
        .filter_map(|x| x.as_f64())
        .collect();
    let z = 4985.0 / 299_792.458;
    for (name, rest) in [("[OIII] 5007", 5006.84), ("H-alpha", 6562.8)] {
        let obs = rest * (1.0 + z);
        assert!(
            lines.iter().any(|l| (l - obs).abs() < 5.0),
            "{name}: no line within 5 Å of {obs:.1} in {lines:?}"
        );
    }
    let zf = sum["redshift"].as_f64().expect("redshift");
    assert!((zf - z).abs() < 0.001, "redshift {zf} vs {z}");
}

/// `run` on one input with the analysis' defaults: the first run's summary.
fn default_summary(id: &str, input: &str) -> serde_json::Value {
    run_summary(id, input, &[])
}

/// `run` on one input with `extra` arguments: the first run's summary (all variants
/// agreeing).
fn run_summary(id: &str, input: &str, extra: &[&str]) -> serde_json::Value {
    let path = data(input);
    let mut args = vec!["run", id, "--input", s(&path), "--json", "--repeat", "1"];
    args.extend(["--warmup", "0"]);
    args.extend(extra);
    let o = astroperf(&args);
    assert_eq!(o.status.code(), Some(0), "{id} {input}: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["agree"], true, "{id} {input}");
    v["runs"][0]["summary"].clone()
}

/// The defaults give an astronomer's catalog on a real frame: SExtractor lists 68 sources
/// on the ESO frame (tests/data/real/eso_ntt_emmi_R.sextractor.cat); within 15%.
#[test]
fn ccd_pipeline_defaults_on_the_eso_frame_give_a_sextractor_like_catalog() {
    let sum = default_summary("ccd-pipeline", "real/eso_ntt_emmi_R.fits");
    let n = sum["n_sources"].as_f64().expect("n_sources");
    assert!((60.0..=78.0).contains(&n), "{n} sources (SExtractor: 68)");
    assert_eq!(sum["detect"], "background");
}

#[test]
fn sunspots_defaults_give_the_eleven_year_cycle_in_years() {
    let sum = default_summary("period-search", "real/sunspots_yearly.csv");
    let p = sum["best_period"].as_f64().expect("best_period");
    assert!((p - 11.0).abs() <= 1.0, "{p} yr");
    assert_eq!(sum["time_unit"], "yr");
    assert_eq!(sum["nyquist_frequency"].as_f64(), Some(0.5));
}

#[test]
fn the_default_spectrum_has_three_lines_and_every_peak_in_lines_csv() {
    let out = tempfile::tempdir().expect("tempdir");
    let o = astroperf(&[
        "run",
        "spectrum-pipeline",
        "--json",
        "--repeat",
        "1",
        "--warmup",
        "0",
        "--out",
        s(out.path()),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let sum = &v["runs"][0]["summary"];
    assert_eq!(sum["n_lines"], 3, "{sum}");
    let n_peaks = sum["n_peaks"].as_u64().expect("n_peaks");
    assert!(n_peaks >= 3, "{sum}");
    let csv = std::fs::read_to_string(out.path().join("lines.csv")).expect("lines.csv");
    assert_eq!(csv.lines().next(), Some("index,wavelength,height,line"));
    assert_eq!(csv.lines().count() as u64, 1 + n_peaks);
}

#[test]
fn the_resource_guard_refuses_naive_pairwise_on_a_million_points() {
    let o = astroperf(&[
        "run",
        "pairwise-distances",
        "--generate",
        "kind=points,n=1000000",
        "--variant",
        "naive",
        "--repeat",
        "1",
        "--warmup",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("pairwise-distances (naive)"), "{err}");
    assert!(err.contains("estimated ~"), "{err}");
    // 4 TB of distances is more than any memory here: refused even with --force.
    let o = astroperf(&[
        "run",
        "pairwise-distances",
        "--generate",
        "kind=points,n=1000000",
        "--variant",
        "naive",
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("even with --force"), "{}", stderr(&o));
    // Time alone (about 70 s of naive angular distances) asks for --force.
    let o = astroperf(&[
        "run",
        "angular-distances",
        "--variant",
        "naive",
        "--repeat",
        "60",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("add --force"), "{err}");
    assert!(err.contains("longer than 60 s"), "{err}");
    // Small inputs pass.
    let o = astroperf(&[
        "run",
        "pairwise-distances",
        "--generate",
        "kind=points,n=2000",
        "--variant",
        "naive",
        "--repeat",
        "1",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Every file under `dir` (name → bytes).
fn snapshot_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| {
            let p = e.expect("entry").path();
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            let bytes = if p.is_file() {
                std::fs::read(&p).expect("read")
            } else {
                Vec::new()
            };
            (name, bytes)
        })
        .collect();
    v.sort();
    v
}

fn golden_run_out(out: &Path, force: bool) -> Output {
    let input = data("golden/spectrum.npy");
    let mut args = vec![
        "run",
        "spectrum-pipeline",
        "--input",
        s(&input),
        "--repeat",
        "1",
        "--warmup",
        "0",
        "--json",
        "--out",
        s(out),
    ];
    if force {
        args.push("--force");
    }
    astroperf(&args)
}

#[test]
fn outputs_are_never_overwritten_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let o = golden_run_out(&out, false);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The user's own edit of a result file must survive a second run.
    std::fs::write(out.join("lines.csv"), b"mine\n").expect("write");
    let before = snapshot_dir(&out);
    let o = golden_run_out(&out, false);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("already exists; add --force"), "{err}");
    assert!(err.contains("out/"), "names the file: {err}");
    assert_eq!(snapshot_dir(&out), before, "files changed without --force");
    let o = golden_run_out(&out, true);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = std::fs::read_to_string(out.join("lines.csv")).expect("read");
    assert!(lines.starts_with("index"), "--force replaced it: {lines}");
    assert_eq!(snapshot_dir(&out).len(), before.len(), "no temporary files");

    // bench: --json, --markdown and --export-inputs refuse before any work.
    let json = dir.path().join("r.json");
    std::fs::write(&json, b"[]").expect("write");
    let md = dir.path().join("r.md");
    std::fs::write(&md, b"# mine").expect("write");
    for args in [
        vec!["bench", "--only", "planck", "--json", s(&json)],
        vec!["bench", "--only", "planck", "--markdown", s(&md)],
    ] {
        let o = astroperf(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(&json).expect("read"), b"[]");
    assert_eq!(std::fs::read(&md).expect("read"), b"# mine");
    let exp = dir.path().join("inputs");
    let args = ["bench", "--only", "planck", "--export-inputs", s(&exp)];
    assert_eq!(astroperf(&args).status.code(), Some(0));
    let before = snapshot_dir(&exp);
    let o = astroperf(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("manifest.json"), "{}", stderr(&o));
    assert_eq!(snapshot_dir(&exp), before);
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_eq!(astroperf(&forced).status.code(), Some(0));
}

#[test]
fn a_write_that_fails_leaves_no_partial_file() {
    // continuum.npy is a directory: writing the file fails at the rename, after its
    // content went to a temporary file, which must be gone afterwards.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("continuum.npy").join("x")).expect("mkdir");
    let o = golden_run_out(&out, true);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("continuum.npy"), "{}", stderr(&o));
    let names: Vec<String> = snapshot_dir(&out).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.iter().all(|n| !n.contains("astroperf-tmp")),
        "temporary file left: {names:?}"
    );
    // And through the library with an error injected into the writer.
    let p = dir.path().join("half.csv");
    let r = astroperf::fsutil::write_atomic(&p, |w| {
        use std::io::Write;
        w.write_all(b"a,b\n1,")?;
        Err(std::io::Error::other("disk full"))
    });
    assert!(r.is_err());
    assert!(!p.exists(), "half a file was left");
}
