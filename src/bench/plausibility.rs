//! Whether this machine's ceilings can be believed. A measurement taken while other work
//! held the cores comes out low, and a low roof makes every stage look closer to the limit
//! than it is (a user saw pairwise-distances at 137% of a roof measured in a busy minute).
//! Nothing can tell a low ceiling from a slow machine directly, but a busy measurement
//! leaves traces: levels out of their physical order, all cores slower than one, other
//! work taking the CPUs while it measured, and stages that ran faster than the roof allows.

use super::machine::Machine;
use super::RunRecord;
use crate::engine::Variant;

/// How far a slower level or all cores may fall on the wrong side of the other before it
/// is doubted: three measurements in a row here differed by up to 7% at L1 and L2 (2% in
/// peak GFLOP/s), a busy one by a factor of two to five.
pub const TOLERANCE: f64 = 0.10;

/// The share of all CPUs' time that other work (other processes and, on a virtual
/// machine, the host's steal) may take during the measurement before it is doubted. The
/// measurement keeps a thread on every core, so what others take comes out of its
/// timings. On this 2-CPU VM quiet measurements, even right after a run that left the
/// load average at 1.6, saw 0–1%; one where the host stole 11% (13% in all) had the
/// all-core peak a third low (74 GFLOP/s against 114), and one or two busy loops beside
/// it took 47% and 62%. 10% (a fifth of a core on two CPUs) is ten times the quiet
/// figure and below the smallest share seen to spoil a ceiling.
pub const BUSY_SHARE: f64 = 0.10;

/// The load average per online CPU above which a measurement without the share above
/// (a cache file written before it was kept) is doubted. The load average is a poor
/// stand-in: it counts this process's own recent work (after a run it is near 2 on two
/// cores for a minute) and misses a host's steal; it is only the fallback. With steady
/// other work averaging `L` runnable tasks on `C` CPUs the measurement's threads get about
/// `C / (C + L)` of them, so at half a task per CPU the all-core ceilings may be a third
/// low; the best of 9 rounds can still find quiet ones, so the reason says *may*.
pub const BUSY_LOAD_PER_CPU: f64 = 0.5;

/// A stage may reach this percentage of its ceiling before the ceiling is doubted: a
/// ceiling is the best of a few timings and a stage's figure a median, so a stage at its
/// roof can land a few percent either side.
pub const ABOVE_ROOF_PCT: f64 = 105.0;

/// One reason to doubt the ceilings.
#[derive(Clone, Debug, PartialEq)]
pub enum Doubt {
    /// A level further from the core read faster than the one nearer to it.
    LevelsOutOfOrder {
        near: &'static str,
        near_gbs: f64,
        far: &'static str,
        far_gbs: f64,
    },
    /// All cores together reached fewer GFLOP/s than one core alone.
    AllCoresBelowOne { one_core: f64, all_cores: f64 },
    /// Other work took this share of all CPUs' time while the ceilings were measured,
    /// `steal` of it taken by a virtual machine's host.
    MeasuredBesideOthers {
        others: f64,
        steal: f64,
        cpus: usize,
    },
    /// The load average was high in the minute before the measurement (judged only when
    /// the share others took during it was not recorded).
    MeasuredUnderLoad { one_min: f64, cpus: usize },
    /// A stage of a run is plotted above its roof; `more` stages besides it are too.
    AboveTheRoof {
        variant: Variant,
        stage: String,
        pct: f64,
        more: usize,
    },
}

impl Doubt {
    /// The reason in one short line, after [`HEADLINE`] in the app's warning and on the
    /// CLI's stderr.
    pub fn message(&self) -> String {
        match self {
            Doubt::LevelsOutOfOrder {
                near,
                near_gbs,
                far,
                far_gbs,
            } => format!("{far} read {far_gbs:.0} GB/s, faster than {near} ({near_gbs:.0} GB/s)"),
            Doubt::AllCoresBelowOne {
                one_core,
                all_cores,
            } => format!(
                "all cores reached {all_cores:.1} GFLOP/s, less than one core ({one_core:.1})"
            ),
            Doubt::MeasuredBesideOthers {
                others,
                steal,
                cpus,
            } => {
                let (processes, steal) = (100.0 * (others - steal).max(0.0), 100.0 * steal);
                let took = match (processes >= 0.5, steal >= 0.5) {
                    (true, false) => format!("other processes used {processes:.0}%"),
                    (false, true) => format!("the host took {steal:.0}% (steal)"),
                    _ => format!(
                        "other processes used {processes:.0}% and the host took {steal:.0}% (steal)"
                    ),
                };
                format!("measured under load ({took} of the {cpus} CPUs while it measured)")
            }
            Doubt::MeasuredUnderLoad { one_min, cpus } => {
                format!("measured under load (1-minute load average {one_min:.2} on {cpus} CPUs)")
            }
            Doubt::AboveTheRoof {
                variant,
                stage,
                pct,
                more,
            } => {
                let more = match more {
                    0 => String::new(),
                    1 => " (and 1 more stage)".to_string(),
                    n => format!(" (and {n} more stages)"),
                };
                format!(
                    "{} `{stage}` at {pct:.0}% of its ceiling, above the roof{more}",
                    variant.name()
                )
            }
        }
    }
}

impl Machine {
    /// Every reason to doubt these ceilings, those of the measurement itself first, then,
    /// given a run annotated against them, the stages above the roof. Empty when nothing
    /// is suspicious. Whether other work took the CPUs is judged by its share during the
    /// measurement, or in a cache file written before that was kept by the load average
    /// before it; one without either is not judged rather than guessed.
    pub fn doubts(&self, run: Option<&RunRecord>) -> Vec<Doubt> {
        let mut out = Vec::new();
        let b = &self.bandwidth_gbs;
        let levels = [("L1", b.l1), ("L2", b.l2), ("L3", b.l3), ("DRAM", b.dram)];
        for pair in levels.windows(2) {
            let [(near, near_gbs), (far, far_gbs)] = [pair[0], pair[1]];
            if far_gbs > near_gbs * (1.0 + TOLERANCE) {
                out.push(Doubt::LevelsOutOfOrder {
                    near,
                    near_gbs,
                    far,
                    far_gbs,
                });
            }
        }
        if self.dram_one_core_gbs > b.dram * (1.0 + TOLERANCE) {
            out.push(Doubt::LevelsOutOfOrder {
                near: "DRAM (all cores)",
                near_gbs: b.dram,
                far: "DRAM (one core)",
                far_gbs: self.dram_one_core_gbs,
            });
        }
        let p = self.peak_gflops;
        if p.all_cores < p.one_core * (1.0 - TOLERANCE) {
            out.push(Doubt::AllCoresBelowOne {
                one_core: p.one_core,
                all_cores: p.all_cores,
            });
        }
        if let Some(load) = self.load {
            match load.during {
                Some(s) if s.others > BUSY_SHARE => out.push(Doubt::MeasuredBesideOthers {
                    others: s.others,
                    steal: s.steal,
                    cpus: load.cpus,
                }),
                Some(_) => {}
                None if load.per_cpu() > BUSY_LOAD_PER_CPU => out.push(Doubt::MeasuredUnderLoad {
                    one_min: load.one_min,
                    cpus: load.cpus,
                }),
                None => {}
            }
        }
        out.extend(run.and_then(above_the_roof));
        out
    }
}

/// The stage furthest above its roof in `run` (if any passes [`ABOVE_ROOF_PCT`]) and how
/// many others do.
fn above_the_roof(run: &RunRecord) -> Option<Doubt> {
    let mut above: Vec<(Variant, &str, f64)> = run
        .runs
        .iter()
        .flat_map(|v| {
            v.stages.iter().filter_map(move |s| {
                s.pct_of_limit
                    .filter(|p| *p > ABOVE_ROOF_PCT)
                    .map(|p| (v.variant, s.name.as_str(), p))
            })
        })
        .collect();
    above.sort_by(|a, b| b.2.total_cmp(&a.2));
    let &(variant, stage, pct) = above.first()?;
    Some(Doubt::AboveTheRoof {
        variant,
        stage: stage.to_string(),
        pct,
        more: above.len() - 1,
    })
}

/// What the reasons are evidence of, before each of them: a busy measurement or a
/// point above the roof cannot say by how much, only that the figures may not hold.
pub const HEADLINE: &str = "the ceilings may be wrong";

/// What to do about doubtful ceilings, after the reasons.
pub const REMEASURE_HINT: &str =
    "renew them when the machine is quiet: astroperf machine --remeasure";

/// The lines the CLI prints on stderr for `doubts`: one per reason, then what to do;
/// nothing when there is no doubt.
pub fn warning_lines(doubts: &[Doubt]) -> Vec<String> {
    if doubts.is_empty() {
        return Vec::new();
    }
    doubts
        .iter()
        .map(|d| format!("warning: {HEADLINE}: {}", d.message()))
        .chain([format!("warning: {REMEASURE_HINT}")])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::machine::{Levels, Load, Share};

    /// [`Machine::example`] with this load average on 2 CPUs and, if given, these shares
    /// of the CPUs taken by others (steal included) and by the host during the measurement.
    fn measured_at(one_min: f64, during: Option<(f64, f64)>) -> Machine {
        Machine {
            load: Some(Load {
                one_min,
                cpus: 2,
                during: during.map(|(others, steal)| Share { others, steal }),
            }),
            ..Machine::example()
        }
    }

    /// A record of pairwise-distances whose stages were annotated at these percentages.
    fn run_at(pcts: &[(Variant, &str, f64)]) -> RunRecord {
        let runs: Vec<serde_json::Value> = crate::engine::ALL_VARIANTS
            .into_iter()
            .filter(|v| pcts.iter().any(|p| p.0 == *v))
            .map(|v| {
                let stages: Vec<serde_json::Value> = pcts
                    .iter()
                    .filter(|p| p.0 == v)
                    .map(|(_, name, pct)| {
                        serde_json::json!({"name": name, "median_s": 0.01, "pct_of_limit": pct})
                    })
                    .collect();
                serde_json::json!({
                    "variant": v, "threads": 2, "first_s": 0.1, "times_s": [0.1],
                    "median_s": 0.1, "min_s": 0.1, "max_s": 0.1, "mad_s": 0.0,
                    "throughput": 1.0, "throughput_unit": "points/s", "stages": stages,
                    "summary": {}, "agrees": true
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "analysis": "pairwise-distances",
            "input": {"kind": "points", "source": "test", "shape": [2000]},
            "size": 2000, "size_unit": "points", "params": {}, "agree": true,
            "tool": "astroperf", "runs": runs
        }))
        .expect("a run record")
    }

    #[test]
    fn a_plausible_machine_and_run_raise_no_doubt() {
        let m = Machine::example();
        assert_eq!(m.doubts(None), vec![]);
        let quiet = measured_at(0.3, Some((0.02, 0.0)));
        let run = run_at(&[
            (Variant::Naive, "distances", 12.0),
            (Variant::Parallel, "distances", 104.0),
        ]);
        assert_eq!(quiet.doubts(Some(&run)), vec![]);
    }

    #[test]
    fn levels_out_of_order_and_all_cores_below_one_are_doubted() {
        let d = Machine::example_busy().doubts(None);
        assert_eq!(
            d[0],
            Doubt::LevelsOutOfOrder {
                near: "L1",
                near_gbs: 58.0,
                far: "L2",
                far_gbs: 200.0
            }
        );
        assert!(d[0]
            .message()
            .starts_with("L2 read 200 GB/s, faster than L1 (58 GB/s)"));
        assert_eq!(
            d[1],
            Doubt::AllCoresBelowOne {
                one_core: 30.0,
                all_cores: 26.0
            }
        );
        // Within the tolerance: L2 5% above L1 is measurement noise.
        let close = Machine {
            bandwidth_gbs: Levels {
                l2: 420.0,
                ..Machine::example().bandwidth_gbs
            },
            ..Machine::example()
        };
        assert_eq!(close.doubts(None), vec![]);
        // One core's DRAM far above all cores' is out of order too.
        let serial = Machine {
            dram_one_core_gbs: 30.0,
            ..Machine::example()
        };
        assert!(matches!(
            serial.doubts(None)[..],
            [Doubt::LevelsOutOfOrder {
                far: "DRAM (one core)",
                ..
            }]
        ));
    }

    #[test]
    fn a_measurement_beside_other_work_is_doubted() {
        let d = Machine::example_busy().doubts(None);
        let load = Doubt::MeasuredBesideOthers {
            others: 0.40,
            steal: 0.0,
            cpus: 2,
        };
        assert!(d.contains(&load), "{d:?}");
        assert_eq!(
            load.message(),
            "measured under load (other processes used 40% of the 2 CPUs while it measured)"
        );
        // The host's steal is named as such, alone or beside other processes.
        let stolen = measured_at(0.1, Some((0.30, 0.30))).doubts(None);
        assert_eq!(
            stolen[0].message(),
            "measured under load (the host took 30% (steal) of the 2 CPUs while it measured)"
        );
        let both = measured_at(0.1, Some((0.40, 0.12))).doubts(None);
        assert_eq!(
            both[0].message(),
            "measured under load (other processes used 28% and the host took 12% (steal) \
             of the 2 CPUs while it measured)"
        );
        // A tenth of the CPUs is the limit, not yet a doubt; 13% (11% of it steal) is.
        assert_eq!(measured_at(0.1, Some((0.10, 0.0))).doubts(None), vec![]);
        assert_eq!(
            measured_at(0.1, Some((0.13, 0.11))).doubts(None)[0].message(),
            "measured under load (other processes used 2% and the host took 11% (steal) \
             of the 2 CPUs while it measured)"
        );
    }

    #[test]
    fn our_own_recent_work_is_not_a_doubt() {
        // Right after a run on both cores: load average 1.9 on 2 CPUs, all of it ours,
        // and others took 3% during the measurement. The load average is not judged.
        assert_eq!(measured_at(1.9, Some((0.03, 0.01))).doubts(None), vec![]);
    }

    #[test]
    fn without_the_share_the_load_average_is_judged() {
        let d = measured_at(1.8, None).doubts(None);
        let load = Doubt::MeasuredUnderLoad {
            one_min: 1.8,
            cpus: 2,
        };
        assert_eq!(d, vec![load.clone()]);
        assert_eq!(
            load.message(),
            "measured under load (1-minute load average 1.80 on 2 CPUs)"
        );
        // Half a task per CPU is the limit, not yet a doubt.
        assert_eq!(measured_at(1.0, None).doubts(None), vec![]);
        // No load recorded at all (an older cache file): nothing invented.
        let old = Machine {
            load: None,
            ..Machine::example_busy()
        };
        assert!(old.doubts(None).iter().all(|d| !matches!(
            d,
            Doubt::MeasuredUnderLoad { .. } | Doubt::MeasuredBesideOthers { .. }
        )));
    }

    #[test]
    fn a_stage_above_the_roof_is_doubted_with_the_worst_first() {
        let run = run_at(&[
            (Variant::Naive, "distances", 40.0),
            (Variant::Vectorized, "distances", 112.0),
            (Variant::Parallel, "distances", 137.0),
            (Variant::Parallel, "summary", 98.0),
        ]);
        let d = Machine::example().doubts(Some(&run));
        assert_eq!(
            d,
            vec![Doubt::AboveTheRoof {
                variant: Variant::Parallel,
                stage: "distances".into(),
                pct: 137.0,
                more: 1,
            }]
        );
        assert_eq!(
            d[0].message(),
            "parallel `distances` at 137% of its ceiling, above the roof (and 1 more stage)"
        );
    }

    #[test]
    fn the_cli_prints_one_line_per_doubt_and_the_remedy() {
        assert_eq!(warning_lines(&[]), Vec::<String>::new());
        let lines = warning_lines(&Machine::example_busy().doubts(None));
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines
            .iter()
            .all(|l| l.starts_with("warning: ") && !l.contains('\n')));
        assert_eq!(
            lines[3],
            "warning: renew them when the machine is quiet: astroperf machine --remeasure"
        );
    }

    #[test]
    fn a_cache_file_without_the_load_still_loads() {
        // A cache file as written before the load was kept, with figures as low as the
        // busy one the user had.
        let old = r#"{
          "cpu": "AMD EPYC", "cores": 2,
          "caches": { "l1d": 49152, "l2": 1048576, "l3": 33554432 },
          "bandwidth_gbs": { "l1": 58.1, "l2": 57.0, "l3": 50.2, "dram": 19.5 },
          "dram_one_core_gbs": 18.0,
          "peak_gflops": { "one_core": 25.0, "all_cores": 26.0 },
          "simd": true, "measured_unix_s": 1796312724
        }"#;
        let m: Machine = serde_json::from_str(old).expect("an old cache file loads");
        assert_eq!(m.load, None);
        assert_eq!(m.bandwidth_gbs.l1, 58.1);
        // Its figures are ordered, so only a run can show them wrong.
        assert_eq!(m.doubts(None), vec![]);
        let run = run_at(&[(Variant::Parallel, "distances", 137.0)]);
        assert_eq!(m.doubts(Some(&run)).len(), 1);
        // One written when only the load average was kept is judged by it.
        let with_load = old.replace(
            r#""simd": true"#,
            r#""load": { "one_min": 1.62, "cpus": 2 }, "simd": true"#,
        );
        let m: Machine = serde_json::from_str(&with_load).expect("a cache file with a load");
        assert_eq!(m.load.map(|l| (l.one_min, l.during)), Some((1.62, None)));
        assert_eq!(
            m.doubts(None),
            vec![Doubt::MeasuredUnderLoad {
                one_min: 1.62,
                cpus: 2
            }]
        );
        // And a new one keeps the load and the share through a round trip.
        let new = Machine::example_busy();
        let back: Machine =
            serde_json::from_str(&serde_json::to_string(&new).expect("json")).expect("loads");
        assert_eq!(back, new);
    }
}
