//! Issue #16's parity of `ccd-pipeline detect=background` with SExtractor 2.25 and sep
//! 1.4.1 on the crowded-field set in `tests/data/crowded` (frames and reference catalogs
//! made by `assets/python/crowded_fields.py`; see `tests/data/crowded/CREDITS.md`).
//!
//! The metrics are `assets/python/crowded_parity.py`'s, computed the same way (its
//! docstring): R = the reference catalog, C = ours (positions 0-based: x_image − 1);
//! the min(30, |R|) brightest of R by FLUX_AUTO (ties in catalog order) count as found
//! when the nearest of C is closer than 1.5 px; matches are mutual nearest neighbours
//! closer than 1.5 px; the FLUX_AUTO median ratio is over the matches with a positive
//! reference flux (numpy's median); blended equal is the fraction of matches whose flag 2
//! agrees. Issue #16's targets: ≥ 27 of the 30 brightest found (all of them when R has
//! fewer), the count within 10%, the FLUX_AUTO median within 3%, the blended flag equal on
//! ≥ 90% of the matches, for every frame against both references, except FLUX_AUTO on
//! iraf_m51_B against sep: sep has no MASK_TYPE CORRECT (its FLUX_AUTO there differs from
//! SExtractor's by 4%, the catalogs' own sanity row), so M51's FLUX_AUTO is judged against
//! SExtractor only. Beyond the targets, every number of the README's parity table is
//! asserted as it is printed there (3 decimals).

use astroperf::analysis::{self, Ctx, Output, Params, Variant, ALL_VARIANTS};
use std::path::{Path, PathBuf};

fn crowded(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/crowded")
        .join(name)
}

/// crowded_parity.py's settings (SExtractor's default.sex).
const PARAMS: [(&str, &str); 10] = [
    ("detect", "background"),
    ("thresh", "1.5"),
    ("minarea", "5"),
    ("filter", "true"),
    ("back_size", "64"),
    ("deblend", "true"),
    ("deblend_nthresh", "32"),
    ("deblend_mincont", "0.005"),
    ("clean", "true"),
    ("clean_param", "1"),
];

/// A numeric keyword of the FITS primary header (SExtractor's SATUR_KEY reads SATURATE).
fn header_number(path: &Path, key: &str) -> Option<f64> {
    let bytes = std::fs::read(path).expect("read fits");
    for card in bytes.chunks(80) {
        let s = std::str::from_utf8(card).ok()?;
        let k = s.get(..8)?.trim();
        if k == "END" {
            return None;
        }
        if k == key && s.get(8..10) == Some("= ") {
            return s[10..].split('/').next()?.trim().parse().ok();
        }
    }
    None
}

fn run(v: Variant, frame: &Path) -> Output {
    let loaded = astroperf::data::load::load(frame).expect("load frame");
    let satur = header_number(frame, "SATURATE").unwrap_or(50_000.0);
    let a = analysis::find("ccd-pipeline").expect("registered");
    let mut given: Vec<(String, String)> = PARAMS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    given.push(("satur_level".into(), satur.to_string()));
    let p = Params::resolve(&a.params(), &given).expect("params");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    pool.install(|| a.run(v, &loaded.data, &p, &Ctx::detached(2)))
        .expect("run")
}

/// A catalog: 0-based positions, FLUX_AUTO and FLAGS.
struct Cat {
    x: Vec<f64>,
    y: Vec<f64>,
    flux_auto: Vec<f64>,
    flags: Vec<u32>,
}

fn read_reference(path: &Path) -> Cat {
    let mut r = csv::Reader::from_path(path).expect("reference csv");
    let h = r.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|c| c == n).expect("column");
    let (ix, iy, ia, ifl) = (col("x"), col("y"), col("flux_auto"), col("flags"));
    let mut c = Cat {
        x: vec![],
        y: vec![],
        flux_auto: vec![],
        flags: vec![],
    };
    for rec in r.records() {
        let rec = rec.expect("record");
        let num = |i: usize| rec[i].parse::<f64>().expect("number");
        c.x.push(num(ix));
        c.y.push(num(iy));
        c.flux_auto.push(num(ia));
        c.flags.push(num(ifl) as u32);
    }
    c
}

fn ours(o: &Output) -> Cat {
    let (names, t) = o.table_of("sources").expect("sources");
    let col = |n: &str| {
        let k = names.iter().position(|c| c == n).expect("column");
        t.column(k).to_vec()
    };
    Cat {
        x: col("x_image").iter().map(|v| v - 1.0).collect(),
        y: col("y_image").iter().map(|v| v - 1.0).collect(),
        flux_auto: col("flux_auto"),
        flags: col("flags").iter().map(|&f| f as u32).collect(),
    }
}

/// For each point of `a`: the index of the nearest point of `b` and the distance.
fn nearest(a: &Cat, b: &Cat) -> Vec<(usize, f64)> {
    (0..a.x.len())
        .map(|k| {
            (0..b.x.len())
                .map(|j| (j, (b.x[j] - a.x[k]).powi(2) + (b.y[j] - a.y[k]).powi(2)))
                .fold(
                    (usize::MAX, f64::INFINITY),
                    |m, c| if c.1 < m.1 { c } else { m },
                )
        })
        .map(|(j, d2)| (j, d2.sqrt()))
        .collect()
}

/// numpy's median (the mean of the two middle values when even).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

#[derive(Debug)]
struct Metrics {
    bright_found: usize,
    bright_n: usize,
    n_cand: usize,
    n_ref: usize,
    matches: usize,
    flux_median: f64,
    blended_equal: f64,
}

fn compare(cand: &Cat, refc: &Cat) -> Metrics {
    let r2c = nearest(refc, cand);
    let c2r = nearest(cand, refc);
    let mut order: Vec<usize> = (0..refc.x.len()).collect();
    order.sort_by(|&a, &b| refc.flux_auto[b].total_cmp(&refc.flux_auto[a]));
    let bright = &order[..order.len().min(30)];
    let bright_found = bright.iter().filter(|&&r| r2c[r].1 < 1.5).count();
    let pairs: Vec<(usize, usize)> = (0..refc.x.len())
        .filter(|&r| r2c[r].1 < 1.5 && c2r[r2c[r].0].0 == r)
        .map(|r| (r, r2c[r].0))
        .collect();
    let ratios: Vec<f64> = pairs
        .iter()
        .filter(|&&(r, _)| refc.flux_auto[r] > 0.0)
        .map(|&(r, c)| cand.flux_auto[c] / refc.flux_auto[r])
        .collect();
    let equal = pairs
        .iter()
        .filter(|&&(r, c)| (cand.flags[c] & 2) == (refc.flags[r] & 2))
        .count();
    Metrics {
        bright_found,
        bright_n: bright.len(),
        n_cand: cand.x.len(),
        n_ref: refc.x.len(),
        matches: pairs.len(),
        flux_median: median(ratios),
        blended_equal: equal as f64 / pairs.len() as f64,
    }
}

/// The README's table (after #16): frame, reference, 30 brightest found, count ours /
/// reference, matches, FLUX_AUTO median ratio, blended flag equal.
const TABLE: [(&str, &str, usize, usize, usize, f64, f64); 10] = [
    ("gen_cluster", "sep", 30, 313, 313, 1.000, 1.000),
    ("gen_cluster", "sex", 30, 313, 313, 1.000, 1.000),
    ("gen_galaxies", "sep", 30, 106, 106, 1.000, 1.000),
    ("gen_galaxies", "sex", 30, 106, 106, 1.000, 1.000),
    ("gen_sparse", "sep", 30, 169, 169, 1.000, 1.000),
    ("gen_sparse", "sex", 30, 169, 169, 1.000, 1.000),
    ("iraf_m51_B", "sep", 30, 183, 183, 1.030, 1.000),
    ("iraf_m51_B", "sex", 30, 183, 183, 1.000, 1.000),
    ("saao_rf0420", "sep", 25, 25, 25, 1.000, 1.000),
    ("saao_rf0420", "sex", 25, 25, 25, 1.000, 1.000),
];

/// One frame: all three variants agree exactly, then our catalog against both references.
fn check_frame(name: &str) {
    let frame = crowded(&format!("{name}.fits"));
    let outs: Vec<Output> = ALL_VARIANTS.iter().map(|&v| run(v, &frame)).collect();
    for (o, v) in outs[1..].iter().zip(&ALL_VARIANTS[1..]) {
        outs[0]
            .agrees_with(o)
            .unwrap_or_else(|e| panic!("{name} {v}: {e}"));
    }
    let c = ours(&outs[0]);
    for (reference, suffix) in [("sep", "sep"), ("sex", "sex")] {
        let r = read_reference(&crowded(&format!("{name}.{suffix}.csv")));
        let m = compare(&c, &r);
        eprintln!("{name} vs {reference}: {m:?}");
        // issue #16's targets
        assert!(
            m.bright_found >= m.bright_n.min(27),
            "{name} vs {reference}: {m:?}"
        );
        let count = m.n_cand as f64 / m.n_ref as f64;
        assert!((count - 1.0).abs() <= 0.10, "{name} vs {reference}: {m:?}");
        if !(name == "iraf_m51_B" && reference == "sep") {
            assert!(
                (m.flux_median - 1.0).abs() <= 0.03,
                "{name} vs {reference}: {m:?}"
            );
        }
        assert!(m.blended_equal >= 0.90, "{name} vs {reference}: {m:?}");
        // the README's table
        let row = TABLE
            .iter()
            .find(|t| t.0 == name && t.1 == reference)
            .expect("table row");
        let got = (m.bright_found, m.n_cand, m.matches);
        assert_eq!(got, (row.2, row.3, row.4), "{name} vs {reference}: {m:?}");
        assert_eq!(m.n_ref, row.3, "{name}: reference count");
        assert!(
            (m.flux_median - row.5).abs() < 0.0005,
            "{name} vs {reference}: {m:?}"
        );
        assert!(
            (m.blended_equal - row.6).abs() < 0.0005,
            "{name} vs {reference}: {m:?}"
        );
    }
}

#[test]
fn gen_cluster_matches_sextractor_and_sep() {
    check_frame("gen_cluster");
}

#[test]
fn gen_galaxies_matches_sextractor_and_sep() {
    check_frame("gen_galaxies");
}

#[test]
fn gen_sparse_matches_sextractor_and_sep() {
    check_frame("gen_sparse");
}

#[test]
fn iraf_m51_b_matches_sextractor_and_sep() {
    check_frame("iraf_m51_B");
}

#[test]
fn saao_rf0420_matches_sextractor_and_sep() {
    check_frame("saao_rf0420");
}

/// Every frame of the set is checked above, and the table covers exactly them.
#[test]
fn the_table_covers_the_set() {
    let mut frames: Vec<String> = std::fs::read_dir(crowded(""))
        .expect("dir")
        .filter_map(|e| {
            let p = e.expect("entry").path();
            (p.extension().and_then(|x| x.to_str()) == Some("fits"))
                .then(|| p.file_stem().expect("stem").to_string_lossy().into_owned())
        })
        .collect();
    frames.sort();
    let mut table: Vec<String> = TABLE.iter().map(|t| t.0.to_string()).collect();
    table.dedup();
    assert_eq!(frames, table);
}
