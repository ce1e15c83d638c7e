//! Periodograms of a light curve over an evenly spaced grid of trial frequencies:
//! Lomb-Scargle (exact and FFT), Stellingwerf's phase dispersion minimisation, and the
//! chapter's χ² of the phase-folded fluxes.
//! [`sampling`] says what the sampling allows: the Nyquist frequency of regular sampling
//! and the aliases of a peak.

pub mod chi2_fold;
pub mod lomb_scargle;
pub mod pdm;
pub mod sampling;

use crate::ctx::Ctx;
use crate::{Error, Result};
use rayon::prelude::*;

/// An evenly spaced frequency grid, `np.linspace(fmin, fmax, n)` (both ends included).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    pub fmin: f64,
    pub fmax: f64,
    pub n: usize,
}

impl Grid {
    /// The step between frequencies (0 for a single frequency).
    pub fn df(&self) -> f64 {
        if self.n > 1 {
            (self.fmax - self.fmin) / (self.n - 1) as f64
        } else {
            0.0
        }
    }

    /// Frequency `k` exactly as numpy's linspace computes it (`k*step + start`, last = stop).
    pub fn freq(&self, k: usize) -> f64 {
        if self.n > 1 && k == self.n - 1 {
            self.fmax
        } else {
            k as f64 * self.df() + self.fmin
        }
    }

    pub fn frequencies(&self) -> Vec<f64> {
        (0..self.n).map(|k| self.freq(k)).collect()
    }
}

/// Evaluate `trial(scratch, k)` for every k, serially or in rayon chunks.
pub fn run_trials<
    S: Send,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize) -> f64 + Sync + Send,
>(
    m: usize,
    parallel: bool,
    ctx: &Ctx,
    init: I,
    trial: F,
) -> Result<Vec<f64>> {
    const CHUNK: usize = 64;
    let mut out = vec![0.0; m];
    if parallel {
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .try_for_each_init(&init, |scratch, (b, chunk)| {
                ctx.check()?;
                for (j, o) in chunk.iter_mut().enumerate() {
                    *o = trial(scratch, b * CHUNK + j);
                }
                Ok::<(), Error>(())
            })?;
    } else {
        let mut scratch = init();
        for (b, chunk) in out.chunks_mut(CHUNK).enumerate() {
            ctx.check()?;
            for (j, o) in chunk.iter_mut().enumerate() {
                *o = trial(&mut scratch, b * CHUNK + j);
            }
            ctx.progress(((b + 1) * CHUNK) as f64 / m as f64);
        }
    }
    Ok(out)
}
