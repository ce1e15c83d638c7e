//! The light curve, its periodogram and the fold at the best (or clicked) period. The view lives with the dataset views (it draws on the input);
//! this entry routes the run's output to it.

use super::{ResultCtx, ResultView};
use crate::analyses::period_search;
use crate::app::views::{self, ViewerState};
use crate::engine::Analysis;

pub struct PeriodSearchView;

impl ResultView for PeriodSearchView {
    fn analysis(&self) -> &'static dyn Analysis {
        &period_search::PeriodSearch
    }
    fn ui(&self, ui: &mut egui::Ui, st: &mut ViewerState, cx: &ResultCtx<'_>) {
        views::result_ui(ui, st, cx.data, Some(cx.out), cx.line_w);
    }
}
