//! Background statistics of one mesh (a `back_size` box of the frame) as SExtractor
//! estimates them: ±3σ clipping about the median to convergence, then the clipped mean for
//! an uncrowded mesh or the mode 2.5·median − 1.5·mean for a crowded one. Two estimators:
//! exact on the sorted values ([`mesh_stats`], with an LSD radix sort) and from histograms
//! ([`mesh_stats_hist`], what the extractor uses: three passes over the pixels, no sort).

/// Order-preserving map of an f64 to a u64 (the order of `f64::total_cmp`).
#[inline]
fn key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

#[inline]
fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Sort f64 values in `f64::total_cmp` order with an LSD radix sort on their bit keys
/// (11-bit digits; a digit in which no two values differ is skipped, as the sign and
/// exponent of a mesh of sky pixels mostly are). The same order as
/// `sort_unstable_by(f64::total_cmp)`, several times faster on a 64x64 mesh.
pub fn radix_sort_f64(vals: &mut [f64], scratch: &mut Vec<u64>, keys: &mut Vec<u64>) {
    const BITS: u32 = 11;
    const MASK: u64 = (1 << BITS) - 1;
    let n = vals.len();
    if n < 64 {
        vals.sort_unstable_by(f64::total_cmp);
        return;
    }
    keys.clear();
    keys.extend(vals.iter().map(|&v| key(v)));
    scratch.clear();
    scratch.resize(n, 0);
    let k0 = keys[0];
    let diff = keys.iter().fold(0u64, |d, &k| d | (k ^ k0));
    let (mut src, mut dst) = (keys, scratch);
    let mut hist = vec![0usize; 1 << BITS];
    let mut shift = 0;
    while shift < 64 {
        if (diff >> shift) & MASK != 0 {
            hist.fill(0);
            for &k in src.iter() {
                hist[((k >> shift) & MASK) as usize] += 1;
            }
            let mut acc = 0;
            for h in hist.iter_mut() {
                let c = *h;
                *h = acc;
                acc += c;
            }
            for &k in src.iter() {
                let d = ((k >> shift) & MASK) as usize;
                dst[hist[d]] = k;
                hist[d] += 1;
            }
            std::mem::swap(&mut src, &mut dst);
        }
        shift += BITS;
    }
    for (v, &k) in vals.iter_mut().zip(src.iter()) {
        *v = unkey(k);
    }
}

/// Sigma-clipped (±3σ about the median, to convergence) background and RMS of one mesh.
pub fn mesh_stats(vals: &mut [f64]) -> (f64, f64) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    mesh_stats_with(vals, &mut a, &mut b)
}

/// [`mesh_stats`] with caller-provided scratch for the radix sort.
pub fn mesh_stats_with(vals: &mut [f64], s1: &mut Vec<u64>, s2: &mut Vec<u64>) -> (f64, f64) {
    if vals.is_empty() {
        return (0.0, 0.0);
    }
    radix_sort_f64(vals, s1, s2);
    let n = vals.len();
    // prefix sums of (v − c) and (v − c)², c the median: the mean and σ of any slice of
    // the sorted values in O(1), so each clipping iteration costs two binary searches
    let c = vals[n / 2];
    let mut p1 = Vec::with_capacity(n + 1);
    let mut p2 = Vec::with_capacity(n + 1);
    let (mut a1, mut a2) = (0.0f64, 0.0f64);
    p1.push(0.0);
    p2.push(0.0);
    for &v in vals.iter() {
        let d = v - c;
        a1 += d;
        a2 += d * d;
        p1.push(a1);
        p2.push(a2);
    }
    let stats = |lo: usize, hi: usize| {
        let m = (hi - lo) as f64;
        let s1 = (p1[hi] - p1[lo]) / m;
        let var = ((p2[hi] - p2[lo]) / m - s1 * s1).max(0.0);
        let k = lo + (hi - lo) / 2;
        let med = if (hi - lo) % 2 == 1 {
            vals[k]
        } else {
            0.5 * (vals[k - 1] + vals[k])
        };
        (c + s1, var.sqrt(), med)
    };
    let (mut lo, mut hi) = (0, n);
    let (_, sigma0, _) = stats(0, n);
    let (mut mean, mut sigma, mut med) = stats(0, n);
    for _ in 0..100 {
        let (a, b) = (med - 3.0 * sigma, med + 3.0 * sigma);
        let nlo = vals.partition_point(|&v| v < a);
        let nhi = vals.partition_point(|&v| v <= b);
        if nhi <= nlo || (nlo == lo && nhi == hi) {
            break;
        }
        lo = nlo;
        hi = nhi;
        (mean, sigma, med) = stats(lo, hi);
    }
    // SExtractor: an uncrowded mesh (σ changed by less than 20%) uses the clipped mean,
    // a crowded one the mode estimate.
    let back = if sigma >= 0.8 * sigma0 {
        mean
    } else {
        2.5 * med - 1.5 * mean
    };
    (back, sigma)
}

/// Scratch for [`mesh_stats_hist`]: bin counts and prefix sums.
#[derive(Default)]
pub struct HistScratch {
    cnt: Vec<u32>,
    p0: Vec<f64>,
    p1: Vec<f64>,
    p2: Vec<f64>,
}

/// Bins of the mesh histograms. A 64×64 mesh's median is uncertain by ~0.02σ, so bins of
/// 8σ/1024 ≈ 0.008σ (the median interpolated inside its bin) lose nothing measurable;
/// SExtractor's ~4096 levels made the prefix sums cost as much as the pixel passes.
const HIST_BINS: usize = 1024;

/// [`mesh_stats`] the way SExtractor estimates it, from a histogram instead of a sort:
/// one pass for the mean and σ0 of the mesh, a `HIST_BINS`-bin histogram over
/// mean ± 4σ0, the ±3σ-about-the-median clipping iterated to convergence on the bins'
/// prefix sums (median interpolated inside its bin), then a second histogram over the
/// result ± 5σ and the clipping again. Three passes over the pixels instead of a sort;
/// the result differs from the exact one by a fraction of a bin (< 0.01σ, tested).
pub fn mesh_stats_hist(vals: &[f64], h: &mut HistScratch) -> (f64, f64) {
    const NB: usize = HIST_BINS;
    let n = vals.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let c0 = vals[0];
    // four partial sums, so the adds do not wait on each other
    let (mut s1, mut s2) = ([0.0f64; 4], [0.0f64; 4]);
    let mut quads = vals.chunks_exact(4);
    for q in &mut quads {
        for l in 0..4 {
            let d = q[l] - c0;
            s1[l] += d;
            s2[l] += d * d;
        }
    }
    for (l, &v) in quads.remainder().iter().enumerate() {
        let d = v - c0;
        s1[l] += d;
        s2[l] += d * d;
    }
    let s1 = (s1[0] + s1[1]) + (s1[2] + s1[3]);
    let s2 = (s2[0] + s2[1]) + (s2[2] + s2[3]);
    let nf = n as f64;
    let mean0 = c0 + s1 / nf;
    let sigma0 = (s2 / nf - (s1 / nf) * (s1 / nf)).max(0.0).sqrt();
    if sigma0.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return (mean0, 0.0);
    }
    let (mut centre, mut half) = (mean0, 4.0 * sigma0);
    let (mut mean, mut sigma, mut med) = (mean0, sigma0, mean0);
    for _round in 0..2 {
        let lo = centre - half;
        let w = 2.0 * half / NB as f64;
        let inv = 1.0 / w;
        // bins 1..=NB; 0 and NB+1 collect what falls outside (and NaN, in 0), so the
        // loop has no branch to mispredict; the bin numbers of a block of pixels are
        // computed first (vectorised), then counted
        h.cnt.clear();
        h.cnt.resize(NB + 2, 0);
        let mut idx = [0u32; 256];
        for block in vals.chunks(idx.len()) {
            let idx = &mut idx[..block.len()];
            bin_numbers(block, lo, inv, NB, idx);
            for &b in idx.iter() {
                if let Some(c) = h.cnt.get_mut(b as usize) {
                    *c += 1;
                }
            }
        }
        // prefix sums of count, count·x, count·x² with x = i + 0.5 (bin units)
        for p in [&mut h.p0, &mut h.p1, &mut h.p2] {
            p.clear();
            p.resize(NB + 1, 0.0);
        }
        let (mut a0, mut a1, mut a2) = (0.0, 0.0, 0.0);
        for (i, &c) in h.cnt[1..=NB].iter().enumerate() {
            let c = c as f64;
            let x = i as f64 + 0.5;
            a0 += c;
            a1 += c * x;
            a2 += c * x * x;
            h.p0[i + 1] = a0;
            h.p1[i + 1] = a1;
            h.p2[i + 1] = a2;
        }
        // stats of bins lo_b..hi_b (exclusive), in data units
        let stats = |b0: usize, b1: usize| -> Option<(f64, f64, f64)> {
            let m = h.p0[b1] - h.p0[b0];
            if m <= 0.0 {
                return None;
            }
            let mx = (h.p1[b1] - h.p1[b0]) / m;
            let var = ((h.p2[b1] - h.p2[b0]) / m - mx * mx).max(0.0);
            // median: the bin where the cumulative count passes half, interpolated
            let target = h.p0[b0] + 0.5 * m;
            let k = h.p0[b0..=b1].partition_point(|&c| c < target) + b0;
            let k = k.clamp(b0 + 1, b1) - 1; // bin k holds the target
            let ck = h.cnt[k + 1] as f64;
            let frac = if ck > 0.0 {
                (target - h.p0[k]) / ck
            } else {
                0.5
            };
            Some((lo + mx * w, var.sqrt() * w, lo + (k as f64 + frac) * w))
        };
        let (mut b0, mut b1) = (0usize, NB);
        match stats(b0, b1) {
            Some(st) => (mean, sigma, med) = st,
            None => break,
        }
        for _ in 0..100 {
            let (a, b) = (med - 3.0 * sigma, med + 3.0 * sigma);
            // bins whose centre lies in [a, b]
            let n0 = ((a - lo) * inv - 0.5).ceil().clamp(0.0, NB as f64) as usize;
            let n1 = (((b - lo) * inv - 0.5).floor() + 1.0).clamp(0.0, NB as f64) as usize;
            if n1 <= n0 || (n0 == b0 && n1 == b1) {
                break;
            }
            b0 = n0;
            b1 = n1;
            match stats(b0, b1) {
                Some(st) => (mean, sigma, med) = st,
                None => break,
            }
        }
        // a second, finer histogram only where the clipping shrank σ a lot (stars in
        // the mesh): otherwise the bins are already ≤ 1/64 of the clipped σ
        if sigma.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || sigma >= 0.5 * sigma0 {
            break;
        }
        centre = med;
        half = 5.0 * sigma;
    }
    let back = if sigma >= 0.8 * sigma0 {
        mean
    } else {
        2.5 * med - 1.5 * mean
    };
    (back, sigma)
}

/// Histogram bin numbers `((v − lo)·inv + 1)` clamped to 0..=nb+1 (NaN to 0).
fn bin_numbers(v: &[f64], lo: f64, inv: f64, nb: usize, out: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::simd::has_avx2() {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { bin_numbers_avx2(v, lo, inv, nb, out) };
        return;
    }
    bin_numbers_body(v, lo, inv, nb, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bin_numbers_avx2(v: &[f64], lo: f64, inv: f64, nb: usize, out: &mut [u32]) {
    bin_numbers_body(v, lo, inv, nb, out);
}

#[inline(always)]
fn bin_numbers_body(v: &[f64], lo: f64, inv: f64, nb: usize, out: &mut [u32]) {
    let top = (nb + 1) as f64;
    for (o, &x) in out.iter_mut().zip(v) {
        let t = (x - lo) * inv + 1.0;
        // compare-and-select: one maxpd/minpd each; NaN fails `t > 0` and becomes 0
        let t = if t > 0.0 { t } else { 0.0 };
        let t = if t < top { t } else { top };
        *o = t as i32 as u32;
    }
}

/// Interpolation weights along one axis: for each pixel, the two mesh indices and the
/// weight of the second (bilinear between mesh centres, constant beyond the outer ones).
fn axis_weights(n: usize, bs: usize) -> Vec<(usize, usize, f64)> {
    let nm = n.div_ceil(bs);
    let centre = |i: usize| {
        let s = i * bs;
        let e = ((i + 1) * bs).min(n);
        (s + e - 1) as f64 / 2.0
    };
    (0..n)
        .map(|p| {
            let x = p as f64;
            if nm == 1 || x <= centre(0) {
                return (0, 0, 0.0);
            }
            if x >= centre(nm - 1) {
                return (nm - 1, nm - 1, 0.0);
            }
            let mut i = (p / bs).min(nm - 1);
            if x < centre(i) {
                i -= 1;
            }
            let (c0, c1) = (centre(i), centre(i + 1));
            (i, i + 1, (x - c0) / (c1 - c0))
        })
        .collect()
}

/// One row of a bilinearly interpolated mesh map: the two mesh rows are blended once
/// (`tmp`, one value per mesh column), then each pixel interpolates between two of those.
fn interp_row(
    mesh: &[f64],
    nx: usize,
    wy: (usize, usize, f64),
    wx: &[(usize, usize, f64)],
    tmp: &mut Vec<f64>,
    out: &mut [f64],
) {
    let (i0, i1, ty) = wy;
    let (r0, r1) = (&mesh[i0 * nx..(i0 + 1) * nx], &mesh[i1 * nx..(i1 + 1) * nx]);
    tmp.clear();
    tmp.extend(r0.iter().zip(r1).map(|(&a, &b)| a + ty * (b - a)));
    for (o, &(j0, j1, tx)) in out.iter_mut().zip(wx) {
        let (a, b) = (tmp[j0], tmp[j1]);
        *o = a + tx * (b - a);
    }
}

/// A mesh map (background or RMS) read at full resolution: bilinear between mesh centres,
/// constant beyond the outer ones. `row` and `at` use the same expressions, so a pixel
/// read either way has the same value bit for bit.
pub struct MeshMap<'a> {
    mesh: &'a [f64],
    nx: usize,
    cols: usize,
    wx: Vec<(usize, usize, f64)>,
    wy: Vec<(usize, usize, f64)>,
}

impl<'a> MeshMap<'a> {
    pub fn new(mesh: &'a [f64], nx: usize, rows: usize, cols: usize, bs: usize) -> Self {
        MeshMap {
            mesh,
            nx,
            cols,
            wx: axis_weights(cols, bs),
            wy: axis_weights(rows, bs),
        }
    }

    /// Row `r` into `out` (`tmp` holds the two mesh rows blended, one value per mesh column).
    pub fn row(&self, r: usize, tmp: &mut Vec<f64>, out: &mut [f64]) {
        interp_row(self.mesh, self.nx, self.wy[r], &self.wx, tmp, out);
    }

    /// Meshes across: the length of the blended mesh row `row` needs.
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
        let (i0, i1, ty) = self.wy[r];
        let (j0, j1, tx) = self.wx[c];
        let m = |i: usize, j: usize| self.mesh[i * self.nx + j];
        let a = m(i0, j0) + ty * (m(i1, j0) - m(i0, j0));
        let b = m(i0, j1) + ty * (m(i1, j1) - m(i0, j1));
        a + tx * (b - a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipped_stats_of_gaussian_noise_with_a_star() {
        let mut r = crate::data::rng::Rng::new(2);
        let mut v: Vec<f64> = (0..4096).map(|_| 100.0 + 5.0 * r.normal()).collect();
        for x in v.iter_mut().take(40) {
            *x += 5000.0; // a bright star in the mesh
        }
        let (b, s) = mesh_stats(&mut v);
        assert!((b - 100.0).abs() < 0.5, "{b}");
        assert!((s - 5.0).abs() < 0.3, "{s}");
        let (b, s) = mesh_stats_hist(&v, &mut HistScratch::default());
        assert!((b - 100.0).abs() < 0.5, "{b}");
        assert!((s - 5.0).abs() < 0.3, "{s}");
    }

    #[test]
    fn histogram_mesh_stats_agree_with_the_sorted_ones() {
        let mut r = crate::data::rng::Rng::new(8);
        for (stars, sky, noise) in [(0usize, 100.0, 5.0), (40, 100.0, 5.0), (600, 7000.0, 60.0)] {
            let mut v: Vec<f64> = (0..4096).map(|_| sky + noise * r.normal()).collect();
            for (k, x) in v.iter_mut().take(stars).enumerate() {
                *x += 50.0 * noise * (1.0 + (k % 17) as f64); // stars and their wings
            }
            let (b_exact, s_exact) = mesh_stats(&mut v.clone());
            let (b, s) = mesh_stats_hist(&v, &mut HistScratch::default());
            assert!(
                (b - b_exact).abs() < 0.01 * noise,
                "{stars}: {b} vs {b_exact}"
            );
            assert!(
                (s - s_exact).abs() < 0.01 * noise,
                "{stars}: {s} vs {s_exact}"
            );
        }
    }

    #[test]
    fn radix_sort_equals_total_cmp_sort() {
        let mut r = crate::data::rng::Rng::new(4);
        for n in [0usize, 1, 63, 64, 100, 4096] {
            let mut v: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => -r.normal() * 1e3,
                    1 => 0.0,
                    2 => -0.0,
                    3 => 100.0 + r.normal(),
                    _ => r.normal(),
                })
                .collect();
            let mut w = v.clone();
            w.sort_unstable_by(f64::total_cmp);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            radix_sort_f64(&mut v, &mut a, &mut b);
            let vb: Vec<u64> = v.iter().map(|x| x.to_bits()).collect();
            let wb: Vec<u64> = w.iter().map(|x| x.to_bits()).collect();
            assert_eq!(vb, wb, "n={n}");
        }
    }

    #[test]
    fn interpolation_weights_hit_mesh_centres() {
        let w = axis_weights(100, 32); // meshes 0..32, 32..64, 64..96, 96..100
        assert_eq!(w[0], (0, 0, 0.0));
        assert_eq!(w[15], (0, 0, 0.0));
        assert_eq!(w[16].0, 0);
        assert!((w[16].2 - 0.5 / 32.0).abs() < 1e-12);
        assert_eq!(w[99], (3, 3, 0.0));
        let w1 = axis_weights(10, 64);
        assert!(w1.iter().all(|&x| x == (0, 0, 0.0)));
    }
}
