//! The timing harness: warm-up runs kept apart, R timed repeats per variant, robust
//! statistics, a rayon pool per run, and the agreement check between variants. The CLI,
//! the GUI's worker and the bench suite all time through here.

pub mod bandwidth;
pub mod export;
pub mod report;

use crate::data::DataInfo;
pub use crate::engine::run_config::{available_threads, RunConfig};
use crate::engine::{Analysis, Control, Ctx, Output, Params, Variant};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Instant;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StageTiming {
    pub name: String,
    pub median_s: f64,
}

/// One variant's timings and result summary (the `runs[]` entries of `run --json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantRun {
    pub variant: Variant,
    pub threads: usize,
    /// Time of the very first (warm-up) call: page faults, cold caches, lazy allocations.
    pub first_s: f64,
    pub times_s: Vec<f64>,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub mad_s: f64,
    /// Elements (in the analysis' size unit) per second at the median time.
    pub throughput: f64,
    pub throughput_unit: String,
    /// Achieved memory traffic (GB/s) for streaming kernels (see `Analysis::bytes_moved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbps: Option<f64>,
    pub stages: Vec<StageTiming>,
    pub summary: Map<String, Value>,
    /// Whether this variant's artifacts agree with the first variant's.
    pub agrees: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InputDesc {
    pub kind: String,
    pub source: String,
    pub shape: Vec<usize>,
}

/// Everything `run --json` prints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub analysis: String,
    pub input: InputDesc,
    pub size: usize,
    pub size_unit: String,
    pub params: Map<String, Value>,
    pub agree: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<String>,
    /// Which language/tool produced the record ("astroperf", or "python" for imported ones).
    pub tool: String,
    pub runs: Vec<VariantRun>,
    /// Variants not timed, with the reason (e.g. over the naive budget).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// Set when the run was cancelled: `runs` then holds only the variants that finished,
    /// and this what the interrupted variant had done. A cancelled record is not a timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<CancelledRun>,
}

/// What an interrupted variant had done when Cancel (or Ctrl-C) stopped it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CancelledRun {
    pub variant: Variant,
    /// The call that was stopped, counting warm-up calls from 0.
    pub call: usize,
    /// Whether that call was an (untimed) warm-up call.
    pub warmup: bool,
    /// Wall time of the stopped call until it returned.
    pub elapsed_s: f64,
    /// Times of this variant's timed repeats that completed before the cancel.
    pub completed_times_s: Vec<f64>,
    /// Stages of the stopped call that had finished, with their times.
    pub finished_stages: Vec<StageTiming>,
}

impl RunRecord {
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.is_some()
    }
}

/// Cancels a budgeted run when its time is up (or when the whole job is cancelled).
struct Watchdog {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    expired: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(budget_s: f64, outer: Control, inner: Control) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let done = Arc::new(AtomicBool::new(false));
        let expired = Arc::new(AtomicBool::new(false));
        let (d, e) = (done.clone(), expired.clone());
        let t0 = Instant::now();
        let handle = std::thread::Builder::new()
            .name("astroperf-budget".into())
            .spawn(move || {
                while !d.load(Ordering::Relaxed) {
                    if outer.is_cancelled() {
                        inner.cancel();
                    }
                    if t0.elapsed().as_secs_f64() > budget_s {
                        e.store(true, Ordering::Relaxed);
                        inner.cancel();
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            })
            .ok();
        Watchdog {
            done,
            expired,
            handle,
        }
    }

    fn expired(&self) -> bool {
        self.expired.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// An analysis' own generated input of `size`, described the same way everywhere
/// (CLI run, bench, GUI, sweeps).
pub fn generated_input(
    analysis: &dyn Analysis,
    size: usize,
    seed: u64,
) -> Result<crate::data::Loaded> {
    Ok(crate::data::Loaded::new(
        analysis.generate(size, seed)?,
        format!(
            "generated for {} ({size} {}, seed {seed})",
            analysis.id(),
            analysis.size_unit()
        ),
        crate::data::Origin::Generated,
    ))
}

/// The outputs of the last timed repeat of each variant, in run order.
pub type Outputs = Vec<(Variant, Output)>;

pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Median absolute deviation (unscaled).
pub fn mad(v: &[f64]) -> f64 {
    let m = median(v);
    let d: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    median(&d)
}

fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("astroperf-worker-{i}"))
        .build()
        .map_err(|e| Error::input(format!("cannot start {threads} worker threads: {e}")))
}

/// Time `cfg.variants` of `analysis` on `input` and check that they agree;
/// `Err(Cancelled)` when the run is cancelled (see [`run_partial`] for what had finished).
pub fn run(
    analysis: &dyn Analysis,
    input: &crate::data::Dataset,
    info: &DataInfo,
    params: &Params,
    cfg: &RunConfig,
    control: &Control,
) -> Result<(RunRecord, Outputs)> {
    let (record, outputs) = run_partial(analysis, input, info, params, cfg, control)?;
    if record.is_cancelled() {
        return Err(Error::Cancelled);
    }
    Ok((record, outputs))
}

/// Like [`run`], but a cancelled run returns `Ok` with a record marked
/// [`RunRecord::cancelled`]: the variants that finished, and the finished stages of the
/// call that was stopped.
pub fn run_partial(
    analysis: &dyn Analysis,
    input: &crate::data::Dataset,
    info: &DataInfo,
    params: &Params,
    cfg: &RunConfig,
    control: &Control,
) -> Result<(RunRecord, Outputs)> {
    analysis.validate(input, params)?;
    let mut cancelled: Option<CancelledRun> = None;
    let repeat = cfg.repeat.max(1);
    let calls_per_variant = (cfg.warmup + repeat) as f64;
    let total_calls = calls_per_variant * cfg.variants.len() as f64;
    let size = analysis.size_of(input);
    let mut runs = Vec::new();
    let mut outputs: Outputs = Vec::new();
    let mut skipped = Vec::new();
    'variants: for (vi, &variant) in cfg.variants.iter().enumerate() {
        if control.is_cancelled() {
            cancelled = Some(CancelledRun {
                variant,
                call: 0,
                warmup: cfg.warmup > 0,
                elapsed_s: 0.0,
                completed_times_s: Vec::new(),
                finished_stages: Vec::new(),
            });
            break;
        }
        let threads = if variant == Variant::Parallel {
            cfg.threads.clamp(1, 1024)
        } else {
            1
        };
        let pool = pool(threads)?;
        // The naive variant may run under a budget: its own cancel flag, set by a
        // watchdog when the budget is spent or when the user cancels the whole job.
        let budgeted = cfg.naive_budget_s.filter(|_| variant == Variant::Naive);
        let vc = match budgeted {
            Some(_) => Control {
                cancel: Default::default(),
                progress: control.progress.clone(),
            },
            None => control.clone(),
        };
        let watchdog = budgeted.map(|b| Watchdog::start(b, control.clone(), vc.clone()));
        let mut first_s = None;
        let mut times = Vec::with_capacity(repeat);
        let mut stage_samples: Vec<(String, Vec<f64>)> = Vec::new();
        let mut last = None;
        for call in 0..cfg.warmup + repeat {
            // Between calls too: an analysis that checks rarely still stops after a call.
            if control.is_cancelled() {
                cancelled = Some(CancelledRun {
                    variant,
                    call,
                    warmup: call < cfg.warmup,
                    elapsed_s: 0.0,
                    completed_times_s: times,
                    finished_stages: Vec::new(),
                });
                break 'variants;
            }
            control.set_progress((vi as f64 * calls_per_variant + call as f64) / total_calls);
            let ctx = Ctx::new(
                vc.clone(),
                threads,
                (vi as f64 * calls_per_variant + call as f64) / total_calls,
                1.0 / total_calls,
            );
            // The previous call's output is dropped before the next call starts, so a
            // streaming kernel's working set is its own input and output only, as in a
            // standalone call (keeping it alive pushed 1M-star extinction out of L3).
            if call >= cfg.warmup {
                last = None;
            }
            let t0 = Instant::now();
            let result = pool.install(|| {
                puffin::profile_scope!("run", format!("{} {}", analysis.id(), variant));
                analysis.run(variant, input, params, &ctx)
            });
            let out = match (result, &watchdog) {
                (Ok(o), _) => o,
                (Err(Error::Cancelled), Some(w)) if w.expired() && !control.is_cancelled() => {
                    break;
                }
                (Err(Error::Cancelled), _) => {
                    cancelled = Some(CancelledRun {
                        variant,
                        call,
                        warmup: call < cfg.warmup,
                        elapsed_s: t0.elapsed().as_secs_f64(),
                        completed_times_s: times,
                        finished_stages: ctx
                            .stages()
                            .into_iter()
                            .map(|(name, s)| StageTiming {
                                name: name.to_string(),
                                median_s: s,
                            })
                            .collect(),
                    });
                    break 'variants;
                }
                (Err(e), _) => return Err(e),
            };
            let dt = t0.elapsed().as_secs_f64();
            if first_s.is_none() {
                first_s = Some(dt);
            }
            if call >= cfg.warmup {
                times.push(dt);
                for (name, s) in ctx.stages() {
                    match stage_samples.iter_mut().find(|e| e.0 == name) {
                        Some(e) => e.1.push(s),
                        None => stage_samples.push((name.to_string(), vec![s])),
                    }
                }
                last = Some(out);
            }
        }
        let over_budget = watchdog.as_ref().is_some_and(|w| w.expired());
        drop(watchdog);
        let Some(out) = last else {
            if over_budget {
                skipped.push(match first_s {
                    Some(f) if cfg.warmup > 0 => format!(
                        "{variant}: not timed; its warm-up call took {f:.1} s and no timed repeat fitted in the {:.0} s budget",
                        cfg.naive_budget_s.unwrap_or(0.0)
                    ),
                    _ => format!(
                        "{variant}: not timed; its first call ran past the {:.0} s budget",
                        cfg.naive_budget_s.unwrap_or(0.0)
                    ),
                });
                continue;
            }
            return Err(Error::input("no timed repeat ran"));
        };
        if over_budget {
            skipped.push(format!(
                "{variant}: {} of {repeat} repeats fitted in the {:.0} s budget",
                times.len(),
                cfg.naive_budget_s.unwrap_or(0.0)
            ));
        }
        let med = median(&times);
        runs.push(VariantRun {
            variant,
            threads,
            first_s: first_s.unwrap_or(f64::NAN),
            min_s: times.iter().copied().fold(f64::INFINITY, f64::min),
            max_s: times.iter().copied().fold(0.0, f64::max),
            mad_s: mad(&times),
            median_s: med,
            throughput: if med > 0.0 { size as f64 / med } else { 0.0 },
            throughput_unit: format!("{}/s", analysis.size_unit()),
            gbps: analysis
                .bytes_moved(input, params)
                .filter(|_| med > 0.0)
                .map(|b| b / med / 1e9),
            times_s: times,
            stages: stage_samples
                .into_iter()
                .map(|(name, v)| StageTiming {
                    name,
                    median_s: median(&v),
                })
                .collect(),
            summary: out.summary.clone(),
            agrees: true,
        });
        outputs.push((variant, out));
    }
    if cancelled.is_none() {
        control.set_progress(1.0);
    }
    let mut disagreement = None;
    if let Some((v0, first)) = outputs.first() {
        for (i, (v, o)) in outputs.iter().enumerate().skip(1) {
            if let Err(why) = first.agrees_with(o) {
                runs[i].agrees = false;
                disagreement.get_or_insert(format!("{v} differs from {v0}: {why}"));
            }
        }
    }
    let record = RunRecord {
        analysis: analysis.id().to_string(),
        input: InputDesc {
            kind: info.kind.to_string(),
            source: info.source.clone(),
            shape: info.shape.clone(),
        },
        size,
        size_unit: analysis.size_unit().to_string(),
        params: params.to_json(&analysis.params()),
        agree: disagreement.is_none(),
        disagreement,
        tool: "astroperf".to_string(),
        runs,
        skipped,
        cancelled,
    };
    Ok((record, outputs))
}

/// Read a JSON array of run records (ours, or the Python reference's in our schema).
pub fn load_records(path: &std::path::Path) -> Result<Vec<RunRecord>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::format(path, format!("not a JSON array of run records: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(mad(&[1.0, 2.0, 3.0, 100.0]), 1.0);
    }
}
