//! Phase fold: the light curve as observed (noise at a glance) above the same points
//! folded at the period, two cycles wide, with the binned mean curve and its standard
//! error on top: the periodic signal the fold reveals.

use super::common::{headline, note, num, series_line};
use super::{ResultCtx, ResultView};
use crate::analyses::phase_fold as pf;
use crate::app::theme::palette;
use crate::app::views::{stride, ViewerState};
use crate::data::Dataset;
use crate::engine::Analysis;
use egui::Color32;
use egui_plot::{Legend, Line, Plot, Points};
use ndarray::Array2;

pub struct PhaseFoldView;

/// The binned mean curve.
const MEAN: Color32 = Color32::from_rgb(230, 60, 60);
/// Most points drawn per cycle of the fold.
const DRAWN: usize = 20_000;

impl ResultView for PhaseFoldView {
    fn analysis(&self) -> &'static dyn Analysis {
        &pf::PhaseFold
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Some((_, folded)) = cx.out.table_of(pf::FOLDED) else {
            ui.label("This run has no folded curve.");
            return;
        };
        let binned = cx.out.table_of(pf::BINNED).map(|(_, b)| b);
        let s = |k| cx.out.summary_f64(k).unwrap_or(f64::NAN);
        let magnitudes = matches!(&cx.data.data, Dataset::LightCurve(l) if l.magnitudes);
        let ylabel = if magnitudes {
            "magnitude (brighter up)"
        } else {
            "flux"
        };
        let amp = cx
            .out
            .summary_f64(pf::BINNED_SEMI_AMPLITUDE)
            .map_or(String::new(), |a| format!(" · semi-amplitude {}", num(a)));
        headline(
            ui,
            format!(
                "folded at period {} d, epoch {} · {} points · {} bins{amp}",
                num(s(pf::PERIOD)),
                num(s(pf::EPOCH)),
                folded.nrows(),
                binned.map_or(0, |b| b.nrows()),
            ),
        );
        let h = ui.available_height();
        note(ui, "as observed: value against time");
        let raw: Vec<[f64; 2]> = stride(folded.rows().into_iter().map(|r| [r[2], r[1]]));
        Plot::new("phase-fold-raw")
            .height(h * 0.3 - 30.0)
            .invert_y(magnitudes)
            .legend(Legend::default())
            .x_axis_label("time (d)")
            .y_axis_label(ylabel)
            .show(ui, |p| {
                p.points(
                    Points::new("observations", raw)
                        .radius(0.6 + cx.line_w * 0.3)
                        .color(palette(2)),
                );
            });
        note(
            ui,
            "folded: phase = ((t − epoch) mod P) / P, two cycles shown; the mean of each phase bin on top",
        );
        folded_ui(ui, folded, binned, magnitudes, ylabel, cx.line_w);
    }
}

/// The folded points over two cycles and the binned mean with ±1 standard error.
fn folded_ui(
    ui: &mut egui::Ui,
    folded: &Array2<f64>,
    binned: Option<&Array2<f64>>,
    magnitudes: bool,
    ylabel: &str,
    line_w: f32,
) {
    let step = folded.nrows().div_ceil(DRAWN).max(1);
    let pts: Vec<[f64; 2]> = folded
        .rows()
        .into_iter()
        .step_by(step)
        .flat_map(|r| [[r[0], r[1]], [r[0] + 1.0, r[1]]])
        .collect();
    // Bins with points: (phase, mean, standard error), repeated for the second cycle.
    let bins: Vec<[f64; 3]> = binned.map_or(Vec::new(), |b| {
        let one: Vec<[f64; 3]> = b
            .rows()
            .into_iter()
            .filter(|r| r[3] > 0.0 && r[1].is_finite())
            .map(|r| [r[0], r[1], r[2] / r[3].sqrt()])
            .collect();
        let second = one.iter().map(|b| [b[0] + 1.0, b[1], b[2]]);
        one.iter().copied().chain(second).collect()
    });
    let faded = palette(2).gamma_multiply(0.6);
    Plot::new("phase-fold-folded")
        .invert_y(magnitudes)
        .legend(Legend::default())
        .x_axis_label("phase (cycles)")
        .y_axis_label(ylabel)
        .include_x(0.0)
        .include_x(2.0)
        .label_formatter(|name, p| {
            let who = series_line(name);
            format!("{who}phase {:.3}\nvalue {:.4}", p.x.rem_euclid(1.0), p.y)
        })
        .show(ui, |p| {
            p.points(
                Points::new("folded points", pts)
                    .radius(0.6 + line_w * 0.3)
                    .color(faded),
            );
            if bins.is_empty() {
                return;
            }
            for b in &bins {
                p.line(
                    Line::new(
                        "bin mean ± standard error",
                        vec![[b[0], b[1] - b[2]], [b[0], b[1] + b[2]]],
                    )
                    .color(MEAN)
                    .width(line_w),
                );
            }
            let curve: Vec<[f64; 2]> = bins.iter().map(|b| [b[0], b[1]]).collect();
            p.line(
                Line::new("bin mean ± standard error", curve.clone())
                    .color(MEAN)
                    .width(line_w * 1.5),
            );
            p.points(
                Points::new("bin mean ± standard error", curve)
                    .radius(2.0 + line_w)
                    .color(MEAN),
            );
        });
}
