//! The chapter's Exercise 7.1 metric: fold at each trial period, sort the fluxes by
//! phase, χ² about their mean. Sorting does not change a sum of squares, so the value is
//! the same at every period up to round-off; it is computed faithfully, sort and all.

use super::{run_trials, Grid};
use crate::ctx::Ctx;
use crate::kernels::Method;
use crate::Result;

/// The chapter's phase, `(t % P) / P`.
#[inline]
fn chapter_phase(t: f64, period: f64) -> f64 {
    // `+ 0.0`: -0.0 becomes +0.0, so the radix (bit) order equals the value order.
    t.rem_euclid(period) / period + 0.0
}

/// χ² about the mean of values taken in the given order (the chapter's loop).
#[inline]
fn chi2_of(sorted: impl Iterator<Item = f64> + Clone, n: usize) -> f64 {
    let mean = sorted.clone().sum::<f64>() / n as f64;
    sorted.map(|f| (f - mean) * (f - mean)).sum()
}

/// The chapter's χ² of the phase-sorted fluxes at every trial frequency (`t` sorted).
pub fn chi2_fold(t: &[f64], y: &[f64], grid: &Grid, method: Method, ctx: &Ctx) -> Result<Vec<f64>> {
    let n = t.len();
    let parallel = method == Method::Parallel;
    match method {
        Method::Naive => {
            // As written in the chapter: a list of phases, an argsort by a key
            // function, a gathered list of fluxes, then the mean and the sum.
            let mut out = Vec::with_capacity(grid.n);
            for k in 0..grid.n {
                if k % 16 == 0 {
                    ctx.check()?;
                    ctx.progress(k as f64 / grid.n as f64);
                }
                let period = 1.0 / grid.freq(k);
                let phases: Vec<f64> = t.iter().map(|&t| chapter_phase(t, period)).collect();
                let mut idx: Vec<usize> = (0..n).collect();
                idx.sort_by(|&a, &b| phases[a].total_cmp(&phases[b]));
                let sorted: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
                out.push(chi2_of(sorted.iter().copied(), n));
            }
            Ok(out)
        }
        _ => {
            // Same fold, sort and sum, without per-trial allocations: contiguous
            // (phase, index) pairs, stable sort — the argsort's permutation exactly.
            let trial = |keys: &mut Vec<(f64, u32)>, k: usize| -> f64 {
                let period = 1.0 / grid.freq(k);
                keys.clear();
                keys.extend(
                    t.iter()
                        .enumerate()
                        .map(|(i, &t)| (chapter_phase(t, period), i as u32)),
                );
                keys.sort_by(|a, b| a.0.total_cmp(&b.0));
                chi2_of(keys.iter().map(|&(_, i)| y[i as usize]), n)
            };
            run_trials(grid.n, parallel, ctx, || Vec::with_capacity(n), trial)
        }
    }
}
