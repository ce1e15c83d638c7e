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
        static SHOWN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        std::panic::set_hook(Box::new(|info| {
            // The first few in full (the last one printed before a crash report is the
            // crash); the loaders' caught panics would otherwise flood the log.
            let n = SHOWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n < 20 || std::env::var_os("FUZZ_SHOW_CAUGHT").is_some() {
                eprintln!("panic #{n} (caught by the loader unless a crash follows): {info}");
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
