//! Purpose-made result views, one file per analysis: each shows its analysis' science at
//! a glance (a distance histogram, the folded curve, the orbit and its energy error, …)
//! from the run's output, its input and its parameters. The dataset views in the parent
//! module draw the input when there is no run yet, or when an analysis has no view here.
//!
//! Adding a view = one file here with a unit struct implementing [`ResultView`] and one
//! line in the `views!` list below. A view names its analysis by the analysis' own
//! struct, so no analysis id is written twice.

use super::ViewerState;
use crate::bench::RunRecord;
use crate::data::Loaded;
use crate::engine::{Analysis, Output};

/// What a result view draws from: the input the run used, the output shown (the last
/// variant's; all variants agreed or the run says they did not) and the run's record
/// (its parameters and every variant's summary).
pub struct ResultCtx<'a> {
    pub data: &'a Loaded,
    pub out: &'a Output,
    pub record: &'a RunRecord,
    /// Line width for plots (wider in lecture mode).
    pub line_w: f32,
}

impl ResultCtx<'_> {
    /// A numeric parameter of the run, as the run used it.
    pub fn param_f64(&self, name: &str) -> Option<f64> {
        self.record.params.get(name).and_then(|v| v.as_f64())
    }
}

/// A view of one analysis' result.
pub trait ResultView: Sync {
    /// The analysis whose output this view draws.
    fn analysis(&self) -> &'static dyn Analysis;
    /// Draw the result into the whole of `ui`'s remaining space.
    fn ui(&self, ui: &mut egui::Ui, st: &mut ViewerState, cx: &ResultCtx<'_>);
}

/// Declare each view's module and list it in one place.
macro_rules! views {
    ($($module:ident :: $view:ident),* $(,)?) => {
        $(mod $module;)*
        static VIEWS: &[&dyn ResultView] = &[$(&$module::$view),*];
    };
}

mod common;

views! {
    pairwise_distances::PairwiseDistancesView,
    angular_distances::AngularDistancesView,
    extinction_correction::ExtinctionCorrectionView,
    phase_fold::PhaseFoldView,
    cross_match::CrossMatchView,
    observation_batch::ObservationBatchView,
    spectrum_pipeline::SpectrumPipelineView,
    ccd_pipeline::CcdPipelineView,
    period_search::PeriodSearchView,
    memory_layout::MemoryLayoutView,
    catalog_chunks::CatalogChunksView,
    streaming_stats::StreamingStatsView,
    spectrum_stack::SpectrumStackView,
    population_synthesis::PopulationSynthesisView,
    orbit_leapfrog::OrbitLeapfrogView,
    planck::PlanckView,
    monte_carlo_pi::MonteCarloPiView,
    magnitude_sum::MagnitudeSumView,
    peak_count::PeakCountView,
    banded_median::BandedMedianView,
}

/// The purpose-made view of this analysis, if it has one.
pub fn find(analysis_id: &str) -> Option<&'static dyn ResultView> {
    VIEWS
        .iter()
        .copied()
        .find(|v| v.analysis().id() == analysis_id)
}

/// Every purpose-made view (for tests: every analysis has one).
pub fn all() -> &'static [&'static dyn ResultView] {
    VIEWS
}
