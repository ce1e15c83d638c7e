//! Cancellation latency: every registered analysis, every variant, on an input big enough
//! that the naive variant runs for about a second or more (release build); the run is
//! cancelled 150 ms after it starts and the time until it returns is measured.
//!
//! The target is 100 ms. This machine is shared and noisy, so the test asserts
//! 400 ms in a release build (and only that cancellation works at all, within 5 s, in a
//! debug build, where the same loops run 10–50× slower). The measured latencies are
//! printed: `cargo test --release --test cancel -- --nocapture`.

use astroperf::analysis::{self, Control, Params, Variant, ALL_VARIANTS};
use astroperf::bench::{self, RunConfig};
use astroperf::Error;
use std::time::{Duration, Instant};

/// Input sizes (in each analysis' size unit) where the naive variant takes ≳ 1 s in a
/// release build on the 2-core development machine, capped so that no input or output
/// passes a few hundred MB (those runs then repeat their calls, and the cancel lands
/// between or inside calls just the same).
fn release_size(id: &str) -> usize {
    match id {
        "pairwise-distances" => 6_000,
        "spectrum-pipeline" => 800_000,
        "ccd-pipeline" => 2048,
        "angular-distances" => 4_000,
        "extinction-correction" => 5_000_000,
        "phase-fold" => 2_000_000,
        "cross-match" => 25_000,
        "orbit-leapfrog" => 2_000_000,
        "monte-carlo-pi" => 400_000_000,
        "peak-count" => 20_000,
        "magnitude-sum" => 10_000_000,
        "planck" => 20_000_000,
        "observation-batch" => 30,
        "banded-median" => 4096,
        "memory-layout" => 4096,
        "catalog-chunks" => 10_000_000,
        "streaming-stats" => 20_000_000,
        "period-search" => 3_000,
        "spectrum-stack" => 20_000_000,
        "population-synthesis" => 3_000,
        // An analysis added later: its chapter size.
        _ => 0,
    }
}

struct Sample {
    id: &'static str,
    variant: Variant,
    latency: Duration,
    outcome: &'static str,
}

#[test]
fn every_analysis_stops_promptly_after_cancel() {
    let release = !cfg!(debug_assertions);
    let bound = if release {
        Duration::from_millis(400)
    } else {
        Duration::from_secs(5)
    };
    let only = std::env::var("ASTROPERF_CANCEL_ONLY").ok();
    let mut samples = Vec::new();
    for a in analysis::registry() {
        if only.as_deref().is_some_and(|o| o != a.id()) {
            continue;
        }
        let size = match release_size(a.id()) {
            0 => a.default_size(),
            n if release => n,
            // Debug: the chapter size already runs for seconds in the naive variant.
            n => n.min(a.default_size()),
        };
        let input = bench::generated_input(*a, size, 1).expect("generate");
        let params = Params::defaults(&a.params());
        for v in ALL_VARIANTS {
            let control = Control::new();
            let cfg = RunConfig {
                variants: vec![v],
                threads: 2,
                repeat: 100_000,
                warmup: 0,
                naive_budget_s: None,
            };
            let (latency, result) = std::thread::scope(|s| {
                let c = control.clone();
                let (input, params, cfg) = (&input, &params, &cfg);
                let h = s.spawn(move || {
                    let r = bench::run_partial(*a, &input.data, &input.info, params, cfg, &c);
                    (r, Instant::now())
                });
                std::thread::sleep(Duration::from_millis(150));
                let t0 = Instant::now();
                control.cancel();
                let (r, t1) = h.join().expect("the run must not panic");
                (t1.saturating_duration_since(t0), r)
            });
            let outcome = match &result {
                Ok((rec, _)) if rec.is_cancelled() => {
                    let c = rec.cancelled.as_ref().expect("cancelled");
                    assert_eq!(c.variant, v, "{} {v}", a.id());
                    assert!(rec.runs.is_empty(), "{} {v}: reported as finished", a.id());
                    "cancelled"
                }
                // It finished before the cancel (a fast variant that ran all repeats is
                // impossible at 100,000 repeats; a one-call analysis may).
                Ok(_) => "finished",
                Err(Error::Cancelled) => "cancelled",
                Err(e) => panic!("{} {v}: {e}", a.id()),
            };
            samples.push(Sample {
                id: a.id(),
                variant: v,
                latency,
                outcome,
            });
        }
    }
    println!(
        "\ncancel latency ({} build, cancel 150 ms after start):",
        if release { "release" } else { "debug" }
    );
    println!("| analysis | variant | latency | outcome |\n|---|---|---|---|");
    for s in &samples {
        println!(
            "| {} | {} | {:.1} ms | {} |",
            s.id,
            s.variant,
            s.latency.as_secs_f64() * 1e3,
            s.outcome
        );
    }
    let slow: Vec<String> = samples
        .iter()
        .filter(|s| s.latency > bound)
        .map(|s| format!("{} {} {:?}", s.id, s.variant, s.latency))
        .collect();
    assert!(slow.is_empty(), "slower than {bound:?} to cancel: {slow:?}");
}
