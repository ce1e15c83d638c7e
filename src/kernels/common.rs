//! Small kernels shared by several analyses (scipy-compatible edge handling, peaks,
//! deterministic sums), so that every variant of every analysis applies the same rules.

use rayon::prelude::*;

/// scipy `reflect` (half-sample symmetric) index for `k` in `-n..2n`.
#[inline]
pub fn reflect(k: isize, n: usize) -> usize {
    let n = n as isize;
    let r = if k < 0 {
        -k - 1
    } else if k >= n {
        2 * n - k - 1
    } else {
        k
    };
    r.clamp(0, n - 1) as usize
}

/// `x` padded so that window `i` of width `w` (scipy origin 0) is `padded[i..i + w]`.
pub fn pad_reflect(x: &[f64], w: usize) -> Vec<f64> {
    let n = x.len();
    let left = (w / 2) as isize;
    (0..n + w - 1)
        .map(|j| x[reflect(j as isize - left, n)])
        .collect()
}

/// Peak indices as `scipy.signal.find_peaks(x, height=h)` finds them: strict local
/// maxima, a flat plateau reported at its middle (rounded down), ends never peaks,
/// height test `>=`.
pub fn find_peaks(x: &[f64], height: f64) -> Vec<usize> {
    let n = x.len();
    let mut peaks = Vec::new();
    if n < 3 {
        return peaks;
    }
    let i_max = n - 1;
    let mut i = 1;
    while i < i_max {
        if x[i - 1] < x[i] {
            let mut ahead = i + 1;
            while ahead < i_max && x[ahead] == x[i] {
                ahead += 1;
            }
            if x[ahead] < x[i] {
                let mid = (i + ahead - 1) / 2;
                if x[mid] >= height {
                    peaks.push(mid);
                }
                i = ahead;
            }
        }
        i += 1;
    }
    peaks
}

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

/// Chunk length that gives every rayon thread a few pieces of work.
pub fn chunk_len(n: usize, threads: usize) -> usize {
    n.div_ceil((threads.max(1) * 4).max(1)).max(1)
}

/// Phase in [0, 1) of each time at a period (the fold every light-curve view uses).
pub fn fold_phase(time: &[f64], period: f64, t0: f64) -> Vec<f64> {
    time.iter()
        .map(|t| ((t - t0) / period).rem_euclid(1.0))
        .collect()
}

/// 1/n! for n = 0..=13: the Taylor coefficients of exp, shared by the exp and expm1
/// polynomials of magnitude-sum and planck.
pub const INV_FACTORIAL: [f64; 14] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// Values copied between two looks at Cancel in [`copy_checked`]: 8 MB, a few ms.
const COPY_BLOCK: usize = 1 << 20;

/// A copy of `src` made block by block, looking at Cancel between blocks: one copy of a
/// 4096² f64 frame (134 MB, most of it first-touch page faults) takes over 100 ms under
/// load, longer than Cancel may wait. `parallel` copies the blocks of a group over rayon.
pub fn copy_checked(src: &[f64], parallel: bool, ctx: &crate::ctx::Ctx) -> crate::Result<Vec<f64>> {
    let mut out: Vec<f64> = Vec::with_capacity(src.len());
    if parallel {
        // Straight into the uninitialised buffer: zero-filling it first would touch every
        // fresh page on one thread, which is the cost the threads are here to share.
        let group = COPY_BLOCK * ctx.threads.max(1);
        let spare = &mut out.spare_capacity_mut()[..src.len()];
        for (gd, gs) in spare.chunks_mut(group).zip(src.chunks(group)) {
            ctx.check()?;
            gd.par_chunks_mut(COPY_BLOCK)
                .zip(gs.par_chunks(COPY_BLOCK))
                .for_each(|(d, s)| {
                    for (d, s) in d.iter_mut().zip(s) {
                        d.write(*s);
                    }
                });
        }
        // SAFETY: the loop above wrote all src.len() elements (an early return on
        // Cancel leaves the length at 0).
        unsafe { out.set_len(src.len()) };
    } else {
        for b in src.chunks(COPY_BLOCK) {
            ctx.check()?;
            out.extend_from_slice(b);
        }
    }
    Ok(out)
}

/// A zeroed f64 buffer of `n` values for a large output, backed by transparent huge
/// pages where the kernel allows them on request (`madvise` mode, as here): a fresh
/// 134 MB frame otherwise costs 33,000 first-touch page faults, which perf showed to be
/// most of the full-frame stages of the background mode. `parallel` zeroes it over
/// rayon, so the faults are shared by the threads.
pub fn zeroed_f64(n: usize, parallel: bool) -> Vec<f64> {
    let mut v: Vec<f64> = Vec::with_capacity(n);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let p = v.as_ptr() as usize;
        let start = p.div_ceil(HUGE) * HUGE;
        let end = (p + n * std::mem::size_of::<f64>()) / HUGE * HUGE;
        if end > start {
            // SAFETY: the range lies inside the allocation just made; MADV_HUGEPAGE only
            // changes how the kernel backs untouched pages, never their contents. A
            // failure (e.g. THP disabled) leaves ordinary pages, so it is ignored.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    let spare = &mut v.spare_capacity_mut()[..n];
    if parallel {
        spare.par_chunks_mut(1 << 18).for_each(|c| {
            for x in c {
                x.write(0.0);
            }
        });
    } else {
        for x in spare.iter_mut() {
            x.write(0.0);
        }
    }
    // SAFETY: all n elements were written above.
    unsafe { v.set_len(n) };
    v
}

/// Copy `src` into uninitialised `dst` (same length).
#[inline]
pub fn write_all(dst: &mut [std::mem::MaybeUninit<f64>], src: &[f64]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        d.write(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_scipy_rule() {
        assert_eq!(reflect(-1, 5), 0);
        assert_eq!(reflect(-2, 5), 1);
        assert_eq!(reflect(5, 5), 4);
        assert_eq!(reflect(6, 5), 3);
        assert_eq!(
            pad_reflect(&[1.0, 2.0, 3.0], 3),
            vec![1.0, 1.0, 2.0, 3.0, 3.0]
        );
    }

    #[test]
    fn peaks_follow_scipy_rules() {
        // plateau of 3 at indices 2..=4 -> middle 3; ends are never peaks.
        let x = [5.0, 1.0, 3.0, 3.0, 3.0, 1.0, 2.0, 1.0, 9.0];
        assert_eq!(find_peaks(&x, 0.0), vec![3, 6]);
        assert_eq!(find_peaks(&x, 2.5), vec![3]);
        // even plateau rounds down
        assert_eq!(find_peaks(&[0.0, 2.0, 2.0, 0.0], 0.0), vec![1]);
        // a plateau running into the end is no peak
        assert!(find_peaks(&[0.0, 2.0, 2.0], 0.0).is_empty());
    }

    #[test]
    fn blocked_sums_are_thread_independent() {
        let x: Vec<f64> = (0..100_003).map(|i| (i as f64 * 0.37).sin()).collect();
        assert_eq!(mean_std(&x, false), mean_std(&x, true));
        let (m, s) = mean_std_naive(&x);
        let (m2, s2) = mean_std(&x, false);
        assert!((m - m2).abs() < 1e-12 && (s - s2).abs() < 1e-12);
    }

    #[test]
    fn copy_checked_copies_and_stops_on_cancel() {
        let src: Vec<f64> = (0..(3 << 20) + 5).map(|i| i as f64 * 0.5).collect();
        let ctx = crate::ctx::Ctx::detached(2);
        assert!(super::copy_checked(&src, false, &ctx).expect("serial") == src);
        assert!(super::copy_checked(&src, true, &ctx).expect("parallel") == src);
        let c = crate::ctx::Control::new();
        c.cancel();
        let cancelled = crate::ctx::Ctx::new(c, 2, 0.0, 1.0);
        assert!(super::copy_checked(&src, true, &cancelled).is_err());
    }

    #[test]
    fn zeroed_f64_is_all_zeros_at_any_size() {
        for n in [0, 1, 1000, (3 << 20) + 7] {
            for parallel in [false, true] {
                let v = super::zeroed_f64(n, parallel);
                assert_eq!(v.len(), n);
                assert!(v.iter().all(|&x| x == 0.0));
            }
        }
    }
}
