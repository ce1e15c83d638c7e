//! The Roofline tab's data: this machine's ceilings, read from the cache or measured on a
//! thread of their own the first time the tab is shown (about two seconds), so the UI
//! never waits on them.

use crate::bench::machine::{self, Machine};
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
}
