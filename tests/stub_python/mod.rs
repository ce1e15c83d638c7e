//! A stand-in for the Python interpreter in tests of `run --python` and "Run Python too":
//! a shell script that answers like `reference_bench.py` (one `@progress` line on stderr,
//! then whatever its body does with `$out` and `$prof`, the files it was asked to write).

use serde_json::Value;
use std::path::{Path, PathBuf};

/// A small call tree in the format of the script's `--profile` file.
pub const PROFILE: &str = r#"{"analysis": "planck", "profiles": [{"variant": "vectorized",
 "method": "numpy stub", "total_s": 0.001, "tree": {"name": "planck", "file": "ref.py",
 "line": 3, "total_s": 0.001, "self_s": 0.0004, "calls": 1, "children": [{"name": "expm1",
 "file": "~", "line": 0, "total_s": 0.0006, "self_s": 0.0006, "calls": 1, "children": []}]}}]}"#;

/// A shell script standing in for the interpreter: it prints one progress line, then runs
/// `body` with `$out` and `$prof` set to the files the caller asked for.
pub fn stub(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    let script = format!(
        "#!/bin/sh\nout=''; prof=''\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in\n    --out) out=\"$2\"; shift;;\n    --profile) prof=\"$2\"; shift;;\n  esac\n  shift\ndone\necho '@progress {{\"analysis\": \"planck\", \"method\": \"numpy stub\", \"variant\": \"vectorized\", \"phase\": \"timed\", \"done\": 1, \"total\": 2}}' >&2\n{body}\n"
    );
    std::fs::write(&p, script).expect("write stub");
    let mut perm = std::fs::metadata(&p).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&p, perm).expect("chmod");
    p
}

/// A stub that answers with `records` (and the canned profile).
pub fn answering(dir: &Path, name: &str, records: &Value) -> PathBuf {
    let rec = dir.join(format!("{name}.json"));
    let prof = dir.join(format!("{name}.profile.json"));
    std::fs::write(&rec, records.to_string()).expect("write records");
    std::fs::write(&prof, PROFILE).expect("write profile");
    stub(
        dir,
        name,
        &format!(
            "cp '{}' \"$out\"\n[ -n \"$prof\" ] && cp '{}' \"$prof\"\nexit 0",
            rec.display(),
            prof.display()
        ),
    )
}
