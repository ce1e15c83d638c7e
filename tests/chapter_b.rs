//! Chapter 7.3 ufuncs, 7.5 streaming/chunked processing and Exercises 7.2/7.3:
//! every variant agrees, and each result is checked against an independent value.

use astroperf::analysis::{self, Analysis, Ctx, Output, Params, Variant, ALL_VARIANTS};
use astroperf::data::{Dataset, Dtype, Mapped, Table};
use ndarray::Array2;
use std::sync::Arc;

fn find(id: &str) -> &'static dyn Analysis {
    analysis::find(id).unwrap_or_else(|| panic!("{id} is not registered"))
}

fn params(a: &dyn Analysis, given: &[(&str, &str)]) -> Params {
    let g: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Params::resolve(&a.params(), &g).expect("valid params")
}

/// Run one variant on a rayon pool of `threads` threads.
fn run_on(a: &dyn Analysis, v: Variant, d: &Dataset, p: &Params, threads: usize) -> Output {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let ctx = Ctx::detached(threads);
    pool.install(|| a.run(v, d, p, &ctx))
        .unwrap_or_else(|e| panic!("{} {v}: {e}", a.id()))
}

/// All variants (parallel at 1 and 3 threads) agree within the declared tolerances.
fn all_agree(a: &dyn Analysis, d: &Dataset, p: &Params) -> Output {
    let base = run_on(a, Variant::Naive, d, p, 1);
    for v in ALL_VARIANTS {
        for t in [1, 3] {
            let o = run_on(a, v, d, p, t);
            if let Err(why) = base.agrees_with(&o) {
                panic!("{}: {v} ({t} threads) differs from naive: {why}", a.id());
            }
        }
    }
    base
}

fn table(columns: &[&str], rows: Vec<Vec<f64>>) -> Dataset {
    let n = rows.len();
    let c = columns.len();
    let flat: Vec<f64> = rows.into_iter().flatten().collect();
    Dataset::Table(Table {
        columns: columns.iter().map(|s| s.to_string()).collect(),
        data: Array2::from_shape_vec((n, c), flat).expect("shape"),
    })
}

// ---------------------------------------------------------------- magnitude-sum

#[test]
fn magnitude_sum_variants_agree() {
    let a = find("magnitude-sum");
    let d = a.generate(a.quick_size(), 3).expect("generate");
    assert_eq!(a.size_of(&d), a.quick_size());
    let o = all_agree(a, &d, &params(a, &[]));
    assert_eq!(
        o.f64_slice("combined_mag").map(<[f64]>::len),
        Some(a.quick_size())
    );
}

#[test]
fn magnitude_sum_matches_flux_addition() {
    let a = find("magnitude-sum");
    // Equal sources: 2.5 log10 2 = 0.75257 mag brighter; one magnitude apart: 0.36385;
    // the chapter's example 10.0 + 10.5 = 9.469; a 20-mag fainter companion adds ~2.5e-8 mag.
    let d = table(
        &["m1", "m2"],
        vec![
            vec![12.0, 12.0],
            vec![12.0, 13.0],
            vec![10.0, 10.5],
            vec![5.0, 25.0],
            vec![-30.0, -30.0],
        ],
    );
    let want = [
        12.0 - 0.752_574_989_159_953_2,
        12.0 - 0.363_851_157_773_234,
        9.468_893_493_014_152,
        5.0 - 2.5 * (1.0f64 + 1e-8).log10(),
        -30.0 - 0.752_574_989_159_953_2,
    ];
    for v in ALL_VARIANTS {
        let o = run_on(a, v, &d, &params(a, &[]), 2);
        let got = o.f64_slice("combined_mag").expect("combined_mag");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{v}: {g} vs {w}");
        }
    }
}

// ---------------------------------------------------------------- planck

#[test]
fn planck_variants_agree() {
    let a = find("planck");
    let d = a.generate(a.quick_size(), 1).expect("generate");
    all_agree(a, &d, &params(a, &[]));
    all_agree(
        a,
        &d,
        &params(a, &[("temperature", "30000"), ("scale", "2.5")]),
    );
}

#[test]
fn planck_peak_follows_wien_and_integral_follows_stefan_boltzmann() {
    let a = find("planck");
    // Wien: λ_max = b / T with b = 2.897771955e-3 m K (CODATA), on a fine linear grid.
    for t in [3000.0, 5778.0, 10000.0] {
        let grid = a.generate(100_000, 0).expect("grid");
        let p = params(a, &[("temperature", &t.to_string())]);
        let o = run_on(a, Variant::Parallel, &grid, &p, 2);
        let peak = o.summary_f64("peak_nm").expect("peak");
        let wien = 2.897_771_955e-3 / t * 1e9;
        assert!((peak / wien - 1.0).abs() < 1e-6, "T={t}: {peak} vs {wien}");
    }
    // Stefan-Boltzmann: ∫B_λ dλ = σT⁴/π over a log grid wide enough to hold it all.
    let n = 200_000;
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| vec![10f64.powf(1.0 + 5.0 * i as f64 / (n - 1) as f64)])
        .collect();
    let d = table(&["wavelength_nm"], rows);
    let o = run_on(a, Variant::Vectorized, &d, &params(a, &[]), 1);
    let frac = o
        .summary_f64("band_fraction_of_sigma_t4")
        .expect("fraction");
    assert!((frac - 1.0).abs() < 1e-4, "fraction {frac}");
}

#[test]
fn planck_rejects_bad_wavelengths() {
    let a = find("planck");
    let d = table(&["wavelength_nm"], vec![vec![500.0], vec![-1.0]]);
    let ctx = Ctx::detached(1);
    assert!(a.run(Variant::Naive, &d, &params(a, &[]), &ctx).is_err());
}

// ---------------------------------------------------------------- streaming-stats

fn stats_row(o: &Output) -> Vec<f64> {
    let (_, rows) = o.table_of("stats").expect("stats table");
    rows.row(0).to_vec()
}

#[test]
fn streaming_stats_variants_agree() {
    let a = find("streaming-stats");
    let d = a.generate(a.quick_size() + 17, 5).expect("generate");
    for chunk in ["1000", "333"] {
        all_agree(a, &d, &params(a, &[("chunk", chunk)]));
    }
    // The vectorized and parallel variants share one merge tree: identical bits.
    let p = params(a, &[("chunk", "100")]);
    let v = run_on(a, Variant::Vectorized, &d, &p, 1);
    for t in [1, 2, 4] {
        assert_eq!(
            stats_row(&v),
            stats_row(&run_on(a, Variant::Parallel, &d, &p, t))
        );
    }
}

#[test]
fn streaming_stats_equal_two_pass_on_the_held_stream_and_on_a_memory_map() {
    use astroperf::analysis::streaming_stats::Source;
    let a = find("streaming-stats");
    let n = 50_003u64;
    let chunk = 999;
    let src = Source::Generated { n, seed: 11 };
    let mut all = Vec::new();
    let mut buf = Vec::new();
    for i in 0..n.div_ceil(chunk as u64) {
        src.fill(i, chunk, &mut buf);
        all.extend_from_slice(&buf);
    }
    assert_eq!(all.len() as u64, n);
    // Two-pass reference, accumulated in a different order (pairwise via sort of |x|).
    let mut sorted = all.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let var = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let want = [
        n as f64,
        mean,
        var.sqrt(),
        sorted[0],
        sorted[sorted.len() - 1],
    ];

    let d = a.generate(n as usize, 11).expect("generate");
    let p = params(a, &[("chunk", &chunk.to_string())]);
    for v in ALL_VARIANTS {
        let got = stats_row(&run_on(a, v, &d, &p, 2));
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-12 * w.abs(), "{v}: {g} vs {w}");
        }
    }

    // The same values through a memory-mapped file, read chunk by chunk.
    let mut f = tempfile::tempfile().expect("temp file");
    {
        use std::io::Write;
        let bytes: Vec<u8> = all.iter().flat_map(|v| v.to_le_bytes()).collect();
        f.write_all(&bytes).expect("write");
    }
    // SAFETY: an unnamed temporary file that nothing else can reach or modify.
    let map = unsafe { memmap2::Mmap::map(&f) }.expect("map");
    let m = Dataset::Mapped(Mapped {
        map: Arc::new(map),
        offset: 0,
        dtype: Dtype::F64,
        shape: vec![n as usize],
        file: None,
        reader: Some(Arc::new(f)),
    });
    assert_eq!(a.size_of(&m), n as usize);
    let mapped = all_agree(a, &m, &p);
    let gen = run_on(a, Variant::Naive, &d, &p, 1);
    assert_eq!(stats_row(&mapped), stats_row(&gen));
}

// ---------------------------------------------------------------- spectrum-stack

#[test]
fn spectrum_stack_variants_and_modes_agree() {
    let a = find("spectrum-stack");
    assert_eq!(
        a.generate(250 * 3000 + 5, 2).expect("generate").shape(),
        vec![250, 3000]
    );
    let d = Dataset::SpectrumBatch(astroperf::analysis::spectrum_stack::stack_batch(
        201, 500, 2,
    ));
    for (mode, mb) in [("memory", "32"), ("mmap", "1")] {
        let p = params(a, &[("mode", mode), ("block_mb", mb)]);
        let o = all_agree(a, &d, &p);
        let want: Vec<i64> = vec![0, 100, 200];
        match o.get("outliers") {
            Some(astroperf::analysis::ArtifactData::I64(x)) => {
                assert_eq!(x.iter().copied().collect::<Vec<_>>(), want, "{mode}")
            }
            _ => panic!("no outliers artifact"),
        }
    }
    // In memory and through the memory map: the same numbers.
    let mem = run_on(
        a,
        Variant::Vectorized,
        &d,
        &params(a, &[("mode", "memory")]),
        1,
    );
    let map = run_on(
        a,
        Variant::Vectorized,
        &d,
        &params(a, &[("mode", "mmap")]),
        1,
    );
    mem.agrees_with(&map).expect("memory vs mmap");
    assert_eq!(mem.f64_slice("coadd"), map.f64_slice("coadd"));
}

#[test]
fn spectrum_stack_small_stack_by_hand() {
    use astroperf::data::SpectrumBatch;
    let a = find("spectrum-stack");
    let flux = Array2::from_shape_vec(
        (5, 4),
        vec![
            1.0, 2.0, 3.0, 4.0, //
            2.0, 3.0, 4.0, 5.0, //
            3.0, 4.0, 5.0, 6.0, //
            2.0, 5.0, 2.0, 5.0, //
            50.0, 50.0, 50.0, 50.0,
        ],
    )
    .expect("shape");
    let d = Dataset::SpectrumBatch(SpectrumBatch {
        wavelength: ndarray::Array1::from(vec![1.0, 2.0, 3.0, 4.0]),
        flux: flux.clone(),
    });
    // By hand: column medians; per-spectrum median |resid| and variance (ddof 0).
    let median = [2.0, 4.0, 4.0, 5.0];
    let dev = [1.0, 0.0, 1.0, 0.5, 46.0];
    let var = [0.1875, 0.1875, 0.1875, 1.1875];
    let w: Vec<f64> = var.iter().map(|v| 1.0 / v).chain([0.0]).collect();
    let wsum: f64 = w.iter().sum();
    let coadd: Vec<f64> = (0..4)
        .map(|c| (0..5).map(|r| w[r] * flux[[r, c]]).sum::<f64>() / wsum)
        .collect();
    for mode in ["memory", "mmap"] {
        let p = params(a, &[("mode", mode)]);
        for v in ALL_VARIANTS {
            let o = run_on(a, v, &d, &p, 2);
            assert_eq!(
                o.f64_slice("median_spectrum"),
                Some(&median[..]),
                "{v} {mode}"
            );
            let (_, rows) = o.table_of("spectra").expect("spectra");
            for r in 0..5 {
                assert_eq!(rows[[r, 1]], dev[r], "{v} {mode} dev {r}");
                if r < 4 {
                    assert!((rows[[r, 2]] - var[r]).abs() < 1e-15, "{v} {mode} var {r}");
                }
            }
            let got = o.f64_slice("coadd").expect("coadd");
            for (g, c) in got.iter().zip(&coadd) {
                assert!((g - c).abs() < 1e-13, "{v} {mode}: {g} vs {c}");
            }
            assert_eq!(o.summary_f64("n_outliers"), Some(1.0));
        }
    }
}

#[test]
fn spectrum_stack_noise_averages_down() {
    // 1000 spectra of N(100, 1): the coadd of the 990 good ones scatters by 1/sqrt(990).
    let a = find("spectrum-stack");
    let d = Dataset::SpectrumBatch(astroperf::analysis::spectrum_stack::stack_batch(
        1000, 600, 9,
    ));
    let o = run_on(a, Variant::Parallel, &d, &params(a, &[]), 2);
    let c = o.f64_slice("coadd").expect("coadd");
    let n = c.len() as f64;
    let mean = c.iter().sum::<f64>() / n;
    let sd = (c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let want = 1.0 / 990f64.sqrt();
    assert!((mean - 100.0).abs() < 0.005, "mean {mean}");
    assert!((sd / want - 1.0).abs() < 0.1, "scatter {sd} vs {want}");
    assert_eq!(o.summary_f64("n_outliers"), Some(10.0));
}

// ---------------------------------------------------------------- population-synthesis

#[test]
fn population_synthesis_variants_agree() {
    let a = find("population-synthesis");
    let d = a.generate(12, 4).expect("generate");
    assert_eq!(a.size_of(&d), 12);
    for age in ["0", "1", "0.01"] {
        let p = params(a, &[("stars", "2001"), ("age", age)]);
        all_agree(a, &d, &p);
    }
}

#[test]
fn population_synthesis_matches_the_analytic_imf() {
    // Salpeter, 0.08-120 M☉: <m> = [(M^-0.35 - m^-0.35)/-0.35] / [(M^-1.35 - m^-1.35)/-1.35]
    // = 0.2847 M☉; fraction above 8 M☉ = (8^-1.35 - 120^-1.35)/(0.08^-1.35 - 120^-1.35).
    let a = find("population-synthesis");
    let d = a.generate(200, 21).expect("generate");
    let o = run_on(a, Variant::Parallel, &d, &params(a, &[]), 2);
    let (lo, hi) = (0.08f64, 120.0f64);
    let mean =
        ((hi.powf(-0.35) - lo.powf(-0.35)) / -0.35) / ((hi.powf(-1.35) - lo.powf(-1.35)) / -1.35);
    assert!((mean - 0.2847).abs() < 1e-4);
    let got = o.summary_f64("mean_mass").expect("mean_mass");
    assert!((got / mean - 1.0).abs() < 0.01, "mean mass {got} vs {mean}");
    let f8 = (8f64.powf(-1.35) - hi.powf(-1.35)) / (lo.powf(-1.35) - hi.powf(-1.35));
    let n8 = o.summary_f64("mean_n_gt8").expect("n_gt8");
    assert!(
        (n8 / (f8 * 10_000.0) - 1.0).abs() < 0.05,
        "N>8 {n8} vs {}",
        f8 * 10_000.0
    );
    // At 1 Gyr the turn-off is 10^0.4 M☉: alive fraction from the same power law.
    let fa = (lo.powf(-1.35) - 10f64.powf(0.4 * -1.35)) / (lo.powf(-1.35) - hi.powf(-1.35));
    let alive = o.summary_f64("mean_n_alive").expect("alive");
    assert!(
        (alive / (fa * 10_000.0) - 1.0).abs() < 0.002,
        "alive {alive} vs {}",
        fa * 1e4
    );
}

// ---------------------------------------------------------------- catalog-chunks

#[test]
fn catalog_chunks_variants_agree() {
    let a = find("catalog-chunks");
    let d = a.generate(a.quick_size() + 3, 8).expect("generate");
    assert_eq!(a.size_of(&d), a.quick_size() + 3);
    for (chunk, keep) in [("100000", "10000"), ("7777", "300"), ("1", "0")] {
        if chunk == "1" {
            // one row per chunk on a small file only
            let small = a.generate(5000, 8).expect("generate");
            all_agree(
                a,
                &small,
                &params(a, &[("chunk", chunk), ("max_rows", keep)]),
            );
        } else {
            all_agree(a, &d, &params(a, &[("chunk", chunk), ("max_rows", keep)]));
        }
    }
}

#[test]
fn catalog_chunks_count_equals_a_direct_scan() {
    let a = find("catalog-chunks");
    let d = a.generate(60_001, 5).expect("generate");
    let Dataset::Mapped(m) = &d else {
        panic!("generate should map a file")
    };
    // Independent: read every magnitude straight from the map.
    let mags: Vec<f64> = (0..60_001).map(|i| m.get(i * 3 + 2)).collect();
    assert!(mags.iter().all(|v| (10.0..20.0).contains(v)));
    for limit in [15.0, 12.5] {
        let want: Vec<usize> = (0..mags.len()).filter(|&i| mags[i] < limit).collect();
        let p = params(a, &[("limit", &limit.to_string()), ("chunk", "4096")]);
        let o = run_on(a, Variant::Parallel, &d, &p, 2);
        assert_eq!(o.summary_f64("n_bright"), Some(want.len() as f64));
        let (_, rows) = o.table_of("bright").expect("bright");
        assert_eq!(rows.nrows(), want.len().min(10_000));
        for (r, &i) in want.iter().take(10_000).enumerate() {
            assert_eq!(rows[[r, 0]], i as f64);
            assert_eq!(rows[[r, 3]], mags[i]);
        }
        let (_, h) = o.table_of("mag_histogram").expect("histogram");
        assert_eq!(h.column(2).sum(), 60_001.0);
        // Uniform magnitudes in [10, 20): the bright fraction is (limit - 10) / 10.
        let frac = o.summary_f64("bright_fraction").expect("fraction");
        assert!((frac - (limit - 10.0) / 10.0).abs() < 0.01, "{frac}");
    }
}

#[test]
fn catalog_chunks_reads_an_in_memory_catalog_too() {
    use astroperf::data::Catalog;
    let a = find("catalog-chunks");
    let c = Catalog {
        ra: ndarray::Array1::from(vec![1.0, 2.0, 3.0, 4.0]),
        dec: ndarray::Array1::from(vec![-1.0, 0.0, 1.0, 2.0]),
        mag: Some(ndarray::Array1::from(vec![14.0, 16.0, 15.0, 9.0])),
        color: None,
    };
    let o = all_agree(a, &Dataset::Catalog(c), &params(a, &[("chunk", "3")]));
    let (_, rows) = o.table_of("bright").expect("bright");
    assert_eq!(rows.column(0).to_vec(), vec![0.0, 3.0]);
    assert_eq!(rows.column(3).to_vec(), vec![14.0, 9.0]);
    assert!(a
        .run(
            Variant::Naive,
            &Dataset::None,
            &params(a, &[]),
            &Ctx::detached(1)
        )
        .is_err());
}
