//! SExtractor-like source extraction for `ccd-pipeline detect=background`: a background
//! and RMS mesh computed as SExtractor's `back.c` does (σ-clipped histogram per `back_size`
//! box, mode 2.5·median − 1.5·mean or the median; [`crate::kernels::extract::mesh`]),
//! SExtractor's 3x3 median filter over the meshes (shrinking at the grid's edges), its
//! bicubic-spline interpolation of the meshes, a detection filter (SExtractor's
//! default.conv [1 2 1; 2 4 2; 1 2 1]/16, a Gaussian of `filter_fwhm`, or none; zero beyond
//! the frame, as SExtractor's `convolve`), a threshold of `thresh` × the global RMS (or
//! the local RMS map) above the local background, 8-connected labels, `minarea`,
//! multi-threshold deblending ([`crate::kernels::extract::deblend`]) and SExtractor's
//! measurements ([`crate::kernels::extract::photometry`]), after SExtractor's CLEAN
//! ([`crate::kernels::extract::clean`]). Not done (unlike SExtractor): weight maps,
//! windowed positions.
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

use crate::ctx::Ctx;
use crate::kernels::buffers::{write_all, zeroed_f64};
use crate::kernels::extract::clean::{clean, CleanInput, CleanParams};
use crate::kernels::extract::deblend::{deblend_object, Child, Children, DeblendParams};
use crate::kernels::extract::detect::{detect, label_runs, nonfinite_error, Detection};
use crate::kernels::extract::lutz::object_scan_order;
use crate::kernels::extract::mesh::{filter_meshes, mesh_stats, HistScratch, MeshMap};
use crate::kernels::extract::photometry::{
    iso_moments, measure, Images, IsoMoments, ObjectRef, PhotParams, NCOL,
};
use crate::kernels::image::{runs_in_row, Run};
use crate::kernels::Method;
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::mem::MaybeUninit;

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

/// One row of the 3x3 detection filter [1 2 1; 2 4 2; 1 2 1]/16, zero beyond the frame
/// (SExtractor's and sep's `convolve` drop the kernel's taps that leave the image; the
/// rows above and below the frame come in as zeros): the column sums a + 2b + c once into
/// `cs`, then (cs[j−1] + 2 cs[j] + cs[j+1]) / 16 — two vectorised passes instead of three
/// column sums per pixel.
fn filter_row(a: &[f64], b: &[f64], c: &[f64], out: &mut [f64], cs: &mut Vec<f64>) {
    let n = out.len();
    cs.clear();
    cs.extend(a.iter().zip(b).zip(c).map(|((&a, &b), &c)| a + 2.0 * b + c));
    if n < 3 {
        for (j, o) in out.iter_mut().enumerate() {
            let l = if j > 0 { cs[j - 1] } else { 0.0 };
            let r = if j + 1 < n { cs[j + 1] } else { 0.0 };
            *o = (l + 2.0 * cs[j] + r) * 0.0625;
        }
        return;
    }
    out[0] = (2.0 * cs[0] + cs[1]) * 0.0625;
    out[n - 1] = (cs[n - 2] + 2.0 * cs[n - 1]) * 0.0625;
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
    /// The detection image at `pix`.
    det: Vec<f64>,
    /// The detection image in the order of SExtractor's pixel list (CLEAN reads it;
    /// empty without CLEAN).
    det_scan: Vec<f64>,
    /// Centre and moments, from `pix` and `det` (for a deblended child, about its seed's
    /// centre).
    iso: IsoMoments,
    /// The detection's last pixel: where SExtractor's scan completes it and hands its
    /// objects to CLEAN.
    entry: u64,
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

/// What the extractor found, for the analysis to report: the background-subtracted frame,
/// the meshes, the final label image and one row of SExtractor's columns per object.
pub struct Extraction {
    /// The frame minus the interpolated background, row-major like the input.
    pub subtracted: Vec<f64>,
    /// Background per mesh after the 3x3 median over the meshes (`mesh_dim` of them).
    pub back_mesh: Vec<f64>,
    /// RMS per mesh, filtered the same way.
    pub rms_mesh: Vec<f64>,
    /// Meshes down and across: (rows, cols) of `back_mesh` and `rms_mesh`.
    pub mesh_dim: (usize, usize),
    /// SExtractor's global RMS: the median of the filtered RMS meshes.
    pub global_rms: f64,
    /// The object of every pixel (0 = sky), after deblending and CLEAN.
    pub labels: Vec<i32>,
    /// One row per object, in the columns of [`crate::kernels::extract::photometry::columns`].
    pub sources: Array2<f64>,
    /// Detections before deblending.
    pub n_detections: usize,
    /// Objects that came out of a blend.
    pub n_blended: usize,
    /// Objects CLEAN merged into a brighter neighbour.
    pub n_cleaned: usize,
    /// Background and RMS at full resolution, when `full_maps` asked for them.
    pub full_maps: Option<(Vec<f64>, Vec<f64>)>,
}

/// Run background-mode detection on a row-major frame.
pub fn run(
    method: Method,
    src: &[f64],
    rows: usize,
    cols: usize,
    p: &BackParams,
    ctx: &Ctx,
) -> Result<Extraction> {
    let par = method == Method::Parallel;
    let bs = p.back_size.max(1);
    let (ny, nx) = (rows.div_ceil(bs), cols.div_ceil(bs));
    // 1. mesh statistics
    let (mut back_mesh, mut rms_mesh) =
        stage!(ctx, "mesh", mesh_grid(par, src, rows, cols, bs, ctx)?);
    ctx.check()?;
    check_meshes_finite(src, &back_mesh, &rms_mesh)?;
    ctx.progress(0.3);
    // 2. 3x3 median filter over the meshes (SExtractor's BACK_FILTERSIZE 3)
    stage!(ctx, "mesh_filter", {
        for m in [&mut back_mesh, &mut rms_mesh] {
            *m = filter_meshes(m, ny, nx, 3, 3);
        }
    });
    let maps = Maps {
        back: MeshMap::new(&back_mesh, nx, rows, cols, bs),
        noise: MeshMap::new(&rms_mesh, nx, rows, cols, bs),
        global_rms: median_of(&rms_mesh),
        use_global: p.global_rms,
    };
    // 3. the subtracted image and the detection image in one pass over blocks of rows
    let fused = !matches!(p.filter, DetFilter::Gaussian(_));
    let pass = FusedPass {
        src,
        rows,
        cols,
        p,
        maps: &maps,
        fused,
        // Vectorized and parallel never store the detection image: each row is
        // thresholded while in cache and only the runs above the threshold keep their
        // values (a few % of the frame). The naive method stores the whole image and
        // labels it the chapter's way.
        sparse: fused && method != Method::Naive,
    };
    let (sub, signif, blocks) = stage!(ctx, "subtract_filter", pass.run(par, ctx)?);
    ctx.check()?;
    ctx.progress(0.5);
    // 4. a Gaussian detection filter: separable, along rows then along columns
    let signif = match &p.filter {
        DetFilter::Gaussian(k) => stage!(
            ctx,
            "filter",
            gaussian_detection(k, &sub, rows, cols, par, &maps, ctx)?
        ),
        _ => signif,
    };
    // 5. labels (from the runs, or the chapter's way from the stored image), then each
    //    detection's pixels in raster order with their detection values
    let (det, run_vals) = if pass.sparse {
        let (bands, vals): (Vec<Vec<Run>>, Vec<Vec<f64>>) = blocks.into_iter().unzip();
        let d = label_runs(
            par, bands, ROW_BLOCK, &sub, rows, cols, true, p.minarea, true, ctx,
        )?;
        (d, Some(vals.concat()))
    } else {
        let d = detect(
            method, &signif, &sub, rows, cols, p.thresh, true, p.minarea, ctx,
        )?;
        (d, None)
    };
    ctx.progress(0.7);
    if det.moments.iter().any(|m| m.flux == 0.0) {
        return Err(Error::input(
            "a detected source has zero background-subtracted flux; its weighted centroid is undefined",
        ));
    }
    let n_detections = det.moments.len();
    let px = stage!(ctx, "objects", {
        let (off, flat) = object_pixels(&det, rows, cols);
        let vals = match &run_vals {
            Some(v) => values_along_runs(&det, v, &off),
            None => flat.iter().map(|&g| signif[g as usize]).collect(),
        };
        ObjectPixels { off, flat, vals }
    });
    ctx.check()?;
    // the unfiltered image in the detection image's units (deblending's and CLEAN's
    // area corrections read it)
    let raw = |g: usize| {
        let e = maps.threshold_unit_at(g);
        if e > 0.0 {
            sub[g] / e
        } else {
            f64::NEG_INFINITY
        }
    };
    // 6. deblending, and each final object's centre and moments
    let mut objects: Vec<Obj> = stage!(
        ctx,
        "deblend",
        deblend_all(
            &px,
            &raw,
            cols,
            p.deblend.as_ref(),
            p.clean.is_some(),
            par,
            ctx
        )?
    )
    .into_iter()
    .flatten()
    .collect();
    ctx.progress(0.8);
    // 7. CLEAN's merges
    let n_cleaned = match &p.clean {
        Some(cp) => clean_objects(&mut objects, &raw, cp, par, ctx)?,
        None => 0,
    };
    ctx.check()?;
    let mut labels = det.labels;
    if objects.len() != n_detections || n_cleaned > 0 {
        for (k, o) in objects.iter().enumerate() {
            for &g in o.pix.iter().chain(&o.merged) {
                labels[g as usize] = (k + 1) as i32;
            }
        }
    }
    // 8. measurements
    let rms_at = |k: usize| maps.noise.at(k);
    let im = Images {
        raw: src,
        sub: &sub,
        rms: &rms_at,
        labels: &labels,
        rows,
        cols,
    };
    let table_rows = stage!(
        ctx,
        "photometry",
        photometry(&objects, &im, &p.phot, par, ctx)?
    );
    ctx.progress(1.0);
    let full_maps = if p.full_maps {
        let b = stage!(ctx, "full_maps", full_map(&maps.back, rows, par, ctx)?);
        let e = full_map(&maps.noise, rows, par, ctx)?;
        Some((b, e))
    } else {
        None
    };
    let global_rms = maps.global_rms;
    Ok(Extraction {
        subtracted: sub,
        back_mesh,
        rms_mesh,
        mesh_dim: (ny, nx),
        global_rms,
        labels,
        sources: to_table(&table_rows),
        n_detections,
        n_blended: objects.iter().filter(|o| o.blended).count(),
        n_cleaned,
        full_maps,
    })
}

/// A mesh map at full resolution, rows in parallel or not.
fn full_map(map: &MeshMap, rows: usize, par: bool, ctx: &Ctx) -> Result<Vec<f64>> {
    let cols = map.cols();
    let mut out = zeroed_f64(rows * cols, par);
    rows_do(par, &mut out, cols, ctx, &|r, o| {
        let mut tmp = Vec::with_capacity(map.mesh_cols());
        map.row(r, &mut tmp, o);
    })?;
    Ok(out)
}

/// The "mesh" stage: sigma-clipped background and RMS of every `bs`-pixel box, in raster
/// order of the boxes, each box gathered into a scratch buffer per worker.
fn mesh_grid(
    par: bool,
    src: &[f64],
    rows: usize,
    cols: usize,
    bs: usize,
    ctx: &Ctx,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (ny, nx) = (rows.div_ceil(bs), cols.div_ceil(bs));
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
        Ok(mesh_stats(v, hs))
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
    Ok((
        stats.iter().map(|s| s.0).collect(),
        stats.iter().map(|s| s.1).collect(),
    ))
}

/// A NaN or infinity anywhere makes its mesh's sums non-finite: only then is the frame
/// scanned to count them (the frame is not read an extra time to check it).
fn check_meshes_finite(src: &[f64], back_mesh: &[f64], rms_mesh: &[f64]) -> Result<()> {
    if back_mesh.iter().chain(rms_mesh).any(|v| !v.is_finite()) {
        let bad = src.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(nonfinite_error(bad));
        }
    }
    Ok(())
}

/// The median of the values (0 for none), as SExtractor takes the global RMS.
fn median_of(v: &[f64]) -> f64 {
    let mut m = v.to_vec();
    m.sort_unstable_by(f64::total_cmp);
    let k = m.len() / 2;
    if m.is_empty() {
        0.0
    } else if m.len() % 2 == 1 {
        m[k]
    } else {
        0.5 * (m[k - 1] + m[k])
    }
}

/// The background and RMS read at full resolution, and the unit the detection image is
/// measured in (the global RMS or the local RMS map).
struct Maps {
    back: MeshMap,
    noise: MeshMap,
    global_rms: f64,
    /// Scale by `global_rms` (SExtractor without a weight map) instead of the local map.
    use_global: bool,
}

impl Maps {
    /// The filtered row `r` over the global RMS, or over the local RMS row (interpolated
    /// into `e` with `tmp`).
    fn scale(&self, r: usize, o: &mut [f64], tmp: &mut Vec<f64>, e: &mut [f64]) {
        if self.use_global {
            scale_global(o, self.global_rms);
        } else {
            self.noise.row(r, tmp, e);
            scale_local(o, e);
        }
    }

    /// The RMS the threshold is measured in at flat pixel `g`.
    fn threshold_unit_at(&self, g: usize) -> f64 {
        if self.use_global {
            self.global_rms
        } else {
            self.noise.at(g)
        }
    }
}

/// One block of rows' detection runs and the detection values along them (sparse pass).
type Block = (Vec<Run>, Vec<f64>);

/// Per worker of the fused pass: the block's subtracted rows with one row of margin above
/// and below, a blended mesh row, a background (or RMS) row, a detection row and the
/// filter's column sums.
type PassScratch = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

/// The "subtract_filter" stage: background (and, for a local threshold, RMS) rows are
/// interpolated from the meshes on the fly and never stored, so each pixel of the frame
/// is read once and written twice (SExtractor and sep also keep only the meshes).
struct FusedPass<'a> {
    src: &'a [f64],
    rows: usize,
    cols: usize,
    p: &'a BackParams,
    maps: &'a Maps,
    /// Filter and scale in this pass (every filter but the Gaussian, which needs columns).
    fused: bool,
    /// Threshold each row in the pass and keep only the runs (every method but naive).
    sparse: bool,
}

impl FusedPass<'_> {
    fn scratch(&self) -> PassScratch {
        let (cols, nx) = (self.cols, self.maps.back.mesh_cols());
        (
            vec![0.0; (ROW_BLOCK + 2) * cols],
            Vec::with_capacity(nx),
            vec![0.0; cols],
            vec![0.0; cols],
            Vec::with_capacity(cols),
        )
    }

    /// The subtracted image, the stored detection image (naive only, else empty) and the
    /// runs of every block (sparse only, else empty).
    fn run(&self, par: bool, ctx: &Ctx) -> Result<(Vec<f64>, Vec<f64>, Vec<Block>)> {
        let (rows, cols) = (self.rows, self.cols);
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
        let dense = self.fused && !self.sparse;
        let mut signif: Vec<f64> = Vec::with_capacity(if dense { rows * cols } else { 0 });
        let n = ROW_BLOCK * cols;
        let total = rows * cols;
        let blocks: Vec<Block> = {
            let s_out = &mut sub.spare_capacity_mut()[..total];
            let d_len = if dense { total } else { 0 };
            let d_out = &mut signif.spare_capacity_mut()[..d_len];
            if dense {
                // the naive method: serial, the detection image stored
                s_out
                    .chunks_mut(n)
                    .zip(d_out.chunks_mut(n))
                    .enumerate()
                    .scan(self.scratch(), |st, (k, (s, d))| {
                        Some(self.block(st, k, s, d, ctx))
                    })
                    .collect::<Result<_>>()?
            } else if par {
                s_out
                    .par_chunks_mut(n)
                    .enumerate()
                    .map_init(
                        || self.scratch(),
                        |st, (k, s)| self.block(st, k, s, &mut [], ctx),
                    )
                    .collect::<Result<_>>()?
            } else {
                let mut st = self.scratch();
                s_out
                    .chunks_mut(n)
                    .enumerate()
                    .map(|(k, s)| self.block(&mut st, k, s, &mut [], ctx))
                    .collect::<Result<_>>()?
            }
        };
        // SAFETY: every block wrote all of its values of `sub` (and of `signif` when it
        // is stored); a cancelled run returned above with the vectors still empty.
        unsafe {
            sub.set_len(total);
            if dense {
                signif.set_len(total);
            }
        }
        Ok((sub, signif, blocks))
    }

    /// Block `k` of [`ROW_BLOCK`] rows: subtract the background into `s`, then (when
    /// fused) filter and scale each row and either threshold it into runs (sparse) or
    /// store it in `d`.
    fn block(
        &self,
        st: &mut PassScratch,
        k: usize,
        s: &mut [MaybeUninit<f64>],
        d: &mut [MaybeUninit<f64>],
        ctx: &Ctx,
    ) -> Result<Block> {
        ctx.check()?;
        let (rows, cols, p) = (self.rows, self.cols, self.p);
        let (win, tmp, bg, row, cs) = st;
        let r0 = k * ROW_BLOCK;
        let nr = s.len() / cols;
        // window row w holds image row r0 + w − 1 (zeros beyond the frame's edges, where
        // the detection filter reads nothing)
        let margin = usize::from(self.fused && matches!(p.filter, DetFilter::Pyramid3));
        for w in (1 - margin)..(nr + 1 + margin) {
            let o = &mut win[w * cols..(w + 1) * cols];
            let Some(r) = (r0 + w).checked_sub(1).filter(|&r| r < rows) else {
                o.fill(0.0);
                continue;
            };
            self.maps.back.row(r, tmp, bg);
            let x = &self.src[r * cols..(r + 1) * cols];
            for ((o, &x), &b) in o.iter_mut().zip(x).zip(&*bg) {
                *o = x - b;
            }
        }
        for (i, o) in s.chunks_mut(cols).enumerate() {
            write_all(o, &win[(i + 1) * cols..(i + 2) * cols]);
        }
        let (mut runs, mut vals) = (Vec::new(), Vec::new());
        if !self.fused {
            return Ok((runs, vals));
        }
        for i in 0..nr {
            let w = |j: usize| &win[j * cols..(j + 1) * cols];
            match p.filter {
                DetFilter::Pyramid3 => filter_row(w(i), w(i + 1), w(i + 2), row, cs),
                _ => row.copy_from_slice(w(i + 1)),
            }
            self.maps.scale(r0 + i, row, tmp, bg);
            if self.sparse {
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
    }
}

/// The "filter" stage for a Gaussian detection filter: along rows, then along columns,
/// then scaled like the fused pass.
fn gaussian_detection(
    k: &[f64],
    sub: &[f64],
    rows: usize,
    cols: usize,
    par: bool,
    maps: &Maps,
    ctx: &Ctx,
) -> Result<Vec<f64>> {
    let row = |r: usize| &sub[r * cols..(r + 1) * cols];
    let h = (k.len() / 2) as isize;
    let mut d = zeroed_f64(rows * cols, par);
    rows_do(par, &mut d, cols, ctx, &|r, o| {
        let x = row(r);
        for (j, v) in o.iter_mut().enumerate() {
            let mut acc = 0.0;
            for (t, &w) in k.iter().enumerate() {
                // taps beyond the frame read zero, as SExtractor's `convolve`
                let c = j as isize + t as isize - h;
                if c >= 0 && (c as usize) < cols {
                    acc += w * x[c as usize];
                }
            }
            *v = acc;
        }
    })?;
    let tmp = d;
    let mut e = zeroed_f64(rows * cols, par);
    rows_do(par, &mut e, cols, ctx, &|r, o| {
        o.fill(0.0);
        for (t, &w) in k.iter().enumerate() {
            let rr = r as isize + t as isize - h;
            if rr < 0 || rr as usize >= rows {
                continue;
            }
            let rr = rr as usize;
            for (v, &x) in o.iter_mut().zip(&tmp[rr * cols..(rr + 1) * cols]) {
                *v += w * x;
            }
        }
        // an RMS row only for the local threshold
        let mut e = if maps.use_global {
            Vec::new()
        } else {
            vec![0.0; cols]
        };
        maps.scale(r, o, &mut Vec::new(), &mut e);
    })?;
    Ok(e)
}

/// Every detection's pixels as one flat list (raster order inside each), with their
/// detection values: detection `i` owns `flat[off[i]..off[i + 1]]`.
struct ObjectPixels {
    off: Vec<usize>,
    flat: Vec<u32>,
    vals: Vec<f64>,
}

impl ObjectPixels {
    /// The pixels and detection values of detection `i` (0-based).
    fn of(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.off[i]..self.off[i + 1];
        (&self.flat[r.clone()], &self.vals[r])
    }
}

/// The "deblend" stage: each detection's objects (its children, or itself alone without
/// deblending or when it does not split), with their centres and moments, and (`lists`,
/// for CLEAN) their detection values in the order of SExtractor's pixel lists. `raw(g)`
/// is the unfiltered image in the detection image's units.
#[allow(clippy::too_many_arguments)]
fn deblend_all(
    px: &ObjectPixels,
    raw: &(dyn Fn(usize) -> f64 + Sync),
    cols: usize,
    deblend: Option<&DeblendParams>,
    lists: bool,
    par: bool,
    ctx: &Ctx,
) -> Result<Vec<Vec<Obj>>> {
    let one = |i: usize| -> Result<Vec<Obj>> {
        let (pix, vals) = px.of(i);
        let scan = lists.then(|| object_scan_order(pix, cols));
        let children: Children = match deblend {
            Some(dp) => {
                if i.is_multiple_of(64) || pix.len() > 4096 {
                    ctx.check()?;
                }
                let r: Vec<f64> = pix.iter().map(|&g| raw(g as usize)).collect();
                deblend_object(pix, vals, &r, scan.as_deref(), cols, dp)
            }
            None => vec![Child {
                pix: pix.to_vec(),
                centre: None,
                scan: scan.unwrap_or_default(),
            }],
        };
        let blended = children.len() > 1;
        let entry = u64::from(*pix.last().expect("a detection has pixels"));
        Ok(children
            .into_iter()
            .map(|c| {
                let det = values_of_subset(&c.pix, pix, vals);
                let iso = iso_moments(&c.pix, &det, cols, c.centre);
                let det_scan = c
                    .scan
                    .iter()
                    .map(|g| c.pix.binary_search(g).map_or(f64::NAN, |k| det[k]))
                    .collect();
                Obj {
                    parent: i + 1,
                    blended,
                    pix: c.pix,
                    det,
                    det_scan,
                    iso,
                    entry,
                    merged: Vec::new(),
                }
            })
            .collect())
    };
    let n = px.off.len() - 1;
    if par {
        (0..n).into_par_iter().map(one).collect()
    } else {
        (0..n).map(one).collect()
    }
}

/// The "clean" stage, then its merges: each object CLEAN finds to be a wing of a brighter
/// one gives its pixels to that one and is dropped. `raw(g)` is the detection value of
/// pixel `g` before filtering. Returns how many objects were merged away.
fn clean_objects(
    objects: &mut Vec<Obj>,
    raw: &(dyn Fn(usize) -> f64 + Sync),
    cp: &CleanParams,
    par: bool,
    ctx: &Ctx,
) -> Result<usize> {
    let owner = stage!(ctx, "clean", {
        let input: Vec<CleanInput> = objects
            .iter()
            .map(|o| CleanInput {
                pix: &o.pix,
                det: &o.det,
                det_scan: &o.det_scan,
                iso: o.iso,
                entry: o.entry,
            })
            .collect();
        clean(&input, raw, cp, par, &|| ctx.check())?
    });
    let n_cleaned = owner.iter().enumerate().filter(|&(i, &o)| o != i).count();
    if n_cleaned > 0 {
        for (i, &o) in owner.iter().enumerate() {
            if o != i {
                let moved = std::mem::take(&mut objects[i].pix);
                objects[o].merged.extend(moved);
            }
        }
        *objects = std::mem::take(objects)
            .into_iter()
            .enumerate()
            .filter(|&(i, _)| owner[i] == i)
            .map(|(_, o)| o)
            .collect();
    }
    Ok(n_cleaned)
}

/// The "photometry" stage's work: SExtractor's measurements of every final object.
fn photometry(
    objects: &[Obj],
    im: &Images,
    phot: &PhotParams,
    par: bool,
    ctx: &Ctx,
) -> Result<Vec<[f64; NCOL]>> {
    let one = |k: usize| -> Result<[f64; NCOL]> {
        if k.is_multiple_of(256) {
            ctx.check()?;
        }
        let ob = &objects[k];
        let o = ObjectRef {
            pix: &ob.pix,
            merged: &ob.merged,
            label: (k + 1) as i32,
            parent: ob.parent,
            blended: ob.blended,
            iso: ob.iso,
        };
        Ok(measure(&o, im, phot))
    };
    if par {
        (0..objects.len()).into_par_iter().map(one).collect()
    } else {
        (0..objects.len()).map(one).collect()
    }
}

/// The measured rows as one table.
fn to_table(table_rows: &[[f64; NCOL]]) -> Array2<f64> {
    let mut table = Array2::zeros((table_rows.len(), NCOL));
    for (k, r) in table_rows.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            table[[k, c]] = *v;
        }
    }
    table
}

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
}
