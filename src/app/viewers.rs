//! Result viewers: the dataset drawn with the latest analysis output on top
//! (continuum and lines on a spectrum, periodogram and fold on a light curve, sources on
//! a CCD frame, matches on a sky plot), plus a generic view of any artifact.

use super::image_view::{self, Colormap, Limits, Stretch};
use super::theme::palette;
use crate::data::{Dataset, Frame, LightCurve, Loaded, Spectrum};
use crate::engine::{ArtifactData, Output};
use egui::{Color32, RichText};
use egui_plot::{Legend, Line, MarkerShape, Plot, PlotImage, PlotPoint, Points, Text, VLine};
use serde::{Deserialize, Serialize};

/// Most points drawn per series; longer series are strided for display only.
const MAX_DRAWN: usize = 200_000;

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct ViewerState {
    pub stretch: Stretch,
    pub limits: Limits,
    pub colormap: Colormap,
    pub show_sources: bool,
    pub show_errors: bool,
    /// What the frame view shows: "" for the input frame, else the name of a 2-D array of
    /// the result (subtracted, labels, background_mesh, …), drawn over the frame's extent.
    pub layer: String,
    /// Fold period chosen by clicking the periodogram (None = best period).
    #[serde(skip)]
    pub fold_period: Option<f64>,
    #[serde(skip)]
    pub frame_index: usize,
    #[serde(skip)]
    texture: Option<(TexKey, egui::TextureHandle, (f64, f64), usize)>,
}

impl Default for ViewerState {
    fn default() -> Self {
        ViewerState {
            stretch: Stretch::Asinh,
            limits: Limits::Percentile(99.5),
            colormap: Colormap::Grey,
            show_sources: true,
            show_errors: true,
            layer: String::new(),
            fold_period: None,
            frame_index: 0,
            texture: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct TexKey {
    ptr: usize,
    shape: (usize, usize),
    stretch: Stretch,
    limits: Limits,
    colormap: Colormap,
}

fn stride<T: Copy>(v: impl ExactSizeIterator<Item = T>) -> Vec<T> {
    let step = v.len().div_ceil(MAX_DRAWN).max(1);
    v.step_by(step).collect()
}

/// The result view for whatever is loaded; `out` is the latest run's output (if it was
/// computed on this dataset).
pub fn result_ui(
    ui: &mut egui::Ui,
    st: &mut ViewerState,
    data: &Loaded,
    out: Option<&Output>,
    line_w: f32,
) {
    match &data.data {
        Dataset::Spectrum(s) => spectrum_ui(ui, s, out, line_w),
        Dataset::LightCurve(l) => light_curve_ui(ui, st, l, out, line_w),
        Dataset::Frame(f) => frame_ui(ui, st, f, out),
        Dataset::FrameBatch(v) if !v.is_empty() => {
            let n = v.len();
            ui.add(egui::Slider::new(&mut st.frame_index, 0..=n - 1).text("frame"));
            let i = st.frame_index.min(n - 1);
            frame_ui(ui, st, &v[i], None);
        }
        Dataset::Catalog(c) => sky_ui(ui, &[c], out, line_w),
        Dataset::CatalogPair(a, b) => sky_ui(ui, &[a, b], out, line_w),
        Dataset::Points(p) => {
            let xy: Vec<[f64; 2]> = stride(p.xy.rows().into_iter())
                .iter()
                .map(|r| [r[0], r[1]])
                .collect();
            Plot::new("points").data_aspect(1.0).show(ui, |pl| {
                pl.points(Points::new("points", xy).radius(1.5));
            });
        }
        _ => generic_ui(ui, out, line_w),
    }
}

/// Flux with continuum and found lines; the residual below with the k·σ threshold.
fn spectrum_ui(ui: &mut egui::Ui, s: &Spectrum, out: Option<&Output>, line_w: f32) {
    let n = s.flux.len();
    let wl = &s.wavelength;
    let cont = out
        .and_then(|o| o.f64_slice("continuum"))
        .filter(|c| c.len() == n);
    let resid = out
        .and_then(|o| o.f64_slice("residual"))
        .filter(|c| c.len() == n);
    let lines = out.and_then(|o| o.table_of("lines"));
    if let Some(o) = out {
        let z = o.summary.get("redshift").and_then(|v| v.as_f64());
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
        let thr = out.and_then(|o| o.summary_f64("threshold"));
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

/// Points with error bars, the periodogram (click to pick a period) and the fold.
fn light_curve_ui(
    ui: &mut egui::Ui,
    st: &mut ViewerState,
    l: &LightCurve,
    out: Option<&Output>,
    line_w: f32,
) {
    let pg = out.and_then(|o| o.table_of("periodogram"));
    let best = out.and_then(|o| o.summary_f64("best_period"));
    let period = st.fold_period.or(best);
    let h = ui.available_height();
    let rows = if pg.is_some() {
        3.0
    } else if period.is_some() {
        2.0
    } else {
        1.0
    };
    let ylabel = if l.magnitudes { "magnitude" } else { "flux" };
    ui.horizontal(|ui| {
        ui.checkbox(&mut st.show_errors, "error bars");
        if let Some(p) = period {
            ui.label(RichText::new(format!("fold period {p:.6} d")).strong());
        }
        if st.fold_period.is_some() && ui.button("back to best period").clicked() {
            st.fold_period = None;
        }
    });
    let t: Vec<[f64; 2]> = stride(l.time.iter().zip(l.value.iter()).map(|(t, v)| [*t, *v]));
    // Magnitudes are drawn brighter-up, as astronomers read them.
    Plot::new("lc")
        .invert_y(l.magnitudes)
        .height(h / rows - 12.0)
        .x_axis_label("time (d)")
        .y_axis_label(ylabel)
        .show(ui, |p| {
            if st.show_errors {
                if let Some(e) = &l.error {
                    // Error bars as one segment each; capped so big curves stay fluid.
                    let step = l.time.len().div_ceil(3000).max(1);
                    for i in (0..l.time.len()).step_by(step) {
                        let (x, y, s) = (l.time[i], l.value[i], e[i]);
                        p.line(
                            Line::new("errors", vec![[x, y - s], [x, y + s]])
                                .color(Color32::from_gray(130))
                                .width(1.0),
                        );
                    }
                }
            }
            p.points(Points::new(ylabel, t).radius(line_w + 0.5));
        });
    if let Some((cols, table)) = pg {
        let xy: Vec<[f64; 2]> = stride(table.rows().into_iter().map(|r| [r[0], r[1]]));
        let resp = Plot::new("periodogram")
            .height(h / rows - 12.0)
            .x_axis_label("frequency (1/d) — click to fold at a peak")
            .y_axis_label(cols.get(1).map_or("power", |s| s.as_str()))
            .show(ui, |p| {
                p.line(Line::new("periodogram", xy).width(line_w).color(palette(0)));
                if let Some(pp) = period {
                    p.vline(
                        VLine::new("fold frequency", 1.0 / pp)
                            .color(Color32::from_rgb(230, 60, 60)),
                    );
                }
                p.pointer_coordinate()
            });
        if resp.response.clicked() {
            if let Some(c) = resp.inner {
                if c.x > 0.0 {
                    st.fold_period = Some(1.0 / c.x);
                }
            }
        }
    }
    if let Some(p) = period.filter(|p| *p > 0.0) {
        let time = l.time.as_slice().unwrap_or(&[]);
        let t0 = time.first().copied().unwrap_or(0.0);
        let phase = crate::kernels::phase::fold_phase(time, p, t0);
        let pts: Vec<[f64; 2]> = stride(
            phase
                .iter()
                .zip(l.value.iter())
                .flat_map(|(ph, v)| [[*ph, *v], [ph + 1.0, *v]])
                .collect::<Vec<_>>()
                .into_iter(),
        );
        Plot::new("folded")
            .invert_y(l.magnitudes)
            .x_axis_label("phase (two cycles)")
            .y_axis_label(ylabel)
            .show(ui, |pl| {
                pl.points(
                    Points::new("folded", pts)
                        .radius(line_w + 0.5)
                        .color(palette(1)),
                );
            });
    }
}

/// The CCD image with stretch, limits, colormap, hover readout and sources on top.
fn frame_ui(ui: &mut egui::Ui, st: &mut ViewerState, f: &Frame, out: Option<&Output>) {
    let (rows, cols) = f.data.dim();
    let Some(pixels) = f.data.as_slice() else {
        ui.label("frame is not contiguous");
        return;
    };
    ui.horizontal_wrapped(|ui| {
        egui::ComboBox::from_label("stretch")
            .selected_text(st.stretch.name())
            .show_ui(ui, |ui| {
                for s in Stretch::ALL {
                    ui.selectable_value(&mut st.stretch, s, s.name());
                }
            });
        let mut minmax = st.limits == Limits::MinMax;
        egui::ComboBox::from_label("limits")
            .selected_text(if minmax { "min/max" } else { "percentile" })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut minmax, true, "min/max");
                ui.selectable_value(&mut minmax, false, "percentile");
            });
        if minmax {
            st.limits = Limits::MinMax;
        } else {
            let mut p = match st.limits {
                Limits::Percentile(p) => p,
                Limits::MinMax => 99.5,
            };
            ui.add(egui::Slider::new(&mut p, 90.0..=99.99).text("%"));
            st.limits = Limits::Percentile(p);
        }
        egui::ComboBox::from_label("colormap")
            .selected_text(st.colormap.name())
            .show_ui(ui, |ui| {
                for c in Colormap::ALL {
                    ui.selectable_value(&mut st.colormap, c, c.name());
                }
            });
        ui.checkbox(&mut st.show_sources, "sources");
    });
    // the 2-D arrays of the result, which can be shown in place of the frame
    let layers: Vec<(&str, &ArtifactData)> = out.map_or(Vec::new(), |o| {
        o.artifacts
            .iter()
            .filter(|a| match &a.data {
                ArtifactData::F64(x) => x.ndim() == 2 && !x.is_empty(),
                ArtifactData::I32(x) => x.ndim() == 2 && !x.is_empty(),
                _ => false,
            })
            .map(|a| (a.name.as_str(), &a.data))
            .collect()
    });
    if !layers.iter().any(|(n, _)| *n == st.layer) {
        st.layer.clear();
    }
    if !layers.is_empty() {
        ui.horizontal(|ui| {
            let shown = if st.layer.is_empty() {
                "frame"
            } else {
                &st.layer
            };
            egui::ComboBox::from_label("image")
                .selected_text(shown.to_string())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut st.layer, String::new(), "frame");
                    for (n, _) in &layers {
                        ui.selectable_value(&mut st.layer, n.to_string(), *n);
                    }
                });
        });
    }
    let layer = layers.iter().find(|(n, _)| *n == st.layer).map(|l| l.1);
    let (ptr, shape) = match layer {
        Some(ArtifactData::F64(x)) => (x.as_ptr() as usize, (x.shape()[0], x.shape()[1])),
        Some(ArtifactData::I32(x)) => (x.as_ptr() as usize, (x.shape()[0], x.shape()[1])),
        _ => (pixels.as_ptr() as usize, (rows, cols)),
    };
    let key = TexKey {
        ptr,
        shape,
        stretch: st.stretch,
        limits: st.limits,
        colormap: st.colormap,
    };
    if st.texture.as_ref().is_none_or(|t| t.0 != key) {
        puffin::profile_scope!("frame texture");
        let shown: ndarray::Array2<f64>;
        let view = match layer {
            Some(ArtifactData::F64(x)) => x.view().into_dimensionality::<ndarray::Ix2>().ok(),
            Some(ArtifactData::I32(x)) => {
                shown = x
                    .mapv(|v| v as f64)
                    .into_dimensionality::<ndarray::Ix2>()
                    .unwrap_or_default();
                Some(shown.view())
            }
            _ => None,
        }
        .unwrap_or_else(|| f.data.view());
        let flat: std::borrow::Cow<[f64]> = match view.as_slice() {
            Some(x) => x.into(),
            None => view.iter().copied().collect::<Vec<f64>>().into(),
        };
        // integer layers (labels) span their whole range: a percentile of a mostly-zero
        // segmentation map would be 0 … 0
        let lim = match layer {
            Some(ArtifactData::I32(_)) => Limits::MinMax,
            _ => st.limits,
        };
        let (lo, hi) = image_view::limits(&flat, lim, st.stretch);
        let (lr, lc) = view.dim();
        let step = lr.max(lc).div_ceil(2048).max(1);
        let (w, h, px) = image_view::render(view, lo, hi, st.stretch, st.colormap, step);
        let img = egui::ColorImage::from_rgba_unmultiplied([w, h], &px);
        let tex = ui
            .ctx()
            .load_texture("ccd-frame", img, egui::TextureOptions::NEAREST);
        st.texture = Some((key, tex, (lo, hi), step));
    }
    let Some((_, tex, (lo, hi), step)) = &st.texture else {
        return;
    };
    let sources = out.and_then(|o| o.table_of("sources"));
    let resp = Plot::new("frame")
        .data_aspect(1.0)
        .x_axis_label("column (x)")
        .y_axis_label("row (y)")
        .height(ui.available_height() - 24.0)
        .show(ui, |p| {
            p.image(PlotImage::new(
                "frame",
                tex.id(),
                PlotPoint::new((cols as f64 - 1.0) / 2.0, (rows as f64 - 1.0) / 2.0),
                egui::vec2(cols as f32, rows as f32),
            ));
            if st.show_sources {
                if let Some((names, t)) = sources {
                    let col = |n: &str| names.iter().position(|c| c == n);
                    if let (Some(r), Some(c)) = (
                        col("wcentroid_row").or(col("centroid_row")),
                        col("wcentroid_col").or(col("centroid_col")),
                    ) {
                        let np = col("npix");
                        let lab = col("label");
                        // background mode: Kron ellipses coloured by FLAGS
                        let kron = match (
                            col("a_image"),
                            col("b_image"),
                            col("theta_image"),
                            col("kron_radius"),
                        ) {
                            (Some(a), Some(b), Some(th), Some(k)) => Some((a, b, th, k)),
                            _ => None,
                        };
                        let fl = col("flags");
                        let many = t.nrows() > 300;
                        for row in t.rows() {
                            let flags = fl.map_or(0, |k| row[k] as u32);
                            let [cr, cg, cb] = image_view::flag_color(flags);
                            let colour = Color32::from_rgb(cr, cg, cb);
                            let (outline, rad) = match kron {
                                Some((a, b, th, k)) => {
                                    let e = image_view::kron_ellipse(
                                        row[c], row[r], row[a], row[b], row[th], row[k], 32,
                                    );
                                    let rad = row[k].max(3.5) * row[a];
                                    (e, rad * std::f64::consts::FRAC_1_SQRT_2)
                                }
                                None => {
                                    let rad = np.map_or(3.0, |k| {
                                        (row[k] / std::f64::consts::PI).sqrt() * 1.5 + 2.0
                                    });
                                    let circle: Vec<[f64; 2]> = (0..=24)
                                        .map(|i| {
                                            let a = i as f64 / 24.0 * std::f64::consts::TAU;
                                            [row[c] + rad * a.cos(), row[r] + rad * a.sin()]
                                        })
                                        .collect();
                                    (circle, rad)
                                }
                            };
                            p.line(Line::new("sources", outline).color(colour).width(1.5));
                            if !many {
                                if let Some(k) = lab {
                                    let ft = image_view::flag_text(flags);
                                    let text = if ft.is_empty() {
                                        format!("{}", row[k])
                                    } else {
                                        format!("{} {ft}", row[k])
                                    };
                                    p.text(
                                        Text::new(
                                            "labels",
                                            PlotPoint::new(row[c] + rad, row[r] + rad),
                                            text,
                                        )
                                        .color(colour)
                                        .anchor(egui::Align2::LEFT_BOTTOM),
                                    );
                                }
                            }
                        }
                    }
                }
            }
            p.pointer_coordinate()
        });
    let mut text = format!(
        "{rows}×{cols} {} · display limits {lo:.4} … {hi:.4}{}",
        f.stored.name(),
        if *step > 1 {
            format!(" · shown 1:{step}")
        } else {
            String::new()
        }
    );
    if layer.is_some() {
        let (lr, lc) = shape;
        text.push_str(&format!(" · showing {} ({lr}×{lc}", st.layer));
        text.push_str(if (lr, lc) == (rows, cols) {
            ")"
        } else {
            ", stretched over the frame)"
        });
    }
    if let Some(c) = resp.inner.filter(|_| resp.response.hovered()) {
        let (r, cc) = (c.y.round(), c.x.round());
        if r >= 0.0 && cc >= 0.0 && (r as usize) < rows && (cc as usize) < cols {
            // the layer's cell under the pointer (a mesh cell covers many frame pixels)
            let (r, cc) = (r as usize, cc as usize);
            let at = [r * shape.0 / rows, cc * shape.1 / cols];
            let v = match layer {
                Some(ArtifactData::F64(x)) => x.get(&at[..]).copied(),
                Some(ArtifactData::I32(x)) => x.get(&at[..]).map(|&v| v as f64),
                _ => f.data.get((r, cc)).copied(),
            };
            if let Some(v) = v {
                text.push_str(&format!(" · row {r}, col {cc}: {v:.6}"));
            }
        }
    }
    ui.label(RichText::new(text).monospace());
}

/// Sky scatter of one or two catalogs; matched rows of the first catalog ringed.
fn sky_ui(ui: &mut egui::Ui, cats: &[&crate::data::Catalog], out: Option<&Output>, line_w: f32) {
    let matches = out.and_then(|o| o.table_of("matches"));
    Plot::new("sky")
        .legend(Legend::default())
        .x_axis_label("RA (deg)")
        .y_axis_label("Dec (deg)")
        .show(ui, |p| {
            for (i, c) in cats.iter().enumerate() {
                let xy: Vec<[f64; 2]> =
                    stride(c.ra.iter().zip(c.dec.iter()).map(|(a, d)| [*a, *d]));
                p.points(
                    Points::new(format!("catalog {}", i + 1), xy)
                        .radius(1.0 + line_w * 0.3)
                        .color(palette(i)),
                );
            }
            if let Some((_, t)) = matches {
                let c = cats[0];
                let xy: Vec<[f64; 2]> = stride(t.rows().into_iter())
                    .iter()
                    .filter_map(|r| {
                        let i = r[0] as usize;
                        (r[1] >= 0.0 && i < c.len()).then(|| [c.ra[i], c.dec[i]])
                    })
                    .collect();
                p.points(
                    Points::new(format!("matched ({})", t.nrows()), xy)
                        .shape(MarkerShape::Circle)
                        .filled(false)
                        .radius(4.0)
                        .color(Color32::from_rgb(230, 60, 60)),
                );
            }
        });
}

/// Any output: 1-D arrays as lines, tables as x–y lines over their first column, and
/// the first rows of each table.
pub fn generic_ui(ui: &mut egui::Ui, out: Option<&Output>, line_w: f32) {
    let Some(o) = out else {
        ui.label("Run the analysis to see its result here.");
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        for a in &o.artifacts {
            match &a.data {
                ArtifactData::F64(x) if x.ndim() == 1 && x.len() > 1 => {
                    ui.label(RichText::new(&a.name).strong());
                    let pts: Vec<[f64; 2]> =
                        stride(x.iter().enumerate().map(|(i, v)| [i as f64, *v]));
                    Plot::new(format!("art-{}", a.name))
                        .height(180.0)
                        .show(ui, |p| {
                            p.line(Line::new(a.name.clone(), pts).width(line_w));
                        });
                }
                ArtifactData::Table { columns, rows } if rows.nrows() > 1 && columns.len() >= 2 => {
                    ui.label(RichText::new(format!("{} ({} rows)", a.name, rows.nrows())).strong());
                    Plot::new(format!("art-{}", a.name))
                        .height(200.0)
                        .legend(Legend::default())
                        .show(ui, |p| {
                            for (k, name) in columns.iter().enumerate().skip(1).take(4) {
                                let pts: Vec<[f64; 2]> =
                                    stride(rows.rows().into_iter().map(|r| [r[0], r[k]]));
                                p.line(
                                    Line::new(format!("{name} vs {}", columns[0]), pts)
                                        .width(line_w)
                                        .color(palette(k)),
                                );
                            }
                        });
                    egui::CollapsingHeader::new(format!("first rows of {}", a.name)).show(
                        ui,
                        |ui| {
                            egui::Grid::new(format!("grid-{}", a.name))
                                .striped(true)
                                .show(ui, |ui| {
                                    for c in columns {
                                        ui.label(RichText::new(c).strong());
                                    }
                                    ui.end_row();
                                    for r in rows.rows().into_iter().take(50) {
                                        for v in r {
                                            ui.label(format!("{v:.6}"));
                                        }
                                        ui.end_row();
                                    }
                                });
                        },
                    );
                }
                other => {
                    let (kind, shape) = match other {
                        ArtifactData::F64(x) => ("f64", x.shape().to_vec()),
                        ArtifactData::I32(x) => ("int32", x.shape().to_vec()),
                        ArtifactData::I64(x) => ("int64", x.shape().to_vec()),
                        ArtifactData::Table { rows, .. } => ("table", rows.shape().to_vec()),
                    };
                    ui.label(format!("{}: {kind} {shape:?}", a.name));
                }
            }
        }
    });
}

/// The summary of a run as a two-column grid.
pub fn summary_ui(ui: &mut egui::Ui, summary: &serde_json::Map<String, serde_json::Value>) {
    egui::Grid::new("summary").striped(true).show(ui, |ui| {
        for (k, v) in summary {
            ui.label(RichText::new(k).strong());
            let text = match v {
                serde_json::Value::Number(n) => n.as_f64().map_or(n.to_string(), |f| {
                    if f.fract() == 0.0 && f.abs() < 1e15 {
                        format!("{f:.0}")
                    } else {
                        format!("{f:.6}")
                    }
                }),
                serde_json::Value::Array(a) if a.len() > 8 => format!("[{} values]", a.len()),
                other => other.to_string(),
            };
            ui.label(text);
            ui.end_row();
        }
    });
}
