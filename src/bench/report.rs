//! Every human-readable report of run records: the Markdown timing table and CSV (shared by
//! the CLI and the GUI's history export), the line for a cancelled run, and the whole
//! bench report with its bandwidth table.

use super::bandwidth::Bandwidth;
use super::{CancelledRun, RunRecord};

/// Format seconds with a unit that keeps three significant digits readable.
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "–".to_string()
    } else if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// One Markdown table over all records: a row per variant with speed-up over naive.
pub fn markdown(records: &[RunRecord]) -> String {
    let mut s = String::from(
        "| analysis | size | variant | threads | median | min | MAD | first run | speed-up vs naive | agree |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in records {
        for v in &r.runs {
            let speedup = r
                .speedup_vs_naive(v)
                .map_or("–".to_string(), |x| format!("{x:.1}×"));
            s.push_str(&format!(
                "| {} | {} {} | {}{} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.analysis,
                r.size,
                r.size_unit,
                v.variant,
                if r.tool == "astroperf" {
                    String::new()
                } else {
                    format!(" ({})", r.tool)
                },
                v.threads,
                fmt_secs(v.median_s),
                fmt_secs(v.min_s),
                fmt_secs(v.mad_s),
                fmt_secs(v.first_s),
                speedup,
                if v.agrees { "✓" } else { "✗" }
            ));
        }
    }
    s
}

/// CSV with one row per variant run.
pub fn csv(records: &[RunRecord]) -> String {
    let mut s = String::from(
        "analysis,tool,size,size_unit,variant,threads,median_s,min_s,max_s,mad_s,first_s,agree\n",
    );
    for r in records {
        for v in &r.runs {
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                r.analysis,
                r.tool,
                r.size,
                r.size_unit,
                v.variant,
                v.threads,
                v.median_s,
                v.min_s,
                v.max_s,
                v.mad_s,
                v.first_s,
                v.agrees
            ));
        }
    }
    s
}

/// Rust against another tool (Python) per analysis: the best time of each and the ratio.
pub fn comparison(ours: &[RunRecord], theirs: &[RunRecord]) -> String {
    let mut s = String::from(
        "| analysis | size | astroperf best | python best | python / astroperf |\n|---|---|---|---|---|\n",
    );
    let best = |r: &RunRecord| {
        r.runs
            .iter()
            .min_by(|a, b| a.median_s.total_cmp(&b.median_s))
            .map(|v| (v.median_s, v.variant.name().to_string()))
    };
    for r in ours {
        let Some((t, v)) = best(r) else { continue };
        for p in theirs
            .iter()
            .filter(|p| p.analysis == r.analysis && p.size == r.size)
        {
            if let Some((pt, _)) = best(p) {
                let label = p
                    .runs
                    .iter()
                    .min_by(|a, b| a.median_s.total_cmp(&b.median_s))
                    .and_then(|v| {
                        v.summary
                            .get("method")
                            .and_then(|m| m.as_str())
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| p.tool.clone());
                s.push_str(&format!(
                    "| {} | {} {} | {} ({v}) | {} ({label}) | {:.1}× |\n",
                    r.analysis,
                    r.size,
                    r.size_unit,
                    fmt_secs(t),
                    fmt_secs(pt),
                    pt / t
                ));
            }
        }
    }
    s
}

/// One line for a cancelled run: where it stopped, the timed repeats of the stopped variant
/// that had completed, and the stages of the stopped call that had finished. The CLI prints
/// it and the app's history shows it.
pub fn cancelled_line(c: &CancelledRun) -> String {
    let stages: Vec<String> = c
        .finished_stages
        .iter()
        .map(|s| format!("{} {}", s.name, fmt_secs(s.median_s)))
        .collect();
    format!(
        "CANCELLED during {} ({} call {}) after {}; {} timed repeats had completed{}; finished stages of the stopped call: {}",
        c.variant,
        if c.warmup { "warm-up" } else { "timed" },
        c.call + 1,
        fmt_secs(c.elapsed_s),
        c.completed_times_s.len(),
        if c.completed_times_s.is_empty() {
            String::new()
        } else {
            let t: Vec<String> = c.completed_times_s.iter().map(|t| fmt_secs(*t)).collect();
            format!(" ({})", t.join(", "))
        },
        if stages.is_empty() {
            "none".to_string()
        } else {
            stages.join(", ")
        }
    )
}

/// The first lines of a bench report: the suite's settings and the measured bandwidth.
pub fn suite_header(
    suite: &str,
    threads: usize,
    repeat: usize,
    naive_budget_s: f64,
    bandwidth: Option<&Bandwidth>,
) -> String {
    let mut header = format!(
        "astroperf bench, suite {suite}, {threads} threads, {repeat} repeats (median), naive budget {naive_budget_s:.0} s\n",
    );
    if let Some(b) = bandwidth {
        header.push_str(&b.header_line(super::available_threads()));
    }
    header
}

/// The whole bench report: `header`, the timing table, the streaming kernels against the
/// measured bandwidth, the cancelled and skipped runs, and the comparison with `compare`
/// (another tool's records) when there is one.
pub fn suite_markdown(
    header: &str,
    records: &[RunRecord],
    bandwidth: Option<&Bandwidth>,
    compare: &[RunRecord],
) -> String {
    let mut md = header.to_string();
    md.push('\n');
    md.push_str(&markdown(records));
    let streaming = streaming_rows(records, bandwidth);
    if !streaming.is_empty() {
        // Both limits are DRAM figures (256 MB arrays); a kernel whose bytes per call fit
        // in the last-level cache can pass 100%, so the bytes are shown beside them.
        md.push_str("\nStreaming kernels against the measured memory bandwidth (all threads; DRAM-sized arrays, so a kernel whose traffic fits in the cache can exceed 100%):\n\n| analysis | variant | bytes moved per call | achieved | % of read | % of triad |\n|---|---|---|---|---|---|\n");
        md.push_str(&streaming.join("\n"));
        md.push('\n');
    }
    let cancelled: Vec<String> = records
        .iter()
        .filter_map(|r| {
            r.cancelled
                .as_ref()
                .map(|c| format!("- {}: {}", r.analysis, cancelled_line(c)))
        })
        .collect();
    push_list(&mut md, "Cancelled (Ctrl-C; not a timing):", &cancelled);
    let skipped: Vec<String> = records
        .iter()
        .flat_map(|r| {
            r.skipped
                .iter()
                .map(move |s| format!("- {}: {s}", r.analysis))
        })
        .collect();
    push_list(&mut md, "Skipped:", &skipped);
    if !compare.is_empty() {
        md.push_str("\nAgainst the Python reference (same inputs, same sitting):\n\n");
        md.push_str(&comparison(records, compare));
    }
    md
}

/// A titled list after a blank line, unless it is empty.
fn push_list(md: &mut String, title: &str, items: &[String]) {
    if !items.is_empty() {
        md.push('\n');
        md.push_str(title);
        md.push('\n');
        md.push_str(&items.join("\n"));
        md.push('\n');
    }
}

/// A table row per streaming variant (those with a GB/s figure): the bytes it moves per
/// call and its rate as a share of the measured read and triad bandwidth.
fn streaming_rows(records: &[RunRecord], bandwidth: Option<&Bandwidth>) -> Vec<String> {
    records
        .iter()
        .flat_map(|r| r.runs.iter().map(move |v| (r, v)))
        .filter_map(|(r, v)| {
            v.gbps.map(|g| {
                let mb = g * v.median_s * 1e3;
                match bandwidth {
                    Some(b) => format!(
                        "| {} | {} | {mb:.0} MB | {g:.2} GB/s | {:.0}% | {:.0}% |",
                        r.analysis,
                        v.variant,
                        100.0 * g / b.read_parallel_gbps,
                        100.0 * g / b.triad_parallel_gbps
                    ),
                    None => format!(
                        "| {} | {} | {mb:.0} MB | {g:.2} GB/s | – | – |",
                        r.analysis, v.variant
                    ),
                }
            })
        })
        .collect()
}

/// Ours and another tool's implementations in one table (`run --python`): each row's time
/// against astroperf's fastest variant, and whether its result agrees with ours.
pub fn python_table(ours: &RunRecord, others: &[RunRecord]) -> String {
    let best = ours
        .runs
        .iter()
        .map(|v| v.median_s)
        .fold(f64::INFINITY, f64::min);
    let mut s = String::from(
        "| tool | implementation | threads | median | fastest | first call | time / astroperf best | agrees with astroperf |\n|---|---|---|---|---|---|---|---|\n",
    );
    let ratio = |m: f64| {
        if best.is_finite() && best > 0.0 {
            format!("{:.2}×", m / best)
        } else {
            "–".into()
        }
    };
    for v in &ours.runs {
        s.push_str(&format!(
            "| astroperf | {} | {} | {} | {} | {} | {} | {} |\n",
            v.variant,
            v.threads,
            fmt_secs(v.median_s),
            fmt_secs(v.min_s),
            fmt_secs(v.first_s),
            ratio(v.median_s),
            if v.agrees {
                "(reference)"
            } else {
                "✗ variants differ"
            }
        ));
    }
    for r in others {
        for v in &r.runs {
            let agreement = match v.agrees_with_astroperf {
                Some(true) => "✓".to_string(),
                Some(false) => format!("✗ {}", v.agreement.as_deref().unwrap_or("differs")),
                None => v.agreement.clone().unwrap_or_else(|| "not compared".into()),
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.tool,
                super::python::method_of(v),
                v.threads,
                fmt_secs(v.median_s),
                fmt_secs(v.min_s),
                fmt_secs(v.first_s),
                ratio(v.median_s),
                agreement
            ));
        }
    }
    s
}
