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

/// The colour of a stage, the same in every view (stacked bars, flame graph, roofline):
/// picked from the palette by a hash of the name, so it does not depend on which other
/// stages a run has or in what order they ran.
pub fn stage_color(name: &str) -> Color32 {
    if name == crate::bench::OTHER_STAGE {
        return Color32::from_rgb(150, 150, 150);
    }
    // FNV-1a: stable across runs and platforms (unlike the std hasher's seed).
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    palette((h % 7) as usize)
}
