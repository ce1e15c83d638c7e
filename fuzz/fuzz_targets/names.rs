//! The file names the `text` and `info` fuzz targets pick with their first byte (the
//! name decides which loader runs). Shared with tests/fuzz_regressions.rs, which replays
//! the seeds the same way.

// Each target uses one of the two lists.
#![allow(dead_code)]

pub const TEXT_NAMES: [&str; 4] = ["fuzz.csv", "fuzz.txt", "fuzz.mjd", "fuzz.cat"];
pub const INFO_NAMES: [&str; 12] = [
    "fuzz.fits",
    "fuzz.npy",
    "fuzz.csv",
    "fuzz.txt",
    "fuzz.mjd",
    "fuzz.cat",
    "fuzz.dat",
    "fuzz.f64",
    "fuzz.f32",
    "fuzz.raw",
    "fuzz.bin",
    "fuzz",
];
