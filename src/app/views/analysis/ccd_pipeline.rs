//! The frame with its sources, and the pipeline's image layers (background, labels, …). The view lives with the dataset views (it draws on the input);
//! this entry routes the run's output to it.

use super::{ResultCtx, ResultView};
use crate::analyses::ccd_pipeline;
use crate::app::views::{self, ViewerState};
use crate::engine::Analysis;

pub struct CcdPipelineView;

impl ResultView for CcdPipelineView {
    fn analysis(&self) -> &'static dyn Analysis {
        &ccd_pipeline::CcdPipeline
    }
    fn ui(&self, ui: &mut egui::Ui, st: &mut ViewerState, cx: &ResultCtx<'_>) {
        views::result_ui(ui, st, cx.data, Some(cx.out), cx.line_w);
    }
}
