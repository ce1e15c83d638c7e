//! Inputs that once crashed, hung or exhausted memory in a loader (found by the
//! `cargo fuzz` targets in `fuzz/`, or by review while writing them), kept in
//! `tests/data/fuzz/`: each must now give a clean one-line error naming the file. The
//! committed seed corpora (`fuzz/seeds/<target>/`) are replayed too, the way the fuzz
//! targets feed them, so a loader change that breaks a seed shows up in `cargo test`.

use astroperf::data::load::load_bytes;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Load `bytes` under `name` in a worker thread: it must finish within `limit` (no
/// hang) and must not panic; an error must be one line naming the file.
fn load_checked(name: &str, bytes: Vec<u8>, limit: Duration) -> Result<String, String> {
    let owned = name.to_string();
    let t = Instant::now();
    let h = std::thread::spawn(move || {
        load_bytes(Path::new(&owned), &bytes)
            .map(|l| l.data.describe())
            .map_err(|e| e.to_string())
    });
    let r = h
        .join()
        .unwrap_or_else(|_| panic!("{name}: the loader panicked"));
    assert!(t.elapsed() < limit, "{name}: took {:?}", t.elapsed());
    if let Err(m) = &r {
        assert!(!m.contains('\n'), "{name}: multi-line error: {m}");
        assert!(
            m.starts_with(&format!("{name}: ")),
            "{name}: error does not name the file: {m}"
        );
    }
    r
}

#[test]
fn crash_inputs_are_clean_one_line_errors() {
    let dir = root().join("tests/data/fuzz");
    let all = files(&dir);
    assert!(!all.is_empty(), "no regression inputs in {}", dir.display());
    for p in all {
        let name = p.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
        if name.ends_with(".md") {
            continue;
        }
        let bytes = std::fs::read(&p).expect("read regression input");
        match load_checked(name, bytes, Duration::from_secs(10)) {
            Err(m) => eprintln!("{m}"),
            Ok(d) => panic!("{name}: expected a clean error, loaded as {d}"),
        }
    }
}

#[test]
fn multibyte_quote_in_npy_descr_is_an_error_not_a_panic() {
    // Found in review: the descr parser sliced one byte past a multi-byte quote.
    let p = root().join("tests/data/fuzz/review-npy-multibyte-descr-quote.npy");
    let bytes = std::fs::read(p).expect("read");
    let m = load_checked("multibyte.npy", bytes, Duration::from_secs(5)).expect_err("error");
    assert!(
        m.contains("corrupt NPY header") || m.contains("not supported"),
        "{m}"
    );
}

#[test]
fn lone_quote_fits_string_is_refused_before_fitsrs_panics() {
    // Found by the fits target: fitsrs 0.4.1 slices `&s[1..0]` on a value of one quote.
    let p = root().join("tests/data/fuzz/fits-fitsrs-panic-lone-quote.fits");
    let bytes = std::fs::read(p).expect("read");
    let m = load_checked("quote.fits", bytes, Duration::from_secs(5)).expect_err("error");
    assert!(
        m.contains("card 'OBJECT' has a string value without its closing quote"),
        "{m}"
    );
}

#[path = "../fuzz/fuzz_targets/names.rs"]
mod names;
use names::{INFO_NAMES, TEXT_NAMES};

#[test]
fn seed_corpora_load_as_the_fuzz_targets_feed_them() {
    let seeds = root().join("fuzz/seeds");
    let mut n_ok = 0;
    for target in ["fits", "npy", "text", "info"] {
        for p in files(&seeds.join(target)) {
            let bytes = std::fs::read(&p).expect("read seed");
            let (name, body) = match target {
                "fits" => ("fuzz.fits", bytes),
                "npy" => ("fuzz.npy", bytes),
                "text" => (
                    TEXT_NAMES[bytes[0] as usize % TEXT_NAMES.len()],
                    bytes[1..].to_vec(),
                ),
                _ => (
                    INFO_NAMES[bytes[0] as usize % INFO_NAMES.len()],
                    bytes[1..].to_vec(),
                ),
            };
            // Every seed is a real (possibly cut-down) file: it must load.
            match load_checked(name, body, Duration::from_secs(10)) {
                Ok(_) => n_ok += 1,
                Err(m) => panic!("seed {} ({target}) does not load: {m}", p.display()),
            }
        }
    }
    assert!(n_ok >= 40, "only {n_ok} seeds");
}
