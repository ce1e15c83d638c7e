//! How a run is timed: which variants, how many threads, warm-up and repeats, and the
//! naive variant's time budget. The guard estimates from it and the bench obeys it.

use super::Variant;

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub variants: Vec<Variant>,
    /// Threads for the parallel variant (naive and vectorized always use one).
    pub threads: usize,
    pub repeat: usize,
    pub warmup: usize,
    /// Wall-clock budget for all calls of the naive variant; beyond it the naive run is
    /// cancelled and reported as skipped (with the reason) rather than waited for.
    pub naive_budget_s: Option<f64>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            variants: super::ALL_VARIANTS.to_vec(),
            threads: available_threads(),
            repeat: 5,
            warmup: 1,
            naive_budget_s: None,
        }
    }
}

pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
