//! Chapter 7.4's shared-memory demo: the 3x3 median of one large frame computed in place,
//! in row bands, without a second copy of the frame. The frame is copied once into the
//! shared working buffer (the chapter's `SharedMemory` block); each band then saves only
//! its two halo rows (the original rows just outside it) and keeps a two-row rolling copy
//! of the rows it is about to overwrite. The summary reports the bytes allocated, next to
//! what an out-of-place filter would need.
//!
//! Variants: naive sorts each 3x3 window, band after band; vectorized uses the min/max
//! network, band after band; parallel runs the bands over rayon. All equal the plain
//! out-of-place 3x3 median (scipy `reflect` edges) exactly.

use super::ccd_pipeline::{check_frame, generate_frame, side_of, to_dyn, MAX_PIXELS};
use crate::data::{Dataset, Frame, Kind};
use crate::engine::work::F64;
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
use crate::kernels::buffers::{chunk_len, copy_checked};
use crate::kernels::edges::reflect;
use crate::kernels::image::{median3_row_fast, median3_row_sort, Median3Scratch};
use crate::{stage, Error, Result};
use rayon::prelude::*;

pub struct BandedMedian;

/// Artifact: the frame after the in-place 3×3 median (rows × cols, f64).
pub const MEDIAN: &str = "median";
/// Summary: the bands the frame was filtered in.
pub const BANDS: &str = "bands";
/// Summary: rows per band (the last band may have fewer).
pub const BAND_ROWS: &str = "band_rows";
/// Summary: bytes of the one shared copy of the frame.
pub const FRAME_BYTES: &str = "frame_bytes";
/// Summary: bytes of every band's two saved halo rows.
pub const HALO_BYTES: &str = "halo_bytes";
/// Summary: bytes of the working rows held at once (per band, times the bands at once).
pub const WORK_BYTES: &str = "work_bytes";
/// Summary: peak bytes held: the shared frame + halo rows + working rows.
pub const BYTES_ALLOCATED: &str = "bytes_allocated";
/// Summary: what an out-of-place filter holds: the frame and a second, output frame.
pub const OUT_OF_PLACE_BYTES: &str = "out_of_place_bytes";
/// Summary: (halo + working bytes) / frame bytes, the in-place filter's overhead.
pub const EXTRA_FRACTION: &str = "extra_fraction";

impl Analysis for BandedMedian {
    fn id(&self) -> &'static str {
        "banded-median"
    }
    fn title(&self) -> &'static str {
        "Banded in-place median (shared memory)"
    }
    fn section(&self) -> Section {
        Section::ParallelProcessing
    }
    fn help(&self) -> &'static str {
        "3x3 median of one large frame in place, in row bands with halo rows, no second copy of the frame; reports the bytes allocated."
    }
    fn input_kind(&self) -> Kind {
        Kind::Frame
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![ParamSpec::auto_int(
            "band_rows",
            "rows per band (automatic: 64 serially, a few bands per thread in parallel)",
            1,
            1_000_000,
        )]
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
            time: [(2.0, 1.230), (2.0, 0.1467), (2.0, 0.0775)],
            // In place, in bands: small.
            mem: (1.0, 4096.0),
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
    fn stage_work(&self, input: &Dataset, params: &Params) -> Vec<StageWork> {
        let Dataset::Frame(f) = input else {
            return Vec::new();
        };
        let (rows, cols) = f.data.dim();
        // The serial variants' band height (the parallel one's depends on the threads).
        let band = params
            .opt_i64("band_rows")
            .map_or(64.min(rows), |b| (b.max(1) as usize).min(rows));
        let pixels = (rows * cols) as f64;
        let halo_rows = 2.0 * rows.div_ceil(band.max(1)) as f64;
        vec![
            // The frame copied into the shared buffer: read and written once.
            StageWork::moving("share", 2.0 * F64 * pixels),
            // Two original rows per band saved: read and written.
            StageWork::moving("halos", 2.0 * F64 * halo_rows * cols as f64),
            // The 3×3 median in place compares only: every pixel read and written once;
            // a band's rows are what it keeps touching.
            StageWork::moving("median3", 2.0 * F64 * pixels)
                .reusing(F64 * ((band + 2) * cols) as f64),
        ]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let f = self.parse(input)?;
        let (rows, cols) = f.data.dim();
        let band = match params.opt_i64("band_rows") {
            Some(b) => (b.max(1) as usize).min(rows),
            None if variant == Variant::Parallel => chunk_len(rows, ctx.threads),
            None => 64.min(rows),
        };
        // 1. the one shared copy of the frame
        let mut shared: Vec<f64> = stage!(ctx, "share", {
            match f.data.as_slice() {
                // First touch of the fresh pages is most of the cost: the parallel variant
                // spreads it over threads. Blocks, so Cancel need not wait for 134 MB.
                Some(x) => copy_checked(x, variant == Variant::Parallel, ctx)?,
                None => f.data.iter().copied().collect(),
            }
        });
        ctx.check()?;
        let frame_bytes = shared.capacity() * 8;
        let n_bands = rows.div_ceil(band);
        // 2. halo rows of every band, saved before any band is overwritten
        let halos: Vec<(Vec<f64>, Vec<f64>)> = stage!(ctx, "halos", {
            (0..n_bands)
                .map(|b| {
                    let (r0, r1) = (b * band, ((b + 1) * band).min(rows));
                    let up = reflect(r0 as isize - 1, rows);
                    let down = reflect(r1 as isize, rows);
                    (
                        shared[up * cols..(up + 1) * cols].to_vec(),
                        shared[down * cols..(down + 1) * cols].to_vec(),
                    )
                })
                .collect()
        });
        let halo_bytes: usize = halos
            .iter()
            .map(|(a, b)| (a.capacity() + b.capacity()) * 8)
            .sum();
        let fast = variant != Variant::Naive;
        // 3. each band in place
        // (bytes of working rows per band; serial bands free theirs before the next one,
        // parallel ones hold at most one set per thread)
        let work: Vec<usize> = stage!(ctx, "median3", {
            if variant == Variant::Parallel {
                shared
                    .par_chunks_mut(band * cols)
                    .zip(halos.par_iter())
                    .map(|(b, (up, down))| {
                        ctx.check()?;
                        band_in_place(b, cols, up, down, fast, ctx)
                    })
                    .collect::<Result<Vec<usize>>>()?
            } else {
                let mut work = Vec::with_capacity(n_bands);
                for (i, (b, (up, down))) in shared.chunks_mut(band * cols).zip(&halos).enumerate() {
                    ctx.check()?;
                    work.push(band_in_place(b, cols, up, down, fast, ctx)?);
                    ctx.progress((i + 1) as f64 / n_bands as f64);
                }
                work
            }
        });
        let at_once = if variant == Variant::Parallel {
            ctx.threads.min(n_bands)
        } else {
            1
        };
        let work_bytes = work.iter().copied().max().unwrap_or(0) * at_once;
        drop(halos);
        ctx.progress(1.0);
        // peak bytes held: the shared frame, every band's halo rows, the working rows
        let extra = halo_bytes + work_bytes;
        Ok(Output::new()
            .sum("rows", rows)
            .sum("cols", cols)
            .sum(BANDS, n_bands)
            .sum(BAND_ROWS, band)
            .sum(FRAME_BYTES, frame_bytes)
            .sum(HALO_BYTES, halo_bytes)
            .sum(WORK_BYTES, work_bytes)
            .sum(BYTES_ALLOCATED, frame_bytes + extra)
            .sum(
                "bytes_allocated_total",
                frame_bytes + halo_bytes + work.iter().sum::<usize>(),
            )
            .sum(OUT_OF_PLACE_BYTES, 2 * frame_bytes)
            .sum(EXTRA_FRACTION, extra as f64 / frame_bytes as f64)
            .f64(MEDIAN, to_dyn(shared, rows, cols)?, Tolerance::Exact))
    }
}

impl BandedMedian {
    /// The frame, checked once: what `validate` reports and `run` computes on.
    fn parse<'a>(&self, input: &'a Dataset) -> Result<&'a Frame> {
        let f: &Frame = engine::input(self, input)?;
        if f.data.len() > MAX_PIXELS {
            return Err(Error::input("the frame is too large"));
        }
        check_frame(f)?;
        Ok(f)
    }
}

/// Overwrite a band (whole rows, `cols` wide) with its 3x3 median. `up`/`down` are the
/// original rows just outside the band (already reflected at the frame edges). Only two
/// rows are copied at a time: the original of the previous row and of the current one.
/// Returns the bytes of working memory it allocated.
/// Filter one band in place; checks for Cancel every 32 rows (a band can be half the
/// frame, 60+ ms at 4096²).
fn band_in_place(
    band: &mut [f64],
    cols: usize,
    up: &[f64],
    down: &[f64],
    fast: bool,
    ctx: &Ctx,
) -> Result<usize> {
    let n = band.len() / cols;
    let mut prev = up.to_vec();
    let mut cur = vec![0.0; cols];
    let mut s = Median3Scratch::new(if fast { cols } else { 0 });
    for r in 0..n {
        if r % 32 == 31 {
            ctx.check()?;
        }
        let (head, tail) = band.split_at_mut((r + 1) * cols);
        let row = &mut head[r * cols..];
        cur.copy_from_slice(row);
        let next: &[f64] = if r + 1 < n { &tail[..cols] } else { down };
        if fast {
            median3_row_fast(&prev, &cur, next, row, &mut s);
        } else {
            median3_row_sort(&prev, &cur, next, row);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Ok((prev.capacity() + cur.capacity()) * 8 + s.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::image::median3_rows;

    #[test]
    fn in_place_bands_equal_the_plain_median() {
        let d = BandedMedian.generate(61, 3).expect("gen");
        let Dataset::Frame(f) = &d else {
            panic!("frame")
        };
        let (rows, cols) = f.data.dim();
        let src: Vec<f64> = f.data.iter().copied().collect();
        let mut want = vec![0.0; rows * cols];
        median3_rows(&src, rows, cols, 0, &mut want, false);
        for band in ["1", "2", "7", "61", "100"] {
            let p = Params::resolve(
                &BandedMedian.params(),
                &[("band_rows".to_string(), band.to_string())],
            )
            .expect("params");
            for v in crate::engine::ALL_VARIANTS {
                let o = BandedMedian.run(v, &d, &p, &Ctx::detached(2)).expect("run");
                let got = o.f64_slice(MEDIAN).map(|s| s.to_vec());
                assert_eq!(got.as_deref(), Some(&want[..]), "{v} band {band}");
            }
        }
    }
}
