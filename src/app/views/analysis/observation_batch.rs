//! Observation batch: one frame of the batch at a time (a slider picks it) with the
//! sources the pipeline found in it drawn on top (the batch's source table, the rows of
//! that frame), beside a bar chart of the sources found per frame (click a bar to show
//! that frame).

use super::common::{headline, note, split};
use super::{ResultCtx, ResultView};
use crate::analyses::observation_batch as ob;
use crate::app::theme::palette;
use crate::app::views::{frame, ViewerState};
use crate::data::Dataset;
use crate::engine::{Analysis, ArtifactData};
use egui::Color32;
use egui_plot::{Bar, BarChart, Legend, Plot};
use ndarray::Array2;

pub struct ObservationBatchView;

/// The frame shown, in the bar chart.
const SHOWN: Color32 = Color32::from_rgb(230, 60, 60);

impl ResultView for ObservationBatchView {
    fn analysis(&self) -> &'static dyn Analysis {
        &ob::ObservationBatch
    }
    fn ui(&self, ui: &mut egui::Ui, st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let Dataset::FrameBatch(frames) = &cx.data.data else {
            ui.label("This run's input is not a batch of frames.");
            return;
        };
        let Some((names, table)) = cx.out.table_of(ob::SOURCES) else {
            ui.label("This run has no source table.");
            return;
        };
        let n = frames.len();
        if n == 0 {
            ui.label("The batch has no frames.");
            return;
        }
        let counts: Vec<i64> = match cx.out.get(ob::SOURCES_PER_FRAME) {
            Some(ArtifactData::I64(c)) => c.iter().copied().collect(),
            _ => Vec::new(),
        };
        let (rows, cols) = frames[0].data.dim();
        headline(
            ui,
            format!(
                "{n} frames of {rows}×{cols} · {} sources above mean + {}·σ · {:.1} per frame",
                table.nrows(),
                cx.param_f64("k")
                    .map_or("k".to_string(), |k| format!("{k}")),
                table.nrows() as f64 / n as f64
            ),
        );
        ui.horizontal(|ui| {
            ui.add(egui::Slider::new(&mut st.frame_index, 0..=n - 1).text("frame"));
            ui.separator();
            frame::display_controls_ui(ui, st, true);
        });
        let i = st.frame_index.min(n - 1);
        let mine = frame_rows(table, i);
        let mut clicked = None;
        split(
            ui,
            0.6,
            |ui| {
                note(
                    ui,
                    format!("frame {i}: its {} sources outlined", mine.nrows()),
                );
                frame::frame_image_ui(ui, st, &frames[i], None, Some((names, &mine)));
            },
            |ui| clicked = counts_ui(ui, &counts, i),
        );
        if let Some(k) = clicked {
            st.frame_index = k;
        }
    }
}

/// The rows of `table` (first column the frame index) that belong to frame `i`.
fn frame_rows(table: &Array2<f64>, i: usize) -> Array2<f64> {
    let picked: Vec<usize> = table
        .rows()
        .into_iter()
        .enumerate()
        .filter(|(_, r)| r[0] as usize == i)
        .map(|(k, _)| k)
        .collect();
    table.select(ndarray::Axis(0), &picked)
}

/// Sources per frame as bars, the frame shown in red; returns the frame clicked.
fn counts_ui(ui: &mut egui::Ui, counts: &[i64], shown: usize) -> Option<usize> {
    note(
        ui,
        "sources found per frame (click a bar to show that frame)",
    );
    let bars = |pick: bool| -> Vec<Bar> {
        counts
            .iter()
            .enumerate()
            .filter(|(k, _)| (*k == shown) == pick)
            .map(|(k, &c)| {
                Bar::new(k as f64, c as f64)
                    .width(0.8)
                    .name(format!("frame {k}"))
            })
            .collect()
    };
    let resp = Plot::new("batch-counts")
        .legend(Legend::default())
        .x_axis_label("frame")
        .y_axis_label("sources")
        .include_y(0.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show(ui, |p| {
            p.bar_chart(
                BarChart::new("sources per frame", bars(false))
                    .color(palette(0))
                    .element_formatter(Box::new(bar_label)),
            );
            p.bar_chart(
                BarChart::new("frame shown", bars(true))
                    .color(SHOWN)
                    .element_formatter(Box::new(bar_label)),
            );
            p.pointer_coordinate()
        });
    if !resp.response.clicked() {
        return None;
    }
    let x = resp.inner?.x.round();
    (x >= 0.0 && (x as usize) < counts.len()).then_some(x as usize)
}

/// A bar's hover text: its frame and count.
fn bar_label(bar: &Bar, _: &BarChart) -> String {
    format!("{}\n{:.0} sources", bar.name, bar.value)
}
