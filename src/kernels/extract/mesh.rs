//! The background and RMS meshes as SExtractor 2.25 (`back.c`) and sep 1.4.1
//! (`background.c`) make them, and the maps interpolated from them:
//!
//! - [`mesh_stats`]: one mesh's statistics. `backstat`: the mean and σ of the mesh, then
//!   of its pixels within mean ± 2σ; `backhisto`: a histogram of the mesh over that clipped
//!   mean ± 5σ, with about one bin per pixel (at most 4096); `backguess`: ±3σ clipping
//!   about the median on the histogram until σ converges, then the mode estimate
//!   2.5·median − 1.5·mean when the mean and median differ by less than 0.3σ, else the
//!   median. The values are rounded to `f32` where SExtractor stores them in `float`s, and
//!   the bins are computed in `f32` as it does, so the meshes agree with its own to its
//!   precision.
//! - [`filter_meshes`]: `filterback`'s median filter over the meshes, whose window
//!   shrinks symmetrically at the edges of the mesh grid (a corner mesh is kept as it is).
//! - [`MeshMap`]: the full-resolution map, a natural bicubic spline through the meshes
//!   (`makebackspline`, `subbackline`), with SExtractor's node positions: along x at each
//!   mesh's centre on the full `back_size` grid ((bw − 1)/2 + k·bw), along y at
//!   (k + ½)·bh; a partial last mesh keeps its node where a full mesh would have it.

/// SExtractor's QUANTIF_NSIGMA, QUANTIF_NMAXLEVELS and QUANTIF_AMIN.
const QUANTIF_NSIGMA: f64 = 5.0;
const QUANTIF_NMAXLEVELS: usize = 4096;
const QUANTIF_AMIN: f64 = 4.0;

/// Scratch for [`mesh_stats`]: the histogram and its prefix sums.
#[derive(Default)]
pub struct HistScratch {
    cnt: Vec<u32>,
    bins: Vec<i32>,
    p0: Vec<u32>,
    p1: Vec<u64>,
    p2: Vec<u64>,
}

/// Sum and sum of squares of the values (four lanes).
#[inline(always)]
fn sums(vals: &[f64]) -> (f64, f64) {
    let (mut s1, mut s2) = ([0.0f64; 4], [0.0f64; 4]);
    let mut quads = vals.chunks_exact(4);
    for q in &mut quads {
        for l in 0..4 {
            s1[l] += q[l];
            s2[l] += q[l] * q[l];
        }
    }
    for (l, &v) in quads.remainder().iter().enumerate() {
        s1[l] += v;
        s2[l] += v * v;
    }
    (
        (s1[0] + s1[1]) + (s1[2] + s1[3]),
        (s2[0] + s2[1]) + (s2[2] + s2[3]),
    )
}

/// Count, sum and sum of squares of the values in [lo, hi] (four lanes, no branch; the
/// count is kept in a float, exact far beyond any mesh).
#[inline(always)]
fn clipped_sums(vals: &[f64], lo: f64, hi: f64) -> (u64, f64, f64) {
    let (mut n, mut s1, mut s2) = ([0.0f64; 4], [0.0f64; 4], [0.0f64; 4]);
    let mut quads = vals.chunks_exact(4);
    for q in &mut quads {
        for l in 0..4 {
            let v = q[l];
            let keep = v >= lo && v <= hi;
            let x = if keep { v } else { 0.0 };
            n[l] += if keep { 1.0 } else { 0.0 };
            s1[l] += x;
            s2[l] += x * x;
        }
    }
    for (l, &v) in quads.remainder().iter().enumerate() {
        let keep = v >= lo && v <= hi;
        let x = if keep { v } else { 0.0 };
        n[l] += if keep { 1.0 } else { 0.0 };
        s1[l] += x;
        s2[l] += x * x;
    }
    (
        ((n[0] + n[1]) + (n[2] + n[3])) as u64,
        (s1[0] + s1[1]) + (s1[2] + s1[3]),
        (s2[0] + s2[1]) + (s2[2] + s2[3]),
    )
}

/// `backhisto`'s bin numbers `(int)(v / qscale + cste)`, in `f32` as SExtractor computes
/// them (truncated towards zero). Clamped first by compare-and-select (vectorisable; NaN
/// becomes a negative bin, which is not counted) so that the conversion cannot overflow.
#[inline(always)]
fn bin_numbers(v: &[f64], qscale: f32, cste: f32, out: &mut [i32]) {
    for (o, &x) in out.iter_mut().zip(v) {
        let t = x as f32 / qscale + cste;
        let t = if t > -2.0e9 { t } else { -2.0e9 };
        let t = if t < 2.0e9 { t } else { 2.0e9 };
        // SAFETY: t is finite and within i32's range.
        *o = unsafe { t.to_int_unchecked::<i32>() };
    }
}

/// One mesh's background and RMS, SExtractor's way (see the module's documentation).
/// A mesh with no spread at all gets its mean and an RMS of 0.
pub fn mesh_stats(vals: &[f64], h: &mut HistScratch) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::simd::has_avx2() {
        // SAFETY: AVX2 is present (checked just above).
        return unsafe { mesh_stats_avx2(vals, h) };
    }
    mesh_stats_body(vals, h)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn mesh_stats_avx2(vals: &[f64], h: &mut HistScratch) -> (f64, f64) {
    mesh_stats_body(vals, h)
}

#[inline(always)]
fn mesh_stats_body(vals: &[f64], h: &mut HistScratch) -> (f64, f64) {
    let n = vals.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    // backstat: mean and σ, then again within mean ± 2σ
    let (s1, s2) = sums(vals);
    let nf = n as f64;
    let mean = s1 / nf;
    let var = s2 / nf - mean * mean;
    let sigma = if var > 0.0 { var.sqrt() } else { 0.0 };
    let lcut = f64::from((mean - 2.0 * sigma) as f32);
    let hcut = f64::from((mean + 2.0 * sigma) as f32);
    let (npix, c1, c2) = clipped_sums(vals, lcut, hcut);
    if npix == 0 {
        return (f64::from(mean as f32), 0.0);
    }
    let nf = npix as f64;
    let mean = c1 / nf;
    let var = c2 / nf - mean * mean;
    let sigma = if var > 0.0 { var.sqrt() } else { 0.0 };
    let step = (2.0 / std::f64::consts::PI).sqrt() * QUANTIF_NSIGMA / QUANTIF_AMIN;
    let nlevels = ((step * nf + 1.0) as usize).min(QUANTIF_NMAXLEVELS);
    let qscale = if sigma > 0.0 {
        (2.0 * QUANTIF_NSIGMA * sigma / nlevels as f64) as f32
    } else {
        1.0
    };
    let qzero = (mean - QUANTIF_NSIGMA * sigma) as f32;
    // backhisto
    let cste = (0.499999 - f64::from(qzero / qscale)) as f32;
    h.cnt.clear();
    h.cnt.resize(nlevels, 0);
    h.bins.resize(256, 0);
    for block in vals.chunks(256) {
        let b = &mut h.bins[..block.len()];
        bin_numbers(block, qscale, cste, b);
        for &k in b.iter() {
            // a negative bin is a huge one as u32: one comparison
            if let Some(c) = h.cnt.get_mut(k as u32 as usize) {
                *c += 1;
            }
        }
    }
    let (mea, med, sig) = backguess(h, mean as f32);
    let (qzero, qscale) = (f64::from(qzero), f64::from(qscale));
    let back = if sig.abs() > 0.0 {
        if ((mea - med) / sig).abs() < 0.3 {
            qzero + (2.5 * med - 1.5 * mea) * qscale
        } else {
            qzero + med * qscale
        }
    } else {
        qzero + mea * qscale
    };
    (f64::from(back as f32), f64::from((sig * qscale) as f32))
}

/// `backguess`'s clipping on the histogram `h.cnt`: (mean, median, σ) in bin units after
/// ±3σ clipping about the median iterated until σ changes by less than 1e−4 (at most
/// 100 times) or drops below 0.1 bin. Sums over any range of bins come from prefix sums
/// (exact in integers), and the median's two-pointer walk from [`median_walk`].
#[inline(always)]
fn backguess(h: &mut HistScratch, mean: f32) -> (f64, f64, f64) {
    let nl = h.cnt.len();
    for p in [&mut h.p1, &mut h.p2] {
        p.resize(nl + 1, 0);
    }
    h.p0.resize(nl + 1, 0);
    let (mut a0, mut a1, mut a2) = (0u32, 0u64, 0u64);
    h.p0[0] = 0;
    h.p1[0] = 0;
    h.p2[0] = 0;
    let (p0, p1, p2) = (&mut h.p0[1..=nl], &mut h.p1[1..=nl], &mut h.p2[1..=nl]);
    for (i, (((&c, q0), q1), q2)) in h.cnt.iter().zip(p0).zip(p1).zip(p2).enumerate() {
        let (c64, i) = (u64::from(c), i as u64);
        a0 += c;
        a1 += c64 * i;
        a2 += c64 * i * i;
        *q0 = a0;
        *q1 = a1;
        *q2 = a2;
    }
    let nlevelsm1 = nl as i64 - 1;
    let (mut lcut, mut hcut) = (0i64, nlevelsm1);
    let mut sig = 10.0 * nlevelsm1 as f64;
    let mut sig1 = 1.0f64;
    let mut mea = f64::from(mean);
    let mut med = f64::from(mean);
    let mut n = 100;
    while n > 0 && sig >= 0.1 && (sig / sig1 - 1.0).abs() > 1e-4 {
        n -= 1;
        sig1 = sig;
        let (sum, s1, s2, m) = if lcut <= hcut {
            let (lo, hi) = (lcut as usize, hcut as usize);
            let sum = h.p0[hi + 1] - h.p0[lo];
            let s1 = (h.p1[hi + 1] - h.p1[lo]) as f64;
            let s2 = (h.p2[hi + 1] - h.p2[lo]) as f64;
            (sum, s1, s2, median_walk(&h.p0, &h.cnt, lo, hi))
        } else {
            (0, 0.0, 0.0, (hcut as f64 + 0.5).max(0.0))
        };
        med = m;
        mea = 0.0;
        sig = 0.0;
        if sum > 0 {
            mea = s1 / f64::from(sum);
            sig = s2 / f64::from(sum) - mea * mea;
        }
        sig = if sig > 0.0 { sig.sqrt() } else { 0.0 };
        let round = |t: f64| (if t > 0.0 { t + 0.5 } else { t - 0.5 }) as i64;
        let t = med - 3.0 * sig;
        lcut = if t > 0.0 { round(t) } else { 0 };
        let t = med + 3.0 * sig;
        hcut = if t < nlevelsm1 as f64 {
            round(t)
        } else {
            nlevelsm1
        };
    }
    (mea, med, sig)
}

/// The median of bins lo..=hi as `backguess` finds it: a low and a high pointer walk
/// towards each other, the low one stepping while the count it has passed is below the
/// high one's; where they meet, the median is interpolated. The walk is a merge of the two
/// pointers' running counts (both non-decreasing), so where it ends is found by binary
/// searches on the prefix counts `p0` instead of a step per bin.
fn median_walk(p0: &[u32], cnt: &[u32], lo: usize, hi: usize) -> f64 {
    let n = hi - lo + 1;
    // the count the low pointer has passed after k steps, and the high one after m
    let low = |k: usize| p0[lo + k] - p0[lo];
    let high = |m: usize| p0[hi + 1] - p0[hi + 1 - m];
    // low step k comes after every high step m with high(m) ≤ low(k)
    let place = |k: usize| {
        let x = low(k);
        // high(m) is non-decreasing in m: count the m < n with high(m) ≤ x
        let (mut a, mut b) = (0usize, n);
        while a < b {
            let mid = (a + b) / 2;
            if high(mid) <= x {
                a = mid + 1;
            } else {
                b = mid;
            }
        }
        k + a
    };
    // low steps taken: the k < n with place(k) < n (place is increasing in k)
    let (mut a, mut b) = (0usize, n);
    while a < b {
        let mid = (a + b) / 2;
        if place(mid) < n {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    let t = a;
    let (lowsum, highsum) = (low(t), high(n - t));
    // the pointers end on bins lo + t (low) and lo + t − 1 (high)
    let hilow = lo + t;
    if hilow == 0 {
        return 0.0;
    }
    let hihigh = hilow - 1;
    let c = |i: usize| cnt.get(i).copied().unwrap_or(0);
    let den = 2.0 * c(hilow).max(c(hihigh)) as f64;
    let frac = if den > 0.0 {
        (highsum as f64 - lowsum as f64) / den
    } else {
        0.0
    };
    hihigh as f64 + 0.5 + frac
}

/// `filterback`: the median of each mesh's `fh` × `fw` neighbourhood (odd sizes), the
/// window shrunk symmetrically where it would leave the grid, for the background and the
/// RMS separately (SExtractor's BACK_FILTERTHRESH 0: every mesh takes its median).
pub fn filter_meshes(m: &[f64], ny: usize, nx: usize, fh: usize, fw: usize) -> Vec<f64> {
    let (hy, hx) = (fh / 2, fw / 2);
    let mut out = vec![0.0; m.len()];
    let mut win: Vec<f64> = Vec::with_capacity(fh * fw);
    for py in 0..ny {
        let dy = hy.min(py).min(ny - 1 - py);
        for px in 0..nx {
            let dx = hx.min(px).min(nx - 1 - px);
            win.clear();
            for y in py - dy..=py + dy {
                win.extend_from_slice(&m[y * nx + px - dx..=y * nx + px + dx]);
            }
            win.sort_unstable_by(f64::total_cmp);
            let k = win.len();
            out[py * nx + px] = if k % 2 == 1 {
                win[k / 2]
            } else {
                f64::from(((win[k / 2 - 1] + win[k / 2]) / 2.0) as f32)
            };
        }
    }
    out
}

/// `makebackspline`'s natural-spline coefficients along one line of nodes (`step` apart
/// in `v`): the second derivatives over 6, zero at both ends.
fn spline_d2(v: &[f64], n: usize, step: usize, out: &mut [f64]) {
    let at = |i: usize| v[i * step];
    if n < 2 {
        for i in 0..n {
            out[i * step] = 0.0;
        }
        return;
    }
    let mut u = vec![0.0f64; n - 1];
    out[0] = 0.0;
    for y in 1..n - 1 {
        let temp = -1.0 / (out[(y - 1) * step] + 4.0);
        out[y * step] = temp;
        u[y] = temp * (u[y - 1] - 6.0 * (at(y + 1) + at(y - 1) - 2.0 * at(y)));
    }
    out[(n - 1) * step] = 0.0;
    for y in (1..n - 1).rev() {
        out[y * step] = (out[y * step] * out[(y + 1) * step] + u[y]) / 6.0;
    }
}

/// Where a pixel falls between two nodes along one axis: the first node's index and the
/// spline weights (1 − d, (1 − d)³ − (1 − d), d, d³ − d) for the offset d from it, in
/// units of the mesh size.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Knot {
    i: usize,
    w: [f64; 4],
}

impl Knot {
    fn at(i: usize, d: f64) -> Knot {
        let c = 1.0 - d;
        Knot {
            i,
            w: [c, c * c * c - c, d, d * d * d - d],
        }
    }

    /// Spline value from the two nodes' values and coefficients.
    #[inline(always)]
    fn eval(&self, lo: f64, dlo: f64, hi: f64, dhi: f64) -> f64 {
        self.w[0] * lo + self.w[1] * dlo + self.w[2] * hi + self.w[3] * dhi
    }
}

/// Along x: nodes at (bw − 1)/2 + k·bw; a pixel uses the interval it lies in, the first
/// one before the second node and the last one after the last node (SExtractor switches
/// interval half a mesh past each node).
fn x_knots(cols: usize, bw: usize, nbx: usize) -> Vec<Knot> {
    (0..cols)
        .map(|c| {
            if nbx < 2 {
                return Knot::at(0, 0.0);
            }
            let j = if c < bw + bw / 2 {
                0
            } else {
                ((c - bw / 2) / bw).min(nbx - 2)
            };
            let node = j as f64 * bw as f64 + (bw as f64 - 1.0) / 2.0;
            Knot::at(j, (c as f64 - node) / bw as f64)
        })
        .collect()
}

/// Along y: nodes at (k + ½)·bh, the last interval used past the last node.
fn y_knots(rows: usize, bh: usize, nby: usize) -> Vec<Knot> {
    (0..rows)
        .map(|r| {
            if nby < 2 {
                return Knot::at(0, 0.0);
            }
            let d = r as f64 / bh as f64 - 0.5;
            let mut yl = d.trunc() as usize;
            let mut dy = d - yl as f64;
            if yl >= nby - 1 {
                yl = nby - 2;
                dy += 1.0;
            }
            Knot::at(yl, dy)
        })
        .collect()
}

/// A mesh map (background or RMS) read at full resolution: SExtractor's bicubic spline
/// (along y through each column of nodes, then along x through the row so made). The
/// x-spline's coefficients are linear in the row's nodes, so they are combined from those
/// of the mesh rows, precomputed: a row costs O(pixels + meshes) and a single pixel O(1),
/// and `row` and `at` use the same expressions, so a pixel read either way has the same
/// value bit for bit.
pub struct MeshMap {
    nx: usize,
    ny: usize,
    cols: usize,
    /// The meshes, their y-spline coefficients, and the x-spline coefficients of both.
    b: Vec<f64>,
    db: Vec<f64>,
    xb: Vec<f64>,
    xdb: Vec<f64>,
    kx: Vec<Knot>,
    ky: Vec<Knot>,
    /// Runs of columns sharing an x interval: (first column, end, interval).
    segs: Vec<(usize, usize, usize)>,
}

impl MeshMap {
    pub fn new(mesh: &[f64], nx: usize, rows: usize, cols: usize, bs: usize) -> Self {
        let ny = mesh.len() / nx.max(1);
        let b = mesh.to_vec();
        let mut db = vec![0.0; b.len()];
        for x in 0..nx {
            spline_d2(&b[x..], ny, nx, &mut db[x..]);
        }
        let (mut xb, mut xdb) = (vec![0.0; b.len()], vec![0.0; b.len()]);
        if ny > 1 {
            for y in 0..ny {
                let row = y * nx..(y + 1) * nx;
                spline_d2(&b[row.clone()], nx, 1, &mut xb[row.clone()]);
                spline_d2(&db[row.clone()], nx, 1, &mut xdb[row]);
            }
        }
        let kx = x_knots(cols, bs, nx);
        let mut segs: Vec<(usize, usize, usize)> = Vec::new();
        for (c, k) in kx.iter().enumerate() {
            match segs.last_mut() {
                Some(s) if s.2 == k.i => s.1 = c + 1,
                _ => segs.push((c, c + 1, k.i)),
            }
        }
        MeshMap {
            nx,
            ny,
            cols,
            b,
            db,
            xb,
            xdb,
            kx,
            ky: y_knots(rows, bs, ny),
            segs,
        }
    }

    /// The node of mesh column `j` on row `r` (`ky` its y knot) and its x-spline
    /// coefficient.
    #[inline(always)]
    fn node(&self, ky: &Knot, j: usize) -> (f64, f64) {
        if self.ny < 2 {
            // SExtractor uses the mesh row as it is, with no x-spline coefficients
            return (self.b[j], 0.0);
        }
        let (lo, hi) = (ky.i * self.nx + j, (ky.i + 1) * self.nx + j);
        (
            ky.eval(self.b[lo], self.db[lo], self.b[hi], self.db[hi]),
            ky.eval(self.xb[lo], self.xdb[lo], self.xb[hi], self.xdb[hi]),
        )
    }

    /// Row `r` into `out` (`tmp` holds the row's nodes and coefficients).
    pub fn row(&self, r: usize, tmp: &mut Vec<f64>, out: &mut [f64]) {
        let ky = self.ky[r];
        tmp.clear();
        for j in 0..self.nx {
            let (v, d) = self.node(&ky, j);
            tmp.push(v);
            tmp.push(d);
        }
        if self.nx < 2 {
            out.fill(tmp[0]);
            return;
        }
        for &(c0, c1, j) in &self.segs {
            let (lo, dlo, hi, dhi) = (tmp[2 * j], tmp[2 * j + 1], tmp[2 * j + 2], tmp[2 * j + 3]);
            for (o, k) in out[c0..c1].iter_mut().zip(&self.kx[c0..c1]) {
                *o = k.eval(lo, dlo, hi, dhi);
            }
        }
    }

    /// Meshes across.
    pub fn mesh_cols(&self) -> usize {
        self.nx
    }

    /// Pixels across the frame.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The value at flat pixel index `k`.
    pub fn at(&self, k: usize) -> f64 {
        let (r, c) = (k / self.cols, k % self.cols);
        let ky = self.ky[r];
        if self.nx < 2 {
            return self.node(&ky, 0).0;
        }
        let kx = &self.kx[c];
        let (lo, dlo) = self.node(&ky, kx.i);
        let (hi, dhi) = self.node(&ky, kx.i + 1);
        kx.eval(lo, dlo, hi, dhi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `backguess`'s walk, one step per bin as SExtractor writes it.
    fn walk_brute(cnt: &[u32], lo: usize, hi: usize) -> f64 {
        let (mut a, mut b) = (lo as i64, hi as i64);
        let (mut l, mut h) = (0u32, 0u32);
        for _ in lo..=hi {
            if l < h {
                l += cnt[a as usize];
                a += 1;
            } else {
                h += cnt[b as usize];
                b -= 1;
            }
        }
        if b < 0 {
            return 0.0;
        }
        let c = |i: i64| cnt.get(i as usize).copied().unwrap_or(0);
        let den = 2.0 * c(a).max(c(b)) as f64;
        b as f64
            + 0.5
            + if den > 0.0 {
                (h as f64 - l as f64) / den
            } else {
                0.0
            }
    }

    #[test]
    fn median_walk_ends_where_the_bin_by_bin_walk_does() {
        let mut r = crate::data::rng::Rng::new(5);
        for trial in 0..2000 {
            let n = 1 + (r.uniform() * 60.0) as usize;
            let sparse = trial % 3 == 0;
            let cnt: Vec<u32> = (0..n)
                .map(|_| {
                    let u = r.uniform();
                    if sparse && u < 0.6 {
                        0
                    } else {
                        (u * 9.0) as u32
                    }
                })
                .collect();
            let mut p0 = vec![0u32];
            for &c in &cnt {
                p0.push(p0.last().expect("p0") + c);
            }
            let lo = (r.uniform() * n as f64) as usize;
            let hi = lo + ((r.uniform() * (n - lo) as f64) as usize).min(n - 1 - lo);
            let want = walk_brute(&cnt, lo, hi);
            let got = median_walk(&p0, &cnt, lo, hi);
            assert_eq!(got.to_bits(), want.to_bits(), "{cnt:?} {lo}..={hi}");
        }
    }

    #[test]
    fn sky_with_a_star_gives_the_sky() {
        let mut r = crate::data::rng::Rng::new(2);
        let mut v: Vec<f64> = (0..4096)
            .map(|_| (100.0 + 5.0 * r.normal()).round())
            .collect();
        for x in v.iter_mut().take(40) {
            *x += 5000.0; // a bright star in the mesh
        }
        let (b, s) = mesh_stats(&v, &mut HistScratch::default());
        assert!((b - 100.0).abs() < 0.5, "{b}");
        assert!((s - 5.0).abs() < 0.3, "{s}");
        // constant data: its value, no noise
        let (b, s) = mesh_stats(&[7.0; 100], &mut HistScratch::default());
        assert_eq!((b, s), (7.0, 0.0));
    }

    #[test]
    fn the_mesh_filter_window_shrinks_at_the_edges() {
        // 4 × 3 meshes
        let m: Vec<f64> = vec![
            9.0, 1.0, 5.0, //
            2.0, 8.0, 3.0, //
            7.0, 0.0, 6.0, //
            4.0, 4.0, 1.0,
        ];
        let f = filter_meshes(&m, 4, 3, 3, 3);
        // corners are kept; an edge mesh takes the median of its 3 neighbours along the
        // edge; an interior one of its 3 × 3
        assert_eq!(f[0], 9.0);
        assert_eq!(f[2], 5.0);
        assert_eq!(f[1], 5.0); // median of 9, 1, 5
        assert_eq!(f[3], 7.0); // median of 9, 2, 7
        assert_eq!(f[4], 5.0); // median of 9 1 5 2 8 3 7 0 6
        assert_eq!(f[10], 4.0); // median of 4, 4, 1
    }

    #[test]
    fn the_spline_map_is_exact_on_a_plane_and_row_equals_at() {
        // meshes of 8 px on a 29 × 21 frame (a partial last mesh each way): a plane in
        // the mesh indices is a plane in pixels, with SExtractor's nodes at x = 3.5 + 8i,
        // y = 4 + 8j, extrapolated linearly past the outer ones
        let (rows, cols, bs) = (29usize, 21usize, 8usize);
        let (ny, nx) = (rows.div_ceil(bs), cols.div_ceil(bs));
        let mesh: Vec<f64> = (0..ny * nx)
            .map(|k| 10.0 + 2.0 * (k / nx) as f64 - 3.0 * (k % nx) as f64)
            .collect();
        let map = MeshMap::new(&mesh, nx, rows, cols, bs);
        let mut tmp = Vec::new();
        let mut row = vec![0.0; cols];
        for r in 0..rows {
            map.row(r, &mut tmp, &mut row);
            for (c, &v) in row.iter().enumerate() {
                let want = 10.0 + 2.0 * (r as f64 / 8.0 - 0.5) - 3.0 * (c as f64 - 3.5) / 8.0;
                assert!((v - want).abs() < 1e-9, "({r}, {c}): {v} vs {want}");
                assert_eq!(v.to_bits(), map.at(r * cols + c).to_bits());
            }
        }
        // a bump in one mesh: smooth, through the node value at the node
        let mut bump = vec![0.0; ny * nx];
        bump[nx + 1] = 1.0;
        let map = MeshMap::new(&bump, nx, rows, cols, bs);
        assert!((map.at(12 * cols + 11) - 1.0).abs() < 0.05);
        for r in 0..rows {
            map.row(r, &mut tmp, &mut row);
            for (c, &v) in row.iter().enumerate() {
                assert_eq!(v.to_bits(), map.at(r * cols + c).to_bits());
            }
        }
    }
}
