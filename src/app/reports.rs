//! Reports out of the app: run history as CSV/JSON/Markdown, window screenshots as PNG,
//! puffin captures as .puffin files.

use crate::bench::{report, RunRecord};
use std::path::Path;

/// The run history in the format its extension names: `.json` (the `run --json` records
/// as an array), `.md`/`.markdown`, else CSV.
pub fn export_history(path: &Path, records: &[RunRecord]) -> Result<(), String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = match ext.as_str() {
        "json" => return write_history_json(path, records),
        "md" | "markdown" => report::markdown(records),
        _ => report::csv(records),
    };
    crate::fsutil::write_bytes(path, text.as_bytes()).map_err(|e| e.to_string())
}

/// The run history as a JSON array of `run --json` records, whatever the extension (what
/// `gui --history-json` writes).
pub fn write_history_json(path: &Path, records: &[RunRecord]) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(records).map_err(|e| e.to_string())?;
    crate::fsutil::write_bytes(path, &json).map_err(|e| e.to_string())
}

/// Write a screenshot as PNG (atomically: a temporary file renamed into place).
pub fn save_png(path: &Path, img: &egui::ColorImage) -> Result<(), String> {
    let [w, h] = img.size;
    let bytes: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_array()).collect();
    crate::fsutil::write_atomic(path, |f| {
        image::write_buffer_with_format(
            f,
            &bytes,
            w as u32,
            h as u32,
            image::ExtendedColorType::Rgba8,
            image::ImageFormat::Png,
        )
        .map_err(|e| std::io::Error::other(format!("cannot encode the PNG: {e}")))
    })
    .map_err(|e| e.to_string())
}

/// Write the profiler's frames (what the flame graph shows) to a .puffin file.
pub fn save_profile(path: &Path, view: &puffin::FrameView) -> Result<(), String> {
    crate::fsutil::write_atomic(path, |f| {
        view.write(f)
            .map_err(|e| std::io::Error::other(format!("cannot write the profile: {e}")))
    })
    .map_err(|e| e.to_string())
}

pub fn load_profile(path: &Path) -> Result<puffin::FrameView, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    puffin::FrameView::read(&mut f)
        .map_err(|e| format!("{}: not a puffin capture ({e})", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyses::pairwise_distances::PairwiseDistances;
    use crate::bench::{self, RunConfig};
    use crate::data::{Loaded, Origin};
    use crate::engine::{Analysis, Control, Params};

    fn record() -> RunRecord {
        let a = &PairwiseDistances;
        let d = a.generate(50, 1).expect("generate");
        let l = Loaded::new(d, "test", Origin::Generated);
        let cfg = RunConfig {
            repeat: 2,
            warmup: 0,
            threads: 1,
            ..Default::default()
        };
        bench::run(
            a,
            &l.data,
            &l.info,
            &Params::default(),
            &cfg,
            &Control::new(),
        )
        .expect("run")
        .0
    }

    #[test]
    fn history_exports_in_three_formats_and_json_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let recs = vec![record()];
        for ext in ["csv", "json", "md"] {
            let p = dir.path().join(format!("h.{ext}"));
            export_history(&p, &recs).expect("export");
            let text = std::fs::read_to_string(&p).expect("read");
            assert!(text.contains(PairwiseDistances.id()), "{ext}");
            assert!(text.contains("parallel"), "{ext}");
        }
        let back = bench::load_records(&dir.path().join("h.json")).expect("reload");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].runs.len(), 3);
        assert!(export_history(Path::new("/nonexistent-dir/x.csv"), &recs).is_err());
    }

    #[test]
    fn screenshots_are_written_as_png() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("s.png");
        let img = egui::ColorImage::new([4, 3], vec![egui::Color32::RED; 12]);
        save_png(&p, &img).expect("save");
        let back = image::open(&p).expect("decode").to_rgba8();
        assert_eq!(back.dimensions(), (4, 3));
        assert_eq!(back.get_pixel(0, 0).0, [255, 0, 0, 255]);
    }
}
