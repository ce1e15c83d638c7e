//! Chapter 7.2's extinction correction, the chapter's simplified law applied to every
//! star of a catalog: A_V = 0.574·colour, corrected = mag − R_V·A_V, and no correction
//! for blue stars (colour < 0). A memory-bound kernel: two loads and a store per star.
//!
//! naive = input check, a loop with a branch per star into a growing list, then a
//! summary pass; vectorized = one fused pass per block: the branch-free select (LLVM
//! emits packed compare/blend) written straight into uninitialised output (no zeroing
//! pass), with the finiteness check, the corrected count and the mean shift from the
//! same loads; parallel = those blocks over rayon, combined in block order.

use crate::data::{generate, Catalog, Dataset, Kind};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
use crate::kernels::simd::{has_avx2, has_avx512_dq};
use crate::{stage, Error, Result};
use ndarray::Array1;
use rayon::prelude::*;

pub struct ExtinctionCorrection;

/// Artifact: every star's corrected magnitude (its input magnitude when blue).
pub const CORRECTED_MAG: &str = "corrected_mag";
/// Summary: stars corrected (colour ≥ 0).
pub const CORRECTED_STARS: &str = "corrected_stars";
/// Summary: blue stars (colour < 0), left uncorrected.
pub const BLUE_UNCORRECTED: &str = "blue_uncorrected";
/// Summary: the mean shift mag − corrected (mag).
pub const MEAN_EXTINCTION_MAG: &str = "mean_extinction_mag";

/// The chapter's colour–extinction slope: A_V = 0.574 · colour.
pub const AV_PER_COLOR: f64 = 0.574;
/// Stars per cancellation check.
const CHUNK: usize = 1 << 16;
/// How the corrected magnitudes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stores {
    /// Ordinary stores: the output stays in the cache for the next reader (and the next
    /// call, when the catalog fits in the L3).
    Cached,
    /// Streaming stores (x86-64 with AVX2): each output line goes to memory without being
    /// read first, so a catalog too large for the L3 moves 24 bytes a star instead of 32.
    Streaming,
}

impl Stores {
    /// Streaming once a call's inputs and output (24 bytes a star) exceed the L3: then
    /// neither way keeps the output in the cache, and streaming saves the read for
    /// ownership. Measured with a C select on two Zen 3 vCPUs (32 MiB L3): 2·10⁶ stars
    /// 1,775–1,884 µs with ordinary stores against 1,078–1,173 µs streaming; 4·10⁶
    /// 3,415–3,617 against 2,573–2,745 µs. Below the L3 they were level or streaming lost
    /// (250,000 stars: 50–70 against 59–101 µs).
    fn for_stars(n: usize) -> Stores {
        if n.saturating_mul(24) > crate::sys::l3_bytes() {
            Stores::Streaming
        } else {
            Stores::Cached
        }
    }
}

/// Most stars generated (1e9 stars × 4 columns × 8 bytes = 32 GB is too many).
pub const MAX_STARS: usize = 200_000_000;

impl Analysis for ExtinctionCorrection {
    fn id(&self) -> &'static str {
        "extinction-correction"
    }
    fn title(&self) -> &'static str {
        "Extinction correction"
    }
    fn section(&self) -> Section {
        Section::Vectorization
    }
    fn help(&self) -> &'static str {
        "The chapter's simplified law, mag − R_V·0.574·colour (no correction for colour < 0), over a whole catalog: memory-bound, so a branch-free loop is about all there is to win."
    }
    fn input_kind(&self) -> Kind {
        Kind::Catalog
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
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 5.74e-3), (1.0, 4.03e-3), (1.0, 4.72e-3)],
            mem: (1.0, 16.0),
            w_ref: 1e6,
        }
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
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let n = self.size_of(input) as f64;
        vec![
            // Finiteness of magnitude and colour: 16 bytes a star read, comparisons only.
            StageWork::moving("check", 16.0 * n),
            // mag − R_V·(0.574·colour): two loads, a store, two multiplies and a subtract
            // (counted for every star, as the branch-free select computes it).
            StageWork::streaming("correct", 24.0 * n, 3.0 * n),
            // Σ(mag − corrected) over both columns: a subtract and an add per star.
            StageWork::streaming("summary", 16.0 * n, 2.0 * n),
            // The fused pass: the correction's traffic, both stages' arithmetic.
            StageWork::streaming("correct + summary", 24.0 * n, 5.0 * n),
        ]
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
                    fused(
                        mag,
                        color,
                        r_v,
                        variant == Variant::Parallel,
                        Stores::for_stars(mag.len()),
                        ctx
                    )?
                )
            }
        };
        ctx.progress(1.0);
        Ok(Output::new()
            .sum("stars", corrected.len())
            .sum(CORRECTED_STARS, n_corr)
            .sum(BLUE_UNCORRECTED, corrected.len() - n_corr)
            .sum(MEAN_EXTINCTION_MAG, shift)
            .sum("r_v", r_v)
            .f64(
                CORRECTED_MAG,
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
    let c: &Catalog = engine::input(a, input)?;
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

/// One block's counts: stars whose magnitude changed, Σ (mag − corrected), and whether
/// a non-finite input may be in it (exact in the scalar and AVX-512 paths; the AVX2
/// path also raises it when the block's finite shifts overflow, and `fused` then looks
/// for the star itself).
#[derive(Clone, Copy, Default)]
struct Partial {
    changed: usize,
    shift: f64,
    suspect: bool,
}

impl Partial {
    /// The counts of two consecutive stretches (this one first).
    fn then(self, next: Partial) -> Partial {
        Partial {
            changed: self.changed + next.changed,
            shift: self.shift + next.shift,
            suspect: self.suspect || next.suspect,
        }
    }
}

/// A block cut for a SIMD `body` with aligned stores: the stars before the first
/// `align`-byte-aligned output element and those after the last whole vector of `lanes`
/// go through `select_chunk`; `body` gets an aligned stretch whose length is a multiple
/// of `lanes`.
#[inline(always)]
fn around_aligned(
    m: &[f64],
    c: &[f64],
    r_v: f64,
    o: &mut [std::mem::MaybeUninit<f64>],
    align: usize,
    lanes: usize,
    body: impl FnOnce(&[f64], &[f64], &mut [std::mem::MaybeUninit<f64>]) -> Partial,
) -> Partial {
    let n = o.len().min(m.len()).min(c.len());
    let t0 = o.as_ptr().align_offset(align).min(n);
    let t1 = t0 + (n - t0) / lanes * lanes;
    let first = select_chunk(&m[..t0], &c[..t0], r_v, &mut o[..t0]);
    let mid = body(&m[t0..t1], &c[t0..t1], &mut o[t0..t1]);
    let last = select_chunk(&m[t1..n], &c[t1..n], r_v, &mut o[t1..n]);
    first.then(mid).then(last)
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
            // |v| < ∞ is false exactly for NaN and ±∞ (a mask and a compare).
            bad[l] += u64::from(!(mv.abs() < f64::INFINITY && cv.abs() < f64::INFINITY));
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
        bad[0] += u64::from(!(mv.abs() < f64::INFINITY && cv.abs() < f64::INFINITY));
    }
    Partial {
        changed: changed.iter().sum::<u64>() as usize,
        shift: (shift[0] + shift[1]) + (shift[2] + shift[3]),
        suspect: bad.iter().any(|&b| b > 0),
    }
}

/// `select_chunk` with AVX2 intrinsics; LLVM keeps the fused loop with its MaybeUninit
/// stores scalar otherwise. Ordinary stores (`STREAM` false) while the catalog fits in
/// the L3: at 1e6 stars the 24 MB stay in the 32 MB L3 between calls, and streaming
/// stores, which go to memory, bound the call by the DRAM write bandwidth (measured:
/// parallel no faster than vectorized, 312/317 µs, 26 GB/s of writes). Streaming
/// stores beyond it ([`Stores::for_stars`]). The stars around the aligned stretch go
/// through `select_chunk` (`around_aligned`), so the corrected values are the same bits; the
/// block's sum is added in a different lane order than `select_chunk`'s (the same for
/// every call on a machine).
///
/// Ten vector operations for four stars, where an exact finiteness test of both inputs
/// took seven more. The three running sums (shift, changed, colour) are kept twice, for
/// alternate groups of four stars: with one set, each iteration waited on the previous
/// one's adds (3 cycles each on Zen 3). Measured on one Zen 3 core, each call against a
/// plain select (the same law, no counts, no check) timed in the same process: with one
/// set 1.48–1.54× the plain select's time at 16,384 stars (in L2) and 1.17–1.26× at
/// 250,000 (in L3); with two sets 1.27–1.28× and 0.99–1.08×.
///
/// The counts: the changed stars as 64-bit integer lanes (the compare's all-ones mask is
/// −1); the inputs by what non-finite values do to sums. A NaN or infinite colour makes
/// the running Σ colour NaN or infinite. With a finite colour, a NaN or infinite
/// magnitude makes mag − corrected NaN (∞ − ∞, or NaN), and the shift sum too. So a
/// block with a non-finite input always ends with a non-finite sum; finite stars whose
/// shifts or colours overflow a sum do too, which `fused` sorts out by looking for the
/// star.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn select_chunk_avx2<const STREAM: bool>(
    m: &[f64],
    c: &[f64],
    r_v: f64,
    o: &mut [std::mem::MaybeUninit<f64>],
) -> Partial {
    around_aligned(m, c, r_v, o, 32, 4, |m, c, o| {
        use std::arch::x86_64::*;
        let (mp, cp, op) = (m.as_ptr(), c.as_ptr(), o.as_mut_ptr() as *mut f64);
        let rv = _mm256_set1_pd(r_v);
        let k = _mm256_set1_pd(AV_PER_COLOR);
        let zero = _mm256_setzero_pd();
        // Two sets of accumulators, four stars each, so no add waits on the previous
        // iteration's (a loop-carried add chain is 3 cycles on Zen 3).
        let mut shift = [zero; 2];
        let mut changed = [_mm256_setzero_si256(); 2];
        let mut colour_sum = [zero; 2];
        let mut i = 0;
        let mut step = |i: usize, set: usize| {
            // SAFETY (loads and store): i + 4 <= the stretch's length, a multiple of 4;
            // op + i is 32-byte aligned (`around_aligned`, and i steps by 4 f64).
            let mv = _mm256_loadu_pd(mp.add(i));
            let cv = _mm256_loadu_pd(cp.add(i));
            let corr = _mm256_sub_pd(mv, _mm256_mul_pd(rv, _mm256_mul_pd(k, cv)));
            let blue = _mm256_cmp_pd::<_CMP_LT_OQ>(cv, zero);
            let x = _mm256_blendv_pd(corr, mv, blue);
            if STREAM {
                _mm256_stream_pd(op.add(i), x);
            } else {
                _mm256_store_pd(op.add(i), x);
            }
            shift[set] = _mm256_add_pd(shift[set], _mm256_sub_pd(mv, x));
            let ne = _mm256_cmp_pd::<_CMP_NEQ_UQ>(x, mv);
            changed[set] = _mm256_sub_epi64(changed[set], _mm256_castpd_si256(ne));
            colour_sum[set] = _mm256_add_pd(colour_sum[set], cv);
        };
        while i + 8 <= o.len() {
            step(i, 0);
            step(i + 4, 1);
            i += 8;
        }
        if i < o.len() {
            step(i, 0);
        }
        if STREAM {
            // Streaming stores are weakly ordered: fenced before the block reports back to
            // the thread that reads the output.
            _mm_sfence();
        }
        let shift = _mm256_add_pd(shift[0], shift[1]);
        let changed = _mm256_add_epi64(changed[0], changed[1]);
        let colour_sum = _mm256_add_pd(colour_sum[0], colour_sum[1]);
        let mut sh = [0.0f64; 4];
        let mut ch = [0u64; 4];
        let mut cs = [0.0f64; 4];
        _mm256_storeu_pd(sh.as_mut_ptr(), shift);
        _mm256_storeu_si256(ch.as_mut_ptr().cast(), changed);
        _mm256_storeu_pd(cs.as_mut_ptr(), colour_sum);
        let shift = (sh[0] + sh[1]) + (sh[2] + sh[3]);
        Partial {
            changed: ch.iter().sum::<u64>() as usize,
            shift,
            suspect: !(shift.is_finite() && cs.iter().all(|v| v.is_finite())),
        }
    })
}

/// `select_chunk` with AVX-512 (F and DQ): eight stars an instruction, the compares
/// into mask registers, so a block costs about two instructions a star where AVX2 takes
/// five (at 1e6 stars the 24 MB sit in the L3 and the instruction count is what binds).
/// Ordinary or streaming stores as in `select_chunk_avx2`; the same corrected bits.
/// Counts: the changed stars by a masked add, a non-finite input by `vfpclasspd` (NaN or
/// ±∞) into an OR-ed mask (only whether there is one matters: `fused` then finds the
/// first).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn select_chunk_avx512<const STREAM: bool>(
    m: &[f64],
    c: &[f64],
    r_v: f64,
    o: &mut [std::mem::MaybeUninit<f64>],
) -> Partial {
    around_aligned(m, c, r_v, o, 64, 8, |m, c, o| {
        use std::arch::x86_64::*;
        let (mp, cp, op) = (m.as_ptr(), c.as_ptr(), o.as_mut_ptr() as *mut f64);
        let rv = _mm512_set1_pd(r_v);
        let k = _mm512_set1_pd(AV_PER_COLOR);
        let zero = _mm512_setzero_pd();
        let one = _mm512_set1_pd(1.0);
        let mut shift = zero;
        let mut changed = zero;
        // QNaN (0x01), +∞ (0x08), −∞ (0x10), SNaN (0x80).
        const NOT_FINITE: i32 = 0x99;
        let mut bad: __mmask8 = 0;
        let mut i = 0;
        while i < o.len() {
            // SAFETY (loads and store): i + 8 <= the stretch's length, a multiple of 8;
            // op + i is 64-byte aligned (`around_aligned`, and i steps by 8 f64).
            let mv = _mm512_loadu_pd(mp.add(i));
            let cv = _mm512_loadu_pd(cp.add(i));
            let corr = _mm512_sub_pd(mv, _mm512_mul_pd(rv, _mm512_mul_pd(k, cv)));
            let blue = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(cv, zero);
            let x = _mm512_mask_blend_pd(blue, corr, mv);
            if STREAM {
                _mm512_stream_pd(op.add(i), x);
            } else {
                _mm512_store_pd(op.add(i), x);
            }
            shift = _mm512_add_pd(shift, _mm512_sub_pd(mv, x));
            let ne = _mm512_cmp_pd_mask::<_CMP_NEQ_UQ>(x, mv);
            changed = _mm512_mask_add_pd(changed, ne, changed, one);
            bad |= _mm512_fpclass_pd_mask::<NOT_FINITE>(mv)
                | _mm512_fpclass_pd_mask::<NOT_FINITE>(cv);
            i += 8;
        }
        if STREAM {
            // As in `select_chunk_avx2`: fenced before the block reports back.
            _mm_sfence();
        }
        let mut sh = [0.0f64; 8];
        let mut ch = [0.0f64; 8];
        _mm512_storeu_pd(sh.as_mut_ptr(), shift);
        _mm512_storeu_pd(ch.as_mut_ptr(), changed);
        Partial {
            changed: ch.iter().sum::<f64>() as usize,
            shift: ((sh[0] + sh[1]) + (sh[2] + sh[3])) + ((sh[4] + sh[5]) + (sh[6] + sh[7])),
            suspect: bad != 0,
        }
    })
}

/// One block through the widest path the CPU has; `stores` applies to the vector paths
/// (the scalar one, and the stars around an aligned stretch, use ordinary stores).
fn select_block(
    m: &[f64],
    c: &[f64],
    r_v: f64,
    o: &mut [std::mem::MaybeUninit<f64>],
    stores: Stores,
) -> Partial {
    let stream = stores == Stores::Streaming;
    #[cfg(target_arch = "x86_64")]
    if has_avx512_dq() {
        // SAFETY: the CPU supports AVX-512F and DQ (checked at run time).
        return unsafe {
            if stream {
                select_chunk_avx512::<true>(m, c, r_v, o)
            } else {
                select_chunk_avx512::<false>(m, c, r_v, o)
            }
        };
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked at run time).
        return unsafe {
            if stream {
                select_chunk_avx2::<true>(m, c, r_v, o)
            } else {
                select_chunk_avx2::<false>(m, c, r_v, o)
            }
        };
    }
    let _ = stream;
    select_chunk(m, c, r_v, o)
}

/// The corrected magnitudes, the number changed and the mean shift in one pass over
/// blocks of `CHUNK` stars (serial or over rayon; the same block order either way).
fn fused(
    mag: &[f64],
    color: &[f64],
    r_v: f64,
    parallel: bool,
    stores: Stores,
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
                        stores,
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
                    stores,
                ));
                ctx.progress((s + o.len()) as f64 / n as f64);
            }
            parts
        }
    };
    // SAFETY: the blocks above cover 0..n and `select_chunk` writes every element of
    // its block (n = min of the three lengths, all equal here).
    unsafe { out.set_len(n) };
    if parts.iter().any(|p| p.suspect) {
        if let Some(i) = first_non_finite(mag, color) {
            return Err(non_finite(i));
        }
    }
    let changed = parts.iter().map(|p| p.changed).sum();
    let shift = parts.iter().map(|p| p.shift).sum::<f64>() / n as f64;
    Ok((out, changed, shift))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_pass_equals_the_law_and_rejects_non_finite_input() {
        // 3 blocks and a ragged end, blue and red stars, a zero colour (unchanged).
        let n = 2 * CHUNK + 7;
        let mag: Vec<f64> = (0..n).map(|i| 10.0 + (i % 13) as f64 * 0.1).collect();
        let color: Vec<f64> = (0..n).map(|i| (i % 11) as f64 * 0.2 - 0.6).collect();
        let ctx = Ctx::detached(2);
        let serial = fused(&mag, &color, 3.1, false, Stores::Cached, &ctx).expect("finite");
        for (parallel, stores) in [
            (true, Stores::Cached),
            (false, Stores::Streaming),
            (true, Stores::Streaming),
        ] {
            let other = fused(&mag, &color, 3.1, parallel, stores, &ctx).expect("finite");
            assert_eq!(serial.0, other.0, "{parallel} {stores:?}");
            assert_eq!((serial.1, serial.2), (other.1, other.2), "{parallel} {stores:?}");
        }
        let want: Vec<f64> = mag
            .iter()
            .zip(&color)
            .map(|(m, c)| correct(*m, *c, 3.1))
            .collect();
        assert_eq!(serial.0, want);
        let changed = want.iter().zip(&mag).filter(|(x, m)| x != m).count();
        assert_eq!(serial.1, changed);
        let shift = mag.iter().zip(&want).map(|(m, x)| m - x).sum::<f64>() / n as f64;
        assert!((serial.2 - shift).abs() < 1e-12);
        // Every kind of non-finite input, blue and red, in the vector body and in the
        // scalar edges, serial and parallel: the error names the star.
        let red = (0..n).find(|&i| color[i] > 0.0 && i > CHUNK).expect("a red star");
        let blue = (0..n).find(|&i| color[i] < 0.0 && i > CHUNK).expect("a blue star");
        for at in [red, blue, 1, n - 1] {
            for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for (parallel, stores) in [
                    (false, Stores::Cached),
                    (true, Stores::Cached),
                    (false, Stores::Streaming),
                    (true, Stores::Streaming),
                ] {
                    let mut bad = color.clone();
                    bad[at] = v;
                    let err =
                        fused(&mag, &bad, 3.1, parallel, stores, &ctx).expect_err("colour");
                    assert!(err.to_string().contains(&format!("star {at} ")), "{err}");
                    let mut bad = mag.clone();
                    bad[at] = v;
                    let err =
                        fused(&bad, &color, 3.1, parallel, stores, &ctx).expect_err("magnitude");
                    assert!(err.to_string().contains(&format!("star {at} ")), "{err}");
                }
            }
        }
        // Finite stars whose shifts overflow the block's sum are not an error.
        let huge = vec![f64::MAX; 64];
        let (out, changed, shift) =
            fused(&huge, &huge, 3.1, false, Stores::Cached, &ctx).expect("finite");
        assert_eq!((out.len(), changed), (64, 64));
        assert_eq!(shift, f64::INFINITY);
    }

    #[test]
    fn catalogs_beyond_the_l3_stream_their_output() {
        let l3 = crate::sys::l3_bytes();
        assert_eq!(Stores::for_stars(1000), Stores::Cached);
        assert_eq!(Stores::for_stars(l3 / 24), Stores::Cached);
        assert_eq!(Stores::for_stars(l3 / 24 + 1), Stores::Streaming);
    }
}
