//! Monte Carlo π: the run's own first points in the unit square (drawn again from the
//! same per-block streams the run counted), coloured inside or outside the quarter
//! circle, beside the estimate's |error| after N points on log–log axes: it follows the
//! expected standard error 4·sqrt(p(1−p)/N), p = π/4, a line of slope −1/2, inside the
//! band where 90 % of runs would lie.

use super::common::{addr, cached, grouped, headline, key, note, num, series_line, split};
use super::{ResultCtx, ResultView};
use crate::analyses::monte_carlo_pi::{self as mc, MonteCarloPi};
use crate::app::theme::palette;
use crate::app::timing::log_axis;
use crate::app::views::ViewerState;
use crate::engine::{Analysis, ArtifactData};
use egui::Color32;
use egui_plot::{GridMark, Line, LineStyle, Plot, Points, Polygon};
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

pub struct MonteCarloPiView;

/// Points drawn in the unit square.
const SHOWN: usize = 3000;
/// Running-estimate points kept per decade of N.
const PER_DECADE: f64 = 24.0;
/// The theory: π and the expected standard error.
const THEORY_RED: Color32 = Color32::from_rgb(230, 60, 60);
/// The band of expected errors.
const GUIDE_GREY: Color32 = Color32::from_gray(170);
/// 5 % and 95 % quantiles of |Z| for a standard normal Z.
const Q05: f64 = 0.0627;
const Q95: f64 = 1.960;

/// The expected standard error of 4·k/N: 4·sqrt(p(1−p)/N), p = π/4.
fn sigma(n: f64) -> f64 {
    4.0 * (FRAC_PI_4 * (1.0 - FRAC_PI_4) / n).sqrt()
}

impl ResultView for MonteCarloPiView {
    fn analysis(&self) -> &'static dyn Analysis {
        &MonteCarloPi
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let u = |k: &str| cx.out.summary.get(k).and_then(|v| v.as_u64());
        let (Some(n), Some(seed), Some(est)) = (
            u(mc::SAMPLES),
            u(mc::SEED),
            cx.out.summary_f64(mc::PI_ESTIMATE),
        ) else {
            ui.label("This run has no estimate of π.");
            return;
        };
        let s = |k| cx.out.summary_f64(k).unwrap_or(f64::NAN);
        let (err, sig, in_sig) = (s(mc::ERROR), s(mc::EXPECTED_SIGMA), s(mc::ERROR_IN_SIGMA));
        headline(
            ui,
            format!(
                "π ≈ {est:.6} from N = {} points · error {err:+.2e} = {in_sig:+.2} σ (σ = {sig:.2e})",
                grouped(n)
            ),
        );
        let counts: Option<&[i64]> = match cx.out.get(mc::BLOCK_COUNTS) {
            Some(ArtifactData::I64(a)) => a.as_slice(),
            _ => None,
        };
        let n = n as usize;
        let shown = cached(ui, "mc-pi-points", (n, seed), || {
            mc::first_samples(n, seed, SHOWN)
        });
        let running = counts.map(|c| {
            cached(ui, "mc-pi-running", (addr(c), n, seed), || {
                running_counts(n, seed, c)
            })
        });
        split(
            ui,
            0.45,
            |ui| points_ui(ui, &shown, n, cx.line_w),
            |ui| match running.as_deref() {
                Some(r) if !r.is_empty() => {
                    note(
                        ui,
                        "|4·inside/N − π| after the first N points follows σ(N) = 4·√(p(1−p)/N), p = π/4: slope −1/2 on log–log axes",
                    );
                    error_ui(ui, r, cx.line_w);
                }
                _ => {
                    ui.label("This run has no per-block counts (no convergence curve).");
                }
            },
        );
    }
}

/// (N, inside after the first N points) at about `PER_DECADE` log-spaced N: within
/// block 0 from the points themselves (drawn again from its stream), after it from the
/// run's per-block counts; the last entry is the whole run.
fn running_counts(n: usize, seed: u64, counts: &[i64]) -> Vec<(u64, u64)> {
    // Every N the run passes through that we can know: each point of block 0, then
    // each block's end.
    let mut all: Vec<(u64, u64)> = Vec::with_capacity(mc::BLOCK + counts.len());
    let mut inside = 0u64;
    for (i, p) in mc::first_samples(n, seed, mc::BLOCK).iter().enumerate() {
        inside += (p[0] * p[0] + p[1] * p[1] <= 1.0) as u64;
        all.push((i as u64 + 1, inside));
    }
    // Block 0 recounted must give the run's own count (the points are the run's).
    if counts.first().map(|&c| c as u64) != Some(inside) {
        all.clear();
    }
    let mut inside = 0u64;
    for (b, &c) in counts.iter().enumerate() {
        inside += c as u64;
        let k = ((b + 1) * mc::BLOCK).min(n) as u64;
        if all.last().is_none_or(|l| l.0 < k) {
            all.push((k, inside));
        }
    }
    let mut out = Vec::new();
    let mut next = 10f64;
    let step = 10f64.powf(1.0 / PER_DECADE);
    for (i, &(k, c)) in all.iter().enumerate() {
        if k as f64 >= next || i + 1 == all.len() {
            out.push((k, c));
            while next <= k as f64 {
                next *= step;
            }
        }
    }
    out
}

/// The first points (up to `SHOWN`) coloured by inside/outside, with the quarter circle (the
/// key is a coloured line above the plot: a legend would cover the square).
fn points_ui(ui: &mut egui::Ui, pts: &[[f64; 2]], n: usize, line_w: f32) {
    // About one point per 15 square points of the square (a small pane gets fewer, so
    // the dots stay apart), at least 500.
    let side = ui
        .available_width()
        .min(ui.available_height() - 80.0)
        .max(0.0);
    let pts = &pts[..pts.len().min(((side * side / 15.0) as usize).max(500))];
    let (inside, outside): (Vec<[f64; 2]>, Vec<[f64; 2]>) =
        pts.iter().partition(|p| p[0] * p[0] + p[1] * p[1] <= 1.0);
    let est = 4.0 * inside.len() as f64 / pts.len().max(1) as f64;
    note(
        ui,
        format!(
            "the run's first {} of {} points: 4·{}/{} = {est:.3}",
            grouped(pts.len() as u64),
            grouped(n as u64),
            inside.len(),
            pts.len()
        ),
    );
    ui.horizontal_wrapped(|ui| {
        key(
            ui,
            palette(0),
            &format!("● inside x² + y² ≤ 1: {}", inside.len()),
        );
        key(ui, palette(1), &format!("● outside: {}", outside.len()));
        key(ui, THEORY_RED, "— x² + y² = 1");
    });
    let arc: Vec<[f64; 2]> = (0..=200)
        .map(|i| {
            let t = FRAC_PI_2 * i as f64 / 200.0;
            [t.cos(), t.sin()]
        })
        .collect();
    let r = 0.8 + 0.2 * line_w;
    Plot::new("mc-pi-points")
        .data_aspect(1.0)
        .x_axis_label("x")
        .y_axis_label("y")
        .include_x(0.0)
        .include_x(1.0)
        .include_y(0.0)
        .include_y(1.0)
        .allow_scroll(false)
        .label_formatter(|name, p| {
            let who = series_line(name);
            format!(
                "{who}x {:.3}, y {:.3}\nx² + y² = {:.3}",
                p.x,
                p.y,
                p.x * p.x + p.y * p.y
            )
        })
        .show(ui, |p| {
            p.points(
                Points::new("inside the quarter circle", inside)
                    .radius(r)
                    .color(palette(0)),
            );
            p.points(
                Points::new("outside the quarter circle", outside)
                    .radius(r)
                    .color(palette(1)),
            );
            p.line(
                Line::new("quarter circle x² + y² = 1", arc)
                    .color(THEORY_RED)
                    .width(line_w),
            );
        });
}

/// A log10 axis labelled 1, 10, 100, 1000, then 1e4, 1e5, … (short enough not to
/// collide at lecture size).
fn log_n_axis(m: GridMark, _r: &std::ops::RangeInclusive<f64>) -> String {
    let e = m.value.round();
    if (m.value - e).abs() > 1e-6 {
        String::new()
    } else if (0.0..=3.0).contains(&e) {
        format!("{:.0}", 10f64.powf(e))
    } else {
        format!("1e{e:.0}")
    }
}

/// |estimate − π| against N on log–log axes with σ(N) and the band 90 % of runs' |error|
/// falls in at each N (0.063σ … 1.96σ: |a normal deviate| between its 5 % and 95 %
/// quantiles).
fn error_ui(ui: &mut egui::Ui, running: &[(u64, u64)], line_w: f32) {
    let pts: Vec<[f64; 2]> = running
        .iter()
        .map(|&(k, c)| (k as f64, (4.0 * c as f64 / k as f64 - PI).abs()))
        .filter(|(_, e)| *e > 0.0)
        .map(|(k, e)| [k.log10(), e.log10()])
        .collect();
    let (a, b) = (
        running.first().map_or(1.0, |r| r.0 as f64),
        running.last().map_or(1.0, |r| r.0 as f64),
    );
    let at = |k: f64, m: f64| [k.log10(), (m * sigma(k)).log10()];
    let band = vec![at(a, Q05), at(b, Q05), at(b, Q95), at(a, Q95)];
    let last = pts.last().copied();
    // The key above the plot (a legend would cover the curve at lecture size).
    ui.horizontal_wrapped(|ui| {
        key(ui, palette(2), "— |estimate − π| after N points");
        key(ui, Color32::WHITE, "● whole run");
        key(ui, THEORY_RED, "- - expected error σ(N)");
        key(ui, GUIDE_GREY, "■ 90 % of runs (0.063σ … 1.96σ)");
    });
    Plot::new("mc-pi-error")
        .x_axis_label("points N (log)")
        .y_axis_label("|estimate − π| (log)")
        .x_axis_formatter(log_n_axis)
        .y_axis_formatter(log_axis)
        .allow_scroll(false)
        .label_formatter(|name, p| {
            let who = series_line(name);
            format!(
                "{who}N = {}\n|error| {}",
                grouped(10f64.powf(p.x).round() as u64),
                num(10f64.powf(p.y))
            )
        })
        .show(ui, |p| {
            p.polygon(
                Polygon::new("where 90 % of runs lie", band)
                    .fill_color(GUIDE_GREY.gamma_multiply(0.25))
                    .stroke(egui::Stroke::new(0.0, Color32::TRANSPARENT))
                    .allow_hover(false),
            );
            p.line(
                Line::new("expected σ(N)", vec![at(a, 1.0), at(b, 1.0)])
                    .color(THEORY_RED)
                    .style(LineStyle::dashed_loose())
                    .width(line_w + 0.5),
            );
            p.line(
                Line::new("|estimate − π| after N points", pts.clone())
                    .color(palette(2))
                    .width(line_w),
            );
            p.points(
                Points::new("|estimate − π| after N points", pts)
                    .color(palette(2))
                    .radius(line_w + 0.5),
            );
            if let Some(l) = last {
                p.points(
                    Points::new("whole run", vec![l])
                        .color(Color32::WHITE)
                        .radius(line_w + 3.5),
                );
            }
        });
}
