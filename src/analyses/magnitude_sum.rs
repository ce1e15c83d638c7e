//! Chapter 7.3's first custom ufunc: adding two magnitudes element-wise,
//! m = -2.5 log10(10^(-0.4 m1) + 10^(-0.4 m2)), over a million pairs.
//! naive = the chapter's formula per element (three transcendental calls);
//! vectorized = the stable rearrangement m = min - 2.5 log10(1 + 10^(-0.4 |m1 - m2|))
//! (no overflow for any magnitude) with exp and log1p as inlined polynomials instead of
//! libm calls, so the loop unrolls and vectorizes (AVX2), reading the (m1, m2) pairs
//! straight from the input table (no column copies), writing uninitialised output (no
//! zeroing pass) and computing the summary from the same registers; parallel = the
//! same blocks over rayon, combined in block order.

use crate::data::rng::Rng;
use crate::data::{Dataset, Kind, Table};
use crate::engine::{
    wrong_input, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork,
    Tolerance, Variant,
};
use crate::kernels::series::INV_FACTORIAL;
use crate::kernels::simd::has_avx2;
use crate::{stage, Error, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

pub struct MagnitudeSum;

/// Elements per random block of the generator and per cancellation check.
const BLOCK: usize = 1 << 16;
/// Largest input accepted (pairs).
const MAX_PAIRS: usize = 500_000_000;

/// Summary: pairs combined.
pub const N_PAIRS: &str = "n_pairs";
/// Summary: the smallest finite combined magnitude (null if none).
pub const BRIGHTEST: &str = "brightest";
/// Summary: the largest finite combined magnitude (null if none).
pub const FAINTEST: &str = "faintest";
/// Summary: mean of min(m1, m2) − m, how much brighter a pair is than its brighter star.
pub const MEAN_GAIN: &str = "mean_gain_over_brighter_mag";
/// Summary: combined magnitudes that are not finite.
pub const N_NON_FINITE: &str = "n_non_finite";
/// Artifact: the combined magnitude of each pair, in input order.
pub const COMBINED_MAG: &str = "combined_mag";

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
    fn section(&self) -> Section {
        Section::Numba
    }
    fn help(&self) -> &'static str {
        "Combined magnitude of two sources, -2.5 log10(10^(-0.4 m1) + 10^(-0.4 m2)), element-wise over a million pairs; a rearranged formula saves a transcendental call."
    }
    fn input_kind(&self) -> Kind {
        Kind::None
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
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 51.4e-3), (1.0, 16.0e-3), (1.0, 13.4e-3)],
            mem: (1.0, 8.0),
            w_ref: 1e6,
        }
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
        self.parse(input).map(drop)
    }
    /// Streaming kernel: two magnitudes read, their sum written: 24 bytes a pair.
    fn bytes_moved(&self, input: &Dataset, _params: &Params) -> Option<f64> {
        Some(24.0 * self.size_of(input) as f64)
    }
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let n = self.size_of(input) as f64;
        vec![
            // The two magnitude columns copied out of the table: read and written.
            StageWork::moving("columns", 32.0 * n),
            // −2.5·log10(10^(−0.4·m1) + 10^(−0.4·m2)): two scalings, two powers, an add,
            // a log and a scaling, 7 flops; two magnitudes read, one written.
            StageWork::streaming("combine", 24.0 * n, 7.0 * n),
            // The gain min(m1, m2) − m summed: a subtract and an add (min/max compare).
            StageWork::streaming("summary", 24.0 * n, 2.0 * n),
            StageWork::streaming("combine + summary", 24.0 * n, 9.0 * n),
        ]
    }
    fn run(
        &self,
        variant: Variant,
        input: &Dataset,
        _params: &Params,
        ctx: &Ctx,
    ) -> Result<Output> {
        let generated;
        let table = match self.parse(input)? {
            Some(t) => t,
            None => {
                generated = magnitude_table(self.default_size(), 1);
                &generated
            }
        };
        let n = table.data.nrows();
        let (out, summary) = if variant == Variant::Naive {
            // The chapter's way: two column arrays, the ufunc, then a summary pass.
            let (m1, m2): (Vec<f64>, Vec<f64>) = stage!(ctx, "columns", {
                (table.data.column(0).to_vec(), table.data.column(1).to_vec())
            });
            let mut out = vec![0.0; n];
            stage!(ctx, "combine", {
                for (b, o) in out.chunks_mut(BLOCK).enumerate() {
                    ctx.check()?;
                    let s = b * BLOCK;
                    for (k, v) in o.iter_mut().enumerate() {
                        *v = magnitude_addition(m1[s + k], m2[s + k]);
                    }
                    ctx.progress((s + o.len()) as f64 / n.max(1) as f64);
                }
            });
            let summary = stage!(ctx, "summary", {
                let mut p = Partial::new();
                for ((&a, &b), &v) in m1.iter().zip(&m2).zip(&out) {
                    p.add(a, b, v);
                }
                p
            });
            (out, summary)
        } else {
            // (m1, m2) pairs as they lie in a two-column row-major table; other layouts
            // are copied into that form first.
            let pairs: std::borrow::Cow<[f64]> = stage!(ctx, "columns", {
                match table.data.as_slice() {
                    Some(s) if table.data.ncols() == 2 => std::borrow::Cow::Borrowed(s),
                    _ => std::borrow::Cow::Owned(
                        table
                            .data
                            .rows()
                            .into_iter()
                            .flat_map(|r| [r[0], r[1]])
                            .collect(),
                    ),
                }
            });
            stage!(
                ctx,
                "combine + summary",
                fused(&pairs, variant == Variant::Parallel, ctx)?
            )
        };
        ctx.progress(1.0);
        let (brightest, faintest, n_bad) = (summary.lo, summary.hi, summary.bad);
        let gain = summary.gain / n.max(1) as f64;
        let finite = |v: f64| {
            if v.is_finite() {
                serde_json::Value::from(v)
            } else {
                serde_json::Value::Null
            }
        };
        Ok(Output::new()
            .sum(N_PAIRS, n)
            .sum(BRIGHTEST, finite(brightest))
            .sum(FAINTEST, finite(faintest))
            .sum(MEAN_GAIN, finite(gain))
            .sum(N_NON_FINITE, n_bad)
            .f64(
                COMBINED_MAG,
                Array1::from(out).into_dyn(),
                Tolerance::Rel(1e-12),
            ))
    }
}

impl MagnitudeSum {
    /// The table of two magnitude columns, or `None` to generate one; checked once: what
    /// `validate` reports and `run` computes on.
    fn parse<'a>(&self, input: &'a Dataset) -> Result<Option<&'a Table>> {
        match input {
            Dataset::None => Ok(None),
            Dataset::Table(t) if t.data.ncols() >= 2 => Ok(Some(t)),
            Dataset::Table(t) => Err(Error::input(format!(
                "magnitude-sum needs a table with two magnitude columns, this one has {}",
                t.data.ncols()
            ))),
            other => Err(wrong_input(self, other)),
        }
    }
}

/// Brightest and faintest finite result, non-finite count, Σ (min(m1, m2) − m).
#[derive(Clone, Copy, Debug)]
struct Partial {
    lo: f64,
    hi: f64,
    bad: usize,
    gain: f64,
}

impl Partial {
    fn new() -> Self {
        Partial {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            bad: 0,
            gain: 0.0,
        }
    }
    #[inline(always)]
    fn add(&mut self, a: f64, b: f64, v: f64) {
        if v.is_finite() {
            self.lo = self.lo.min(v);
            self.hi = self.hi.max(v);
        } else {
            self.bad += 1;
        }
        self.gain += a.min(b) - v;
    }
    fn merge(&mut self, o: &Partial) {
        self.lo = self.lo.min(o.lo);
        self.hi = self.hi.max(o.hi);
        self.bad += o.bad;
        self.gain += o.gain;
    }
}

/// Pairs handled at a time inside a block: de-interleaved, combined and summarised
/// while in L1.
const SUB: usize = 512;

/// Running summary in four lanes (element i of a sub-block goes to lane i % 4).
#[derive(Clone, Copy)]
struct Lanes {
    lo: [f64; 4],
    hi: [f64; 4],
    bad: [f64; 4],
    gain: [f64; 4],
}

impl Lanes {
    fn new() -> Self {
        Lanes {
            lo: [f64::INFINITY; 4],
            hi: [f64::NEG_INFINITY; 4],
            bad: [0.0; 4],
            gain: [0.0; 4],
        }
    }
    #[inline(always)]
    fn add(&mut self, l: usize, a: f64, b: f64, v: f64) {
        // |v| < ∞ is true exactly when v is finite.
        let fin = v.abs() < f64::INFINITY;
        if fin {
            self.lo[l] = if v < self.lo[l] { v } else { self.lo[l] };
            self.hi[l] = if v > self.hi[l] { v } else { self.hi[l] };
        } else {
            self.bad[l] += 1.0;
        }
        self.gain[l] += a.min(b) - v;
    }
    fn partial(&self) -> Partial {
        let l = &self.lo;
        let h = &self.hi;
        Partial {
            lo: l[0].min(l[1]).min(l[2].min(l[3])),
            hi: h[0].max(h[1]).max(h[2].max(h[3])),
            bad: self.bad.iter().sum::<f64>() as usize,
            gain: (self.gain[0] + self.gain[1]) + (self.gain[2] + self.gain[3]),
        }
    }
}

fn summary_scalar(a: &[f64], b: &[f64], v: &[f64], acc: &mut Lanes) {
    for (i, ((&a, &b), &v)) in a.iter().zip(b).zip(v).enumerate() {
        acc.add(i % 4, a, b, v);
    }
}

/// `summary_scalar` with AVX2 (the same lanes and order).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn summary_avx2(a: &[f64], b: &[f64], v: &[f64], acc: &mut Lanes) {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len()).min(v.len());
    let full = n / 4 * 4;
    let mut lo = _mm256_loadu_pd(acc.lo.as_ptr());
    let mut hi = _mm256_loadu_pd(acc.hi.as_ptr());
    let mut bad = _mm256_loadu_pd(acc.bad.as_ptr());
    let mut gain = _mm256_loadu_pd(acc.gain.as_ptr());
    let inf = _mm256_set1_pd(f64::INFINITY);
    let one = _mm256_set1_pd(1.0);
    let sign = _mm256_set1_pd(-0.0);
    let mut i = 0;
    while i < full {
        let va = _mm256_loadu_pd(a.as_ptr().add(i));
        let vb = _mm256_loadu_pd(b.as_ptr().add(i));
        let vv = _mm256_loadu_pd(v.as_ptr().add(i));
        let fin = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_andnot_pd(sign, vv), inf);
        // min/max return the second operand unless the first is strictly smaller/larger,
        // as the scalar selects do.
        lo = _mm256_blendv_pd(lo, _mm256_min_pd(vv, lo), fin);
        hi = _mm256_blendv_pd(hi, _mm256_max_pd(vv, hi), fin);
        bad = _mm256_add_pd(bad, _mm256_andnot_pd(fin, one));
        // f64::min of two non-NaN numbers equals minpd; a NaN input makes v NaN, so the
        // gain is NaN either way.
        gain = _mm256_add_pd(gain, _mm256_sub_pd(_mm256_min_pd(va, vb), vv));
        i += 4;
    }
    _mm256_storeu_pd(acc.lo.as_mut_ptr(), lo);
    _mm256_storeu_pd(acc.hi.as_mut_ptr(), hi);
    _mm256_storeu_pd(acc.bad.as_mut_ptr(), bad);
    _mm256_storeu_pd(acc.gain.as_mut_ptr(), gain);
    for j in full..n {
        acc.add(j % 4, a[j], b[j], v[j]);
    }
}

/// One block: combined magnitudes written into `out`, summary in four lanes.
#[inline(always)]
fn fused_generic<const AVX2: bool>(
    pairs: &[f64],
    out: &mut [std::mem::MaybeUninit<f64>],
) -> Partial {
    let n = out.len().min(pairs.len() / 2);
    let mut acc = Lanes::new();
    let (mut a, mut b, mut v) = ([0.0f64; SUB], [0.0f64; SUB], [0.0f64; SUB]);
    let mut start = 0;
    while start < n {
        let len = SUB.min(n - start);
        let (a, b, v) = (&mut a[..len], &mut b[..len], &mut v[..len]);
        for (j, p) in pairs[2 * start..2 * (start + len)]
            .chunks_exact(2)
            .enumerate()
        {
            a[j] = p[0];
            b[j] = p[1];
        }
        for ((v, &x), &y) in v.iter_mut().zip(a.iter()).zip(b.iter()) {
            *v = magnitude_addition_poly(x, y);
        }
        for (o, &x) in out[start..start + len].iter_mut().zip(v.iter()) {
            o.write(x);
        }
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: only instantiated with AVX2 = true inside `fused_avx2`.
            unsafe { summary_avx2(a, b, v, &mut acc) };
        } else {
            summary_scalar(a, b, v, &mut acc);
        }
        #[cfg(not(target_arch = "x86_64"))]
        summary_scalar(a, b, v, &mut acc);
        start += len;
    }
    acc.partial()
}

/// The same loop compiled for AVX2 (4 lanes). No FMA contraction happens in Rust, so
/// the combined magnitudes are bit-identical to the baseline SSE2 build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fused_avx2(pairs: &[f64], out: &mut [std::mem::MaybeUninit<f64>]) -> Partial {
    fused_generic::<true>(pairs, out)
}

fn fused_block(pairs: &[f64], out: &mut [std::mem::MaybeUninit<f64>]) -> Partial {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked at run time).
        return unsafe { fused_avx2(pairs, out) };
    }
    fused_generic::<false>(pairs, out)
}

/// All pairs in blocks of `BLOCK` (serial or over rayon; block order either way).
fn fused(pairs: &[f64], parallel: bool, ctx: &Ctx) -> Result<(Vec<f64>, Partial)> {
    let n = pairs.len() / 2;
    // Every element is written below: no zeroing pass over fresh pages.
    let mut out: Vec<f64> = Vec::with_capacity(n);
    let parts: Vec<Partial> = {
        let spare = &mut out.spare_capacity_mut()[..n];
        if parallel {
            spare
                .par_chunks_mut(BLOCK)
                .enumerate()
                .map(|(b, o)| {
                    ctx.check()?;
                    let s = b * BLOCK;
                    Ok(fused_block(&pairs[2 * s..2 * (s + o.len())], o))
                })
                .collect::<Result<_>>()?
        } else {
            let mut parts = Vec::with_capacity(n.div_ceil(BLOCK));
            for (b, o) in spare.chunks_mut(BLOCK).enumerate() {
                ctx.check()?;
                let s = b * BLOCK;
                parts.push(fused_block(&pairs[2 * s..2 * (s + o.len())], o));
                ctx.progress((s + o.len()) as f64 / n.max(1) as f64);
            }
            parts
        }
    };
    // SAFETY: the blocks cover 0..n and `fused_generic` writes every element of its
    // block (each block gets exactly 2·len pair values).
    unsafe { out.set_len(n) };
    let mut total = Partial::new();
    for p in &parts {
        total.merge(p);
    }
    Ok((out, total))
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

/// The stable form with inlined polynomial exp and log (no libm calls, so the loop
/// can be unrolled and vectorized); within a few ulp of `magnitude_addition_stable`.
#[inline(always)]
pub fn magnitude_addition_poly(m1: f64, m2: f64) -> f64 {
    let lo = m1.min(m2);
    let d = (m1 - m2).abs();
    // exp argument in [-700, 0]: below that the fainter source adds < 1e-300 mag.
    let y = exp_poly((-FLUX_LN * d).max(-700.0));
    lo - MAG_LN * ln1p_unit(y)
}

const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// 1.5·2^52: adding it rounds to an integer held in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

/// e^x for x in [-708, 709]: x = k·ln2 + r, |r| <= ln2/2, e^r by its Taylor series
/// to degree 13 (truncation < 1e-17), 2^k put straight into the exponent bits.
#[inline(always)]
pub(crate) fn exp_poly(x: f64) -> f64 {
    let t = x * std::f64::consts::LOG2_E + ROUND_MAGIC;
    let k = t - ROUND_MAGIC;
    let ki = (t.to_bits() as i64).wrapping_sub(ROUND_MAGIC.to_bits() as i64);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let scale = f64::from_bits((ki.wrapping_add(1023) as u64) << 52);
    exp_taylor(r) * scale
}

/// 1 + r + r²/2! + ... + r^13/13! in Horner form.
#[inline(always)]
fn exp_taylor(r: f64) -> f64 {
    const C: [f64; 14] = INV_FACTORIAL;
    let mut p = C[13];
    for c in C[..13].iter().rev() {
        p = p * r + c;
    }
    p
}

/// ln(1 + y) for y in [0, 1]: z = 1 + y with the rounding of the sum corrected, z
/// scaled into [0.707, 1.414], ln m = 2 atanh((m-1)/(m+1)) by its series.
#[inline(always)]
pub(crate) fn ln1p_unit(y: f64) -> f64 {
    let z = 1.0 + y;
    let corr = (y - (z - 1.0)) / z;
    let big = z > std::f64::consts::SQRT_2;
    let m = if big { z * 0.5 } else { z };
    let e = if big { 1.0 } else { 0.0 };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // 1 + s²/3 + s⁴/5 + ... + s^22/23 (|s| <= 0.1716: truncation < 1e-19).
    e * LN2_HI + (2.0 * s * atanh_series(s2) + (e * LN2_LO + corr))
}

/// 1 + s²/3 + s⁴/5 + ... + s^22/23 (for |s| <= 0.1716 the truncation is < 1e-19).
#[inline(always)]
fn atanh_series(s2: f64) -> f64 {
    const C: [f64; 12] = [
        1.0,
        1.0 / 3.0,
        1.0 / 5.0,
        1.0 / 7.0,
        1.0 / 9.0,
        1.0 / 11.0,
        1.0 / 13.0,
        1.0 / 15.0,
        1.0 / 17.0,
        1.0 / 19.0,
        1.0 / 21.0,
        1.0 / 23.0,
    ];
    let mut p = C[11];
    for c in C[..11].iter().rev() {
        p = p * s2 + c;
    }
    p
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
    fn polynomial_exp_log_match_libm() {
        let mut worst: f64 = 0.0;
        for i in 0..=20_000 {
            let x = -700.0 + 1409.0 * i as f64 / 20_000.0;
            let (a, b) = (exp_poly(x), x.exp());
            worst = worst.max((a - b).abs() / b);
        }
        assert!(worst < 1e-15, "exp rel err {worst}");
        for i in 0..=20_000 {
            let y = i as f64 / 20_000.0;
            let y = y * y * y; // dense near 0
            let (a, b) = (ln1p_unit(y), y.ln_1p());
            assert!(
                (a - b).abs() <= 2e-15 * b.max(1e-300),
                "ln1p({y}): {a} vs {b}"
            );
        }
        for (a, b) in [
            (10.0, 10.5),
            (12.0, 10.5),
            (13.0, 13.0),
            (-1.0, 25.0),
            (0.0, 2000.0),
        ] {
            let x = magnitude_addition_poly(a, b);
            let y = magnitude_addition_stable(a, b);
            assert!((x - y).abs() < 1e-14, "{a} {b}: {x} vs {y}");
        }
    }

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
