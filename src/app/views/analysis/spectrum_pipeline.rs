//! Flux with continuum and lines, the residual with its k·σ threshold, drawn on the spectrum. The view lives with the dataset views (it draws on the input);
//! this entry routes the run's output to it.

use super::{ResultCtx, ResultView};
use crate::analyses::spectrum_pipeline;
use crate::app::views::{self, ViewerState};
use crate::engine::Analysis;

pub struct SpectrumPipelineView;

impl ResultView for SpectrumPipelineView {
    fn analysis(&self) -> &'static dyn Analysis {
        &spectrum_pipeline::SpectrumPipeline
    }
    fn ui(&self, ui: &mut egui::Ui, st: &mut ViewerState, cx: &ResultCtx<'_>) {
        views::result_ui(ui, st, cx.data, Some(cx.out), cx.line_w);
    }
}
