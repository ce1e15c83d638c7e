//! Human-readable exports of run records: Markdown tables and CSV, shared by the
//! CLI's bench and the GUI's history export.

use super::RunRecord;

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
        let naive = r
            .runs
            .iter()
            .find(|v| v.variant == crate::engine::Variant::Naive)
            .map(|v| v.median_s);
        for v in &r.runs {
            let speedup = naive.map_or("–".to_string(), |n| format!("{:.1}×", n / v.median_s));
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
