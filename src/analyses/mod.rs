//! The chapter's analyses: one file each, with its three variants side by side, and the
//! registry, the single list used by the app, the CLI, the bench and the tests. Adding an
//! analysis = one new file here and one line in [`registry`] (see the README's
//! "Architecture").

pub mod angular_distances;
pub mod banded_median;
pub mod catalog_chunks;
pub mod ccd_pipeline;
pub mod cross_match;
pub mod extinction_correction;
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

use crate::engine::Analysis;

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

/// The analysis with this id, if there is one.
pub fn find(id: &str) -> Option<&'static dyn Analysis> {
    REGISTRY.iter().copied().find(|a| a.id() == id)
}
