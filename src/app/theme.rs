//! Colours and the two display modes: normal and lecture (large text, high contrast,
//! thick plot lines for projectors). Kept apart from data and views.

use crate::engine::Variant;
use egui::{Color32, Visuals};

pub fn variant_color(v: Variant) -> Color32 {
    match v {
        Variant::Naive => Color32::from_rgb(230, 97, 72),
        Variant::Vectorized => Color32::from_rgb(70, 150, 235),
        Variant::Parallel => Color32::from_rgb(80, 190, 110),
    }
}

/// The Python reference's bars: one warm gold family (Python's yellow), lighter for the
/// slower libraries, so they read as one tool beside our red, blue and green variants.
pub fn python_color(library: &str) -> Color32 {
    match library {
        "python" => Color32::from_rgb(245, 220, 120),
        "numpy" | "scipy" | "astropy" | "sep" => Color32::from_rgb(228, 180, 40),
        _ => Color32::from_rgb(196, 140, 20),
    }
}

/// A run's name and colour wherever runs are listed (Timing bars, History): our variant, or
/// the Python implementation it timed ("py numba prange").
pub fn run_label(r: &crate::bench::RunRecord, v: &crate::bench::VariantRun) -> (String, Color32) {
    if r.tool == "astroperf" {
        (v.variant.name().to_string(), variant_color(v.variant))
    } else {
        let library = crate::bench::python::library_of(v);
        let method = crate::bench::python::short_method(crate::bench::python::method_of(v));
        let tool = if r.tool == "python" { "py" } else { &r.tool };
        (format!("{tool} {method}"), python_color(library))
    }
}

/// Distinct colours for stages and series.
pub fn palette(i: usize) -> Color32 {
    const P: [Color32; 8] = [
        Color32::from_rgb(102, 194, 165),
        Color32::from_rgb(252, 141, 98),
        Color32::from_rgb(141, 160, 203),
        Color32::from_rgb(231, 138, 195),
        Color32::from_rgb(166, 216, 84),
        Color32::from_rgb(255, 217, 47),
        Color32::from_rgb(229, 196, 148),
        Color32::from_rgb(179, 179, 179),
    ];
    P[i % P.len()]
}

/// The symbols the app writes that egui's default fonts lack (✓ ⚠ ∝ ≤ …), from a
/// 9.5 kB subset of DejaVu Sans (assets/fonts, with its licence), tried after the
/// default fonts so the text keeps their look.
pub fn install_fonts(ctx: &egui::Context) {
    const NAME: &str = "dejavu-symbols";
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        NAME.into(),
        std::sync::Arc::new(egui::FontData::from_static(include_bytes!(
            "../../assets/fonts/dejavu-symbols.ttf"
        ))),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts.families.entry(family).or_default().push(NAME.into());
    }
    ctx.set_fonts(fonts);
}

/// Apply theme and lecture mode; returns the plot line width to use.
pub fn apply(ctx: &egui::Context, dark: bool, lecture: bool) -> f32 {
    let mut v = if dark {
        Visuals::dark()
    } else {
        Visuals::light()
    };
    if lecture {
        // High contrast: pure background, strong text, thicker widget outlines.
        if dark {
            v.panel_fill = Color32::BLACK;
            v.window_fill = Color32::BLACK;
            v.extreme_bg_color = Color32::BLACK;
            v.override_text_color = Some(Color32::WHITE);
        } else {
            v.panel_fill = Color32::WHITE;
            v.window_fill = Color32::WHITE;
            v.extreme_bg_color = Color32::WHITE;
            v.override_text_color = Some(Color32::BLACK);
        }
        v.widgets.noninteractive.fg_stroke.width = 2.0;
        v.widgets.inactive.fg_stroke.width = 2.0;
        v.widgets.hovered.fg_stroke.width = 2.5;
    }
    ctx.set_visuals(v);
    let zoom = if lecture { 1.6 } else { 1.0 };
    if (ctx.zoom_factor() - zoom).abs() > 1e-3 {
        ctx.set_zoom_factor(zoom);
    }
    if lecture {
        3.0
    } else {
        1.5
    }
}

/// The colour of a stage, the same in every view (stacked bars, flame graph, compare):
/// each stage name gets the next free colour of a 12-colour palette the first time it is
/// drawn, so the few stages of one analysis never share a colour and keep it all session.
pub fn stage_color(name: &str) -> Color32 {
    const P: [Color32; 12] = [
        Color32::from_rgb(78, 121, 167),
        Color32::from_rgb(242, 142, 43),
        Color32::from_rgb(89, 161, 79),
        Color32::from_rgb(225, 87, 89),
        Color32::from_rgb(118, 183, 178),
        Color32::from_rgb(237, 201, 72),
        Color32::from_rgb(176, 122, 161),
        Color32::from_rgb(255, 157, 167),
        Color32::from_rgb(156, 117, 95),
        Color32::from_rgb(140, 200, 240),
        Color32::from_rgb(190, 220, 120),
        Color32::from_rgb(220, 170, 240),
    ];
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if name == crate::bench::OTHER_STAGE {
        return Color32::from_rgb(150, 150, 150);
    }
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let i = match seen.iter().position(|s| s == name) {
        Some(i) => i,
        None => {
            seen.push(name.to_string());
            seen.len() - 1
        }
    };
    P[i % P.len()]
}
