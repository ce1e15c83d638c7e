//! Angular distances: the histogram of the N(N−1)/2 distances off the matrix' diagonal
//! (the diagonal is each source with itself, zero), with the sin θ / 2 law that sources
//! spread uniformly over the whole sky follow, beside the sources on the sky.

use super::common::{addr, cached, headline, note, num, span, split, Histogram};
use super::{ResultCtx, ResultView};
use crate::analyses::angular_distances as ad;
use crate::app::theme::palette;
use crate::app::views::{stride, ViewerState};
use crate::data::{Catalog, Dataset};
use crate::engine::Analysis;
use egui::Color32;
use egui_plot::{Legend, Line, Plot, Points, VLine};

pub struct AngularDistancesView;

/// Bins of the histogram over 0–180°: two degrees each.
const BINS: usize = 90;

impl ResultView for AngularDistancesView {
    fn analysis(&self) -> &'static dyn Analysis {
        &ad::AngularDistances
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Some(d) = cx.out.f64_slice(ad::DISTANCES) else {
            ui.label("This run has no distance matrix.");
            return;
        };
        let n = (d.len() as f64).sqrt().round() as usize;
        let s = |k| cx.out.summary_f64(k).unwrap_or(f64::NAN);
        let mean = s(ad::MEAN_OFFDIAG_DEG);
        headline(
            ui,
            format!(
                "{n} sources · {} pairs · off-diagonal min {}° · mean {}° · max {}°",
                n * n.saturating_sub(1) / 2,
                num(s(ad::MIN_OFFDIAG_DEG)),
                num(mean),
                num(s(ad::MAX_DEG))
            ),
        );
        let hist = cached(ui, "angular-hist", addr(d), || {
            // The upper triangle, row by row: each pair once, the zero diagonal left out.
            let upper = (0..n).flat_map(|i| d[i * n + i + 1..(i + 1) * n].iter().copied());
            Histogram::new(upper, 0.0, 180.0, BINS)
        });
        let cat = match &cx.data.data {
            Dataset::Catalog(c) => Some(c),
            _ => None,
        };
        split(
            ui,
            0.55,
            |ui| histogram_ui(ui, &hist, mean, cat.is_some_and(all_sky), cx.line_w),
            |ui| {
                if let Some(c) = cat {
                    sky_ui(ui, c, cx.line_w);
                }
            },
        );
    }
}

/// Whether a catalog covers the whole sky (so the uniform-sphere law applies to it).
fn all_sky(c: &Catalog) -> bool {
    let (ra0, ra1) = span(&c.ra);
    let (de0, de1) = span(&c.dec);
    c.len() >= 100 && ra1 - ra0 > 300.0 && de0 < -60.0 && de1 > 60.0
}

/// The off-diagonal histogram, the mean, and the uniform-sphere expectation.
fn histogram_ui(ui: &mut egui::Ui, hist: &Histogram, mean: f64, all_sky: bool, line_w: f32) {
    note(
        ui,
        "distances between distinct sources (hover a bar for its range and count)",
    );
    let total: u64 = hist.counts.iter().sum();
    // Uniform on the sphere: P(θ in [a, b]) = (cos a − cos b) / 2.
    let expected: Vec<[f64; 2]> = if all_sky {
        (0..=180)
            .map(|deg| {
                let t = (deg as f64).to_radians();
                let w = hist.width.to_radians();
                [deg as f64, total as f64 * t.sin() / 2.0 * w]
            })
            .collect()
    } else {
        Vec::new()
    };
    Plot::new("angular-hist")
        .legend(Legend::default())
        .x_axis_label("angular distance (deg)")
        .y_axis_label("pairs per 2° bin")
        .include_y(0.0)
        .include_x(0.0)
        .include_x(180.0)
        .show(ui, |p| {
            p.bar_chart(hist.chart("distances", "deg", "pairs", palette(0)));
            if !expected.is_empty() {
                p.line(
                    Line::new("uniform sky: sin θ / 2", expected)
                        .color(palette(1))
                        .width(line_w),
                );
            }
            p.vline(
                VLine::new(format!("mean {}°", num(mean)), mean)
                    .color(Color32::from_rgb(230, 60, 60))
                    .width(line_w),
            );
        });
}

/// The sources on the sky (RA, Dec).
fn sky_ui(ui: &mut egui::Ui, c: &Catalog, line_w: f32) {
    note(ui, format!("the {} sources on the sky", c.len()));
    let xy: Vec<[f64; 2]> = stride(c.ra.iter().zip(c.dec.iter()).map(|(a, d)| [*a, *d]));
    Plot::new("angular-sky")
        .legend(Legend::default())
        .x_axis_label("RA (deg)")
        .y_axis_label("Dec (deg)")
        .data_aspect(1.0)
        .label_formatter(|_, p| format!("RA {:.3}°\nDec {:.3}°", p.x, p.y))
        .show(ui, |p| {
            p.points(
                Points::new("sources", xy)
                    .radius(1.0 + line_w * 0.4)
                    .color(palette(2)),
            );
        });
}
