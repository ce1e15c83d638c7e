//! `astroperf run ID`: one analysis on a file or generated data, its variants timed, the
//! table (or JSON) printed and the results optionally written into `--out`.

use super::{interruptible, RunArgs};
use crate::bench::python::{self, PyEvent, PythonOptions, PythonOutcome};
use crate::bench::{self, report, Outputs, RunConfig, RunRecord};
use crate::data::generate::parse_pairs;
use crate::data::{self, Dataset, Loaded};
use crate::engine::{self, Analysis, Params, Variant};
use crate::{analyses, Error, Result};
use std::path::{Path, PathBuf};

pub(super) fn run(args: RunArgs) -> Result<u8> {
    let a = find_analysis(&args.analysis)?;
    let params = Params::resolve(&a.params(), &given_params(&args.params)?)?;
    let cfg = run_config(&args)?;
    let loaded = load_input(&args, a)?;
    // Before the analysis' own checks: its size caps would refuse with exit 3 and no
    // estimate.
    engine::guard::check_cli(a, &loaded.data, &params, &cfg, args.force)?;
    if let Some(p) = &args.profile {
        if !args.force {
            crate::fsutil::refuse_existing(std::slice::from_ref(p))?;
        }
        // Scopes cost a little, so they are on only when a profile is asked for.
        puffin::set_scopes_on(true);
        bench::profile::init_other_thread();
    }
    let control = interruptible();
    let (mut record, outputs) =
        bench::run_partial(a, &loaded.data, &loaded.info, &params, &cfg, &control)?;
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
            println!("{}", report::cancelled_line(c));
        }
        return Err(Error::Cancelled);
    }
    // Only the JSON shows the roofline fields: a table-only run measures nothing.
    let doubts = if args.json {
        annotate_roofline(&mut record, a, &loaded.data, &params)
    } else {
        Vec::new()
    };
    if let Some(dir) = &args.out {
        save_outputs(dir, &outputs, args.force)?;
    }
    if let Some(p) = &args.profile {
        save_profile(p, &record)?;
    }
    let python = args
        .python
        .then(|| run_python(&args, a, &loaded, &params, &record, &control));
    if matches!(python, Some(PythonOutcome::Cancelled)) {
        return Err(Error::Cancelled);
    }
    match &python {
        Some(py) => print_with_python(&record, &loaded, py, args.json),
        None => print_record(&record, &loaded, args.json),
    }
    // With the record they qualify: a run whose outputs were refused printed neither.
    for line in doubts {
        eprintln!("{line}");
    }
    if matches!(python, Some(PythonOutcome::Failed(_))) && record.agree {
        return Ok(5);
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

/// Each declared stage's bytes, flops and % of this machine's limit (the machine is
/// measured on the first run, about two seconds, and read from the cache after). The
/// percentages are only as good as the ceilings: returns the warning lines that say why
/// they may not be (see [`bench::plausibility`]), for stderr.
fn annotate_roofline(
    record: &mut RunRecord,
    a: &dyn Analysis,
    input: &Dataset,
    params: &Params,
) -> Vec<String> {
    if a.stage_work(input, params).is_empty() {
        return Vec::new();
    }
    let (machine, warning) = bench::machine::load_or_measure(false);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    bench::roofline::annotate(record, a, input, params, &machine);
    bench::plausibility::warning_lines(&machine.doubts(Some(record)))
}

fn find_analysis(id: &str) -> Result<&'static dyn Analysis> {
    analyses::find(id).ok_or_else(|| {
        let ids: Vec<&str> = analyses::registry().iter().map(|a| a.id()).collect();
        Error::param(format!(
            "unknown analysis '{id}' (known: {})",
            ids.join(", ")
        ))
    })
}

/// Every `--param k=v[,k=v]` as (key, value) pairs, in the order given.
pub(super) fn given_params(params: &[String]) -> Result<Vec<(String, String)>> {
    Ok(params
        .iter()
        .map(|p| parse_pairs(p))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

fn parse_variants(s: &str) -> Result<Vec<Variant>> {
    if s == "all" {
        return Ok(engine::ALL_VARIANTS.to_vec());
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

fn run_config(args: &RunArgs) -> Result<RunConfig> {
    let variants = parse_variants(&args.variant)?;
    if args.repeat == 0 {
        return Err(Error::param("--repeat must be at least 1"));
    }
    let threads = args.threads.unwrap_or_else(bench::available_threads);
    if threads == 0 {
        return Err(Error::param("--threads must be at least 1"));
    }
    Ok(RunConfig {
        variants,
        threads,
        repeat: args.repeat,
        warmup: args.warmup,
        naive_budget_s: None,
    })
}

/// The file given, the data generated from `--generate`, or the analysis' own generated
/// input at its default size; turned into the input kind the analysis takes where the
/// conversion is unambiguous (e.g. a two-column table into points).
fn load_input(args: &RunArgs, a: &dyn Analysis) -> Result<Loaded> {
    let loaded = match (&args.input, &args.generate) {
        (Some(p), _) => data::load::load(p)?,
        (None, Some(spec)) => data::generate::generate_from_spec(spec)?,
        (None, None) => {
            let seed = 1;
            bench::generated_input(a, a.default_size(), seed)?
        }
    };
    data::adapt(a.input_kind(), loaded)
}

/// Write the artifacts of the output the run shows into `dir`, refusing to replace
/// existing files unless `force`.
fn save_outputs(dir: &Path, outputs: &Outputs, force: bool) -> Result<()> {
    if let Some(o) = bench::shown_output(outputs) {
        let files: Vec<PathBuf> = o
            .artifacts
            .iter()
            .map(|a| dir.join(a.file_name()))
            .collect();
        if !force {
            crate::fsutil::refuse_existing(&files)?;
        }
        o.write(dir)?;
    }
    Ok(())
}

/// The reference script on the same input; its progress goes to stderr as it arrives.
fn run_python(
    args: &RunArgs,
    a: &dyn Analysis,
    loaded: &Loaded,
    params: &Params,
    record: &RunRecord,
    control: &crate::engine::Control,
) -> PythonOutcome {
    let opts = PythonOptions {
        exe: args.python_exe.clone(),
        repeat: args.repeat,
        timeout: std::time::Duration::from_secs(args.python_timeout.max(1)),
        profile: true,
    };
    let mut last_phase = String::new();
    python::run_reference(a, &loaded.data, params, record, &opts, control, &mut |ev| {
        if let PyEvent::Progress(p) = ev {
            // One line per implementation and phase, not per call.
            let key = format!("{} {}", p.method, p.phase);
            if key != last_phase && p.phase != "done" {
                eprintln!("python: {} {} …", p.method, p.phase);
                last_phase = key;
            }
        }
    })
}

/// Ours and the Python records: the JSON with a top-level `python` list, or the table with
/// a row per Python implementation and its agreement with ours.
fn print_with_python(record: &RunRecord, loaded: &Loaded, py: &PythonOutcome, json: bool) {
    let (records, profile, notes): (&[RunRecord], _, Vec<String>) = match py {
        PythonOutcome::Ran {
            records,
            profile,
            notes,
        } => (records, profile.as_ref(), notes.clone()),
        other => (&[], None, vec![other.headline()]),
    };
    if json {
        let mut v = serde_json::to_value(record).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert(
                "python".into(),
                serde_json::to_value(records).unwrap_or_default(),
            );
            if let Some(p) = profile {
                m.insert(
                    "python_profile".into(),
                    serde_json::to_value(p).unwrap_or_default(),
                );
            }
            m.insert("python_notes".into(), serde_json::json!(notes));
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        for n in &notes {
            eprintln!("{n}");
        }
        return;
    }
    print_record(record, loaded, false);
    if !records.is_empty() {
        println!();
        print!("{}", report::python_table(record, records));
    }
    for n in &notes {
        println!("{n}");
    }
}

fn save_profile(path: &Path, record: &RunRecord) -> Result<()> {
    let profile = record.profile.as_ref().ok_or_else(|| {
        Error::input(format!(
            "{}: the run recorded no profile scopes, nothing to write",
            path.display()
        ))
    })?;
    profile.write_file(path)
}

fn print_record(record: &RunRecord, loaded: &Loaded, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(record).unwrap_or_default()
        );
        return;
    }
    for w in &loaded.info.warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", report::markdown(std::slice::from_ref(record)));
    if let Some(last) = record.runs.last() {
        println!("\nsummary ({}):", last.variant);
        for (k, v) in &last.summary {
            println!("  {k}: {v}");
        }
    }
}
