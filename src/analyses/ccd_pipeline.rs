//! Chapter 7.1's line-profiler demo on a CCD frame: 3x3 median (cosmic-ray clean,
//! scipy `reflect` edges), mean/std, a mean + k·σ threshold, connected-component labels
//! numbered as `scipy.ndimage.label` numbers them, and per-source npix, flux, centroid
//! and flux-weighted centroid (`detect=threshold`, the chapter's workload, which the bench
//! runs). The default detection mode (`detect=background`) works like SExtractor, so that
//! a real frame gives an astronomer's catalog with the defaults (the ESO frame: 68
//! sources, SExtractor's 68; the global threshold finds 4 there): a sigma-clipped background/RMS mesh, a detection filter, a threshold in
//! units of the RMS, `minarea`, 8-connected labels, multi-threshold deblending and
//! SExtractor's measurements (x_image/y_image, moments, A/B/THETA, FLUX_ISO, FLUX_APER,
//! KRON_RADIUS, FLUX_AUTO with errors, FLAGS) — see [`crate::kernels::extract`].
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
use crate::engine::work::{self, F64};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
use crate::kernels::extract::background::{self as bg, Extraction};
use crate::kernels::extract::clean::CleanParams;
use crate::kernels::extract::deblend::DeblendParams;
use crate::kernels::extract::detect::{detect, nonfinite_error};
use crate::kernels::extract::photometry::{columns, PhotParams};
use crate::kernels::image::{median3_frame, source_table, SOURCE_COLUMNS};
use crate::kernels::stats::{all_finite, mean_std_lanes, mean_std_naive};
use crate::kernels::Method;
use crate::{stage, Error, Result};
use ndarray::{Array2, ArrayD, IxDyn};

pub struct CcdPipeline;

/// Artifact: the sources found, a table with the columns of `SOURCE_COLUMNS`.
pub const SOURCES: &str = "sources";

/// Largest Gaussian detection filter (FWHM, pixels) and aperture radius accepted.
pub const MAX_FILTER_FWHM: f64 = 50.0;
pub const MAX_APER_RADIUS: f64 = 1000.0;

/// The default detection mode: SExtractor-like, the one that gives a plausible catalog
/// on a real frame.
pub const DEFAULT_DETECT: &str = "background";

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
        "Sources of a CCD frame: by default SExtractor-like (local background and RMS, filtered detection, deblending, Kron photometry, flags), or the chapter's cosmic-ray clean with a 3x3 median, threshold at mean + k·σ, labels, flux and centroids (detect=threshold); the median and the per-label loop are where the time goes."
    }
    fn input_kind(&self) -> Kind {
        Kind::Frame
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::choice(
                "detect",
                "background: SExtractor-like local background and RMS (a real frame's catalog); threshold: the chapter's global mean + k·σ of the median-cleaned frame",
                DEFAULT_DETECT,
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
    /// The bench times the chapter's workload, the global threshold, in every suite (its
    /// cost model, the README's tables and the Python reference describe that mode).
    fn bench_params(&self) -> &'static [(&'static str, &'static str)] {
        &[("detect", "threshold")]
    }
    /// The cost model is the threshold mode's; the SExtractor-like mode, measured on
    /// generated 1024² frames (release, 2 threads), takes these multiples of it.
    fn time_factor(&self, variant: Variant, params: &Params) -> f64 {
        if params.str("detect").ok() != Some("background") {
            return 1.0;
        }
        match variant {
            Variant::Naive => 0.33,
            Variant::Vectorized => 2.3,
            Variant::Parallel => 1.6,
        }
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
    fn stage_work(&self, input: &Dataset, params: &Params) -> Vec<StageWork> {
        let Dataset::Frame(f) = input else {
            return Vec::new();
        };
        // The background mode's work (clipping iterations, deblending thresholds) and
        // every mode's measurements depend on the data, not only on its size: undeclared.
        if params.str("detect").ok() != Some("threshold") {
            return Vec::new();
        }
        let pixels = f.data.len() as f64;
        vec![
            // The 3×3 median compares only: the frame read, the cleaned frame written.
            StageWork::moving("median3", 2.0 * F64 * pixels),
            work::mean_std("mean_std", pixels),
            // The cleaned frame read, one byte of mask a pixel written (comparisons only).
            StageWork::moving("threshold", (F64 + 1.0) * pixels),
            // The mask read, an i32 label a pixel written.
            StageWork::moving("label", 5.0 * pixels),
        ]
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
                let found = bg::run(variant.into(), src, rows, cols, &p, ctx)?;
                background_output(found, &p, rows, cols)
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

fn run_threshold(
    variant: Variant,
    src: &[f64],
    rows: usize,
    cols: usize,
    k: f64,
    eight: bool,
    ctx: &Ctx,
) -> Result<Output> {
    let method = Method::from(variant);
    let cleaned = stage!(ctx, "median3", median3_frame(method, src, rows, cols, ctx)?);
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
    let det = detect(method, &cleaned, &cleaned, rows, cols, thr, eight, 1, ctx)?;
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

/// The background mode's output: its summary (the settings, counts and mean levels) and
/// the subtracted frame, meshes, labels and source table (and the full maps if made).
fn background_output(
    found: Extraction,
    p: &bg::BackParams,
    rows: usize,
    cols: usize,
) -> Result<Output> {
    let (ny, nx) = found.mesh_dim;
    let mean_of = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut out = Output::new()
        .sum("n_sources", found.sources.nrows())
        .sum("n_detections", found.n_detections)
        .sum("n_blended", found.n_blended)
        .sum("n_cleaned", found.n_cleaned)
        .sum("detect", "background")
        .sum("back_size", p.back_size.max(1))
        .sum("thresh", p.thresh)
        .sum("minarea", p.minarea)
        .sum(
            "filter",
            match &p.filter {
                bg::DetFilter::None => "none".to_string(),
                bg::DetFilter::Pyramid3 => "3x3 default.conv".to_string(),
                bg::DetFilter::Gaussian(k) => format!("gaussian ({} taps)", k.len()),
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
        .sum("background_mean", mean_of(&found.back_mesh))
        .sum("rms_mean", mean_of(&found.rms_mesh))
        .sum("global_rms", found.global_rms)
        .sum("thresh_type", if p.global_rms { "global" } else { "local" })
        .f64(
            "subtracted",
            to_dyn(found.subtracted, rows, cols)?,
            Tolerance::Exact,
        )
        .f64(
            "background_mesh",
            to_dyn(found.back_mesh, ny, nx)?,
            Tolerance::Exact,
        )
        .f64(
            "rms_mesh",
            to_dyn(found.rms_mesh, ny, nx)?,
            Tolerance::Exact,
        )
        .i32("labels", to_dyn_i32(found.labels, rows, cols)?)
        .table(SOURCES, &columns(), found.sources, Tolerance::Rel(1e-12));
    if let Some((b, e)) = found.full_maps {
        out = out
            .f64("background", to_dyn(b, rows, cols)?, Tolerance::Exact)
            .f64("background_rms", to_dyn(e, rows, cols)?, Tolerance::Exact);
    }
    Ok(out)
}

pub fn to_dyn(v: Vec<f64>, rows: usize, cols: usize) -> Result<ArrayD<f64>> {
    ArrayD::from_shape_vec(IxDyn(&[rows, cols]), v).map_err(|e| Error::input(e.to_string()))
}

pub fn to_dyn_i32(v: Vec<i32>, rows: usize, cols: usize) -> Result<ArrayD<i32>> {
    ArrayD::from_shape_vec(IxDyn(&[rows, cols]), v).map_err(|e| Error::input(e.to_string()))
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
                let outs = run_all(
                    &d,
                    &[("detect", "threshold"), ("k", k), ("connectivity", conn)],
                );
                for o in &outs[1..] {
                    outs[0].agrees_with(o).expect("agree");
                }
                assert!(outs[0].summary_f64("n_sources").expect("n") > 0.0);
            }
        }
    }
}
