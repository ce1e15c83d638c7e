//! Chapter 7.2's broadcasting example: the full N×N matrix of angular distances
//! (degrees) between sky positions by the haversine formula, which stays accurate for
//! tiny separations where the spherical law of cosines loses everything to rounding.
//! naive = the formula pair by pair (four trig calls each); vectorized = half-angle
//! sines/cosines precomputed once per source (the pair needs only products, a sqrt and
//! an asin), the upper triangle computed and mirrored; parallel = rows over rayon.

use crate::data::{generate, Catalog, Dataset, Kind};
use crate::engine::work::F64;
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;

pub struct AngularDistances;

/// Artifact: the N×N matrix of angular distances (degrees).
pub const DISTANCES: &str = "distances";
/// Summary: the smallest distance off the diagonal (degrees).
pub const MIN_OFFDIAG_DEG: &str = "min_offdiag_deg";
/// Summary: the mean distance off the diagonal (degrees).
pub const MEAN_OFFDIAG_DEG: &str = "mean_offdiag_deg";
/// Summary: the largest distance (degrees).
pub const MAX_DEG: &str = "max_deg";

/// N×N f64: 16,000 sources is a 2 GB matrix; more is refused.
pub const MAX_SOURCES: usize = 16_000;
/// Tile edge of the mirror (transpose) pass.
const TILE: usize = 64;

impl Analysis for AngularDistances {
    fn id(&self) -> &'static str {
        "angular-distances"
    }
    fn title(&self) -> &'static str {
        "Angular distance matrix (haversine)"
    }
    fn section(&self) -> Section {
        Section::Vectorization
    }
    fn help(&self) -> &'static str {
        "Every pairwise angular distance (N×N, degrees) by the haversine formula, stable for tiny separations; vectorizing hoists the per-source trig out of the pair loop."
    }
    fn input_kind(&self) -> Kind {
        Kind::Catalog
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![]
    }
    fn size_unit(&self) -> &'static str {
        "sources"
    }
    fn default_size(&self) -> usize {
        4_000
    }
    fn quick_size(&self) -> usize {
        300
    }
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(2.0, 1.171), (2.0, 0.3016), (2.0, 0.1652)],
            // The full N×N matrix in f64.
            mem: (2.0, 8.0),
            w_ref: 4000.0,
        }
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::Catalog(c) => c.len(),
            other => other.n_elements(),
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        Ok(Dataset::Catalog(generate::catalog(size, seed)))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let n = self.size_of(input) as f64;
        let upper = n * (n - 1.0) / 2.0;
        vec![
            // The full N×N matrix written from 2N coordinates. Per pair the naive haversine
            // does 21 flops: 4 to-radians multiplies; a subtract, halving and sine for each
            // of Δdec and Δra (6); sd², two cosines and three multiplies for the cosine
            // term (6); the add, sqrt, asin, doubling and to-degrees multiply (5).
            StageWork::streaming("distances", 16.0 * n + F64 * n * n, 21.0 * n * n),
            // The upper triangle read once, one add per value for the mean.
            StageWork::streaming("summary", F64 * upper, upper),
        ]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let c = self.parse(input, params)?;
        let ra: Vec<f64> = c.ra.to_vec();
        let dec: Vec<f64> = c.dec.to_vec();
        let n = ra.len();
        let d = stage!(
            ctx,
            "distances",
            match variant {
                Variant::Naive => naive(&ra, &dec, ctx)?,
                Variant::Vectorized => tables(&ra, &dec, false, ctx)?,
                Variant::Parallel => tables(&ra, &dec, true, ctx)?,
            }
        );
        let (min, max, mean) = stage!(
            ctx,
            "summary",
            off_diagonal_stats(&d, n, variant == Variant::Parallel)
        );
        ctx.progress(1.0);
        let m = Array2::from_shape_vec((n, n), d)
            .map_err(|e| Error::input(format!("distance matrix shape: {e}")))?;
        Ok(Output::new()
            .sum("n_sources", n)
            .sum(MIN_OFFDIAG_DEG, min)
            .sum(MAX_DEG, max)
            .sum(MEAN_OFFDIAG_DEG, mean)
            // Naive and the table form round differently; near-antipodal pairs are where
            // haversine is ill-conditioned (d asin(sqrt a) blows up as a -> 1).
            .f64(DISTANCES, m.into_dyn(), Tolerance::Rel(1e-9)))
    }
}

impl AngularDistances {
    /// The input, checked once: what `validate` reports and `run` computes on.
    fn parse<'a>(&self, input: &'a Dataset, _params: &Params) -> Result<&'a Catalog> {
        let c: &Catalog = engine::input(self, input)?;
        let n = c.len();
        if n < 2 {
            return Err(Error::input(format!(
                "the catalog has {n} sources; at least 2 are needed for a distance"
            )));
        }
        if n > MAX_SOURCES {
            return Err(Error::input(format!(
                "{n} sources would need a {:.1} GB distance matrix; at most {MAX_SOURCES} are accepted",
                (n * n * 8) as f64 / 1e9
            )));
        }
        if c.dec.len() != n {
            return Err(Error::input(format!(
                "the catalog has {n} RA but {} Dec values",
                c.dec.len()
            )));
        }
        if let Some(i) =
            c.ra.iter()
                .zip(c.dec.iter())
                .position(|(r, d)| !r.is_finite() || !d.is_finite() || d.abs() > 90.0)
        {
            return Err(Error::input(format!(
                "catalog row {i} has an invalid position (RA {}, Dec {}); RA must be finite and |Dec| <= 90 degrees",
                c.ra[i], c.dec[i]
            )));
        }
        Ok(c)
    }
}

/// Haversine distance (radians) of two positions given in radians.
#[inline]
pub fn haversine(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let sd = ((dec1 - dec2) / 2.0).sin();
    let sa = ((ra1 - ra2) / 2.0).sin();
    let a = sd * sd + dec1.cos() * dec2.cos() * sa * sa;
    2.0 * a.clamp(0.0, 1.0).sqrt().asin()
}

/// The chapter's formula applied pair by pair, the full matrix.
fn naive(ra: &[f64], dec: &[f64], ctx: &Ctx) -> Result<Vec<f64>> {
    let n = ra.len();
    let mut out = Vec::with_capacity(n * n);
    for i in 0..n {
        if i % 16 == 0 {
            ctx.check()?;
            ctx.progress(i as f64 / n as f64);
        }
        for j in 0..n {
            let d = haversine(
                ra[i].to_radians(),
                dec[i].to_radians(),
                ra[j].to_radians(),
                dec[j].to_radians(),
            );
            out.push(d.to_degrees());
        }
    }
    Ok(out)
}

/// Per-source half-angle sines and cosines: sin((a-b)/2) = sin(a/2)cos(b/2) - cos(a/2)sin(b/2).
struct Trig {
    sa: Vec<f64>,
    ca: Vec<f64>,
    sd: Vec<f64>,
    cd: Vec<f64>,
    cosd: Vec<f64>,
}

fn trig(ra: &[f64], dec: &[f64]) -> Trig {
    let half = |v: &[f64]| -> (Vec<f64>, Vec<f64>) {
        v.iter().map(|x| (x.to_radians() / 2.0).sin_cos()).unzip()
    };
    let (sa, ca) = half(ra);
    let (sd, cd) = half(dec);
    let cosd = dec.iter().map(|d| d.to_radians().cos()).collect();
    Trig {
        sa,
        ca,
        sd,
        cd,
        cosd,
    }
}

/// Row i from column i+1 on (the upper triangle); `out` is that slice of row i.
#[inline]
fn row_upper(i: usize, t: &Trig, out: &mut [f64]) {
    let (sai, cai, sdi, cdi, ci) = (t.sa[i], t.ca[i], t.sd[i], t.cd[i], t.cosd[i]);
    let j0 = i + 1;
    for (k, o) in out.iter_mut().enumerate() {
        let j = j0 + k;
        let sdra = sai * t.ca[j] - cai * t.sa[j];
        let sddec = sdi * t.cd[j] - cdi * t.sd[j];
        let a = sddec * sddec + ci * t.cosd[j] * sdra * sdra;
        *o = (2.0 * a.min(1.0).sqrt().asin()).to_degrees();
    }
}

fn tables(ra: &[f64], dec: &[f64], parallel: bool, ctx: &Ctx) -> Result<Vec<f64>> {
    let n = ra.len();
    let t = trig(ra, dec);
    let mut out = vec![0.0; n * n];
    let upper = |i: usize, row: &mut [f64]| -> Result<()> {
        if i.is_multiple_of(16) {
            ctx.check()?;
        }
        row[i] = 0.0;
        row_upper(i, &t, &mut row[i + 1..]);
        Ok(())
    };
    if parallel {
        out.par_chunks_mut(n)
            .enumerate()
            .try_for_each(|(i, row)| upper(i, row))?;
    } else {
        for (i, row) in out.chunks_mut(n).enumerate() {
            upper(i, row)?;
            if i % 64 == 0 {
                ctx.progress(0.9 * i as f64 / n as f64);
            }
        }
    }
    mirror(&mut out, n, parallel);
    Ok(out)
}

/// Copy the upper triangle onto the lower one, a band of TILE rows at a time, tile by
/// tile (each tile reads a TILE×TILE block of the upper triangle, so reads stay in cache).
fn mirror(out: &mut [f64], n: usize, parallel: bool) {
    struct Shared(*mut f64);
    // SAFETY: band b writes only out[i][j] with i in its rows and j < i (the strict lower
    // triangle of its own rows) and reads only out[j][i] with j < i (the strict upper
    // triangle), which no band writes; bands never overlap, so there is no data race.
    unsafe impl Sync for Shared {}
    // SAFETY: the pointer only travels to rayon's threads inside this call, used as the
    // Sync impl above describes, while `out` stays borrowed.
    unsafe impl Send for Shared {}
    assert_eq!(out.len(), n * n);
    let p = Shared(out.as_mut_ptr());
    let band = |b: usize| {
        let base = &p;
        let r0 = b * TILE;
        let r1 = (r0 + TILE).min(n);
        for j0 in (0..r1).step_by(TILE) {
            let j1 = (j0 + TILE).min(r1);
            for i in r0..r1 {
                for j in j0..j1.min(i) {
                    // SAFETY: i, j < n, so both offsets are inside the n*n buffer.
                    unsafe { *base.0.add(i * n + j) = *base.0.add(j * n + i) };
                }
            }
        }
    };
    let bands = n.div_ceil(TILE);
    if parallel {
        (0..bands).into_par_iter().for_each(band);
    } else {
        (0..bands).for_each(band);
    }
}

/// (min, max, mean) over the off-diagonal entries: the matrix is symmetric, so the
/// strict upper triangle suffices; per-row partials combined in row order (the same
/// bits at any thread count).
fn off_diagonal_stats(d: &[f64], n: usize, parallel: bool) -> (f64, f64, f64) {
    let row = |(i, r): (usize, &[f64])| -> (f64, f64, f64) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let mut s = 0.0;
        for &v in &r[i + 1..] {
            lo = lo.min(v);
            hi = hi.max(v);
            s += v;
        }
        (lo, hi, s)
    };
    let parts: Vec<(f64, f64, f64)> = if parallel {
        d.par_chunks(n).enumerate().map(row).collect()
    } else {
        d.chunks(n).enumerate().map(row).collect()
    };
    let (mut lo, mut hi, mut s) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
    for (a, b, c) in parts {
        lo = lo.min(a);
        hi = hi.max(b);
        s += c;
    }
    (lo, hi, 2.0 * s / (n * (n - 1)) as f64)
}

/// Vincenty's formula (radians in, radians out): well-conditioned at every separation,
/// used as the independent reference in the tests.
pub fn vincenty(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let dra = ra2 - ra1;
    let (s1, c1) = dec1.sin_cos();
    let (s2, c2) = dec2.sin_cos();
    let (sdra, cdra) = dra.sin_cos();
    let num1 = c2 * sdra;
    let num2 = c1 * s2 - s1 * c2 * cdra;
    let den = s1 * s2 + c1 * c2 * cdra;
    (num1 * num1 + num2 * num2).sqrt().atan2(den)
}

#[cfg(test)]
mod tests {

    #[test]
    fn declared_work_is_the_hand_count() {
        // 3 sources: 9 pairs of 21 flops into a 72-byte matrix from 48 bytes of
        // coordinates; the summary adds the 3 upper-triangle values.
        let input = AngularDistances.generate(3, 1).expect("generate");
        let work = AngularDistances.stage_work(&input, &Params::default());
        let got: Vec<(&str, f64, f64)> = work.iter().map(|w| (w.stage, w.bytes, w.flops)).collect();
        assert_eq!(got, [("distances", 120.0, 189.0), ("summary", 24.0, 3.0)]);
    }
    use super::*;

    #[test]
    fn mirror_fills_lower_triangle() {
        let n = 150;
        let ra: Vec<f64> = (0..n).map(|i| i as f64 * 2.3).collect();
        let dec: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin() * 80.0).collect();
        let ctx = Ctx::detached(2);
        let a = tables(&ra, &dec, false, &ctx).expect("serial");
        let b = tables(&ra, &dec, true, &ctx).expect("parallel");
        assert_eq!(a, b);
        for i in 0..n {
            assert_eq!(a[i * n + i], 0.0);
            for j in 0..n {
                assert_eq!(a[i * n + j], a[j * n + i]);
            }
        }
    }
}
