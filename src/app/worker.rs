//! Long work off the UI thread: one worker thread takes jobs over a channel, runs them
//! through the same harness as the CLI, and sends results back; the UI polls the
//! channel each frame and repaints on arrival, so it keeps rendering during a run.

use crate::bench::python::{self, PyEvent, PythonOptions, PythonOutcome};
use crate::bench::{self, Outputs, RunConfig, RunRecord};
use crate::data::Loaded;
use crate::engine::{guard, Analysis, Control, Params, Variant};
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
        /// Also run the Python reference on the same input afterwards.
        python: Option<PythonOptions>,
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
    /// Measure this machine's ceilings again and replace the cached figures. On this
    /// thread, so a measurement and a run never share the cores.
    Remeasure,
}

impl Job {
    /// What the job works on, for its crash report.
    fn analysis_id(&self) -> &'static str {
        match self {
            Job::Run { analysis, .. }
            | Job::SizeSweep { analysis, .. }
            | Job::ThreadSweep { analysis, .. } => analysis.id(),
            Job::Remeasure => "the machine measurement",
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
    /// A run stopped by Cancel: what had finished, marked cancelled (for the history).
    Cancelled { record: RunRecord },
    /// What the Python reference is doing now (for the status line).
    PythonProgress(String),
    /// The Python reference's run on the same input as the last `Run`.
    Python(Box<PythonOutcome>),
    /// New ceilings from [`Job::Remeasure`], with the cache's warning if it could not be
    /// written.
    Machine(Box<crate::bench::machine::Machine>, Option<String>),
    /// The job ended (successfully or not); `None` = fine.
    Done(Option<String>),
}

pub struct Worker {
    jobs: Sender<(Job, Control)>,
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
        let (jobs, job_rx) = channel::<(Job, Control)>();
        let (tx, results) = channel::<Msg>();
        let spawned = std::thread::Builder::new()
            .name("astroperf-runner".into())
            .spawn(move || {
                while let Ok((job, c)) = job_rx.recv() {
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
            control: Control::new(),
            busy: false,
            label: String::new(),
        }
    }

    /// Send a job with a fresh [`Control`], made here on the UI thread: a Cancel pressed
    /// before the worker thread has picked the job up still reaches it (the worker used to
    /// reset one shared flag when it started a job, which undid such an early Cancel).
    pub fn submit(&mut self, job: Job, label: String) -> Result<(), String> {
        let control = Control::new();
        self.jobs
            .send((job, control.clone()))
            .map_err(|_| "the worker thread is not running".to_string())?;
        self.control = control;
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
            python,
        } => {
            let (record, outputs) =
                bench::run_partial(analysis, &data.data, &data.info, &params, &cfg, control)
                    .map_err(|e| e.to_string())?;
            if record.is_cancelled() {
                send(Msg::Cancelled { record });
                return Err(crate::Error::Cancelled.to_string());
            }
            let ours = python.as_ref().map(|_| record.clone());
            send(Msg::Run {
                record,
                outputs: Arc::new(outputs),
                data: data.clone(),
            });
            if let (Some(opts), Some(ours)) = (python, ours) {
                control.set_progress(0.0);
                let outcome = python::run_reference(
                    analysis,
                    &data.data,
                    &params,
                    &ours,
                    &opts,
                    control,
                    &mut |ev| {
                        if let PyEvent::Progress(p) = ev {
                            if p.total > 0 {
                                control.set_progress(p.done as f64 / p.total as f64);
                            }
                            send(Msg::PythonProgress(p.line()));
                        }
                    },
                );
                let cancelled = matches!(outcome, PythonOutcome::Cancelled);
                send(Msg::Python(Box::new(outcome)));
                if cancelled {
                    return Err(crate::Error::Cancelled.to_string());
                }
            }
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
                    return Err(crate::Error::Cancelled.to_string());
                }
                let loaded =
                    bench::generated_input(analysis, n, seed).map_err(|e| e.to_string())?;
                guard_point(analysis, &loaded, &params, &cfg, &format!("size {n}"))?;
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
                    return Err(crate::Error::Cancelled.to_string());
                }
                let c = RunConfig {
                    variants: vec![Variant::Parallel],
                    threads: t,
                    ..cfg.clone()
                };
                guard_point(analysis, &data, &params, &c, &format!("{t} threads"))?;
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
        Job::Remeasure => {
            let (m, warning) = bench::machine::remeasure_with(&mut |done| {
                control.set_progress(done);
                !control.is_cancelled()
            })
            .ok_or_else(|| crate::Error::Cancelled.to_string())?;
            send(Msg::Machine(Box::new(m), warning));
        }
    }
    Ok(())
}

/// Run one sweep point with its own progress, while still honouring the outer Cancel.
/// A sweep never starts a point beyond the guard's limits (a run would ask first; a
/// sweep has no one to ask between points): it stops before it, keeping the points done,
/// and says why, so that the largest size or the repeats can be lowered.
fn guard_point(
    analysis: &'static dyn Analysis,
    data: &Loaded,
    params: &Params,
    cfg: &RunConfig,
    point: &str,
) -> Result<(), String> {
    let Some(est) = guard::estimate(analysis, &data.data, params, cfg) else {
        return Ok(());
    };
    match guard::judge(&est, guard::available_memory()) {
        guard::Verdict::Fine => Ok(()),
        guard::Verdict::Confirm(why) | guard::Verdict::Refuse(why) => Err(format!(
            "{}: sweep stopped before {point}: {why}",
            analysis.id()
        )),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Origin};
    use crate::engine::{Ctx, Output, ParamSpec};
    use std::time::Duration;

    /// An analysis with a bug: its naive variant panics.
    struct Buggy;

    impl Analysis for Buggy {
        fn id(&self) -> &'static str {
            "buggy-analysis"
        }
        fn title(&self) -> &'static str {
            "buggy"
        }
        fn section(&self) -> crate::engine::Section {
            crate::engine::Section::Profiling
        }
        fn help(&self) -> &'static str {
            "panics in naive"
        }
        fn input_kind(&self) -> crate::data::Kind {
            crate::data::Kind::None
        }
        fn params(&self) -> Vec<ParamSpec> {
            Vec::new()
        }
        fn size_unit(&self) -> &'static str {
            "items"
        }
        fn default_size(&self) -> usize {
            1
        }
        fn quick_size(&self) -> usize {
            1
        }
        fn generate(&self, _size: usize, _seed: u64) -> crate::Result<Dataset> {
            Ok(Dataset::None)
        }
        fn cost(&self) -> crate::engine::CostModel {
            crate::engine::CostModel {
                time: [(1.0, 1e-6); 3],
                mem: (1.0, 0.0),
                w_ref: 1.0,
            }
        }
        fn run(
            &self,
            variant: Variant,
            _input: &Dataset,
            _params: &Params,
            ctx: &Ctx,
        ) -> crate::Result<Output> {
            if variant == Variant::Naive {
                let v: Vec<u8> = Vec::new();
                let i = v.len() + 3;
                // An out-of-bounds index: the kind of bug catch_unwind must contain.
                return Err(crate::Error::input(format!("{}", v[i])));
            }
            ctx.check()?;
            Ok(Output::default())
        }
    }

    static BUGGY: Buggy = Buggy;

    fn job(variants: Vec<Variant>) -> Job {
        Job::Run {
            analysis: &BUGGY,
            data: Arc::new(Loaded::new(Dataset::None, "test", Origin::Generated)),
            params: Params::default(),
            cfg: RunConfig {
                variants,
                threads: 1,
                repeat: 1,
                warmup: 0,
                naive_budget_s: None,
            },
            python: None,
        }
    }

    fn wait_done(w: &Worker) -> (Option<String>, usize) {
        let mut runs = 0;
        loop {
            match w.results.recv_timeout(Duration::from_secs(30)) {
                Ok(Msg::Done(e)) => return (e, runs),
                Ok(Msg::Run { .. }) => runs += 1,
                Ok(_) => {}
                Err(e) => panic!("no answer from the worker: {e}"),
            }
        }
    }

    #[test]
    fn a_sweep_stops_before_a_point_beyond_the_guard() {
        let mut w = Worker::start(|| {});
        let a = &crate::analyses::pairwise_distances::PairwiseDistances;
        let job = Job::SizeSweep {
            analysis: a,
            params: Params::default(),
            cfg: RunConfig {
                variants: vec![Variant::Naive],
                threads: 1,
                repeat: 1,
                warmup: 0,
                naive_budget_s: None,
            },
            // naive pairwise on 10⁷ points: hours and terabytes
            sizes: vec![50, 10_000_000],
            seed: 1,
        };
        w.submit(job, "sweep".into()).expect("submit");
        let mut points = Vec::new();
        let err = loop {
            match w.results.recv_timeout(Duration::from_secs(60)) {
                Ok(Msg::Done(e)) => break e,
                Ok(Msg::SweepPoint { x, .. }) => points.push(x),
                Ok(_) => {}
                Err(e) => panic!("no answer from the worker: {e}"),
            }
        };
        assert_eq!(points, vec![50]);
        let err = err.expect("stopped with a reason");
        assert!(err.contains("before size 10000000"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn a_panicking_analysis_is_reported_by_name_and_the_worker_keeps_running() {
        let mut w = Worker::start(|| {});
        w.submit(job(vec![Variant::Naive]), "buggy".into())
            .expect("submit");
        let (err, runs) = wait_done(&w);
        let err = err.expect("the panic is reported as an error");
        assert!(err.contains("buggy-analysis"), "{err}");
        assert!(err.contains("crashed"), "{err}");
        assert!(err.contains("index out of bounds"), "{err}");
        assert_eq!(runs, 0);
        // The same worker thread takes the next job.
        w.submit(job(vec![Variant::Vectorized]), "fine".into())
            .expect("submit again");
        let (err, runs) = wait_done(&w);
        assert_eq!(err, None);
        assert_eq!(runs, 1);
    }

    /// A long run of angular-distances on 3000 generated points: `repeat` calls of each
    /// of `variants`, one thread.
    fn long_run(variants: Vec<Variant>, repeat: usize) -> Job {
        let a = &crate::analyses::angular_distances::AngularDistances;
        Job::Run {
            analysis: a,
            data: Arc::new(bench::generated_input(a, 3000, 1).expect("generate")),
            params: Params::default(),
            cfg: RunConfig {
                variants,
                threads: 1,
                repeat,
                warmup: 0,
                naive_budget_s: None,
            },
            python: None,
        }
    }

    /// The CI failure of `keyboard_shortcuts_run_cancel_and_pick_tabs`: Esc one frame after
    /// F5, before the worker thread had taken the job, was undone when the worker reset
    /// its shared cancel flag, and the run went on to the end.
    #[test]
    fn a_cancel_before_the_worker_takes_the_job_still_stops_it() {
        let mut w = Worker::start(|| {});
        for round in 0..20 {
            w.submit(long_run(vec![Variant::Naive], 1000), "long".into())
                .expect("submit");
            w.cancel();
            let (err, runs) = wait_done(&w);
            assert_eq!(err.as_deref(), Some("cancelled"), "round {round}");
            assert_eq!(runs, 0, "round {round}: the cancelled run went on");
        }
    }

    #[test]
    fn a_cancelled_run_is_sent_marked_cancelled() {
        let mut w = Worker::start(|| {});
        w.submit(
            long_run(vec![Variant::Vectorized, Variant::Naive], 50),
            "long".into(),
        )
        .expect("submit");
        std::thread::sleep(Duration::from_millis(300));
        w.cancel();
        let mut cancelled = None;
        loop {
            match w.results.recv_timeout(Duration::from_secs(30)) {
                Ok(Msg::Cancelled { record }) => cancelled = Some(record),
                Ok(Msg::Done(e)) => {
                    assert_eq!(e.as_deref(), Some("cancelled"));
                    break;
                }
                Ok(Msg::Run { .. }) => panic!("a cancelled run was sent as finished"),
                Ok(_) => {}
                Err(e) => panic!("no answer: {e}"),
            }
        }
        let r = cancelled.expect("the partial record");
        let c = r.cancelled.expect("marked cancelled");
        assert_eq!(c.variant, Variant::Vectorized);
        assert!(r.runs.is_empty(), "no variant finished its 50 repeats");
    }
}
