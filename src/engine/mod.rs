//! The engine: the analysis contract ([`Analysis`]), its parameters, the run context,
//! outputs with their agreement tolerance, and the resource guard. Every fact about one
//! analysis lives on its `impl Analysis` in `crate::analyses`; nothing here knows an id.

pub mod cost;
pub mod guard;
pub mod input;
pub mod output;
pub mod params;
pub mod run_config;
pub mod section;
pub mod work;

pub use crate::ctx::{Control, Ctx};
pub use cost::CostModel;
pub use input::input;
pub use output::{Artifact, ArtifactData, Output, Tolerance};
pub use params::{ParamKind, ParamSpec, ParamValue, Params};
pub use run_config::RunConfig;
pub use section::Section;
pub use work::StageWork;

use crate::data::{Dataset, Kind};
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

/// The kernels' own name for the variant (they sit below the engine and do not know it).
impl From<Variant> for crate::kernels::Method {
    fn from(v: Variant) -> Self {
        match v {
            Variant::Naive => crate::kernels::Method::Naive,
            Variant::Vectorized => crate::kernels::Method::Vectorized,
            Variant::Parallel => crate::kernels::Method::Parallel,
        }
    }
}

/// The contract every analysis fulfils (see DESIGN.md, "The analysis contract").
pub trait Analysis: Send + Sync {
    /// Stable kebab-case id used by the CLI, JSON records and tests.
    fn id(&self) -> &'static str;
    fn title(&self) -> &'static str;
    /// Chapter section, e.g. "7.1 Profiling"; the GUI groups analyses by it.
    fn section(&self) -> Section;
    /// One line: what it computes and what it teaches.
    fn help(&self) -> &'static str;
    /// The dataset kind it takes ([`Kind::None`] when it generates its own samples).
    fn input_kind(&self) -> Kind;
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
    /// Parameters the chapter's workload fixes where the default would choose differently
    /// (the bench's chapter suite runs with these; everything else keeps its default).
    fn chapter_params(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Parameters every bench suite fixes (quick and chapter) where the app's default,
    /// chosen for the science on real data, is not the workload the timings, the cost
    /// model and the Python reference describe (e.g. ccd-pipeline's threshold mode).
    fn bench_params(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Whether the app selects this analysis first when a file of its input kind is
    /// opened (e.g. a light curve is most often opened to search its period).
    fn preferred_for_input(&self) -> bool {
        false
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
    /// Each timed stage's compulsory bytes, flops and working set for this input and
    /// these parameters (see [`work`] for how they are counted), the naive algorithm's
    /// work for every variant alike; stages a variant does not run are simply not matched.
    /// `params` has every declared default filled in. Empty where nothing is declared.
    fn stage_work(&self, _input: &Dataset, _params: &Params) -> Vec<StageWork> {
        Vec::new()
    }
    /// The calibrated cost model the resource guard scales (see [`CostModel`]).
    fn cost(&self) -> CostModel;
    /// The work measure `w` the cost model scales with: the input size by default, a
    /// product with a parameter where one scales the work (e.g. points × trial
    /// frequencies). `params` has every declared default filled in.
    fn work(&self, input: &Dataset, _params: &Params) -> f64 {
        self.size_of(input) as f64
    }
    /// A factor on one variant's time for a parameter the work measure does not count
    /// (e.g. the naive running median's window); `params` has the defaults filled in.
    fn time_factor(&self, _variant: Variant, _params: &Params) -> f64 {
        1.0
    }
    /// Bytes one call allocates where the model's power law of the size does not hold
    /// (e.g. a memory-mapped input read in blocks); `None` keeps the power law.
    fn call_bytes(&self, _input: &Dataset, _params: &Params, _threads: usize) -> Option<f64> {
        None
    }
    /// How closely another tool's summary values (the Python reference's, `run --python`)
    /// must match ours on the same input to agree: counts and indices are always compared
    /// exactly; floats within this. Libraries sum in other orders and some use other
    /// formulas for the same quantity (astropy's periodogram), so it is an analysis' fact.
    fn cross_tool_tolerance(&self) -> Tolerance {
        Tolerance::Rel(1e-9)
    }
    /// Run one variant. All variants return the same artifacts, compared with their tolerance.
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output>;
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
