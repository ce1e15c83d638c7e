//! Chapter 7.5's chunked processing: select the bright objects (mag < limit) of a
//! catalog file too large to load, reading it chunk by chunk through a memory map and
//! releasing each chunk's pages after use so the resident memory stays bounded.
//! The file holds rows of (ra, dec, mag) as little-endian float64 (or float32).
//!
//! naive = the chapter's loop: copy each chunk out of the map, test row by row, append
//! every bright object to one growing list; vectorized = read each chunk with `pread` in
//! L2-sized blocks into a reused buffer (no page of the map faulted: see
//! [`Mapped::stream`]), keep the count, a magnitude histogram and the first `max_rows`
//! bright rows; parallel = chunks over rayon, merged in file order.

use crate::data::mapped::{release, stream_block};
use crate::data::rng::Rng;
use crate::data::{Catalog, Dataset, Dtype, Kind, Mapped};
use crate::engine::{
    wrong_input, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork,
    Tolerance, Variant,
};
#[cfg(target_arch = "x86_64")]
use crate::kernels::simd::has_avx2;
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::io::Write;

pub struct CatalogChunks;

/// Rows per random block of the generator.
const GEN_BLOCK: usize = 1 << 16;
/// Most rows `generate` writes (4.8 GB of float64).
const MAX_ROWS: usize = 200_000_000;
/// Histogram: 0.25-mag bins over [0, 40); values outside go to the end bins.
const HIST_LO: f64 = 0.0;
const HIST_WIDTH: f64 = 0.25;
const HIST_BINS: usize = 160;
/// Most samples of the resident memory in the `rss_trace` table.
const RSS_SAMPLES: usize = 200;
/// Summary: rows in the file, rows brighter than the limit, the file's size (MiB) and
/// the resident memory before the selection, the largest seen during it and after it (MB).
pub const N_ROWS: &str = "n_rows";
pub const N_BRIGHT: &str = "n_bright";
pub const FILE_MB: &str = "file_mb";
pub const CHUNKS: &str = "chunks";
pub const RSS_BEFORE_MB: &str = "rss_before_mb";
pub const MAX_RSS_DURING_MB: &str = "max_rss_during_mb";
pub const RSS_AFTER_MB: &str = "rss_mb";
/// The bright rows kept (index, ra, dec, mag).
pub const BRIGHT: &str = "bright";
/// Every row's magnitude in 0.25-mag bins (mag_lo, mag_hi, count).
pub const MAG_HISTOGRAM: &str = "mag_histogram";
/// The process's resident memory (MB) against the rows read so far: before the first
/// chunk and after up to 200 evenly spaced chunks (after the wave holding them, for
/// the parallel variant). Wall-clock memory differs from run to run, so the variants
/// compare only its shape.
pub const RSS_TRACE: &str = "rss_trace";

impl Analysis for CatalogChunks {
    fn id(&self) -> &'static str {
        "catalog-chunks"
    }
    fn title(&self) -> &'static str {
        "Chunked bright-object selection (memory map)"
    }
    fn section(&self) -> Section {
        Section::Memory
    }
    fn help(&self) -> &'static str {
        "Objects brighter than a limit in a catalog file read chunk by chunk through a memory map; resident memory stays bounded however large the file."
    }
    fn input_kind(&self) -> Kind {
        Kind::Mapped
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::float(
                "limit",
                "select objects with mag < limit",
                15.0,
                -50.0,
                100.0,
            ),
            ParamSpec::int("chunk", "rows per chunk", 100_000, 1, 100_000_000),
            ParamSpec::int(
                "max_rows",
                "bright objects kept in the result table (all are counted)",
                10_000,
                0,
                10_000_000,
            ),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "rows"
    }
    fn default_size(&self) -> usize {
        10_000_000
    }
    fn quick_size(&self) -> usize {
        100_000
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 0.231), (1.0, 0.0999), (1.0, 0.0665)],
            // Chunked through a memory map: bounded.
            mem: (0.0, 64e6),
            w_ref: 1e7,
        }
    }
    /// Write `size` rows (ra U[0,360), dec U[-90,90), mag U[10,20), as the chapter) to a
    /// temporary file, map it and remove its name: nothing is left behind on disk.
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        if size > MAX_ROWS {
            return Err(Error::param(format!(
                "catalog-chunks: {size} rows is more than the limit of {MAX_ROWS} for a generated file"
            )));
        }
        Ok(Dataset::Mapped(write_catalog_file(size, seed)?))
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::Mapped(m) => m.shape.first().copied().unwrap_or(0),
            Dataset::Catalog(c) => c.len(),
            _ => 0,
        }
    }
    /// The catalog is read once: its bytes (the mapped file, or 24 bytes a row in memory).
    fn bytes_moved(&self, input: &Dataset, _params: &Params) -> Option<f64> {
        source(self, input).ok().map(|s| s.bytes() as f64)
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        // Every row of the file read once and its magnitude compared: no arithmetic. The
        // bright rows kept are few and depend on the data, so they are not counted.
        source(self, input)
            .map(|s| vec![StageWork::moving("select", s.bytes() as f64)])
            .unwrap_or_default()
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let Setup {
            src,
            limit,
            chunk,
            max_rows,
        } = self.parse(input, params)?;
        let chunk = chunk.max(1);
        let n = src.rows();
        let n_chunks = n.div_ceil(chunk);
        let mut probe = RssProbe::new(n_chunks, chunk, n);
        probe.sample();
        let rss_before = probe.peak;
        probe.trace_start(rss_before);
        let res = stage!(
            ctx,
            "select",
            match variant {
                Variant::Naive => select_naive(&src, limit, chunk, max_rows, ctx, &mut probe)?,
                Variant::Vectorized =>
                    select_fast(&src, limit, chunk, max_rows, false, ctx, &mut probe)?,
                Variant::Parallel =>
                    select_fast(&src, limit, chunk, max_rows, true, ctx, &mut probe)?,
            }
        );
        ctx.progress(1.0);
        let (rss, hwm) = crate::sys::memory_mb();
        let mut bright = Array2::zeros((res.rows.len(), 4));
        for (i, r) in res.rows.iter().enumerate() {
            for c in 0..4 {
                bright[[i, c]] = r[c];
            }
        }
        let mut hist = Array2::zeros((HIST_BINS, 3));
        for b in 0..HIST_BINS {
            hist[[b, 0]] = HIST_LO + HIST_WIDTH * b as f64;
            hist[[b, 1]] = hist[[b, 0]] + HIST_WIDTH;
            hist[[b, 2]] = res.hist[b] as f64;
        }
        let mut trace = Array2::zeros((probe.trace.len(), 2));
        for (i, [rows_read, rss_mb]) in probe.trace.iter().enumerate() {
            trace[[i, 0]] = *rows_read;
            trace[[i, 1]] = *rss_mb;
        }
        let mb = |v: Option<f64>| v.map_or(serde_json::Value::Null, Into::into);
        Ok(Output::new()
            .sum(N_ROWS, n)
            .sum(N_BRIGHT, res.count)
            .sum(
                "bright_fraction",
                if n > 0 {
                    res.count as f64 / n as f64
                } else {
                    0.0
                },
            )
            .sum("limit", limit)
            .sum(CHUNKS, n_chunks)
            .sum("rows_in_table", res.rows.len())
            .sum(FILE_MB, src.bytes() as f64 / 1048576.0)
            .sum(RSS_BEFORE_MB, mb(rss_before))
            .sum(MAX_RSS_DURING_MB, mb(probe.peak))
            .sum(RSS_AFTER_MB, mb(rss))
            .sum("process_peak_rss_mb", mb(hwm))
            .table(
                BRIGHT,
                &["index", "ra", "dec", "mag"],
                bright,
                Tolerance::Exact,
            )
            .table(
                MAG_HISTOGRAM,
                &["mag_lo", "mag_hi", "count"],
                hist,
                Tolerance::Exact,
            )
            .table(
                RSS_TRACE,
                &["rows_read", "rss_mb"],
                trace,
                Tolerance::Abs(f64::INFINITY),
            ))
    }
}

/// What one run computes on.
struct Setup<'a> {
    src: Source<'a>,
    limit: f64,
    chunk: usize,
    max_rows: usize,
}

impl CatalogChunks {
    /// The catalog and the parameters, checked once: what `validate` reports and `run`
    /// computes on.
    fn parse<'a>(&self, input: &'a Dataset, params: &Params) -> Result<Setup<'a>> {
        Ok(Setup {
            src: source(self, input)?,
            limit: params.f64("limit")?,
            chunk: params.usize("chunk")?,
            max_rows: params.usize("max_rows")?,
        })
    }
}

/// Rows of (ra, dec, mag): a memory-mapped file or an in-memory catalog.
enum Source<'a> {
    Mapped { m: &'a Mapped, cols: usize },
    Catalog { c: &'a Catalog, mag: &'a [f64] },
}

fn source<'a>(a: &CatalogChunks, input: &'a Dataset) -> Result<Source<'a>> {
    if a.size_of(input) == 0 && matches!(input, Dataset::Mapped(_) | Dataset::Catalog(_)) {
        return Err(Error::input("catalog-chunks: the catalog has no rows"));
    }
    match input {
        Dataset::Mapped(m) => {
            let ok_dtype = matches!(m.dtype, Dtype::F64 | Dtype::F32);
            if m.shape.len() != 2 || m.shape[1] < 3 || !ok_dtype {
                return Err(Error::input(format!(
                    "catalog-chunks reads a 2-D float64/float32 file of rows (ra, dec, mag, ...); this one is {} {:?}",
                    m.dtype.name(),
                    m.shape
                )));
            }
            Ok(Source::Mapped {
                m,
                cols: m.shape[1],
            })
        }
        Dataset::Catalog(c) => {
            let mag = c.mag.as_ref().and_then(|m| m.as_slice()).ok_or_else(|| {
                Error::input("catalog-chunks: the catalog has no magnitude column")
            })?;
            Ok(Source::Catalog { c, mag })
        }
        other => Err(wrong_input(a, other)),
    }
}

impl Source<'_> {
    fn rows(&self) -> usize {
        match self {
            Source::Mapped { m, .. } => m.shape[0],
            Source::Catalog { c, .. } => c.len(),
        }
    }
    fn bytes(&self) -> usize {
        match self {
            Source::Mapped { m, .. } => m.bytes(),
            Source::Catalog { c, .. } => c.len() * 24,
        }
    }
    /// Rows r0..r1 as (ra, dec, mag) triples: zero-copy from an aligned float64 map,
    /// else copied into `buf`.
    fn chunk<'b>(&'b self, r0: usize, r1: usize, buf: &'b mut Vec<f64>) -> (&'b [f64], usize) {
        match self {
            Source::Mapped { m, cols } => {
                if m.dtype == Dtype::F64 {
                    let raw = &m.raw()[r0 * cols * 8..r1 * cols * 8];
                    // SAFETY: every bit pattern is a valid f64; align_to only reinterprets.
                    let (pre, mid, _) = unsafe { raw.align_to::<f64>() };
                    if pre.is_empty() && mid.len() == (r1 - r0) * cols {
                        return (mid, *cols);
                    }
                }
                m.read_into(r0 * cols, r1 * cols, buf);
                (buf.as_slice(), *cols)
            }
            Source::Catalog { c, mag } => {
                buf.clear();
                for i in r0..r1 {
                    buf.extend([c.ra[i], c.dec[i], mag[i]]);
                }
                (buf.as_slice(), 3)
            }
        }
    }
    /// Let the kernel drop the pages of rows r0..r1 (a no-op in memory).
    fn release(&self, r0: usize, r1: usize) {
        if let Source::Mapped { m, cols } = self {
            release(m, r0 * cols, r1 * cols);
        }
    }
}

/// Chunks between samples of the resident memory.
const PROBE_EVERY: usize = 8;

/// Largest VmRSS seen at the samples taken during this run (MB), and the trace of
/// VmRSS against the rows read at fixed chunk counts (the same rows for every variant).
struct RssProbe {
    peak: Option<f64>,
    /// Chunk counts after which the trace takes a sample (ascending).
    marks: Vec<usize>,
    /// The first mark not yet sampled.
    next: usize,
    chunk: usize,
    rows: usize,
    /// (rows read, VmRSS in MB or NaN where the OS does not report it).
    trace: Vec<[f64; 2]>,
}

impl RssProbe {
    /// A probe for `n_chunks` chunks of `chunk` rows (`rows` in all), sampling after
    /// up to [`RSS_SAMPLES`] evenly spaced chunk counts, the last chunk included.
    fn new(n_chunks: usize, chunk: usize, rows: usize) -> Self {
        let samples = n_chunks.min(RSS_SAMPLES);
        RssProbe {
            peak: None,
            marks: (1..=samples)
                .map(|k| (k * n_chunks).div_ceil(samples))
                .collect(),
            next: 0,
            chunk,
            rows,
            trace: Vec::with_capacity(samples + 1),
        }
    }

    fn sample(&mut self) -> Option<f64> {
        let (rss, _) = crate::sys::memory_mb();
        if let Some(r) = rss {
            self.peak = Some(self.peak.map_or(r, |p: f64| p.max(r)));
        }
        rss
    }

    /// The trace's first row: the memory before any chunk was read.
    fn trace_start(&mut self, rss: Option<f64>) {
        self.trace.push([0.0, rss.unwrap_or(f64::NAN)]);
    }

    /// `done` chunks are read: one sample for every mark reached since the last call.
    fn chunks_done(&mut self, done: usize) {
        if self.marks.get(self.next).is_none_or(|&m| m > done) {
            return;
        }
        let rss = self.sample().unwrap_or(f64::NAN);
        while let Some(&m) = self.marks.get(self.next).filter(|&&m| m <= done) {
            self.trace
                .push([(m * self.chunk).min(self.rows) as f64, rss]);
            self.next += 1;
        }
    }
}

/// What a selection returns (identical for every variant).
struct Selection {
    count: u64,
    hist: Vec<u64>,
    /// (index, ra, dec, mag) of the first `max_rows` bright objects.
    rows: Vec<[f64; 4]>,
}

/// Histogram bin of a magnitude: below the range -> 0, above -> the last bin, NaN ->
/// `HIST_BINS` (a discard slot past the histogram, for the counting loop; the other
/// loops skip NaN first). Clamped in floating point first, to [0, HIST_BINS − 1] where
/// truncation is a floor (floor(min(x, 159)) = min(floor(x), 159)), so one 32-bit
/// conversion gives the bin (a libm `floor` call without SSE4.1 was once the hot spot of
/// the scan). The width is a power of two, so multiplying by its reciprocal is exact: the
/// same bin as dividing, without a divide (~4.5 cycles a row of throughput, over half the
/// scan of a file in the page cache).
#[inline(always)]
fn bin_or_discard(mag: f64) -> usize {
    const _: () = assert!(HIST_WIDTH == 0.25, "INV_WIDTH is exact for a power of two only");
    const INV_WIDTH: f64 = 1.0 / HIST_WIDTH;
    let x = ((mag - HIST_LO) * INV_WIDTH)
        .max(0.0)
        .min((HIST_BINS - 1) as f64);
    if mag.is_nan() {
        HIST_BINS
    } else {
        x as i32 as usize
    }
}

/// The chapter's `process_large_catalog`: every bright object appended to one list.
fn select_naive(
    src: &Source,
    limit: f64,
    chunk: usize,
    max_rows: usize,
    ctx: &Ctx,
    probe: &mut RssProbe,
) -> Result<Selection> {
    struct Bright {
        index: usize,
        ra: f64,
        dec: f64,
        mag: f64,
    }
    let n = src.rows();
    let mut results: Vec<Bright> = Vec::new();
    let mut hist = vec![0u64; HIST_BINS];
    let mut buf = Vec::new();
    for (c, r0) in (0..n).step_by(chunk).enumerate() {
        ctx.check()?;
        if c % PROBE_EVERY == 0 {
            probe.sample();
        }
        let r1 = (r0 + chunk).min(n);
        // "Load" just this chunk: copy it out of the file.
        let (data, cols) = src.chunk(r0, r1, &mut buf);
        let chunk_data: Vec<f64> = data.to_vec();
        for i in 0..r1 - r0 {
            let mag = chunk_data[i * cols + 2];
            if !mag.is_nan() {
                hist[bin_or_discard(mag)] += 1;
            }
            if mag < limit {
                results.push(Bright {
                    index: r0 + i,
                    ra: chunk_data[i * cols],
                    dec: chunk_data[i * cols + 1],
                    mag,
                });
            }
        }
        drop(chunk_data);
        src.release(r0, r1);
        probe.chunks_done(c + 1);
        ctx.progress(r1 as f64 / n as f64);
    }
    probe.sample();
    Ok(Selection {
        count: results.len() as u64,
        hist,
        rows: results
            .iter()
            .take(max_rows)
            .map(|b| [b.index as f64, b.ra, b.dec, b.mag])
            .collect(),
    })
}

impl Selection {
    fn empty() -> Self {
        Selection {
            count: 0,
            hist: vec![0; HIST_BINS],
            rows: Vec::new(),
        }
    }

    /// Rows of `data` (`cols` values each, the first one row `first` of the file): the
    /// histogram and the count, and the bright rows while fewer than `keep` are kept;
    /// after that only counted, without a branch on the (unpredictable) selection.
    fn add_rows(&mut self, data: &[f64], cols: usize, first: usize, limit: f64, keep: usize) {
        // Rows looked at by the first loop (all of them unless `keep` rows were found).
        let mut done = 0;
        if self.rows.len() < keep {
            for (i, row) in data.chunks_exact(cols).enumerate() {
                done = i + 1;
                let mag = row[2];
                if !mag.is_nan() {
                    self.hist[bin_or_discard(mag)] += 1;
                }
                if mag < limit {
                    self.count += 1;
                    self.rows.push([(first + i) as f64, row[0], row[1], mag]);
                    if self.rows.len() >= keep {
                        break;
                    }
                }
            }
        }
        self.count_rows(&data[done * cols..], cols, limit);
    }

    /// Rows only counted (histogram and `mag < limit`) into four histograms, row `i` into
    /// `lanes[bin][i % 4]`: consecutive rows often fall into the same bin, and with one
    /// histogram each increment would wait for the previous one's store. A NaN magnitude
    /// goes to a discard slot (`HIST_BINS`) instead of a branch. Rows of three float64 go
    /// through AVX2 where the CPU has it, in two passes over blocks of [`BIN_BLOCK`] rows:
    /// the bins as bytes four rows at a time ([`bin_quads_avx2`]), then one increment a
    /// byte. On a block in L2, one pass that moved each vector's four bins to scalar
    /// registers took 0.89–1.47 ns a row and the two passes 0.71–1.05 ns (about half each),
    /// in the same sittings. The scalar loop took about 23 instructions, 1.6 ns, a row: more
    /// than the kernel's copy of the row.
    fn count_rows(&mut self, data: &[f64], cols: usize, limit: f64) {
        assert!(cols > 2, "a catalog row has ra, dec and mag");
        // 256 bins, so that any byte indexes it without a bounds check; bins past
        // HIST_BINS stay zero.
        let mut lanes = [[0u64; 4]; 256];
        let mut below = 0u64;
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if cols == 3 && has_avx2() {
            let quad_rows = data.len() / 12 * 4;
            let mut bins = [0u8; BIN_BLOCK];
            for block in data[..quad_rows * 3].chunks(BIN_BLOCK * 3) {
                let bins = &mut bins[..block.len() / 3];
                // SAFETY: the CPU supports AVX2 (checked at run time).
                below += unsafe { bin_quads_avx2(block, limit, bins) };
                for quad in bins.chunks_exact(4) {
                    for (l, &b) in quad.iter().enumerate() {
                        lanes[usize::from(b)][l] += 1;
                    }
                }
            }
            done = quad_rows;
        }
        for (i, row) in data[done * cols..].chunks_exact(cols).enumerate() {
            let mag = row[2];
            lanes[bin_or_discard(mag)][i & 3] += 1;
            below += u64::from(mag < limit);
        }
        for (h, l) in self.hist.iter_mut().zip(&lanes) {
            *h += l.iter().sum::<u64>();
        }
        self.count += below;
    }
}

/// Rows per block of [`Selection::count_rows`]' two passes: the block's bins (one byte a
/// row) stay in L1 between them.
const BIN_BLOCK: usize = 1024;

/// The first pass of [`Selection::count_rows`] for rows of three float64 (`block`, whole
/// quads of rows): `bins[r]` = row r's [`bin_or_discard`] (the same clamp and truncation,
/// so the same bins), four rows a vector. Returns how many rows have `mag < limit`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bin_quads_avx2(block: &[f64], limit: f64, bins: &mut [u8]) -> u64 {
    use std::arch::x86_64::*;
    const _: () = assert!(HIST_LO == 0.0, "the bin is mag × (1 / width), without a shift");
    const _: () = assert!(HIST_BINS < 256, "a bin and the discard slot fit a byte");
    let inv = _mm256_set1_pd(1.0 / HIST_WIDTH);
    let zero = _mm256_setzero_pd();
    let top = _mm256_set1_pd((HIST_BINS - 1) as f64);
    let discard = _mm_set1_epi32(HIST_BINS as i32);
    let lim = _mm256_set1_pd(limit);
    // Byte 0 of each 32-bit lane to the low four bytes.
    let low_bytes = _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    // Per lane, minus the number of rows below the limit (a true compare is all ones).
    let mut below = _mm256_setzero_si256();
    for (q, out) in block.chunks_exact(12).zip(bins.chunks_exact_mut(4)) {
        let p = q.as_ptr();
        // SAFETY: q holds 12 values, so p + 2..p + 12 are in it: two 128-bit loads each
        // (elements 2, 3, 8, 9 and 4, 5, 10, 11), blended to the magnitudes 2, 5, 8, 11.
        let m = unsafe {
            let a = _mm256_loadu2_m128d(p.add(8), p.add(2));
            let b = _mm256_loadu2_m128d(p.add(10), p.add(4));
            _mm256_blend_pd::<0b1010>(a, b)
        };
        // max_pd and min_pd return their second operand when one is NaN, so a NaN stays
        // NaN here, converts to 0x8000_0000, and the unsigned minimum sends it to the
        // discard slot; every other value is already in [0, HIST_BINS − 1].
        let x = _mm256_min_pd(top, _mm256_max_pd(zero, _mm256_mul_pd(m, inv)));
        let bin = _mm_min_epu32(_mm256_cvttpd_epi32(x), discard);
        let bytes = _mm_cvtsi128_si32(_mm_shuffle_epi8(bin, low_bytes));
        out.copy_from_slice(&bytes.to_le_bytes());
        let lt = _mm256_cmp_pd::<_CMP_LT_OQ>(m, lim);
        below = _mm256_sub_epi64(below, _mm256_castpd_si256(lt));
    }
    let mut per_lane = [0u64; 4];
    // SAFETY: per_lane is 32 bytes, the width of the store.
    unsafe { _mm256_storeu_si256(per_lane.as_mut_ptr().cast(), below) };
    per_lane.iter().sum()
}

/// One chunk scanned: a mapped file read in L2-sized blocks of whole rows
/// ([`Mapped::stream`]: `pread` into `buf`, no page of the map faulted), an in-memory
/// catalog in place.
fn scan(
    src: &Source,
    r0: usize,
    r1: usize,
    limit: f64,
    keep: usize,
    buf: &mut Vec<f64>,
) -> Result<Selection> {
    let mut sel = Selection::empty();
    match src {
        Source::Mapped { m, cols } => {
            let cols = *cols;
            m.stream(r0 * cols, r1 * cols, stream_block(cols), buf, |e, data| {
                sel.add_rows(data, cols, e / cols, limit, keep);
            })?;
        }
        Source::Catalog { .. } => {
            let (data, cols) = src.chunk(r0, r1, buf);
            sel.add_rows(data, cols, r0, limit, keep);
        }
    }
    Ok(sel)
}

fn select_fast(
    src: &Source,
    limit: f64,
    chunk: usize,
    max_rows: usize,
    parallel: bool,
    ctx: &Ctx,
    probe: &mut RssProbe,
) -> Result<Selection> {
    let n = src.rows();
    let starts: Vec<usize> = (0..n).step_by(chunk).collect();
    let mut total = Selection::empty();
    let merge = |total: &mut Selection, s: Selection| {
        total.count += s.count;
        for (t, h) in total.hist.iter_mut().zip(s.hist) {
            *t += h;
        }
        let room = max_rows - total.rows.len();
        total.rows.extend(s.rows.into_iter().take(room));
    };
    let wave = if parallel { ctx.threads * 4 } else { 1 };
    let mut buf = Vec::new();
    for (k, w) in starts.chunks(wave).enumerate() {
        ctx.check()?;
        if (k * wave) % PROBE_EVERY < wave {
            probe.sample();
        }
        let keep = max_rows - total.rows.len();
        let parts: Vec<Selection> = if parallel {
            w.par_iter()
                .map_init(Vec::new, |b, &r0| {
                    scan(src, r0, (r0 + chunk).min(n), limit, keep, b)
                })
                .collect::<Result<_>>()?
        } else {
            w.iter()
                .map(|&r0| scan(src, r0, (r0 + chunk).min(n), limit, keep, &mut buf))
                .collect::<Result<_>>()?
        };
        for p in parts {
            merge(&mut total, p);
        }
        probe.chunks_done(k * wave + w.len());
        if let Some(&last) = w.last() {
            ctx.progress((last + chunk).min(n) as f64 / n as f64);
        }
    }
    probe.sample();
    Ok(total)
}

/// `rows` catalog rows written to a temporary file as float64 (ra, dec, mag), mapped,
/// and unlinked. Block b of rows draws from `Rng::for_block(seed, b)`.
pub fn write_catalog_file(rows: usize, seed: u64) -> Result<Mapped> {
    if rows == 0 {
        return Err(Error::param(
            "catalog-chunks: the catalog needs at least one row",
        ));
    }
    Mapped::temp_f64("catalog", vec![rows, 3], |w| {
        let mut bytes = Vec::with_capacity(GEN_BLOCK * 24);
        for b in 0..rows.div_ceil(GEN_BLOCK) {
            let mut r = Rng::for_block(seed, b as u64);
            bytes.clear();
            for _ in b * GEN_BLOCK..((b + 1) * GEN_BLOCK).min(rows) {
                let ra = r.range(0.0, 360.0);
                let dec = r.range(-90.0, 90.0);
                let mag = r.range(10.0, 20.0);
                for v in [ra, dec, mag] {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
            w.write_all(&bytes)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_by_reciprocal_equals_bin_by_division() {
        let mut r = Rng::new(9);
        let mut mags: Vec<f64> = (0..100_000).map(|_| r.range(-5.0, 45.0)).collect();
        mags.extend([0.0, -0.0, 0.25, 39.75, 40.0, 1e300, -1e300, f64::INFINITY, 5e-324]);
        for m in mags {
            let by_division = (((m - HIST_LO) / HIST_WIDTH).max(0.0) as usize).min(HIST_BINS - 1);
            assert_eq!(bin_or_discard(m), by_division, "{m}");
        }
    }

    #[test]
    fn counting_rows_equals_binning_each_row() {
        // Magnitudes across and beyond the histogram, NaN, ±∞, −0 and the limit itself,
        // in rows of 3 (the AVX2 quads) and of 4 columns (scalar), with ragged ends.
        let mut r = Rng::new(11);
        let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 15.0, 39.99, 1e300];
        for cols in [3usize, 4] {
            for rows in [0usize, 1, 3, 4, 5, 2501, 4099] {
                let data: Vec<f64> = (0..rows * cols)
                    .map(|i| match (i % cols == 2, i % 7) {
                        (true, 0) => special[(i / 7) % special.len()],
                        _ => r.range(-5.0, 45.0),
                    })
                    .collect();
                let mut sel = Selection::empty();
                sel.count_rows(&data, cols, 15.0);
                let mut hist = vec![0u64; HIST_BINS];
                let mut count = 0;
                for row in data.chunks_exact(cols) {
                    if !row[2].is_nan() {
                        hist[bin_or_discard(row[2])] += 1;
                    }
                    count += u64::from(row[2] < 15.0);
                }
                assert_eq!((sel.hist, sel.count), (hist, count), "{cols} cols, {rows} rows");
            }
        }
    }

    #[test]
    fn rss_trace_has_the_same_rows_read_in_every_variant() {
        let d = CatalogChunks.generate(100_000, 5).expect("generate");
        let given = [("chunk".to_string(), "700".to_string())];
        let p = Params::resolve(&CatalogChunks.params(), &given).expect("params");
        let outs: Vec<Output> = crate::engine::ALL_VARIANTS
            .iter()
            .map(|&v| CatalogChunks.run(v, &d, &p, &Ctx::detached(2)).expect("run"))
            .collect();
        for o in &outs[1..] {
            outs[0].agrees_with(o).expect("variants agree");
        }
        // 143 chunks: the start and one sample after each chunk.
        let rows_read = |o: &Output| -> Vec<f64> {
            let (_, t) = o.table_of(RSS_TRACE).expect("rss trace");
            t.column(0).to_vec()
        };
        let first = rows_read(&outs[0]);
        assert_eq!(first.len(), 144);
        assert_eq!((first[0], first[143]), (0.0, 100_000.0));
        assert!(first.windows(2).all(|w| w[0] < w[1]));
        for o in &outs[1..] {
            assert_eq!(rows_read(o), first);
        }
    }
}
