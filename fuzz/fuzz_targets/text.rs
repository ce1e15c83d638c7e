#![no_main]
//! The text-table loader (CSV and whitespace-separated) on arbitrary bytes. The first
//! byte picks the file name, since the extension chooses CSV and `.mjd` conventions.

use libfuzzer_sys::fuzz_target;
use std::path::Path;

#[path = "common.rs"]
mod common;

const NAMES: [&str; 4] = ["fuzz.csv", "fuzz.txt", "fuzz.mjd", "fuzz.cat"];

fuzz_target!(|data: &[u8]| {
    common::init();
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[sel as usize % NAMES.len()];
    common::describe(astroperf::data::text::load_bytes(Path::new(name), rest));
});
