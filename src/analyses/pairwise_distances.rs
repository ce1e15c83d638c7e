//! Chapter 7.1's profiling demo: every pairwise Euclidean distance of a 2-D point set,
//! in condensed order (i < j), as `scipy.spatial.distance.pdist` returns them. A
//! memory-write-bound kernel: N(N-1)/2 results from only 2N inputs.

use crate::data::{generate, Dataset, Kind, Points};
use crate::engine::work::F64;
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
#[cfg(target_arch = "x86_64")]
use crate::kernels::simd::{has_avx2, has_avx512};
use crate::{stage, Error, Result};
use ndarray::Array1;
use rayon::prelude::*;

pub struct PairwiseDistances;

/// Artifact: every pairwise distance, condensed (i < j).
pub const DISTANCES: &str = "distances";
/// Summary: how many pairs, N(N-1)/2.
pub const N_PAIRS: &str = "n_pairs";
/// Summary: the smallest distance.
pub const MIN_DISTANCE: &str = "min_distance";
/// Summary: the mean distance.
pub const MEAN_DISTANCE: &str = "mean_distance";
/// Summary: the largest distance.
pub const MAX_DISTANCE: &str = "max_distance";

/// Largest N accepted: N(N-1)/2 f64s must stay a sane allocation (50,000 -> 10 GB).
const MAX_POINTS: usize = 50_000;

impl Analysis for PairwiseDistances {
    fn id(&self) -> &'static str {
        "pairwise-distances"
    }
    fn title(&self) -> &'static str {
        "Pairwise distances"
    }
    fn section(&self) -> Section {
        Section::Profiling
    }
    fn help(&self) -> &'static str {
        "All N(N-1)/2 distances between 2-D points (condensed, i<j): bound by writing the output, not by arithmetic."
    }
    fn input_kind(&self) -> Kind {
        Kind::Points
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![]
    }
    fn size_unit(&self) -> &'static str {
        "points"
    }
    fn default_size(&self) -> usize {
        2_000
    }
    fn quick_size(&self) -> usize {
        300
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(2.0, 10.8e-3), (2.0, 6.31e-3), (2.0, 3.25e-3)],
            // N(N-1)/2 f64 distances.
            mem: (2.0, 4.0),
            w_ref: 2000.0,
        }
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::Points(p) => p.xy.nrows(),
            other => other.n_elements(),
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        Ok(Dataset::Points(generate::points(size, seed)))
    }
    fn validate(&self, input: &Dataset, _params: &Params) -> Result<()> {
        self.parse(input).map(drop)
    }
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let n = self.size_of(input) as f64;
        let pairs = n * (n - 1.0) / 2.0;
        vec![
            // The x and y columns copied out of the row-major table: read and written once.
            StageWork::moving("columns", 2.0 * 16.0 * n),
            // Per pair dx, dy, dx² + dy² (two multiplies and an add) and the square root:
            // 6 flops, one f64 written; the 2N inputs are read once and stay in cache.
            StageWork::streaming("distances", 16.0 * n + F64 * pairs, 6.0 * pairs),
            // One add per distance for the mean (min/max are comparisons).
            StageWork::streaming("summary", F64 * pairs, pairs),
        ]
    }
    fn run(
        &self,
        variant: Variant,
        input: &Dataset,
        _params: &Params,
        ctx: &Ctx,
    ) -> Result<Output> {
        let p = self.parse(input)?;
        let n = p.xy.nrows();
        let (x, y): (Vec<f64>, Vec<f64>) = stage!(ctx, "columns", {
            (p.xy.column(0).to_vec(), p.xy.column(1).to_vec())
        });
        let m = n * (n - 1) / 2;
        let (d, (min, max, sum)) = match variant {
            Variant::Naive => {
                let d = stage!(ctx, "distances", naive(&x, &y, ctx)?);
                let stats = stage!(ctx, "summary", {
                    let mut lo = f64::INFINITY;
                    let mut hi = f64::NEG_INFINITY;
                    let mut s = 0.0;
                    for &u in &d {
                        lo = lo.min(u);
                        hi = hi.max(u);
                        s += u;
                    }
                    (lo, hi, s)
                });
                (d, stats)
            }
            // The summary is fused into the row loop: one pass over the 16 MB output.
            Variant::Vectorized => stage!(ctx, "distances", rows(&x, &y, m, false, ctx)?),
            Variant::Parallel => stage!(ctx, "distances", rows(&x, &y, m, true, ctx)?),
        };
        let mean = sum / m as f64;
        ctx.progress(1.0);
        Ok(Output::new()
            .sum(N_PAIRS, m)
            .sum(MIN_DISTANCE, min)
            .sum(MAX_DISTANCE, max)
            .sum(MEAN_DISTANCE, mean)
            .f64(DISTANCES, Array1::from(d).into_dyn(), Tolerance::Exact))
    }
}

impl PairwiseDistances {
    /// The input, checked once: what `validate` reports and `run` computes on.
    fn parse<'a>(&self, input: &'a Dataset) -> Result<&'a Points> {
        let p: &Points = engine::input(self, input)?;
        let n = p.xy.nrows();
        if p.xy.ncols() != 2 {
            return Err(Error::input(format!(
                "points need 2 columns (x, y), not {}",
                p.xy.ncols()
            )));
        }
        if n < 2 {
            return Err(Error::input(format!(
                "{n} points give no pairs; at least 2 are needed"
            )));
        }
        if n > MAX_POINTS {
            return Err(Error::input(format!(
                "{n} points would need {:.1} GB of distances; at most {MAX_POINTS} points are accepted",
                (n * (n - 1) / 2 * 8) as f64 / 1e9
            )));
        }
        Ok(p)
    }
}

/// The chapter's double loop, one pair at a time, pushing onto a growing list.
fn naive(x: &[f64], y: &[f64], ctx: &Ctx) -> Result<Vec<f64>> {
    let n = x.len();
    let mut out = Vec::new();
    for i in 0..n {
        // Every row: at N = 20,000 sixty-four rows are a million pushes.
        ctx.check()?;
        if i % 64 == 0 {
            ctx.progress(i as f64 / n as f64);
        }
        for j in i + 1..n {
            let dx = x[i] - x[j];
            let dy = y[i] - y[j];
            out.push((dx * dx + dy * dy).sqrt());
        }
    }
    Ok(out)
}

/// Offset of row i in the condensed matrix.
fn row_start(i: usize, n: usize) -> usize {
    i * (2 * n - i - 1) / 2
}

/// (min, max, sum) of a stretch of distances.
type Stats = (f64, f64, f64);

fn merge(a: Stats, b: Stats) -> Stats {
    (a.0.min(b.0), a.1.max(b.1), a.2 + b.2)
}

const EMPTY: Stats = (f64::INFINITY, f64::NEG_INFINITY, 0.0);

/// One row: a contiguous run of outputs against contiguous x/y columns, which LLVM
/// turns into packed sub/mul/sqrt `L` lanes wide; the row's min/max/sum ride along in
/// registers. Writes into uninitialised memory so the 16 MB output is touched once, not
/// zeroed first.
#[inline(always)]
fn row_body<const L: usize>(
    i: usize,
    x: &[f64],
    y: &[f64],
    out: &mut [std::mem::MaybeUninit<f64>],
) -> Stats {
    let (xi, yi) = (x[i], y[i]);
    let (xs, ys) = (&x[i + 1..], &y[i + 1..]);
    // L independent accumulators: a single running sum/min/max would chain every
    // element on the previous one's latency and stop the loop from vectorising.
    let mut lo = [f64::INFINITY; L];
    let mut hi = [f64::NEG_INFINITY; L];
    let mut s = [0.0f64; L];
    let mut oc = out.chunks_exact_mut(L);
    let mut xc = xs.chunks_exact(L);
    let mut yc = ys.chunks_exact(L);
    for ((o, xv), yv) in (&mut oc).zip(&mut xc).zip(&mut yc) {
        for k in 0..L {
            let dx = xi - xv[k];
            let dy = yi - yv[k];
            let d = (dx * dx + dy * dy).sqrt();
            o[k].write(d);
            lo[k] = lo[k].min(d);
            hi[k] = hi[k].max(d);
            s[k] += d;
        }
    }
    for ((o, &xj), &yj) in oc
        .into_remainder()
        .iter_mut()
        .zip(xc.remainder())
        .zip(yc.remainder())
    {
        let dx = xi - xj;
        let dy = yi - yj;
        let d = (dx * dx + dy * dy).sqrt();
        o.write(d);
        lo[0] = lo[0].min(d);
        hi[0] = hi[0].max(d);
        s[0] += d;
    }
    lane_stats(lo, hi, s)
}

/// A streaming row cut around its SIMD body: the elements before the output's first
/// `align`-byte boundary and after its last whole vector of `lanes` go through
/// [`stretch_body`]; `body` gets (xi, yi) and the aligned stretch, a multiple of `lanes`
/// long, and returns that stretch's stats.
#[inline(always)]
fn around_stream_body(
    i: usize,
    x: &[f64],
    y: &[f64],
    out: &mut [std::mem::MaybeUninit<f64>],
    (align, lanes): (usize, usize),
    body: impl FnOnce(f64, f64, &[f64], &[f64], &mut [std::mem::MaybeUninit<f64>]) -> Stats,
) -> Stats {
    let n = out.len();
    let (xs, ys) = (&x[i + 1..i + 1 + n], &y[i + 1..i + 1 + n]);
    let head = out.as_ptr().align_offset(align).min(n);
    let t = head + (n - head) / lanes * lanes;
    let mut acc = EMPTY;
    if head > 0 {
        acc = merge(acc, stretch_body(x[i], y[i], &xs[..head], &ys[..head], &mut out[..head]));
    }
    acc = merge(
        acc,
        body(x[i], y[i], &xs[head..t], &ys[head..t], &mut out[head..t]),
    );
    if t < n {
        acc = merge(acc, stretch_body(x[i], y[i], &xs[t..], &ys[t..], &mut out[t..]));
    }
    acc
}

/// The stats of a vector body from its lanes' minima, maxima and sums (summed pairwise:
/// 0+1, 2+3, …, a fixed order for a given width).
#[inline(always)]
fn lane_stats<const L: usize>(lo: [f64; L], hi: [f64; L], mut s: [f64; L]) -> Stats {
    let mut width = L;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            s[k] = s[2 * k] + s[2 * k + 1];
        }
    }
    (
        lo.iter().copied().fold(f64::INFINITY, f64::min),
        hi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        s[0],
    )
}

/// The row with AVX2 intrinsics and streaming stores, [`row_avx512_stream`]'s loop four
/// lanes wide, for CPUs without AVX-512: on a Zen 3 VM the AVX2 row with ordinary
/// stores ran 3.1-4.1 ms (vectorized) and 1.7-3.3 ms (parallel) at 2,000 points, its
/// 16 MB output read for ownership before every write. No FMA is enabled, so every
/// distance is bit-identical to the SSE2 build; the row's sum is added in four lanes
/// plus the head and tail. The caller fences (`_mm_sfence`) before the output is read.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_avx2_stream(
    i: usize,
    x: &[f64],
    y: &[f64],
    out: &mut [std::mem::MaybeUninit<f64>],
) -> Stats {
    around_stream_body(i, x, y, out, (32, 4), |xi, yi, xs, ys, o| {
        use std::arch::x86_64::*;
        let (xi, yi) = (_mm256_set1_pd(xi), _mm256_set1_pd(yi));
        let mut lo = _mm256_set1_pd(f64::INFINITY);
        let mut hi = _mm256_set1_pd(f64::NEG_INFINITY);
        let mut sum = _mm256_setzero_pd();
        let (xp, yp, op) = (xs.as_ptr(), ys.as_ptr(), o.as_mut_ptr() as *mut f64);
        for k in (0..o.len()).step_by(4) {
            // SAFETY (all loads and the store): k + 4 <= the stretch's length, a multiple
            // of 4, inside xs, ys and o; op + k is 32-byte aligned (`around_stream_body`,
            // and k steps by 4 f64).
            let dx = _mm256_sub_pd(xi, _mm256_loadu_pd(xp.add(k)));
            let dy = _mm256_sub_pd(yi, _mm256_loadu_pd(yp.add(k)));
            let d = _mm256_sqrt_pd(_mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy)));
            _mm256_stream_pd(op.add(k), d);
            lo = _mm256_min_pd(lo, d);
            hi = _mm256_max_pd(hi, d);
            sum = _mm256_add_pd(sum, d);
        }
        let (mut l, mut h, mut s) = ([0.0f64; 4], [0.0f64; 4], [0.0f64; 4]);
        _mm256_storeu_pd(l.as_mut_ptr(), lo);
        _mm256_storeu_pd(h.as_mut_ptr(), hi);
        _mm256_storeu_pd(s.as_mut_ptr(), sum);
        lane_stats(l, h, s)
    })
}

/// The row with AVX-512F intrinsics and non-temporal (streaming) stores. The 16 MB
/// output does not stay in cache for the next row anyway, and an ordinary store first
/// reads its line from memory (read for ownership): streaming stores halve the memory
/// traffic of the write. The first elements up to a 64-byte boundary and the tail are
/// written by [`stretch_body`]; the distances are bit-identical (no FMA), the row's sum
/// is added in eight lanes plus that head and tail, so its last bits may differ from
/// the AVX2 path's. The caller fences (`_mm_sfence`) before the output is read.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_avx512_stream(
    i: usize,
    x: &[f64],
    y: &[f64],
    out: &mut [std::mem::MaybeUninit<f64>],
) -> Stats {
    around_stream_body(i, x, y, out, (64, 8), |xi, yi, xs, ys, o| {
        use std::arch::x86_64::*;
        let (xi, yi) = (_mm512_set1_pd(xi), _mm512_set1_pd(yi));
        let mut lo = _mm512_set1_pd(f64::INFINITY);
        let mut hi = _mm512_set1_pd(f64::NEG_INFINITY);
        let mut sum = _mm512_setzero_pd();
        let (xp, yp, op) = (xs.as_ptr(), ys.as_ptr(), o.as_mut_ptr() as *mut f64);
        for k in (0..o.len()).step_by(8) {
            // SAFETY (all loads and the store): k + 8 <= the stretch's length, a multiple
            // of 8, inside xs, ys and o; op + k is 64-byte aligned (`around_stream_body`,
            // and k steps by 8 f64).
            let dx = _mm512_sub_pd(xi, _mm512_loadu_pd(xp.add(k)));
            let dy = _mm512_sub_pd(yi, _mm512_loadu_pd(yp.add(k)));
            let d = _mm512_sqrt_pd(_mm512_add_pd(_mm512_mul_pd(dx, dx), _mm512_mul_pd(dy, dy)));
            _mm512_stream_pd(op.add(k), d);
            lo = _mm512_min_pd(lo, d);
            hi = _mm512_max_pd(hi, d);
            sum = _mm512_add_pd(sum, d);
        }
        let (mut l, mut h, mut s) = ([0.0f64; 8], [0.0f64; 8], [0.0f64; 8]);
        _mm512_storeu_pd(l.as_mut_ptr(), lo);
        _mm512_storeu_pd(h.as_mut_ptr(), hi);
        _mm512_storeu_pd(s.as_mut_ptr(), sum);
        lane_stats(l, h, s)
    })
}

/// Distances from (xi, yi) to a short stretch of points, one at a time (a row's head and
/// tail around its streamed body).
#[inline(always)]
fn stretch_body(
    xi: f64,
    yi: f64,
    xs: &[f64],
    ys: &[f64],
    out: &mut [std::mem::MaybeUninit<f64>],
) -> Stats {
    let mut acc = EMPTY;
    for ((o, &xj), &yj) in out.iter_mut().zip(xs).zip(ys) {
        let dx = xi - xj;
        let dy = yi - yj;
        let d = (dx * dx + dy * dy).sqrt();
        o.write(d);
        acc = merge(acc, (d, d, d));
    }
    acc
}

/// The widest row kernel this CPU runs, chosen once per call.
#[derive(Clone, Copy)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx512() {
                return Isa::Avx512;
            }
            if has_avx2() {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    fn row(self, i: usize, x: &[f64], y: &[f64], out: &mut [std::mem::MaybeUninit<f64>]) -> Stats {
        match self {
            Isa::Portable => row_body::<4>(i, x, y, out),
            // SAFETY: `detect` chose this only when the CPU reports AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { row_avx2_stream(i, x, y, out) },
            // SAFETY: `detect` chose this only when the CPU reports AVX-512F.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { row_avx512_stream(i, x, y, out) },
        }
    }
}

/// Rows `r0..r1` into their contiguous stretch of the condensed output.
fn row_range(
    r0: usize,
    r1: usize,
    x: &[f64],
    y: &[f64],
    out: &mut [std::mem::MaybeUninit<f64>],
    isa: Isa,
) -> Stats {
    let n = x.len();
    let mut acc = EMPTY;
    let mut rest = out;
    for i in r0..r1 {
        let (head, tail) = rest.split_at_mut(n - 1 - i);
        rest = tail;
        acc = merge(acc, isa.row(i, x, y, head));
    }
    #[cfg(target_arch = "x86_64")]
    if matches!(isa, Isa::Avx512 | Isa::Avx2) {
        // SAFETY: SSE is part of x86_64. Streaming stores are weakly ordered: the fence
        // makes them visible before this piece reports back to the thread that reads
        // the output.
        unsafe { std::arch::x86_64::_mm_sfence() };
    }
    acc
}

/// Pieces the triangle is cut into: equal numbers of pairs (not of rows, which shrink
/// from N-1 to 1), a fixed count so the merge order of the summary does not depend on
/// the thread count.
const PIECES: usize = 64;

fn rows(x: &[f64], y: &[f64], m: usize, parallel: bool, ctx: &Ctx) -> Result<(Vec<f64>, Stats)> {
    let n = x.len();
    let isa = Isa::detect();
    let mut out: Vec<f64> = Vec::with_capacity(m);
    let stats = {
        let spare = &mut out.spare_capacity_mut()[..m];
        // Row boundaries of the pieces: piece p ends at the first row whose end passes
        // (p+1)·m/PIECES pairs.
        let mut bounds = vec![0usize];
        let mut done = 0usize;
        for i in 0..n - 1 {
            done += n - 1 - i;
            let target = (bounds.len() * m).div_ceil(PIECES);
            if done >= target && i + 1 < n - 1 {
                bounds.push(i + 1);
            }
        }
        bounds.push(n - 1);
        let mut pieces: Vec<(usize, usize, &mut [std::mem::MaybeUninit<f64>])> =
            Vec::with_capacity(bounds.len());
        let mut rest = spare;
        for w in bounds.windows(2) {
            let len = row_start(w[1], n) - row_start(w[0], n);
            let (head, tail) = rest.split_at_mut(len);
            pieces.push((w[0], w[1], head));
            rest = tail;
        }
        debug_assert!(rest.is_empty());
        let total = pieces.len();
        let parts: Vec<Stats> = if parallel {
            pieces
                .par_iter_mut()
                .map(|(r0, r1, s)| {
                    ctx.check()?;
                    Ok(row_range(*r0, *r1, x, y, s, isa))
                })
                .collect::<Result<_>>()?
        } else {
            let mut v = Vec::with_capacity(total);
            for (k, (r0, r1, s)) in pieces.iter_mut().enumerate() {
                ctx.check()?;
                v.push(row_range(*r0, *r1, x, y, s, isa));
                ctx.progress(k as f64 / total as f64);
            }
            v
        };
        parts.into_iter().fold(EMPTY, merge)
    };
    // SAFETY: the pieces tile spare[..m] exactly (row_start offsets, checked above) and
    // every row wrote each of its elements, so all m elements are initialised.
    unsafe { out.set_len(m) };
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair lands at scipy's condensed index, whatever the piece boundaries.
    #[test]
    fn condensed_order_and_summary() {
        let ctx = Ctx::detached(2);
        for n in [2usize, 3, 5, 64, 65, 130, 301] {
            let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.91).cos()).collect();
            let m = n * (n - 1) / 2;
            let want = naive(&x, &y, &ctx).expect("naive");
            for par in [false, true] {
                let (d, (lo, hi, s)) = rows(&x, &y, m, par, &ctx).expect("rows");
                assert_eq!(d, want, "n={n} parallel={par}");
                let min = want.iter().copied().fold(f64::INFINITY, f64::min);
                let max = want.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = want.iter().sum();
                assert_eq!((lo, hi), (min, max));
                assert!((s - sum).abs() <= 1e-12 * sum, "n={n}");
            }
        }
    }

    /// Every row kernel this CPU can run writes the same bits, at every alignment of the
    /// row's start (the streaming ones peel elements up to a 32- or 64-byte boundary).
    #[test]
    fn every_instruction_set_gives_the_same_distances() {
        let n = 203;
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.91).cos()).collect();
        let mut isas = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx2() {
                isas.push(Isa::Avx2);
            }
            if has_avx512() {
                isas.push(Isa::Avx512);
            }
        }
        for i in [0, 1, 2, 7, 100, 190, 201] {
            let len = n - 1 - i;
            let mut want = vec![std::mem::MaybeUninit::new(0.0); len];
            let (lo, hi, sum) = row_body::<4>(i, &x, &y, &mut want);
            // SAFETY: row_body wrote every element (and they were initialised anyway).
            let want: Vec<f64> = want.iter().map(|v| unsafe { v.assume_init() }).collect();
            for &isa in &isas {
                for shift in 0..8 {
                    // The same row written at eight different offsets of a buffer.
                    let mut buf = vec![std::mem::MaybeUninit::new(-1.0); len + shift];
                    let st = isa.row(i, &x, &y, &mut buf[shift..]);
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: SSE is part of x86_64 (the fence row_range issues).
                    unsafe {
                        std::arch::x86_64::_mm_sfence()
                    };
                    // SAFETY: initialised above and by the row.
                    let got: Vec<f64> = buf[shift..].iter().map(|v| unsafe { v.assume_init() }).collect();
                    assert_eq!(got, want, "row {i} shift {shift}");
                    assert_eq!((st.0, st.1), (lo, hi));
                    assert!((st.2 - sum).abs() <= 1e-12 * sum.abs().max(1.0));
                }
            }
        }
    }
}
