//! Chapter 7.1's profiling demo: every pairwise Euclidean distance of a 2-D point set,
//! in condensed order (i < j), as `scipy.spatial.distance.pdist` returns them. A
//! memory-write-bound kernel: N(N-1)/2 results from only 2N inputs.

use super::{wrong_input, Analysis, Ctx, Output, ParamSpec, Params, Tolerance, Variant};
use crate::data::{generate, Dataset};
use crate::{stage, Error, Result};
use ndarray::Array1;
use rayon::prelude::*;

pub struct PairwiseDistances;

/// Largest N accepted: N(N-1)/2 f64s must stay a sane allocation (50,000 -> 10 GB).
const MAX_POINTS: usize = 50_000;

impl Analysis for PairwiseDistances {
    fn id(&self) -> &'static str {
        "pairwise-distances"
    }
    fn title(&self) -> &'static str {
        "Pairwise distances"
    }
    fn section(&self) -> &'static str {
        "7.1 Profiling"
    }
    fn help(&self) -> &'static str {
        "All N(N-1)/2 distances between 2-D points (condensed, i<j): bound by writing the output, not by arithmetic."
    }
    fn input_kind(&self) -> &'static str {
        "points"
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![]
    }
    fn size_unit(&self) -> &'static str {
        "points"
    }
    fn default_size(&self) -> usize {
        2_000
    }
    fn quick_size(&self) -> usize {
        300
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::Points(p) => p.xy.nrows(),
            other => other.n_elements(),
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        Ok(Dataset::Points(generate::points(size, seed)))
    }
    fn validate(&self, input: &Dataset, _params: &Params) -> Result<()> {
        let Dataset::Points(p) = input else {
            return Err(wrong_input(self, input));
        };
        let n = p.xy.nrows();
        if p.xy.ncols() != 2 {
            return Err(Error::input(format!(
                "points need 2 columns (x, y), not {}",
                p.xy.ncols()
            )));
        }
        if n < 2 {
            return Err(Error::input(format!(
                "{n} points give no pairs; at least 2 are needed"
            )));
        }
        if n > MAX_POINTS {
            return Err(Error::input(format!(
                "{n} points would need {:.1} GB of distances; at most {MAX_POINTS} points are accepted",
                (n * (n - 1) / 2 * 8) as f64 / 1e9
            )));
        }
        Ok(())
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        self.validate(input, params)?;
        let Dataset::Points(p) = input else {
            return Err(wrong_input(self, input));
        };
        let n = p.xy.nrows();
        let (x, y): (Vec<f64>, Vec<f64>) = stage!(ctx, "columns", {
            (p.xy.column(0).to_vec(), p.xy.column(1).to_vec())
        });
        let m = n * (n - 1) / 2;
        let (d, (min, max, sum)) = match variant {
            Variant::Naive => {
                let d = stage!(ctx, "distances", naive(&x, &y, ctx)?);
                let stats = stage!(ctx, "summary", {
                    let mut lo = f64::INFINITY;
                    let mut hi = f64::NEG_INFINITY;
                    let mut s = 0.0;
                    for &u in &d {
                        lo = lo.min(u);
                        hi = hi.max(u);
                        s += u;
                    }
                    (lo, hi, s)
                });
                (d, stats)
            }
            // The summary is fused into the row loop: one pass over the 16 MB output.
            Variant::Vectorized => stage!(ctx, "distances", rows(&x, &y, m, false, ctx)?),
            Variant::Parallel => stage!(ctx, "distances", rows(&x, &y, m, true, ctx)?),
        };
        let mean = sum / m as f64;
        ctx.progress(1.0);
        Ok(Output::new()
            .sum("n_pairs", m)
            .sum("min_distance", min)
            .sum("max_distance", max)
            .sum("mean_distance", mean)
            .f64("distances", Array1::from(d).into_dyn(), Tolerance::Exact))
    }
}

/// The chapter's double loop, one pair at a time, pushing onto a growing list.
fn naive(x: &[f64], y: &[f64], ctx: &Ctx) -> Result<Vec<f64>> {
    let n = x.len();
    let mut out = Vec::new();
    for i in 0..n {
        if i % 64 == 0 {
            ctx.check()?;
            ctx.progress(i as f64 / n as f64);
        }
        for j in i + 1..n {
            let dx = x[i] - x[j];
            let dy = y[i] - y[j];
            out.push((dx * dx + dy * dy).sqrt());
        }
    }
    Ok(out)
}

/// Offset of row i in the condensed matrix.
fn row_start(i: usize, n: usize) -> usize {
    i * (2 * n - i - 1) / 2
}

/// (min, max, sum) of a stretch of distances.
type Stats = (f64, f64, f64);

fn merge(a: Stats, b: Stats) -> Stats {
    (a.0.min(b.0), a.1.max(b.1), a.2 + b.2)
}

const EMPTY: Stats = (f64::INFINITY, f64::NEG_INFINITY, 0.0);

/// One row: a contiguous run of outputs against contiguous x/y columns, which LLVM
/// turns into packed sub/mul/sqrt; the row's min/max/sum ride along in registers.
/// Writes into uninitialised memory so the 16 MB output is touched once, not zeroed first.
#[inline]
fn row(i: usize, x: &[f64], y: &[f64], out: &mut [std::mem::MaybeUninit<f64>]) -> Stats {
    let (xi, yi) = (x[i], y[i]);
    let (xs, ys) = (&x[i + 1..], &y[i + 1..]);
    // Four independent accumulators: a single running sum/min/max would chain every
    // element on the previous one's latency and stop the loop from vectorising.
    let mut lo = [f64::INFINITY; 4];
    let mut hi = [f64::NEG_INFINITY; 4];
    let mut s = [0.0f64; 4];
    let mut oc = out.chunks_exact_mut(4);
    let mut xc = xs.chunks_exact(4);
    let mut yc = ys.chunks_exact(4);
    for ((o, xv), yv) in (&mut oc).zip(&mut xc).zip(&mut yc) {
        for k in 0..4 {
            let dx = xi - xv[k];
            let dy = yi - yv[k];
            let d = (dx * dx + dy * dy).sqrt();
            o[k].write(d);
            lo[k] = lo[k].min(d);
            hi[k] = hi[k].max(d);
            s[k] += d;
        }
    }
    for ((o, &xj), &yj) in oc
        .into_remainder()
        .iter_mut()
        .zip(xc.remainder())
        .zip(yc.remainder())
    {
        let dx = xi - xj;
        let dy = yi - yj;
        let d = (dx * dx + dy * dy).sqrt();
        o.write(d);
        lo[0] = lo[0].min(d);
        hi[0] = hi[0].max(d);
        s[0] += d;
    }
    (
        lo.iter().copied().fold(f64::INFINITY, f64::min),
        hi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        (s[0] + s[1]) + (s[2] + s[3]),
    )
}

fn rows(x: &[f64], y: &[f64], m: usize, parallel: bool, ctx: &Ctx) -> Result<(Vec<f64>, Stats)> {
    let n = x.len();
    let mut out: Vec<f64> = Vec::with_capacity(m);
    let stats = {
        let spare = &mut out.spare_capacity_mut()[..m];
        // Split the condensed output into one slice per row.
        let mut slices: Vec<(usize, &mut [std::mem::MaybeUninit<f64>])> = Vec::with_capacity(n);
        let mut rest = spare;
        for i in 0..n - 1 {
            debug_assert_eq!(m - rest.len(), row_start(i, n));
            let (head, tail) = rest.split_at_mut(n - 1 - i);
            slices.push((i, head));
            rest = tail;
        }
        if parallel {
            // rayon's work stealing evens out the triangle's long and short rows.
            slices
                .par_iter_mut()
                .with_min_len(16)
                .map(|(i, s)| {
                    if *i % 256 == 0 {
                        ctx.check()?;
                    }
                    Ok(row(*i, x, y, s))
                })
                .try_reduce(|| EMPTY, |a, b| Ok(merge(a, b)))?
        } else {
            let mut acc = EMPTY;
            for (i, s) in slices.iter_mut() {
                if *i % 64 == 0 {
                    ctx.check()?;
                    ctx.progress(*i as f64 / n as f64);
                }
                acc = merge(acc, row(*i, x, y, s));
            }
            acc
        }
    };
    // SAFETY: the row slices tile spare[..m] exactly (checked by row_start above) and every
    // row wrote each of its elements, so all m elements are initialised.
    unsafe { out.set_len(m) };
    Ok((out, stats))
}
