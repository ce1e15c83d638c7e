//! `astroperf bench --overhead`: what the app's instruments cost. Each selected analysis
//! runs at its suite size with puffin scopes and allocation counting off and on, in
//! alternating rounds and order (so drift in the machine's load hits both alike), and the table
//! gives each variant's median of the round medians both ways and the difference.

use super::interruptible;
use crate::bench::{self, report::fmt_secs, RunConfig};
use crate::engine::{Analysis, Params, Variant};
use crate::Result;

/// Rounds of off/on per analysis.
const ROUNDS: usize = 7;

/// One variant's cost of the instruments.
pub struct Overhead {
    pub analysis: &'static str,
    pub variant: Variant,
    pub off_s: f64,
    pub on_s: f64,
}

impl Overhead {
    pub fn percent(&self) -> f64 {
        100.0 * (self.on_s / self.off_s - 1.0)
    }
}

fn instruments(on: bool) {
    puffin::set_scopes_on(on);
    crate::memory::set_counting(on);
}

/// Measure `a` at `size` with `params`: per variant, (median off, median on).
pub fn measure(
    a: &'static dyn Analysis,
    size: usize,
    params: &Params,
    cfg: &RunConfig,
) -> Result<Vec<Overhead>> {
    let loaded = bench::generated_input(a, size, 1)?;
    let control = interruptible();
    let mut off: Vec<(Variant, Vec<f64>)> = Vec::new();
    let mut on: Vec<(Variant, Vec<f64>)> = Vec::new();
    for round in 0..ROUNDS {
        // Which goes first alternates too, so whatever the first run of a pair leaves
        // behind (freed pages, warm caches) favours neither side.
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for enabled in order {
            let into = if enabled { &mut on } else { &mut off };
            instruments(enabled);
            let run = bench::run(a, &loaded.data, &loaded.info, params, cfg, &control);
            instruments(true);
            let (record, _) = run?;
            for v in record.runs {
                match into.iter_mut().find(|e| e.0 == v.variant) {
                    Some(e) => e.1.push(v.median_s),
                    None => into.push((v.variant, vec![v.median_s])),
                }
            }
        }
    }
    // A variant the naive budget skipped in some round is compared where it ran both ways.
    Ok(off
        .into_iter()
        .filter_map(|(variant, t_off)| {
            let t_on = on.iter().find(|e| e.0 == variant)?;
            Some(Overhead {
                analysis: a.id(),
                variant,
                off_s: bench::median(&t_off),
                on_s: bench::median(&t_on.1),
            })
        })
        .collect())
}

/// The Markdown table of [`measure`]'s results.
pub fn markdown(rows: &[Overhead]) -> String {
    let mut s = String::from(
        "| analysis | variant | scopes + counting off | on | overhead |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:+.1}% |\n",
            r.analysis,
            r.variant,
            fmt_secs(r.off_s),
            fmt_secs(r.on_s),
            r.percent()
        ));
    }
    let p: Vec<f64> = rows.iter().map(Overhead::percent).collect();
    if !p.is_empty() {
        s.push_str(&format!(
            "\nmedian overhead {:+.1}% over {} variant runs ({ROUNDS} alternating rounds each)\n",
            bench::median(&p),
            p.len()
        ));
    }
    s
}
