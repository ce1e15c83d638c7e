//! SExtractor-like detection for `ccd-pipeline detect=background`: a background and RMS
//! mesh (sigma-clipped statistics per `back_size` box, mode = 2.5·median − 1.5·mean when
//! the field is crowded, else the clipped mean), a 3x3 median filter over the meshes,
//! bilinear interpolation between mesh centres, an optional 3x3 detection filter
//! (SExtractor's default.conv, [1 2 1; 2 4 2; 1 2 1]/16), threshold `thresh`·RMS above the
//! local background, 8-connected labels, `minarea`, background-subtracted fluxes.
//! Not done (unlike SExtractor): deblending, cleaning, Kron/aperture photometry.
//!
//! Every variant computes each pixel with the same expressions, so the images agree bit
//! for bit; the variants differ in scheduling (serial vs rayon over meshes and rows) and
//! in the labelling/measurement method shared with the threshold mode.

use super::ccd_kernels::median3_rows;
use super::ccd_kernels::{source_table, SOURCE_COLUMNS};
use super::ccd_pipeline::{detect, to_dyn, to_dyn_i32};
use super::common::reflect;
use super::{Ctx, Output, Tolerance, Variant};
use crate::{stage, Error, Result};
use rayon::prelude::*;

pub struct BackParams {
    pub back_size: usize,
    pub thresh: f64,
    pub minarea: usize,
    pub filter: bool,
}

/// Sigma-clipped (±3σ about the median, to convergence) background and RMS of one mesh.
pub fn mesh_stats(vals: &mut [f64]) -> (f64, f64) {
    if vals.is_empty() {
        return (0.0, 0.0);
    }
    vals.sort_unstable_by(f64::total_cmp);
    let stats = |w: &[f64]| {
        let n = w.len() as f64;
        let mean = w.iter().sum::<f64>() / n;
        let var = w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let m = w.len() / 2;
        let med = if w.len() % 2 == 1 {
            w[m]
        } else {
            0.5 * (w[m - 1] + w[m])
        };
        (mean, var.sqrt(), med)
    };
    let (mut lo, mut hi) = (0, vals.len());
    let (_, sigma0, _) = stats(vals);
    let (mut mean, mut sigma, mut med) = stats(vals);
    for _ in 0..100 {
        let (a, b) = (med - 3.0 * sigma, med + 3.0 * sigma);
        let nlo = vals.partition_point(|&v| v < a);
        let nhi = vals.partition_point(|&v| v <= b);
        if nhi <= nlo || (nlo == lo && nhi == hi) {
            break;
        }
        lo = nlo;
        hi = nhi;
        (mean, sigma, med) = stats(&vals[lo..hi]);
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

/// One row of a bilinearly interpolated mesh map.
fn interp_row(
    mesh: &[f64],
    nx: usize,
    wy: (usize, usize, f64),
    wx: &[(usize, usize, f64)],
    out: &mut [f64],
) {
    let (i0, i1, ty) = wy;
    let (r0, r1) = (&mesh[i0 * nx..(i0 + 1) * nx], &mesh[i1 * nx..(i1 + 1) * nx]);
    for (o, &(j0, j1, tx)) in out.iter_mut().zip(wx) {
        let top = r0[j0] + tx * (r0[j1] - r0[j0]);
        let bot = r1[j0] + tx * (r1[j1] - r1[j0]);
        *o = top + ty * (bot - top);
    }
}

/// One row of the 3x3 detection filter [1 2 1; 2 4 2; 1 2 1]/16 (reflect edges).
fn filter_row(a: &[f64], b: &[f64], c: &[f64], out: &mut [f64]) {
    let n = out.len();
    for (j, o) in out.iter_mut().enumerate() {
        let l = reflect(j as isize - 1, n);
        let r = reflect(j as isize + 1, n);
        let col = |k: usize| a[k] + 2.0 * b[k] + c[k];
        *o = (col(l) + 2.0 * col(j) + col(r)) / 16.0;
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
        let one = |m: usize| {
            let (i, j) = (m / nx, m % nx);
            let (r0, r1) = (i * bs, ((i + 1) * bs).min(rows));
            let (c0, c1) = (j * bs, ((j + 1) * bs).min(cols));
            let mut v = Vec::with_capacity((r1 - r0) * (c1 - c0));
            for r in r0..r1 {
                v.extend_from_slice(&src[r * cols + c0..r * cols + c1]);
            }
            mesh_stats(&mut v)
        };
        let stats: Vec<(f64, f64)> = if par {
            (0..ny * nx).into_par_iter().map(one).collect()
        } else {
            let mut s = Vec::with_capacity(ny * nx);
            for m in 0..ny * nx {
                ctx.check()?;
                s.push(one(m));
            }
            s
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
    // 3. bilinear interpolation to full maps, and the subtracted image
    let wx = axis_weights(cols, bs);
    let wy = axis_weights(rows, bs);
    let (background, rms, sub) = stage!(ctx, "interpolate", {
        let mut background = vec![0.0; rows * cols];
        let mut rms = vec![0.0; rows * cols];
        let mut sub = vec![0.0; rows * cols];
        let row_job = |r: usize, b: &mut [f64], s: &mut [f64], e: &mut [f64]| {
            interp_row(&back_mesh, nx, wy[r], &wx, b);
            interp_row(&rms_mesh, nx, wy[r], &wx, e);
            for ((o, &x), &bb) in s
                .iter_mut()
                .zip(&src[r * cols..(r + 1) * cols])
                .zip(b.iter())
            {
                *o = x - bb;
            }
        };
        if par {
            background
                .par_chunks_mut(cols)
                .zip(sub.par_chunks_mut(cols))
                .zip(rms.par_chunks_mut(cols))
                .enumerate()
                .for_each(|(r, ((b, s), e))| row_job(r, b, s, e));
        } else {
            for (r, ((b, s), e)) in background
                .chunks_mut(cols)
                .zip(sub.chunks_mut(cols))
                .zip(rms.chunks_mut(cols))
                .enumerate()
            {
                row_job(r, b, s, e);
            }
        }
        (background, rms, sub)
    });
    ctx.check()?;
    ctx.progress(0.5);
    // 4. detection image: filtered (or plain) subtracted image divided by the local RMS,
    //    so one global threshold `thresh` applies.
    let signif = stage!(ctx, "filter", {
        let mut d = vec![0.0; rows * cols];
        let row_job = |r: usize, o: &mut [f64]| {
            let row = |k: usize| &sub[k * cols..(k + 1) * cols];
            if p.filter {
                filter_row(
                    row(reflect(r as isize - 1, rows)),
                    row(r),
                    row(reflect(r as isize + 1, rows)),
                    o,
                );
            } else {
                o.copy_from_slice(row(r));
            }
            for (v, &e) in o.iter_mut().zip(&rms[r * cols..(r + 1) * cols]) {
                *v = if e > 0.0 { *v / e } else { f64::NEG_INFINITY };
            }
        };
        if par {
            d.par_chunks_mut(cols)
                .enumerate()
                .for_each(|(r, o)| row_job(r, o));
        } else {
            for (r, o) in d.chunks_mut(cols).enumerate() {
                row_job(r, o);
            }
        }
        d
    });
    let det = detect(
        variant, &signif, &sub, rows, cols, p.thresh, true, p.minarea, ctx,
    )?;
    ctx.progress(1.0);
    let table = source_table(&det.moments);
    let mean_of = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    if det.moments.iter().any(|m| m.flux == 0.0) {
        return Err(Error::input(
            "a detected source has zero background-subtracted flux; its weighted centroid is undefined",
        ));
    }
    Ok(Output::new()
        .sum("n_sources", det.moments.len())
        .sum("detect", "background")
        .sum("back_size", bs)
        .sum("thresh", p.thresh)
        .sum("minarea", p.minarea)
        .sum("background_mean", mean_of(&back_mesh))
        .sum("rms_mean", mean_of(&rms_mesh))
        .f64("subtracted", to_dyn(sub, rows, cols)?, Tolerance::Exact)
        .f64(
            "background",
            to_dyn(background, rows, cols)?,
            Tolerance::Exact,
        )
        .f64("background_rms", to_dyn(rms, rows, cols)?, Tolerance::Exact)
        .i32("labels", to_dyn_i32(det.labels, rows, cols)?)
        .table("sources", &SOURCE_COLUMNS, table, Tolerance::Rel(1e-12)))
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
