//! The Compare tab (Tracy's "compare traces" as a table and a differential bar chart):
//! two runs of the selected analysis, any two variants of the latest run or of History
//! entries, stage by stage: A's and B's time, the ratio, and how many milliseconds of the
//! total speed-up each stage gave.

use super::theme::stage_color;
use super::HistoryEntry;
use crate::bench::compare::{compare, Comparison};
use crate::bench::report::fmt_secs;
use crate::bench::{RunRecord, VariantRun};
use crate::engine::Variant;
use egui::RichText;
use egui_plot::{Bar, BarChart, Plot};

/// One side of the comparison: a variant of the latest run or of a History entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunRef {
    /// `None` for the latest run.
    pub history: Option<usize>,
    pub variant: Variant,
}

/// The two sides; `None` until chosen (the defaults are the latest run's slowest and
/// fastest variants).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pick {
    pub a: Option<RunRef>,
    pub b: Option<RunRef>,
}

fn label(r: &RunRef) -> String {
    match r.history {
        None => format!("latest · {}", r.variant),
        Some(id) => format!("#{id} · {}", r.variant),
    }
}

fn find<'a>(
    r: &RunRef,
    latest: Option<&'a RunRecord>,
    history: &'a [HistoryEntry],
) -> Option<&'a VariantRun> {
    let record = match r.history {
        None => latest?,
        Some(id) => &history.iter().find(|h| h.id == id)?.record,
    };
    record.runs.iter().find(|v| v.variant == r.variant)
}

pub(super) fn compare_ui(
    ui: &mut egui::Ui,
    pick: &mut Pick,
    latest: Option<&RunRecord>,
    history: &[HistoryEntry],
) {
    let Some(latest) = latest else {
        ui.label("No run of this analysis yet: run all variants, then compare any two of them (or two runs from the History) stage by stage.");
        return;
    };
    let mut choices: Vec<RunRef> = latest
        .runs
        .iter()
        .map(|v| RunRef {
            history: None,
            variant: v.variant,
        })
        .collect();
    for h in history
        .iter()
        .rev()
        .filter(|h| h.record.analysis == latest.analysis)
    {
        choices.extend(h.record.runs.iter().map(|v| RunRef {
            history: Some(h.id),
            variant: v.variant,
        }));
    }
    let slowest = latest
        .runs
        .iter()
        .max_by(|x, y| x.median_s.total_cmp(&y.median_s));
    let fastest = latest
        .runs
        .iter()
        .min_by(|x, y| x.median_s.total_cmp(&y.median_s));
    let mut a = pick
        .a
        .filter(|r| choices.contains(r))
        .or(slowest.map(|v| RunRef {
            history: None,
            variant: v.variant,
        }));
    let mut b = pick
        .b
        .filter(|r| choices.contains(r))
        .or(fastest.map(|v| RunRef {
            history: None,
            variant: v.variant,
        }));
    ui.horizontal(|ui| {
        for (name, side) in [("A", &mut a), ("B", &mut b)] {
            egui::ComboBox::from_label(name)
                .selected_text(side.as_ref().map_or_else(|| "–".to_string(), label))
                .show_ui(ui, |ui| {
                    for c in &choices {
                        ui.selectable_value(side, Some(*c), label(c));
                    }
                });
        }
    });
    pick.a = a;
    pick.b = b;
    let (Some(ra), Some(rb)) = (
        a.and_then(|r| find(&r, Some(latest), history)),
        b.and_then(|r| find(&r, Some(latest), history)),
    ) else {
        return;
    };
    let c = compare(ra, rb);
    ui.label(
        RichText::new(format!(
            "A {} vs B {}: {:.1}× faster, {} saved",
            fmt_secs(c.a_total_s),
            fmt_secs(c.b_total_s),
            c.a_total_s / c.b_total_s.max(1e-12),
            fmt_secs(c.a_total_s - c.b_total_s),
        ))
        .strong(),
    );
    gain_chart_ui(ui, &c);
    table_ui(ui, &c);
}

/// Milliseconds of the speed-up per stage, as horizontal bars (negative: it got slower).
fn gain_chart_ui(ui: &mut egui::Ui, c: &Comparison) {
    let rows = c.by_gain();
    let h = (rows.len() as f32 * 28.0 + 40.0).min(ui.available_height() * 0.45);
    Plot::new("compare_gain")
        .height(h)
        .allow_scroll(false)
        .show_y(false)
        .show_axes([true, false])
        .x_axis_label("ms of the speed-up each stage gave")
        .show(ui, |p| {
            for (i, d) in rows.iter().enumerate() {
                let y = -(i as f64);
                p.bar_chart(
                    BarChart::new(
                        d.name.clone(),
                        vec![Bar::new(y, d.gain_s * 1e3).width(0.7).name(&d.name)],
                    )
                    .horizontal()
                    .color(stage_color(&d.name)),
                );
                p.text(
                    egui_plot::Text::new("", egui_plot::PlotPoint::new(0.0, y), d.name.clone())
                        .anchor(if d.gain_s >= 0.0 {
                            egui::Align2::RIGHT_CENTER
                        } else {
                            egui::Align2::LEFT_CENTER
                        }),
                );
            }
        });
}

fn table_ui(ui: &mut egui::Ui, c: &Comparison) {
    egui::Grid::new("compare_table")
        .striped(true)
        .show(ui, |ui| {
            for h in ["stage", "A", "B", "A / B", "saved", "share of the speed-up"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for d in c.by_gain() {
                ui.label(RichText::new(&d.name).color(stage_color(&d.name)));
                ui.label(fmt_secs(d.a_s));
                ui.label(fmt_secs(d.b_s));
                ui.label(if d.ratio.is_finite() {
                    format!("{:.1}×", d.ratio)
                } else {
                    "only in A".to_string()
                });
                ui.label(format!("{:+.3} ms", d.gain_s * 1e3));
                let share = 100.0 * c.share_of_gain(d);
                ui.label(format!(
                    "{:.1}%",
                    if share.abs() < 0.05 { 0.0 } else { share }
                ));
                ui.end_row();
            }
        });
}
