//! Chapter 7.5's streaming statistics: count, mean, std (ddof 1, as the chapter),
//! min and max over a stream of chunks that is never held in memory at once.
//! naive = the chapter's Welford update, value by value (a mapped stream read through the
//! map); vectorized = per-chunk two-pass moments in SIMD-friendly loops, merged with Chan
//! et al.'s pairwise formula (a mapped stream read with `pread` into a reused L2-sized
//! buffer); parallel = the same chunk moments computed on rayon and merged in stream order.
//!
//! The stream is either generated chunk by chunk (chunk i drawn from its own
//! counter-based stream, so a billion values cost only one chunk of memory) or a
//! memory-mapped array read chunk by chunk.

use crate::data::mapped::{f64_view, release, stream_block};
use crate::data::rng::Rng;
use crate::data::{Dataset, Dtype, Kind, Mapped, Table};
use crate::engine::work::F64;
use crate::engine::{
    wrong_input, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork,
    Tolerance, Variant,
};
use crate::kernels::simd::has_avx2;
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;

pub struct StreamingStats;

/// Chunks merged into one group before the group joins the running total: the unit of
/// parallel work, and the merge tree shared by the vectorized and parallel variants.
const GROUP: usize = 64;
/// Most values a generated stream may have (about 2 hours of single-thread work).
const MAX_VALUES: u64 = 1_000_000_000_000;
/// Most rows of the `running` table.
const SNAPSHOTS: usize = 400;
/// Most rows of the `convergence` table.
const CONVERGENCE_ROWS: usize = 400;
/// The whole stream's moments: count, mean, std, min, max (one row).
pub const STATS: &str = "stats";
/// The running moments after single chunks (values, mean, std, min, max): after every
/// chunk of a short stream, else after about 400 chunks spaced evenly in log(values), so
/// a plot on a log axis shows the estimates closing in on the whole stream's values.
pub const CONVERGENCE: &str = "convergence";
/// Column names of the stream descriptor table that `generate` returns.
pub const DESCRIPTOR: [&str; 2] = ["stream_values", "seed"];

impl Analysis for StreamingStats {
    fn id(&self) -> &'static str {
        "streaming-stats"
    }
    fn title(&self) -> &'static str {
        "Streaming statistics (Welford / Chan)"
    }
    fn section(&self) -> Section {
        Section::Memory
    }
    fn help(&self) -> &'static str {
        "Mean, std, min and max of a stream of chunks without holding it: Welford value by value, or per-chunk moments merged with Chan's formula (in parallel)."
    }
    fn input_kind(&self) -> Kind {
        Kind::None
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![ParamSpec::int(
            "chunk",
            "values per chunk of the stream",
            1000,
            1,
            10_000_000,
        )]
    }
    fn size_unit(&self) -> &'static str {
        "values"
    }
    fn default_size(&self) -> usize {
        100_000
    }
    fn quick_size(&self) -> usize {
        20_000
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 1.86e-3), (1.0, 1.34e-3), (1.0, 1.11e-3)],
            mem: (0.0, 1e6),
            w_ref: 1e5,
        }
    }
    /// A stream descriptor (values, seed): the values are generated while streaming.
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        if size as u64 > MAX_VALUES {
            return Err(Error::param(format!(
                "streaming-stats: {size} values is more than the limit of {MAX_VALUES}"
            )));
        }
        Ok(Dataset::Table(stream_descriptor(size as u64, seed)))
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match source(self, input) {
            Ok(s) => s.len() as usize,
            Err(_) => input.n_elements(),
        }
    }
    /// A mapped stream is read once (its bytes on disk); a generated one is bound by the
    /// random draws, not by memory, so it has no bandwidth figure.
    fn bytes_moved(&self, input: &Dataset, _params: &Params) -> Option<f64> {
        match input {
            Dataset::Mapped(m) => Some(m.bytes() as f64),
            _ => None,
        }
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, params: &Params) -> Vec<StageWork> {
        let Ok(src) = source(self, input) else {
            return Vec::new();
        };
        let n = src.len() as f64;
        // Welford's update per value: two subtracts, a divide, two adds and a multiply
        // (min/max compare): 6 flops.
        let welford = 6.0 * n;
        vec![match src {
            // The mapped file read once.
            Source::Mapped(m) => StageWork::streaming("stream", m.bytes() as f64, welford),
            // Generated chunk by chunk: each value drawn (a normal, about 8 flops, scaled
            // to mean 50, std 10: 2 more), written to the chunk buffer and read back; the
            // buffer (one chunk) is what the stage keeps touching.
            Source::Generated { .. } => {
                let chunk = params.opt_i64("chunk").map_or(1000.0, |c| c.max(1) as f64);
                StageWork::streaming("stream", 2.0 * F64 * n, welford + 10.0 * n)
                    .reusing(F64 * chunk.min(n))
            }
        }]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let (src, chunk) = self.parse(input, params)?;
        let chunk = chunk.max(1);
        let n = src.len();
        let n_chunks = n.div_ceil(chunk as u64);
        let n_groups = n_chunks.div_ceil(GROUP as u64);
        let stride = n_groups.div_ceil(SNAPSHOTS as u64).max(1);
        let plan = Plan {
            src,
            chunk,
            n_chunks,
            n_groups,
            stride,
            marks: convergence_chunks(n_chunks),
        };
        let Streamed {
            total,
            running,
            convergence,
        } = stage!(
            ctx,
            "stream",
            match variant {
                Variant::Naive => welford_stream(&plan, ctx)?,
                Variant::Vectorized => chan_stream(&plan, ctx, false)?,
                Variant::Parallel => chan_stream(&plan, ctx, true)?,
            }
        );
        ctx.progress(1.0);
        let (rss, hwm) = crate::sys::memory_mb();
        let std = total.std_ddof1();
        let mut stats = Array2::zeros((1, 5));
        for (c, v) in [total.n as f64, total.mean, std, total.min, total.max]
            .into_iter()
            .enumerate()
        {
            stats[[0, c]] = v;
        }
        let mut run_t = Array2::zeros((running.len(), 3));
        for (r, m) in running.iter().enumerate() {
            run_t[[r, 0]] = m.n as f64;
            run_t[[r, 1]] = m.mean;
            run_t[[r, 2]] = m.std_ddof1();
        }
        let mut conv_t = Array2::zeros((convergence.len(), 5));
        for (r, m) in convergence.iter().enumerate() {
            for (c, v) in [m.n as f64, m.mean, m.std_ddof1(), m.min, m.max]
                .into_iter()
                .enumerate()
            {
                conv_t[[r, c]] = v;
            }
        }
        let num = |v: f64| {
            if v.is_finite() {
                serde_json::Value::from(v)
            } else {
                serde_json::Value::Null
            }
        };
        Ok(Output::new()
            .sum("count", total.n)
            .sum("mean", num(total.mean))
            .sum("std", num(std))
            .sum("min", num(total.min))
            .sum("max", num(total.max))
            .sum("chunks", n_chunks)
            .sum("chunk_bytes", chunk * 8)
            .sum("rss_mb", rss.map_or(serde_json::Value::Null, Into::into))
            .sum(
                "peak_rss_mb",
                hwm.map_or(serde_json::Value::Null, Into::into),
            )
            .table(
                STATS,
                &["count", "mean", "std", "min", "max"],
                stats,
                Tolerance::Rel(1e-10),
            )
            .table(
                "running",
                &["values", "mean", "std"],
                run_t,
                Tolerance::Rel(1e-10),
            )
            .table(
                CONVERGENCE,
                &["values", "mean", "std", "min", "max"],
                conv_t,
                Tolerance::Rel(1e-10),
            ))
    }
}

impl StreamingStats {
    /// The stream and the chunk length, checked once: what `validate` reports and `run`
    /// computes on.
    fn parse<'a>(&self, input: &'a Dataset, params: &Params) -> Result<(Source<'a>, usize)> {
        let src = source(self, input)?;
        if src.is_empty() {
            return Err(Error::input("streaming-stats: the stream has no values"));
        }
        Ok((src, params.usize("chunk")?))
    }
}

/// Where the stream's values come from.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// `n` values, chunk i drawn from `Rng::for_block(seed, i)`: normal, mean 50, std 10.
    Generated { n: u64, seed: u64 },
    /// A memory-mapped f64/f32 array (any shape, read in storage order).
    Mapped(&'a Mapped),
}

impl Source<'_> {
    pub fn len(&self) -> u64 {
        match self {
            Source::Generated { n, .. } => *n,
            Source::Mapped(m) => m.len() as u64,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Chunk `i` (of `chunk` values; the last may be shorter) handed to `f`: a view
    /// straight into an aligned float64 map (no copy), else filled into `buf`.
    pub fn with_chunk<R>(
        &self,
        i: u64,
        chunk: usize,
        buf: &mut Vec<f64>,
        f: impl FnOnce(&[f64]) -> R,
    ) -> R {
        if let Source::Mapped(m) = self {
            if let Some(d) = f64_view(m) {
                let start = (i * chunk as u64).min(d.len() as u64) as usize;
                let end = (start + chunk).min(d.len());
                return f(&d[start..end]);
            }
        }
        self.fill(i, chunk, buf);
        f(buf)
    }
    /// Let the kernel drop the resident pages of chunks `c0..c1` of a mapped stream once
    /// they are read, so a stream larger than memory keeps a bounded RSS (no-op otherwise).
    pub fn release(&self, c0: u64, c1: u64, chunk: usize) {
        if let Source::Mapped(m) = self {
            let n = m.len() as u64;
            let e0 = (c0 * chunk as u64).min(n) as usize;
            let e1 = (c1 * chunk as u64).min(n) as usize;
            release(m, e0, e1);
        }
    }
    /// Fill `buf` with chunk `i` (of `chunk` values; the last may be shorter).
    pub fn fill(&self, i: u64, chunk: usize, buf: &mut Vec<f64>) {
        let start = i * chunk as u64;
        let end = (start + chunk as u64).min(self.len());
        buf.clear();
        match self {
            Source::Generated { seed, .. } => {
                let mut r = Rng::for_block(*seed, i);
                buf.extend((start..end).map(|_| r.normal() * 10.0 + 50.0));
            }
            Source::Mapped(m) => m.read_into(start as usize, end as usize, buf),
        }
    }
}

fn source<'a>(a: &StreamingStats, input: &'a Dataset) -> Result<Source<'a>> {
    match input {
        Dataset::None => Ok(Source::Generated {
            n: a.default_size() as u64,
            seed: 1,
        }),
        Dataset::Table(t)
            if t.columns.iter().map(String::as_str).eq(DESCRIPTOR) && t.data.nrows() == 1 =>
        {
            let n = t.data[[0, 0]];
            let seed = t.data[[0, 1]];
            if !(n >= 0.0 && n <= MAX_VALUES as f64 && n.fract() == 0.0) {
                return Err(Error::input(format!(
                    "streaming-stats: a stream of {n} values is not a whole number up to {MAX_VALUES}"
                )));
            }
            Ok(Source::Generated {
                n: n as u64,
                seed: seed as u64,
            })
        }
        Dataset::Mapped(m) => {
            if !matches!(m.dtype, Dtype::F64 | Dtype::F32) {
                return Err(Error::input(format!(
                    "streaming-stats reads float64 or float32 arrays, not {}",
                    m.dtype.name()
                )));
            }
            Ok(Source::Mapped(m))
        }
        other => Err(wrong_input(a, other)),
    }
}

/// The descriptor table of a generated stream.
pub fn stream_descriptor(n: u64, seed: u64) -> Table {
    Table {
        columns: DESCRIPTOR.iter().map(|s| s.to_string()).collect(),
        data: Array2::from_shape_vec((1, 2), vec![n as f64, seed as f64])
            .unwrap_or_else(|_| Array2::zeros((1, 2))),
    }
}

/// Count, mean, sum of squared deviations, min, max.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
    pub min: f64,
    pub max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Moments {
    /// Welford's update with one value (the chapter's loop body).
    #[inline]
    pub fn push(&mut self, v: f64) {
        self.n += 1;
        let delta = v - self.mean;
        self.mean += delta / self.n as f64;
        let delta2 = v - self.mean;
        self.m2 += delta * delta2;
        if v < self.min {
            self.min = v;
        }
        if v > self.max {
            self.max = v;
        }
    }

    /// Chan, Golub & LeVeque's pairwise combination.
    pub fn merge(&self, b: &Moments) -> Moments {
        if b.n == 0 {
            return *self;
        }
        if self.n == 0 {
            return *b;
        }
        let na = self.n as f64;
        let nb = b.n as f64;
        let tot = na + nb;
        let d = b.mean - self.mean;
        Moments {
            n: self.n + b.n,
            mean: self.mean + d * nb / tot,
            m2: self.m2 + b.m2 + d * d * na * nb / tot,
            min: self.min.min(b.min),
            max: self.max.max(b.max),
        }
    }

    /// Two-pass moments of one chunk (the chunk is small enough to stay in cache for the
    /// second pass, so memory sees one read), four lanes per loop so LLVM vectorizes;
    /// compiled for AVX2 when the CPU has it (same operations, same bits).
    pub fn of_chunk(x: &[f64]) -> Moments {
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx2() {
                // SAFETY: the CPU reports AVX2.
                return unsafe { of_chunk_avx2(x) };
            }
        }
        of_chunk_body(x)
    }

    /// Sample standard deviation (ddof 1), 0 for fewer than two values (as the chapter).
    pub fn std_ddof1(&self) -> f64 {
        if self.n > 1 {
            (self.m2 / (self.n - 1) as f64).sqrt()
        } else {
            0.0
        }
    }
}

/// Lanes of the chunk loops: four vectors of four, so each pass has four independent
/// add chains (one chain of four lanes waited on the add's latency, ~1.7 cycles a value
/// over both passes, as long as the kernel's copy of the value from the page cache).
const LANES: usize = 16;

/// [`of_chunk_body`] in AVX2 intrinsics: the same operations on the same sixteen lanes in
/// the same order, so the same bits (`_mm256_min_pd(v, lo)` is `v < lo ? v : lo`, the
/// body's compare-and-select). LLVM's own vectorization of the body mixed scalar adds and
/// shuffles into the first pass (`perf annotate`: the pass's hot spot, 1.8 ns a value).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn of_chunk_avx2(x: &[f64]) -> Moments {
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_loadu_pd, _mm256_max_pd, _mm256_min_pd, _mm256_mul_pd,
        _mm256_set1_pd, _mm256_setzero_pd, _mm256_storeu_pd, _mm256_sub_pd,
    };
    if x.is_empty() {
        return Moments::default();
    }
    let lanes = |v: [__m256d; 4]| {
        let mut a = [0.0f64; LANES];
        for (k, v) in v.into_iter().enumerate() {
            // SAFETY: `a[4k..4k + 4]` holds four f64; unaligned store.
            unsafe { _mm256_storeu_pd(a[4 * k..].as_mut_ptr(), v) };
        }
        a
    };
    let mut s = [_mm256_setzero_pd(); 4];
    let mut lo = [_mm256_set1_pd(f64::INFINITY); 4];
    let mut hi = [_mm256_set1_pd(f64::NEG_INFINITY); 4];
    for c in x.chunks_exact(LANES) {
        for k in 0..4 {
            // SAFETY: `c[4k..4k + 4]` is in the chunk of 16; unaligned load.
            let v = unsafe { _mm256_loadu_pd(c[4 * k..].as_ptr()) };
            s[k] = _mm256_add_pd(s[k], v);
            lo[k] = _mm256_min_pd(v, lo[k]);
            hi[k] = _mm256_max_pd(v, hi[k]);
        }
    }
    let (mut lo, mut hi) = (lanes(lo), lanes(hi));
    let mean = first_pass_tail(x, lanes(s), &mut lo, &mut hi);
    let m = _mm256_set1_pd(mean);
    let mut q = [_mm256_setzero_pd(); 4];
    for c in x.chunks_exact(LANES) {
        for k in 0..4 {
            // SAFETY: as above.
            let d = _mm256_sub_pd(unsafe { _mm256_loadu_pd(c[4 * k..].as_ptr()) }, m);
            q[k] = _mm256_add_pd(q[k], _mm256_mul_pd(d, d));
        }
    }
    second_pass_tail(x, mean, lanes(q), lo, hi)
}

#[inline(always)]
fn of_chunk_body(x: &[f64]) -> Moments {
    if x.is_empty() {
        return Moments::default();
    }
    let mut s = [0.0f64; LANES];
    let mut lo = [f64::INFINITY; LANES];
    let mut hi = [f64::NEG_INFINITY; LANES];
    for c in x.chunks_exact(LANES) {
        for l in 0..LANES {
            s[l] += c[l];
            // Compare-and-select (one minpd/maxpd) rather than f64::min/max, whose NaN
            // rules cost a blend; a NaN value is skipped either way.
            lo[l] = if c[l] < lo[l] { c[l] } else { lo[l] };
            hi[l] = if c[l] > hi[l] { c[l] } else { hi[l] };
        }
    }
    let mean = first_pass_tail(x, s, &mut lo, &mut hi);
    let mut q = [0.0f64; LANES];
    for c in x.chunks_exact(LANES) {
        for l in 0..LANES {
            let d = c[l] - mean;
            q[l] += d * d;
        }
    }
    second_pass_tail(x, mean, q, lo, hi)
}

/// The sixteen lanes added in a fixed tree: the four vectors first (lane by lane), then
/// the four lanes of that.
#[inline(always)]
fn lane_sum(a: [f64; LANES]) -> f64 {
    let r: [f64; 4] = std::array::from_fn(|l| (a[l] + a[4 + l]) + (a[8 + l] + a[12 + l]));
    (r[0] + r[1]) + (r[2] + r[3])
}

/// The first pass's last `x.len() % 16` values into lane 0 (sum, min, max), then the
/// mean from the lane sums: shared by both bodies so their bits stay the same.
#[inline(always)]
fn first_pass_tail(
    x: &[f64],
    mut s: [f64; LANES],
    lo: &mut [f64; LANES],
    hi: &mut [f64; LANES],
) -> f64 {
    for &v in x.chunks_exact(LANES).remainder() {
        s[0] += v;
        lo[0] = if v < lo[0] { v } else { lo[0] };
        hi[0] = if v > hi[0] { v } else { hi[0] };
    }
    lane_sum(s) / x.len() as f64
}

/// The second pass's last values into lane 0, then the chunk's moments from the lanes.
#[inline(always)]
fn second_pass_tail(
    x: &[f64],
    mean: f64,
    mut q: [f64; LANES],
    lo: [f64; LANES],
    hi: [f64; LANES],
) -> Moments {
    for &v in x.chunks_exact(LANES).remainder() {
        q[0] += (v - mean) * (v - mean);
    }
    Moments {
        n: x.len() as u64,
        mean,
        m2: lane_sum(q),
        min: lo.iter().fold(f64::INFINITY, |a, &b| a.min(b)),
        max: hi.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)),
    }
}

/// The chunks (0-based) after which the `convergence` table takes the running moments:
/// every chunk of a stream of at most [`CONVERGENCE_ROWS`] chunks, else chunk counts
/// spaced evenly in log (1, …, n_chunks), sorted and without repeats.
fn convergence_chunks(n_chunks: u64) -> Vec<u64> {
    if n_chunks <= CONVERGENCE_ROWS as u64 {
        return (0..n_chunks).collect();
    }
    let last = (CONVERGENCE_ROWS - 1) as f64;
    let mut marks: Vec<u64> = (0..CONVERGENCE_ROWS)
        .map(|k| {
            let done = (n_chunks as f64).powf(k as f64 / last).round() as u64;
            done.clamp(1, n_chunks) - 1
        })
        .collect();
    marks.dedup();
    marks
}

/// What a stream pass returns: the whole stream's moments, the running moments after
/// snapshot groups (`running`) and after the marked chunks (`convergence`).
struct Streamed {
    total: Moments,
    running: Vec<Moments>,
    convergence: Vec<Moments>,
}

struct Plan<'a> {
    src: Source<'a>,
    chunk: usize,
    n_chunks: u64,
    n_groups: u64,
    stride: u64,
    /// The chunks after which the convergence table takes the running moments (sorted).
    marks: Vec<u64>,
}

impl Plan<'_> {
    fn snapshot_after(&self, g: u64) -> bool {
        g.is_multiple_of(self.stride) || g + 1 == self.n_groups
    }
    fn marked(&self, chunk: u64) -> bool {
        self.marks.binary_search(&chunk).is_ok()
    }
    fn group_chunks(&self, g: u64) -> std::ops::Range<u64> {
        g * GROUP as u64..((g + 1) * GROUP as u64).min(self.n_chunks)
    }
    /// Moments of one group of chunks, merged in order, and the group's moments so far
    /// after each of its marked chunks (the running total before the group is merged
    /// with them later, in stream order). A mapped stream is read in blocks of whole
    /// chunks of about 256 KiB ([`stream_block`], [`Mapped::stream`]: `pread` into `buf`, no page
    /// of the map faulted); the chunks and their order are the same as through the map.
    fn group(&self, g: u64, buf: &mut Vec<f64>) -> Result<(Moments, Vec<Moments>)> {
        let mut acc = Moments::default();
        let mut marked = Vec::new();
        let chunks = self.group_chunks(g);
        let mut add = |i: u64, m: Moments| {
            acc = acc.merge(&m);
            if self.marked(i) {
                marked.push(acc);
            }
        };
        match self.src {
            Source::Mapped(m) => {
                let chunk = self.chunk as u64;
                let n = m.len() as u64;
                let (e0, e1) = ((chunks.start * chunk).min(n), (chunks.end * chunk).min(n));
                m.stream(e0 as usize, e1 as usize, stream_block(self.chunk), buf, |e, values| {
                    for (k, c) in values.chunks(self.chunk).enumerate() {
                        add(e as u64 / chunk + k as u64, Moments::of_chunk(c));
                    }
                })?;
            }
            Source::Generated { .. } => {
                for i in chunks {
                    add(i, self.src.with_chunk(i, self.chunk, buf, Moments::of_chunk));
                }
            }
        }
        Ok((acc, marked))
    }
}

/// The chapter's loop: one Welford update per value.
fn welford_stream(p: &Plan, ctx: &Ctx) -> Result<Streamed> {
    let mut m = Moments::default();
    let mut running = Vec::new();
    let mut convergence = Vec::new();
    let mut buf = Vec::with_capacity(p.chunk);
    for g in 0..p.n_groups {
        ctx.check()?;
        let chunks = p.group_chunks(g);
        for i in chunks.clone() {
            p.src.with_chunk(i, p.chunk, &mut buf, |c| {
                for &v in c {
                    m.push(v);
                }
            });
            if p.marked(i) {
                convergence.push(m);
            }
        }
        p.src.release(chunks.start, chunks.end, p.chunk);
        if p.snapshot_after(g) {
            running.push(m);
        }
        ctx.progress((g + 1) as f64 / p.n_groups as f64);
    }
    Ok(Streamed {
        total: m,
        running,
        convergence,
    })
}

/// Per-chunk moments merged with Chan's formula; groups in parallel when asked, always
/// merged in stream order, so every thread count gives the same bits.
fn chan_stream(p: &Plan, ctx: &Ctx, parallel: bool) -> Result<Streamed> {
    let mut total = Moments::default();
    let mut running = Vec::new();
    let mut convergence = Vec::new();
    let wave = if parallel {
        (ctx.threads * 8) as u64
    } else {
        1
    };
    let mut buf = Vec::with_capacity(p.chunk);
    let mut g0 = 0;
    while g0 < p.n_groups {
        ctx.check()?;
        let g1 = (g0 + wave).min(p.n_groups);
        let parts: Vec<(Moments, Vec<Moments>)> = if parallel {
            (g0..g1)
                .into_par_iter()
                .map_init(|| Vec::with_capacity(p.chunk), |b, g| p.group(g, b))
                .collect::<Result<_>>()?
        } else {
            (g0..g1)
                .map(|g| p.group(g, &mut buf))
                .collect::<Result<_>>()?
        };
        for (k, (part, marked)) in parts.iter().enumerate() {
            convergence.extend(marked.iter().map(|m| total.merge(m)));
            total = total.merge(part);
            if p.snapshot_after(g0 + k as u64) {
                running.push(total);
            }
        }
        g0 = g1;
        ctx.progress(g0 as f64 / p.n_groups as f64);
    }
    Ok(Streamed {
        total,
        running,
        convergence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convergence_marks_are_log_spaced_chunks_ending_at_the_last() {
        assert_eq!(convergence_chunks(5), vec![0, 1, 2, 3, 4]);
        let m = convergence_chunks(100_000);
        assert!(m.len() > 200 && m.len() <= CONVERGENCE_ROWS, "{}", m.len());
        assert_eq!((m[0], m[m.len() - 1]), (0, 99_999));
        assert!(m.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn convergence_table_agrees_across_variants_and_ends_at_the_whole_stream() {
        let d = StreamingStats.generate(250_000, 3).expect("generate");
        let given = [("chunk".to_string(), "100".to_string())];
        let p = Params::resolve(&StreamingStats.params(), &given).expect("params");
        let outs: Vec<Output> = crate::engine::ALL_VARIANTS
            .iter()
            .map(|&v| StreamingStats.run(v, &d, &p, &Ctx::detached(2)).expect("run"))
            .collect();
        for o in &outs[1..] {
            outs[0].agrees_with(o).expect("variants agree");
        }
        let (_, conv) = outs[0].table_of(CONVERGENCE).expect("convergence");
        let (_, stats) = outs[0].table_of(STATS).expect("stats");
        let last = conv.nrows() - 1;
        assert_eq!(conv.nrows(), convergence_chunks(2500).len());
        assert_eq!(conv[[0, 0]], 100.0);
        assert_eq!(conv[[last, 0]], 250_000.0);
        for c in 1..5 {
            assert!((conv[[last, c]] - stats[[0, c]]).abs() <= 1e-12 * stats[[0, c]].abs());
        }
    }

    /// The AVX2 intrinsics give the body's bits: every length (the tails), NaN, ±inf, ±0.
    #[test]
    fn of_chunk_avx2_equals_the_body_bit_for_bit() {
        let mut r = Rng::new(11);
        let mut x: Vec<f64> = (0..1003).map(|_| r.normal() * 1e3 + 7.0).collect();
        x[5] = -0.0;
        x[6] = 0.0;
        let mut y = x.clone();
        y[100] = f64::NAN;
        y[1001] = f64::INFINITY;
        y[2] = f64::NEG_INFINITY;
        for v in [&x, &y] {
            for n in [0, 1, 3, 4, 5, 8, 9, 15, 16, 17, 33, 1000, 1003] {
                let (a, b) = (Moments::of_chunk(&v[..n]), of_chunk_body(&v[..n]));
                let bits = |m: Moments| [m.mean, m.m2, m.min, m.max].map(f64::to_bits);
                assert_eq!((a.n, bits(a)), (b.n, bits(b)), "n={n}");
            }
        }
    }

    #[test]
    fn merge_equals_whole() {
        let x: Vec<f64> = (0..1001)
            .map(|i| (i as f64 * 0.7).sin() * 3.0 + 1e6)
            .collect();
        let whole = Moments::of_chunk(&x);
        let merged = x
            .chunks(37)
            .map(Moments::of_chunk)
            .fold(Moments::default(), |a, b| a.merge(&b));
        let mut w = Moments::default();
        x.iter().for_each(|v| w.push(*v));
        for m in [merged, w] {
            assert_eq!(m.n, whole.n);
            assert!((m.mean - whole.mean).abs() <= 1e-12 * whole.mean.abs());
            assert!((m.m2 - whole.m2).abs() <= 1e-9 * whole.m2);
            assert_eq!((m.min, m.max), (whole.min, whole.max));
        }
    }
}
