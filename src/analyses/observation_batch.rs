//! Chapter 7.4's multiprocessing pipeline: many CCD frames, each dark- and
//! flat-calibrated, thresholded at mean + k·σ and reduced to a source list (4-connected
//! labels, npix, flux, centroids). The parallel variant spreads whole frames over rayon
//! (the chapter's `Pool.map`); the summary gives frames per second and sources per frame.
//!
//! The master dark and flat are synthetic and deterministic (they depend only on the
//! frame shape): the generator applies them to its sky frames (raw = sky·flat + dark) and
//! the calibration removes them again ((raw − dark) / flat). Param `calibrate=false`
//! skips the calibration for frames that are already reduced.

use super::ccd_pipeline::MAX_PIXELS;
use crate::data::rng::Rng;
use crate::data::{generate, Dataset, Dtype, Frame, Kind};
use crate::engine::work::{self, F64};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
use crate::kernels::extract::detect::detect_opts;
use crate::kernels::image::{Moments, SOURCE_COLUMNS};
use crate::kernels::stats::{all_finite, mean_std_lanes, mean_std_naive};
use crate::{stage, Error, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

pub struct ObservationBatch;

/// Artifact: every frame's sources in one table, its first column the frame index.
pub const SOURCES: &str = "sources";
/// Artifact: how many sources each frame has.
pub const SOURCES_PER_FRAME: &str = "sources_per_frame";
/// Summary: sources found in all frames.
pub const N_SOURCES: &str = "n_sources";

const CAL_SEED: u64 = 0x0DA7_F1A7;

/// Largest total pixel count of a batch this analysis accepts.
pub const MAX_BATCH_PIXELS: usize = 1 << 31;

impl Analysis for ObservationBatch {
    fn id(&self) -> &'static str {
        "observation-batch"
    }
    fn title(&self) -> &'static str {
        "Observation batch (dark/flat calibration, sources per frame)"
    }
    fn section(&self) -> Section {
        Section::ParallelProcessing
    }
    fn help(&self) -> &'static str {
        "Calibrate many frames with a master dark and flat, threshold at mean + k·σ and list the sources of each; the parallel variant processes whole frames at once, like the chapter's Pool.map. Generated batches use 1024² frames from 16 frames up, 256² below."
    }
    fn input_kind(&self) -> Kind {
        Kind::FrameBatch
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::float(
                "k",
                "source pixels are above mean + k·σ of the calibrated frame (strict >)",
                5.0,
                -100.0,
                1000.0,
            ),
            ParamSpec::bool(
                "calibrate",
                "subtract the synthetic master dark and divide by the master flat",
                true,
            ),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "frames"
    }
    fn default_size(&self) -> usize {
        50
    }
    fn quick_size(&self) -> usize {
        4
    }
    fn cost(&self) -> CostModel {
        CostModel {
            // work = pixels in the whole batch (50 frames of 1024²).
            time: [(1.0, 2.694), (1.0, 0.1407), (1.0, 0.1144)],
            mem: (1.0, 16.0),
            w_ref: 50.0 * 1024.0 * 1024.0,
        }
    }
    fn work(&self, input: &Dataset, _params: &Params) -> f64 {
        input.n_elements() as f64
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        let side = if size >= 16 { 1024 } else { 256 };
        Ok(Dataset::FrameBatch(generate_batch(size, side, seed)?))
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::FrameBatch(v) => v.len(),
            other => other.n_elements(),
        }
    }
    fn validate(&self, input: &Dataset, _params: &Params) -> Result<()> {
        self.parse(input).map(drop)
    }
    fn stage_work(&self, input: &Dataset, params: &Params) -> Vec<StageWork> {
        let Dataset::FrameBatch(frames) = input else {
            return Vec::new();
        };
        let Some(first) = frames.first() else {
            return Vec::new();
        };
        let p = first.data.len() as f64;
        let n = frames.len() as f64;
        let calibrate = params.bool("calibrate").unwrap_or(true);
        // The synthetic dark and flat written once: per pixel two normal draws (the polar
        // method, about 8 flops each), 2 flops for the dark, 11 for the flat's vignetting.
        let masters = if calibrate {
            StageWork::streaming("masters", 16.0 * p, 29.0 * p)
        } else {
            StageWork::moving("masters", 0.0)
        };
        // (raw − dark) / flat per pixel: three frames read, one written, 2 flops; without
        // calibration a copy.
        let calibrate_work = if calibrate {
            StageWork::streaming("calibrate", 32.0 * p * n, 2.0 * p * n).reusing(32.0 * p)
        } else {
            StageWork::moving("calibrate", 16.0 * p * n).reusing(16.0 * p)
        };
        let mean_std = work::mean_std("mean_std", p * n).reusing(F64 * p);
        // The frame read, a byte of mask written; the mask read, an i32 label written.
        let threshold = StageWork::moving("threshold", 9.0 * p * n).reusing(9.0 * p);
        let label = StageWork::moving("label", 5.0 * p * n).reusing(5.0 * p);
        // The parallel variant times whole frames: the four stages above together (the
        // measurements depend on the sources found and are not counted).
        let frames_work = StageWork {
            stage: "frames",
            bytes: calibrate_work.bytes + mean_std.bytes + threshold.bytes + label.bytes,
            flops: calibrate_work.flops + mean_std.flops,
            working_set: calibrate_work.working_set,
        };
        vec![
            masters,
            calibrate_work,
            mean_std,
            threshold,
            label,
            frames_work,
        ]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let frames = self.parse(input)?;
        let t0 = std::time::Instant::now();
        let k = params.f64("k")?;
        let calibrate = params.bool("calibrate")?;
        let (rows, cols) = frames[0].data.dim();
        let par = variant == Variant::Parallel;
        let (dark, flat) = stage!(ctx, "masters", {
            if calibrate {
                master_frames(rows, cols, par)
            } else {
                (Vec::new(), Vec::new())
            }
        });
        let n = frames.len();
        let per_frame: Vec<Vec<Moments>> = if par {
            stage!(ctx, "frames", {
                let inner = Ctx::detached(1);
                frames
                    .par_iter()
                    .map_init(Vec::new, |buf, f| {
                        ctx.check()?;
                        one_frame(
                            Variant::Vectorized,
                            f,
                            &dark,
                            &flat,
                            k,
                            calibrate,
                            buf,
                            &inner,
                        )
                    })
                    .collect::<Result<Vec<_>>>()?
            })
        } else {
            let mut out = Vec::with_capacity(n);
            let mut buf = Vec::new();
            for (i, f) in frames.iter().enumerate() {
                ctx.check()?;
                out.push(one_frame(
                    variant, f, &dark, &flat, k, calibrate, &mut buf, ctx,
                )?);
                ctx.progress((i + 1) as f64 / n as f64);
            }
            out
        };
        ctx.progress(1.0);
        let total: usize = per_frame.iter().map(Vec::len).sum();
        let mut table = Array2::zeros((total, SOURCE_COLUMNS.len() + 1));
        let mut i = 0;
        for (fi, ms) in per_frame.iter().enumerate() {
            for (l, m) in ms.iter().enumerate() {
                let npix = m.npix as f64;
                let row = [
                    fi as f64,
                    (l + 1) as f64,
                    npix,
                    m.flux,
                    m.sr / npix,
                    m.sc / npix,
                    m.wr / m.flux,
                    m.wc / m.flux,
                ];
                for (c, v) in row.into_iter().enumerate() {
                    table[[i, c]] = v;
                }
                i += 1;
            }
        }
        let counts: Array1<i64> = per_frame.iter().map(|m| m.len() as i64).collect();
        let secs = t0.elapsed().as_secs_f64();
        let mut columns = vec!["frame"];
        columns.extend_from_slice(&SOURCE_COLUMNS);
        Ok(Output::new()
            .sum("n_frames", n)
            .sum("frame_shape", vec![rows, cols])
            .sum(N_SOURCES, total)
            .sum("sources_per_frame", total as f64 / n as f64)
            .sum("frames_per_s", n as f64 / secs.max(1e-12))
            .sum("calibrated", calibrate)
            .i64(SOURCES_PER_FRAME, counts.into_dyn())
            .table(SOURCES, &columns, table, Tolerance::Rel(1e-12)))
    }
}

impl ObservationBatch {
    /// The input, checked once: what `validate` reports and `run` computes on.
    fn parse<'a>(&self, input: &'a Dataset) -> Result<&'a [Frame]> {
        let frames: &[Frame] = engine::input(self, input)?;
        let Some(first) = frames.first() else {
            return Err(Error::input("the batch holds no frames"));
        };
        let (rows, cols) = first.data.dim();
        if rows == 0 || cols == 0 {
            return Err(Error::input("the frames are empty"));
        }
        if rows * cols > MAX_PIXELS || frames.len().saturating_mul(rows * cols) > MAX_BATCH_PIXELS {
            return Err(Error::input(format!(
                "{} frames of {rows}x{cols} exceed the limit of {MAX_BATCH_PIXELS} pixels",
                frames.len()
            )));
        }
        for (i, f) in frames.iter().enumerate() {
            if f.data.dim() != (rows, cols) {
                return Err(Error::input(format!(
                    "frame {i} is {:?}, but frame 0 is {rows}x{cols}; one dark and flat need equal shapes",
                    f.data.dim()
                )));
            }
            let finite = match f.data.as_slice() {
                Some(x) => all_finite(x),
                None => f.data.iter().all(|v| v.is_finite()),
            };
            if !finite {
                let bad = f.data.iter().filter(|v| !v.is_finite()).count();
                return Err(Error::input(format!(
                    "frame {i} has {bad} NaN or infinite pixels"
                )));
            }
        }
        Ok(frames)
    }
}

/// Calibrate one frame, threshold it and measure its sources (raster-numbered labels).
#[allow(clippy::too_many_arguments)]
fn one_frame(
    variant: Variant,
    f: &Frame,
    dark: &[f64],
    flat: &[f64],
    k: f64,
    calibrate: bool,
    buf: &mut Vec<f64>,
    ctx: &Ctx,
) -> Result<Vec<Moments>> {
    let (rows, cols) = f.data.dim();
    let data = f.data.as_standard_layout();
    let raw = data
        .as_slice()
        .ok_or_else(|| Error::input("a frame is not contiguous"))?;
    // naive: a new array per frame, as the chapter's numpy code makes; the others
    // reuse one buffer per thread (no page faults after the first frame)
    let mut fresh = Vec::new();
    let cal: &mut Vec<f64> = if variant == Variant::Naive {
        &mut fresh
    } else {
        buf
    };
    stage!(ctx, "calibrate", {
        cal.clear();
        if !calibrate {
            cal.extend_from_slice(raw);
        } else if variant == Variant::Naive {
            cal.resize(rows * cols, 0.0);
            for r in 0..rows {
                for c in 0..cols {
                    let i = r * cols + c;
                    cal[i] = (raw[i] - dark[i]) / flat[i];
                }
            }
        } else {
            cal.extend(
                raw.iter()
                    .zip(dark)
                    .zip(flat)
                    .map(|((x, d), f)| (x - d) / f),
            );
        }
    });
    let cal: &[f64] = cal;
    let (mean, std) = stage!(
        ctx,
        "mean_std",
        if variant == Variant::Naive {
            mean_std_naive(cal)
        } else {
            mean_std_lanes(cal, false)
        }
    );
    let det = detect_opts(
        variant.into(),
        cal,
        cal,
        rows,
        cols,
        mean + k * std,
        false,
        1,
        false,
        ctx,
    )?;
    Ok(det.moments)
}

/// The synthetic master dark (≈ 10 ADU, 2 ADU pixel scatter) and flat (a 5% vignetting
/// gradient with 1% pixel response scatter), drawn per row so they are thread-independent.
pub fn master_frames(rows: usize, cols: usize, parallel: bool) -> (Vec<f64>, Vec<f64>) {
    let mut dark = vec![0.0; rows * cols];
    let mut flat = vec![0.0; rows * cols];
    let (rc, cc) = ((rows as f64 - 1.0) / 2.0, (cols as f64 - 1.0) / 2.0);
    let norm = (rc * rc + cc * cc).max(1.0);
    let row_job = |r: usize, d: &mut [f64], f: &mut [f64]| {
        let mut g = Rng::for_block(CAL_SEED, r as u64);
        for (c, (dv, fv)) in d.iter_mut().zip(f.iter_mut()).enumerate() {
            *dv = 10.0 + 2.0 * g.normal();
            let r2 = ((r as f64 - rc).powi(2) + (c as f64 - cc).powi(2)) / norm;
            *fv = (1.0 - 0.05 * r2) * (1.0 + 0.01 * g.normal());
        }
    };
    if parallel {
        dark.par_chunks_mut(cols)
            .zip(flat.par_chunks_mut(cols))
            .enumerate()
            .for_each(|(r, (d, f))| row_job(r, d, f));
    } else {
        for (r, (d, f)) in dark.chunks_mut(cols).zip(flat.chunks_mut(cols)).enumerate() {
            row_job(r, d, f);
        }
    }
    (dark, flat)
}

/// `n` raw frames: generated skies (50 stars per 1024², a few cosmic rays) seen through
/// the master flat plus the master dark.
pub fn generate_batch(n: usize, side: usize, seed: u64) -> Result<Vec<Frame>> {
    let side = side.max(8);
    if n.saturating_mul(side * side) > MAX_BATCH_PIXELS {
        return Err(Error::param(format!(
            "{n} frames of {side}² exceed the limit of {MAX_BATCH_PIXELS} pixels"
        )));
    }
    let (dark, flat) = master_frames(side, side, true);
    let stars = ((50.0 * (side * side) as f64 / (1024.0 * 1024.0)).round() as usize).max(5);
    (0..n)
        .into_par_iter()
        .map(|k| {
            let p = generate::FrameParams {
                rows: side,
                cols: side,
                stars,
                cosmic_rays: stars / 5,
                ..Default::default()
            };
            let mut f = generate::frame(&p, seed.wrapping_add(k as u64 * 1_000_003));
            for ((v, d), fl) in f.data.iter_mut().zip(&dark).zip(&flat) {
                *v = *v * fl + d;
            }
            f.stored = Dtype::F64;
            Ok(f)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_agree_and_calibration_recovers_the_sky() {
        let d = ObservationBatch.generate(3, 5).expect("gen");
        let p = Params::defaults(&ObservationBatch.params());
        let outs: Vec<Output> = crate::engine::ALL_VARIANTS
            .iter()
            .map(|&v| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(2)
                    .build()
                    .expect("pool");
                pool.install(|| ObservationBatch.run(v, &d, &p, &Ctx::detached(2)))
                    .expect("run")
            })
            .collect();
        for o in &outs[1..] {
            outs[0].agrees_with(o).expect("agree");
        }
        // calibrated frame k equals the generated sky frame k up to rounding
        let Dataset::FrameBatch(frames) = &d else {
            panic!("batch")
        };
        let (dark, flat) = master_frames(256, 256, false);
        let sky = generate::frame(
            &generate::FrameParams {
                rows: 256,
                cols: 256,
                stars: 5,
                cosmic_rays: 1,
                ..Default::default()
            },
            5 + 1_000_003,
        );
        let raw = frames[1].data.as_slice().expect("slice");
        let worst = raw
            .iter()
            .zip(&dark)
            .zip(&flat)
            .zip(sky.data.iter())
            .map(|(((x, d), f), s)| ((x - d) / f - s).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-9, "{worst}");
        assert!(outs[0].summary_f64("sources_per_frame").expect("spf") >= 4.0);
    }
}
