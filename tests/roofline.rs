//! The roofline fields on real runs: every stage an analysis declares gets its compulsory
//! `bytes` and `flops` (equal to the analytic formula for the size run) and achieved
//! `gbps`, `gflops` and `pct_of_limit` (finite and positive; debug-build timings say
//! nothing about their size), both through the library and through `run --json`; and
//! `astroperf machine --json` reports positive ceilings. The CLI tests give the binary a
//! cached machine (`XDG_CACHE_HOME`) so nothing is measured.

use astroperf::analysis::{self, Control, Params, Variant};
use astroperf::bench::machine::{self, Machine};
use astroperf::bench::{self, roofline, RunConfig, RunRecord, StageTiming};
use astroperf::data::{Loaded, Origin};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The analyses checked, their size and each declared stage's (bytes, flops) by hand.
fn expected(id: &str, n: f64) -> Vec<(&'static str, f64, f64)> {
    match id {
        // 24 bytes and 3 flops a star to correct, 16 bytes and 2 flops to summarise.
        "extinction-correction" => vec![
            ("check", 16.0 * n, 0.0),
            ("correct", 24.0 * n, 3.0 * n),
            ("summary", 16.0 * n, 2.0 * n),
            ("correct + summary", 24.0 * n, 5.0 * n),
        ],
        // N(N−1)/2 distances of 6 flops, 8 bytes each, from 16N bytes of coordinates.
        "pairwise-distances" => {
            let pairs = n * (n - 1.0) / 2.0;
            vec![
                ("columns", 32.0 * n, 0.0),
                ("distances", 16.0 * n + 8.0 * pairs, 6.0 * pairs),
                ("summary", 8.0 * pairs, pairs),
            ]
        }
        "spectrum-pipeline" => vec![
            ("continuum", 16.0 * n, 0.0),
            ("residual", 24.0 * n, n),
            ("sigma", 8.0 * n, 4.0 * n + 3.0),
            ("lines", 8.0 * n, 0.0),
        ],
        _ => unreachable!("{id}"),
    }
}

const CASES: [(&str, usize); 3] = [
    ("extinction-correction", 20_000),
    ("pairwise-distances", 300),
    ("spectrum-pipeline", 5_000),
];

fn run(id: &str, size: usize) -> RunRecord {
    let a = analysis::find(id).expect("registered");
    let data = a.generate(size, 3).expect("generate");
    let loaded = Loaded::new(data, "generated", Origin::Generated);
    let params = Params::defaults(&a.params());
    let cfg = RunConfig {
        variants: analysis::ALL_VARIANTS.to_vec(),
        threads: 2,
        repeat: 2,
        warmup: 1,
        naive_budget_s: None,
    };
    let (mut record, _) = bench::run(
        a,
        &loaded.data,
        &loaded.info,
        &params,
        &cfg,
        &Control::new(),
    )
    .expect("run");
    roofline::annotate(&mut record, a, &loaded.data, &params, &Machine::example());
    record
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// A stage's rates are finite and positive where its work is (GFLOP/s only with flops).
fn check_rates(id: &str, variant: &str, s: &StageTiming) {
    let ctx = format!("{id} {variant} {}", s.name);
    let (Some(gbps), Some(gflops), Some(pct)) = (s.gbps, s.gflops, s.pct_of_limit) else {
        // Only a stage too fast for the clock has no rates.
        assert_eq!(s.median_s, 0.0, "{ctx}: no rates");
        return;
    };
    assert!(gbps.is_finite() && gbps > 0.0, "{ctx}: gbps {gbps}");
    assert!(
        gflops.is_finite() && gflops >= 0.0,
        "{ctx}: gflops {gflops}"
    );
    assert_eq!(gflops > 0.0, s.flops.unwrap_or(0.0) > 0.0, "{ctx}");
    assert!(pct.is_finite() && pct > 0.0, "{ctx}: pct {pct}");
}

#[test]
fn declared_stages_get_their_work_and_rates() {
    for (id, size) in CASES {
        let record = run(id, size);
        let want = expected(id, size as f64);
        let mut seen = vec![false; want.len()];
        for v in &record.runs {
            for s in &v.stages {
                let Some(i) = want.iter().position(|w| w.0 == s.name) else {
                    // `other` and undeclared stages carry no roofline fields.
                    assert_eq!((s.bytes, s.pct_of_limit), (None, None), "{id} {}", s.name);
                    continue;
                };
                seen[i] = true;
                let (bytes, flops) = (s.bytes.expect("bytes"), s.flops.expect("flops"));
                assert!(close(bytes, want[i].1), "{id} {}: bytes {bytes}", s.name);
                assert!(close(flops, want[i].2), "{id} {}: flops {flops}", s.name);
                check_rates(id, v.variant.name(), s);
            }
        }
        // Every declared name is one some variant times (no typo in a declaration).
        for (w, seen) in want.iter().zip(seen) {
            assert!(seen, "{id}: no variant timed declared stage '{}'", w.0);
        }
        let points = roofline::points(&record);
        assert!(!points.is_empty(), "{id}");
        assert!(points.iter().any(|p| p.variant == Variant::Naive), "{id}");
    }
}

/// A cache directory holding this machine's (made-up) ceilings, for the binary to read.
fn cached_machine() -> (PathBuf, Machine) {
    cache_with("plausible", Machine::example())
}

/// A cache directory (named by `tag`) holding `m` as this machine's ceilings.
fn cache_with(tag: &str, m: Machine) -> (PathBuf, Machine) {
    let dir = std::env::temp_dir().join(format!("astroperf-roofline-{tag}-{}", std::process::id()));
    let m = Machine {
        cpu: machine::cpu_name(),
        cores: bench::available_threads(),
        ..m
    };
    std::fs::create_dir_all(dir.join("astroperf")).expect("cache dir");
    let json = serde_json::to_vec_pretty(&m).expect("serialise");
    let path = machine::cache_path_under(&dir);
    std::fs::write(path, json).expect("write cache");
    (dir, m)
}

fn astroperf(cache: &PathBuf, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("run astroperf");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn run_json_and_machine_json_show_the_fields() {
    let (cache, m) = cached_machine();
    let kinds = ["catalog", "points", "spectrum"];
    for ((id, size), kind) in CASES.iter().zip(kinds) {
        let generate = format!("kind={kind},n={size},seed=2");
        let args = [
            "run",
            id,
            "--generate",
            &generate,
            "--repeat",
            "2",
            "--json",
        ];
        let record = astroperf(&cache, &args);
        let want = expected(id, *size as f64);
        let runs = record["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 3, "{id}");
        for v in runs {
            for s in v["stages"].as_array().expect("stages") {
                let name = s["name"].as_str().unwrap_or_default();
                let Some(w) = want.iter().find(|w| w.0 == name) else {
                    assert!(s.get("pct_of_limit").is_none(), "{id} {name}");
                    continue;
                };
                assert!(
                    close(s["bytes"].as_f64().unwrap_or(-1.0), w.1),
                    "{id} {name}"
                );
                assert!(
                    close(s["flops"].as_f64().unwrap_or(-1.0), w.2),
                    "{id} {name}"
                );
                if s["median_s"].as_f64().unwrap_or(0.0) > 0.0 {
                    for field in ["gbps", "gflops", "pct_of_limit"] {
                        let x = s[field].as_f64().unwrap_or(f64::NAN);
                        assert!(x.is_finite() && x >= 0.0, "{id} {name} {field} {x}");
                    }
                    assert!(
                        s["pct_of_limit"].as_f64().unwrap_or(0.0) > 0.0,
                        "{id} {name}"
                    );
                }
            }
        }
    }
    let got = astroperf(&cache, &["machine", "--json"]);
    for level in ["l1", "l2", "l3", "dram"] {
        let b = got["bandwidth_gbs"][level].as_f64().unwrap_or(0.0);
        assert!(b > 0.0, "bandwidth_gbs.{level} = {b}");
    }
    for p in ["one_core", "all_cores"] {
        let g = got["peak_gflops"][p].as_f64().unwrap_or(0.0);
        assert!(g > 0.0, "peak_gflops.{p} = {g}");
    }
    // The cached measurement was read, not a new one taken.
    let read: Machine = serde_json::from_value(got).expect("a Machine");
    assert_eq!(read, m);
    std::fs::remove_dir_all(&cache).ok();
}

#[test]
fn machine_warns_on_stderr_about_ceilings_measured_in_a_busy_minute() {
    let machine_stderr = |cache: &PathBuf| {
        let out = Command::new(env!("CARGO_BIN_EXE_astroperf"))
            .arg("machine")
            .env("XDG_CACHE_HOME", cache)
            .output()
            .expect("run astroperf");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // L1 below L2 and all cores below one, measured while other processes took 40% of the
    // 2 CPUs.
    let (cache, _) = cache_with("busy", Machine::example_busy());
    let err = machine_stderr(&cache);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines[0].ends_with("the ceilings may be wrong: L2 read 200 GB/s, faster than L1 (58 GB/s)"),
        "{err}"
    );
    assert!(lines[1].contains("all cores reached 26.0 GFLOP/s"), "{err}");
    assert!(
        lines[2].ends_with(
            "measured under load (other processes used 40% of the 2 CPUs while it measured)"
        ),
        "{err}"
    );
    assert!(lines[3].ends_with("astroperf machine --remeasure"), "{err}");
    std::fs::remove_dir_all(&cache).ok();
    // Plausible ceilings: nothing on stderr.
    let (cache, _) = cache_with("quiet", Machine::example());
    assert_eq!(machine_stderr(&cache), "");
    std::fs::remove_dir_all(&cache).ok();
}

/// The load reason from the cache file `astroperf machine` reads: judged by the share
/// others took during the measurement when the file has it (a high load average of our
/// own recent work is then no doubt), by the load average in a file written before the
/// share was kept, and not at all in one older still. Nothing is measured.
#[test]
fn machine_judges_the_load_by_what_the_cache_file_recorded() {
    let machine_stderr = |tag: &str, edit: &dyn Fn(&mut Value)| {
        let (cache, m) = cache_with(tag, Machine::example());
        let mut json = serde_json::to_value(&m).expect("serialise");
        edit(&mut json);
        std::fs::write(
            machine::cache_path_under(&cache),
            serde_json::to_vec_pretty(&json).expect("json"),
        )
        .expect("write cache");
        let out = Command::new(env!("CARGO_BIN_EXE_astroperf"))
            .arg("machine")
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .expect("run astroperf");
        std::fs::remove_dir_all(&cache).ok();
        assert!(out.status.success());
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Load average 1.9 on 2 CPUs, but others took 3% while it measured: no doubt, and the
    // table shows both figures.
    let (table, err) = machine_stderr("own-load", &|j| {
        j["load"] = serde_json::json!({
            "one_min": 1.9, "cpus": 2, "during": {"others": 0.03, "steal": 0.01}
        });
    });
    assert_eq!(err, "", "{table}");
    assert!(
        table.contains(
            "1-minute load average 1.90 on 2 CPUs; others took 3% of them while it measured (steal 1%)"
        ),
        "{table}"
    );
    // An older file with the load average only: judged by it.
    let (_, err) = machine_stderr("load-only", &|j| {
        j["load"] = serde_json::json!({"one_min": 1.9, "cpus": 2});
    });
    assert!(
        err.lines().next().is_some_and(
            |l| l.ends_with("measured under load (1-minute load average 1.90 on 2 CPUs)")
        ),
        "{err}"
    );
    // Older still, no load at all: nothing to judge, nothing invented.
    let (table, err) = machine_stderr("no-load", &|j| {
        if let Some(o) = j.as_object_mut() {
            o.remove("load");
        }
    });
    assert_eq!(err, "");
    assert!(table.contains("load not recorded"), "{table}");
}

/// `run --json` says on stderr, after its record, when its stages ran above the roof:
/// ceilings a thousand times too low put every declared stage there.
#[test]
fn run_json_warns_when_stages_run_above_the_roof() {
    let quiet = Machine::example();
    let tiny = Machine {
        bandwidth_gbs: machine::Levels {
            l1: 4e-3,
            l2: 2e-3,
            l3: 1e-3,
            dram: 2e-4,
        },
        dram_one_core_gbs: 1.2e-4,
        peak_gflops: machine::Peak {
            one_core: 5e-4,
            all_cores: 1e-3,
        },
        ..quiet
    };
    let (cache, _) = cache_with("tiny", tiny);
    let out = Command::new(env!("CARGO_BIN_EXE_astroperf"))
        .args([
            "run",
            "pairwise-distances",
            "--generate",
            "kind=points,n=300,seed=2",
        ])
        .args(["--repeat", "1", "--json"])
        .env("XDG_CACHE_HOME", &cache)
        .output()
        .expect("run astroperf");
    assert!(out.status.success());
    let record: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(record["runs"].as_array().map(Vec::len), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("warning: the ceilings may be wrong: ")
            && lines[0].contains("of its ceiling, above the roof (and "),
        "{err}"
    );
    assert!(lines[1].ends_with("astroperf machine --remeasure"), "{err}");
    std::fs::remove_dir_all(&cache).ok();
}
