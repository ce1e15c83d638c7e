//! The egui desktop app.

use std::path::PathBuf;

/// Open the GUI (not built yet: prints help so the default command does something real).
pub fn run_gui(_file: Option<PathBuf>) -> crate::Result<u8> {
    println!(
        "The astroperf GUI is not built yet; use `astroperf list`, `run`, `bench` or `--help`."
    );
    Ok(0)
}
