//! Help › Tour: a newcomer's walk through the app in eight steps, each showing the tab
//! it talks about, in a small window that stays out of the plots' way.

use super::{Settings, Tab};

/// One step: a title, what to look at, and the tab to show while reading it.
struct Step {
    title: &'static str,
    text: &'static str,
    tab: Tab,
}

const STEPS: &[Step] = &[
    Step {
        title: "Data",
        text: "The side panel's Data section shows what is loaded: the app opens on a generated spectrum. Open… reads FITS, CSV/TXT and NPY files; Sample… opens real observations (a CCD frame, a spectrum, light curves, sunspots); Generate… makes inputs of any size. F9 hides the panel to give the plots the whole width.",
        tab: Tab::Result,
    },
    Step {
        title: "Analysis and Run",
        text: "Pick one of the chapter's 20 analyses, set its parameters (a value out of range is refused and said beside the field), tick variants and press Run, or Run all (F5) for naive, vectorized and parallel side by side. Esc cancels.",
        tab: Tab::Result,
    },
    Step {
        title: "Result",
        text: "What the analysis found, drawn for its science: lines on the spectrum, sources on the frame, the folded light curve, the orbit, the IMF… Hover a plot for values; drag to pan, scroll to zoom, double-click to reset.",
        tab: Tab::Result,
    },
    Step {
        title: "Timing",
        text: "Each variant's median time per call, the spread of calls and the first (warm-up) call; below, the speed-up over naive with ideal thread scaling dashed. The time axis turns logarithmic when bars differ by more than 20×.",
        tab: Tab::Timing,
    },
    Step {
        title: "Stages and Flame graph",
        text: "Where the time went: each variant's call split into its stages, and the run's own flame graph (every thread, every call) — not the app's. Click a History row's ▶ to see an older run's.",
        tab: Tab::FlameGraph,
    },
    Step {
        title: "Memory and Roofline",
        text: "The heap each variant and stage held and how often it allocated; the roofline places each stage against this machine's measured bandwidth and peak FLOP/s, so you see how close a kernel came to the limit.",
        tab: Tab::Roofline,
    },
    Step {
        title: "Sweeps, History, Compare",
        text: "Size and thread sweeps show how time grows with N (the fitted exponent) and with threads. History keeps every run with its parameters (filter and sort it, export as CSV/JSON/Markdown); Compare puts two runs side by side, stage by stage.",
        tab: Tab::History,
    },
    Step {
        title: "Lecture mode",
        text: "Ctrl+L (or the button at the top right) makes text large and contrast high for a projector; Alt+1…0 switch tabs. Help › Keyboard shortcuts lists them all.",
        tab: Tab::Timing,
    },
];

/// Where the tour is (None when closed).
#[derive(Default)]
pub struct Tour {
    step: Option<usize>,
}

impl Tour {
    /// Open the tour at its first step.
    pub fn start(&mut self, settings: &mut Settings) {
        self.go(0, settings);
    }

    fn go(&mut self, i: usize, settings: &mut Settings) {
        self.step = Some(i);
        settings.tab = STEPS[i].tab;
    }

    pub fn is_open(&self) -> bool {
        self.step.is_some()
    }

    /// The tour's window, when open.
    pub fn window(&mut self, ctx: &egui::Context, settings: &mut Settings) {
        let Some(i) = self.step else {
            return;
        };
        let step = &STEPS[i];
        let mut open = true;
        let mut next = None;
        egui::Window::new(format!("Tour {}/{}: {}", i + 1, STEPS.len(), step.title))
            .id(egui::Id::new("tour"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(420.0)
            .anchor(egui::Align2::RIGHT_BOTTOM, [-16.0, -40.0])
            .show(ctx, |ui| {
                ui.label(step.text);
                ui.add_space(6.0);
                ui.horizontal(|ui| {
                    if ui.add_enabled(i > 0, egui::Button::new("Back")).clicked() {
                        next = Some(i - 1);
                    }
                    if i + 1 < STEPS.len() {
                        if ui.button("Next").clicked() {
                            next = Some(i + 1);
                        }
                    } else if ui.button("Done").clicked() {
                        self.step = None;
                    }
                });
            });
        if !open {
            self.step = None;
        }
        if let Some(n) = next {
            self.go(n, settings);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tour_walks_its_steps_and_shows_each_steps_tab() {
        let mut settings = Settings::default();
        let mut tour = Tour::default();
        assert!(!tour.is_open());
        tour.start(&mut settings);
        assert!(tour.is_open());
        for (i, step) in STEPS.iter().enumerate() {
            tour.go(i, &mut settings);
            assert_eq!(settings.tab, step.tab);
        }
    }
}
