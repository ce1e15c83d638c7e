//! What any analysis returns, whatever its input: 1-D arrays as lines, tables as x–y lines
//! with their first rows, other arrays by type and shape; and the run's summary as a grid.

use super::stride;
use crate::app::theme::palette;
use crate::engine::{ArtifactData, Output};
use egui::RichText;
use egui_plot::{Legend, Line, Plot};

/// Any output: 1-D arrays as lines, tables as x–y lines over their first column, and
/// the first rows of each table.
pub fn generic_ui(ui: &mut egui::Ui, out: Option<&Output>, line_w: f32) {
    let Some(o) = out else {
        ui.label("Run the analysis to see its result here.");
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        for a in &o.artifacts {
            match &a.data {
                ArtifactData::F64(x) if x.ndim() == 1 && x.len() > 1 => {
                    ui.label(RichText::new(&a.name).strong());
                    let pts: Vec<[f64; 2]> =
                        stride(x.iter().enumerate().map(|(i, v)| [i as f64, *v]));
                    Plot::new(format!("art-{}", a.name))
                        .height(180.0)
                        .show(ui, |p| {
                            p.line(Line::new(a.name.clone(), pts).width(line_w));
                        });
                }
                ArtifactData::Table { columns, rows } if rows.nrows() > 1 && columns.len() >= 2 => {
                    ui.label(RichText::new(format!("{} ({} rows)", a.name, rows.nrows())).strong());
                    Plot::new(format!("art-{}", a.name))
                        .height(200.0)
                        .legend(Legend::default())
                        .show(ui, |p| {
                            for (k, name) in columns.iter().enumerate().skip(1).take(4) {
                                let pts: Vec<[f64; 2]> =
                                    stride(rows.rows().into_iter().map(|r| [r[0], r[k]]));
                                p.line(
                                    Line::new(format!("{name} vs {}", columns[0]), pts)
                                        .width(line_w)
                                        .color(palette(k)),
                                );
                            }
                        });
                    egui::CollapsingHeader::new(format!("first rows of {}", a.name)).show(
                        ui,
                        |ui| {
                            egui::Grid::new(format!("grid-{}", a.name))
                                .striped(true)
                                .show(ui, |ui| {
                                    for c in columns {
                                        ui.label(RichText::new(c).strong());
                                    }
                                    ui.end_row();
                                    for r in rows.rows().into_iter().take(50) {
                                        for v in r {
                                            ui.label(format!("{v:.6}"));
                                        }
                                        ui.end_row();
                                    }
                                });
                        },
                    );
                }
                other => {
                    let (kind, shape) = match other {
                        ArtifactData::F64(x) => ("f64", x.shape().to_vec()),
                        ArtifactData::I32(x) => ("int32", x.shape().to_vec()),
                        ArtifactData::I64(x) => ("int64", x.shape().to_vec()),
                        ArtifactData::Table { rows, .. } => ("table", rows.shape().to_vec()),
                    };
                    ui.label(format!("{}: {kind} {shape:?}", a.name));
                }
            }
        }
    });
}

/// The summary of a run as a two-column grid.
pub fn summary_ui(ui: &mut egui::Ui, summary: &serde_json::Map<String, serde_json::Value>) {
    egui::Grid::new("summary").striped(true).show(ui, |ui| {
        for (k, v) in summary {
            ui.label(RichText::new(k).strong());
            ui.label(summary_text(v));
            ui.end_row();
        }
    });
}

/// A summary value for people: numbers with six significant digits, short arrays of
/// numbers likewise, strings (and warnings) one per line, long arrays by their length.
pub fn summary_text(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Number(n) => n.as_f64().map_or(n.to_string(), format_number),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "none".to_string(),
        Value::Array(a) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Array(a) if a.len() > 8 => format!("[{} values]", a.len()),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(summary_text).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// A number for people: six significant digits (integers as integers, exponents for the
/// very large and very small), never the 15–17 digits of an f64's round trip.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let mag = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    if !(-4..15).contains(&mag) {
        return format!("{v:.5e}");
    }
    let decimals = (5 - mag).max(0) as usize;
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_six_significant_digits() {
        assert_eq!(format_number(12.0), "12");
        assert_eq!(format_number(1234.56789), "1234.57");
        assert_eq!(format_number(0.0123456789), "0.0123457");
        assert_eq!(format_number(1.5e-9), "1.50000e-9");
    }

    #[test]
    fn summaries_read_like_numbers_not_doubles() {
        let v = serde_json::json!([4920.658413168263, 5068.6213724274485]);
        assert_eq!(summary_text(&v), "[4920.66, 5068.62]");
        assert_eq!(
            summary_text(&serde_json::json!(0.012298167645510446)),
            "0.0122982"
        );
        assert_eq!(
            summary_text(&serde_json::json!(1.3849998230998554e-17)),
            "1.38500e-17"
        );
        assert_eq!(summary_text(&serde_json::json!("< 1e-300")), "< 1e-300");
        assert_eq!(summary_text(&serde_json::json!(["a", "b"])), "a\nb");
        assert_eq!(summary_text(&serde_json::json!([])), "none");
    }
}
