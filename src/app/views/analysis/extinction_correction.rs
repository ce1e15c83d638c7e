//! Extinction correction: the colour–magnitude diagram before and after, on the same
//! (linked) axes, brighter up. Stars the law corrects (colour ≥ 0) move up by
//! R_V·0.574·colour, blue stars (colour < 0) stay where they were, so the red side of
//! the diagram shears upwards.

use super::common::{headline, note, num, series_line, split};
use super::{ResultCtx, ResultView};
use crate::analyses::extinction_correction as ec;
use crate::app::theme::palette;
use crate::app::views::ViewerState;
use crate::data::Dataset;
use crate::engine::Analysis;
use egui::Color32;
use egui_plot::{Arrows, Legend, Plot, PlotPoints, Points};

pub struct ExtinctionCorrectionView;

/// Most stars drawn per diagram: more make a solid block, not a diagram.
const DRAWN: usize = 12_000;
/// Blue stars (colour < 0), which the law leaves uncorrected.
const BLUE: Color32 = Color32::from_rgb(70, 130, 235);
/// Where the extinction vector is drawn, in colour.
const ARROW_COLOR_INDEX: f64 = 1.5;

/// The stars drawn, split into the corrected ones and the blue ones, before and after.
struct Cmd {
    corrected_before: Vec<[f64; 2]>,
    corrected_after: Vec<[f64; 2]>,
    blue: Vec<[f64; 2]>,
}

impl Cmd {
    fn new(mag: &[f64], color: &[f64], after: &[f64]) -> Self {
        let n = mag.len().min(color.len()).min(after.len());
        let step = n.div_ceil(DRAWN).max(1);
        let mut cmd = Cmd {
            corrected_before: Vec::new(),
            corrected_after: Vec::new(),
            blue: Vec::new(),
        };
        for i in (0..n).step_by(step) {
            if after[i] == mag[i] {
                cmd.blue.push([color[i], mag[i]]);
            } else {
                cmd.corrected_before.push([color[i], mag[i]]);
                cmd.corrected_after.push([color[i], after[i]]);
            }
        }
        cmd
    }
}

impl ResultView for ExtinctionCorrectionView {
    fn analysis(&self) -> &'static dyn Analysis {
        &ec::ExtinctionCorrection
    }
    fn ui(&self, ui: &mut egui::Ui, _st: &mut ViewerState, cx: &ResultCtx<'_>) {
        let after = cx.out.f64_slice(ec::CORRECTED_MAG);
        let cols = match &cx.data.data {
            Dataset::Catalog(c) => c.mag.as_ref().zip(c.color.as_ref()),
            _ => None,
        };
        let (Some(after), Some((mag, color))) = (after, cols) else {
            ui.label("This run has no corrected magnitudes, or its catalog no colours.");
            return;
        };
        let (Some(mag), Some(color)) = (mag.as_slice(), color.as_slice()) else {
            ui.label("The catalog's columns are not contiguous.");
            return;
        };
        let r_v = cx.param_f64("r_v").unwrap_or(f64::NAN);
        let s = |k| cx.out.summary_f64(k).unwrap_or(f64::NAN);
        headline(
            ui,
            format!(
                "corrected = mag − R_V·{}·colour, R_V = {} · {:.0} stars corrected · {:.0} blue left as they were · mean shift {} mag",
                ec::AV_PER_COLOR,
                num(r_v),
                s(ec::CORRECTED_STARS),
                s(ec::BLUE_UNCORRECTED),
                num(s(ec::MEAN_EXTINCTION_MAG))
            ),
        );
        note(
            ui,
            format!(
                "{} of {} stars drawn; both diagrams share their axes (drag or scroll one, the other follows)",
                mag.len().min(DRAWN),
                mag.len()
            ),
        );
        let cmd = Cmd::new(mag, color, after);
        let shift = r_v * ec::AV_PER_COLOR * ARROW_COLOR_INDEX;
        split(
            ui,
            0.5,
            |ui| {
                cmd_ui(
                    ui,
                    "before",
                    &cmd.corrected_before,
                    &cmd.blue,
                    None,
                    cx.line_w,
                )
            },
            |ui| {
                cmd_ui(
                    ui,
                    "after",
                    &cmd.corrected_after,
                    &cmd.blue,
                    Some(shift),
                    cx.line_w,
                );
            },
        );
    }
}

/// One colour–magnitude diagram; `shift` draws the extinction vector at colour 1.5.
fn cmd_ui(
    ui: &mut egui::Ui,
    title: &str,
    corrected: &[[f64; 2]],
    blue: &[[f64; 2]],
    shift: Option<f64>,
    line_w: f32,
) {
    ui.label(egui::RichText::new(format!("{title} the correction")).strong());
    let r = 0.8 + line_w * 0.3;
    let (corrected_name, blue_name) = if shift.is_some() {
        ("corrected (colour ≥ 0)", "blue, uncorrected (colour < 0)")
    } else {
        (
            "to be corrected (colour ≥ 0)",
            "blue, left as is (colour < 0)",
        )
    };
    // The arrow starts at the faint end of the colour-1.5 column of the diagram.
    let arrow_from = corrected
        .iter()
        .map(|p| p[1])
        .fold(f64::NEG_INFINITY, f64::max);
    Plot::new(format!("extinction-cmd-{title}"))
        .legend(Legend::default())
        .invert_y(true)
        .link_axis("extinction-cmd", [true, true])
        .link_cursor("extinction-cmd", [true, true])
        .x_axis_label("colour (mag)")
        .y_axis_label("magnitude (brighter up)")
        .label_formatter(|name, p| {
            let who = series_line(name);
            format!("{who}colour {:.3}\nmag {:.3}", p.x, p.y)
        })
        .show(ui, |p| {
            p.points(
                Points::new(corrected_name, corrected.to_vec())
                    .radius(r)
                    .color(palette(1)),
            );
            p.points(Points::new(blue_name, blue.to_vec()).radius(r).color(BLUE));
            if let Some(s) = shift.filter(|s| s.is_finite() && arrow_from.is_finite()) {
                let from = [ARROW_COLOR_INDEX, arrow_from];
                let to = [ARROW_COLOR_INDEX, arrow_from - s];
                p.arrows(
                    Arrows::new(
                        format!("shift at colour {ARROW_COLOR_INDEX}: −{} mag", num(s)),
                        PlotPoints::from(vec![from]),
                        PlotPoints::from(vec![to]),
                    )
                    .color(Color32::from_rgb(230, 60, 60)),
                );
            }
        });
}
