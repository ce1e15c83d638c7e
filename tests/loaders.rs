//! The file loaders against the real observations and the golden (astropy/numpy) files,
//! synthetic FITS of every BITPIX, and every kind of bad input.

use astroperf::data::load::{load, load_mapped};
use astroperf::data::{Dataset, Dtype, Loaded, Origin};
use ndarray::{Array1, Array2, ArrayD};
use ndarray_npy::ReadNpyExt;
use std::path::{Path, PathBuf};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn npy(rel: &str) -> ArrayD<f64> {
    let f = std::fs::File::open(data(rel)).expect("open golden npy");
    ArrayD::<f64>::read_npy(f).expect("read golden npy")
}

fn npy2(rel: &str) -> Array2<f64> {
    npy(rel).into_dimensionality().expect("2-D golden npy")
}

fn ok(rel: &str) -> Loaded {
    match load(&data(rel)) {
        Ok(l) => l,
        Err(e) => panic!("{rel} should load: {e}"),
    }
}

fn fact<'a>(l: &'a Loaded, key: &str) -> Option<&'a str> {
    l.info
        .facts
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------- a tiny FITS writer

fn card(k: &str, v: &str) -> String {
    let s = if v.starts_with('\'') {
        format!("{k:<8}= {v:<70}")
    } else {
        format!("{k:<8}= {v:>20}")
    };
    format!("{s:<80}")
}

fn header(cards: &[(&str, String)]) -> Vec<u8> {
    let mut h = String::new();
    for (k, v) in cards {
        h.push_str(&card(k, v));
    }
    h.push_str(&format!("{:<80}", "END"));
    while !h.len().is_multiple_of(2880) {
        h.push(' ');
    }
    h.into_bytes()
}

fn pad(mut d: Vec<u8>) -> Vec<u8> {
    while !d.len().is_multiple_of(2880) {
        d.push(0);
    }
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write temp file");
    p
}

fn image_fits(bitpix: i64, naxis: &[usize], extra: &[(&str, String)], raw: Vec<u8>) -> Vec<u8> {
    let mut cards = vec![
        ("SIMPLE", "T".to_string()),
        ("BITPIX", bitpix.to_string()),
        ("NAXIS", naxis.len().to_string()),
    ];
    let names = ["NAXIS1", "NAXIS2", "NAXIS3"];
    for (i, a) in naxis.iter().enumerate() {
        cards.push((names[i], a.to_string()));
    }
    cards.extend(extra.iter().cloned());
    let mut b = header(&cards);
    b.extend(pad(raw));
    b
}

/// A primary HDU with no data, then a BINTABLE of f64 ('D') columns.
fn table_fits(names: &[&str], cols: &[Vec<f64>]) -> Vec<u8> {
    let mut b = header(&[
        ("SIMPLE", "T".into()),
        ("BITPIX", "8".into()),
        ("NAXIS", "0".into()),
        ("EXTEND", "T".into()),
    ]);
    let n = cols[0].len();
    let mut cards = vec![
        ("XTENSION", "'BINTABLE'".to_string()),
        ("BITPIX", "8".into()),
        ("NAXIS", "2".into()),
        ("NAXIS1", (8 * cols.len()).to_string()),
        ("NAXIS2", n.to_string()),
        ("PCOUNT", "0".into()),
        ("GCOUNT", "1".into()),
        ("TFIELDS", cols.len().to_string()),
    ];
    let keys: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .flat_map(|(i, nm)| {
            [
                (format!("TTYPE{}", i + 1), format!("'{nm}'")),
                (format!("TFORM{}", i + 1), "'D'".to_string()),
            ]
        })
        .collect();
    for (k, v) in &keys {
        cards.push((k.as_str(), v.clone()));
    }
    b.extend(header(&cards));
    let mut d = Vec::new();
    for r in 0..n {
        for c in cols {
            d.extend(c[r].to_be_bytes());
        }
    }
    b.extend(pad(d));
    b
}

// ---------------------------------------------------------------- real observations

#[test]
fn every_real_and_golden_file_loads() {
    let mut n = 0;
    for dir in ["real", "golden"] {
        for e in std::fs::read_dir(data(dir)).expect("read data dir") {
            let p = e.expect("dir entry").path();
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
            if ["md", "json", "py", "sha256"].contains(&ext) {
                continue;
            }
            let l = load(&p).unwrap_or_else(|e| panic!("{} should load: {e}", p.display()));
            assert!(l.data.n_elements() > 0, "{} loaded empty", p.display());
            n += 1;
        }
    }
    assert!(n >= 38, "only {n} files seen");
}

#[test]
fn eso_ntt_frame_is_256x256_with_bscale_bzero() {
    let l = ok("real/eso_ntt_emmi_R.fits");
    let Dataset::Frame(f) = &l.data else {
        panic!("expected a frame, got {}", l.data.kind())
    };
    assert_eq!(f.data.dim(), (256, 256));
    assert_eq!(f.stored, Dtype::I16);
    assert_eq!(fact(&l, "TELESCOP"), Some("ESONTTB"));
    // Independent check of pixel (0,0) and (1,2): decode the big-endian int16 by hand.
    let bytes = std::fs::read(data("real/eso_ntt_emmi_R.fits")).expect("read");
    let end = bytes
        .chunks(80)
        .position(|c| c.starts_with(b"END     "))
        .expect("END card");
    let start = ((end + 1) * 80).div_ceil(2880) * 2880;
    let px = |r: usize, c: usize| {
        let o = start + 2 * (r * 256 + c);
        i16::from_be_bytes([bytes[o], bytes[o + 1]]) as f64 * 2.92273835509 + 3713.66692596
    };
    // Scaled int16 is computed in float32 as astropy does: within f32 rounding of f64.
    for (r, c) in [(0, 0), (1, 2), (255, 17), (128, 128)] {
        let want = px(r, c);
        assert!(
            (f.data[[r, c]] - want).abs() <= 1e-6 * want.abs(),
            "({r},{c})"
        );
    }
}

#[test]
fn fast_ngc5548_is_a_log_linear_spectrum() {
    let l = ok("real/fast_ngc5548.fits");
    let Dataset::Spectrum(s) = &l.data else {
        panic!("expected a spectrum, got {}", l.data.kind())
    };
    assert_eq!(s.flux.len(), 4096);
    // CREDITS.md: log10(lambda) = CRVAL1 + (i+1-CRPIX1)*CDELT1, CRPIX1 = 1.
    let (crval, cdelt) = (3.56820172406699_f64, 0.0000720686534929087_f64);
    for i in [0usize, 1, 1000, 2048, 4095] {
        let want = 10f64.powf(crval + i as f64 * cdelt);
        assert!(
            (s.wavelength[i] - want).abs() < 1e-6,
            "pixel {i}: {} vs {want}",
            s.wavelength[i]
        );
    }
    assert!((s.wavelength[0] - 3700.0).abs() < 0.01);
    assert!((s.wavelength[4095] - 7300.0).abs() < 0.5);
    assert!(l.info.warnings.iter().any(|w| w.contains("NAXIS2")));
    assert!(fact(&l, "wavelength").is_some_and(|w| w.contains("log-linear")));
    assert_eq!(fact(&l, "VELOCITY"), Some("4985"));
    assert!(s.flux.iter().all(|v| v.is_finite()));
}

#[test]
fn macho_mjd_is_a_magnitude_light_curve() {
    let l = ok("real/macho_1.3444.614.B.mjd");
    let Dataset::LightCurve(c) = &l.data else {
        panic!("expected a light curve, got {}", l.data.kind())
    };
    assert!(c.magnitudes);
    assert_eq!(c.time.len(), 1235);
    assert_eq!(c.time[0], 48823.477419);
    assert_eq!(c.value[0], -6.081);
    assert_eq!(c.error.as_ref().map(|e| e[0]), Some(0.156));
    let r = ok("real/macho_1.3444.614.R.mjd");
    assert_eq!(r.data.kind(), "light-curve");
}

#[test]
fn sunspots_is_a_light_curve_in_years() {
    let l = ok("real/sunspots_yearly.csv");
    let Dataset::LightCurve(c) = &l.data else {
        panic!("expected a light curve, got {}", l.data.kind())
    };
    assert_eq!(c.time.len(), 309);
    assert_eq!((c.time[0], c.value[0]), (1700.0, 5.0));
    assert_eq!(c.time[308], 2008.0);
    assert!(!c.magnitudes);
    assert!(fact(&l, "time unit").is_some_and(|u| u.contains("years")));
}

// ---------------------------------------------------------------- golden files

#[test]
fn ccd_f64_fits_equals_npy_exactly() {
    let l = ok("golden/ccd_frame_f64.fits");
    let Dataset::Frame(f) = &l.data else {
        panic!("expected a frame")
    };
    assert_eq!(f.stored, Dtype::F64);
    assert_eq!(f.data, npy2("golden/ccd_frame.npy"));
    // The .npy itself loads as the same frame.
    let Dataset::Frame(g) = ok("golden/ccd_frame.npy").data else {
        panic!("ccd_frame.npy should be a frame")
    };
    assert_eq!(g.data, f.data);
}

#[test]
fn ccd_i16_fits_applies_bscale_bzero() {
    let l = ok("golden/ccd_frame_i16.fits");
    let Dataset::Frame(f) = &l.data else {
        panic!("expected a frame")
    };
    assert_eq!(f.stored, Dtype::I16);
    let want = npy2("golden/ccd_frame_i16_physical.npy");
    let worst = (&f.data - &want)
        .mapv(f64::abs)
        .fold(0.0f64, |a, &b| a.max(b));
    assert!(worst <= 1e-9, "max |diff| = {worst}");
    assert!(fact(&l, "scaling").is_some_and(|s| s.contains("float32")));
    // The stored values load as an int16 frame from the raw .npy.
    let raw = ok("golden/ccd_frame_i16_raw.npy");
    assert_eq!(raw.data.dtype(), Dtype::I16);
    let Dataset::Frame(r) = raw.data else {
        panic!("raw npy should be a frame")
    };
    let bscale = 0.02038025199014856;
    let bzero = 745.7151647482149;
    // The f64 formula agrees to f32 rounding; the golden file is astropy's float32 result.
    let exact = &r.data * bscale + bzero;
    let worst = (&exact - &f.data)
        .mapv(f64::abs)
        .fold(0.0f64, |a, &b| a.max(b));
    assert!(worst > 0.0 && worst < 1e-3, "f64 vs f32 scaling: {worst}");
    assert!(fact(&l, "BSCALE").is_some());
}

#[test]
fn golden_spectrum_fits_npy_csv_agree() {
    let want = npy2("golden/spectrum.npy");
    let check = |l: &Loaded, what: &str| {
        let Dataset::Spectrum(s) = &l.data else {
            panic!("{what}: expected a spectrum, got {}", l.data.kind())
        };
        assert_eq!(s.wavelength, want.column(0), "{what} wavelength");
        assert_eq!(s.flux, want.column(1), "{what} flux");
    };
    let fits = ok("golden/spectrum.fits");
    check(&fits, "fits");
    assert_eq!(fact(&fits, "REDSHIFT"), Some("0.0123"));
    check(&ok("golden/spectrum.npy"), "npy");
    // The CSV copy: written here as numpy would (header, shortest round-trip floats).
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = String::from("wavelength_A,flux\n");
    for r in want.rows() {
        s.push_str(&format!("{:?},{:?}\n", r[0], r[1]));
    }
    let p = write(dir.path(), "spectrum.csv", s.as_bytes());
    check(&load(&p).expect("spectrum.csv"), "csv");
}

#[test]
fn golden_lightcurve_fits_and_csv() {
    let want = npy2("golden/lightcurve.npy");
    for rel in ["golden/lightcurve.fits", "golden/lightcurve.csv"] {
        let l = ok(rel);
        let Dataset::LightCurve(c) = &l.data else {
            panic!("{rel}: expected a light curve, got {}", l.data.kind())
        };
        assert!(!c.magnitudes);
        assert_eq!(c.time, want.column(0), "{rel}");
        assert_eq!(c.value, want.column(1), "{rel}");
        assert_eq!(c.error.as_ref().expect("error column"), want.column(2));
    }
    // The .npy has no names: a table that data::adapt turns into a light curve.
    let t = ok("golden/lightcurve.npy");
    assert_eq!(t.data.kind(), "table");
    let a = astroperf::data::adapt("light-curve", t).expect("adapt");
    assert_eq!(a.data.kind(), "light-curve");
}

#[test]
fn bare_matrix_csv_is_a_frame_and_radec_csv_a_catalog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let frame = npy2("golden/ccd_frame.npy");
    let sub = frame.slice(ndarray::s![..40, ..]);
    let mut s = String::new();
    for r in sub.rows() {
        let line: Vec<String> = r.iter().map(|v| format!("{v:?}")).collect();
        s.push_str(&line.join(","));
        s.push('\n');
    }
    let p = write(dir.path(), "ccd_part.csv", s.as_bytes());
    let Dataset::Frame(f) = load(&p).expect("bare matrix").data else {
        panic!("bare matrix should be a frame")
    };
    assert_eq!(f.data, sub);

    let cat = npy2("golden/catalog1.npy");
    let mut s = String::from("# two columns from catalog1\nra_deg,dec_deg\n");
    for r in cat.rows().into_iter().take(100) {
        s.push_str(&format!("{:?},{:?}\n", r[0], r[1]));
    }
    let p = write(dir.path(), "cat.csv", s.as_bytes());
    let Dataset::Catalog(c) = load(&p).expect("catalog csv").data else {
        panic!("ra/dec csv should be a catalog")
    };
    assert_eq!(c.len(), 100);
    assert_eq!(c.ra[7], cat[[7, 0]]);
    assert_eq!(c.dec[99], cat[[99, 1]]);

    // Whitespace text with a header, a comment and an unrelated column set -> table.
    let p = write(dir.path(), "misc.txt", b"# note\nx y z\n1 2 3\n4 5 6\n");
    let l = load(&p).expect("table");
    assert_eq!(l.data.kind(), "table");
    assert_eq!(l.data.shape(), vec![2, 3]);
}

#[test]
fn npy_kinds_follow_shape_and_dtype() {
    let l = ok("golden/ccd_labels.npy");
    assert_eq!(l.data.kind(), "frame");
    assert_eq!(l.data.dtype(), Dtype::I32);
    let l = ok("golden/spectrum_peaks_median101.npy");
    assert_eq!(l.data.kind(), "table");
    assert_eq!(l.data.shape(), vec![9, 1]);
    let l = ok("golden/catalog1.npy");
    assert_eq!(l.data.kind(), "table");
    assert_eq!(
        astroperf::data::adapt("catalog", l)
            .expect("adapt")
            .data
            .kind(),
        "catalog"
    );
}

// ---------------------------------------------------------------- synthetic FITS

#[test]
fn every_bitpix_with_bscale_bzero_blank() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stored: [i64; 6] = [0, 1, 2, 3, 100, 7];
    let (bscale, bzero) = (0.5, 10.0);
    for bitpix in [8i64, 16, 32, 64, -32, -64] {
        let mut raw = Vec::new();
        for &v in &stored {
            match bitpix {
                8 => raw.push(v as u8),
                16 => raw.extend((v as i16).to_be_bytes()),
                32 => raw.extend((v as i32).to_be_bytes()),
                64 => raw.extend(v.to_be_bytes()),
                -32 => raw.extend((v as f32).to_be_bytes()),
                _ => raw.extend((v as f64).to_be_bytes()),
            }
        }
        let mut extra = vec![
            ("BSCALE", format!("{bscale:?}")),
            ("BZERO", format!("{bzero:?}")),
        ];
        if bitpix > 0 {
            extra.push(("BLANK", "7".to_string()));
        }
        let b = image_fits(bitpix, &[3, 2], &extra, raw);
        let p = write(dir.path(), &format!("bp{bitpix}.fits"), &b);
        let l = load(&p).unwrap_or_else(|e| panic!("BITPIX {bitpix}: {e}"));
        let Dataset::Frame(f) = &l.data else {
            panic!("BITPIX {bitpix}: expected a frame")
        };
        assert_eq!(f.data.dim(), (2, 3), "BITPIX {bitpix}: NAXIS1 = columns");
        assert_eq!(f.data[[0, 1]], 10.5, "BITPIX {bitpix}");
        assert_eq!(f.data[[1, 1]], 60.0, "BITPIX {bitpix}");
        if bitpix > 0 {
            assert!(f.data[[1, 2]].is_nan(), "BITPIX {bitpix}: BLANK -> NaN");
            assert!(
                l.info.warnings.iter().any(|w| w.starts_with("1 NaN")),
                "BITPIX {bitpix}: {:?}",
                l.info.warnings
            );
        } else {
            assert_eq!(f.data[[1, 2]], 13.5);
        }
    }
}

#[test]
fn linear_spectrum_cube_and_image_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw: Vec<u8> = (0..5).flat_map(|i| (i as f32).to_be_bytes()).collect();
    let b = image_fits(
        -32,
        &[5],
        &[
            ("CRVAL1", "5000.0".into()),
            ("CDELT1", "2.5".into()),
            ("CRPIX1", "2.0".into()),
        ],
        raw.clone(),
    );
    let p = write(dir.path(), "lin.fits", &b);
    let Dataset::Spectrum(s) = load(&p).expect("linear spectrum").data else {
        panic!("expected a spectrum")
    };
    assert_eq!(
        s.wavelength,
        Array1::from(vec![4997.5, 5000.0, 5002.5, 5005.0, 5007.5])
    );
    assert_eq!(s.flux[4], 4.0);
    // CD1_1 instead of CDELT1, CRPIX1 defaulting to 1.
    let b = image_fits(
        -32,
        &[5],
        &[("CRVAL1", "100.0".into()), ("CD1_1", "1.0".into())],
        raw,
    );
    let p = write(dir.path(), "cd.fits", &b);
    let Dataset::Spectrum(s) = load(&p).expect("cd spectrum").data else {
        panic!("expected a spectrum")
    };
    assert_eq!(s.wavelength[0], 100.0);
    assert_eq!(s.wavelength[4], 104.0);

    // 3-D cube -> a batch of frames.
    let raw: Vec<u8> = (0..24).flat_map(|i| (i as i16).to_be_bytes()).collect();
    let p = write(
        dir.path(),
        "cube.fits",
        &image_fits(16, &[4, 3, 2], &[], raw),
    );
    let Dataset::FrameBatch(fr) = load(&p).expect("cube").data else {
        panic!("expected frames")
    };
    assert_eq!(fr.len(), 2);
    assert_eq!(fr[1].data.dim(), (3, 4));
    assert_eq!(fr[1].data[[2, 3]], 23.0);

    // An empty primary HDU then an IMAGE extension.
    let mut b = header(&[
        ("SIMPLE", "T".into()),
        ("BITPIX", "8".into()),
        ("NAXIS", "0".into()),
        ("EXTEND", "T".into()),
    ]);
    b.extend(header(&[
        ("XTENSION", "'IMAGE   '".into()),
        ("BITPIX", "-64".into()),
        ("NAXIS", "2".into()),
        ("NAXIS1", "2".into()),
        ("NAXIS2", "2".into()),
        ("PCOUNT", "0".into()),
        ("GCOUNT", "1".into()),
        ("EXTNAME", "'SCI'".into()),
    ]));
    b.extend(pad([1.0f64, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()));
    let p = write(dir.path(), "ext.fits", &b);
    let l = load(&p).expect("image extension");
    let Dataset::Frame(f) = &l.data else {
        panic!("expected a frame")
    };
    assert_eq!(f.data[[1, 0]], 3.0);
    assert!(fact(&l, "HDU").is_some_and(|h| h.contains("SCI")));
}

#[test]
fn bintable_columns_are_guessed_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let loglam = vec![3.6, 3.6001, 3.6002];
    let b = table_fits(
        &["loglam", "flux", "ivar"],
        &[loglam, vec![1.0, 2.0, 3.0], vec![1.0; 3]],
    );
    let Dataset::Spectrum(s) = load(&write(dir.path(), "sdss.fits", &b))
        .expect("loglam")
        .data
    else {
        panic!("LOGLAM + FLUX should be a spectrum")
    };
    assert!((s.wavelength[1] - 10f64.powf(3.6001)).abs() < 1e-9);

    let b = table_fits(
        &["MJD", "MAG", "MAG_ERR"],
        &[vec![1.0, 2.0], vec![15.0, 15.5], vec![0.1, 0.2]],
    );
    let Dataset::LightCurve(c) = load(&write(dir.path(), "lc.fits", &b)).expect("mag").data else {
        panic!("MJD + MAG should be a light curve")
    };
    assert!(c.magnitudes);
    assert_eq!(c.error.expect("error")[1], 0.2);

    let b = table_fits(
        &["RA", "DEC", "Vmag"],
        &[vec![10.0, 20.0], vec![-5.0, 5.0], vec![12.0, 13.0]],
    );
    let Dataset::Catalog(k) = load(&write(dir.path(), "cat.fits", &b)).expect("cat").data else {
        panic!("RA + DEC should be a catalog")
    };
    assert_eq!(k.mag.expect("mag")[1], 13.0);

    let b = table_fits(&["A", "B"], &[vec![1.0, 2.0], vec![3.0, 4.0]]);
    let l = load(&write(dir.path(), "t.fits", &b)).expect("table");
    assert_eq!(l.data.kind(), "table");
}

// ---------------------------------------------------------------- memory maps

#[test]
fn raw_and_npy_arrays_are_memory_mapped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v: Vec<f64> = (0..1000).map(|i| i as f64 * 0.5).collect();
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let p = write(dir.path(), "a.f64", &bytes);
    let l = load(&p).expect("raw f64");
    assert_eq!(l.info.origin, Origin::MemoryMapped);
    let Dataset::Mapped(m) = &l.data else {
        panic!("expected a mapped array")
    };
    assert_eq!(m.shape, vec![1000]);
    assert_eq!(m.get(999), 499.5);

    let b32: Vec<u8> = (0..10).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let p = write(dir.path(), "b.f32", &b32);
    let Dataset::Mapped(m) = load(&p).expect("raw f32").data else {
        panic!("expected a mapped array")
    };
    assert_eq!((m.dtype, m.get(9)), (Dtype::F32, 9.0));

    let want = npy("golden/spectrum_continuum_median101.npy");
    let l = load_mapped(&data("golden/spectrum_continuum_median101.npy")).expect("map npy");
    assert_eq!(l.info.origin, Origin::MemoryMapped);
    let Dataset::Mapped(m) = &l.data else {
        panic!("expected a mapped array")
    };
    assert_eq!(m.shape, vec![50000]);
    for i in [0, 1, 25000, 49999] {
        assert_eq!(m.get(i), want[[i]]);
    }
    // int16 cannot be mapped as f64/f32: a clear error.
    let e = load_mapped(&data("golden/ccd_frame_i16_raw.npy")).expect_err("i2 map");
    assert!(e.to_string().contains("ccd_frame_i16_raw.npy"), "{e}");

    // A raw file that is not a whole number of values.
    let p = write(dir.path(), "odd.f64", &[0u8; 13]);
    assert!(load(&p).is_err());
}

// ---------------------------------------------------------------- bad input

fn bad(p: &Path, what: &str) -> String {
    let e = match load(p) {
        Ok(l) => panic!("{what}: loaded as {} instead of failing", l.data.describe()),
        Err(e) => e,
    };
    let msg = e.to_string();
    let name = p.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(
        msg.contains(name),
        "{what}: message does not name the file: {msg}"
    );
    assert!(
        !msg.contains('\n'),
        "{what}: message is not one line: {msg}"
    );
    assert_eq!(e.exit_code(), 3, "{what}");
    msg
}

#[test]
fn bad_inputs_are_clean_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let good = std::fs::read(data("golden/ccd_frame_f64.fits")).expect("read");

    let m = bad(&write(d, "trunc.fits", &good[..100_000]), "truncated FITS");
    assert!(m.contains("truncated"), "{m}");
    let m = bad(
        &write(d, "hdr_only.fits", &good[..400]),
        "header cut before END",
    );
    assert!(m.contains("END"), "{m}");
    bad(
        &write(d, "junk.fits", b"this is not FITS at all, just some text\n"),
        "non-FITS",
    );
    bad(&write(d, "empty.fits", b""), "empty FITS");
    bad(&write(d, "empty.csv", b""), "empty CSV");
    // Absurd sizes: 10^12 pixels, and a product that overflows 64 bits.
    let huge = image_fits(-64, &[1_000_000, 1_000_000], &[], vec![0u8; 2880]);
    let m = bad(&write(d, "huge.fits", &huge), "absurd NAXISn");
    assert!(m.contains("8000000000000"), "{m}");
    let over = image_fits(
        -64,
        &[4_000_000_000, 4_000_000_000, 4_000_000_000],
        &[],
        vec![0u8; 2880],
    );
    bad(&write(d, "overflow.fits", &over), "overflowing NAXISn");
    let odd = image_fits(12, &[2, 2], &[], vec![0u8; 2880]);
    bad(&write(d, "bitpix.fits", &odd), "bad BITPIX");

    let m = bad(
        &write(d, "text.csv", b"time,flux\n1.0,2.0\n2.0,abc\n3.0,4.0\n"),
        "text in a number column",
    );
    assert!(m.contains("line 3") && m.contains("abc"), "{m}");
    let m = bad(&write(d, "ragged.txt", b"1 2 3\n4 5\n"), "ragged rows");
    assert!(m.contains("line 2"), "{m}");
    bad(
        &write(d, "comments.txt", b"# only\n# comments\n"),
        "no data",
    );
    bad(&write(d, "binary.txt", b"\x00\x01\x02\x03"), "binary text");
    bad(&write(d, "data.xyz", b"1,2,3\n"), "unknown extension");
    bad(&d.join("missing.fits"), "missing file");
    bad(&write(d, "junk.npy", b"not an npy file"), "non-NPY");
    let good_npy = std::fs::read(data("golden/spectrum.npy")).expect("read");
    let m = bad(&write(d, "trunc.npy", &good_npy[..5000]), "truncated NPY");
    assert!(m.contains("truncated"), "{m}");
    let mut absurd = b"\x93NUMPY\x01\x00".to_vec();
    let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 1000000), }";
    let h = format!("{h:<117}\n");
    absurd.extend((h.len() as u16).to_le_bytes());
    absurd.extend(h.as_bytes());
    absurd.extend([0u8; 64]);
    bad(&write(d, "absurd.npy", &absurd), "absurd NPY shape");
}

#[test]
fn nans_are_kept_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(
        dir.path(),
        "lc.csv",
        b"time,flux\n1,1.0\n2,nan\n3,\n4,2.0\n",
    );
    let l = load(&p).expect("csv with nan");
    let Dataset::LightCurve(c) = &l.data else {
        panic!("expected a light curve")
    };
    assert!(c.value[1].is_nan() && c.value[2].is_nan());
    assert!(
        l.info.warnings.iter().any(|w| w.starts_with("2 NaN")),
        "{:?}",
        l.info.warnings
    );
}

/// A deterministic mini-fuzz: truncations and corrupted header bytes of every FITS file
/// must give Ok or a one-line Err naming the file, never a panic.
#[test]
fn corrupted_fits_never_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let files = [
        "real/fast_ngc5548.fits",
        "real/eso_ntt_emmi_R.fits",
        "golden/spectrum.fits",
        "golden/lightcurve.fits",
        "golden/ccd_frame_i16.fits",
    ];
    let mut n = 0;
    for rel in files {
        let good = std::fs::read(data(rel)).expect("read");
        let name = format!("fuzz_{}", rel.replace('/', "_"));
        for k in 0..40 {
            let mut b = good.clone();
            if k % 4 == 0 {
                let cut = (next() as usize) % b.len();
                b.truncate(cut.max(1));
            } else {
                // Overwrite a few bytes in the headers (first and, if any, second HDU).
                let region = 2880.min(b.len()) * if b.len() > 5760 { 2 } else { 1 };
                for _ in 0..(1 + k % 5) {
                    let i = (next() as usize) % region;
                    b[i] = b"0123456789 -=.'ETXNAISBD9"[(next() as usize) % 25];
                }
            }
            let p = write(dir.path(), &name, &b);
            if let Err(e) = load(&p) {
                let m = e.to_string();
                assert!(m.contains(&name) && !m.contains('\n'), "{m}");
            }
            n += 1;
        }
    }
    assert_eq!(n, 200);
}

/// `load` maps an NPY above 256 MiB instead of copying it (a sparse file: no real I/O).
#[test]
fn large_npy_is_mapped_automatically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("big.npy");
    let n: usize = 40 * 1024 * 1024; // 320 MiB of float64
    let h = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n},), }}");
    let h = format!("{h:<117}\n");
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    b.extend(7.5f64.to_le_bytes());
    std::fs::write(&p, &b).expect("write");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .expect("open");
    f.set_len((128 + 8 * n) as u64).expect("set_len");
    drop(f);
    let l = load(&p).expect("big npy");
    assert_eq!(l.info.origin, Origin::MemoryMapped);
    let Dataset::Mapped(m) = &l.data else {
        panic!("expected a mapped array, got {}", l.data.kind())
    };
    assert_eq!(
        (m.shape.clone(), m.get(0), m.get(n - 1)),
        (vec![n], 7.5, 0.0)
    );
    assert_eq!(l.info.bytes, 8 * n);
}

#[test]
fn text_edge_cases_do_not_trip_the_loader() {
    let dir = tempfile::tempdir().expect("tempdir");
    // UTF-8 BOM, CRLF line ends, and a header with more names than data columns.
    let p = write(
        dir.path(),
        "bom.csv",
        b"\xef\xbb\xbftime,flux,extra\r\n1,2\r\n2,3\r\n",
    );
    let l = load(&p).expect("bom csv");
    assert_eq!(l.data.kind(), "light-curve");
    assert!(l.info.warnings.iter().any(|w| w.contains("3 names")));
    // Tab-separated with a header; quoted numbers in CSV.
    let p = write(dir.path(), "tabs.txt", b"a\tb\n1\t2\n3\t4\n");
    assert_eq!(load(&p).expect("tabs").data.shape(), vec![2, 2]);
    let p = write(dir.path(), "q.csv", b"\"ra\",\"dec\"\n\"10.5\",\"-3\"\n");
    let Dataset::Catalog(c) = load(&p).expect("quoted").data else {
        panic!("quoted ra/dec should be a catalog")
    };
    assert_eq!((c.ra[0], c.dec[0]), (10.5, -3.0));
    // A bare 2-column table with uneven first column stays a table.
    let p = write(dir.path(), "uneven.txt", b"1 5\n2 6\n4 7\n9 8\n");
    assert_eq!(load(&p).expect("uneven").data.kind(), "table");
    // ... and with a regular grid it is a spectrum.
    let p = write(dir.path(), "grid.txt", b"4000 5\n4001 6\n4002 7\n4003 8\n");
    assert_eq!(load(&p).expect("grid").data.kind(), "spectrum");
}

#[test]
fn big_endian_fortran_npy_reads_in_logical_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }";
    let h = format!("{h:<117}\n");
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    // Logical [[1, 2, 3], [4, 5, 6]] stored column by column.
    for v in [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0] {
        b.extend(v.to_be_bytes());
    }
    let p = write(dir.path(), "bef.npy", &b);
    let Dataset::Table(t) = load(&p).expect("big-endian fortran").data else {
        panic!("expected a table")
    };
    assert_eq!(t.data, ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    // ... and it cannot be memory-mapped (not little-endian C order): a clear error.
    let e = load_mapped(&p).expect_err("map");
    assert!(e.to_string().contains("bef.npy"), "{e}");
}

#[test]
fn a_folder_of_frames_loads_as_a_batch_for_observation_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden");
    std::fs::copy(golden.join("ccd_frame_f64.fits"), dir.path().join("a.fits")).expect("copy");
    std::fs::copy(golden.join("ccd_frame.npy"), dir.path().join("b.npy")).expect("copy");
    std::fs::write(dir.path().join("notes.txt"), "not a frame").expect("write");
    let l = astroperf::data::load::load(dir.path()).expect("folder loads");
    assert_eq!(l.info.kind, "frame-batch");
    assert_eq!(l.info.shape, vec![2, 512, 512]);
    let a = astroperf::analysis::find("observation-batch").expect("registered");
    let p = astroperf::analysis::Params::defaults(&a.params());
    let cfg = astroperf::bench::RunConfig {
        repeat: 1,
        warmup: 0,
        threads: 2,
        ..Default::default()
    };
    let (rec, _) = astroperf::bench::run(
        a,
        &l.data,
        &l.info,
        &p,
        &cfg,
        &astroperf::analysis::Control::new(),
    )
    .expect("observation-batch runs on the folder");
    assert!(rec.agree);
    // An empty folder and a folder of mixed shapes are clear errors.
    let empty = tempfile::tempdir().expect("tempdir");
    let e = astroperf::data::load::load(empty.path()).expect_err("empty folder");
    assert!(e.to_string().contains("no .fits or .npy"), "{e}");
    std::fs::copy(golden.join("spectrum.fits"), dir.path().join("c.fits")).expect("copy");
    let l = astroperf::data::load::load(dir.path()).expect("spectrum skipped with a warning");
    assert_eq!(l.info.warnings.len(), 1);
}

// ---------------------------------------------------------------- allocation guards

/// MemAvailable in bytes (the loaders compare against the same figure).
fn mem_available() -> u64 {
    astroperf::data::load::mem_available().expect("/proc/meminfo has MemAvailable")
}

/// A file of `len` bytes that starts with `head` and is sparse after it (no disk used).
fn sparse(dir: &Path, name: &str, head: &[u8], len: u64) -> PathBuf {
    let p = write(dir, name, head);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .expect("open temp file");
    f.set_len(len).expect("sparse set_len");
    p
}

#[test]
fn declared_sizes_beyond_available_memory_are_refused_before_allocating() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // A BITPIX = 8 image whose data really are in the file (sparse), but whose f64
    // decoding needs 8x as much: twice the memory available now.
    let bytes = mem_available() / 4;
    let (cols, rows) = (1u64 << 16, bytes.div_ceil(1 << 16));
    let h = header(&[
        ("SIMPLE", "T".into()),
        ("BITPIX", "8".into()),
        ("NAXIS", "2".into()),
        ("NAXIS1", cols.to_string()),
        ("NAXIS2", rows.to_string()),
    ]);
    let p = sparse(d, "big8.fits", &h, h.len() as u64 + cols * rows);
    let t = std::time::Instant::now();
    let m = bad(&p, "image larger than memory once decoded");
    assert!(
        m.contains("of memory but only") && m.contains("available"),
        "{m}"
    );
    assert!(
        t.elapsed().as_secs_f64() < 5.0,
        "guard took {:?}",
        t.elapsed()
    );

    // The same for an NPY of uint8 (stored 1 byte, read as 8).
    let n = mem_available() / 4;
    let hd = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({n},), }}");
    let hd = format!("{hd:<117}\n");
    let mut head = b"\x93NUMPY\x01\x00".to_vec();
    head.extend((hd.len() as u16).to_le_bytes());
    head.extend(hd.as_bytes());
    let p = sparse(d, "big8.npy", &head, head.len() as u64 + n);
    let m = bad(&p, "NPY larger than memory once decoded");
    assert!(m.contains("of memory but only"), "{m}");

    // A text file beyond the text limit is refused without being read.
    let p = sparse(d, "huge.csv", b"time,flux\n1,2\n", 5 << 30);
    let t = std::time::Instant::now();
    let m = bad(&p, "5 GB CSV");
    assert!(m.contains("too large"), "{m}");
    assert!(t.elapsed().as_secs_f64() < 1.0);
}

#[test]
fn absurd_headers_and_lines_are_one_line_errors_from_bytes_too() {
    use astroperf::data::load::load_bytes;
    // 10^12 pixels declared in a 5760-byte FITS, through the in-memory entry point.
    let huge = image_fits(-64, &[1_000_000, 1_000_000], &[], vec![0u8; 2880]);
    let e = load_bytes(Path::new("huge.fits"), &huge)
        .expect_err("10^12 pixels")
        .to_string();
    assert!(e.starts_with("huge.fits: truncated or corrupt FITS"), "{e}");
    // A BINTABLE whose TFORM repeat overflows the row width.
    let mut t = table_fits(&["a"], &[vec![1.0]]);
    let s = String::from_utf8_lossy(&t).into_owned();
    let i = s.find("TFORM1  = 'D'").expect("TFORM1 card");
    let card = format!("{:<80}", "TFORM1  = '2305843009213693952D'");
    t[i..i + 80].copy_from_slice(card.as_bytes());
    let e = load_bytes(Path::new("tform.fits"), &t)
        .expect_err("overflowing TFORM")
        .to_string();
    // (fitsrs itself overflows on it; the loader turns its panic into this error.)
    assert!(e.starts_with("tform.fits: ") && !e.contains('\n'), "{e}");
    // One line of 2^20 + 1 values: not a table, refused before storing its fields.
    let mut line = "1,".repeat(1 << 20);
    line.push_str("1\n");
    let e = load_bytes(Path::new("wide.csv"), line.as_bytes())
        .expect_err("gigantic line")
        .to_string();
    assert!(e.contains("line 1 has 1048577 fields"), "{e}");
    // A header nesting brackets a million deep (a recursive parser would overflow).
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let hd = format!("{}\n", "[".repeat(60_000));
    npy.extend((hd.len() as u16).to_le_bytes());
    npy.extend(hd.as_bytes());
    let e = load_bytes(Path::new("deep.npy"), &npy)
        .expect_err("deep header")
        .to_string();
    assert!(e.contains("nest deeper"), "{e}");
}

// ---------------------------------------------------------------- user files are read-only

/// The permissions of the memory maps of `p` in this process, from /proc/self/maps.
fn map_perms(p: &Path) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    let p = std::fs::canonicalize(p).expect("canonical path");
    let p = p.to_str().expect("utf-8 path");
    maps.lines()
        .filter(|l| l.ends_with(p))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

#[test]
fn read_only_user_files_load_unchanged_and_maps_are_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut files = Vec::new();
    for rel in [
        "golden/ccd_frame_i16.fits",
        "golden/spectrum.npy",
        "golden/lightcurve.csv",
        "real/macho_1.3444.614.R.mjd",
    ] {
        let name = Path::new(rel).file_name().expect("name");
        let p = d.join(name);
        std::fs::copy(data(rel), &p).expect("copy");
        files.push(p);
    }
    let raw: Vec<u8> = (0..4096u32)
        .flat_map(|i| (i as f64).to_le_bytes())
        .collect();
    files.push(write(d, "series.f64", &raw));
    // Old mtimes, so a write (even of identical bytes) would show.
    for p in &files {
        let f = std::fs::File::open(p).expect("open");
        f.set_modified(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000),
        )
        .expect("set mtime");
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    }
    let before: Vec<(Vec<u8>, std::time::SystemTime)> = files
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).expect("metadata");
            (
                std::fs::read(p).expect("read"),
                m.modified().expect("mtime"),
            )
        })
        .collect();
    for p in &files {
        let l = load(p).unwrap_or_else(|e| panic!("{} should load read-only: {e}", p.display()));
        if matches!(l.data, Dataset::Mapped(_)) {
            let perms = map_perms(p);
            assert!(!perms.is_empty(), "{}: no map found", p.display());
            assert!(
                perms.iter().all(|m| m.starts_with("r-")),
                "{}: {perms:?}",
                p.display()
            );
        }
        drop(l);
    }
    // NPY through the explicit memory-map path too.
    let l = load_mapped(&files[1]).expect("map npy");
    let perms = map_perms(&files[1]);
    assert!(
        !perms.is_empty() && perms.iter().all(|m| m.starts_with("r-")),
        "{perms:?}"
    );
    drop(l);
    for (p, (bytes, mtime)) in files.iter().zip(&before) {
        let m = std::fs::metadata(p).expect("metadata");
        assert_eq!(
            &std::fs::read(p).expect("read"),
            bytes,
            "{} changed",
            p.display()
        );
        assert_eq!(
            &m.modified().expect("mtime"),
            mtime,
            "{} mtime changed",
            p.display()
        );
        assert_eq!(m.permissions().mode() & 0o777, 0o444, "{}", p.display());
    }
}
