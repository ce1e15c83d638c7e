//! Starting work: the parameters a run uses (an out-of-range one refuses the run), the
//! run configuration and the guard's estimate, and the Run, Run all, size-sweep,
//! thread-sweep and remeasure jobs handed to the worker.

use super::{worker, AstroApp, Confirm, Tab};
use crate::bench::python::PythonOptions;
use crate::data::Loaded;
use crate::engine::{self, Analysis, ParamValue, Variant};
use std::sync::Arc;

impl AstroApp {
    /// The parameters a run uses: the defaults with the user's valid values set (a run
    /// with an invalid one is refused first, see [`Self::param_error`]).
    pub(super) fn params(&self, a: &dyn Analysis) -> crate::engine::Params {
        let specs = a.params();
        let mut p = crate::engine::Params::defaults(&specs);
        if let Some(saved) = self.settings.params.get(a.id()) {
            for s in &specs {
                if let Some(v) = saved.get(s.name) {
                    let _ = p.set(s, Some(v.clone()));
                }
            }
        }
        p
    }

    /// What the parameter editors show: the user's value as typed (valid or not), else the
    /// run's value.
    pub(super) fn shown_param(&self, a: &dyn Analysis, name: &str) -> Option<ParamValue> {
        self.settings
            .params
            .get(a.id())
            .and_then(|saved| saved.get(name).cloned())
            .or_else(|| self.params(a).get(name).cloned())
    }

    /// The first parameter of `a` the user set to a value its spec refuses, as one line
    /// (the app refuses to run until it is fixed; nothing is clamped).
    pub fn param_error(&self, a: &dyn Analysis) -> Option<String> {
        let saved = self.settings.params.get(a.id())?;
        a.params().iter().find_map(|s| {
            let v = saved.get(s.name)?;
            s.check(v.clone()).err().map(|e| e.to_string())
        })
    }

    /// Refuse to start when a parameter is out of its range; true when refused.
    pub(super) fn refuse_bad_params(&mut self, a: &dyn Analysis) -> bool {
        match self.param_error(a) {
            Some(e) => {
                self.status = Some((format!("{e}; not run — fix it beside the field"), true));
                true
            }
            None => false,
        }
    }

    pub(super) fn chosen_variants(&self) -> Vec<Variant> {
        engine::ALL_VARIANTS
            .into_iter()
            .zip(self.settings.variants)
            .filter(|(_, on)| *on)
            .map(|(v, _)| v)
            .collect()
    }

    pub(super) fn run_config(&self, variants: Vec<Variant>) -> crate::bench::RunConfig {
        crate::bench::RunConfig {
            variants,
            threads: self.settings.threads.max(1),
            repeat: self.settings.repeat.max(1),
            warmup: self.settings.warmup,
            naive_budget_s: None,
        }
    }

    /// The input of the selected analysis if it is at hand (no generation or conversion).
    pub(super) fn input_at_hand(&self, a: &'static dyn Analysis) -> Option<Arc<Loaded>> {
        if a.input_kind() == self.data.info.kind {
            return Some(self.data.clone());
        }
        match &self.generated {
            Some((id, l)) if id == a.id() => Some(l.clone()),
            _ => None,
        }
    }

    /// The guard's estimate of a run of the chosen (or all) variants, when the input is
    /// at hand; cached until the analysis, data or settings change.
    pub fn run_estimate(&mut self, all: bool) -> Option<engine::guard::Estimate> {
        let a = self.analysis();
        let data = self.input_at_hand(a)?;
        let variants = if all {
            engine::ALL_VARIANTS.to_vec()
        } else {
            self.chosen_variants()
        };
        if variants.is_empty() {
            return None;
        }
        let params = self.params(a);
        let cfg = self.run_config(variants);
        let key = format!(
            "{}|{:p}|{}|{:?}|{:?}|{}|{}|{}|{}",
            a.id(),
            Arc::as_ptr(&data),
            data.info.source,
            data.info.shape,
            cfg.variants,
            cfg.threads,
            cfg.repeat,
            cfg.warmup,
            serde_json::to_string(&params.to_json(&a.params())).unwrap_or_default()
        );
        if let Some((k, e)) = &self.estimate_cache {
            if *k == key {
                return e.clone();
            }
        }
        let e = engine::guard::estimate(a, &data.data, &params, &cfg);
        self.estimate_cache = Some((key, e.clone()));
        e
    }

    /// Start a run of the chosen (or all) variants on the worker; a run estimated beyond
    /// the guard's limits waits for a confirmation, one needing more memory than is
    /// available is not started.
    pub fn start_run(&mut self, all: bool) {
        let a = self.analysis();
        if self.refuse_bad_params(a) {
            return;
        }
        let data = match self.input_for(a) {
            Ok((d, _)) => d,
            Err(e) => return self.status = Some((e, true)),
        };
        let variants = if all {
            engine::ALL_VARIANTS.to_vec()
        } else {
            self.chosen_variants()
        };
        let cfg = self.run_config(variants);
        if let Some(est) = engine::guard::estimate(a, &data.data, &self.params(a), &cfg) {
            match engine::guard::judge(&est, engine::guard::available_memory()) {
                engine::guard::Verdict::Fine => {}
                engine::guard::Verdict::Confirm(_) => {
                    self.confirm = Some(Confirm::Run {
                        all,
                        message: format!(
                            "This run is estimated to take ~{} and {}. Run anyway?",
                            engine::guard::fmt_duration(est.seconds),
                            engine::guard::fmt_bytes(est.bytes)
                        ),
                    });
                    return;
                }
                engine::guard::Verdict::Refuse(why) => {
                    return self.status = Some((format!("{}: {why}", a.id()), true));
                }
            }
        }
        self.start_run_confirmed(all);
    }

    /// Start a run without asking (after the confirmation).
    pub fn start_run_confirmed(&mut self, all: bool) {
        let a = self.analysis();
        let variants = if all {
            engine::ALL_VARIANTS.to_vec()
        } else {
            self.chosen_variants()
        };
        if variants.is_empty() {
            self.status = Some(("tick at least one variant".into(), true));
            return;
        }
        let (data, _) = match self.input_for(a) {
            Ok(x) => x,
            Err(e) => return self.status = Some((e, true)),
        };
        let job = worker::Job::Run {
            analysis: a,
            data,
            params: self.params(a),
            cfg: self.run_config(variants),
            python: self.settings.run_python.then(|| PythonOptions {
                exe: Some(self.settings.python_exe.trim())
                    .filter(|s| !s.is_empty())
                    .map(std::path::PathBuf::from),
                repeat: self.settings.repeat,
                ..PythonOptions::default()
            }),
        };
        self.submit(job, format!("running {}", a.id()));
    }

    pub fn start_size_sweep(&mut self) {
        let a = self.analysis();
        if self.refuse_bad_params(a) {
            return;
        }
        let variants = self.chosen_variants();
        let pts = self.settings.sweep_points.clamp(2, 12);
        let max = ((a.default_size() as f64) * self.settings.sweep_max_factor).max(4.0);
        let min = (a.quick_size() as f64 / 2.0)
            .max(max / 64.0)
            .clamp(2.0, max / 2.0);
        let sizes: Vec<usize> = (0..pts)
            .map(|i| (min * (max / min).powf(i as f64 / (pts - 1) as f64)).round() as usize)
            .collect();
        self.size_sweep.clear();
        let job = worker::Job::SizeSweep {
            analysis: a,
            params: self.params(a),
            cfg: crate::bench::RunConfig {
                repeat: self.settings.repeat.clamp(1, 5),
                ..self.run_config(variants)
            },
            sizes,
            seed: 1,
        };
        self.settings.tab = Tab::SizeSweep;
        self.submit(job, format!("size sweep of {}", a.id()));
    }

    pub fn start_thread_sweep(&mut self) {
        let a = self.analysis();
        if self.refuse_bad_params(a) {
            return;
        }
        let (data, _) = match self.input_for(a) {
            Ok(x) => x,
            Err(e) => return self.status = Some((e, true)),
        };
        let threads: Vec<usize> = (1..=crate::bench::available_threads()).collect();
        self.thread_sweep.clear();
        let job = worker::Job::ThreadSweep {
            analysis: a,
            data,
            params: self.params(a),
            cfg: self.run_config(vec![Variant::Parallel]),
            threads,
        };
        self.settings.tab = Tab::ThreadSweep;
        self.submit(job, format!("thread sweep of {}", a.id()));
    }

    /// Measure this machine's ceilings again on the worker (about two seconds, never beside
    /// a run) and replace the cached figures; the Roofline tab redraws with them.
    pub fn remeasure_machine(&mut self) {
        self.submit(
            worker::Job::Remeasure,
            "measuring this machine's bandwidth and peak FLOP/s".into(),
        );
    }

    pub(super) fn submit(&mut self, job: worker::Job, label: String) {
        if self.worker.busy {
            self.status = Some(("a run is in progress: wait or press Cancel".into(), true));
            return;
        }
        if let Err(e) = self.worker.submit(job, label) {
            self.status = Some((e, true));
        }
    }
}
