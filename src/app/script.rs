//! The scripted app (`astroperf gui --analysis … --run … --tab … --screenshot … --exit`):
//! a small state machine stepped once a frame, so the window keeps drawing while it waits
//! for the run, lets the tab settle, takes the app's own PNG capture, writes the history
//! and closes. Any step that fails is reported on stderr in one line and makes the app
//! exit with 1 (with `--exit`).

use super::{AstroApp, Confirm, SaveTarget, Tab};
use crate::cli::gui::{GuiRequest, RunRequest};
use crate::engine::ALL_VARIANTS;
use std::sync::{Arc, Mutex};

/// Frames drawn on the final tab before the screenshot, so plots have laid out and any
/// auto-bounds have settled.
const SETTLE_FRAMES: u32 = 6;

/// Frames drawn before a scripted run starts, so the window's first frames (fonts,
/// textures, the GL context) are not drawn while the run is timed.
const WARM_FRAMES: u32 = 8;

#[derive(Debug, PartialEq)]
enum Phase {
    /// Drawing the first frames before starting (counts down).
    Warm(u32),
    Start,
    Running,
    Settle(u32),
    Shooting,
    Finish,
    Done,
}

pub struct Script {
    request: GuiRequest,
    phase: Phase,
    /// The first failure, shared with `run_gui` for the exit code.
    pub failure: Arc<Mutex<Option<String>>>,
}

impl Script {
    pub fn new(request: GuiRequest) -> Self {
        Script {
            request,
            phase: Phase::Warm(WARM_FRAMES),
            failure: Arc::new(Mutex::new(None)),
        }
    }

    /// Whether this session ends in a screenshot: its window takes no pointer, so the
    /// picture has no hover label where Xvfb happens to leave the pointer (mid-screen).
    pub fn takes_a_screenshot(&self) -> bool {
        self.request.screenshot.is_some()
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Report a failed step in one line and keep the first for the exit code.
    fn note_failure(&self, why: String) {
        eprintln!("astroperf gui: {why}");
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(why);
        }
    }

    /// A step failed: report it and skip to the end (history, close).
    fn fail(&mut self, why: String) {
        self.note_failure(why);
        self.phase = Phase::Finish;
    }
}

/// Apply what the request sets before anything runs (analysis, parameters, lecture mode).
pub fn apply_settings(app: &mut AstroApp, request: &GuiRequest) {
    if let Some(id) = &request.analysis {
        app.settings.analysis = id.clone();
    }
    if !request.params.is_empty() {
        let a = app.analysis();
        let specs = a.params();
        let entry = app.settings.params.entry(a.id().to_string()).or_default();
        for (k, v) in &request.params {
            if let Some(spec) = specs.iter().find(|s| s.name == k) {
                if let Ok(value) = spec.parse(v) {
                    entry.insert(spec.name.to_string(), value);
                }
            }
        }
    }
    if request.lecture {
        app.settings.lecture = true;
    }
    if request.hide_panel {
        app.settings.side_panel = false;
    }
    // Only set, never cleared: a script without --python keeps what the user chose.
    if request.python {
        app.settings.run_python = true;
    }
    if let Some(t) = request.tab.as_deref().and_then(Tab::from_flag) {
        app.settings.tab = t;
    }
}

/// One step of the script; called every frame while it is not done.
pub fn step(app: &mut AstroApp, ctx: &egui::Context) {
    let Some(mut script) = app.script.take() else {
        return;
    };
    match script.phase {
        Phase::Warm(0) => script.phase = Phase::Start,
        Phase::Warm(n) => script.phase = Phase::Warm(n - 1),
        Phase::Start => start(app, &mut script),
        Phase::Running => {
            if !app.is_busy() {
                match &app.status {
                    Some((msg, true)) => script.fail(format!("the run failed: {msg}")),
                    _ => script.phase = Phase::Settle(SETTLE_FRAMES),
                }
            }
        }
        Phase::Settle(n) => {
            if let Some(t) = script.request.tab.as_deref().and_then(Tab::from_flag) {
                app.settings.tab = t;
            }
            script.phase = match (n, &script.request.screenshot) {
                (0, Some(p)) => {
                    app.save_confirmed(ctx, SaveTarget::Screenshot(p.clone()));
                    Phase::Shooting
                }
                (0, None) => Phase::Finish,
                _ => Phase::Settle(n - 1),
            };
        }
        Phase::Shooting => {
            if app.screenshot_to.is_none() {
                match &app.status {
                    Some((msg, true)) => script.fail(format!("the screenshot failed: {msg}")),
                    _ => script.phase = Phase::Finish,
                }
            }
        }
        Phase::Finish => {
            finish(app, &script);
            if script.request.exit {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            script.phase = Phase::Done;
        }
        Phase::Done => {}
    }
    // Keep stepping without input events until the script is done; while the run is
    // timed, only at the app's slow busy rate (a repaint takes CPU from the run).
    match script.phase {
        Phase::Done => {}
        Phase::Running => {
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
        _ => ctx.request_repaint(),
    }
    app.script = Some(script);
}

fn start(app: &mut AstroApp, script: &mut Script) {
    if let Some((msg, true)) = &app.status {
        return script.fail(msg.clone());
    }
    match script.request.run {
        None => script.phase = Phase::Settle(SETTLE_FRAMES),
        Some(run) => {
            let all = match run {
                RunRequest::All => true,
                RunRequest::One(v) => {
                    app.settings.variants = ALL_VARIANTS.map(|x| x == v);
                    false
                }
            };
            app.start_run(all);
            if let Some(Confirm::Run { message, .. }) = app.confirm.take() {
                return script.fail(format!(
                    "the resource guard asks before this run: {message}"
                ));
            }
            if !app.is_busy() {
                let why = app
                    .status
                    .as_ref()
                    .map_or_else(|| "the run did not start".to_string(), |s| s.0.clone());
                return script.fail(why);
            }
            script.phase = Phase::Running;
        }
    }
}

/// Write the history when asked.
fn finish(app: &AstroApp, script: &Script) {
    if let Some(p) = script.request.history_json.clone() {
        if let Err(e) = super::reports::write_history_json(&p, &app.history_records()) {
            script.note_failure(format!("{}: {e}", p.display()));
        }
    }
}
