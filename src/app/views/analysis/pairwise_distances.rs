//! Pairwise distances: the histogram of all N(N−1)/2 distances with the summary's mean
//! (and, for points in the unit square, the distribution uniform points would give),
//! beside the point set they were computed from.

use super::common::{addr, cached, headline, note, num, split, Histogram};
use super::{ResultCtx, ResultView};
use crate::analyses::pairwise_distances as pd;
use crate::app::theme::palette;
use crate::app::views::{stride, ViewerState};
use crate::data::Dataset;
use crate::engine::Analysis;
use egui::Color32;
use egui_plot::{Legend, Line, Plot, Points, VLine};

pub struct PairwiseDistancesView;

/// Bins of the distance histogram.
const BINS: usize = 80;

impl ResultView for PairwiseDistancesView {
    fn analysis(&self) -> &'static dyn Analysis {
        &pd::PairwiseDistances
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Some(d) = cx.out.f64_slice(pd::DISTANCES) else {
            ui.label("This run has no distances.");
            return;
        };
        let s = |k| cx.out.summary_f64(k).unwrap_or(f64::NAN);
        let (lo, mean, hi) = (
            s(pd::MIN_DISTANCE),
            s(pd::MEAN_DISTANCE),
            s(pd::MAX_DISTANCE),
        );
        headline(
            ui,
            format!(
                "{:.0} pairs · distance min {} · mean {} · max {}",
                s(pd::N_PAIRS),
                num(lo),
                num(mean),
                num(hi)
            ),
        );
        let hist = cached(ui, "pairwise-hist", addr(d), || {
            Histogram::new(d.iter().copied(), 0.0, hi.max(f64::MIN_POSITIVE), BINS)
        });
        let points = match &cx.data.data {
            Dataset::Points(p) => Some(p),
            _ => None,
        };
        let in_unit_square = points.is_some_and(|p| p.xy.iter().all(|v| (0.0..=1.0).contains(v)));
        split(
            ui,
            0.62,
            |ui| histogram_ui(ui, &hist, mean, in_unit_square, cx),
            |ui| {
                if let Some(p) = points {
                    let xy: Vec<[f64; 2]> = stride(p.xy.rows().into_iter())
                        .iter()
                        .map(|r| [r[0], r[1]])
                        .collect();
                    note(ui, format!("the {} input points", p.xy.nrows()));
                    Plot::new("pairwise-points")
                        .data_aspect(1.0)
                        .x_axis_label("x")
                        .y_axis_label("y")
                        .legend(Legend::default())
                        .show(ui, |pl| {
                            pl.points(
                                Points::new("points", xy)
                                    .radius(1.0 + cx.line_w * 0.5)
                                    .color(palette(2)),
                            );
                        });
                }
            },
        );
    }
}

/// The histogram, the mean as a vertical line and the uniform-square expectation.
fn histogram_ui(
    ui: &mut egui::Ui,
    hist: &Histogram,
    mean: f64,
    in_unit_square: bool,
    cx: &ResultCtx<'_>,
) {
    note(
        ui,
        "how often each distance occurs (hover a bar for its range and count)",
    );
    let total: u64 = hist.counts.iter().sum();
    let expected: Vec<[f64; 2]> = if in_unit_square {
        (0..=200)
            .map(|i| {
                let x = i as f64 / 200.0 * std::f64::consts::SQRT_2;
                [x, unit_square_pdf(x) * total as f64 * hist.width]
            })
            .collect()
    } else {
        Vec::new()
    };
    Plot::new("pairwise-hist")
        .legend(Legend::default())
        .x_axis_label("distance (input units)")
        .y_axis_label("pairs per bin")
        .include_y(0.0)
        .show(ui, |p| {
            p.bar_chart(hist.chart("distances", "", "pairs", palette(0)));
            if !expected.is_empty() {
                p.line(
                    Line::new("expected for uniform points in the unit square", expected)
                        .color(palette(1))
                        .width(cx.line_w),
                );
            }
            p.vline(
                VLine::new(format!("mean {}", num(mean)), mean)
                    .color(Color32::from_rgb(230, 60, 60))
                    .width(cx.line_w),
            );
        });
}

/// Probability density of the distance between two points uniform in the unit square
/// (Ghosh 1951): 2d(π − 4d + d²) up to 1, 2d(4·asin(1/d) + 4√(d²−1) − π − 2 − d²) up
/// to √2.
fn unit_square_pdf(d: f64) -> f64 {
    use std::f64::consts::PI;
    if !(0.0..=std::f64::consts::SQRT_2).contains(&d) {
        0.0
    } else if d <= 1.0 {
        2.0 * d * (PI - 4.0 * d + d * d)
    } else {
        2.0 * d * (4.0 * (1.0 / d).asin() + 4.0 * (d * d - 1.0).sqrt() - PI - 2.0 - d * d)
    }
}

#[cfg(test)]
mod tests {
    /// The density integrates to one.
    #[test]
    fn unit_square_pdf_is_normalised() {
        let n = 100_000;
        let h = std::f64::consts::SQRT_2 / n as f64;
        let total: f64 = (0..n)
            .map(|i| super::unit_square_pdf((i as f64 + 0.5) * h) * h)
            .sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }
}
