//! Long work off the UI thread: one worker thread takes jobs over a channel, runs them
//! through the same harness as the CLI, and sends results back; the UI polls the
//! channel each frame and repaints on arrival, so it keeps rendering during a run.

use crate::analysis::{Analysis, Control, Params, Variant};
use crate::bench::{self, Outputs, RunConfig, RunRecord};
use crate::data::Loaded;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepKind {
    Size,
    Threads,
}

pub enum Job {
    /// Time the chosen variants on one dataset.
    Run {
        analysis: &'static dyn Analysis,
        data: Arc<Loaded>,
        params: Params,
        cfg: RunConfig,
    },
    /// Time the variants on generated inputs of growing size.
    SizeSweep {
        analysis: &'static dyn Analysis,
        params: Params,
        cfg: RunConfig,
        sizes: Vec<usize>,
        seed: u64,
    },
    /// Time the parallel variant at 1..=N threads on one dataset.
    ThreadSweep {
        analysis: &'static dyn Analysis,
        data: Arc<Loaded>,
        params: Params,
        cfg: RunConfig,
        threads: Vec<usize>,
    },
}

impl Job {
    fn analysis_id(&self) -> &'static str {
        match self {
            Job::Run { analysis, .. }
            | Job::SizeSweep { analysis, .. }
            | Job::ThreadSweep { analysis, .. } => analysis.id(),
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

pub enum Msg {
    /// A finished run with the outputs of each variant (for the viewers).
    Run {
        record: RunRecord,
        outputs: Arc<Outputs>,
        data: Arc<Loaded>,
    },
    /// One point of a sweep: x is the size or the thread count.
    SweepPoint {
        kind: SweepKind,
        x: usize,
        record: RunRecord,
    },
    /// The job ended (successfully or not); `None` = fine.
    Done(Option<String>),
}

pub struct Worker {
    jobs: Sender<Job>,
    pub results: Receiver<Msg>,
    pub control: Control,
    /// A job was sent and its `Done` has not arrived yet.
    pub busy: bool,
    /// What the current job is, for the status line.
    pub label: String,
}

impl Worker {
    /// Start the worker thread; `repaint` is called after every message.
    pub fn start(repaint: impl Fn() + Send + 'static) -> Self {
        let (jobs, job_rx) = channel::<Job>();
        let (tx, results) = channel::<Msg>();
        let control = Control::new();
        let c = control.clone();
        let spawned = std::thread::Builder::new()
            .name("astroperf-runner".into())
            .spawn(move || {
                while let Ok(job) = job_rx.recv() {
                    c.reset();
                    let what = job.analysis_id();
                    // A bug in an analysis must not take the app down: report it and carry on.
                    let err = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        execute(job, &c, &tx, &repaint)
                    })) {
                        Ok(r) => r.err(),
                        Err(p) => Some(format!(
                            "{what} crashed ({}); the app is still usable",
                            panic_text(&p)
                        )),
                    };
                    let _ = tx.send(Msg::Done(err));
                    repaint();
                }
            });
        if let Err(e) = spawned {
            // Without a worker, runs fail with a message instead of freezing the UI.
            eprintln!("astroperf: cannot start the worker thread: {e}");
        }
        Worker {
            jobs,
            results,
            control,
            busy: false,
            label: String::new(),
        }
    }

    pub fn submit(&mut self, job: Job, label: String) -> Result<(), String> {
        self.jobs
            .send(job)
            .map_err(|_| "the worker thread is not running".to_string())?;
        self.busy = true;
        self.label = label;
        Ok(())
    }

    pub fn cancel(&self) {
        self.control.cancel();
    }
}

fn execute(
    job: Job,
    control: &Control,
    tx: &Sender<Msg>,
    repaint: &dyn Fn(),
) -> Result<(), String> {
    let send = |m: Msg| {
        let _ = tx.send(m);
        repaint();
    };
    match job {
        Job::Run {
            analysis,
            data,
            params,
            cfg,
        } => {
            let (record, outputs) =
                bench::run(analysis, &data.data, &data.info, &params, &cfg, control)
                    .map_err(|e| e.to_string())?;
            send(Msg::Run {
                record,
                outputs: Arc::new(outputs),
                data,
            });
        }
        Job::SizeSweep {
            analysis,
            params,
            cfg,
            sizes,
            seed,
        } => {
            for (i, &n) in sizes.iter().enumerate() {
                if control.is_cancelled() {
                    return Err("cancelled".into());
                }
                let loaded =
                    bench::generated_input(analysis, n, seed).map_err(|e| e.to_string())?;
                let sub = Control::new();
                let (record, _) = run_forwarding(analysis, &loaded, &params, &cfg, control, &sub)?;
                control.set_progress((i + 1) as f64 / sizes.len() as f64);
                send(Msg::SweepPoint {
                    kind: SweepKind::Size,
                    x: n,
                    record,
                });
            }
        }
        Job::ThreadSweep {
            analysis,
            data,
            params,
            cfg,
            threads,
        } => {
            for (i, &t) in threads.iter().enumerate() {
                if control.is_cancelled() {
                    return Err("cancelled".into());
                }
                let c = RunConfig {
                    variants: vec![Variant::Parallel],
                    threads: t,
                    ..cfg.clone()
                };
                let sub = Control::new();
                let (record, _) = run_forwarding(analysis, &data, &params, &c, control, &sub)?;
                control.set_progress((i + 1) as f64 / threads.len() as f64);
                send(Msg::SweepPoint {
                    kind: SweepKind::Threads,
                    x: t,
                    record,
                });
            }
        }
    }
    Ok(())
}

/// Run one sweep point with its own progress, while still honouring the outer Cancel.
fn run_forwarding(
    analysis: &'static dyn Analysis,
    data: &Loaded,
    params: &Params,
    cfg: &RunConfig,
    outer: &Control,
    sub: &Control,
) -> Result<(RunRecord, Outputs), String> {
    let sub2 = Control {
        cancel: outer.cancel.clone(),
        progress: sub.progress.clone(),
    };
    bench::run(analysis, &data.data, &data.info, params, cfg, &sub2).map_err(|e| e.to_string())
}
