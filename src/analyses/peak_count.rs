//! Chapter 7.3's "many spectra in parallel": in each spectrum of a batch, count the
//! peaks higher than mean + k·σ (σ the population std of that spectrum). Peaks follow
//! `scipy.signal.find_peaks` rules (strict local maxima, plateaus counted once at their
//! middle, ends never peaks), as [`find_peaks`] implements them.
//!
//! naive = per spectrum: copy the row, mean and std by the textbook loops, the list of
//! peak indices from find_peaks, then its length; vectorized = no copies or lists: the
//! blocked mean/std on the row in place and a branch-free counting pass (with a scalar
//! fallback when a spectrum has plateaus); parallel = spectra over rayon.

use crate::data::{generate, Dataset, Kind, SpectrumBatch};
use crate::engine::work::F64;
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
use crate::kernels::peaks::find_peaks;
use crate::kernels::stats::{mean_std, mean_std_naive};
use crate::{stage, Error, Result};
use ndarray::Array1;
use rayon::prelude::*;

pub struct PeakCount;

/// Points per spectrum of the generated batch (the chapter's 2,048).
pub const POINTS: usize = 2_048;
/// Most spectra generated (× 2,048 points × 8 bytes: 100,000 -> 1.6 GB).
pub const MAX_SPECTRA: usize = 100_000;

/// Artifact: the peaks counted in each spectrum (i64, one per spectrum, in batch order).
pub const COUNTS: &str = "counts";
/// Summary: the number of spectra.
pub const SPECTRA: &str = "spectra";
/// Summary: the peaks counted over the whole batch.
pub const TOTAL_PEAKS: &str = "total_peaks";
/// Summary (and a one-value artifact): the mean number of peaks per spectrum.
pub const MEAN_PEAKS: &str = "mean_peaks";
/// Summary: the most peaks in one spectrum.
pub const MAX_PEAKS: &str = "max_peaks";

impl Analysis for PeakCount {
    fn id(&self) -> &'static str {
        "peak-count"
    }
    fn title(&self) -> &'static str {
        "Peak count over a batch of spectra"
    }
    fn section(&self) -> Section {
        Section::Numba
    }
    fn help(&self) -> &'static str {
        "Peaks above mean + k·σ in every spectrum of a batch: independent rows, the textbook case for a parallel loop."
    }
    fn input_kind(&self) -> Kind {
        Kind::SpectrumBatch
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![ParamSpec::float(
            "k",
            "peaks must reach mean + k·σ of their spectrum",
            3.0,
            0.0,
            1000.0,
        )]
    }
    fn size_unit(&self) -> &'static str {
        "spectra"
    }
    fn default_size(&self) -> usize {
        1_000
    }
    fn quick_size(&self) -> usize {
        100
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 17.8e-3), (1.0, 10.4e-3), (1.0, 5.61e-3)],
            mem: (1.0, 1024.0),
            w_ref: 1000.0,
        }
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::SpectrumBatch(b) => b.flux.nrows(),
            other => other.n_elements(),
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        if size > MAX_SPECTRA {
            return Err(Error::param(format!(
                "peak-count: {size} spectra is more than the limit of {MAX_SPECTRA}"
            )));
        }
        Ok(Dataset::SpectrumBatch(generate::spectrum_batch(
            size, POINTS, seed,
        )))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let Dataset::SpectrumBatch(b) = input else {
            return Vec::new();
        };
        let (n, len) = (b.flux.nrows() as f64, b.flux.ncols() as f64);
        // Per spectrum: the flux read once, mean and σ (4·len + 3 flops, see
        // `work::mean_std`), the threshold mean + k·σ (2), peak tests that only compare,
        // and one count written.
        vec![StageWork::streaming(
            "count peaks",
            (F64 * len + F64) * n,
            (4.0 * len + 5.0) * n,
        )]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let (b, k) = self.parse(input, params)?;
        let counts: Vec<i64> = stage!(
            ctx,
            "count peaks",
            match variant {
                Variant::Naive => naive(b, k, ctx)?,
                Variant::Vectorized => rows(b, k, false, ctx)?,
                Variant::Parallel => rows(b, k, true, ctx)?,
            }
        );
        ctx.progress(1.0);
        let total: i64 = counts.iter().sum();
        let n = counts.len();
        let max = counts.iter().copied().max().unwrap_or(0);
        Ok(Output::new()
            .sum(SPECTRA, n)
            .sum("points", b.flux.ncols())
            .sum(TOTAL_PEAKS, total)
            .sum(MEAN_PEAKS, total as f64 / n as f64)
            .sum(MAX_PEAKS, max)
            .i64(COUNTS, Array1::from(counts).into_dyn())
            // keep the declared tolerance type in use for the summary-only floats
            .f64(
                MEAN_PEAKS,
                Array1::from(vec![total as f64 / n as f64]).into_dyn(),
                Tolerance::Exact,
            ))
    }
}

impl PeakCount {
    /// The batch and k, checked once: what `validate` reports and `run` computes on.
    fn parse<'a>(&self, input: &'a Dataset, params: &Params) -> Result<(&'a SpectrumBatch, f64)> {
        let b: &SpectrumBatch = engine::input(self, input)?;
        let (rows, cols) = b.flux.dim();
        if rows == 0 {
            return Err(Error::input("the spectrum batch has no spectra"));
        }
        if cols < 3 {
            return Err(Error::input(format!(
                "the spectra have {cols} points; at least 3 are needed for a peak"
            )));
        }
        if let Some((i, _)) = b.flux.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::input(format!(
                "spectrum {} has a NaN or infinite value at point {}",
                i.0, i.1
            )));
        }
        Ok((b, params.f64("k")?))
    }
}

/// The chapter's loop, one spectrum at a time.
fn naive(b: &SpectrumBatch, k: f64, ctx: &Ctx) -> Result<Vec<i64>> {
    let n = b.flux.nrows();
    let mut out = Vec::with_capacity(n);
    for (i, row) in b.flux.rows().into_iter().enumerate() {
        if i % 64 == 0 {
            ctx.check()?;
            ctx.progress(i as f64 / n as f64);
        }
        let spectrum: Vec<f64> = row.to_vec();
        let (mean, std) = mean_std_naive(&spectrum);
        let peaks = find_peaks(&spectrum, mean + k * std);
        out.push(peaks.len() as i64);
    }
    Ok(out)
}

/// Count the peaks [`find_peaks`] would return, without building the list.
pub fn count_peaks(x: &[f64], height: f64) -> usize {
    let n = x.len();
    if n < 3 {
        return 0;
    }
    let i_max = n - 1;
    let mut count = 0;
    let mut i = 1;
    while i < i_max {
        // Fast path: most samples are not above their left neighbour.
        if x[i - 1] < x[i] {
            let mut ahead = i + 1;
            while ahead < i_max && x[ahead] == x[i] {
                ahead += 1;
            }
            if x[ahead] < x[i] {
                let mid = (i + ahead - 1) / 2;
                count += (x[mid] >= height) as usize;
                i = ahead;
            }
        }
        i += 1;
    }
    count
}

/// Branch-free count of strict peaks (x[i-1] < x[i] > x[i+1], x[i] >= height) in one
/// SIMD-friendly pass. With no two equal neighbours there are no plateaus and this is
/// exactly what [`find_peaks`] finds; otherwise it falls back to [`count_peaks`].
pub fn count_peaks_fast(x: &[f64], height: f64) -> usize {
    let n = x.len();
    if n < 3 {
        return 0;
    }
    let mut strict = 0usize;
    let mut flat = false;
    for w in x.windows(3) {
        let (a, b, c) = (w[0], w[1], w[2]);
        strict += ((a < b) & (b > c) & (b >= height)) as usize;
        flat |= b == c;
    }
    if flat {
        count_peaks(x, height)
    } else {
        strict
    }
}

/// A spectrum's mean, population σ and peak threshold mean + k·σ, as the vectorized and
/// parallel variants compute them (the Result view marks the peaks above this threshold).
pub fn threshold(spectrum: &[f64], k: f64) -> (f64, f64, f64) {
    let (mean, std) = mean_std(spectrum, false);
    (mean, std, mean + k * std)
}

fn one_row(row: ndarray::ArrayView1<f64>, k: f64) -> i64 {
    match row.as_slice() {
        Some(s) => count_peaks_fast(s, threshold(s, k).2) as i64,
        None => {
            let v = row.to_vec();
            count_peaks_fast(&v, threshold(&v, k).2) as i64
        }
    }
}

fn rows(b: &SpectrumBatch, k: f64, parallel: bool, ctx: &Ctx) -> Result<Vec<i64>> {
    let n = b.flux.nrows();
    if parallel {
        let idx: Vec<usize> = (0..n).collect();
        idx.par_chunks(32)
            .map(|c| {
                ctx.check()?;
                Ok(c.iter()
                    .map(|&i| one_row(b.flux.row(i), k))
                    .collect::<Vec<_>>())
            })
            .collect::<Result<Vec<Vec<i64>>>>()
            .map(|v| v.concat())
    } else {
        let mut out = Vec::with_capacity(n);
        for (i, row) in b.flux.rows().into_iter().enumerate() {
            if i % 64 == 0 {
                ctx.check()?;
                ctx.progress(i as f64 / n as f64);
            }
            out.push(one_row(row, k));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Result view marks `find_peaks` above `threshold` in one spectrum: those marks
    /// are the counts every variant reports.
    #[test]
    fn marked_peaks_are_the_counts() {
        let d = PeakCount.generate(12, 5).expect("gen");
        let Dataset::SpectrumBatch(b) = &d else {
            panic!("batch")
        };
        let p = Params::resolve(&PeakCount.params(), &[]).expect("params");
        for v in crate::engine::ALL_VARIANTS {
            let o = PeakCount.run(v, &d, &p, &Ctx::detached(2)).expect("run");
            let Some(crate::engine::ArtifactData::I64(c)) = o.get(COUNTS) else {
                panic!("counts")
            };
            for (i, row) in b.flux.rows().into_iter().enumerate() {
                let s = row.to_vec();
                let marked = find_peaks(&s, threshold(&s, 3.0).2).len() as i64;
                assert_eq!(c[i], marked, "{v} spectrum {i}");
            }
        }
    }

    #[test]
    fn count_equals_find_peaks() {
        let mut r = crate::data::rng::Rng::new(3);
        for _ in 0..200 {
            let n = 3 + r.below(60);
            // rounded values give plateaus and ties
            let x: Vec<f64> = (0..n).map(|_| (r.normal() * 2.0).round()).collect();
            for h in [-10.0, 0.0, 1.0, 2.0] {
                assert_eq!(count_peaks(&x, h), find_peaks(&x, h).len(), "{x:?} h={h}");
                assert_eq!(
                    count_peaks_fast(&x, h),
                    find_peaks(&x, h).len(),
                    "{x:?} h={h}"
                );
                let y: Vec<f64> = x.iter().map(|v| v + 0.01 * r.normal()).collect();
                assert_eq!(
                    count_peaks_fast(&y, h),
                    find_peaks(&y, h).len(),
                    "{y:?} h={h}"
                );
            }
        }
    }
}
