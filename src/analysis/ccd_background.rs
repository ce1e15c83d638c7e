//! SExtractor-like source extraction for `ccd-pipeline detect=background`: a background
//! and RMS mesh (±3σ-clipped statistics per `back_size` box from a histogram, mode =
//! 2.5·median − 1.5·mean when the field is crowded, else the clipped mean), a 3x3 median
//! filter over the meshes, bilinear interpolation between mesh centres, a detection
//! filter (SExtractor's default.conv [1 2 1; 2 4 2; 1 2 1]/16, a Gaussian of `filter_fwhm`,
//! or none), a threshold of `thresh` × the global RMS (or the local RMS map) above the
//! local background, 8-connected labels, `minarea`, multi-threshold deblending
//! ([`super::extract_deblend`]) and SExtractor's measurements
//! ([`super::extract_photometry`]). Not done (unlike SExtractor): CLEAN, weight maps,
//! windowed positions.
//!
//! Every variant computes each pixel with the same expressions, so the images agree bit
//! for bit; the variants differ in scheduling (serial vs rayon over meshes and rows) and
//! in the labelling/measurement method shared with the threshold mode.

use super::ccd_kernels::median3_rows;
use super::ccd_pipeline::{detect, to_dyn, to_dyn_i32, Detection};
use super::common::{reflect, zeroed_f64};
use super::extract_deblend::{deblend_object, Children, DeblendParams};
use super::extract_photometry::{columns, measure, Images, ObjectRef, PhotParams, NCOL};
use super::{Ctx, Output, Tolerance, Variant};
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;

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
    cnt: Vec<f64>,
    p0: Vec<f64>,
    p1: Vec<f64>,
    p2: Vec<f64>,
}

/// [`mesh_stats`] the way SExtractor estimates it, from a histogram instead of a sort:
/// one pass for the mean and σ0 of the mesh, a 4096-bin histogram over mean ± 4σ0, the
/// ±3σ-about-the-median clipping iterated to convergence on the bins' prefix sums
/// (median interpolated inside its bin), then a second histogram over the result ± 5σ
/// and the clipping again. Three passes over the pixels instead of a sort; the result
/// differs from the exact one by a fraction of a bin (≤ 0.003σ).
pub fn mesh_stats_hist(vals: &[f64], h: &mut HistScratch) -> (f64, f64) {
    const NB: usize = 4096;
    let n = vals.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let c0 = vals[0];
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in vals {
        let d = v - c0;
        s1 += d;
        s2 += d * d;
    }
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
        h.cnt.clear();
        h.cnt.resize(NB, 0.0);
        for &v in vals {
            let x = (v - lo) * inv;
            if x >= 0.0 && x < NB as f64 {
                h.cnt[x as usize] += 1.0;
            }
        }
        // prefix sums of count, count·x, count·x² with x = i + 0.5 (bin units)
        for p in [&mut h.p0, &mut h.p1, &mut h.p2] {
            p.clear();
            p.push(0.0);
        }
        let (mut a0, mut a1, mut a2) = (0.0, 0.0, 0.0);
        for (i, &c) in h.cnt.iter().enumerate() {
            let x = i as f64 + 0.5;
            a0 += c;
            a1 += c * x;
            a2 += c * x * x;
            h.p0.push(a0);
            h.p1.push(a1);
            h.p2.push(a2);
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
            let ck = h.cnt[k];
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
        if sigma.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
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

/// One row of the 3x3 detection filter [1 2 1; 2 4 2; 1 2 1]/16 (reflect edges).
fn filter_row(a: &[f64], b: &[f64], c: &[f64], out: &mut [f64]) {
    let n = out.len();
    let col = |k: usize| a[k] + 2.0 * b[k] + c[k];
    let edge = |j: usize| {
        let l = reflect(j as isize - 1, n);
        let r = reflect(j as isize + 1, n);
        (col(l) + 2.0 * col(j) + col(r)) / 16.0
    };
    if n < 3 {
        for (j, o) in out.iter_mut().enumerate() {
            *o = edge(j);
        }
        return;
    }
    out[0] = edge(0);
    out[n - 1] = edge(n - 1);
    // interior without per-pixel reflect, so the loop vectorises (same expression)
    for (j, o) in out.iter_mut().enumerate().take(n - 1).skip(1) {
        *o = (col(j - 1) + 2.0 * col(j) + col(j + 1)) / 16.0;
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
    pub phot: PhotParams,
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
    // 3. bilinear interpolation to full maps, and the subtracted image
    let wx = axis_weights(cols, bs);
    let wy = axis_weights(rows, bs);
    let (background, rms, sub) = stage!(ctx, "interpolate", {
        let mut background = zeroed_f64(rows * cols, par);
        let mut rms = zeroed_f64(rows * cols, par);
        let mut sub = zeroed_f64(rows * cols, par);
        // one pass: both maps and the subtracted rows, blocks of rows per task
        type Rows<'a> = (usize, ((&'a mut [f64], &'a mut [f64]), &'a mut [f64]));
        let block = |(k, ((b, e), s)): Rows| {
            ctx.check()?;
            let mut tmp = Vec::with_capacity(nx);
            for (i, ((b, e), s)) in b
                .chunks_mut(cols)
                .zip(e.chunks_mut(cols))
                .zip(s.chunks_mut(cols))
                .enumerate()
            {
                let r = k * ROW_BLOCK + i;
                interp_row(&back_mesh, nx, wy[r], &wx, &mut tmp, b);
                interp_row(&rms_mesh, nx, wy[r], &wx, &mut tmp, e);
                for ((o, &x), &bb) in s
                    .iter_mut()
                    .zip(&src[r * cols..(r + 1) * cols])
                    .zip(b.iter())
                {
                    *o = x - bb;
                }
            }
            Ok::<(), Error>(())
        };
        let n = ROW_BLOCK * cols;
        if par {
            background
                .par_chunks_mut(n)
                .zip(rms.par_chunks_mut(n))
                .zip(sub.par_chunks_mut(n))
                .enumerate()
                .try_for_each(block)?;
        } else {
            background
                .chunks_mut(n)
                .zip(rms.chunks_mut(n))
                .zip(sub.chunks_mut(n))
                .enumerate()
                .try_for_each(block)?;
        }
        (background, rms, sub)
    });
    ctx.check()?;
    ctx.progress(0.5);
    // 4. detection image: filtered (or plain) subtracted image divided by the local RMS,
    //    so one global threshold `thresh` applies.
    let signif = stage!(ctx, "filter", {
        let mut d = zeroed_f64(rows * cols, par);
        let row = |k: usize| &sub[k * cols..(k + 1) * cols];
        let scale = |r: usize, o: &mut [f64]| {
            if p.global_rms {
                let inv = 1.0 / global_rms;
                for v in o.iter_mut() {
                    *v = if global_rms > 0.0 {
                        *v * inv
                    } else {
                        f64::NEG_INFINITY
                    };
                }
            } else {
                for (v, &e) in o.iter_mut().zip(&rms[r * cols..(r + 1) * cols]) {
                    *v = if e > 0.0 { *v / e } else { f64::NEG_INFINITY };
                }
            }
        };
        match &p.filter {
            DetFilter::None => {
                rows_do(par, &mut d, cols, ctx, &|r, o| {
                    o.copy_from_slice(row(r));
                    scale(r, o);
                })?;
                d
            }
            DetFilter::Pyramid3 => {
                rows_do(par, &mut d, cols, ctx, &|r, o| {
                    filter_row(
                        row(reflect(r as isize - 1, rows)),
                        row(r),
                        row(reflect(r as isize + 1, rows)),
                        o,
                    );
                    scale(r, o);
                })?;
                d
            }
            DetFilter::Gaussian(k) => {
                // separable: along rows into `d`, then along columns row by row
                let h = (k.len() / 2) as isize;
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
                    scale(r, o);
                })?;
                e
            }
        }
    });
    let det = detect(
        variant, &signif, &sub, rows, cols, p.thresh, true, p.minarea, ctx,
    )?;
    ctx.progress(0.7);
    if det.moments.iter().any(|m| m.flux == 0.0) {
        return Err(Error::input(
            "a detected source has zero background-subtracted flux; its weighted centroid is undefined",
        ));
    }
    let n_det = det.moments.len();
    // 5. pixel lists of the detections (raster order inside each)
    let (off, flat) = stage!(ctx, "objects", object_pixels(&det, rows, cols));
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
                    deblend_object(pix, &signif, cols, dp)
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
    // 7. final objects, labels repainted in their order
    let mut objects: Vec<(usize, bool, &[u32])> = Vec::new();
    for (i, ch) in children.iter().enumerate() {
        let blended = ch.len() > 1;
        for c in ch {
            objects.push((i + 1, blended, c));
        }
    }
    let mut labels = det.labels;
    if objects.len() != n_det {
        for (k, (_, _, pix)) in objects.iter().enumerate() {
            for &g in pix.iter() {
                labels[g as usize] = (k + 1) as i32;
            }
        }
    }
    // 8. measurements
    let im = Images {
        raw: src,
        sub: &sub,
        rms: &rms,
        labels: &labels,
        rows,
        cols,
    };
    let table_rows: Vec<[f64; NCOL]> = stage!(ctx, "photometry", {
        let one = |k: usize| -> Result<[f64; NCOL]> {
            if k % 256 == 0 {
                ctx.check()?;
            }
            let (parent, blended, pix) = objects[k];
            let o = ObjectRef {
                pix,
                label: (k + 1) as i32,
                parent,
                blended,
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
    let n_blended = objects.iter().filter(|o| o.1).count();
    let mean_of = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let cols_names = columns();
    Ok(Output::new()
        .sum("n_sources", objects.len())
        .sum("n_detections", n_det)
        .sum("n_blended", n_blended)
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
            "background",
            to_dyn(background, rows, cols)?,
            Tolerance::Exact,
        )
        .f64("background_rms", to_dyn(rms, rows, cols)?, Tolerance::Exact)
        .i32("labels", to_dyn_i32(labels, rows, cols)?)
        .table("sources", &cols_names, table, Tolerance::Rel(1e-12)))
}

/// Pixels of every detection as one flat list (offsets per label, raster order inside),
/// from the runs (vectorized, parallel) or by scanning the label image (naive).
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
