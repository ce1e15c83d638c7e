#![no_main]
//! The FITS loader on arbitrary bytes.

use libfuzzer_sys::fuzz_target;
use std::path::Path;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::init();
    common::describe(astroperf::data::fits::load_bytes(
        Path::new("fuzz.fits"),
        data,
    ));
});
