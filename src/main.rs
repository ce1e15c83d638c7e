//! The `astroperf` command: no subcommand opens the GUI; `list`, `info`, `run` and
//! `bench` drive the same engine headless.

use astroperf::analysis::{self, Control, Params, Variant};
use astroperf::bench::{self, report, RunConfig};
use astroperf::data::generate::parse_pairs;
use astroperf::data::{self, Loaded};
use astroperf::{Error, Result};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "astroperf", version, about = "A performance explorer for astronomical data", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Open the GUI, optionally with FILE loaded.
    Gui { file: Option<PathBuf> },
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
}

#[derive(clap::Args)]
struct RunArgs {
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
    /// Run even when the estimated time (> 60 s) or memory (> half of what is available)
    /// is beyond the guard's limits, and overwrite existing files in --out.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct BenchArgs {
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
    /// Overwrite existing --json/--markdown/--export-inputs files, and run an analysis
    /// even when its estimated time or memory is beyond the guard's limits.
    #[arg(long)]
    force: bool,
}

/// The cancel flag Ctrl-C sets: a run stops at its next check and exits with 130.
fn interruptible() -> Control {
    let c = Control::new();
    let h = c.clone();
    // If a handler is already installed (second call), the first one still cancels runs.
    let _ = ctrlc::set_handler(move || h.cancel());
    c
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        None => gui(None),
        Some(Command::Gui { file }) => gui(file),
        Some(Command::List { json }) => list(json),
        Some(Command::Info { file, json }) => info(&file, json),
        Some(Command::Run(args)) => run(args),
        Some(Command::Bench(args)) => bench_cmd(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("astroperf: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn list(json: bool) -> Result<u8> {
    if json {
        let v: Vec<serde_json::Value> = analysis::registry()
            .iter()
            .map(|a| {
                let params: Vec<serde_json::Value> = a
                    .params()
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "name": p.name,
                            "help": p.help,
                            "kind": format!("{:?}", p.kind),
                            "default": p.default.as_ref().map_or("auto".to_string(), |d| d.to_string()),
                        })
                    })
                    .collect();
                serde_json::json!({
                    "id": a.id(), "title": a.title(), "section": a.section(), "help": a.help(),
                    "input": a.input_kind(), "size_unit": a.size_unit(),
                    "default_size": a.default_size(), "variants": ["naive", "vectorized", "parallel"],
                    "params": params,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(0);
    }
    for a in analysis::registry() {
        println!(
            "{:<22} [{}] {} — input: {}",
            a.id(),
            a.section(),
            a.title(),
            a.input_kind()
        );
        println!("    {}", a.help());
        for p in a.params() {
            let d = p
                .default
                .as_ref()
                .map_or("auto".to_string(), |d| d.to_string());
            println!("    --param {}={}  {}  ({:?})", p.name, d, p.help, p.kind);
        }
    }
    println!("\ngenerators (--generate kind=NAME,key=value,...):");
    for (k, keys) in data::generate::GENERATORS {
        println!("    {k:<11} {keys}");
    }
    Ok(0)
}

#[cfg(feature = "gui")]
fn gui(file: Option<PathBuf>) -> Result<u8> {
    astroperf::app::run_gui(file)
}

/// A headless build (`--no-default-features`) has no desktop app.
#[cfg(not(feature = "gui"))]
fn gui(_file: Option<PathBuf>) -> Result<u8> {
    eprintln!("astroperf: this build has no GUI (built without the `gui` feature); use list, info, run or bench");
    Ok(2)
}

fn info(file: &Path, json: bool) -> Result<u8> {
    let l = data::load::load(file)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&l.info).unwrap_or_default()
        );
    } else {
        print_info(&l);
    }
    Ok(0)
}

fn print_info(l: &Loaded) {
    let i = &l.info;
    println!("source:   {}", i.source);
    println!("kind:     {}", i.kind);
    println!("origin:   {:?}", i.origin);
    println!("shape:    {:?}", i.shape);
    println!("dtype:    {}", i.dtype);
    println!("bytes:    {}", i.bytes);
    for (k, v) in &i.facts {
        println!("{:<9} {v}", format!("{k}:"));
    }
    for w in &i.warnings {
        println!("warning:  {w}");
    }
}

fn parse_variants(s: &str) -> Result<Vec<Variant>> {
    if s == "all" {
        return Ok(analysis::ALL_VARIANTS.to_vec());
    }
    s.split(',')
        .map(|v| {
            Variant::parse(v.trim()).ok_or_else(|| {
                Error::param(format!(
                    "--variant '{v}' is not naive, vectorized, parallel or all"
                ))
            })
        })
        .collect()
}

fn run(args: RunArgs) -> Result<u8> {
    let a = analysis::find(&args.analysis).ok_or_else(|| {
        let ids: Vec<&str> = analysis::registry().iter().map(|a| a.id()).collect();
        Error::param(format!(
            "unknown analysis '{}' (known: {})",
            args.analysis,
            ids.join(", ")
        ))
    })?;
    let given: Vec<(String, String)> = args
        .params
        .iter()
        .map(|p| parse_pairs(p))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let params = Params::resolve(&a.params(), &given)?;
    let variants = parse_variants(&args.variant)?;
    if args.repeat == 0 {
        return Err(Error::param("--repeat must be at least 1"));
    }
    let threads = args.threads.unwrap_or_else(bench::available_threads);
    if threads == 0 {
        return Err(Error::param("--threads must be at least 1"));
    }
    let loaded = match (&args.input, &args.generate) {
        (Some(p), _) => data::load::load(p)?,
        (None, Some(spec)) => data::generate::generate_from_spec(spec)?,
        (None, None) => {
            let seed = 1;
            bench::generated_input(a, a.default_size(), seed)?
        }
    };
    let loaded = adapt_input(a, loaded)?;
    let cfg = RunConfig {
        variants,
        threads,
        repeat: args.repeat,
        warmup: args.warmup,
        naive_budget_s: None,
    };
    // Before the analysis' own checks: its size caps would refuse with exit 3 and no
    // estimate.
    analysis::guard::check_cli(a, &loaded.data, &params, &cfg, args.force)?;
    let (record, outputs) = bench::run_partial(
        a,
        &loaded.data,
        &loaded.info,
        &params,
        &cfg,
        &interruptible(),
    )?;
    if let Some(c) = &record.cancelled {
        // What had finished, marked as cancelled: never a completed timing.
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&record).unwrap_or_default()
            );
        } else {
            if !record.runs.is_empty() {
                print!("{}", report::markdown(std::slice::from_ref(&record)));
            }
            println!("{}", report_cancelled(c));
        }
        return Err(Error::Cancelled);
    }
    if let Some(dir) = &args.out {
        let chosen = outputs
            .iter()
            .find(|(v, _)| *v == Variant::Parallel && cfg.variants.len() > 1)
            .or(outputs.last());
        if let Some((_, o)) = chosen {
            let files: Vec<PathBuf> = o
                .artifacts
                .iter()
                .map(|art| {
                    let ext = match art.data {
                        analysis::ArtifactData::Table { .. } => "csv",
                        _ => "npy",
                    };
                    dir.join(format!("{}.{ext}", art.name))
                })
                .collect();
            if !args.force {
                astroperf::fsutil::refuse_existing(&files)?;
            }
            o.write(dir)?;
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&record).unwrap_or_default()
        );
    } else {
        for w in &loaded.info.warnings {
            eprintln!("warning: {w}");
        }
        print!("{}", report::markdown(std::slice::from_ref(&record)));
        if let Some(last) = record.runs.last() {
            println!("\nsummary ({}):", last.variant);
            for (k, v) in &last.summary {
                println!("  {k}: {v}");
            }
        }
    }
    if !record.agree {
        eprintln!(
            "astroperf: variants disagree: {}",
            record.disagreement.as_deref().unwrap_or("?")
        );
        return Ok(4);
    }
    Ok(0)
}

/// One line for a cancelled run: where it stopped and the stages that had finished.
fn report_cancelled(c: &bench::CancelledRun) -> String {
    let stages: Vec<String> = c
        .finished_stages
        .iter()
        .map(|s| format!("{} {}", s.name, report::fmt_secs(s.median_s)))
        .collect();
    format!(
        "CANCELLED during {} ({} call {}) after {}; {} timed repeats had completed{}; finished stages of the stopped call: {}",
        c.variant,
        if c.warmup { "warm-up" } else { "timed" },
        c.call + 1,
        report::fmt_secs(c.elapsed_s),
        c.completed_times_s.len(),
        if c.completed_times_s.is_empty() {
            String::new()
        } else {
            let t: Vec<String> = c.completed_times_s.iter().map(|t| report::fmt_secs(*t)).collect();
            format!(" ({})", t.join(", "))
        },
        if stages.is_empty() {
            "none".to_string()
        } else {
            stages.join(", ")
        }
    )
}

/// Turn a loaded file into the input kind an analysis takes where the conversion is
/// unambiguous (e.g. a two-column table into points).
fn adapt_input(a: &dyn analysis::Analysis, l: Loaded) -> Result<Loaded> {
    data::adapt(a.input_kind(), l)
}

/// Files of a previous `--export-inputs` for these analyses in `dir` (`<id>.<key>.npy`).
fn existing_exports(dir: &Path, selected: &[&'static dyn analysis::Analysis]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| {
                n.ends_with(".npy")
                    && selected
                        .iter()
                        .any(|a| n.starts_with(&format!("{}.", a.id())))
            })
        })
        .collect();
    v.sort();
    v
}

/// Parameters of a bench run: the defaults, except, in the chapter suite, the values the
/// chapter's workload fixes ([`analysis::Analysis::chapter_params`]).
fn bench_params(a: &dyn analysis::Analysis, chapter: bool) -> Result<Params> {
    let over = if chapter { a.chapter_params() } else { &[] };
    let given: Vec<(String, String)> = over
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Params::resolve(&a.params(), &given)
}

fn bench_cmd(args: BenchArgs) -> Result<u8> {
    let chapter = match args.suite.as_str() {
        "quick" => false,
        "chapter" => true,
        other => {
            return Err(Error::param(format!(
                "--suite '{other}' is not quick or chapter"
            )))
        }
    };
    let only: Option<Vec<String>> = args
        .only
        .as_ref()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    if let Some(o) = &only {
        for id in o {
            if analysis::find(id).is_none() {
                return Err(Error::param(format!("--only: unknown analysis '{id}'")));
            }
        }
    }
    let selected: Vec<&'static dyn analysis::Analysis> = analysis::registry()
        .iter()
        .copied()
        .filter(|a| only.as_ref().is_none_or(|o| o.iter().any(|x| x == a.id())))
        .collect();
    if !args.force {
        let mut files: Vec<PathBuf> = args
            .json
            .iter()
            .chain(args.markdown.iter())
            .cloned()
            .collect();
        if let Some(dir) = &args.export_inputs {
            files.push(dir.join("manifest.json"));
            files.extend(existing_exports(dir, &selected));
        }
        astroperf::fsutil::refuse_existing(&files)?;
    }
    let size_of = |a: &dyn analysis::Analysis| {
        if chapter {
            a.default_size()
        } else {
            a.quick_size()
        }
    };
    if let Some(dir) = &args.export_inputs {
        let mut manifest = Vec::new();
        for a in &selected {
            eprintln!("export {:<22} {} {}", a.id(), size_of(*a), a.size_unit());
            manifest.push(bench::export::export_input(
                dir,
                *a,
                size_of(*a),
                1,
                &bench_params(*a, chapter)?,
            )?);
        }
        let p = dir.join("manifest.json");
        let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
        astroperf::fsutil::write_bytes(&p, text.as_bytes())?;
        eprintln!("wrote {} inputs and {}", manifest.len(), p.display());
        return Ok(0);
    }
    let compare = match &args.compare {
        Some(p) => bench::load_records(p)?,
        None => Vec::new(),
    };
    let threads = args.threads.unwrap_or_else(bench::available_threads).max(1);
    let budget = args
        .naive_budget
        .unwrap_or(if chapter { 30.0 } else { 10.0 });
    let mut header = format!(
        "astroperf bench, suite {}, {} threads, {} repeats (median), naive budget {budget:.0} s\n",
        args.suite,
        threads,
        args.repeat.max(1)
    );
    let mut limit = None;
    if !args.no_bandwidth {
        eprint!("measuring memory bandwidth ... ");
        let b = bench::bandwidth::measure(256);
        eprintln!(
            "copy {:.2} GB/s, read {:.2} GB/s (1 thread), {:.2} GB/s (all threads), triad {:.2} GB/s",
            b.copy_gbps, b.read_gbps, b.read_parallel_gbps, b.triad_parallel_gbps
        );
        header.push_str(&format!(
            "memory bandwidth (256 MB arrays): copy {:.2} GB/s copied, read {:.2} GB/s on 1 thread, {:.2} GB/s on {} threads, triad (2 reads + 1 write) {:.2} GB/s moved\n",
            b.copy_gbps, b.read_gbps, b.read_parallel_gbps, bench::available_threads(), b.triad_parallel_gbps
        ));
        limit = Some((b.read_parallel_gbps, b.triad_parallel_gbps));
    }
    let mut records = Vec::new();
    let mut failed = false;
    let mut interrupted = false;
    let control = interruptible();
    for a in &selected {
        if control.is_cancelled() {
            interrupted = true;
            break;
        }
        let size = size_of(*a);
        eprint!("bench {:<22} {size} {} ... ", a.id(), a.size_unit());
        let _ = std::io::stderr().flush();
        let loaded = bench::generated_input(*a, size, 1)?;
        let params = bench_params(*a, chapter)?;
        let cfg = RunConfig {
            threads,
            repeat: args.repeat.max(1),
            naive_budget_s: Some(budget),
            ..Default::default()
        };
        if let Err(e) = analysis::guard::check_cli(*a, &loaded.data, &params, &cfg, args.force) {
            eprintln!();
            return Err(e);
        }
        match bench::run_partial(*a, &loaded.data, &loaded.info, &params, &cfg, &control) {
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            // Ctrl-C: report what finished, the stopped run marked cancelled, then exit 130.
            Ok((r, _)) if r.is_cancelled() => {
                eprintln!("cancelled");
                records.push(r);
                interrupted = true;
                break;
            }
            Ok((r, _)) => {
                let best = r
                    .runs
                    .iter()
                    .map(|v| v.median_s)
                    .fold(f64::INFINITY, f64::min);
                eprintln!(
                    "best {}{}",
                    report::fmt_secs(best),
                    if r.agree { "" } else { "  VARIANTS DISAGREE" }
                );
                for s in &r.skipped {
                    eprintln!("    skipped {s}");
                }
                failed |= !r.agree;
                records.push(r);
            }
            Err(e) => {
                eprintln!("failed: {e}");
                failed = true;
            }
        }
    }
    let mut md = header;
    md.push('\n');
    md.push_str(&report::markdown(&records));
    let streaming: Vec<String> = records
        .iter()
        .flat_map(|r| r.runs.iter().map(move |v| (r, v)))
        .filter_map(|(r, v)| {
            v.gbps.map(|g| {
                let mb = g * v.median_s * 1e3;
                match limit {
                    Some((read, triad)) => format!(
                        "| {} | {} | {mb:.0} MB | {g:.2} GB/s | {:.0}% | {:.0}% |",
                        r.analysis,
                        v.variant,
                        100.0 * g / read,
                        100.0 * g / triad
                    ),
                    None => format!(
                        "| {} | {} | {mb:.0} MB | {g:.2} GB/s | – | – |",
                        r.analysis, v.variant
                    ),
                }
            })
        })
        .collect();
    if !streaming.is_empty() {
        // Both limits are DRAM figures (256 MB arrays); a kernel whose bytes per call fit
        // in the last-level cache can pass 100%, so the bytes are shown beside them.
        md.push_str("\nStreaming kernels against the measured memory bandwidth (all threads; DRAM-sized arrays, so a kernel whose traffic fits in the cache can exceed 100%):\n\n| analysis | variant | bytes moved per call | achieved | % of read | % of triad |\n|---|---|---|---|---|---|\n");
        md.push_str(&streaming.join("\n"));
        md.push('\n');
    }
    let cancelled: Vec<String> = records
        .iter()
        .filter_map(|r| {
            r.cancelled
                .as_ref()
                .map(|c| format!("- {}: {}", r.analysis, report_cancelled(c)))
        })
        .collect();
    if !cancelled.is_empty() {
        md.push_str("\nCancelled (Ctrl-C; not a timing):\n");
        md.push_str(&cancelled.join("\n"));
        md.push('\n');
    }
    let skipped: Vec<String> = records
        .iter()
        .flat_map(|r| {
            r.skipped
                .iter()
                .map(move |s| format!("- {}: {s}", r.analysis))
        })
        .collect();
    if !skipped.is_empty() {
        md.push_str("\nSkipped:\n");
        md.push_str(&skipped.join("\n"));
        md.push('\n');
    }
    if !compare.is_empty() {
        md.push_str("\nAgainst the Python reference (same inputs, same sitting):\n\n");
        md.push_str(&report::comparison(&records, &compare));
    }
    if let Some(p) = &args.json {
        let s = serde_json::to_string_pretty(&records).unwrap_or_default();
        astroperf::fsutil::write_bytes(p, s.as_bytes())?;
    }
    if let Some(p) = &args.markdown {
        astroperf::fsutil::write_bytes(p, md.as_bytes())?;
    }
    print!("{md}");
    if interrupted {
        return Err(Error::Cancelled);
    }
    Ok(if failed { 4 } else { 0 })
}
