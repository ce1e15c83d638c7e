//! PDM (Stellingwerf 1978): θ = pooled within-bin variance / total variance over phase
//! bins `floor(phase·bins)`, with the phase computed in exact fixed-point integers so
//! that every method puts every point in the same bin.

use super::{run_trials, Grid};
use crate::ctx::Ctx;
use crate::kernels::Method;
use crate::{Error, Result};

/// Fixed-point scales of the PDM phase: t in units of 2^-28 time units, f in units of
/// 2^-36 cycles per time unit, so `T·F mod 2^64` is `frac(t·f)·2^64` in exact integer
/// arithmetic (phase error below f·2^-29, e.g. 1e-8 cycles at 5 c/d). Every variant
/// bins with the same integers, so they agree on every point's bin.
const PDM_T_BITS: i32 = 28;
const PDM_F_BITS: i32 = 36;

/// Times (relative to the first) in PDM fixed point.
pub(crate) fn pdm_fixed_times(t: &[f64]) -> Result<Vec<u64>> {
    let t0 = t[0];
    let scale = 2f64.powi(PDM_T_BITS);
    let span = t[t.len() - 1] - t0;
    if span * scale >= 2f64.powi(63) {
        return Err(Error::param(
            "PDM: the time baseline is too long for the fixed-point phase (2^35 time units)",
        ));
    }
    Ok(t.iter()
        .map(|x| ((x - t0) * scale).round() as u64)
        .collect())
}

/// A trial frequency in PDM fixed point.
#[inline]
pub(crate) fn pdm_fixed_freq(f: f64) -> u64 {
    (f * 2f64.powi(PDM_F_BITS)).round() as u64
}

/// Phase bin `floor(phase·bins)` from the fixed-point time and frequency.
#[inline(always)]
pub(crate) fn pdm_bin(t: u64, f: u64, bins: u64) -> usize {
    (((t.wrapping_mul(f) >> 32) * bins) >> 32) as usize
}

/// Stellingwerf's θ at every trial frequency: pooled within-bin variance over the total
/// variance, `bins` phase bins (`t` sorted, at least two points).
pub fn pdm(
    t: &[f64],
    y: &[f64],
    grid: &Grid,
    bins: usize,
    method: Method,
    ctx: &Ctx,
) -> Result<Vec<f64>> {
    let n = t.len();
    let parallel = method == Method::Parallel;
    if grid.fmax * 2f64.powi(PDM_F_BITS) >= 2f64.powi(63) {
        return Err(Error::param(
            "PDM: fmax is too large for the fixed-point phase",
        ));
    }
    let t = pdm_fixed_times(t)?;
    let mean = y.iter().sum::<f64>() / n as f64;
    let y: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let total: f64 = y.iter().map(|v| v * v).sum();
    let s2 = total / (n - 1) as f64;
    let nb = bins as u64;
    match method {
        Method::Naive => {
            // Stellingwerf's definition as written: per bin count, sum and sum of
            // squares; θ = (Σ_bins Σ(y-ȳ_bin)² / Σ(n_bin-1)) / s².
            let mut out = Vec::with_capacity(grid.n);
            for k in 0..grid.n {
                if k % 64 == 0 {
                    ctx.check()?;
                    ctx.progress(k as f64 / grid.n as f64);
                }
                let f = pdm_fixed_freq(grid.freq(k));
                let mut cnt = vec![0.0; bins];
                let mut sm = vec![0.0; bins];
                let mut sq = vec![0.0; bins];
                for i in 0..n {
                    let b = pdm_bin(t[i], f, nb);
                    cnt[b] += 1.0;
                    sm[b] += y[i];
                    sq[b] += y[i] * y[i];
                }
                let mut num = 0.0;
                let mut dof = 0.0;
                for b in 0..bins {
                    if cnt[b] > 0.0 {
                        num += sq[b] - sm[b] * sm[b] / cnt[b];
                        dof += cnt[b] - 1.0;
                    }
                }
                out.push(num / dof / s2);
            }
            Ok(out)
        }
        _ => {
            // Σ(y-ȳ_bin)² = Σy² − Σ_bins S_b²/n_b: only (count, sum) per bin, kept as
            // one 16-byte pair so a point costs one read-modify-write, in 4
            // interleaved copies of the histogram so repeated bins do not serialise.
            let init = || vec![[0.0f64; 2]; 4 * bins];
            let trial = |h: &mut Vec<[f64; 2]>, k: usize| -> f64 {
                let f = pdm_fixed_freq(grid.freq(k));
                h.iter_mut().for_each(|x| *x = [0.0, 0.0]);
                let (h0, rest) = h.split_at_mut(bins);
                let (h1, rest) = rest.split_at_mut(bins);
                let (h2, h3) = rest.split_at_mut(bins);
                let n4 = n / 4 * 4;
                for (tq, yq) in t[..n4].chunks_exact(4).zip(y[..n4].chunks_exact(4)) {
                    let b0 = pdm_bin(tq[0], f, nb);
                    let b1 = pdm_bin(tq[1], f, nb);
                    let b2 = pdm_bin(tq[2], f, nb);
                    let b3 = pdm_bin(tq[3], f, nb);
                    let p = &mut h0[b0];
                    *p = [p[0] + 1.0, p[1] + yq[0]];
                    let p = &mut h1[b1];
                    *p = [p[0] + 1.0, p[1] + yq[1]];
                    let p = &mut h2[b2];
                    *p = [p[0] + 1.0, p[1] + yq[2]];
                    let p = &mut h3[b3];
                    *p = [p[0] + 1.0, p[1] + yq[3]];
                }
                for i in n4..n {
                    let p = &mut h0[pdm_bin(t[i], f, nb)];
                    *p = [p[0] + 1.0, p[1] + y[i]];
                }
                let mut between = 0.0;
                let mut nonempty = 0usize;
                for b in 0..bins {
                    let cn = (h0[b][0] + h1[b][0]) + (h2[b][0] + h3[b][0]);
                    if cn > 0.0 {
                        let sb = (h0[b][1] + h1[b][1]) + (h2[b][1] + h3[b][1]);
                        between += sb * sb / cn;
                        nonempty += 1;
                    }
                }
                ((total - between) / (n - nonempty) as f64) / s2
            };
            run_trials(grid.n, parallel, ctx, init, trial)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdm_fixed_point_bin_is_floor_of_phase() {
        let t = pdm_fixed_times(&[0.0, 3.7, 99.99, 12.5, 1.0, 2722.85]).expect("times");
        for (i, &tv) in [0.0, 3.7, 99.99, 12.5, 1.0, 2722.85].iter().enumerate() {
            for f in [1.0, 0.27, 4.9, 0.08, 1.0672961] {
                let x: f64 = tv * f;
                let ph = x - x.floor();
                let want = (ph * 10.0) as usize;
                let got = pdm_bin(t[i], pdm_fixed_freq(f), 10);
                // equal unless the phase is within 1e-7 of a bin edge
                let edge = ((ph * 10.0) - (ph * 10.0).round()).abs() < 1e-6;
                assert!(got == want || edge, "t={tv} f={f}: {got} vs {want}");
            }
        }
    }
}
