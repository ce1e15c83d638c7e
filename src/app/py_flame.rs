//! The Python reference's profile beside ours: the call tree cProfile measured for one of
//! its implementations, drawn as an icicle (the timed function on top at full width, what
//! it called beneath, each box as wide as its share of the time), so a student sees where
//! *their* language spent the time: `median_filter` inside scipy against our `continuum`
//! stage, or one opaque numba call.

use super::theme::python_color;
use crate::bench::python::{PyMethodProfile, PyNode, PyProfile};
use egui::{Align2, Color32, FontId, Pos2, Rect, RichText, Sense, Stroke};

/// The implementation shown first: the one whose tree says the most (the deepest), so an
/// opaque numba call is not what a lecture opens on.
pub fn default_pick(p: &PyProfile) -> usize {
    p.profiles
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.tree.as_ref().map(|t| (i, depth(t))))
        .max_by_key(|(i, d)| (*d, usize::MAX - i))
        .map_or(0, |(i, _)| i)
}

fn depth(n: &PyNode) -> usize {
    1 + n.children.iter().map(depth).max().unwrap_or(0)
}

/// A function's colour by the library its file lies in (builtins grey).
fn node_color(n: &PyNode) -> Color32 {
    let f = n.file.as_str();
    if f == "~" || f.is_empty() {
        Color32::from_gray(165)
    } else if f.contains("scipy") {
        Color32::from_rgb(214, 160, 70)
    } else if f.contains("astropy") {
        Color32::from_rgb(205, 130, 85)
    } else if f.contains("numba") {
        python_color("numba")
    } else if f.contains("numpy") {
        python_color("numpy")
    } else {
        python_color("python")
    }
}

/// The function's own name (cProfile's names carry the file and line apart).
fn short_name(n: &PyNode) -> &str {
    let s = n.name.as_str();
    s.split(" (").next().unwrap_or(s)
}

/// The tab's Python half: a row of implementations to pick from and the chosen one's tree.
pub fn python_flame_ui(ui: &mut egui::Ui, profile: &PyProfile, pick: &mut Option<usize>) {
    let chosen = pick.unwrap_or_else(|| default_pick(profile));
    let body = egui::TextStyle::Body.resolve(ui.style());
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Python, one call under cProfile on the same input:").strong());
        for (i, m) in profile.profiles.iter().enumerate() {
            let short = crate::bench::python::short_method(&m.method);
            let text = match &m.tree {
                Some(_) => format!("{short} {}", fmt_s(m.total_s)),
                None => format!("{short} (not profiled)"),
            };
            let r = ui.selectable_label(chosen == i, text);
            let r = match &m.skipped {
                Some(why) => r.on_hover_text(format!("{}\n{why}", m.method)),
                None => r.on_hover_text(&m.method),
            };
            if r.clicked() {
                *pick = Some(i);
            }
        }
    });
    match profile.profiles.get(chosen) {
        Some(PyMethodProfile {
            tree: Some(tree), ..
        }) => icicle_ui(ui, tree, &body),
        Some(m) => {
            ui.label(format!(
                "{} was not profiled: {}",
                m.method,
                m.skipped.as_deref().unwrap_or("no call tree came back")
            ));
        }
        None => {
            ui.label("The Python run returned no profile.");
        }
    }
}

fn fmt_s(s: f64) -> String {
    crate::bench::report::fmt_secs(s)
}

/// One box to draw: where and which node.
struct Placed<'a> {
    rect: Rect,
    node: &'a PyNode,
}

/// Lay the tree out: each child under its parent, as wide as its share of the parent's
/// time, widest first; rows below the area's height are left out (their time stays in the
/// boxes above).
fn place<'a>(node: &'a PyNode, rect: Rect, row_h: f32, bottom: f32, out: &mut Vec<Placed<'a>>) {
    out.push(Placed { rect, node });
    let top = rect.bottom() + 1.0;
    if top + row_h > bottom || node.total_s <= 0.0 {
        return;
    }
    let mut kids: Vec<&PyNode> = node.children.iter().collect();
    kids.sort_by(|a, b| b.total_s.total_cmp(&a.total_s));
    let scale = rect.width() as f64 / node.total_s;
    let mut x = rect.left();
    for k in kids {
        // A callee's time can exceed its caller's share where cProfile splits recursion.
        let w = (k.total_s.min(node.total_s) * scale) as f32;
        if w < 1.0 {
            continue;
        }
        let r = Rect::from_min_size(
            Pos2::new(x, top),
            egui::vec2(w.min(rect.right() - x), row_h),
        );
        place(k, r, row_h, bottom, out);
        x += w;
        if x >= rect.right() {
            break;
        }
    }
}

fn icicle_ui(ui: &mut egui::Ui, root: &PyNode, body: &FontId) {
    let size = egui::vec2(
        ui.available_width(),
        ui.available_height().max(body.size * 6.0),
    );
    let (rect, resp) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    let row_h = body.size * 1.6;
    let mut boxes = Vec::new();
    let top = Rect::from_min_size(rect.min, egui::vec2(rect.width(), row_h));
    place(root, top, row_h, rect.bottom(), &mut boxes);
    let char_w = body.size * 0.55;
    let bg = ui.visuals().extreme_bg_color;
    let mut hovered = None;
    for b in &boxes {
        painter.rect_filled(b.rect, 2.0, node_color(b.node).gamma_multiply(0.9));
        painter.rect_stroke(b.rect, 2.0, Stroke::new(1.0, bg), egui::StrokeKind::Inside);
        let name = short_name(b.node);
        let pct = 100.0 * b.node.total_s / root.total_s.max(1e-300);
        let full = format!("{name} {pct:.0}%");
        let fits = |t: &str| (t.chars().count() as f32 + 1.0) * char_w < b.rect.width();
        // The whole label, else the name, else as much of the name as fits.
        let room = (b.rect.width() / char_w - 1.0).max(0.0) as usize;
        let text = if fits(&full) {
            Some(full)
        } else if fits(name) {
            Some(name.to_string())
        } else if room >= 4 {
            Some(
                name.chars()
                    .take(room - 1)
                    .chain(std::iter::once('…'))
                    .collect(),
            )
        } else {
            None
        };
        if let Some(t) = text {
            painter.text(
                Pos2::new(b.rect.left() + char_w * 0.5, b.rect.center().y),
                Align2::LEFT_CENTER,
                t,
                body.clone(),
                Color32::BLACK,
            );
        }
        if resp.hover_pos().is_some_and(|p| b.rect.contains(p)) {
            hovered = Some(b.node);
        }
    }
    if let Some(n) = hovered {
        resp.on_hover_ui_at_pointer(|ui| {
            ui.label(RichText::new(&n.name).strong());
            if !n.file.is_empty() && n.file != "~" {
                ui.label(format!("{}:{}", n.file, n.line));
            }
            ui.label(format!(
                "{} in this call path ({:.1}% of the call) · {} in itself · {} call(s)",
                fmt_s(n.total_s),
                100.0 * n.total_s / root.total_s.max(1e-300),
                fmt_s(n.self_s),
                n.calls
            ));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, file: &str, total: f64, children: Vec<PyNode>) -> PyNode {
        PyNode {
            name: name.into(),
            file: file.into(),
            line: 1,
            total_s: total,
            self_s: total - children.iter().map(|c| c.total_s).sum::<f64>(),
            calls: 1,
            children,
        }
    }

    #[test]
    fn children_are_as_wide_as_their_share_and_rows_stop_at_the_bottom() {
        let tree = node(
            "fold",
            "reference_bench.py",
            1.0,
            vec![
                node(
                    "argsort",
                    "numpy/core",
                    0.75,
                    vec![node("sort", "~", 0.5, vec![])],
                ),
                node("take", "numpy/core", 0.25, vec![]),
            ],
        );
        let mut out = Vec::new();
        let top = Rect::from_min_size(Pos2::ZERO, egui::vec2(400.0, 10.0));
        place(&tree, top, 10.0, 1000.0, &mut out);
        assert_eq!(out.len(), 4);
        let w = |n: &str| {
            out.iter()
                .find(|b| b.node.name == n)
                .map(|b| b.rect.width())
        };
        assert_eq!(w("argsort"), Some(300.0));
        assert_eq!(w("take"), Some(100.0));
        assert_eq!(w("sort"), Some(200.0));
        // Only two rows fit: the grandchild is left out.
        let mut cut = Vec::new();
        place(&tree, top, 10.0, 25.0, &mut cut);
        assert_eq!(cut.len(), 3);
        let p = PyProfile {
            analysis: "x".into(),
            profiles: vec![
                PyMethodProfile {
                    variant: "parallel".into(),
                    method: "numba".into(),
                    total_s: 1.0,
                    tree: Some(node("k", "x", 1.0, vec![])),
                    skipped: None,
                },
                PyMethodProfile {
                    variant: "vectorized".into(),
                    method: "numpy".into(),
                    total_s: 1.0,
                    tree: Some(tree),
                    skipped: None,
                },
            ],
        };
        assert_eq!(default_pick(&p), 1, "the deepest tree is shown first");
    }
}
