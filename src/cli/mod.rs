//! The command line: the clap arguments and one file per command (`list`, `info`, `run`,
//! `bench`, `machine`). The binary (`src/main.rs`) only parses, calls [`execute`] and maps the result
//! to an exit code; it also supplies the GUI launcher, because the desktop app is a sibling
//! layer the command line does not import.

mod bench;
pub mod gui;
mod info;
mod list;
mod machine;
mod overhead;
mod run;

use crate::engine::Control;
use crate::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "astroperf", version, about = "A performance explorer for astronomical data", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Open the GUI, optionally with FILE loaded; scriptable (run, tab, screenshot, exit).
    Gui(gui::GuiArgs),
    /// List the analyses, their input kinds, parameters and variants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show what the loader sees in FILE: kind, shape, dtype, bytes, header facts, warnings.
    Info {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Run one analysis on a file or generated data and time its variants.
    Run(RunArgs),
    /// Run the benchmark suite over every analysis.
    Bench(BenchArgs),
    /// Show this machine's ceilings: bandwidth at L1, L2, L3 and DRAM, peak GFLOP/s
    /// (measured once, about two seconds, then read from the cache).
    Machine {
        #[arg(long)]
        json: bool,
        /// Measure again and replace the cached measurement.
        #[arg(long)]
        remeasure: bool,
    },
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Analysis id (see `astroperf list`).
    analysis: String,
    /// Input file (FITS, CSV/TXT, NPY).
    #[arg(long, conflicts_with = "generate")]
    input: Option<PathBuf>,
    /// Generate the input: kind=spectrum,n=50000,seed=1 (kinds: see `astroperf list`).
    #[arg(long)]
    generate: Option<String>,
    /// naive, vectorized, parallel or all.
    #[arg(long, default_value = "all")]
    variant: String,
    /// Threads for the parallel variant (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed repeats per variant.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Untimed warm-up calls per variant (the first call's time is still reported).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Analysis parameter, repeatable: --param window=101.
    #[arg(long = "param")]
    params: Vec<String>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Write the full results (arrays .npy, tables .csv) into DIR.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the run's own profile (every variant's calls on every thread, stage scopes
    /// named) as a .puffin file, for the app's Load profile or puffin_viewer.
    #[arg(long, value_name = "FILE.puffin")]
    profile: Option<PathBuf>,
    /// Also run the chapter's Python (the bundled reference script: pure Python, numpy/scipy,
    /// numba serial and parallel) on the same input, profile it under cProfile, and check
    /// its results against ours. Without Python or numpy, ours still runs (one line says
    /// what is missing).
    #[arg(long)]
    python: bool,
    /// The Python interpreter for --python (default: $ASTROPERF_PYTHON, else python3).
    #[arg(long, value_name = "PATH", requires = "python")]
    python_exe: Option<PathBuf>,
    /// Seconds the Python run may take before it is stopped.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 600,
        requires = "python"
    )]
    python_timeout: u64,
    /// Run even when the estimated time (> 60 s) or memory (> half of what is available)
    /// is beyond the guard's limits, and overwrite existing files in --out.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    /// quick (small sizes, under a minute) or chapter (the anchor sizes).
    #[arg(long, default_value = "quick")]
    suite: String,
    /// Write the run records as a JSON array.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a Markdown table with speed-ups.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Threads for the parallel variants.
    #[arg(long)]
    threads: Option<usize>,
    /// Only these analyses (comma-separated ids).
    #[arg(long)]
    only: Option<String>,
    /// Timed repeats per variant.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Seconds the naive variant may take per analysis (all its calls); beyond that it is
    /// cancelled and reported as skipped. Default: 30 for chapter, 10 for quick.
    #[arg(long)]
    naive_budget: Option<f64>,
    /// Write every analysis' input as .npy plus manifest.json into DIR and exit (for the
    /// Python reference bench).
    #[arg(long)]
    export_inputs: Option<PathBuf>,
    /// Merge run records from another tool (the Python reference's JSON) into the report.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// Skip the memory-bandwidth measurement.
    #[arg(long)]
    no_bandwidth: bool,
    /// Measure what profiling and allocation counting cost: each analysis with both off
    /// and on, in alternating rounds, and print the difference per variant.
    #[arg(long)]
    overhead: bool,
    /// Overwrite existing --json/--markdown/--export-inputs files, and run an analysis
    /// even when its estimated time or memory is beyond the guard's limits.
    #[arg(long)]
    force: bool,
}

/// Run `command` (no command opens the GUI through `gui`) and return the exit code of a
/// run that did not fail; errors carry their own ([`crate::Error::exit_code`]).
pub fn execute(
    command: Option<Command>,
    gui: impl FnOnce(gui::GuiRequest) -> Result<u8>,
) -> Result<u8> {
    match command {
        None => gui(gui::GuiRequest::default()),
        Some(Command::Gui(args)) => gui(gui::request(args)?),
        Some(Command::List { json }) => list::list(json),
        Some(Command::Info { file, json }) => info::info(&file, json),
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Bench(args)) => bench::bench(args),
        Some(Command::Machine { json, remeasure }) => machine::machine(json, remeasure),
    }
}

/// The cancel flag Ctrl-C sets: a run stops at its next check and exits with 130.
fn interruptible() -> Control {
    let c = Control::new();
    let h = c.clone();
    // If a handler is already installed (second call), the first one still cancels runs.
    let _ = ctrlc::set_handler(move || h.cancel());
    c
}
