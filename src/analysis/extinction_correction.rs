//! Chapter 7.2's extinction correction, the chapter's simplified law applied to every
//! star of a catalog: A_V = 0.574·colour, corrected = mag − R_V·A_V, and no correction
//! for blue stars (colour < 0). A memory-bound kernel: two loads and a store per star.
//!
//! naive = a loop with a branch per star into a growing list; vectorized = the
//! branch-free select into a preallocated array (LLVM emits packed compare/blend);
//! parallel = chunks of the arrays over rayon.

use super::{wrong_input, Analysis, Ctx, Output, ParamSpec, Params, Tolerance, Variant};
use crate::data::{generate, Catalog, Dataset};
use crate::{stage, Error, Result};
use ndarray::Array1;
use rayon::prelude::*;

pub struct ExtinctionCorrection;

/// The chapter's colour–extinction slope: A_V = 0.574 · colour.
pub const AV_PER_COLOR: f64 = 0.574;
/// Stars per cancellation check.
const CHUNK: usize = 1 << 16;
/// Most stars generated (1e9 stars × 4 columns × 8 bytes = 32 GB is too many).
pub const MAX_STARS: usize = 200_000_000;

impl Analysis for ExtinctionCorrection {
    fn id(&self) -> &'static str {
        "extinction-correction"
    }
    fn title(&self) -> &'static str {
        "Extinction correction"
    }
    fn section(&self) -> &'static str {
        "7.2 Vectorization"
    }
    fn help(&self) -> &'static str {
        "The chapter's simplified law, mag − R_V·0.574·colour (no correction for colour < 0), over a whole catalog: memory-bound, so a branch-free loop is about all there is to win."
    }
    fn input_kind(&self) -> &'static str {
        "catalog"
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![ParamSpec::float(
            "r_v",
            "total-to-selective extinction ratio R_V",
            3.1,
            0.0,
            10.0,
        )]
    }
    fn size_unit(&self) -> &'static str {
        "stars"
    }
    fn default_size(&self) -> usize {
        1_000_000
    }
    fn quick_size(&self) -> usize {
        100_000
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::Catalog(c) => c.len(),
            other => other.n_elements(),
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        if size > MAX_STARS {
            return Err(Error::param(format!(
                "extinction-correction: {size} stars is more than the limit of {MAX_STARS}"
            )));
        }
        Ok(Dataset::Catalog(generate::catalog(size, seed)))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        columns(self, input)?;
        params.f64("r_v")?;
        Ok(())
    }
    /// Streaming kernel: magnitude and colour read, corrected magnitude written: 24 bytes a star.
    fn bytes_moved(&self, input: &Dataset, _params: &Params) -> Option<f64> {
        Some(24.0 * self.size_of(input) as f64)
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        self.validate(input, params)?;
        let (mag, color) = columns(self, input)?;
        let r_v = params.f64("r_v")?;
        let corrected = stage!(
            ctx,
            "correct",
            match variant {
                Variant::Naive => naive(mag, color, r_v, ctx)?,
                Variant::Vectorized => select(mag, color, r_v, false, ctx)?,
                Variant::Parallel => select(mag, color, r_v, true, ctx)?,
            }
        );
        ctx.progress(1.0);
        let (n_corr, shift) = stage!(ctx, "summary", {
            let mut n = 0usize;
            let mut s = 0.0;
            for (b, c) in corrected.chunks(4096).zip(mag.chunks(4096)) {
                let mut bs = 0.0;
                for (x, m) in b.iter().zip(c) {
                    bs += m - x;
                    n += (x != m) as usize;
                }
                s += bs;
            }
            (n, s / corrected.len() as f64)
        });
        Ok(Output::new()
            .sum("stars", corrected.len())
            .sum("corrected_stars", n_corr)
            .sum("blue_uncorrected", corrected.len() - n_corr)
            .sum("mean_extinction_mag", shift)
            .sum("r_v", r_v)
            .f64(
                "corrected_mag",
                Array1::from(corrected).into_dyn(),
                Tolerance::Exact,
            ))
    }
}

/// The catalog's magnitude and colour columns (both required, same length, finite).
fn columns<'a>(a: &ExtinctionCorrection, input: &'a Dataset) -> Result<(&'a [f64], &'a [f64])> {
    let c: &Catalog = match input {
        Dataset::Catalog(c) => c,
        other => return Err(wrong_input(a, other)),
    };
    let (Some(mag), Some(color)) = (&c.mag, &c.color) else {
        return Err(Error::input(
            "the catalog needs magnitude and colour columns (3rd and 4th) for an extinction correction",
        ));
    };
    let (Some(m), Some(k)) = (mag.as_slice(), color.as_slice()) else {
        return Err(Error::input(
            "the magnitude or colour column is not contiguous",
        ));
    };
    if m.len() != k.len() {
        return Err(Error::input(format!(
            "the catalog has {} magnitudes but {} colours",
            m.len(),
            k.len()
        )));
    }
    if m.is_empty() {
        return Err(Error::input("the catalog has no stars"));
    }
    if let Some(i) = m
        .iter()
        .zip(k)
        .position(|(a, b)| !a.is_finite() || !b.is_finite())
    {
        return Err(Error::input(format!(
            "star {i} has a NaN or infinite magnitude or colour"
        )));
    }
    Ok((m, k))
}

/// The law for one star (the branch the naive loop takes).
#[inline]
pub fn correct(mag: f64, color: f64, r_v: f64) -> f64 {
    if color < 0.0 {
        mag
    } else {
        mag - r_v * (AV_PER_COLOR * color)
    }
}

fn naive(mag: &[f64], color: &[f64], r_v: f64, ctx: &Ctx) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for i in 0..mag.len() {
        if i % CHUNK == 0 {
            ctx.check()?;
            ctx.progress(i as f64 / mag.len() as f64);
        }
        out.push(correct(mag[i], color[i], r_v));
    }
    Ok(out)
}

/// Branch-free: compute the corrected value for every star, then select.
#[inline]
fn select_chunk(m: &[f64], c: &[f64], r_v: f64, o: &mut [f64]) {
    for ((o, &m), &c) in o.iter_mut().zip(m).zip(c) {
        let corr = m - r_v * (AV_PER_COLOR * c);
        *o = if c < 0.0 { m } else { corr };
    }
}

fn select(mag: &[f64], color: &[f64], r_v: f64, parallel: bool, ctx: &Ctx) -> Result<Vec<f64>> {
    let n = mag.len();
    let mut out = vec![0.0; n];
    if parallel {
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .try_for_each(|(b, o)| {
                ctx.check()?;
                let s = b * CHUNK;
                select_chunk(&mag[s..s + o.len()], &color[s..s + o.len()], r_v, o);
                Ok::<(), Error>(())
            })?;
    } else {
        for (b, o) in out.chunks_mut(CHUNK).enumerate() {
            ctx.check()?;
            let s = b * CHUNK;
            select_chunk(&mag[s..s + o.len()], &color[s..s + o.len()], r_v, o);
            ctx.progress((s + o.len()) as f64 / n as f64);
        }
    }
    Ok(out)
}
