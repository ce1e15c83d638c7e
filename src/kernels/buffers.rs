//! Large buffers and how work is cut: cancellable copies, zeroed buffers faulted in on
//! huge pages over the threads, writes into uninitialised memory, and chunk lengths that
//! give every rayon thread a few pieces.

use rayon::prelude::*;

/// Chunk length that gives every rayon thread a few pieces of work.
pub fn chunk_len(n: usize, threads: usize) -> usize {
    n.div_ceil((threads.max(1) * 4).max(1)).max(1)
}

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

/// A zeroed f64 buffer of `n` values for a large output. The global allocator asks for
/// transparent huge pages for it (`crate::memory`): a fresh 134 MB frame
/// otherwise costs 33,000 first-touch page faults, which perf showed to be most of the
/// full-frame stages of the background mode. `parallel` zeroes it over rayon, so the
/// faults are shared by the threads.
pub fn zeroed_f64(n: usize, parallel: bool) -> Vec<f64> {
    let mut v: Vec<f64> = Vec::with_capacity(n);
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
