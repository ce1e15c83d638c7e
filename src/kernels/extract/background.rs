//! SExtractor-like source extraction for `ccd-pipeline detect=background`: a background
//! and RMS mesh (±3σ-clipped statistics per `back_size` box from a histogram, mode =
//! 2.5·median − 1.5·mean when the field is crowded, else the clipped mean), a 3x3 median
//! filter over the meshes, bilinear interpolation between mesh centres, a detection
//! filter (SExtractor's default.conv [1 2 1; 2 4 2; 1 2 1]/16, a Gaussian of `filter_fwhm`,
//! or none), a threshold of `thresh` × the global RMS (or the local RMS map) above the
//! local background, 8-connected labels, `minarea`, multi-threshold deblending
//! ([`crate::kernels::extract::deblend`]) and SExtractor's measurements
//! ([`crate::kernels::extract::photometry`]), after SExtractor's CLEAN
//! ([`crate::kernels::extract::clean`]). Not done (unlike SExtractor): weight maps, windowed
//! positions.
//!
//! Every variant computes each pixel with the same expressions, so the images agree bit
//! for bit; the variants differ in scheduling (serial vs rayon over mesh bands and row
//! blocks) and in labelling: the naive variant stores the detection image and labels it
//! the chapter's way, the others threshold each row as the fused subtract+filter pass
//! makes it and label the runs (keeping the detection values only along them).
//!
//! Stages: `mesh`, `mesh_filter`, `subtract_filter` (background interpolated per row from
//! the meshes, subtracted, filtered, scaled and — except naive — thresholded), `filter`
//! (only for a Gaussian filter), `threshold` (naive and Gaussian), `label`, `measure`,
//! `objects`, `deblend`, `clean`, `photometry`, and `full_maps` with `maps=full`.

use crate::analyses::ccd_pipeline::{
    detect, label_runs, nonfinite_error, to_dyn, to_dyn_i32, Detection,
};
use crate::engine::{Ctx, Output, Tolerance, Variant};
use crate::kernels::common::{reflect, write_all, zeroed_f64};
use crate::kernels::extract::clean::{clean, CleanParams};
use crate::kernels::extract::deblend::{deblend_object, Children, DeblendParams};
use crate::kernels::extract::photometry::{columns, measure, Images, ObjectRef, PhotParams, NCOL};
use crate::kernels::image::{median3_rows, runs_in_row, Run};
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Order-preserving map of an f64 to a u64 (the order of `f64::total_cmp`).
#[inline]
fn key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

#[inline]
fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Sort f64 values in `f64::total_cmp` order with an LSD radix sort on their bit keys
/// (11-bit digits; a digit in which no two values differ is skipped, as the sign and
/// exponent of a mesh of sky pixels mostly are). The same order as
/// `sort_unstable_by(f64::total_cmp)`, several times faster on a 64x64 mesh.
pub fn radix_sort_f64(vals: &mut [f64], scratch: &mut Vec<u64>, keys: &mut Vec<u64>) {
    const BITS: u32 = 11;
    const MASK: u64 = (1 << BITS) - 1;
    let n = vals.len();
    if n < 64 {
        vals.sort_unstable_by(f64::total_cmp);
        return;
    }
    keys.clear();
    keys.extend(vals.iter().map(|&v| key(v)));
    scratch.clear();
    scratch.resize(n, 0);
    let k0 = keys[0];
    let diff = keys.iter().fold(0u64, |d, &k| d | (k ^ k0));
    let (mut src, mut dst) = (keys, scratch);
    let mut hist = vec![0usize; 1 << BITS];
    let mut shift = 0;
    while shift < 64 {
        if (diff >> shift) & MASK != 0 {
            hist.fill(0);
            for &k in src.iter() {
                hist[((k >> shift) & MASK) as usize] += 1;
            }
            let mut acc = 0;
            for h in hist.iter_mut() {
                let c = *h;
                *h = acc;
                acc += c;
            }
            for &k in src.iter() {
                let d = ((k >> shift) & MASK) as usize;
                dst[hist[d]] = k;
                hist[d] += 1;
            }
            std::mem::swap(&mut src, &mut dst);
        }
        shift += BITS;
    }
    for (v, &k) in vals.iter_mut().zip(src.iter()) {
        *v = unkey(k);
    }
}

/// Sigma-clipped (±3σ about the median, to convergence) background and RMS of one mesh.
pub fn mesh_stats(vals: &mut [f64]) -> (f64, f64) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    mesh_stats_with(vals, &mut a, &mut b)
}

/// [`mesh_stats`] with caller-provided scratch for the radix sort.
pub fn mesh_stats_with(vals: &mut [f64], s1: &mut Vec<u64>, s2: &mut Vec<u64>) -> (f64, f64) {
    if vals.is_empty() {
        return (0.0, 0.0);
    }
    radix_sort_f64(vals, s1, s2);
    let n = vals.len();
    // prefix sums of (v − c) and (v − c)², c the median: the mean and σ of any slice of
    // the sorted values in O(1), so each clipping iteration costs two binary searches
    let c = vals[n / 2];
    let mut p1 = Vec::with_capacity(n + 1);
    let mut p2 = Vec::with_capacity(n + 1);
    let (mut a1, mut a2) = (0.0f64, 0.0f64);
    p1.push(0.0);
    p2.push(0.0);
    for &v in vals.iter() {
        let d = v - c;
        a1 += d;
        a2 += d * d;
        p1.push(a1);
        p2.push(a2);
    }
    let stats = |lo: usize, hi: usize| {
        let m = (hi - lo) as f64;
        let s1 = (p1[hi] - p1[lo]) / m;
        let var = ((p2[hi] - p2[lo]) / m - s1 * s1).max(0.0);
        let k = lo + (hi - lo) / 2;
        let med = if (hi - lo) % 2 == 1 {
            vals[k]
        } else {
            0.5 * (vals[k - 1] + vals[k])
        };
        (c + s1, var.sqrt(), med)
    };
    let (mut lo, mut hi) = (0, n);
    let (_, sigma0, _) = stats(0, n);
    let (mut mean, mut sigma, mut med) = stats(0, n);
    for _ in 0..100 {
        let (a, b) = (med - 3.0 * sigma, med + 3.0 * sigma);
        let nlo = vals.partition_point(|&v| v < a);
        let nhi = vals.partition_point(|&v| v <= b);
        if nhi <= nlo || (nlo == lo && nhi == hi) {
            break;
        }
        lo = nlo;
        hi = nhi;
        (mean, sigma, med) = stats(lo, hi);
    }
    // SExtractor: an uncrowded mesh (σ changed by less than 20%) uses the clipped mean,
    // a crowded one the mode estimate.
    let back = if sigma >= 0.8 * sigma0 {
        mean
    } else {
        2.5 * med - 1.5 * mean
    };
    (back, sigma)
}

/// Scratch for [`mesh_stats_hist`]: bin counts and prefix sums.
#[derive(Default)]
pub struct HistScratch {
    cnt: Vec<u32>,
    p0: Vec<f64>,
    p1: Vec<f64>,
    p2: Vec<f64>,
}

/// Bins of the mesh histograms. A 64×64 mesh's median is uncertain by ~0.02σ, so bins of
/// 8σ/1024 ≈ 0.008σ (the median interpolated inside its bin) lose nothing measurable;
/// SExtractor's ~4096 levels made the prefix sums cost as much as the pixel passes.
const HIST_BINS: usize = 1024;

/// [`mesh_stats`] the way SExtractor estimates it, from a histogram instead of a sort:
/// one pass for the mean and σ0 of the mesh, a [`HIST_BINS`]-bin histogram over
/// mean ± 4σ0, the ±3σ-about-the-median clipping iterated to convergence on the bins'
/// prefix sums (median interpolated inside its bin), then a second histogram over the
/// result ± 5σ and the clipping again. Three passes over the pixels instead of a sort;
/// the result differs from the exact one by a fraction of a bin (< 0.01σ, tested).
pub fn mesh_stats_hist(vals: &[f64], h: &mut HistScratch) -> (f64, f64) {
    const NB: usize = HIST_BINS;
    let n = vals.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let c0 = vals[0];
    // four partial sums, so the adds do not wait on each other
    let (mut s1, mut s2) = ([0.0f64; 4], [0.0f64; 4]);
    let mut quads = vals.chunks_exact(4);
    for q in &mut quads {
        for l in 0..4 {
            let d = q[l] - c0;
            s1[l] += d;
            s2[l] += d * d;
        }
    }
    for (l, &v) in quads.remainder().iter().enumerate() {
        let d = v - c0;
        s1[l] += d;
        s2[l] += d * d;
    }
    let s1 = (s1[0] + s1[1]) + (s1[2] + s1[3]);
    let s2 = (s2[0] + s2[1]) + (s2[2] + s2[3]);
    let nf = n as f64;
    let mean0 = c0 + s1 / nf;
    let sigma0 = (s2 / nf - (s1 / nf) * (s1 / nf)).max(0.0).sqrt();
    if sigma0.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return (mean0, 0.0);
    }
    let (mut centre, mut half) = (mean0, 4.0 * sigma0);
    let (mut mean, mut sigma, mut med) = (mean0, sigma0, mean0);
    for _round in 0..2 {
        let lo = centre - half;
        let w = 2.0 * half / NB as f64;
        let inv = 1.0 / w;
        // bins 1..=NB; 0 and NB+1 collect what falls outside (and NaN, in 0), so the
        // loop has no branch to mispredict; the bin numbers of a block of pixels are
        // computed first (vectorised), then counted
        h.cnt.clear();
        h.cnt.resize(NB + 2, 0);
        let mut idx = [0u32; 256];
        for block in vals.chunks(idx.len()) {
            let idx = &mut idx[..block.len()];
            bin_numbers(block, lo, inv, NB, idx);
            for &b in idx.iter() {
                if let Some(c) = h.cnt.get_mut(b as usize) {
                    *c += 1;
                }
            }
        }
        // prefix sums of count, count·x, count·x² with x = i + 0.5 (bin units)
        for p in [&mut h.p0, &mut h.p1, &mut h.p2] {
            p.clear();
            p.resize(NB + 1, 0.0);
        }
        let (mut a0, mut a1, mut a2) = (0.0, 0.0, 0.0);
        for (i, &c) in h.cnt[1..=NB].iter().enumerate() {
            let c = c as f64;
            let x = i as f64 + 0.5;
            a0 += c;
            a1 += c * x;
            a2 += c * x * x;
            h.p0[i + 1] = a0;
            h.p1[i + 1] = a1;
            h.p2[i + 1] = a2;
        }
        // stats of bins lo_b..hi_b (exclusive), in data units
        let stats = |b0: usize, b1: usize| -> Option<(f64, f64, f64)> {
            let m = h.p0[b1] - h.p0[b0];
            if m <= 0.0 {
                return None;
            }
            let mx = (h.p1[b1] - h.p1[b0]) / m;
            let var = ((h.p2[b1] - h.p2[b0]) / m - mx * mx).max(0.0);
            // median: the bin where the cumulative count passes half, interpolated
            let target = h.p0[b0] + 0.5 * m;
            let k = h.p0[b0..=b1].partition_point(|&c| c < target) + b0;
            let k = k.clamp(b0 + 1, b1) - 1; // bin k holds the target
            let ck = h.cnt[k + 1] as f64;
            let frac = if ck > 0.0 {
                (target - h.p0[k]) / ck
            } else {
                0.5
            };
            Some((lo + mx * w, var.sqrt() * w, lo + (k as f64 + frac) * w))
        };
        let (mut b0, mut b1) = (0usize, NB);
        match stats(b0, b1) {
            Some(st) => (mean, sigma, med) = st,
            None => break,
        }
        for _ in 0..100 {
            let (a, b) = (med - 3.0 * sigma, med + 3.0 * sigma);
            // bins whose centre lies in [a, b]
            let n0 = ((a - lo) * inv - 0.5).ceil().clamp(0.0, NB as f64) as usize;
            let n1 = (((b - lo) * inv - 0.5).floor() + 1.0).clamp(0.0, NB as f64) as usize;
            if n1 <= n0 || (n0 == b0 && n1 == b1) {
                break;
            }
            b0 = n0;
            b1 = n1;
            match stats(b0, b1) {
                Some(st) => (mean, sigma, med) = st,
                None => break,
            }
        }
        // a second, finer histogram only where the clipping shrank σ a lot (stars in
        // the mesh): otherwise the bins are already ≤ 1/64 of the clipped σ
        if sigma.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || sigma >= 0.5 * sigma0 {
            break;
        }
        centre = med;
        half = 5.0 * sigma;
    }
    let back = if sigma >= 0.8 * sigma0 {
        mean
    } else {
        2.5 * med - 1.5 * mean
    };
    (back, sigma)
}

/// Histogram bin numbers `((v − lo)·inv + 1)` clamped to 0..=nb+1 (NaN to 0).
fn bin_numbers(v: &[f64], lo: f64, inv: f64, nb: usize, out: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { bin_numbers_avx2(v, lo, inv, nb, out) };
        return;
    }
    bin_numbers_body(v, lo, inv, nb, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bin_numbers_avx2(v: &[f64], lo: f64, inv: f64, nb: usize, out: &mut [u32]) {
    bin_numbers_body(v, lo, inv, nb, out);
}

#[inline(always)]
fn bin_numbers_body(v: &[f64], lo: f64, inv: f64, nb: usize, out: &mut [u32]) {
    let top = (nb + 1) as f64;
    for (o, &x) in out.iter_mut().zip(v) {
        let t = (x - lo) * inv + 1.0;
        // compare-and-select: one maxpd/minpd each; NaN fails `t > 0` and becomes 0
        let t = if t > 0.0 { t } else { 0.0 };
        let t = if t < top { t } else { top };
        *o = t as i32 as u32;
    }
}

/// Interpolation weights along one axis: for each pixel, the two mesh indices and the
/// weight of the second (bilinear between mesh centres, constant beyond the outer ones).
fn axis_weights(n: usize, bs: usize) -> Vec<(usize, usize, f64)> {
    let nm = n.div_ceil(bs);
    let centre = |i: usize| {
        let s = i * bs;
        let e = ((i + 1) * bs).min(n);
        (s + e - 1) as f64 / 2.0
    };
    (0..n)
        .map(|p| {
            let x = p as f64;
            if nm == 1 || x <= centre(0) {
                return (0, 0, 0.0);
            }
            if x >= centre(nm - 1) {
                return (nm - 1, nm - 1, 0.0);
            }
            let mut i = (p / bs).min(nm - 1);
            if x < centre(i) {
                i -= 1;
            }
            let (c0, c1) = (centre(i), centre(i + 1));
            (i, i + 1, (x - c0) / (c1 - c0))
        })
        .collect()
}

/// One row of a bilinearly interpolated mesh map: the two mesh rows are blended once
/// (`tmp`, one value per mesh column), then each pixel interpolates between two of those.
fn interp_row(
    mesh: &[f64],
    nx: usize,
    wy: (usize, usize, f64),
    wx: &[(usize, usize, f64)],
    tmp: &mut Vec<f64>,
    out: &mut [f64],
) {
    let (i0, i1, ty) = wy;
    let (r0, r1) = (&mesh[i0 * nx..(i0 + 1) * nx], &mesh[i1 * nx..(i1 + 1) * nx]);
    tmp.clear();
    tmp.extend(r0.iter().zip(r1).map(|(&a, &b)| a + ty * (b - a)));
    for (o, &(j0, j1, tx)) in out.iter_mut().zip(wx) {
        let (a, b) = (tmp[j0], tmp[j1]);
        *o = a + tx * (b - a);
    }
}

/// A mesh map (background or RMS) read at full resolution: bilinear between mesh centres,
/// constant beyond the outer ones. `row` and `at` use the same expressions, so a pixel
/// read either way has the same value bit for bit.
pub struct MeshMap<'a> {
    mesh: &'a [f64],
    nx: usize,
    cols: usize,
    wx: Vec<(usize, usize, f64)>,
    wy: Vec<(usize, usize, f64)>,
}

impl<'a> MeshMap<'a> {
    pub fn new(mesh: &'a [f64], nx: usize, rows: usize, cols: usize, bs: usize) -> Self {
        MeshMap {
            mesh,
            nx,
            cols,
            wx: axis_weights(cols, bs),
            wy: axis_weights(rows, bs),
        }
    }

    /// Row `r` into `out` (`tmp` holds the two mesh rows blended, one value per mesh column).
    pub fn row(&self, r: usize, tmp: &mut Vec<f64>, out: &mut [f64]) {
        interp_row(self.mesh, self.nx, self.wy[r], &self.wx, tmp, out);
    }

    /// The value at flat pixel index `k`.
    pub fn at(&self, k: usize) -> f64 {
        let (r, c) = (k / self.cols, k % self.cols);
        let (i0, i1, ty) = self.wy[r];
        let (j0, j1, tx) = self.wx[c];
        let m = |i: usize, j: usize| self.mesh[i * self.nx + j];
        let a = m(i0, j0) + ty * (m(i1, j0) - m(i0, j0));
        let b = m(i0, j1) + ty * (m(i1, j1) - m(i0, j1));
        a + tx * (b - a)
    }

    /// The whole map, rows in parallel or not.
    fn full(&self, rows: usize, par: bool, ctx: &Ctx) -> Result<Vec<f64>> {
        let mut out = zeroed_f64(rows * self.cols, par);
        rows_do(par, &mut out, self.cols, ctx, &|r, o| {
            let mut tmp = Vec::with_capacity(self.nx);
            self.row(r, &mut tmp, o);
        })?;
        Ok(out)
    }
}

/// Divide a filtered row by the global RMS (−∞ where there is no noise estimate, so
/// nothing is detected there).
fn scale_global(o: &mut [f64], rms: f64) {
    if rms > 0.0 {
        let inv = 1.0 / rms;
        for v in o.iter_mut() {
            *v *= inv;
        }
    } else {
        o.fill(f64::NEG_INFINITY);
    }
}

/// Divide a filtered row by the local RMS row.
fn scale_local(o: &mut [f64], rms: &[f64]) {
    for (v, &e) in o.iter_mut().zip(rms) {
        *v = if e > 0.0 { *v / e } else { f64::NEG_INFINITY };
    }
}

/// One row of the 3x3 detection filter [1 2 1; 2 4 2; 1 2 1]/16 (reflect edges): the
/// column sums a + 2b + c once into `cs`, then (cs[j−1] + 2 cs[j] + cs[j+1]) / 16 — two
/// vectorised passes instead of three column sums per pixel.
fn filter_row(a: &[f64], b: &[f64], c: &[f64], out: &mut [f64], cs: &mut Vec<f64>) {
    let n = out.len();
    cs.clear();
    cs.extend(a.iter().zip(b).zip(c).map(|((&a, &b), &c)| a + 2.0 * b + c));
    if n < 3 {
        for (j, o) in out.iter_mut().enumerate() {
            let l = reflect(j as isize - 1, n);
            let r = reflect(j as isize + 1, n);
            *o = (cs[l] + 2.0 * cs[j] + cs[r]) * 0.0625;
        }
        return;
    }
    out[0] = (cs[0] + 2.0 * cs[0] + cs[1]) * 0.0625;
    out[n - 1] = (cs[n - 2] + 2.0 * cs[n - 1] + cs[n - 1]) * 0.0625;
    for (o, w) in out[1..n - 1].iter_mut().zip(cs.windows(3)) {
        *o = (w[0] + 2.0 * w[1] + w[2]) * 0.0625;
    }
}

/// A normalised 1-D Gaussian kernel of the given FWHM (radius ceil(3σ)).
pub fn gaussian_kernel(fwhm: f64) -> Vec<f64> {
    let sigma = fwhm / 2.354_820_045;
    let rad = (3.0 * sigma).ceil().max(1.0) as isize;
    let k: Vec<f64> = (-rad..=rad)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    k.iter().map(|v| v / s).collect()
}

/// Detection filter settings: SExtractor's default 3x3 kernel, a separable Gaussian of a
/// given FWHM, or none.
#[derive(Clone, Debug, PartialEq)]
pub enum DetFilter {
    None,
    Pyramid3,
    Gaussian(Vec<f64>),
}

pub struct BackParams {
    pub back_size: usize,
    pub thresh: f64,
    /// Threshold in units of the global RMS (SExtractor without a weight map) instead of
    /// the local RMS map.
    pub global_rms: bool,
    pub minarea: usize,
    pub filter: DetFilter,
    /// `None`: no deblending.
    pub deblend: Option<DeblendParams>,
    /// `None`: no CLEAN.
    pub clean: Option<CleanParams>,
    /// Also output the background and RMS maps at full resolution (the meshes always are).
    pub full_maps: bool,
    pub phot: PhotParams,
}

/// One final object: a deblended child and the detections CLEAN merged into it.
struct Obj {
    /// The detection (1-based) it came from.
    parent: usize,
    blended: bool,
    pix: Vec<u32>,
    merged: Vec<u32>,
}

/// Rows per parallel task (and per cancellation check) in the image stages.
const ROW_BLOCK: usize = 16;

/// Run `job(r, row)` for every row of `out` (`cols` wide): serially with a cancellation
/// check every [`ROW_BLOCK`] rows, or over rayon in blocks of rows.
fn rows_do(
    par: bool,
    out: &mut [f64],
    cols: usize,
    ctx: &Ctx,
    job: &(dyn Fn(usize, &mut [f64]) + Sync),
) -> Result<()> {
    let run_block = |b: usize, chunk: &mut [f64]| -> Result<()> {
        ctx.check()?;
        for (i, o) in chunk.chunks_mut(cols).enumerate() {
            job(b * ROW_BLOCK + i, o);
        }
        Ok(())
    };
    if par {
        out.par_chunks_mut(ROW_BLOCK * cols)
            .enumerate()
            .try_for_each(|(b, c)| run_block(b, c))
    } else {
        out.chunks_mut(ROW_BLOCK * cols)
            .enumerate()
            .try_for_each(|(b, c)| run_block(b, c))
    }
}

/// Run background-mode detection on a row-major frame.
pub fn run(
    variant: Variant,
    src: &[f64],
    rows: usize,
    cols: usize,
    p: &BackParams,
    ctx: &Ctx,
) -> Result<Output> {
    let par = variant == Variant::Parallel;
    let bs = p.back_size.max(1);
    let (ny, nx) = (rows.div_ceil(bs), cols.div_ceil(bs));
    // 1. mesh statistics
    let (mut back_mesh, mut rms_mesh) = stage!(ctx, "mesh", {
        type Scratch = (Vec<f64>, HistScratch);
        let one = |st: &mut Scratch, m: usize| {
            ctx.check()?;
            let (i, j) = (m / nx, m % nx);
            let (r0, r1) = (i * bs, ((i + 1) * bs).min(rows));
            let (c0, c1) = (j * bs, ((j + 1) * bs).min(cols));
            let (v, hs) = st;
            v.clear();
            for r in r0..r1 {
                v.extend_from_slice(&src[r * cols + c0..r * cols + c1]);
            }
            Ok(mesh_stats_hist(v, hs))
        };
        let stats: Vec<(f64, f64)> = if par {
            (0..ny * nx)
                .into_par_iter()
                .map_init(Scratch::default, one)
                .collect::<Result<_>>()?
        } else {
            let mut st = Scratch::default();
            (0..ny * nx)
                .map(|m| one(&mut st, m))
                .collect::<Result<_>>()?
        };
        (
            stats.iter().map(|s| s.0).collect::<Vec<f64>>(),
            stats.iter().map(|s| s.1).collect::<Vec<f64>>(),
        )
    });
    ctx.check()?;
    // a NaN or infinity anywhere makes its mesh's sums non-finite: only then is the frame
    // scanned to count them (the frame is not read an extra time to check it)
    if back_mesh.iter().chain(&rms_mesh).any(|v| !v.is_finite()) {
        let bad = src.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(nonfinite_error(bad));
        }
    }
    ctx.progress(0.3);
    // 2. 3x3 median filter over the meshes
    stage!(ctx, "mesh_filter", {
        for m in [&mut back_mesh, &mut rms_mesh] {
            let mut out = vec![0.0; ny * nx];
            median3_rows(m, ny, nx, 0, &mut out, variant != Variant::Naive);
            *m = out;
        }
    });
    // SExtractor's global background RMS: the median of the (filtered) RMS meshes
    let global_rms = {
        let mut m = rms_mesh.clone();
        m.sort_unstable_by(f64::total_cmp);
        let k = m.len() / 2;
        if m.is_empty() {
            0.0
        } else if m.len() % 2 == 1 {
            m[k]
        } else {
            0.5 * (m[k - 1] + m[k])
        }
    };
    // 3. the subtracted image and the detection image in one pass over blocks of rows:
    //    background (and, for a local threshold, RMS) rows are interpolated from the meshes
    //    on the fly and never stored, so each pixel of the frame is read once and written
    //    twice (SExtractor and sep also keep only the meshes).
    let back = MeshMap::new(&back_mesh, nx, rows, cols, bs);
    let noise = MeshMap::new(&rms_mesh, nx, rows, cols, bs);
    // the filtered row r over the global RMS, or over the local RMS row (interpolated into
    // `e` with `tmp`)
    let scale = |r: usize, o: &mut [f64], tmp: &mut Vec<f64>, e: &mut [f64]| {
        if p.global_rms {
            scale_global(o, global_rms);
        } else {
            noise.row(r, tmp, e);
            scale_local(o, e);
        }
    };
    let fused = !matches!(p.filter, DetFilter::Gaussian(_));
    // Vectorized and parallel never store the detection image: each row is thresholded
    // while in cache and only the runs above the threshold keep their values (a few % of
    // the frame). The naive variant stores the whole image and labels it the chapter's way.
    let sparse = fused && variant != Variant::Naive;
    type Block = (Vec<Run>, Vec<f64>);
    let (sub, signif, blocks) = stage!(ctx, "subtract_filter", {
        // `sub` is faulted in up front by `zeroed_f64` (huge pages, zeroed over the
        // threads) and then overwritten; it is cleared (the memory stays, as spare
        // capacity) so that the pass writes it through `spare_capacity_mut`. Measured in
        // one sitting, 15 runs each, three alternations: parallel 104–139 ms against
        // 133–152 ms, vectorized 193–198 ms against 242–268 ms, when the pass itself took
        // the first touch of fresh pages.
        // (Huge pages touched first inside the pass made runs bimodal: the kernel
        // compacted memory in the middle of it.)
        let mut sub: Vec<f64> = zeroed_f64(rows * cols, par);
        sub.clear();
        let mut signif: Vec<f64> =
            Vec::with_capacity(if fused && !sparse { rows * cols } else { 0 });
        let n = ROW_BLOCK * cols;
        // per worker: the block's subtracted rows with one row of margin above and below,
        // a blended mesh row, a background (or RMS) row and a detection row
        type Scratch = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
        let init = || -> Scratch {
            (
                vec![0.0; (ROW_BLOCK + 2) * cols],
                Vec::with_capacity(nx),
                vec![0.0; cols],
                vec![0.0; cols],
                Vec::with_capacity(cols),
            )
        };
        let block = |st: &mut Scratch,
                     k: usize,
                     s: &mut [MaybeUninit<f64>],
                     d: &mut [MaybeUninit<f64>]|
         -> Result<Block> {
            ctx.check()?;
            let (win, tmp, bg, row, cs) = st;
            let r0 = k * ROW_BLOCK;
            let nr = s.len() / cols;
            // window row w holds image row r0 + w − 1 (reflected at the frame's edges)
            let margin = usize::from(fused && matches!(p.filter, DetFilter::Pyramid3));
            for w in (1 - margin)..(nr + 1 + margin) {
                let r = reflect(r0 as isize + w as isize - 1, rows);
                back.row(r, tmp, bg);
                let o = &mut win[w * cols..(w + 1) * cols];
                for ((o, &x), &b) in o.iter_mut().zip(&src[r * cols..(r + 1) * cols]).zip(&*bg) {
                    *o = x - b;
                }
            }
            for (i, o) in s.chunks_mut(cols).enumerate() {
                write_all(o, &win[(i + 1) * cols..(i + 2) * cols]);
            }
            let (mut runs, mut vals) = (Vec::new(), Vec::new());
            if !fused {
                return Ok((runs, vals));
            }
            for i in 0..nr {
                let w = |j: usize| &win[j * cols..(j + 1) * cols];
                match p.filter {
                    DetFilter::Pyramid3 => filter_row(w(i), w(i + 1), w(i + 2), row, cs),
                    _ => row.copy_from_slice(w(i + 1)),
                }
                scale(r0 + i, row, tmp, bg);
                if sparse {
                    let first = runs.len();
                    runs_in_row(row, p.thresh, r0 + i, &mut runs);
                    for run in &runs[first..] {
                        vals.extend_from_slice(&row[run.c0 as usize..run.c1 as usize]);
                    }
                } else {
                    write_all(&mut d[i * cols..(i + 1) * cols], row);
                }
            }
            Ok((runs, vals))
        };
        let total = rows * cols;
        let blocks: Vec<Block> = {
            let s_out = &mut sub.spare_capacity_mut()[..total];
            let dense = fused && !sparse;
            let d_len = if dense { total } else { 0 };
            let d_out = &mut signif.spare_capacity_mut()[..d_len];
            if dense {
                // the naive variant: serial, the detection image stored
                s_out
                    .chunks_mut(n)
                    .zip(d_out.chunks_mut(n))
                    .enumerate()
                    .scan(init(), |st, (k, (s, d))| Some(block(st, k, s, d)))
                    .collect::<Result<_>>()?
            } else if par {
                s_out
                    .par_chunks_mut(n)
                    .enumerate()
                    .map_init(init, |st, (k, s)| block(st, k, s, &mut []))
                    .collect::<Result<_>>()?
            } else {
                let mut st = init();
                s_out
                    .chunks_mut(n)
                    .enumerate()
                    .map(|(k, s)| block(&mut st, k, s, &mut []))
                    .collect::<Result<_>>()?
            }
        };
        // SAFETY: every block wrote all of its values of `sub` (and of `signif` when it
        // is stored); a cancelled run returned above with the vectors still empty.
        unsafe {
            sub.set_len(total);
            if fused && !sparse {
                signif.set_len(total);
            }
        }
        (sub, signif, blocks)
    });
    ctx.check()?;
    ctx.progress(0.5);
    // 4. a Gaussian detection filter: separable, along rows then along columns
    let signif = match &p.filter {
        DetFilter::Gaussian(k) => stage!(ctx, "filter", {
            let row = |r: usize| &sub[r * cols..(r + 1) * cols];
            let h = (k.len() / 2) as isize;
            let mut d = zeroed_f64(rows * cols, par);
            rows_do(par, &mut d, cols, ctx, &|r, o| {
                let x = row(r);
                for (j, v) in o.iter_mut().enumerate() {
                    let mut acc = 0.0;
                    for (t, &w) in k.iter().enumerate() {
                        acc += w * x[reflect(j as isize + t as isize - h, cols)];
                    }
                    *v = acc;
                }
            })?;
            let tmp = d;
            let mut e = zeroed_f64(rows * cols, par);
            rows_do(par, &mut e, cols, ctx, &|r, o| {
                o.fill(0.0);
                for (t, &w) in k.iter().enumerate() {
                    let rr = reflect(r as isize + t as isize - h, rows);
                    for (v, &x) in o.iter_mut().zip(&tmp[rr * cols..(rr + 1) * cols]) {
                        *v += w * x;
                    }
                }
                // an RMS row only for the local threshold
                let mut e = if p.global_rms {
                    Vec::new()
                } else {
                    vec![0.0; cols]
                };
                scale(r, o, &mut Vec::new(), &mut e);
            })?;
            e
        }),
        _ => signif,
    };
    // 5. labels (from the runs, or the chapter's way from the stored image), then each
    //    detection's pixels in raster order with their detection values
    let (det, run_vals) = if sparse {
        let (bands, vals): (Vec<Vec<Run>>, Vec<Vec<f64>>) = blocks.into_iter().unzip();
        let d = label_runs(
            par, bands, ROW_BLOCK, &sub, rows, cols, true, p.minarea, true, ctx,
        )?;
        (d, Some(vals.concat()))
    } else {
        let d = detect(
            variant, &signif, &sub, rows, cols, p.thresh, true, p.minarea, ctx,
        )?;
        (d, None)
    };
    ctx.progress(0.7);
    if det.moments.iter().any(|m| m.flux == 0.0) {
        return Err(Error::input(
            "a detected source has zero background-subtracted flux; its weighted centroid is undefined",
        ));
    }
    let n_det = det.moments.len();
    let (off, flat, flat_vals) = stage!(ctx, "objects", {
        let (off, flat) = object_pixels(&det, rows, cols);
        let vals = match &run_vals {
            Some(v) => values_along_runs(&det, v, &off),
            None => flat.iter().map(|&g| signif[g as usize]).collect(),
        };
        (off, flat, vals)
    });
    ctx.check()?;
    // 6. deblending
    let children: Vec<Children> = stage!(ctx, "deblend", {
        let one = |i: usize| -> Result<Children> {
            let pix = &flat[off[i]..off[i + 1]];
            Ok(match &p.deblend {
                Some(dp) => {
                    if i % 64 == 0 || pix.len() > 4096 {
                        ctx.check()?;
                    }
                    deblend_object(pix, &flat_vals[off[i]..off[i + 1]], cols, dp)
                }
                None => vec![pix.to_vec()],
            })
        };
        if par {
            (0..n_det).into_par_iter().map(one).collect::<Result<_>>()?
        } else {
            (0..n_det).map(one).collect::<Result<_>>()?
        }
    });
    ctx.progress(0.8);
    // 7. final objects: the deblended children, then CLEAN's merges
    let mut objects: Vec<Obj> = Vec::new();
    for (i, ch) in children.into_iter().enumerate() {
        let blended = ch.len() > 1;
        for pix in ch {
            objects.push(Obj {
                parent: i + 1,
                blended,
                pix,
                merged: Vec::new(),
            });
        }
    }
    let mut n_cleaned = 0;
    if let Some(cp) = &p.clean {
        let raw = |g: usize| {
            let e = if p.global_rms {
                global_rms
            } else {
                noise.at(g)
            };
            if e > 0.0 {
                sub[g] / e
            } else {
                f64::NEG_INFINITY
            }
        };
        let owner = stage!(ctx, "clean", {
            let pix: Vec<&[u32]> = objects.iter().map(|o| o.pix.as_slice()).collect();
            let vals: Vec<Vec<f64>> = objects
                .iter()
                .map(|o| {
                    let i = o.parent - 1;
                    let (ppix, pvals) = (&flat[off[i]..off[i + 1]], &flat_vals[off[i]..off[i + 1]]);
                    values_of_subset(&o.pix, ppix, pvals)
                })
                .collect();
            let vref: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
            clean(&pix, &vref, &raw, cols, cp, par, &|| ctx.check())?
        });
        n_cleaned = owner.iter().enumerate().filter(|&(i, &o)| o != i).count();
        if n_cleaned > 0 {
            for (i, &o) in owner.iter().enumerate() {
                if o != i {
                    let moved = std::mem::take(&mut objects[i].pix);
                    objects[o].merged.extend(moved);
                }
            }
            objects = objects
                .into_iter()
                .enumerate()
                .filter(|&(i, _)| owner[i] == i)
                .map(|(_, o)| o)
                .collect();
        }
    }
    ctx.check()?;
    let mut labels = det.labels;
    if objects.len() != n_det || n_cleaned > 0 {
        for (k, o) in objects.iter().enumerate() {
            for &g in o.pix.iter().chain(&o.merged) {
                labels[g as usize] = (k + 1) as i32;
            }
        }
    }
    // 8. measurements
    let rms_at = |k: usize| noise.at(k);
    let im = Images {
        raw: src,
        sub: &sub,
        rms: &rms_at,
        labels: &labels,
        rows,
        cols,
    };
    let table_rows: Vec<[f64; NCOL]> = stage!(ctx, "photometry", {
        let one = |k: usize| -> Result<[f64; NCOL]> {
            if k % 256 == 0 {
                ctx.check()?;
            }
            let ob = &objects[k];
            let o = ObjectRef {
                pix: &ob.pix,
                merged: &ob.merged,
                label: (k + 1) as i32,
                parent: ob.parent,
                blended: ob.blended,
            };
            Ok(measure(&o, &im, &p.phot))
        };
        if par {
            (0..objects.len())
                .into_par_iter()
                .map(one)
                .collect::<Result<_>>()?
        } else {
            (0..objects.len()).map(one).collect::<Result<_>>()?
        }
    });
    ctx.progress(1.0);
    let mut table = Array2::zeros((table_rows.len(), NCOL));
    for (k, r) in table_rows.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            table[[k, c]] = *v;
        }
    }
    let n_blended = objects.iter().filter(|o| o.blended).count();
    let mean_of = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let cols_names = columns();
    let mut out = Output::new()
        .sum("n_sources", objects.len())
        .sum("n_detections", n_det)
        .sum("n_blended", n_blended)
        .sum("n_cleaned", n_cleaned)
        .sum("detect", "background")
        .sum("back_size", bs)
        .sum("thresh", p.thresh)
        .sum("minarea", p.minarea)
        .sum(
            "filter",
            match &p.filter {
                DetFilter::None => "none".to_string(),
                DetFilter::Pyramid3 => "3x3 default.conv".to_string(),
                DetFilter::Gaussian(k) => format!("gaussian ({} taps)", k.len()),
            },
        )
        .sum(
            "clean",
            match &p.clean {
                Some(c) => format!("clean_param {}", c.beta),
                None => "off".to_string(),
            },
        )
        .sum(
            "deblend",
            match &p.deblend {
                Some(d) => format!("nthresh {} mincont {}", d.nthresh, d.mincont),
                None => "off".to_string(),
            },
        )
        .sum("background_mean", mean_of(&back_mesh))
        .sum("rms_mean", mean_of(&rms_mesh))
        .sum("global_rms", global_rms)
        .sum("thresh_type", if p.global_rms { "global" } else { "local" })
        .f64("subtracted", to_dyn(sub, rows, cols)?, Tolerance::Exact)
        .f64(
            "background_mesh",
            to_dyn(back_mesh.to_vec(), ny, nx)?,
            Tolerance::Exact,
        )
        .f64(
            "rms_mesh",
            to_dyn(rms_mesh.to_vec(), ny, nx)?,
            Tolerance::Exact,
        )
        .i32("labels", to_dyn_i32(labels, rows, cols)?)
        .table("sources", &cols_names, table, Tolerance::Rel(1e-12));
    if p.full_maps {
        let b = stage!(ctx, "full_maps", back.full(rows, par, ctx)?);
        let e = noise.full(rows, par, ctx)?;
        out = out
            .f64("background", to_dyn(b, rows, cols)?, Tolerance::Exact)
            .f64("background_rms", to_dyn(e, rows, cols)?, Tolerance::Exact);
    }
    Ok(out)
}

/// Pixels of every detection as one flat list (offsets per label, raster order inside),
/// from the runs (vectorized, parallel) or by scanning the label image (naive).
/// The detection values of every object's pixels, in the order of [`object_pixels`],
/// from the values kept along the runs (`vals`: each run's pixels, runs in order).
fn values_along_runs(det: &Detection, vals: &[f64], off: &[usize]) -> Vec<f64> {
    let mut fill = off.to_vec();
    let mut out = vec![0.0; off[off.len() - 1]];
    let mut at = 0usize;
    for (r, &l) in det.runs.iter().zip(&det.run_label) {
        let len = (r.c1 - r.c0) as usize;
        if l > 0 {
            let k = (l - 1) as usize;
            out[fill[k]..fill[k] + len].copy_from_slice(&vals[at..at + len]);
            fill[k] += len;
        }
        at += len;
    }
    out
}

/// The values of `sub`, a subset of the sorted pixel list `pix` (both ascending), given
/// `vals` aligned with `pix`.
fn values_of_subset(sub: &[u32], pix: &[u32], vals: &[f64]) -> Vec<f64> {
    if sub.len() == pix.len() {
        return vals.to_vec();
    }
    let mut out = Vec::with_capacity(sub.len());
    let mut k = 0;
    for &g in sub {
        while k < pix.len() && pix[k] < g {
            k += 1;
        }
        out.push(vals.get(k).copied().unwrap_or(f64::NAN));
    }
    out
}

fn object_pixels(det: &Detection, rows: usize, cols: usize) -> (Vec<usize>, Vec<u32>) {
    let n = det.moments.len();
    let mut off = vec![0usize; n + 1];
    for (i, m) in det.moments.iter().enumerate() {
        off[i + 1] = off[i] + m.npix as usize;
    }
    let mut fill = off.clone();
    let mut flat = vec![0u32; off[n]];
    if det.runs.is_empty() && !det.labels.is_empty() {
        for (g, &l) in det.labels.iter().enumerate().take(rows * cols) {
            if l > 0 {
                let k = (l - 1) as usize;
                flat[fill[k]] = g as u32;
                fill[k] += 1;
            }
        }
    } else {
        for (r, &l) in det.runs.iter().zip(&det.run_label) {
            if l <= 0 {
                continue;
            }
            let k = (l - 1) as usize;
            let base = r.row as usize * cols;
            for c in r.c0 as usize..r.c1 as usize {
                flat[fill[k]] = (base + c) as u32;
                fill[k] += 1;
            }
        }
    }
    (off, flat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipped_stats_of_gaussian_noise_with_a_star() {
        let mut r = crate::data::rng::Rng::new(2);
        let mut v: Vec<f64> = (0..4096).map(|_| 100.0 + 5.0 * r.normal()).collect();
        for x in v.iter_mut().take(40) {
            *x += 5000.0; // a bright star in the mesh
        }
        let (b, s) = mesh_stats(&mut v);
        assert!((b - 100.0).abs() < 0.5, "{b}");
        assert!((s - 5.0).abs() < 0.3, "{s}");
        let (b, s) = mesh_stats_hist(&v, &mut HistScratch::default());
        assert!((b - 100.0).abs() < 0.5, "{b}");
        assert!((s - 5.0).abs() < 0.3, "{s}");
    }

    #[test]
    fn histogram_mesh_stats_agree_with_the_sorted_ones() {
        let mut r = crate::data::rng::Rng::new(8);
        for (stars, sky, noise) in [(0usize, 100.0, 5.0), (40, 100.0, 5.0), (600, 7000.0, 60.0)] {
            let mut v: Vec<f64> = (0..4096).map(|_| sky + noise * r.normal()).collect();
            for (k, x) in v.iter_mut().take(stars).enumerate() {
                *x += 50.0 * noise * (1.0 + (k % 17) as f64); // stars and their wings
            }
            let (b_exact, s_exact) = mesh_stats(&mut v.clone());
            let (b, s) = mesh_stats_hist(&v, &mut HistScratch::default());
            assert!(
                (b - b_exact).abs() < 0.01 * noise,
                "{stars}: {b} vs {b_exact}"
            );
            assert!(
                (s - s_exact).abs() < 0.01 * noise,
                "{stars}: {s} vs {s_exact}"
            );
        }
    }

    #[test]
    fn radix_sort_equals_total_cmp_sort() {
        let mut r = crate::data::rng::Rng::new(4);
        for n in [0usize, 1, 63, 64, 100, 4096] {
            let mut v: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => -r.normal() * 1e3,
                    1 => 0.0,
                    2 => -0.0,
                    3 => 100.0 + r.normal(),
                    _ => r.normal(),
                })
                .collect();
            let mut w = v.clone();
            w.sort_unstable_by(f64::total_cmp);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            radix_sort_f64(&mut v, &mut a, &mut b);
            let vb: Vec<u64> = v.iter().map(|x| x.to_bits()).collect();
            let wb: Vec<u64> = w.iter().map(|x| x.to_bits()).collect();
            assert_eq!(vb, wb, "n={n}");
        }
    }

    #[test]
    fn gaussian_filter_kernel_is_normalised_with_the_right_width() {
        let k = gaussian_kernel(3.0);
        assert_eq!(k.len() % 2, 1);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // half maximum at ±1.5 px: interpolate between the taps at 1 and 2
        let h = k.len() / 2;
        let half = 0.5 * k[h];
        let (a, b) = (k[h + 1], k[h + 2]);
        let x = 1.0 + (a - half) / (a - b);
        assert!((x - 1.5).abs() < 0.1, "{x}");
    }

    #[test]
    fn interpolation_weights_hit_mesh_centres() {
        let w = axis_weights(100, 32); // meshes 0..32, 32..64, 64..96, 96..100
        assert_eq!(w[0], (0, 0, 0.0));
        assert_eq!(w[15], (0, 0, 0.0));
        assert_eq!(w[16].0, 0);
        assert!((w[16].2 - 0.5 / 32.0).abs() < 1e-12);
        assert_eq!(w[99], (3, 3, 0.0));
        let w1 = axis_weights(10, 64);
        assert!(w1.iter().all(|&x| x == (0, 0, 0.0)));
    }
}
