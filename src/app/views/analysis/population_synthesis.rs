//! Population synthesis: the IMF of one realization on log–log axes against the Salpeter
//! slope (dN/dm ~ m^−2.35, a straight line there) with the turnoff mass, and the spread
//! of the realizations: histograms of their mean mass, stars alive and stars above
//! 8 M☉, each on its own axes with the analytic expectation.

use super::{ResultCtx, ResultView};
use crate::analyses::population_synthesis::{self as ps, Model, PopulationSynthesis};
use crate::app::theme::palette;
use crate::app::timing::log_axis;
use crate::app::views::ViewerState;
use crate::engine::Analysis;
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, Corner, Legend, Line, LineStyle, Plot, Points, VLine};

pub struct PopulationSynthesisView;

/// Columns of the realizations table the histograms show: (column, axis, summary key of
/// the expected value, whether the values are counts).
const SPREAD: [(usize, &str, &str, bool); 3] = [
    (2, "mean mass (M☉)", ps::MEAN_MASS_ANALYTIC, false),
    (4, "stars alive", ps::N_ALIVE_EXPECTED, true),
    (3, "stars above 8 M☉", ps::N_GT8_EXPECTED, true),
];
const EXPECTED_RED: Color32 = Color32::from_rgb(230, 60, 60);

impl ResultView for PopulationSynthesisView {
    fn analysis(&self) -> &'static dyn Analysis {
        &PopulationSynthesis
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let p = |k: &str, d: f64| cx.param_f64(k).unwrap_or(d);
        let model = Model {
            alpha: p("alpha", ps::SALPETER_ALPHA),
            m_min: p("m_min", 0.08),
            m_max: p("m_max", 120.0),
            age_gyr: p("age", 1.0),
        };
        let stars = p("stars", 0.0);
        let realizations = cx
            .out
            .table_of(ps::REALIZATIONS)
            .map_or(0, |(_, t)| t.nrows());
        ui.label(
            RichText::new(format!(
                "{realizations} realizations of {stars:.0} stars: dN/dm ~ m^{} on {}–{} M☉, {} Gyr old",
                model.alpha, model.m_min, model.m_max, model.age_gyr
            ))
            .strong(),
        );
        let h = ui.available_height();
        ui.columns(2, |c| {
            imf_ui(&mut c[0], cx, &model, stars, h);
            let each = h / SPREAD.len() as f32 - 24.0;
            for s in SPREAD {
                spread_ui(&mut c[1], cx, s, each);
            }
        });
    }
}

/// Realization 0's masses as dN/dm per logarithmic bin (log–log), the Salpeter power law
/// for the same stars (and the run's own slope when it differs), and the turnoff mass.
fn imf_ui(ui: &mut egui::Ui, cx: &ResultCtx<'_>, model: &Model, stars: f64, h: f32) {
    ui.label(RichText::new("IMF of realization 0 (log–log)").strong());
    let Some((_, t)) = cx.out.table_of(ps::IMF_HISTOGRAM) else {
        ui.label("This run has no IMF histogram.");
        return;
    };
    // dN/dm at each bin's geometric centre; empty bins have no logarithm.
    let hist: Vec<[f64; 2]> = t
        .rows()
        .into_iter()
        .filter(|r| r[2] > 0.0 && r[1] > r[0])
        .map(|r| [(r[0] * r[1]).sqrt().log10(), (r[2] / (r[1] - r[0])).log10()])
        .collect();
    let law = |m: &Model| -> Vec<[f64; 2]> {
        let (l0, l1) = (m.m_min.log10(), m.m_max.log10());
        (0..=100)
            .map(|i| l0 + (l1 - l0) * i as f64 / 100.0)
            .map(|lm| (lm, stars * m.density(10f64.powf(lm))))
            .filter(|(_, d)| *d > 0.0)
            .map(|(lm, d)| [lm, d.log10()])
            .collect()
    };
    let salpeter = Model {
        alpha: ps::SALPETER_ALPHA,
        ..*model
    };
    let turnoff = cx.out.summary_f64(ps::TURNOFF_MASS);
    let lw = cx.line_w;
    Plot::new("population_imf")
        .height(h - 30.0)
        .legend(Legend::default().position(Corner::LeftBottom))
        .x_axis_label("mass (M☉, log)")
        .y_axis_label("dN/dm (stars per M☉, log)")
        .x_axis_formatter(log_axis)
        .y_axis_formatter(log_axis)
        .label_formatter(|name, p| {
            format!(
                "{name}\nm = {:.3} M☉\ndN/dm = {:.3e}",
                10f64.powf(p.x),
                10f64.powf(p.y)
            )
        })
        .show(ui, |p| {
            p.line(
                Line::new("Salpeter: dN/dm ~ m^−2.35", law(&salpeter))
                    .color(Color32::from_rgb(230, 60, 60))
                    .width(lw),
            );
            if (model.alpha - ps::SALPETER_ALPHA).abs() > 1e-9 {
                p.line(
                    Line::new(format!("this run's slope: m^{}", model.alpha), law(model))
                        .color(palette(1))
                        .style(LineStyle::dashed_loose())
                        .width(lw),
                );
            }
            p.points(
                Points::new("drawn masses (realization 0)", hist)
                    .color(palette(0))
                    .radius(lw + 2.5),
            );
            if let Some(m) = turnoff.filter(|m| *m > 0.0 && m.is_finite()) {
                p.vline(
                    VLine::new(
                        format!("turnoff {m:.2} M☉: heavier stars are remnants"),
                        m.log10(),
                    )
                    .color(Color32::from_gray(150))
                    .style(LineStyle::dashed_loose())
                    .width(lw),
                );
            }
        });
}

/// A histogram over the realizations of one column, with its expected value (the
/// heading says what the bars and the red line are: the plots are too low for a legend).
fn spread_ui(
    ui: &mut egui::Ui,
    cx: &ResultCtx<'_>,
    (col, axis, expected_key, counts): (usize, &str, &str, bool),
    height: f32,
) {
    let values: Vec<f64> = cx
        .out
        .table_of(ps::REALIZATIONS)
        .filter(|(_, t)| t.ncols() > col)
        .map(|(_, t)| t.column(col).to_vec())
        .unwrap_or_default();
    let expected = cx.out.summary_f64(expected_key);
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Realizations by {axis};")).strong());
        if let Some(e) = expected {
            ui.label(
                RichText::new(format!("expected {e:.4}"))
                    .color(EXPECTED_RED)
                    .strong(),
            );
        }
    });
    let bars = histogram(&values, counts);
    Plot::new(format!("population_spread_{col}"))
        .height(height)
        .allow_scroll(false)
        .x_axis_label(axis)
        .include_y(0.0)
        .show(ui, |p| {
            p.bar_chart(
                BarChart::new(format!("{} realizations", values.len()), bars)
                    .color(palette(2))
                    .element_formatter(Box::new(|b, _| b.name.clone())),
            );
            if let Some(e) = expected {
                p.vline(
                    VLine::new(format!("expected {e:.4}"), e)
                        .color(EXPECTED_RED)
                        .width(cx.line_w),
                );
            }
        });
}

/// Bars of a histogram of `values`: about √n bins (at most 40), whole-number wide and
/// centred on whole numbers when the values are counts.
fn histogram(values: &[f64], counts: bool) -> Vec<Bar> {
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if lo > hi {
        return Vec::new();
    }
    let bins = (values.len() as f64).sqrt().ceil().clamp(1.0, 40.0);
    let (start, width) = if counts {
        (lo - 0.5, ((hi - lo + 1.0) / bins).ceil().max(1.0))
    } else if hi > lo {
        (lo, (hi - lo) / bins * (1.0 + 1e-9))
    } else {
        (lo - 0.5, 1.0)
    };
    let n = (((hi - start) / width).floor() as usize) + 1;
    let mut tally = vec![0usize; n];
    for v in values.iter().filter(|v| v.is_finite()) {
        let b = (((v - start) / width).floor() as usize).min(n - 1);
        tally[b] += 1;
    }
    tally
        .iter()
        .enumerate()
        .map(|(b, &c)| {
            let x0 = start + width * b as f64;
            Bar::new(x0 + width / 2.0, c as f64)
                .width(width)
                .name(if counts && width == 1.0 {
                    format!("{:.0}: {c} realizations", x0 + 0.5)
                } else {
                    format!("{x0:.4} – {:.4}: {c} realizations", x0 + width)
                })
        })
        .collect()
}
