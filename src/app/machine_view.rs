//! The Roofline tab's data: this machine's ceilings, read from the cache or measured on a
//! thread of their own the first time the tab is shown (about two seconds), so the UI
//! never waits on them; and the line above the plot that says when they were measured,
//! why they may be wrong ([`Machine::doubts`]) and offers to measure them again.

use crate::bench::machine::{self, Machine};
use crate::bench::plausibility::{Doubt, HEADLINE, REMEASURE_HINT};
use egui::RichText;
use std::sync::mpsc::{channel, Receiver};

#[derive(Default)]
pub enum MachineState {
    #[default]
    NotLoaded,
    Measuring(Receiver<(Machine, Option<String>)>),
    Ready(Box<Machine>, Option<String>),
}

impl MachineState {
    /// The ceilings if known; starts the measurement the first time it is asked.
    pub fn get(&mut self, ctx: &egui::Context) -> Option<&Machine> {
        if let MachineState::NotLoaded = self {
            let (tx, rx) = channel();
            let repaint = ctx.clone();
            let spawned = std::thread::Builder::new()
                .name("astroperf-machine".into())
                .spawn(move || {
                    let _ = tx.send(machine::load_or_measure(false));
                    repaint.request_repaint();
                });
            *self = match spawned {
                Ok(_) => MachineState::Measuring(rx),
                Err(e) => MachineState::Ready(
                    Box::new(machine::measure()),
                    Some(format!("measured on the UI thread ({e})")),
                ),
            };
        }
        if let MachineState::Measuring(rx) = self {
            match rx.try_recv() {
                Ok((m, warning)) => *self = MachineState::Ready(Box::new(m), warning),
                Err(std::sync::mpsc::TryRecvError::Empty) => return None,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    *self = MachineState::NotLoaded;
                    return None;
                }
            }
        }
        match self {
            MachineState::Ready(m, _) => Some(m),
            _ => None,
        }
    }

    pub fn warning(&self) -> Option<&str> {
        match self {
            MachineState::Ready(_, w) => w.as_deref(),
            _ => None,
        }
    }

    /// Neither known nor being measured yet.
    pub fn is_not_loaded(&self) -> bool {
        matches!(self, MachineState::NotLoaded)
    }
}

/// The doubts about the ceilings as one warning line (the first reason, with the count of
/// the others; all of them on hover), or when there is none, when they were measured;
/// then the Remeasure button, enabled when `can_measure` (no run is being timed: the two
/// would slow each other down). Returns whether it was clicked.
pub fn ceilings_status_ui(
    ui: &mut egui::Ui,
    machine: &Machine,
    doubts: &[Doubt],
    can_measure: bool,
) -> bool {
    ui.horizontal_wrapped(|ui| {
        match doubts {
            [] => {
                ui.label(RichText::new(format!("ceilings measured {}", machine.measured_when())).small());
            }
            [first, rest @ ..] => {
                let more = match rest.len() {
                    0 => String::new(),
                    n => format!(" · +{n} more (hover)"),
                };
                let all: Vec<String> = doubts.iter().map(|d| format!("• {}", d.message())).collect();
                ui.label(
                    RichText::new(format!("⚠ {}: {}{more}", sentence_case(HEADLINE), first.message()))
                        .color(ui.visuals().warn_fg_color)
                        .strong(),
                )
                .on_hover_text(format!(
                    "{}\n\nMeasured {}. The percentages of the limit are only as good as the ceilings: {REMEASURE_HINT}, or press Remeasure.",
                    all.join("\n"),
                    machine.measured_when()
                ));
            }
        }
        ui.add_enabled(can_measure, egui::Button::new("Remeasure"))
            .on_hover_text("Measure this machine's bandwidth and peak FLOP/s again (about two seconds) and replace the cached figures; best with nothing else running.")
            .on_disabled_hover_text("Wait for the run to finish: a measurement beside a run slows both.")
            .clicked()
    })
    .inner
}

/// `s` with its first letter upper-case, to start a line.
fn sentence_case(s: &str) -> String {
    let mut out = s.to_string();
    if let Some(first) = out.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    out
}
