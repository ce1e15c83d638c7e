//! Exercise 7.2, the memory-efficient spectrum stack: the median spectrum (blocked by
//! wavelength, so all spectra never need to be in memory at once), outlier spectra by
//! their median absolute deviation from it, and an inverse-variance weighted coadd
//! that gives outliers zero weight. Works in memory or through a memory-mapped file
//! (mode=mmap writes the stack to a temporary file and reads it back in blocks, so the
//! resident memory stays bounded): the median's column blocks through the map, with the
//! pages of each band released after use; the deviations' and the coadd's blocks of
//! whole spectra with `pread` into a reused buffer ([`Mapped::read_block`]).
//!
//! naive = one wavelength column and one spectrum at a time, medians by full sort;
//! vectorized = blocks of columns transposed into a buffer, medians by selection;
//! parallel = the blocks over rayon.

use crate::data::mapped::{f64_view, release, stream_block};
use crate::data::{Dataset, Dtype, Kind, Mapped, SpectrumBatch};
use crate::engine::work::F64;
use crate::engine::{
    wrong_input, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork,
    Tolerance, Variant,
};
#[cfg(target_arch = "x86_64")]
use crate::kernels::simd::has_avx2;
use crate::{stage, Error, Result};
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use std::io::Write;

pub struct SpectrumStack;

/// Artifacts: the wavelength grid, the median spectrum, the weighted coadd, the outlier
/// spectra's indices and a table per spectrum (index, median_abs_dev, variance, weight).
pub const WAVELENGTH: &str = "wavelength";
pub const MEDIAN_SPECTRUM: &str = "median_spectrum";
pub const COADD: &str = "coadd";
pub const OUTLIERS: &str = "outliers";
pub const SPECTRA: &str = "spectra";

/// Pixels per spectrum of the generated stacks (the exercise's 3000).
const PIXELS: usize = 3000;
/// Most wavelengths per median block and spectra per row block.
const COL_BLOCK: usize = 128;
const ROW_BLOCK: usize = 32;
/// Largest generated stack kept in memory (values; 2 GB of f64).
const MAX_GENERATED: usize = 250_000_000;

impl Analysis for SpectrumStack {
    fn id(&self) -> &'static str {
        "spectrum-stack"
    }
    fn title(&self) -> &'static str {
        "Spectrum stack: median, outliers, coadd"
    }
    fn section(&self) -> Section {
        Section::Exercise2
    }
    fn help(&self) -> &'static str {
        "Median spectrum of a stack blocked by wavelength, outlier spectra by deviation from it, inverse-variance coadd; in memory or through a memory map with bounded RSS."
    }
    fn input_kind(&self) -> Kind {
        Kind::SpectrumBatch
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::float(
                "k",
                "a spectrum is an outlier when the median |flux - median spectrum| exceeds k",
                5.0,
                0.0,
                1.0e12,
            ),
            ParamSpec::choice(
                "mode",
                "memory: read the stack in memory; mmap: write it to a temporary file and read it back through a memory map",
                "memory",
                &["memory", "mmap"],
            ),
            ParamSpec::int(
                "block_mb",
                "memory budget of one block of wavelengths or spectra (MB)",
                32,
                1,
                4096,
            ),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "values"
    }
    fn default_size(&self) -> usize {
        1000 * PIXELS
    }
    fn quick_size(&self) -> usize {
        100 * PIXELS
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 0.164), (1.0, 40.7e-3), (1.0, 22.8e-3)],
            mem: (1.0, 24.0),
            w_ref: 3e6,
        }
    }
    fn call_bytes(&self, input: &Dataset, params: &Params, threads: usize) -> Option<f64> {
        // A memory-mapped stack is read block by block: the call holds its block budget
        // per thread and the per-wavelength results, not the stack (the page cache is the
        // kernel's to reclaim). Counting the file refused a 2.4 GB stack that needs 84 MB.
        let Dataset::Mapped(_) = input else {
            return None;
        };
        let size = self.size_of(input) as f64;
        let block = params.opt_i64("block_mb")?.max(1) as f64 * 1048576.0;
        Some((block * threads.max(1) as f64).min(8.0 * size) + 64.0 * size.sqrt())
    }
    /// `size / 3000` spectra of 3000 pixels (N(100, 1), every 100th one +50), as the exercise.
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        if size > MAX_GENERATED {
            // Too large to hold: written block by block to a temporary file and mapped.
            let count = size / PIXELS;
            return Ok(Dataset::Mapped(crate::data::generate::stack_file(
                count, PIXELS, seed, None,
            )?));
        }
        let pixels = PIXELS.min(size.max(3));
        let count = (size / pixels).max(3);
        Ok(Dataset::SpectrumBatch(stack_batch(count, pixels, seed)))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, params: &Params) -> Vec<StageWork> {
        let (rows, cols) = match input {
            Dataset::SpectrumBatch(b) => b.flux.dim(),
            Dataset::Mapped(m) if m.shape.len() == 2 => (m.shape[0], m.shape[1]),
            _ => return Vec::new(),
        };
        let (r, l) = (rows as f64, cols as f64);
        let flux = F64 * r * l;
        let mut work = vec![
            // Medians by sorting compare only; an even count averages the middle two
            // (an add and a multiply). The stack read, the median spectrum written.
            StageWork::streaming(
                "median",
                flux + F64 * l,
                if rows % 2 == 0 { 2.0 * l } else { 0.0 },
            ),
            // Per value the residual (1), its mean (1) and squared deviation (3); per
            // spectrum two divides and the middle of the sorted |residuals| (2). The
            // stack and the median read, deviation and variance written.
            StageWork::streaming(
                "deviations",
                flux + F64 * l + 16.0 * r,
                5.0 * r * l + 4.0 * r,
            ),
            // The weighted sum: a multiply and an add per value; stack and weights read,
            // the coadd written; the accumulator (one spectrum) is reused.
            StageWork::streaming("coadd", flux + F64 * r + F64 * l, 2.0 * r * l).reusing(F64 * l),
        ];
        if matches!(input, Dataset::SpectrumBatch(_)) && params.str("mode").ok() == Some("mmap") {
            // The stack read and written to the temporary file.
            work.push(StageWork::moving("write", 2.0 * flux));
        }
        work
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let stack = self.parse(input, params)?;
        let k = params.f64("k")?;
        let mmap = params.str("mode")? == "mmap";
        let budget = params.usize("block_mb")? * 1024 * 1024;
        let written; // keeps the temporary map alive for the run
        let (src, wavelength, mode) = match stack {
            Stack::Batch(b) if mmap => {
                written = stage!(ctx, "write", write_temp(b)?);
                (
                    Source::Mapped(&written),
                    b.wavelength.to_vec(),
                    "mmap (temporary file)",
                )
            }
            Stack::Batch(b) => {
                let s = b
                    .flux
                    .as_slice()
                    .ok_or_else(|| Error::input("the flux array is not contiguous"))?;
                (
                    Source::Memory {
                        data: s,
                        cols: b.flux.ncols(),
                    },
                    b.wavelength.to_vec(),
                    "memory",
                )
            }
            Stack::Mapped(m) => (
                Source::Mapped(m),
                (0..m.shape[1]).map(|i| i as f64).collect(),
                "mmap (input file)",
            ),
        };
        let (rows, cols) = src.dim();
        let (col_block, row_block) = match variant {
            Variant::Naive => (1, 1),
            // Cache-sized blocks, smaller still when the memory budget asks for it.
            _ => (
                (budget / (rows * 8)).clamp(1, COL_BLOCK).min(cols),
                (budget / (cols * 8)).clamp(1, ROW_BLOCK).min(rows),
            ),
        };
        let parallel = variant == Variant::Parallel;

        let median = stage!(ctx, "median", {
            median_spectrum(&src, col_block, variant, ctx)?
        });
        ctx.progress(0.4);
        let (dev, var) = stage!(ctx, "deviations", {
            row_deviations(&src, &median, row_block, variant, ctx)?
        });
        ctx.progress(0.7);
        let outliers: Vec<i64> = (0..rows)
            .filter(|&r| dev[r] > k)
            .map(|r| r as i64)
            .collect();
        let weights: Vec<f64> = (0..rows)
            .map(|r| if dev[r] > k { 0.0 } else { 1.0 / var[r] })
            .collect();
        let coadd = stage!(ctx, "coadd", {
            coadd(&src, &weights, row_block, parallel, ctx)?
        });
        ctx.progress(1.0);
        let (rss, hwm) = crate::sys::memory_mb();

        let mut row_stats = Array2::zeros((rows, 4));
        for r in 0..rows {
            row_stats[[r, 0]] = r as f64;
            row_stats[[r, 1]] = dev[r];
            row_stats[[r, 2]] = var[r];
            row_stats[[r, 3]] = weights[r];
        }
        let mb = |v: Option<f64>| v.map_or(serde_json::Value::Null, Into::into);
        Ok(Output::new()
            .sum("n_spectra", rows)
            .sum("n_pixels", cols)
            .sum("n_outliers", outliers.len())
            .sum(
                "outliers_first",
                outliers.iter().take(20).copied().collect::<Vec<_>>(),
            )
            .sum("mode", mode)
            .sum("stack_mb", (rows * cols * 8) as f64 / 1048576.0)
            .sum("wavelength_block", col_block)
            .sum("spectrum_block", row_block)
            .sum("rss_mb", mb(rss))
            .sum("peak_rss_mb", mb(hwm))
            .f64(
                WAVELENGTH,
                Array1::from(wavelength).into_dyn(),
                Tolerance::Exact,
            )
            .f64(
                MEDIAN_SPECTRUM,
                Array1::from(median).into_dyn(),
                Tolerance::Exact,
            )
            .f64(
                COADD,
                Array1::from(coadd).into_dyn(),
                Tolerance::Rel(1e-12),
            )
            .i64(OUTLIERS, Array1::from(outliers).into_dyn())
            .table(
                SPECTRA,
                &["index", "median_abs_dev", "variance", "weight"],
                row_stats,
                Tolerance::Rel(1e-10),
            ))
    }
}

/// The stack a run reads: spectra in memory, or a memory-mapped array.
enum Stack<'a> {
    Batch(&'a SpectrumBatch),
    Mapped(&'a Mapped),
}

impl SpectrumStack {
    /// The stack, checked once with the parameters: what `validate` reports and `run`
    /// computes on.
    fn parse<'a>(&self, input: &'a Dataset, params: &Params) -> Result<Stack<'a>> {
        let (stack, (rows, cols)) = match input {
            Dataset::SpectrumBatch(b) => {
                if b.wavelength.len() != b.flux.ncols() {
                    return Err(Error::input(format!(
                        "spectrum-stack: {} wavelengths for spectra of {} pixels",
                        b.wavelength.len(),
                        b.flux.ncols()
                    )));
                }
                if let Some(v) = b.flux.iter().find(|v| !v.is_finite()) {
                    return Err(Error::input(format!(
                        "spectrum-stack needs finite fluxes; found {v}"
                    )));
                }
                (Stack::Batch(b), b.flux.dim())
            }
            Dataset::Mapped(m) => {
                if m.shape.len() != 2 || !matches!(m.dtype, Dtype::F64 | Dtype::F32) {
                    return Err(Error::input(format!(
                        "spectrum-stack reads a 2-D float64/float32 array (spectra × pixels), not {} {:?}",
                        m.dtype.name(),
                        m.shape
                    )));
                }
                (Stack::Mapped(m), (m.shape[0], m.shape[1]))
            }
            other => return Err(wrong_input(self, other)),
        };
        if rows == 0 || cols == 0 {
            return Err(Error::input("spectrum-stack: the stack is empty"));
        }
        params.str("mode")?;
        params.f64("k")?;
        params.usize("block_mb")?;
        Ok(stack)
    }
}

/// The stack, in memory or memory-mapped (row-major, spectra × pixels).
enum Source<'a> {
    Memory { data: &'a [f64], cols: usize },
    Mapped(&'a Mapped),
}

impl Source<'_> {
    fn dim(&self) -> (usize, usize) {
        match self {
            Source::Memory { data, cols } => (data.len() / cols.max(&1), *cols),
            Source::Mapped(m) => (m.shape[0], m.shape[1]),
        }
    }

    /// Columns `c0..c1` of every spectrum, column-major into `out` (len (c1-c0)·rows).
    /// A block of a large mapped stack reads the whole file, so Cancel is checked per band.
    fn read_cols(&self, c0: usize, c1: usize, out: &mut Vec<f64>, ctx: &Ctx) -> Result<()> {
        let (rows, cols) = self.dim();
        let w = c1 - c0;
        out.clear();
        out.resize(w * rows, 0.0);
        match self {
            Source::Memory { data, .. } => {
                for r in 0..rows {
                    let row = &data[r * cols + c0..r * cols + c1];
                    for (j, v) in row.iter().enumerate() {
                        out[j * rows + r] = *v;
                    }
                }
            }
            Source::Mapped(m) if m.reads_with_pread() => {
                // One `pread` of the block's columns per spectrum: the pass reads w of
                // every `cols` values, and faulting the map for them set and cleared the
                // page-table entries of the whole file once per column block (73 blocks
                // of a 2.4 GB stack at block_mb=32: 16.6 s of page-table work).
                let mut row = Vec::with_capacity(w);
                for r0 in (0..rows).step_by(4096) {
                    ctx.check()?;
                    for r in r0..(r0 + 4096).min(rows) {
                        m.read_block(r * cols + c0, r * cols + c1, &mut row)?;
                        for (j, v) in row.iter().enumerate() {
                            out[j * rows + r] = *v;
                        }
                    }
                }
            }
            Source::Mapped(m) => {
                // Bands of spectra (about 4 MB) read and then released, so the resident
                // pages of the file stay bounded however large it is.
                let band = (4 << 20) / (cols * m.dtype.size()).max(1) + 1;
                let view = f64_view(m);
                for r0 in (0..rows).step_by(band) {
                    ctx.check()?;
                    let r1 = (r0 + band).min(rows);
                    for r in r0..r1 {
                        match view {
                            Some(d) => {
                                for (j, v) in d[r * cols + c0..r * cols + c1].iter().enumerate() {
                                    out[j * rows + r] = *v;
                                }
                            }
                            None => {
                                for j in 0..w {
                                    out[j * rows + r] = m.get(r * cols + c0 + j);
                                }
                            }
                        }
                    }
                    release(m, r0 * cols, r1 * cols);
                }
            }
        }
        Ok(())
    }

    /// Spectra `r0..r1` in order, handed to `f` as (first spectrum, those spectra
    /// row-major): in memory as one slice; a mapped file in reads of whole spectra of
    /// about 256 KiB ([`stream_block`], [`Mapped::stream`]: `pread` into `buf`, still in
    /// L2 when `f` reads it; one read of a whole block of 32 spectra, 768 KB, did not stay
    /// there).
    fn for_rows(
        &self,
        r0: usize,
        r1: usize,
        buf: &mut Vec<f64>,
        mut f: impl FnMut(usize, &[f64]),
    ) -> Result<()> {
        let (_, cols) = self.dim();
        match self {
            Source::Memory { data, .. } => {
                f(r0, &data[r0 * cols..r1 * cols]);
                Ok(())
            }
            Source::Mapped(m) => {
                m.stream(r0 * cols, r1 * cols, stream_block(cols), buf, |e, d| {
                    f(e / cols, d)
                })
            }
        }
    }

    /// Spectra `r0..r1`, row-major into `out`: a mapped file is read with `pread`
    /// ([`Mapped::read_block`]: no page of the map faulted or left resident).
    fn read_rows(&self, r0: usize, r1: usize, out: &mut Vec<f64>) -> Result<()> {
        let (_, cols) = self.dim();
        match self {
            Source::Memory { data, .. } => {
                out.clear();
                out.extend_from_slice(&data[r0 * cols..r1 * cols]);
                Ok(())
            }
            Source::Mapped(m) => m.read_block(r0 * cols, r1 * cols, out),
        }
    }
}

/// Population variance, two-pass, four accumulators per pass (SIMD-friendly).
fn variance_lanes(x: &[f64]) -> f64 {
    let lanes = |f: &dyn Fn(f64) -> f64| {
        let mut s = [0.0f64; 4];
        let mut it = x.chunks_exact(4);
        for c in &mut it {
            for l in 0..4 {
                s[l] += f(c[l]);
            }
        }
        for &v in it.remainder() {
            s[0] += f(v);
        }
        (s[0] + s[1]) + (s[2] + s[3])
    };
    let n = x.len() as f64;
    let mean = lanes(&|v| v) / n;
    lanes(&|v| (v - mean) * (v - mean)) / n
}

/// numpy's median: the middle value, or the mean of the two middle values.
fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The same value by selection, O(n) (reorders `v`).
fn median_select(v: &mut [f64]) -> f64 {
    let n = v.len();
    let (lo, mid, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let m = *mid;
    if n % 2 == 1 {
        m
    } else {
        let below = lo.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + m) / 2.0
    }
}

fn median_spectrum(src: &Source, cb: usize, variant: Variant, ctx: &Ctx) -> Result<Vec<f64>> {
    let (rows, cols) = src.dim();
    let mut med = vec![0.0; cols];
    let blocks: Vec<(usize, usize)> = (0..cols)
        .step_by(cb)
        .map(|c0| (c0, (c0 + cb).min(cols)))
        .collect();
    let do_block = |(c0, c1): (usize, usize), buf: &mut Vec<f64>, out: &mut [f64]| {
        src.read_cols(c0, c1, buf, ctx)?;
        for (j, col) in buf.chunks_mut(rows).enumerate() {
            if j % 8 == 7 {
                ctx.check()?;
            }
            out[j] = match variant {
                Variant::Naive => {
                    col.sort_unstable_by(f64::total_cmp);
                    median_sorted(col)
                }
                _ => median_select(col),
            };
        }
        Ok::<(), Error>(())
    };
    if variant == Variant::Parallel {
        // One transposed buffer per worker thread, reused across blocks (rayon's
        // `*_init` would make one per split job: a fresh, page-faulting allocation of
        // the whole budget each time).
        let pool: Vec<std::sync::Mutex<Vec<f64>>> = (0..ctx.threads.max(1))
            .map(|_| std::sync::Mutex::new(Vec::new()))
            .collect();
        let mut parts: Vec<&mut [f64]> = med.chunks_mut(cb).collect();
        parts
            .par_iter_mut()
            .zip(blocks.par_iter())
            .try_for_each(|(out, &b)| {
                ctx.check()?;
                let slot = rayon::current_thread_index().unwrap_or(0) % pool.len();
                let mut buf = pool[slot].lock().unwrap_or_else(|e| e.into_inner());
                do_block(b, &mut buf, out)
            })?;
    } else {
        let mut buf = Vec::new();
        for (out, &b) in med.chunks_mut(cb).zip(&blocks) {
            ctx.check()?;
            do_block(b, &mut buf, out)?;
            ctx.progress(0.4 * b.1 as f64 / cols as f64);
        }
    }
    Ok(med)
}

/// Per spectrum: median |flux - median| and the variance (ddof 0) of flux - median.
fn row_deviations(
    src: &Source,
    med: &[f64],
    rb: usize,
    variant: Variant,
    ctx: &Ctx,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (rows, cols) = src.dim();
    let mut dev = vec![0.0; rows];
    let mut var = vec![0.0; rows];
    let do_block = |r0: usize, buf: &mut Vec<f64>, d: &mut [f64], v: &mut [f64]| {
        let r1 = r0 + d.len();
        src.read_rows(r0, r1, buf)?;
        for (i, row) in buf.chunks_mut(cols).enumerate() {
            if variant == Variant::Naive {
                let resid: Vec<f64> = row.iter().zip(med).map(|(f, m)| f - m).collect();
                let mean = resid.iter().sum::<f64>() / cols as f64;
                let ss: f64 = resid.iter().map(|x| (x - mean) * (x - mean)).sum();
                v[i] = ss / cols as f64;
                let mut a: Vec<f64> = resid.iter().map(|x| x.abs()).collect();
                a.sort_unstable_by(f64::total_cmp);
                d[i] = median_sorted(&a);
            } else {
                for (f, m) in row.iter_mut().zip(med) {
                    *f -= m;
                }
                v[i] = variance_lanes(row);
                for f in row.iter_mut() {
                    *f = f.abs();
                }
                d[i] = median_select(row);
            }
        }
        Ok::<(), Error>(())
    };
    if variant == Variant::Parallel {
        dev.par_chunks_mut(rb)
            .zip(var.par_chunks_mut(rb))
            .enumerate()
            .try_for_each_init(Vec::new, |buf, (b, (d, v))| {
                ctx.check()?;
                do_block(b * rb, buf, d, v)
            })?;
    } else {
        let mut buf = Vec::new();
        for (b, (d, v)) in dev.chunks_mut(rb).zip(var.chunks_mut(rb)).enumerate() {
            ctx.check()?;
            do_block(b * rb, &mut buf, d, v)?;
            ctx.progress(0.4 + 0.3 * (b * rb) as f64 / rows as f64);
        }
    }
    Ok((dev, var))
}

/// Σ_r w_r·flux_r / Σ_r w_r, accumulated per block of spectra (blocks added in order).
fn coadd(src: &Source, w: &[f64], rb: usize, parallel: bool, ctx: &Ctx) -> Result<Vec<f64>> {
    let (rows, cols) = src.dim();
    let block_sum = |r0: usize, buf: &mut Vec<f64>| {
        let r1 = (r0 + rb).min(rows);
        let mut acc = vec![0.0; cols];
        src.for_rows(r0, r1, buf, |first, d| {
            add_weighted_rows(&mut acc, d, &w[first..r1]);
        })?;
        Ok::<Vec<f64>, Error>(acc)
    };
    let starts: Vec<usize> = (0..rows).step_by(rb).collect();
    let mut total = vec![0.0; cols];
    if parallel {
        // Waves of blocks so that only a few partial sums are alive at once.
        for wave in starts.chunks(ctx.threads * 8) {
            ctx.check()?;
            let parts: Vec<Vec<f64>> = wave
                .par_iter()
                .map_init(Vec::new, |buf, &r0| block_sum(r0, buf))
                .collect::<Result<_>>()?;
            for p in parts {
                for (t, v) in total.iter_mut().zip(p) {
                    *t += v;
                }
            }
        }
    } else {
        let mut buf = Vec::new();
        for &r0 in &starts {
            ctx.check()?;
            let p = block_sum(r0, &mut buf)?;
            for (t, v) in total.iter_mut().zip(p) {
                *t += v;
            }
            ctx.progress(0.7 + 0.3 * r0 as f64 / rows as f64);
        }
    }
    let wsum: f64 = w.iter().sum();
    for t in &mut total {
        *t /= wsum;
    }
    Ok(total)
}

/// `acc[j] += w_r · row_r[j]` for every row of `d` (spectra of `acc.len()` pixels) whose
/// weight is not zero, in row order. Four rows go through `acc` at once, so `acc[j]` is
/// loaded and stored once per four rows instead of once per row (the loop was bound by
/// those loads and stores, ~0.3 ns a value, as long as the kernel's copy of the value);
/// the additions are the same and in the same order, so the sums are the same bits.
/// Compiled for AVX2 where the CPU has it (the same operations, four columns at a time).
fn add_weighted_rows(acc: &mut [f64], d: &[f64], w: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked at run time).
        return unsafe { add_weighted_rows_avx2(acc, d, w) };
    }
    add_weighted_rows_body(acc, d, w);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_weighted_rows_avx2(acc: &mut [f64], d: &[f64], w: &[f64]) {
    add_weighted_rows_body(acc, d, w);
}

#[inline(always)]
fn add_weighted_rows_body(acc: &mut [f64], d: &[f64], w: &[f64]) {
    let cols = acc.len();
    let mut held: [(&[f64], f64); 4] = [(&[], 0.0); 4];
    let mut n_held = 0;
    for (row, &wr) in d.chunks_exact(cols).zip(w) {
        // A zero weight (an outlier) is skipped, not added as 0·flux (a NaN would stay).
        if wr == 0.0 {
            continue;
        }
        held[n_held] = (row, wr);
        n_held += 1;
        if n_held == 4 {
            let [(r0, w0), (r1, w1), (r2, w2), (r3, w3)] = held;
            let (r0, r1, r2, r3) = (&r0[..cols], &r1[..cols], &r2[..cols], &r3[..cols]);
            for j in 0..cols {
                let mut a = acc[j];
                a += w0 * r0[j];
                a += w1 * r1[j];
                a += w2 * r2[j];
                a += w3 * r3[j];
                acc[j] = a;
            }
            n_held = 0;
        }
    }
    for &(row, wr) in &held[..n_held] {
        for (a, f) in acc.iter_mut().zip(row) {
            *a += wr * f;
        }
    }
}

/// Write the stack to a temporary file, map it and remove the file's name (the map
/// keeps the data alive until it is dropped; nothing is left behind).
fn write_temp(b: &SpectrumBatch) -> Result<Mapped> {
    Mapped::temp_f64("stack", vec![b.flux.nrows(), b.flux.ncols()], |w| {
        for v in b.flux.iter() {
            w.write_all(&v.to_le_bytes())?;
        }
        Ok(())
    })
}

/// The exercise's stack: `count` spectra of `pixels` pixels on 4000-7000 Å, flux
/// N(100, 1), every 100th spectrum (0, 100, ...) raised by 50. One random stream per spectrum.
pub fn stack_batch(count: usize, pixels: usize, seed: u64) -> SpectrumBatch {
    let step = if pixels > 1 {
        3000.0 / (pixels - 1) as f64
    } else {
        0.0
    };
    let wavelength = Array1::from_iter((0..pixels).map(|i| 4000.0 + step * i as f64));
    let mut flux = Array2::zeros((count, pixels));
    if let Some(s) = flux.as_slice_mut() {
        for (i, row) in s.chunks_mut(pixels.max(1)).enumerate() {
            crate::data::generate::stack_row(i, seed, row);
        }
    }
    SpectrumBatch { wavelength, flux }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::Rng;

    #[test]
    fn four_rows_at_once_add_the_same_bits_as_one_row_at_a_time() {
        // 11 spectra of 13 pixels (ragged against 4 rows and 4 lanes), two zero-weight
        // rows, one of them NaN (skipped, not added as 0·NaN).
        let cols = 13;
        let mut r = Rng::new(3);
        let mut d: Vec<f64> = (0..11 * cols).map(|_| r.normal() * 1e3).collect();
        d[4 * cols + 2] = f64::NAN;
        let w: Vec<f64> = (0..11)
            .map(|i| if i == 4 || i == 7 { 0.0 } else { r.range(0.1, 5.0) })
            .collect();
        for rows in [0, 1, 3, 4, 5, 9, 11] {
            let mut want = vec![0.5; cols];
            for (row, &wr) in d[..rows * cols].chunks(cols).zip(&w) {
                if wr != 0.0 {
                    for (a, f) in want.iter_mut().zip(row) {
                        *a += wr * f;
                    }
                }
            }
            let mut got = vec![0.5; cols];
            add_weighted_rows(&mut got, &d[..rows * cols], &w);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{rows} rows");
            let mut body = vec![0.5; cols];
            add_weighted_rows_body(&mut body, &d[..rows * cols], &w);
            assert_eq!(bits(&body), bits(&want), "{rows} rows, portable");
        }
    }

    #[test]
    fn selection_median_equals_sorted_median() {
        let mut r = Rng::new(3);
        for n in [1, 2, 3, 4, 10, 11] {
            let v: Vec<f64> = (0..n).map(|_| (r.normal() * 3.0).round()).collect();
            let mut s = v.clone();
            s.sort_by(f64::total_cmp);
            let mut c = v.clone();
            assert_eq!(median_select(&mut c), median_sorted(&s), "n={n}");
        }
    }

    /// A stack written block by block to an NPY file (and to an unnamed temporary file)
    /// maps back to exactly the in-memory stack, and every variant gives the same median,
    /// outliers and coadd from the map as from memory.
    #[test]
    fn stack_file_maps_back_to_the_in_memory_stack() {
        let (count, pixels, seed) = (301, 40, 7);
        let mem = stack_batch(count, pixels, seed);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stack.npy");
        let named = crate::data::generate::stack_file(count, pixels, seed, Some(&path))
            .expect("stack file");
        let temp = crate::data::generate::stack_file(count, pixels, seed, None).expect("temp");
        let flat = mem.flux.as_slice().expect("contiguous");
        for m in [&named, &temp] {
            assert_eq!(m.shape, vec![count, pixels]);
            assert_eq!(f64_view(m).expect("aligned f64"), flat);
        }
        // numpy's view of the same file: the header parses back through our NPY loader.
        let loaded = crate::data::load::load(&path).expect("load npy");
        assert_eq!(loaded.data.n_elements(), count * pixels);

        let a = SpectrumStack;
        let p = Params::defaults(&a.params());
        let ctx = Ctx::detached(2);
        let want = a
            .run(Variant::Vectorized, &Dataset::SpectrumBatch(mem), &p, &ctx)
            .expect("memory");
        for v in [Variant::Naive, Variant::Vectorized, Variant::Parallel] {
            let got = a
                .run(v, &Dataset::Mapped(named.clone()), &p, &ctx)
                .expect("mapped");
            for name in ["median_spectrum", "coadd", "outliers"] {
                let pick = |o: &Output| {
                    let mut o2 = Output::new();
                    o2.artifacts = o
                        .artifacts
                        .iter()
                        .filter(|x| x.name == name)
                        .cloned()
                        .collect();
                    o2
                };
                pick(&got).agrees_with(&pick(&want)).expect(name);
            }
            assert_eq!(got.summary_f64("n_outliers"), Some(4.0));
        }
    }
}
