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
            if let Some(why) = &app.stale {
                ui.colored_label(
                    egui::Color32::from_rgb(235, 90, 70),
                    format!("The last run failed ({why}); what follows is from the run before it."),
                );
            }
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
            let view = current.and_then(|l| {
                let out = crate::bench::shown_output(&l.outputs)?;
                Some((views::analysis::find(&l.record.analysis)?, l, out))
            });
            if let Some((view, l, out)) = view {
                let cx = views::analysis::ResultCtx {
                    data: &l.data,
                    out,
                    record: &l.record,
                    line_w,
                };
                view.ui(ui, &mut st, &cx);
            } else if matches!(
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
                let mut extra: Vec<RunRecord> = app
                    .compare
                    .iter()
                    .filter(|r| r.analysis == l.record.analysis)
                    .cloned()
                    .collect();
                if let Some(crate::bench::python::PythonOutcome::Ran { records, .. }) = &l.python {
                    extra.extend(records.iter().cloned());
                }
                super::timing_bars::timing_ui(
                    ui,
                    &l.record,
                    &extra,
                    &mut app.settings.timing_log,
                    line_w,
                )
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
            if let Some(id) = timing::history_ui(
                ui,
                &app.history,
                &mut app.settings.history_sort,
                &mut app.history_filter,
            ) {
                app.flame = super::flame::FlameSource::History(id);
                app.settings.tab = Tab::FlameGraph;
            }
        }
        Tab::FlameGraph => super::flame::flame_tab_ui(app, ui),
        Tab::Memory => match current {
            Some(l) => super::memory_view::memory_ui(ui, &l.record),
            None => {
                ui.label("No run of this analysis yet: run it, and this tab shows the heap each variant held and how often it allocated.");
            }
        },
        Tab::Roofline => roofline_tab_ui(app, ui),
        Tab::Compare => {
            let latest = app
                .last
                .as_ref()
                .filter(|l| l.record.analysis == app.settings.analysis)
                .map(|l| &l.record);
            super::compare_view::compare_ui(ui, &mut app.compare_pick, latest, &app.history);
        }
    }
}

/// The roofline of the latest run under this machine's ceilings, below a line that says
/// whether the ceilings can be believed, with a Remeasure button.
fn roofline_tab_ui(app: &mut AstroApp, ui: &mut egui::Ui) {
    let line_w = app.line_w;
    if app.worker.busy && app.machine.is_not_loaded() {
        // Measured beside a run, the ceilings would come out low and the run slow.
        ui.label("The machine's ceilings are measured once the run has finished.");
        return;
    }
    let Some(machine) = app.machine.get(ui.ctx()).cloned() else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("measuring this machine's bandwidth and peak FLOP/s (about two seconds, once; kept in the cache directory)…");
        });
        return;
    };
    if let Some(w) = app.machine.warning() {
        ui.label(egui::RichText::new(w).small());
    }
    let current = app
        .last
        .as_ref()
        .filter(|l| l.record.analysis == app.settings.analysis);
    let doubts = machine.doubts(current.map(|l| &l.record));
    let remeasure =
        super::machine_view::ceilings_status_ui(ui, &machine, &doubts, !app.worker.busy);
    match current {
        Some(l) => {
            let points = crate::bench::roofline::points(&l.record);
            super::roofline::roofline_ui(ui, &machine, &points, line_w);
        }
        None => {
            ui.label("No run of this analysis yet: run all variants, and each variant's stages appear here against the machine's ceilings.");
            super::roofline::roofline_ui(ui, &machine, &[], line_w);
        }
    }
    if remeasure {
        app.remeasure_machine();
    }
}
