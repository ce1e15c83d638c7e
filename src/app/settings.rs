//! The app's tabs and the settings that persist across restarts (analysis, variants,
//! threads, repeats, lecture mode, theme, tab, parameters per analysis, sweep and viewer
//! settings).

use super::{timing, views, DEFAULT_ANALYSIS};
use crate::engine::ParamValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    Result,
    Timing,
    Stages,
    FlameGraph,
    Memory,
    Roofline,
    Compare,
    SizeSweep,
    ThreadSweep,
    History,
}

impl Tab {
    pub const ALL: [Tab; 10] = [
        Tab::Result,
        Tab::Timing,
        Tab::Stages,
        Tab::FlameGraph,
        Tab::Memory,
        Tab::Roofline,
        Tab::Compare,
        Tab::SizeSweep,
        Tab::ThreadSweep,
        Tab::History,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Tab::Result => "Result",
            Tab::Timing => "Timing",
            Tab::Stages => "Stages",
            Tab::FlameGraph => "Flame graph",
            Tab::Memory => "Memory",
            Tab::Roofline => "Roofline",
            Tab::Compare => "Compare",
            Tab::SizeSweep => "Size sweep",
            Tab::ThreadSweep => "Thread sweep",
            Tab::History => "History",
        }
    }

    /// The name the scriptable app's `--tab` takes: "flame-graph", "size-sweep", ...
    pub fn flag(self) -> String {
        self.name().to_lowercase().replace(' ', "-")
    }

    pub fn from_flag(s: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.flag() == s)
    }
}

/// What persists across restarts.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub analysis: String,
    pub variants: [bool; 3],
    pub threads: usize,
    pub repeat: usize,
    pub warmup: usize,
    pub lecture: bool,
    /// Whether the data and analysis panel is shown (hide it to give a projector's width
    /// to the plots; the toolbar keeps Run, Run all and Cancel in reach).
    pub side_panel: bool,
    pub dark: bool,
    pub tab: Tab,
    /// Parameter values per analysis id (absent = default / automatic).
    pub params: BTreeMap<String, BTreeMap<String, ParamValue>>,
    /// Sweep: number of sizes and the largest size as a multiple of the chapter size.
    pub sweep_points: usize,
    pub sweep_max_factor: f64,
    pub viewer: views::ViewerState,
    pub history_sort: timing::HistorySort,
    /// The Timing tab's log time axis as the user set it (None: automatic, on when the
    /// bars differ by more than 20×).
    pub timing_log: Option<bool>,
    /// Run the chapter's Python on the same input after ours ("Run Python too").
    pub run_python: bool,
    /// The interpreter for it; empty: $ASTROPERF_PYTHON, else python3 on PATH.
    pub python_exe: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            analysis: DEFAULT_ANALYSIS.id().into(),
            variants: [true; 3],
            threads: crate::bench::available_threads(),
            repeat: 5,
            warmup: 1,
            lecture: false,
            side_panel: true,
            dark: true,
            tab: Tab::Result,
            params: BTreeMap::new(),
            sweep_points: 5,
            sweep_max_factor: 1.0,
            viewer: Default::default(),
            history_sort: Default::default(),
            timing_log: None,
            run_python: false,
            python_exe: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tab;

    #[test]
    fn every_tab_has_the_flag_the_command_line_accepts() {
        let flags: Vec<String> = Tab::ALL.iter().map(|t| t.flag()).collect();
        assert_eq!(flags, crate::cli::gui::TABS);
        for t in Tab::ALL {
            assert_eq!(Tab::from_flag(&t.flag()), Some(t));
        }
    }
}
