//! Chapter analyses, part A (issue 6): cross-match, angular-distances, orbit-leapfrog,
//! monte-carlo-pi, peak-count, extinction-correction. For each: the three variants
//! agree, and the science matches an independent value.

use astroperf::analysis::{find, Analysis, Ctx, Output, Params, Variant, ALL_VARIANTS};
use astroperf::data::{Catalog, Dataset};
use ndarray::{Array1, Array2};
use std::path::PathBuf;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(name)
}

fn npy2(name: &str) -> Array2<f64> {
    ndarray_npy::read_npy(golden(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn analysis(id: &str) -> &'static dyn Analysis {
    find(id).unwrap_or_else(|| panic!("{id} is not registered"))
}

/// Run one variant inside a rayon pool of `threads` threads (as the harness does).
fn run_with(
    a: &dyn Analysis,
    v: Variant,
    input: &Dataset,
    params: &Params,
    threads: usize,
) -> Output {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| a.run(v, input, params, &Ctx::detached(threads)))
        .unwrap_or_else(|e| panic!("{} {v}: {e}", a.id()))
}

/// Every variant (parallel at 1, 2 and 3 threads) agrees with naive; returns naive's output.
fn all_agree(a: &dyn Analysis, input: &Dataset, params: &Params) -> Output {
    let naive = run_with(a, Variant::Naive, input, params, 1);
    for v in ALL_VARIANTS {
        for threads in [1, 2, 3] {
            if v != Variant::Parallel && threads > 1 {
                continue;
            }
            let o = run_with(a, v, input, params, threads);
            if let Err(why) = naive.agrees_with(&o) {
                panic!(
                    "{} {v} ({threads} threads) differs from naive: {why}",
                    a.id()
                );
            }
            assert_eq!(
                naive.artifacts.len(),
                o.artifacts.len(),
                "{} {v}: artifact count",
                a.id()
            );
        }
    }
    naive
}

fn defaults(a: &dyn Analysis) -> Params {
    Params::defaults(&a.params())
}

fn with(a: &dyn Analysis, kv: &[(&str, &str)]) -> Params {
    let given: Vec<(String, String)> = kv
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Params::resolve(&a.params(), &given).expect("params")
}

fn catalog_from(m: &Array2<f64>) -> Catalog {
    Catalog {
        ra: m.column(0).to_owned(),
        dec: m.column(1).to_owned(),
        mag: None,
        color: None,
    }
}

// ---------------------------------------------------------------- cross-match

#[test]
fn cross_match_variants_agree() {
    let a = analysis("cross-match");
    let input = a.generate(3_000, 4).expect("generate");
    let out = all_agree(a, &input, &defaults(a));
    assert_eq!(out.summary_f64("n_matches"), Some(1500.0));
    // a large radius: many candidates per query, nearest-of-several decides
    all_agree(a, &input, &with(a, &[("order", "zone")]));
    let out = all_agree(a, &input, &with(a, &[("radius", "600"), ("order", "zone")]));
    assert!(out.summary_f64("n_matches").expect("n") > 1500.0);
}

#[test]
fn cross_match_equals_scipy_ckdtree_golden() {
    let a = analysis("cross-match");
    let c1 = npy2("catalog1.npy");
    let c2 = npy2("catalog2.npy");
    let gold = npy2("xmatch_ckdtree_1arcsec.npy");
    let input = Dataset::CatalogPair(catalog_from(&c1), catalog_from(&c2));
    let expected: Vec<(usize, usize, f64, f64)> = gold
        .rows()
        .into_iter()
        .filter(|r| r[1] >= 0.0)
        .map(|r| (r[0] as usize, r[1] as usize, r[2], r[3]))
        .collect();
    assert_eq!(expected.len(), 5000);
    // The brute force on the first 3,000 rows of catalog 1 (all of catalog 2): the
    // debug-build test stays fast; the index variants take the whole 20,000 × 20,000.
    let head = 3_000;
    let c1_head = catalog_from(&c1.slice(ndarray::s![..head, ..]).to_owned());
    let input_head = Dataset::CatalogPair(c1_head, catalog_from(&c2));
    for v in ALL_VARIANTS {
        let (inp, want): (&Dataset, Vec<_>) = if v == Variant::Naive {
            (
                &input_head,
                expected.iter().copied().filter(|e| e.0 < head).collect(),
            )
        } else {
            (&input, expected.clone())
        };
        let out = run_with(a, v, inp, &defaults(a), 2);
        let (cols, rows) = out.table_of("matches").expect("matches table");
        assert_eq!(cols, ["idx1", "idx2", "sep_arcsec"]);
        assert_eq!(rows.nrows(), want.len(), "{v}: number of matches");
        assert!(want.len() > 500);
        for (r, e) in rows.rows().into_iter().zip(&want) {
            assert_eq!((r[0] as usize, r[1] as usize), (e.0, e.1), "{v}: pair");
            assert!(
                (r[2] - e.2).abs() < 1e-9,
                "{v}: sep {} vs chord {}",
                r[2],
                e.2
            );
            assert!(
                (r[2] - e.3).abs() < 1e-9,
                "{v}: sep {} vs vincenty {}",
                r[2],
                e.3
            );
        }
    }
}

#[test]
fn cross_match_rejects_bad_input() {
    let a = analysis("cross-match");
    let bad = Catalog {
        ra: Array1::from(vec![1.0, 2.0]),
        dec: Array1::from(vec![0.0, 95.0]),
        mag: None,
        color: None,
    };
    let input = Dataset::CatalogPair(bad.clone(), bad);
    let e = a
        .run(Variant::Vectorized, &input, &defaults(a), &Ctx::detached(1))
        .expect_err("dec 95 must be refused");
    assert!(e.to_string().contains("Dec"), "{e}");
    assert!(a
        .run(
            Variant::Naive,
            &Dataset::None,
            &defaults(a),
            &Ctx::detached(1)
        )
        .is_err());
}

// ---------------------------------------------------------------- angular-distances

#[test]
fn angular_distances_variants_agree() {
    let a = analysis("angular-distances");
    let input = a.generate(250, 3).expect("generate");
    let out = all_agree(a, &input, &defaults(a));
    let mean = out.summary_f64("mean_offdiag_deg").expect("mean");
    // uniform on the sphere: the mean separation is 90 degrees
    assert!((mean - 90.0).abs() < 3.0, "mean {mean}");
}

/// Haversine against Vincenty's formula, including pairs 1", 1 mas and 1 µas apart,
/// where the law of cosines would return noise.
#[test]
fn angular_distances_match_vincenty_at_tiny_separations() {
    use astroperf::analysis::angular_distances::vincenty;
    use astroperf::data::generate::{catalog, offset_position};
    let base = catalog(60, 5);
    let mut ra = Vec::new();
    let mut dec = Vec::new();
    let offsets_arcsec = [1.0, 1e-3, 1e-6];
    for i in 0..base.len() {
        ra.push(base.ra[i]);
        dec.push(base.dec[i]);
        let d: f64 = offsets_arcsec[i % 3] / 3600.0;
        let (r2, d2) = offset_position(base.ra[i], base.dec[i], d.to_radians(), 0.3 * i as f64);
        ra.push(r2);
        dec.push(d2);
    }
    let n = ra.len();
    let input = Dataset::Catalog(Catalog {
        ra: Array1::from(ra.clone()),
        dec: Array1::from(dec.clone()),
        mag: None,
        color: None,
    });
    let a = analysis("angular-distances");
    for v in ALL_VARIANTS {
        let out = run_with(a, v, &input, &defaults(a), 2);
        let m = match out.get("distances") {
            Some(astroperf::analysis::ArtifactData::F64(m)) => m.clone(),
            _ => panic!("no distances matrix"),
        };
        assert_eq!(m.shape(), &[n, n]);
        for i in 0..n {
            for j in 0..n {
                let want = vincenty(
                    ra[i].to_radians(),
                    dec[i].to_radians(),
                    ra[j].to_radians(),
                    dec[j].to_radians(),
                )
                .to_degrees();
                let got = m[[i, j]];
                if want < 179.9 {
                    assert!((got - want).abs() < 1e-11, "{v} [{i},{j}] {got} vs {want}");
                }
                // the close pairs: relative agreement, where cos-law would fail
                if i % 2 == 0 && j == i + 1 {
                    let rel = (got - want).abs() / want;
                    assert!(rel < 1e-4, "{v} pair {i}: {got} vs {want} (rel {rel})");
                    let expect = offsets_arcsec[(i / 2) % 3] / 3600.0;
                    assert!(
                        (got - expect).abs() / expect < 1e-3,
                        "{v} pair {i}: {got} deg vs offset {expect}"
                    );
                }
            }
        }
    }
}

#[test]
fn angular_distances_refuse_huge_n() {
    let a = analysis("angular-distances");
    let big = Catalog {
        ra: Array1::zeros(20_000),
        dec: Array1::zeros(20_000),
        mag: None,
        color: None,
    };
    let e = a
        .validate(&Dataset::Catalog(big), &defaults(a))
        .expect_err("too large");
    assert!(e.to_string().contains("GB"), "{e}");
}

// ---------------------------------------------------------------- orbit-leapfrog

#[test]
fn orbit_leapfrog_variants_agree() {
    let a = analysis("orbit-leapfrog");
    let input = a.generate(5_000, 1).expect("generate");
    assert_eq!(a.size_of(&input), 5_000);
    let out = all_agree(a, &input, &with(a, &[("orbits", "3")]));
    assert_eq!(out.summary_f64("steps"), Some(5000.0));
    let (_, traj) = out.table_of("trajectory").expect("trajectory");
    assert!(traj.nrows() > 1000);
}

fn orbit(steps: usize, dt: f64) -> Output {
    use astroperf::analysis::orbit_leapfrog::{initial, run_steps};
    let a = analysis("orbit-leapfrog");
    let p = with(a, &[("dt", &dt.to_string())]);
    run_steps(
        Variant::Vectorized,
        initial(0),
        steps,
        &p,
        &Ctx::detached(1),
    )
    .expect("orbit")
}

/// One Kepler period later the Earth is back where it started; the energy error is
/// O(dt²) and does not grow over ten orbits.
#[test]
fn orbit_leapfrog_closes_and_conserves_energy() {
    use astroperf::analysis::orbit_leapfrog::{initial, kepler_period, AU};
    let t = kepler_period(initial(0));
    let dt = 3600.0;
    let steps = (t / dt).round() as usize + 1; // row `steps-1` is after steps-1 steps
    let out = orbit(steps, dt);
    let (x, y) = (
        out.summary_f64("final_x_au").expect("x"),
        out.summary_f64("final_y_au").expect("y"),
    );
    let miss = ((x - 1.496e11 / AU).powi(2) + y.powi(2)).sqrt();
    // the period is not a whole number of hours: up to half a step (≈ 3.6e-4 AU) apart
    assert!(
        miss < 5e-4,
        "after one period the orbit is {miss} AU from the start"
    );

    let e1 = orbit(steps, dt)
        .summary_f64("max_rel_energy_error")
        .expect("e");
    let e_half = orbit(2 * steps, dt / 2.0)
        .summary_f64("max_rel_energy_error")
        .expect("e");
    let ratio = e1 / e_half;
    assert!(e1 > 0.0 && e1 < 1e-6, "energy error {e1}");
    assert!(
        (3.0..5.0).contains(&ratio),
        "halving dt: ratio {ratio}, want ~4"
    );
    let e10 = orbit(10 * steps, dt)
        .summary_f64("max_rel_energy_error")
        .expect("e");
    assert!(
        e10 < 1.5 * e1,
        "10 orbits {e10} vs 1 orbit {e1}: secular drift"
    );
}

// ---------------------------------------------------------------- monte-carlo-pi

#[test]
fn monte_carlo_pi_identical_across_variants_and_threads() {
    let a = analysis("monte-carlo-pi");
    let input = a.generate(300_001, 9).expect("generate");
    let out = all_agree(a, &input, &defaults(a));
    assert_eq!(out.summary_f64("samples"), Some(300_001.0));
}

#[test]
fn monte_carlo_pi_within_binomial_error() {
    let a = analysis("monte-carlo-pi");
    for seed in [1, 2, 3] {
        let input = a.generate(2_000_000, seed).expect("generate");
        let out = run_with(a, Variant::Parallel, &input, &defaults(a), 2);
        let pi = out.summary_f64("pi_estimate").expect("pi");
        let p = std::f64::consts::FRAC_PI_4;
        let sigma = 4.0 * (p * (1.0 - p) / 2.0e6).sqrt();
        assert!(
            (pi - std::f64::consts::PI).abs() < 4.0 * sigma,
            "seed {seed}: {pi}, sigma {sigma}"
        );
    }
}

// ---------------------------------------------------------------- peak-count

#[test]
fn peak_count_variants_agree() {
    let a = analysis("peak-count");
    let input = a.generate(40, 2).expect("generate");
    let out = all_agree(a, &input, &defaults(a));
    // every generated spectrum has its emission lines above 3σ
    assert!(out.summary_f64("mean_peaks").expect("mean") >= 1.0);
    all_agree(a, &input, &with(a, &[("k", "0.5")]));
}

/// Pure Gaussian noise: an interior sample is a peak above t (in σ) with probability
/// ∫_t^∞ φ(x) Φ(x)² dx = (1 − Φ(t)³)/3, independent of any peak finder.
#[test]
fn peak_count_matches_gaussian_expectation() {
    use astroperf::data::rng::Rng;
    use astroperf::data::SpectrumBatch;
    let (rows, cols) = (1000, 2048);
    let mut flux = Array2::zeros((rows, cols));
    for (i, mut row) in flux.rows_mut().into_iter().enumerate() {
        let mut r = Rng::for_block(77, i as u64);
        for v in row.iter_mut() {
            *v = 100.0 + r.normal();
        }
    }
    let input = Dataset::SpectrumBatch(SpectrumBatch {
        wavelength: Array1::from_iter((0..cols).map(|i| i as f64)),
        flux,
    });
    let a = analysis("peak-count");
    let out = run_with(a, Variant::Parallel, &input, &defaults(a), 2);
    let total = out.summary_f64("total_peaks").expect("total");
    let phi3 = 0.998_650_101_968_369_9_f64; // Φ(3)
    let expected = rows as f64 * (cols - 2) as f64 * (1.0 - phi3.powi(3)) / 3.0;
    let sigma = expected.sqrt(); // Poisson-like
    assert!(
        (total - expected).abs() < 4.0 * sigma,
        "{total} peaks, expected {expected:.0} ± {sigma:.0}"
    );
}

// ---------------------------------------------------------------- extinction-correction

#[test]
fn extinction_correction_variants_agree() {
    let a = analysis("extinction-correction");
    let input = a.generate(200_003, 4).expect("generate");
    let out = all_agree(a, &input, &defaults(a));
    // colours U(-0.5, 2): a fifth are blue and left alone
    let blue = out.summary_f64("blue_uncorrected").expect("blue") / 200_003.0;
    assert!((blue - 0.2).abs() < 0.01, "blue fraction {blue}");
}

#[test]
fn extinction_correction_applies_the_chapter_law() {
    let a = analysis("extinction-correction");
    let mag = vec![15.0, 15.0, 12.5, 20.0, 10.0];
    let color = vec![1.0, -0.2, 0.0, 2.0, -1e-12];
    let input = Dataset::Catalog(Catalog {
        ra: Array1::zeros(5),
        dec: Array1::zeros(5),
        mag: Some(Array1::from(mag)),
        color: Some(Array1::from(color)),
    });
    // hand values: 15 − 3.1·0.574·1 = 13.2206; 20 − 3.1·0.574·2 = 16.4412
    let want = [13.2206, 15.0, 12.5, 16.4412, 10.0];
    for v in ALL_VARIANTS {
        let out = run_with(a, v, &input, &defaults(a), 2);
        let got = out.f64_slice("corrected_mag").expect("corrected");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{v}: {g} vs {w}");
        }
    }
    let p = with(a, &[("r_v", "0")]);
    let out = run_with(a, Variant::Vectorized, &input, &p, 1);
    assert_eq!(out.f64_slice("corrected_mag").expect("c")[0], 15.0);
    let no_colour = Dataset::Catalog(Catalog {
        ra: Array1::zeros(2),
        dec: Array1::zeros(2),
        mag: Some(Array1::zeros(2)),
        color: None,
    });
    assert!(a.validate(&no_colour, &defaults(a)).is_err());
}
