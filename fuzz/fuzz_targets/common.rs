//! Shared by the targets: what `astroperf info` does with a loaded file, and a panic
//! hook that lets the loaders' own `catch_unwind` guards work under libFuzzer.

use astroperf::data::Loaded;

/// libfuzzer-sys aborts on every panic, even one a loader catches on purpose (the FITS
/// header parser is wrapped in `catch_unwind`). Keep the default report but do not abort
/// here: a panic that escapes the loader still reaches libfuzzer-sys' own
/// `catch_unwind`, which aborts, so it is still reported as a crash.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if std::env::var_os("FUZZ_SHOW_CAUGHT").is_some() {
                eprintln!("panic (caught unless reported as a crash): {info}");
            }
        }));
    });
}

/// Everything `astroperf info` touches: the facts (as JSON), the description, shape,
/// size and dtype of the dataset. An error must be one line.
pub fn describe(r: astroperf::Result<Loaded>) {
    match r {
        Ok(l) => {
            let _ = serde_json::to_string(&l.info);
            let _ = l.data.describe();
            let _ = l.data.n_elements();
            let _ = l.data.bytes();
            let _ = l.data.dtype();
        }
        Err(e) => {
            let m = e.to_string();
            assert!(!m.contains('\n'), "multi-line error: {m:?}");
        }
    }
}
