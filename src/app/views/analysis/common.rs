//! What several result views share: a histogram (bars that name their bin and count on
//! hover), a cache for what is too costly to recompute every frame (a histogram of
//! millions of distances), the headline above a view and a side-by-side split.

use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart};
use std::hash::Hash;
use std::sync::Arc;

/// Counts of values in equal-width bins over `[lo, hi]`; values outside (and NaN) are
/// not counted.
#[derive(Clone, Debug)]
pub(super) struct Histogram {
    pub lo: f64,
    pub width: f64,
    pub counts: Vec<u64>,
}

impl Histogram {
    pub fn new(values: impl Iterator<Item = f64>, lo: f64, hi: f64, bins: usize) -> Self {
        let bins = bins.max(1);
        let width = if hi > lo {
            (hi - lo) / bins as f64
        } else {
            1.0
        };
        let mut counts = vec![0u64; bins];
        for v in values {
            if v >= lo && v <= hi {
                let k = (((v - lo) / width) as usize).min(bins - 1);
                counts[k] += 1;
            }
        }
        Histogram { lo, width, counts }
    }

    /// The left edge of bin `k`.
    pub fn edge(&self, k: usize) -> f64 {
        self.lo + k as f64 * self.width
    }

    /// The bars, named `name` in the legend; hovering one shows its range (in `unit`)
    /// and how many `what` it holds.
    pub fn chart(&self, name: &str, unit: &str, what: &str, color: Color32) -> BarChart {
        let bars = self
            .counts
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                let (a, b) = (self.edge(k), self.edge(k + 1));
                Bar::new(0.5 * (a + b), c as f64)
                    .width(self.width)
                    .name(format!("{} … {} {unit}", num(a), num(b)))
            })
            .collect();
        let what = what.to_string();
        BarChart::new(name, bars)
            .color(color)
            .element_formatter(Box::new(move |bar, _| {
                format!("{}\n{:.0} {what}", bar.name, bar.value)
            }))
    }
}

/// A number with about four significant digits, without a long tail of zeros.
pub(super) fn num(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.3e}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// `compute()` once per `key` (e.g. the address and length of the artifact it is
/// computed from): kept in egui's temporary memory under `salt`, so a view redrawn every
/// frame bins millions of values only when the result changes.
pub(super) fn cached<T: Send + Sync + 'static>(
    ui: &egui::Ui,
    salt: &str,
    key: impl Hash,
    compute: impl FnOnce() -> T,
) -> Arc<T> {
    let id = egui::Id::new((salt, "result-view-cache"));
    let key = egui::Id::new(key);
    let hit = ui.ctx().memory_mut(|m| {
        m.data
            .get_temp::<(egui::Id, Arc<T>)>(id)
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
    });
    hit.unwrap_or_else(|| {
        let v = Arc::new(compute());
        ui.ctx()
            .memory_mut(|m| m.data.insert_temp(id, (key, Arc::clone(&v))));
        v
    })
}

/// The address of a slice, for cache keys: a new run's output is a new allocation.
pub(super) fn addr<T>(v: &[T]) -> (usize, usize) {
    (v.as_ptr() as usize, v.len())
}

/// The line above a view saying what it shows, in heading size.
pub(super) fn headline(ui: &mut egui::Ui, text: impl Into<String>) {
    ui.label(RichText::new(text).heading());
}

/// A secondary line (how to read or use the view), in body size.
pub(super) fn note(ui: &mut egui::Ui, text: impl Into<String>) {
    ui.label(RichText::new(text).weak());
}

/// Two panes side by side filling the remaining height, the left one `frac` of the
/// width.
pub(super) fn split(
    ui: &mut egui::Ui,
    frac: f32,
    left: impl FnOnce(&mut egui::Ui),
    right: impl FnOnce(&mut egui::Ui),
) {
    let size = ui.available_size();
    let gap = ui.spacing().item_spacing.x;
    let w_left = ((size.x - gap) * frac).max(50.0);
    let w_right = (size.x - gap - w_left).max(50.0);
    ui.horizontal_top(|ui| {
        pane(ui, egui::vec2(w_left, size.y), left);
        pane(ui, egui::vec2(w_right, size.y), right);
    });
}

/// A top-down pane of exactly `size`.
fn pane(ui: &mut egui::Ui, size: egui::Vec2, add: impl FnOnce(&mut egui::Ui)) {
    ui.allocate_ui_with_layout(size, egui::Layout::top_down(egui::Align::Min), |ui| {
        ui.set_min_size(size);
        add(ui);
    });
}

/// The smallest and largest value (infinities when empty).
pub(super) fn span(v: &ndarray::Array1<f64>) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// A hover label's first line: the series' name and a line break, or nothing for an
/// unnamed series (egui_plot passes "" where the pointer is on no series).
pub(super) fn series_line(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!("{name}\n")
    }
}

/// A string of decimal digits with commas between groups of three (12,345,678).
pub(super) fn group_digits(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count with commas between groups of three digits.
pub(super) fn grouped(n: u64) -> String {
    group_digits(&n.to_string())
}

/// One entry of a legend written above a plot: its text in the series' colour, kept on
/// one line (a wrapping row breaks between entries, not inside one).
pub(super) fn key(ui: &mut egui::Ui, color: Color32, text: &str) {
    ui.label(
        RichText::new(text.replace(' ', "\u{a0}"))
            .color(color)
            .strong(),
    );
}
