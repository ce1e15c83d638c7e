//! `astroperf bench`: the suite over every analysis (or `--only` some) at quick or chapter
//! sizes, with the memory bandwidth measured first; or `--export-inputs` for the Python
//! reference. The report itself is built in [`crate::bench::report`].

use super::{interruptible, BenchArgs};
use crate::bench::{self, bandwidth::Bandwidth, report, RunConfig, RunRecord};
use crate::engine::{self, Analysis, Control, Params};
use crate::{analyses, Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What every analysis of one suite run shares.
struct SuiteOptions {
    /// The chapter suite (anchor sizes and the chapter's parameters), else quick.
    chapter: bool,
    threads: usize,
    repeat: usize,
    naive_budget_s: f64,
    force: bool,
}

/// The records of a suite run and how it ended.
#[derive(Default)]
struct SuiteOutcome {
    records: Vec<RunRecord>,
    /// A variant disagreed or an analysis failed: exit 4.
    failed: bool,
    /// Ctrl-C stopped the suite: exit 130 after the report.
    interrupted: bool,
}

pub(super) fn bench(args: BenchArgs) -> Result<u8> {
    let chapter = parse_suite(&args.suite)?;
    let selected = select(args.only.as_deref())?;
    if !args.force {
        refuse_overwrites(&args, &selected)?;
    }
    if let Some(dir) = &args.export_inputs {
        return export_inputs(dir, &selected, chapter);
    }
    let compare = match &args.compare {
        Some(p) => bench::load_records(p)?,
        None => Vec::new(),
    };
    let opts = SuiteOptions {
        chapter,
        threads: args.threads.unwrap_or_else(bench::available_threads).max(1),
        repeat: args.repeat.max(1),
        naive_budget_s: args
            .naive_budget
            .unwrap_or(if chapter { 30.0 } else { 10.0 }),
        force: args.force,
    };
    if args.overhead {
        return overhead_table(&selected, &opts);
    }
    let bandwidth = (!args.no_bandwidth).then(measure_bandwidth);
    let header = report::suite_header(
        &args.suite,
        opts.threads,
        opts.repeat,
        opts.naive_budget_s,
        bandwidth.as_ref(),
    );
    let outcome = run_suite(&selected, &opts)?;
    let md = report::suite_markdown(&header, &outcome.records, bandwidth.as_ref(), &compare);
    if let Some(p) = &args.json {
        let s = serde_json::to_string_pretty(&outcome.records).unwrap_or_default();
        crate::fsutil::write_bytes(p, s.as_bytes())?;
    }
    if let Some(p) = &args.markdown {
        crate::fsutil::write_bytes(p, md.as_bytes())?;
    }
    print!("{md}");
    if outcome.interrupted {
        return Err(Error::Cancelled);
    }
    Ok(if outcome.failed { 4 } else { 0 })
}

/// `--overhead`: the instruments' cost per analysis and variant, as a Markdown table.
fn overhead_table(selected: &[&'static dyn Analysis], opts: &SuiteOptions) -> Result<u8> {
    let mut rows = Vec::new();
    for a in selected {
        eprint!("overhead {:<22} ... ", a.id());
        let _ = std::io::stderr().flush();
        let cfg = RunConfig {
            threads: opts.threads,
            repeat: opts.repeat,
            naive_budget_s: Some(opts.naive_budget_s),
            ..Default::default()
        };
        let params = bench_params(*a, opts.chapter)?;
        let size = suite_size(*a, opts.chapter);
        let loaded = bench::generated_input(*a, size, 1)?;
        engine::guard::check_cli(*a, &loaded.data, &params, &cfg, opts.force)?;
        let r = super::overhead::measure(*a, size, &params, &cfg)?;
        eprintln!("done");
        rows.extend(r);
    }
    print!("{}", super::overhead::markdown(&rows));
    Ok(0)
}

/// `--suite`: true for chapter, false for quick.
fn parse_suite(suite: &str) -> Result<bool> {
    match suite {
        "quick" => Ok(false),
        "chapter" => Ok(true),
        other => Err(Error::param(format!(
            "--suite '{other}' is not quick or chapter"
        ))),
    }
}

/// The analyses `--only` names (every one without it), in registry order.
fn select(only: Option<&str>) -> Result<Vec<&'static dyn Analysis>> {
    let only: Option<Vec<String>> =
        only.map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    if let Some(o) = &only {
        for id in o {
            if analyses::find(id).is_none() {
                return Err(Error::param(format!("--only: unknown analysis '{id}'")));
            }
        }
    }
    Ok(analyses::registry()
        .iter()
        .copied()
        .filter(|a| only.as_ref().is_none_or(|o| o.iter().any(|x| x == a.id())))
        .collect())
}

/// Refuse before any work when a file the run would write already exists.
fn refuse_overwrites(args: &BenchArgs, selected: &[&'static dyn Analysis]) -> Result<()> {
    let mut files: Vec<PathBuf> = args
        .json
        .iter()
        .chain(args.markdown.iter())
        .cloned()
        .collect();
    if let Some(dir) = &args.export_inputs {
        files.push(dir.join("manifest.json"));
        files.extend(existing_exports(dir, selected));
    }
    crate::fsutil::refuse_existing(&files)
}

/// Files of a previous `--export-inputs` for these analyses in `dir` (`<id>.<key>.npy`).
fn existing_exports(dir: &Path, selected: &[&'static dyn Analysis]) -> Vec<PathBuf> {
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

/// The size an analysis runs at in this suite.
fn suite_size(a: &dyn Analysis, chapter: bool) -> usize {
    if chapter {
        a.default_size()
    } else {
        a.quick_size()
    }
}

/// Parameters of a bench run: the defaults, except the values every suite fixes
/// ([`Analysis::bench_params`]) and, in the chapter suite, the values the chapter's
/// workload fixes ([`Analysis::chapter_params`]).
fn bench_params(a: &dyn Analysis, chapter: bool) -> Result<Params> {
    let over = if chapter { a.chapter_params() } else { &[] };
    let given: Vec<(String, String)> = a
        .bench_params()
        .iter()
        .chain(over)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Params::resolve(&a.params(), &given)
}

/// `--export-inputs DIR`: every selected analysis' input as .npy plus manifest.json.
fn export_inputs(dir: &Path, selected: &[&'static dyn Analysis], chapter: bool) -> Result<u8> {
    let mut manifest = Vec::new();
    for a in selected {
        let size = suite_size(*a, chapter);
        eprintln!("export {:<22} {} {}", a.id(), size, a.size_unit());
        manifest.push(bench::export::export_input(
            dir,
            *a,
            size,
            1,
            &bench_params(*a, chapter)?,
        )?);
    }
    let p = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    crate::fsutil::write_bytes(&p, text.as_bytes())?;
    eprintln!("wrote {} inputs and {}", manifest.len(), p.display());
    Ok(0)
}

/// Measure the memory bandwidth the streaming kernels are compared with (256 MB arrays).
fn measure_bandwidth() -> Bandwidth {
    eprint!("measuring memory bandwidth ... ");
    let b = bench::bandwidth::measure(256);
    eprintln!("{}", b.progress_line());
    b
}

fn run_suite(selected: &[&'static dyn Analysis], opts: &SuiteOptions) -> Result<SuiteOutcome> {
    let mut outcome = SuiteOutcome::default();
    let control = interruptible();
    for a in selected {
        if control.is_cancelled() {
            outcome.interrupted = true;
            break;
        }
        bench_one(*a, opts, &control, &mut outcome)?;
        if outcome.interrupted {
            break;
        }
    }
    Ok(outcome)
}

/// Time one analysis of the suite at its suite size, its progress on stderr, its record
/// into `outcome`. A failed analysis is reported and the suite goes on; a refusal by the
/// guard or a cancel of the whole run ends it.
fn bench_one(
    a: &dyn Analysis,
    opts: &SuiteOptions,
    control: &Control,
    outcome: &mut SuiteOutcome,
) -> Result<()> {
    let size = suite_size(a, opts.chapter);
    eprint!("bench {:<22} {size} {} ... ", a.id(), a.size_unit());
    let _ = std::io::stderr().flush();
    let loaded = bench::generated_input(a, size, 1)?;
    let params = bench_params(a, opts.chapter)?;
    let cfg = RunConfig {
        threads: opts.threads,
        repeat: opts.repeat,
        naive_budget_s: Some(opts.naive_budget_s),
        ..Default::default()
    };
    if let Err(e) = engine::guard::check_cli(a, &loaded.data, &params, &cfg, opts.force) {
        eprintln!();
        return Err(e);
    }
    match bench::run_partial(a, &loaded.data, &loaded.info, &params, &cfg, control) {
        Err(Error::Cancelled) => return Err(Error::Cancelled),
        // Ctrl-C: report what finished, the stopped run marked cancelled, then exit 130.
        Ok((r, _)) if r.is_cancelled() => {
            eprintln!("cancelled");
            outcome.records.push(r);
            outcome.interrupted = true;
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
            outcome.failed |= !r.agree;
            outcome.records.push(r);
        }
        Err(e) => {
            eprintln!("failed: {e}");
            outcome.failed = true;
        }
    }
    Ok(())
}
