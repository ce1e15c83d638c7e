//! Peak count: one spectrum of the batch (a slider picks it) with its threshold
//! mean + k·σ and the peaks counted above it marked (found again for that spectrum with
//! the analysis' own threshold and `find_peaks`, so the marks are its count), beside the
//! histogram of peaks per spectrum over the whole batch with the shown spectrum's count
//! highlighted (click a bar to show a spectrum with that many peaks).

use super::common::{cached, headline, note, num, series_line, split};
use super::{ResultCtx, ResultView};
use crate::analyses::peak_count::{self as pc, PeakCount};
use crate::app::theme::palette;
use crate::app::views::ViewerState;
use crate::data::Dataset;
use crate::engine::{Analysis, ArtifactData};
use crate::kernels::peaks::find_peaks;
use egui::{Color32, RichText};
use egui_plot::{
    AxisHints, Bar, BarChart, Corner, GridInput, GridMark, HLine, Legend, Line, LineStyle,
    MarkerShape, Plot, PlotPoint, Points, Text, VLine,
};

pub struct PeakCountView;

/// The threshold, the peaks above it and the shown spectrum's bar.
const RED: Color32 = Color32::from_rgb(230, 60, 60);

impl ResultView for PeakCountView {
    fn analysis(&self) -> &'static dyn Analysis {
        &PeakCount
    }
    fn ui(&self, ui: &mut egui::Ui, st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Dataset::SpectrumBatch(b) = &cx.data.data else {
            ui.label("This run's input is not a batch of spectra.");
            return;
        };
        let counts: Vec<i64> = match cx.out.get(pc::COUNTS) {
            Some(ArtifactData::I64(c)) => c.iter().copied().collect(),
            _ => {
                ui.label("This run has no peak counts.");
                return;
            }
        };
        let n = b.flux.nrows();
        if n == 0 || counts.len() != n {
            ui.label("The peak counts do not match the batch's spectra.");
            return;
        }
        let k = cx.param_f64("k").unwrap_or(3.0);
        let s = |key| cx.out.summary_f64(key).unwrap_or(f64::NAN);
        let mean = s(pc::MEAN_PEAKS);
        headline(
            ui,
            format!(
                "{n} spectra × {} points: {} peaks above mean + {k}·σ, {} per spectrum (most {})",
                b.flux.ncols(),
                s(pc::TOTAL_PEAKS),
                num(mean),
                s(pc::MAX_PEAKS),
            ),
        );
        st.frame_index = st.frame_index.min(n - 1);
        let i = st.frame_index;
        let flux = b.flux.row(i).to_vec();
        let (m, sigma, thr) = pc::threshold(&flux, k);
        let peaks = find_peaks(&flux, thr);
        let agree = if peaks.len() as i64 == counts[i] {
            String::new()
        } else {
            format!(" (the run counted {}!)", counts[i])
        };
        ui.horizontal_wrapped(|ui| {
            ui.add(egui::Slider::new(&mut st.frame_index, 0..=n - 1).text("spectrum shown:"));
            ui.label(format!(
                "{} peaks ≥ {} = mean {} + {k}·σ (σ = {}){agree}",
                peaks.len(),
                num(thr),
                num(m),
                num(sigma)
            ));
        });
        let hist = cached(ui, "peak-count-hist", super::common::addr(&counts), || {
            let max = counts.iter().copied().max().unwrap_or(0).max(0) as usize;
            let mut h = vec![0u64; max + 1];
            for &c in &counts {
                h[c.max(0) as usize] += 1;
            }
            h
        });
        let mut clicked = None;
        split(
            ui,
            0.6,
            |ui| {
                note(ui, format!("spectrum {i}, its peaks counted circled"));
                spectrum_ui(
                    ui,
                    b.wavelength.as_slice(),
                    &flux,
                    &peaks,
                    (m, thr),
                    cx.line_w,
                );
            },
            |ui| clicked = hist_ui(ui, &hist, counts[i], i, mean, cx.line_w),
        );
        // A click on a bar shows the next spectrum (after the one shown) with that count.
        if let Some(c) = clicked {
            if let Some(j) = (1..=n).map(|d| (i + d) % n).find(|&j| counts[j] == c) {
                st.frame_index = j;
            }
        }
    }
}

/// The spectrum, its mean and threshold, and the peaks counted marked.
fn spectrum_ui(
    ui: &mut egui::Ui,
    wl: Option<&[f64]>,
    flux: &[f64],
    peaks: &[usize],
    (mean, thr): (f64, f64),
    line_w: f32,
) {
    let x = |j: usize| wl.and_then(|w| w.get(j).copied()).unwrap_or(j as f64);
    let has_wl = wl.is_some_and(|w| w.len() == flux.len());
    let line: Vec<[f64; 2]> = flux.iter().enumerate().map(|(j, &v)| [x(j), v]).collect();
    let marks: Vec<[f64; 2]> = peaks.iter().map(|&j| [x(j), flux[j]]).collect();
    let (lo, hi) = flux
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let top = hi + headroom(ui, 3) * (hi - lo).max(f64::EPSILON);
    let xlabel = if has_wl { "wavelength (Å)" } else { "point" };
    Plot::new("peak-count-spectrum")
        .legend(Legend::default().position(Corner::LeftTop))
        .x_axis_label(xlabel)
        .y_axis_label("flux")
        .include_y(top)
        .allow_scroll(false)
        .label_formatter(move |name, p| {
            let who = series_line(name);
            let at = if has_wl {
                format!("λ {} Å", num(p.x))
            } else {
                format!("point {}", num(p.x))
            };
            format!("{who}{at}\nflux {}", num(p.y))
        })
        .show(ui, |p| {
            p.line(Line::new("", line).color(palette(0)).width(line_w * 0.8));
            p.hline(HLine::new("mean", mean).color(Color32::GRAY).width(line_w));
            p.hline(
                HLine::new(format!("threshold mean + k·σ = {}", num(thr)), thr)
                    .color(RED)
                    .style(LineStyle::dashed_loose())
                    .width(line_w),
            );
            p.points(
                Points::new(format!("{} peaks counted", peaks.len()), marks)
                    .shape(MarkerShape::Circle)
                    .filled(false)
                    .radius(4.0 + 2.0 * line_w)
                    .color(RED),
            );
        });
}

/// The histogram of peaks per spectrum (one bar per count), the shown spectrum's count in
/// red and the batch mean dashed; returns the count of the bar clicked.
fn hist_ui(
    ui: &mut egui::Ui,
    hist: &[u64],
    shown: i64,
    i: usize,
    mean: f64,
    line_w: f32,
) -> Option<i64> {
    note(ui, "peaks per spectrum over the batch (click a bar)");
    let bars = |pick: bool| -> Vec<Bar> {
        hist.iter()
            .enumerate()
            .filter(|(c, _)| (*c as i64 == shown) == pick)
            .map(|(c, &m)| {
                let s = if c == 1 { "" } else { "s" };
                Bar::new(c as f64, m as f64)
                    .width(0.85)
                    .name(format!("{c} peak{s}"))
            })
            .collect()
    };
    let top = hist.iter().copied().max().unwrap_or(1) as f64 * (1.0 + headroom(ui, 4));
    let text_color = ui.visuals().strong_text_color();
    let x_axis = AxisHints::new_x()
        .label("peaks per spectrum")
        .formatter(|m, _| integer_label(m.value))
        .label_spacing(LABEL_SPACING..=LABEL_SPACING + 6.0);
    let resp = Plot::new("peak-count-hist")
        .legend(Legend::default().position(Corner::LeftTop))
        .custom_x_axes(vec![x_axis])
        .y_axis_label("spectra")
        .x_grid_spacer(integer_marks)
        .show_x(false)
        .show_y(false)
        .include_x(-0.5)
        .include_x(hist.len() as f64 - 0.5)
        .include_y(0.0)
        .include_y(top)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show(ui, |p| {
            p.bar_chart(
                BarChart::new("spectra", bars(false))
                    .color(palette(0))
                    .element_formatter(Box::new(bar_label)),
            );
            p.bar_chart(
                BarChart::new(format!("spectrum {i}: {shown} peaks"), bars(true))
                    .color(RED)
                    .element_formatter(Box::new(bar_label)),
            );
            p.vline(
                VLine::new(format!("mean {}", num(mean)), mean)
                    .color(Color32::GRAY)
                    .style(LineStyle::dashed_loose())
                    .width(line_w),
            );
            // Each bar's number of spectra on top of it, while there is room.
            if hist.len() <= 25 {
                for (c, &m) in hist.iter().enumerate() {
                    p.text(
                        Text::new(
                            "",
                            PlotPoint::new(c as f64, m as f64),
                            RichText::new(format!("{m}")).text_style(egui::TextStyle::Body),
                        )
                        .anchor(egui::Align2::CENTER_BOTTOM)
                        .color(text_color),
                    );
                }
            }
            p.pointer_coordinate()
        });
    if !resp.response.clicked() {
        return None;
    }
    let c = resp.inner?.x.round();
    (c >= 0.0 && (c as usize) < hist.len()).then_some(c as i64)
}

/// The fraction of the data's height to add above it so that a legend of `rows` entries
/// in the plot's top corner stays clear of the data (the plot fills the rest of `ui`).
fn headroom(ui: &egui::Ui, rows: usize) -> f64 {
    let row = ui.text_style_height(&egui::TextStyle::Body) + ui.spacing().item_spacing.y;
    // the plot's height without its x axis (tick labels and title, about two rows)
    let plot = (ui.available_height() - 2.0 * row).max(4.0 * row);
    let legend = (rows as f32 * row + 12.0).min(0.6 * plot);
    (legend / (plot - legend)) as f64
}

/// Least distance between the integer tick labels (points): they are narrow.
const LABEL_SPACING: f32 = 24.0;

/// A bar's hover text: its count and how many spectra have it.
fn bar_label(bar: &Bar, _: &BarChart) -> String {
    format!("{}: {:.0} spectra", bar.name, bar.value)
}

/// Grid lines and ticks at whole numbers only, every 1, 2, 5, 10, 20, … so that the tick
/// labels stand [`LABEL_SPACING`] + 6 points apart (egui_plot's powers-of-ten grid with
/// its 60-point label spacing labels nothing but 0 on a narrow 0…12 axis).
fn integer_marks(input: GridInput) -> Vec<GridMark> {
    // base_step_size is the value spanned by 8 points.
    let per_point = input.base_step_size / 8.0;
    if per_point.is_nan() || per_point <= 0.0 {
        return Vec::new();
    }
    let want = (LABEL_SPACING + 6.0) as f64 * per_point;
    let mut step = 1.0;
    'find: for decade in [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6] {
        for m in [1.0, 2.0, 5.0] {
            step = m * decade;
            if step >= want {
                break 'find;
            }
        }
    }
    let (lo, hi) = input.bounds;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last.min(first + 1000))
        .map(|j| GridMark {
            value: j as f64 * step,
            step_size: step,
        })
        .collect()
}

/// A whole number as its tick label; nothing between whole numbers.
fn integer_label(v: f64) -> String {
    let r = v.round();
    if (v - r).abs() < 1e-6 {
        format!("{r:.0}")
    } else {
        String::new()
    }
}
