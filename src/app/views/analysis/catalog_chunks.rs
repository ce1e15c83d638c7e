//! Chunked bright-object selection: how many rows passed the magnitude cut out of all
//! (every row's magnitude histogram with the selected part coloured and the limit
//! marked), and the process's resident memory as the chunks were read, against what
//! holding the whole file would take.

use super::common::group_digits;
use super::{ResultCtx, ResultView};
use crate::analyses::catalog_chunks::{self as cc, CatalogChunks};
use crate::app::theme::palette;
use crate::app::views::ViewerState;
use crate::engine::Analysis;
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, HLine, Legend, Line, Plot, Points, VLine};

pub struct CatalogChunksView;

impl ResultView for CatalogChunksView {
    fn analysis(&self) -> &'static dyn Analysis {
        &CatalogChunks
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let sum = |k: &str| cx.out.summary_f64(k);
        let (n_rows, n_bright) = (
            sum(cc::N_ROWS).unwrap_or(0.0),
            sum(cc::N_BRIGHT).unwrap_or(0.0),
        );
        let limit = cx.param_f64("limit").unwrap_or(f64::NAN);
        let chunk = cx.param_f64("chunk").unwrap_or(f64::NAN);
        let pct = if n_rows > 0.0 {
            100.0 * n_bright / n_rows
        } else {
            0.0
        };
        ui.label(
            RichText::new(format!(
                "Selected {} of {} rows (mag < {limit}: {pct:.2} %), read in {} chunks of {} rows from a {:.0} MiB file",
                count(n_bright),
                count(n_rows),
                count(sum(cc::CHUNKS).unwrap_or(0.0)),
                count(chunk),
                sum(cc::FILE_MB).unwrap_or(0.0),
            ))
            .strong(),
        );
        let h = ui.available_height();
        ui.columns(2, |c| {
            histogram_ui(&mut c[0], cx, limit, (n_rows, n_bright), h);
            rss_ui(&mut c[1], cx, h);
        });
    }
}

/// A count with thousands separators (12,345,678).
fn count(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let out = group_digits(&format!("{:.0}", v.abs()));
    if v < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Every row's magnitude in 0.25-mag bins: bins below the limit (the selected rows) in
/// colour, the rest grey, the limit as a vertical line.
fn histogram_ui(ui: &mut egui::Ui, cx: &ResultCtx<'_>, limit: f64, counts: (f64, f64), h: f32) {
    ui.label(RichText::new("Magnitudes: selected rows against all rows").strong());
    let Some((_, t)) = cx.out.table_of(cc::MAG_HISTOGRAM) else {
        ui.label("This run has no magnitude histogram.");
        return;
    };
    let (mut selected, mut rest) = (Vec::new(), Vec::new());
    // Room above the tallest bar for the legend.
    let top = t.column(2).iter().copied().fold(0.0, f64::max) * 1.3;
    for r in t.rows().into_iter().filter(|r| r[2] > 0.0) {
        let (lo, hi, n) = (r[0], r[1], r[2]);
        let bar = Bar::new(0.5 * (lo + hi), n)
            .width(hi - lo)
            .name(format!("mag {lo:.2}–{hi:.2}: {} rows", count(n)));
        if hi <= limit {
            selected.push(bar);
        } else {
            rest.push(bar);
        }
    }
    Plot::new("catalog_chunks_hist")
        .height(h - 30.0)
        .legend(Legend::default())
        .allow_scroll(false)
        .x_axis_label("magnitude")
        .y_axis_label("rows per 0.25 mag")
        .include_y(0.0)
        .include_y(top)
        .show(ui, |p| {
            p.bar_chart(
                BarChart::new(
                    format!("all other rows ({})", count(counts.0 - counts.1)),
                    rest,
                )
                .color(Color32::from_gray(150))
                .element_formatter(Box::new(|b, _| b.name.clone())),
            );
            p.bar_chart(
                BarChart::new(
                    format!("selected: mag < limit ({})", count(counts.1)),
                    selected,
                )
                .color(palette(0))
                .element_formatter(Box::new(|b, _| b.name.clone())),
            );
            if limit.is_finite() {
                p.vline(
                    VLine::new(format!("limit mag = {limit}"), limit)
                        .color(Color32::from_rgb(230, 60, 60))
                        .width(cx.line_w),
                );
            }
        });
}

/// The resident memory sampled as the chunks were read, with the memory before the
/// selection and what it would be with the whole file resident.
fn rss_ui(ui: &mut egui::Ui, cx: &ResultCtx<'_>, h: f32) {
    ui.label(RichText::new("Resident memory (RSS) while reading the chunks").strong());
    let trace: Vec<[f64; 2]> = cx
        .out
        .table_of(cc::RSS_TRACE)
        .map(|(_, t)| {
            t.rows()
                .into_iter()
                .filter(|r| r[1].is_finite())
                .map(|r| [r[0] / 1e6, r[1]])
                .collect()
        })
        .unwrap_or_default();
    if trace.is_empty() {
        ui.label("The operating system reported no resident memory for this run.");
        return;
    }
    let before = cx.out.summary_f64(cc::RSS_BEFORE_MB);
    let file_mb = cx.out.summary_f64(cc::FILE_MB).unwrap_or(0.0);
    let max_during = cx.out.summary_f64(cc::MAX_RSS_DURING_MB);
    Plot::new("catalog_chunks_rss")
        .height(h - 30.0)
        .legend(Legend::default())
        .allow_scroll(false)
        .x_axis_label("rows read (millions)")
        .y_axis_label("RSS (MiB)")
        .include_y(0.0)
        .label_formatter(|name, p| {
            format!("{name}\nrows read {}\nRSS {:.1} MiB", count(p.x * 1e6), p.y)
        })
        .show(ui, |p| {
            if let Some(b) = before {
                p.hline(
                    HLine::new(format!("before the selection: {b:.0} MiB"), b)
                        .color(Color32::from_gray(150))
                        .width(cx.line_w),
                );
                p.hline(
                    HLine::new(
                        format!("before + the whole file ({file_mb:.0} MiB) resident"),
                        b + file_mb,
                    )
                    .color(Color32::from_rgb(230, 60, 60))
                    .width(cx.line_w),
                );
            }
            if let Some(m) = max_during {
                p.hline(
                    HLine::new(format!("largest sampled: {m:.0} MiB"), m)
                        .color(palette(1))
                        .width(cx.line_w),
                );
            }
            p.line(
                Line::new("RSS after the chunks", trace.clone())
                    .color(palette(2))
                    .width(cx.line_w + 1.0),
            );
            p.points(
                Points::new("RSS after the chunks", trace)
                    .color(palette(2))
                    .radius(cx.line_w + 1.0),
            );
        });
}
