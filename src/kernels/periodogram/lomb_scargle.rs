//! Lomb-Scargle: the floating-mean (generalised) periodogram
//! with astropy's `standard` normalisation (`fit_mean=True`, `center_data=True`,
//! uncertainties as weights), computed three ways, plus Press & Rybicki's FFT method
//! and Baluev's (2008) false-alarm probability.
//!
//! * [`exact_naive`]: direct O(N·M) sums, one `sin_cos` per (point, frequency).
//! * [`exact_blocked`]: the grid is evenly spaced, so `cos/sin(ω_{k+1} t)` follows from
//!   `cos/sin(ω_k t)` by a rotation through `Δω·t` (4 multiplies instead of a `sin_cos`).
//!   Frequencies are cut into blocks of [`FREQ_BLOCK`]; every block starts its
//!   recurrence from exact `sin_cos` values, so the rounding drift stays below ~1e-13
//!   and a block is an independent unit of work: the serial and the rayon versions
//!   compute bit-identical numbers.
//! * [`fast_power`]: extirpolation of the points onto a regular grid (Lagrange weights
//!   on `mfft` neighbours) and three FFTs (rustfft), as astropy's `algorithm='fasper'`.
//!
//! Every variant ends in the same closed form (Zechmeister & Kürster 2009, eq. 4-5,
//! with weights normalised to sum 1 and the weighted mean removed):
//! `p = (ŜS·ŶC² + ĈC·ŶS² − 2·ĈS·ŶC·ŶS) / (ŶY·D)`, `D = ĈC·ŜS − ĈS²`,
//! which equals astropy's τ-shifted formula algebraically.

use super::Grid;
use crate::ctx::Ctx;
use crate::{Error, Result};
use rayon::prelude::*;
use rustfft::num_complex::Complex64;
use std::f64::consts::PI;
use std::sync::{LazyLock, Mutex};

/// Frequencies per block of the recurrence (each block restarts from exact sin/cos).
pub const FREQ_BLOCK: usize = 1024;
/// Points per tile: the tile's rotation state stays in L1 while a block sweeps it.
const TILE: usize = 512;
/// Independent accumulators per sum (SIMD lanes).
const LANES: usize = 4;
/// Largest FFT the fast method may allocate (complex values per grid).
pub const MAX_FFT: usize = 1 << 24;
/// Relative size below which the cos/sin design matrix counts as singular.
const DEGENERATE: f64 = 1e-10;

/// A light curve made ready for the periodogram: times relative to the first one,
/// weights normalised to sum 1, values with the weighted mean removed.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Times minus `t0` (sorted, so `t[0] == 0`).
    pub t: Vec<f64>,
    pub t0: f64,
    /// Values minus their weighted mean.
    pub y: Vec<f64>,
    /// Normalised weights (1/σ², or equal weights).
    pub w: Vec<f64>,
    /// `w * y`.
    pub wy: Vec<f64>,
    /// Σw after normalisation (1 up to rounding).
    pub wsum: f64,
    /// Σ w·y of the centred values (0 up to rounding; kept as astropy keeps it).
    pub ymean: f64,
    /// Σ w·y² − ymean²: the weighted variance the power is normalised by.
    pub yy: f64,
    /// The uncertainties when they were used as weights (for the false-alarm probability).
    pub dy: Option<Vec<f64>>,
}

impl Prepared {
    /// `t` sorted, all finite; `dy` finite and positive when given.
    pub fn new(t: &[f64], y: &[f64], dy: Option<&[f64]>) -> Prepared {
        let t0 = t.first().copied().unwrap_or(0.0);
        let mut w: Vec<f64> = match dy {
            Some(d) => d.iter().map(|e| 1.0 / (e * e)).collect(),
            None => vec![1.0; t.len()],
        };
        let total: f64 = w.iter().sum();
        for v in &mut w {
            *v /= total;
        }
        let wsum: f64 = w.iter().sum();
        let ybar: f64 = w.iter().zip(y).map(|(a, b)| a * b).sum();
        let yc: Vec<f64> = y.iter().map(|v| v - ybar).collect();
        let ymean: f64 = w.iter().zip(&yc).map(|(a, b)| a * b).sum();
        let yy: f64 = w.iter().zip(&yc).map(|(a, b)| a * b * b).sum::<f64>() - ymean * ymean;
        let wy = w.iter().zip(&yc).map(|(a, b)| a * b).collect();
        Prepared {
            t: t.iter().map(|v| v - t0).collect(),
            t0,
            y: yc,
            w,
            wy,
            wsum,
            ymean,
            yy,
            dy: dy.map(<[f64]>::to_vec),
        }
    }

    pub fn len(&self) -> usize {
        self.t.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// The power from the weighted trigonometric sums at one frequency:
    /// C=Σw·cos, S=Σw·sin, YC=Σw·y·cos, YS=Σw·y·sin, CC=Σw·cos², SS=Σw·sin², CS=Σw·cos·sin.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn power(&self, c: f64, s: f64, yc: f64, ys: f64, cc: f64, ss: f64, cs: f64) -> f64 {
        let yc = yc - self.ymean * c;
        let ys = ys - self.ymean * s;
        let cch = cc - c * c;
        let ssh = ss - s * s;
        let csh = cs - c * s;
        let d = cch * ssh - csh * csh;
        if d <= DEGENERATE * cch * ssh || cch.min(ssh) <= DEGENERATE * (cch + ssh) {
            // cos and sin are (nearly) collinear over the samples — e.g. exactly the
            // Nyquist frequency of evenly spaced times, where sin(ωt) = 0 — so the
            // 2×2 system is singular; fit the one component that is there instead of
            // dividing round-off by round-off.
            return if cch.max(ssh) <= 0.0 {
                0.0
            } else if cch >= ssh {
                yc * yc / (cch * self.yy)
            } else {
                ys * ys / (ssh * self.yy)
            };
        }
        (ssh * yc * yc + cch * ys * ys - 2.0 * csh * yc * ys) / (self.yy * d)
    }
}

/// Exact power at one frequency with one `sin_cos` per point (the textbook sum).
pub fn exact_at(p: &Prepared, f: f64) -> f64 {
    let omega = 2.0 * PI * f;
    let (mut c, mut s, mut yc, mut ys, mut cc, mut ss, mut cs) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..p.t.len() {
        let (sn, cn) = (omega * p.t[i]).sin_cos();
        let w = p.w[i];
        c += w * cn;
        s += w * sn;
        yc += p.wy[i] * cn;
        ys += p.wy[i] * sn;
        cc += w * cn * cn;
        ss += w * sn * sn;
        cs += w * cn * sn;
    }
    p.power(c, s, yc, ys, cc, ss, cs)
}

/// Naive: direct O(N·M) sums, a `sin_cos` for every term.
pub fn exact_naive(p: &Prepared, grid: &Grid, ctx: &Ctx) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(grid.n);
    for k in 0..grid.n {
        if k % 64 == 0 {
            ctx.check()?;
            ctx.progress(k as f64 / grid.n as f64);
        }
        out.push(exact_at(p, grid.freq(k)));
    }
    Ok(out)
}

/// The per-point rotation `(cos, sin)(2π·df·t)` of the recurrence.
pub fn rotations(p: &Prepared, grid: &Grid, parallel: bool) -> (Vec<f64>, Vec<f64>) {
    let dw = 2.0 * PI * grid.df();
    let one = |t: &f64| {
        let (s, c) = (dw * t).sin_cos();
        (c, s)
    };
    if parallel {
        p.t.par_iter().map(one).unzip()
    } else {
        p.t.iter().map(one).unzip()
    }
}

/// Power for frequencies `k0..k1` by the rotation recurrence (one block).
pub fn exact_block(
    p: &Prepared,
    grid: &Grid,
    rot: &(Vec<f64>, Vec<f64>),
    k0: usize,
    k1: usize,
) -> Vec<f64> {
    let nk = k1 - k0;
    let mut acc = vec![[0.0f64; 6]; nk];
    let w0 = 2.0 * PI * (k0 as f64 * grid.df() + grid.fmin);
    let n = p.t.len();
    let mut c = vec![0.0; TILE.min(n)];
    let mut s = vec![0.0; TILE.min(n)];
    let mut start = 0;
    while start < n {
        let end = (start + TILE).min(n);
        let m = end - start;
        for i in 0..m {
            let (sn, cn) = (w0 * p.t[start + i]).sin_cos();
            c[i] = cn;
            s[i] = sn;
        }
        tile_kernel(
            &mut c[..m],
            &mut s[..m],
            &rot.0[start..end],
            &rot.1[start..end],
            &p.w[start..end],
            &p.wy[start..end],
            &mut acc,
        );
        start = end;
    }
    acc.iter()
        .map(|a| p.power(a[0], a[1], a[2], a[3], a[4], p.wsum - a[4], a[5]))
        .collect()
}

/// Vectorized (serial) or parallel (rayon over blocks): identical numbers either way.
pub fn exact_blocked(p: &Prepared, grid: &Grid, parallel: bool, ctx: &Ctx) -> Result<Vec<f64>> {
    let rot = rotations(p, grid, parallel);
    let nb = grid.n.div_ceil(FREQ_BLOCK);
    let block = |b: usize| -> Result<Vec<f64>> {
        ctx.check()?;
        let k0 = b * FREQ_BLOCK;
        let k1 = (k0 + FREQ_BLOCK).min(grid.n);
        Ok(exact_block(p, grid, &rot, k0, k1))
    };
    let parts: Vec<Vec<f64>> = if parallel {
        (0..nb).into_par_iter().map(block).collect::<Result<_>>()?
    } else {
        let mut v = Vec::with_capacity(nb);
        for b in 0..nb {
            v.push(block(b)?);
            ctx.progress((b + 1) as f64 / nb as f64);
        }
        v
    };
    Ok(parts.concat())
}

#[inline(always)]
fn fmadd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// For every frequency of the block: add this tile's six sums, then rotate the tile.
/// Sums: [C, S, YC, YS, CC, CS]; lanes are independent so LLVM can use SIMD registers.
#[inline(always)]
fn tile_body<const FMA: bool>(
    c: &mut [f64],
    s: &mut [f64],
    cd: &[f64],
    sd: &[f64],
    w: &[f64],
    wy: &[f64],
    acc: &mut [[f64; 6]],
) {
    let n = c
        .len()
        .min(s.len())
        .min(cd.len())
        .min(sd.len())
        .min(w.len())
        .min(wy.len());
    let nf = n / LANES * LANES;
    for a in acc.iter_mut() {
        let mut ac = [0.0f64; LANES];
        let mut as_ = [0.0f64; LANES];
        let mut ayc = [0.0f64; LANES];
        let mut ays = [0.0f64; LANES];
        let mut acc2 = [0.0f64; LANES];
        let mut acs = [0.0f64; LANES];
        let (ch, ct) = c[..n].split_at_mut(nf);
        let (sh, st) = s[..n].split_at_mut(nf);
        for (((((cc, ss), cdc), sdc), wc), wyc) in ch
            .chunks_exact_mut(LANES)
            .zip(sh.chunks_exact_mut(LANES))
            .zip(cd[..nf].chunks_exact(LANES))
            .zip(sd[..nf].chunks_exact(LANES))
            .zip(w[..nf].chunks_exact(LANES))
            .zip(wy[..nf].chunks_exact(LANES))
        {
            for l in 0..LANES {
                let ci = cc[l];
                let si = ss[l];
                let wci = wc[l] * ci;
                ac[l] += wci;
                acc2[l] = fmadd::<FMA>(wci, ci, acc2[l]);
                acs[l] = fmadd::<FMA>(wci, si, acs[l]);
                as_[l] = fmadd::<FMA>(wc[l], si, as_[l]);
                ayc[l] = fmadd::<FMA>(wyc[l], ci, ayc[l]);
                ays[l] = fmadd::<FMA>(wyc[l], si, ays[l]);
                cc[l] = fmadd::<FMA>(ci, cdc[l], -(si * sdc[l]));
                ss[l] = fmadd::<FMA>(si, cdc[l], ci * sdc[l]);
            }
        }
        for (j, (ci, si)) in ct.iter_mut().zip(st.iter_mut()).enumerate() {
            let i = nf + j;
            let (c0, s0) = (*ci, *si);
            let wci = w[i] * c0;
            ac[0] += wci;
            acc2[0] = fmadd::<FMA>(wci, c0, acc2[0]);
            acs[0] = fmadd::<FMA>(wci, s0, acs[0]);
            as_[0] = fmadd::<FMA>(w[i], s0, as_[0]);
            ayc[0] = fmadd::<FMA>(wy[i], c0, ayc[0]);
            ays[0] = fmadd::<FMA>(wy[i], s0, ays[0]);
            *ci = fmadd::<FMA>(c0, cd[i], -(s0 * sd[i]));
            *si = fmadd::<FMA>(s0, cd[i], c0 * sd[i]);
        }
        let red = |x: [f64; LANES]| (x[0] + x[1]) + (x[2] + x[3]);
        a[0] += red(ac);
        a[1] += red(as_);
        a[2] += red(ayc);
        a[3] += red(ays);
        a[4] += red(acc2);
        a[5] += red(acs);
    }
}

/// The tile loop with explicit 4-wide AVX2 FMA (LLVM's auto-vectorisation of the
/// generic loop used 128-bit halves and shuffles). Lane sums are reduced as
/// `(l0+l1)+(l2+l3)`, the tail going into lane 0, as in the generic loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2(
    c: &mut [f64],
    s: &mut [f64],
    cd: &[f64],
    sd: &[f64],
    w: &[f64],
    wy: &[f64],
    acc: &mut [[f64; 6]],
) {
    use std::arch::x86_64::*;
    let n = c
        .len()
        .min(s.len())
        .min(cd.len())
        .min(sd.len())
        .min(w.len())
        .min(wy.len());
    let nf = n / 4 * 4;
    let (pc, ps) = (c.as_mut_ptr(), s.as_mut_ptr());
    let (pcd, psd, pw, pwy) = (cd.as_ptr(), sd.as_ptr(), w.as_ptr(), wy.as_ptr());
    for a in acc.iter_mut() {
        let mut vc = _mm256_setzero_pd();
        let mut vs = _mm256_setzero_pd();
        let mut vyc = _mm256_setzero_pd();
        let mut vys = _mm256_setzero_pd();
        let mut vcc = _mm256_setzero_pd();
        let mut vcs = _mm256_setzero_pd();
        let mut i = 0;
        while i < nf {
            // SAFETY: i + 4 <= nf <= every slice's length.
            let ci = _mm256_loadu_pd(pc.add(i));
            let si = _mm256_loadu_pd(ps.add(i));
            let cdi = _mm256_loadu_pd(pcd.add(i));
            let sdi = _mm256_loadu_pd(psd.add(i));
            let wi = _mm256_loadu_pd(pw.add(i));
            let wyi = _mm256_loadu_pd(pwy.add(i));
            let wci = _mm256_mul_pd(wi, ci);
            vc = _mm256_add_pd(vc, wci);
            vcc = _mm256_fmadd_pd(wci, ci, vcc);
            vcs = _mm256_fmadd_pd(wci, si, vcs);
            vs = _mm256_fmadd_pd(wi, si, vs);
            vyc = _mm256_fmadd_pd(wyi, ci, vyc);
            vys = _mm256_fmadd_pd(wyi, si, vys);
            let nc = _mm256_fmsub_pd(ci, cdi, _mm256_mul_pd(si, sdi));
            let ns = _mm256_fmadd_pd(si, cdi, _mm256_mul_pd(ci, sdi));
            _mm256_storeu_pd(pc.add(i), nc);
            _mm256_storeu_pd(ps.add(i), ns);
            i += 4;
        }
        let lanes = |v: __m256d| {
            let mut x = [0.0f64; 4];
            _mm256_storeu_pd(x.as_mut_ptr(), v);
            x
        };
        let (mut ac, mut as_, mut ayc, mut ays, mut acc2, mut acs) = (
            lanes(vc),
            lanes(vs),
            lanes(vyc),
            lanes(vys),
            lanes(vcc),
            lanes(vcs),
        );
        for i in nf..n {
            let (c0, s0) = (c[i], s[i]);
            let wci = w[i] * c0;
            ac[0] += wci;
            acc2[0] = wci.mul_add(c0, acc2[0]);
            acs[0] = wci.mul_add(s0, acs[0]);
            as_[0] = w[i].mul_add(s0, as_[0]);
            ayc[0] = wy[i].mul_add(c0, ayc[0]);
            ays[0] = wy[i].mul_add(s0, ays[0]);
            c[i] = c0.mul_add(cd[i], -(s0 * sd[i]));
            s[i] = s0.mul_add(cd[i], c0 * sd[i]);
        }
        let red = |x: [f64; 4]| (x[0] + x[1]) + (x[2] + x[3]);
        a[0] += red(ac);
        a[1] += red(as_);
        a[2] += red(ayc);
        a[3] += red(ays);
        a[4] += red(acc2);
        a[5] += red(acs);
    }
}

/// Dispatch to an AVX2+FMA build of the tile loop when the CPU has it.
fn tile_kernel(
    c: &mut [f64],
    s: &mut [f64],
    cd: &[f64],
    sd: &[f64],
    w: &[f64],
    wy: &[f64],
    acc: &mut [[f64; 6]],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::kernels::simd::has_avx2_fma() {
            // SAFETY: the CPU supports the features the function was compiled for.
            unsafe { tile_avx2(c, s, cd, sd, w, wy, acc) };
            return;
        }
    }
    tile_body::<false>(c, s, cd, sd, w, wy, acc)
}

// ---------------------------------------------------------------------------------
// Press & Rybicki (1989): extirpolation + FFT
// ---------------------------------------------------------------------------------

/// Settings of the FFT method (astropy's defaults: oversampling 5, 4 neighbours).
#[derive(Clone, Copy, Debug)]
pub struct FastOptions {
    pub oversampling: usize,
    pub mfft: usize,
}

impl Default for FastOptions {
    fn default() -> Self {
        FastOptions {
            oversampling: 5,
            mfft: 4,
        }
    }
}

/// The FFT length for `n` frequencies: the power of two at or above `n·oversampling`.
pub fn fft_len(n: usize, opt: &FastOptions) -> Result<usize> {
    let want = n
        .checked_mul(opt.oversampling.max(1))
        .ok_or_else(|| Error::param("the fast method's FFT size overflows"))?;
    let len = want.max(1).next_power_of_two();
    if len > MAX_FFT {
        return Err(Error::param(format!(
            "the fast method would need an FFT of {len} points (limit {MAX_FFT}); use fewer frequencies or a smaller oversampling"
        )));
    }
    Ok(len)
}

/// Where a point lands on the FFT grid: the first of its `m` neighbours and their
/// Lagrange weights, or a single cell when it falls exactly on one.
fn lagrange(x: f64, nfft: usize, m: usize, weights: &mut [f64]) -> (usize, bool) {
    if x.fract() == 0.0 {
        return ((x as usize).min(nfft - 1), true);
    }
    let lo = ((x - (m / 2) as f64) as i64).clamp(0, (nfft - m) as i64) as usize;
    let mut prod = 1.0;
    for j in 0..m {
        prod *= x - (lo + j) as f64;
    }
    let mut den: f64 = (1..m).map(|v| v as f64).product();
    for j in 0..m {
        if j > 0 {
            den *= j as f64 / (j as f64 - m as f64);
        }
        let ind = lo + (m - 1 - j);
        weights[m - 1 - j] = prod / (den * (x - ind as f64));
    }
    (lo, false)
}

/// The grid position of every point for a frequency step `df` (astropy's `tnorm`).
fn tnorm(t: &[f64], nfft: usize, df: f64) -> Vec<f64> {
    t.iter()
        .map(|v| (v * nfft as f64 * df).rem_euclid(nfft as f64))
        .collect()
}

/// Extirpolate `h` (complex per point) onto `grid` at positions `x`.
fn extirpolate(x: &[f64], h: &[Complex64], m: usize, grid: &mut [Complex64]) {
    let nfft = grid.len();
    let mut wts = vec![0.0; m];
    for (xi, hi) in x.iter().zip(h) {
        let (lo, exact) = lagrange(*xi, nfft, m, &mut wts);
        if exact {
            grid[lo] += *hi;
        } else {
            for (j, wj) in wts.iter().enumerate() {
                grid[lo + j] += *hi * *wj;
            }
        }
    }
}

/// `exp(2πi·f0·t)` per point (the shift of the grid's first frequency to `f0`).
fn shift(t: &[f64], f0: f64) -> Vec<Complex64> {
    t.iter()
        .map(|v| {
            let (s, c) = (2.0 * PI * f0 * v).sin_cos();
            Complex64::new(c, s)
        })
        .collect()
}

/// Inverse (unnormalised) FFT in place; returns (S, C) for the first `n` bins.
fn ifft_sc(mut grid: Vec<Complex64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    // Plans are cached per length for the whole process (numpy's pocketfft caches too);
    // planning a 65536-point FFT costs more than running it.
    static PLANNER: LazyLock<Mutex<rustfft::FftPlanner<f64>>> =
        LazyLock::new(|| Mutex::new(rustfft::FftPlanner::new()));
    let fft = match PLANNER.lock() {
        Ok(mut p) => p.plan_fft_inverse(grid.len()),
        Err(_) => rustfft::FftPlanner::new().plan_fft_inverse(grid.len()),
    };
    fft.process(&mut grid);
    grid[..n].iter().map(|z| (z.im, z.re)).unzip()
}

/// astropy's `trig_sum` with `use_fft=True`: S_k, C_k = Σ h·sin/cos(2π·ff·(f0 + k·df)·t).
fn trig_sum(
    t: &[f64],
    h: &[f64],
    grid: &Grid,
    ff: f64,
    opt: &FastOptions,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let nfft = fft_len(grid.n, opt)?;
    let df = grid.df() * ff;
    let f0 = grid.fmin * ff;
    let ph = shift(t, f0);
    let hc: Vec<Complex64> = h.iter().zip(&ph).map(|(a, z)| z * *a).collect();
    let x = tnorm(t, nfft, df);
    let mut g = vec![Complex64::new(0.0, 0.0); nfft];
    extirpolate(&x, &hc, opt.mfft, &mut g);
    Ok(ifft_sc(g, grid.n))
}

/// Power from the FFT sums (astropy's `lombscargle_fast`, `standard`, fit_mean).
fn fast_from_sums(
    p: &Prepared,
    sh: &[f64],
    ch: &[f64],
    s2: &[f64],
    c2: &[f64],
    s: &[f64],
    c: &[f64],
) -> Vec<f64> {
    (0..sh.len())
        .map(|k| {
            let cc = 0.5 * (p.wsum + c2[k]);
            let ss = 0.5 * (p.wsum - c2[k]);
            let cs = 0.5 * s2[k];
            p.power(c[k], s[k], ch[k], sh[k], cc, ss, cs)
        })
        .collect()
}

/// Which FFT-method implementation to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FastImpl {
    /// A straight port: three independent `trig_sum` calls.
    Naive,
    /// Shared grid positions and weights for the two sums at the base frequency.
    Fused,
    /// As `Fused`, with the three extirpolations + FFTs on rayon.
    Parallel,
}

/// Press & Rybicki's O(N log N) approximation of the same periodogram.
pub fn fast_power(p: &Prepared, grid: &Grid, opt: &FastOptions, how: FastImpl) -> Result<Vec<f64>> {
    if grid.n < 2 || grid.df() <= 0.0 {
        return Err(Error::param(
            "the fast method needs at least 2 evenly spaced frequencies",
        ));
    }
    if opt.mfft < 2 {
        return Err(Error::param("mfft must be at least 2"));
    }
    let nfft = fft_len(grid.n, opt)?;
    if opt.mfft > nfft {
        return Err(Error::param("mfft is larger than the FFT grid"));
    }
    if how == FastImpl::Naive {
        let (sh, ch) = trig_sum(&p.t, &p.wy, grid, 1.0, opt)?;
        let (s2, c2) = trig_sum(&p.t, &p.w, grid, 2.0, opt)?;
        let (s, c) = trig_sum(&p.t, &p.w, grid, 1.0, opt)?;
        return Ok(fast_from_sums(p, &sh, &ch, &s2, &c2, &s, &c));
    }
    // Base-frequency sums of w and w·y share positions, shifts and weights.
    let base = || {
        let df = grid.df();
        let ph = shift(&p.t, grid.fmin);
        let x = tnorm(&p.t, nfft, df);
        let mut gw = vec![Complex64::new(0.0, 0.0); nfft];
        let mut gy = vec![Complex64::new(0.0, 0.0); nfft];
        let m = opt.mfft;
        let mut wts = vec![0.0; m];
        for i in 0..p.t.len() {
            let hw = ph[i] * p.w[i];
            let hy = ph[i] * p.wy[i];
            let (lo, exact) = lagrange(x[i], nfft, m, &mut wts);
            if exact {
                gw[lo] += hw;
                gy[lo] += hy;
            } else {
                for (j, wj) in wts.iter().enumerate() {
                    gw[lo + j] += hw * *wj;
                    gy[lo + j] += hy * *wj;
                }
            }
        }
        (gw, gy)
    };
    let double = || trig_sum(&p.t, &p.w, grid, 2.0, opt);
    let ((sh, ch), (s, c), (s2, c2)) = if how == FastImpl::Parallel {
        let ((gw, gy), d) = rayon::join(base, double);
        let (a, b) = rayon::join(|| ifft_sc(gy, grid.n), || ifft_sc(gw, grid.n));
        (a, b, d?)
    } else {
        let (gw, gy) = base();
        (ifft_sc(gy, grid.n), ifft_sc(gw, grid.n), double()?)
    };
    Ok(fast_from_sums(p, &sh, &ch, &s2, &c2, &s, &c))
}

// ---------------------------------------------------------------------------------
// False-alarm probability (Baluev 2008), as astropy's `false_alarm_probability`
// with method='baluev' for the standard normalisation (dH=1, dK=3).
// ---------------------------------------------------------------------------------

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // reflection
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = COEF[0];
    let t = x + G + 0.5;
    for (i, c) in COEF.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// astropy's `_gamma(N) = sqrt(2/N)·Γ(N/2)/Γ((N-1)/2)`.
pub fn gamma_ratio(n: f64) -> f64 {
    ((2.0 / n).sqrt().ln() + ln_gamma(n / 2.0) - ln_gamma((n - 1.0) / 2.0)).exp()
}

/// Baluev's alias-free false-alarm probability of a peak `z` (standard normalisation)
/// for a periodogram searched up to `fmax`.
pub fn fap_baluev(z: f64, fmax: f64, p: &Prepared) -> f64 {
    let n = p.len() as f64;
    let nh = n - 1.0;
    let nk = n - 3.0;
    if nk <= 0.0 || !(0.0..1.0).contains(&z) {
        return f64::NAN;
    }
    let fap_single = (1.0 - z).powf(0.5 * nk);
    // weighted variance of the times (weights 1/dy² when given)
    let (sw, st, st2) = match &p.dy {
        Some(dy) => p.t.iter().zip(dy).fold((0.0, 0.0, 0.0), |a, (t, e)| {
            let w = 1.0 / (e * e);
            (a.0 + w, a.1 + w * t, a.2 + w * t * t)
        }),
        None => {
            p.t.iter()
                .fold((0.0, 0.0, 0.0), |a, t| (a.0 + 1.0, a.1 + t, a.2 + t * t))
        }
    };
    let dt = st2 / sw - (st / sw) * (st / sw);
    let teff = (4.0 * PI * dt).sqrt();
    let wf = fmax * teff;
    let tau = gamma_ratio(nh) * wf * (1.0 - z).powf(0.5 * (nk - 1.0)) * (0.5 * nh * z).sqrt();
    -(-tau).exp_m1() + fap_single * (-tau).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(n: usize) -> Prepared {
        let mut r = crate::data::rng::Rng::new(3);
        let mut t: Vec<f64> = (0..n).map(|_| r.range(0.0, 50.0)).collect();
        t.sort_by(f64::total_cmp);
        let y: Vec<f64> = t
            .iter()
            .map(|v| 2.0 + 0.3 * (2.0 * PI * v / 2.3).sin() + 0.1 * r.normal())
            .collect();
        let dy: Vec<f64> = (0..n).map(|_| r.range(0.05, 0.2)).collect();
        Prepared::new(&t, &y, Some(&dy))
    }

    #[test]
    fn recurrence_matches_direct_sums() {
        let p = curve(1037);
        let grid = Grid {
            fmin: 0.02,
            fmax: 3.0,
            n: 2500,
        };
        let ctx = Ctx::detached(2);
        let a = exact_naive(&p, &grid, &ctx).expect("naive");
        let b = exact_blocked(&p, &grid, false, &ctx).expect("serial");
        let c = exact_blocked(&p, &grid, true, &ctx).expect("parallel");
        assert_eq!(b, c, "serial and parallel blocks must be bit-identical");
        let err = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-11, "max error {err}");
    }

    #[test]
    fn fast_method_tracks_exact() {
        let p = curve(800);
        let grid = Grid {
            fmin: 0.05,
            fmax: 4.0,
            n: 3000,
        };
        let ctx = Ctx::detached(1);
        let exact = exact_blocked(&p, &grid, false, &ctx).expect("exact");
        let opt = FastOptions::default();
        let a = fast_power(&p, &grid, &opt, FastImpl::Naive).expect("fast");
        let b = fast_power(&p, &grid, &opt, FastImpl::Fused).expect("fused");
        let c = fast_power(&p, &grid, &opt, FastImpl::Parallel).expect("par");
        assert_eq!(b, c);
        let d = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(d < 1e-12, "naive vs fused {d}");
        let e = a
            .iter()
            .zip(&exact)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(e < 2e-3 && e > 0.0, "fast vs exact {e}");
    }

    #[test]
    fn gamma_and_fap() {
        // Γ(5) = 24, Γ(0.5) = √π
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - PI.sqrt().ln()).abs() < 1e-13);
        // _gamma(4) = sqrt(1/2)·Γ(2)/Γ(1.5) = sqrt(1/2)/(√π/2)
        assert!((gamma_ratio(4.0) - (0.5f64).sqrt() / (PI.sqrt() / 2.0)).abs() < 1e-13);
        // large N: ≈ 1 - 0.75/N
        assert!((gamma_ratio(10_000.0) - (1.0 - 0.75 / 10_000.0)).abs() < 1e-7);
        let p = curve(500);
        let lo = fap_baluev(0.02, 3.0, &p);
        let hi = fap_baluev(0.3, 3.0, &p);
        assert!(lo > 0.5 && lo <= 1.0, "{lo}");
        assert!(hi < 1e-20, "{hi}");
    }

    #[test]
    fn grid_is_linspace() {
        let g = Grid {
            fmin: 0.01,
            fmax: 5.0,
            n: 20000,
        };
        assert_eq!(g.freq(0), 0.01);
        assert_eq!(g.freq(19999), 5.0);
        assert_eq!(g.freq(1043), 1043.0 * ((5.0 - 0.01) / 19999.0) + 0.01);
    }
}
