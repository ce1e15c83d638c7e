//! The analysis contract and the registry: the single list of analyses used by the
//! GUI, the CLI, the bench and the tests. Adding an analysis = one new file here and
//! one line in [`registry`].

pub mod common;
pub mod ctx;
pub mod guard;
pub mod output;
pub mod params;

pub mod angular_distances;
pub mod banded_median;
pub mod catalog_chunks;
pub mod ccd_background;
pub mod ccd_kernels;
pub mod ccd_pipeline;
pub mod cross_match;
pub mod extinction_correction;
pub mod extract_clean;
pub mod extract_deblend;
pub mod extract_photometry;
pub mod lomb_scargle;
pub mod magnitude_sum;
pub mod memory_layout;
pub mod monte_carlo_pi;
pub mod observation_batch;
pub mod orbit_leapfrog;
pub mod pairwise_distances;
pub mod peak_count;
pub mod period_search;
pub mod phase_fold;
pub mod planck;
pub mod population_synthesis;
pub mod spectrum_pipeline;
pub mod spectrum_stack;
pub mod streaming_stats;

pub use ctx::{Control, Ctx};
pub use output::{Artifact, ArtifactData, Output, Tolerance};
pub use params::{ParamKind, ParamSpec, ParamValue, Params};

use crate::data::Dataset;
use crate::Result;
use serde::Serialize;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// The straightforward scalar algorithm as the chapter writes it.
    Naive,
    /// Better single-thread algorithms and whole-array operations.
    Vectorized,
    /// Rayon on top of the vectorized algorithm.
    Parallel,
}

pub const ALL_VARIANTS: [Variant; 3] = [Variant::Naive, Variant::Vectorized, Variant::Parallel];

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Naive => "naive",
            Variant::Vectorized => "vectorized",
            Variant::Parallel => "parallel",
        }
    }
    pub fn parse(s: &str) -> Option<Variant> {
        ALL_VARIANTS.into_iter().find(|v| v.name() == s)
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The contract every analysis fulfils (see DESIGN.md, "The analysis contract").
pub trait Analysis: Send + Sync {
    /// Stable kebab-case id used by the CLI, JSON records and tests.
    fn id(&self) -> &'static str;
    fn title(&self) -> &'static str;
    /// Chapter section, e.g. "7.1 Profiling"; the GUI groups analyses by it.
    fn section(&self) -> &'static str;
    /// One line: what it computes and what it teaches.
    fn help(&self) -> &'static str;
    /// The dataset kind it takes (`"none"` when it generates its own samples).
    fn input_kind(&self) -> &'static str;
    fn params(&self) -> Vec<ParamSpec>;
    /// What "size" means for this analysis (for sweeps and throughput): "points", "pixels", ...
    fn size_unit(&self) -> &'static str;
    /// The chapter's default size (the anchor size).
    fn default_size(&self) -> usize;
    /// A small size for tests and the quick bench.
    fn quick_size(&self) -> usize;
    /// Generate an input of the given size (in `size_unit`s) with a seed.
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset>;
    /// The size of a given input, in `size_unit`s.
    fn size_of(&self, input: &Dataset) -> usize {
        input.n_elements()
    }
    /// Check the input and parameters once before any variant runs (clear errors early).
    fn validate(&self, _input: &Dataset, _params: &Params) -> Result<()> {
        Ok(())
    }
    /// Bytes a run must read and write at least (inputs + outputs), for streaming
    /// kernels whose limit is memory bandwidth; `None` where flops bound the work.
    fn bytes_moved(&self, _input: &Dataset, _params: &Params) -> Option<f64> {
        None
    }
    /// Run one variant. All variants return the same artifacts, compared with their tolerance.
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output>;
}

static REGISTRY: &[&dyn Analysis] = &[
    // 7.1 Profiling
    &pairwise_distances::PairwiseDistances,
    &spectrum_pipeline::SpectrumPipeline,
    &ccd_pipeline::CcdPipeline,
    // 7.2 Vectorization
    &angular_distances::AngularDistances,
    &extinction_correction::ExtinctionCorrection,
    &phase_fold::PhaseFold,
    &cross_match::CrossMatch,
    // 7.3 Numba
    &orbit_leapfrog::OrbitLeapfrog,
    &monte_carlo_pi::MonteCarloPi,
    &peak_count::PeakCount,
    &magnitude_sum::MagnitudeSum,
    &planck::Planck,
    // 7.4 Parallel processing
    &observation_batch::ObservationBatch,
    &banded_median::BandedMedian,
    // 7.5 Memory
    &memory_layout::MemoryLayout,
    &catalog_chunks::CatalogChunks,
    &streaming_stats::StreamingStats,
    // Exercises
    &period_search::PeriodSearch,
    &spectrum_stack::SpectrumStack,
    &population_synthesis::PopulationSynthesis,
];

/// Every analysis, in chapter order.
pub fn registry() -> &'static [&'static dyn Analysis] {
    REGISTRY
}

pub fn find(id: &str) -> Option<&'static dyn Analysis> {
    REGISTRY.iter().copied().find(|a| a.id() == id)
}

/// The error for an input of the wrong kind.
pub fn wrong_input(a: &dyn Analysis, got: &Dataset) -> crate::Error {
    crate::Error::input(format!(
        "{} needs a {} input, not a {}",
        a.id(),
        a.input_kind(),
        got.kind()
    ))
}
