//! The egui desktop app: load or generate data, run an analysis in its variants on a
//! worker thread, and see the result, the timings and the live flame graph. No kernel
//! code lives here: everything computed comes from the engine's registry.

mod compare_view;
mod flame;
mod machine_view;
mod memory_view;
mod panels;
mod py_flame;
mod reports;
pub mod roofline;
mod runs;
mod samples;
mod script;
mod settings;
mod tabs;
mod theme;
mod timing;
mod timing_bars;
mod tour;
pub mod views;
mod widgets;
mod worker;

pub use samples::{default_dataset, sample_path, SAMPLES};
pub use timing::{cancelled_text, fit_exponent};
pub use views::frame::{limits, zscale, Colormap, Limits, Stretch};

use crate::analyses;
use crate::bench::{Outputs, RunRecord};
use crate::cli::gui::GuiRequest;
use crate::data::{self, Loaded};
use crate::engine::{self, Analysis};
pub use settings::{Settings, Tab};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use worker::{Msg, SweepKind, Worker};

/// The analysis the app starts with (and falls back to when the saved one is gone): the
/// spectrum chapter's, on the spectrum [`default_dataset`] generates.
const DEFAULT_ANALYSIS: &dyn Analysis = &analyses::spectrum_pipeline::SpectrumPipeline;

/// Open the GUI with what the command line asked for (a file, an analysis, a scripted
/// run, tab, screenshot and exit: see [`crate::cli::gui`]). Returns 1 when a scripted step
/// failed, else 0.
pub fn run_gui(request: GuiRequest) -> crate::Result<u8> {
    let size = request.size.unwrap_or([1400.0, 880.0]);
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("astroperf — performance explorer for astronomical data")
        .with_inner_size(size)
        .with_min_inner_size([640.0, 400.0])
        .with_drag_and_drop(true);
    if let Ok(icon) = eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png")) {
        viewport = viewport.with_icon(icon);
    }
    let scripted = request.is_scripted();
    let scripted_store =
        std::env::temp_dir().join(format!("astroperf-scripted-{}.ron", std::process::id()));
    let options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        // A scripted window has the size asked for, not the last session's: eframe
        // restores the window and egui's zoom from its store, so a scripted session gets
        // a store of its own, empty, removed afterwards.
        persist_window: !scripted,
        persistence_path: scripted.then(|| scripted_store.clone()),
        ..Default::default()
    };
    let script = script::Script::new(request.clone());
    let failure = script.failure.clone();
    eframe::run_native(
        "astroperf",
        options,
        Box::new(move |cc| {
            // A scripted session starts from the defaults, not the saved settings, so the
            // same command gives the same picture on any machine.
            let mut app = if scripted {
                AstroApp::with_settings(&cc.egui_ctx, Settings::default())
            } else {
                AstroApp::new(cc)
            };
            app.apply_request(&request, scripted.then_some(script));
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| crate::Error::input(format!("cannot open the window: {e}")))?;
    if scripted {
        // Absent when nothing was saved: nothing to remove then.
        let _ = std::fs::remove_file(&scripted_store);
    }
    let failed = failure.lock().map(|f| f.is_some()).unwrap_or(true);
    Ok(u8::from(failed))
}

/// One finished run in the session history.
pub struct HistoryEntry {
    pub id: usize,
    pub when: String,
    pub record: RunRecord,
    /// What started the run: the Run buttons or a point of a sweep.
    pub origin: RunOrigin,
}

/// Where a history row came from, so sweep points stand apart from single runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RunOrigin {
    Run,
    /// A point of the size sweep at this size.
    SizeSweep(usize),
    /// A point of the thread sweep with this many threads.
    ThreadSweep(usize),
}

/// A file the user chose in a save dialog.
#[derive(Clone, Debug, PartialEq)]
pub enum SaveTarget {
    Screenshot(PathBuf),
    History(PathBuf),
    Profile(PathBuf),
}

impl SaveTarget {
    pub fn path(&self) -> &Path {
        match self {
            SaveTarget::Screenshot(p) | SaveTarget::History(p) | SaveTarget::Profile(p) => p,
        }
    }
}

/// A question the app waits on before it acts.
#[derive(Clone, Debug, PartialEq)]
pub enum Confirm {
    /// Start a run whose estimate is beyond the guard's limits (`all` = every variant).
    Run { all: bool, message: String },
    /// Replace an existing file.
    Overwrite(SaveTarget),
}

struct LastRun {
    record: RunRecord,
    outputs: Arc<Outputs>,
    data: Arc<Loaded>,
    /// Whether the record's stages carry the roofline figures yet (they need the
    /// machine's ceilings, measured once after the first run).
    annotated: bool,
    /// The History entry holding the same record.
    history_id: usize,
    /// The Python reference's run on the same input ("Run Python too"), once it is back.
    python: Option<crate::bench::python::PythonOutcome>,
}

pub struct AstroApp {
    pub settings: Settings,
    data: Arc<Loaded>,
    /// Input generated for an analysis whose kind the loaded data cannot serve.
    generated: Option<(String, Arc<Loaded>)>,
    worker: Worker,
    history: Vec<HistoryEntry>,
    last: Option<LastRun>,
    size_sweep: Vec<(usize, RunRecord)>,
    thread_sweep: Vec<(usize, RunRecord)>,
    /// Python (or other tool) records loaded for comparison.
    compare: Vec<RunRecord>,
    status: Option<(String, bool)>,
    gen: panels::GenerateDialog,
    show_about: bool,
    /// Help › Tour, when open.
    pub tour: tour::Tour,
    profiler: puffin_egui::GlobalProfilerUi,
    loaded_profile: Option<(String, puffin::FrameView)>,
    /// What the Flame graph tab shows (the latest run's profile unless chosen otherwise).
    flame: flame::FlameSource,
    /// Whether the run's flame graph stretches each variant to the full width.
    flame_stretch: bool,
    /// The two runs the Compare tab puts side by side.
    compare_pick: compare_view::Pick,
    /// Why the last run failed, while the Result tab still shows the one before it.
    stale: Option<String>,
    /// The scripted steps of `astroperf gui --run … --screenshot … --exit`, if any.
    script: Option<script::Script>,
    /// This machine's ceilings for the roofline: measured (or read from the cache) on a
    /// thread the first time the Roofline tab is shown.
    machine: machine_view::MachineState,
    frame_times: VecDeque<f32>,
    screenshot_to: Option<PathBuf>,
    line_w: f32,
    /// The question shown in a modal (run a costly job, replace a file).
    pub confirm: Option<Confirm>,
    /// The last estimate for the Run button, keyed by what it depends on.
    estimate_cache: Option<(String, Option<engine::guard::Estimate>)>,
    /// The History tab's filter words.
    pub history_filter: String,
    /// The Python implementation whose call tree the Flame graph tab shows (None: the
    /// deepest tree).
    pub py_flame_pick: Option<usize>,
    /// What the Python reference is doing, while it runs after ours.
    pub python_line: Option<String>,
    /// The Python run's one-line outcome, for the status line when the job ends.
    python_said: Option<String>,
}

/// The Python run's outcome in one line: what ran and whether it agrees, or what is
/// missing (with the pip line), or the script's last error line.
fn python_said(o: &crate::bench::python::PythonOutcome) -> String {
    match o {
        crate::bench::python::PythonOutcome::Ran { notes, .. } if !notes.is_empty() => {
            format!("{} ({})", o.headline(), notes.join("; "))
        }
        _ => o.headline(),
    }
}

const APP_KEY: &str = "astroperf-settings";

impl AstroApp {
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, APP_KEY))
            .unwrap_or_default();
        Self::with_settings(&cc.egui_ctx, settings)
    }

    /// Start with given settings (tests use this to be independent of saved state).
    pub fn with_settings(ctx: &egui::Context, settings: Settings) -> Self {
        theme::install_fonts(ctx);
        puffin::set_scopes_on(true);
        // The UI thread's scopes go to the live profile, never into a run's capture.
        crate::bench::profile::init_other_thread();
        let repaint_ctx = ctx.clone();
        let worker = Worker::start(move || repaint_ctx.request_repaint());
        let mut app = AstroApp {
            settings,
            data: Arc::new(default_dataset()),
            generated: None,
            worker,
            history: Vec::new(),
            last: None,
            size_sweep: Vec::new(),
            thread_sweep: Vec::new(),
            compare: Vec::new(),
            status: None,
            gen: panels::GenerateDialog::default(),
            show_about: false,
            tour: Default::default(),
            profiler: Default::default(),
            loaded_profile: None,
            flame: Default::default(),
            flame_stretch: false,
            compare_pick: Default::default(),
            machine: Default::default(),
            script: None,
            stale: None,
            frame_times: VecDeque::new(),
            screenshot_to: None,
            line_w: 1.5,
            confirm: None,
            estimate_cache: None,
            history_filter: String::new(),
            python_line: None,
            python_said: None,
            py_flame_pick: None,
        };
        if analyses::find(&app.settings.analysis).is_none() {
            app.settings.analysis = DEFAULT_ANALYSIS.id().into();
        }
        app.settings.threads = app
            .settings
            .threads
            .clamp(1, crate::bench::available_threads());
        app
    }

    /// Start as `astroperf gui …` asks (tests use this to script the app as the CLI does).
    pub fn with_request(ctx: &egui::Context, settings: Settings, request: GuiRequest) -> Self {
        let mut app = Self::with_settings(ctx, settings);
        let script = request
            .is_scripted()
            .then(|| script::Script::new(request.clone()));
        app.apply_request(&request, script);
        app
    }

    fn apply_request(&mut self, request: &GuiRequest, script: Option<script::Script>) {
        if let Some(f) = &request.file {
            self.open_file(f);
            if let Some((msg, true)) = &self.status {
                eprintln!("astroperf gui: {msg}");
            }
        }
        script::apply_settings(self, request);
        self.script = script;
    }

    /// Whether the scripted steps (if any) are all done.
    pub fn script_done(&self) -> bool {
        self.script.as_ref().is_none_or(script::Script::is_done)
    }

    pub fn analysis(&self) -> &'static dyn Analysis {
        analyses::find(&self.settings.analysis)
            .or_else(|| analyses::registry().first().copied())
            .expect("the registry is never empty")
    }

    /// Replace the dataset (the previous result stays in the history).
    pub fn set_data(&mut self, l: Loaded) {
        let warn = l.info.warnings.len();
        self.status = Some((
            format!(
                "loaded {} {:?} from {}{}",
                l.info.kind,
                l.info.shape,
                l.info.source,
                if warn > 0 {
                    format!(" ({warn} warnings)")
                } else {
                    String::new()
                }
            ),
            false,
        ));
        self.data = Arc::new(l);
        self.generated = None;
        self.last = None;
        self.settings.viewer.fold_period = None;
        self.pick_analysis_for_data();
    }

    /// After loading, select an analysis that takes this kind (if the current one does not).
    fn pick_analysis_for_data(&mut self) {
        let kind = self.data.info.kind;
        if self.analysis().input_kind() == kind {
            return;
        }
        let takes = |a: &&&dyn Analysis| a.input_kind() == kind;
        let preferred = analyses::registry()
            .iter()
            .filter(takes)
            .find(|a| a.preferred_for_input());
        if let Some(a) = preferred.or_else(|| analyses::registry().iter().find(takes)) {
            self.settings.analysis = a.id().to_string();
        }
    }

    pub fn open_file(&mut self, path: &Path) {
        match data::load::load(path) {
            Ok(l) => self.set_data(l),
            Err(e) => self.status = Some((e.to_string(), true)),
        }
    }

    /// The input the selected analysis will run on, and whether it is the loaded data.
    fn input_for(&mut self, a: &'static dyn Analysis) -> Result<(Arc<Loaded>, bool), String> {
        if a.input_kind() == self.data.info.kind {
            return Ok((self.data.clone(), true));
        }
        if let Ok(l) = data::adapt(a.input_kind(), (*self.data).clone()) {
            if l.info.kind == a.input_kind() {
                return Ok((Arc::new(l), true));
            }
        }
        if let Some((id, l)) = &self.generated {
            if id == a.id() {
                return Ok((l.clone(), false));
            }
        }
        let l = Arc::new(
            crate::bench::generated_input(a, a.default_size(), 1).map_err(|e| e.to_string())?,
        );
        self.generated = Some((a.id().to_string(), l.clone()));
        Ok((l, false))
    }

    pub fn is_busy(&self) -> bool {
        self.worker.busy
    }

    /// Use these ceilings for the roofline instead of the cached ones (tests show a
    /// given machine without measuring this one).
    pub fn set_machine(&mut self, m: crate::bench::machine::Machine) {
        self.use_machine(Box::new(m), None);
    }

    /// Take new ceilings (and the cache's warning); the latest run's percentages were
    /// against the old ones, so it is annotated again.
    fn use_machine(&mut self, m: Box<crate::bench::machine::Machine>, warning: Option<String>) {
        self.machine = machine_view::MachineState::Ready(m, warning);
        if let Some(l) = &mut self.last {
            l.annotated = false;
        }
    }

    /// Take what the worker sent since the last frame.
    fn poll_worker(&mut self) {
        while let Ok(msg) = self.worker.results.try_recv() {
            match msg {
                Msg::Run {
                    record,
                    outputs,
                    data,
                } => {
                    self.push_history(record.clone(), RunOrigin::Run);
                    // A new run is what the Flame graph tab shows first.
                    self.flame = flame::FlameSource::LatestRun;
                    self.stale = None;
                    self.last = Some(LastRun {
                        record,
                        outputs,
                        data,
                        annotated: false,
                        history_id: self.history.len(),
                        python: None,
                    });
                }
                Msg::PythonProgress(line) => self.python_line = Some(line),
                Msg::Python(outcome) => {
                    self.python_line = None;
                    if let crate::bench::python::PythonOutcome::Ran { records, .. } = &*outcome {
                        for r in records {
                            self.push_history(r.clone(), RunOrigin::Run);
                        }
                    }
                    self.python_said = Some(python_said(&outcome));
                    if let Some(l) = &mut self.last {
                        l.python = Some(*outcome);
                    }
                    self.py_flame_pick = None;
                }
                Msg::SweepPoint { kind, x, record } => {
                    let origin = match kind {
                        SweepKind::Size => RunOrigin::SizeSweep(x),
                        SweepKind::Threads => RunOrigin::ThreadSweep(x),
                    };
                    self.push_history(record.clone(), origin);
                    match kind {
                        SweepKind::Size => self.size_sweep.push((x, record)),
                        SweepKind::Threads => self.thread_sweep.push((x, record)),
                    }
                }
                Msg::Machine(m, warning) => self.use_machine(m, warning),
                Msg::Cancelled { record } => {
                    // Kept in the history, marked cancelled; not shown as the last result.
                    self.push_history(record, RunOrigin::Run);
                }
                Msg::Done(err) => {
                    self.worker.busy = false;
                    self.python_line = None;
                    let python = self.python_said.take();
                    // A failed run leaves the previous result on screen: mark it stale.
                    self.stale = err
                        .as_ref()
                        .filter(|e| **e != crate::Error::Cancelled.to_string())
                        .map(|e| format!("{}: {e}", self.worker.label));
                    self.status = Some(match err {
                        None => match python {
                            Some(p) => (format!("{} finished · {p}", self.worker.label), false),
                            None => (format!("{} finished", self.worker.label), false),
                        },
                        Some(e) => {
                            let cancelled = e == crate::Error::Cancelled.to_string();
                            (format!("{}: {e}", self.worker.label), !cancelled)
                        }
                    });
                }
            }
        }
    }

    /// Save to a file the user picked; an existing file is replaced only after a
    /// confirmation (the platform's save dialog does not promise to ask).
    pub fn save_to(&mut self, ctx: &egui::Context, target: SaveTarget) {
        if target.path().symlink_metadata().is_ok() {
            self.confirm = Some(Confirm::Overwrite(target));
        } else {
            self.save_confirmed(ctx, target);
        }
    }

    /// Save without asking.
    pub fn save_confirmed(&mut self, ctx: &egui::Context, target: SaveTarget) {
        match target {
            SaveTarget::Screenshot(p) => {
                self.screenshot_to = Some(p);
                ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(Default::default()));
            }
            SaveTarget::History(p) => {
                self.status = Some(match reports::export_history(&p, &self.history_records()) {
                    Ok(()) => (format!("history written to {}", p.display()), false),
                    Err(e) => (e, true),
                });
            }
            SaveTarget::Profile(p) => {
                let r = match self.shown_run_profile() {
                    Some(run) => run.write_file(&p).map_err(|e| e.to_string()),
                    None => {
                        let view = self.profiler.global_frame_view().lock();
                        reports::save_profile(&p, &view)
                    }
                };
                self.status = Some(match r {
                    Ok(()) => (format!("profile written to {}", p.display()), false),
                    Err(e) => (e, true),
                });
            }
        }
    }

    /// Give the latest run its roofline figures once the machine's ceilings are known
    /// (read from the cache, or measured on a thread after the first run, never during one).
    fn annotate_last_run(&mut self, ctx: &egui::Context) {
        if self.worker.busy || self.last.as_ref().is_none_or(|l| l.annotated) {
            return;
        }
        let Some(machine) = self.machine.get(ctx).cloned() else {
            return;
        };
        if let Some(l) = self.last.as_mut() {
            roofline::annotate(&mut l.record, &l.data.data, &machine);
            l.annotated = true;
            if let Some(h) = self.history.iter_mut().find(|h| h.id == l.history_id) {
                h.record = l.record.clone();
            }
        }
    }

    /// The run profile the Flame graph tab shows (the latest run's or a History entry's),
    /// if it shows one.
    fn shown_run_profile(&self) -> Option<&crate::bench::profile::RunProfile> {
        match self.flame {
            flame::FlameSource::LatestRun => self
                .last
                .as_ref()
                .filter(|l| l.record.analysis == self.settings.analysis)
                .and_then(|l| l.record.profile.as_ref()),
            flame::FlameSource::History(id) => self
                .history
                .iter()
                .find(|h| h.id == id)
                .and_then(|h| h.record.profile.as_ref()),
            flame::FlameSource::Live | flame::FlameSource::Loaded => None,
        }
    }

    fn push_history(&mut self, record: RunRecord, origin: RunOrigin) {
        let id = self.history.len() + 1;
        self.history.push(HistoryEntry {
            id,
            when: clock(),
            record,
            origin,
        });
    }

    pub fn data_kind(&self) -> data::Kind {
        self.data.info.kind
    }

    /// Points in the (size, thread) sweeps so far.
    pub fn sweep_len(&self) -> (usize, usize) {
        (self.size_sweep.len(), self.thread_sweep.len())
    }

    pub fn history_records(&self) -> Vec<RunRecord> {
        self.history.iter().map(|h| h.record.clone()).collect()
    }

    /// p95 of the recent UI frame times in milliseconds.
    pub fn frame_p95_ms(&self) -> Option<f32> {
        if self.frame_times.len() < 10 {
            return None;
        }
        let mut v: Vec<f32> = self.frame_times.iter().copied().collect();
        v.sort_by(f32::total_cmp);
        Some(v[(v.len() as f32 * 0.95) as usize - 1] * 1e3)
    }

    /// Keyboard shortcuts (listed in Help › Keyboard shortcuts): F5 runs all variants, Esc
    /// cancels, Alt+1…9/0 pick a tab, Ctrl+L toggles lecture mode, F9 the side panel.
    fn handle_shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let pressed = |m: Modifiers, k: Key| {
            ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(m, k)))
        };
        if pressed(Modifiers::NONE, Key::F5) && !self.worker.busy {
            self.start_run(true);
        }
        if self.worker.busy && pressed(Modifiers::NONE, Key::Escape) {
            self.worker.cancel();
        }
        if pressed(Modifiers::COMMAND, Key::L) {
            self.settings.lecture = !self.settings.lecture;
        }
        if pressed(Modifiers::NONE, Key::F9) {
            self.settings.side_panel = !self.settings.side_panel;
        }
        let digits = [
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
            Key::Num7,
            Key::Num8,
            Key::Num9,
            Key::Num0,
        ];
        for (t, k) in Tab::ALL.into_iter().zip(digits) {
            if pressed(Modifiers::ALT, k) {
                self.settings.tab = t;
            }
        }
    }

    fn handle_input_events(&mut self, ctx: &egui::Context) {
        self.handle_shortcuts(ctx);
        let (dropped, shots) = ctx.input(|i| {
            let shots: Vec<Arc<egui::ColorImage>> = i
                .raw
                .events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::Screenshot { image, .. } => Some(image.clone()),
                    _ => None,
                })
                .collect();
            (i.raw.dropped_files.clone(), shots)
        });
        for f in dropped {
            if let Some(p) = f.path {
                self.open_file(&p);
            }
        }
        for img in shots {
            if let Some(p) = self.screenshot_to.take() {
                self.status = Some(match reports::save_png(&p, &img) {
                    Ok(()) => (format!("screenshot saved to {}", p.display()), false),
                    Err(e) => (e, true),
                });
            }
        }
    }

    fn ui(&mut self, ctx: &egui::Context) {
        egui::TopBottomPanel::top("menu").show(ctx, |ui| panels::menu_ui(self, ui));
        egui::TopBottomPanel::bottom("status").show(ctx, |ui| panels::status_ui(self, ui));
        // The tabs span the window above the side panel, so all ten fit on one line at
        // 1280×720 in lecture mode with the panel shown (scrolled sideways if narrower).
        egui::TopBottomPanel::top("tabs").show(ctx, |ui| {
            egui::ScrollArea::horizontal()
                .id_salt("tab_bar")
                .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::VisibleWhenNeeded)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        for (i, t) in Tab::ALL.into_iter().enumerate() {
                            ui.selectable_value(&mut self.settings.tab, t, t.name())
                                .on_hover_text(format!("Alt+{}", (i + 1) % 10));
                        }
                    });
                });
        });
        // Narrower in lecture mode: at 1280×720 the plots keep two thirds of the width.
        let panel_w = if self.settings.lecture { 250.0 } else { 340.0 };
        egui::SidePanel::left(if self.settings.lecture {
            "controls_lecture"
        } else {
            "controls"
        })
        .resizable(true)
        .default_width(panel_w)
        .min_width(200.0)
        .show_animated(ctx, self.settings.side_panel, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                panels::data_ui(self, ui);
                ui.separator();
                panels::analysis_ui(self, ui);
            });
        });
        egui::CentralPanel::default().show(ctx, |ui| {
            tabs::tab_ui(self, ui);
        });
        panels::generate_window(self, ctx);
        panels::about_window(self, ctx);
        self.tour.window(ctx, &mut self.settings);
        panels::confirm_modal(self, ctx);
    }
}

impl eframe::App for AstroApp {
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        if self
            .script
            .as_ref()
            .is_some_and(script::Script::takes_a_screenshot)
        {
            raw_input
                .events
                .retain(|e| !matches!(e, egui::Event::PointerMoved(_)));
            raw_input.events.push(egui::Event::PointerGone);
        }
    }

    fn update(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let t0 = std::time::Instant::now();
        puffin::GlobalProfiler::lock().new_frame();
        puffin::profile_scope!("ui frame");
        self.line_w = theme::apply(ctx, self.settings.dark, self.settings.lecture);
        self.poll_worker();
        self.handle_input_events(ctx);
        self.annotate_last_run(ctx);
        self.ui(ctx);
        script::step(self, ctx);
        if self.worker.busy {
            // Keep the progress bar moving, four times a second: a repaint under a software
            // renderer takes a core for milliseconds, and the run being timed needs it.
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
        self.frame_times.push_back(t0.elapsed().as_secs_f32());
        if self.frame_times.len() > 600 {
            self.frame_times.pop_front();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // A scripted session (a screenshot for a report) leaves the user's settings alone.
        if self.script.is_some() {
            return;
        }
        eframe::set_value(storage, APP_KEY, &self.settings);
    }

    /// A scripted session keeps egui's state (zoom, window, memory) out of the user's
    /// store too, so a `--lecture` screenshot does not zoom the next session.
    fn persist_egui_memory(&self) -> bool {
        self.script.is_none()
    }
}

/// Wall-clock time of day (UTC) for the history table.
fn clock() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> (egui::Context, AstroApp) {
        let ctx = egui::Context::default();
        let settings = Settings {
            analysis: analyses::angular_distances::AngularDistances.id().into(),
            variants: [true, false, false],
            repeat: 60,
            ..Default::default()
        };
        let app = AstroApp::with_settings(&ctx, settings);
        (ctx, app)
    }

    #[test]
    fn a_run_beyond_the_limits_waits_for_a_confirmation() {
        let (_ctx, mut app) = app();
        // 61 calls of naive angular distances on 4,000 sources: over a minute.
        app.start_run(false);
        match &app.confirm {
            Some(Confirm::Run {
                all: false,
                message,
            }) => {
                assert!(
                    message.starts_with("This run is estimated to take ~"),
                    "{message}"
                );
                assert!(message.ends_with("Run anyway?"), "{message}");
            }
            other => panic!("no confirmation: {other:?}"),
        }
        assert!(!app.is_busy(), "started without a confirmation");
        // The estimate is shown before the click too.
        let e = app.run_estimate(false).expect("estimate");
        assert!(e.seconds > 60.0, "{e:?}");
        // A small run starts at once.
        app.confirm = None;
        app.settings.repeat = 1;
        app.start_run(false);
        assert!(app.confirm.is_none());
        assert!(app.is_busy());
        app.worker.cancel();
    }

    #[test]
    fn saving_over_an_existing_file_asks_first() {
        let (ctx, mut app) = app();
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("runs.csv");
        app.save_to(&ctx, SaveTarget::History(p.clone()));
        assert!(app.confirm.is_none());
        assert!(p.exists(), "a new file is written at once");
        std::fs::write(&p, b"mine").expect("write");
        app.save_to(&ctx, SaveTarget::History(p.clone()));
        assert_eq!(
            app.confirm,
            Some(Confirm::Overwrite(SaveTarget::History(p.clone())))
        );
        assert_eq!(
            std::fs::read(&p).expect("read"),
            b"mine",
            "not yet replaced"
        );
        app.confirm = None;
        app.save_confirmed(&ctx, SaveTarget::History(p.clone()));
        assert_ne!(std::fs::read(&p).expect("read"), b"mine");
    }
}
