//! Chapter 7.2's catalog cross-match: for every source of catalog 1, the nearest source
//! of catalog 2 within `radius` arcsec on the sphere. Distances are chords between unit
//! vectors (as the chapter's cKDTree does) and the separation is `2·asin(chord/2)`.
//! naive = brute force over every pair; vectorized = a declination-zone index (zones
//! sorted by right ascension, each query scans only the RA window its cap can reach);
//! parallel = the same index with the queries spread over rayon.

use crate::data::{generate, Catalog, Dataset, Kind};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, Tolerance, Variant,
};
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::f64::consts::{FRAC_PI_2, PI};

pub struct CrossMatch;

/// Artifact: the nearest match of each row of the first catalog, a table of idx1, idx2
/// (-1 when none within the radius) and separation.
pub const MATCHES: &str = "matches";

/// Queries between cancellation checks.
const CHECK_EVERY: usize = 1024;
/// Largest number of pairs the brute-force variant accepts (100k × 100k): beyond that
/// it would run for minutes; the other variants have no such limit.
pub const MAX_NAIVE_PAIRS: u128 = 10_000_000_000;
/// Most declination zones the index makes.
const MAX_ZONES: usize = 1 << 16;

const ARCSEC: f64 = PI / (180.0 * 3600.0);

impl Analysis for CrossMatch {
    fn id(&self) -> &'static str {
        "cross-match"
    }
    fn title(&self) -> &'static str {
        "Catalog cross-match"
    }
    fn section(&self) -> Section {
        Section::Vectorization
    }
    fn help(&self) -> &'static str {
        "Nearest catalog-2 source within a radius for each catalog-1 source: brute force is O(N·M); a declination-zone index (sorted by RA) makes each query O(log M)."
    }
    fn input_kind(&self) -> Kind {
        Kind::CatalogPair
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::float(
                "radius",
                "match radius in arcsec (nearest neighbour closer than this)",
                1.0,
                1e-6,
                3600.0,
            ),
            ParamSpec::choice(
                "order",
                "index variants: visit queries in catalog order, or sorted by zone (cache locality)",
                "catalog",
                &["catalog", "zone"],
            ),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "rows per catalog"
    }
    fn default_size(&self) -> usize {
        100_000
    }
    fn quick_size(&self) -> usize {
        5_000
    }
    fn cost(&self) -> CostModel {
        CostModel {
            // Naive is brute force over N·M pairs (57 ms at 5,000 rows in the quick suite); the
            // zone index is N log M.
            time: [(2.0, 22.8), (1.05, 33.2e-3), (1.05, 25.5e-3)],
            mem: (1.0, 64.0),
            w_ref: 1e5,
        }
    }
    fn work(&self, input: &Dataset, _params: &Params) -> f64 {
        match input {
            // N·M pairs for brute force; the model's exponent 2 is on sqrt(N·M).
            Dataset::CatalogPair(c1, c2) => ((c1.len() as f64) * (c2.len() as f64)).sqrt(),
            other => self.size_of(other) as f64,
        }
    }
    fn size_of(&self, input: &Dataset) -> usize {
        match input {
            Dataset::CatalogPair(a, b) => a.len().max(b.len()),
            other => other.n_elements(),
        }
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        let (a, b, _) = generate::catalog_pair(size, size, size / 2, 0.5, seed);
        Ok(Dataset::CatalogPair(a, b))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let (c1, c2, radius) = self.parse(input, params)?;
        if variant == Variant::Naive && (c1.len() as u128) * (c2.len() as u128) > MAX_NAIVE_PAIRS {
            return Err(Error::input(format!(
                "the brute-force variant would test {} × {} pairs, more than its limit of {MAX_NAIVE_PAIRS:.0e}; use the vectorized or parallel variant",
                c1.len(),
                c2.len()
            )));
        }
        let par = variant == Variant::Parallel;
        let by_zone = params.str("order")? == "zone";
        let q = stage!(ctx, "unit vectors", unit_vectors(c1, par));
        let matches = match variant {
            Variant::Naive => {
                let t = stage!(ctx, "unit vectors", unit_vectors(c2, false));
                stage!(ctx, "brute force", brute_force(&q, &t, radius, ctx)?)
            }
            _ => {
                let t = stage!(ctx, "unit vectors", unit_vectors(c2, par));
                let index = stage!(ctx, "zone index", ZoneIndex::build(&t, radius, par));
                stage!(
                    ctx,
                    "query",
                    index.query_all(&q, radius, by_zone, par, ctx)?
                )
            }
        };
        ctx.progress(1.0);
        let rows = stage!(ctx, "table", match_table(&matches));
        let n = rows.nrows();
        let seps: Vec<f64> = rows.column(2).to_vec();
        let mut sorted = seps.clone();
        sorted.sort_by(f64::total_cmp);
        let median = if n == 0 { f64::NAN } else { sorted[n / 2] };
        let max = sorted.last().copied().unwrap_or(f64::NAN);
        Ok(Output::new()
            .sum("n_matches", n)
            .sum("n_catalog1", c1.len())
            .sum("n_catalog2", c2.len())
            .sum("match_fraction", n as f64 / c1.len() as f64)
            .sum("radius_arcsec", radius)
            .sum("median_sep_arcsec", median)
            .sum("max_sep_arcsec", max)
            .table(
                MATCHES,
                &["idx1", "idx2", "sep_arcsec"],
                rows,
                Tolerance::Exact,
            ))
    }
}

impl CrossMatch {
    /// The two catalogs and the radius, checked once: what `validate` reports and `run`
    /// computes on.
    fn parse<'a>(
        &self,
        input: &'a Dataset,
        params: &Params,
    ) -> Result<(&'a Catalog, &'a Catalog, f64)> {
        let (a, b): (&Catalog, &Catalog) = engine::input(self, input)?;
        for (name, c) in [("catalog 1", a), ("catalog 2", b)] {
            if c.is_empty() {
                return Err(Error::input(format!("{name} has no rows")));
            }
            if c.ra.len() != c.dec.len() {
                return Err(Error::input(format!(
                    "{name} has {} RA but {} Dec values",
                    c.ra.len(),
                    c.dec.len()
                )));
            }
            if let Some(i) =
                c.ra.iter()
                    .zip(c.dec.iter())
                    .position(|(r, d)| !r.is_finite() || !d.is_finite() || d.abs() > 90.0)
            {
                return Err(Error::input(format!(
                    "{name} row {i} has an invalid position (RA {}, Dec {}); RA must be finite and |Dec| <= 90 degrees",
                    c.ra[i], c.dec[i]
                )));
            }
        }
        Ok((a, b, params.f64("radius")?))
    }
}

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
fn max_chord(radius_arcsec: f64) -> f64 {
    2.0 * (radius_arcsec * ARCSEC / 2.0).sin()
}

#[inline]
fn chord2(ax: f64, ay: f64, az: f64, bx: f64, by: f64, bz: f64) -> f64 {
    let dx = ax - bx;
    let dy = ay - by;
    let dz = az - bz;
    dx * dx + dy * dy + dz * dz
}

/// A match: (index in catalog 2, squared chord). `None` = nothing within the radius.
type Hit = Option<(usize, f64)>;

/// The nearest wins; equal distances go to the lower catalog-2 index (as a scan in
/// index order finds them). The bound is strict on the chord, as in the chapter.
#[inline]
fn better(d2: f64, j: usize, best: Hit) -> bool {
    match best {
        None => true,
        Some((bj, bd)) => d2 < bd || (d2 == bd && j < bj),
    }
}

#[inline]
fn accept(best: Hit, chord_max: f64) -> Hit {
    best.filter(|&(_, d2)| d2.sqrt() < chord_max)
}

/// The straightforward double loop: every catalog-2 source for every catalog-1 source.
fn brute_force(q: &Xyz, t: &Xyz, radius: f64, ctx: &Ctx) -> Result<Vec<Hit>> {
    let cmax = max_chord(radius);
    let n = q.x.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if i % 64 == 0 {
            ctx.check()?;
            ctx.progress(i as f64 / n as f64);
        }
        let mut best: Hit = None;
        for j in 0..t.x.len() {
            let d2 = chord2(q.x[i], q.y[i], q.z[i], t.x[j], t.y[j], t.z[j]);
            if better(d2, j, best) {
                best = Some((j, d2));
            }
        }
        out.push(accept(best, cmax));
    }
    Ok(out)
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

/// (idx1, idx2, sep_arcsec) for the sources that have a match, in catalog-1 order.
fn match_table(hits: &[Hit]) -> Array2<f64> {
    let rows: Vec<[f64; 3]> = hits
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            h.map(|(j, d2)| {
                let sep = 2.0 * (d2.sqrt() / 2.0).asin() / ARCSEC;
                [i as f64, j as f64, sep]
            })
        })
        .collect();
    let mut a = Array2::zeros((rows.len(), 3));
    for (r, row) in rows.iter().enumerate() {
        for c in 0..3 {
            a[[r, c]] = row[c];
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    fn cat(ra: &[f64], dec: &[f64]) -> Catalog {
        Catalog {
            ra: Array1::from(ra.to_vec()),
            dec: Array1::from(dec.to_vec()),
            mag: None,
            color: None,
        }
    }

    /// Poles, the RA wrap and large radii, where zone/RA windows are easy to get wrong.
    #[test]
    fn index_equals_brute_force_at_edges() {
        let ctx = Ctx::detached(2);
        let mut r = crate::data::rng::Rng::new(11);
        let mut ra1 = vec![];
        let mut dec1 = vec![];
        let mut ra2 = vec![];
        let mut dec2 = vec![];
        for _ in 0..3000 {
            // crowd the poles and the RA = 0/360 seam
            let (a, d) = match r.below(3) {
                0 => (r.range(0.0, 360.0), 90.0 - r.range(0.0, 0.05)),
                1 => (r.range(-0.02, 0.02).rem_euclid(360.0), r.range(-89.0, 89.0)),
                _ => (r.range(0.0, 360.0), r.range(-1.0, 1.0).asin().to_degrees()),
            };
            ra1.push(a);
            dec1.push(d);
            let (a2, d2) =
                generate::offset_position(a, d, r.range(0.0, 80.0) * ARCSEC, r.range(0.0, 6.3));
            ra2.push(a2);
            dec2.push(d2);
        }
        let (c1, c2) = (cat(&ra1, &dec1), cat(&ra2, &dec2));
        let q = unit_vectors(&c1, false);
        let t = unit_vectors(&c2, false);
        for radius in [1.0, 30.0, 60.0, 3600.0] {
            let bf = brute_force(&q, &t, radius, &ctx).expect("bf");
            let idx = ZoneIndex::build(&t, radius, false);
            for by_zone in [false, true] {
                let zi = idx.query_all(&q, radius, by_zone, false, &ctx).expect("zi");
                assert_eq!(bf, zi, "radius {radius} zone order {by_zone}");
            }
            let zi = idx.query_all(&q, radius, false, true, &ctx).expect("zi");
            assert_eq!(bf, zi, "radius {radius}");
            assert!(
                bf.iter().filter(|h| h.is_some()).count() > 20,
                "radius {radius}"
            );
        }
    }
}
