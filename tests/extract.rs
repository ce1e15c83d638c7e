//! SExtractor-grade source extraction (`ccd-pipeline detect=background`): the real ESO
//! NTT/EMMI frame against SExtractor's own catalog, deblending on a generated crowded
//! cluster with known stars, the detection filters, and cancellation.

use astroperf::analysis::{self, Ctx, Output, Params, Variant, ALL_VARIANTS};
use astroperf::data::generate::{frame_with_truth, FrameParams};
use astroperf::data::{Dataset, Dtype, Frame};
use ndarray::Array2;
use std::path::PathBuf;

mod common;
use common::read_fits_i16;

fn real(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real")
        .join(name)
}

fn run_ctx(
    v: Variant,
    d: &Dataset,
    given: &[(&str, &str)],
    ctx: &Ctx,
) -> astroperf::Result<Output> {
    let a = analysis::find("ccd-pipeline").expect("registered");
    let given: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let p = Params::resolve(&a.params(), &given).expect("params");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    pool.install(|| a.run(v, d, &p, ctx))
}

fn run(v: Variant, d: &Dataset, given: &[(&str, &str)]) -> Output {
    run_ctx(v, d, given, &Ctx::detached(2)).expect("run")
}

fn run_all(d: &Dataset, given: &[(&str, &str)]) -> Output {
    let outs: Vec<Output> = ALL_VARIANTS.iter().map(|&v| run(v, d, given)).collect();
    for (o, v) in outs[1..].iter().zip(&ALL_VARIANTS[1..]) {
        outs[0]
            .agrees_with(o)
            .unwrap_or_else(|e| panic!("{v}: {e}"));
    }
    outs.into_iter().next().expect("naive")
}

/// Columns of the source table by name.
struct Table {
    names: Vec<String>,
    t: Array2<f64>,
}

impl Table {
    fn of(o: &Output) -> Table {
        let (names, t) = o.table_of("sources").expect("sources");
        Table {
            names: names.to_vec(),
            t: t.clone(),
        }
    }
    fn col(&self, name: &str) -> Vec<f64> {
        let k = self
            .names
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        self.t.column(k).to_vec()
    }
}

/// One row of SExtractor's catalog.
#[derive(Clone, Copy, Debug)]
struct Sex {
    x: f64,
    y: f64,
    #[allow(dead_code)]
    a: f64,
    flux_aper: f64,
    kron: f64,
    flux_auto: f64,
    flags: u32,
}

fn sextractor_catalog() -> Vec<Sex> {
    let text = std::fs::read_to_string(real("eso_ntt_emmi_R.sextractor.cat")).expect("cat");
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<f64> = l
                .split_whitespace()
                .map(|x| x.parse().expect("number"))
                .collect();
            Sex {
                x: f[1],
                y: f[2],
                a: f[11],
                flux_aper: f[12],
                kron: f[14],
                flux_auto: f[15],
                flags: *f.last().expect("flags") as u32,
            }
        })
        .collect()
}

fn eso() -> Dataset {
    Dataset::Frame(Frame {
        data: read_fits_i16(&real("eso_ntt_emmi_R.fits")),
        stored: Dtype::I16,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// SExtractor 2.25.0 (Debian `source-extractor`) run here on the ESO frame with its own
/// `default.sex` (DETECT_THRESH 1.5, DETECT_MINAREA 5, default.conv, DEBLEND 32/0.005,
/// BACK_SIZE 64, CLEAN Y): the 30 brightest of its 68 objects by FLUX_AUTO, columns
/// X_IMAGE Y_IMAGE FLUX_AUTO KRON_RADIUS FLAGS. With CLEAN N it finds 77 objects.
const SEXTRACTOR_225_BRIGHTEST: &str = "\
233.0300 183.0266 1022250 3.50 4
8.4286 65.6941 300449 3.50 22
149.1998 33.5166 280772.4 3.50 0
218.5678 130.0323 89630.55 3.76 0
81.4250 12.3010 77505.78 3.50 0
73.4269 55.5650 58935.31 5.46 2
129.5452 146.2858 56260.01 3.50 0
84.8175 183.2709 30978.18 3.50 0
104.4412 122.8610 23111.04 3.58 0
85.0164 27.2919 22540.4 3.50 0
5.0226 153.3513 21071.05 3.50 16
77.2926 186.9532 19700.9 4.38 0
210.5223 182.8607 18501.22 4.80 0
155.6567 92.2263 17693.61 4.83 0
5.4528 58.7962 16402.34 4.21 19
124.8712 189.9921 13295.8 3.75 0
218.9129 162.9750 13212.33 3.88 0
89.4507 126.8091 12943.47 3.88 0
115.3960 240.4926 12352.59 3.60 0
220.0769 98.6018 12142.55 3.50 0
76.6010 151.1864 11670.27 3.50 0
9.6445 20.6511 11232.24 5.30 16
80.7731 60.3586 10932.13 6.62 3
191.2009 47.3116 10882.35 3.87 0
87.9295 142.2882 10380.27 5.77 2
23.0011 190.5244 8493.43 5.94 2
230.7654 85.3477 7127.054 3.50 0
173.0723 106.6498 6636.35 3.64 0
204.1013 110.0606 6333.816 4.70 0
56.1618 4.5109 6117.056 3.50 18";
const SEXTRACTOR_225_N: usize = 68;
const SEXTRACTOR_225_N_NOCLEAN: usize = 77;
/// The 9 objects (X_IMAGE, Y_IMAGE) of SExtractor 2.25's CLEAN N run that its CLEAN Y
/// run drops (sep 1.4.1 with clean=True drops the same ones but (93.0, 148.7)).
const SEXTRACTOR_225_CLEANED: [(f64, f64); 9] = [
    (192.35, 223.14),
    (180.90, 217.50),
    (185.18, 202.20),
    (22.30, 194.60),
    (24.80, 156.20),
    (92.98, 148.74),
    (82.05, 49.67),
    (67.00, 46.00),
    (163.30, 26.70),
];

fn sextractor_225() -> Vec<Sex> {
    SEXTRACTOR_225_BRIGHTEST
        .lines()
        .map(|l| {
            let f: Vec<f64> = l
                .split_whitespace()
                .map(|x| x.parse().expect("number"))
                .collect();
            Sex {
                x: f[0],
                y: f[1],
                a: 0.0,
                flux_aper: f64::NAN,
                kron: f[3],
                flux_auto: f[2],
                flags: f[4] as u32,
            }
        })
        .collect()
}

/// For each reference source: the nearest of ours (index, distance).
fn nearest(x: &[f64], y: &[f64], s: &Sex) -> (usize, f64) {
    (0..x.len())
        .map(|k| (k, ((x[k] - s.x).powi(2) + (y[k] - s.y).powi(2)).sqrt()))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("sources")
}

/// Against SExtractor 2.25 run with its defaults (the same settings as ours): its 68
/// objects, every one of its 30 brightest (FLUX_AUTO) within 0.01 px (x_image, y_image,
/// both 1-based; the catalog has 4 decimals), median FLUX_AUTO ratio within 1% of 1, the
/// blended flag equal on all 30, and a count within 10% of the shipped catalog's (65).
#[test]
fn eso_frame_matches_sextractor_225_run() {
    let o = run_all(&eso(), &[("detect", "background")]);
    let t = Table::of(&o);
    let (x, y) = (t.col("x_image"), t.col("y_image"));
    let (auto, flags) = (t.col("flux_auto"), t.col("flags"));
    let n = x.len();
    let refs = sextractor_225();
    assert_eq!(refs.len(), 30);
    let mut ratios = Vec::new();
    let mut worst = 0.0f64;
    let mut blended_same = 0;
    for s in &refs {
        let (k, d) = nearest(&x, &y, s);
        assert!(
            d < 0.01,
            "SExtractor source at ({}, {}) flux {}: nearest ours {d:.3} px away",
            s.x,
            s.y,
            s.flux_auto
        );
        worst = worst.max(d);
        ratios.push(auto[k] / s.flux_auto);
        blended_same += usize::from((flags[k] as u32 & 2) == (s.flags & 2));
    }
    let r = median(ratios);
    eprintln!(
        "ESO frame vs SExtractor 2.25: {n} sources (SExtractor {SEXTRACTOR_225_N}, \
         {SEXTRACTOR_225_N_NOCLEAN} without CLEAN); 30/30 brightest within {worst:.3} px; \
         median FLUX_AUTO ratio {r:.4}; blended flag equal on {blended_same}/30"
    );
    assert_eq!(n, SEXTRACTOR_225_N);
    assert!(
        (58.5..=71.5).contains(&(n as f64)),
        "{n} sources against the shipped catalog's 65"
    );
    assert!((r - 1.0).abs() < 0.01, "median FLUX_AUTO ratio {r}");
    assert_eq!(blended_same, 30);
}

/// CLEAN: without it we find SExtractor 2.25's 77 objects; every object it removes
/// (present with clean=false, gone with clean=true) is one that SExtractor 2.25's CLEAN
/// removes too, and it removes all 9 of them; the objects absorbed count in their
/// absorber's isophotal area.
#[test]
fn clean_removes_what_sextractor_cleans() {
    let on = run_all(&eso(), &[("detect", "background")]);
    let off = run_all(&eso(), &[("detect", "background"), ("clean", "false")]);
    let (t_on, t_off) = (Table::of(&on), Table::of(&off));
    let (xon, yon) = (t_on.col("x_image"), t_on.col("y_image"));
    let (xoff, yoff) = (t_off.col("x_image"), t_off.col("y_image"));
    assert_eq!(xoff.len(), SEXTRACTOR_225_N_NOCLEAN, "77 without CLEAN");
    let mut removed = 0;
    for k in 0..xoff.len() {
        let s = Sex {
            x: xoff[k],
            y: yoff[k],
            a: 0.0,
            flux_aper: f64::NAN,
            kron: 0.0,
            flux_auto: 0.0,
            flags: 0,
        };
        if nearest(&xon, &yon, &s).1 < 0.5 {
            continue;
        }
        removed += 1;
        let theirs = SEXTRACTOR_225_CLEANED
            .iter()
            .map(|&(x, y)| (x - s.x).hypot(y - s.y))
            .fold(f64::INFINITY, f64::min);
        assert!(
            theirs < 1.0,
            "cleaned ({}, {}), which SExtractor keeps",
            s.x,
            s.y
        );
    }
    assert_eq!(removed, SEXTRACTOR_225_CLEANED.len(), "{removed} cleaned");
    assert_eq!(xon.len() + removed, xoff.len());
    let npix_on: f64 = t_on.col("npix").iter().sum();
    let npix_off: f64 = t_off.col("npix").iter().sum();
    assert_eq!(npix_on, npix_off, "absorbed pixels stay counted");
    eprintln!("CLEAN: {} -> {} objects", xoff.len(), xon.len());
}

/// Against the catalog shipped with the frame (65 objects; made by an older SExtractor
/// with settings we do not know: SExtractor 2.25's defaults give 68, see above). 26 of
/// its 30 brightest are within 1 px of ours; the other four are objects that we,
/// SExtractor 2.25 and sep 1.4.1 all deblend (a child keeps its seed's centre, 1.0–1.9 px
/// from the shipped position, where all three put it within 0.01 px); the median FLUX_AUTO
/// ratio is within 10% of 1, FLUX_APER (aperture diameter 10 px there, aper_radius 5 here)
/// within 2%, KRON_RADIUS within 10%; the saturated star and edge objects are flagged.
#[test]
fn eso_frame_matches_shipped_sextractor_catalog() {
    let o = run_all(&eso(), &[("detect", "background")]);
    let t = Table::of(&o);
    let (x, y) = (t.col("x_image"), t.col("y_image"));
    let (auto, kron, flags) = (t.col("flux_auto"), t.col("kron_radius"), t.col("flags"));
    let aper = t.col("flux_aper");
    let n = x.len();
    let mut cat = sextractor_catalog();
    assert_eq!(cat.len(), 65);
    cat.sort_by(|a, b| b.flux_auto.total_cmp(&a.flux_auto));
    let (mut ratios, mut aper_ratios, mut kron_ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut within = 0;
    let mut split_here = 0;
    for s in &cat[..30] {
        let (k, d) = nearest(&x, &y, s);
        if d < 1.0 {
            within += 1;
            ratios.push(auto[k] / s.flux_auto);
            aper_ratios.push(aper[k] / s.flux_aper);
            if s.kron > 0.0 {
                kron_ratios.push(kron[k] / s.kron);
            }
        } else {
            // not a miss: the object is here, deblended (at its seed's centre)
            assert!(d < 2.0, "({}, {}): nearest {d:.2} px", s.x, s.y);
            assert!(flags[k] as u32 & 2 != 0, "({}, {}) not blended", s.x, s.y);
            split_here += 1;
        }
    }
    let (r, ra, rk) = (median(ratios), median(aper_ratios), median(kron_ratios));
    eprintln!(
        "ESO frame vs shipped catalog: {n} sources (catalog 65); {within}/30 brightest \
         within 1 px ({split_here} deblended); median ratios FLUX_AUTO {r:.4}, \
         FLUX_APER {ra:.4}, KRON_RADIUS {rk:.4}"
    );
    assert!(within >= 26, "{within}");
    assert!((r - 1.0).abs() < 0.1, "median FLUX_AUTO ratio {r}");
    assert!((ra - 1.0).abs() < 0.02, "median FLUX_APER ratio {ra}");
    assert!((rk - 1.0).abs() < 0.1, "median KRON_RADIUS ratio {rk}");
    // the saturated star (the catalog's object 16, FLAGS 4) is flagged saturated here too
    let sat = cat.iter().find(|s| s.flags & 4 != 0).expect("saturated");
    let (k, _) = nearest(&x, &y, sat);
    assert!(flags[k] as u32 & 4 != 0, "saturated star not flagged");
    // objects on the frame edge are flagged truncated (8), as the catalog's FLAGS 24 ones
    let edge = (0..n).filter(|&k| flags[k] as u32 & 8 != 0).count();
    assert!(edge >= 3, "{edge} edge objects");
}

/// The optional Gaussian detection filter (FWHM 3 px) and no filter: variants agree and
/// at least 80% of SExtractor's 30 brightest are still within 1 px.
#[test]
fn eso_frame_with_gaussian_and_no_filter() {
    let d = eso();
    let cat = sextractor_225();
    for given in [
        &[("detect", "background"), ("filter_fwhm", "3")][..],
        &[
            ("detect", "background"),
            ("filter", "false"),
            ("thresh", "3"),
        ][..],
    ] {
        let o = run_all(&d, given);
        let t = Table::of(&o);
        let (x, y) = (t.col("x_image"), t.col("y_image"));
        let found = cat[..30]
            .iter()
            .filter(|s| (0..x.len()).any(|k| (x[k] - s.x).powi(2) + (y[k] - s.y).powi(2) < 1.0))
            .count();
        eprintln!("{given:?}: {} sources, {found}/30 within 1 px", x.len());
        // a wider filter (or none) merges or splits some blends differently
        assert!(found >= 24, "{given:?}: {found}");
    }
}

/// A generated globular-cluster-like frame: 120 stars (FWHM 3.5 px) in a 160×160 frame
/// so that most touch a neighbour above the threshold. Deblending must recover many
/// more of the injected stars (a detection within 1.5 px, one-to-one) than plain
/// labelling, and put nothing spurious in large numbers.
#[test]
fn deblending_recovers_stars_of_a_crowded_cluster() {
    let p = FrameParams {
        rows: 160,
        cols: 160,
        stars: 120,
        fwhm: 3.5,
        background: 200.0,
        noise: 5.0,
        flux_min: 3000.0,
        flux_max: 30000.0,
        cosmic_rays: 0,
    };
    let (f, truth) = frame_with_truth(&p, 11);
    let d = Dataset::Frame(f);
    let base = [
        ("detect", "background"),
        ("thresh", "3"),
        ("back_size", "64"),
    ];
    let recovered = |o: &Output| -> (usize, usize) {
        let t = Table::of(o);
        let (x, y) = (t.col("x_image"), t.col("y_image"));
        let mut used = vec![false; x.len()];
        let mut hit = 0;
        for &(sr, sc, _) in &truth {
            let best = (0..x.len())
                .filter(|&k| !used[k])
                .map(|k| {
                    (
                        k,
                        ((x[k] - 1.0 - sc).powi(2) + (y[k] - 1.0 - sr).powi(2)).sqrt(),
                    )
                })
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((k, dist)) = best {
                if dist < 1.5 {
                    used[k] = true;
                    hit += 1;
                }
            }
        }
        (hit, x.len())
    };
    let on = run_all(&d, &base);
    let mut off_params = base.to_vec();
    off_params.push(("deblend", "false"));
    let off = run_all(&d, &off_params);
    let (hit_on, n_on) = recovered(&on);
    let (hit_off, n_off) = recovered(&off);
    // stars with a neighbour closer than 1 FWHM cannot be told apart by anyone
    let separable = truth
        .iter()
        .enumerate()
        .filter(|&(i, &(r, c, _))| {
            truth.iter().enumerate().all(|(j, &(r2, c2, _))| {
                i == j || ((r2 - r).powi(2) + (c2 - c).powi(2)).sqrt() >= 3.5
            })
        })
        .count();
    eprintln!(
        "crowded cluster: {} stars ({separable} without a neighbour within 1 FWHM); \
         deblend on: {n_on} sources, {hit_on} stars recovered, {} flagged blended; \
         deblend off: {n_off} sources, {hit_off} stars recovered",
        truth.len(),
        on.summary_f64("n_blended").unwrap_or(-1.0)
    );
    assert!(
        hit_off < truth.len() / 2,
        "the frame is not crowded: {hit_off}"
    );
    assert!(hit_on >= hit_off + 30, "deblending: {hit_on} vs {hit_off}");
    assert!(hit_on * 10 >= separable * 8, "{hit_on} of {separable}");
    assert!(
        n_on <= truth.len() + 10,
        "{n_on} sources for {}",
        truth.len()
    );
    // every split object is flagged blended; the labels are the objects' pixels
    let t = Table::of(&on);
    let flags = t.col("flags");
    let parent = t.col("parent");
    for k in 0..flags.len() {
        let siblings = parent.iter().filter(|&&p| p == parent[k]).count();
        assert_eq!(flags[k] as u32 & 2 != 0, siblings > 1, "row {k}");
    }
}

/// Two stars of known flux, touching: deblending splits them and FLUX_AUTO of each is
/// close to its injected flux (the Kron apertures overlap, the neighbour is masked).
#[test]
fn deblended_pair_gets_its_own_fluxes() {
    let (rows, cols) = (64, 80);
    let sigma = 2.0;
    let stars = [(32.0, 32.0, 40_000.0), (33.0, 42.0, 20_000.0)];
    let mut data = Array2::from_elem((rows, cols), 100.0);
    let mut r = astroperf::data::rng::Rng::new(5);
    for v in data.iter_mut() {
        *v += 3.0 * r.normal();
    }
    for &(sr, sc, f) in &stars {
        for ((i, j), v) in data.indexed_iter_mut() {
            let d2 = (i as f64 - sr).powi(2) + (j as f64 - sc).powi(2);
            *v += f / (2.0 * std::f64::consts::PI * sigma * sigma)
                * (-d2 / (2.0 * sigma * sigma)).exp();
        }
    }
    let d = Dataset::Frame(Frame {
        data,
        stored: Dtype::F64,
    });
    let o = run_all(&d, &[("detect", "background"), ("back_size", "32")]);
    let t = Table::of(&o);
    let (x, y, auto) = (t.col("x_image"), t.col("y_image"), t.col("flux_auto"));
    let flags = t.col("flags");
    assert_eq!(o.summary_f64("n_detections"), Some(1.0));
    assert_eq!(x.len(), 2, "{x:?}");
    for &(sr, sc, f) in &stars {
        let k = (0..2)
            .min_by(|&a, &b| {
                let da = (x[a] - 1.0 - sc).powi(2) + (y[a] - 1.0 - sr).powi(2);
                let db = (x[b] - 1.0 - sc).powi(2) + (y[b] - 1.0 - sr).powi(2);
                da.total_cmp(&db)
            })
            .expect("2");
        let dist = ((x[k] - 1.0 - sc).powi(2) + (y[k] - 1.0 - sr).powi(2)).sqrt();
        eprintln!(
            "star {f}: at {dist:.3} px, FLUX_AUTO {:.0}, flags {}",
            auto[k], flags[k]
        );
        assert!(dist < 0.5, "{dist}");
        assert!(
            (auto[k] / f - 1.0).abs() < 0.1,
            "FLUX_AUTO {} vs {f}",
            auto[k]
        );
        assert!(flags[k] as u32 & 2 != 0);
    }
    // without deblending: one object with (about) the sum
    let off = run(
        Variant::Vectorized,
        &d,
        &[
            ("detect", "background"),
            ("back_size", "32"),
            ("deblend", "false"),
        ],
    );
    assert_eq!(off.summary_f64("n_sources"), Some(1.0));
}

/// Cancelling a background-mode run on a 2048² frame stops it promptly (the 4096² figure
/// in release builds is in the README).
#[test]
fn background_mode_cancels_promptly() {
    let d = Dataset::Frame(astroperf::data::generate::frame(
        &FrameParams {
            rows: 2048,
            cols: 2048,
            stars: 200,
            ..Default::default()
        },
        3,
    ));
    for v in [Variant::Vectorized, Variant::Parallel] {
        let control = astroperf::analysis::Control::new();
        let ctx = Ctx::new(control.clone(), 2, 0.0, 1.0);
        let c2 = control.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            c2.cancel();
            std::time::Instant::now()
        });
        let res = run_ctx(v, &d, &[("detect", "background")], &ctx);
        let done = std::time::Instant::now();
        let cancelled_at = t.join().expect("thread");
        let lag = done.saturating_duration_since(cancelled_at);
        eprintln!(
            "{v}: cancel took effect after {:.1} ms",
            lag.as_secs_f64() * 1e3
        );
        match res {
            Err(astroperf::Error::Cancelled) => {
                assert!(lag.as_secs_f64() < 0.5, "{v}: {lag:?}");
            }
            Ok(_) => eprintln!("{v}: finished before the cancel (fast machine)"),
            Err(e) => panic!("{v}: {e}"),
        }
    }
}

/// The local-RMS threshold and the full-resolution maps go through other code (the RMS
/// row interpolated per image row; the maps written out): the variants still agree, the
/// full maps change nothing in the catalog, and their means follow the meshes'.
#[test]
fn local_threshold_and_full_maps() {
    let global = Table::of(&run_all(&eso(), &[("detect", "background")]));
    let local = Table::of(&run_all(
        &eso(),
        &[("detect", "background"), ("thresh_rms", "local")],
    ));
    let (ng, nl) = (global.col("x_image").len(), local.col("x_image").len());
    assert!(
        (nl as f64 - ng as f64).abs() <= 0.2 * ng as f64,
        "{nl} local against {ng} global"
    );
    let full = run_all(&eso(), &[("detect", "background"), ("maps", "full")]);
    assert_eq!(
        Table::of(&full).t,
        global.t,
        "maps=full changes the catalog"
    );
    let mean = |name: &str| match full.get(name) {
        Some(analysis::ArtifactData::F64(a)) => a.iter().sum::<f64>() / a.len() as f64,
        _ => panic!("no f64 artifact {name}"),
    };
    for (map, mesh) in [
        ("background", "background_mesh"),
        ("background_rms", "rms_mesh"),
    ] {
        let (m, k) = (mean(map), mean(mesh));
        assert!(
            (m - k).abs() < 0.01 * k.abs(),
            "{map} mean {m} against {mesh} {k}"
        );
    }
}
