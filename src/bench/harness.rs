//! The timing loop: each variant in its own rayon pool, untimed warm-up calls then the
//! timed repeats, the naive variant under an optional time budget, a cancel honoured
//! between and inside calls, and the variants' outputs compared at the end.

use super::{
    mad, median, CancelledRun, InputDesc, Outputs, RunConfig, RunRecord, StageTiming, VariantRun,
};
use super::{profile, OTHER_STAGE};
use crate::data::{DataInfo, Dataset};
use crate::engine::{Analysis, Control, Ctx, Output, Params, Variant};
use crate::memory::{self, Usage};
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Cancels a budgeted run when its time is up (or when the whole job is cancelled).
struct Watchdog {
    done: Arc<AtomicBool>,
    expired: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(budget_s: f64, outer: Control, inner: Control) -> Self {
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
        self.expired.load(Ordering::Relaxed)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A variant's pool. Its threads are named after the variant (the lanes of the run's
/// flame graph) and report their scopes to the run's profile capture.
fn pool(threads: usize, variant: Variant, capture: &profile::Capture) -> Result<rayon::ThreadPool> {
    let join = capture.join();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(move |i| format!("{variant} · thread {i}"))
        .start_handler(move |_| join())
        // A worker's batched allocation counts reach the shared ones when it ends.
        .exit_handler(|_| crate::memory::flush_thread())
        .build()
        .map_err(|e| Error::input(format!("cannot start {threads} worker threads: {e}")))
}

/// Time `cfg.variants` of `analysis` on `input` and check that they agree;
/// `Err(Cancelled)` when the run is cancelled (see [`run_partial`] for what had finished).
pub fn run(
    analysis: &dyn Analysis,
    input: &Dataset,
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
    input: &Dataset,
    info: &DataInfo,
    params: &Params,
    cfg: &RunConfig,
    control: &Control,
) -> Result<(RunRecord, Outputs)> {
    analysis.validate(input, params)?;
    let harness = Harness::new(analysis, input, params, cfg, control);
    let mut cancelled = None;
    let mut runs = Vec::new();
    let mut outputs: Outputs = Vec::new();
    let mut skipped = Vec::new();
    for (vi, &variant) in cfg.variants.iter().enumerate() {
        match harness.time_variant(vi, variant)? {
            VariantOutcome::Timed { run, output, note } => {
                skipped.extend(note);
                runs.push(*run);
                outputs.push((variant, output));
            }
            VariantOutcome::Skipped(why) => skipped.push(why),
            VariantOutcome::Cancelled(c) => {
                cancelled = Some(c);
                break;
            }
        }
    }
    if cancelled.is_none() {
        control.set_progress(1.0);
    }
    let disagreement = compare_variants(&outputs, &mut runs);
    let record = RunRecord {
        analysis: analysis.id().to_string(),
        input: InputDesc {
            kind: info.kind.to_string(),
            source: info.source.clone(),
            shape: info.shape.clone(),
        },
        size: harness.size,
        size_unit: analysis.size_unit().to_string(),
        params: params.to_json(&analysis.params()),
        agree: disagreement.is_none(),
        disagreement,
        tool: "astroperf".to_string(),
        same_input: None,
        agrees_with_astroperf: None,
        runs,
        skipped,
        cancelled,
        profile: harness.capture.finish(),
    };
    Ok((record, outputs))
}

/// Compare every variant's output with the first one's, marking those that differ;
/// returns the first difference found.
fn compare_variants(outputs: &Outputs, runs: &mut [VariantRun]) -> Option<String> {
    let mut disagreement = None;
    if let Some((v0, first)) = outputs.first() {
        for (i, (v, o)) in outputs.iter().enumerate().skip(1) {
            if let Err(why) = first.agrees_with(o) {
                runs[i].agrees = false;
                disagreement.get_or_insert(format!("{v} differs from {v0}: {why}"));
            }
        }
    }
    disagreement
}

/// What one variant's calls came to.
enum VariantOutcome {
    /// Timed: its figures, the output of its last timed repeat, and a note when the budget
    /// let only some of the repeats run.
    Timed {
        run: Box<VariantRun>,
        output: Output,
        note: Option<String>,
    },
    /// Not timed, with the reason (the naive budget ran out before a timed repeat).
    Skipped(String),
    /// Cancel stopped it.
    Cancelled(CancelledRun),
}

/// One stage over the timed repeats: one entry per timed call (0 where a call did not
/// run the stage), so entry i of every stage belongs to call i.
struct StageSamples {
    name: String,
    secs: Vec<f64>,
    memory: Vec<Usage>,
}

impl StageSamples {
    /// The stage's time in the median call (the mean over the two middle calls for an even
    /// count), so a variant's stages add up to its median exactly; its largest peak and
    /// median allocation count over the calls.
    fn timing(self, middle: &[usize]) -> StageTiming {
        let allocs: Vec<f64> = self.memory.iter().map(|m| m.allocs as f64).collect();
        let at = |i: &usize| self.secs.get(*i).copied().unwrap_or(0.0);
        StageTiming {
            name: self.name,
            median_s: middle.iter().map(at).sum::<f64>() / middle.len().max(1) as f64,
            peak_bytes: self.memory.iter().map(|m| m.peak_bytes).max().unwrap_or(0),
            allocs: median(&allocs).round() as u64,
            ..StageTiming::default()
        }
    }
}

/// The timed calls whose mean is the median time: the middle one, or the middle two.
fn middle_calls(times: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
    let n = order.len();
    match n {
        0 => Vec::new(),
        _ if n % 2 == 1 => vec![order[n / 2]],
        _ => vec![order[n / 2 - 1], order[n / 2]],
    }
}

/// Add one call's stages (and `other`, the call's time outside them) to the samples.
fn add_stage_samples(samples: &mut Vec<StageSamples>, ctx: &Ctx, call_s: f64) {
    let records = ctx.stage_records();
    let staged: f64 = records.iter().map(|r| r.secs).sum();
    let other = crate::ctx::StageRecord {
        name: OTHER_STAGE,
        secs: (call_s - staged).max(0.0),
        memory: Usage::default(),
    };
    let calls_before = samples.first().map_or(0, |s| s.secs.len());
    for r in records.into_iter().chain(std::iter::once(other)) {
        let at = match samples.iter().position(|e| e.name == r.name) {
            Some(i) => i,
            None => {
                samples.push(StageSamples {
                    name: r.name.to_string(),
                    secs: vec![0.0; calls_before],
                    memory: vec![Usage::default(); calls_before],
                });
                samples.len() - 1
            }
        };
        samples[at].secs.push(r.secs);
        samples[at].memory.push(r.memory);
    }
    // A stage an earlier call ran and this one did not took 0 s in this call.
    for s in samples.iter_mut() {
        if s.secs.len() == calls_before {
            s.secs.push(0.0);
            s.memory.push(Usage::default());
        }
    }
    // `other` stays last even when a later call ran a stage the first did not.
    if let Some(i) = samples.iter().position(|e| e.name == OTHER_STAGE) {
        let o = samples.remove(i);
        samples.push(o);
    }
}

/// The calls of one variant as they ran.
#[derive(Default)]
struct Calls {
    /// Time of the very first call (warm-up or not).
    first_s: Option<f64>,
    /// Times of the timed repeats.
    times: Vec<f64>,
    /// Each stage's times and memory over the timed repeats, in the order the stages
    /// first ran, `other` last.
    stage_samples: Vec<StageSamples>,
    /// Each timed call's memory.
    call_memory: Vec<Usage>,
    /// The process's RSS high-water mark after the variant's calls.
    rss_peak_bytes: Option<u64>,
    /// Output of the last timed repeat.
    last: Option<Output>,
}

/// One run's fixed inputs, and where each call sits in it (for the progress bar).
struct Harness<'a> {
    analysis: &'a dyn Analysis,
    input: &'a Dataset,
    params: &'a Params,
    cfg: &'a RunConfig,
    control: &'a Control,
    repeat: usize,
    calls_per_variant: f64,
    total_calls: f64,
    /// The input's size in the analysis' unit.
    size: usize,
    /// The run's own profile, which every variant's pool threads join.
    capture: profile::Capture,
}

impl<'a> Harness<'a> {
    fn new(
        analysis: &'a dyn Analysis,
        input: &'a Dataset,
        params: &'a Params,
        cfg: &'a RunConfig,
        control: &'a Control,
    ) -> Self {
        let repeat = cfg.repeat.max(1);
        let calls_per_variant = (cfg.warmup + repeat) as f64;
        Harness {
            analysis,
            input,
            params,
            cfg,
            control,
            repeat,
            calls_per_variant,
            total_calls: calls_per_variant * cfg.variants.len() as f64,
            size: analysis.size_of(input),
            capture: profile::Capture::start(),
        }
    }

    /// The fraction of the whole run done when call `call` of variant `vi` starts.
    fn progress_at(&self, vi: usize, call: usize) -> f64 {
        (vi as f64 * self.calls_per_variant + call as f64) / self.total_calls
    }

    /// Warm up and time one variant in its own pool (one thread unless parallel).
    fn time_variant(&self, vi: usize, variant: Variant) -> Result<VariantOutcome> {
        if self.control.is_cancelled() {
            return Ok(VariantOutcome::Cancelled(CancelledRun {
                variant,
                call: 0,
                warmup: self.cfg.warmup > 0,
                elapsed_s: 0.0,
                completed_times_s: Vec::new(),
                finished_stages: Vec::new(),
            }));
        }
        let threads = if variant == Variant::Parallel {
            self.cfg.threads.clamp(1, 1024)
        } else {
            1
        };
        let pool = pool(threads, variant, &self.capture)?;
        // The naive variant may run under a budget: its own cancel flag, set by a
        // watchdog when the budget is spent or when the user cancels the whole job.
        let budget_s = self
            .cfg
            .naive_budget_s
            .filter(|_| variant == Variant::Naive);
        let variant_control = match budget_s {
            Some(_) => Control {
                cancel: Default::default(),
                progress: self.control.progress.clone(),
            },
            None => self.control.clone(),
        };
        let watchdog =
            budget_s.map(|b| Watchdog::start(b, self.control.clone(), variant_control.clone()));
        // The RSS high-water mark from here on is this variant's (where Linux allows).
        memory::reset_rss_high_water();
        let calls = match self.run_calls(
            vi,
            variant,
            threads,
            &pool,
            &variant_control,
            watchdog.as_ref(),
        )? {
            Ok(calls) => calls,
            Err(cancelled) => return Ok(VariantOutcome::Cancelled(cancelled)),
        };
        let over_budget = watchdog.as_ref().is_some_and(|w| w.expired());
        drop(watchdog);
        self.outcome(variant, threads, calls, over_budget)
    }

    /// The warm-up calls and timed repeats of one variant; `Ok(Err(..))` when Cancel stopped
    /// them, and an early end (with what had run) when the budget ran out.
    fn run_calls(
        &self,
        vi: usize,
        variant: Variant,
        threads: usize,
        pool: &rayon::ThreadPool,
        variant_control: &Control,
        watchdog: Option<&Watchdog>,
    ) -> Result<std::result::Result<Calls, CancelledRun>> {
        let cfg = self.cfg;
        let mut calls = Calls {
            times: Vec::with_capacity(self.repeat),
            ..Calls::default()
        };
        for call in 0..cfg.warmup + self.repeat {
            // Between calls too: an analysis that checks rarely still stops after a call.
            if self.control.is_cancelled() {
                return Ok(Err(CancelledRun {
                    variant,
                    call,
                    warmup: call < cfg.warmup,
                    elapsed_s: 0.0,
                    completed_times_s: calls.times,
                    finished_stages: Vec::new(),
                }));
            }
            self.control.set_progress(self.progress_at(vi, call));
            let ctx = Ctx::new(
                variant_control.clone(),
                threads,
                self.progress_at(vi, call),
                1.0 / self.total_calls,
            );
            // The previous call's output is dropped before the next call starts, so a
            // streaming kernel's working set is its own input and output only, as in a
            // standalone call (keeping it alive pushed 1M-star extinction out of L3).
            if call >= cfg.warmup {
                calls.last = None;
            }
            let warmup = call < cfg.warmup;
            let mark = memory::Mark::now();
            let t0 = Instant::now();
            // The call is timed on the pool thread that runs it: handing the job to the
            // pool and waking its thread (10-15 µs on this VM) is the harness's cost, not
            // the analysis' (a Python reference is timed in-thread too).
            let (result, dt) = pool.install(|| {
                puffin::profile_scope!(
                    "call",
                    format!(
                        "{} {variant} {} {call}",
                        self.analysis.id(),
                        if warmup { "warm-up" } else { "repeat" }
                    )
                );
                let t_call = Instant::now();
                let result = self.analysis.run(variant, self.input, self.params, &ctx);
                (result, t_call.elapsed().as_secs_f64())
            });
            let call_memory = mark.finish();
            let out = match (result, watchdog) {
                (Ok(o), _) => o,
                (Err(Error::Cancelled), Some(w)) if w.expired() && !self.control.is_cancelled() => {
                    break;
                }
                (Err(Error::Cancelled), _) => {
                    return Ok(Err(CancelledRun {
                        variant,
                        call,
                        warmup: call < cfg.warmup,
                        elapsed_s: t0.elapsed().as_secs_f64(),
                        completed_times_s: calls.times,
                        finished_stages: stage_timings(&ctx),
                    }));
                }
                (Err(e), _) => return Err(e),
            };
            calls.first_s.get_or_insert(dt);
            if !warmup {
                calls.times.push(dt);
                add_stage_samples(&mut calls.stage_samples, &ctx, dt);
                calls.call_memory.push(call_memory);
                calls.last = Some(out);
            }
        }
        calls.rss_peak_bytes = memory::rss_high_water();
        Ok(Ok(calls))
    }

    /// A variant's figures from its calls, or why it was not timed.
    fn outcome(
        &self,
        variant: Variant,
        threads: usize,
        calls: Calls,
        over_budget: bool,
    ) -> Result<VariantOutcome> {
        let budget = self.cfg.naive_budget_s.unwrap_or(0.0);
        let Some(output) = calls.last else {
            if over_budget {
                return Ok(VariantOutcome::Skipped(match calls.first_s {
                    Some(f) if self.cfg.warmup > 0 => format!(
                        "{variant}: not timed; its warm-up call took {f:.1} s and no timed repeat fitted in the {budget:.0} s budget",
                    ),
                    _ => format!(
                        "{variant}: not timed; its first call ran past the {budget:.0} s budget",
                    ),
                }));
            }
            return Err(Error::input("no timed repeat ran"));
        };
        let times = calls.times;
        let note = over_budget.then(|| {
            format!(
                "{variant}: {} of {} repeats fitted in the {budget:.0} s budget",
                times.len(),
                self.repeat
            )
        });
        let med = median(&times);
        let middle = middle_calls(&times);
        let run = Box::new(VariantRun {
            variant,
            threads,
            first_s: calls.first_s.unwrap_or(f64::NAN),
            min_s: times.iter().copied().fold(f64::INFINITY, f64::min),
            max_s: times.iter().copied().fold(0.0, f64::max),
            mad_s: mad(&times),
            median_s: med,
            throughput: if med > 0.0 {
                self.size as f64 / med
            } else {
                0.0
            },
            throughput_unit: format!("{}/s", self.analysis.size_unit()),
            gbps: self
                .analysis
                .bytes_moved(self.input, self.params)
                .filter(|_| med > 0.0)
                .map(|b| b / med / 1e9),
            times_s: times,
            stages: calls
                .stage_samples
                .into_iter()
                .map(|s| s.timing(&middle))
                .collect(),
            peak_bytes: calls
                .call_memory
                .iter()
                .map(|m| m.peak_bytes)
                .max()
                .unwrap_or(0),
            allocs: {
                let a: Vec<f64> = calls.call_memory.iter().map(|m| m.allocs as f64).collect();
                median(&a).round() as u64
            },
            rss_peak_bytes: calls.rss_peak_bytes,
            summary: output.summary.clone(),
            agrees: true,
            agrees_with_astroperf: None,
            agreement: None,
        });
        Ok(VariantOutcome::Timed { run, output, note })
    }
}

/// The stages a call had finished, with their times.
fn stage_timings(ctx: &Ctx) -> Vec<StageTiming> {
    ctx.stages()
        .into_iter()
        .map(|(name, s)| StageTiming::timed(name, s))
        .collect()
}
