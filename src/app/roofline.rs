//! The roofline: this machine's ceilings (peak FLOP/s flat on top, each memory level's
//! bandwidth as a diagonal, log–log) with every variant's stages as points at their
//! arithmetic intensity and achieved FLOP/s, and arrows naive → vectorized → parallel per
//! stage, so a lecture sees how far each step moved a stage and how far it still is from
//! the roof above it.

use super::theme::variant_color;
use crate::bench::machine::Machine;
use crate::bench::roofline::StagePoint;
use crate::engine::Variant;
use egui::{Color32, RichText};
use egui_plot::{Arrows, Legend, Line, Plot, PlotPoints, Points, Text};

fn log_tick(m: egui_plot::GridMark, _r: &std::ops::RangeInclusive<f64>) -> String {
    if (m.value - m.value.round()).abs() > 1e-6 {
        return String::new();
    }
    let v = 10f64.powf(m.value);
    if (1e-2..1e4).contains(&v) {
        format!("{v}")
    } else {
        format!("{v:.0e}")
    }
}

/// The ceilings as (name, GB/s) diagonals, from the fastest level down.
fn diagonals(m: &Machine) -> [(&'static str, f64, Color32); 4] {
    let b = m.bandwidth_gbs;
    [
        ("L1", b.l1, Color32::from_rgb(150, 150, 150)),
        ("L2", b.l2, Color32::from_rgb(130, 130, 130)),
        ("L3", b.l3, Color32::from_rgb(110, 110, 110)),
        ("DRAM", b.dram, Color32::from_rgb(200, 120, 40)),
    ]
}

/// The roof: each memory level's bandwidth as a diagonal up to the peak, and the peak
/// FLOP/s of all cores (solid) and one core (dashed), over `x` (log10 flop/byte).
fn ceilings_ui(
    pl: &mut egui_plot::PlotUi<'_>,
    machine: &Machine,
    (x_lo, x_hi): (f64, f64),
    line_w: f32,
    text_color: Color32,
) {
    let peak = machine.peak_gflops.all_cores.max(1e-3);
    let steps = 64;
    let xs: Vec<f64> = (0..=steps)
        .map(|i| x_lo + (x_hi - x_lo) * i as f64 / steps as f64)
        .collect();
    for (i, (name, gbs, color)) in diagonals(machine).into_iter().enumerate() {
        if gbs <= 0.0 {
            continue;
        }
        let pts: Vec<[f64; 2]> = xs
            .iter()
            .map(|&lx| [lx, (10f64.powf(lx) * gbs).min(peak).log10()])
            .collect();
        let label = format!("{name} {gbs:.0} GB/s");
        // Unnamed, so out of the legend: the text beside the line names it, and the
        // legend keeps to the variants (at 1280×720 ten entries covered the points).
        pl.line(
            Line::new("", PlotPoints::from(pts))
                .color(color)
                .width(line_w),
        );
        // Name the diagonal where it is still below the roof, each a little lower
        // along its line than the faster one so close ceilings (L1, L2) stay legible.
        let lx = (peak / gbs).log10().min(x_hi) - 0.6 - 0.35 * i as f64;
        pl.text(
            Text::new(
                "",
                [lx, (10f64.powf(lx) * gbs).log10() + 0.15].into(),
                label,
            )
            .color(color)
            .anchor(egui::Align2::RIGHT_BOTTOM),
        );
    }
    // All cores solid, its name above the line; one core dashed, its name below, so the
    // two stay apart when they are close.
    for (name, g, style, anchor) in [
        (
            "peak, all cores",
            machine.peak_gflops.all_cores,
            egui_plot::LineStyle::Solid,
            egui::Align2::LEFT_BOTTOM,
        ),
        (
            "peak, one core",
            machine.peak_gflops.one_core,
            egui_plot::LineStyle::dashed_loose(),
            egui::Align2::LEFT_TOP,
        ),
    ] {
        let y = g.max(1e-6).log10();
        pl.line(
            Line::new("", PlotPoints::from(vec![[x_lo, y], [x_hi, y]]))
                .color(text_color)
                .width(line_w)
                .style(style),
        );
        let dy = if anchor == egui::Align2::LEFT_BOTTOM {
            0.04
        } else {
            -0.04
        };
        pl.text(
            Text::new(
                "",
                [x_lo + 0.1, y + dy].into(),
                format!("{name} {g:.1} GFLOP/s"),
            )
            .color(text_color)
            .anchor(anchor),
        );
    }
}

/// Draw the roofline for `points` under `machine`'s ceilings.
pub fn roofline_ui(ui: &mut egui::Ui, machine: &Machine, points: &[StagePoint], line_w: f32) {
    let finite: Vec<&StagePoint> = points
        .iter()
        .filter(|p| p.intensity > 0.0 && p.gflops > 0.0)
        .filter(|p| p.intensity.is_finite() && p.gflops.is_finite())
        .collect();
    ui.label(
        RichText::new(format!(
            "{} · {} cores · peak {:.1} GFLOP/s (1 core {:.1}) · DRAM {:.1} GB/s · L1 {:.0} GB/s — x: flops per byte moved, y: GFLOP/s, both log",
            machine.cpu,
            machine.cores,
            machine.peak_gflops.all_cores,
            machine.peak_gflops.one_core,
            machine.bandwidth_gbs.dram,
            machine.bandwidth_gbs.l1,
        ))
        .small(),
    );
    if finite.is_empty() {
        ui.label("No stage of this run does floating-point work to place on the roofline (its stages move data only); the Timing bars give their % of the bandwidth limit.");
    }
    let x_lo = finite
        .iter()
        .map(|p| p.intensity)
        .fold(0.01f64, f64::min)
        .log10()
        .floor()
        - 0.5;
    let x_hi = finite
        .iter()
        .map(|p| p.intensity)
        .fold(10.0f64, f64::max)
        .log10()
        .ceil()
        + 0.5;
    let text_color = ui.visuals().strong_text_color();
    Plot::new("roofline")
        // Bottom right, where a roofline has nothing (high intensity, low GFLOP/s): at the
        // top right it hid the compute-bound points at 1280×720.
        .legend(Legend::default().position(egui_plot::Corner::RightBottom))
        .x_axis_label("arithmetic intensity (flop/byte)")
        .y_axis_label("GFLOP/s")
        .x_axis_formatter(log_tick)
        .y_axis_formatter(log_tick)
        .allow_scroll(false)
        .label_formatter(|name, p| {
            let head = if name.is_empty() {
                String::new()
            } else {
                format!("{name}\n")
            };
            format!(
                "{head}{:.3} flop/byte\n{:.3} GFLOP/s",
                10f64.powf(p.x),
                10f64.powf(p.y)
            )
        })
        .show(ui, |pl| {
            ceilings_ui(pl, machine, (x_lo, x_hi), line_w, text_color);

            let xy = |p: &StagePoint| [p.intensity.log10(), p.gflops.log10()];
            for v in crate::engine::ALL_VARIANTS {
                let pts: Vec<[f64; 2]> = finite
                    .iter()
                    .filter(|p| p.variant == v)
                    .map(|p| xy(p))
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                pl.points(
                    Points::new(v.name(), pts)
                        .radius(4.0 + line_w)
                        .color(variant_color(v)),
                );
            }
            for p in &finite {
                if p.variant == Variant::Parallel
                    || finite.iter().all(|q| q.variant != Variant::Parallel)
                {
                    let [x, y] = xy(p);
                    pl.text(
                        Text::new(
                            "",
                            [x, y - 0.12].into(),
                            format!("{} {:.0}%", p.stage, p.pct_of_limit),
                        )
                        .color(text_color),
                    );
                }
            }
            // naive → vectorized → parallel, per stage.
            let mut from = Vec::new();
            let mut to = Vec::new();
            for pair in [
                (Variant::Naive, Variant::Vectorized),
                (Variant::Vectorized, Variant::Parallel),
            ] {
                for a in finite.iter().filter(|p| p.variant == pair.0) {
                    if let Some(b) = finite
                        .iter()
                        .find(|q| q.variant == pair.1 && q.stage == a.stage)
                    {
                        from.push(xy(a));
                        to.push(xy(b));
                    }
                }
            }
            if !from.is_empty() {
                pl.arrows(
                    Arrows::new("naive, then vectorized, then parallel", from, to)
                        .color(Color32::from_rgb(160, 160, 160)),
                );
            }
        });
}

/// Fill a run's per-stage bytes, flops and % of limit from its analysis' declarations, the
/// input it ran on and the parameters its record names (as `run --json` does).
pub fn annotate(r: &mut crate::bench::RunRecord, input: &crate::data::Dataset, machine: &Machine) {
    let Some(a) = crate::analyses::find(&r.analysis) else {
        return;
    };
    let mut params = crate::engine::Params::default();
    for spec in a.params() {
        let Some(v) = r.params.get(spec.name) else {
            continue;
        };
        if v.as_str() == Some("auto") {
            continue;
        }
        if let Ok(value) = serde_json::from_value::<crate::engine::ParamValue>(v.clone()) {
            // A value the record holds passed these checks when the run started.
            let _ = params.set(&spec, Some(value));
        }
    }
    crate::bench::roofline::annotate(r, a, input, &params, machine);
}

/// The "% of limit" a variant's Timing bar names: that of its longest stage with a
/// declared limit, with the stage's name.
pub fn variant_limit(v: &crate::bench::VariantRun) -> Option<(f64, &str)> {
    v.stages
        .iter()
        .filter_map(|s| s.pct_of_limit.map(|p| (s.median_s, p, s.name.as_str())))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        // Under 1% no ceiling binds the stage (e.g. a median filter, bound by its
        // comparisons, which count as no flops): naming a limit would mislead.
        .filter(|(_, p, _)| *p >= 1.0)
        .map(|(_, p, n)| (p, n))
}
