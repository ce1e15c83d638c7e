//! The side and bar panels: menus, data panel, analysis panel (parameters from the
//! registry's typed specs), status bar, and the Generate/About windows.

use super::widgets::{self, human_bytes};
use super::{reports, AstroApp, Confirm, SaveTarget, Tab, SAMPLES};
use crate::analyses;
use crate::data::generate;
use crate::engine;
use egui::{Color32, RichText};

fn file_dialog() -> rfd::FileDialog {
    rfd::FileDialog::new()
}

pub fn menu_ui(app: &mut AstroApp, ui: &mut egui::Ui) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("Open…").clicked() {
                ui.close();
                if let Some(p) = file_dialog()
                    .add_filter(
                        "data",
                        &[
                            "fits", "fit", "fts", "csv", "txt", "dat", "mjd", "npy", "f64", "f32",
                            "raw",
                        ],
                    )
                    .add_filter("all files", &["*"])
                    .pick_file()
                {
                    app.open_file(&p);
                }
            }
            ui.menu_button("Open sample", |ui| {
                for (label, file, credit) in SAMPLES {
                    if ui.button(*label).on_hover_text(*credit).clicked() {
                        ui.close();
                        app.open_file(&super::sample_path(file));
                    }
                }
            });
            if ui.button("Generate…").clicked() {
                ui.close();
                app.gen.open = true;
            }
            ui.separator();
            if ui.button("Save screenshot (PNG)…").clicked() {
                ui.close();
                if let Some(p) = file_dialog().set_file_name("astroperf.png").save_file() {
                    app.save_to(ui.ctx(), SaveTarget::Screenshot(p));
                }
            }
            ui.menu_button("Export run history", |ui| {
                for (label, ext) in [("CSV…", "csv"), ("JSON…", "json"), ("Markdown…", "md")]
                {
                    if ui.button(label).clicked() {
                        ui.close();
                        if let Some(p) = file_dialog()
                            .set_file_name(format!("astroperf-runs.{ext}"))
                            .save_file()
                        {
                            app.save_to(ui.ctx(), SaveTarget::History(p));
                        }
                    }
                }
            });
            if ui.button("Copy history as Markdown").clicked() {
                ui.close();
                ui.ctx()
                    .copy_text(crate::bench::report::markdown(&app.history_records()));
                app.status = Some(("Markdown table copied to the clipboard".into(), false));
            }
            if ui
                .button("Compare with Python… (load records JSON)")
                .clicked()
            {
                ui.close();
                if let Some(p) = file_dialog().add_filter("JSON", &["json"]).pick_file() {
                    app.status = Some(match crate::bench::load_records(&p) {
                        Ok(r) => {
                            let n = r.len();
                            app.compare = r;
                            (
                                format!("{n} comparison records loaded; see the Timing tab"),
                                false,
                            )
                        }
                        Err(e) => (e.to_string(), true),
                    });
                }
            }
            ui.horizontal(|ui| {
                ui.label("Python for \"Run Python too\":");
                let (default, from) = crate::bench::python::interpreter(None);
                ui.add(
                    egui::TextEdit::singleline(&mut app.settings.python_exe)
                        .hint_text(format!("{} ({from})", default.display()))
                        .desired_width(200.0),
                )
                .on_hover_text("a path to the interpreter (e.g. a venv's bin/python); empty: $ASTROPERF_PYTHON, else python3 on PATH");
            });
            ui.separator();
            if ui
                .button("Save profile (.puffin)…")
                .on_hover_text(
                    "the run shown in the Flame graph tab (the live UI profile when that is shown)",
                )
                .clicked()
            {
                ui.close();
                if let Some(p) = file_dialog().set_file_name("astroperf.puffin").save_file() {
                    app.save_to(ui.ctx(), SaveTarget::Profile(p));
                }
            }
            if ui.button("Load profile (.puffin)…").clicked() {
                ui.close();
                if let Some(p) = file_dialog().add_filter("puffin", &["puffin"]).pick_file() {
                    match reports::load_profile(&p) {
                        Ok(v) => {
                            app.loaded_profile = Some((p.display().to_string(), v));
                            app.flame = super::flame::FlameSource::Loaded;
                            app.settings.tab = Tab::FlameGraph;
                        }
                        Err(e) => app.status = Some((e, true)),
                    }
                }
            }
            ui.separator();
            if ui.button("Quit").clicked() {
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            }
        });
        ui.menu_button("View", |ui| {
            ui.checkbox(
                &mut app.settings.lecture,
                "Lecture mode (large text, high contrast)",
            );
            ui.checkbox(&mut app.settings.dark, "Dark theme");
            if ui
                .button("Reset settings")
                .on_hover_text("every setting back to its default: analysis, parameters, variants, threads, repeats, tab, theme, viewer")
                .clicked()
            {
                ui.close();
                app.settings = super::Settings::default();
                app.status = Some(("settings reset to their defaults".into(), false));
            }
            ui.separator();
            for t in Tab::ALL {
                if ui
                    .selectable_label(app.settings.tab == t, t.name())
                    .clicked()
                {
                    app.settings.tab = t;
                    ui.close();
                }
            }
        });
        help_menu_ui(app, ui);
        ui.separator();
        toolbar_ui(app, ui);
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.toggle_value(&mut app.settings.lecture, "🎓 Lecture mode");
        });
    });
}

/// Help: About (with the data credits) and the keyboard shortcuts.
fn help_menu_ui(app: &mut AstroApp, ui: &mut egui::Ui) {
    ui.menu_button("Help", |ui| {
        if ui.button("Tour (for a first visit)").clicked() {
            ui.close();
            app.tour.start(&mut app.settings);
        }
        if ui.button("About and data credits").clicked() {
            ui.close();
            app.show_about = true;
        }
        ui.menu_button("Keyboard shortcuts", |ui| {
            egui::Grid::new("shortcuts").show(ui, |ui| {
                for (k, what) in [
                    ("F5", "run all variants"),
                    ("Esc", "cancel the run"),
                    ("Alt+1 … Alt+0", "Result … History tab"),
                    ("Ctrl+L", "lecture mode on/off"),
                    ("F9", "hide or show the side panel"),
                ] {
                    ui.label(egui::RichText::new(k).strong());
                    ui.label(what);
                    ui.end_row();
                }
            });
        });
    });
}

/// Always in reach beside the menus: the side panel toggle, Run (the ticked variants), Run
/// all variants and Cancel.
fn toolbar_ui(app: &mut AstroApp, ui: &mut egui::Ui) {
    let panel = if app.settings.side_panel {
        "Hide panel"
    } else {
        "Show panel"
    };
    if ui.button(panel).on_hover_text("F9").clicked() {
        app.settings.side_panel = !app.settings.side_panel;
    }
    let busy = app.is_busy();
    if ui
        .add_enabled(!busy, egui::Button::new("Run"))
        .on_hover_text("the ticked variants")
        .clicked()
    {
        app.start_run(false);
    }
    if ui
        .add_enabled(!busy, egui::Button::new("Run all"))
        .on_hover_text("every variant (F5)")
        .clicked()
    {
        app.start_run(true);
    }
    if ui
        .add_enabled(busy, egui::Button::new("Cancel"))
        .on_hover_text("Esc")
        .clicked()
    {
        app.worker.cancel();
    }
    let given = app.settings.python_exe.trim();
    let (exe, from) = crate::bench::python::interpreter(
        Some(std::path::Path::new(given)).filter(|_| !given.is_empty()),
    );
    ui.add_enabled(
        !busy,
        egui::Checkbox::new(&mut app.settings.run_python, "Run Python too"),
    )
    .on_hover_text(format!(
        "after ours, run the chapter's Python (pure Python, numpy/scipy, numba) on the same input with {} ({from}), profile it under cProfile and check it agrees; its bars join the Timing tab, its call tree the Flame graph tab",
        exe.display()
    ));
}

pub fn status_ui(app: &mut AstroApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        if app.worker.busy {
            let p = app.worker.control.progress() as f32;
            // Not animated: an animated bar asks for a repaint every frame, and every
            // repaint takes CPU from the run being timed (the app repaints 4×/s instead).
            ui.add(
                egui::ProgressBar::new(p)
                    .desired_width(260.0)
                    .show_percentage(),
            );
            ui.label(&app.worker.label);
            if let Some(p) = &app.python_line {
                ui.label(
                    RichText::new(format!("· {p}")).color(super::theme::python_color("numpy")),
                );
            }
            if ui.button("Cancel").clicked() {
                app.worker.cancel();
            }
        } else if let Some((msg, err)) = &app.status {
            let c = if *err {
                Color32::from_rgb(235, 90, 70)
            } else {
                ui.visuals().text_color()
            };
            ui.label(RichText::new(msg).color(c));
        } else {
            ui.label("ready");
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if let Some(p95) = app.frame_p95_ms() {
                ui.label(RichText::new(format!("UI frame p95 {p95:.1} ms")).small());
            }
        });
    });
}

pub fn data_ui(app: &mut AstroApp, ui: &mut egui::Ui) {
    ui.heading("Data");
    let i = &app.data.info;
    egui::Grid::new("datainfo").num_columns(2).show(ui, |ui| {
        ui.label("kind");
        ui.label(RichText::new(i.kind.name()).strong());
        ui.end_row();
        ui.label("shape");
        ui.label(format!("{:?}", i.shape));
        ui.end_row();
        ui.label("dtype");
        ui.label(&i.dtype);
        ui.end_row();
        ui.label("bytes");
        ui.label(human_bytes(i.bytes));
        ui.end_row();
        ui.label("origin");
        ui.label(match i.origin {
            crate::data::Origin::File => "file",
            crate::data::Origin::Generated => "generated",
            crate::data::Origin::MemoryMapped => "memory-mapped",
        });
        ui.end_row();
    });
    // Files show their name (the full path on hover), so a screenshot does not depend on
    // where the data lives.
    let shown = match i.origin {
        crate::data::Origin::Generated => i.source.clone(),
        _ => std::path::Path::new(&i.source)
            .file_name()
            .map_or(i.source.clone(), |n| n.to_string_lossy().into_owned()),
    };
    ui.label(RichText::new(shown).small())
        .on_hover_text(&i.source);
    if !i.facts.is_empty() {
        egui::CollapsingHeader::new(format!("header facts ({})", i.facts.len())).show(ui, |ui| {
            for (k, v) in &i.facts {
                ui.label(RichText::new(format!("{k}: {v}")).small().monospace());
            }
        });
    }
    for w in &i.warnings {
        ui.label(RichText::new(format!("⚠ {w}")).color(Color32::from_rgb(230, 170, 40)));
    }
    ui.horizontal(|ui| {
        if ui.button("Open…").clicked() {
            if let Some(p) = file_dialog().pick_file() {
                app.open_file(&p);
            }
        }
        ui.menu_button("Sample…", |ui| {
            for (label, file, credit) in SAMPLES {
                if ui.button(*label).on_hover_text(*credit).clicked() {
                    ui.close();
                    app.open_file(&super::sample_path(file));
                }
            }
        });
        if ui.button("Generate…").clicked() {
            app.gen.open = true;
        }
    });
    ui.label(
        RichText::new("or drop a FITS/CSV/TXT/NPY file on the window")
            .small()
            .weak(),
    );
}

pub fn analysis_ui(app: &mut AstroApp, ui: &mut egui::Ui) {
    ui.heading("Analysis");
    let current = app.analysis();
    // As wide as the panel, the title truncated: the panel keeps its width whatever the
    // analysis (a long title used to widen it).
    egui::ComboBox::from_id_salt("analysis")
        .width(ui.available_width() - 8.0)
        .truncate()
        .selected_text(current.title())
        .show_ui(ui, |ui| {
            let mut sections: Vec<engine::Section> =
                analyses::registry().iter().map(|a| a.section()).collect();
            sections.dedup();
            for s in sections {
                ui.label(RichText::new(s.name()).strong().small());
                for a in analyses::registry().iter().filter(|a| a.section() == s) {
                    if ui
                        .selectable_label(
                            app.settings.analysis == a.id(),
                            format!("   {}", a.title()),
                        )
                        .on_hover_text(a.help())
                        .clicked()
                    {
                        app.settings.analysis = a.id().to_string();
                    }
                }
            }
        });
    let a = app.analysis();
    ui.label(
        RichText::new(format!("{} · {}", a.section(), a.id()))
            .small()
            .weak(),
    );
    ui.label(a.help());
    let kind = a.input_kind();
    if kind != app.data.info.kind {
        let note = if kind == crate::data::Kind::None {
            "generates its own samples".to_string()
        } else {
            format!(
                "takes a {kind}: runs on generated data ({} {})",
                a.default_size(),
                a.size_unit()
            )
        };
        ui.label(
            RichText::new(note)
                .small()
                .color(Color32::from_rgb(230, 170, 40)),
        );
    }
    ui.add_space(4.0);
    params_ui(app, ui, a);
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        for (i, v) in engine::ALL_VARIANTS.into_iter().enumerate() {
            ui.checkbox(
                &mut app.settings.variants[i],
                RichText::new(v.name()).color(super::theme::variant_color(v)),
            );
        }
    });
    let cores = crate::bench::available_threads();
    ui.add(egui::Slider::new(&mut app.settings.threads, 1..=cores).text("threads (parallel)"));
    ui.add(egui::Slider::new(&mut app.settings.repeat, 1..=50).text("repeats"));
    ui.add(egui::Slider::new(&mut app.settings.warmup, 0..=5).text("warm-up calls"));
    let est = app.run_estimate(false);
    let est_all = app.run_estimate(true);
    let hover = |e: &Option<engine::guard::Estimate>| match e {
        Some(e) => format!("estimated {}", e.describe()),
        None => "estimate: once the input is generated".to_string(),
    };
    ui.add_enabled_ui(!app.is_busy(), |ui| {
        ui.horizontal_wrapped(|ui| {
            if ui
                .button(RichText::new("▶ Run").strong())
                .on_hover_text(hover(&est))
                .clicked()
            {
                app.start_run(false);
            }
            if ui
                .button("Run all variants")
                .on_hover_text(hover(&est_all))
                .clicked()
            {
                app.start_run(true);
            }
        });
        // Next to Run, only when it matters: a run beyond the guard's limits.
        if let Some(e) = est.as_ref().filter(|e| {
            engine::guard::judge(e, engine::guard::available_memory())
                != engine::guard::Verdict::Fine
        }) {
            ui.label(
                RichText::new(format!("⚠ Run: estimated {}", e.describe()))
                    .color(Color32::from_rgb(230, 170, 40)),
            );
        }
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Run size sweep")
                .on_hover_text("time the ticked variants on generated inputs of growing size")
                .clicked()
            {
                app.start_size_sweep();
            }
            if ui
                .button("Run thread sweep")
                .on_hover_text("time the parallel variant at 1..cores threads")
                .clicked()
            {
                app.start_thread_sweep();
            }
        });
    });
    ui.collapsing("sweep settings", |ui| {
        ui.add(egui::Slider::new(&mut app.settings.sweep_points, 2..=12).text("sizes"));
        ui.add(
            egui::Slider::new(&mut app.settings.sweep_max_factor, 0.05..=4.0)
                .logarithmic(true)
                .text("largest, × chapter size"),
        );
    });
    if app.is_busy() {
        ui.horizontal(|ui| {
            ui.add(egui::ProgressBar::new(app.worker.control.progress() as f32).show_percentage());
        });
        if ui.button("Cancel").clicked() {
            app.worker.cancel();
        }
    }
}

/// Editors built from the typed parameter specs; a value out of range is shown as typed
/// with what is allowed beside it, and the app refuses to run until it is fixed.
fn params_ui(app: &mut AstroApp, ui: &mut egui::Ui, a: &'static dyn engine::Analysis) {
    let specs = a.params();
    if specs.is_empty() {
        ui.label(RichText::new("no parameters").small().weak());
        return;
    }
    let shown: Vec<Option<engine::ParamValue>> =
        specs.iter().map(|s| app.shown_param(a, s.name)).collect();
    let saved = app.settings.params.entry(a.id().to_string()).or_default();
    egui::Grid::new(("params", a.id()))
        .num_columns(2)
        .show(ui, |ui| {
            for (s, v) in specs.iter().zip(shown) {
                ui.label(s.name).on_hover_text(s.help);
                let new = widgets::param_editor(ui, s, v.clone(), a.id());
                if new != v {
                    match new {
                        Some(n) => {
                            saved.insert(s.name.to_string(), n);
                        }
                        None => {
                            saved.remove(s.name);
                        }
                    }
                }
                ui.end_row();
            }
        });
    if ui.small_button("reset to defaults").clicked() {
        app.settings.params.remove(a.id());
    }
}

/// The Generate… dialog: a generator kind, its numeric parameters, and a seed.
pub struct GenerateDialog {
    pub open: bool,
    kind: usize,
    values: Vec<Vec<(String, f64)>>,
    seed: u64,
}

impl Default for GenerateDialog {
    fn default() -> Self {
        let defaults: &[&[(&str, f64)]] = &[
            &[("n", 50_000.0), ("z", 0.0123), ("noise", 1.0)],
            &[
                ("size", 1024.0),
                ("stars", 40.0),
                ("fwhm", 3.53),
                ("background", 100.0),
                ("noise", 5.0),
                ("cosmics", 0.0),
            ],
            &[
                ("n", 1000.0),
                ("period", 3.7),
                ("amplitude", 0.1),
                ("noise", 0.05),
                ("span", 100.0),
            ],
            &[
                ("count", 100.0),
                ("n", 1000.0),
                ("period", 3.7),
                ("noise", 0.05),
            ],
            &[("n", 2000.0)],
            &[("n", 100_000.0)],
            &[("n", 100_000.0), ("common", 50_000.0), ("offset", 0.5)],
            &[("count", 1000.0), ("n", 3000.0)],
        ];
        debug_assert_eq!(defaults.len(), generate::GENERATORS.len());
        GenerateDialog {
            open: false,
            kind: 0,
            values: defaults
                .iter()
                .map(|v| v.iter().map(|(k, x)| (k.to_string(), *x)).collect())
                .collect(),
            seed: 1,
        }
    }
}

pub fn generate_window(app: &mut AstroApp, ctx: &egui::Context) {
    if !app.gen.open {
        return;
    }
    let mut open = true;
    let mut make = None;
    egui::Window::new("Generate data")
        .open(&mut open)
        .resizable(false)
        .show(ctx, |ui| {
            let g = &mut app.gen;
            egui::ComboBox::from_label("kind")
                .selected_text(generate::GENERATORS[g.kind].0)
                .show_ui(ui, |ui| {
                    for (i, (k, _)) in generate::GENERATORS.iter().enumerate() {
                        ui.selectable_value(&mut g.kind, i, *k);
                    }
                });
            egui::Grid::new("genparams").num_columns(2).show(ui, |ui| {
                for (k, v) in &mut g.values[g.kind] {
                    ui.label(k.as_str());
                    let speed = (v.abs() / 100.0).max(0.001);
                    ui.add(egui::DragValue::new(v).range(0.0..=1.0e9).speed(speed));
                    ui.end_row();
                }
                ui.label("seed");
                ui.add(egui::DragValue::new(&mut g.seed));
                ui.end_row();
            });
            if ui.button("Generate").clicked() {
                make = Some((
                    generate::GENERATORS[g.kind].0,
                    g.values[g.kind].clone(),
                    g.seed,
                ));
            }
        });
    app.gen.open = open;
    if let Some((kind, nums, seed)) = make {
        match generate::generate_kind(kind, &nums, seed) {
            Ok(l) => {
                app.set_data(l);
                app.gen.open = false;
            }
            Err(e) => app.status = Some((e.to_string(), true)),
        }
    }
}

/// The modal questions: run a job beyond the guard's limits, replace an existing file.
pub fn confirm_modal(app: &mut AstroApp, ctx: &egui::Context) {
    let Some(q) = app.confirm.clone() else {
        return;
    };
    let (title, text, yes) = match &q {
        Confirm::Run { message, .. } => ("Long run", message.clone(), "Run anyway"),
        Confirm::Overwrite(t) => (
            "Replace file?",
            format!("{} already exists. Replace it?", t.path().display()),
            "Replace",
        ),
    };
    let mut answer = None;
    let modal = egui::Modal::new(egui::Id::new("astroperf-confirm")).show(ctx, |ui| {
        ui.set_max_width(460.0);
        ui.heading(title);
        ui.label(text);
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui.button(RichText::new(yes).strong()).clicked() {
                answer = Some(true);
            }
            if ui.button("Cancel").clicked() {
                answer = Some(false);
            }
        });
    });
    if modal.should_close() && answer.is_none() {
        answer = Some(false);
    }
    match answer {
        Some(true) => {
            app.confirm = None;
            match q {
                Confirm::Run { all, .. } => app.start_run_confirmed(all),
                Confirm::Overwrite(t) => app.save_confirmed(ctx, t),
            }
        }
        Some(false) => {
            app.confirm = None;
            let what = match q {
                Confirm::Run { .. } => "run not started",
                Confirm::Overwrite(_) => "not saved",
            };
            app.status = Some((what.into(), false));
        }
        None => {}
    }
}

pub fn about_window(app: &mut AstroApp, ctx: &egui::Context) {
    let mut open = app.show_about;
    egui::Window::new("About astroperf").open(&mut open).show(ctx, |ui| {
        ui.label("astroperf makes performance visible: every analysis in a naive, a vectorized and a parallel variant, with per-stage timings and a live puffin flame graph.");
        ui.add_space(6.0);
        ui.label(RichText::new("Bundled sample data").strong());
        for (label, file, credit) in SAMPLES {
            ui.label(format!("• {label} ({file}): {credit}"));
        }
    });
    app.show_about = open;
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_generator_has_dialog_defaults_that_generate() {
        let g = super::GenerateDialog::default();
        assert_eq!(g.values.len(), crate::data::generate::GENERATORS.len());
        for (i, (kind, _)) in crate::data::generate::GENERATORS.iter().enumerate() {
            // Small sizes: the dialog's keys must be the generator's keys.
            let nums: Vec<(String, f64)> = g.values[i]
                .iter()
                .map(|(k, v)| {
                    let small = matches!(k.as_str(), "n" | "size" | "count" | "common");
                    (k.clone(), if small { v.min(64.0) } else { *v })
                })
                .collect();
            crate::data::generate::generate_kind(kind, &nums, 1)
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
    }
}
