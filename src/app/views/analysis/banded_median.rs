//! Banded median: the frame before and after the in-place 3×3 median side by side, in
//! the same stretch and display limits (the input's), their zoom and pan linked, the row
//! bands the filter worked in marked; zoomed in, both panes are drawn at full resolution
//! so single pixels (cosmic rays, noise) can be compared. Below (or beside, on a wide
//! short window) the memory story: the bytes the in-place filter held (the one shared
//! frame, the halo rows, the working rows) against what an out-of-place filter needs (the
//! frame and a second, output frame), every part labelled with its size.

use super::common::{cached, headline, note, num};
use super::{ResultCtx, ResultView};
use crate::analyses::banded_median::{self as bm, BandedMedian};
use crate::app::theme::palette;
use crate::app::views::frame::{self, render};
use crate::app::views::ViewerState;
use crate::app::widgets::human_bytes;
use crate::data::Dataset;
use crate::engine::{Analysis, ArtifactData};
use egui::{Color32, RichText};
use egui_plot::{
    Bar, BarChart, GridInput, GridMark, HLine, Line, Plot, PlotBounds, PlotImage, PlotPoint, Text,
};
use ndarray::{s, ArrayView2, Ix2};

pub struct BandedMedianView;

/// Band boundaries over the frames.
const BAND_LINE: Color32 = Color32::from_rgba_premultiplied(200, 170, 0, 170);
/// Largest side (pixels) of the full-resolution crop drawn when zoomed in.
const CROP_MAX: usize = 1024;
/// Crops start and end on multiples of this (so small pans reuse the crop).
const CROP_SNAP: usize = 128;

/// The two frames' textures in one display setting.
struct Pair {
    before: egui::TextureHandle,
    after: egui::TextureHandle,
    lo: f64,
    hi: f64,
    step: usize,
}

/// Full-resolution textures of rows r0..r1, columns c0..c1 of both frames.
struct Crop {
    rect: [usize; 4],
    before: egui::TextureHandle,
    after: egui::TextureHandle,
}

impl ResultView for BandedMedianView {
    fn analysis(&self) -> &'static dyn Analysis {
        &BandedMedian
    }
    fn ui(&self, ui: &mut egui::Ui, st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Dataset::Frame(f) = &cx.data.data else {
            ui.label("This run's input is not a frame.");
            return;
        };
        let after = match cx.out.get(bm::MEDIAN) {
            Some(ArtifactData::F64(a)) => a.view().into_dimensionality::<Ix2>().ok(),
            _ => None,
        };
        let Some(after) = after.filter(|a| a.dim() == f.data.dim()) else {
            ui.label("This run has no median frame of the input's size.");
            return;
        };
        let before = f.data.view();
        let (rows, cols) = before.dim();
        let s = |k| cx.out.summary_f64(k).unwrap_or(0.0);
        let (bands, band_rows) = (s(bm::BANDS) as usize, s(bm::BAND_ROWS) as usize);
        let mem = Memory {
            frame: s(bm::FRAME_BYTES),
            halo: s(bm::HALO_BYTES),
            work: s(bm::WORK_BYTES),
            in_place: s(bm::BYTES_ALLOCATED),
            out_of_place: s(bm::OUT_OF_PLACE_BYTES),
        };
        headline(
            ui,
            format!(
                "{rows}×{cols} frame, 3×3 median in place, {bands} bands of {band_rows} rows: {} held vs {} out of place (+{:.2} %)",
                human_bytes(mem.in_place as usize),
                human_bytes(mem.out_of_place as usize),
                100.0 * s(bm::EXTRA_FRACTION)
            ),
        );
        frame::display_controls_ui(ui, st, false);
        let show_id = ui.id().with("banded-median-bands");
        let show_bands = ui.data(|d| d.get_temp::<bool>(show_id)).unwrap_or(true);

        let pair = textures(ui, st, before, after);
        // boundaries can be drawn between 2 to 512 bands
        let band_rows = (bands > 1 && bands <= 512).then_some(band_rows);
        let frames = Frames {
            before,
            after,
            pair: &pair,
            band_rows,
            show_bands,
            show_id,
        };
        let mut avail = ui.available_size();
        let gap = ui.spacing().item_spacing.x;
        if avail.x < 600.0 && avail.y < 360.0 {
            // A projector with the side panel shown leaves ~520×280 points: the frames
            // get all of it; the headline already gives the bytes held.
            note(
                ui,
                "bytes held: see the headline; hide the side panel (F9) for their chart",
            );
            avail.y = ui.available_height();
            frames.ui(ui, st, avail);
        } else if avail.x > 1.8 * avail.y {
            // wide and short (a projector with the side panel hidden): three columns
            let w = ((avail.x - gap) * 0.62).max(100.0);
            ui.horizontal_top(|ui| {
                frames.ui(ui, st, egui::vec2(w, avail.y));
                sized(ui, egui::vec2(avail.x - gap - w, avail.y), |ui| {
                    memory_ui(ui, &mem, false)
                });
            });
        } else {
            let h_mem = (avail.y * 0.27).clamp(110.0, 230.0);
            frames.ui(ui, st, egui::vec2(avail.x, avail.y - h_mem - gap));
            memory_ui(ui, &mem, true);
        }
    }
}

/// The before and after frames and how they are drawn.
struct Frames<'a> {
    before: ArrayView2<'a, f64>,
    after: ArrayView2<'a, f64>,
    pair: &'a Pair,
    /// Rows per band, when the band boundaries can be drawn.
    band_rows: Option<usize>,
    /// Whether they are.
    show_bands: bool,
    /// Where the "band boundaries" tickbox keeps its state.
    show_id: egui::Id,
}

impl Frames<'_> {
    /// Both frames side by side in `size`, with a line under them saying what is shown.
    fn ui(&self, ui: &mut egui::Ui, st: &ViewerState, size: egui::Vec2) {
        sized(ui, size, |ui| {
            let row_h = ui.text_style_height(&egui::TextStyle::Body);
            let gap = ui.spacing().item_spacing.x;
            let w = (size.x - gap) / 2.0;
            // room for the title above and two lines below
            let h = size.y - 3.0 * (row_h + ui.spacing().item_spacing.y) - 6.0;
            // The crop drawn at full resolution, chosen from last frame's visible area.
            let crop_id = ui.id().with("banded-median-crop");
            let want: Option<[usize; 4]> = ui.data(|d| d.get_temp(crop_id)).flatten();
            let crop = want.map(|rect| {
                cached(ui, "banded-median-crop", (rect, self.key(st)), || {
                    self.crop(ui, st, rect)
                })
            });
            let mut visible = None;
            ui.horizontal_top(|ui| {
                for (k, title) in [
                    (0, "before: the input frame"),
                    (1, "after: 3×3 median, in place"),
                ] {
                    sized(ui, egui::vec2(w, h + row_h), |ui| {
                        note(ui, title);
                        let b = self.plot(ui, k, h, crop.as_deref());
                        visible.get_or_insert(b);
                    });
                }
            });
            let next = visible.and_then(|b| self.crop_for(b));
            if next != want {
                ui.data_mut(|d| d.insert_temp(crop_id, next));
                ui.ctx().request_repaint();
            }
            let p = self.pair;
            let mut text = format!(
                "same limits {} … {}; zoom one, both follow",
                num(p.lo),
                num(p.hi)
            );
            if p.step > 1 {
                text.push_str(&match crop.as_deref().filter(|_| want.is_some()) {
                    Some(_) => " (drawn at full resolution)".to_string(),
                    None => format!(" (1:{} until zoomed in)", p.step),
                });
            }
            ui.horizontal_wrapped(|ui| {
                let mut show = self.show_bands;
                if self.band_rows.is_some() && ui.checkbox(&mut show, "band boundaries").changed() {
                    ui.data_mut(|d| d.insert_temp(self.show_id, show));
                }
                ui.label(RichText::new(text).weak());
            });
        })
    }

    /// The texture key: the frames' addresses and the display setting.
    fn key(&self, st: &ViewerState) -> (usize, usize, String) {
        (
            self.before.as_ptr() as usize,
            self.after.as_ptr() as usize,
            format!("{:?}{:?}{:?}", st.stretch, st.limits, st.colormap),
        )
    }

    /// One frame (0 before, 1 after) as a plot of height `h`; returns its visible bounds.
    fn plot(&self, ui: &mut egui::Ui, which: usize, h: f32, crop: Option<&Crop>) -> PlotBounds {
        let (rows, cols) = self.before.dim();
        let tex = if which == 0 {
            &self.pair.before
        } else {
            &self.pair.after
        };
        let (before, after) = (self.before, self.after);
        let resp = Plot::new(("banded-median-frame", which))
            .height(h)
            .data_aspect(1.0)
            .link_axis("banded-median-frames", [true, true])
            .link_cursor("banded-median-frames", [true, true])
            .x_axis_label("column")
            .y_axis_label("row")
            .show_grid(false)
            .label_formatter(move |_, p| {
                let (r, c) = (p.y.round(), p.x.round());
                if r < 0.0 || c < 0.0 || r >= rows as f64 || c >= cols as f64 {
                    return String::new();
                }
                let (r, c) = (r as usize, c as usize);
                format!(
                    "row {r}, column {c}\nbefore {:.5}\nafter {:.5}",
                    before[[r, c]],
                    after[[r, c]]
                )
            })
            .show(ui, |p| {
                p.image(frame::whole_frame_image(tex.id(), rows, cols));
                if let Some(c) = crop {
                    let [r0, r1, c0, c1] = c.rect;
                    let t = if which == 0 { &c.before } else { &c.after };
                    p.image(PlotImage::new(
                        "frame",
                        t.id(),
                        PlotPoint::new((c0 + c1) as f64 / 2.0 - 0.5, (r0 + r1) as f64 / 2.0 - 0.5),
                        egui::vec2((c1 - c0) as f32, (r1 - r0) as f32),
                    ));
                }
                if let Some(b) = self.band_rows.filter(|_| self.show_bands) {
                    // across the frames when few are in view, else as ticks beside them
                    let bounds = p.plot_bounds();
                    let across = (bounds.max()[1] - bounds.min()[1]) / b as f64 <= 16.0;
                    let tick = 0.04 * cols as f64;
                    for y in (b..rows).step_by(b) {
                        let y = y as f64 - 0.5;
                        if across {
                            p.hline(HLine::new("band boundaries", y).color(BAND_LINE).width(1.0));
                        } else {
                            for (x0, x1) in [(-tick, -0.5), (cols as f64 - 0.5, cols as f64 + tick)]
                            {
                                p.line(
                                    Line::new("band boundaries", vec![[x0, y], [x1, y]])
                                        .color(BAND_LINE)
                                        .width(1.5),
                                );
                            }
                        }
                    }
                }
            });
        *resp.transform.bounds()
    }

    /// The crop to draw at full resolution for the visible `b`: none when the frames are
    /// shown 1:1 anyway or more than [`CROP_MAX`] pixels a side are visible.
    fn crop_for(&self, b: PlotBounds) -> Option<[usize; 4]> {
        let (rows, cols) = self.before.dim();
        let ([x0, y0], [x1, y1]) = (b.min(), b.max());
        if self.pair.step <= 1 || x1 - x0 > CROP_MAX as f64 || y1 - y0 > CROP_MAX as f64 {
            return None;
        }
        let snap = |lo: f64, hi: f64, n: usize| -> Option<(usize, usize)> {
            let a = (lo.max(0.0) as usize / CROP_SNAP) * CROP_SNAP;
            let z = ((hi.max(0.0) as usize).div_ceil(CROP_SNAP) * CROP_SNAP + CROP_SNAP).min(n);
            let a = a.saturating_sub(CROP_SNAP);
            (z > a).then_some((a, z))
        };
        let (r0, r1) = snap(y0, y1, rows)?;
        let (c0, c1) = snap(x0, x1, cols)?;
        Some([r0, r1, c0, c1])
    }

    /// Full-resolution textures of `rect` of both frames in the pair's display limits.
    fn crop(&self, ui: &egui::Ui, st: &ViewerState, rect: [usize; 4]) -> Crop {
        let [r0, r1, c0, c1] = rect;
        let p = self.pair;
        let tex = |v: ArrayView2<f64>, name: &str| {
            let (w, h, px) = render(v, p.lo, p.hi, st.stretch, st.colormap, 1);
            let img = egui::ColorImage::from_rgba_unmultiplied([w, h], &px);
            ui.ctx()
                .load_texture(name, img, egui::TextureOptions::NEAREST)
        };
        Crop {
            rect,
            before: tex(
                self.before.slice(s![r0..r1, c0..c1]),
                "banded-median-crop-before",
            ),
            after: tex(
                self.after.slice(s![r0..r1, c0..c1]),
                "banded-median-crop-after",
            ),
        }
    }
}

/// Both frames drawn with the input's display limits (subsampled to at most 2048 pixels
/// a side), computed once per run and display setting.
fn textures(
    ui: &egui::Ui,
    st: &ViewerState,
    before: ArrayView2<f64>,
    after: ArrayView2<f64>,
) -> std::sync::Arc<Pair> {
    let key = (
        before.as_ptr() as usize,
        after.as_ptr() as usize,
        format!("{:?}{:?}{:?}", st.stretch, st.limits, st.colormap),
    );
    cached(ui, "banded-median-frames", key, || {
        let flat: std::borrow::Cow<[f64]> = match before.as_slice() {
            Some(x) => x.into(),
            None => before.iter().copied().collect::<Vec<f64>>().into(),
        };
        let (lo, hi) = frame::limits(&flat, st.limits, st.stretch);
        let (rows, cols) = before.dim();
        let step = rows.max(cols).div_ceil(2048).max(1);
        let tex = |v: ArrayView2<f64>, name: &str| {
            let (w, h, px) = render(v, lo, hi, st.stretch, st.colormap, step);
            let img = egui::ColorImage::from_rgba_unmultiplied([w, h], &px);
            ui.ctx()
                .load_texture(name, img, egui::TextureOptions::NEAREST)
        };
        Pair {
            before: tex(before, "banded-median-before"),
            after: tex(after, "banded-median-after"),
            lo,
            hi,
            step,
        }
    })
}

/// A top-down area of exactly `size`.
fn sized<R>(ui: &mut egui::Ui, size: egui::Vec2, add: impl FnOnce(&mut egui::Ui) -> R) -> R {
    ui.allocate_ui_with_layout(size, egui::Layout::top_down(egui::Align::Min), |ui| {
        ui.set_min_size(size);
        ui.set_max_size(size);
        add(ui)
    })
    .inner
}

/// The bytes from the run's summary.
struct Memory {
    frame: f64,
    halo: f64,
    work: f64,
    in_place: f64,
    out_of_place: f64,
}

/// The parts of each bar: (name, colour, bytes in place, bytes out of place).
fn parts(m: &Memory) -> [(&'static str, Color32, f64, f64); 4] {
    [
        ("frame (shared)", palette(0), m.frame, m.frame),
        ("halo rows", palette(1), m.halo, 0.0),
        ("working rows", palette(3), m.work, 0.0),
        ("output frame", palette(2), 0.0, m.out_of_place - m.frame),
    ]
}

/// In place vs out of place: stacked bars of the bytes held, each total written at its
/// bar's end, the parts named with their sizes in a legend line above.
fn memory_ui(ui: &mut egui::Ui, m: &Memory, horizontal: bool) {
    let parts = parts(m);
    let legend = |ui: &mut egui::Ui| {
        ui.label(RichText::new("bytes held:").strong());
        for (name, color, inp, out) in parts {
            let b = if inp > 0.0 { inp } else { out };
            ui.horizontal(|ui| {
                ui.label(RichText::new("■").color(color));
                ui.label(format!("{name} {}", human_bytes(b as usize)));
            });
        }
    };
    if horizontal {
        ui.horizontal_wrapped(legend);
    } else {
        legend(ui);
    }
    let mb = 1e6;
    let text_color = ui.visuals().strong_text_color();
    let labels = ["out of place", "in place (this run)"];
    let mut charts: Vec<BarChart> = Vec::new();
    for (name, color, inp, out) in parts {
        let bar = |pos: f64, bytes: f64, what: &str| {
            let b = Bar::new(pos, bytes / mb)
                .width(0.6)
                .name(format!("{what}: {name}, {}", human_bytes(bytes as usize)));
            if horizontal {
                b.horizontal()
            } else {
                b
            }
        };
        let bars = vec![bar(0.0, out, labels[0]), bar(1.0, inp, labels[1])];
        let mut c = BarChart::new(name, bars)
            .color(color)
            .element_formatter(Box::new(|b, _| b.name.clone()));
        if horizontal {
            c = c.horizontal();
        }
        let below: Vec<&BarChart> = charts.iter().collect();
        c = c.stack_on(&below);
        charts.push(c);
    }
    let top = m.out_of_place / mb;
    let totals = [
        (0.0, m.out_of_place, "2 × the frame"),
        (1.0, m.in_place, ""),
    ];
    let ratio = m.in_place / m.frame.max(1.0);
    let plot = Plot::new("banded-median-memory")
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show_x(false)
        .show_y(false)
        .show_grid([horizontal, !horizontal]);
    let plot = if horizontal {
        plot.x_axis_label("bytes held (MB)")
            .y_grid_spacer(two_marks)
            .y_axis_formatter(move |g, _| category(g.value, &labels))
            .include_x(0.0)
            .include_x(top * 1.05)
            .include_y(-0.5)
            .include_y(1.5)
    } else {
        plot.y_axis_label("bytes held (MB)")
            .x_grid_spacer(two_marks)
            .x_axis_formatter(move |g, _| category(g.value, &["out of place", "in place"]))
            .include_y(0.0)
            .include_y(top * 1.45)
            .include_x(-0.5)
            .include_x(1.5)
    };
    plot.show(ui, |p| {
        for c in charts {
            p.bar_chart(c);
        }
        for (pos, bytes, what) in totals {
            let what = if what.is_empty() {
                format!("{ratio:.3} × the frame")
            } else {
                what.to_string()
            };
            let size = human_bytes(bytes as usize);
            let label = if horizontal {
                format!(" {size} = {what} ")
            } else {
                // the category too: a narrow column drops the axis' tick labels
                let what = what.replace(" the frame", "");
                format!(
                    " {}\n {size} ({what}) ",
                    ["out of place", "in place"][pos as usize]
                )
            };
            let text = RichText::new(label).text_style(egui::TextStyle::Body);
            let (at, anchor) = if horizontal && pos == 0.0 {
                // inside the longer bar, at its end
                (PlotPoint::new(bytes / mb, pos), egui::Align2::RIGHT_CENTER)
            } else if horizontal {
                (PlotPoint::new(bytes / mb, pos), egui::Align2::LEFT_CENTER)
            } else if pos == 0.0 {
                // flush with the plot's edges, so that both fit a narrow column
                (PlotPoint::new(-0.45, bytes / mb), egui::Align2::LEFT_BOTTOM)
            } else {
                (PlotPoint::new(1.45, bytes / mb), egui::Align2::RIGHT_BOTTOM)
            };
            p.text(Text::new("", at, text).anchor(anchor).color(text_color));
        }
    });
}

/// Ticks at the two bars (0 and 1) only.
fn two_marks(_: GridInput) -> Vec<GridMark> {
    (0..2)
        .map(|i| GridMark {
            value: i as f64,
            step_size: 1.0,
        })
        .collect()
}

/// The name of the bar at `v` (0 or 1), nothing elsewhere.
fn category(v: f64, names: &[&str; 2]) -> String {
    let i = v.round();
    if (v - i).abs() < 1e-6 && (0.0..=1.0).contains(&i) {
        names[i as usize].to_string()
    } else {
        String::new()
    }
}
