//! Chapter 7.3's second custom ufunc: the Planck function B_λ(T) over a wavelength grid
//! (a million points from 100 to 3000 nm by default), with expm1 for accuracy at long
//! wavelengths, and the peak wavelength checked against Wien's displacement law.
//! naive = the chapter's per-element function (constants and λ^5 rebuilt each call);
//! vectorized = constants folded once, λ^5 by multiplication, an inlined polynomial
//! expm1 instead of the libm call (so the loop unrolls/vectorizes); parallel = rayon chunks.

use super::{wrong_input, Analysis, Ctx, Output, ParamSpec, Params, Tolerance, Variant};
use crate::data::{Dataset, Table};
use crate::{stage, Error, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

pub struct Planck;

/// Planck constant (J s), speed of light (m/s), Boltzmann constant (J/K), exact SI.
pub const H: f64 = 6.626_070_15e-34;
pub const C: f64 = 299_792_458.0;
pub const K_B: f64 = 1.380_649e-23;
/// Wien's displacement constant b (m K), CODATA 2018.
pub const WIEN_B: f64 = 2.897_771_955e-3;
/// Stefan-Boltzmann constant (W m^-2 K^-4), CODATA 2018.
pub const SIGMA_SB: f64 = 5.670_374_419e-8;

const BLOCK: usize = 1 << 16;
const MAX_POINTS: usize = 500_000_000;

impl Analysis for Planck {
    fn id(&self) -> &'static str {
        "planck"
    }
    fn title(&self) -> &'static str {
        "Planck function (custom ufunc)"
    }
    fn section(&self) -> &'static str {
        "7.3 Numba"
    }
    fn help(&self) -> &'static str {
        "Black-body spectral radiance B_λ(T) element-wise over a wavelength grid (expm1 for accuracy); the peak wavelength is checked against Wien's law."
    }
    fn input_kind(&self) -> &'static str {
        "none"
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::float(
                "temperature",
                "black-body temperature in kelvin",
                5778.0,
                1.0,
                1.0e7,
            ),
            ParamSpec::float("scale", "factor multiplying B_λ", 1.0, 0.0, 1.0e30),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "wavelengths"
    }
    fn default_size(&self) -> usize {
        1_000_000
    }
    fn quick_size(&self) -> usize {
        50_000
    }
    /// The chapter's grid: `size` wavelengths evenly spaced from 100 to 3000 nm.
    fn generate(&self, size: usize, _seed: u64) -> Result<Dataset> {
        if size > MAX_POINTS {
            return Err(Error::param(format!(
                "planck: {size} wavelengths is more than the limit of {MAX_POINTS}"
            )));
        }
        Ok(Dataset::Table(wavelength_grid(size, 100.0, 3000.0)))
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::Table(t) => t.data.nrows(),
            Dataset::Spectrum(s) => s.wavelength.len(),
            _ => self.default_size(),
        }
    }
    fn validate(&self, input: &Dataset, _params: &Params) -> Result<()> {
        let check = |w: &mut dyn Iterator<Item = f64>| -> Result<()> {
            for bad in w {
                if !(bad.is_finite() && bad > 0.0) {
                    return Err(Error::input(format!(
                        "planck needs positive finite wavelengths in nm; found {bad}"
                    )));
                }
            }
            Ok(())
        };
        match input {
            Dataset::None => Ok(()),
            Dataset::Table(t) if t.data.ncols() >= 1 => {
                check(&mut t.data.column(0).iter().copied())
            }
            Dataset::Spectrum(s) => check(&mut s.wavelength.iter().copied()),
            other => Err(wrong_input(self, other)),
        }
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        self.validate(input, params)?;
        let t = params.f64("temperature")?;
        let scale = params.f64("scale")?;
        let wl: Vec<f64> = stage!(ctx, "wavelengths", {
            match input {
                Dataset::Table(tb) => tb.data.column(0).to_vec(),
                // A spectrum's wavelengths are in Å: convert to nm.
                Dataset::Spectrum(s) => s.wavelength.iter().map(|w| w / 10.0).collect(),
                _ => wavelength_grid(self.default_size(), 100.0, 3000.0)
                    .data
                    .column(0)
                    .to_vec(),
            }
        });
        let n = wl.len();
        let mut b = vec![0.0; n];
        stage!(ctx, "planck", {
            match variant {
                Variant::Naive => {
                    for (blk, o) in b.chunks_mut(BLOCK).enumerate() {
                        ctx.check()?;
                        let s = blk * BLOCK;
                        for (k, v) in o.iter_mut().enumerate() {
                            *v = planck_function(wl[s + k], t, scale);
                        }
                        ctx.progress((s + o.len()) as f64 / n.max(1) as f64);
                    }
                }
                Variant::Vectorized => {
                    let k = Folded::new(t, scale);
                    for (blk, o) in b.chunks_mut(BLOCK).enumerate() {
                        ctx.check()?;
                        let s = blk * BLOCK;
                        k.eval(&wl[s..s + o.len()], o);
                        ctx.progress((s + o.len()) as f64 / n.max(1) as f64);
                    }
                }
                Variant::Parallel => {
                    let k = Folded::new(t, scale);
                    let len = super::common::chunk_len(n, ctx.threads).clamp(1024, BLOCK);
                    b.par_chunks_mut(len).enumerate().try_for_each(|(blk, o)| {
                        ctx.check()?;
                        let s = blk * len;
                        k.eval(&wl[s..s + o.len()], o);
                        Ok::<(), Error>(())
                    })?;
                }
            }
        });
        let (peak_idx, peak_nm, band) = stage!(ctx, "peak", {
            let idx = argmax(&b);
            let peak = idx.map(|i| refine_peak(&wl, &b, i));
            // Trapezoid integral over the grid (nm -> m) vs the whole black body.
            let mut integral = 0.0;
            for i in 1..n {
                integral += 0.5 * (b[i] + b[i - 1]) * (wl[i] - wl[i - 1]) * 1e-9;
            }
            let total = scale * SIGMA_SB * t.powi(4) / std::f64::consts::PI;
            (
                idx,
                peak,
                if total > 0.0 {
                    integral / total
                } else {
                    f64::NAN
                },
            )
        });
        ctx.progress(1.0);
        let wien_nm = WIEN_B / t * 1e9;
        let num = |v: Option<f64>| match v {
            Some(x) if x.is_finite() => serde_json::Value::from(x),
            _ => serde_json::Value::Null,
        };
        let mut peak_table = Array2::zeros((1, 4));
        peak_table[[0, 0]] = t;
        peak_table[[0, 1]] = peak_nm.unwrap_or(f64::NAN);
        peak_table[[0, 2]] = wien_nm;
        peak_table[[0, 3]] = peak_idx.map_or(f64::NAN, |i| b[i]);
        Ok(Output::new()
            .sum("temperature_k", t)
            .sum("n_wavelengths", n)
            .sum("peak_nm", num(peak_nm))
            .sum("wien_peak_nm", wien_nm)
            .sum("peak_rel_diff", num(peak_nm.map(|p| p / wien_nm - 1.0)))
            .sum("peak_radiance_w_m3_sr", num(peak_idx.map(|i| b[i])))
            .sum("band_fraction_of_sigma_t4", num(Some(band)))
            .f64(
                "radiance",
                Array1::from(b).into_dyn(),
                Tolerance::Rel(1e-12),
            )
            .table(
                "peak",
                &["temperature_k", "peak_nm", "wien_nm", "peak_radiance"],
                peak_table,
                Tolerance::Rel(1e-9),
            ))
    }
}

/// The chapter's ufunc body: B_λ in W m^-3 sr^-1 for `wavelength` in nm.
#[inline(never)]
pub fn planck_function(wavelength: f64, temperature: f64, scale: f64) -> f64 {
    let h = H;
    let c = C;
    let k = K_B;
    let lam = wavelength * 1e-9;
    let numerator = 2.0 * h * c.powi(2) / lam.powi(5);
    let x = h * c / (lam * k * temperature);
    if x > 700.0 {
        return 0.0;
    }
    scale * numerator / x.exp_m1()
}

/// Constants folded once per call: B = c1 / (λ^5 expm1(c2 / λ)) with λ in nm.
struct Folded {
    c1: f64,
    c2: f64,
}

impl Folded {
    fn new(t: f64, scale: f64) -> Self {
        // (λ·1e-9 m)^5 = λ^5·1e-45, so 2hc²/λ_m^5 = 2hc²·1e45/λ^5.
        Folded {
            c1: scale * 2.0 * H * C * C * 1e45,
            c2: H * C / (K_B * t) * 1e9,
        }
    }
    fn eval(&self, wl: &[f64], out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked at run time).
            return unsafe { self.eval_avx2(wl, out) };
        }
        self.eval_generic(wl, out)
    }

    /// The same loop compiled for AVX2 (bit-identical: Rust never contracts to FMA).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn eval_avx2(&self, wl: &[f64], out: &mut [f64]) {
        self.eval_generic(wl, out)
    }

    #[inline(always)]
    fn eval_generic(&self, wl: &[f64], out: &mut [f64]) {
        for (o, &w) in out.iter_mut().zip(wl) {
            let x = self.c2 / w;
            let w2 = w * w;
            let em1 = super::magnitude_sum::expm1_poly(x.min(700.0));
            let v = self.c1 / (w2 * w2 * w * em1);
            *o = if x > 700.0 { 0.0 } else { v };
        }
    }
}

fn argmax(b: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, v) in b.iter().enumerate() {
        if v.is_finite() && best.is_none_or(|j| *v > b[j]) {
            best = Some(i);
        }
    }
    best
}

/// Vertex of the parabola through the maximum and its two neighbours (any spacing).
fn refine_peak(x: &[f64], y: &[f64], i: usize) -> f64 {
    if i == 0 || i + 1 >= x.len() {
        return x[i];
    }
    let (x1, x2, x3) = (x[i - 1], x[i], x[i + 1]);
    let (y1, y2, y3) = (y[i - 1], y[i], y[i + 1]);
    let denom = (x1 - x2) * (x1 - x3) * (x2 - x3);
    if denom == 0.0 {
        return x2;
    }
    let a = (x3 * (y2 - y1) + x2 * (y1 - y3) + x1 * (y3 - y2)) / denom;
    let bq = (x3 * x3 * (y1 - y2) + x2 * x2 * (y3 - y1) + x1 * x1 * (y2 - y3)) / denom;
    let v = -bq / (2.0 * a);
    if a < 0.0 && v.is_finite() && v >= x1.min(x3) && v <= x1.max(x3) {
        v
    } else {
        x2
    }
}

/// `n` wavelengths (nm) evenly spaced from `lo` to `hi`, as a one-column table.
pub fn wavelength_grid(n: usize, lo: f64, hi: f64) -> Table {
    let step = if n > 1 {
        (hi - lo) / (n - 1) as f64
    } else {
        0.0
    };
    let data = Array2::from_shape_fn((n, 1), |(i, _)| lo + step * i as f64);
    Table {
        columns: vec!["wavelength_nm".into()],
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_equals_chapter_form() {
        let k = Folded::new(5778.0, 1.0);
        let wl = [100.0, 500.0, 1000.0, 3000.0, 1.0e6];
        let mut out = [0.0; 5];
        k.eval(&wl, &mut out);
        for (w, o) in wl.iter().zip(out) {
            let r = planck_function(*w, 5778.0, 1.0);
            assert!((o - r).abs() <= 1e-13 * r.abs(), "{w}: {o} vs {r}");
        }
        // Deep Wien tail underflows to zero rather than NaN.
        let mut z = [0.0];
        Folded::new(3.0, 1.0).eval(&[1.0], &mut z);
        assert_eq!(z[0], 0.0);
    }

    #[test]
    fn parabola_vertex_is_exact_for_a_parabola() {
        let x = [1.0, 2.5, 3.0];
        let y: Vec<f64> = x.iter().map(|v| -(v - 2.2f64).powi(2)).collect();
        assert!((refine_peak(&x, &y, 1) - 2.2).abs() < 1e-12);
    }
}
