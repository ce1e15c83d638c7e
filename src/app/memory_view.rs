//! The Memory tab: how much heap each variant's call held at its peak and how many
//! allocations it made (from the counting allocator), beside the process's resident-set
//! high-water mark while the variant ran, and the same per stage in the table below.

use super::theme::variant_color;
use super::widgets::human_bytes;
use crate::bench::RunRecord;
use egui::RichText;
use egui_plot::{Bar, BarChart, Legend, Plot, PlotPoint, Text};

pub(super) fn memory_ui(ui: &mut egui::Ui, r: &RunRecord) {
    ui.label(
        RichText::new(
            "bars: the most heap one call held at once above what was live before it (every thread counted); RSS: the process's resident-set high-water mark while the variant ran (input, app and allocator slack included, so it is not to scale with the bars)",
        )
        .small(),
    );
    let max = r
        .runs
        .iter()
        .map(|v| v.peak_bytes as f64)
        .fold(1.0, f64::max);
    let (scale, unit) = if max >= 1e9 {
        (1e-9, "GB")
    } else if max >= 1e6 {
        (1e-6, "MB")
    } else {
        (1e-3, "kB")
    };
    let text = ui.visuals().strong_text_color();
    let h = (ui.available_height() * 0.55).max(160.0);
    Plot::new(("memory_bars", r.analysis.as_str()))
        .legend(Legend::default())
        .height(h)
        .allow_scroll(false)
        .show_x(false)
        .show_axes([false, true])
        .y_axis_label(format!("bytes ({unit})"))
        .show(ui, |p| {
            for (i, v) in r.runs.iter().enumerate() {
                let x = i as f64;
                let color = variant_color(v.variant);
                let peak = v.peak_bytes as f64 * scale;
                p.bar_chart(
                    BarChart::new(v.variant.name(), vec![Bar::new(x, peak).width(0.5)])
                        .color(color),
                );
                p.text(
                    Text::new(
                        "",
                        PlotPoint::new(x, peak),
                        format!(
                            "{}\n{} peak\n{} allocs/call{}",
                            v.variant,
                            human_bytes(v.peak_bytes as usize),
                            v.allocs,
                            v.rss_peak_bytes.map_or_else(String::new, |b| format!(
                                "\nRSS {}",
                                human_bytes(b as usize)
                            ))
                        ),
                    )
                    .anchor(egui::Align2::CENTER_BOTTOM)
                    .color(text),
                );
            }
        });
    super::timing::stage_table_ui(ui, r);
}
