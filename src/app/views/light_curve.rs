//! A light curve: points with error bars, the periodogram (click to fold at a peak) and
//! the curve folded at the best or the chosen period.

use super::{format_number, stride, ViewerState};
use crate::analyses::period_search;
use crate::app::theme::palette;
use crate::data::LightCurve;
use crate::engine::Output;
use egui::{Color32, RichText};
use egui_plot::{Line, Plot, Points, VLine};

/// Points with error bars, the periodogram (click to pick a period) and the fold.
pub(super) fn light_curve_ui(
    ui: &mut egui::Ui,
    st: &mut ViewerState,
    l: &LightCurve,
    out: Option<&Output>,
    line_w: f32,
) {
    let pg = out.and_then(|o| o.table_of(period_search::PERIODOGRAM));
    let best = out.and_then(|o| o.summary_f64(period_search::BEST_PERIOD));
    let period = st.fold_period.or(best);
    let h = ui.available_height();
    let rows = if pg.is_some() {
        3.0
    } else if period.is_some() {
        2.0
    } else {
        1.0
    };
    // Axis names and units as the file states them (sunspots: YEAR in yr, SUNACTIVITY).
    let ylabel = l.labels.value_axis(l.magnitudes);
    let unit = l.labels.time_unit_or_default();
    ui.horizontal(|ui| {
        ui.checkbox(&mut st.show_errors, "error bars");
        if let Some(p) = period {
            ui.label(RichText::new(format!("fold period {} {unit}", format_number(p))).strong());
        }
        if st.fold_period.is_some() && ui.button("back to best period").clicked() {
            st.fold_period = None;
        }
    });
    if let Some(o) = out {
        summary_line_ui(ui, o, unit);
    }
    let t: Vec<[f64; 2]> = stride(l.time.iter().zip(l.value.iter()).map(|(t, v)| [*t, *v]));
    // Magnitudes are drawn brighter-up, as astronomers read them.
    Plot::new("lc")
        .invert_y(l.magnitudes)
        .height(h / rows - 12.0)
        .x_axis_label(l.labels.time_axis())
        .y_axis_label(&ylabel)
        .show(ui, |p| {
            if st.show_errors {
                if let Some(e) = &l.error {
                    // Error bars as one segment each; capped so big curves stay fluid.
                    let step = l.time.len().div_ceil(3000).max(1);
                    for i in (0..l.time.len()).step_by(step) {
                        let (x, y, s) = (l.time[i], l.value[i], e[i]);
                        p.line(
                            Line::new("errors", vec![[x, y - s], [x, y + s]])
                                .color(Color32::from_gray(130))
                                .width(1.0),
                        );
                    }
                }
            }
            p.points(Points::new(ylabel.as_str(), t).radius(line_w + 0.5));
        });
    if let Some((cols, table)) = pg {
        periodogram_ui(ui, st, cols, table, period, unit, h / rows - 12.0, line_w);
    }
    if let Some(p) = period.filter(|p| *p > 0.0) {
        let time = l.time.as_slice().unwrap_or(&[]);
        let t0 = time.first().copied().unwrap_or(0.0);
        let phase = crate::kernels::phase::fold_phase(time, p, t0);
        let pts: Vec<[f64; 2]> = stride(
            phase
                .iter()
                .zip(l.value.iter())
                .flat_map(|(ph, v)| [[*ph, *v], [ph + 1.0, *v]])
                .collect::<Vec<_>>()
                .into_iter(),
        );
        Plot::new("folded")
            .invert_y(l.magnitudes)
            .x_axis_label("phase (two cycles)")
            .y_axis_label(&ylabel)
            .show(ui, |pl| {
                pl.points(
                    Points::new("folded", pts)
                        .radius(line_w + 0.5)
                        .color(palette(1)),
                );
            });
    }
}

/// The search's answer in words, in the file's time unit, and its warnings (an alias, a
/// peak above the Nyquist frequency, dropped points) where they cannot be missed.
fn summary_line_ui(ui: &mut egui::Ui, o: &Output, unit: &str) {
    let Some(best) = o.summary_f64(period_search::BEST_PERIOD) else {
        return;
    };
    let mut text = format!("best period {} {unit}", format_number(best));
    match o.summary.get("false_alarm_probability") {
        Some(serde_json::Value::Number(n)) => {
            let fap = n.as_f64().unwrap_or(f64::NAN);
            text.push_str(&format!(
                " · false-alarm probability {}",
                format_number(fap)
            ));
        }
        Some(serde_json::Value::String(s)) => {
            text.push_str(&format!(" · false-alarm probability {s}"));
        }
        _ => {}
    }
    if let Some(nyq) = o.summary_f64("nyquist_frequency") {
        text.push_str(&format!(
            " · regular sampling: searched up to its Nyquist frequency {}/{unit}",
            format_number(nyq)
        ));
    }
    ui.label(RichText::new(text).strong());
    let warnings = o
        .summary
        .get("warnings")
        .and_then(|w| w.as_array())
        .map_or(&[][..], |w| w.as_slice());
    for w in warnings.iter().filter_map(|w| w.as_str()) {
        ui.label(
            RichText::new(format!("Warning: {w}"))
                .color(ui.visuals().warn_fg_color)
                .strong(),
        );
    }
}

/// The periodogram, clicked to fold at a peak. A grid spanning more than two decades
/// (astropy's automatic grid reaches 5× the average Nyquist frequency: 0.27 /d next to
/// 250 /d on the generated curve) is drawn against log frequency, so the peak is not a
/// sliver at the left edge; peaks survive decimation (the highest point of each bucket).
#[allow(clippy::too_many_arguments)]
fn periodogram_ui(
    ui: &mut egui::Ui,
    st: &mut ViewerState,
    cols: &[String],
    table: &ndarray::Array2<f64>,
    period: Option<f64>,
    unit: &str,
    height: f32,
    line_w: f32,
) {
    let pos = |f: f64| f > 0.0 && f.is_finite();
    let (fmin, fmax) = table
        .column(0)
        .iter()
        .copied()
        .filter(|f| pos(*f))
        .fold((f64::INFINITY, 0.0f64), |(a, b), f| (a.min(f), b.max(f)));
    let log_f = fmax / fmin > 100.0;
    let x_of = move |f: f64| if log_f { f.log10() } else { f };
    let f_of = move |x: f64| if log_f { 10f64.powf(x) } else { x };
    let rows: Vec<[f64; 2]> = table
        .rows()
        .into_iter()
        .filter(|r| !log_f || pos(r[0]))
        .map(|r| [x_of(r[0]), r[1]])
        .collect();
    let xy = bucket_max(&rows, super::MAX_DRAWN);
    let unit_owned = unit.to_string();
    let mut plot = Plot::new("periodogram")
        .height(height)
        .x_axis_label(if log_f {
            format!("frequency (1/{unit}, log) — click to fold at a peak")
        } else {
            format!("frequency (1/{unit}) — click to fold at a peak")
        })
        .y_axis_label(cols.get(1).map_or("power", |s| s.as_str()))
        .label_formatter(move |_, p| {
            let f = f_of(p.x);
            format!(
                "frequency {} /{unit_owned}\nperiod {} {unit_owned}\npower {:.3}",
                format_number(f),
                format_number(1.0 / f),
                p.y
            )
        });
    if log_f {
        plot = plot.x_axis_formatter(crate::app::timing::log_axis);
    }
    let resp = plot.show(ui, |p| {
        p.line(Line::new("periodogram", xy).width(line_w).color(palette(0)));
        if let Some(pp) = period.filter(|pp| *pp > 0.0) {
            p.vline(
                VLine::new("fold frequency", x_of(1.0 / pp)).color(Color32::from_rgb(230, 60, 60)),
            );
        }
        p.pointer_coordinate()
    });
    if resp.response.clicked() {
        if let Some(c) = resp.inner {
            let f = f_of(c.x);
            if f > 0.0 {
                st.fold_period = Some(1.0 / f);
            }
        }
    }
}

/// At most about `max` points of a curve: the highest point of each run of consecutive
/// points, so narrow peaks are kept (striding would step over them).
fn bucket_max(xy: &[[f64; 2]], max: usize) -> Vec<[f64; 2]> {
    let step = xy.len().div_ceil(max.max(1)).max(1);
    xy.chunks(step)
        .filter_map(|c| c.iter().copied().max_by(|a, b| a[1].total_cmp(&b[1])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::bucket_max;

    #[test]
    fn decimation_keeps_a_one_point_peak() {
        let mut xy: Vec<[f64; 2]> = (0..10_000).map(|i| [i as f64, 0.0]).collect();
        xy[4_321][1] = 1.0;
        let kept = bucket_max(&xy, 100);
        assert!(kept.len() <= 100);
        assert!(kept.contains(&[4_321.0, 1.0]));
    }
}
