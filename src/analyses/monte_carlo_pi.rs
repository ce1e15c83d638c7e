//! Chapter 7.3's `prange` demo: π from the fraction of uniform points in the unit
//! square that fall inside the quarter circle. Every block of BLOCK samples draws from
//! its own counter-based stream (seed, block), so each variant at any thread count counts
//! exactly the same points and gives the same estimate, bit for bit.
//!
//! naive = one sample at a time through the generator, with a branch per sample;
//! vectorized = SplitMix64 is a counter (draw k of a block is mix64(s0 + k·γ)), so four
//! samples at a time are computed independently of each other and counted branch-free;
//! parallel = blocks over rayon, per-block counts added in block order.

use crate::data::rng::{mix64, Rng};
use crate::data::{Dataset, Kind, Table};
use crate::engine::{
    Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance, Variant,
};
use crate::{stage, Error, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

pub struct MonteCarloPi;

/// Samples (x, y pairs) per random block.
pub const BLOCK: usize = 1 << 16;
/// Most samples accepted (about a minute on one core).
pub const MAX_SAMPLES: usize = 100_000_000_000;
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Summary: samples drawn.
pub const SAMPLES: &str = "samples";
/// Summary: the seed the streams were drawn from.
pub const SEED: &str = "seed";
/// Summary: samples inside the quarter circle.
pub const INSIDE: &str = "inside";
/// Summary (and a one-element artifact): 4 · inside / samples.
pub const PI_ESTIMATE: &str = "pi_estimate";
/// Summary: estimate − π.
pub const ERROR: &str = "error";
/// Summary: the expected standard error 4·sqrt(p(1−p)/N), p = π/4.
pub const EXPECTED_SIGMA: &str = "expected_sigma";
/// Summary: error / expected standard error.
pub const ERROR_IN_SIGMA: &str = "error_in_sigma";
/// Artifact (i64): samples inside per block of [`BLOCK`], in block order.
pub const BLOCK_COUNTS: &str = "block_counts";

impl Analysis for MonteCarloPi {
    fn id(&self) -> &'static str {
        "monte-carlo-pi"
    }
    fn title(&self) -> &'static str {
        "Monte Carlo π"
    }
    fn section(&self) -> Section {
        Section::Numba
    }
    fn help(&self) -> &'static str {
        "π from random points in the unit square; one counter-based stream per block of 65,536 samples makes every variant and thread count give the identical estimate."
    }
    fn input_kind(&self) -> Kind {
        Kind::None
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![ParamSpec::int(
            "seed",
            "random seed (used when the input does not carry one)",
            1,
            0,
            i64::MAX,
        )]
    }
    fn size_unit(&self) -> &'static str {
        "samples"
    }
    fn default_size(&self) -> usize {
        10_000_000
    }
    fn quick_size(&self) -> usize {
        1_000_000
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 38.8e-3), (1.0, 60.3e-3), (1.0, 24.4e-3)],
            mem: (1.0, 0.0),
            w_ref: 1e7,
        }
    }
    fn size_of(&self, input: &Dataset) -> usize {
        setup(input).map_or(self.default_size(), |(n, _)| n)
    }
    /// A one-row table (samples, seed): the workload is its own generator.
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        if size > MAX_SAMPLES {
            return Err(Error::param(format!(
                "monte-carlo-pi: {size} samples is more than the limit of {MAX_SAMPLES}"
            )));
        }
        Ok(Dataset::Table(Table {
            columns: vec!["samples".into(), "seed".into()],
            data: Array2::from_shape_vec((1, 2), vec![size as f64, (seed % (1 << 52)) as f64])
                .map_err(|e| Error::input(format!("sample table: {e}")))?,
        }))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let n = self.size_of(input) as f64;
        // Per sample two uniforms (a scaling multiply each) and x² + y² (two multiplies and
        // an add): 5 flops; the samples never touch memory, only one count per block is
        // written, so the stage is compute-bound.
        vec![StageWork::streaming(
            "sample",
            8.0 * (n / BLOCK as f64).ceil(),
            5.0 * n,
        )]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let (n, seed) = self.parse(input, params)?;
        let counts = stage!(
            ctx,
            "sample",
            match variant {
                Variant::Naive => naive(n, seed, ctx)?,
                Variant::Vectorized => blocks(n, seed, false, ctx)?,
                Variant::Parallel => blocks(n, seed, true, ctx)?,
            }
        );
        ctx.progress(1.0);
        let inside: u64 = counts.iter().sum();
        let pi = 4.0 * inside as f64 / n as f64;
        let p = std::f64::consts::FRAC_PI_4;
        let sigma = 4.0 * (p * (1.0 - p) / n as f64).sqrt();
        let counts: Vec<i64> = counts.iter().map(|&c| c as i64).collect();
        Ok(Output::new()
            .sum(SAMPLES, n)
            .sum(SEED, seed)
            .sum(INSIDE, inside)
            .sum(PI_ESTIMATE, pi)
            .sum(ERROR, pi - std::f64::consts::PI)
            .sum(EXPECTED_SIGMA, sigma)
            .sum(ERROR_IN_SIGMA, (pi - std::f64::consts::PI) / sigma)
            .i64(BLOCK_COUNTS, Array1::from(counts).into_dyn())
            .f64(
                PI_ESTIMATE,
                Array1::from(vec![pi]).into_dyn(),
                Tolerance::Exact,
            ))
    }
}

impl MonteCarloPi {
    /// Samples and seed (the table's, else the parameter), checked once: what `validate`
    /// reports and `run` computes on.
    fn parse(&self, input: &Dataset, params: &Params) -> Result<(usize, u64)> {
        let (n, seed) = setup(input)?;
        let param_seed = params.i64("seed")?;
        Ok((n, seed.unwrap_or(param_seed.unsigned_abs())))
    }
}

/// (samples, seed if the input gives one).
fn setup(input: &Dataset) -> Result<(usize, Option<u64>)> {
    match input {
        Dataset::None => Ok((MonteCarloPi.default_size(), None)),
        Dataset::Table(t) if t.data.ncols() >= 1 && t.data.nrows() >= 1 => {
            let n = t.data[[0, 0]];
            if !(n >= 1.0 && n <= MAX_SAMPLES as f64) {
                return Err(Error::input(format!(
                    "the sample count {n} is outside 1..={MAX_SAMPLES}"
                )));
            }
            let seed = if t.data.ncols() >= 2 {
                let s = t.data[[0, 1]];
                if !(s >= 0.0 && s.is_finite()) {
                    return Err(Error::input(format!("the seed {s} is not an integer >= 0")));
                }
                Some(s as u64)
            } else {
                None
            };
            Ok((n as usize, seed))
        }
        other => Err(Error::input(format!(
            "monte-carlo-pi takes no input or a (samples, seed) table, not a {}",
            other.kind()
        ))),
    }
}

fn n_blocks(n: usize) -> usize {
    n.div_ceil(BLOCK)
}

fn block_len(n: usize, b: usize) -> usize {
    (n - b * BLOCK).min(BLOCK)
}

/// The first `count` of a run's `n` samples (x, y) in the order the run draws them
/// (block 0's stream first, then block 1's, …): the very points every variant counts.
pub fn first_samples(n: usize, seed: u64, count: usize) -> Vec<[f64; 2]> {
    let count = count.min(n);
    let mut pts = Vec::with_capacity(count);
    for b in 0..n_blocks(count) {
        let mut r = Rng::for_block(seed, b as u64);
        for _ in 0..block_len(count, b) {
            let x = r.uniform();
            let y = r.uniform();
            pts.push([x, y]);
        }
    }
    pts
}

/// The textbook loop: draw x, draw y, branch.
fn naive(n: usize, seed: u64, ctx: &Ctx) -> Result<Vec<u64>> {
    let nb = n_blocks(n);
    let mut counts = Vec::with_capacity(nb);
    for b in 0..nb {
        if b % 16 == 0 {
            ctx.check()?;
            ctx.progress(b as f64 / nb as f64);
        }
        let mut r = Rng::for_block(seed, b as u64);
        let mut c = 0u64;
        for _ in 0..block_len(n, b) {
            let x = r.uniform();
            let y = r.uniform();
            if x * x + y * y <= 1.0 {
                c += 1;
            }
        }
        counts.push(c);
    }
    Ok(counts)
}

/// The initial SplitMix64 state of block `b` (as `Rng::for_block` seeds it).
#[inline]
fn block_state(seed: u64, b: u64) -> u64 {
    mix64(seed ^ mix64(b.wrapping_add(GAMMA)))
}

#[inline(always)]
fn unit(u: u64) -> f64 {
    (u >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// One block, counter form: draws 2k and 2k+1 are mix64(s0 + (2k+1)γ) and
/// mix64(s0 + (2k+2)γ). Four samples per iteration are independent of each other (no
/// carried generator state), so their multiplies overlap; the count is branch-free.
fn count_block(seed: u64, b: usize, len: usize) -> u64 {
    let s0 = block_state(seed, b as u64);
    let inside = |sx: u64| -> u64 {
        let x = unit(mix64(sx));
        let y = unit(mix64(sx.wrapping_add(GAMMA)));
        (x * x + y * y <= 1.0) as u64
    };
    let len = len as u64;
    let quads = len / 4;
    let mut c = 0u64;
    let mut s = s0;
    for _ in 0..quads {
        c += inside(s.wrapping_add(GAMMA))
            + inside(s.wrapping_add(GAMMA.wrapping_mul(3)))
            + inside(s.wrapping_add(GAMMA.wrapping_mul(5)))
            + inside(s.wrapping_add(GAMMA.wrapping_mul(7)));
        s = s.wrapping_add(GAMMA.wrapping_mul(8));
    }
    for _ in quads * 4..len {
        c += inside(s.wrapping_add(GAMMA));
        s = s.wrapping_add(GAMMA.wrapping_mul(2));
    }
    c
}

fn blocks(n: usize, seed: u64, parallel: bool, ctx: &Ctx) -> Result<Vec<u64>> {
    let nb = n_blocks(n);
    if parallel {
        (0..nb)
            .into_par_iter()
            .map(|b| {
                ctx.check()?;
                Ok(count_block(seed, b, block_len(n, b)))
            })
            .collect()
    } else {
        let mut counts = Vec::with_capacity(nb);
        for b in 0..nb {
            if b % 16 == 0 {
                ctx.check()?;
                ctx.progress(b as f64 / nb as f64);
            }
            counts.push(count_block(seed, b, block_len(n, b)));
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counter form must reproduce the generator's stream exactly.
    #[test]
    fn counter_form_equals_rng_stream() {
        for (seed, b) in [(1u64, 0u64), (7, 3), (u64::MAX, 12345)] {
            let mut r = Rng::for_block(seed, b);
            let s0 = block_state(seed, b);
            for k in 1..100u64 {
                assert_eq!(r.next_u64(), mix64(s0.wrapping_add(k.wrapping_mul(GAMMA))));
            }
        }
        let ctx = Ctx::detached(1);
        let n = 3 * BLOCK + 17;
        assert_eq!(
            naive(n, 5, &ctx).expect("naive"),
            blocks(n, 5, false, &ctx).expect("blocks")
        );
    }

    /// The points the result view draws are the run's own: counted per block they give
    /// the run's block counts.
    #[test]
    fn first_samples_are_the_counted_points() {
        let ctx = Ctx::detached(1);
        let n = 2 * BLOCK + 5;
        let pts = first_samples(n, 9, usize::MAX);
        assert_eq!(pts.len(), n);
        let counts = blocks(n, 9, false, &ctx).expect("blocks");
        for (b, c) in counts.iter().enumerate() {
            let inside = pts[b * BLOCK..b * BLOCK + block_len(n, b)]
                .iter()
                .filter(|p| p[0] * p[0] + p[1] * p[1] <= 1.0)
                .count() as u64;
            assert_eq!(inside, *c, "block {b}");
        }
        assert_eq!(first_samples(n, 9, 10), pts[..10].to_vec());
    }
}
