//! A spectrum: flux with the continuum and the lines found on top, and the residual below
//! with the k·σ threshold (the spectrum pipeline's result).

use super::{format_number, stride};
use crate::analyses::spectrum_pipeline;
use crate::app::theme::palette;
use crate::data::Spectrum;
use crate::engine::Output;
use egui::{Color32, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoint, Text, VLine};

/// Flux with continuum and found lines; the residual below with the k·σ threshold.
pub(super) fn spectrum_ui(ui: &mut egui::Ui, s: &Spectrum, out: Option<&Output>, line_w: f32) {
    let n = s.flux.len();
    let wl = &s.wavelength;
    let cont = out
        .and_then(|o| o.f64_slice(spectrum_pipeline::CONTINUUM))
        .filter(|c| c.len() == n);
    let resid = out
        .and_then(|o| o.f64_slice(spectrum_pipeline::RESIDUAL))
        .filter(|c| c.len() == n);
    let lines = out.and_then(|o| o.table_of(spectrum_pipeline::LINES));
    if let Some(o) = out {
        headline_ui(ui, o);
    }
    let tops = lines.map(|(_, rows)| line_tops(rows)).unwrap_or_default();
    let h = ui.available_height();
    let pts = |y: &[f64]| -> Vec<[f64; 2]> { stride(wl.iter().zip(y).map(|(x, y)| [*x, *y])) };
    let Some(flux) = s.flux.as_slice() else {
        return;
    };
    Plot::new("spectrum")
        // Top left: line labels are printed along the top, and a real spectrum's lines
        // are rarely at its blue end.
        .legend(Legend::default().position(egui_plot::Corner::LeftTop))
        .height(if resid.is_some() { h * 0.62 } else { h })
        .x_axis_label("wavelength (Å)")
        .y_axis_label("flux")
        .link_axis("spec", [true, false])
        .show(ui, |p| {
            p.line(Line::new("flux", pts(flux)).width(line_w * 0.7));
            if let Some(c) = cont {
                p.line(
                    Line::new("continuum", pts(c))
                        .width(line_w + 0.5)
                        .color(Color32::from_rgb(255, 170, 40)),
                );
            }
            lines_ui(p, flux, wl.as_slice().unwrap_or(&[]), &tops, line_w);
        });
    if let Some(r) = resid {
        let thr = out.and_then(|o| o.summary_f64(spectrum_pipeline::THRESHOLD));
        Plot::new("residual")
            .legend(Legend::default())
            .x_axis_label("wavelength (Å)")
            .y_axis_label("residual")
            .link_axis("spec", [true, false])
            .show(ui, |p| {
                p.line(
                    Line::new("residual", pts(r))
                        .width(line_w * 0.7)
                        .color(palette(2)),
                );
                if let Some(t) = thr {
                    p.hline(
                        egui_plot::HLine::new("k·σ threshold", t)
                            .color(Color32::from_rgb(230, 60, 60)),
                    );
                }
            });
    }
}

const LINE_COLOUR: Color32 = Color32::from_rgb(230, 60, 60);

/// Lines (and peaks) found and the redshift, in words.
fn headline_ui(ui: &mut egui::Ui, o: &Output) {
    let count = |k: &str| o.summary_f64(k).unwrap_or(0.0);
    let (n_lines, n_peaks) = (
        count(spectrum_pipeline::N_LINES),
        count(spectrum_pipeline::N_PEAKS),
    );
    let found = format!("{n_lines:.0} lines ({n_peaks:.0} peaks above k·σ)");
    let z = o
        .summary
        .get(spectrum_pipeline::REDSHIFT)
        .and_then(|v| v.as_f64());
    ui.label(
        RichText::new(match z {
            Some(z) => format!(
                "{found} · redshift z = {} (cz = {:.0} km/s)",
                format_number(z),
                z * 299_792.458
            ),
            None => format!("{found} · no line for a redshift"),
        })
        .strong(),
    );
}

/// Each line's wavelength (its highest peak), one per line, from the `lines` table.
fn line_tops(rows: &ndarray::Array2<f64>) -> Vec<f64> {
    let mut tops: Vec<(f64, f64, f64)> = Vec::new(); // (line, wavelength, height)
    for r in rows.rows() {
        let line = r
            .get(spectrum_pipeline::LINE_COLUMN)
            .copied()
            .unwrap_or(r[0]);
        match tops.iter_mut().find(|t| t.0 == line) {
            Some(t) if r[2] > t.2 => *t = (line, r[1], r[2]),
            Some(_) => {}
            None => tops.push((line, r[1], r[2])),
        }
    }
    tops.into_iter().map(|t| t.1).collect()
}

/// One marker and one label per line; labels of lines close together step down so that
/// none is printed over another.
fn lines_ui(p: &mut egui_plot::PlotUi, flux: &[f64], wl: &[f64], tops: &[f64], line_w: f32) {
    let finite = || flux.iter().copied().filter(|v| v.is_finite());
    let top = finite().fold(f64::MIN, f64::max);
    let bottom = finite().fold(f64::MAX, f64::min);
    let span = wl
        .last()
        .zip(wl.first())
        .map_or(1.0, |(b, a)| (b - a).abs());
    let mut last: Option<f64> = None;
    let mut level = 0.0;
    for &w in tops {
        p.vline(
            VLine::new("lines", w)
                .color(LINE_COLOUR)
                .width(line_w * 0.6),
        );
        if tops.len() > 60 {
            continue;
        }
        // A label is about 6% of the axis wide at the default zoom.
        level = match last {
            Some(l) if (w - l).abs() < 0.06 * span => level + 1.0,
            _ => 0.0,
        };
        last = Some(w);
        // Hanging below the top of the data, so that no label is cut at the plot's edge;
        // named like the markers, so the legend has one entry for both.
        let y = top - level * 0.08 * (top - bottom);
        let label = RichText::new(format!("{w:.1} Å"))
            .text_style(egui::TextStyle::Body)
            .color(LINE_COLOUR);
        p.text(
            Text::new("lines", PlotPoint::new(w, y), label)
                .anchor(egui::Align2::LEFT_TOP)
                .color(LINE_COLOUR),
        );
    }
}
