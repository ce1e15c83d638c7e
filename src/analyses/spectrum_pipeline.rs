//! Chapter 7.1's cProfile demo: continuum by running median, residual, emission lines
//! as residual peaks above k·σ, redshift from the line nearest a rest wavelength.
//! Noise puts several local maxima on one emission line; peaks whose residual between
//! them stays above half the lower one (within the line's half-maximum width) are one
//! line: `n_lines` counts lines, `n_peaks` every peak, and the `lines` table keeps every
//! peak as `scipy.signal.find_peaks` finds them, with the line it belongs to.
//! The running median dominates; the variants differ in how it is computed.

use crate::data::{generate, Dataset, Kind, Spectrum};
use crate::engine::work::{self, F64};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
use crate::kernels::edges::pad_reflect;
use crate::kernels::peaks::find_peaks;
use crate::kernels::stats::{mean_std, mean_std_naive};
use crate::{stage, Error, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

pub struct SpectrumPipeline;

/// Artifact: the running median of the flux (f64, one per pixel).
pub const CONTINUUM: &str = "continuum";
/// Artifact: flux minus continuum (f64, one per pixel).
pub const RESIDUAL: &str = "residual";
/// Artifact: every peak found, a table of index, wavelength, height and line number
/// ([`LINE_COLUMN`]); a line's peaks share it.
pub const LINES: &str = "lines";
/// The column of [`LINES`] holding a peak's line number (0, 1, … in wavelength order).
pub const LINE_COLUMN: usize = 3;
/// Summary key: the number of lines (peaks grouped).
pub const N_LINES: &str = "n_lines";
/// Summary key: the number of residual peaks above the threshold.
pub const N_PEAKS: &str = "n_peaks";
/// Summary key: the redshift from the line nearest the rest wavelength (null if none).
pub const REDSHIFT: &str = "redshift";
/// Summary key: the detection threshold k·σ on the residual.
pub const THRESHOLD: &str = "threshold";
/// The chapter's running-median window (pixels), at which the cost model was measured.
const DEFAULT_WINDOW: i64 = 101;

/// Outputs between cancellation checks in the median loops.
const CHECK_EVERY: usize = 4096;

impl Analysis for SpectrumPipeline {
    fn id(&self) -> &'static str {
        "spectrum-pipeline"
    }
    fn title(&self) -> &'static str {
        "Spectrum pipeline (continuum, lines, redshift)"
    }
    fn section(&self) -> Section {
        Section::Profiling
    }
    fn help(&self) -> &'static str {
        "Running-median continuum, residual peaks above k·σ and the redshift of the line nearest a rest wavelength; the median filter is where the time goes."
    }
    fn input_kind(&self) -> Kind {
        Kind::Spectrum
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int(
                "window",
                "running-median window in pixels (scipy reflect edges)",
                DEFAULT_WINDOW,
                1,
                100_001,
            ),
            ParamSpec::float(
                "k",
                "lines are residual peaks at least k·σ high",
                3.0,
                0.0,
                1000.0,
            ),
            ParamSpec::float(
                "rest",
                "rest wavelength (Å) of the line used for the redshift",
                6563.0,
                1.0,
                1.0e6,
            ),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "pixels"
    }
    fn default_size(&self) -> usize {
        50_000
    }
    fn quick_size(&self) -> usize {
        5_000
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 96.6e-3), (1.0, 3.64e-3), (1.0, 1.87e-3)],
            mem: (1.0, 48.0),
            w_ref: 50_000.0,
        }
    }
    fn time_factor(&self, variant: Variant, params: &Params) -> f64 {
        // The naive running median sorts each window: linear in its width, calibrated at
        // the default width.
        match (variant, params.opt_i64("window")) {
            (Variant::Naive, Some(w)) => w as f64 / DEFAULT_WINDOW as f64,
            _ => 1.0,
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        let p = generate::SpectrumParams {
            n: size,
            ..Default::default()
        };
        Ok(Dataset::Spectrum(generate::spectrum(&p, seed)))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let n = self.size_of(input) as f64;
        vec![
            // The running median only compares: flux read, continuum written.
            StageWork::moving("continuum", 16.0 * n),
            // flux − continuum: two reads, a write and a subtract per pixel.
            StageWork::streaming("residual", 24.0 * n, n),
            work::mean_std("sigma", n),
            // Local maxima above the threshold: the residual read, comparisons only.
            StageWork::moving("lines", F64 * n),
        ]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let (s, w) = self.parse(input, params)?;
        let k = params.f64("k")?;
        let rest = params.f64("rest")?;
        let flux = s
            .flux
            .as_slice()
            .ok_or_else(|| Error::input("flux is not contiguous"))?;

        let continuum = stage!(
            ctx,
            "continuum",
            match variant {
                Variant::Naive => median_naive(flux, w, ctx)?,
                Variant::Vectorized => median_sliding(flux, w, ctx)?,
                Variant::Parallel => median_parallel(flux, w, ctx)?,
            }
        );
        let residual: Vec<f64> = stage!(
            ctx,
            "residual",
            match variant {
                Variant::Parallel => flux
                    .par_iter()
                    .zip(continuum.par_iter())
                    .map(|(f, c)| f - c)
                    .collect(),
                _ => flux.iter().zip(&continuum).map(|(f, c)| f - c).collect(),
            }
        );
        let (_, sigma) = stage!(
            ctx,
            "sigma",
            match variant {
                Variant::Naive => mean_std_naive(&residual),
                Variant::Vectorized => mean_std(&residual, false),
                Variant::Parallel => mean_std(&residual, true),
            }
        );
        let height = k * sigma;
        let (peaks, lines) = stage!(ctx, "lines", {
            let peaks = find_peaks(&residual, height);
            let lines = group_lines(&residual, &peaks);
            (peaks, lines)
        });
        let wl = &s.wavelength;
        // A line is where its highest peak is.
        let line_wl: Vec<f64> = lines.tops.iter().map(|&i| wl[i]).collect();
        let redshift = stage!(ctx, "redshift", {
            line_wl
                .iter()
                .copied()
                .min_by(|a, b| (a - rest).abs().total_cmp(&(b - rest).abs()))
                .map(|obs| obs / rest - 1.0)
        });
        ctx.progress(1.0);

        let mut table = Array2::zeros((peaks.len(), 4));
        for (r, &i) in peaks.iter().enumerate() {
            table[[r, 0]] = i as f64;
            table[[r, 1]] = wl[i];
            table[[r, 2]] = residual[i];
            table[[r, LINE_COLUMN]] = lines.of_peak[r] as f64;
        }
        Ok(Output::new()
            .sum(N_LINES, line_wl.len())
            .sum(N_PEAKS, peaks.len())
            .sum(
                REDSHIFT,
                redshift.map_or(serde_json::Value::Null, |z| z.into()),
            )
            .sum("sigma", sigma)
            .sum(THRESHOLD, height)
            .sum("line_wavelengths", line_wl)
            .f64(
                CONTINUUM,
                Array1::from(continuum).into_dyn(),
                Tolerance::Exact,
            )
            .f64(
                RESIDUAL,
                Array1::from(residual).into_dyn(),
                Tolerance::Exact,
            )
            .table(
                LINES,
                &["index", "wavelength", "height", "line"],
                table,
                Tolerance::Exact,
            ))
    }
}

impl SpectrumPipeline {
    /// The spectrum and the window, checked once: what `validate` reports and `run`
    /// computes on.
    fn parse<'a>(&self, input: &'a Dataset, params: &Params) -> Result<(&'a Spectrum, usize)> {
        let s: &Spectrum = engine::input(self, input)?;
        let w = params.usize("window")?;
        let n = s.flux.len();
        if n < 3 {
            return Err(Error::input(format!(
                "the spectrum has {n} pixels; at least 3 are needed"
            )));
        }
        if w > n {
            return Err(Error::input(format!(
                "the spectrum has {n} pixels, fewer than the median window of {w}"
            )));
        }
        let bad = s.flux.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(Error::input(format!(
                "the spectrum has {bad} NaN or infinite flux values; the running median needs finite data"
            )));
        }
        Ok((s, w))
    }
}

/// Peaks grouped into lines: each peak's line number and each line's highest peak.
#[derive(Debug, PartialEq)]
struct Lines {
    of_peak: Vec<usize>,
    tops: Vec<usize>,
}

/// Group the (ascending) `peaks` of `residual` into lines: a peak joins the line of the
/// peak before it when the residual between them never falls to half the lower of the
/// two (both lie within one half-maximum width: noise splitting one line's top).
fn group_lines(residual: &[f64], peaks: &[usize]) -> Lines {
    let mut of_peak = Vec::with_capacity(peaks.len());
    let mut tops: Vec<usize> = Vec::new();
    for (k, &p) in peaks.iter().enumerate() {
        let joins = k > 0 && {
            let q = peaks[k - 1];
            let dip = residual[q..=p].iter().copied().fold(f64::INFINITY, f64::min);
            dip > 0.5 * residual[q].min(residual[p])
        };
        match tops.last_mut() {
            Some(top) if joins => {
                if residual[p] > residual[*top] {
                    *top = p;
                }
            }
            _ => tops.push(p),
        }
        of_peak.push(tops.len() - 1);
    }
    Lines { of_peak, tops }
}

/// The chapter's way: gather and sort every window afresh, O(N·w·log w).
fn median_naive(x: &[f64], w: usize, ctx: &Ctx) -> Result<Vec<f64>> {
    let padded = pad_reflect(x, w);
    let mut out = Vec::with_capacity(x.len());
    let mut win = vec![0.0; w];
    for i in 0..x.len() {
        if i % CHECK_EVERY == 0 {
            ctx.check()?;
            ctx.progress(i as f64 / x.len() as f64);
        }
        win.copy_from_slice(&padded[i..i + w]);
        win.sort_unstable_by(f64::total_cmp);
        out.push(win[w / 2]);
    }
    Ok(out)
}

/// Up to this window, counting the elements below a value with a branch-free SIMD scan
/// beats a binary search (whose unpredictable branches cost more than 100 compares).
const LINEAR_RANK_MAX: usize = 256;

/// Number of elements below `x` (its insertion rank in the sorted window).
#[inline(always)]
fn rank_linear(win: &[f64], x: f64) -> usize {
    win.iter().map(|v| usize::from(*v < x)).sum()
}

/// Keep the window sorted: each step finds the outgoing and the incoming sample's ranks
/// (a counting scan, `rank_linear`, up to `LINEAR_RANK_MAX` samples; a binary search
/// beyond) and shifts the samples between them by one, a short memmove. Through AVX2
/// where the CPU has it: the counting scans then compare four samples an instruction
/// instead of two.
fn median_sliding_range(padded: &[f64], w: usize, start: usize, end: usize, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::simd::has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked at run time).
        unsafe { median_sliding_range_avx2(padded, w, start, end, out) };
        return;
    }
    sliding_range(padded, w, start, end, out);
}

/// [`sliding_range`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn median_sliding_range_avx2(
    padded: &[f64],
    w: usize,
    start: usize,
    end: usize,
    out: &mut [f64],
) {
    sliding_range(padded, w, start, end, out);
}

#[inline(always)]
fn sliding_range(padded: &[f64], w: usize, start: usize, end: usize, out: &mut [f64]) {
    let mut win: Vec<f64> = padded[start..start + w].to_vec();
    win.sort_unstable_by(f64::total_cmp);
    out[0] = win[w / 2];
    for i in start + 1..end {
        let old = padded[i - 1];
        let new = padded[i + w - 1];
        if old != new {
            let (at, to) = if w <= LINEAR_RANK_MAX {
                (rank_linear(&win, old), rank_linear(&win, new))
            } else {
                (
                    win.partition_point(|v| *v < old),
                    win.partition_point(|v| *v < new),
                )
            };
            // Shift the elements between the two positions by one instead of remove+insert.
            if to > at {
                win.copy_within(at + 1..to, at);
                win[to - 1] = new;
            } else {
                win.copy_within(to..at, to + 1);
                win[to] = new;
            }
        }
        out[i - start] = win[w / 2];
    }
}

fn median_sliding(x: &[f64], w: usize, ctx: &Ctx) -> Result<Vec<f64>> {
    let padded = pad_reflect(x, w);
    let mut out = vec![0.0; x.len()];
    for (b, chunk) in out.chunks_mut(CHECK_EVERY * 4).enumerate() {
        ctx.check()?;
        let start = b * CHECK_EVERY * 4;
        median_sliding_range(&padded, w, start, start + chunk.len(), chunk);
        ctx.progress((start + chunk.len()) as f64 / x.len() as f64);
    }
    Ok(out)
}

/// Chunks of outputs over rayon; each chunk starts its own sorted window (the halo is
/// the w-1 padded samples it reads beyond its end).
fn median_parallel(x: &[f64], w: usize, ctx: &Ctx) -> Result<Vec<f64>> {
    let padded = pad_reflect(x, w);
    let mut out = vec![0.0; x.len()];
    let len = crate::kernels::buffers::chunk_len(x.len(), ctx.threads).max(w.min(x.len()));
    out.par_chunks_mut(len)
        .enumerate()
        .try_for_each(|(b, chunk)| {
            ctx.check()?;
            let start = b * len;
            median_sliding_range(&padded, w, start, start + chunk.len(), chunk);
            Ok::<(), Error>(())
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_on_one_line_are_one_line() {
        // one line split by noise (peaks at 3 and 5, dip 8 > 4.5), a separate one at 10
        let r = [0.0, 1.0, 5.0, 10.0, 8.0, 9.0, 2.0, 0.0, 0.5, 3.0, 6.0, 1.0];
        let l = group_lines(&r, &[3, 5, 10]);
        assert_eq!(l.of_peak, vec![0, 0, 1]);
        assert_eq!(l.tops, vec![3, 10]);
        assert_eq!(group_lines(&r, &[]).tops, Vec::<usize>::new());
    }

    #[test]
    fn the_default_spectrum_has_three_lines() {
        let a = SpectrumPipeline;
        let d = a.generate(a.default_size(), 1).expect("generate");
        let p = Params::defaults(&a.params());
        let o = a
            .run(Variant::Vectorized, &d, &p, &Ctx::detached(1))
            .expect("run");
        assert_eq!(o.summary_f64(N_LINES), Some(3.0));
        assert!(o.summary_f64(N_PEAKS).expect("peaks") >= 3.0);
        let z = o.summary_f64(REDSHIFT).expect("z");
        assert!((z - 0.0123).abs() < 1e-4, "z = {z}");
    }

    #[test]
    fn sliding_and_parallel_medians_equal_sorting() {
        let mut r = crate::data::rng::Rng::new(5);
        let x: Vec<f64> = (0..3000).map(|_| (r.normal() * 4.0).round()).collect(); // many ties
        let ctx = Ctx::detached(2);
        for w in [1, 2, 3, 10, 101, 100, 2999, 3000] {
            let a = median_naive(&x, w, &ctx).expect("naive");
            assert_eq!(a, median_sliding(&x, w, &ctx).expect("sliding"), "w={w}");
            assert_eq!(a, median_parallel(&x, w, &ctx).expect("parallel"), "w={w}");
        }
    }
}
