//! `astroperf info FILE`: what the loader sees (kind, shape, dtype, bytes, header facts,
//! warnings), as text or JSON.

use crate::data::{self, Loaded};
use crate::Result;
use std::path::Path;

pub(super) fn info(file: &Path, json: bool) -> Result<u8> {
    let l = data::load::load(file)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&l.info).unwrap_or_default()
        );
    } else {
        print_info(&l);
    }
    Ok(0)
}

fn print_info(l: &Loaded) {
    let i = &l.info;
    println!("source:   {}", i.source);
    println!("kind:     {}", i.kind);
    println!("origin:   {:?}", i.origin);
    println!("shape:    {:?}", i.shape);
    println!("dtype:    {}", i.dtype);
    println!("bytes:    {}", i.bytes);
    for (k, v) in &i.facts {
        println!("{:<9} {v}", format!("{k}:"));
    }
    for w in &i.warnings {
        println!("warning:  {w}");
    }
}
