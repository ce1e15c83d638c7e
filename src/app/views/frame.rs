//! A CCD frame: the image with stretch, limits and colormap, a hover readout, the sources
//! found on top (Kron ellipses coloured by FLAGS, or circles by area), and any 2-D array
//! of the result shown in place of the frame. Below the view, the display maths it uses
//! (limits, zscale, stretches, colormaps, rendering, ellipses, flags): pure functions,
//! unit-tested, independent of egui.

use super::ViewerState;
use crate::analyses::ccd_pipeline;
use crate::data::Frame;
use crate::engine::{ArtifactData, Output};
use egui::{Color32, RichText};
use egui_plot::{Line, Plot, PlotImage, PlotPoint, PlotUi, Text};
use ndarray::{Array2, ArrayView1};
use serde::{Deserialize, Serialize};

/// What the frame texture was drawn from and how; a change of any redraws it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct TexKey {
    ptr: usize,
    shape: (usize, usize),
    stretch: Stretch,
    limits: Limits,
    colormap: Colormap,
}

/// The CCD image with stretch, limits, colormap, hover readout and sources on top.
pub(super) fn frame_ui(ui: &mut egui::Ui, st: &mut ViewerState, f: &Frame, out: Option<&Output>) {
    let sources = out.and_then(|o| o.table_of(ccd_pipeline::SOURCES));
    display_controls_ui(ui, st, true);
    frame_image_ui(ui, st, f, out, sources);
}

/// A sources table: its column names and rows (one source a row).
pub(crate) type SourceTable<'a> = (&'a [String], &'a Array2<f64>);

/// The frame view without its display controls, with the sources to draw given apart
/// from the output whose 2-D arrays are offered as layers (a batch's result holds every
/// frame's sources in one table).
pub(crate) fn frame_image_ui(
    ui: &mut egui::Ui,
    st: &mut ViewerState,
    f: &Frame,
    out: Option<&Output>,
    sources: Option<SourceTable<'_>>,
) {
    let (rows, cols) = f.data.dim();
    let Some(pixels) = f.data.as_slice() else {
        ui.label("frame is not contiguous");
        return;
    };
    let sources = sources.filter(|_| st.show_sources);
    if let Some((names, t)) = sources {
        super::sources::legend_ui(ui, names, t.nrows());
    }
    let layers = image_layers(out);
    layer_picker_ui(ui, st, &layers);
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
        let texture = render_texture(ui, st, f, layer);
        st.texture = Some((key, texture.0, texture.1, texture.2));
    }
    let Some((_, tex, (lo, hi), step)) = &st.texture else {
        return;
    };
    let resp = Plot::new("frame")
        .data_aspect(1.0)
        .x_axis_label("column (x)")
        .y_axis_label("row (y)")
        .height(ui.available_height() - 24.0)
        .show(ui, |p| {
            p.image(whole_frame_image(tex.id(), rows, cols));
            if let Some((names, t)) = sources {
                draw_sources(p, names, t);
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
        if let Some((r, cc, v)) = value_under_pointer(f, layer, shape, c) {
            text.push_str(&format!(" · row {r}, col {cc}: {v:.6}"));
        }
        // The catalogue row of the source under the pointer, as a tooltip.
        if let Some((names, t)) = sources {
            let hit =
                SourceColumns::find(names).and_then(|cols| super::sources::source_at(&cols, t, c));
            if let Some(i) = hit {
                resp.response.clone().on_hover_ui_at_pointer(|ui| {
                    super::sources::source_tooltip_ui(ui, names, t, i);
                });
            }
        }
    }
    ui.label(RichText::new(text).monospace());
}

/// A `rows`×`cols` frame's texture placed with pixel (r, c) centred on plot point
/// (c, r), so hover and source coordinates are pixel indices.
pub(crate) fn whole_frame_image(texture: egui::TextureId, rows: usize, cols: usize) -> PlotImage {
    PlotImage::new(
        "frame",
        texture,
        PlotPoint::new((cols as f64 - 1.0) / 2.0, (rows as f64 - 1.0) / 2.0),
        egui::vec2(cols as f32, rows as f32),
    )
}

/// The stretch, limits and colormap pickers, and the sources switch where a view draws
/// sources.
pub(crate) fn display_controls_ui(ui: &mut egui::Ui, st: &mut ViewerState, sources_switch: bool) {
    ui.horizontal_wrapped(|ui| {
        let combo = ui.spacing().combo_width;
        room_for(ui, combo, "stretch");
        egui::ComboBox::from_label("stretch")
            .selected_text(st.stretch.name())
            .show_ui(ui, |ui| {
                for s in Stretch::ALL {
                    ui.selectable_value(&mut st.stretch, s, s.name());
                }
            });
        let mut minmax = st.limits == Limits::MinMax;
        room_for(ui, combo, "limits");
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
            let slider = ui.spacing().slider_width + ui.spacing().interact_size.x;
            room_for(ui, slider, "%");
            ui.add(egui::Slider::new(&mut p, 90.0..=99.99).text("%"));
            st.limits = Limits::Percentile(p);
        }
        room_for(ui, combo, "colormap");
        egui::ComboBox::from_label("colormap")
            .selected_text(st.colormap.name())
            .show_ui(ui, |ui| {
                for c in Colormap::ALL {
                    ui.selectable_value(&mut st.colormap, c, c.name());
                }
            });
        if sources_switch {
            ui.checkbox(&mut st.show_sources, "sources");
        }
    });
}

/// In a wrapping row, start a new row unless a widget `width` wide followed by `label`
/// fits on this one: a combo box or slider with its label is laid out as one group,
/// which egui wraps only when no room at all is left (it ran off the right edge of a
/// narrow pane at lecture size).
fn room_for(ui: &mut egui::Ui, width: f32, label: &str) {
    let text = egui::WidgetText::from(label).into_galley(
        ui,
        Some(egui::TextWrapMode::Extend),
        f32::INFINITY,
        egui::TextStyle::Button,
    );
    let need = width + 2.0 * ui.spacing().item_spacing.x + text.size().x;
    if ui.available_size_before_wrap().x < need {
        ui.end_row();
    }
}

/// The 2-D arrays of the result, which can be shown in place of the frame.
fn image_layers(out: Option<&Output>) -> Vec<(&str, &ArtifactData)> {
    out.map_or(Vec::new(), |o| {
        o.artifacts
            .iter()
            .filter(|a| match &a.data {
                ArtifactData::F64(x) => x.ndim() == 2 && !x.is_empty(),
                ArtifactData::I32(x) => x.ndim() == 2 && !x.is_empty(),
                _ => false,
            })
            .map(|a| (a.name.as_str(), &a.data))
            .collect()
    })
}

/// Pick what the view shows ("frame" or a layer); a layer the result no longer has falls
/// back to the frame.
fn layer_picker_ui(ui: &mut egui::Ui, st: &mut ViewerState, layers: &[(&str, &ArtifactData)]) {
    if !layers.iter().any(|(n, _)| *n == st.layer) {
        st.layer.clear();
    }
    if layers.is_empty() {
        return;
    }
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
                for (n, _) in layers {
                    ui.selectable_value(&mut st.layer, n.to_string(), *n);
                }
            });
    });
}

/// Draw the frame (or `layer`) into a texture with the chosen stretch, limits and
/// colormap, subsampled to at most 2048 pixels a side; returns it with its display
/// limits and step.
fn render_texture(
    ui: &egui::Ui,
    st: &ViewerState,
    f: &Frame,
    layer: Option<&ArtifactData>,
) -> (egui::TextureHandle, (f64, f64), usize) {
    puffin::profile_scope!("frame texture");
    let shown: Array2<f64>;
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
    let (lo, hi) = limits(&flat, lim, st.stretch);
    let (lr, lc) = view.dim();
    let step = lr.max(lc).div_ceil(2048).max(1);
    let (w, h, px) = render(view, lo, hi, st.stretch, st.colormap, step);
    let img = egui::ColorImage::from_rgba_unmultiplied([w, h], &px);
    let tex = ui
        .ctx()
        .load_texture("ccd-frame", img, egui::TextureOptions::NEAREST);
    (tex, (lo, hi), step)
}

/// Where the columns the overlay uses are in a sources table.
pub(super) struct SourceColumns {
    row: usize,
    col: usize,
    npix: Option<usize>,
    label: Option<usize>,
    /// a_image, b_image, theta_image, kron_radius: present in background mode.
    kron: Option<(usize, usize, usize, usize)>,
    flags: Option<usize>,
}

impl SourceColumns {
    /// The columns of `names`; `None` without a centroid to place the sources at.
    pub(super) fn find(names: &[String]) -> Option<Self> {
        let col = |n: &str| names.iter().position(|c| c == n);
        let kron = match (
            col("a_image"),
            col("b_image"),
            col("theta_image"),
            col("kron_radius"),
        ) {
            (Some(a), Some(b), Some(th), Some(k)) => Some((a, b, th, k)),
            _ => None,
        };
        Some(SourceColumns {
            row: col("wcentroid_row").or(col("centroid_row"))?,
            col: col("wcentroid_col").or(col("centroid_col"))?,
            npix: col("npix"),
            label: col("label"),
            kron,
            flags: col("flags"),
        })
    }

    /// A source's centre (x = column, y = row), where its outline is drawn.
    pub(super) fn centre(&self, row: &ArrayView1<f64>) -> (f64, f64) {
        (row[self.col], row[self.row])
    }

    /// A source's outline (its Kron ellipse, else a circle of about its area) and the
    /// radius its label is placed at.
    pub(super) fn outline(&self, row: &ArrayView1<f64>) -> (Vec<[f64; 2]>, f64) {
        let (x, y) = self.centre(row);
        match self.kron {
            Some((a, b, th, k)) => {
                let e = kron_ellipse(x, y, row[a], row[b], row[th], row[k], 32);
                let rad = row[k].max(3.5) * row[a];
                (e, rad * std::f64::consts::FRAC_1_SQRT_2)
            }
            None => {
                let rad = self
                    .npix
                    .map_or(3.0, |k| (row[k] / std::f64::consts::PI).sqrt() * 1.5 + 2.0);
                let circle: Vec<[f64; 2]> = (0..=24)
                    .map(|i| {
                        let a = i as f64 / 24.0 * std::f64::consts::TAU;
                        [x + rad * a.cos(), y + rad * a.sin()]
                    })
                    .collect();
                (circle, rad)
            }
        }
    }
}

/// The sources over the image, coloured by FLAGS, labelled when there are few.
fn draw_sources(p: &mut PlotUi, names: &[String], t: &Array2<f64>) {
    let Some(cols) = SourceColumns::find(names) else {
        return;
    };
    let many = t.nrows() > 300;
    for row in t.rows() {
        let flags = cols.flags.map_or(0, |k| row[k] as u32);
        let [cr, cg, cb] = flag_color(flags);
        let colour = Color32::from_rgb(cr, cg, cb);
        let (outline, rad) = cols.outline(&row);
        p.line(Line::new("sources", outline).color(colour).width(1.5));
        if many {
            continue;
        }
        if let Some(k) = cols.label {
            let ft = flag_text(flags);
            let text = if ft.is_empty() {
                format!("{}", row[k])
            } else {
                format!("{} {ft}", row[k])
            };
            let at = PlotPoint::new(row[cols.col] + rad, row[cols.row] + rad);
            p.text(
                Text::new("labels", at, text)
                    .color(colour)
                    .anchor(egui::Align2::LEFT_BOTTOM),
            );
        }
    }
}

/// The frame pixel under the pointer and the value shown there: the frame's, or that of
/// the layer's cell covering it (a mesh cell covers many frame pixels).
fn value_under_pointer(
    f: &Frame,
    layer: Option<&ArtifactData>,
    shape: (usize, usize),
    c: PlotPoint,
) -> Option<(usize, usize, f64)> {
    let (rows, cols) = f.data.dim();
    let (r, cc) = (c.y.round(), c.x.round());
    if !(r >= 0.0 && cc >= 0.0 && (r as usize) < rows && (cc as usize) < cols) {
        return None;
    }
    let (r, cc) = (r as usize, cc as usize);
    let at = [r * shape.0 / rows, cc * shape.1 / cols];
    let v = match layer {
        Some(ArtifactData::F64(x)) => x.get(&at[..]).copied(),
        Some(ArtifactData::I32(x)) => x.get(&at[..]).map(|&v| v as f64),
        _ => f.data.get((r, cc)).copied(),
    };
    v.map(|v| (r, cc, v))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stretch {
    Linear,
    Log,
    Sqrt,
    Asinh,
    /// Linear between IRAF zscale limits (as ds9's "zscale" scale).
    ZScale,
}

impl Stretch {
    pub const ALL: [Stretch; 5] = [
        Stretch::Linear,
        Stretch::Log,
        Stretch::Sqrt,
        Stretch::Asinh,
        Stretch::ZScale,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Stretch::Linear => "linear",
            Stretch::Log => "log",
            Stretch::Sqrt => "sqrt",
            Stretch::Asinh => "asinh",
            Stretch::ZScale => "zscale",
        }
    }

    /// Map a value already normalised to 0..1 by the limits.
    pub fn apply(self, v: f64) -> f64 {
        let v = v.clamp(0.0, 1.0);
        match self {
            Stretch::Linear | Stretch::ZScale => v,
            // ds9's log with exponent 1000.
            Stretch::Log => (1000.0 * v + 1.0).log10() / 1001f64.log10(),
            Stretch::Sqrt => v.sqrt(),
            Stretch::Asinh => (v / 0.1).asinh() / 10f64.asinh(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Limits {
    MinMax,
    /// Central percentage kept, e.g. 99.5 clips 0.25 % at each end.
    Percentile(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Colormap {
    Grey,
    Viridis,
    Inferno,
    Magma,
    Cividis,
}

impl Colormap {
    pub const ALL: [Colormap; 5] = [
        Colormap::Grey,
        Colormap::Viridis,
        Colormap::Inferno,
        Colormap::Magma,
        Colormap::Cividis,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Grey => "grey",
            Colormap::Viridis => "viridis",
            Colormap::Inferno => "inferno",
            Colormap::Magma => "magma",
            Colormap::Cividis => "cividis",
        }
    }
    /// RGB for t in 0..1.
    pub fn rgb(self, t: f64) -> [u8; 3] {
        let g = match self {
            Colormap::Grey => {
                let v = (t.clamp(0.0, 1.0) * 255.0).round() as u8;
                return [v, v, v];
            }
            Colormap::Viridis => colorous::VIRIDIS,
            Colormap::Inferno => colorous::INFERNO,
            Colormap::Magma => colorous::MAGMA,
            Colormap::Cividis => colorous::CIVIDIS,
        };
        let c = g.eval_continuous(t.clamp(0.0, 1.0));
        [c.r, c.g, c.b]
    }
    /// A 256-entry lookup table (the per-pixel path uses it).
    pub fn lut(self) -> Vec<[u8; 3]> {
        (0..256).map(|i| self.rgb(i as f64 / 255.0)).collect()
    }
}

/// Finite values sorted ascending (NaN/inf dropped), strided down to at most `max` samples.
pub fn sorted_sample(data: &[f64], max: usize) -> Vec<f64> {
    let step = (data.len() / max.max(1)).max(1);
    let mut s: Vec<f64> = data
        .iter()
        .step_by(step)
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    s.sort_by(f64::total_cmp);
    s
}

/// Display limits (lo, hi) for the chosen limits and stretch.
pub fn limits(data: &[f64], lim: Limits, stretch: Stretch) -> (f64, f64) {
    if stretch == Stretch::ZScale {
        return zscale(data);
    }
    let s = sorted_sample(data, 200_000);
    if s.is_empty() {
        return (0.0, 1.0);
    }
    match lim {
        Limits::MinMax => (s[0], s[s.len() - 1]),
        Limits::Percentile(p) => {
            let cut = (100.0 - p.clamp(0.0, 100.0)) / 200.0;
            let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
            (at(cut), at(1.0 - cut))
        }
    }
}

/// IRAF's zscale: fit a line to the sorted sample with iterative rejection and take the
/// range the line spans around the median, scaled by 1/contrast (contrast 0.25).
pub fn zscale(data: &[f64]) -> (f64, f64) {
    let s = sorted_sample(data, 1000);
    let n = s.len();
    if n == 0 {
        return (0.0, 1.0);
    }
    let (vmin, vmax) = (s[0], s[n - 1]);
    let center = (n - 1) / 2;
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    };
    let min_pix = 5usize.max(n / 2);
    let grow = 1usize.max(n / 100);
    let mut bad = vec![false; n];
    let mut good = n;
    let mut last_good = n + 1;
    let mut slope = 0.0;
    let mut fitted = false;
    for _ in 0..5 {
        if good >= last_good || good < min_pix {
            break;
        }
        // Least-squares line through the good samples.
        let (mut sx, mut sy, mut sxx, mut sxy, mut m) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, v) in s.iter().enumerate() {
            if !bad[i] {
                let x = i as f64;
                sx += x;
                sy += v;
                sxx += x * x;
                sxy += x * v;
                m += 1.0;
            }
        }
        let den = m * sxx - sx * sx;
        if den == 0.0 {
            break;
        }
        slope = (m * sxy - sx * sy) / den;
        let icpt = (sy - slope * sx) / m;
        fitted = true;
        let flat: Vec<f64> = s
            .iter()
            .enumerate()
            .map(|(i, v)| v - (icpt + slope * i as f64))
            .collect();
        let kept: Vec<f64> = flat
            .iter()
            .zip(&bad)
            .filter(|(_, b)| !**b)
            .map(|(f, _)| *f)
            .collect();
        let mean = kept.iter().sum::<f64>() / kept.len() as f64;
        let sd = (kept.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / kept.len() as f64).sqrt();
        let thr = 2.5 * sd;
        let reject: Vec<bool> = flat.iter().map(|f| *f < -thr || *f > thr).collect();
        // Grow rejected samples by `grow` neighbours (a box convolution, 'same' mode).
        let half = grow / 2;
        for (i, &r) in reject.iter().enumerate() {
            if r {
                let lo = i.saturating_sub(half);
                let hi = (i + grow - half).min(n);
                for b in &mut bad[lo..hi] {
                    *b = true;
                }
            }
        }
        last_good = good;
        good = bad.iter().filter(|b| !**b).count();
    }
    if fitted && good >= min_pix {
        let slope = slope / 0.25;
        let lo = vmin.max(median - (center as f64 - 1.0) * slope);
        let hi = vmax.min(median + (n - center) as f64 * slope);
        if hi > lo {
            return (lo, hi);
        }
    }
    (vmin, vmax)
}

/// RGBA pixels (row 0 of the data at the bottom, as astronomers display frames),
/// subsampled by `step` in both axes.
pub fn render(
    data: ndarray::ArrayView2<f64>,
    lo: f64,
    hi: f64,
    stretch: Stretch,
    cmap: Colormap,
    step: usize,
) -> (usize, usize, Vec<u8>) {
    let step = step.max(1);
    let (rows, cols) = data.dim();
    let (h, w) = (rows.div_ceil(step), cols.div_ceil(step));
    let lut = cmap.lut();
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut out = Vec::with_capacity(w * h * 4);
    for yi in (0..h).rev() {
        let r = yi * step;
        for xi in 0..w {
            let v = data[[r, xi * step]];
            if v.is_finite() {
                let t = stretch.apply((v - lo) / span);
                let c = lut[(t * 255.0).round() as usize];
                out.extend_from_slice(&[c[0], c[1], c[2], 255]);
            } else {
                out.extend_from_slice(&[255, 0, 255, 255]);
            }
        }
    }
    (w, h, out)
}

/// Points of a source's Kron ellipse (FLUX_AUTO aperture) in (x = column, y = row)
/// coordinates: semi-axes R·A and R·B with R = max(KRON_RADIUS, 3.5) (KRON_RADIUS as
/// SExtractor reports it, the factor 2.5 included), rotated by THETA (degrees,
/// counter-clockwise from the x axis).
pub fn kron_ellipse(
    xc: f64,
    yc: f64,
    a: f64,
    b: f64,
    theta_deg: f64,
    kron_radius: f64,
    n: usize,
) -> Vec<[f64; 2]> {
    let r = kron_radius.max(3.5);
    let (st, ct) = theta_deg.to_radians().sin_cos();
    let (ra, rb) = (r * a, r * b);
    (0..=n.max(4))
        .map(|i| {
            let t = i as f64 / n.max(4) as f64 * std::f64::consts::TAU;
            let (u, v) = (ra * t.cos(), rb * t.sin());
            [xc + u * ct - v * st, yc + u * st + v * ct]
        })
        .collect()
}

/// Short text for SExtractor FLAGS: "" for 0, else the set bits' letters
/// (n neighbours, b blended, s saturated, t truncated, a aperture incomplete).
pub fn flag_text(flags: u32) -> String {
    const NAMES: [(u32, char); 5] = [(1, 'n'), (2, 'b'), (4, 's'), (8, 't'), (16, 'a')];
    NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// Drawing colour of a source by its FLAGS: saturated red, truncated (edge) blue,
/// blended orange, neighbours yellow, clean green.
pub fn flag_color(flags: u32) -> [u8; 3] {
    if flags & 4 != 0 {
        [240, 60, 60]
    } else if flags & (8 | 16) != 0 {
        [90, 160, 255]
    } else if flags & 2 != 0 {
        [255, 150, 40]
    } else if flags & 1 != 0 {
        [240, 230, 60]
    } else {
        [60, 230, 90]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretches_are_monotone_and_bounded() {
        for s in Stretch::ALL {
            assert_eq!(s.apply(0.0), 0.0, "{s:?}");
            assert!((s.apply(1.0) - 1.0).abs() < 1e-12, "{s:?}");
            let mut prev = -1.0;
            for i in 0..=100 {
                let v = s.apply(i as f64 / 100.0);
                assert!(v >= prev, "{s:?} not monotone");
                prev = v;
            }
        }
        assert!(Stretch::Log.apply(0.01) > 0.3, "log lifts faint values");
    }

    #[test]
    fn percentile_limits_clip_the_tails() {
        let data: Vec<f64> = (0..=1000).map(|i| i as f64).collect();
        assert_eq!(
            limits(&data, Limits::MinMax, Stretch::Linear),
            (0.0, 1000.0)
        );
        let (lo, hi) = limits(&data, Limits::Percentile(90.0), Stretch::Linear);
        assert_eq!((lo, hi), (50.0, 950.0));
    }

    #[test]
    fn zscale_ignores_bright_stars() {
        // Noise around 100 (sd 5) plus 2% very bright pixels.
        let mut r = crate::data::rng::Rng::new(3);
        let data: Vec<f64> = (0..100_000)
            .map(|i| {
                if i % 47 == 0 {
                    50_000.0
                } else {
                    100.0 + 5.0 * r.normal()
                }
            })
            .collect();
        let (lo, hi) = zscale(&data);
        assert!(lo > 70.0 && lo < 100.0, "lo {lo}");
        assert!(hi > 100.0 && hi < 200.0, "hi {hi}");
        // A constant image falls back to its (degenerate) range.
        assert_eq!(zscale(&[7.0; 100]), (7.0, 7.0));
    }

    #[test]
    fn kron_ellipse_axes_and_flags() {
        // A = 2, B = 1, THETA = 90°: the major axis is along y; R = 5
        let e = kron_ellipse(10.0, 20.0, 2.0, 1.0, 90.0, 5.0, 4);
        assert_eq!(e.len(), 5);
        assert!((e[0][0] - 10.0).abs() < 1e-12 && (e[0][1] - 30.0).abs() < 1e-12);
        assert!((e[1][0] - 5.0).abs() < 1e-12 && (e[1][1] - 20.0).abs() < 1e-12);
        // a small Kron radius is raised to the 3.5 minimum
        let e = kron_ellipse(0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 8);
        assert!((e[0][0] - 3.5).abs() < 1e-12);
        assert_eq!(flag_text(0), "");
        assert_eq!(flag_text(2 | 8), "bt");
        assert_ne!(flag_color(4), flag_color(0));
        assert_eq!(flag_color(4 | 2), flag_color(4));
    }

    #[test]
    fn render_flips_rows_and_marks_nan() {
        let d = ndarray::array![[0.0, 1.0], [f64::NAN, 1.0]];
        let (w, h, px) = render(d.view(), 0.0, 1.0, Stretch::Linear, Colormap::Grey, 1);
        assert_eq!((w, h), (2, 2));
        // First output row is data row 1 (NaN shown magenta).
        assert_eq!(&px[0..4], &[255, 0, 255, 255]);
        assert_eq!(&px[8..12], &[0, 0, 0, 255]);
        assert_eq!(&px[12..16], &[255, 255, 255, 255]);
    }
}
