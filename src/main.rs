//! The `astroperf` command: no subcommand opens the GUI; `list`, `info`, `run` and
//! `bench` drive the same engine headless ([`astroperf::cli`]). This file only parses the
//! arguments, dispatches and maps the outcome to an exit code.

use astroperf::cli::gui::GuiRequest;
use astroperf::cli::{self, Cli};
use astroperf::Result;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    astroperf::memory::tune_allocator();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli::execute(cli.command, gui) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("astroperf: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

#[cfg(feature = "gui")]
fn gui(request: GuiRequest) -> Result<u8> {
    astroperf::app::run_gui(request)
}

/// A headless build (`--no-default-features`) has no desktop app.
#[cfg(not(feature = "gui"))]
fn gui(_request: GuiRequest) -> Result<u8> {
    eprintln!("astroperf: this build has no GUI (built without the `gui` feature); use list, info, run or bench");
    Ok(2)
}
