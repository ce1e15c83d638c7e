//! Chapter 7.5's "choose the right dtype": the same frame held as f64, f32, i16 (scaled
//! with BSCALE/BZERO exactly as astropy's `scale('int16', 'minmax')` does), as a view of the f64
//! array vs an explicit copy, and memory-mapped from a temporary file. For each: bytes,
//! time to make it ("load"), time of one full pass (the sum of all pixels as f64) and the
//! largest difference from the f64 values.
//!
//! Artifacts: `layouts` (layout, bytes, max_abs_diff, pass_sum; compared across variants
//! with a relative tolerance of 1e-9 because the sums are added in different orders) and
//! `layout_timings` (layout, load_s, pass_s — wall times, which differ from run to run, so
//! they are not compared). Layout codes: 0 f64, 1 f32, 2 i16, 3 view, 4 copy, 5 mmap.
//!
//! Variants: naive indexes element by element (`a[[r, c]]`, one byte decode per pixel);
//! vectorized walks contiguous slices with 8 independent accumulators so LLVM uses SIMD
//! (and sums the i16 raw counts as integers, scaling once); parallel splits the passes
//! and conversions over rayon.

use super::ccd_pipeline::{check_frame, generate_frame, side_of};
use crate::data::mapped::map_file;
use crate::data::{Dataset, Frame, Kind};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
use crate::kernels::buffers::copy_checked;
use crate::kernels::stats::SUM_BLOCK;
use crate::{stage, Error, Result};
use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;
use std::io::Write;
use std::time::Instant;

pub struct MemoryLayout;

pub const LAYOUTS: [&str; 6] = ["f64", "f32", "i16", "view", "copy", "mmap"];
/// Table: layout, bytes, max_abs_diff, pass_sum (one row per [`LAYOUTS`] entry).
pub const LAYOUTS_TABLE: &str = "layouts";
/// Table: layout, load_s, pass_s (wall times).
pub const TIMINGS_TABLE: &str = "layout_timings";
/// Summary lists, one value per layout: seconds to make it and of one full pass.
pub const LOAD_S: &str = "load_s";
pub const PASS_S: &str = "pass_s";
/// Summary: seconds to write the frame to the file that is then memory-mapped.
pub const MMAP_WRITE_S: &str = "mmap_write_s";
/// Summary: the i16 layout's BSCALE (its step: the largest rounding error is half of it).
pub const I16_BSCALE: &str = "i16_bscale";
/// Index of the memory-mapped layout in [`LAYOUTS`] (its bytes are on disk).
pub const MMAP: usize = 5;

impl Analysis for MemoryLayout {
    fn id(&self) -> &'static str {
        "memory-layout"
    }
    fn title(&self) -> &'static str {
        "Memory layout (dtypes, views, memory maps)"
    }
    fn section(&self) -> Section {
        Section::Memory
    }
    fn help(&self) -> &'static str {
        "One frame as f64, f32, scaled i16, a view vs a copy, and memory-mapped from disk: bytes, load time, one full pass and the precision lost — choose the right dtype."
    }
    fn input_kind(&self) -> Kind {
        Kind::Frame
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![]
    }
    fn size_unit(&self) -> &'static str {
        "pixels per side"
    }
    fn default_size(&self) -> usize {
        4096
    }
    fn quick_size(&self) -> usize {
        512
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(2.0, 0.679), (2.0, 0.588), (2.0, 0.439)],
            // f64 + f32 + i16 copies of the frame (and a file on disk).
            mem: (2.0, 22.0),
            w_ref: 4096.0,
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        Ok(Dataset::Frame(generate_frame(size, seed)?))
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::Frame(f) => side_of(f),
            other => other.n_elements(),
        }
    }
    fn validate(&self, input: &Dataset, _params: &Params) -> Result<()> {
        self.parse(input).map(drop)
    }
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let Dataset::Frame(f) = input else {
            return Vec::new();
        };
        let n = f.data.len() as f64;
        // Each full pass reads the layout once and adds every pixel (as f64): n flops.
        let pass = |stage, bytes_per_pixel: f64, flops_per_pixel: f64| {
            StageWork::streaming(stage, bytes_per_pixel * n, flops_per_pixel * n)
        };
        vec![
            // Copies and conversions read the f64 frame and write the new layout.
            StageWork::moving("load_f64", 16.0 * n),
            pass("pass_f64", 8.0, 1.0),
            StageWork::moving("load_f32", 12.0 * n),
            pass("pass_f32", 4.0, 1.0),
            // (v − BZERO) / BSCALE per pixel (the rounding and clamp are not arithmetic).
            StageWork::streaming("load_i16", 10.0 * n, 2.0 * n),
            // BZERO + BSCALE·q added up: a multiply and two adds per pixel.
            pass("pass_i16", 2.0, 3.0),
            // The view moves nothing (undeclared); passing over it reads the f64 frame.
            pass("pass_view", 8.0, 1.0),
            StageWork::moving("load_copy", 16.0 * n),
            pass("pass_copy", 8.0, 1.0),
            // The frame read and written to the file.
            StageWork::moving("write_file", 16.0 * n),
            // Mapping moves nothing until the pass decodes the mapped bytes.
            pass("pass_mmap", 8.0, 1.0),
        ]
    }
    fn run(
        &self,
        variant: Variant,
        input: &Dataset,
        _params: &Params,
        ctx: &Ctx,
    ) -> Result<Output> {
        let f = self.parse(input)?;
        let mut m = Measured::default();
        let a64 = layout_f64(f, variant, &mut m, ctx)?;
        let x = a64
            .as_slice()
            .ok_or_else(|| Error::input("the frame is not contiguous"))?;
        let f64_frame = F64Frame {
            a64: &a64,
            x,
            variant,
        };
        layout_f32(&f64_frame, &mut m, ctx)?;
        let (bzero, bscale) = layout_i16(&f64_frame, &mut m, ctx)?;
        layout_view_and_copy(&f64_frame, &mut m, ctx)?;
        let write_s = layout_mmap(&f64_frame, &mut m, ctx)?;
        Ok(measured_output(&m, write_s, bzero, bscale))
    }
}

impl MemoryLayout {
    /// The frame, checked once: what `validate` reports and `run` computes on.
    fn parse<'a>(&self, input: &'a Dataset) -> Result<&'a Frame> {
        let f: &Frame = engine::input(self, input)?;
        check_frame(f)?;
        Ok(f)
    }
}

/// What each layout measured, one entry per row of [`LAYOUTS`].
#[derive(Default)]
struct Measured {
    bytes: [usize; 6],
    load: [f64; 6],
    pass: [f64; 6],
    sums: [f64; 6],
    diff: [f64; 6],
}

/// The f64 reference copy every other layout is made from and compared with.
#[derive(Clone, Copy)]
struct F64Frame<'a> {
    a64: &'a Array2<f64>,
    /// The same values as one contiguous slice.
    x: &'a [f64],
    variant: Variant,
}

fn timed(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// f64: an owned copy of the input (the reference values), and one pass over it.
fn layout_f64(f: &Frame, variant: Variant, m: &mut Measured, ctx: &Ctx) -> Result<Array2<f64>> {
    let n = f.data.len();
    let t = Instant::now();
    let a64: Array2<f64> = stage!(ctx, "load_f64", owned_checked(&f.data.view(), ctx)?);
    m.load[0] = timed(t);
    m.bytes[0] = n * 8;
    ctx.check()?;
    let x = a64
        .as_slice()
        .ok_or_else(|| Error::input("the frame is not contiguous"))?;
    let t = Instant::now();
    m.sums[0] = stage!(ctx, "pass_f64", pass_f64(a64.view(), x, variant));
    m.pass[0] = timed(t);
    ctx.check()?;
    ctx.progress(0.15);
    Ok(a64)
}

/// f32: half the bytes, and the precision it loses.
fn layout_f32(f: &F64Frame, m: &mut Measured, ctx: &Ctx) -> Result<()> {
    let F64Frame { a64, x, variant } = *f;
    let (rows, cols) = a64.dim();
    let n = rows * cols;
    let t = Instant::now();
    let a32: Vec<f32> = stage!(
        ctx,
        "load_f32",
        convert(a64, x, variant, ctx, |v| v as f32)?
    );
    m.load[1] = timed(t);
    m.bytes[1] = n * 4;
    ctx.check()?;
    let t = Instant::now();
    m.sums[1] = stage!(
        ctx,
        "pass_f32",
        sum_lanes(&a32, variant, cols, |v: &f32| *v as f64)
    );
    m.pass[1] = timed(t);
    ctx.check()?;
    m.diff[1] = max_diff(x, |i| a32[i] as f64);
    drop(a32);
    ctx.check()?;
    ctx.progress(0.3);
    Ok(())
}

/// The frame converted element by element: the naive variant indexes the 2-D array row by
/// row (checking for Cancel), the others map the contiguous slice (in parallel or not).
fn convert<T: Send>(
    a64: &Array2<f64>,
    x: &[f64],
    variant: Variant,
    ctx: &Ctx,
    f: impl Fn(f64) -> T + Sync + Send,
) -> Result<Vec<T>> {
    let (rows, cols) = a64.dim();
    Ok(match variant {
        Variant::Parallel => x.par_iter().map(|&v| f(v)).collect(),
        Variant::Naive => {
            let mut v = Vec::with_capacity(rows * cols);
            for r in 0..rows {
                if r % 64 == 0 {
                    ctx.check()?;
                }
                for c in 0..cols {
                    v.push(f(a64[[r, c]]));
                }
            }
            v
        }
        Variant::Vectorized => x.iter().map(|&v| f(v)).collect(),
    })
}

/// i16 with BSCALE/BZERO (astropy 'minmax'): a quarter of the bytes; returns the scaling.
fn layout_i16(f: &F64Frame, m: &mut Measured, ctx: &Ctx) -> Result<(f64, f64)> {
    let F64Frame { a64, x, variant } = *f;
    let (rows, cols) = a64.dim();
    let n = rows * cols;
    let (par, naive) = (variant == Variant::Parallel, variant == Variant::Naive);
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let (bzero, bscale) = i16_scaling(lo, hi);
    ctx.check()?;
    let quant = |v: f64| quantize_i16(v, bzero, bscale);
    let t = Instant::now();
    let a16: Vec<i16> = stage!(ctx, "load_i16", convert(a64, x, variant, ctx, quant)?);
    m.load[2] = timed(t);
    m.bytes[2] = n * 2;
    ctx.check()?;
    let t = Instant::now();
    m.sums[2] = stage!(ctx, "pass_i16", {
        if naive {
            let mut s = 0.0;
            for &q in &a16 {
                s += bzero + bscale * q as f64;
            }
            s
        } else {
            // integers add exactly: scale once
            let raw: i64 = if par {
                a16.par_chunks(SUM_BLOCK)
                    .map(|c| c.iter().map(|&q| q as i64).sum::<i64>())
                    .sum()
            } else {
                a16.iter().map(|&q| q as i64).sum()
            };
            n as f64 * bzero + bscale * raw as f64
        }
    });
    m.pass[2] = timed(t);
    ctx.check()?;
    m.diff[2] = max_diff(x, |i| bzero + bscale * a16[i] as f64);
    drop(a16);
    ctx.check()?;
    ctx.progress(0.45);
    Ok((bzero, bscale))
}

/// A view (no bytes of its own) against an explicit copy.
fn layout_view_and_copy(f: &F64Frame, m: &mut Measured, ctx: &Ctx) -> Result<()> {
    let F64Frame { a64, x, variant } = *f;
    let n = a64.len();
    let t = Instant::now();
    let view = stage!(ctx, "load_view", a64.slice(s![.., ..]));
    m.load[3] = timed(t);
    m.bytes[3] = 0;
    let t = Instant::now();
    m.sums[3] = stage!(ctx, "pass_view", {
        match view.as_slice() {
            Some(sl) => pass_f64(view, sl, variant),
            None => view.sum(),
        }
    });
    m.pass[3] = timed(t);
    ctx.check()?;
    let t = Instant::now();
    let copy: Array2<f64> = stage!(ctx, "load_copy", owned_checked(&view, ctx)?);
    m.load[4] = timed(t);
    m.bytes[4] = n * 8;
    ctx.check()?;
    let t = Instant::now();
    m.sums[4] = stage!(ctx, "pass_copy", {
        let sl = copy
            .as_slice()
            .ok_or_else(|| Error::input("copy is not contiguous"))?;
        pass_f64(copy.view(), sl, variant)
    });
    m.pass[4] = timed(t);
    ctx.check()?;
    m.diff[4] = max_diff(x, |i| copy.as_slice().map_or(f64::NAN, |c| c[i]));
    drop(copy);
    ctx.check()?;
    ctx.progress(0.6);
    Ok(())
}

/// Memory-mapped from a temporary file (f64 little-endian); returns the seconds the
/// write took.
fn layout_mmap(f: &F64Frame, m: &mut Measured, ctx: &Ctx) -> Result<f64> {
    let F64Frame { x, variant, .. } = *f;
    let n = x.len();
    let (par, naive) = (variant == Variant::Parallel, variant == Variant::Naive);
    let path = temp_path();
    let t = Instant::now();
    // A cancelled or failed write removes its half-written file.
    if let Err(e) = stage!(ctx, "write_file", write_le(&path, x, ctx)) {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    let write_s = timed(t);
    ctx.progress(0.8);
    let result = (|| -> Result<(f64, f64, f64, f64)> {
        let t = Instant::now();
        let map = stage!(ctx, "load_mmap", map_file(&path)?);
        let l = timed(t);
        if map.len() != n * 8 {
            return Err(Error::format(&path, "the mapped file has the wrong size"));
        }
        let t = Instant::now();
        let s = stage!(ctx, "pass_mmap", {
            let raw: &[u8] = &map;
            let dec = dec8;
            if naive {
                let mut s = 0.0;
                for i in 0..n {
                    s += dec(&raw[i * 8..i * 8 + 8]);
                }
                s
            } else if par {
                let parts: Vec<f64> = raw
                    .par_chunks(SUM_BLOCK * 8)
                    .map(|c| lanes_sum(c.chunks_exact(8).map(dec)))
                    .collect();
                parts.iter().sum()
            } else {
                let parts: Vec<f64> = raw
                    .chunks(SUM_BLOCK * 8)
                    .map(|c| lanes_sum(c.chunks_exact(8).map(dec)))
                    .collect();
                parts.iter().sum()
            }
        });
        let p = timed(t);
        ctx.check()?;
        let d = max_diff(x, |i| dec8(&map[i * 8..i * 8 + 8]));
        Ok((l, p, s, d))
    })();
    let _ = std::fs::remove_file(&path);
    let (l, p, s, d) = result?;
    m.diff[5] = d;
    m.load[5] = l;
    m.pass[5] = p;
    m.sums[5] = s;
    m.bytes[5] = n * 8;
    ctx.progress(1.0);
    Ok(write_s)
}

/// The measurements as the analysis' output: summary lists and the two tables.
fn measured_output(m: &Measured, write_s: f64, bzero: f64, bscale: f64) -> Output {
    let mut table = Array2::zeros((6, 4));
    let mut times = Array2::zeros((6, 3));
    for i in 0..6 {
        table[[i, 0]] = i as f64;
        table[[i, 1]] = m.bytes[i] as f64;
        table[[i, 2]] = m.diff[i];
        table[[i, 3]] = m.sums[i];
        times[[i, 0]] = i as f64;
        times[[i, 1]] = m.load[i];
        times[[i, 2]] = m.pass[i];
    }
    Output::new()
        .sum("layouts", LAYOUTS.to_vec())
        .sum("bytes", m.bytes.to_vec())
        .sum(LOAD_S, m.load.to_vec())
        .sum(PASS_S, m.pass.to_vec())
        .sum("max_abs_diff", m.diff.to_vec())
        .sum(MMAP_WRITE_S, write_s)
        .sum(I16_BSCALE, bscale)
        .sum("i16_bzero", bzero)
        .table(
            LAYOUTS_TABLE,
            &["layout", "bytes", "max_abs_diff", "pass_sum"],
            table,
            Tolerance::Rel(1e-9),
        )
        .table(
            TIMINGS_TABLE,
            &["layout", "load_s", "pass_s"],
            times,
            Tolerance::Abs(f64::INFINITY),
        )
}

/// astropy's `scale('int16', 'minmax')`: BZERO = (max + min) / 2,
/// BSCALE = (max − min) / (2¹⁶ − 2) (−32768 is left unused).
pub fn i16_scaling(lo: f64, hi: f64) -> (f64, f64) {
    let bscale = if hi > lo { (hi - lo) / 65534.0 } else { 1.0 };
    ((hi + lo) / 2.0, bscale)
}

/// Stored value as astropy writes it: `np.around((x - BZERO) / BSCALE)` (ties to even).
#[inline]
pub fn quantize_i16(v: f64, bzero: f64, bscale: f64) -> i16 {
    ((v - bzero) / bscale)
        .round_ties_even()
        .clamp(-32768.0, 32767.0) as i16
}

#[inline]
fn dec8(b: &[u8]) -> f64 {
    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Sum with 8 independent accumulators (SIMD-friendly without reassociation flags).
fn lanes_sum(it: impl Iterator<Item = f64>) -> f64 {
    let mut acc = [0.0f64; 8];
    for (i, v) in it.enumerate() {
        acc[i & 7] += v;
    }
    acc.iter().sum()
}

fn lanes_slice<T>(x: &[T], f: impl Fn(&T) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut ch = x.chunks_exact(8);
    for c in &mut ch {
        for k in 0..8 {
            acc[k] += f(&c[k]);
        }
    }
    let tail: f64 = ch.remainder().iter().map(&f).sum();
    acc.iter().sum::<f64>() + tail
}

/// One full pass (sum) over a slice of any element type.
fn sum_lanes<T: Sync>(x: &[T], variant: Variant, cols: usize, f: impl Fn(&T) -> f64 + Sync) -> f64 {
    match variant {
        Variant::Naive => {
            let rows = x.len() / cols.max(1);
            let mut s = 0.0;
            for r in 0..rows {
                for c in 0..cols {
                    s += f(&x[r * cols + c]);
                }
            }
            s
        }
        Variant::Vectorized => {
            let parts: Vec<f64> = x.chunks(SUM_BLOCK).map(|c| lanes_slice(c, &f)).collect();
            parts.iter().sum()
        }
        Variant::Parallel => {
            let parts: Vec<f64> = x
                .par_chunks(SUM_BLOCK)
                .map(|c| lanes_slice(c, &f))
                .collect();
            parts.iter().sum()
        }
    }
}

fn pass_f64(a: ArrayView2<f64>, x: &[f64], variant: Variant) -> f64 {
    if variant == Variant::Naive {
        let (rows, cols) = a.dim();
        let mut s = 0.0;
        for r in 0..rows {
            for c in 0..cols {
                s += a[[r, c]];
            }
        }
        s
    } else {
        sum_lanes(x, variant, a.ncols(), |v| *v)
    }
}

fn max_diff(x: &[f64], g: impl Fn(usize) -> f64) -> f64 {
    x.iter()
        .enumerate()
        .map(|(i, &v)| (g(i) - v).abs())
        .fold(0.0, f64::max)
}

fn temp_path() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let k = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "astroperf-memory-layout-{}-{k}-{nanos}.f64",
        std::process::id()
    ))
}

fn write_le(path: &std::path::Path, x: &[f64], ctx: &Ctx) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(SUM_BLOCK * 8);
    for c in x.chunks(SUM_BLOCK) {
        ctx.check()?;
        buf.clear();
        for v in c {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        w.write_all(&buf).map_err(|e| Error::io(path, e))?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// An owned standard-layout copy of `a`, as `to_owned()` makes it (one thread), made in
/// blocks that look at Cancel in between.
fn owned_checked(a: &ArrayView2<f64>, ctx: &Ctx) -> Result<Array2<f64>> {
    let v = match a.as_slice() {
        Some(x) => copy_checked(x, false, ctx)?,
        None => a.iter().copied().collect(),
    };
    Array2::from_shape_vec(a.dim(), v).map_err(|e| Error::input(format!("frame copy: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_hold_the_same_frame_within_their_precision() {
        let d = MemoryLayout.generate(100, 2).expect("gen");
        let p = Params::defaults(&MemoryLayout.params());
        let outs: Vec<Output> = crate::engine::ALL_VARIANTS
            .iter()
            .map(|&v| MemoryLayout.run(v, &d, &p, &Ctx::detached(2)).expect("run"))
            .collect();
        for o in &outs[1..] {
            outs[0].agrees_with(o).expect("agree");
        }
        let Dataset::Frame(f) = &d else {
            panic!("frame")
        };
        let exact: f64 = f.data.iter().sum();
        let (_, t) = outs[0].table_of("layouts").expect("table");
        for i in 0..6 {
            let sum = t[[i, 3]];
            let tol = match i {
                1 => 1e-6, // f32 rounding
                2 => 1e-4, // 16-bit quantisation
                _ => 1e-12,
            };
            assert!(
                (sum - exact).abs() <= tol * exact.abs(),
                "{} sum {sum}",
                LAYOUTS[i]
            );
        }
        assert_eq!(t[[0, 2]], 0.0);
        assert_eq!(t[[3, 2]], 0.0);
        assert_eq!(t[[4, 2]], 0.0);
        assert_eq!(t[[5, 2]], 0.0);
        let max = f.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(t[[1, 2]] > 0.0 && t[[1, 2]] <= max * 6e-8, "f32 diff");
        let bscale = outs[0].summary_f64("i16_bscale").expect("bscale");
        assert!(t[[2, 2]] <= 0.5 * bscale * (1.0 + 1e-9), "i16 diff");
        assert_eq!(t[[1, 1]] * 2.0, t[[0, 1]]);
        assert_eq!(t[[2, 1]] * 4.0, t[[0, 1]]);
        assert_eq!(t[[3, 1]], 0.0);
    }
}
