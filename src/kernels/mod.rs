//! Kernels: the science on slices, shared by several analyses and testable on their own.
//! A kernel knows no `Dataset`, no analysis and no egui; it takes slices, plain parameter
//! structs and, where it is long enough to be cancelled, the run's [`crate::ctx::Ctx`].
//!
//! - numbers: [`stats`] (deterministic sums, mean/std), [`series`] (exp coefficients),
//!   [`simd`] (which vector paths the CPU takes);
//! - arrays: [`edges`] (scipy's `reflect`), [`peaks`], [`phase`] (folding), [`buffers`]
//!   (cancellable copies, huge-page buffers, chunk lengths);
//! - images: [`image`] (3x3 median, runs, labels, moments) and [`extract`], the
//!   SExtractor-like extractor (mesh, background, detect, deblend, clean, photometry);
//! - light curves: [`periodogram`] (Lomb-Scargle, PDM, the chapter's χ² fold);
//! - the sky: [`spatial`] (unit vectors and a declination-zone index).

pub mod buffers;
pub mod edges;
pub mod extract;
pub mod image;
pub mod peaks;
pub mod periodogram;
pub mod phase;
pub mod series;
pub mod simd;
pub mod spatial;
pub mod stats;

/// How a kernel that has the chapter's three ways of working runs. The engine's `Variant`
/// maps onto it one to one (`Method::from(variant)`); the kernels sit below the engine, so
/// they name the three ways themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// The chapter's scalar loop.
    Naive,
    /// The better single-thread algorithm.
    Vectorized,
    /// That algorithm over rayon.
    Parallel,
}

impl Method {
    /// The three, in the order the variants run (for tests that compare them).
    pub const ALL: [Method; 3] = [Method::Naive, Method::Vectorized, Method::Parallel];
}
