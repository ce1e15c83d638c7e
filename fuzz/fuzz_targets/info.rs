#![no_main]
//! What `astroperf info FILE` runs, on any file type: the kind is sniffed from the magic
//! bytes, else from the extension, which the first byte picks (so the unknown-extension,
//! raw-array and text paths are reached too).

use libfuzzer_sys::fuzz_target;
use std::path::Path;

#[path = "common.rs"]
mod common;

#[path = "names.rs"]
mod names;
use names::INFO_NAMES as NAMES;

fuzz_target!(|data: &[u8]| {
    common::init();
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[sel as usize % NAMES.len()];
    common::describe(astroperf::data::load::load_bytes(Path::new(name), rest));
});
