//! Kernels shared by the CCD analyses: the 3x3 median (scipy `reflect` edges) computed
//! row by row, either by sorting every window (the chapter's way) or with a branch-free
//! min/max network; threshold runs, union-find labelling of runs numbered as
//! `scipy.ndimage.label` numbers them, and single-pass source moments.

use crate::ctx::Ctx;
use crate::kernels::buffers::chunk_len;
use crate::kernels::edges::reflect;
use crate::kernels::Method;
use crate::{Error, Result};
use rayon::prelude::*;

/// Rows between cancellation checks in the serial loops over a frame.
pub const ROWS_PER_CHECK: usize = 64;

#[inline(always)]
fn mn(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

#[inline(always)]
fn mx(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Median of three, branch-free.
#[inline(always)]
fn med3(a: f64, b: f64, c: f64) -> f64 {
    mx(mn(a, b), mn(mx(a, b), c))
}

/// One output row of the 3x3 median by sorting each 9-pixel window (scipy `reflect`
/// columns). `above`, `cur`, `below` are the (already reflected) input rows.
pub fn median3_row_sort(above: &[f64], cur: &[f64], below: &[f64], out: &mut [f64]) {
    let n = out.len();
    for (j, o) in out.iter_mut().enumerate() {
        let l = reflect(j as isize - 1, n);
        let r = reflect(j as isize + 1, n);
        let mut w = [
            above[l], above[j], above[r], cur[l], cur[j], cur[r], below[l], below[j], below[r],
        ];
        w.sort_unstable_by(f64::total_cmp);
        *o = w[4];
    }
}

/// Scratch rows for [`median3_row_fast`] (three columns-sorted rows with one pixel of
/// reflected padding on each side).
#[derive(Default)]
pub struct Median3Scratch {
    lo: Vec<f64>,
    mid: Vec<f64>,
    hi: Vec<f64>,
}

impl Median3Scratch {
    pub fn new(cols: usize) -> Self {
        Median3Scratch {
            lo: vec![0.0; cols + 2],
            mid: vec![0.0; cols + 2],
            hi: vec![0.0; cols + 2],
        }
    }
    /// Bytes held by the scratch rows.
    pub fn bytes(&self) -> usize {
        (self.lo.capacity() + self.mid.capacity() + self.hi.capacity()) * 8
    }
}

/// One output row of the 3x3 median without sorting: sort each column triple
/// (lo ≤ mid ≤ hi), then median9 = med3(max of the three lows, med3 of the mids, min of
/// the three highs). Branch-free min/max over whole rows, which LLVM vectorises: with
/// the widest vectors the CPU has (AVX-512: 8 lanes, AVX2: 4), chosen at run time, as
/// the portable build only assumes SSE2's 2. The same operations in the same order on
/// every path, so the same bits. Equal to [`median3_row_sort`] for all finite inputs.
pub fn median3_row_fast(
    above: &[f64],
    cur: &[f64],
    below: &[f64],
    out: &mut [f64],
    s: &mut Median3Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::kernels::simd::has_avx512() {
            // SAFETY: the CPU supports AVX-512F (checked at run time).
            return unsafe { median3_row_avx512(above, cur, below, out, s) };
        }
        if crate::kernels::simd::has_avx2() {
            // SAFETY: the CPU supports AVX2 (checked at run time).
            return unsafe { median3_row_avx2(above, cur, below, out, s) };
        }
    }
    median3_row_body(above, cur, below, out, s);
}

/// [`median3_row_body`] compiled for AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn median3_row_avx512(
    above: &[f64],
    cur: &[f64],
    below: &[f64],
    out: &mut [f64],
    s: &mut Median3Scratch,
) {
    median3_row_body(above, cur, below, out, s);
}

/// [`median3_row_body`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn median3_row_avx2(
    above: &[f64],
    cur: &[f64],
    below: &[f64],
    out: &mut [f64],
    s: &mut Median3Scratch,
) {
    median3_row_body(above, cur, below, out, s);
}

/// The network of [`median3_row_fast`], inlined into each instruction-set version.
#[inline(always)]
fn median3_row_body(
    above: &[f64],
    cur: &[f64],
    below: &[f64],
    out: &mut [f64],
    s: &mut Median3Scratch,
) {
    let n = out.len();
    if n == 0 {
        return;
    }
    s.lo.resize(n + 2, 0.0);
    s.mid.resize(n + 2, 0.0);
    s.hi.resize(n + 2, 0.0);
    let (a, b, c) = (&above[..n], &cur[..n], &below[..n]);
    {
        let lo = &mut s.lo[1..n + 1];
        let mid = &mut s.mid[1..n + 1];
        let hi = &mut s.hi[1..n + 1];
        for j in 0..n {
            let (x, y, z) = (a[j], b[j], c[j]);
            let l = mn(x, y);
            let h = mx(x, y);
            lo[j] = mn(l, z);
            hi[j] = mx(h, z);
            mid[j] = mx(l, mn(h, z));
        }
    }
    for v in [&mut s.lo, &mut s.mid, &mut s.hi] {
        v[0] = v[1];
        v[n + 1] = v[n];
    }
    let (l0, l1, l2) = (&s.lo[0..n], &s.lo[1..n + 1], &s.lo[2..n + 2]);
    let (m0, m1, m2) = (&s.mid[0..n], &s.mid[1..n + 1], &s.mid[2..n + 2]);
    let (h0, h1, h2) = (&s.hi[0..n], &s.hi[1..n + 1], &s.hi[2..n + 2]);
    for j in 0..n {
        let maxlo = mx(mx(l0[j], l1[j]), l2[j]);
        let medmid = med3(m0[j], m1[j], m2[j]);
        let minhi = mn(mn(h0[j], h1[j]), h2[j]);
        out[j] = med3(maxlo, medmid, minhi);
    }
}

/// Rows `r0..r0 + out.len()/cols` of the 3x3 median of `src` (`rows` x `cols`, row-major).
pub fn median3_rows(src: &[f64], rows: usize, cols: usize, r0: usize, out: &mut [f64], fast: bool) {
    let row = |r: usize| &src[r * cols..(r + 1) * cols];
    let mut s = Median3Scratch::new(if fast { cols } else { 0 });
    for (i, o) in out.chunks_exact_mut(cols).enumerate() {
        let r = r0 + i;
        let a = row(reflect(r as isize - 1, rows));
        let c = row(reflect(r as isize + 1, rows));
        if fast {
            median3_row_fast(a, row(r), c, o, &mut s);
        } else {
            median3_row_sort(a, row(r), c, o);
        }
    }
}

/// The 3x3 median of the whole frame with the method's kernel and scheduling (serial
/// methods report progress up to one half: the median is the first half of their work).
pub fn median3_frame(
    method: Method,
    src: &[f64],
    rows: usize,
    cols: usize,
    ctx: &Ctx,
) -> Result<Vec<f64>> {
    let mut out = vec![0.0; rows * cols];
    match method {
        Method::Naive | Method::Vectorized => {
            let fast = method == Method::Vectorized;
            for (b, chunk) in out.chunks_mut(ROWS_PER_CHECK * cols).enumerate() {
                ctx.check()?;
                median3_rows(src, rows, cols, b * ROWS_PER_CHECK, chunk, fast);
                ctx.progress(0.5 * ((b + 1) * ROWS_PER_CHECK) as f64 / rows as f64);
            }
        }
        Method::Parallel => {
            let band = chunk_len(rows, ctx.threads).min(ROWS_PER_CHECK);
            out.par_chunks_mut(band * cols)
                .enumerate()
                .try_for_each(|(b, chunk)| {
                    ctx.check()?;
                    median3_rows(src, rows, cols, b * band, chunk, true);
                    Ok::<(), Error>(())
                })?;
        }
    }
    Ok(out)
}

/// A horizontal run of mask pixels: row, first column, one past the last column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub row: u32,
    pub c0: u32,
    pub c1: u32,
}

/// Append the runs of `x > thr` in one row (strict `>`; NaN is never above).
/// Blocks of 32 pixels whose maximum is not above the threshold are skipped after one
/// vectorised max.
pub fn runs_in_row(x: &[f64], thr: f64, row: usize, out: &mut Vec<Run>) {
    const B: usize = 32;
    let n = x.len();
    let mut start: Option<usize> = None;
    let mut j = 0;
    while j < n {
        if start.is_none() && j + B <= n {
            let blk = &x[j..j + B];
            let m = blk.iter().fold(f64::NEG_INFINITY, |m, &v| mx(m, v));
            if m.partial_cmp(&thr) != Some(std::cmp::Ordering::Greater) {
                j += B;
                continue;
            }
        }
        let above = x[j] > thr;
        match (above, start) {
            (true, None) => start = Some(j),
            (false, Some(s)) => {
                out.push(Run {
                    row: row as u32,
                    c0: s as u32,
                    c1: j as u32,
                });
                start = None;
            }
            _ => {}
        }
        j += 1;
    }
    if let Some(s) = start {
        out.push(Run {
            row: row as u32,
            c0: s as u32,
            c1: n as u32,
        });
    }
}

/// Union-find over run indices (path halving; the smaller index becomes the root).
pub struct Dsu {
    pub parent: Vec<u32>,
}

impl Dsu {
    pub fn new(n: usize) -> Self {
        Dsu {
            parent: (0..n as u32).collect(),
        }
    }
    #[inline]
    pub fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let g = self.parent[self.parent[i as usize] as usize];
            self.parent[i as usize] = g;
            i = g;
        }
        i
    }
    #[inline]
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra < rb {
            self.parent[rb as usize] = ra;
        } else if rb < ra {
            self.parent[ra as usize] = rb;
        }
    }
}

/// Union the runs of two consecutive rows: `prev` and `cur` are index ranges into `runs`
/// (each sorted by column). 4-connected runs touch when their column ranges overlap,
/// 8-connected ones also when they touch diagonally.
pub fn union_rows(
    runs: &[Run],
    prev: std::ops::Range<usize>,
    cur: std::ops::Range<usize>,
    eight: bool,
    dsu: &mut Dsu,
    offset: u32,
) {
    let ext = u32::from(eight);
    let mut p = prev.start;
    for i in cur {
        let r = runs[i];
        // skip previous runs that end before this run can touch them
        while p < prev.end && runs[p].c1 + ext <= r.c0 {
            p += 1;
        }
        let mut q = p;
        while q < prev.end && runs[q].c0 < r.c1 + ext {
            dsu.union(offset + q as u32, offset + i as u32);
            q += 1;
        }
    }
}

/// Index ranges of each row's runs in `runs` (sorted by row): `(row, start..end)`.
pub fn row_ranges(runs: &[Run]) -> Vec<(u32, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < runs.len() {
        let r = runs[i].row;
        let s = i;
        while i < runs.len() && runs[i].row == r {
            i += 1;
        }
        out.push((r, s..i));
    }
    out
}

/// Union all runs of a band (rows consecutive in `runs`), local indices + `offset`.
pub fn union_band(runs: &[Run], eight: bool, dsu: &mut Dsu, offset: u32) {
    let rr = row_ranges(runs);
    for w in rr.windows(2) {
        if w[1].0 == w[0].0 + 1 {
            union_rows(runs, w[0].1.clone(), w[1].1.clone(), eight, dsu, offset);
        }
    }
}

/// Final labels 1..=n per run, numbered in raster order of each component's first run
/// (= first pixel), as `scipy.ndimage.label` numbers them.
pub fn number_runs(dsu: &mut Dsu) -> (Vec<i32>, usize) {
    let n = dsu.parent.len();
    let mut lab_of_root = vec![0i32; n];
    let mut out = vec![0i32; n];
    let mut next = 0i32;
    for i in 0..n as u32 {
        let r = dsu.find(i) as usize;
        if lab_of_root[r] == 0 {
            next += 1;
            lab_of_root[r] = next;
        }
        out[i as usize] = lab_of_root[r];
    }
    (out, next as usize)
}

/// Paint run labels into a label image rows `r0..` (`out` holds whole rows).
pub fn paint(runs: &[Run], run_label: &[i32], cols: usize, r0: usize, out: &mut [i32]) {
    for (r, &l) in runs.iter().zip(run_label) {
        let base = (r.row as usize - r0) * cols;
        out[base + r.c0 as usize..base + r.c1 as usize].fill(l);
    }
}

/// Per-source sums accumulated in raster order (so every variant adds the same terms in
/// the same order).
#[derive(Clone, Copy, Debug, Default)]
pub struct Moments {
    pub npix: u64,
    pub flux: f64,
    pub sr: f64,
    pub sc: f64,
    pub wr: f64,
    pub wc: f64,
}

impl Moments {
    #[inline]
    pub fn add(&mut self, r: usize, c: usize, v: f64) {
        let (rf, cf) = (r as f64, c as f64);
        self.npix += 1;
        self.flux += v;
        self.sr += rf;
        self.sc += cf;
        self.wr += v * rf;
        self.wc += v * cf;
    }
}

/// One pass over the runs: moments of every label from `values` (row-major, `cols` wide).
pub fn moments_from_runs(
    runs: &[Run],
    run_label: &[i32],
    n_labels: usize,
    values: &[f64],
    cols: usize,
) -> Vec<Moments> {
    let mut m = vec![Moments::default(); n_labels];
    for (r, &l) in runs.iter().zip(run_label) {
        if l <= 0 {
            continue; // dropped (smaller than minarea)
        }
        let row = r.row as usize;
        let acc = &mut m[(l - 1) as usize];
        let base = row * cols;
        for c in r.c0 as usize..r.c1 as usize {
            acc.add(row, c, values[base + c]);
        }
    }
    m
}

/// The source table columns, as DESIGN.md names them.
pub const SOURCE_COLUMNS: [&str; 7] = [
    "label",
    "npix",
    "flux_sum",
    "centroid_row",
    "centroid_col",
    "wcentroid_row",
    "wcentroid_col",
];

/// Rows of the source table from per-label moments (labels 1..=n).
pub fn source_table(m: &[Moments]) -> ndarray::Array2<f64> {
    let mut t = ndarray::Array2::zeros((m.len(), SOURCE_COLUMNS.len()));
    for (i, s) in m.iter().enumerate() {
        let n = s.npix as f64;
        t[[i, 0]] = (i + 1) as f64;
        t[[i, 1]] = n;
        t[[i, 2]] = s.flux;
        t[[i, 3]] = s.sr / n;
        t[[i, 4]] = s.sc / n;
        t[[i, 5]] = s.wr / s.flux;
        t[[i, 6]] = s.wc / s.flux;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::Rng;

    #[test]
    fn fast_median_equals_sorting_with_ties_and_edges() {
        let mut r = Rng::new(3);
        for (rows, cols) in [(1, 1), (1, 5), (2, 2), (3, 7), (17, 33), (40, 64)] {
            let x: Vec<f64> = (0..rows * cols)
                .map(|_| (r.normal() * 2.0).round())
                .collect();
            let mut a = vec![0.0; rows * cols];
            let mut b = vec![0.0; rows * cols];
            median3_rows(&x, rows, cols, 0, &mut a, false);
            median3_rows(&x, rows, cols, 0, &mut b, true);
            assert_eq!(a, b, "{rows}x{cols}");
        }
    }

    #[test]
    fn runs_cover_exactly_the_pixels_above() {
        let mut r = Rng::new(9);
        for n in [1, 31, 32, 33, 100, 257] {
            let x: Vec<f64> = (0..n)
                .map(|_| if r.uniform() < 0.2 { 10.0 } else { 0.0 })
                .collect();
            let mut runs = Vec::new();
            runs_in_row(&x, 5.0, 0, &mut runs);
            let mut m = vec![false; n];
            for q in &runs {
                assert!(q.c0 < q.c1);
                for c in q.c0..q.c1 {
                    m[c as usize] = true;
                }
            }
            let want: Vec<bool> = x.iter().map(|&v| v > 5.0).collect();
            assert_eq!(m, want, "n={n}");
        }
    }
}
