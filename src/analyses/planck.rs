//! Chapter 7.3's second custom ufunc: the Planck function B_λ(T) over a wavelength grid
//! (a million points from 100 to 3000 nm by default), with expm1 for accuracy at long
//! wavelengths, and the peak wavelength checked against Wien's displacement law.
//! naive = the chapter's per-element function (constants and λ^5 rebuilt each call),
//! then a separate pass for the peak and the band integral;
//! vectorized = constants folded once, 1/λ^5 by multiplication, an inlined expm1
//! (2^k·(e^r − 1) + (2^k − 1), one polynomial, FMA) so the loop vectorizes (AVX2), and the
//! peak, the band integral and the input check fused into the same pass over blocks that
//! are still in L1; parallel = the same blocks over rayon, combined in block order (so
//! vectorized and parallel give identical bits at any thread count).

use crate::data::{Dataset, Kind, Table};
use crate::engine::{
    wrong_input, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork,
    Tolerance, Variant,
};
use crate::kernels::series::INV_FACTORIAL;
use crate::kernels::simd::has_avx2_fma;
use crate::{stage, Error, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use std::borrow::Cow;

pub struct Planck;

/// Planck constant (J s), speed of light (m/s), Boltzmann constant (J/K), exact SI.
pub const H: f64 = 6.626_070_15e-34;
pub const C: f64 = 299_792_458.0;
pub const K_B: f64 = 1.380_649e-23;
/// Wien's displacement constant b (m K), CODATA 2018.
pub const WIEN_B: f64 = 2.897_771_955e-3;
/// Stefan-Boltzmann constant (W m^-2 K^-4), CODATA 2018.
pub const SIGMA_SB: f64 = 5.670_374_419e-8;

/// Summary keys and artifact names (the result view reads them by these names).
pub const TEMPERATURE_K: &str = "temperature_k";
pub const N_WAVELENGTHS: &str = "n_wavelengths";
pub const PEAK_NM: &str = "peak_nm";
pub const WIEN_PEAK_NM: &str = "wien_peak_nm";
pub const PEAK_REL_DIFF: &str = "peak_rel_diff";
pub const PEAK_RADIANCE: &str = "peak_radiance_w_m3_sr";
pub const BAND_FRACTION: &str = "band_fraction_of_sigma_t4";
/// B_λ at each input wavelength (W m^-3 sr^-1).
pub const RADIANCE: &str = "radiance";
/// One row: temperature_k, peak_nm, wien_nm, peak_radiance.
pub const PEAK: &str = "peak";
/// The default grid's range (nm).
pub const GRID_NM: (f64, f64) = (100.0, 3000.0);

/// Elements per block (one rayon task, one cancellation check); fixed, so the summed
/// integral does not depend on the thread count.
const BLOCK: usize = 1 << 15;
/// Elements evaluated and then scanned while still in L1.
const SUB: usize = 1024;
const MAX_POINTS: usize = 500_000_000;

impl Analysis for Planck {
    fn id(&self) -> &'static str {
        "planck"
    }
    fn title(&self) -> &'static str {
        "Planck function (custom ufunc)"
    }
    fn section(&self) -> Section {
        Section::Numba
    }
    fn help(&self) -> &'static str {
        "Black-body spectral radiance B_λ(T) element-wise over a wavelength grid (expm1 for accuracy); the peak wavelength is checked against Wien's law."
    }
    fn input_kind(&self) -> Kind {
        Kind::None
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
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 23.7e-3), (1.0, 13.0e-3), (1.0, 10.2e-3)],
            mem: (1.0, 16.0),
            w_ref: 1e6,
        }
    }
    /// The chapter's grid: `size` wavelengths evenly spaced from 100 to 3000 nm.
    fn generate(&self, size: usize, _seed: u64) -> Result<Dataset> {
        if size > MAX_POINTS {
            return Err(Error::param(format!(
                "planck: {size} wavelengths is more than the limit of {MAX_POINTS}"
            )));
        }
        Ok(Dataset::Table(wavelength_grid(size, GRID_NM.0, GRID_NM.1)))
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
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let n = self.size_of(input) as f64;
        // Per wavelength: λ in metres (1), 2hc² (3), λ⁵ by squaring (3) and the divide
        // (1), x = hc/(λ·k·T) (4), expm1, the scale and the final divide (3): 15 flops;
        // λ read and B written.
        let planck = 15.0 * n;
        // The trapezoid per interval: (b[i] + b[i−1])·0.5·(λ[i] − λ[i−1])·1e-9 and the
        // add (6 flops), B and λ read; the argmax only compares.
        let peak = 6.0 * (n - 1.0).max(0.0);
        vec![
            // The wavelength column is borrowed from a table (nothing moves) or, from a
            // spectrum, converted from Å (read, divide, write): undeclared.
            StageWork::streaming("planck", 16.0 * n, planck),
            StageWork::streaming("peak", 16.0 * n, peak),
            StageWork::streaming("planck + peak", 16.0 * n, planck + peak),
        ]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let t = params.f64("temperature")?;
        let scale = params.f64("scale")?;
        if variant == Variant::Naive {
            self.validate(input, params)?;
        }
        // The fast variants check the wavelengths inside their single pass.
        let wl: Cow<[f64]> = stage!(ctx, "wavelengths", {
            match input {
                Dataset::Table(tb) if tb.data.ncols() >= 1 => match tb.data.column(0).to_slice() {
                    Some(s) => Cow::Borrowed(s),
                    None => Cow::Owned(tb.data.column(0).to_vec()),
                },
                // A spectrum's wavelengths are in Å: convert to nm.
                Dataset::Spectrum(s) => Cow::Owned(s.wavelength.iter().map(|w| w / 10.0).collect()),
                Dataset::None => Cow::Owned(
                    wavelength_grid(self.default_size(), GRID_NM.0, GRID_NM.1)
                        .data
                        .column(0)
                        .to_vec(),
                ),
                other => return Err(wrong_input(self, other)),
            }
        });
        let wl: &[f64] = &wl;
        let n = wl.len();
        let mut b = vec![0.0; n];
        let (peak_idx, integral) = match variant {
            Variant::Naive => {
                stage!(ctx, "planck", {
                    for (blk, o) in b.chunks_mut(BLOCK).enumerate() {
                        ctx.check()?;
                        let s = blk * BLOCK;
                        for (k, v) in o.iter_mut().enumerate() {
                            *v = planck_function(wl[s + k], t, scale);
                        }
                        ctx.progress((s + o.len()) as f64 / n.max(1) as f64);
                    }
                });
                stage!(ctx, "peak", {
                    // Trapezoid integral over the grid (nm -> m).
                    let mut integral = 0.0;
                    for i in 1..n {
                        integral += 0.5 * (b[i] + b[i - 1]) * (wl[i] - wl[i - 1]) * 1e-9;
                    }
                    (argmax(&b), integral)
                })
            }
            Variant::Vectorized | Variant::Parallel => stage!(ctx, "planck + peak", {
                let k = Folded::new(t, scale);
                let parts: Vec<Partial> = if variant == Variant::Parallel {
                    b.par_chunks_mut(BLOCK)
                        .enumerate()
                        .map(|(blk, o)| {
                            ctx.check()?;
                            let s = blk * BLOCK;
                            Ok(k.eval_fused(&wl[s..s + o.len()], o))
                        })
                        .collect::<Result<_>>()?
                } else {
                    let mut parts = Vec::with_capacity(n.div_ceil(BLOCK));
                    for (blk, o) in b.chunks_mut(BLOCK).enumerate() {
                        ctx.check()?;
                        let s = blk * BLOCK;
                        parts.push(k.eval_fused(&wl[s..s + o.len()], o));
                        ctx.progress((s + o.len()) as f64 / n.max(1) as f64);
                    }
                    parts
                };
                combine(&parts, wl, &b)?
            }),
        };
        let peak = peak_idx.map(|i| refine_peak(wl, &b, i));
        let total = scale * SIGMA_SB * t.powi(4) / std::f64::consts::PI;
        let band = if total > 0.0 {
            integral / total
        } else {
            f64::NAN
        };
        let (peak_nm, peak_idx) = (peak, peak_idx);
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
            .sum(TEMPERATURE_K, t)
            .sum(N_WAVELENGTHS, n)
            .sum(PEAK_NM, num(peak_nm))
            .sum(WIEN_PEAK_NM, wien_nm)
            .sum(PEAK_REL_DIFF, num(peak_nm.map(|p| p / wien_nm - 1.0)))
            .sum(PEAK_RADIANCE, num(peak_idx.map(|i| b[i])))
            .sum(BAND_FRACTION, num(Some(band)))
            .f64(
                RADIANCE,
                Array1::from(b).into_dyn(),
                Tolerance::Rel(1e-12),
            )
            .table(
                PEAK,
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
    /// B over one block, with the block's peak, interior band integral and bad-input
    /// count from the same pass.
    fn eval_fused(&self, wl: &[f64], out: &mut [f64]) -> Partial {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
            return unsafe { self.eval_fused_avx2(wl, out) };
        }
        self.eval_fused_generic(wl, out)
    }

    /// The same code compiled for AVX2 + FMA (bit-identical: `mul_add` is a fused
    /// multiply-add on both paths, and Rust never contracts a*b+c on its own).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn eval_fused_avx2(&self, wl: &[f64], out: &mut [f64]) -> Partial {
        self.eval_fused_generic(wl, out)
    }

    #[inline(always)]
    fn eval_fused_generic(&self, wl: &[f64], out: &mut [f64]) -> Partial {
        let mut p = Partial {
            best: None,
            trap: 0.0,
            bad: 0,
        };
        let n = out.len();
        let mut a = 0;
        while a < n {
            let e = (a + SUB).min(n);
            for (o, &w) in out[a..e].iter_mut().zip(&wl[a..e]) {
                *o = self.value(w);
            }
            p.bad += count_bad(&wl[a..e]);
            // Trapezoid terms i in a..e whose left point is in this block.
            let lo = a.max(1);
            if lo < e {
                p.trap += trapezoid(&wl[lo - 1..e], &out[lo - 1..e]);
            }
            let m = finite_max(&out[a..e]);
            if p.best.is_none_or(|(_, v)| m > v) && m > f64::NEG_INFINITY {
                if let Some(i) = out[a..e].iter().position(|&v| v == m) {
                    p.best = Some((a + i, m));
                }
            }
            a = e;
        }
        p
    }

    /// c1 / (λ^5 (e^x − 1)), x = c2/λ; 0 beyond x = 700 as the chapter's ufunc.
    #[inline(always)]
    fn value(&self, w: f64) -> f64 {
        let iw = 1.0 / w;
        let x = self.c2 * iw;
        let iw2 = iw * iw;
        let v = self.c1 * (iw2 * iw2 * iw) / expm1_fma(x.min(700.0));
        if x > 700.0 {
            0.0
        } else {
            v
        }
    }
}

/// e^x − 1 for x ≤ 709 without cancellation: x = k·ln2 + r, |r| ≤ ln2/2,
/// e^x − 1 = 2^k·(e^r − 1) + (2^k − 1) with e^r − 1 = r·(1 + r/2! + … + r^12/13!).
#[inline(always)]
fn expm1_fma(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const ROUND: f64 = 6_755_399_441_055_744.0;
    // 1/(n+1)! for n = 0..=12.
    let c = &INV_FACTORIAL[1..];
    let t = x.mul_add(std::f64::consts::LOG2_E, ROUND);
    let k = t - ROUND;
    let ki = t.to_bits().wrapping_sub(ROUND.to_bits());
    let r = (-k).mul_add(LN2_HI, x);
    let r = (-k).mul_add(LN2_LO, r);
    let mut p = c[12];
    for c in c[..12].iter().rev() {
        p = p.mul_add(r, *c);
    }
    let s = f64::from_bits(ki.wrapping_add(1023) << 52);
    s.mul_add(r * p, s - 1.0)
}

/// One block's share of the fused pass.
#[derive(Clone, Copy, Debug)]
struct Partial {
    /// First index (within the block) of the block's largest finite value, and the value.
    best: Option<(usize, f64)>,
    /// Σ (b[i] + b[i-1])·(λ[i] − λ[i-1]) over the block's i ≥ 1 (its first point's term
    /// belongs to the block boundary).
    trap: f64,
    /// Wavelengths that are not positive finite numbers.
    bad: usize,
}

/// Blocks in order: first bad input, first largest value, the integral (nm -> m).
fn combine(parts: &[Partial], wl: &[f64], b: &[f64]) -> Result<(Option<usize>, f64)> {
    if parts.iter().any(|p| p.bad > 0) {
        let bad = wl
            .iter()
            .copied()
            .find(|w| !(w.is_finite() && *w > 0.0))
            .unwrap_or(f64::NAN);
        return Err(Error::input(format!(
            "planck needs positive finite wavelengths in nm; found {bad}"
        )));
    }
    let mut best: Option<(usize, f64)> = None;
    let mut trap = 0.0;
    for (blk, p) in parts.iter().enumerate() {
        let s = blk * BLOCK;
        if let Some((i, v)) = p.best {
            if best.is_none_or(|(_, bv)| v > bv) {
                best = Some((s + i, v));
            }
        }
        if s > 0 {
            trap += (b[s] + b[s - 1]) * (wl[s] - wl[s - 1]);
        }
        trap += p.trap;
    }
    Ok((best.map(|(i, _)| i), 0.5e-9 * trap))
}

/// Count of values that are not positive finite numbers (branch-free, vectorizes).
#[inline(always)]
fn count_bad(w: &[f64]) -> usize {
    w.iter()
        .map(|&v| usize::from(!(v > 0.0 && v < f64::INFINITY)))
        .sum()
}

/// Σ (y[i] + y[i-1])·(x[i] − x[i-1]), i ≥ 1, in four lanes.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let n = x.len().min(y.len());
    let mut i = 1;
    while i + 4 <= n {
        for l in 0..4 {
            let j = i + l;
            acc[l] += (y[j] + y[j - 1]) * (x[j] - x[j - 1]);
        }
        i += 4;
    }
    while i < n {
        acc[0] += (y[i] + y[i - 1]) * (x[i] - x[i - 1]);
        i += 1;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Largest finite value (−∞ if none), in four lanes.
#[inline(always)]
fn finite_max(y: &[f64]) -> f64 {
    let mut m = [f64::NEG_INFINITY; 4];
    let mut c = y.chunks_exact(4);
    for q in &mut c {
        for l in 0..4 {
            let v = if q[l].abs() < f64::INFINITY {
                q[l]
            } else {
                f64::NEG_INFINITY
            };
            m[l] = if v > m[l] { v } else { m[l] };
        }
    }
    for &v in c.remainder() {
        if v.abs() < f64::INFINITY && v > m[0] {
            m[0] = v;
        }
    }
    m[0].max(m[1]).max(m[2].max(m[3]))
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
        k.eval_fused(&wl, &mut out);
        for (w, o) in wl.iter().zip(out) {
            let r = planck_function(*w, 5778.0, 1.0);
            assert!((o - r).abs() <= 1e-13 * r.abs(), "{w}: {o} vs {r}");
        }
        // Deep Wien tail underflows to zero rather than NaN.
        let mut z = [0.0];
        Folded::new(3.0, 1.0).eval_fused(&[1.0], &mut z);
        assert_eq!(z[0], 0.0);
    }

    #[test]
    fn expm1_matches_libm() {
        for i in 0..=40_000 {
            // Dense near 0, up to 700.
            let x = 700.0 * (i as f64 / 40_000.0).powi(5);
            let (a, b) = (expm1_fma(x), x.exp_m1());
            assert!(
                (a - b).abs() <= 4e-16 * b.abs().max(f64::MIN_POSITIVE),
                "expm1({x}): {a} vs {b}"
            );
        }
    }

    #[test]
    fn fused_pass_equals_separate_passes_and_rejects_bad_input() {
        let wl = wavelength_grid(100_003, 100.0, 3000.0)
            .data
            .column(0)
            .to_vec();
        let k = Folded::new(5778.0, 1.0);
        let mut b = vec![0.0; wl.len()];
        let parts: Vec<Partial> = b
            .chunks_mut(BLOCK)
            .enumerate()
            .map(|(i, o)| k.eval_fused(&wl[i * BLOCK..i * BLOCK + o.len()], o))
            .collect();
        let (idx, integral) = combine(&parts, &wl, &b).expect("good input");
        assert_eq!(idx, argmax(&b));
        let mut want = 0.0;
        for i in 1..wl.len() {
            want += 0.5 * (b[i] + b[i - 1]) * (wl[i] - wl[i - 1]) * 1e-9;
        }
        assert!(
            (integral / want - 1.0).abs() < 1e-12,
            "{integral} vs {want}"
        );
        let mut bad = wl.clone();
        bad[77_777] = -1.0;
        let parts: Vec<Partial> = b
            .chunks_mut(BLOCK)
            .enumerate()
            .map(|(i, o)| k.eval_fused(&bad[i * BLOCK..i * BLOCK + o.len()], o))
            .collect();
        assert!(combine(&parts, &bad, &b).is_err());
    }

    #[test]
    fn parabola_vertex_is_exact_for_a_parabola() {
        let x = [1.0, 2.5, 3.0];
        let y: Vec<f64> = x.iter().map(|v| -(v - 2.2f64).powi(2)).collect();
        assert!((refine_peak(&x, &y, 1) - 2.2).abs() < 1e-12);
    }
}
