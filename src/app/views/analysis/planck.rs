//! Planck function: B_λ(T) over the wavelength grid on log–log axes with its computed
//! peak and Wien's law λ_max = b/T (the locus of every temperature's peak, dashed), a
//! couple of faint reference temperatures, and beside it the running band integral as a
//! share of σT⁴/π against the analytic black-body fraction.

use super::common::{addr, cached, headline, note, num, series_line, split};
use super::{ResultCtx, ResultView};
use crate::analyses::planck::{self as pl, Planck};
use crate::app::theme::palette;
use crate::app::views::ViewerState;
use crate::data::Dataset;
use crate::engine::Analysis;
use egui::Color32;
use egui_plot::{GridInput, GridMark, HLine, Line, LineStyle, MarkerShape, Plot, Points, VLine};
use std::borrow::Cow;

pub struct PlanckView;

/// The Wien locus and λ_max line (one key).
const WIEN: &str = "Wien λ_max = b/T";
const THEORY_RED: Color32 = Color32::from_rgb(230, 60, 60);
/// Points drawn of the run's curve (log-spaced in λ).
const DRAWN: usize = 1_500;
/// Points of the reference and analytic curves.
const SMOOTH: usize = 300;
/// Decades of B_λ shown below the lowest peak drawn.
const DECADES_BELOW: f64 = 2.5;

/// What is drawn from the run's million values, computed once per output.
struct Prepared {
    /// (log10 λ, log10 B) at log-spaced grid points with B > 0.
    curve: Vec<[f64; 2]>,
    /// (log10 λ, % of σT⁴/π) of the trapezoid integral from the grid's start.
    cumulative: Vec<[f64; 2]>,
    lo: f64,
    hi: f64,
}

impl ResultView for PlanckView {
    fn analysis(&self) -> &'static dyn Analysis {
        &Planck
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Some(b) = cx.out.f64_slice(pl::RADIANCE) else {
            ui.label("This run has no radiance.");
            return;
        };
        let Some(wl) = wavelengths(&cx.data.data, b.len()) else {
            ui.label("The run's wavelengths do not match its radiance values.");
            return;
        };
        let s = |k| cx.out.summary_f64(k).unwrap_or(f64::NAN);
        let t = s(pl::TEMPERATURE_K);
        let scale = cx.param_f64("scale").unwrap_or(1.0);
        let (peak, wien) = (s(pl::PEAK_NM), s(pl::WIEN_PEAK_NM));
        let frac = s(pl::BAND_FRACTION);
        let total = scale * pl::SIGMA_SB * t.powi(4) / std::f64::consts::PI;
        let prep = cached(ui, "planck-prepared", addr(b), || prepare(&wl, b, total));
        headline(
            ui,
            format!(
                "B_λ at T = {} K, {} wavelengths {}–{} nm · peak {} nm, Wien b/T {} nm (rel. diff {:.1e}) · band = {}% of σT⁴/π",
                short(t),
                b.len(),
                short(prep.lo),
                short(prep.hi),
                short(peak),
                short(wien),
                s(pl::PEAK_REL_DIFF),
                short(100.0 * frac)
            ),
        );
        let lw = cx.line_w;
        split(
            ui,
            0.58,
            |ui| spectrum_ui(ui, &prep, t, scale, peak, s(pl::PEAK_RADIANCE), wien, lw),
            |ui| band_ui(ui, &prep, t, frac, lw),
        );
    }
}

/// The run's wavelengths in nm (as the analysis reads its input), if there are `n`.
fn wavelengths(data: &Dataset, n: usize) -> Option<Cow<'_, [f64]>> {
    let wl: Cow<[f64]> = match data {
        Dataset::Table(t) if t.data.ncols() >= 1 => Cow::Owned(t.data.column(0).to_vec()),
        Dataset::Spectrum(s) => Cow::Owned(s.wavelength.iter().map(|w| w / 10.0).collect()),
        _ => Cow::Owned(
            pl::wavelength_grid(n, pl::GRID_NM.0, pl::GRID_NM.1)
                .data
                .column(0)
                .to_vec(),
        ),
    };
    (wl.len() == n).then_some(wl)
}

/// The drawn curve and the running band integral, both at about [`DRAWN`] log-spaced
/// points when the grid ascends (every k-th point otherwise; no running integral).
fn prepare(wl: &[f64], b: &[f64], total: f64) -> Prepared {
    let n = wl.len();
    let (lo, hi) = wl
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, c), &w| {
            (a.min(w), c.max(w))
        });
    let ascending = wl.windows(2).all(|w| w[1] > w[0]);
    let picks: Vec<usize> = if ascending && n > DRAWN && lo > 0.0 {
        let (l0, l1) = (lo.ln(), hi.ln());
        let mut v: Vec<usize> = (0..DRAWN)
            .map(|j| {
                let target = (l0 + (l1 - l0) * j as f64 / (DRAWN - 1) as f64).exp();
                wl.partition_point(|&w| w < target).min(n - 1)
            })
            .collect();
        v.dedup();
        v
    } else {
        (0..n).step_by(n.div_ceil(DRAWN).max(1)).collect()
    };
    let curve = picks
        .iter()
        .filter(|&&i| b[i] > 0.0 && b[i].is_finite())
        .map(|&i| [wl[i].log10(), b[i].log10()])
        .collect();
    let mut cumulative = Vec::new();
    if ascending && total > 0.0 {
        let mut acc = 0.0;
        let mut next = picks.iter().peekable();
        for i in 0..n {
            if i > 0 {
                acc += 0.5 * (b[i] + b[i - 1]) * (wl[i] - wl[i - 1]) * 1e-9;
            }
            if next.peek() == Some(&&i) {
                next.next();
                cumulative.push([wl[i].log10(), 100.0 * acc / total]);
            }
        }
    }
    Prepared {
        curve,
        cumulative,
        lo,
        hi,
    }
}

/// `SMOOTH` log-spaced wavelengths (nm) over [lo, hi].
fn log_grid(lo: f64, hi: f64) -> impl Iterator<Item = f64> {
    let (l0, l1) = (lo.log10(), hi.log10());
    (0..SMOOTH).map(move |j| 10f64.powf(l0 + (l1 - l0) * j as f64 / (SMOOTH - 1) as f64))
}

/// Reference temperatures: cool dwarf, Sun, A star when the run is near them (leaving
/// out the one the run is at), else half and twice the run's.
fn references(t: f64) -> Vec<(f64, String)> {
    if (1_500.0..=20_000.0).contains(&t) {
        [(3_000.0, "M dwarf"), (5_778.0, "Sun"), (10_000.0, "A star")]
            .into_iter()
            .filter(|(r, _)| (r / t - 1.0).abs() > 0.05)
            .map(|(r, who)| (r, format!("{r:.0} K ({who})")))
            .collect()
    } else {
        [0.5 * t, 2.0 * t]
            .into_iter()
            .map(|r| (r, format!("{} K", num(r))))
            .collect()
    }
}

/// B_λ on log–log axes: the run's curve, faint reference temperatures, the Wien locus
/// (every temperature's peak, B_λ(b/T, T)), the computed peak and λ_max = b/T.
#[allow(clippy::too_many_arguments)]
fn spectrum_ui(
    ui: &mut egui::Ui,
    prep: &Prepared,
    t: f64,
    scale: f64,
    peak: f64,
    peak_b: f64,
    wien: f64,
    lw: f32,
) {
    note(ui, "log–log; faint: other temperatures");
    let refs = references(t);
    let run_name = format!("T = {} K (run)", short(t));
    let ref_color = |k: usize| palette(if k == 0 { 0 } else { 2 }).gamma_multiply(0.55);
    let mut keys: Vec<(String, Color32, bool)> = vec![(run_name.clone(), palette(1), false)];
    keys.extend(
        refs.iter()
            .enumerate()
            .map(|(k, (_, name))| (name.clone(), ref_color(k), false)),
    );
    keys.push((WIEN.to_string(), THEORY_RED, true));
    keys.push(("computed peak".to_string(), Color32::WHITE, false));
    key_row(ui, &keys);
    let planck = |w: f64, temp: f64| pl::planck_function(w, temp, scale);
    // The lowest value shown: a few decades below the lowest peak drawn.
    let peak_of = |temp: f64| planck(pl::WIEN_B / temp * 1e9, temp);
    let lowest_peak = refs
        .iter()
        .map(|(r, _)| peak_of(*r))
        .fold(peak_of(t), f64::min);
    let highest_peak = refs
        .iter()
        .map(|(r, _)| peak_of(*r))
        .fold(peak_of(t), f64::max);
    let floor = lowest_peak.log10() - DECADES_BELOW;
    let ceiling = highest_peak.log10() + 0.5;
    let clip = |pts: Vec<[f64; 2]>| -> Vec<[f64; 2]> {
        pts.into_iter()
            .filter(|p| p[1].is_finite() && p[1] >= floor && p[1] <= ceiling)
            .collect()
    };
    let curve_of = |temp: f64| -> Vec<[f64; 2]> {
        clip(
            log_grid(prep.lo, prep.hi)
                .map(|w| [w.log10(), planck(w, temp).log10()])
                .collect(),
        )
    };
    // Wien locus: at λ the temperature peaking there is b/λ.
    let locus = clip(
        log_grid(prep.lo, prep.hi)
            .map(|w| [w.log10(), planck(w, pl::WIEN_B / (w * 1e-9)).log10()])
            .collect(),
    );
    let run = clip(prep.curve.clone());
    Plot::new("planck-spectrum")
        .x_axis_label("wavelength λ (nm, log)")
        .y_axis_label("B_λ (W/(m³ sr), log)")
        .x_grid_spacer(log_marks)
        .y_grid_spacer(log_marks)
        .x_axis_formatter(|m, _| log_label(m))
        .y_axis_formatter(|m, _| log_label(m))
        .include_x(prep.lo.log10())
        .include_x(prep.hi.log10())
        .include_y(floor)
        .label_formatter(|name, p| {
            let who = series_line(name);
            format!(
                "{who}λ = {} nm\nB_λ = {:.3e} W/(m³ sr)",
                num(10f64.powf(p.x)),
                10f64.powf(p.y)
            )
        })
        .show(ui, |p| {
            for (k, (temp, name)) in refs.iter().enumerate() {
                p.line(
                    Line::new(name.clone(), curve_of(*temp))
                        .color(ref_color(k))
                        .width(lw),
                );
            }
            p.line(
                Line::new(WIEN, locus)
                    .color(THEORY_RED)
                    .style(LineStyle::dashed_loose())
                    .width(lw),
            );
            if wien.is_finite() && wien > 0.0 {
                p.vline(
                    VLine::new(format!("{WIEN} = {} nm", short(wien)), wien.log10())
                        .color(THEORY_RED.gamma_multiply(0.7))
                        .style(LineStyle::dotted_loose())
                        .width(lw),
                );
            }
            p.line(Line::new(run_name, run).color(palette(1)).width(lw + 1.0));
            if peak.is_finite() && peak > 0.0 && peak_b > 0.0 {
                p.points(
                    Points::new(
                        format!("computed peak {} nm", short(peak)),
                        vec![[peak.log10(), peak_b.log10()]],
                    )
                    .shape(MarkerShape::Diamond)
                    .filled(true)
                    .radius(5.0 + lw)
                    .color(Color32::WHITE),
                );
            }
        });
}

/// Fraction of the black body's radiance emitted below λ:
/// (15/π⁴) Σₙ e^(−nx)/n · (x³ + 3x²/n + 6x/n² + 6/n³), x = hc/(λkT).
fn below_fraction(lambda_nm: f64, t: f64) -> f64 {
    let x = pl::H * pl::C / (lambda_nm * 1e-9 * pl::K_B * t);
    let mut sum = 0.0;
    for n in 1..=20_000 {
        let nf = n as f64;
        let e = (-nf * x).exp();
        let term =
            e / nf * (x * x * x + 3.0 * x * x / nf + 6.0 * x / (nf * nf) + 6.0 / (nf * nf * nf));
        sum += term;
        if term < 1e-17 * sum {
            break;
        }
    }
    15.0 / std::f64::consts::PI.powi(4) * sum
}

/// The running band integral from the grid's start as a share of σT⁴/π, against the
/// analytic black-body fraction over the same wavelengths.
fn band_ui(ui: &mut egui::Ui, prep: &Prepared, t: f64, frac: f64, lw: f32) {
    note(
        ui,
        format!("∫ B_λ dλ from {} nm to λ (% of σT⁴/π)", short(prep.lo)),
    );
    key_row(
        ui,
        &[
            ("run (trapezoid)".to_string(), palette(1), false),
            ("analytic black body".to_string(), THEORY_RED, true),
            ("100% = σT⁴/π".to_string(), palette(7), true),
        ],
    );
    let start = below_fraction(prep.lo, t);
    let analytic: Vec<[f64; 2]> = log_grid(prep.lo, prep.hi)
        .map(|w| [w.log10(), 100.0 * (below_fraction(w, t) - start)])
        .collect();
    let band_total = analytic.last().map_or(f64::NAN, |p| p[1]);
    Plot::new("planck-band")
        .x_axis_label("wavelength λ (nm, log)")
        .y_axis_label("share of σT⁴/π (%)")
        .y_grid_spacer(|input: GridInput| {
            let (lo, hi) = input.bounds;
            ((lo / 10.0).ceil() as i64..=(hi / 10.0).floor() as i64)
                .map(|i| GridMark {
                    value: 10.0 * i as f64,
                    step_size: if i % 2 == 0 { 20.0 } else { 10.0 },
                })
                .collect()
        })
        .y_axis_formatter(|m, _| {
            if m.step_size >= 20.0 {
                format!("{:.0}", m.value)
            } else {
                String::new()
            }
        })
        .x_grid_spacer(log_marks)
        .x_axis_formatter(|m, _| log_label(m))
        .include_x(prep.lo.log10())
        .include_x(prep.hi.log10())
        .include_y(0.0)
        .include_y(105.0)
        .label_formatter(|name, p| {
            let who = series_line(name);
            format!(
                "{who}λ = {} nm\n{:.3} % of σT⁴/π",
                num(10f64.powf(p.x)),
                p.y
            )
        })
        .show(ui, |p| {
            p.hline(
                HLine::new("100% = σT⁴/π", 100.0)
                    .color(palette(7))
                    .style(LineStyle::dotted_loose())
                    .width(lw),
            );
            p.line(
                Line::new(
                    format!("run (trapezoid): band {}%", short(100.0 * frac)),
                    prep.cumulative.clone(),
                )
                .color(palette(1))
                .width(lw + 1.0),
            );
            p.line(
                Line::new(
                    format!("analytic black body: band {}%", short(band_total)),
                    analytic,
                )
                .color(THEORY_RED)
                .style(LineStyle::dashed_loose())
                .width(lw),
            );
        });
}

/// Grid marks of a log10 axis: decades always, 2 and 5 labelled when the view spans
/// under three decades, the other mantissas as faint lines.
fn log_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) {
        return Vec::new();
    }
    let dense = span < 3.0;
    let mut marks = Vec::new();
    for k in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for m in 1..=9 {
            if !dense && m > 1 && span > 8.0 {
                continue;
            }
            let value = k as f64 + (m as f64).log10();
            if value < lo || value > hi {
                continue;
            }
            let step_size = match m {
                1 => 1.0,
                2 | 5 if dense => 0.3,
                _ => 0.05,
            };
            marks.push(GridMark { value, step_size });
        }
    }
    marks
}

/// The value of a log10 mark: labelled at decades (and at 2 and 5 on a dense axis).
fn log_label(m: GridMark) -> String {
    if m.step_size < 0.25 {
        return String::new();
    }
    let v = 10f64.powf(m.value);
    let k = m.value.floor();
    let mant = (v / 10f64.powf(k)).round();
    if (1e-2..1e5).contains(&v) {
        let t = format!("{v:.2}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{mant:.0}e{k:.0}")
    }
}

/// A number as `num` gives it without a trailing ".0" (5778 K, not 5778.0 K).
fn short(v: f64) -> String {
    let t = num(v);
    if t.contains('.') && !t.contains('e') {
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        t
    }
}

/// The plot's key as one wrapping row above it (a legend inside the plot would cover
/// the curves on a projector): a coloured stroke (dashed for theory) and the name, each
/// pair kept together when the row wraps.
fn key_row(ui: &mut egui::Ui, keys: &[(String, Color32, bool)]) {
    ui.horizontal_wrapped(|ui| {
        for (name, color, dashed) in keys {
            let font = egui::TextStyle::Body.resolve(ui.style());
            let text_color = ui.visuals().text_color();
            let galley = ui.painter().layout_no_wrap(name.clone(), font, text_color);
            let swatch = 2.0 * galley.size().y;
            let size = egui::vec2(swatch + 6.0 + galley.size().x, galley.size().y);
            let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
            let y = rect.center().y;
            let a = egui::pos2(rect.left(), y);
            let b = egui::pos2(rect.left() + swatch, y);
            let stroke = egui::Stroke::new(3.0, *color);
            if *dashed {
                ui.painter()
                    .extend(egui::Shape::dashed_line(&[a, b], stroke, 6.0, 4.0));
            } else {
                ui.painter().line_segment([a, b], stroke);
            }
            ui.painter()
                .galley(egui::pos2(b.x + 6.0, rect.top()), galley, text_color);
            ui.add_space(10.0);
        }
    });
}
