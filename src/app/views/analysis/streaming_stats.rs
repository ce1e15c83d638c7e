//! Streaming statistics: the running mean and std after each chunk closing in on the
//! whole stream's values (the two-pass values, to 1e-10), and their relative error on
//! log–log axes beside the statistical scatter expected after n values.

use super::{ResultCtx, ResultView};
use crate::analyses::streaming_stats::{self as ss, StreamingStats};
use crate::app::theme::palette;
use crate::app::timing::log_axis;
use crate::app::views::ViewerState;
use crate::engine::Analysis;
use egui::{Color32, RichText};
use egui_plot::{Corner, HLine, Legend, Line, LineStyle, Plot, PlotPoint, Points};

pub struct StreamingStatsView;

/// The whole stream's moments (the `stats` row).
struct Exact {
    count: f64,
    mean: f64,
    std: f64,
    min: f64,
    max: f64,
}

/// One row of the convergence table: values read, running mean and std.
#[derive(Clone, Copy)]
struct Running {
    n: f64,
    mean: f64,
    std: f64,
}

impl ResultView for StreamingStatsView {
    fn analysis(&self) -> &'static dyn Analysis {
        &StreamingStats
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let exact = cx.out.table_of(ss::STATS).and_then(|(_, t)| {
            let r = t.rows().into_iter().next()?;
            Some(Exact {
                count: r[0],
                mean: r[1],
                std: r[2],
                min: r[3],
                max: r[4],
            })
        });
        let running: Vec<Running> = cx
            .out
            .table_of(ss::CONVERGENCE)
            .map(|(_, t)| {
                t.rows()
                    .into_iter()
                    .filter(|r| r[0] > 0.0)
                    .map(|r| Running {
                        n: r[0],
                        mean: r[1],
                        std: r[2],
                    })
                    .collect()
            })
            .unwrap_or_default();
        let Some(exact) = exact else {
            ui.label("This run has no whole-stream statistics.");
            return;
        };
        let chunk = cx.param_f64("chunk").unwrap_or(f64::NAN);
        ui.label(
            RichText::new(format!(
                "{:.0} values in chunks of {chunk:.0}: mean {:.6}, std {:.6}, min {:.4}, max {:.4}",
                exact.count, exact.mean, exact.std, exact.min, exact.max
            ))
            .strong(),
        );
        if running.is_empty() {
            ui.label("This run has no running moments (no convergence table).");
            return;
        }
        ui.label(format!(
            "Running estimates after {} of the chunks; lines are the whole stream's values (equal to two passes over it).",
            running.len()
        ));
        let h = ui.available_height();
        let lw = cx.line_w;
        ui.columns(2, |c| {
            estimate_ui(
                &mut c[0],
                "mean",
                &running,
                |r| r.mean,
                exact.mean,
                h * 0.5 - 8.0,
                lw,
            );
            estimate_ui(
                &mut c[0],
                "std",
                &running,
                |r| r.std,
                exact.std,
                h * 0.5 - 8.0,
                lw,
            );
            rel_error_ui(&mut c[1], &running, &exact, h, lw);
        });
    }
}

const X_LABEL: &str = "values read (log)";

/// Hover text of a plot over log10(values read).
fn hover(name: &str, p: &PlotPoint) -> String {
    format!("{name}\nn = {:.0}\n{:.6}", 10f64.powf(p.x), p.y)
}

/// One moment's running estimate against the whole stream's value.
fn estimate_ui(
    ui: &mut egui::Ui,
    moment: &str,
    running: &[Running],
    pick: fn(&Running) -> f64,
    exact: f64,
    height: f32,
    line_w: f32,
) {
    let pts: Vec<[f64; 2]> = running.iter().map(|r| [r.n.log10(), pick(r)]).collect();
    let color = if moment == "mean" {
        palette(0)
    } else {
        palette(1)
    };
    Plot::new(format!("streaming_{moment}"))
        .height(height)
        .legend(Legend::default())
        .x_axis_label(X_LABEL)
        .y_axis_label(format!("running {moment}"))
        .x_axis_formatter(log_axis)
        .link_axis("streaming_x", [true, false])
        .label_formatter(hover)
        .show(ui, |p| {
            p.hline(
                HLine::new(format!("whole stream {moment} = {exact:.6}"), exact)
                    .color(Color32::from_rgb(230, 60, 60))
                    .style(LineStyle::dashed_loose())
                    .width(line_w + 0.5),
            );
            p.line(
                Line::new(format!("running {moment} (per chunk)"), pts.clone())
                    .color(color)
                    .width(line_w),
            );
            p.points(
                Points::new(format!("running {moment} (per chunk)"), pts)
                    .color(color)
                    .radius(line_w + 0.5),
            );
        });
}

/// |running − whole| / |whole| for mean and std on log–log axes, with the scatter a
/// sample of n values has: σ/(|μ|√n) for the mean, 1/√(2(n−1)) for the std.
fn rel_error_ui(ui: &mut egui::Ui, running: &[Running], exact: &Exact, height: f32, line_w: f32) {
    let rel = |pick: fn(&Running) -> f64, whole: f64| -> Vec<[f64; 2]> {
        running
            .iter()
            .map(|r| (r.n, (pick(r) - whole).abs() / whole.abs()))
            .filter(|(_, e)| *e > 0.0 && e.is_finite())
            .map(|(n, e)| [n.log10(), e.log10()])
            .collect()
    };
    let guide = |f: &dyn Fn(f64) -> f64| -> Vec<[f64; 2]> {
        running
            .iter()
            .filter(|r| r.n > 1.0)
            .map(|r| (r.n, f(r.n)))
            .filter(|(_, e)| *e > 0.0 && e.is_finite())
            .map(|(n, e)| [n.log10(), e.log10()])
            .collect()
    };
    let mean_scatter = guide(&|n| exact.std / (exact.mean.abs() * n.sqrt()));
    let std_scatter = guide(&|n| 1.0 / (2.0 * (n - 1.0)).sqrt());
    Plot::new("streaming_rel_error")
        .height(height)
        .legend(Legend::default().position(Corner::LeftBottom))
        .x_axis_label(X_LABEL)
        .y_axis_label("relative error vs whole stream (log)")
        .x_axis_formatter(log_axis)
        .y_axis_formatter(log_axis)
        .link_axis("streaming_x", [true, false])
        .label_formatter(|name, p| {
            format!(
                "{name}\nn = {:.0}\nrelative error {:.2e}",
                10f64.powf(p.x),
                10f64.powf(p.y)
            )
        })
        .show(ui, |p| {
            for (name, pts, color) in [
                ("mean", rel(|r| r.mean, exact.mean), palette(0)),
                ("std", rel(|r| r.std, exact.std), palette(1)),
            ] {
                p.line(
                    Line::new(format!("{name}: relative error"), pts.clone())
                        .color(color)
                        .width(line_w),
                );
                p.points(
                    Points::new(format!("{name}: relative error"), pts)
                        .color(color)
                        .radius(line_w + 0.5),
                );
            }
            p.line(
                Line::new("expected scatter of the mean: σ/(|μ|√n)", mean_scatter)
                    .color(palette(0).gamma_multiply(0.7))
                    .style(LineStyle::dashed_loose())
                    .width(line_w),
            );
            p.line(
                Line::new("expected scatter of the std: 1/√(2(n−1))", std_scatter)
                    .color(palette(1).gamma_multiply(0.7))
                    .style(LineStyle::dashed_loose())
                    .width(line_w),
            );
        });
}
