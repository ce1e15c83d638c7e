//! `astroperf list`: the analyses with their input kinds, parameters and variants, and the
//! generators `--generate` knows.

use crate::{analyses, data, Result};

pub(super) fn list(json: bool) -> Result<u8> {
    if json {
        println!("{}", list_json());
        return Ok(0);
    }
    for a in analyses::registry() {
        println!(
            "{:<22} [{}] {} — input: {}",
            a.id(),
            a.section(),
            a.title(),
            a.input_kind()
        );
        println!("    {}", a.help());
        for p in a.params() {
            let d = p
                .default
                .as_ref()
                .map_or("auto".to_string(), |d| d.to_string());
            println!("    --param {}={}  {}  ({:?})", p.name, d, p.help, p.kind);
        }
    }
    println!("\ngenerators (--generate kind=NAME,key=value,...):");
    for (k, keys) in data::generate::GENERATORS {
        println!("    {k:<11} {keys}");
    }
    Ok(0)
}

/// The registry as the pretty-printed JSON array `list --json` prints.
fn list_json() -> String {
    let v: Vec<serde_json::Value> = analyses::registry()
        .iter()
        .map(|a| {
            let params: Vec<serde_json::Value> = a
                .params()
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "name": p.name,
                        "help": p.help,
                        "kind": format!("{:?}", p.kind),
                        "default": p.default.as_ref().map_or("auto".to_string(), |d| d.to_string()),
                    })
                })
                .collect();
            serde_json::json!({
                "id": a.id(), "title": a.title(), "section": a.section(), "help": a.help(),
                "input": a.input_kind(), "size_unit": a.size_unit(),
                "default_size": a.default_size(), "variants": ["naive", "vectorized", "parallel"],
                "params": params,
            })
        })
        .collect();
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
