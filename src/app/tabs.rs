//! The central panel's tabs: the result view, timings, stages, sweeps, history and the
//! flame graph.

use super::{timing, views, AstroApp, Tab};
use crate::bench::RunRecord;
use crate::data;

/// The selected tab's content, for the last run of the selected analysis.
pub(super) fn tab_ui(app: &mut AstroApp, ui: &mut egui::Ui) {
    let line_w = app.line_w;
    let current = app
        .last
        .as_ref()
        .filter(|l| l.record.analysis == app.settings.analysis);
    match app.settings.tab {
        Tab::Result => {
            let (data, out) = match current {
                Some(l) => (
                    l.data.clone(),
                    crate::bench::shown_output(&l.outputs).cloned(),
                ),
                None => (app.data.clone(), None),
            };
            if let Some(l) = current {
                egui::CollapsingHeader::new("summary")
                    .default_open(false)
                    .show(ui, |ui| {
                        views::summary_ui(
                            ui,
                            &l.record
                                .runs
                                .last()
                                .map(|r| r.summary.clone())
                                .unwrap_or_default(),
                        )
                    });
            }
            let mut st = std::mem::take(&mut app.settings.viewer);
            if matches!(
                data.data,
                data::Dataset::None
                    | data::Dataset::Table(_)
                    | data::Dataset::Mapped(_)
                    | data::Dataset::SpectrumBatch(_)
            ) {
                views::generic_ui(ui, out.as_ref(), line_w);
            } else {
                views::result_ui(ui, &mut st, &data, out.as_ref(), line_w);
            }
            app.settings.viewer = st;
        }
        Tab::Timing => match current {
            Some(l) => {
                let extra: Vec<RunRecord> = app
                    .compare
                    .iter()
                    .filter(|r| r.analysis == l.record.analysis)
                    .cloned()
                    .collect();
                timing::bars_ui(ui, &l.record, &extra, line_w)
            }
            None => {
                ui.label("No run of this analysis yet: press Run in the analysis panel.");
            }
        },
        Tab::Stages => match current {
            Some(l) => timing::stages_ui(ui, &l.record),
            None => {
                ui.label("No run of this analysis yet.");
            }
        },
        Tab::SizeSweep => timing::size_sweep_ui(ui, &app.size_sweep, line_w),
        Tab::ThreadSweep => timing::thread_sweep_ui(ui, &app.thread_sweep, line_w),
        Tab::History => {
            timing::cancelled_runs_ui(ui, &app.history);
            timing::history_ui(ui, &app.history, &mut app.settings.history_sort)
        }
        Tab::FlameGraph => {
            if let Some((name, view)) = &mut app.loaded_profile {
                let mut close = false;
                ui.horizontal(|ui| {
                    ui.label(format!("showing the capture {name}"));
                    close = ui.button("back to live profile").clicked();
                });
                if close {
                    app.loaded_profile = None;
                } else {
                    app.profiler
                        .profiler_ui
                        .ui(ui, &mut puffin_egui::MaybeMutRef::MutRef(view));
                }
            } else {
                app.profiler.ui(ui);
            }
        }
    }
}
