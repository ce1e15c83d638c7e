//! Deterministic statistics: sums in fixed blocks added in block order (the same bits
//! serially and in parallel, at any thread count), the naive textbook loop the chapter's
//! variants use, 8-lane sums that vectorise without fast-math, and a finiteness check.

use rayon::prelude::*;

/// Block size of the deterministic sums: partial sums per block, added in block order,
/// give the same bits serially and in parallel at any thread count.
pub const SUM_BLOCK: usize = 4096;

/// (sum, sum of squared deviations from `mean`) helpers with a fixed block order.
pub fn blocked_sum(x: &[f64], parallel: bool) -> f64 {
    let partial = |c: &[f64]| c.iter().sum::<f64>();
    if parallel {
        let parts: Vec<f64> = x.par_chunks(SUM_BLOCK).map(partial).collect();
        parts.iter().sum()
    } else {
        x.chunks(SUM_BLOCK)
            .map(partial)
            .collect::<Vec<_>>()
            .iter()
            .sum()
    }
}

/// Population mean and std (ddof 0), two-pass, deterministic across thread counts.
pub fn mean_std(x: &[f64], parallel: bool) -> (f64, f64) {
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = x.len() as f64;
    let mean = blocked_sum(x, parallel) / n;
    let dev = |c: &[f64]| c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
    let ss: f64 = if parallel {
        let parts: Vec<f64> = x.par_chunks(SUM_BLOCK).map(dev).collect();
        parts.iter().sum()
    } else {
        x.chunks(SUM_BLOCK)
            .map(dev)
            .collect::<Vec<_>>()
            .iter()
            .sum()
    };
    (mean, (ss / n).sqrt())
}

/// The plain textbook mean/std loop the naive variants use.
pub fn mean_std_naive(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mut s = 0.0;
    for v in x {
        s += v;
    }
    let mean = s / n;
    let mut ss = 0.0;
    for v in x {
        ss += (v - mean) * (v - mean);
    }
    (mean, (ss / n).sqrt())
}

/// Sum of a slice with 8 independent accumulators (vectorises without fast-math).
#[inline]
pub fn lanes_sum(x: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut ch = x.chunks_exact(8);
    for c in &mut ch {
        for k in 0..8 {
            acc[k] += f(c[k]);
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for &v in ch.remainder() {
        s += f(v);
    }
    s
}

/// Population mean and std (two passes) from fixed 4096-element blocks summed with
/// [`lanes_sum`] and added in block order: the same bits serially and in parallel.
pub fn mean_std_lanes(x: &[f64], parallel: bool) -> (f64, f64) {
    const B: usize = SUM_BLOCK;
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = x.len() as f64;
    let total = |g: &(dyn Fn(&[f64]) -> f64 + Sync)| -> f64 {
        let parts: Vec<f64> = if parallel {
            x.par_chunks(B).map(g).collect()
        } else {
            x.chunks(B).map(g).collect()
        };
        parts.iter().sum()
    };
    let mean = total(&|c| lanes_sum(c, |v| v)) / n;
    let ss = total(&|c| lanes_sum(c, |v| (v - mean) * (v - mean)));
    (mean, (ss / n).sqrt())
}

/// True when every value is finite (one vectorised pass: v·0 is NaN for NaN and ±inf).
pub fn all_finite(x: &[f64]) -> bool {
    x.chunks(1 << 16).all(|c| lanes_sum(c, |v| v * 0.0) == 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_sums_are_thread_independent() {
        let x: Vec<f64> = (0..100_003).map(|i| (i as f64 * 0.37).sin()).collect();
        assert_eq!(mean_std(&x, false), mean_std(&x, true));
        let (m, s) = mean_std_naive(&x);
        let (m2, s2) = mean_std(&x, false);
        assert!((m - m2).abs() < 1e-12 && (s - s2).abs() < 1e-12);
    }

    #[test]
    fn lane_sums_and_finiteness() {
        let x: Vec<f64> = (0..10_001).map(|i| (i as f64 * 0.1).sin() + 3.0).collect();
        let (m, s) = mean_std_lanes(&x, false);
        let (m2, s2) = mean_std_naive(&x);
        assert!((m - m2).abs() < 1e-12 && (s - s2).abs() < 1e-12);
        assert_eq!(mean_std_lanes(&x, true), (m, s));
        assert!(all_finite(&x));
        let mut y = x.clone();
        y[9_999] = f64::NAN;
        assert!(!all_finite(&y));
        y[9_999] = f64::NEG_INFINITY;
        assert!(!all_finite(&y));
    }
}
