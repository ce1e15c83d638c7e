//! Small controls the panels share: the editor of one typed parameter, and byte counts
//! for people.

use crate::engine::{ParamKind, ParamSpec, ParamValue};

/// The editor of one parameter built from its spec, showing `v` (None = "auto" where the
/// parameter has no default); returns the value it now holds. A value outside the range is
/// kept as typed, never clamped, and a message beside the field says what is allowed (the
/// app then refuses to run). `salt` keeps the ids of different analyses' editors apart.
pub fn param_editor(
    ui: &mut egui::Ui,
    s: &ParamSpec,
    v: Option<ParamValue>,
    salt: &str,
) -> Option<ParamValue> {
    match (&s.kind, v) {
        (ParamKind::Float { min, max }, v) => {
            let mut auto = v.is_none();
            let mut x = match v {
                Some(ParamValue::Float(x)) => x,
                _ => min.max(0.0).min(*max),
            };
            ui.horizontal(|ui| {
                if s.default.is_none() {
                    ui.checkbox(&mut auto, "auto");
                }
                if !auto {
                    let speed = ((max - min).abs() / 1000.0).clamp(1e-6, 10.0);
                    ui.add(egui::DragValue::new(&mut x).speed(speed))
                        .on_hover_text(s.help);
                    refused_ui(ui, s, ParamValue::Float(x));
                }
            });
            (!auto).then_some(ParamValue::Float(x))
        }
        (ParamKind::Int { min, max }, v) => {
            let mut auto = v.is_none();
            let mut x = match v {
                Some(ParamValue::Int(x)) => x,
                _ => (*min).max(0).min(*max),
            };
            ui.horizontal(|ui| {
                if s.default.is_none() {
                    ui.checkbox(&mut auto, "auto");
                }
                if !auto {
                    ui.add(egui::DragValue::new(&mut x)).on_hover_text(s.help);
                    refused_ui(ui, s, ParamValue::Int(x));
                }
            });
            (!auto).then_some(ParamValue::Int(x))
        }
        (ParamKind::Choice(opts), v) => {
            let mut sel = match v {
                Some(ParamValue::Text(t)) => t,
                _ => opts.first().map(|o| o.to_string()).unwrap_or_default(),
            };
            egui::ComboBox::from_id_salt((salt, s.name))
                .selected_text(&sel)
                .show_ui(ui, |ui| {
                    for o in opts.iter() {
                        ui.selectable_value(&mut sel, o.to_string(), *o);
                    }
                });
            Some(ParamValue::Text(sel))
        }
        (ParamKind::Bool, v) => {
            let mut b = matches!(v, Some(ParamValue::Bool(true)));
            ui.checkbox(&mut b, "");
            Some(ParamValue::Bool(b))
        }
    }
}

/// Beside a field whose value the spec refuses: what it allows, in red.
fn refused_ui(ui: &mut egui::Ui, s: &ParamSpec, v: ParamValue) {
    if s.check(v).is_err() {
        ui.colored_label(
            egui::Color32::from_rgb(235, 90, 70),
            format!("not allowed: {}", s.allowed()),
        );
    }
}

pub fn human_bytes(b: usize) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b} B")
    }
}
