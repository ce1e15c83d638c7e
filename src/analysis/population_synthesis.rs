//! Exercise 7.3, Monte Carlo stellar population synthesis: each realization draws its
//! stars from a Salpeter IMF (dN/dm ∝ m^α, α = -2.35, 0.08-120 M☉) by inverse CDF,
//! evolves them with a toy model (main-sequence lifetime 10 Gyr·m^-2.5, luminosity
//! m^3.5 L☉; stars older than their lifetime at the chosen age are remnants), and
//! reports per-realization statistics. Realization r draws from its own counter-based
//! stream, so every variant and thread count sees the same stars.
//!
//! naive = one star at a time with three powf calls; vectorized = one realization's
//! masses in a buffer (inlined polynomial ln/exp instead of powf), the lifetime test turned into a mass cut (m < m_dead), m^3.5 as
//! m³·√m, sums in four lanes; parallel = realizations over rayon.

use super::{wrong_input, Analysis, Ctx, Output, ParamSpec, Params, Tolerance, Variant};
use crate::data::rng::Rng;
use crate::data::{Dataset, Table};
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;

pub struct PopulationSynthesis;

/// Column names of the descriptor table that `generate` returns.
pub const DESCRIPTOR: [&str; 2] = ["realizations", "seed"];
/// Most stars (realizations × stars per realization) one run may draw.
const MAX_STARS: f64 = 2.0e10;
/// Main-sequence lifetime of one solar mass (Gyr).
const T_SUN_GYR: f64 = 10.0;
/// Bins of the IMF histogram artifact.
const HIST_BINS: usize = 40;

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
    fn section(&self) -> &'static str {
        "Exercise 7.3"
    }
    fn help(&self) -> &'static str {
        "Salpeter IMF sampling by inverse CDF, toy evolution (lifetime ∝ m^-2.5, L ∝ m^3.5) and statistics per realization; realizations are independent, so they parallelize."
    }
    fn input_kind(&self) -> &'static str {
        "none"
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
        let (r, _) = describe(self, input)?;
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
        Ok(())
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        self.validate(input, params)?;
        let (n_real, seed) = describe(self, input)?;
        let m = model(params)?;
        let stars = params.usize("stars")?;
        let mut real = vec![Realization::default(); n_real];
        stage!(ctx, "realizations", {
            match variant {
                Variant::Naive => {
                    for (r, out) in real.iter_mut().enumerate() {
                        ctx.check()?;
                        *out = realization_naive(&m, stars, seed, r as u64);
                        ctx.progress((r + 1) as f64 / n_real as f64);
                    }
                }
                Variant::Vectorized => {
                    let mut buf = Vec::with_capacity(stars);
                    for (r, out) in real.iter_mut().enumerate() {
                        ctx.check()?;
                        *out = realization_fast(&m, stars, seed, r as u64, &mut buf);
                        ctx.progress((r + 1) as f64 / n_real as f64);
                    }
                }
                Variant::Parallel => {
                    real.par_iter_mut().enumerate().try_for_each_init(
                        || Vec::with_capacity(stars),
                        |buf, (r, out)| {
                            ctx.check()?;
                            *out = realization_fast(&m, stars, seed, r as u64, buf);
                            Ok::<(), Error>(())
                        },
                    )?;
                }
            }
        });
        let hist = stage!(ctx, "imf histogram", imf_histogram(&m, stars, seed));
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
            .sum("mean_mass_analytic", analytic)
            .sum("mean_mass_rel_diff", mean_mass / analytic - 1.0)
            .sum("mean_n_gt8", mean_gt8)
            .sum("n_gt8_expected", m.fraction(8.0, m.m_max) * ns)
            .sum("mean_n_alive", mean_alive)
            .sum("n_alive_expected", m.fraction(m.m_min, m.m_dead()) * ns)
            .sum("turnoff_mass", m.m_dead().min(m.m_max))
            .sum("mean_luminosity_lsun", mean_lum)
            .table(
                "realizations",
                &[
                    "realization",
                    "total_mass",
                    "mean_mass",
                    "n_gt8",
                    "n_alive",
                    "luminosity",
                ],
                table,
                Tolerance::Rel(1e-12),
            )
            .table(
                "imf_histogram",
                &["m_lo", "m_hi", "count"],
                hist,
                Tolerance::Exact,
            ))
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

/// One star at a time, as the exercise's straightforward loop would do it.
pub fn realization_naive(m: &Model, stars: usize, seed: u64, r: u64) -> Realization {
    let (lo, span, inv) = m.inverse_cdf();
    let mut rng = Rng::for_block(seed, r);
    let mut out = Realization::default();
    for _ in 0..stars {
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
    out
}

/// The masses of realization `r` (the same numbers the naive loop draws).
fn masses(m: &Model, stars: usize, seed: u64, r: u64, buf: &mut Vec<f64>) {
    let (lo, span, inv) = m.inverse_cdf();
    let mut rng = Rng::for_block(seed, r);
    buf.clear();
    buf.extend((0..stars).map(|_| rng.uniform()));
    for v in buf.iter_mut() {
        *v = (lo + *v * span).powf(inv);
    }
}

/// The same masses by inlined polynomial ln/exp (m = exp(ln(z)/(α+1))), a few ulp
/// from `powf`, in a loop the compiler can unroll and vectorize.
fn masses_poly(m: &Model, stars: usize, seed: u64, r: u64, buf: &mut Vec<f64>) {
    use super::magnitude_sum::{exp_poly, ln_poly};
    let (lo, span, inv) = m.inverse_cdf();
    let mut rng = Rng::for_block(seed, r);
    buf.clear();
    buf.extend((0..stars).map(|_| rng.uniform()));
    for v in buf.iter_mut() {
        *v = exp_poly((inv * ln_poly(lo + *v * span)).clamp(-700.0, 700.0));
    }
}

/// Masses in a buffer, then branch-free passes with four accumulators.
pub fn realization_fast(
    m: &Model,
    stars: usize,
    seed: u64,
    r: u64,
    buf: &mut Vec<f64>,
) -> Realization {
    masses_poly(m, stars, seed, r, buf);
    let cut = m.m_dead();
    let mut sum = [0.0f64; 4];
    let mut lum = [0.0f64; 4];
    let mut gt8 = [0u64; 4];
    let mut alive = [0u64; 4];
    let mut it = buf.chunks_exact(4);
    for c in &mut it {
        for l in 0..4 {
            let x = c[l];
            sum[l] += x;
            gt8[l] += (x > 8.0) as u64;
            let a = x < cut;
            alive[l] += a as u64;
            lum[l] += if a { x * x * x * x.sqrt() } else { 0.0 };
        }
    }
    for &x in it.remainder() {
        sum[0] += x;
        gt8[0] += (x > 8.0) as u64;
        if x < cut {
            alive[0] += 1;
            lum[0] += x * x * x * x.sqrt();
        }
    }
    Realization {
        total_mass: (sum[0] + sum[1]) + (sum[2] + sum[3]),
        n_gt8: gt8.iter().sum(),
        n_alive: alive.iter().sum(),
        luminosity: (lum[0] + lum[1]) + (lum[2] + lum[3]),
    }
}

/// Counts of realization 0's masses in logarithmic bins (for the IMF plot).
fn imf_histogram(m: &Model, stars: usize, seed: u64) -> Array2<f64> {
    let mut buf = Vec::new();
    masses(m, stars, seed, 0, &mut buf);
    let l0 = m.m_min.ln();
    let step = (m.m_max.ln() - l0) / HIST_BINS as f64;
    let mut h = Array2::zeros((HIST_BINS, 3));
    for b in 0..HIST_BINS {
        h[[b, 0]] = (l0 + step * b as f64).exp();
        h[[b, 1]] = (l0 + step * (b + 1) as f64).exp();
    }
    for x in buf {
        let b = (((x.ln() - l0) / step) as usize).min(HIST_BINS - 1);
        h[[b, 2]] += 1.0;
    }
    h
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
}
