//! Spectrum stack: the median spectrum with a typical spectrum and the outlier spectra
//! drawn over it, the median and the inverse-variance coadd side by side (the coadd is
//! the less noisy), and every spectrum's deviation from the median with the outlier cut
//! k: the outlier flags at a glance.

use super::{ResultCtx, ResultView};
use crate::analyses::spectrum_stack::{self as sk, SpectrumStack};
use crate::app::theme::palette;
use crate::app::timing::log_axis;
use crate::app::views::{stride, ViewerState};
use crate::data::Dataset;
use crate::engine::{Analysis, ArtifactData};
use egui::{Color32, RichText};
use egui_plot::{HLine, Legend, Line, LineStyle, Plot, Points};

pub struct SpectrumStackView;

/// Most outlier spectra drawn over the median.
const OUTLIERS_DRAWN: usize = 3;
const OUTLIER_RED: Color32 = Color32::from_rgb(230, 60, 60);
/// The median spectrum's colour (bright, drawn over the noisy single spectra).
const MEDIAN_YELLOW: Color32 = Color32::from_rgb(255, 217, 47);
/// Pixels of the median and coadd shown at first (the whole range is a solid band).
const DETAIL_PIXELS: usize = 150;

impl ResultView for SpectrumStackView {
    fn analysis(&self) -> &'static dyn Analysis {
        &SpectrumStack
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let (Some(wl), Some(median)) = (
            cx.out.f64_slice(sk::WAVELENGTH),
            cx.out.f64_slice(sk::MEDIAN_SPECTRUM),
        ) else {
            ui.label("This run has no median spectrum.");
            return;
        };
        let coadd = cx
            .out
            .f64_slice(sk::COADD)
            .filter(|c| c.len() == median.len());
        let outliers: Vec<usize> = match cx.out.get(sk::OUTLIERS) {
            Some(ArtifactData::I64(a)) => a.iter().map(|&i| i as usize).collect(),
            _ => Vec::new(),
        };
        let devs: Vec<f64> = cx
            .out
            .table_of(sk::SPECTRA)
            .map(|(_, t)| t.column(1).to_vec())
            .unwrap_or_default();
        let k = cx.param_f64("k").unwrap_or(f64::NAN);
        ui.label(
            RichText::new(format!(
                "{} spectra of {} pixels: {} outliers (median |flux − median spectrum| > k = {k}) get zero weight in the coadd",
                devs.len(),
                median.len(),
                outliers.len()
            ))
            .strong(),
        );
        let h = ui.available_height();
        let line = |y: &[f64]| -> Vec<[f64; 2]> { stride(wl.iter().zip(y).map(|(x, y)| [*x, *y])) };
        stack_ui(ui, cx, &line, median, &outliers, devs.len(), h * 0.5);
        ui.columns(2, |c| {
            median_coadd_ui(&mut c[0], &line, median, coadd, wl, cx.line_w);
            flags_ui(&mut c[1], &devs, &outliers, k, cx.line_w);
        });
    }
}

/// Spectrum `r` of the run's input (in memory or memory-mapped).
fn spectrum(data: &Dataset, r: usize) -> Option<Vec<f64>> {
    match data {
        Dataset::SpectrumBatch(b) if r < b.flux.nrows() => Some(b.flux.row(r).to_vec()),
        Dataset::Mapped(m) if m.shape.len() == 2 && r < m.shape[0] => {
            let cols = m.shape[1];
            Some((0..cols).map(|j| m.get(r * cols + j)).collect())
        }
        _ => None,
    }
}

/// The median spectrum with the first non-outlier spectrum (grey) and the first few
/// outlier spectra (red) over it.
fn stack_ui(
    ui: &mut egui::Ui,
    cx: &ResultCtx<'_>,
    line: &dyn Fn(&[f64]) -> Vec<[f64; 2]>,
    median: &[f64],
    outliers: &[usize],
    n_spectra: usize,
    height: f32,
) {
    let typical = (0..n_spectra).find(|r| !outliers.contains(r));
    Plot::new("spectrum_stack_spectra")
        .height(height)
        .legend(Legend::default())
        .x_axis_label("wavelength")
        .y_axis_label("flux")
        .show(ui, |p| {
            if let Some(s) = typical.and_then(|r| spectrum(&cx.data.data, r)) {
                p.line(
                    Line::new(
                        format!("a typical spectrum (#{})", typical.unwrap_or(0)),
                        line(&s),
                    )
                    .color(Color32::from_gray(120))
                    .width(cx.line_w * 0.5),
                );
            }
            for &r in outliers.iter().take(OUTLIERS_DRAWN) {
                if let Some(s) = spectrum(&cx.data.data, r) {
                    p.line(
                        Line::new(
                            format!("outlier spectra (first {OUTLIERS_DRAWN})"),
                            line(&s),
                        )
                        .color(OUTLIER_RED)
                        .width(cx.line_w * 0.5),
                    );
                }
            }
            p.line(
                Line::new("median spectrum", line(median))
                    .color(MEDIAN_YELLOW)
                    .width(cx.line_w + 0.5),
            );
        });
}

/// The median spectrum and the coadd on their own axis, where their noise shows.
fn median_coadd_ui(
    ui: &mut egui::Ui,
    line: &dyn Fn(&[f64]) -> Vec<[f64; 2]>,
    median: &[f64],
    coadd: Option<&[f64]>,
    wl: &[f64],
    line_w: f32,
) {
    ui.label(
        RichText::new(format!(
            "median and coadd, first {DETAIL_PIXELS} pixels (drag or zoom for more)"
        ))
        .strong(),
    );
    let shown = wl.get(..DETAIL_PIXELS.min(wl.len())).unwrap_or_default();
    let mut plot = Plot::new("spectrum_stack_coadd")
        .legend(Legend::default())
        .x_axis_label("wavelength")
        .y_axis_label("flux");
    if let (Some(&x0), Some(&x1)) = (shown.first(), shown.last()) {
        plot = plot.default_x_bounds(x0, x1);
    }
    plot.show(ui, |p| {
        p.line(
            Line::new("median spectrum", line(median))
                .color(MEDIAN_YELLOW)
                .width(line_w),
        );
        if let Some(c) = coadd {
            p.line(
                Line::new("coadd (inverse-variance, outliers excluded)", line(c))
                    .color(palette(1))
                    .width(line_w),
            );
        }
    });
}

/// Each spectrum's median |deviation| from the median spectrum (log), outliers in red,
/// the cut k as a line.
fn flags_ui(ui: &mut egui::Ui, devs: &[f64], outliers: &[usize], k: f64, line_w: f32) {
    let (mut kept, mut flagged) = (Vec::new(), Vec::new());
    for (r, &d) in devs.iter().enumerate() {
        let pt = [r as f64, d.max(1e-12).log10()];
        if outliers.binary_search(&r).is_ok() {
            flagged.push(pt);
        } else {
            kept.push(pt);
        }
    }
    ui.label(RichText::new("outlier flags: each spectrum's deviation from the median").strong());
    let top = devs.iter().copied().fold(k, f64::max).max(1e-12).log10() + 0.4;
    Plot::new("spectrum_stack_flags")
        .legend(Legend::default())
        .include_y(top)
        .x_axis_label("spectrum")
        .y_axis_label("deviation (log)")
        .y_axis_formatter(log_axis)
        .label_formatter(|name, p| {
            format!(
                "{name}\nspectrum #{:.0}\ndeviation {:.3}",
                p.x,
                10f64.powf(p.y)
            )
        })
        .show(ui, |p| {
            p.points(
                Points::new(format!("kept ({})", kept.len()), kept)
                    .color(palette(0))
                    .radius(line_w + 1.0),
            );
            p.points(
                Points::new(format!("outlier ({})", flagged.len()), flagged)
                    .color(OUTLIER_RED)
                    .radius(line_w + 2.0),
            );
            if k > 0.0 {
                p.hline(
                    HLine::new(format!("cut k = {k}"), k.log10())
                        .color(Color32::from_gray(200))
                        .style(LineStyle::dashed_loose())
                        .width(line_w),
                );
            }
        });
}
