#![no_main]
//! The text-table loader (CSV and whitespace-separated) on arbitrary bytes. The first
//! byte picks the file name, since the extension chooses CSV and `.mjd` conventions.

use libfuzzer_sys::fuzz_target;
use std::path::Path;

#[path = "common.rs"]
mod common;

#[path = "names.rs"]
mod names;
use names::TEXT_NAMES as NAMES;

fuzz_target!(|data: &[u8]| {
    common::init();
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[sel as usize % NAMES.len()];
    common::describe(astroperf::data::text::load_bytes(Path::new(name), rest));
});
