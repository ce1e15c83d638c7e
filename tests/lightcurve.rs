//! Light-curve analyses against astropy (golden files) and real observations:
//! period-search (Lomb-Scargle exact and FFT, PDM, the chapter's chi2 fold) and phase-fold.

use astroperf::analysis::{self, Analysis, Ctx, Output, Params, Variant, ALL_VARIANTS};
use astroperf::data::{Dataset, LightCurve};
use ndarray::{Array1, Array2};
use ndarray_npy::read_npy;
use std::path::PathBuf;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn npy2(rel: &str) -> Array2<f64> {
    read_npy(data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn npy1(rel: &str) -> Array1<f64> {
    read_npy(data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn search() -> &'static dyn Analysis {
    analysis::find("period-search").expect("period-search is registered")
}

fn params(a: &dyn Analysis, pairs: &[(&str, &str)]) -> Params {
    let given: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Params::resolve(&a.params(), &given).expect("valid params")
}

/// The golden light curve (astropy's input), with or without its uncertainties.
fn golden_curve(with_errors: bool) -> Dataset {
    let m = npy2("golden/lightcurve.npy");
    assert_eq!(m.shape(), &[2000, 3]);
    Dataset::LightCurve(LightCurve {
        time: m.column(0).to_owned(),
        value: m.column(1).to_owned(),
        error: with_errors.then(|| m.column(2).to_owned()),
        magnitudes: false,
        labels: Default::default(),
    })
}

const GOLDEN_GRID: [(&str, &str); 3] = [("fmin", "0.01"), ("fmax", "5.0"), ("n", "20000")];
const GOLDEN_PERIOD: f64 = 3.700_393_74;

fn run(a: &dyn Analysis, v: Variant, d: &Dataset, p: &Params) -> Output {
    a.run(v, d, p, &Ctx::detached(2))
        .unwrap_or_else(|e| panic!("{} {v}: {e}", a.id()))
}

/// The false-alarm probability; one that underflows a double is reported as "< 1e-300"
/// (read here as 0), never as a bare 0.
fn fap_of(o: &Output) -> f64 {
    match &o.summary["false_alarm_probability"] {
        serde_json::Value::String(s) => {
            assert_eq!(s, "< 1e-300");
            0.0
        }
        v => {
            let f = v.as_f64().expect("fap");
            assert!(f > 0.0, "an underflow must not read as 0");
            f
        }
    }
}

fn column(o: &Output, table: &str, col: usize) -> Vec<f64> {
    let (_, rows) = o.table_of(table).expect("table");
    rows.column(col).to_vec()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn exact_lomb_scargle_equals_astropy_in_every_variant() {
    let golden = npy2("golden/ls_power.npy");
    let freq = npy1("golden/ls_frequency.npy");
    assert_eq!(golden.shape(), &[20000, 4]);
    let cython = golden.column(1).to_vec();
    let a = search();
    for with_errors in [false, true] {
        let d = golden_curve(with_errors);
        let mut grid = GOLDEN_GRID.to_vec();
        grid.push(("method", "lomb-scargle"));
        let p = params(a, &grid);
        let outs: Vec<Output> = ALL_VARIANTS.iter().map(|&v| run(a, v, &d, &p)).collect();
        for (v, o) in ALL_VARIANTS.iter().zip(&outs) {
            let f = column(o, "periodogram", 0);
            // the grid is np.linspace(0.01, 5.0, 20000), bit for bit
            assert_eq!(f, freq.to_vec(), "{v}: frequency grid");
            let power = column(o, "periodogram", 1);
            let err = max_abs_diff(&power, &cython);
            println!("exact LS {v} (errors {with_errors}): max |Δ| vs astropy cython {err:e}");
            assert!(
                err < 1e-8,
                "{v} (errors {with_errors}): max |Δpower| {err:e}"
            );
            let bp = o.summary_f64("best_period").expect("best_period");
            assert!((bp - GOLDEN_PERIOD).abs() < 1e-7, "{v}: best period {bp}");
            assert!((o.summary_f64("peak_power").expect("peak") - 0.66304).abs() < 1e-5);
            let fap = fap_of(o);
            assert!(
                (0.0..1e-100).contains(&fap),
                "a 0.66 peak over 2000 points: {fap}"
            );
        }
        for o in &outs[1..] {
            outs[0].agrees_with(o).expect("variants agree to 1e-9");
        }
    }
}

#[test]
fn fast_lomb_scargle_within_2e4_of_exact_and_matches_fasper() {
    let golden = npy2("golden/ls_power.npy");
    let cython = golden.column(1).to_vec();
    let fasper = golden.column(3).to_vec();
    let a = search();
    let d = golden_curve(false);
    let mut grid = GOLDEN_GRID.to_vec();
    grid.push(("method", "lomb-scargle-fast"));
    let p = params(a, &grid);
    let outs: Vec<Output> = ALL_VARIANTS.iter().map(|&v| run(a, v, &d, &p)).collect();
    for (v, o) in ALL_VARIANTS.iter().zip(&outs) {
        let power = column(o, "periodogram", 1);
        let err = max_abs_diff(&power, &cython);
        assert!(err < 2e-4, "{v}: fast vs exact {err:e}");
        // the same algorithm as astropy's fasper (oversampling 5, 4 neighbours)
        let ef = max_abs_diff(&power, &fasper);
        println!("fast LS {v}: max |Δ| vs exact {err:e}, vs astropy fasper {ef:e}");
        assert!(ef < 1e-9, "{v}: fast vs astropy fasper {ef:e}");
        let bp = o.summary_f64("best_period").expect("best");
        assert!((bp - GOLDEN_PERIOD).abs() < 1e-7, "{v}: {bp}");
        let reported = o.summary_f64("max_abs_error_vs_exact").expect("error");
        assert!(
            reported > 0.0 && reported <= err + 1e-12,
            "{reported} vs {err}"
        );
    }
    for o in &outs[1..] {
        outs[0].agrees_with(o).expect("variants agree");
    }
}

#[test]
fn pdm_and_chi2_on_the_golden_curve() {
    let a = search();
    let d = golden_curve(false);
    let grid = [("fmin", "0.05"), ("fmax", "1.0"), ("n", "2000")];
    // PDM: every variant agrees and θ has its minimum at the true period
    let mut g = grid.to_vec();
    g.push(("method", "pdm"));
    let p = params(a, &g);
    let outs: Vec<Output> = ALL_VARIANTS.iter().map(|&v| run(a, v, &d, &p)).collect();
    for o in &outs[1..] {
        outs[0].agrees_with(o).expect("pdm variants agree");
    }
    for o in &outs {
        let bp = o.summary_f64("best_period").expect("best");
        assert!((bp - 3.7).abs() < 0.01, "pdm best {bp}");
        let th = o.summary_f64("theta_min").expect("theta");
        // signal variance 0.005 vs noise 0.0025: θ_min ≈ 0.0025/0.0075 ≈ 1/3
        assert!(th > 0.25 && th < 0.45, "θ_min {th}");
    }
    // chi2-fold: flat, equal to Σ(f-mean)² at every period — the chapter's lesson
    let mut g = grid.to_vec();
    g.push(("method", "chi2-fold"));
    let p = params(a, &g);
    let outs: Vec<Output> = ALL_VARIANTS.iter().map(|&v| run(a, v, &d, &p)).collect();
    for o in &outs[1..] {
        outs[0].agrees_with(o).expect("chi2 variants agree");
    }
    let m = npy2("golden/lightcurve.npy");
    let flux = m.column(1);
    let mean = flux.mean().expect("mean");
    let ss: f64 = flux.iter().map(|f| (f - mean) * (f - mean)).sum();
    let chi2 = column(&outs[0], "periodogram", 1);
    let err = chi2.iter().map(|c| (c - ss).abs() / ss).fold(0.0, f64::max);
    assert!(
        err < 1e-12,
        "chi2 differs from the period-free sum by {err:e}"
    );
}

/// MJD, magnitude, error; '#' comment lines.
fn read_macho(rel: &str) -> LightCurve {
    let text = std::fs::read_to_string(data(rel)).expect("macho file");
    let (mut t, mut y, mut e) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let v: Vec<f64> = line
            .split_whitespace()
            .map(|s| s.parse().expect("number"))
            .collect();
        t.push(v[0]);
        y.push(v[1]);
        e.push(v[2]);
    }
    LightCurve {
        time: t.into(),
        value: y.into(),
        error: Some(e.into()),
        magnitudes: true,
        labels: Default::default(),
    }
}

#[test]
fn macho_star_period_on_the_automatic_grid() {
    let a = search();
    let d = Dataset::LightCurve(read_macho("real/macho_1.3444.614.B.mjd"));
    for method in ["lomb-scargle", "lomb-scargle-fast"] {
        let p = params(a, &[("method", method)]);
        let outs: Vec<Output> = [Variant::Vectorized, Variant::Parallel]
            .iter()
            .map(|&v| run(a, v, &d, &p))
            .collect();
        outs[0].agrees_with(&outs[1]).expect("agree");
        let bp = outs[0].summary_f64("best_period").expect("best");
        // auto grid step 1/(5·2723 d): period resolution ~6e-5 d at 0.937 d
        assert!((bp - 0.936967).abs() < 1e-4, "{method}: {bp}");
        let fap = fap_of(&outs[0]);
        assert!(fap < 1e-10, "{method}: FAP {fap}");
    }
}

#[test]
fn sunspot_cycle_is_about_eleven_years() {
    let text = std::fs::read_to_string(data("real/sunspots_yearly.csv")).expect("csv");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let (mut t, mut y) = (Vec::new(), Vec::new());
    for rec in rdr.records() {
        let rec = rec.expect("record");
        t.push(rec[0].trim().parse::<f64>().expect("year"));
        y.push(rec[1].trim().parse::<f64>().expect("activity"));
    }
    assert_eq!(t.len(), 309);
    let d = Dataset::LightCurve(LightCurve {
        time: t.into(),
        value: y.into(),
        error: None,
        magnitudes: false,
        labels: Default::default(),
    });
    let a = search();
    for method in ["lomb-scargle", "lomb-scargle-fast", "pdm"] {
        let p = params(a, &[("method", method), ("fmin", "0.02"), ("fmax", "0.5")]);
        let outs: Vec<Output> = ALL_VARIANTS.iter().map(|&v| run(a, v, &d, &p)).collect();
        for o in &outs[1..] {
            outs[0].agrees_with(o).expect("agree");
        }
        let bp = outs[0].summary_f64("best_period").expect("best");
        assert!((bp - 11.0).abs() < 0.5, "{method}: {bp} yr");
    }
}

/// With the defaults (automatic grid) the yearly sampling caps the grid at its Nyquist
/// frequency, 0.5/yr: the 11-year cycle, not the 0.478-yr alias above it; the file's
/// YEAR column gives the unit.
#[test]
fn sunspots_with_the_defaults_in_years() {
    let l = astroperf::data::load::load(&data("real/sunspots_yearly.csv")).expect("load");
    let Dataset::LightCurve(c) = &l.data else {
        panic!("sunspots should load as a light curve")
    };
    assert_eq!(c.labels.time_unit.as_deref(), Some("yr"));
    assert_eq!(c.labels.time_axis(), "YEAR (yr)");
    let a = search();
    let p = params(a, &[]);
    let outs: Vec<Output> = ALL_VARIANTS
        .iter()
        .map(|&v| run(a, v, &l.data, &p))
        .collect();
    for o in &outs[1..] {
        outs[0].agrees_with(o).expect("agree");
    }
    let o = &outs[0];
    let bp = o.summary_f64("best_period").expect("best");
    assert!((bp - 11.0).abs() <= 1.0, "{bp} yr");
    assert_eq!(o.summary_f64("fmax"), Some(0.5));
    assert_eq!(o.summary["time_unit"], "yr");
    assert_eq!(o.summary["warnings"], serde_json::json!([]));
    fap_of(o);
    // the old automatic grid (up to 2.5/yr) picks the alias, and says so
    let p = params(a, &[("fmax", "2.508")]);
    let o = run(a, Variant::Vectorized, &l.data, &p);
    let w = o.summary["warnings"].to_string();
    assert!(w.contains("Nyquist") && w.contains("alias"), "{w}");
}

#[test]
fn phase_fold_of_golden_curve_at_astropy_period() {
    let a = analysis::find("phase-fold").expect("phase-fold is registered");
    let d = golden_curve(true);
    let p = params(a, &[("period", "3.70039374"), ("bins", "20")]);
    let outs: Vec<Output> = ALL_VARIANTS.iter().map(|&v| run(a, v, &d, &p)).collect();
    for o in &outs[1..] {
        outs[0].agrees_with(o).expect("agree");
    }
    // Independent check: phases recomputed here, sorted with a plain sort.
    let m = npy2("golden/lightcurve.npy");
    let mut want: Vec<(f64, f64)> = m
        .rows()
        .into_iter()
        .map(|r| ((r[0] % 3.700_393_74) / 3.700_393_74, r[1]))
        .collect();
    want.sort_by(|x, y| x.0.total_cmp(&y.0));
    let ph = column(&outs[0], "folded", 0);
    let val = column(&outs[0], "folded", 1);
    for (i, (p, v)) in want.iter().enumerate() {
        assert_eq!((ph[i], val[i]), (*p, *v), "row {i}");
    }
    // the binned curve traces 1 + 0.1·sin(2π·phase)
    let (_, b) = outs[0].table_of("binned").expect("binned");
    for r in b.rows() {
        let model = 1.0 + 0.1 * (2.0 * std::f64::consts::PI * r[0]).sin();
        assert!((r[1] - model).abs() < 0.02, "bin {r}: model {model}");
    }
}

#[test]
fn bad_light_curves_are_rejected_clearly() {
    let a = search();
    let p = params(a, &[]);
    let lc = |t: Vec<f64>, y: Vec<f64>| {
        Dataset::LightCurve(LightCurve {
            time: t.into(),
            value: y.into(),
            error: None,
            magnitudes: false,
            labels: Default::default(),
        })
    };
    let msg = |d: &Dataset, p: &Params| a.validate(d, p).expect_err("must fail").to_string();
    assert!(msg(&lc(vec![1.0, 2.0], vec![1.0, 2.0]), &p).contains("at least 3"));
    assert!(msg(
        &lc(vec![1.0, f64::NAN, 2.0, 3.0], vec![1.0, 1.0, f64::NAN, 2.0]),
        &p
    )
    .contains("at least 3"));
    assert!(msg(&lc(vec![1.0, 2.0, 3.0], vec![4.0; 3]), &p).contains("constant"));
    let d = golden_curve(false);
    let bad = params(a, &[("fmin", "1.0"), ("fmax", "1.0")]);
    assert!(msg(&d, &bad).contains("smaller than fmax"));
    // unsorted input gives the same periodogram as sorted input
    let m = npy2("golden/lightcurve.npy");
    let mut rev = m.clone();
    rev.invert_axis(ndarray::Axis(0));
    let d2 = lc(rev.column(0).to_vec(), rev.column(1).to_vec());
    let g = params(a, &[("fmin", "0.1"), ("fmax", "1.0"), ("n", "500")]);
    let o1 = run(a, Variant::Vectorized, &d, &g);
    let o2 = run(a, Variant::Vectorized, &d2, &g);
    o1.agrees_with(&o2).expect("sorting restores the curve");
    assert!(o2
        .summary
        .get("warnings")
        .expect("w")
        .to_string()
        .contains("sorted"));
}

/// Timing of the chapter's batch workload (100 curves × 1000 points × 100 trial
/// frequencies 0.1..2 c/d) through the bench harness. Run with
/// `cargo test --release --test lightcurve -- --ignored --nocapture`.
#[test]
#[ignore]
fn batch_timing_report() {
    use astroperf::bench::{self, RunConfig};
    use astroperf::data::{generate, Loaded, Origin};
    let curves: Vec<LightCurve> = (0..100)
        .map(|i| {
            let p = generate::LightCurveParams {
                n: 1000,
                period: 0.5 + 9.5 * i as f64 / 99.0,
                amplitude: 1.0,
                noise: 1.0,
                mean: 100.0,
                ..Default::default()
            };
            generate::light_curve(&p, 100 + i)
        })
        .collect();
    let loaded = Loaded::new(
        Dataset::LightCurveBatch(curves),
        "100 generated curves",
        Origin::Generated,
    );
    let a = search();
    for method in ["pdm", "lomb-scargle", "lomb-scargle-fast", "chi2-fold"] {
        let p = params(
            a,
            &[
                ("method", method),
                ("fmin", "0.1"),
                ("fmax", "2.0"),
                ("n", "100"),
            ],
        );
        let cfg = RunConfig {
            repeat: 7,
            ..Default::default()
        };
        let (rec, _) = bench::run(a, &loaded.data, &loaded.info, &p, &cfg, &Default::default())
            .expect("bench");
        assert!(rec.agree, "{method}: {:?}", rec.disagreement);
        for r in &rec.runs {
            println!(
                "batch {method:18} {:10} threads {} median {:.5} s min {:.5} s",
                r.variant.name(),
                r.threads,
                r.median_s,
                r.min_s
            );
        }
    }
}
