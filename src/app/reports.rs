//! Reports out of the app: run history as CSV/JSON/Markdown, window screenshots as PNG,
//! puffin captures as .puffin files.

use crate::bench::{report, RunRecord};
use std::path::Path;

pub fn export_history(path: &Path, records: &[RunRecord]) -> Result<(), String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = match ext.as_str() {
        "json" => serde_json::to_string_pretty(records).map_err(|e| e.to_string())?,
        "md" | "markdown" => report::markdown(records),
        _ => report::csv(records),
    };
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn save_png(path: &Path, img: &egui::ColorImage) -> Result<(), String> {
    let [w, h] = img.size;
    let bytes: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_array()).collect();
    image::save_buffer(
        path,
        &bytes,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgba8,
    )
    .map_err(|e| format!("{}: {e}", path.display()))
}

/// Write the profiler's frames (what the flame graph shows) to a .puffin file.
pub fn save_profile(path: &Path, view: &puffin::FrameView) -> Result<(), String> {
    let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    view.write(&mut f)
        .map_err(|e| format!("{}: cannot write the profile: {e}", path.display()))
}

pub fn load_profile(path: &Path) -> Result<puffin::FrameView, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    puffin::FrameView::read(&mut f)
        .map_err(|e| format!("{}: not a puffin capture ({e})", path.display()))
}
