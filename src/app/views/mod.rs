//! Result views, one file per input kind: the dataset drawn with the latest analysis
//! output on top (continuum and lines on a spectrum, periodogram and fold on a light curve,
//! sources on a CCD frame, matches on a sky plot), and a generic view of any artifact for
//! the rest. A view reads the artifacts by the names their analysis exports.

pub mod analysis;
mod catalog;
pub mod frame;
mod generic;
mod light_curve;
mod points;
mod sources;
mod spectrum;

pub use generic::{format_number, generic_ui, summary_ui};

use crate::data::{Dataset, Loaded};
use crate::engine::Output;
use frame::{Colormap, Limits, Stretch, TexKey};
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
    /// The frame view's texture, the key it was drawn for, its display limits and its
    /// subsampling step.
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

/// At most [`MAX_DRAWN`] evenly spaced items of `v`.
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
        Dataset::Spectrum(s) => spectrum::spectrum_ui(ui, s, out, line_w),
        Dataset::LightCurve(l) => light_curve::light_curve_ui(ui, st, l, out, line_w),
        Dataset::Frame(f) => frame::frame_ui(ui, st, f, out),
        Dataset::FrameBatch(v) if !v.is_empty() => {
            let n = v.len();
            ui.add(egui::Slider::new(&mut st.frame_index, 0..=n - 1).text("frame"));
            let i = st.frame_index.min(n - 1);
            frame::frame_ui(ui, st, &v[i], None);
        }
        Dataset::Catalog(c) => catalog::sky_ui(ui, &[c], out, line_w),
        Dataset::CatalogPair(a, b) => catalog::sky_ui(ui, &[a, b], out, line_w),
        Dataset::Points(p) => points::points_ui(ui, p),
        _ => generic_ui(ui, out, line_w),
    }
}
