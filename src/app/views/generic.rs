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
            let text = match v {
                serde_json::Value::Number(n) => n.as_f64().map_or(n.to_string(), |f| {
                    if f.fract() == 0.0 && f.abs() < 1e15 {
                        format!("{f:.0}")
                    } else {
                        format!("{f:.6}")
                    }
                }),
                serde_json::Value::Array(a) if a.len() > 8 => format!("[{} values]", a.len()),
                other => other.to_string(),
            };
            ui.label(text);
            ui.end_row();
        }
    });
}
