//! Where the time and the memory go, on real runs: stages that add up to the median (with
//! `other`), per-run and per-stage heap figures from the counting allocator checked against
//! what the analyses must hold, and the run's own profile (every variant, every thread,
//! stage scopes named) from the harness and from `run --profile`.

use astroperf::analysis::{self, Control, Params, Variant};
use astroperf::bench::{self, RunConfig, RunRecord, VariantRun};
use astroperf::data::{Loaded, Origin};
use std::process::Command;

/// The allocator's counters are process-wide: the tests here run one at a time so no
/// other test's allocations land in a measured interval.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(id: &str, size: usize, variants: Vec<Variant>, repeat: usize) -> RunRecord {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let a = analysis::find(id).expect("registered");
    let data = a.generate(size, 7).expect("generate");
    let loaded = Loaded::new(data, "generated", Origin::Generated);
    let params = Params::defaults(&a.params());
    let cfg = RunConfig {
        variants,
        threads: 2,
        repeat,
        warmup: 1,
        naive_budget_s: None,
    };
    let (record, _) = bench::run(
        a,
        &loaded.data,
        &loaded.info,
        &params,
        &cfg,
        &Control::new(),
    )
    .expect("run");
    record
}

fn stage<'a>(r: &'a VariantRun, name: &str) -> &'a bench::StageTiming {
    r.stages
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stage {name} in {:?}", r.stages))
}

const MB: u64 = 1 << 20;

#[test]
fn stages_with_other_add_up_to_the_median() {
    for id in ["spectrum-pipeline", "ccd-pipeline", "pairwise-distances"] {
        let a = analysis::find(id).expect("registered");
        let r = run(id, a.quick_size(), analysis::ALL_VARIANTS.to_vec(), 5);
        for v in &r.runs {
            assert_eq!(v.stages.last().map(|s| s.name.as_str()), Some("other"));
            let sum: f64 = v.stages.iter().map(|s| s.median_s).sum();
            let off = (sum - v.median_s).abs() / v.median_s;
            // The stages are the median call's, so they add up to the median exactly
            // (up to rounding); a stacked bar can then be read against the median.
            assert!(
                off < 1e-9,
                "{id} {}: stages {sum} vs median {}",
                v.variant,
                v.median_s
            );
        }
    }
}

#[test]
fn pairwise_distances_peak_is_its_output_plus_little() {
    let r = run(
        "pairwise-distances",
        2000,
        analysis::ALL_VARIANTS.to_vec(),
        3,
    );
    for v in &r.runs {
        // 2000·1999/2 distances of 8 bytes = 16.0 MB written; at most two more copies.
        let output = 2000 * 1999 / 2 * 8;
        assert!(
            (output..48 * MB).contains(&v.peak_bytes),
            "{}: peak {} bytes",
            v.variant,
            v.peak_bytes
        );
        assert!(v.allocs > 0, "{}: no allocation counted", v.variant);
        assert!(
            stage(v, "distances").peak_bytes >= 15_990_000,
            "{:?}",
            v.stages
        );
    }
}

#[test]
fn banded_median_works_in_place() {
    let side = 2048;
    let r = run("banded-median", side, analysis::ALL_VARIANTS.to_vec(), 2);
    let frame = (side * side * 8) as u64;
    for v in &r.runs {
        let m = stage(v, "median3");
        assert!(
            m.peak_bytes < frame / 10,
            "{}: median3 held {} bytes, frame {frame}",
            v.variant,
            m.peak_bytes
        );
        // The frame itself is copied once ("share"): the in-place result buffer.
        assert!(stage(v, "share").peak_bytes >= frame, "{:?}", v.stages);
    }
}

#[test]
fn memory_layout_f32_holds_half_of_f64() {
    let r = run("memory-layout", 512, vec![Variant::Vectorized], 2);
    let v = &r.runs[0];
    let f64_bytes = stage(v, "load_f64").peak_bytes as f64;
    let f32_bytes = stage(v, "load_f32").peak_bytes as f64;
    let ratio = f64_bytes / f32_bytes;
    assert!(
        (1.9..2.1).contains(&ratio),
        "f64 {f64_bytes} / f32 {f32_bytes} = {ratio}"
    );
}

#[test]
fn the_run_profile_holds_every_variant_and_its_stages() {
    puffin::set_scopes_on(true);
    let r = run(
        "spectrum-pipeline",
        5000,
        analysis::ALL_VARIANTS.to_vec(),
        2,
    );
    let p = r.profile.as_ref().expect("a profile");
    let threads = p.thread_names();
    for v in ["naive", "vectorized", "parallel"] {
        assert!(
            threads.iter().any(|t| t.starts_with(v)),
            "no {v} lane in {threads:?}"
        );
    }
    // The parallel variant's two workers are two lanes with distinct names.
    assert!(threads.iter().filter(|t| t.starts_with("parallel")).count() >= 1);
    let mut unique = threads.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), threads.len(), "{threads:?}");
    let scopes = p.scope_names();
    for s in ["call", "continuum", "residual", "lines", "redshift"] {
        assert!(scopes.iter().any(|n| n == s), "no {s} scope in {scopes:?}");
    }
}

#[test]
fn run_profile_flag_writes_a_puffin_file_and_json_has_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("run.puffin");
    let out = Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args([
            "run",
            "pairwise-distances",
            "--generate",
            "kind=points,n=500,seed=1",
            "--repeat",
            "2",
            "--json",
            "--profile",
        ])
        .arg(&file)
        .output()
        .expect("run astroperf");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for run in json["runs"].as_array().expect("runs") {
        assert!(
            run["peak_bytes"]
                .as_u64()
                .is_some_and(|b| b >= 500 * 499 / 2 * 8),
            "{run}"
        );
        assert!(run["allocs"].as_u64().is_some_and(|a| a > 0), "{run}");
        for s in run["stages"].as_array().expect("stages") {
            assert!(s["peak_bytes"].is_u64() && s["allocs"].is_u64(), "{s}");
        }
    }
    let mut f = std::fs::File::open(&file).expect("profile written");
    let view = puffin::FrameView::read(&mut f).expect("a puffin file");
    let frame = view.latest_frame().expect("one frame");
    let names: Vec<String> = frame
        .unpacked()
        .expect("unpack")
        .thread_streams
        .keys()
        .map(|t| t.name.clone())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("naive")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("parallel")), "{names:?}");
    // Asking again without --force refuses to overwrite it.
    let again = Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args([
            "run",
            "pairwise-distances",
            "--generate",
            "kind=points,n=50",
            "--profile",
        ])
        .arg(&file)
        .output()
        .expect("run astroperf");
    assert_eq!(again.status.code(), Some(2));
}
