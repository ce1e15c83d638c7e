//! Cross-match: the separation histogram of the matches beside a zoomable sky window.
//! The window opens on a small field around a matched source, sized to hold a few dozen
//! sources, so both catalogs and their matches stay readable however many rows they
//! have: only the sources inside the window are drawn (strided when there are very
//! many), matched sources are ringed only when few enough are in view, and the segment
//! to the counterpart only when zoomed in further still (separations are sub-arcsecond).

use super::common::{addr, cached, headline, note, num, series_line, span, split, Histogram};
use super::{ResultCtx, ResultView};
use crate::analyses::cross_match as cm;
use crate::app::theme::palette;
use crate::app::views::ViewerState;
use crate::data::{Catalog, Dataset};
use crate::engine::Analysis;
use egui::Color32;
use egui_plot::{Legend, Line, MarkerShape, Plot, PlotBounds, PlotUi, Points, VLine};
use ndarray::Array2;

pub struct CrossMatchView;

/// Bins of the separation histogram over 0 … radius.
const BINS: usize = 40;
/// Most sources drawn per catalog in the window; more are strided.
const MAX_IN_VIEW: usize = 6_000;
/// Matches ringed only when at most this many are in the window.
const MAX_RINGED: usize = 1_500;
/// Segments to the counterpart drawn only when at most this many matches are in view.
const MAX_SEGMENTS: usize = 300;
/// Sources of catalog 1 the opening window is sized to hold.
const SOURCES_IN_FIRST_VIEW: f64 = 40.0;
/// The ring around a matched source.
const MATCHED: Color32 = Color32::from_rgb(230, 60, 60);

/// What the window showed this frame, for the line under it.
struct InView {
    n1: usize,
    n2: usize,
    matches: usize,
    ringed: bool,
}

impl ResultView for CrossMatchView {
    fn analysis(&self) -> &'static dyn Analysis {
        &cm::CrossMatch
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Some((_, t)) = cx.out.table_of(cm::MATCHES) else {
            ui.label("This run has no match table.");
            return;
        };
        let Dataset::CatalogPair(c1, c2) = &cx.data.data else {
            ui.label("This run's input is not a pair of catalogs.");
            return;
        };
        let s = |k| cx.out.summary_f64(k).unwrap_or(f64::NAN);
        let radius = s(cm::RADIUS_ARCSEC);
        let median = s(cm::MEDIAN_SEP_ARCSEC);
        headline(
            ui,
            format!(
                "catalog 1: {} · catalog 2: {} · {:.0} matches ({:.1} % of catalog 1) within {} arcsec · median separation {} arcsec",
                c1.len(),
                c2.len(),
                s(cm::N_MATCHES),
                100.0 * s(cm::MATCH_FRACTION),
                num(radius),
                num(median)
            ),
        );
        let seps = t.column(2);
        let hist = cached(
            ui,
            "cross-match-hist",
            addr(t.as_slice().unwrap_or(&[])),
            || Histogram::new(seps.iter().copied(), 0.0, radius.max(1e-9), BINS),
        );
        split(
            ui,
            0.36,
            |ui| {
                note(ui, "separation of each match (hover a bar for its count)");
                Plot::new("cross-match-hist")
                    .legend(Legend::default())
                    .x_axis_label("separation (arcsec)")
                    .y_axis_label("matches per bin")
                    .include_y(0.0)
                    .show(ui, |p| {
                        p.bar_chart(hist.chart("matches", "arcsec", "matches", palette(0)));
                        p.vline(
                            VLine::new(format!("median {} arcsec", num(median)), median)
                                .color(MATCHED)
                                .width(cx.line_w),
                        );
                    });
            },
            |ui| sky_window_ui(ui, c1, c2, t, cx.line_w),
        );
    }
}

/// The zoomable sky window: both catalogs' sources in view, the matched ones ringed and
/// joined to their counterpart when few enough are in view.
fn sky_window_ui(ui: &mut egui::Ui, c1: &Catalog, c2: &Catalog, t: &Array2<f64>, line_w: f32) {
    note(
        ui,
        "a small field of the sky: drag to pan, Ctrl+scroll to zoom, double-click to reset",
    );
    let (x0, x1, y0, y1) = first_view(c1, t);
    let h = ui.available_height() - 2.0 * ui.text_style_height(&egui::TextStyle::Body) - 8.0;
    let resp = Plot::new("cross-match-sky")
        .height(h)
        .data_aspect(1.0)
        .default_x_bounds(x0, x1)
        .default_y_bounds(y0, y1)
        .legend(Legend::default())
        .x_axis_label("RA (deg)")
        .y_axis_label("Dec (deg)")
        .label_formatter(|name, p| {
            let who = series_line(name);
            format!("{who}RA {:.5}°\nDec {:.5}°", p.x, p.y)
        })
        .show(ui, |p| draw_window(p, c1, c2, t, line_w));
    let v = resp.inner;
    let what = if v.ringed {
        format!("{} matched pairs ringed", v.matches)
    } else {
        format!(
            "{} matches in view: zoom in to ring them (at most {MAX_RINGED})",
            v.matches
        )
    };
    note(
        ui,
        format!(
            "in view: {} sources of catalog 1, {} of catalog 2 · {what}",
            v.n1, v.n2
        ),
    );
}

/// The opening window: centred on the first matched source, its side chosen so about
/// [`SOURCES_IN_FIRST_VIEW`] sources of catalog 1 fall in it at the catalog's mean
/// density.
fn first_view(c1: &Catalog, t: &Array2<f64>) -> (f64, f64, f64, f64) {
    let first = t
        .rows()
        .into_iter()
        .find_map(|r| c1.ra.get(r[0] as usize).zip(c1.dec.get(r[0] as usize)));
    let (ra, dec) = first
        .or_else(|| c1.ra.first().zip(c1.dec.first()))
        .map_or((0.0, 0.0), |(a, d)| (*a, *d));
    let (ra0, ra1) = span(&c1.ra);
    let (de0, de1) = span(&c1.dec);
    // Area of the RA × Dec box on the sphere, in square degrees.
    let area = (ra1 - ra0).max(1e-9)
        * (de1.to_radians().sin() - de0.to_radians().sin())
            .abs()
            .max(1e-12)
        * 180.0
        / std::f64::consts::PI;
    let density = c1.len() as f64 / area;
    let half = (SOURCES_IN_FIRST_VIEW / density).sqrt().clamp(1e-4, 90.0) / 2.0;
    (ra - half, ra + half, dec - half, dec + half)
}

/// Draw the sources and matches inside the plot's current bounds.
fn draw_window(p: &mut PlotUi, c1: &Catalog, c2: &Catalog, t: &Array2<f64>, line_w: f32) -> InView {
    let b = p.plot_bounds();
    let pos = |c: &Catalog, i: usize| [c.ra[i], c.dec[i]];
    let p1 = in_bounds(c1, &b);
    let p2 = in_bounds(c2, &b);
    let matches: Vec<([f64; 2], [f64; 2])> = t
        .rows()
        .into_iter()
        .filter(|r| r[1] >= 0.0 && (r[0] as usize) < c1.len() && (r[1] as usize) < c2.len())
        .map(|r| (pos(c1, r[0] as usize), pos(c2, r[1] as usize)))
        .filter(|(a, _)| inside(&b, *a))
        .collect();
    let r = 2.0 + line_w * 0.7;
    let view = InView {
        n1: p1.len(),
        n2: p2.len(),
        matches: matches.len(),
        ringed: matches.len() <= MAX_RINGED,
    };
    p.points(
        Points::new(format!("catalog 1 ({})", c1.len()), thin(p1))
            .radius(r)
            .color(palette(0)),
    );
    p.points(
        Points::new(format!("catalog 2 ({})", c2.len()), thin(p2))
            .shape(MarkerShape::Cross)
            .radius(r + 1.0)
            .color(palette(1)),
    );
    if view.ringed {
        if matches.len() <= MAX_SEGMENTS {
            for (a, c) in &matches {
                p.line(
                    Line::new("match: catalog 1 to catalog 2", vec![*a, *c])
                        .color(MATCHED)
                        .width(line_w),
                );
            }
        }
        let rings: Vec<[f64; 2]> = matches.iter().map(|m| m.0).collect();
        p.points(
            Points::new("matched (ringed)", rings)
                .shape(MarkerShape::Circle)
                .filled(false)
                .radius(r + 5.0)
                .color(MATCHED),
        );
    }
    view
}

fn inside(b: &PlotBounds, p: [f64; 2]) -> bool {
    let (lo, hi) = (b.min(), b.max());
    p[0] >= lo[0] && p[0] <= hi[0] && p[1] >= lo[1] && p[1] <= hi[1]
}

/// A catalog's positions inside the bounds.
fn in_bounds(c: &Catalog, b: &PlotBounds) -> Vec<[f64; 2]> {
    c.ra.iter()
        .zip(c.dec.iter())
        .map(|(a, d)| [*a, *d])
        .filter(|p| inside(b, *p))
        .collect()
}

/// At most [`MAX_IN_VIEW`] evenly spaced positions.
fn thin(v: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    let step = v.len().div_ceil(MAX_IN_VIEW).max(1);
    if step == 1 {
        v
    } else {
        v.into_iter().step_by(step).collect()
    }
}
