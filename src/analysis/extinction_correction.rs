//! Chapter 7.2's extinction correction, the chapter's simplified law applied to every
//! star of a catalog: A_V = 0.574·colour, corrected = mag − R_V·A_V, and no correction
//! for blue stars (colour < 0). A memory-bound kernel: two loads and a store per star.
//!
//! naive = input check, a loop with a branch per star into a growing list, then a
//! summary pass; vectorized = one fused pass per block: the branch-free select (LLVM
//! emits packed compare/blend) written straight into uninitialised output (no zeroing
//! pass), with the finiteness check, the corrected count and the mean shift from the
//! same loads; parallel = those blocks over rayon, combined in block order.

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
        let r_v = params.f64("r_v")?;
        let (corrected, n_corr, shift) = match variant {
            Variant::Naive => {
                // The straightforward way: check, correct, then summarise, three passes.
                let (mag, color) = stage!(ctx, "check", columns(self, input))?;
                let corrected = stage!(ctx, "correct", naive(mag, color, r_v, ctx)?);
                let (n, s) = stage!(ctx, "summary", {
                    let mut n = 0usize;
                    let mut s = 0.0;
                    for (x, m) in corrected.iter().zip(mag) {
                        s += m - x;
                        n += (x != m) as usize;
                    }
                    (n, s / corrected.len() as f64)
                });
                (corrected, n, s)
            }
            Variant::Vectorized | Variant::Parallel => {
                // Shape checks only; finiteness is checked inside the fused pass.
                let (mag, color) = column_slices(self, input)?;
                stage!(
                    ctx,
                    "correct + summary",
                    fused(mag, color, r_v, variant == Variant::Parallel, ctx)?
                )
            }
        };
        ctx.progress(1.0);
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
    let (m, k) = column_slices(a, input)?;
    if let Some(i) = first_non_finite(m, k) {
        return Err(non_finite(i));
    }
    Ok((m, k))
}

fn first_non_finite(m: &[f64], k: &[f64]) -> Option<usize> {
    m.iter()
        .zip(k)
        .position(|(a, b)| !a.is_finite() || !b.is_finite())
}

fn non_finite(i: usize) -> Error {
    Error::input(format!(
        "star {i} has a NaN or infinite magnitude or colour"
    ))
}

/// The two columns, checked for presence, layout and length (not values).
fn column_slices<'a>(
    a: &ExtinctionCorrection,
    input: &'a Dataset,
) -> Result<(&'a [f64], &'a [f64])> {
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

/// One block's counts: stars whose magnitude changed, Σ (mag − corrected), and
/// non-finite inputs.
#[derive(Clone, Copy, Default)]
struct Partial {
    changed: usize,
    shift: f64,
    bad: usize,
}

/// Branch-free: compute the corrected value for every star, then select; the block's
/// summary from the same registers (four lanes for the sum).
#[inline(always)]
fn select_chunk(m: &[f64], c: &[f64], r_v: f64, o: &mut [std::mem::MaybeUninit<f64>]) -> Partial {
    let n = o.len().min(m.len()).min(c.len());
    let (m, c, o) = (&m[..n], &c[..n], &mut o[..n]);
    let mut shift = [0.0f64; 4];
    let mut changed = [0u64; 4];
    let mut bad = [0u64; 4];
    let full = n / 4 * 4;
    let mut i = 0;
    while i < full {
        for l in 0..4 {
            let (mv, cv) = (m[i + l], c[i + l]);
            let corr = mv - r_v * (AV_PER_COLOR * cv);
            let x = if cv < 0.0 { mv } else { corr };
            o[i + l].write(x);
            shift[l] += mv - x;
            changed[l] += u64::from(x != mv);
            // (v - v) is NaN exactly when v is NaN or infinite.
            bad[l] += u64::from((mv - mv) != 0.0 || (cv - cv) != 0.0);
        }
        i += 4;
    }
    for j in full..n {
        let (mv, cv) = (m[j], c[j]);
        let corr = mv - r_v * (AV_PER_COLOR * cv);
        let x = if cv < 0.0 { mv } else { corr };
        o[j].write(x);
        shift[0] += mv - x;
        changed[0] += u64::from(x != mv);
        bad[0] += u64::from((mv - mv) != 0.0 || (cv - cv) != 0.0);
    }
    Partial {
        changed: changed.iter().sum::<u64>() as usize,
        shift: (shift[0] + shift[1]) + (shift[2] + shift[3]),
        bad: bad.iter().sum::<u64>() as usize,
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn select_chunk_avx2(
    m: &[f64],
    c: &[f64],
    r_v: f64,
    o: &mut [std::mem::MaybeUninit<f64>],
) -> Partial {
    select_chunk(m, c, r_v, o)
}

fn select_block(m: &[f64], c: &[f64], r_v: f64, o: &mut [std::mem::MaybeUninit<f64>]) -> Partial {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked at run time).
        return unsafe { select_chunk_avx2(m, c, r_v, o) };
    }
    select_chunk(m, c, r_v, o)
}

/// The corrected magnitudes, the number changed and the mean shift in one pass over
/// blocks of `CHUNK` stars (serial or over rayon; the same block order either way).
fn fused(
    mag: &[f64],
    color: &[f64],
    r_v: f64,
    parallel: bool,
    ctx: &Ctx,
) -> Result<(Vec<f64>, usize, f64)> {
    let n = mag.len();
    // Every element is written below, so the output needs no zeroing pass (and no
    // page is touched twice).
    let mut out: Vec<f64> = Vec::with_capacity(n);
    let parts: Vec<Partial> = {
        let spare = &mut out.spare_capacity_mut()[..n];
        if parallel {
            spare
                .par_chunks_mut(CHUNK)
                .enumerate()
                .map(|(b, o)| {
                    ctx.check()?;
                    let s = b * CHUNK;
                    Ok(select_block(
                        &mag[s..s + o.len()],
                        &color[s..s + o.len()],
                        r_v,
                        o,
                    ))
                })
                .collect::<Result<_>>()?
        } else {
            let mut parts = Vec::with_capacity(n.div_ceil(CHUNK));
            for (b, o) in spare.chunks_mut(CHUNK).enumerate() {
                ctx.check()?;
                let s = b * CHUNK;
                parts.push(select_block(
                    &mag[s..s + o.len()],
                    &color[s..s + o.len()],
                    r_v,
                    o,
                ));
                ctx.progress((s + o.len()) as f64 / n as f64);
            }
            parts
        }
    };
    // SAFETY: the blocks above cover 0..n and `select_chunk` writes every element of
    // its block (n = min of the three lengths, all equal here).
    unsafe { out.set_len(n) };
    if parts.iter().any(|p| p.bad > 0) {
        return Err(non_finite(first_non_finite(mag, color).unwrap_or(0)));
    }
    let changed = parts.iter().map(|p| p.changed).sum();
    let shift = parts.iter().map(|p| p.shift).sum::<f64>() / n as f64;
    Ok((out, changed, shift))
}
