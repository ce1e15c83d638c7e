//! Kepler orbit by leapfrog: the track in the orbital plane (AU, equal aspect, the Sun at
//! the origin) beside the relative energy error (E − E0)/|E0| against time, which a
//! symplectic integrator keeps bounded at O(dt²) with no secular drift.

use super::common::{headline, note, num, series_line, split};
use super::{ResultCtx, ResultView};
use crate::analyses::orbit_leapfrog::{self as ol, OrbitLeapfrog, State};
use crate::app::theme::palette;
use crate::app::views::ViewerState;
use crate::data::Dataset;
use crate::engine::Analysis;
use egui::Color32;
use egui_plot::{
    Corner, GridInput, GridMark, HLine, Legend, Line, LineStyle, MarkerShape, Plot, Points, VLine,
};
use ndarray::Array2;

pub struct OrbitLeapfrogView;

const SUN: Color32 = Color32::from_rgb(255, 190, 40);
const BOUND_RED: Color32 = Color32::from_rgb(230, 60, 60);
const DAYS_PER_YEAR: f64 = 365.25;

impl ResultView for OrbitLeapfrogView {
    fn analysis(&self) -> &'static dyn Analysis {
        &OrbitLeapfrog
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let (Some((_, traj)), Some((_, energy))) =
            (cx.out.table_of(ol::TRAJECTORY), cx.out.table_of(ol::ENERGY))
        else {
            ui.label("This run has no trajectory or energy track.");
            return;
        };
        let s = |k| cx.out.summary_f64(k).unwrap_or(f64::NAN);
        let (steps, dt, days) = (s(ol::STEPS), s(ol::DT_S), s(ol::DAYS));
        let orbits = s(ol::ORBITS);
        let max_err = s(ol::MAX_REL_ENERGY_ERROR);
        let start = start_state(&cx.data.data);
        let period_days = ol::kepler_period(start) / 86_400.0;
        let revolutions = if period_days.is_finite() && period_days > 0.0 {
            format!(" = {} revolutions", num(days / period_days))
        } else {
            " (unbound: no period)".to_string()
        };
        headline(
            ui,
            format!(
                "Earth's orbit, leapfrog: {steps:.0} steps of dt = {} over {} yr{revolutions} · max |ΔE/E0| = {:.2e}",
                duration(dt),
                num(days / DAYS_PER_YEAR),
                max_err,
            ),
        );
        if orbits > 1.0 {
            let radii = cx
                .out
                .summary
                .get(ol::FINAL_RADIUS_AU)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_f64())
                        .map(num)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            note(
                ui,
                format!(
                    "{orbits:.0} independent orbits integrated (orbit k starts at v0·(1 − 0.01·k)); orbit 0 drawn · worst max |ΔE/E0| of all: {:.2e} · final radii (AU): {radii}",
                    s(ol::MAX_REL_ENERGY_ERROR_ALL_ORBITS)
                ),
            );
        }
        // For a bound orbit E0 < 0, so (E − E0)/|E0| = −(E/E0 − 1).
        let sign = -ol::energy(start.r, start.v).signum();
        let lw = cx.line_w;
        split(
            ui,
            0.45,
            |ui| track_ui(ui, traj, lw),
            |ui| energy_ui(ui, energy, sign, max_err, period_days / DAYS_PER_YEAR, lw),
        );
    }
}

/// The run's initial state: the input table's first row, or the Earth.
fn start_state(data: &Dataset) -> State {
    match data {
        Dataset::Table(t) if t.data.ncols() >= 6 && t.data.nrows() >= 1 => {
            let r = t.data.row(0);
            State {
                r: [r[0], r[1], r[2]],
                v: [r[3], r[4], r[5]],
            }
        }
        _ => ol::initial(0),
    }
}

/// A time step in the largest unit it fills (s, min, h, d).
fn duration(secs: f64) -> String {
    let (v, unit) = if secs >= 86_400.0 {
        (secs / 86_400.0, "d")
    } else if secs >= 3_600.0 {
        (secs / 3_600.0, "h")
    } else if secs >= 60.0 {
        (secs / 60.0, "min")
    } else {
        (secs, "s")
    };
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

/// The track in the x–y plane, equal aspect, with the Sun, the start and the end.
fn track_ui(ui: &mut egui::Ui, traj: &Array2<f64>, lw: f32) {
    note(ui, "orbit in the x–y plane (equal scales)");
    let pts: Vec<[f64; 2]> = traj.rows().into_iter().map(|r| [r[1], r[2]]).collect();
    let times: Vec<f64> = traj.column(0).to_vec();
    let first = pts.first().copied();
    let last = pts.last().copied();
    let hover_pts = pts.clone();
    // Room around the orbit on both axes, so the start and end markers are not cut.
    let reach = 1.15 * pts.iter().map(|p| p[0].hypot(p[1])).fold(0.0, f64::max);
    Plot::new("orbit-track")
        .data_aspect(1.0)
        .legend(Legend::default().position(Corner::LeftTop))
        .x_axis_label("x (AU)")
        .y_axis_label("y (AU)")
        .include_x(-reach)
        .include_x(reach)
        .include_y(-reach)
        // Headroom above the orbit for the legend.
        .include_y(1.7 * reach)
        .label_formatter(move |name, p| {
            let at = format!("x {:.4} AU, y {:.4} AU", p.x, p.y);
            if name.is_empty() || name == "Sun" {
                return if name.is_empty() {
                    at
                } else {
                    format!("{name}\n{at}")
                };
            }
            // The nearest sample of the track names the time.
            let near = hover_pts
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    let d = |q: &[f64; 2]| (q[0] - p.x).powi(2) + (q[1] - p.y).powi(2);
                    d(a.1).total_cmp(&d(b.1))
                })
                .map(|(i, _)| times[i]);
            match near {
                Some(t) => format!("{name}\nt = {t:.1} d\n{at}"),
                None => format!("{name}\n{at}"),
            }
        })
        .show(ui, |p| {
            p.line(
                Line::new("Earth's track", pts)
                    .color(palette(2))
                    .width(lw + 0.5),
            );
            p.points(
                Points::new("Sun", vec![[0.0, 0.0]])
                    .shape(MarkerShape::Circle)
                    .filled(true)
                    .radius(6.0 + 2.0 * lw)
                    .color(SUN),
            );
            if let Some(a) = first {
                p.points(
                    Points::new("start", vec![a])
                        .shape(MarkerShape::Diamond)
                        .filled(true)
                        .radius(4.0 + lw)
                        .color(palette(0)),
                );
            }
            if let Some(b) = last {
                p.points(
                    Points::new("end", vec![b])
                        .shape(MarkerShape::Square)
                        .filled(true)
                        .radius(4.0 + lw)
                        .color(palette(1)),
                );
            }
        });
}

/// (E − E0)/|E0| against time in years, in units of 10^k chosen from the largest error,
/// with the run's max |error| as the bound and a line at each completed revolution
/// (where a bounded error returns to where it started).
fn energy_ui(
    ui: &mut egui::Ui,
    energy: &Array2<f64>,
    sign: f64,
    max_err: f64,
    period_yr: f64,
    lw: f32,
) {
    let exp = if max_err > 0.0 && max_err.is_finite() {
        max_err.log10().floor()
    } else {
        0.0
    };
    let unit = 10f64.powf(exp);
    let err: Vec<[f64; 2]> = energy
        .rows()
        .into_iter()
        .map(|r| [r[0] / DAYS_PER_YEAR, sign * r[1]])
        .collect();
    let t_end = err.last().map_or(1.0, |p| p[0]);
    // The error at each completed revolution (the sample nearest to k·P).
    let revs = if period_yr > 0.0 && period_yr.is_finite() {
        (t_end / period_yr).floor() as usize
    } else {
        0
    };
    let at_revs: Vec<f64> = (1..=revs)
        .filter_map(|k| {
            let t = k as f64 * period_yr;
            err.iter()
                .min_by(|a, b| (a[0] - t).abs().total_cmp(&(b[0] - t).abs()))
                .map(|p| p[1].abs())
        })
        .collect();
    if at_revs.is_empty() {
        note(ui, "relative energy error against time");
    } else {
        let worst = at_revs.iter().copied().fold(0.0, f64::max);
        let after = match at_revs.len() {
            1 => "after the completed revolution".to_string(),
            n => format!("after each of {n} completed revolutions"),
        };
        note(
            ui,
            format!(
                "{after} the error is back to ≤ {:.1e} ({}% of the max): bounded, no drift",
                worst,
                num(100.0 * worst / max_err)
            ),
        );
    }
    // The bound drawn on the side where the error lies.
    let (lo, hi) = err
        .iter()
        .fold((0.0f64, 0.0f64), |(a, b), p| (a.min(p[1]), b.max(p[1])));
    let bound_sign = if -lo > hi { -1.0 } else { 1.0 };
    let pts: Vec<[f64; 2]> = err.iter().map(|p| [p[0], p[1] / unit]).collect();
    let scale = if exp == 0.0 {
        String::new()
    } else {
        format!(" (×1e{exp:.0})")
    };
    let pad = 0.12 * (hi - lo).max(max_err) / unit;
    Plot::new("orbit-energy")
        .legend(Legend::default().position(Corner::RightTop))
        .x_axis_label("time (yr)")
        .x_grid_spacer(nice_marks)
        .x_axis_formatter(|m, _| {
            let t = format!("{:.3}", m.value);
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        })
        .y_axis_label(format!("(E − E0)/|E0|{scale}"))
        .include_x(0.0)
        .include_x(t_end)
        .include_y(lo / unit - pad)
        // Headroom above the curve for the legend.
        .include_y(hi / unit + pad + 0.6 * (hi - lo) / unit)
        .label_formatter(move |name, p| {
            let who = series_line(name);
            format!(
                "{who}t = {:.3} yr ({:.1} d)\n(E − E0)/|E0| = {:.3e}",
                p.x,
                p.x * DAYS_PER_YEAR,
                p.y * unit
            )
        })
        .show(ui, |p| {
            p.hline(HLine::new("", 0.0).color(Color32::GRAY).width(lw * 0.5));
            if max_err.is_finite() {
                p.hline(
                    HLine::new("max |ΔE/E0| (summary)", bound_sign * max_err / unit)
                        .color(BOUND_RED)
                        .style(LineStyle::dashed_loose())
                        .width(lw),
                );
            }
            if revs <= 12 {
                for k in 1..=revs {
                    p.vline(
                        VLine::new(
                            format!("revolution (P = {} d)", num(period_yr * DAYS_PER_YEAR)),
                            k as f64 * period_yr,
                        )
                        .color(palette(7))
                        .style(LineStyle::dotted_loose())
                        .width(lw),
                    );
                }
            }
            p.line(
                Line::new("(E − E0)/|E0|", pts)
                    .color(palette(2))
                    .width(lw + 0.5),
            );
        });
}

/// Grid marks at 1-2-5 steps, about six labelled ones across the view, with five minor
/// marks between (the default spacer labels only powers of ten: 0 and 1 yr).
fn nice_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) {
        return Vec::new();
    }
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let minor = step / 5.0;
    let first = (lo / minor).ceil() as i64;
    let last = (hi / minor).floor() as i64;
    (first..=last)
        .map(|i| {
            let value = i as f64 * minor;
            let major = i.rem_euclid(5) == 0;
            GridMark {
                value,
                step_size: if major { step } else { minor },
            }
        })
        .collect()
}
