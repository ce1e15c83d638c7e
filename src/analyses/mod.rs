//! The chapter's analyses: one file each, with its three variants side by side, and the
//! registry, the single list used by the app, the CLI, the bench and the tests.
//!
//! Adding an analysis = one new file here and one line in the `registry!` list below
//! (`file_name::StructName,`): the line declares the module and registers the analysis.
//! Everything else about it (id, parameters, cost model, bench sizes, input kind, the
//! artifact names its view reads) lives on its `impl Analysis` in its own file.

use crate::engine::Analysis;

/// Declare each analysis' module and list it, in chapter order, in one place.
macro_rules! registry {
    ($($module:ident :: $analysis:ident),* $(,)?) => {
        $(pub mod $module;)*
        static REGISTRY: &[&dyn Analysis] = &[$(&$module::$analysis),*];
    };
}

registry! {
    // 7.1 Profiling
    pairwise_distances::PairwiseDistances,
    spectrum_pipeline::SpectrumPipeline,
    ccd_pipeline::CcdPipeline,
    // 7.2 Vectorization
    angular_distances::AngularDistances,
    extinction_correction::ExtinctionCorrection,
    phase_fold::PhaseFold,
    cross_match::CrossMatch,
    // 7.3 Numba
    orbit_leapfrog::OrbitLeapfrog,
    monte_carlo_pi::MonteCarloPi,
    peak_count::PeakCount,
    magnitude_sum::MagnitudeSum,
    planck::Planck,
    // 7.4 Parallel processing
    observation_batch::ObservationBatch,
    banded_median::BandedMedian,
    // 7.5 Memory
    memory_layout::MemoryLayout,
    catalog_chunks::CatalogChunks,
    streaming_stats::StreamingStats,
    // Exercises
    period_search::PeriodSearch,
    spectrum_stack::SpectrumStack,
    population_synthesis::PopulationSynthesis,
}

/// Every analysis, in chapter order.
pub fn registry() -> &'static [&'static dyn Analysis] {
    REGISTRY
}

/// The analysis with this id, if there is one.
pub fn find(id: &str) -> Option<&'static dyn Analysis> {
    REGISTRY.iter().copied().find(|a| a.id() == id)
}
