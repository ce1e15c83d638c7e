//! Resource guard: before a run starts, estimate its time and peak memory from the input
//! size, the parameters that scale the work and each variant's complexity, and refuse (or
//! ask) when the estimate is beyond sensible limits — e.g. naive O(N²) distances on 10⁶
//! points would take the better part of an hour and need terabytes.
//!
//! The model per analysis and variant is `seconds = t_ref · (w / w_ref)^p`, where `w` is
//! the work measure (usually the input size in the analysis' size unit, sometimes a product
//! with a parameter, e.g. points × trial frequencies), `w_ref` is its value at the chapter
//! size and `t_ref` the release-build median measured on the 2-core development machine at
//! that size (the README bench table, `astroperf bench --suite chapter`). `t_ref / w_ref^p`
//! is the calibrated "seconds per unit of work". Memory is `bytes_per_unit · size^q` for
//! what one call allocates (outputs and temporaries), held once per variant in the
//! harness (it keeps each variant's last output for the agreement check) plus one more for
//! the call in flight. Estimates are meant to be right within a factor of a few, which is
//! all a guard needs: the limits are a minute and half the available memory.
//!
//! Every number belongs to the analysis it describes: its `impl Analysis` declares the
//! [`CostModel`](crate::engine::CostModel) (`cost`), the work measure (`work`) and any
//! parameter factor or memory law of its own (`time_factor`, `call_bytes`); this module
//! knows no analysis and only computes with them.

use crate::data::Dataset;
use crate::engine::RunConfig;
use crate::engine::{Analysis, Params, Variant};
use crate::{Error, Result};

/// Beyond this many seconds (the whole run: every variant, warm-up and repeats) a run
/// needs `--force` (CLI) or a confirmation (GUI).
pub const MAX_SECONDS: f64 = 60.0;
/// Beyond this fraction of the available memory a run needs `--force` / a confirmation.
pub const MAX_MEMORY_FRACTION: f64 = 0.5;

/// Whether an analysis' cost model is calibrated (tests check every registered one is;
/// every analysis declares one, so this only catches a malformed one).
pub fn has_model(a: &dyn Analysis) -> bool {
    a.cost().is_calibrated()
}

/// The estimated cost of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Seconds of one call of each variant in the run.
    pub per_call: Vec<(Variant, f64)>,
    /// Seconds of the whole run (every variant, warm-up and timed repeats).
    pub seconds: f64,
    /// Peak bytes the run allocates beyond its input.
    pub bytes: f64,
}

impl Estimate {
    /// "~3.2 min and 12.0 GB"
    pub fn describe(&self) -> String {
        format!(
            "~{} and {}",
            fmt_duration(self.seconds),
            fmt_bytes(self.bytes)
        )
    }
}

pub fn fmt_duration(s: f64) -> String {
    if s >= 7200.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else if s >= 1.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.0} ms", s * 1e3)
    }
}

pub fn fmt_bytes(b: f64) -> String {
    if b >= 1e12 {
        format!("{:.1} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

/// Estimate the cost of running `cfg.variants` of `a` on `input` from the analysis' own
/// cost model; `None` when that model is not calibrated.
pub fn estimate(
    a: &dyn Analysis,
    input: &Dataset,
    params: &Params,
    cfg: &RunConfig,
) -> Option<Estimate> {
    let m = a.cost();
    if !m.is_calibrated() {
        return None;
    }
    let params = params.with_defaults(&a.params());
    let w = a.work(input, &params);
    let size = a.size_of(input) as f64;
    let calls = (cfg.warmup + cfg.repeat.max(1)) as f64;
    let mut per_call = Vec::new();
    let mut seconds = 0.0;
    for &v in &cfg.variants {
        let (p, t_ref) = m.time[v as usize];
        let mut t = t_ref * (w / m.w_ref).max(0.0).powf(p);
        t *= a.time_factor(v, &params);
        // Calibrated on 2 threads.
        if v == Variant::Parallel {
            t *= (2.0 / cfg.threads.max(1) as f64).clamp(0.25, 2.0);
        }
        let t = if t.is_finite() { t } else { f64::MAX };
        let mut total = t * calls;
        if v == Variant::Naive {
            if let Some(b) = cfg.naive_budget_s {
                // The harness stops the naive variant at its budget.
                total = total.min(b);
            }
        }
        per_call.push((v, t));
        seconds += total;
    }
    let one = a
        .call_bytes(input, &params, cfg.threads.max(1))
        .unwrap_or_else(|| m.mem.1 * size.max(0.0).powf(m.mem.0));
    let bytes = one * (cfg.variants.len() as f64 + 1.0);
    Some(Estimate {
        per_call,
        seconds,
        bytes: if bytes.is_finite() { bytes } else { f64::MAX },
    })
}

/// Bytes of memory available to a new allocation (the machine fact lives in `sys`).
pub use crate::sys::available_memory;
#[cfg(test)]
use crate::sys::parse_meminfo;

/// What the guard says about an estimate.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Within the limits.
    Fine,
    /// Beyond the time or memory limit: run only after `--force` / a confirmation.
    Confirm(String),
    /// More memory than is available: never started.
    Refuse(String),
}

/// Judge an estimate against the limits (`available` = bytes of free memory, if known).
pub fn judge(est: &Estimate, available: Option<u64>) -> Verdict {
    if let Some(avail) = available {
        let avail = avail as f64;
        if est.bytes > avail {
            return Verdict::Refuse(format!(
                "estimated {}, more than the {} of memory available; not started",
                est.describe(),
                fmt_bytes(avail)
            ));
        }
        if est.bytes > MAX_MEMORY_FRACTION * avail {
            return Verdict::Confirm(format!(
                "estimated {}, more than half of the {} of memory available",
                est.describe(),
                fmt_bytes(avail)
            ));
        }
    }
    if est.seconds > MAX_SECONDS {
        return Verdict::Confirm(format!(
            "estimated {}, longer than {:.0} s",
            est.describe(),
            MAX_SECONDS
        ));
    }
    Verdict::Fine
}

/// The CLI's check: `Ok` to go on, else a one-line `Error::Param` (exit code 2).
pub fn check_cli(
    a: &dyn Analysis,
    input: &Dataset,
    params: &Params,
    cfg: &RunConfig,
    force: bool,
) -> Result<Option<Estimate>> {
    let Some(est) = estimate(a, input, params, cfg) else {
        return Ok(None);
    };
    match judge(&est, available_memory()) {
        Verdict::Fine => Ok(Some(est)),
        Verdict::Confirm(_) if force => Ok(Some(est)),
        Verdict::Confirm(why) => Err(Error::param(format!(
            "{} {}: {why}; add --force to run it anyway (or pick a smaller input or fewer variants)",
            a.id(),
            variants_text(cfg)
        ))),
        Verdict::Refuse(why) => Err(Error::param(format!(
            "{} {}: {why}, even with --force; pick a smaller input",
            a.id(),
            variants_text(cfg)
        ))),
    }
}

fn variants_text(cfg: &RunConfig) -> String {
    let v: Vec<&str> = cfg.variants.iter().map(|v| v.name()).collect();
    format!("({})", v.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyses::{find, registry};

    #[test]
    fn a_mapped_stack_counts_its_blocks_not_the_file() {
        let a = find("spectrum-stack").expect("registered");
        let p = Params::defaults(&a.params());
        let c = cfg(Variant::Vectorized, 1);
        // 2,000 spectra × 3,000 pixels: 48 MB on disk, more than one 32 MB block.
        let mapped = crate::data::generate::stack_file(2000, 3000, 1, None).expect("stack");
        let m = estimate(a, &Dataset::Mapped(mapped), &p, &c).expect("model");
        let mem = a.generate(6_000_000, 1).expect("batch");
        let e = estimate(a, &mem, &p, &c).expect("model");
        assert!(
            m.bytes < e.bytes / 2.0,
            "mapped {} vs in memory {}",
            m.bytes,
            e.bytes
        );
        assert!(m.bytes >= 2.0 * 32.0 * 1048576.0, "{}", m.bytes);
    }

    fn cfg(v: Variant, calls: usize) -> RunConfig {
        RunConfig {
            variants: vec![v],
            threads: 2,
            repeat: calls,
            warmup: 0,
            naive_budget_s: None,
        }
    }

    fn est(id: &str, size: usize, v: Variant, params: &[(&str, &str)]) -> Estimate {
        let a = find(id).expect("registered");
        let d = a.generate(size, 1).expect("generate");
        let given: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let p = Params::resolve(&a.params(), &given).expect("params");
        estimate(a, &d, &p, &cfg(v, 1)).expect("model")
    }

    fn within(est: f64, measured: f64, factor: f64) -> bool {
        est <= measured * factor && est >= measured / factor
    }

    #[test]
    fn every_analysis_has_a_calibrated_model() {
        for a in registry() {
            assert!(has_model(*a), "{} has an uncalibrated cost model", a.id());
        }
        assert!(registry().len() >= 20, "{}", registry().len());
    }

    /// Release medians measured on this machine at sizes other than the calibration
    /// size (`astroperf bench --suite quick`, 2 threads, load ≈ 1).
    #[test]
    fn estimates_match_measured_quick_suite_figures_within_a_factor_of_five() {
        let cases: &[(&str, usize, Variant, f64)] = &[
            ("angular-distances", 300, Variant::Naive, 6.84e-3),
            ("spectrum-pipeline", 5000, Variant::Naive, 15.3e-3),
            ("period-search", 1000, Variant::Naive, 0.497),
            ("period-search", 1000, Variant::Vectorized, 10.1e-3),
            ("banded-median", 512, Variant::Naive, 37.1e-3),
            ("population-synthesis", 20, Variant::Naive, 24.1e-3),
            ("memory-layout", 512, Variant::Naive, 13.7e-3),
        ];
        for &(id, n, v, measured) in cases {
            let e = est(id, n, v, &[]).per_call[0].1;
            assert!(
                within(e, measured, 5.0),
                "{id} {v} at {n}: estimated {e:.4} s, measured {measured:.4} s"
            );
        }
    }

    #[test]
    fn naive_pairwise_on_a_million_points_is_refused_and_small_runs_are_fine() {
        let a = find("pairwise-distances").expect("registered");
        let d = a.generate(1_000_000, 1).expect("generate");
        let e = estimate(a, &d, &Params::default(), &cfg(Variant::Naive, 1)).expect("model");
        // 10⁶²/2 distances: ~45 min and 4 TB.
        assert!(e.seconds > 1000.0, "{e:?}");
        assert!(e.bytes > 1e12, "{e:?}");
        assert!(matches!(
            judge(&e, Some(32 << 30)),
            Verdict::Refuse(ref m) if m.contains("TB")
        ));
        // Without a memory figure the time limit still asks for a confirmation.
        assert!(matches!(judge(&e, None), Verdict::Confirm(ref m) if m.contains("min")));
        let small = est("pairwise-distances", 2000, Variant::Naive, &[]);
        assert_eq!(judge(&small, Some(1 << 30)), Verdict::Fine);
        // Half the memory needs a confirmation, all of it is refused.
        let big = Estimate {
            per_call: vec![],
            seconds: 1.0,
            bytes: 0.6e9,
        };
        assert!(matches!(
            judge(&big, Some(1_000_000_000)),
            Verdict::Confirm(_)
        ));
        assert!(matches!(judge(&big, Some(500_000_000)), Verdict::Refuse(_)));
    }

    #[test]
    fn parameters_that_scale_the_work_scale_the_estimate() {
        let base = est("period-search", 1000, Variant::Naive, &[("n", "1000")]);
        let ten = est("period-search", 1000, Variant::Naive, &[("n", "10000")]);
        let r = ten.seconds / base.seconds;
        assert!((r - 10.0).abs() < 1e-9, "{r}");
        let one = est("population-synthesis", 10, Variant::Vectorized, &[]);
        let more = est(
            "population-synthesis",
            10,
            Variant::Vectorized,
            &[("stars", "100000")],
        );
        assert!((more.seconds / one.seconds - 10.0).abs() < 1e-9);
    }

    #[test]
    fn bench_budget_caps_the_naive_time() {
        let a = find("cross-match").expect("registered");
        let d = a.generate(100_000, 1).expect("generate");
        let mut c = cfg(Variant::Naive, 5);
        let e = estimate(a, &d, &Params::default(), &c).expect("model");
        assert!(e.seconds > 60.0, "{e:?}");
        c.naive_budget_s = Some(30.0);
        let e = estimate(a, &d, &Params::default(), &c).expect("model");
        assert!(e.seconds <= 30.0, "{e:?}");
    }

    #[test]
    fn meminfo_is_parsed() {
        let t = "MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   23317448 kB\n";
        assert_eq!(parse_meminfo(t), Some(23317448 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 1 kB"), None);
        assert_eq!(fmt_duration(150.0), "2.5 min");
        assert_eq!(fmt_bytes(4e12), "4.0 TB");
    }
}
