//! Chapter 7.3's first custom ufunc: adding two magnitudes element-wise,
//! m = -2.5 log10(10^(-0.4 m1) + 10^(-0.4 m2)), over a million pairs.
//! naive = the chapter's formula per element (three transcendental calls);
//! vectorized = the stable rearrangement m = min - 2.5 log10(1 + 10^(-0.4 |m1 - m2|))
//! (two calls, no overflow for any magnitude); parallel = the same over rayon chunks.

use super::{wrong_input, Analysis, Ctx, Output, ParamSpec, Params, Tolerance, Variant};
use crate::data::rng::Rng;
use crate::data::{Dataset, Table};
use crate::{stage, Error, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

pub struct MagnitudeSum;

/// Elements per random block of the generator and per cancellation check.
const BLOCK: usize = 1 << 16;
/// Largest input accepted (pairs).
const MAX_PAIRS: usize = 500_000_000;

/// 2.5 / ln 10: -2.5 log10(x) = -MAG_LN * ln(x).
const MAG_LN: f64 = 2.5 / std::f64::consts::LN_10;
/// 0.4 ln 10: 10^(-0.4 d) = exp(-FLUX_LN d).
const FLUX_LN: f64 = 0.4 * std::f64::consts::LN_10;

impl Analysis for MagnitudeSum {
    fn id(&self) -> &'static str {
        "magnitude-sum"
    }
    fn title(&self) -> &'static str {
        "Magnitude addition (custom ufunc)"
    }
    fn section(&self) -> &'static str {
        "7.3 Numba"
    }
    fn help(&self) -> &'static str {
        "Combined magnitude of two sources, -2.5 log10(10^(-0.4 m1) + 10^(-0.4 m2)), element-wise over a million pairs; a rearranged formula saves a transcendental call."
    }
    fn input_kind(&self) -> &'static str {
        "none"
    }
    fn params(&self) -> Vec<ParamSpec> {
        Vec::new()
    }
    fn size_unit(&self) -> &'static str {
        "pairs"
    }
    fn default_size(&self) -> usize {
        1_000_000
    }
    fn quick_size(&self) -> usize {
        50_000
    }
    /// A table with columns m1, m2 drawn uniformly in [10, 15) (as the chapter's test).
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        if size > MAX_PAIRS {
            return Err(Error::param(format!(
                "magnitude-sum: {size} pairs is more than the limit of {MAX_PAIRS}"
            )));
        }
        Ok(Dataset::Table(magnitude_table(size, seed)))
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::Table(t) => t.data.nrows(),
            _ => self.default_size(),
        }
    }
    fn validate(&self, input: &Dataset, _params: &Params) -> Result<()> {
        match input {
            Dataset::None => Ok(()),
            Dataset::Table(t) if t.data.ncols() >= 2 => Ok(()),
            Dataset::Table(t) => Err(Error::input(format!(
                "magnitude-sum needs a table with two magnitude columns, this one has {}",
                t.data.ncols()
            ))),
            other => Err(wrong_input(self, other)),
        }
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        self.validate(input, params)?;
        let generated;
        let (m1, m2): (Vec<f64>, Vec<f64>) = stage!(ctx, "columns", {
            match input {
                Dataset::Table(t) => (t.data.column(0).to_vec(), t.data.column(1).to_vec()),
                _ => {
                    generated = magnitude_table(self.default_size(), 1);
                    (
                        generated.data.column(0).to_vec(),
                        generated.data.column(1).to_vec(),
                    )
                }
            }
        });
        let n = m1.len();
        let mut out = vec![0.0; n];
        stage!(ctx, "combine", {
            match variant {
                Variant::Naive => {
                    for (b, o) in out.chunks_mut(BLOCK).enumerate() {
                        ctx.check()?;
                        let s = b * BLOCK;
                        for (k, v) in o.iter_mut().enumerate() {
                            *v = magnitude_addition(m1[s + k], m2[s + k]);
                        }
                        ctx.progress((s + o.len()) as f64 / n.max(1) as f64);
                    }
                }
                Variant::Vectorized => {
                    for (b, o) in out.chunks_mut(BLOCK).enumerate() {
                        ctx.check()?;
                        let s = b * BLOCK;
                        combine_block(&m1[s..s + o.len()], &m2[s..s + o.len()], o);
                        ctx.progress((s + o.len()) as f64 / n.max(1) as f64);
                    }
                }
                Variant::Parallel => {
                    let len = super::common::chunk_len(n, ctx.threads).clamp(1024, BLOCK);
                    out.par_chunks_mut(len).enumerate().try_for_each(|(b, o)| {
                        ctx.check()?;
                        let s = b * len;
                        combine_block(&m1[s..s + o.len()], &m2[s..s + o.len()], o);
                        Ok::<(), Error>(())
                    })?;
                }
            }
        });
        let (brightest, faintest, n_bad, gain) = stage!(ctx, "summary", {
            let mut lo = f64::INFINITY;
            let mut hi = f64::NEG_INFINITY;
            let mut bad = 0usize;
            for &v in &out {
                if v.is_finite() {
                    lo = lo.min(v);
                    hi = hi.max(v);
                } else {
                    bad += 1;
                }
            }
            // Mean brightening over the brighter component.
            let gain: f64 = m1
                .iter()
                .zip(&m2)
                .zip(&out)
                .map(|((a, b), m)| a.min(*b) - m)
                .sum::<f64>()
                / n.max(1) as f64;
            (lo, hi, bad, gain)
        });
        ctx.progress(1.0);
        let finite = |v: f64| {
            if v.is_finite() {
                serde_json::Value::from(v)
            } else {
                serde_json::Value::Null
            }
        };
        Ok(Output::new()
            .sum("n_pairs", n)
            .sum("brightest", finite(brightest))
            .sum("faintest", finite(faintest))
            .sum("mean_gain_over_brighter_mag", finite(gain))
            .sum("n_non_finite", n_bad)
            .f64(
                "combined_mag",
                Array1::from(out).into_dyn(),
                Tolerance::Rel(1e-12),
            ))
    }
}

/// The chapter's ufunc body, element by element.
#[inline(never)]
pub fn magnitude_addition(m1: f64, m2: f64) -> f64 {
    let flux1 = 10f64.powf(-0.4 * m1);
    let flux2 = 10f64.powf(-0.4 * m2);
    -2.5 * (flux1 + flux2).log10()
}

/// Stable form: the brighter magnitude minus the gain from the fainter one.
#[inline]
pub fn magnitude_addition_stable(m1: f64, m2: f64) -> f64 {
    let lo = m1.min(m2);
    let d = (m1 - m2).abs();
    lo - MAG_LN * (-FLUX_LN * d).exp().ln_1p()
}

fn combine_block(m1: &[f64], m2: &[f64], out: &mut [f64]) {
    for ((o, &a), &b) in out.iter_mut().zip(m1).zip(m2) {
        *o = magnitude_addition_stable(a, b);
    }
}

/// `n` pairs of magnitudes uniform in [10, 15), one random stream per block.
pub fn magnitude_table(n: usize, seed: u64) -> Table {
    let mut data = Array2::zeros((n, 2));
    for (b, mut rows) in data
        .axis_chunks_iter_mut(ndarray::Axis(0), BLOCK)
        .enumerate()
    {
        let mut r = Rng::for_block(seed, b as u64);
        for mut row in rows.rows_mut() {
            row[0] = r.range(10.0, 15.0);
            row[1] = r.range(10.0, 15.0);
        }
    }
    Table {
        columns: vec!["m1".into(), "m2".into()],
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_form_equals_chapter_form() {
        for (a, b) in [(10.0, 10.5), (12.0, 10.5), (13.0, 13.0), (-1.0, 25.0)] {
            let x = magnitude_addition(a, b);
            let y = magnitude_addition_stable(a, b);
            assert!((x - y).abs() < 1e-12, "{a} {b}: {x} vs {y}");
        }
        // Far beyond f64 flux range the chapter form overflows, the stable one does not.
        assert!(magnitude_addition(-800.0, -800.0).is_infinite());
        let s = magnitude_addition_stable(-800.0, -800.0);
        assert!((s - (-800.0 - 2.5 * 2f64.log10())).abs() < 1e-9);
    }
}
