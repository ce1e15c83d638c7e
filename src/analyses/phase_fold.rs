//! Chapter 7.2's `phase_fold_vectorized`: phase = (t % P) / P, sort by phase, and
//! (optionally) the mean curve in phase bins — the folded light curve the GUI draws.
//! Variants differ in the sort: the chapter's argsort by a key function (a blocked
//! merge sort that looks for Cancel between blocks) and a gather through it, and an
//! O(n) bucket sort (phases live in [0, 1): counting by floor(phase·n/4), then the
//! table's rows scattered into their buckets and each bucket put in exact order), whose
//! counting, scatter and bucket sorts the parallel variant runs over rayon. All sorts
//! are stable (ties keep index order), so the table is identical.

use crate::data::{generate, Dataset, Kind, LightCurve};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
#[cfg(target_arch = "x86_64")]
use crate::kernels::simd::has_avx2_fma;
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::borrow::Cow;
use std::cmp::Ordering;

pub struct PhaseFold;

/// Artifact: the points sorted by phase (phase, value, time).
pub const FOLDED: &str = "folded";
/// Artifact: the mean curve in phase bins (phase, mean, std, count).
pub const BINNED: &str = "binned";
/// Summary: the period folded at.
pub const PERIOD: &str = "period";
/// Summary: the epoch of phase 0.
pub const EPOCH: &str = "epoch";
/// Summary: half the range of the binned means.
pub const BINNED_SEMI_AMPLITUDE: &str = "binned_semi_amplitude";

/// Phase in [0, 1) of time `t` for `period` and `epoch`, as the chapter computes it.
#[inline]
pub fn phase(t: f64, period: f64, epoch: f64) -> f64 {
    phase_of_rem((t - epoch) % period, period)
}

/// The phase from `r = (t − epoch) % period` (C's `fmod`, with the sign of `t − epoch`):
/// `rem_euclid`'s step into [0, |period|), written out so that [`phases`] can feed it its
/// own exact remainder, then the division.
#[inline(always)]
fn phase_of_rem(r: f64, period: f64) -> f64 {
    let r = if r < 0.0 { r + period.abs() } else { r };
    let p = r / period;
    // `+ 0.0` turns -0.0 (an exact multiple of a negative time) into +0.0, so sorting
    // by value and by bit pattern agree.
    if p >= 1.0 {
        0.0
    } else {
        p + 0.0
    }
}

/// Whether every value is finite (no NaN, no ±∞), without a branch per value.
fn all_finite(x: &[f64]) -> bool {
    x.iter().fold(true, |ok, v| ok & v.is_finite())
}

/// `x % p` (C's `fmod`: the exact remainder, with the sign of `x`) for finite `x` and a
/// finite positive `p`, without libm's `fmod` loop: the quotient truncated, and the
/// remainder `x − q·p` from one fused multiply-add. That remainder is representable
/// (`fmod`'s result always is), so the fused operation's single rounding leaves it exact:
/// the same bits as `%`. `x / p` can round up to the next integer when the true quotient
/// lies just below it; the remainder then comes out negative and is taken again with
/// `q − 1`. Quotients beyond 2⁵² (where `q` is no longer an exact integer step) and
/// non-finite values go to `%`.
#[inline(always)]
fn rem_exact(x: f64, p: f64) -> f64 {
    let ax = x.abs();
    let q = (ax / p).trunc();
    if q.is_nan() || q >= 4_503_599_627_370_496.0 {
        return fmod_rare(x, p);
    }
    let r = (-q).mul_add(p, ax);
    // A negative remainder (or a negative one that underflowed to −0) means q was one
    // too many.
    let r = if r.is_sign_negative() {
        (-(q - 1.0)).mul_add(p, ax)
    } else {
        r
    };
    r.copysign(x)
}

/// `x % p` out of line: LLVM treats `%` on floats (`frem`) as free of side effects and,
/// inline, computed it for every value of a vectorized loop, a libm `fmod` call per lane
/// (`perf`: 19% of the call), to select it only for the rare huge quotient.
#[cold]
#[inline(never)]
fn fmod_rare(x: f64, p: f64) -> f64 {
    x % p
}

/// Phases of every time: [`phase`] with [`rem_exact`] in place of `%` (the same bits),
/// compiled for FMA and AVX2 where the CPU has them (`mul_add` is otherwise a libm call
/// and `trunc` one without SSE4.1). libm's `fmod` took 5-9 ns a point, a third of the
/// call at 10⁵ points.
fn phases(t: &[f64], period: f64, epoch: f64, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
        return unsafe { phases_fma(t, period, epoch, out) };
    }
    for (o, &x) in out.iter_mut().zip(t) {
        *o = phase(x, period, epoch);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn phases_fma(t: &[f64], period: f64, epoch: f64, out: &mut [f64]) {
    for (o, &x) in out.iter_mut().zip(t) {
        *o = phase_of_rem(rem_exact(x - epoch, period), period);
    }
}

/// Bin of a phase: `floor(phase·bins)`, clamped to the last bin.
#[inline]
fn bin_of(ph: f64, bins: usize) -> usize {
    ((ph * bins as f64) as usize).min(bins - 1)
}

/// The points with a finite time and value: the input's own columns when every point
/// is (no copy), else the finite ones copied out.
struct Clean<'a> {
    t: Cow<'a, [f64]>,
    y: Cow<'a, [f64]>,
    dropped: usize,
}

impl PhaseFold {
    /// The cleaned curve and the period, checked once: what `validate` reports and `run`
    /// computes on.
    fn parse<'a>(&self, input: &'a Dataset, params: &Params) -> Result<(Clean<'a>, f64)> {
        let c = clean(engine::input(self, input)?)?;
        let p = params.f64("period")?;
        if p.is_nan() || p <= 0.0 || !p.is_finite() {
            return Err(Error::param(format!("period must be positive, not {p}")));
        }
        Ok((c, p))
    }
}

/// The points with a finite time and value.
fn clean(lc: &LightCurve) -> Result<Clean<'_>> {
    if lc.time.len() != lc.value.len() {
        return Err(Error::input(format!(
            "the light curve has {} times but {} values",
            lc.time.len(),
            lc.value.len()
        )));
    }
    // The usual case, every point finite: the columns themselves, borrowed (a copy of
    // both took 0.3 ms at 10⁵ points on a 512 KiB-L2 machine, as long as the phases).
    if let (Some(ts), Some(ys)) = (lc.time.as_slice(), lc.value.as_slice()) {
        if !ts.is_empty() && ts.len() <= u32::MAX as usize && all_finite(ts) && all_finite(ys) {
            return Ok(Clean {
                t: Cow::Borrowed(ts),
                y: Cow::Borrowed(ys),
                dropped: 0,
            });
        }
    }
    let mut t = Vec::with_capacity(lc.time.len());
    let mut y = Vec::with_capacity(lc.time.len());
    for (a, b) in lc.time.iter().zip(lc.value.iter()) {
        if a.is_finite() && b.is_finite() {
            t.push(*a);
            y.push(*b);
        }
    }
    let dropped = lc.time.len() - t.len();
    if t.is_empty() {
        return Err(Error::input(
            "the light curve has no point with a finite time and value",
        ));
    }
    if t.len() > u32::MAX as usize {
        return Err(Error::input("the light curve has too many points to fold"));
    }
    Ok(Clean {
        t: Cow::Owned(t),
        y: Cow::Owned(y),
        dropped,
    })
}

impl Analysis for PhaseFold {
    fn id(&self) -> &'static str {
        "phase-fold"
    }
    fn title(&self) -> &'static str {
        "Phase fold"
    }
    fn section(&self) -> Section {
        Section::Vectorization
    }
    fn help(&self) -> &'static str {
        "Fold a light curve at a period (phase = (t − epoch) mod P / P), sort by phase and average in phase bins; the sort is the whole cost."
    }
    fn input_kind(&self) -> Kind {
        Kind::LightCurve
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::float(
                "period",
                "folding period, in the light curve's time unit (days); 3.7 is the generator's period",
                3.7,
                1e-9,
                1e12,
            ),
            ParamSpec::float("epoch", "time of phase 0", 0.0, -1e12, 1e12),
            ParamSpec::int("bins", "phase bins of the binned curve (0 = no binning)", 50, 0, 100_000),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "points"
    }
    fn default_size(&self) -> usize {
        100_000
    }
    fn quick_size(&self) -> usize {
        10_000
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 6.51e-3), (1.0, 5.15e-3), (1.0, 3.97e-3)],
            mem: (1.0, 40.0),
            w_ref: 1e5,
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        let p = generate::LightCurveParams {
            n: size.max(1),
            ..Default::default()
        };
        Ok(Dataset::LightCurve(generate::light_curve(&p, seed)))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, params: &Params) -> Vec<StageWork> {
        let Dataset::LightCurve(lc) = input else {
            return Vec::new();
        };
        // Counted on every point (the few non-finite ones the clean step drops aside).
        let n = lc.time.len() as f64;
        let bins = params.opt_i64("bins").unwrap_or(0).max(0) as f64;
        let mut work = vec![
            // Finiteness of every (t, y) point: both read (and copied out only when
            // some point is not finite).
            StageWork::moving("clean", 16.0 * n),
            // (t − epoch) mod P / P and the sign fix: 4 flops; t read, phase written.
            StageWork::streaming("phase", 16.0 * n, 4.0 * n),
            // The sort's order: the phases read and a u32 written a point (the naive
            // variant's permutation, or the bucket numbers the others count).
            StageWork::moving("sort", 12.0 * n),
            // That u32 and three columns read, the three-column table written (gathered
            // through the permutation, or scattered by bucket and each bucket ordered).
            StageWork::moving("gather", 52.0 * n),
        ];
        if bins > 0.0 {
            // Per point its bin (a multiply), the mean's add and the squared deviation's
            // subtract, multiply and add (5); per bin two divides, a square root and the
            // centre (add, divide): 5. Phase and value read, 4 columns a bin written.
            work.push(StageWork::streaming(
                "bin",
                16.0 * n + 32.0 * bins,
                5.0 * n + 5.0 * bins,
            ));
        }
        work
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let (c, period) = stage!(ctx, "clean", self.parse(input, params)?);
        ctx.check()?;
        let epoch = params.f64("epoch")?;
        let bins = params.usize("bins")?;
        let n = c.t.len();

        let ph: Vec<f64> = stage!(
            ctx,
            "phase",
            match variant {
                Variant::Naive => c.t.iter().map(|&t| phase(t, period, epoch)).collect(),
                Variant::Vectorized => {
                    let mut ph = vec![0.0; n];
                    phases(&c.t, period, epoch, &mut ph);
                    ph
                }
                Variant::Parallel => {
                    let mut ph = vec![0.0; n];
                    ph.par_chunks_mut(1 << 14)
                        .zip(c.t.par_chunks(1 << 14))
                        .for_each(|(o, t)| phases(t, period, epoch, o));
                    ph
                }
            }
        );
        ctx.check()?;
        ctx.progress(0.2);
        let folded = match variant {
            Variant::Naive => {
                let order: Vec<u32> = stage!(ctx, "sort", {
                    // np.argsort with a key: indices compared through the phase array.
                    let idx: Vec<u32> = (0..n as u32).collect();
                    stable_sort_checked(
                        idx,
                        |&a, &b| ph[a as usize].total_cmp(&ph[b as usize]),
                        ctx,
                    )?
                });
                ctx.check()?;
                ctx.progress(0.7);
                stage!(ctx, "gather", gather(&order, [&ph, &c.y, &c.t]))
            }
            Variant::Vectorized | Variant::Parallel => {
                let parallel = variant == Variant::Parallel;
                let offsets = stage!(ctx, "sort", bucket_offsets(&ph, parallel, ctx)?);
                ctx.check()?;
                ctx.progress(0.5);
                stage!(
                    ctx,
                    "gather",
                    bucket_fold([&ph, &c.y, &c.t], offsets, parallel, ctx)?
                )
            }
        };
        ctx.check()?;
        let binned = stage!(
            ctx,
            "bin",
            bin_curve(folded.as_chunks::<3>().0, bins, variant)
        );
        let folded = Array2::from_shape_vec((n, 3), folded)
            .map_err(|e| Error::input(format!("phase-fold: the folded table: {e}")))?;
        ctx.progress(1.0);

        let means: Vec<f64> = binned
            .rows()
            .into_iter()
            .map(|r| r[1])
            .filter(|v| v.is_finite())
            .collect();
        let amp = if means.is_empty() {
            f64::NAN
        } else {
            let hi = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lo = means.iter().copied().fold(f64::INFINITY, f64::min);
            0.5 * (hi - lo)
        };
        let mut warnings = Vec::new();
        if c.dropped > 0 {
            warnings.push(format!(
                "dropped {} point(s) with NaN/infinite time or value",
                c.dropped
            ));
        }
        Ok(Output::new()
            .sum("n_points", n)
            .sum(PERIOD, period)
            .sum(EPOCH, epoch)
            .sum("bins", bins)
            .sum(
                BINNED_SEMI_AMPLITUDE,
                if amp.is_finite() {
                    amp.into()
                } else {
                    serde_json::Value::Null
                },
            )
            .sum("warnings", warnings)
            .table(
                FOLDED,
                &["phase", "value", "time"],
                folded,
                Tolerance::Exact,
            )
            .table(
                BINNED,
                &["phase", "mean", "std", "count"],
                binned,
                Tolerance::Rel(1e-12),
            ))
    }
}

/// Mean and population std of `len` values (NaN for none), summed in their order.
fn mean_std(vals: impl Iterator<Item = f64> + Clone, len: usize) -> (f64, f64) {
    if len == 0 {
        return (f64::NAN, f64::NAN);
    }
    let m = vals.clone().sum::<f64>() / len as f64;
    let v = vals.map(|x| (x - m) * (x - m)).sum::<f64>() / len as f64;
    (m, v.sqrt())
}

/// Rows (phase, value, time) in the order of `order` (a permutation of the points),
/// each row appended once (no zeroing pass).
fn gather(order: &[u32], cols: [&[f64]; 3]) -> Vec<f64> {
    let [ph, y, t] = cols;
    let mut f: Vec<f64> = Vec::with_capacity(3 * order.len());
    for &i in order {
        let i = i as usize;
        f.extend_from_slice(&[ph[i], y[i], t[i]]);
    }
    f
}

/// Mean, population std and count of the values in each phase bin (bin centre as
/// phase; an empty bin has NaN mean and std). `folded` is sorted by phase, so each
/// bin is a contiguous run of rows.
fn bin_curve(folded: &[[f64; 3]], bins: usize, variant: Variant) -> Array2<f64> {
    let mut out = Array2::from_elem((bins, 4), f64::NAN);
    if bins == 0 {
        return out;
    }
    // A bin's values in the naive variant's lists or read from its rows in place: the
    // same sums in the same order, so the same bits.
    let row_stats = |rows: &[[f64; 3]]| mean_std(rows.iter().map(|r| r[1]), rows.len());
    let write = |out: &mut Array2<f64>, b: usize, vals: &[f64]| {
        let (m, s) = mean_std(vals.iter().copied(), vals.len());
        out[[b, 0]] = (b as f64 + 0.5) / bins as f64;
        out[[b, 1]] = m;
        out[[b, 2]] = s;
        out[[b, 3]] = vals.len() as f64;
    };
    match variant {
        Variant::Naive => {
            // Gather each bin's values by testing every point.
            let mut groups: Vec<Vec<f64>> = vec![Vec::new(); bins];
            for r in folded {
                groups[bin_of(r[0], bins)].push(r[1]);
            }
            for (b, g) in groups.iter().enumerate() {
                write(&mut out, b, g);
            }
        }
        _ => {
            // Bin edges by binary search in the sorted rows.
            let edges: Vec<usize> = (0..=bins)
                .map(|b| folded.partition_point(|r| bin_of(r[0], bins) < b))
                .collect();
            let rows: Vec<(f64, f64)> = if variant == Variant::Parallel {
                (0..bins)
                    .into_par_iter()
                    .map(|b| row_stats(&folded[edges[b]..edges[b + 1]]))
                    .collect()
            } else {
                (0..bins)
                    .map(|b| row_stats(&folded[edges[b]..edges[b + 1]]))
                    .collect()
            };
            for (b, (m, s)) in rows.into_iter().enumerate() {
                out[[b, 0]] = (b as f64 + 0.5) / bins as f64;
                out[[b, 1]] = m;
                out[[b, 2]] = s;
                out[[b, 3]] = (edges[b + 1] - edges[b]) as f64;
            }
        }
    }
    out
}

/// Elements sorted per block before merging; a block sorts in well under a millisecond.
const SORT_BLOCK: usize = 1 << 15;

/// A stable merge sort that looks for Cancel between blocks and between merges: one
/// `sort_by` of millions of keys runs for over 100 ms without a chance to stop, which
/// is too long for the Cancel button. Blocks of [`SORT_BLOCK`] are sorted with the
/// standard stable sort (which still exploits the one ordered run per cycle), then
/// merged pairwise, level by level. Stable, so it gives the bucket sort's permutation.
fn stable_sort_checked<T, F>(mut a: Vec<T>, cmp: F, ctx: &Ctx) -> Result<Vec<T>>
where
    T: Copy,
    F: Fn(&T, &T) -> Ordering,
{
    let n = a.len();
    for block in a.chunks_mut(SORT_BLOCK) {
        ctx.check()?;
        block.sort_by(&cmp);
    }
    if n <= SORT_BLOCK {
        return Ok(a);
    }
    let mut b = a.clone();
    let mut width = SORT_BLOCK;
    while width < n {
        for (src, dst) in a.chunks(2 * width).zip(b.chunks_mut(2 * width)) {
            ctx.check()?;
            merge_into(src, width, dst, &cmp);
        }
        std::mem::swap(&mut a, &mut b);
        width *= 2;
    }
    Ok(a)
}

/// Merges the sorted runs `src[..mid]` and `src[mid..]` into `dst`, taking from the left
/// run on ties (stable).
fn merge_into<T: Copy, F: Fn(&T, &T) -> Ordering>(src: &[T], mid: usize, dst: &mut [T], cmp: &F) {
    let mid = mid.min(src.len());
    let (l, r) = src.split_at(mid);
    let (mut i, mut j) = (0, 0);
    for d in dst.iter_mut() {
        if j >= r.len() || (i < l.len() && cmp(&r[j], &l[i]) != Ordering::Less) {
            *d = l[i];
            i += 1;
        } else {
            *d = r[j];
            j += 1;
        }
    }
}

/// A bucket holding more points than this is put in order by the standard stable sort
/// rather than by insertion.
const BUCKET_SORT_SMALL: usize = 24;

/// Points per bucket on average for phases spread over the cycle. Four keeps the
/// counters (4 bytes a bucket) at 1 byte a point, so at 10⁵ points they stay in a
/// 512 KiB L2 during the random increments, and insertion orders ~4 rows a bucket
/// (measured at 10⁵ points: counting 0.3-0.5 ms with four, 0.5-0.7 with two, 2 ms with
/// one a point; the scatter and insertion about the same).
const POINTS_PER_BUCKET: usize = 4;

/// The counting half of the bucket sort: each point's bucket `floor(phase·m)`
/// (monotone in the phase, so the buckets come in phase order), where each bucket
/// begins, and, for each contiguous chunk of points, the slot its first point of each
/// bucket goes to (chunks are scattered at once and stay in point order within a
/// bucket, so the scatter is stable).
struct BucketOffsets {
    /// Bucket of every point.
    of: Vec<u32>,
    /// `start[b]..start[b + 1]`: bucket b's slots (m + 1 entries).
    start: Vec<u32>,
    /// Points per chunk (the last may hold fewer).
    chunk: usize,
    /// Per chunk, per bucket: its first slot.
    next: Vec<Vec<u32>>,
}

/// Count the points of every bucket, per chunk of points (one chunk serially, one per
/// thread in parallel).
fn bucket_offsets(ph: &[f64], parallel: bool, ctx: &Ctx) -> Result<BucketOffsets> {
    let n = ph.len();
    let m = (n / POINTS_PER_BUCKET).max(1);
    let bucket_of = |p: f64| ((p * m as f64) as usize).min(m - 1) as u32;
    let (of, chunks) = if parallel {
        let of: Vec<u32> = ph.par_iter().map(|&p| bucket_of(p)).collect();
        (of, ctx.threads.clamp(1, n.max(1)))
    } else {
        (ph.iter().map(|&p| bucket_of(p)).collect(), 1)
    };
    let chunk = n.div_ceil(chunks).max(1);
    let count = |part: &[u32]| {
        let mut c = vec![0u32; m];
        for &b in part {
            c[b as usize] += 1;
        }
        c
    };
    let mut next: Vec<Vec<u32>> = if parallel {
        of.par_chunks(chunk).map(count).collect()
    } else {
        of.chunks(chunk).map(count).collect()
    };
    ctx.check()?;
    // The counts turned into slots, bucket by bucket, chunk by chunk.
    let mut start = Vec::with_capacity(m + 1);
    let mut slot = 0u32;
    for b in 0..m {
        start.push(slot);
        for c in next.iter_mut() {
            let k = c[b];
            c[b] = slot;
            slot += k;
        }
    }
    start.push(slot);
    Ok(BucketOffsets {
        of,
        start,
        chunk,
        next,
    })
}

/// A raw pointer to the rows that several threads write, each to slots of its own.
struct Rows(*mut f64);
// SAFETY: used only by `bucket_fold`'s scatter, where chunk k writes only the slots the
// counting gave it (`next[k][b]..`, disjoint between chunks and buckets): no two threads
// write one row, and nothing reads the rows until the threads are joined.
unsafe impl Sync for Rows {}
// SAFETY: the pointer goes only to rayon's threads inside `bucket_fold`, used as above,
// while the vector it points into is borrowed there.
unsafe impl Send for Rows {}

/// The folded table, rows (phase, value, time) in stable phase order, for phases in
/// [0, 1), in O(n) for phases spread over the cycle (numpy's `argsort` compares
/// O(n log n) times): the bucket sort's second half on the rows themselves. Every
/// point's row is written straight into its bucket's slots, so the table is written
/// once, in place of sorting indices and then gathering three columns through them
/// (random reads that took longer than the sort at 10⁵ points on a 512 KiB-L2 machine).
/// Then each bucket is put in exact order by a stable sort (insertion for the usual
/// handful, the standard stable sort for a crowded bucket, so equal or clustered phases
/// cost O(k log k), never O(k²)). Equal phases keep their index order: the naive
/// variant's stable argsort, gathered. `parallel` scatters the chunks and sorts groups
/// of buckets over rayon; Cancel is looked for between the passes.
fn bucket_fold(
    cols: [&[f64]; 3],
    offsets: BucketOffsets,
    parallel: bool,
    ctx: &Ctx,
) -> Result<Vec<f64>> {
    let [ph, y, t] = cols;
    let n = offsets.of.len();
    if ph.len() != n || y.len() != n || t.len() != n {
        return Err(Error::input(format!(
            "phase-fold: {} phases, {} values and {} times for {n} points",
            ph.len(),
            y.len(),
            t.len()
        )));
    }
    let BucketOffsets {
        of,
        start,
        chunk,
        mut next,
    } = offsets;
    let mut f: Vec<f64> = Vec::with_capacity(3 * n);
    let rows = Rows(f.as_mut_ptr());
    let scatter = |(k, next): (usize, &mut Vec<u32>)| {
        let base = &rows;
        let lo = (k * chunk).min(n);
        let hi = ((k + 1) * chunk).min(n);
        for i in lo..hi {
            let slot = &mut next[of[i] as usize];
            let r = 3 * *slot as usize;
            *slot += 1;
            // SAFETY: r + 2 < 3·n: the slots of all buckets are 0..n (the counts sum to
            // n) and each is handed out once, to one chunk (see `Rows`).
            unsafe {
                base.0.add(r).write(ph[i]);
                base.0.add(r + 1).write(y[i]);
                base.0.add(r + 2).write(t[i]);
            }
        }
    };
    if parallel {
        next.par_iter_mut().enumerate().for_each(scatter);
    } else {
        next.iter_mut().enumerate().for_each(scatter);
    }
    // SAFETY: every one of the n slots was written with its three values (above).
    unsafe { f.set_len(3 * n) };
    ctx.check()?;
    let rows = f.as_chunks_mut::<3>().0;
    let sort_buckets = |rows: &mut [[f64; 3]], bounds: &[u32]| {
        let base = bounds[0] as usize;
        for w in bounds.windows(2) {
            let s = &mut rows[w[0] as usize - base..w[1] as usize - base];
            if s.len() <= BUCKET_SORT_SMALL {
                insertion_sort(s);
            } else {
                s.sort_by(|a, b| a[0].total_cmp(&b[0]));
            }
        }
    };
    let m = start.len() - 1;
    if parallel {
        // Groups of buckets, a few per thread, each a disjoint slice of the rows.
        let groups = (4 * ctx.threads).clamp(1, m);
        let mut parts = Vec::with_capacity(groups);
        let mut rest: &mut [[f64; 3]] = rows;
        let mut from = 0;
        for g in 1..=groups {
            let to = m * g / groups;
            let len = (start[to] - start[from]) as usize;
            let (part, tail) = rest.split_at_mut(len);
            parts.push((part, &start[from..=to]));
            rest = tail;
            from = to;
        }
        parts
            .into_par_iter()
            .for_each(|(part, bounds)| sort_buckets(part, bounds));
    } else {
        sort_buckets(rows, &start);
    }
    Ok(f)
}

/// Stable insertion sort of rows by phase (a bucket holds a handful of points).
fn insertion_sort(s: &mut [[f64; 3]]) {
    for i in 1..s.len() {
        let x = s[i];
        let mut j = i;
        while j > 0 && s[j - 1][0].total_cmp(&x[0]) == Ordering::Greater {
            s[j] = s[j - 1];
            j -= 1;
        }
        s[j] = x;
    }
}

/// Stable LSD radix sort of indices by phase. Phases are non-negative floats, whose
/// bit patterns sort like their values; a stable sort keeps equal phases in index
/// order, the same permutation as the other variants. Passes whose byte is the same
/// for every key are skipped.
pub fn radix_argsort(ph: &[f64]) -> Vec<u32> {
    let n = ph.len();
    let mut keys: Vec<u64> = ph.iter().map(|p| p.to_bits()).collect();
    let mut idx: Vec<u32> = (0..n as u32).collect();
    let mut k2 = vec![0u64; n];
    let mut i2 = vec![0u32; n];
    for pass in 0..8 {
        let shift = pass * 8;
        let mut count = [0usize; 256];
        for k in &keys {
            count[((k >> shift) & 0xff) as usize] += 1;
        }
        if count.contains(&n) {
            continue;
        }
        let mut pos = [0usize; 256];
        let mut acc = 0;
        for d in 0..256 {
            pos[d] = acc;
            acc += count[d];
        }
        for (k, i) in keys.iter().zip(&idx) {
            let d = ((k >> shift) & 0xff) as usize;
            k2[pos[d]] = *k;
            i2[pos[d]] = *i;
            pos[d] += 1;
        }
        std::mem::swap(&mut keys, &mut k2);
        std::mem::swap(&mut idx, &mut i2);
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_agree_and_fold_is_sorted() {
        let p = generate::LightCurveParams {
            n: 5000,
            ..Default::default()
        };
        let mut lc = generate::light_curve(&p, 9);
        // duplicate times give tied phases: every variant must order them by index
        for i in 0..50 {
            lc.time[2 * i + 1] = lc.time[2 * i];
        }
        lc.value[7] = f64::NAN;
        let d = Dataset::LightCurve(lc);
        let params = Params::defaults(&PhaseFold.params());
        let ctx = Ctx::detached(2);
        let outs: Vec<Output> = crate::engine::ALL_VARIANTS
            .iter()
            .map(|&v| PhaseFold.run(v, &d, &params, &ctx).expect("run"))
            .collect();
        for o in &outs[1..] {
            outs[0].agrees_with(o).expect("agree");
        }
        let (_, f) = outs[0].table_of("folded").expect("folded");
        assert_eq!(f.nrows(), 4999);
        assert!(f.column(0).windows(2).into_iter().all(|w| w[0] <= w[1]));
        let (_, b) = outs[0].table_of("binned").expect("binned");
        assert_eq!(b.column(3).sum(), 4999.0);
        // folded at the true period, the binned curve is a sine of amplitude ~0.1
        let amp = outs[0].summary_f64("binned_semi_amplitude").expect("amp");
        assert!((amp - 0.1).abs() < 0.01, "{amp}");
    }

    #[test]
    fn bucket_sort_is_the_stable_sort() {
        let stable = |ph: &[f64]| {
            let mut idx: Vec<u32> = (0..ph.len() as u32).collect();
            idx.sort_by(|&a, &b| ph[a as usize].total_cmp(&ph[b as usize]));
            idx
        };
        let n = 20_011;
        let cases: Vec<Vec<f64>> = vec![
            // spread over the cycle, with ordered runs (one per cycle)
            (0..n).map(|i| phase(i as f64 * 0.37, 3.7, 0.0)).collect(),
            // many ties: 1000 distinct phases
            (0..n).map(|i| ((i * 7919) % 1000) as f64 / 1000.0).collect(),
            // every phase equal (a period dividing every time): one crowded bucket
            vec![0.25; n],
            // clustered: all within one bucket's width, distinct
            (0..n).map(|i| 0.5 + (i % 97) as f64 * 1e-12).collect(),
            vec![],
            vec![0.0, 0.999_999_999_999, 0.0, 0.5],
        ];
        // The bucket sort's rows, with each point's index as its value and its negated
        // index as its time: the permutation it applied, and whether rows stayed whole.
        let bucket_order = |ph: &[f64], parallel: bool, ctx: &Ctx| -> Result<Vec<u32>> {
            let idx: Vec<f64> = (0..ph.len()).map(|i| i as f64).collect();
            let neg: Vec<f64> = idx.iter().map(|i| -i).collect();
            let offsets = bucket_offsets(ph, parallel, ctx)?;
            let f = bucket_fold([ph, &idx, &neg], offsets, parallel, ctx)?;
            let rows = f.as_chunks::<3>().0;
            assert!(rows.iter().all(|r| r[2] == -r[1] && ph[r[1] as usize] == r[0]));
            Ok(rows.iter().map(|r| r[1] as u32).collect())
        };
        for ph in &cases {
            let want = stable(ph);
            for (parallel, threads) in [(false, 1), (true, 2), (true, 3)] {
                let ctx = Ctx::detached(threads);
                let got = bucket_order(ph, parallel, &ctx).expect("sort");
                assert!(got == want, "n={} parallel={parallel}", ph.len());
            }
        }
        let c = crate::engine::Control::new();
        c.cancel();
        let cancelled = Ctx::new(c, 1, 0.0, 1.0);
        assert!(bucket_order(&cases[0], false, &cancelled).is_err());
    }

    #[test]
    fn checked_sort_is_the_stable_sort() {
        let ctx = Ctx::detached(2);
        // Many ties and ordered runs, longer than a few blocks and not a multiple of one.
        let n = 5 * SORT_BLOCK + 123;
        let keys: Vec<(f64, u32)> = (0..n)
            .map(|i| (((i * 7919) % 1000) as f64 / 1000.0, i as u32))
            .collect();
        let mut want = keys.clone();
        want.sort_by(|a, b| a.0.total_cmp(&b.0));
        let got = stable_sort_checked(keys.clone(), |a, b| a.0.total_cmp(&b.0), &ctx).expect("sort");
        assert!(got == want);
        let c = crate::engine::Control::new();
        c.cancel();
        let cancelled = Ctx::new(c, 1, 0.0, 1.0);
        assert!(stable_sort_checked(keys, |a, b| a.0.total_cmp(&b.0), &cancelled).is_err());
    }

    #[test]
    fn phases_by_fused_remainder_are_the_bits_of_fmod() {
        // Random times over many scales, exact multiples of the period and their
        // neighbours one ulp away (where x / p rounds onto an integer), both signs.
        let mut r = crate::data::rng::Rng::new(17);
        for &(period, epoch) in &[(3.7f64, 0.0f64), (0.1, 2.5), (1e-3, -7.0), (1e5, 3.0), (0.7, 1e9)] {
            let mut t: Vec<f64> = Vec::new();
            for scale in [1e-3, 1.0, 1e3, 1e6, 1e12, 1e17] {
                t.extend((0..2000).map(|_| r.range(-scale, scale)));
            }
            for k in [1.0, 2.0, 3.0, 10.0, 12345.0, 1e9] {
                let m = k * period + epoch;
                t.extend([m, -m, m.next_up(), m.next_down(), -m.next_up(), 0.0, -0.0]);
            }
            let want: Vec<u64> = t.iter().map(|&x| phase(x, period, epoch).to_bits()).collect();
            let mut got = vec![0.0; t.len()];
            phases(&t, period, epoch, &mut got);
            let got: Vec<u64> = got.iter().map(|x| x.to_bits()).collect();
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g, w, "t = {:e}, period {period}, epoch {epoch}", t[i]);
            }
            for &x in &t {
                let d = x - epoch;
                assert_eq!(rem_exact(d, period).to_bits(), (d % period).to_bits(), "{d:e}");
            }
        }
    }

    #[test]
    fn phase_matches_chapter_formula() {
        assert_eq!(phase(7.4, 3.7, 0.0), 0.0);
        assert!((phase(5.0, 2.0, 0.0) - 0.5).abs() < 1e-15);
        assert!((phase(-0.5, 2.0, 0.0) - 0.75).abs() < 1e-15);
        assert!((phase(1.0, 2.0, 0.5) - 0.25).abs() < 1e-15);
        assert_eq!(phase(-4.0, 2.0, 0.0).to_bits(), 0.0f64.to_bits());
        let ph = [0.5, 0.25, 0.5, 0.0, 0.999, 0.25];
        assert_eq!(radix_argsort(&ph), vec![3, 1, 5, 0, 2, 4]);
    }

    #[test]
    fn bad_input() {
        let params = Params::defaults(&PhaseFold.params());
        assert!(PhaseFold.validate(&Dataset::None, &params).is_err());
        let lc = LightCurve {
            time: vec![f64::NAN].into(),
            value: vec![1.0].into(),
            error: None,
            magnitudes: false,
            labels: Default::default(),
        };
        assert!(PhaseFold
            .validate(&Dataset::LightCurve(lc), &params)
            .is_err());
    }
}
