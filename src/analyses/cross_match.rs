//! Chapter 7.2's catalog cross-match: for every source of catalog 1, the nearest source
//! of catalog 2 within `radius` arcsec on the sphere. Distances are chords between unit
//! vectors (as the chapter's cKDTree does) and the separation is `2·asin(chord/2)`.
//! naive = brute force over every pair; vectorized = a declination-zone index
//! ([`crate::kernels::spatial`]: zones sorted by right ascension, each query scans only
//! the RA window its cap can reach); parallel = the same index with the queries spread
//! over rayon.

use crate::data::{generate, Catalog, Dataset, Kind};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance,
    Variant,
};
use crate::kernels::spatial::{
    accept, better, chord2, max_chord, unit_vectors, Hit, Xyz, ZoneIndex, ARCSEC,
};
use crate::{stage, Error, Result};
use ndarray::Array2;

pub struct CrossMatch;

/// Summary: how many rows of catalog 1 have a match.
pub const N_MATCHES: &str = "n_matches";
/// Summary: the fraction of catalog 1 matched.
pub const MATCH_FRACTION: &str = "match_fraction";
/// Summary: the match radius (arcsec).
pub const RADIUS_ARCSEC: &str = "radius_arcsec";
/// Summary: the median separation of the matches (arcsec).
pub const MEDIAN_SEP_ARCSEC: &str = "median_sep_arcsec";

/// Artifact: the nearest match of each row of the first catalog, a table of idx1, idx2
/// (-1 when none within the radius) and separation.
pub const MATCHES: &str = "matches";

/// Largest number of pairs the brute-force variant accepts (100k × 100k): beyond that
/// it would run for minutes; the other variants have no such limit.
pub const MAX_NAIVE_PAIRS: u128 = 10_000_000_000;

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
    fn stage_work(&self, input: &Dataset, _params: &Params) -> Vec<StageWork> {
        let Dataset::CatalogPair(c1, c2) = input else {
            return Vec::new();
        };
        let (n1, n2) = (c1.len() as f64, c2.len() as f64);
        vec![
            // Both catalogs: (ra, dec) read, (x, y, z) written; two to-radians multiplies,
            // two sine/cosine pairs and two products per source: 8 flops.
            StageWork::streaming("unit vectors", 40.0 * (n1 + n2), 8.0 * (n1 + n2)),
            // Every pair's squared chord: 3 subtracts, 3 multiplies, 2 adds. Both vector
            // sets read once, one 24-byte hit written per query; catalog 2's vectors are
            // what every query re-reads.
            StageWork::streaming("brute force", 24.0 * (n1 + n2) + 24.0 * n1, 8.0 * n1 * n2)
                .reusing(24.0 * n2),
            // The zone index, the queries and the table depend on where the sources lie
            // (how many fall in each window, how many match): undeclared.
        ]
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
            .sum(N_MATCHES, n)
            .sum("n_catalog1", c1.len())
            .sum("n_catalog2", c2.len())
            .sum(MATCH_FRACTION, n as f64 / c1.len() as f64)
            .sum(RADIUS_ARCSEC, radius)
            .sum(MEDIAN_SEP_ARCSEC, median)
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

    #[test]
    fn declared_work_is_the_hand_count() {
        let c = |n: usize| generate::catalog(n, 1);
        let input = Dataset::CatalogPair(c(4), c(5));
        let work = CrossMatch.stage_work(&input, &Params::default());
        // 9 sources of 40 bytes and 8 flops; 20 pairs of 8 flops from 9 vectors (216
        // bytes) and 4 hits (96 bytes).
        let got: Vec<(&str, f64, f64)> = work.iter().map(|w| (w.stage, w.bytes, w.flops)).collect();
        assert_eq!(
            got,
            [("unit vectors", 360.0, 72.0), ("brute force", 312.0, 160.0)]
        );
    }
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
