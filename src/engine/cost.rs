//! The calibrated cost of one analysis: each `impl Analysis` returns its own
//! [`CostModel`] from `cost()`, and the guard (`engine::guard`) only computes with it.

/// How one analysis' cost grows: `seconds = t_ref · (w / w_ref)^p` per variant, where `w`
/// is the analysis' work measure (`Analysis::work`), and `bytes = mem.1 · size^mem.0` for
/// what one call allocates. The times are release-build medians measured on the 2-core
/// development machine at the chapter size (README "Chapter-size bench", `astroperf bench
/// --suite chapter`); estimates only need to be right within a factor of a few.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostModel {
    /// (exponent p, seconds `t_ref` at the work `w_ref`) for naive, vectorized, parallel
    /// (in `Variant` order; parallel measured with 2 threads).
    pub time: [(f64, f64); 3],
    /// Bytes one call allocates = `mem.1 · size^mem.0` (size in the analysis' size unit).
    pub mem: (f64, f64),
    /// The work measure at the chapter size and default parameters.
    pub w_ref: f64,
}

impl CostModel {
    /// Whether the model can scale anything: finite non-negative times and exponents, a
    /// positive reference work and a finite memory law.
    pub fn is_calibrated(&self) -> bool {
        let finite = |x: f64| x.is_finite() && x >= 0.0;
        self.time.iter().all(|&(p, t)| finite(p) && finite(t))
            && finite(self.mem.0)
            && finite(self.mem.1)
            && self.w_ref.is_finite()
            && self.w_ref > 0.0
    }
}
