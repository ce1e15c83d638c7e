#![no_main]
//! What `astroperf info FILE` runs, on any file type: the kind is sniffed from the magic
//! bytes, else from the extension, which the first byte picks (so the unknown-extension,
//! raw-array and text paths are reached too).

use libfuzzer_sys::fuzz_target;
use std::path::Path;

#[path = "common.rs"]
mod common;

const NAMES: [&str; 12] = [
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

fuzz_target!(|data: &[u8]| {
    common::init();
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[sel as usize % NAMES.len()];
    common::describe(astroperf::data::load::load_bytes(Path::new(name), rest));
});
