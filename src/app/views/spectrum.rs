//! A spectrum: flux with the continuum and the lines found on top, and the residual below
//! with the k·σ threshold (the spectrum pipeline's result).

use super::stride;
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
        let z = o
            .summary
            .get(spectrum_pipeline::REDSHIFT)
            .and_then(|v| v.as_f64());
        ui.label(
            RichText::new(match z {
                Some(z) => format!(
                    "{} lines · redshift z = {z:.6} (cz = {:.0} km/s)",
                    lines.map_or(0, |l| l.1.nrows()),
                    z * 299_792.458
                ),
                None => format!(
                    "{} lines · no line for a redshift",
                    lines.map_or(0, |l| l.1.nrows())
                ),
            })
            .strong(),
        );
    }
    let h = ui.available_height();
    let pts = |y: &[f64]| -> Vec<[f64; 2]> { stride(wl.iter().zip(y).map(|(x, y)| [*x, *y])) };
    let Some(flux) = s.flux.as_slice() else {
        return;
    };
    Plot::new("spectrum")
        .legend(Legend::default())
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
            if let Some((_, rows)) = lines {
                let top = flux
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .fold(f64::MIN, f64::max);
                for r in rows.rows() {
                    p.vline(
                        VLine::new("lines", r[1])
                            .color(Color32::from_rgb(230, 60, 60))
                            .width(line_w * 0.6),
                    );
                    if rows.nrows() <= 60 {
                        p.text(
                            Text::new(
                                "line labels",
                                PlotPoint::new(r[1], top),
                                format!("{:.1} Å", r[1]),
                            )
                            .anchor(egui::Align2::LEFT_BOTTOM)
                            .color(Color32::from_rgb(230, 60, 60)),
                        );
                    }
                }
            }
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
