//! Catalogs on the sky: one or two scattered in RA and Dec, the first one's matched rows
//! ringed (the cross-match's result).

use super::stride;
use crate::analyses::cross_match;
use crate::app::theme::palette;
use crate::data::Catalog;
use crate::engine::Output;
use egui::Color32;
use egui_plot::{Legend, MarkerShape, Plot, Points};

/// Sky scatter of one or two catalogs; matched rows of the first catalog ringed.
pub(super) fn sky_ui(ui: &mut egui::Ui, cats: &[&Catalog], out: Option<&Output>, line_w: f32) {
    let matches = out.and_then(|o| o.table_of(cross_match::MATCHES));
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
