//! The Timing tab: where a projector's audience reads each variant's time and speed-up.
//! Bars are horizontal, one row per variant (and per imported Python record), so every
//! label is written in the body font beside its bar, never over a whisker and never cut.
//! Times go on a log axis when the bars differ by more than [`AUTO_LOG_RATIO`] (a 3 ms bar
//! beside a 100 ms one is otherwise a sliver); a second chart gives the speed-up over
//! naive with the ideal thread scaling marked on the parallel row.

use super::theme::{run_label, variant_color};
use crate::bench::report::fmt_secs;
use crate::bench::{RunRecord, VariantRun};
use crate::engine::Variant;
use egui::{Align2, Color32, FontId, Pos2, Rect, RichText, Stroke};

/// Bars differing by more than this factor get a log time axis by default.
pub const AUTO_LOG_RATIO: f64 = 20.0;

/// One bar: a variant of ours or a Python record.
struct Row<'a> {
    name: String,
    color: Color32,
    run: &'a VariantRun,
    /// Whether the row is one of ours (Python rows have no ideal-scaling mark).
    ours: bool,
}

/// Whether the times of `rows` call for a log axis: the largest median over the smallest.
pub fn wants_log(medians: impl Iterator<Item = f64>) -> bool {
    let (lo, hi) = medians
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    hi > 0.0 && hi / lo > AUTO_LOG_RATIO
}

/// The Timing tab: the time chart and the speed-up chart, with a log-scale toggle
/// (`log` is the user's choice; None follows [`wants_log`]).
pub fn timing_ui(
    ui: &mut egui::Ui,
    r: &RunRecord,
    extra: &[RunRecord],
    log: &mut Option<bool>,
    line_w: f32,
) {
    let mut rows: Vec<Row> = r
        .runs
        .iter()
        .map(|v| Row {
            name: v.variant.name().to_string(),
            color: variant_color(v.variant),
            run: v,
            ours: true,
        })
        .collect();
    for e in extra {
        for v in &e.runs {
            let (name, color) = run_label(e, v);
            rows.push(Row {
                name,
                color,
                run: v,
                ours: false,
            });
        }
    }
    if rows.is_empty() {
        ui.label("This run timed no variant.");
        return;
    }
    let auto = wants_log(rows.iter().map(|r| r.run.median_s));
    let mut on = log.unwrap_or(auto);
    // Wrapped: beside the side panel at 1280×720 the line is wider than the tab, and an
    // overflowing row would widen every chart beneath it past the window's edge.
    ui.horizontal_wrapped(|ui| {
        ui.label(format!(
            "{} on {} {} · median of {} calls; whisker = fastest–slowest call; thin pale bar = first call (warm-up)",
            r.analysis,
            r.size,
            r.size_unit,
            r.runs.first().map_or(0, |v| v.times_s.len())
        ));
        if ui
            .checkbox(&mut on, "log scale")
            .on_hover_text(format!(
                "On by default when the slowest bar is more than {AUTO_LOG_RATIO}× the fastest"
            ))
            .changed()
        {
            *log = (on != auto).then_some(on);
        }
    });
    if rows.iter().any(|r| !r.ours) {
        let disagree = crate::bench::python::disagreeing(extra);
        ui.label(
            RichText::new(format!(
                "gold bars: Python on the same input (pale: pure Python, amber: numba){}",
                if disagree > 0 {
                    format!(" · ⚠ {disagree} Python result(s) differ from ours: hover a bar")
                } else {
                    String::new()
                }
            ))
            .color(super::theme::python_color("numpy")),
        );
    }
    let body = egui::TextStyle::Body.resolve(ui.style());
    // Rows as tall as the tab allows (two charts and their headings), within reason.
    let n = rows.len() as f32;
    let chrome = body.size * 8.0;
    let row_h =
        ((ui.available_height() - chrome) / (2.0 * n)).clamp(body.size * 1.7, body.size * 5.0);
    let time_h = row_h * n + body.size * 1.8;
    let speed_h = time_h;
    heading(ui, "Time per call", &body);
    time_chart_ui(ui, &rows, on, time_h, &body, line_w);
    ui.add_space(body.size * 0.5);
    let base = baseline(r);
    let threads = r
        .runs
        .iter()
        .find(|v| v.variant == Variant::Parallel)
        .map_or(1, |v| v.threads);
    let ideal_note = if threads > 1 && r.runs.len() == 3 {
        format!(" · dashed line: ideal scaling on {threads} threads (vectorized × {threads})")
    } else {
        String::new()
    };
    heading(
        ui,
        &match base {
            Some((name, _)) => format!("Speed-up over {name}{ideal_note}"),
            None => "Speed-up".into(),
        },
        &body,
    );
    match base {
        Some((_, base_s)) => speedup_chart_ui(ui, r, &rows, base_s, speed_h, &body),
        None => {
            ui.label("No variant to compare with.");
        }
    }
}

fn heading(ui: &mut egui::Ui, text: &str, body: &FontId) {
    ui.label(RichText::new(text).strong().size(body.size * 1.1));
}

/// What speed-ups are measured against: naive when it ran, else the slowest of ours.
fn baseline(r: &RunRecord) -> Option<(&'static str, f64)> {
    if let Some(n) = r.runs.iter().find(|v| v.variant == Variant::Naive) {
        return Some(("naive", n.median_s));
    }
    r.runs
        .iter()
        .max_by(|a, b| a.median_s.total_cmp(&b.median_s))
        .map(|v| (v.variant.name(), v.median_s))
}

/// A horizontal value axis: maps a value to x, and lists tick values with their labels.
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
    left: f32,
    right: f32,
}

impl Axis {
    fn x(&self, v: f64) -> f32 {
        let t = if self.log {
            (v.max(1e-300).log10() - self.lo) / (self.hi - self.lo)
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.left + (t.clamp(0.0, 1.0) as f32) * (self.right - self.left)
    }

    /// Tick values: each decade on a log axis, 4–6 round steps on a linear one.
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            (self.lo.ceil() as i32..=self.hi.floor() as i32)
                .map(|e| 10f64.powi(e))
                .collect()
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            (0..=((self.hi - self.lo) / step).floor() as usize)
                .map(|i| self.lo + i as f64 * step)
                .collect()
        }
    }
}

/// A round time for an axis tick: "1 ms", "250 µs", "2.5 s".
fn tick_secs(v: f64) -> String {
    let (x, unit) = if v == 0.0 {
        return "0".into();
    } else if v >= 1.0 {
        (v, "s")
    } else if v >= 1e-3 {
        (v * 1e3, "ms")
    } else if v >= 1e-6 {
        (v * 1e6, "µs")
    } else {
        (v * 1e9, "ns")
    };
    let digits = if (x - x.round()).abs() < 1e-9 { 0 } else { 1 };
    format!("{x:.digits$} {unit}")
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.max(1e-300).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// The rows' names in a left column, and the rect left for bars and their values.
fn name_column(ui: &egui::Ui, rows: &[Row], body: &FontId) -> f32 {
    rows.iter()
        .map(|r| {
            ui.painter()
                .layout_no_wrap(r.name.clone(), body.clone(), Color32::WHITE)
                .size()
                .x
        })
        .fold(0.0, f32::max)
        + body.size
}

/// Median bars with min–max whiskers and the first call as a thin pale bar beneath.
fn time_chart_ui(
    ui: &mut egui::Ui,
    rows: &[Row],
    log: bool,
    height: f32,
    body: &FontId,
    line_w: f32,
) {
    let (rect, resp) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), height),
        egui::Sense::hover(),
    );
    let painter = ui.painter_at(rect);
    let text = ui.visuals().strong_text_color();
    let name_w = name_column(ui, rows, body);
    let value_w = body.size * 6.0;
    let axis_h = body.size * 1.8;
    let row_h = (rect.height() - axis_h) / rows.len() as f32;
    let all = rows
        .iter()
        .flat_map(|r| [r.run.median_s, r.run.max_s, r.run.first_s, r.run.min_s])
        .filter(|v| v.is_finite() && *v > 0.0);
    let (mn, mx) = all.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let axis = Axis {
        log,
        lo: if log { mn.log10().floor() } else { 0.0 },
        hi: if log {
            mx.log10().ceil().max(mn.log10().floor() + 1.0)
        } else {
            mx.max(1e-12)
        },
        left: rect.left() + name_w,
        right: rect.right() - value_w,
    };
    axis_ui(&painter, &axis, rect, axis_h, body, tick_secs);
    let mut hovered = None;
    for (i, row) in rows.iter().enumerate() {
        let top = rect.top() + i as f32 * row_h;
        let band = Rect::from_min_max(
            Pos2::new(rect.left(), top),
            Pos2::new(rect.right(), top + row_h),
        );
        let mid = band.center().y;
        painter.text(
            Pos2::new(rect.left(), mid),
            Align2::LEFT_CENTER,
            &row.name,
            body.clone(),
            row.color,
        );
        let v = row.run;
        let bar = Rect::from_min_max(
            Pos2::new(axis.left, top + row_h * 0.12),
            Pos2::new(axis.x(v.median_s), top + row_h * 0.68),
        );
        painter.rect_filled(bar, 2.0, row.color.gamma_multiply(0.85));
        let first = Rect::from_min_max(
            Pos2::new(axis.left, top + row_h * 0.74),
            Pos2::new(axis.x(v.first_s), top + row_h * 0.88),
        );
        painter.rect_filled(first, 1.0, row.color.gamma_multiply(0.35));
        let whisker_y = bar.center().y;
        let stroke = Stroke::new(line_w.max(1.5), text);
        painter.line_segment(
            [
                Pos2::new(axis.x(v.min_s), whisker_y),
                Pos2::new(axis.x(v.max_s), whisker_y),
            ],
            stroke,
        );
        for end in [v.min_s, v.max_s] {
            let x = axis.x(end);
            painter.line_segment(
                [
                    Pos2::new(x, whisker_y - row_h * 0.12),
                    Pos2::new(x, whisker_y + row_h * 0.12),
                ],
                stroke,
            );
        }
        painter.text(
            Pos2::new(axis.x(v.max_s.max(v.median_s)) + body.size * 0.4, whisker_y),
            Align2::LEFT_CENTER,
            fmt_secs(v.median_s),
            body.clone(),
            text,
        );
        if resp.hover_pos().is_some_and(|p| band.contains(p)) {
            hovered = Some(row);
        }
    }
    if let Some(row) = hovered {
        resp.on_hover_ui_at_pointer(|ui| row_hover_ui(ui, row));
    }
}

/// Every figure of a row, for the hover.
fn row_hover_ui(ui: &mut egui::Ui, row: &Row) {
    let v = row.run;
    ui.label(RichText::new(&row.name).strong().color(row.color));
    ui.label(format!(
        "median {} · fastest {} · slowest {} · first call {}",
        fmt_secs(v.median_s),
        fmt_secs(v.min_s),
        fmt_secs(v.max_s),
        fmt_secs(v.first_s)
    ));
    if !row.ours {
        ui.label(crate::bench::python::method_of(v));
        if crate::bench::python::library_of(v) == "numba" {
            ui.label("first call includes numba's JIT compilation");
        }
        if let Some(a) = &v.agreement {
            ui.label(format!("against astroperf: {a}"));
        }
    }
    ui.label(format!(
        "{} calls · {} thread(s)",
        v.times_s.len(),
        v.threads
    ));
    if let Some((pct, stage)) = super::roofline::variant_limit(v) {
        ui.label(format!("{pct:.0}% of the machine's limit ({stage})"));
    }
    if v.peak_bytes > 0 {
        ui.label(format!(
            "heap peak {}",
            super::widgets::human_bytes(v.peak_bytes as usize)
        ));
    }
}

/// Tick lines and labels along the bottom of `rect`.
fn axis_ui(
    painter: &egui::Painter,
    axis: &Axis,
    rect: Rect,
    axis_h: f32,
    body: &FontId,
    label: impl Fn(f64) -> String,
) {
    let grid = painter
        .ctx()
        .style()
        .visuals
        .widgets
        .noninteractive
        .bg_stroke;
    let text = painter.ctx().style().visuals.text_color();
    let base = rect.bottom() - axis_h;
    painter.line_segment(
        [Pos2::new(axis.left, base), Pos2::new(axis.right, base)],
        Stroke::new(1.0, text),
    );
    for t in axis.ticks() {
        let x = axis.x(t);
        painter.line_segment([Pos2::new(x, rect.top()), Pos2::new(x, base)], grid);
        painter.text(
            Pos2::new(x, base + 2.0),
            Align2::CENTER_TOP,
            label(t),
            FontId::proportional(body.size * 0.9),
            text,
        );
    }
}

/// Speed-up bars over the baseline; the parallel row marks ideal thread scaling (the
/// vectorized speed-up times the thread count) when both ran.
fn speedup_chart_ui(
    ui: &mut egui::Ui,
    r: &RunRecord,
    rows: &[Row],
    base_s: f64,
    height: f32,
    body: &FontId,
) {
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), height),
        egui::Sense::hover(),
    );
    let painter = ui.painter_at(rect);
    let text = ui.visuals().strong_text_color();
    let name_w = name_column(ui, rows, body);
    let value_w = body.size * 4.5;
    let axis_h = body.size * 1.8;
    let row_h = (rect.height() - axis_h) / rows.len() as f32;
    let speedup = |v: &VariantRun| base_s / v.median_s.max(1e-300);
    let vec_s = r
        .runs
        .iter()
        .find(|v| v.variant == Variant::Vectorized)
        .map(speedup);
    let ideal = |row: &Row| {
        (row.ours && row.run.variant == Variant::Parallel && row.run.threads > 1)
            .then(|| vec_s.map(|s| s * row.run.threads as f64))
            .flatten()
    };
    let mx = rows
        .iter()
        .flat_map(|row| [Some(speedup(row.run)), ideal(row)])
        .flatten()
        .fold(1.0f64, f64::max);
    let axis = Axis {
        log: false,
        lo: 0.0,
        hi: mx * 1.05,
        left: rect.left() + name_w,
        right: rect.right() - value_w,
    };
    axis_ui(&painter, &axis, rect, axis_h, body, |v| format!("{v:.0}×"));
    for (i, row) in rows.iter().enumerate() {
        let top = rect.top() + i as f32 * row_h;
        let mid = top + row_h * 0.45;
        painter.text(
            Pos2::new(rect.left(), mid),
            Align2::LEFT_CENTER,
            &row.name,
            body.clone(),
            row.color,
        );
        let s = speedup(row.run);
        let bar = Rect::from_min_max(
            Pos2::new(axis.left, top + row_h * 0.15),
            Pos2::new(axis.x(s), top + row_h * 0.75),
        );
        painter.rect_filled(bar, 2.0, row.color.gamma_multiply(0.85));
        painter.text(
            Pos2::new(bar.right() + body.size * 0.4, mid),
            Align2::LEFT_CENTER,
            format!("{s:.1}×"),
            body.clone(),
            text,
        );
        if let Some(ideal) = ideal(row) {
            let x = axis.x(ideal);
            painter.add(egui::Shape::dashed_line(
                &[
                    Pos2::new(x, top + row_h * 0.05),
                    Pos2::new(x, top + row_h * 0.85),
                ],
                Stroke::new(2.5, text),
                6.0,
                4.0,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_is_on_by_default_only_beyond_twenty_fold() {
        assert!(wants_log([0.1, 0.003].into_iter()));
        assert!(!wants_log([0.1, 0.006].into_iter()));
        assert!(!wants_log([0.0, f64::NAN, 1.0].into_iter()));
    }

    #[test]
    fn ticks_are_round_and_labelled_without_trailing_digits() {
        assert_eq!(nice_step(0.23), 0.5);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(tick_secs(1e-3), "1 ms");
        assert_eq!(tick_secs(0.1), "100 ms");
        assert_eq!(tick_secs(2.5), "2.5 s");
        let axis = Axis {
            log: true,
            lo: -3.0,
            hi: 0.0,
            left: 0.0,
            right: 300.0,
        };
        assert_eq!(axis.ticks(), vec![1e-3, 1e-2, 1e-1, 1.0]);
        assert!((axis.x(1e-2) - 100.0).abs() < 1e-3);
    }
}
