//! The run context handed to every variant: cancellation, progress and per-stage
//! timings. Stages are timed by the `stage!` macro, which also opens a puffin scope of
//! the same name so the flame graph shows the stages the timing table lists.

use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Shared between the UI (or CLI) and a running analysis.
#[derive(Clone, Debug, Default)]
pub struct Control {
    pub cancel: Arc<AtomicBool>,
    /// Fraction done of the whole job, stored as f64 bits.
    pub progress: Arc<AtomicU64>,
}

impl Control {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
    pub fn set_progress(&self, f: f64) {
        self.progress
            .store(f.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }
    pub fn progress(&self) -> f64 {
        f64::from_bits(self.progress.load(Ordering::Relaxed))
    }
}

/// Context of one variant run.
#[derive(Debug)]
pub struct Ctx {
    control: Control,
    /// The part of the whole job this run covers: progress f maps to base + span*f.
    base: f64,
    span: f64,
    /// Threads the parallel variant may use (its rayon pool is already installed).
    pub threads: usize,
    stages: Mutex<Vec<StageRecord>>,
}

/// One stage's time and memory within one call (summed over repeated entries).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageRecord {
    pub name: &'static str,
    pub secs: f64,
    /// The stage's heap peak above what was live when it started, and its allocations.
    pub memory: crate::memory::Usage,
}

impl Ctx {
    pub fn new(control: Control, threads: usize, base: f64, span: f64) -> Self {
        Ctx {
            control,
            base,
            span,
            threads: threads.max(1),
            stages: Mutex::new(Vec::new()),
        }
    }

    /// A context for tests and one-off calls: never cancelled, progress ignored.
    pub fn detached(threads: usize) -> Self {
        Ctx::new(Control::new(), threads, 0.0, 1.0)
    }

    /// `Err(Cancelled)` once the user has pressed Cancel; call between blocks.
    pub fn check(&self) -> Result<()> {
        if self.control.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.control.is_cancelled()
    }

    /// Report the fraction (0..1) of this run that is done.
    pub fn progress(&self, f: f64) {
        self.control
            .set_progress(self.base + self.span * f.clamp(0.0, 1.0));
    }

    /// Add `secs` to stage `name` (stages keep their first-seen order).
    pub fn record(&self, name: &'static str, secs: f64) {
        self.record_stage(name, secs, crate::memory::Usage::default());
    }

    /// Add a stage's time and memory (what `stage!` records).
    pub fn record_stage(&self, name: &'static str, secs: f64, memory: crate::memory::Usage) {
        if let Ok(mut s) = self.stages.lock() {
            if let Some(e) = s.iter_mut().find(|e| e.name == name) {
                e.secs += secs;
                e.memory = e.memory.max_peak(memory);
            } else {
                s.push(StageRecord { name, secs, memory });
            }
        }
    }

    /// (name, seconds) of every stage so far, in first-seen order.
    pub fn stages(&self) -> Vec<(&'static str, f64)> {
        self.stage_records()
            .into_iter()
            .map(|r| (r.name, r.secs))
            .collect()
    }

    pub fn stage_records(&self) -> Vec<StageRecord> {
        self.stages.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Time a stage, count its memory and show it in the flame graph:
/// `stage!(ctx, "median3", { ... })`.
#[macro_export]
macro_rules! stage {
    ($ctx:expr, $name:literal, $body:expr) => {{
        puffin::profile_scope!($name);
        let __m = $crate::memory::Mark::now();
        let __t = std::time::Instant::now();
        let __r = $body;
        let __secs = __t.elapsed().as_secs_f64();
        $ctx.record_stage($name, __secs, __m.finish());
        __r
    }};
}
