//! A spatial index on the sphere for nearest-neighbour matching within a radius: unit
//! vectors, chord distances (as scipy's cKDTree measures them), and catalog 2 in
//! declination zones sorted by right ascension, so a query scans only the RA window its
//! cap can reach.

use crate::ctx::Ctx;
use crate::data::Catalog;
use crate::Result;
use rayon::prelude::*;
use std::f64::consts::{FRAC_PI_2, PI};

/// Queries between cancellation checks.
const CHECK_EVERY: usize = 1024;
/// Most declination zones the index makes.
const MAX_ZONES: usize = 1 << 16;

/// One arcsecond in radians.
pub const ARCSEC: f64 = PI / (180.0 * 3600.0);

/// Unit vectors (cos d cos a, cos d sin a, sin d) as three columns.
pub struct Xyz {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub z: Vec<f64>,
    /// RA in [0, 2π) and Dec, radians (the index windows use these, not asin(z), which
    /// loses precision near the poles).
    pub ra: Vec<f64>,
    pub dec: Vec<f64>,
}

#[inline]
fn xyz_of(ra_deg: f64, dec_deg: f64) -> (f64, f64, f64) {
    let (sa, ca) = ra_deg.to_radians().sin_cos();
    let (sd, cd) = dec_deg.to_radians().sin_cos();
    (cd * ca, cd * sa, sd)
}

/// The unit vectors of a catalog, with RA normalised to [0, 2π) and both in radians.
pub fn unit_vectors(c: &Catalog, parallel: bool) -> Xyz {
    let n = c.len();
    let (ra, dec) = (&c.ra, &c.dec);
    let v: Vec<(f64, f64, f64)> = if parallel {
        (0..n)
            .into_par_iter()
            .map(|i| xyz_of(ra[i], dec[i]))
            .collect()
    } else {
        (0..n).map(|i| xyz_of(ra[i], dec[i])).collect()
    };
    let mut out = Xyz {
        x: Vec::with_capacity(n),
        y: Vec::with_capacity(n),
        z: Vec::with_capacity(n),
        ra: ra.iter().map(|a| norm_ra(a.to_radians())).collect(),
        dec: dec.iter().map(|d| d.to_radians()).collect(),
    };
    for (x, y, z) in v {
        out.x.push(x);
        out.y.push(y);
        out.z.push(z);
    }
    out
}

/// RA in [0, 2π): the fmod only for values outside (rem_euclid is a slow libm call and
/// returns in-range values unchanged anyway).
#[inline]
fn norm_ra(r: f64) -> f64 {
    if (0.0..2.0 * PI).contains(&r) {
        r
    } else {
        r.rem_euclid(2.0 * PI)
    }
}

/// Largest chord of a match: 2·sin(r/2).
pub fn max_chord(radius_arcsec: f64) -> f64 {
    2.0 * (radius_arcsec * ARCSEC / 2.0).sin()
}

/// Squared chord between two unit vectors.
#[inline]
pub fn chord2(ax: f64, ay: f64, az: f64, bx: f64, by: f64, bz: f64) -> f64 {
    let dx = ax - bx;
    let dy = ay - by;
    let dz = az - bz;
    dx * dx + dy * dy + dz * dz
}

/// A match: (index in catalog 2, squared chord). `None` = nothing within the radius.
pub type Hit = Option<(usize, f64)>;

/// The nearest wins; equal distances go to the lower catalog-2 index (as a scan in
/// index order finds them). The bound is strict on the chord, as in the chapter.
#[inline]
pub fn better(d2: f64, j: usize, best: Hit) -> bool {
    match best {
        None => true,
        Some((bj, bd)) => d2 < bd || (d2 == bd && j < bj),
    }
}

/// The best hit if it lies strictly within the chord bound.
#[inline]
pub fn accept(best: Hit, chord_max: f64) -> Hit {
    best.filter(|&(_, d2)| d2.sqrt() < chord_max)
}

/// Catalog 2 in declination zones of height >= the radius, each zone sorted by RA.
/// Every array is in index order (zone, ra); `id` maps back to catalog-2 rows.
pub struct ZoneIndex {
    height: f64,
    n_zones: usize,
    /// Start of each zone in the sorted arrays (n_zones + 1 entries).
    start: Vec<usize>,
    ra: Vec<f64>,
    x: Vec<f64>,
    y: Vec<f64>,
    z: Vec<f64>,
    id: Vec<usize>,
}

fn zone_of(dec: f64, height: f64, n_zones: usize) -> usize {
    let z = ((dec + FRAC_PI_2) / height).floor();
    if z <= 0.0 {
        0
    } else {
        (z as usize).min(n_zones - 1)
    }
}

/// Counting sort of rows by zone: (zone starts, n_zones + 1 of them; row order).
fn zone_order(dec: &[f64], height: f64, n_zones: usize) -> (Vec<usize>, Vec<usize>) {
    let zone: Vec<u32> = dec
        .iter()
        .map(|&d| zone_of(d, height, n_zones) as u32)
        .collect();
    let mut start = vec![0usize; n_zones + 1];
    for &z in &zone {
        start[z as usize + 1] += 1;
    }
    for z in 0..n_zones {
        start[z + 1] += start[z];
    }
    let mut next = start.clone();
    let mut order = vec![0usize; dec.len()];
    for (i, &z) in zone.iter().enumerate() {
        order[next[z as usize]] = i;
        next[z as usize] += 1;
    }
    (start, order)
}

impl ZoneIndex {
    /// Index catalog 2 (its unit vectors with RA/Dec): a counting sort into zones, then
    /// a small sort by RA inside each zone.
    pub fn build(c: &Xyz, radius_arcsec: f64, parallel: bool) -> ZoneIndex {
        let n = c.x.len();
        let r = radius_arcsec * ARCSEC;
        // Zones about a quarter of the mean source spacing tall (a handful of sources per
        // zone and RA window), never lower than the radius, at most MAX_ZONES.
        let spacing = (4.0 * PI / n.max(1) as f64).sqrt();
        let height = r.max(spacing / 4.0).max(PI / MAX_ZONES as f64);
        let n_zones = ((PI / height).ceil() as usize).clamp(1, MAX_ZONES);
        let (start, mut order) = zone_order(&c.dec, height, n_zones);
        let by_ra = |zone: &mut [usize]| {
            zone.sort_unstable_by(|&i, &j| c.ra[i].total_cmp(&c.ra[j]).then(i.cmp(&j)))
        };
        // split `order` into its zones and sort each
        let mut zones: Vec<&mut [usize]> = Vec::with_capacity(n_zones);
        let mut rest: &mut [usize] = &mut order;
        for z in 0..n_zones {
            let (head, tail) = rest.split_at_mut(start[z + 1] - start[z]);
            zones.push(head);
            rest = tail;
        }
        if parallel {
            zones.par_iter_mut().for_each(|z| by_ra(z));
        } else {
            zones.iter_mut().for_each(|z| by_ra(z));
        }
        let gather = |v: &[f64]| -> Vec<f64> { order.iter().map(|&i| v[i]).collect() };
        ZoneIndex {
            height,
            n_zones,
            start,
            ra: gather(&c.ra),
            x: gather(&c.x),
            y: gather(&c.y),
            z: gather(&c.z),
            id: order,
        }
    }

    /// Scan sorted positions `lo..hi` for a better hit.
    #[inline]
    fn scan(&self, lo: usize, hi: usize, p: (f64, f64, f64), lim2: f64, best: &mut Hit) {
        for k in lo..hi {
            let d2 = chord2(p.0, p.1, p.2, self.x[k], self.y[k], self.z[k]);
            if d2 <= lim2 && better(d2, self.id[k], *best) {
                *best = Some((self.id[k], d2));
            }
        }
    }

    /// Scan from sorted position `lo` to the zone end `end`, stopping past RA `hi`.
    #[inline]
    fn scan_ra(
        &self,
        lo: usize,
        end: usize,
        hi: f64,
        p: (f64, f64, f64),
        lim2: f64,
        best: &mut Hit,
    ) {
        let stop = lo + self.ra[lo..end].iter().take_while(|&&x| x <= hi).count();
        self.scan(lo, stop, p, lim2, best);
    }

    /// Nearest neighbour of one unit vector within the radius.
    fn query(&self, p: (f64, f64, f64), ra: f64, dec: f64, r: f64, sin_r: f64, cmax: f64) -> Hit {
        // Anything at or beyond the bound can never be accepted; a relative margin keeps
        // the pre-filter from rejecting what the exact `sqrt(d2) < cmax` test accepts.
        let lim2 = cmax * cmax * (1.0 + 1e-9);
        let cos_dec = (p.0 * p.0 + p.1 * p.1).sqrt();
        // RA half-width of the cap: asin(sin r / cos dec) <= s / sqrt(1 - s²).
        let s = sin_r / cos_dec.max(1e-300) * (1.0 + 1e-9) + 1e-15;
        let full = s >= 0.5 || dec.abs() + r * 1.01 >= FRAC_PI_2;
        let dra = if full {
            0.0
        } else {
            s / (1.0 - s * s).sqrt() * (1.0 + 1e-6) + 1e-12
        };
        let margin = r * 1e-6 + 1e-12;
        let z0 = zone_of(dec - r - margin, self.height, self.n_zones);
        let z1 = zone_of(dec + r + margin, self.height, self.n_zones);
        let mut best: Hit = None;
        for zn in z0..=z1 {
            let (a, b) = (self.start[zn], self.start[zn + 1]);
            if a == b {
                continue;
            }
            if full {
                self.scan(a, b, p, lim2, &mut best);
                continue;
            }
            let zra = &self.ra[a..b];
            let lo = ra - dra;
            let hi = ra + dra;
            // one binary search for the window start, then walk while RA <= hi
            let first = |v: f64| a + zra.partition_point(|&x| x < v);
            self.scan_ra(first(lo.max(0.0)), b, hi, p, lim2, &mut best);
            if lo < 0.0 {
                self.scan_ra(first(lo + 2.0 * PI), b, f64::INFINITY, p, lim2, &mut best);
            }
            if hi > 2.0 * PI {
                self.scan_ra(a, b, hi - 2.0 * PI, p, lim2, &mut best);
            }
        }
        accept(best, cmax)
    }

    /// Every query, in catalog-1 order or (`zone_order_queries`) in zone order of the
    /// queries themselves, so that neighbouring queries read the same few zones while
    /// they are in cache; results are written back in catalog-1 order.
    pub fn query_all(
        &self,
        q: &Xyz,
        radius: f64,
        zone_order_queries: bool,
        parallel: bool,
        ctx: &Ctx,
    ) -> Result<Vec<Hit>> {
        let r = radius * ARCSEC;
        let sin_r = r.sin();
        let cmax = max_chord(radius);
        let n = q.x.len();
        let order: Vec<usize> = if zone_order_queries {
            zone_order(&q.dec, self.height, self.n_zones).1
        } else {
            (0..n).collect()
        };
        let one =
            |i: usize| self.query((q.x[i], q.y[i], q.z[i]), q.ra[i], q.dec[i], r, sin_r, cmax);
        let hits: Vec<Hit> = if parallel {
            order
                .par_chunks(CHECK_EVERY)
                .map(|c| {
                    ctx.check()?;
                    Ok(c.iter().map(|&i| one(i)).collect::<Vec<Hit>>())
                })
                .collect::<Result<Vec<Vec<Hit>>>>()?
                .concat()
        } else {
            let mut v = Vec::with_capacity(n);
            for (b, c) in order.chunks(CHECK_EVERY).enumerate() {
                ctx.check()?;
                v.extend(c.iter().map(|&i| one(i)));
                ctx.progress((b * CHECK_EVERY) as f64 / n.max(1) as f64);
            }
            v
        };
        let mut out: Vec<Hit> = vec![None; n];
        for (&i, h) in order.iter().zip(hits) {
            out[i] = h;
        }
        Ok(out)
    }
}
