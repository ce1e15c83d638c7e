//! Points in a plane (x, y), drawn at equal scale.

use super::stride;
use crate::data::Points as PointSet;
use egui_plot::{Plot, Points};

/// The points as a scatter with a 1:1 aspect.
pub(super) fn points_ui(ui: &mut egui::Ui, p: &PointSet) {
    let xy: Vec<[f64; 2]> = stride(p.xy.rows().into_iter())
        .iter()
        .map(|r| [r[0], r[1]])
        .collect();
    Plot::new("points").data_aspect(1.0).show(ui, |pl| {
        pl.points(Points::new("points", xy).radius(1.5));
    });
}
