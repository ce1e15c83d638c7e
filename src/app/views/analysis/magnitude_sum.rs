//! Magnitude addition: how much brighter a pair is than its brighter star,
//! min(m1, m2) − m, against the magnitude difference |m1 − m2| for a subsample of the
//! pairs, on the analytic curve 2.5·log10(1 + 10^(−0.4Δ)) (0.753 mag for equal stars),
//! with the largest deviation of all pairs from it; beside it the histogram of the
//! combined magnitudes against the inputs' and the brighter input's.

use super::common::{
    addr, cached, grouped, headline, key, note, num, series_line, split, Histogram,
};
use super::{ResultCtx, ResultView};
use crate::analyses::magnitude_sum::{self as ms, MagnitudeSum};
use crate::app::theme::palette;
use crate::app::views::ViewerState;
use crate::data::{Dataset, Table};
use crate::engine::Analysis;
use egui::{Align2, Color32, RichText, TextStyle};
use egui_plot::{AxisHints, BarChart, Legend, Line, LineStyle, Plot, PlotPoint, Points, Text};

pub struct MagnitudeSumView;

/// Pairs drawn in the scatter (every k-th pair of the input).
const SHOWN: usize = 400;
/// Bins of the magnitude histograms.
const BINS: usize = 50;
const THEORY_RED: Color32 = Color32::from_rgb(230, 60, 60);

/// The brightening of a pair with magnitude difference `d`: 2.5·log10(1 + 10^(−0.4 d)).
fn gain(d: f64) -> f64 {
    2.5 * (1.0 + 10f64.powf(-0.4 * d)).log10()
}

/// Bins of width 0.01, 0.02, 0.05, 0.1, … mag covering [lo, hi] in about `BINS`
/// bins, with edges on multiples of the width: (start, end, bins).
fn bins(lo: f64, hi: f64) -> (f64, f64, usize) {
    let raw = ((hi - lo) / BINS as f64).max(1e-9);
    let p = 10f64.powf(raw.log10().floor());
    let w = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|w| *w >= raw)
        .unwrap_or(10.0 * p);
    let (a, b) = ((lo / w).floor() * w, (hi / w).ceil() * w);
    (a, b, (((b - a) / w).round() as usize).max(1))
}

/// What is computed once per run over all pairs.
struct Stats {
    /// Largest |(min(m1, m2) − m) − gain(|m1 − m2|)| over the finite pairs.
    max_dev: f64,
    /// Histograms of m, of the inputs m1 and m2 (each) and of min(m1, m2), same bins.
    combined: Histogram,
    m1: Histogram,
    m2: Histogram,
    brighter: Histogram,
}

fn stats(t: &Table, m: &[f64]) -> Stats {
    let (lo, _) = finite_span(m.iter().copied());
    let (_, hi) = finite_span(t.data.iter().copied());
    let (lo, hi, n_bins) = bins(lo, hi);
    let pairs = || {
        t.data
            .rows()
            .into_iter()
            .zip(m)
            .map(|(r, &v)| (r[0], r[1], v))
    };
    let max_dev = pairs()
        .filter(|(a, b, v)| a.is_finite() && b.is_finite() && v.is_finite())
        .map(|(a, b, v)| ((a.min(b) - v) - gain((a - b).abs())).abs())
        .fold(0.0, f64::max);
    Stats {
        max_dev,
        combined: Histogram::new(m.iter().copied(), lo, hi, n_bins),
        m1: Histogram::new(pairs().map(|p| p.0), lo, hi, n_bins),
        m2: Histogram::new(pairs().map(|p| p.1), lo, hi, n_bins),
        brighter: Histogram::new(pairs().map(|p| p.0.min(p.1)), lo, hi, n_bins),
    }
}

impl ResultView for MagnitudeSumView {
    fn analysis(&self) -> &'static dyn Analysis {
        &MagnitudeSum
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Some(m) = cx.out.f64_slice(ms::COMBINED_MAG) else {
            ui.label("This run has no combined magnitudes.");
            return;
        };
        let s = |k| cx.out.summary_f64(k);
        let bad = s(ms::N_NON_FINITE).unwrap_or(0.0);
        let show = |v: Option<f64>| v.map_or("none".to_string(), |v| format!("{v:.3}"));
        headline(
            ui,
            format!(
                "{} pairs combined · brightest {} · faintest {} · mean gain over the brighter star {} mag · {bad:.0} non-finite",
                grouped(m.len() as u64),
                show(s(ms::BRIGHTEST)),
                show(s(ms::FAINTEST)),
                s(ms::MEAN_GAIN).map_or("–".to_string(), |g| format!("{g:.4}")),
            ),
        );
        // The pairs the run combined: its input table, or the one it generated itself
        // when it had no input (default size, seed 1).
        let generated = match &cx.data.data {
            Dataset::None if m.len() == MagnitudeSum.default_size() => {
                Some(cached(ui, "magsum-generated", addr(m), || {
                    ms::magnitude_table(m.len(), 1)
                }))
            }
            _ => None,
        };
        let table: Option<&Table> = match (&cx.data.data, &generated) {
            (Dataset::Table(t), _) if t.data.ncols() >= 2 && t.data.nrows() == m.len() => Some(t),
            (_, Some(g)) => Some(g),
            _ => None,
        };
        let Some(t) = table else {
            ui.label("The input pairs of this run are not at hand: only the combined magnitudes can be shown.");
            let h = cached(ui, "magsum-hist-only", addr(m), || {
                let (lo, hi) = finite_span(m.iter().copied());
                let (lo, hi, n_bins) = bins(lo, hi);
                Histogram::new(m.iter().copied(), lo, hi, n_bins)
            });
            Plot::new("magsum-hist-only")
                .legend(Legend::default())
                .x_axis_label("combined magnitude m (mag)")
                .y_axis_label("pairs per bin")
                .show(ui, |p| {
                    p.bar_chart(h.chart("combined m", "mag", "pairs", palette(0)));
                });
            return;
        };
        let st = cached(ui, "magsum-stats", addr(m), || stats(t, m));
        split(
            ui,
            0.5,
            |ui| gain_ui(ui, t, m, st.max_dev, cx),
            |ui| histogram_ui(ui, &st, cx),
        );
    }
}

/// The smallest and largest finite value (0, 1 when there is none).
fn finite_span(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if lo <= hi {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// Brightening against magnitude difference: every k-th pair on the analytic curve.
fn gain_ui(ui: &mut egui::Ui, t: &Table, m: &[f64], max_dev: f64, cx: &ResultCtx<'_>) {
    let step = m.len().div_ceil(SHOWN).max(1);
    let pts: Vec<[f64; 2]> = t
        .data
        .rows()
        .into_iter()
        .zip(m)
        .step_by(step)
        .map(|(r, &v)| [(r[0] - r[1]).abs(), r[0].min(r[1]) - v])
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .collect();
    let d_max = pts.iter().map(|p| p[0]).fold(5.0, f64::max);
    let curve: Vec<[f64; 2]> = (0..=300)
        .map(|i| {
            let d = d_max * i as f64 / 300.0;
            [d, gain(d)]
        })
        .collect();
    note(
        ui,
        format!(
            "every {}th of {} pairs; all lie on the curve (largest deviation {} mag)",
            grouped(step as u64),
            grouped(m.len() as u64),
            num(max_dev)
        ),
    );
    ui.horizontal_wrapped(|ui| {
        key(ui, palette(0), "● pairs: brightening min(m1, m2) − m");
        key(ui, THEORY_RED, "— 2.5·log10(1 + 10^(−0.4Δ))");
    });
    let lw = cx.line_w;
    // Both plots' x labels are short numbers: they may sit closer than egui's default
    // 60 points apart, so the lecture zoom keeps them.
    Plot::new("magsum-gain")
        .custom_x_axes(vec![AxisHints::new_x()
            .label("magnitude difference Δ = |m1 − m2| (mag)")
            .label_spacing(28.0..=40.0)])
        .y_axis_label("brightening (mag)")
        .include_x(0.0)
        .include_y(0.0)
        .include_y(0.85)
        .allow_scroll(false)
        .label_formatter(|name, p| {
            let at = format!(
                "Δ = {:.3} mag (flux ratio {:.3})",
                p.x,
                10f64.powf(-0.4 * p.x)
            );
            if name.is_empty() {
                format!("{at}\ncurve: {:.4} mag", gain(p.x))
            } else {
                format!("{name}\n{at}\nbrightening {:.4} mag", p.y)
            }
        })
        .show(ui, |p| {
            p.line(
                Line::new("2.5·log10(1 + 10^(−0.4Δ))", curve)
                    .color(THEORY_RED)
                    .width(lw),
            );
            p.points(
                Points::new("pairs", pts)
                    .color(palette(0))
                    .radius(1.5 + 0.5 * lw),
            );
            let g0 = gain(0.0);
            let d10 = 2.5;
            p.points(
                Points::new("marked on the curve", vec![[0.0, g0], [d10, gain(d10)]])
                    .color(THEORY_RED)
                    .radius(lw + 3.5),
            );
            let label = |t: String| {
                RichText::new(t)
                    .text_style(TextStyle::Body)
                    .color(THEORY_RED)
                    .strong()
            };
            p.text(
                Text::new(
                    "equal stars",
                    PlotPoint::new(0.06 * d_max, g0),
                    label(format!("Δ = 0, equal stars:\n2.5·log10 2 = {g0:.3} mag")),
                )
                .anchor(Align2::LEFT_CENTER),
            );
            // Up and to the right of its point, clear of the curve, with a leader.
            let (tx, ty) = (d10 + 0.14 * d_max, gain(d10) + 0.15);
            p.line(
                Line::new(
                    "marked on the curve",
                    vec![[d10, gain(d10) + 0.012], [tx - 0.05 * d_max, ty - 0.005]],
                )
                .color(THEORY_RED)
                .width(1.0),
            );
            p.text(
                Text::new(
                    "ten times fainter",
                    PlotPoint::new(tx, ty),
                    label(format!("Δ = 2.5, 10× fainter:\n{:.3} mag", gain(d10))),
                )
                .anchor(Align2::CENTER_BOTTOM),
            );
        });
}

/// A histogram as a step outline (counts at the left edge of each bin).
fn steps(h: &Histogram) -> Vec<[f64; 2]> {
    h.counts
        .iter()
        .enumerate()
        .flat_map(|(k, &c)| [[h.edge(k), c as f64], [h.edge(k + 1), c as f64]])
        .collect()
}

/// Combined magnitudes (bars) against the inputs (outline) and the brighter input.
fn histogram_ui(ui: &mut egui::Ui, st: &Stats, cx: &ResultCtx<'_>) {
    note(
        ui,
        "each pair ends 0.01 … 0.75 mag brighter (left) than its brighter star",
    );
    ui.horizontal_wrapped(|ui| {
        key(ui, palette(0), "■ combined m");
        key(ui, palette(1), "— inputs m1, m2");
        key(ui, palette(3), "- - brighter input min(m1, m2)");
    });
    let lw = cx.line_w;
    let combined: BarChart =
        st.combined
            .chart("combined m", "mag", "pairs", palette(0).gamma_multiply(0.8));
    Plot::new("magsum-hist")
        .custom_x_axes(vec![AxisHints::new_x()
            .label("magnitude (mag)")
            .label_spacing(28.0..=40.0)])
        .y_axis_label("pairs per bin")
        .include_y(0.0)
        .allow_scroll(false)
        .label_formatter(|name, p| {
            let who = series_line(name);
            format!("{who}{:.3} mag\n{:.0} per bin", p.x, p.y)
        })
        .show(ui, |p| {
            p.bar_chart(combined);
            for (name, h) in [("input m1", &st.m1), ("input m2", &st.m2)] {
                p.line(Line::new(name, steps(h)).color(palette(1)).width(lw));
            }
            p.line(
                Line::new("brighter input min(m1, m2)", steps(&st.brighter))
                    .color(palette(3))
                    .style(LineStyle::dashed_loose())
                    .width(lw),
            );
        });
}
