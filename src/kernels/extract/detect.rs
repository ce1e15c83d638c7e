//! Detection: threshold a detection image, label its connected pixels (4- or
//! 8-connected, numbered as `scipy.ndimage.label` numbers them), drop sources under
//! `minarea` and measure each source's moments. The naive method is the chapter's (a
//! boolean mask, a flood fill and one frame scan per label); the others find runs above
//! the threshold row by row, join them with a union-find (per band over rayon for the
//! parallel method, then across band edges) and measure along the runs.
//!
//! Stages: `threshold`, `label`, `measure`.

use crate::ctx::Ctx;
use crate::kernels::buffers::chunk_len;
use crate::kernels::image::{
    moments_from_runs, number_runs, paint, runs_in_row, union_band, union_rows, Dsu, Moments, Run,
    ROWS_PER_CHECK,
};
use crate::kernels::Method;
use crate::{stage, Error, Result};
use rayon::prelude::*;

/// Labels and moments of the mask `test > thr`, found by one [`Method`].
pub struct Detection {
    pub labels: Vec<i32>,
    pub moments: Vec<Moments>,
    /// Runs and their labels (0 = dropped by `minarea`); empty for the naive method.
    pub runs: Vec<Run>,
    pub run_label: Vec<i32>,
}

/// Threshold `test > thr`, label (4- or 8-connected, scipy numbering), drop sources with
/// fewer than `minarea` pixels (renumbering the rest in raster order), and measure
/// `values` over each source. Stages: threshold, label, measure.
#[allow(clippy::too_many_arguments)]
pub fn detect(
    method: Method,
    test: &[f64],
    values: &[f64],
    rows: usize,
    cols: usize,
    thr: f64,
    eight: bool,
    minarea: usize,
    ctx: &Ctx,
) -> Result<Detection> {
    detect_opts(
        method, test, values, rows, cols, thr, eight, minarea, true, ctx,
    )
}

/// [`detect`], optionally without painting the label image (`labels` is then empty;
/// the naive method always makes it, as its per-label scans need it).
#[allow(clippy::too_many_arguments)]
pub fn detect_opts(
    method: Method,
    test: &[f64],
    values: &[f64],
    rows: usize,
    cols: usize,
    thr: f64,
    eight: bool,
    minarea: usize,
    paint_labels: bool,
    ctx: &Ctx,
) -> Result<Detection> {
    match method {
        Method::Naive => detect_naive(test, values, rows, cols, thr, eight, minarea, ctx),
        Method::Vectorized | Method::Parallel => {
            let par = method == Method::Parallel;
            let band = if par {
                chunk_len(rows, ctx.threads).max(1)
            } else {
                rows.max(1)
            };
            let starts: Vec<usize> = (0..rows).step_by(band).collect();
            let bands: Vec<Vec<Run>> = stage!(ctx, "threshold", {
                let one = |&r0: &usize| {
                    let mut runs = Vec::new();
                    for r in r0..(r0 + band).min(rows) {
                        if r % ROWS_PER_CHECK == 0 {
                            ctx.check()?;
                        }
                        runs_in_row(&test[r * cols..(r + 1) * cols], thr, r, &mut runs);
                    }
                    Ok(runs)
                };
                if par {
                    starts.par_iter().map(one).collect::<Result<Vec<_>>>()?
                } else {
                    starts.iter().map(one).collect::<Result<Vec<_>>>()?
                }
            });
            label_runs(
                par,
                bands,
                band,
                values,
                rows,
                cols,
                eight,
                minarea,
                paint_labels,
                ctx,
            )
        }
    }
}

/// The "label" and "measure" stages from runs already found, band by band (`bands[i]`
/// holds the runs of rows `i·band .. (i+1)·band`, in raster order): unions inside each band
/// (over rayon when `par`), then across band edges, scipy's numbering, `minarea`, the
/// label image when asked, and the moments of `values` over each source.
#[allow(clippy::too_many_arguments)]
pub fn label_runs(
    par: bool,
    bands: Vec<Vec<Run>>,
    band: usize,
    values: &[f64],
    rows: usize,
    cols: usize,
    eight: bool,
    minarea: usize,
    paint_labels: bool,
    ctx: &Ctx,
) -> Result<Detection> {
    let starts: Vec<usize> = (0..bands.len()).map(|i| i * band).collect();
    let (labels, runs, run_label, n) = stage!(ctx, "label", {
        // union inside each band ...
        let local = |b: &Vec<Run>| {
            let mut d = Dsu::new(b.len());
            union_band(b, eight, &mut d, 0);
            d.parent
        };
        let locals: Vec<Vec<u32>> = if par {
            bands.par_iter().map(local).collect()
        } else {
            bands.iter().map(local).collect()
        };
        // ... then merge: offset the local forests and join runs across band edges.
        let mut offsets = Vec::with_capacity(bands.len() + 1);
        offsets.push(0usize);
        for b in &bands {
            offsets.push(offsets[offsets.len() - 1] + b.len());
        }
        let total = offsets[bands.len()];
        let mut runs = Vec::with_capacity(total);
        let mut dsu = Dsu {
            parent: Vec::with_capacity(total),
        };
        for (i, (b, p)) in bands.iter().zip(&locals).enumerate() {
            runs.extend_from_slice(b);
            let o = offsets[i] as u32;
            dsu.parent.extend(p.iter().map(|&x| x + o));
        }
        for i in 1..bands.len() {
            let edge = starts[i] as u32;
            let prev = &bands[i - 1];
            let cur = &bands[i];
            let p0 = prev.partition_point(|r| r.row + 1 < edge);
            let c1 = cur.partition_point(|r| r.row == edge);
            if p0 < prev.len() && prev[p0].row + 1 == edge && c1 > 0 {
                union_rows(
                    &runs,
                    offsets[i - 1] + p0..offsets[i],
                    offsets[i]..offsets[i] + c1,
                    eight,
                    &mut dsu,
                    0,
                );
            }
        }
        let (mut run_label, n) = number_runs(&mut dsu);
        let n = apply_minarea(&runs, &mut run_label, n, minarea);
        let mut labels = vec![0i32; if paint_labels { rows * cols } else { 0 }];
        let paint_band = |(i, out): (usize, &mut [i32])| {
            ctx.check()?;
            let (a, b) = (offsets[i], offsets[i + 1]);
            paint(&runs[a..b], &run_label[a..b], cols, starts[i], out);
            Ok::<(), Error>(())
        };
        if paint_labels {
            if par {
                labels
                    .par_chunks_mut(band * cols)
                    .enumerate()
                    .try_for_each(paint_band)?;
            } else {
                labels
                    .chunks_mut(band * cols)
                    .enumerate()
                    .try_for_each(paint_band)?;
            }
        }
        (labels, runs, run_label, n)
    });
    let moments = stage!(
        ctx,
        "measure",
        moments_from_runs(&runs, &run_label, n, values, cols)
    );
    Ok(Detection {
        labels,
        moments,
        runs,
        run_label,
    })
}

/// Set labels of sources smaller than `minarea` to 0 and renumber the rest 1..=m keeping
/// their (raster) order. Returns m.
fn apply_minarea(runs: &[Run], run_label: &mut [i32], n: usize, minarea: usize) -> usize {
    if minarea <= 1 {
        return n;
    }
    let mut area = vec![0usize; n + 1];
    for (r, &l) in runs.iter().zip(run_label.iter()) {
        area[l as usize] += (r.c1 - r.c0) as usize;
    }
    let mut map = vec![0i32; n + 1];
    let mut m = 0;
    for l in 1..=n {
        if area[l] >= minarea {
            m += 1;
            map[l] = m as i32;
        }
    }
    for l in run_label.iter_mut() {
        *l = map[*l as usize];
    }
    m
}

/// The chapter's way: a boolean mask, a flood fill, and one full-frame scan per label.
#[allow(clippy::too_many_arguments)]
fn detect_naive(
    test: &[f64],
    values: &[f64],
    rows: usize,
    cols: usize,
    thr: f64,
    eight: bool,
    minarea: usize,
    ctx: &Ctx,
) -> Result<Detection> {
    let mask: Vec<bool> = stage!(ctx, "threshold", test.iter().map(|&v| v > thr).collect());
    ctx.check()?;
    let (labels, n) = stage!(ctx, "label", {
        let mut labels = vec![0i32; rows * cols];
        let mut n = 0i32;
        let mut stack = Vec::new();
        let mut members = Vec::new();
        for start in 0..rows * cols {
            if !mask[start] || labels[start] != 0 {
                continue;
            }
            n += 1;
            labels[start] = n;
            stack.push(start);
            members.clear();
            while let Some(p) = stack.pop() {
                members.push(p);
                let (r, c) = ((p / cols) as isize, (p % cols) as isize);
                for dr in -1isize..=1 {
                    for dc in -1isize..=1 {
                        if (dr == 0 && dc == 0) || (!eight && dr != 0 && dc != 0) {
                            continue;
                        }
                        let (rr, cc) = (r + dr, c + dc);
                        if rr < 0 || cc < 0 || rr >= rows as isize || cc >= cols as isize {
                            continue;
                        }
                        let q = rr as usize * cols + cc as usize;
                        if mask[q] && labels[q] == 0 {
                            labels[q] = n;
                            stack.push(q);
                        }
                    }
                }
            }
            if members.len() < minarea {
                // too small: unlabel (it keeps a sentinel so it is not revisited)
                for &p in &members {
                    labels[p] = -1;
                }
                n -= 1;
            }
        }
        for l in labels.iter_mut() {
            if *l < 0 {
                *l = 0;
            }
        }
        (labels, n as usize)
    });
    let mut moments = vec![Moments::default(); n];
    stage!(ctx, "measure", {
        for (i, m) in moments.iter_mut().enumerate() {
            ctx.check()?;
            let lab = (i + 1) as i32;
            for r in 0..rows {
                for c in 0..cols {
                    if labels[r * cols + c] == lab {
                        m.add(r, c, values[r * cols + c]);
                    }
                }
            }
        }
    });
    Ok(Detection {
        labels,
        moments,
        runs: Vec::new(),
        run_label: Vec::new(),
    })
}

/// The error for a frame with NaN or infinite pixels, which no method can label.
pub fn nonfinite_error(bad: usize) -> Error {
    Error::input(format!(
        "the frame has {bad} NaN or infinite pixels; the 3x3 median and the statistics need finite data"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn labels_follow_scipy_raster_numbering() {
        // a U shape: two arms joined at the bottom are one label; numbering by first pixel
        let mut a = Array2::zeros((6, 7));
        for r in 0..5 {
            a[[r, 1]] = 10.0;
            a[[r, 5]] = 10.0;
        }
        for c in 1..=5 {
            a[[4, c]] = 10.0;
        }
        a[[0, 3]] = 10.0; // isolated pixel after the U's first pixel -> label 2
        a[[5, 0]] = 10.0; // touches (4,1) only diagonally
        let ctx = Ctx::detached(1);
        let src = a.as_slice().expect("slice");
        for v in Method::ALL {
            let d4 = detect(v, src, src, 6, 7, 5.0, false, 1, &ctx).expect("4");
            assert_eq!(d4.moments.len(), 3, "{v:?}");
            assert_eq!(d4.labels[1], 1);
            assert_eq!(d4.labels[3], 2);
            assert_eq!(d4.labels[5], 1);
            assert_eq!(d4.labels[5 * 7], 3);
            let d8 = detect(v, src, src, 6, 7, 5.0, true, 1, &ctx).expect("8");
            assert_eq!(d8.moments.len(), 2, "{v:?}");
            assert_eq!(d8.labels[5 * 7], 1);
            let dmin = detect(v, src, src, 6, 7, 5.0, false, 2, &ctx).expect("minarea");
            assert_eq!(dmin.moments.len(), 1, "{v:?}");
            assert_eq!(dmin.labels[3], 0);
        }
    }
}
