//! Chapter 7.1's line-profiler demo on a CCD frame: 3x3 median (cosmic-ray clean,
//! scipy `reflect` edges), mean/std, a mean + k·σ threshold, connected-component labels
//! numbered as `scipy.ndimage.label` numbers them, and per-source npix, flux, centroid
//! and flux-weighted centroid. A second detection mode (`detect=background`) works like
//! SExtractor: a sigma-clipped background/RMS mesh, a detection filter, a threshold in
//! units of the RMS, `minarea`, 8-connected labels, multi-threshold deblending and
//! SExtractor's measurements (x_image/y_image, moments, A/B/THETA, FLUX_ISO, FLUX_APER,
//! KRON_RADIUS, FLUX_AUTO with errors, FLAGS) — see `ccd_background`.
//!
//! Variants: naive sorts every 3x3 window, flood-fills a full boolean mask and scans the
//! whole frame once per label (the chapter's loop); vectorized uses a min/max network
//! median, run-length union-find labelling and one pass for all moments; parallel splits
//! rows into bands over rayon (halo rows are read from the shared input), labels runs per
//! band and merges the labels across band edges.
//!
//! Artifacts: `cleaned` (f64, exact), `labels` (int32, exact), `sources` (table; floats
//! compared with a relative tolerance of 1e-12 — every variant in fact adds the same
//! terms in raster order). Background mode writes `subtracted`, `background`,
//! `background_rms` instead of `cleaned`, and its `sources` table has the SExtractor
//! columns after the seven above.

use crate::data::{generate, Dataset, Frame, Kind};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, Tolerance, Variant,
};
use crate::kernels::common::{chunk_len, mean_std_naive};
use crate::kernels::extract::background as bg;
use crate::kernels::extract::clean::CleanParams;
use crate::kernels::extract::deblend::DeblendParams;
use crate::kernels::extract::photometry::PhotParams;
use crate::kernels::image::{
    all_finite, mean_std_lanes, median3_rows, moments_from_runs, number_runs, paint, runs_in_row,
    source_table, union_band, union_rows, Dsu, Moments, Run, SOURCE_COLUMNS,
};
use crate::{stage, Error, Result};
use ndarray::{Array2, ArrayD, IxDyn};
use rayon::prelude::*;

pub struct CcdPipeline;

/// Artifact: the sources found, a table with the columns of `SOURCE_COLUMNS`.
pub const SOURCES: &str = "sources";

/// Rows between cancellation checks in the serial loops.
const ROWS_PER_CHECK: usize = 64;

/// Largest Gaussian detection filter (FWHM, pixels) and aperture radius accepted.
pub const MAX_FILTER_FWHM: f64 = 50.0;
pub const MAX_APER_RADIUS: f64 = 1000.0;

/// Largest frame side accepted (a 2 GB f64 frame is already far beyond the chapter).
pub const MAX_PIXELS: usize = 1 << 28;

impl Analysis for CcdPipeline {
    fn id(&self) -> &'static str {
        "ccd-pipeline"
    }
    fn title(&self) -> &'static str {
        "CCD pipeline (median 3x3, threshold, labels, photometry)"
    }
    fn section(&self) -> Section {
        Section::Profiling
    }
    fn help(&self) -> &'static str {
        "Cosmic-ray clean with a 3x3 median, threshold at mean + k·σ (or SExtractor-like local background), label sources and measure flux and centroids; the median and the per-label loop are where the time goes."
    }
    fn input_kind(&self) -> Kind {
        Kind::Frame
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::choice(
                "detect",
                "threshold: global mean + k·σ of the median-cleaned frame; background: SExtractor-like local background and RMS",
                "threshold",
                &["threshold", "background"],
            ),
            ParamSpec::float(
                "k",
                "threshold mode: pixels above mean + k·σ (strict >) are source pixels",
                5.0,
                -100.0,
                1000.0,
            ),
            ParamSpec::int(
                "connectivity",
                "threshold mode: 4 (scipy's default cross) or 8 neighbours",
                4,
                4,
                8,
            ),
            ParamSpec::int(
                "back_size",
                "background mode: mesh size in pixels",
                64,
                4,
                4096,
            ),
            ParamSpec::float(
                "thresh",
                "background mode: detection threshold in units of the local background RMS",
                1.5,
                0.0,
                1000.0,
            ),
            ParamSpec::choice(
                "thresh_rms",
                "background mode: threshold in units of the global RMS (median of the mesh RMS, as SExtractor without a weight map) or of the local RMS map",
                "global",
                &["global", "local"],
            ),
            ParamSpec::int(
                "minarea",
                "background mode: smallest source in pixels",
                5,
                1,
                1_000_000,
            ),
            ParamSpec::bool(
                "filter",
                "background mode: smooth before thresholding (SExtractor's 3x3 default.conv, or a Gaussian of filter_fwhm)",
                true,
            ),
            ParamSpec::float(
                "filter_fwhm",
                "background mode: FWHM in pixels of a Gaussian detection filter; 0 uses the 3x3 default.conv kernel",
                0.0,
                0.0,
                MAX_FILTER_FWHM,
            ),
            ParamSpec::bool(
                "deblend",
                "background mode: SExtractor's multi-threshold deblending of blended sources",
                true,
            ),
            ParamSpec::int(
                "deblend_nthresh",
                "background mode: deblending sub-thresholds between the detection threshold and each peak",
                32,
                1,
                1024,
            ),
            ParamSpec::float(
                "deblend_mincont",
                "background mode: a branch with more than this fraction of the object's flux becomes an object",
                0.005,
                0.0,
                1.0,
            ),
            ParamSpec::bool(
                "clean",
                "background mode: SExtractor's CLEAN, which merges detections that are only the wings of a brighter neighbour",
                true,
            ),
            ParamSpec::float(
                "clean_param",
                "background mode: CLEAN_PARAM, the exponent β of the wing model (1 + α·r²)^−β",
                1.0,
                0.1,
                10.0,
            ),
            ParamSpec::choice(
                "maps",
                "background mode: output the background and RMS as their meshes only, or also at full resolution (two more frame-sized images)",
                "mesh",
                &["mesh", "full"],
            ),
            ParamSpec::float(
                "aper_radius",
                "background mode: radius in pixels of the circular aperture of FLUX_APER",
                5.0,
                0.0,
                MAX_APER_RADIUS,
            ),
            ParamSpec::float(
                "satur_level",
                "background mode: input pixels at or above this value are saturated (FLAGS 4)",
                50_000.0,
                -1e300,
                1e300,
            ),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "pixels per side"
    }
    fn default_size(&self) -> usize {
        1024
    }
    fn quick_size(&self) -> usize {
        256
    }
    fn cost(&self) -> CostModel {
        CostModel {
            // size = pixels per side: work ∝ side².
            time: [(2.0, 110.9e-3), (2.0, 5.74e-3), (2.0, 3.01e-3)],
            mem: (2.0, 80.0),
            w_ref: 1024.0,
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        Ok(Dataset::Frame(generate_frame(size, seed)?))
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::Frame(f) => side_of(f),
            other => other.n_elements(),
        }
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        check_frame(engine::input(self, input)?)?;
        check_connectivity(params)
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let f: &Frame = engine::input(self, input)?;
        check_frame_shape(f)?;
        check_connectivity(params)?;
        if params.str("detect")? != "background" {
            check_frame(f)?;
        }
        let data = f.data.as_standard_layout();
        let src = data
            .as_slice()
            .ok_or_else(|| Error::input("the frame is not contiguous"))?;
        let (rows, cols) = f.data.dim();
        match params.str("detect")? {
            "background" => {
                let thresh = params.f64("thresh")?;
                let minarea = params.usize("minarea")?;
                let fwhm = params.f64("filter_fwhm")?;
                let filter = if !params.bool("filter")? {
                    bg::DetFilter::None
                } else if fwhm > 0.0 {
                    bg::DetFilter::Gaussian(bg::gaussian_kernel(fwhm))
                } else {
                    bg::DetFilter::Pyramid3
                };
                let deblend = if params.bool("deblend")? {
                    Some(DeblendParams {
                        nthresh: params.usize("deblend_nthresh")?,
                        mincont: params.f64("deblend_mincont")?,
                        minarea,
                        thresh,
                    })
                } else {
                    None
                };
                let clean = if params.bool("clean")? {
                    Some(CleanParams {
                        beta: params.f64("clean_param")?,
                        thresh,
                        minarea,
                    })
                } else {
                    None
                };
                let p = bg::BackParams {
                    back_size: params.usize("back_size")?,
                    thresh,
                    global_rms: params.str("thresh_rms")? == "global",
                    minarea,
                    filter,
                    deblend,
                    clean,
                    full_maps: params.str("maps")? == "full",
                    phot: PhotParams {
                        aper_radius: params.f64("aper_radius")?,
                        satur_level: params.f64("satur_level")?,
                    },
                };
                bg::run(variant, src, rows, cols, &p, ctx)
            }
            _ => {
                let k = params.f64("k")?;
                let eight = params.i64("connectivity")? == 8;
                run_threshold(variant, src, rows, cols, k, eight, ctx)
            }
        }
    }
}

fn check_connectivity(params: &Params) -> Result<()> {
    let c = params.i64("connectivity")?;
    if c != 4 && c != 8 {
        return Err(Error::param(format!(
            "parameter connectivity: {c} is not 4 or 8"
        )));
    }
    Ok(())
}

/// Frame side for a size: stars scale with the area (50 per 1024², as the chapter's
/// benchmark: 800 at 4096²).
pub fn generate_frame(size: usize, seed: u64) -> Result<Frame> {
    let side = size.max(8);
    if side.saturating_mul(side) > MAX_PIXELS {
        return Err(Error::param(format!(
            "a {side}x{side} frame exceeds the limit of {MAX_PIXELS} pixels"
        )));
    }
    let stars = ((50.0 * (side * side) as f64 / (1024.0 * 1024.0)).round() as usize).max(5);
    let p = generate::FrameParams {
        rows: side,
        cols: side,
        stars,
        cosmic_rays: stars,
        ..Default::default()
    };
    Ok(generate::frame(&p, seed))
}

pub fn side_of(f: &Frame) -> usize {
    ((f.data.len() as f64).sqrt().round()) as usize
}

/// Shape and finiteness checks shared by the CCD analyses.
pub fn check_frame(f: &Frame) -> Result<()> {
    check_frame_shape(f)?;
    let finite = match f.data.as_slice() {
        Some(x) => all_finite(x),
        None => f.data.iter().all(|v| v.is_finite()),
    };
    if !finite {
        return Err(nonfinite_error(
            f.data.iter().filter(|v| !v.is_finite()).count(),
        ));
    }
    Ok(())
}

/// The frame's size limits, without the scan for non-finite pixels (the background mode
/// finds those in its mesh pass instead of reading the frame once more).
pub fn check_frame_shape(f: &Frame) -> Result<()> {
    let (rows, cols) = f.data.dim();
    if rows == 0 || cols == 0 {
        return Err(Error::input(format!(
            "the frame is {rows}x{cols}; it is empty"
        )));
    }
    if rows * cols > MAX_PIXELS || rows > u32::MAX as usize || cols > u32::MAX as usize / 2 {
        return Err(Error::input(format!(
            "the frame is {rows}x{cols}, more than the {MAX_PIXELS} pixels this tool handles"
        )));
    }
    Ok(())
}

pub fn nonfinite_error(bad: usize) -> Error {
    Error::input(format!(
        "the frame has {bad} NaN or infinite pixels; the 3x3 median and the statistics need finite data"
    ))
}

/// The 3x3 median of the whole frame with the variant's kernel and scheduling.
pub fn median3_frame(
    variant: Variant,
    src: &[f64],
    rows: usize,
    cols: usize,
    ctx: &Ctx,
) -> Result<Vec<f64>> {
    let mut out = vec![0.0; rows * cols];
    match variant {
        Variant::Naive | Variant::Vectorized => {
            let fast = variant == Variant::Vectorized;
            for (b, chunk) in out.chunks_mut(ROWS_PER_CHECK * cols).enumerate() {
                ctx.check()?;
                median3_rows(src, rows, cols, b * ROWS_PER_CHECK, chunk, fast);
                ctx.progress(0.5 * ((b + 1) * ROWS_PER_CHECK) as f64 / rows as f64);
            }
        }
        Variant::Parallel => {
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

/// Labels and moments of the mask `values > thr`, by the variant's method.
pub struct Detection {
    pub labels: Vec<i32>,
    pub moments: Vec<Moments>,
    /// Runs and their labels (0 = dropped by `minarea`); empty for the naive variant.
    pub runs: Vec<Run>,
    pub run_label: Vec<i32>,
}

fn run_threshold(
    variant: Variant,
    src: &[f64],
    rows: usize,
    cols: usize,
    k: f64,
    eight: bool,
    ctx: &Ctx,
) -> Result<Output> {
    let cleaned = stage!(
        ctx,
        "median3",
        median3_frame(variant, src, rows, cols, ctx)?
    );
    ctx.check()?;
    let (mean, std) = stage!(
        ctx,
        "mean_std",
        match variant {
            Variant::Naive => mean_std_naive(&cleaned),
            Variant::Vectorized => mean_std_lanes(&cleaned, false),
            Variant::Parallel => mean_std_lanes(&cleaned, true),
        }
    );
    let thr = mean + k * std;
    ctx.progress(0.6);
    let det = detect(variant, &cleaned, &cleaned, rows, cols, thr, eight, 1, ctx)?;
    ctx.progress(1.0);
    let table = source_table(&det.moments);
    let npix: u64 = det.moments.iter().map(|m| m.npix).sum();
    Ok(Output::new()
        .sum("n_sources", det.moments.len())
        .sum("threshold", thr)
        .sum("mean", mean)
        .sum("std", std)
        .sum("n_pixels_above", npix)
        .sum("connectivity", if eight { 8 } else { 4 })
        .f64("cleaned", to_dyn(cleaned, rows, cols)?, Tolerance::Exact)
        .i32("labels", to_dyn_i32(det.labels, rows, cols)?)
        .table(SOURCES, &SOURCE_COLUMNS, table, Tolerance::Rel(1e-12)))
}

pub fn to_dyn(v: Vec<f64>, rows: usize, cols: usize) -> Result<ArrayD<f64>> {
    ArrayD::from_shape_vec(IxDyn(&[rows, cols]), v).map_err(|e| Error::input(e.to_string()))
}

pub fn to_dyn_i32(v: Vec<i32>, rows: usize, cols: usize) -> Result<ArrayD<i32>> {
    ArrayD::from_shape_vec(IxDyn(&[rows, cols]), v).map_err(|e| Error::input(e.to_string()))
}

/// Threshold `test > thr`, label (4- or 8-connected, scipy numbering), drop sources with
/// fewer than `minarea` pixels (renumbering the rest in raster order), and measure
/// `values` over each source. Stages: threshold, label, measure.
#[allow(clippy::too_many_arguments)]
pub fn detect(
    variant: Variant,
    test: &[f64],
    values: &[f64],
    rows: usize,
    cols: usize,
    thr: f64,
    eight: bool,
    minarea: usize,
    ctx: &Ctx,
) -> Result<Detection> {
    detect_opts(
        variant, test, values, rows, cols, thr, eight, minarea, true, ctx,
    )
}

/// [`detect`], optionally without painting the label image (`labels` is then empty;
/// the naive variant always makes it, as its per-label scans need it).
#[allow(clippy::too_many_arguments)]
pub fn detect_opts(
    variant: Variant,
    test: &[f64],
    values: &[f64],
    rows: usize,
    cols: usize,
    thr: f64,
    eight: bool,
    minarea: usize,
    paint_labels: bool,
    ctx: &Ctx,
) -> Result<Detection> {
    match variant {
        Variant::Naive => detect_naive(test, values, rows, cols, thr, eight, minarea, ctx),
        Variant::Vectorized | Variant::Parallel => {
            let par = variant == Variant::Parallel;
            let band = if par {
                chunk_len(rows, ctx.threads).max(1)
            } else {
                rows.max(1)
            };
            let starts: Vec<usize> = (0..rows).step_by(band).collect();
            let bands: Vec<Vec<Run>> = stage!(ctx, "threshold", {
                let one = |&r0: &usize| {
                    let mut runs = Vec::new();
                    for r in r0..(r0 + band).min(rows) {
                        if r % ROWS_PER_CHECK == 0 {
                            ctx.check()?;
                        }
                        runs_in_row(&test[r * cols..(r + 1) * cols], thr, r, &mut runs);
                    }
                    Ok(runs)
                };
                if par {
                    starts.par_iter().map(one).collect::<Result<Vec<_>>>()?
                } else {
                    starts.iter().map(one).collect::<Result<Vec<_>>>()?
                }
            });
            label_runs(
                par,
                bands,
                band,
                values,
                rows,
                cols,
                eight,
                minarea,
                paint_labels,
                ctx,
            )
        }
    }
}

/// The "label" and "measure" stages from runs already found, band by band (`bands[i]`
/// holds the runs of rows `i·band .. (i+1)·band`, in raster order): unions inside each band
/// (over rayon when `par`), then across band edges, scipy's numbering, `minarea`, the
/// label image when asked, and the moments of `values` over each source.
#[allow(clippy::too_many_arguments)]
pub fn label_runs(
    par: bool,
    bands: Vec<Vec<Run>>,
    band: usize,
    values: &[f64],
    rows: usize,
    cols: usize,
    eight: bool,
    minarea: usize,
    paint_labels: bool,
    ctx: &Ctx,
) -> Result<Detection> {
    let starts: Vec<usize> = (0..bands.len()).map(|i| i * band).collect();
    let (labels, runs, run_label, n) = stage!(ctx, "label", {
        // union inside each band ...
        let local = |b: &Vec<Run>| {
            let mut d = Dsu::new(b.len());
            union_band(b, eight, &mut d, 0);
            d.parent
        };
        let locals: Vec<Vec<u32>> = if par {
            bands.par_iter().map(local).collect()
        } else {
            bands.iter().map(local).collect()
        };
        // ... then merge: offset the local forests and join runs across band edges.
        let mut offsets = Vec::with_capacity(bands.len() + 1);
        offsets.push(0usize);
        for b in &bands {
            offsets.push(offsets[offsets.len() - 1] + b.len());
        }
        let total = offsets[bands.len()];
        let mut runs = Vec::with_capacity(total);
        let mut dsu = Dsu {
            parent: Vec::with_capacity(total),
        };
        for (i, (b, p)) in bands.iter().zip(&locals).enumerate() {
            runs.extend_from_slice(b);
            let o = offsets[i] as u32;
            dsu.parent.extend(p.iter().map(|&x| x + o));
        }
        for i in 1..bands.len() {
            let edge = starts[i] as u32;
            let prev = &bands[i - 1];
            let cur = &bands[i];
            let p0 = prev.partition_point(|r| r.row + 1 < edge);
            let c1 = cur.partition_point(|r| r.row == edge);
            if p0 < prev.len() && prev[p0].row + 1 == edge && c1 > 0 {
                union_rows(
                    &runs,
                    offsets[i - 1] + p0..offsets[i],
                    offsets[i]..offsets[i] + c1,
                    eight,
                    &mut dsu,
                    0,
                );
            }
        }
        let (mut run_label, n) = number_runs(&mut dsu);
        let n = apply_minarea(&runs, &mut run_label, n, minarea);
        let mut labels = vec![0i32; if paint_labels { rows * cols } else { 0 }];
        let paint_band = |(i, out): (usize, &mut [i32])| {
            ctx.check()?;
            let (a, b) = (offsets[i], offsets[i + 1]);
            paint(&runs[a..b], &run_label[a..b], cols, starts[i], out);
            Ok::<(), Error>(())
        };
        if paint_labels {
            if par {
                labels
                    .par_chunks_mut(band * cols)
                    .enumerate()
                    .try_for_each(paint_band)?;
            } else {
                labels
                    .chunks_mut(band * cols)
                    .enumerate()
                    .try_for_each(paint_band)?;
            }
        }
        (labels, runs, run_label, n)
    });
    let moments = stage!(
        ctx,
        "measure",
        moments_from_runs(&runs, &run_label, n, values, cols)
    );
    Ok(Detection {
        labels,
        moments,
        runs,
        run_label,
    })
}

/// Set labels of sources smaller than `minarea` to 0 and renumber the rest 1..=m keeping
/// their (raster) order. Returns m.
fn apply_minarea(runs: &[Run], run_label: &mut [i32], n: usize, minarea: usize) -> usize {
    if minarea <= 1 {
        return n;
    }
    let mut area = vec![0usize; n + 1];
    for (r, &l) in runs.iter().zip(run_label.iter()) {
        area[l as usize] += (r.c1 - r.c0) as usize;
    }
    let mut map = vec![0i32; n + 1];
    let mut m = 0;
    for l in 1..=n {
        if area[l] >= minarea {
            m += 1;
            map[l] = m as i32;
        }
    }
    for l in run_label.iter_mut() {
        *l = map[*l as usize];
    }
    m
}

/// The chapter's way: a boolean mask, a flood fill, and one full-frame scan per label.
#[allow(clippy::too_many_arguments)]
fn detect_naive(
    test: &[f64],
    values: &[f64],
    rows: usize,
    cols: usize,
    thr: f64,
    eight: bool,
    minarea: usize,
    ctx: &Ctx,
) -> Result<Detection> {
    let mask: Vec<bool> = stage!(ctx, "threshold", test.iter().map(|&v| v > thr).collect());
    ctx.check()?;
    let (labels, n) = stage!(ctx, "label", {
        let mut labels = vec![0i32; rows * cols];
        let mut n = 0i32;
        let mut stack = Vec::new();
        let mut members = Vec::new();
        for start in 0..rows * cols {
            if !mask[start] || labels[start] != 0 {
                continue;
            }
            n += 1;
            labels[start] = n;
            stack.push(start);
            members.clear();
            while let Some(p) = stack.pop() {
                members.push(p);
                let (r, c) = ((p / cols) as isize, (p % cols) as isize);
                for dr in -1isize..=1 {
                    for dc in -1isize..=1 {
                        if (dr == 0 && dc == 0) || (!eight && dr != 0 && dc != 0) {
                            continue;
                        }
                        let (rr, cc) = (r + dr, c + dc);
                        if rr < 0 || cc < 0 || rr >= rows as isize || cc >= cols as isize {
                            continue;
                        }
                        let q = rr as usize * cols + cc as usize;
                        if mask[q] && labels[q] == 0 {
                            labels[q] = n;
                            stack.push(q);
                        }
                    }
                }
            }
            if members.len() < minarea {
                // too small: unlabel (it keeps a sentinel so it is not revisited)
                for &p in &members {
                    labels[p] = -1;
                }
                n -= 1;
            }
        }
        for l in labels.iter_mut() {
            if *l < 0 {
                *l = 0;
            }
        }
        (labels, n as usize)
    });
    let mut moments = vec![Moments::default(); n];
    stage!(ctx, "measure", {
        for (i, m) in moments.iter_mut().enumerate() {
            ctx.check()?;
            let lab = (i + 1) as i32;
            for r in 0..rows {
                for c in 0..cols {
                    if labels[r * cols + c] == lab {
                        m.add(r, c, values[r * cols + c]);
                    }
                }
            }
        }
    });
    Ok(Detection {
        labels,
        moments,
        runs: Vec::new(),
        run_label: Vec::new(),
    })
}

/// Convenience for tests: a frame dataset from an array.
pub fn frame_dataset(data: Array2<f64>) -> Dataset {
    Dataset::Frame(Frame {
        data,
        stored: crate::data::Dtype::F64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_all(d: &Dataset, given: &[(&str, &str)]) -> Vec<Output> {
        let a = CcdPipeline;
        let given: Vec<(String, String)> = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let p = Params::resolve(&a.params(), &given).expect("params");
        crate::engine::ALL_VARIANTS
            .iter()
            .map(|&v| {
                let ctx = Ctx::detached(3);
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(3)
                    .build()
                    .expect("pool");
                pool.install(|| a.run(v, d, &p, &ctx)).expect("run")
            })
            .collect()
    }

    #[test]
    fn variants_agree_on_a_crowded_frame() {
        // low k: many touching regions crossing band edges, both connectivities
        let d = CcdPipeline.generate(97, 4).expect("gen");
        for conn in ["4", "8"] {
            for k in ["0.5", "3"] {
                let outs = run_all(&d, &[("k", k), ("connectivity", conn)]);
                for o in &outs[1..] {
                    outs[0].agrees_with(o).expect("agree");
                }
                assert!(outs[0].summary_f64("n_sources").expect("n") > 0.0);
            }
        }
    }

    #[test]
    fn labels_follow_scipy_raster_numbering() {
        // a U shape: two arms joined at the bottom are one label; numbering by first pixel
        let mut a = Array2::zeros((6, 7));
        for r in 0..5 {
            a[[r, 1]] = 10.0;
            a[[r, 5]] = 10.0;
        }
        for c in 1..=5 {
            a[[4, c]] = 10.0;
        }
        a[[0, 3]] = 10.0; // isolated pixel after the U's first pixel -> label 2
        a[[5, 0]] = 10.0; // touches (4,1) only diagonally
        let ctx = Ctx::detached(1);
        let src = a.as_slice().expect("slice");
        for v in crate::engine::ALL_VARIANTS {
            let d4 = detect(v, src, src, 6, 7, 5.0, false, 1, &ctx).expect("4");
            assert_eq!(d4.moments.len(), 3, "{v}");
            assert_eq!(d4.labels[1], 1);
            assert_eq!(d4.labels[3], 2);
            assert_eq!(d4.labels[5], 1);
            assert_eq!(d4.labels[5 * 7], 3);
            let d8 = detect(v, src, src, 6, 7, 5.0, true, 1, &ctx).expect("8");
            assert_eq!(d8.moments.len(), 2, "{v}");
            assert_eq!(d8.labels[5 * 7], 1);
            let dmin = detect(v, src, src, 6, 7, 5.0, false, 2, &ctx).expect("minarea");
            assert_eq!(dmin.moments.len(), 1, "{v}");
            assert_eq!(dmin.labels[3], 0);
        }
    }
}
