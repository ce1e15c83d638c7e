//! The run's flame graph: every scope of the run's own profile as a box on a time axis,
//! one lane per thread, lanes grouped by variant (naive, vectorized, parallel) so the three
//! variants sit one under the other, calls on top and their stages beneath, zoomed to
//! fit the whole run. Drawn with egui_plot (scroll to zoom, drag to pan, double-click to fit)
//! and only when something changes: unlike a live profiler it asks for no repaint, so an
//! idle app showing it costs no CPU.

use super::theme::{stage_color, variant_color};
use crate::bench::profile::{RunProfile, Span};
use crate::engine::{Variant, ALL_VARIANTS};
use egui::{Align2, Color32, RichText};
use egui_plot::{Plot, PlotPoint, Polygon, Text};

/// Height of one depth row in plot units, and the gap between lanes and variant groups.
const ROW: f64 = 1.0;
const LANE_GAP: f64 = 0.35;
const HEADER: f64 = 1.1;

/// A lane: its thread name, variant and where its rows start (plot y of its top).
struct Lane {
    name: String,
    variant: Option<Variant>,
    top: f64,
}

fn variant_of(lane: &str) -> Option<Variant> {
    ALL_VARIANTS
        .into_iter()
        .find(|v| lane.starts_with(v.name()))
}

/// Lay the lanes out top-down (y decreasing), with a header row above each variant group.
fn layout(lane_names: &[String], spans: &[Span]) -> (Vec<Lane>, Vec<(Variant, f64)>) {
    let mut lanes = Vec::new();
    let mut headers = Vec::new();
    let mut y = 0.0;
    let mut group: Option<Variant> = None;
    for (i, name) in lane_names.iter().enumerate() {
        let variant = variant_of(name);
        if variant != group {
            if let Some(v) = variant {
                y -= HEADER;
                headers.push((v, y + HEADER));
            }
            group = variant;
        }
        let depth = spans
            .iter()
            .filter(|s| s.lane == i)
            .map(|s| s.depth + 1)
            .max()
            .unwrap_or(1);
        lanes.push(Lane {
            name: name.clone(),
            variant,
            top: y,
        });
        y -= depth as f64 * ROW + LANE_GAP;
    }
    (lanes, headers)
}

/// The label a box shows: a call is named by what it was ("repeat 2", "warm-up 0").
fn label(span: &Span) -> String {
    if span.name == "call" {
        let words: Vec<&str> = span.data.split_whitespace().collect();
        words[words.len().saturating_sub(2)..].join(" ")
    } else {
        span.name.clone()
    }
}

fn fmt_ms(ns: i64) -> String {
    let ms = ns as f64 / 1e6;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.0} µs", ms * 1e3)
    }
}

/// Draw `profile`; `id` keeps the zoom of one run's graph apart from another's.
/// Maps a span's time to the x axis: the run's own clock, or each variant stretched over
/// the same width (0–100% of that variant's time) so a 3 ms variant reads as well as a
/// 200 ms one.
struct XAxis {
    /// Per lane: (start ns, scale to x units).
    lanes: Vec<(i64, f64)>,
}

impl XAxis {
    fn new(lanes: &[Lane], spans: &[Span], stretch: bool) -> Self {
        let per_variant = |v: Option<Variant>| -> (i64, i64) {
            let mut lo = i64::MAX;
            let mut hi = i64::MIN;
            for s in spans.iter().filter(|s| lanes[s.lane].variant == v) {
                lo = lo.min(s.start_ns);
                hi = hi.max(s.start_ns + s.duration_ns);
            }
            (lo, hi)
        };
        XAxis {
            lanes: lanes
                .iter()
                .map(|l| {
                    if stretch {
                        let (lo, hi) = per_variant(l.variant);
                        (lo, 100.0 / (hi - lo).max(1) as f64)
                    } else {
                        (0, 1e-6)
                    }
                })
                .collect(),
        }
    }

    fn x(&self, lane: usize, t_ns: i64) -> f64 {
        let (t0, k) = self.lanes[lane];
        (t_ns - t0) as f64 * k
    }
}

pub fn flame_ui(ui: &mut egui::Ui, id: impl std::hash::Hash, profile: &RunProfile, stretch: bool) {
    let (lane_names, spans) = profile.spans();
    if spans.is_empty() {
        ui.label("This run's profile holds no scopes.");
        return;
    }
    let (lanes, headers) = layout(&lane_names, &spans);
    let axis = XAxis::new(&lanes, &spans, stretch);
    let end_ns = spans
        .iter()
        .map(|s| s.start_ns + s.duration_ns)
        .max()
        .unwrap_or(1);
    ui.label(
        RichText::new(format!(
            "the whole run, {} — one lane per thread, grouped by variant; calls on top, stages beneath. Scroll to zoom, drag to pan, double-click to fit; hover a box for its time.",
            fmt_ms(end_ns)
        ))
        .small(),
    );
    let text = ui.visuals().strong_text_color();
    let bg = ui.visuals().extreme_bg_color;
    let plot_h = (ui.available_height() * 0.62).max(180.0);
    let response = Plot::new(("run_flame", id))
        .height(plot_h)
        .show_x(false)
        .show_grid([true, false])
        .show_y(false)
        .y_axis_formatter(|_, _| String::new())
        .x_axis_label(if stretch {
            "% of each variant's time (every variant stretched to the full width)"
        } else {
            "ms since the run started"
        })
        .allow_scroll(true)
        .show(ui, |pl| {
            let px_per_ms = pl.transform().dpos_dvalue_x() as f32;
            for (v, y) in &headers {
                pl.text(
                    Text::new(
                        "variant",
                        // Standing on its group's first lane: taller text (lecture
                        // mode, a short plot) grows up into the free gap above, not
                        // over the bars.
                        PlotPoint::new(0.0, *y - HEADER),
                        RichText::new(v.name())
                            .strong()
                            .text_style(egui::TextStyle::Body)
                            .color(variant_color(*v)),
                    )
                    .anchor(Align2::LEFT_BOTTOM),
                );
            }
            for s in &spans {
                let lane = &lanes[s.lane];
                let x0 = axis.x(s.lane, s.start_ns);
                let x1 = axis.x(s.lane, s.start_ns + s.duration_ns);
                let y1 = lane.top - s.depth as f64 * ROW;
                let y0 = y1 - ROW * 0.92;
                let fill = if s.depth == 0 {
                    lane.variant.map_or(Color32::GRAY, variant_color)
                } else {
                    stage_color(&s.name)
                };
                pl.polygon(
                    Polygon::new(s.name.clone(), vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
                        .fill_color(fill.gamma_multiply(0.85))
                        .stroke(egui::Stroke::new(1.0, bg))
                        .allow_hover(false),
                );
                let name = label(s);
                let width_px = (x1 - x0) as f32 * px_per_ms;
                // Text only where it fits: about 7 px a character at the body size.
                if width_px > 7.5 * (name.len() as f32 + 1.0) {
                    pl.text(
                        Text::new(
                            "label",
                            PlotPoint::new(0.5 * (x0 + x1), 0.5 * (y0 + y1)),
                            RichText::new(name).color(Color32::BLACK),
                        )
                        .anchor(Align2::CENTER_CENTER),
                    );
                }
            }
            for l in &lanes {
                pl.text(
                    Text::new(
                        "lane",
                        PlotPoint::new(if stretch { 100.0 } else { end_ns as f64 / 1e6 }, l.top),
                        RichText::new(&l.name).color(text),
                    )
                    .anchor(Align2::RIGHT_BOTTOM),
                );
            }
            pl.pointer_coordinate().and_then(|p| {
                spans.iter().rev().find(|s| {
                    let lane = &lanes[s.lane];
                    let y1 = lane.top - s.depth as f64 * ROW;
                    let x0 = axis.x(s.lane, s.start_ns);
                    let x1 = axis.x(s.lane, s.start_ns + s.duration_ns);
                    (x0..=x1).contains(&p.x) && (y1 - ROW..=y1).contains(&p.y)
                })
            })
        });
    let hovered = response.inner;
    let plot_response = response.response;
    stage_totals_ui(ui, &lanes, &spans);
    if let Some(s) = hovered {
        let parent = spans
            .iter()
            .filter(|p| {
                p.lane == s.lane
                    && p.depth + 1 == s.depth
                    && p.start_ns <= s.start_ns
                    && p.start_ns + p.duration_ns >= s.start_ns + s.duration_ns
            })
            .map(|p| p.duration_ns)
            .next();
        plot_response.on_hover_ui_at_pointer(|ui| {
            ui.label(RichText::new(&s.name).strong());
            if !s.data.is_empty() {
                ui.label(&s.data);
            }
            ui.label(format!(
                "{} on {}",
                fmt_ms(s.duration_ns),
                lanes[s.lane].name
            ));
            if let Some(p) = parent.filter(|p| *p > 0) {
                ui.label(format!(
                    "{:.0}% of its parent",
                    100.0 * s.duration_ns as f64 / p as f64
                ));
            }
        });
    }
}

/// Beneath the graph: each stage's total time over the whole run per variant (every
/// call, warm-up included), so the names and sums can be read even where boxes are thin.
fn stage_totals_ui(ui: &mut egui::Ui, lanes: &[Lane], spans: &[Span]) {
    let variants: Vec<Variant> = ALL_VARIANTS
        .into_iter()
        .filter(|v| lanes.iter().any(|l| l.variant == Some(*v)))
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for s in spans.iter().filter(|s| s.depth == 1) {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    let total = |v: Variant, name: &str, depth: usize| -> i64 {
        spans
            .iter()
            .filter(|s| s.depth == depth && s.name == name && lanes[s.lane].variant == Some(v))
            .map(|s| s.duration_ns)
            .sum()
    };
    egui::ScrollArea::vertical()
        .id_salt("flame_totals")
        .max_height(ui.available_height())
        .show(ui, |ui| {
            egui::Grid::new("flame_totals_grid")
                .striped(true)
                .show(ui, |ui| {
                    ui.label(RichText::new("stage (whole run)").strong());
                    for v in &variants {
                        ui.label(RichText::new(v.name()).strong().color(variant_color(*v)));
                    }
                    ui.end_row();
                    ui.label("calls");
                    for v in &variants {
                        ui.label(fmt_ms(total(*v, "call", 0)));
                    }
                    ui.end_row();
                    for name in &names {
                        ui.label(RichText::new(*name).color(stage_color(name)));
                        for v in &variants {
                            ui.label(fmt_ms(total(*v, name, 1)));
                        }
                        ui.end_row();
                    }
                });
        });
}

/// What the Flame graph tab shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlameSource {
    /// The latest run of the selected analysis.
    #[default]
    LatestRun,
    /// The run of this History entry.
    History(usize),
    /// puffin's live profile of the UI thread (repaints continuously while shown).
    Live,
    /// A .puffin file loaded from disk.
    Loaded,
}

/// The Flame graph tab: the chosen run's own profile, or the live UI profile, or a file.
pub(super) fn flame_tab_ui(app: &mut super::AstroApp, ui: &mut egui::Ui) {
    let latest = app
        .last
        .as_ref()
        .filter(|l| l.record.analysis == app.settings.analysis)
        .map(|l| &l.record);
    ui.horizontal_wrapped(|ui| {
        ui.label("show:");
        ui.selectable_value(&mut app.flame, FlameSource::LatestRun, "latest run");
        if let FlameSource::History(id) = app.flame {
            ui.selectable_value(
                &mut app.flame,
                FlameSource::History(id),
                format!("history #{id}"),
            );
        }
        ui.selectable_value(&mut app.flame, FlameSource::Live, "live UI profile")
            .on_hover_text("puffin's own view of the app's frames (it repaints continuously)");
        if let Some((name, _)) = &app.loaded_profile {
            ui.selectable_value(&mut app.flame, FlameSource::Loaded, format!("file {name}"));
        }
        if matches!(app.flame, FlameSource::LatestRun | FlameSource::History(_)) {
            ui.separator();
            ui.checkbox(&mut app.flame_stretch, "each variant full width")
                .on_hover_text("stretch every variant over the same width, so the fast ones can be read beside naive");
        }
    });
    match app.flame {
        FlameSource::Live => app.profiler.ui(ui),
        FlameSource::Loaded => match &mut app.loaded_profile {
            Some((_, view)) => app
                .profiler
                .profiler_ui
                .ui(ui, &mut puffin_egui::MaybeMutRef::MutRef(view)),
            None => app.flame = FlameSource::LatestRun,
        },
        FlameSource::LatestRun => match latest {
            Some(r) => {
                let python = app.last.as_ref().and_then(|l| match &l.python {
                    Some(crate::bench::python::PythonOutcome::Ran {
                        profile: Some(p), ..
                    }) if !p.profiles.is_empty() => Some(p),
                    _ => None,
                });
                match python {
                    // Ours above, the Python reference's call tree beneath: the same input.
                    Some(p) => {
                        // Half each: our graph and its totals are clipped to the top half
                        // (the totals scroll), so the Python tree always gets its half.
                        let (top, _) = ui.allocate_exact_size(
                            egui::vec2(ui.available_width(), ui.available_height() * 0.5),
                            egui::Sense::hover(),
                        );
                        let mut ours = ui.new_child(egui::UiBuilder::new().max_rect(top));
                        ours.set_clip_rect(top.intersect(ui.clip_rect()));
                        record_flame_ui(&mut ours, "latest", r, app.flame_stretch);
                        ui.separator();
                        super::py_flame::python_flame_ui(ui, p, &mut app.py_flame_pick);
                    }
                    None => record_flame_ui(ui, "latest", r, app.flame_stretch),
                }
            }
            None => {
                ui.label("No run of this analysis yet: press Run all variants, and this tab shows where that run spent its time.");
            }
        },
        FlameSource::History(id) => match app.history.iter().find(|h| h.id == id) {
            Some(h) => record_flame_ui(ui, ("history", id), &h.record, app.flame_stretch),
            None => app.flame = FlameSource::LatestRun,
        },
    }
}

fn record_flame_ui(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash,
    r: &crate::bench::RunRecord,
    stretch: bool,
) {
    ui.label(RichText::new(format!("{} on {} {}", r.analysis, r.size, r.size_unit)).strong());
    match &r.profile {
        Some(p) => flame_ui(ui, (id, r.analysis.as_str(), r.size, stretch), p, stretch),
        None => {
            ui.label(
                "This run has no profile (it was loaded from a file or ran with profiling off).",
            );
        }
    }
}
