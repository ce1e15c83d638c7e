//! The timing harness: warm-up runs kept apart, R timed repeats per variant, robust
//! statistics, a rayon pool per run, and the agreement check between variants. The CLI,
//! the GUI's worker and the bench suite all time through here.

pub mod bandwidth;
pub mod compare;
pub mod export;
mod harness;
pub mod machine;
pub mod plausibility;
pub mod profile;
pub mod python;
pub mod report;
pub mod roofline;

pub use crate::engine::run_config::{available_threads, RunConfig};
use crate::engine::{Analysis, Output, Variant};
use crate::{Error, Result};
pub use harness::{run, run_partial};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One stage of a variant: its median time over the timed repeats and its memory. The
/// stage `other` is the time inside the timed call but outside every named stage, so a
/// variant's stages add up to its median.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StageTiming {
    pub name: String,
    pub median_s: f64,
    /// The most heap bytes the stage held at once above what was live when it started
    /// (the largest over the timed repeats; every thread's allocations count).
    #[serde(default)]
    pub peak_bytes: u64,
    /// Allocations the stage made in one call (median over the timed repeats).
    #[serde(default)]
    pub allocs: u64,
    /// The stage's compulsory bytes moved and flops as its analysis declares them
    /// (`Analysis::stage_work`), filled by [`roofline::annotate`]; absent for undeclared
    /// stages (and `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops: Option<f64>,
    /// Achieved GB/s and GFLOP/s: the declared work over the stage's median time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    /// Achieved performance in percent of the machine's ceiling that bounds the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pct_of_limit: Option<f64>,
}

impl StageTiming {
    /// A stage known only by its time (a stopped call's finished stages, imported records).
    pub fn timed(name: impl Into<String>, median_s: f64) -> Self {
        StageTiming {
            name: name.into(),
            median_s,
            ..Self::default()
        }
    }
}

/// The name of the time inside a timed call that no named stage covers.
pub const OTHER_STAGE: &str = "other";

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
    /// The most heap bytes one timed call held at once above what was live before it
    /// (the largest over the timed repeats), and its allocations (median over them).
    #[serde(default)]
    pub peak_bytes: u64,
    #[serde(default)]
    pub allocs: u64,
    /// The process's resident-set high-water mark while this variant ran (input and app
    /// included); absent where the OS does not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_peak_bytes: Option<u64>,
    pub summary: Map<String, Value>,
    /// Whether this variant's artifacts agree with the first variant's.
    pub agrees: bool,
    /// Another tool's run only (`run --python`): whether its result agrees with astroperf's
    /// on the same input (`None`: not compared), and why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agrees_with_astroperf: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
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
    /// Another tool's record: whether it ran on exactly astroperf's input (false where it
    /// drew its own random numbers), and whether all its runs agree with astroperf's result
    /// (`None` when not compared); see [`python::cross_check`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_input: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agrees_with_astroperf: Option<bool>,
    pub runs: Vec<VariantRun>,
    /// Variants not timed, with the reason (e.g. over the naive budget).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// Set when the run was cancelled: `runs` then holds only the variants that finished,
    /// and this what the interrupted variant had done. A cancelled record is not a timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<CancelledRun>,
    /// The run's own profile (every variant's calls, every thread), when scopes were on.
    /// Not part of the JSON: `run --profile FILE.puffin` writes it apart.
    #[serde(skip)]
    pub profile: Option<profile::RunProfile>,
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

    /// How many times faster than the naive variant `run` is (naive median over its
    /// median); `None` when the naive variant was not timed.
    pub fn speedup_vs_naive(&self, run: &VariantRun) -> Option<f64> {
        self.runs
            .iter()
            .find(|v| v.variant == Variant::Naive)
            .map(|naive| naive.median_s / run.median_s)
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

/// The output a run shows (the app's result view) and saves (`run --out`): the parallel
/// variant's when it ran, else that of the variant run last.
pub fn shown_output(outputs: &Outputs) -> Option<&Output> {
    outputs
        .iter()
        .find(|(v, _)| *v == Variant::Parallel)
        .or(outputs.last())
        .map(|(_, o)| o)
}

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
