//! What the sources drawn over a CCD frame mean: the legend of their colours and FLAGS
//! letters, and the catalogue row of the source under the pointer. The drawing itself and
//! the colours are in [`super::frame`].

use super::frame::{flag_color, flag_text, SourceColumns};
use super::generic::format_number;
use crate::kernels::extract::photometry::{
    FLAG_APER_INCOMPLETE, FLAG_BLENDED, FLAG_CROWDED, FLAG_SATURATED, FLAG_TRUNCATED,
};
use egui::{Color32, RichText};
use egui_plot::PlotPoint;
use ndarray::Array2;

/// SExtractor's FLAGS bits as the overlay shows them: bit, letter, meaning.
pub const FLAG_MEANINGS: [(u32, char, &str); 5] = [
    (
        FLAG_CROWDED,
        'n',
        "neighbours: >10% of the AUTO aperture is other objects",
    ),
    (FLAG_BLENDED, 'b', "blended: split off by deblending"),
    (FLAG_SATURATED, 's', "saturated pixel (≥ satur_level)"),
    (FLAG_TRUNCATED, 't', "truncated: touches the frame edge"),
    (
        FLAG_APER_INCOMPLETE,
        'a',
        "aperture incomplete: AUTO ellipse leaves the frame",
    ),
];

/// The colour classes of the overlay, in [`flag_color`]'s order of precedence: a flags
/// value that shows the class, and its name.
const COLOUR_CLASSES: [(u32, &str); 5] = [
    (0, "clean"),
    (FLAG_CROWDED, "n neighbours"),
    (FLAG_BLENDED, "b blended"),
    (FLAG_TRUNCATED | FLAG_APER_INCOMPLETE, "t/a at the edge"),
    (FLAG_SATURATED, "s saturated"),
];

fn colour_of(flags: u32) -> Color32 {
    let [r, g, b] = flag_color(flags);
    Color32::from_rgb(r, g, b)
}

/// The legend over the frame: what each outline colour and each flag letter means (a
/// table without FLAGS — the threshold mode — has one colour and no letters).
pub(super) fn legend_ui(ui: &mut egui::Ui, names: &[String], n_sources: usize) {
    let has_flags = names.iter().any(|c| c == "flags");
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("{n_sources} sources:")).strong());
        if !has_flags {
            ui.label(
                RichText::new("○ source (mean + k·σ threshold; no flags)").color(colour_of(0)),
            );
            ui.label("· id beside each; hover one for its row");
            return;
        }
        for (flags, name) in COLOUR_CLASSES {
            ui.label(
                RichText::new(format!("○ {name}"))
                    .color(colour_of(flags))
                    .strong(),
            );
        }
        ui.label("· id and FLAGS letters beside each; hover one for its row")
            .on_hover_ui(|ui| flag_meanings_ui(ui, u32::MAX));
    });
}

/// One line per set FLAGS bit of `flags`: letter and meaning.
fn flag_meanings_ui(ui: &mut egui::Ui, flags: u32) {
    for (bit, letter, meaning) in FLAG_MEANINGS {
        if flags & bit != 0 {
            ui.label(format!("{letter} ({bit}): {meaning}"));
        }
    }
}

/// The row of the source whose outline holds `at` (the nearest centre if several do).
pub(super) fn source_at(cols: &SourceColumns, t: &Array2<f64>, at: PlotPoint) -> Option<usize> {
    t.rows()
        .into_iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let (x, y) = cols.centre(&row);
            let d = (x - at.x).hypot(y - at.y);
            let (_, rad) = cols.outline(&row);
            // The label radius is the outline's inscribed size; at least 4 px to hit.
            (d <= (rad * std::f64::consts::SQRT_2).max(4.0)).then_some((i, d))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// The tooltip of a hovered source: every column of its catalogue row, FLAGS spelled out.
pub(super) fn source_tooltip_ui(ui: &mut egui::Ui, names: &[String], t: &Array2<f64>, i: usize) {
    let row = t.row(i);
    egui::Grid::new("source-row").striped(true).show(ui, |ui| {
        for (name, v) in names.iter().zip(row.iter()) {
            ui.label(RichText::new(name).strong());
            if name == "flags" {
                let f = *v as u32;
                let letters = flag_text(f);
                ui.label(if letters.is_empty() {
                    "0 (clean)".to_string()
                } else {
                    format!("{f} ({letters})")
                });
            } else {
                ui.label(format_number(*v));
            }
            ui.end_row();
        }
    });
    if let Some(k) = names.iter().position(|c| c == "flags") {
        flag_meanings_ui(ui, row[k] as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_under_the_pointer_is_found() {
        let names: Vec<String> = crate::kernels::image::SOURCE_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .collect();
        // label, npix, flux, centroid row/col, weighted centroid row/col
        let t = ndarray::arr2(&[
            [1.0, 12.0, 500.0, 10.0, 20.0, 10.0, 20.0],
            [2.0, 30.0, 900.0, 50.0, 60.0, 50.2, 60.1],
        ]);
        let cols = SourceColumns::find(&names).expect("columns");
        assert_eq!(source_at(&cols, &t, PlotPoint::new(60.5, 50.0)), Some(1));
        assert_eq!(source_at(&cols, &t, PlotPoint::new(21.0, 11.0)), Some(0));
        assert_eq!(source_at(&cols, &t, PlotPoint::new(200.0, 200.0)), None);
    }

    #[test]
    fn every_flag_letter_has_a_meaning_and_every_colour_a_class() {
        for (bit, letter, _) in FLAG_MEANINGS {
            assert_eq!(flag_text(bit), letter.to_string());
        }
        let all: u32 = FLAG_MEANINGS.iter().map(|f| f.0).sum();
        assert_eq!(flag_text(all).len(), FLAG_MEANINGS.len());
        // the legend's classes are the overlay's distinct colours
        let mut colours: Vec<[u8; 3]> = COLOUR_CLASSES.iter().map(|c| flag_color(c.0)).collect();
        colours.dedup();
        assert_eq!(colours.len(), COLOUR_CLASSES.len());
        for f in 0..32 {
            assert!(colours.contains(&flag_color(f)), "flags {f}");
        }
    }
}
