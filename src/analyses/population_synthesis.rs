//! Exercise 7.3, Monte Carlo stellar population synthesis: each realization draws its
//! stars from a Salpeter IMF (dN/dm ∝ m^α, α = -2.35, 0.08-120 M☉) by inverse CDF,
//! evolves them with a toy model (main-sequence lifetime 10 Gyr·m^-2.5, luminosity
//! m^3.5 L☉; stars older than their lifetime at the chosen age are remnants), and
//! reports per-realization statistics. Realization r draws from its own counter-based
//! stream, so every variant and thread count sees the same stars.
//!
//! naive = one star at a time with three powf calls; vectorized = four stars per AVX2
//! step with no buffer: the SplitMix64 draws computed straight from the stream's counter
//! (the same numbers the naive loop draws), q = z^(1/(2(α+1))) by a table of 128 entries
//! per binade plus a degree-8 binomial series (a few ulp from powf, no ln/exp, no
//! division), m = q², m^3.5 = m³·q (no sqrt), the lifetime test turned into one mass cut
//! (m < m_dead), sums and counts in four lanes; parallel = realizations over rayon.

use crate::data::rng::{Rng, GAMMA};
use crate::data::{Dataset, Kind, Table};
use crate::engine::{
    wrong_input, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork,
    Tolerance, Variant,
};
use crate::kernels::simd::has_avx2_fma;
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;

pub struct PopulationSynthesis;

/// Table: realization, total_mass, mean_mass, n_gt8, n_alive, luminosity.
pub const REALIZATIONS: &str = "realizations";
/// Table: m_lo, m_hi, count — realization 0's masses in logarithmic bins.
pub const IMF_HISTOGRAM: &str = "imf_histogram";
/// Summary: the IMF's analytic mean mass, the expected stars alive and above 8 M☉ per
/// realization, and the turnoff mass (the heaviest star still alive at the age).
pub const MEAN_MASS_ANALYTIC: &str = "mean_mass_analytic";
pub const N_ALIVE_EXPECTED: &str = "n_alive_expected";
pub const N_GT8_EXPECTED: &str = "n_gt8_expected";
pub const TURNOFF_MASS: &str = "turnoff_mass";
/// The Salpeter slope: dN/dm ∝ m^−2.35.
pub const SALPETER_ALPHA: f64 = -2.35;
/// Column names of the descriptor table that `generate` returns.
pub const DESCRIPTOR: [&str; 2] = ["realizations", "seed"];
/// Most stars (realizations × stars per realization) one run may draw.
const MAX_STARS: f64 = 2.0e10;
/// Main-sequence lifetime of one solar mass (Gyr).
const T_SUN_GYR: f64 = 10.0;
/// Bins of the IMF histogram artifact.
const HIST_BINS: usize = 40;
/// Stars between cancellation checks inside one realization (a multiple of 4, so every
/// star keeps its lane whatever the block it falls in).
const STAR_BLOCK: usize = 1 << 16;

/// The IMF and evolution settings of a run.
#[derive(Clone, Copy, Debug)]
pub struct Model {
    pub alpha: f64,
    pub m_min: f64,
    pub m_max: f64,
    pub age_gyr: f64,
}

impl Model {
    /// m = (lo + u (hi - lo))^(1/(α+1)), the inverse CDF of the truncated power law.
    #[inline]
    fn inverse_cdf(&self) -> (f64, f64, f64) {
        let a = self.alpha + 1.0;
        let lo = self.m_min.powf(a);
        let hi = self.m_max.powf(a);
        (lo, hi - lo, 1.0 / a)
    }

    /// Masses above this have left the main sequence at `age_gyr`.
    pub fn m_dead(&self) -> f64 {
        if self.age_gyr <= 0.0 {
            f64::INFINITY
        } else {
            (self.age_gyr / T_SUN_GYR).powf(-0.4)
        }
    }

    /// Analytic mean mass of the IMF: ∫ m·m^α dm / ∫ m^α dm.
    pub fn mean_mass(&self) -> f64 {
        self.moment(1.0) / self.moment(0.0)
    }

    /// Analytic fraction of stars with mass in (m1, m2).
    pub fn fraction(&self, m1: f64, m2: f64) -> f64 {
        let m1 = m1.clamp(self.m_min, self.m_max);
        let m2 = m2.clamp(self.m_min, self.m_max);
        let a = self.alpha + 1.0;
        (m2.powf(a) - m1.powf(a)) / (self.m_max.powf(a) - self.m_min.powf(a))
    }

    /// The IMF as a probability density: dN/dm per star at mass m (0 outside the range).
    pub fn density(&self, m: f64) -> f64 {
        if m < self.m_min || m > self.m_max {
            0.0
        } else {
            m.powf(self.alpha) / self.moment(0.0)
        }
    }

    /// ∫ m^(α+k) dm over the mass range.
    fn moment(&self, k: f64) -> f64 {
        let e = self.alpha + k + 1.0;
        if e.abs() < 1e-12 {
            (self.m_max / self.m_min).ln()
        } else {
            (self.m_max.powf(e) - self.m_min.powf(e)) / e
        }
    }
}

/// Statistics of one realization.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Realization {
    pub total_mass: f64,
    pub n_gt8: u64,
    pub n_alive: u64,
    pub luminosity: f64,
}

impl Analysis for PopulationSynthesis {
    fn id(&self) -> &'static str {
        "population-synthesis"
    }
    fn title(&self) -> &'static str {
        "Stellar population synthesis (Monte Carlo)"
    }
    fn section(&self) -> Section {
        Section::Exercise3
    }
    fn help(&self) -> &'static str {
        "Salpeter IMF sampling by inverse CDF, toy evolution (lifetime ∝ m^-2.5, L ∝ m^3.5) and statistics per realization; realizations are independent, so they parallelize."
    }
    fn input_kind(&self) -> Kind {
        Kind::None
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("stars", "stars per realization", 10_000, 1, 100_000_000),
            ParamSpec::float("age", "age of the population (Gyr)", 1.0, 0.0, 100.0),
            ParamSpec::float("alpha", "IMF slope: dN/dm ∝ m^alpha", -2.35, -5.0, -1.05),
            ParamSpec::float("m_min", "lowest stellar mass (M☉)", 0.08, 0.01, 10.0),
            ParamSpec::float("m_max", "highest stellar mass (M☉)", 120.0, 0.1, 1000.0),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "realizations"
    }
    fn default_size(&self) -> usize {
        1000
    }
    fn quick_size(&self) -> usize {
        20
    }
    fn cost(&self) -> CostModel {
        CostModel {
            // work = realizations × stars (1,000 × 10,000).
            time: [(1.0, 0.558), (1.0, 0.190), (1.0, 0.113)],
            mem: (0.0, 16e6),
            w_ref: 1e7,
        }
    }
    fn work(&self, input: &Dataset, params: &Params) -> f64 {
        let stars = params.opt_i64("stars").map_or(1.0, |n| n as f64);
        self.size_of(input) as f64 * stars.max(1.0)
    }
    /// A descriptor (realizations, seed): the stars are drawn during the run.
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        Ok(Dataset::Table(Table {
            columns: DESCRIPTOR.iter().map(|s| s.to_string()).collect(),
            data: Array2::from_shape_vec((1, 2), vec![size as f64, seed as f64])
                .map_err(|e| Error::input(e.to_string()))?,
        }))
    }
    fn size_of(&self, input: &Dataset) -> usize {
        describe(self, input).map_or(0, |(r, _)| r)
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, params: &Params) -> Vec<StageWork> {
        let Ok(s) = self.parse(input, params) else {
            return Vec::new();
        };
        let (r, stars) = (s.realizations as f64, s.stars as f64);
        vec![
            // Per star: the uniform's scaling and lo + u·span (3), the inverse-CDF power,
            // the mass sum, the lifetime's power and scaling (3), and for a living star
            // m^3.5 and its sum (2; counted for every star: the IMF is dominated by
            // long-lived low-mass stars): 9 flops. The stars live in registers; only a
            // 32-byte result per realization is written.
            StageWork::streaming("realizations", 32.0 * r, 9.0 * r * stars),
            // One realization's masses again: the draw (4), ln, − ln m_min, / step (3)
            // and the count (1); the bin edges (2 exps a bin, ~6 flops); 3 columns a bin.
            StageWork::streaming(
                "imf histogram",
                24.0 * HIST_BINS as f64,
                8.0 * stars + 6.0 * HIST_BINS as f64,
            ),
        ]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let Setup {
            realizations: n_real,
            seed,
            model: m,
            stars,
        } = self.parse(input, params)?;
        let mut real = vec![Realization::default(); n_real];
        stage!(ctx, "realizations", {
            match variant {
                Variant::Naive => {
                    for (r, out) in real.iter_mut().enumerate() {
                        *out = realization_naive(&m, stars, seed, r as u64, ctx)?;
                        ctx.progress((r + 1) as f64 / n_real as f64);
                    }
                }
                Variant::Vectorized => {
                    let k = FastKernel::new(&m)?;
                    for (r, out) in real.iter_mut().enumerate() {
                        *out = k.realization(stars, seed, r as u64, ctx)?;
                        ctx.progress((r + 1) as f64 / n_real as f64);
                    }
                }
                Variant::Parallel => {
                    let k = FastKernel::new(&m)?;
                    real.par_iter_mut().enumerate().try_for_each(|(r, out)| {
                        *out = k.realization(stars, seed, r as u64, ctx)?;
                        Ok::<(), Error>(())
                    })?;
                }
            }
        });
        let hist = stage!(ctx, "imf histogram", imf_histogram(&m, stars, seed, ctx)?);
        ctx.progress(1.0);

        let nr = n_real.max(1) as f64;
        let ns = stars as f64;
        let mean_mass = real.iter().map(|x| x.total_mass / ns).sum::<f64>() / nr;
        let mean_gt8 = real.iter().map(|x| x.n_gt8 as f64).sum::<f64>() / nr;
        let mean_alive = real.iter().map(|x| x.n_alive as f64).sum::<f64>() / nr;
        let mean_lum = real.iter().map(|x| x.luminosity).sum::<f64>() / nr;
        let analytic = m.mean_mass();
        let mut table = Array2::zeros((n_real, 6));
        for (r, x) in real.iter().enumerate() {
            table[[r, 0]] = r as f64;
            table[[r, 1]] = x.total_mass;
            table[[r, 2]] = x.total_mass / ns;
            table[[r, 3]] = x.n_gt8 as f64;
            table[[r, 4]] = x.n_alive as f64;
            table[[r, 5]] = x.luminosity;
        }
        Ok(Output::new()
            .sum("realizations", n_real)
            .sum("stars_per_realization", stars)
            .sum("mean_mass", mean_mass)
            .sum(MEAN_MASS_ANALYTIC, analytic)
            .sum("mean_mass_rel_diff", mean_mass / analytic - 1.0)
            .sum("mean_n_gt8", mean_gt8)
            .sum(N_GT8_EXPECTED, m.fraction(8.0, m.m_max) * ns)
            .sum("mean_n_alive", mean_alive)
            .sum(N_ALIVE_EXPECTED, m.fraction(m.m_min, m.m_dead()) * ns)
            .sum(TURNOFF_MASS, m.m_dead().min(m.m_max))
            .sum("mean_luminosity_lsun", mean_lum)
            .table(
                REALIZATIONS,
                &[
                    "realization",
                    "total_mass",
                    "mean_mass",
                    "n_gt8",
                    "n_alive",
                    "luminosity",
                ],
                table,
                // Each star's m and m^3.5 differ from naive's powf by a few ulp (table +
                // series, up to 20× more at α = −1.05) and are summed in another order;
                // a release soak saw 2e-12 at random parameters.
                Tolerance::Rel(1e-10),
            )
            .table(
                IMF_HISTOGRAM,
                &["m_lo", "m_hi", "count"],
                hist,
                Tolerance::Exact,
            ))
    }
}

/// What one run computes on.
struct Setup {
    realizations: usize,
    seed: u64,
    model: Model,
    stars: usize,
}

impl PopulationSynthesis {
    /// Realizations, seed, model and stars, checked once: what `validate` reports and
    /// `run` computes on.
    fn parse(&self, input: &Dataset, params: &Params) -> Result<Setup> {
        let (r, seed) = describe(self, input)?;
        let m = model(params)?;
        let stars = params.usize("stars")?;
        if r as f64 * stars as f64 > MAX_STARS {
            return Err(Error::param(format!(
                "population-synthesis: {r} realizations × {stars} stars is more than the limit of {MAX_STARS:e} stars"
            )));
        }
        if m.m_min >= m.m_max {
            return Err(Error::param(format!(
                "population-synthesis: m_min ({}) must be below m_max ({})",
                m.m_min, m.m_max
            )));
        }
        Ok(Setup {
            realizations: r,
            seed,
            model: m,
            stars,
        })
    }
}

fn describe(a: &PopulationSynthesis, input: &Dataset) -> Result<(usize, u64)> {
    match input {
        Dataset::None => Ok((a.default_size(), 1)),
        Dataset::Table(t)
            if t.columns.iter().map(String::as_str).eq(DESCRIPTOR) && t.data.nrows() == 1 =>
        {
            let r = t.data[[0, 0]];
            if !((1.0..=1e9).contains(&r) && r.fract() == 0.0) {
                return Err(Error::input(format!(
                    "population-synthesis: {r} realizations is not a whole number from 1 to 1e9"
                )));
            }
            Ok((r as usize, t.data[[0, 1]] as u64))
        }
        other => Err(wrong_input(a, other)),
    }
}

fn model(p: &Params) -> Result<Model> {
    Ok(Model {
        alpha: p.f64("alpha")?,
        m_min: p.f64("m_min")?,
        m_max: p.f64("m_max")?,
        age_gyr: p.f64("age")?,
    })
}

/// One star at a time, as the exercise's straightforward loop would do it (with a
/// cancellation check every `STAR_BLOCK` stars).
pub fn realization_naive(
    m: &Model,
    stars: usize,
    seed: u64,
    r: u64,
    ctx: &Ctx,
) -> Result<Realization> {
    let (lo, span, inv) = m.inverse_cdf();
    let mut rng = Rng::for_block(seed, r);
    let mut out = Realization::default();
    for i in 0..stars {
        if i % STAR_BLOCK == 0 {
            ctx.check()?;
        }
        let mass = (lo + rng.uniform() * span).powf(inv);
        out.total_mass += mass;
        if mass > 8.0 {
            out.n_gt8 += 1;
        }
        let lifetime = T_SUN_GYR * mass.powf(-2.5);
        if lifetime > m.age_gyr {
            out.n_alive += 1;
            out.luminosity += mass.powf(3.5);
        }
    }
    Ok(out)
}

/// SplitMix64's two multipliers (see `rng::mix64`).
const MIX1: u64 = 0xbf58_476d_1ce4_e5b9;
const MIX2: u64 = 0x94d0_49bb_1331_11eb;
const TWO52: f64 = 4_503_599_627_370_496.0;
const TWO_M21: f64 = 1.0 / (1u64 << 21) as f64;
const TWO_M53: f64 = 1.0 / (1u64 << 53) as f64;
/// Bits of 2^52: OR-ing an integer below 2^52 into its mantissa gives 2^52 + integer.
const MAGIC_BITS: u64 = 0x4330_0000_0000_0000;
/// Top mantissa bits that pick the power table's entry (128 entries per binade).
const TBITS: u32 = 7;
const TSHIFT: u32 = 52 - TBITS;
const MANT_MASK: u64 = 0x000f_ffff_ffff_ffff;
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
/// Degree of the binomial series of (1+r)^p (|r| < 1/255: the next term is < 1e-17
/// relative even for |p| = 10, the largest exponent the parameter ranges allow).
const SERIES: usize = 8;

/// `Rng::uniform` of the draw whose SplitMix64 state is `state`: the same bits, with
/// the 53-bit integer converted exactly through two 32-bit halves (vectorizable).
#[inline(always)]
fn uniform_of(state: u64) -> f64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(MIX1);
    z = (z ^ (z >> 27)).wrapping_mul(MIX2);
    z ^= z >> 31;
    let v = z >> 11;
    let hi = f64::from_bits((v >> 32) | MAGIC_BITS) - TWO52;
    let lo = f64::from_bits((v & 0xffff_ffff) | MAGIC_BITS) - TWO52;
    hi.mul_add(TWO_M21, lo * TWO_M53)
}

/// z^p over a fixed positive range of z without ln/exp: z = 2^e·(1+r)/c_j with j the
/// top 7 mantissa bits and c_j ≈ 1/(1 + (j+½)/128), so z^p = T[e, j]·(1+r)^p where
/// T = (2^e)^p·c_j^(-p) is tabulated (by powf) and (1+r)^p, |r| < 1/255, is a
/// binomial series.
struct PowTable {
    /// T[e, j] at index (biased e << 7 | j) - base.
    t: Vec<f64>,
    /// c_j.
    c: [f64; 1 << TBITS],
    base: u64,
    /// Binomial coefficients C(p, n).
    k: [f64; SERIES + 1],
}

impl PowTable {
    fn new(p: f64, zmin: f64, zmax: f64) -> Result<Self> {
        if !(zmin > 0.0 && zmin.is_normal() && zmax.is_finite() && zmax >= zmin) {
            return Err(Error::param(format!(
                "population-synthesis: the inverse CDF spans {zmin:e} to {zmax:e}, outside the normal f64 range"
            )));
        }
        let e_lo = (zmin.to_bits() >> 52).saturating_sub(1);
        let e_hi = ((zmax.to_bits() >> 52) + 1).min(2046);
        let mut c = [0.0; 1 << TBITS];
        for (j, v) in c.iter_mut().enumerate() {
            *v = 1.0 / (1.0 + (j as f64 + 0.5) / (1 << TBITS) as f64);
        }
        let cp: Vec<f64> = c.iter().map(|v| v.powf(-p)).collect();
        let mut t = Vec::with_capacity(((e_hi - e_lo + 1) as usize) << TBITS);
        for eb in e_lo..=e_hi {
            let pe = f64::from_bits(eb << 52).powf(p);
            t.extend(cp.iter().map(|v| pe * v));
        }
        let mut k = [0.0; SERIES + 1];
        k[0] = 1.0;
        for n in 1..=SERIES {
            k[n] = k[n - 1] * (p - (n - 1) as f64) / n as f64;
        }
        Ok(PowTable {
            t,
            c,
            base: e_lo << TBITS,
            k,
        })
    }

    #[inline(always)]
    fn pow(&self, z: f64) -> f64 {
        let bits = z.to_bits();
        let top = bits >> TSHIFT;
        let idx = (top.wrapping_sub(self.base) as usize).min(self.t.len() - 1);
        let j = top as usize & ((1 << TBITS) - 1);
        let mant = f64::from_bits((bits & MANT_MASK) | ONE_BITS);
        let r = mant.mul_add(self.c[j], -1.0);
        self.t[idx] * self.series(r)
    }

    /// Σ C(p, n) rⁿ by Estrin's scheme (the AVX2 path does the same operations).
    #[inline(always)]
    fn series(&self, r: f64) -> f64 {
        let k = &self.k;
        let r2 = r * r;
        let r4 = r2 * r2;
        let r8 = r4 * r4;
        let a = k[3].mul_add(r, k[2]).mul_add(r2, k[1].mul_add(r, k[0]));
        let b = k[7].mul_add(r, k[6]).mul_add(r2, k[5].mul_add(r, k[4]));
        k[8].mul_add(r8, b.mul_add(r4, a))
    }
}

/// Four-lane running sums of one realization (star i goes to lane i % 4).
#[derive(Clone, Copy, Default)]
struct Lanes {
    sum: [f64; 4],
    gt8: [f64; 4],
    alive: [f64; 4],
    lum: [f64; 4],
}

/// The per-run state of the vectorized and parallel variants.
struct FastKernel {
    lo: f64,
    span: f64,
    cut: f64,
    /// z ↦ z^(1/(2(α+1))) = √m.
    tab: PowTable,
    avx2: bool,
}

impl FastKernel {
    fn new(m: &Model) -> Result<Self> {
        let (lo, span, inv) = m.inverse_cdf();
        // The range z = fma(u, span, lo) really takes for u in [0, 1 - 2^-53] (for steep
        // slopes lo + span rounds to a different value, even to 0).
        let hi = (1.0 - f64::EPSILON / 2.0).mul_add(span, lo);
        let avx2 = has_avx2_fma();
        Ok(FastKernel {
            lo,
            span,
            cut: m.m_dead(),
            tab: PowTable::new(0.5 * inv, lo.min(hi), lo.max(hi))?,
            avx2,
        })
    }

    /// One star into lane `l`: the draw, q = √m, m = q², L = m³·q.
    #[inline(always)]
    fn star(&self, state: u64, acc: &mut Lanes, l: usize) {
        let u = uniform_of(state);
        let q = self.tab.pow(u.mul_add(self.span, self.lo));
        let m = q * q;
        acc.sum[l] += m;
        acc.gt8[l] += if m > 8.0 { 1.0 } else { 0.0 };
        let a = m < self.cut;
        acc.alive[l] += if a { 1.0 } else { 0.0 };
        let lum = m * m * m * q;
        acc.lum[l] += if a { lum } else { 0.0 };
    }

    /// `n` stars (n a multiple of 4, or the realization's last block) whose draws are
    /// mix64(counter + i·GAMMA), i = 1..=n.
    fn block(&self, counter: u64, n: usize, acc: &mut Lanes) {
        let full = n / 4 * 4;
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: AVX2 and FMA are present (checked at run time in `new`).
            unsafe { avx2::block(self, counter, full, acc) };
        } else {
            self.block_scalar(counter, full, acc);
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.block_scalar(counter, full, acc);
        let base = counter.wrapping_add((full as u64).wrapping_mul(GAMMA));
        for l in 0..n - full {
            self.star(
                base.wrapping_add((l as u64 + 1).wrapping_mul(GAMMA)),
                acc,
                l,
            );
        }
    }

    fn block_scalar(&self, counter: u64, full: usize, acc: &mut Lanes) {
        for j in 0..full / 4 {
            let base = counter.wrapping_add(((4 * j) as u64).wrapping_mul(GAMMA));
            for l in 0..4 {
                self.star(
                    base.wrapping_add((l as u64 + 1).wrapping_mul(GAMMA)),
                    acc,
                    l,
                );
            }
        }
    }

    /// Realization `r`: blocks of `STAR_BLOCK` stars with a cancellation check between.
    fn realization(&self, stars: usize, seed: u64, r: u64, ctx: &Ctx) -> Result<Realization> {
        let counter = Rng::for_block(seed, r).counter();
        let mut acc = Lanes::default();
        let mut s = 0;
        while s < stars {
            ctx.check()?;
            let n = STAR_BLOCK.min(stars - s);
            self.block(
                counter.wrapping_add((s as u64).wrapping_mul(GAMMA)),
                n,
                &mut acc,
            );
            s += n;
        }
        let add4 = |v: [f64; 4]| (v[0] + v[1]) + (v[2] + v[3]);
        Ok(Realization {
            total_mass: add4(acc.sum),
            n_gt8: add4(acc.gt8) as u64,
            n_alive: add4(acc.alive) as u64,
            luminosity: add4(acc.lum),
        })
    }
}

/// The AVX2 + FMA form of `FastKernel::block_scalar`: the same operations on four
/// stars at a time, so the results are bit-identical.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn splat(x: f64) -> __m256d {
        _mm256_set1_pd(x)
    }

    #[inline(always)]
    unsafe fn splati(x: u64) -> __m256i {
        _mm256_set1_epi64x(x as i64)
    }

    /// a·b mod 2^64 per lane (AVX2 has no 64-bit low multiply).
    #[inline(always)]
    unsafe fn mullo(a: __m256i, b: u64) -> __m256i {
        let blo = splati(b & 0xffff_ffff);
        let bhi = splati(b >> 32);
        let lo = _mm256_mul_epu32(a, blo);
        let c1 = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), blo);
        let c2 = _mm256_mul_epu32(a, bhi);
        _mm256_add_epi64(lo, _mm256_slli_epi64::<32>(_mm256_add_epi64(c1, c2)))
    }

    #[inline(always)]
    unsafe fn uniform4(state: __m256i) -> __m256d {
        let mut z = state;
        z = mullo(_mm256_xor_si256(z, _mm256_srli_epi64::<30>(z)), MIX1);
        z = mullo(_mm256_xor_si256(z, _mm256_srli_epi64::<27>(z)), MIX2);
        z = _mm256_xor_si256(z, _mm256_srli_epi64::<31>(z));
        let v = _mm256_srli_epi64::<11>(z);
        let magic = splati(MAGIC_BITS);
        let hi = _mm256_or_si256(_mm256_srli_epi64::<32>(v), magic);
        let lo = _mm256_or_si256(_mm256_and_si256(v, splati(0xffff_ffff)), magic);
        let hi = _mm256_sub_pd(_mm256_castsi256_pd(hi), splat(TWO52));
        let lo = _mm256_sub_pd(_mm256_castsi256_pd(lo), splat(TWO52));
        _mm256_fmadd_pd(hi, splat(TWO_M21), _mm256_mul_pd(lo, splat(TWO_M53)))
    }

    #[inline(always)]
    unsafe fn pow4(tab: &PowTable, z: __m256d) -> __m256d {
        let bits = _mm256_castpd_si256(z);
        let top = _mm256_srli_epi64::<{ TSHIFT as i32 }>(bits);
        // The scalar path's unsigned min(len - 1): an index below 0 or above the table
        // (never reached for z in range) reads the last entry instead of out of bounds.
        let lim = splati(tab.t.len() as u64 - 1);
        let idx = _mm256_sub_epi64(top, splati(tab.base));
        let out = _mm256_or_si256(
            _mm256_cmpgt_epi64(idx, lim),
            _mm256_cmpgt_epi64(_mm256_setzero_si256(), idx),
        );
        let idx = _mm256_blendv_epi8(idx, lim, out);
        let j = _mm256_and_si256(top, splati((1 << TBITS) - 1));
        let mant = _mm256_or_si256(_mm256_and_si256(bits, splati(MANT_MASK)), splati(ONE_BITS));
        let c = _mm256_i64gather_pd::<8>(tab.c.as_ptr(), j);
        let t = _mm256_i64gather_pd::<8>(tab.t.as_ptr(), idx);
        let r = _mm256_fmadd_pd(_mm256_castsi256_pd(mant), c, splat(-1.0));
        let k = &tab.k;
        let r2 = _mm256_mul_pd(r, r);
        let r4 = _mm256_mul_pd(r2, r2);
        let r8 = _mm256_mul_pd(r4, r4);
        let a_lo = _mm256_fmadd_pd(splat(k[1]), r, splat(k[0]));
        let a_hi = _mm256_fmadd_pd(splat(k[3]), r, splat(k[2]));
        let a = _mm256_fmadd_pd(a_hi, r2, a_lo);
        let b_lo = _mm256_fmadd_pd(splat(k[5]), r, splat(k[4]));
        let b_hi = _mm256_fmadd_pd(splat(k[7]), r, splat(k[6]));
        let b = _mm256_fmadd_pd(b_hi, r2, b_lo);
        let s = _mm256_fmadd_pd(splat(k[8]), r8, _mm256_fmadd_pd(b, r4, a));
        _mm256_mul_pd(t, s)
    }

    /// Four stars' q = √m into the lanes: sum m, count m > 8, count and sum m³·q below the cut.
    #[inline(always)]
    unsafe fn star4(q: __m256d, cut: __m256d, acc: &mut [__m256d; 4]) {
        let one = splat(1.0);
        let m = _mm256_mul_pd(q, q);
        acc[0] = _mm256_add_pd(acc[0], m);
        let big = _mm256_cmp_pd::<_CMP_GT_OQ>(m, splat(8.0));
        acc[1] = _mm256_add_pd(acc[1], _mm256_and_pd(big, one));
        let a = _mm256_cmp_pd::<_CMP_LT_OQ>(m, cut);
        acc[2] = _mm256_add_pd(acc[2], _mm256_and_pd(a, one));
        let m3 = _mm256_mul_pd(_mm256_mul_pd(m, m), m);
        acc[3] = _mm256_add_pd(acc[3], _mm256_and_pd(a, _mm256_mul_pd(m3, q)));
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn block(k: &FastKernel, counter: u64, full: usize, acc: &mut Lanes) {
        let g = |i: u64| counter.wrapping_add(GAMMA.wrapping_mul(i)) as i64;
        let mut st = _mm256_set_epi64x(g(4), g(3), g(2), g(1));
        let step = splati(GAMMA.wrapping_mul(4));
        let (span, lo, cut) = (splat(k.span), splat(k.lo), splat(k.cut));
        let mut acc4 = [
            _mm256_loadu_pd(acc.sum.as_ptr()),
            _mm256_loadu_pd(acc.gt8.as_ptr()),
            _mm256_loadu_pd(acc.alive.as_ptr()),
            _mm256_loadu_pd(acc.lum.as_ptr()),
        ];
        // Two groups of four per step (more independent work for the gathers and the
        // series); stars are still added to their lanes in order.
        for _ in 0..full / 8 {
            let st2 = _mm256_add_epi64(st, step);
            let u1 = uniform4(st);
            let u2 = uniform4(st2);
            st = _mm256_add_epi64(st2, step);
            let q1 = pow4(&k.tab, _mm256_fmadd_pd(u1, span, lo));
            let q2 = pow4(&k.tab, _mm256_fmadd_pd(u2, span, lo));
            star4(q1, cut, &mut acc4);
            star4(q2, cut, &mut acc4);
        }
        if !full.is_multiple_of(8) {
            let u = uniform4(st);
            star4(pow4(&k.tab, _mm256_fmadd_pd(u, span, lo)), cut, &mut acc4);
        }
        _mm256_storeu_pd(acc.sum.as_mut_ptr(), acc4[0]);
        _mm256_storeu_pd(acc.gt8.as_mut_ptr(), acc4[1]);
        _mm256_storeu_pd(acc.alive.as_mut_ptr(), acc4[2]);
        _mm256_storeu_pd(acc.lum.as_mut_ptr(), acc4[3]);
    }
}

/// Counts of realization 0's masses in logarithmic bins (for the IMF plot).
fn imf_histogram(m: &Model, stars: usize, seed: u64, ctx: &Ctx) -> Result<Array2<f64>> {
    let (lo, span, inv) = m.inverse_cdf();
    let mut rng = Rng::for_block(seed, 0);
    let l0 = m.m_min.ln();
    let step = (m.m_max.ln() - l0) / HIST_BINS as f64;
    let mut h = Array2::zeros((HIST_BINS, 3));
    for b in 0..HIST_BINS {
        h[[b, 0]] = (l0 + step * b as f64).exp();
        h[[b, 1]] = (l0 + step * (b + 1) as f64).exp();
    }
    // Streamed (no buffer of masses), with a cancellation check per block.
    for i in 0..stars {
        if i % STAR_BLOCK == 0 {
            ctx.check()?;
        }
        let x = (lo + rng.uniform() * span).powf(inv);
        let b = (((x.ln() - l0) / step) as usize).min(HIST_BINS - 1);
        h[[b, 2]] += 1.0;
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytic_salpeter_mean_mass() {
        let m = Model {
            alpha: -2.35,
            m_min: 0.08,
            m_max: 120.0,
            age_gyr: 1.0,
        };
        assert!((m.mean_mass() - 0.2847).abs() < 5e-4, "{}", m.mean_mass());
        assert!((m.fraction(0.08, 120.0) - 1.0).abs() < 1e-12);
        // A 1 Gyr old population has lost everything above 10^(1/2.5) = 2.512 M☉.
        assert!((m.m_dead() - 10f64.powf(0.4)).abs() < 1e-12);
    }

    #[test]
    fn counter_draws_equal_rng_uniform() {
        let mut rng = Rng::for_block(3, 9);
        let c = rng.counter();
        for i in 1..=1000u64 {
            assert_eq!(
                uniform_of(c.wrapping_add(i.wrapping_mul(GAMMA))),
                rng.uniform()
            );
        }
    }

    #[test]
    fn power_table_matches_powf_over_the_parameter_ranges() {
        // Salpeter, the steepest and the shallowest slope the parameters allow.
        for (alpha, m_min, m_max) in [
            (-2.35, 0.08, 120.0),
            (-5.0, 0.01, 1000.0),
            (-1.05, 0.01, 1000.0),
        ] {
            let m = Model {
                alpha,
                m_min,
                m_max,
                age_gyr: 1.0,
            };
            let k = FastKernel::new(&m).expect("valid model");
            let (lo, span, inv) = m.inverse_cdf();
            // |inv| = 20 at alpha = -1.05 amplifies z's own rounding 20 times.
            let tol = 4e-16 * (1.0 + inv.abs()) * 3.5;
            let mut rng = Rng::new(5);
            for _ in 0..100_000 {
                let z = rng.uniform().mul_add(span, lo);
                let q = k.tab.pow(z);
                let want = z.powf(inv);
                let got = q * q;
                assert!(
                    ((got - want) / want).abs() < tol,
                    "{alpha}: z={z} {got} vs {want}"
                );
                let l = got * got * got * q;
                let lw = want.powf(3.5);
                assert!(((l - lw) / lw).abs() < 3.5 * tol, "{alpha}: L {l} vs {lw}");
            }
        }
    }

    #[test]
    fn simd_and_scalar_blocks_are_bit_identical() {
        let m = Model {
            alpha: -2.35,
            m_min: 0.08,
            m_max: 120.0,
            age_gyr: 1.0,
        };
        let mut k = FastKernel::new(&m).expect("valid model");
        let ctx = Ctx::detached(1);
        // 70,007 stars: more than one STAR_BLOCK, an odd group of four and a ragged end.
        let a = k.realization(70_007, 4, 2, &ctx).expect("not cancelled");
        k.avx2 = false;
        let b = k.realization(70_007, 4, 2, &ctx).expect("not cancelled");
        assert_eq!(a, b);
        let n = realization_naive(&m, 70_007, 4, 2, &ctx).expect("not cancelled");
        assert_eq!((a.n_gt8, a.n_alive), (n.n_gt8, n.n_alive));
        assert!((a.total_mass / n.total_mass - 1.0).abs() < 1e-13);
        assert!((a.luminosity / n.luminosity - 1.0).abs() < 1e-13);
    }
}
