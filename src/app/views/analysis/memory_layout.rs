//! Memory layout: what each way of holding one frame costs and loses — its bytes (in
//! memory, or on disk for the memory map), the time to make it and of one full pass over
//! it (per variant), and the largest difference from the f64 values it holds.

use super::{ResultCtx, ResultView};
use crate::analyses::memory_layout::{self as ml, LAYOUTS};
use crate::app::theme::{palette, variant_color};
use crate::app::views::ViewerState;
use crate::app::widgets::human_bytes;
use crate::bench::report::fmt_secs;
use crate::engine::Analysis;
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, Corner, GridInput, GridMark, Legend, Plot, PlotPoint, Text};

pub struct MemoryLayoutView;

impl ResultView for MemoryLayoutView {
    fn analysis(&self) -> &'static dyn Analysis {
        &ml::MemoryLayout
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Some((_, table)) = cx.out.table_of(ml::LAYOUTS_TABLE) else {
            ui.label("This run has no layouts table.");
            return;
        };
        // Rows in LAYOUTS order: bytes and the largest |difference| from the f64 frame.
        let layouts: Vec<(f64, f64)> = table
            .rows()
            .into_iter()
            .take(LAYOUTS.len())
            .map(|r| (r[1], r[2]))
            .collect();
        let bscale = cx.out.summary_f64(ml::I16_BSCALE);
        ui.label(
            RichText::new(match bscale {
                Some(b) => format!(
                    "One frame held six ways. i16 stores steps of BSCALE = {b:.3e}: its error is at most half a step."
                ),
                None => "One frame held six ways.".to_string(),
            })
            .strong(),
        );
        let h = ui.available_height();
        bytes_ui(ui, &layouts, h * 0.48);
        let timings = variant_timings(cx);
        ui.columns(2, |c| {
            ui_times(
                &mut c[0],
                "load",
                "time to make the layout",
                &timings,
                |t| &t.load,
            );
            ui_times(
                &mut c[1],
                "pass",
                "time of one full pass (sum of all pixels)",
                &timings,
                |t| &t.pass,
            );
        });
    }
}

/// One variant's seconds per layout.
struct VariantTimes {
    name: String,
    color: Color32,
    load: Vec<f64>,
    pass: Vec<f64>,
}

/// Each variant's load and pass seconds from its summary; the shown output's timings
/// table when the record has none.
fn variant_timings(cx: &ResultCtx<'_>) -> Vec<VariantTimes> {
    let list = |s: &serde_json::Map<String, serde_json::Value>, key: &str| -> Option<Vec<f64>> {
        s.get(key)?.as_array()?.iter().map(|v| v.as_f64()).collect()
    };
    let from_record: Vec<VariantTimes> = cx
        .record
        .runs
        .iter()
        .filter_map(|r| {
            Some(VariantTimes {
                name: r.variant.name().to_string(),
                color: variant_color(r.variant),
                load: list(&r.summary, ml::LOAD_S)?,
                pass: list(&r.summary, ml::PASS_S)?,
            })
        })
        .collect();
    if !from_record.is_empty() {
        return from_record;
    }
    cx.out
        .table_of(ml::TIMINGS_TABLE)
        .map(|(_, t)| VariantTimes {
            name: "this run".to_string(),
            color: palette(0),
            load: t.column(1).to_vec(),
            pass: t.column(2).to_vec(),
        })
        .into_iter()
        .collect()
}

/// Grid lines and tick labels at the layouts (x = 0..6).
fn layout_marks(_input: GridInput) -> Vec<GridMark> {
    (0..LAYOUTS.len())
        .map(|i| GridMark {
            value: i as f64,
            step_size: 1.0,
        })
        .collect()
}

fn layout_label(m: GridMark, _r: &std::ops::RangeInclusive<f64>) -> String {
    let i = m.value.round();
    if (m.value - i).abs() < 1e-6 && i >= 0.0 {
        LAYOUTS
            .get(i as usize)
            .map_or(String::new(), |s| s.to_string())
    } else {
        String::new()
    }
}

/// The largest difference from f64, as written on the bars.
fn diff_text(d: f64) -> String {
    if d == 0.0 {
        "exact".to_string()
    } else {
        format!("|Δ| ≤ {d:.1e}")
    }
}

/// Bytes per layout (MB): held in memory, or on disk for the memory map, each bar
/// labelled with its size and its largest difference from the f64 values.
fn bytes_ui(ui: &mut egui::Ui, layouts: &[(f64, f64)], height: f32) {
    let text_color = ui.visuals().strong_text_color();
    let mb = 1048576.0;
    // Room above the tallest bar for its label and the legend.
    let top = layouts.iter().map(|l| l.0 / mb).fold(0.0, f64::max) * 1.9;
    let (mut in_memory, mut on_disk) = (Vec::new(), Vec::new());
    for (i, &(bytes, diff)) in layouts.iter().enumerate() {
        let name = format!(
            "{}: {}, {}",
            LAYOUTS[i],
            human_bytes(bytes as usize),
            diff_text(diff)
        );
        let bar = Bar::new(i as f64, bytes / mb).width(0.6).name(name);
        if i == ml::MMAP {
            on_disk.push(bar);
        } else {
            in_memory.push(bar);
        }
    }
    Plot::new("memory_layout_bytes")
        .height(height)
        .legend(Legend::default().position(Corner::LeftTop))
        .allow_scroll(false)
        .y_axis_label("bytes (MB)")
        .x_grid_spacer(layout_marks)
        .x_axis_formatter(layout_label)
        .include_y(0.0)
        .include_y(top)
        .show(ui, |p| {
            p.bar_chart(
                BarChart::new("held in memory", in_memory)
                    .color(palette(2))
                    .element_formatter(Box::new(|b, _| b.name.clone())),
            );
            p.bar_chart(
                BarChart::new("on disk, memory-mapped (pages read in as touched)", on_disk)
                    .color(palette(1))
                    .element_formatter(Box::new(|b, _| b.name.clone())),
            );
            for (i, &(bytes, diff)) in layouts.iter().enumerate() {
                let size = if bytes == 0.0 {
                    "0 B (the f64 buffer)".to_string()
                } else {
                    human_bytes(bytes as usize)
                };
                p.text(
                    Text::new(
                        "",
                        PlotPoint::new(i as f64, bytes / mb),
                        RichText::new(format!("{size}\n{}", diff_text(diff)))
                            .text_style(egui::TextStyle::Body),
                    )
                    .anchor(egui::Align2::CENTER_BOTTOM)
                    .color(text_color),
                );
            }
        });
}

/// Seconds per layout, one bar per variant side by side (ms on the axis).
fn ui_times(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    timings: &[VariantTimes],
    pick: impl Fn(&VariantTimes) -> &Vec<f64>,
) {
    ui.label(RichText::new(title).strong());
    let nv = timings.len().max(1) as f64;
    let w = 0.8 / nv;
    Plot::new(format!("memory_layout_{id}"))
        .legend(Legend::default())
        .allow_scroll(false)
        .y_axis_label(format!("{id} time (ms)"))
        .x_grid_spacer(layout_marks)
        .x_axis_formatter(layout_label)
        .include_y(0.0)
        .show(ui, |p| {
            for (k, t) in timings.iter().enumerate() {
                let bars: Vec<Bar> = pick(t)
                    .iter()
                    .take(LAYOUTS.len())
                    .enumerate()
                    .map(|(i, s)| {
                        let x = i as f64 + (k as f64 - (nv - 1.0) / 2.0) * w;
                        Bar::new(x, s * 1e3).width(w * 0.9).name(format!(
                            "{} {}: {}",
                            LAYOUTS[i],
                            t.name,
                            fmt_secs(*s)
                        ))
                    })
                    .collect();
                p.bar_chart(
                    BarChart::new(t.name.clone(), bars)
                        .color(t.color)
                        .element_formatter(Box::new(|b, _| b.name.clone())),
                );
            }
        });
}
