//! Each timed stage placed under this machine's roof: the analysis declares a stage's
//! compulsory bytes and flops (`Analysis::stage_work`), the harness times it, and
//! [`annotate`] turns the two into achieved GB/s, GFLOP/s and the percentage of the
//! ceiling that bounds it. Kept apart from the harness so timing stays machine-agnostic:
//! the CLI's `run` and the app call it after a run.

use super::machine::Machine;
use super::{RunRecord, StageTiming};
use crate::data::Dataset;
use crate::engine::{Analysis, Params, StageWork, Variant};

/// Fill `bytes`, `flops`, `gbps`, `gflops` and `pct_of_limit` of every stage of `record`
/// whose name `analysis` declares work for (on this `input` with these `params`); other
/// stages (`other`, undeclared ones, zero-time ones) keep them empty.
pub fn annotate(
    record: &mut RunRecord,
    analysis: &dyn Analysis,
    input: &Dataset,
    params: &Params,
    machine: &Machine,
) {
    let work = analysis.stage_work(input, &params.with_defaults(&analysis.params()));
    for run in &mut record.runs {
        let threads = run.threads;
        for stage in &mut run.stages {
            if let Some(w) = work.iter().find(|w| w.stage == stage.name) {
                fill(stage, w, threads, machine);
            }
        }
    }
}

/// The ceiling a stage with this work can reach on `threads` threads, as (GFLOP/s bound,
/// GB/s bound): `min(peak, intensity × bandwidth of the level holding its working set)`,
/// and that bandwidth.
pub fn ceiling(work: &StageWork, threads: usize, machine: &Machine) -> (f64, f64) {
    let working_set = work.working_set.max(0.0).min(usize::MAX as f64) as usize;
    let bandwidth = machine.bandwidth_for(working_set, threads);
    let peak = machine.peak_for(threads);
    let gflops = if work.bytes > 0.0 {
        peak.min(work.intensity() * bandwidth)
    } else {
        // No compulsory traffic (e.g. samples generated in registers): compute bound.
        peak
    };
    (gflops, bandwidth)
}

fn fill(stage: &mut StageTiming, work: &StageWork, threads: usize, machine: &Machine) {
    stage.bytes = Some(work.bytes);
    stage.flops = Some(work.flops);
    if !(stage.median_s > 0.0 && stage.median_s.is_finite()) {
        return;
    }
    let gbps = work.bytes / stage.median_s / 1e9;
    let gflops = work.flops / stage.median_s / 1e9;
    let (roof_gflops, bandwidth) = ceiling(work, threads, machine);
    let pct = if work.flops > 0.0 {
        100.0 * gflops / roof_gflops
    } else {
        // A stage that only moves data is bounded by the bandwidth alone.
        100.0 * gbps / bandwidth
    };
    stage.gbps = Some(gbps);
    stage.gflops = Some(gflops);
    stage.pct_of_limit = pct.is_finite().then_some(pct);
}

/// One annotated stage of one variant, ready to plot on a roofline (the app's Roofline
/// tab draws these).
#[derive(Clone, Debug, PartialEq)]
pub struct StagePoint {
    pub variant: Variant,
    pub stage: String,
    /// Flops per byte of compulsory traffic (0 for a stage that only moves data).
    pub intensity: f64,
    pub gflops: f64,
    pub gbps: f64,
    pub pct_of_limit: f64,
}

/// Every stage [`annotate`] filled, in run and stage order.
pub fn points(record: &RunRecord) -> Vec<StagePoint> {
    let mut out = Vec::new();
    for run in &record.runs {
        for s in &run.stages {
            if let (Some(bytes), Some(flops), Some(gbps), Some(gflops), Some(pct)) =
                (s.bytes, s.flops, s.gbps, s.gflops, s.pct_of_limit)
            {
                out.push(StagePoint {
                    variant: run.variant,
                    stage: s.name.clone(),
                    intensity: if bytes > 0.0 { flops / bytes } else { 0.0 },
                    gflops,
                    gbps,
                    pct_of_limit: pct,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine::example()
    }

    #[test]
    fn the_bounding_ceiling_is_the_lower_roof() {
        let m = machine();
        // 1 GB streamed with 1 flop per 8 bytes on one core: 12 GB/s × 0.125 = 1.5 GFLOP/s.
        let w = StageWork::streaming("s", 1e9, 1.25e8);
        assert_eq!(ceiling(&w, 1, &m), (1.5, 12.0));
        // Very high intensity: the compute peak bounds it.
        let w = StageWork::streaming("s", 1e9, 1e12);
        assert_eq!(ceiling(&w, 2, &m), (100.0, 20.0));
        // Nothing to move: compute bound.
        let w = StageWork::streaming("s", 0.0, 1e6);
        assert_eq!(ceiling(&w, 1, &m).0, 50.0);
    }

    #[test]
    fn a_stage_gets_achieved_rates_and_its_percentage() {
        let m = machine();
        let mut s = StageTiming::timed("s", 0.5);
        fill(&mut s, &StageWork::streaming("s", 1e9, 1.25e8), 1, &m);
        assert_eq!(s.gbps, Some(2.0));
        assert_eq!(s.gflops, Some(0.25));
        let pct = s.pct_of_limit.unwrap_or(f64::NAN);
        assert!((pct - 100.0 * 0.25 / 1.5).abs() < 1e-9, "{pct}");
        // Data movement only: against the bandwidth.
        let mut s = StageTiming::timed("m", 0.5);
        fill(&mut s, &StageWork::moving("m", 1e9), 1, &m);
        assert_eq!(s.pct_of_limit, Some(100.0 * 2.0 / 12.0));
        // A stage that took no time keeps its work but no rates.
        let mut s = StageTiming::timed("z", 0.0);
        fill(&mut s, &StageWork::moving("z", 1e9), 1, &m);
        assert_eq!((s.bytes, s.gbps, s.pct_of_limit), (Some(1e9), None, None));
    }
}
