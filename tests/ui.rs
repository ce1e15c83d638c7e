//! UI tests of the real app with egui_kittest: open, load a sample, run all variants,
//! visit every tab. Deterministic views are compared with committed snapshots; views
//! holding measured times are rendered to `tests/snapshots/render/` for the README and
//! checked through the app state instead (times differ run to run).
#![cfg(feature = "gui")]

use astroperf::app::{AstroApp, Settings, Tab};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::{Harness, SnapshotOptions};

fn harness() -> Harness<'static, AstroApp> {
    harness_with(Settings {
        repeat: 2,
        ..Default::default()
    })
}

/// The app at 1400×880 points with these settings.
fn harness_with(settings: Settings) -> Harness<'static, AstroApp> {
    Harness::builder()
        .with_size([1400.0, 880.0])
        .build_eframe(move |cc| AstroApp::with_settings(&cc.egui_ctx, settings))
}

/// Step the UI until the worker has finished (the UI keeps rendering meanwhile).
fn wait_idle(h: &mut Harness<'static, AstroApp>) {
    for _ in 0..6000 {
        h.step();
        if !h.state().is_busy() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!h.state().is_busy(), "the run did not finish");
    h.run_steps(4);
}

/// The status bar shows the live UI frame time: mask it out of comparisons.
fn snapshot(h: &mut Harness<'static, AstroApp>, name: &str) {
    // In points of the UI as drawn (lecture mode zooms it by 1.6).
    let screen = h.ctx.content_rect();
    h.mask(egui::Rect::from_min_max(
        egui::pos2(screen.min.x, screen.max.y - 30.0),
        screen.max,
    ));
    // A few pixels of the dense 50,000-point line may rasterise differently between runs.
    let opts = SnapshotOptions::new()
        .threshold(1.0)
        .failed_pixel_count_threshold(40);
    h.snapshot_options(name, &opts);
}

/// Render (which must succeed); the PNG for the README is rewritten only when
/// `UPDATE_SNAPSHOTS` is set, so a plain test run leaves the tree clean.
fn render(h: &mut Harness<'static, AstroApp>, name: &str) {
    let img = h
        .render()
        .expect("a wgpu adapter (Mesa lavapipe) renders the UI");
    assert!(img.width() > 0 && img.height() > 0);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/render");
    std::fs::create_dir_all(&dir).expect("create render dir");
    img.save(dir.join(format!("{name}.png")))
        .expect("write render");
}

#[test]
fn opens_ready_and_runs_all_variants_on_the_default_spectrum() {
    let mut h = harness();
    h.run_steps(3);
    assert_eq!(h.state().settings.analysis, "spectrum-pipeline");
    h.get_by_label("Run all variants").click();
    h.step();
    assert!(h.state().is_busy(), "Run all variants starts a job");
    wait_idle(&mut h);
    let recs = h.state().history_records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].runs.len(), 3);
    assert!(
        recs[0].agree,
        "variants disagree: {:?}",
        recs[0].disagreement
    );
    // The default spectrum's lines give its true redshift.
    let z = recs[0].runs[2].summary["redshift"]
        .as_f64()
        .expect("redshift");
    assert!((z - 0.0123).abs() < 2e-4, "z = {z}");
    snapshot(&mut h, "spectrum_result");

    for (tab, name) in [
        ("Timing", "timing"),
        ("Stages", "stages"),
        ("Memory", "memory"),
        ("Compare", "compare"),
        ("History", "history"),
        ("Flame graph", "flame_graph"),
    ] {
        h.get_by_label(tab).click();
        h.run_steps(3);
        render(&mut h, name);
    }
    assert_eq!(h.state().settings.tab, Tab::FlameGraph);
    // The Flame graph tab shows this run, not the UI's frame: its stages and all three
    // variants (the table beneath the graph; the variant names also label the ticks in
    // the side panel, hence at least two of each).
    for stage in [
        "continuum",
        "residual",
        "sigma",
        "lines",
        "redshift",
        "calls",
    ] {
        assert!(
            h.query_by_label(stage).is_some(),
            "no stage '{stage}' in the Flame graph tab"
        );
    }
    for v in ["naive", "vectorized", "parallel"] {
        assert!(h.query_all_by_label(v).count() >= 2, "no {v} column");
    }
    assert!(h.query_by_label("latest run").is_some());
}

#[test]
fn the_scripted_app_runs_shows_a_tab_and_writes_its_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = dir.path().join("history.json");
    let request = astroperf::cli::gui::GuiRequest {
        analysis: Some("pairwise-distances".into()),
        params: Vec::new(),
        run: Some(astroperf::cli::gui::RunRequest::All),
        tab: Some("memory".into()),
        history_json: Some(history.clone()),
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size([1400.0, 880.0])
        .build_eframe(|cc| {
            let settings = Settings {
                repeat: 2,
                ..Default::default()
            };
            AstroApp::with_request(&cc.egui_ctx, settings, request)
        });
    for _ in 0..6000 {
        h.step();
        if h.state().script_done() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(h.state().script_done(), "the script did not finish");
    assert_eq!(h.state().settings.tab, Tab::Memory);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&history).expect("history written")).expect("json");
    let runs = json[0]["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 3);
    assert!(runs
        .iter()
        .all(|r| r["peak_bytes"].as_u64().is_some_and(|b| b > 0)));
    assert!(
        h.query_all_by_label("peak heap").count() >= 1,
        "the Memory tab's table"
    );
}

#[test]
fn loads_the_eso_sample_and_draws_its_sources() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Sample…").click();
    h.run_steps(2);
    h.get_by_label("ESO NTT/EMMI R-band CCD frame").click();
    h.run_steps(2);
    assert_eq!(h.state().data_kind(), "frame");
    assert_eq!(h.state().settings.analysis, "ccd-pipeline");
    // ccd-pipeline's parameters put the panel's "Run all variants" below this window's
    // fold; F5 (as the toolbar's "Run all") reaches it wherever the panel is scrolled.
    h.key_press(egui::Key::F5);
    h.step();
    assert!(h.state().is_busy(), "F5 runs all variants");
    wait_idle(&mut h);
    let recs = h.state().history_records();
    assert_eq!(recs.len(), 1);
    assert!(recs[0].agree, "{:?}", recs[0].disagreement);
    let n = recs[0].runs[0].summary["n_sources"]
        .as_u64()
        .expect("n_sources");
    assert!(n > 0);
    snapshot(&mut h, "ccd_result");
    // the result's 2-D arrays can be shown in place of the frame
    h.get_by_label("image").click();
    h.run_steps(2);
    h.get_by_label("labels").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.viewer.layer, "labels");
    snapshot(&mut h, "ccd_labels");
}

#[test]
fn size_and_thread_sweeps_fill_their_plots() {
    let mut h = harness();
    h.run_steps(2);
    // A cheap analysis keeps the sweep short.
    h.state_mut().settings.analysis = "pairwise-distances".into();
    h.state_mut().settings.sweep_max_factor = 0.25;
    h.state_mut().settings.sweep_points = 3;
    h.run_steps(2);
    h.get_by_label("Run size sweep").click();
    h.step();
    wait_idle(&mut h);
    assert_eq!(h.state().sweep_len(), (3, 0));
    render(&mut h, "size_sweep");
    h.get_by_label("Run thread sweep").click();
    h.step();
    wait_idle(&mut h);
    assert_eq!(
        h.state().sweep_len().1,
        astroperf::bench::available_threads()
    );
    render(&mut h, "thread_sweep");
}

#[test]
fn lecture_mode_enlarges_the_ui() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("🎓 Lecture mode").click();
    h.run_steps(3);
    assert!(h.state().settings.lecture);
    assert!((h.ctx.zoom_factor() - 1.6).abs() < 1e-3);
    snapshot(&mut h, "lecture_mode");
}

#[test]
fn keyboard_shortcuts_run_cancel_and_pick_tabs() {
    // Many repeats, so the run is still going when Esc arrives even on a loaded machine
    // (with the usual two it could finish first); Cancel stops it within a call, and also
    // when it comes before the worker thread has taken the job (see worker.rs).
    let mut h = harness_with(Settings {
        repeat: 200,
        ..Default::default()
    });
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::ALT, egui::Key::Num3);
    h.run_steps(2);
    assert_eq!(h.state().settings.tab, Tab::Stages);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    h.run_steps(2);
    assert!(h.state().settings.lecture);
    h.key_press(egui::Key::F5);
    h.step();
    assert!(h.state().is_busy(), "F5 runs all variants");
    h.key_press(egui::Key::Escape);
    wait_idle(&mut h);
    let recs = h.state().history_records();
    assert!(
        recs.is_empty() || recs.iter().any(|r| r.is_cancelled()),
        "Esc cancels the run"
    );
}

#[test]
fn an_out_of_range_parameter_is_refused_not_clamped() {
    let mut h = harness();
    h.run_steps(2);
    h.state_mut()
        .settings
        .params
        .entry("spectrum-pipeline".into())
        .or_default()
        .insert("window".into(), astroperf::engine::ParamValue::Int(0));
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("not allowed: an integer in 1..=")
            .is_some(),
        "a message beside the field"
    );
    h.get_by_label("Run all variants").click();
    h.step();
    assert!(!h.state().is_busy(), "the run is refused");
    assert!(h.state().history_records().is_empty());
    // The value stays as typed: nothing was clamped behind the user's back.
    assert_eq!(
        h.state().settings.params["spectrum-pipeline"]["window"],
        astroperf::engine::ParamValue::Int(0)
    );
}

/// Every analysis has a purpose-made Result view: run it (one variant, once) on its
/// generated default input and snapshot the Result tab. Views showing measured times or
/// memory (they differ run to run) mask that region themselves by drawing it apart; the
/// snapshot threshold allows the few pixels a dense scatter may rasterise differently.
#[test]
fn every_analysis_has_its_own_result_view() {
    use astroperf::app::views::analysis;
    let ids: Vec<&str> = astroperf::analyses::registry()
        .iter()
        .map(|a| a.id())
        .collect();
    for id in &ids {
        assert!(
            analysis::find(id).is_some(),
            "{id} has no purpose-made Result view"
        );
    }
    assert_eq!(analysis::all().len(), ids.len(), "one view per analysis");
}

/// Run `id` (vectorized, once) on its generated default input and snapshot its Result
/// view as `result_<id>`.
fn result_view_snapshot(id: &str) {
    let mut h = result_view_run(id);
    snapshot(&mut h, &format!("result_{id}"));
}

/// Run `id` as `result_view_snapshot` does and render its Result view without comparing
/// pixels (for views showing measured times or memory, which differ run to run); the
/// view must show each of `labels`.
fn result_view_render(id: &str, labels: &[&str]) {
    let mut h = result_view_run(id);
    for label in labels {
        assert!(
            h.query_by_label_contains(label).is_some(),
            "{id}: the Result view shows no “{label}”"
        );
    }
    render(&mut h, &format!("result_{id}"));
}

/// Analyses whose default input takes over a minute in an unoptimised test build (the
/// exact Lomb-Scargle periodogram over 10,000 points; six layouts of a 4096² frame): their
/// views are tested on the analysis' quick size instead.
const SMALL_INPUT: &[&str] = &["period-search", "memory-layout"];

/// A harness that has run `id` (vectorized, once) on its generated default input and
/// shows the Result tab.
fn result_view_run(id: &str) -> Harness<'static, AstroApp> {
    let mut h = Harness::builder()
        .with_size([1400.0, 880.0])
        .build_eframe(|cc| {
            let settings = Settings {
                repeat: 1,
                analysis: id.to_string(),
                variants: [false, true, false],
                ..Default::default()
            };
            AstroApp::with_settings(&cc.egui_ctx, settings)
        });
    h.run_steps(2);
    if SMALL_INPUT.contains(&id) {
        let a = astroperf::analyses::find(id).expect("a registered analysis");
        let input = astroperf::bench::generated_input(a, a.quick_size(), 1)
            .expect("its generator accepts the quick size");
        h.state_mut().set_data(input);
    }
    h.state_mut().start_run(false);
    h.step();
    wait_idle(&mut h);
    let recs = h.state().history_records();
    assert_eq!(recs.len(), 1, "{id}: one run");
    assert_eq!(h.state().settings.tab, Tab::Result);
    h
}

macro_rules! result_view_tests {
    (render_only: $($test:ident => $id:literal [$($label:literal),* $(,)?]),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                result_view_render($id, &[$($label),*]);
            }
        )*
    };
    ($($test:ident => $id:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                result_view_snapshot($id);
            }
        )*
    };
}

result_view_tests! {
    result_view_pairwise_distances => "pairwise-distances",
    result_view_spectrum_pipeline => "spectrum-pipeline",
    result_view_ccd_pipeline => "ccd-pipeline",
    result_view_angular_distances => "angular-distances",
    result_view_extinction_correction => "extinction-correction",
    result_view_phase_fold => "phase-fold",
    result_view_cross_match => "cross-match",
    result_view_orbit_leapfrog => "orbit-leapfrog",
    result_view_monte_carlo_pi => "monte-carlo-pi",
    result_view_peak_count => "peak-count",
    result_view_magnitude_sum => "magnitude-sum",
    result_view_planck => "planck",
    result_view_observation_batch => "observation-batch",
    result_view_banded_median => "banded-median",
    result_view_streaming_stats => "streaming-stats",
    result_view_period_search => "period-search",
    result_view_spectrum_stack => "spectrum-stack",
    result_view_population_synthesis => "population-synthesis",
}

/// Lecture mode on a 1280×720 projector: the side panel, the toolbar with Run / Run all /
/// Cancel, the one-line tab bar and the result all fit (snapshots with the panel shown and
/// hidden; the status bar's frame time is masked).
#[test]
fn lecture_mode_fits_a_1280x720_projector() {
    // kittest keeps the window's size in points: 800×450 points at lecture mode's zoom
    // of 1.6 are a 1280×720-pixel projector.
    let mut h = Harness::builder()
        .with_size([800.0, 450.0])
        .build_eframe(|cc| {
            let settings = Settings {
                repeat: 1,
                lecture: true,
                ..Default::default()
            };
            AstroApp::with_settings(&cc.egui_ctx, settings)
        });
    h.run_steps(3);
    for label in ["Run", "Run all", "Cancel", "Hide panel", "History"] {
        let node = h.get_by_label(label);
        let r = node.rect();
        assert!(
            r.max.x <= 1280.0 && r.max.y <= 720.0,
            "{label} is outside the 1280x720 window: {r:?}"
        );
    }
    h.key_press(egui::Key::F5);
    h.step();
    assert!(h.state().is_busy(), "F5 runs all variants");
    wait_idle(&mut h);
    assert_eq!(h.state().history_records().len(), 1);
    lecture_snapshot(&mut h, "lecture_1280x720_panel");
    h.key_press(egui::Key::F9);
    h.run_steps(3);
    assert!(!h.state().settings.side_panel);
    lecture_snapshot(&mut h, "lecture_1280x720_no_panel");
}

fn lecture_snapshot(h: &mut Harness<'static, AstroApp>, name: &str) {
    // The status bar (frame time) in points of the zoomed UI.
    h.mask(egui::Rect::from_min_max(
        egui::pos2(0.0, 450.0 - 24.0),
        egui::pos2(800.0, 450.0),
    ));
    let opts = SnapshotOptions::new()
        .threshold(1.0)
        .failed_pixel_count_threshold(60);
    h.snapshot_options(name, &opts);
}

/// Help › Tour walks a newcomer through the tabs; View › Reset settings restores the
/// defaults; every bundled sample (both MACHO bands among them) is in the Sample menu.
#[test]
fn tour_reset_and_samples_menus() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Help").click();
    h.run_steps(2);
    h.get_by_label("Tour (for a first visit)").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Tour 1/8").is_some());
    for step in 2..=4 {
        h.get_by_label("Next").click();
        h.run_steps(4);
        assert!(
            h.query_by_label_contains(&format!("Tour {step}/8"))
                .is_some(),
            "Next goes to step {step}"
        );
    }
    assert!(h.query_by_label_contains("Tour 4/8: Timing").is_some());
    assert_eq!(
        h.state().settings.tab,
        Tab::Timing,
        "the tour shows its step's tab"
    );

    h.state_mut().settings.repeat = 9;
    h.state_mut().settings.dark = false;
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Reset settings").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.repeat, Settings::default().repeat);
    assert!(h.state().settings.dark);

    h.get_by_label("Sample…").click();
    h.run_steps(4);
    for s in [
        "ESO NTT/EMMI R-band CCD frame",
        "FAST spectrum of NGC 5548",
        "MACHO light curve 1.3444.614 (blue)",
        "MACHO light curve 1.3444.614 (red)",
        "Yearly sunspot numbers 1700–2008",
    ] {
        assert!(h.query_by_label(s).is_some(), "no sample '{s}'");
    }
    h.get_by_label("MACHO light curve 1.3444.614 (red)").click();
    h.run_steps(3);
    assert_eq!(h.state().data_kind(), astroperf::data::Kind::LightCurve);
}

/// History rows carry their parameters and where they came from; the filter keeps the
/// rows that match every word.
#[test]
fn history_shows_parameters_and_filters() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Run all variants").click();
    h.step();
    wait_idle(&mut h);
    h.get_by_label("History").click();
    h.run_steps(3);
    assert_eq!(h.query_all_by_label_contains("window=101").count(), 3);
    assert_eq!(h.query_all_by_label("✓").count(), 3);
    // One analysis, every row from Run: said once above the table, not in two columns.
    assert!(h
        .query_by_label("spectrum-pipeline, all from Run")
        .is_some());
    assert!(h.query_by_label("from").is_none());
    h.state_mut().history_filter = "parallel".into();
    h.run_steps(3);
    assert_eq!(h.query_all_by_label("✓").count(), 1);
    h.state_mut().history_filter = "no-such-analysis".into();
    h.run_steps(3);
    assert!(h.query_by_label_contains("No run matches").is_some());
}

// Views of measured times or resident memory: rendered, their labels checked.
result_view_tests! {
    render_only:
    result_view_memory_layout => "memory-layout" ["One frame held six ways", "time to make the layout", "time of one full pass"],
    result_view_catalog_chunks => "catalog-chunks" ["Magnitudes: selected rows against all rows", "Resident memory (RSS) while reading the chunks"],
}

mod stub_python;

/// "Run Python too" with a stub interpreter answering canned records: after our run the
/// Python rows join History (named by their method, in the Python colours), the Timing
/// tab says what the gold bars are, and the Flame graph tab puts the Python call tree
/// beneath ours.
#[test]
#[cfg(unix)]
fn run_python_too_puts_python_beside_ours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = serde_json::json!([{
        "analysis": "spectrum-pipeline",
        "input": {"kind": "spectrum", "source": "stub", "shape": [10]},
        "size": 10, "size_unit": "pixels", "params": {}, "agree": true, "tool": "python",
        "same_input": true,
        "runs": [{
            "variant": "vectorized", "threads": 1, "first_s": 0.004, "times_s": [0.002],
            "median_s": 0.002, "min_s": 0.002, "max_s": 0.002, "mad_s": 0.0,
            "throughput": 1.0, "throughput_unit": "pixels/s", "stages": [],
            "summary": {"method": "numpy stub", "library": "numpy"}, "agrees": true
        }]
    }]);
    let exe = stub_python::answering(dir.path(), "py", &record);
    let mut h = harness_with(Settings {
        repeat: 1,
        variants: [false, true, true],
        run_python: true,
        python_exe: exe.display().to_string(),
        ..Default::default()
    });
    h.run_steps(3);
    assert!(h.query_by_label("Run Python too").is_some());
    h.get_by_label("Run").click();
    wait_idle(&mut h);
    let recs = h.state().history_records();
    assert_eq!(recs.len(), 2, "ours and the Python record");
    let py = &recs[1];
    assert_eq!(py.tool, "python");
    assert_eq!(py.runs[0].agrees_with_astroperf, None);
    assert!(py.runs[0]
        .agreement
        .as_deref()
        .is_some_and(|a| a.contains("no result value in common")));
    h.get_by_label("History").click();
    h.run_steps(3);
    assert!(h.query_by_label("py numpy ×1").is_some());
    h.get_by_label("Timing").click();
    h.run_steps(3);
    assert!(h
        .query_by_label_contains("gold bars: Python on the same input")
        .is_some());
    h.get_by_label("Flame graph").click();
    h.run_steps(3);
    assert!(h
        .query_by_label("Python, one call under cProfile on the same input:")
        .is_some());
    assert!(h.query_by_label_contains("numpy stub").is_some());
}

/// The Roofline tab names the first reason to doubt the ceilings in a warning line and
/// offers Remeasure, inside a 1280×720 lecture window too; plausible ceilings get no
/// warning. Nothing is measured: the app is given its machine (Remeasure is not pressed,
/// it would measure this one).
#[test]
fn the_roofline_warns_about_implausible_ceilings_and_offers_to_remeasure() {
    let roofline = |size: [f32; 2], lecture: bool| {
        Harness::builder().with_size(size).build_eframe(move |cc| {
            let settings = Settings {
                tab: Tab::Roofline,
                lecture,
                ..Default::default()
            };
            AstroApp::with_settings(&cc.egui_ctx, settings)
        })
    };
    // The window's size in points and in pixels (lecture mode zooms by 1.6).
    for (size, px, lecture) in [
        ([1400.0, 880.0], [1400.0, 880.0], false),
        ([800.0, 450.0], [1280.0, 720.0], true),
    ] {
        let mut h = roofline(size, lecture);
        h.state_mut()
            .set_machine(astroperf::bench::machine::Machine::example_busy());
        h.run_steps(3);
        let warning = h.get_by_label_contains(
            "⚠ The ceilings may be wrong: L2 read 200 GB/s, faster than L1 (58 GB/s)",
        );
        let text = warning.accesskit_node().value().unwrap_or_default();
        assert!(text.ends_with("· +2 more (hover)"), "{text}");
        let button = h.get_by_label("Remeasure");
        assert!(
            !button.accesskit_node().is_disabled(),
            "Remeasure is enabled when no run is going"
        );
        for r in [warning.rect(), button.rect()] {
            assert!(
                r.max.x <= px[0] && r.max.y <= px[1],
                "outside the {px:?} window: {r:?}"
            );
        }
        // Plausible ceilings: no warning, when they were measured, and still the button.
        h.state_mut()
            .set_machine(astroperf::bench::machine::Machine::example());
        h.run_steps(3);
        assert!(h.query_by_label_contains("may be wrong").is_none());
        assert!(h
            .query_by_label_contains("ceilings measured 1970-01-01 00:00 UTC, load not recorded")
            .is_some());
        assert!(h.query_by_label("Remeasure").is_some());
        // Remeasured right after a run: a load average of 1.9 from our own threads, but
        // others took 3% of the CPUs while it measured. No warning; both figures shown.
        use astroperf::bench::machine::{Load, Machine, Share};
        h.state_mut().set_machine(Machine {
            load: Some(Load {
                one_min: 1.9,
                cpus: 2,
                during: Some(Share {
                    others: 0.03,
                    steal: 0.0,
                }),
            }),
            ..Machine::example()
        });
        h.run_steps(3);
        assert!(h.query_by_label_contains("may be wrong").is_none());
        assert!(h
            .query_by_label_contains(
                "load average 1.90 on 2 CPUs; others took 3% of them while it measured"
            )
            .is_some());
        // The busy example's third reason is the share others took (on hover).
        h.state_mut().set_machine(Machine::example_busy());
        h.run_steps(3);
        assert!(h.query_by_label_contains("· +2 more (hover)").is_some());
    }
}
