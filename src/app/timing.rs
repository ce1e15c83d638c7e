//! Timing views: bars per variant with spread and speed-ups, stage breakdown, size and
//! thread sweeps, and the run history. The numbers all come from `RunRecord`s.

use super::theme::variant_color;
use crate::bench::report::fmt_secs;
use crate::bench::RunRecord;
use crate::engine::Variant;
use egui::{Color32, RichText};
use egui_plot::{Legend, Line, Plot, Points};

/// Least-squares slope of log(time) against log(size): the k of O(N^k).
pub fn fit_exponent(points: &[(f64, f64)]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite())
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Tick labels of a log10 axis: the whole decades as values (1, 10, 100 / 1e-1, 1e-2).
pub(crate) fn log_axis(m: egui_plot::GridMark, _r: &std::ops::RangeInclusive<f64>) -> String {
    let v = 10f64.powf(m.value);
    if (m.value - m.value.round()).abs() < 1e-6 {
        if v >= 1.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.0e}")
        }
    } else {
        String::new()
    }
}

/// Where each variant spends its time: one bar per variant as wide as the panel, split
/// into its stages in proportion (so a 3 ms variant is as readable as a 200 ms one), each
/// segment labelled with its name, share and time where the text fits; the table below
/// gives every stage in absolute time, share and memory, slivers included.
pub fn stages_ui(ui: &mut egui::Ui, r: &RunRecord) {
    ui.label(
        RichText::new(
            "each bar is one variant's median call, 100% wide; segments are its stages (puffin scopes of the same names in the flame graph); 'other' is time in the call outside every stage",
        )
        .small(),
    );
    let body = egui::TextStyle::Body.resolve(ui.style());
    let row_h = (body.size * 3.0).max(40.0);
    let label_w = (body.size * 9.0).min(ui.available_width() * 0.3);
    let text = ui.visuals().strong_text_color();
    for v in &r.runs {
        let (rect, _) = ui.allocate_exact_size(
            egui::vec2(ui.available_width(), row_h),
            egui::Sense::hover(),
        );
        let painter = ui.painter_at(rect);
        painter.text(
            rect.left_center(),
            egui::Align2::LEFT_CENTER,
            format!("{}\n{}", v.variant, fmt_secs(v.median_s)),
            body.clone(),
            variant_color(v.variant),
        );
        let bar = egui::Rect::from_min_max(
            egui::pos2(rect.left() + label_w, rect.top() + 2.0),
            egui::pos2(rect.right() - 4.0, rect.bottom() - 2.0),
        );
        let total: f64 = v.stages.iter().map(|s| s.median_s).sum::<f64>().max(1e-12);
        let mut x = bar.left();
        for s in &v.stages {
            let share = s.median_s / total;
            let w = (share as f32 * bar.width()).max(0.0);
            let seg =
                egui::Rect::from_min_max(egui::pos2(x, bar.top()), egui::pos2(x + w, bar.bottom()));
            painter.rect_filled(seg, 0.0, super::theme::stage_color(&s.name));
            let label = format!(
                "{} {:.0}% · {}",
                s.name,
                100.0 * share,
                fmt_secs(s.median_s)
            );
            let galley = painter.layout_no_wrap(label, body.clone(), Color32::BLACK);
            if galley.size().x + 6.0 < w && galley.size().y < seg.height() {
                painter.galley(seg.center() - galley.size() / 2.0, galley, Color32::BLACK);
            } else if w > body.size * 1.2 {
                // Too narrow for the label: at least the share.
                painter.text(
                    seg.center(),
                    egui::Align2::CENTER_CENTER,
                    format!("{:.0}", 100.0 * share),
                    egui::FontId::proportional(body.size * 0.8),
                    Color32::BLACK,
                );
            }
            x += w;
        }
        painter.rect_stroke(
            bar,
            0.0,
            egui::Stroke::new(1.0, text),
            egui::StrokeKind::Outside,
        );
    }
    ui.add_space(6.0);
    stage_table_ui(ui, r);
}

/// Every stage name of the run's variants, in the order they first ran.
fn stage_names(r: &RunRecord) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for v in &r.runs {
        for s in &v.stages {
            if !names.contains(&s.name) {
                names.push(s.name.clone());
            }
        }
    }
    names
}

/// Every stage of every variant: time, share of the variant's median, heap peak and
/// allocations per call.
pub(super) fn stage_table_ui(ui: &mut egui::Ui, r: &RunRecord) {
    let names = stage_names(r);
    egui::ScrollArea::both()
        .id_salt("stage_table")
        .auto_shrink([false, true])
        .show(ui, |ui| {
            egui::Grid::new("stage_table_grid")
                .striped(true)
                .show(ui, |ui| {
                    ui.label(RichText::new("stage").strong());
                    for v in &r.runs {
                        ui.label(
                            RichText::new(v.variant.name())
                                .strong()
                                .color(variant_color(v.variant)),
                        );
                        ui.label(RichText::new("%").strong());
                        ui.label(RichText::new("peak heap").strong());
                        ui.label(RichText::new("allocs").strong());
                    }
                    ui.end_row();
                    for name in &names {
                        ui.horizontal(|ui| {
                            let (dot, _) = ui
                                .allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                            ui.painter()
                                .rect_filled(dot, 2.0, super::theme::stage_color(name));
                            ui.label(name);
                        });
                        for v in &r.runs {
                            match v.stages.iter().find(|s| &s.name == name) {
                                Some(s) => {
                                    ui.label(fmt_secs(s.median_s));
                                    ui.label(format!(
                                        "{:.1}",
                                        100.0 * s.median_s / v.median_s.max(1e-12)
                                    ));
                                    ui.label(super::widgets::human_bytes(s.peak_bytes as usize));
                                    ui.label(s.allocs.to_string());
                                }
                                None => {
                                    for _ in 0..4 {
                                        ui.label("–");
                                    }
                                }
                            }
                        }
                        ui.end_row();
                    }
                    ui.label(RichText::new("whole call").strong());
                    for v in &r.runs {
                        ui.label(RichText::new(fmt_secs(v.median_s)).strong());
                        ui.label("100");
                        ui.label(
                            RichText::new(super::widgets::human_bytes(v.peak_bytes as usize))
                                .strong(),
                        );
                        ui.label(v.allocs.to_string());
                    }
                    ui.end_row();
                });
        });
}

/// log-log time against size per variant with the fitted exponent in the legend.
pub fn size_sweep_ui(ui: &mut egui::Ui, points: &[(usize, RunRecord)], line_w: f32) {
    if points.is_empty() {
        ui.label("No size sweep yet: press “Run size sweep” in the analysis panel.");
        return;
    }
    let unit = &points[0].1.size_unit;
    Plot::new("size_sweep")
        .legend(Legend::default())
        .x_axis_label(format!("size ({unit}, log)"))
        .y_axis_label("median time (s, log)")
        .x_axis_formatter(log_axis)
        .y_axis_formatter(log_axis)
        .label_formatter(|name, v| {
            format!(
                "{name}\nN = {:.0}\nt = {}",
                10f64.powf(v.x),
                fmt_secs(10f64.powf(v.y))
            )
        })
        .show(ui, |p| {
            for variant in crate::engine::ALL_VARIANTS {
                let pts: Vec<(f64, f64)> = points
                    .iter()
                    .filter_map(|(n, r)| {
                        r.runs
                            .iter()
                            .find(|v| v.variant == variant)
                            .map(|v| (*n as f64, v.median_s))
                    })
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                // Small sizes are dominated by fixed costs; fit the asymptotic upper half.
                let tail = &pts[pts.len().saturating_sub(pts.len().div_ceil(2) + 1)..];
                let k = fit_exponent(tail);
                let name = match k {
                    Some(k) => format!("{variant}  O(N^{k:.2})"),
                    None => variant.name().to_string(),
                };
                let xy: Vec<[f64; 2]> = pts.iter().map(|(x, y)| [x.log10(), y.log10()]).collect();
                p.line(
                    Line::new(name.clone(), xy.clone())
                        .color(variant_color(variant))
                        .width(line_w),
                );
                p.points(
                    Points::new(name, xy)
                        .radius(line_w + 2.5)
                        .color(variant_color(variant)),
                );
            }
        });
}

/// Speed-up against one thread, with the ideal (linear) line.
pub fn thread_sweep_ui(ui: &mut egui::Ui, points: &[(usize, RunRecord)], line_w: f32) {
    if points.is_empty() {
        ui.label("No thread sweep yet: press “Run thread sweep” in the analysis panel.");
        return;
    }
    let t1 = points
        .iter()
        .find(|(t, _)| *t == 1)
        .and_then(|(_, r)| r.runs.first())
        .map(|v| v.median_s);
    let max_t = points.iter().map(|p| p.0).max().unwrap_or(1) as f64;
    ui.label(
        RichText::new(format!(
            "parallel variant; this machine has {} hardware threads",
            crate::bench::available_threads()
        ))
        .small(),
    );
    Plot::new("thread_sweep")
        .legend(Legend::default())
        .x_axis_label("threads")
        .y_axis_label("speed-up over 1 thread")
        .show(ui, |p| {
            p.line(
                Line::new("ideal", vec![[1.0, 1.0], [max_t, max_t]])
                    .color(Color32::GRAY)
                    .style(egui_plot::LineStyle::dashed_loose())
                    .width(line_w),
            );
            if let Some(t1) = t1 {
                let xy: Vec<[f64; 2]> = points
                    .iter()
                    .filter_map(|(t, r)| r.runs.first().map(|v| [*t as f64, t1 / v.median_s]))
                    .collect();
                let c = variant_color(Variant::Parallel);
                p.line(
                    Line::new("measured", xy.clone())
                        .color(c)
                        .width(line_w + 0.5),
                );
                p.points(Points::new("measured", xy).radius(line_w + 3.0).color(c));
            }
        });
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum HistorySort {
    #[default]
    Newest,
    Analysis,
    Median,
    PeakHeap,
}

/// A run's parameters as `name=value` pairs, in the analysis' order.
fn params_text(r: &RunRecord) -> String {
    r.params
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a row came from, as the History tab writes it.
fn origin_text(o: super::RunOrigin) -> String {
    match o {
        super::RunOrigin::Run => "run".into(),
        super::RunOrigin::SizeSweep(n) => format!("size sweep · {n}"),
        super::RunOrigin::ThreadSweep(t) => format!("thread sweep · {t} thr"),
    }
}

/// Whether a row matches the filter: every word appears in its analysis, variant,
/// origin or parameters (case-insensitive).
fn row_matches(h: &super::HistoryEntry, v: &crate::bench::VariantRun, filter: &str) -> bool {
    let hay = format!(
        "{} {} {} {} {}",
        h.record.analysis,
        v.variant.name(),
        super::theme::run_label(&h.record, v).0,
        origin_text(h.origin),
        params_text(&h.record)
    )
    .to_lowercase();
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|w| hay.contains(w))
}

/// Sort and filter controls above the History table.
fn history_controls_ui(ui: &mut egui::Ui, sort: &mut HistorySort, filter: &mut String) {
    ui.horizontal(|ui| {
        ui.label("sort by:");
        ui.selectable_value(sort, HistorySort::Newest, "newest");
        ui.selectable_value(sort, HistorySort::Analysis, "analysis");
        ui.selectable_value(sort, HistorySort::Median, "median time");
        ui.selectable_value(sort, HistorySort::PeakHeap, "peak heap");
        ui.separator();
        ui.label("filter:");
        ui.add(
            egui::TextEdit::singleline(filter)
                .hint_text("e.g. parallel, sweep, window=51")
                .desired_width(220.0),
        );
        if !filter.is_empty() && ui.button("clear").clicked() {
            filter.clear();
        }
    });
}

/// Every run of the session, one row per variant, with its parameters and where it came
/// from (a run or a sweep point); ✓ when the variants agreed. Returns the entry whose
/// "flame graph" button was pressed.
pub fn history_ui(
    ui: &mut egui::Ui,
    history: &[super::HistoryEntry],
    sort: &mut HistorySort,
    filter: &mut String,
) -> Option<usize> {
    let mut show_profile = None;
    history_controls_ui(ui, sort, filter);
    let mut rows: Vec<(&super::HistoryEntry, &crate::bench::VariantRun)> = history
        .iter()
        .flat_map(|h| h.record.runs.iter().map(move |v| (h, v)))
        .filter(|(h, v)| row_matches(h, v, filter))
        .collect();
    match sort {
        HistorySort::Newest => rows.sort_by_key(|r| std::cmp::Reverse(r.0.id)),
        HistorySort::Analysis => rows.sort_by(|a, b| {
            a.0.record
                .analysis
                .cmp(&b.0.record.analysis)
                .then(a.1.variant.cmp(&b.1.variant))
        }),
        HistorySort::Median => rows.sort_by(|a, b| a.1.median_s.total_cmp(&b.1.median_s)),
        HistorySort::PeakHeap => rows.sort_by_key(|r| std::cmp::Reverse(r.1.peak_bytes)),
    }
    // Columns every row would repeat are said once above the table instead (a projector
    // beside the side panel has ~520 points for it).
    let cols = HistoryColumns {
        analysis: !rows
            .windows(2)
            .all(|w| w[0].0.record.analysis == w[1].0.record.analysis),
        origin: rows.iter().any(|r| r.0.origin != super::RunOrigin::Run),
    };
    if let (false, Some(first)) = (cols.analysis, rows.first()) {
        let from = if cols.origin { "" } else { ", all from Run" };
        ui.label(RichText::new(format!("{}{from}", first.0.record.analysis)).strong());
    }
    // Parameters shortened to fit a projector's width (all of them on hover).
    let char_w = 0.55 * egui::TextStyle::Body.resolve(ui.style()).size;
    let others = 320.0
        + f32::from(u8::from(cols.analysis)) * 150.0
        + f32::from(u8::from(cols.origin)) * 50.0;
    let params_chars = ((ui.available_width() - others) / char_w).clamp(16.0, 60.0) as usize;
    if rows.is_empty() && !history.is_empty() {
        ui.label(format!("No run matches '{filter}'."));
    }
    egui::ScrollArea::both()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("history").striped(true).show(ui, |ui| {
                let headers = [
                    ("run", true),
                    ("analysis", cols.analysis),
                    ("from", cols.origin),
                    ("parameters", true),
                    ("variant", true),
                    ("median", true),
                    ("heap", true),
                    ("agree", true),
                ];
                for (h, shown) in headers {
                    if shown {
                        ui.label(RichText::new(h).strong());
                    }
                }
                ui.end_row();
                for (h, v) in rows {
                    if history_row_ui(ui, h, v, params_chars, cols) {
                        show_profile = Some(h.id);
                    }
                    ui.end_row();
                }
            });
        });
    show_profile
}

/// Which of the History table's optional columns are shown: the analysis when rows of
/// more than one are listed, the origin when a sweep point is among them.
#[derive(Clone, Copy)]
struct HistoryColumns {
    analysis: bool,
    origin: bool,
}

/// One row of the History table; true when its run's number (a button opening the run's
/// flame graph) was pressed. The time, input, fastest call and allocations are on hover.
fn history_row_ui(
    ui: &mut egui::Ui,
    h: &super::HistoryEntry,
    v: &crate::bench::VariantRun,
    params_chars: usize,
    cols: HistoryColumns,
) -> bool {
    let pressed = if h.record.profile.is_some() {
        ui.small_button(format!("#{} ▶", h.id))
            .on_hover_text(format!(
                "run at {}: open its own profile in the Flame graph tab",
                h.when
            ))
            .clicked()
    } else {
        ui.label(format!("#{}", h.id)).on_hover_text(&h.when);
        false
    };
    if cols.analysis {
        ui.label(&h.record.analysis)
            .on_hover_text(format!("{} {}", h.record.size, h.record.size_unit));
    }
    if cols.origin {
        let origin = origin_text(h.origin);
        if h.origin == super::RunOrigin::Run {
            ui.label(origin);
        } else {
            ui.label(RichText::new(format!("◆ {origin}")).color(Color32::from_rgb(230, 180, 60)));
        }
    }
    let params = params_text(&h.record);
    let short: String = if params.chars().count() > params_chars {
        params
            .chars()
            .take(params_chars - 1)
            .chain(std::iter::once('…'))
            .collect()
    } else {
        params.clone()
    };
    ui.label(short).on_hover_text(params);
    let (name, color) = super::theme::run_label(&h.record, v);
    if h.record.tool == "astroperf" {
        ui.label(RichText::new(format!("{name} ×{}", v.threads)).color(color));
    } else {
        // The library only, so the table keeps its width on a projector; the method on hover.
        let library = crate::bench::python::library_of(v);
        ui.label(RichText::new(format!("py {library} ×{}", v.threads)).color(color))
            .on_hover_text(crate::bench::python::method_of(v));
    }
    ui.label(fmt_secs(v.median_s)).on_hover_text(format!(
        "fastest {} · MAD {} · {} calls",
        fmt_secs(v.min_s),
        fmt_secs(v.mad_s),
        v.times_s.len()
    ));
    ui.label(super::widgets::human_bytes(v.peak_bytes as usize))
        .on_hover_text(format!("heap peak; {} allocations per call", v.allocs));
    if h.record.tool != "astroperf" {
        let why = v
            .agreement
            .as_deref()
            .unwrap_or("not compared with astroperf");
        match v.agrees_with_astroperf {
            Some(true) => ui.label(RichText::new("✓ ours").color(Color32::from_rgb(80, 200, 120))),
            Some(false) => ui.label(RichText::new("⚠ ours").color(Color32::from_rgb(230, 80, 60))),
            None => ui.label("–"),
        }
        .on_hover_text(why);
    } else if v.agrees {
        ui.label(RichText::new("✓").color(Color32::from_rgb(80, 200, 120)))
            .on_hover_text("the variants' outputs agree");
    } else {
        ui.label(RichText::new("⚠ differs").color(Color32::from_rgb(230, 80, 60)))
            .on_hover_text(h.record.disagreement.as_deref().unwrap_or(""));
    }
    pressed
}

/// Runs stopped by Cancel: where they stopped and what had finished (their finished
/// variants also appear in the table below; the stopped one never does).
pub fn cancelled_runs_ui(ui: &mut egui::Ui, history: &[super::HistoryEntry]) {
    let cancelled: Vec<&super::HistoryEntry> =
        history.iter().filter(|h| h.record.is_cancelled()).collect();
    if cancelled.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(format!("cancelled runs ({})", cancelled.len()))
        .default_open(true)
        .show(ui, |ui| {
            for h in cancelled.iter().rev() {
                ui.label(
                    egui::RichText::new(format!(
                        "#{} {} {}: {}",
                        h.id,
                        h.when,
                        h.record.analysis,
                        cancelled_text(&h.record)
                    ))
                    .color(egui::Color32::from_rgb(230, 170, 40)),
                );
            }
        });
    ui.separator();
}

/// The CLI's line for a cancelled run (where it stopped, what had finished), followed by
/// the variants that had finished before it.
pub fn cancelled_text(r: &RunRecord) -> String {
    let Some(c) = &r.cancelled else {
        return String::new();
    };
    let done: Vec<&str> = r.runs.iter().map(|v| v.variant.name()).collect();
    format!(
        "{}; finished variants: {}",
        crate::bench::report::cancelled_line(c),
        if done.is_empty() {
            "none".to_string()
        } else {
            done.join(", ")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponent_fit_recovers_power_laws() {
        let quad: Vec<(f64, f64)> = [100.0, 200.0, 400.0, 800.0]
            .iter()
            .map(|n| (*n, 3e-9 * n * n))
            .collect();
        assert!((fit_exponent(&quad).expect("fit") - 2.0).abs() < 1e-9);
        let lin: Vec<(f64, f64)> = [1e3, 1e4, 1e5].iter().map(|n| (*n, 2e-8 * n)).collect();
        assert!((fit_exponent(&lin).expect("fit") - 1.0).abs() < 1e-9);
        assert!(fit_exponent(&[(10.0, 1.0)]).is_none());
        assert!(fit_exponent(&[(10.0, 1.0), (10.0, 2.0)]).is_none());
    }
}
