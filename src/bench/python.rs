//! The chapter's own Python, run beside ours on the same input (`run --python` and the app's
//! "Run Python too"): the input is exported as .npy files, the bundled reference script
//! (`assets/python/reference_bench.py`) times its implementations of this one analysis (pure
//! Python, numpy/scipy/astropy, numba serial and `prange`) and profiles each once under
//! cProfile, and every record it returns is checked against our own result.
//!
//! The interpreter is a child process: its progress is read line by line from its stderr,
//! Cancel kills it, a timeout stops it, and anything that goes wrong comes back as one line
//! (never a panic or a hang). A missing Python or numpy is not an error of the run: ours has
//! finished and stays valid, so that case is [`PythonOutcome::Unavailable`] with the fix.

use super::{RunRecord, VariantRun};
use crate::data::Dataset;
use crate::engine::{Analysis, Control, Params, Tolerance};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The reference script, built into the binary so `--python` works wherever astroperf is
/// installed; it is written next to the exported input for each run.
pub const REFERENCE_SCRIPT: &str = include_str!("../../assets/python/reference_bench.py");

/// What the user can install to get every Python implementation.
pub const PIP_INSTALL: &str = "pip install numpy scipy numba astropy sep";

/// Environment variables the reference runs without (see `reference_bench.py`'s warning).
pub const OPENBLAS_TUNING: [&str; 2] = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

/// Environment variable naming the Python interpreter (after `--python-exe`).
pub const PYTHON_ENV: &str = "ASTROPERF_PYTHON";

/// How to run the reference.
#[derive(Clone, Debug)]
pub struct PythonOptions {
    /// The interpreter given with `--python-exe` (else `$ASTROPERF_PYTHON`, else `python3`).
    pub exe: Option<PathBuf>,
    /// Timed calls per implementation after its warm-up (ours uses the same count).
    pub repeat: usize,
    /// The whole Python run is stopped after this long.
    pub timeout: Duration,
    /// Whether to profile each implementation once under cProfile.
    pub profile: bool,
}

impl Default for PythonOptions {
    fn default() -> Self {
        PythonOptions {
            exe: None,
            repeat: 5,
            timeout: Duration::from_secs(600),
            profile: true,
        }
    }
}

/// The interpreter to run and where that choice came from (for messages).
pub fn interpreter(given: Option<&Path>) -> (PathBuf, &'static str) {
    if let Some(p) = given {
        return (p.to_path_buf(), "--python-exe");
    }
    match std::env::var_os(PYTHON_ENV) {
        Some(v) if !v.is_empty() => (PathBuf::from(v), "$ASTROPERF_PYTHON"),
        _ => (PathBuf::from("python3"), "python3 on PATH"),
    }
}

/// One `@progress` line of the script.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Progress {
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub variant: String,
    /// "warmup", "timed", "profile" or "done".
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub done: usize,
    #[serde(default)]
    pub total: usize,
}

impl Progress {
    /// "numpy argsort: timed 3/5" for a status line.
    pub fn line(&self) -> String {
        if self.total > 0 {
            format!(
                "Python {}: {} {}/{}",
                self.method, self.phase, self.done, self.total
            )
        } else {
            format!("Python {}: {}", self.method, self.phase)
        }
    }
}

/// What the child says while it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum PyEvent {
    Progress(Progress),
    /// Any other line of its stderr (its own notes, a traceback).
    Line(String),
}

fn parse_event(line: &str) -> PyEvent {
    line.strip_prefix("@progress ")
        .and_then(|json| serde_json::from_str(json).ok())
        .map_or_else(|| PyEvent::Line(line.to_string()), PyEvent::Progress)
}

/// One node of a Python call tree (cProfile's caller graph unfolded from the timed
/// function down; a callee's time is split among its callers as cProfile measured it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PyNode {
    pub name: String,
    #[serde(default)]
    pub file: String,
    #[serde(default)]
    pub line: i64,
    pub total_s: f64,
    #[serde(default)]
    pub self_s: f64,
    #[serde(default)]
    pub calls: u64,
    #[serde(default)]
    pub children: Vec<PyNode>,
}

/// One implementation's profile.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PyMethodProfile {
    #[serde(default)]
    pub variant: String,
    pub method: String,
    #[serde(default)]
    pub total_s: f64,
    #[serde(default)]
    pub tree: Option<PyNode>,
    /// Why this implementation was not profiled (e.g. slower than the budget).
    #[serde(default)]
    pub skipped: Option<String>,
}

/// The profile file the script writes with `--profile`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PyProfile {
    #[serde(default)]
    pub analysis: String,
    #[serde(default)]
    pub profiles: Vec<PyMethodProfile>,
}

/// The end of a Python run.
#[derive(Clone, Debug)]
pub enum PythonOutcome {
    Ran {
        /// The script's records, each run checked against ours.
        records: Vec<RunRecord>,
        profile: Option<PyProfile>,
        /// What the script skipped or could not import, one line each.
        notes: Vec<String>,
    },
    /// No interpreter or no numpy: one line saying what is missing and how to install it.
    Unavailable(String),
    /// The script crashed or timed out: one line with its last error line.
    Failed(String),
    Cancelled,
}

impl PythonOutcome {
    /// One line for a status bar or the CLI.
    pub fn headline(&self) -> String {
        match self {
            PythonOutcome::Ran { records, .. } => {
                let runs: usize = records.iter().map(|r| r.runs.len()).sum();
                if runs == 0 {
                    "Python: no reference implementation ran".into()
                } else {
                    let bad = disagreeing(records);
                    format!(
                        "Python: {runs} implementation(s) timed{}",
                        if bad > 0 {
                            format!(", {bad} disagree with astroperf")
                        } else {
                            String::new()
                        }
                    )
                }
            }
            PythonOutcome::Unavailable(s) | PythonOutcome::Failed(s) => s.clone(),
            PythonOutcome::Cancelled => "Python: cancelled".into(),
        }
    }
}

/// How many runs of these records differ from astroperf's result.
pub fn disagreeing(records: &[RunRecord]) -> usize {
    records
        .iter()
        .flat_map(|r| &r.runs)
        .filter(|v| v.agrees_with_astroperf == Some(false))
        .count()
}

/// A directory of its own under the system's temp dir, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<Self> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("astroperf-python-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(ScratchDir(p))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Export `data`, run the reference for analysis `a` only, and check its records against
/// `ours`. `on_event` sees every line of progress as it arrives.
pub fn run_reference(
    a: &dyn Analysis,
    data: &Dataset,
    params: &Params,
    ours: &RunRecord,
    opts: &PythonOptions,
    control: &Control,
    on_event: &mut dyn FnMut(&PyEvent),
) -> PythonOutcome {
    let scratch = match ScratchDir::new() {
        Ok(d) => d,
        Err(e) => {
            return PythonOutcome::Failed(format!(
                "Python: cannot make a scratch directory in {}: {e}",
                std::env::temp_dir().display()
            ))
        }
    };
    let dir = &scratch.0;
    let prepared = (|| -> crate::Result<()> {
        let entry = super::export::export_dataset(dir, a, data, 1, params)?;
        let manifest = serde_json::to_string_pretty(&[entry]).unwrap_or_default();
        crate::fsutil::write_bytes(&dir.join("manifest.json"), manifest.as_bytes())?;
        crate::fsutil::write_bytes(&dir.join("reference_bench.py"), REFERENCE_SCRIPT.as_bytes())?;
        Ok(())
    })();
    if let Err(e) = prepared {
        return PythonOutcome::Failed(format!("Python: cannot export the input: {e}"));
    }
    let (exe, from) = interpreter(opts.exe.as_deref());
    let out = dir.join("python.json");
    let prof = dir.join("profile.json");
    let mut cmd = Command::new(&exe);
    cmd.arg("-u")
        .arg(dir.join("reference_bench.py"))
        .arg(dir)
        .args(["--only", a.id(), "--progress", "--repeat"])
        .arg(opts.repeat.max(1).to_string())
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // Tuning variables some environments set make numpy's BLAS pick a slower kernel; the
    // script warns about them, and the timings beside ours are taken without them.
    for var in OPENBLAS_TUNING {
        cmd.env_remove(var);
    }
    if opts.profile {
        cmd.arg("--profile").arg(&prof);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return PythonOutcome::Unavailable(format!(
                "Python: no interpreter '{}' ({from}); install Python 3 and `{PIP_INSTALL}`, or give --python-exe PATH / set {PYTHON_ENV}",
                exe.display()
            ))
        }
        Err(e) => {
            return PythonOutcome::Failed(format!(
                "Python: cannot start '{}' ({from}): {e}",
                exe.display()
            ))
        }
    };
    let (tx, rx) = mpsc::channel::<String>();
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut lines: Vec<String> = Vec::new();
    let status = match wait_child(&mut child, &rx, control, opts.timeout, &mut |line| {
        let ev = parse_event(&line);
        if let PyEvent::Line(l) = &ev {
            lines.push(l.clone());
        }
        on_event(&ev);
    }) {
        Ok(s) => s,
        Err(stopped) => return stopped,
    };
    let last_error = last_error_line(&lines);
    if !status.success() {
        if lines.iter().any(|l| l.contains("numpy is required")) {
            return PythonOutcome::Unavailable(format!(
                "Python: '{}' ({from}) has no numpy; `{PIP_INSTALL}` fixes it",
                exe.display()
            ));
        }
        return PythonOutcome::Failed(format!(
            "Python reference failed ({status}): {}",
            last_error.unwrap_or("no error message")
        ));
    }
    let mut records = match super::load_records(&out) {
        Ok(r) => r,
        Err(e) => return PythonOutcome::Failed(format!("Python reference: {e}")),
    };
    for r in &mut records {
        cross_check(a, ours, r);
    }
    let profile = opts
        .profile
        .then(|| std::fs::read_to_string(&prof).ok())
        .flatten()
        .and_then(|t| serde_json::from_str::<PyProfile>(&t).ok());
    PythonOutcome::Ran {
        records,
        profile,
        notes: notes_of(&lines),
    }
}

/// Wait for the child while passing on its stderr lines; kill it on Cancel or after
/// `timeout`.
fn wait_child(
    child: &mut std::process::Child,
    lines: &mpsc::Receiver<String>,
    control: &Control,
    timeout: Duration,
    on_line: &mut dyn FnMut(String),
) -> Result<std::process::ExitStatus, PythonOutcome> {
    let deadline = Instant::now() + timeout;
    let mut stderr_open = true;
    loop {
        if stderr_open {
            match lines.recv_timeout(Duration::from_millis(40)) {
                Ok(line) => on_line(line),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => stderr_open = false,
            }
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
        let stop = if control.is_cancelled() {
            Some(PythonOutcome::Cancelled)
        } else if Instant::now() > deadline {
            Some(PythonOutcome::Failed(format!(
                "Python reference stopped after {} s (its time limit)",
                timeout.as_secs()
            )))
        } else {
            None
        };
        if let Some(stop) = stop {
            let _ = child.kill();
            let _ = child.wait();
            return Err(stop);
        }
        match child.try_wait() {
            Ok(Some(s)) if !stderr_open => return Ok(s),
            Ok(_) => {}
            Err(e) => {
                return Err(PythonOutcome::Failed(format!(
                    "Python: lost the child process: {e}"
                )))
            }
        }
    }
}

/// The last line a crashed script printed that says something (a traceback ends with the
/// exception).
fn last_error_line(lines: &[String]) -> Option<&str> {
    lines.iter().rev().map(|l| l.trim()).find(|l| !l.is_empty())
}

/// The script's lines a user should see after a successful run: what it skipped and which
/// optional package is missing (with the pip line that adds it).
fn notes_of(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let t = l.trim();
            if let Some(rest) = t.strip_prefix("reference_bench: optional package '") {
                let pkg = rest.split('\'').next().unwrap_or(rest);
                Some(format!(
                    "Python: {pkg} is missing, its implementations were skipped (pip install {pkg})"
                ))
            } else if t.starts_with("skip ") || t.contains("failed:") {
                Some(format!("Python: {t}"))
            } else {
                None
            }
        })
        .collect()
}

/// Summary keys that describe a run rather than its result.
const NOT_RESULTS: &[&str] = &["method", "library", "note", "agreement", "threads"];

/// Set each run's `agrees_with_astroperf` and `agreement` by comparing its summary with our
/// result on the same input: the values both summaries name (counts and indices exactly,
/// floats within the analysis' cross-tool tolerance). Not compared, with the reason, when
/// the inputs cannot be the same (random draws) or the parameters differ.
pub fn cross_check(a: &dyn Analysis, ours: &RunRecord, py: &mut RunRecord) {
    // Our summary to compare with, or why there is none.
    let reference: Result<&serde_json::Map<String, Value>, String> = if py.same_input == Some(false)
    {
        Err(
            "not compared: the Python side draws its own random numbers (numpy), astroperf's \
             counter-based streams are not reproduced"
                .to_string(),
        )
    } else if let Some(d) = differing_param(&ours.params, &py.params) {
        Err(format!("not compared: {d}"))
    } else {
        ours.runs
            .last()
            .map(|v| &v.summary)
            .ok_or_else(|| "not compared: astroperf timed no variant".to_string())
    };
    let tol = a.cross_tool_tolerance();
    let mut all = Some(true);
    for run in &mut py.runs {
        let verdict = match &reference {
            Ok(ours) => compare_summaries(ours, &run.summary, tol),
            Err(why) => Verdict::NotCompared(why.clone()),
        };
        let (agrees, why) = match verdict {
            Verdict::Agrees(w) => (Some(true), w),
            Verdict::Differs(w) => (Some(false), w),
            Verdict::NotCompared(w) => (None, w),
        };
        all = match (all, agrees) {
            (Some(x), Some(y)) => Some(x && y),
            _ => None,
        };
        run.agrees_with_astroperf = agrees;
        run.agreement = Some(why);
    }
    py.agrees_with_astroperf = if py.runs.is_empty() { None } else { all };
}

/// What comparing two summaries found, with the reason in words.
#[derive(Debug)]
enum Verdict {
    Agrees(String),
    Differs(String),
    NotCompared(String),
}

/// A parameter both runs name with different values, said as a sentence.
fn differing_param(
    ours: &serde_json::Map<String, Value>,
    theirs: &serde_json::Map<String, Value>,
) -> Option<String> {
    theirs.iter().find_map(|(k, v)| {
        let o = ours.get(k)?;
        (!same_value(o, v, Tolerance::Rel(1e-12)))
            .then(|| format!("the Python reference ran with {k}={v}, astroperf with {k}={o}"))
    })
}

fn same_value(a: &Value, b: &Value, tol: Tolerance) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let exact = (x.is_i64() || x.is_u64()) && (y.is_i64() || y.is_u64());
            match (x.as_f64(), y.as_f64()) {
                _ if exact => x == y,
                (Some(p), Some(q)) => within(p, q, tol),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q, tol))
        }
        _ => a == b,
    }
}

fn within(a: f64, b: f64, tol: Tolerance) -> bool {
    match tol {
        Tolerance::Exact => a == b,
        Tolerance::Rel(t) => (a - b).abs() <= t * a.abs().max(b.abs()).max(1.0),
        Tolerance::Abs(t) => (a - b).abs() <= t,
    }
}

/// Whether two summaries agree on every value they both name; a difference names the
/// values that differ.
fn compare_summaries(
    ours: &serde_json::Map<String, Value>,
    theirs: &serde_json::Map<String, Value>,
    tol: Tolerance,
) -> Verdict {
    let shared: Vec<(&String, &Value, &Value)> = theirs
        .iter()
        .filter(|(k, v)| !NOT_RESULTS.contains(&k.as_str()) && !v.is_string())
        .filter_map(|(k, v)| ours.get(k).map(|o| (k, o, v)))
        .filter(|(_, o, _)| !o.is_string())
        .collect();
    if shared.is_empty() {
        return Verdict::NotCompared(
            "not compared: no result value in common with astroperf's summary".into(),
        );
    }
    let bad: Vec<String> = shared
        .iter()
        .filter(|(_, o, t)| !same_value(o, t, tol))
        .map(|(k, o, t)| format!("{k}: astroperf {} vs Python {}", short(o), short(t)))
        .collect();
    let names: Vec<&str> = shared.iter().map(|(k, _, _)| k.as_str()).collect();
    if bad.is_empty() {
        Verdict::Agrees(format!(
            "agrees on {} value(s) ({}; counts exact, floats within {})",
            names.len(),
            names.join(", "),
            tol_text(tol)
        ))
    } else {
        Verdict::Differs(format!(
            "differs on {} of {} value(s): {} (tolerance {})",
            bad.len(),
            names.len(),
            bad.join("; "),
            tol_text(tol)
        ))
    }
}

fn tol_text(tol: Tolerance) -> String {
    match tol {
        Tolerance::Exact => "exact".into(),
        Tolerance::Rel(t) => format!("rel. {t:e}"),
        Tolerance::Abs(t) => format!("abs. {t:e}"),
    }
}

/// A value short enough for one line.
fn short(v: &Value) -> String {
    match v {
        Value::Array(a) if a.len() > 4 => format!("[{} values]", a.len()),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !(n.is_i64() || n.is_u64()) => format!("{f:.10e}"),
            _ => n.to_string(),
        },
        _ => v.to_string(),
    }
}

/// The implementation a Python run timed ("numba prange", "scipy.ndimage.median_filter").
pub fn method_of(v: &VariantRun) -> &str {
    v.summary
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_else(|| v.variant.name())
}

/// A method's name short enough for a chart's name column: up to the first " + " or " (",
/// and at most [`SHORT_METHOD_CHARS`] characters cut at a word ("scipy.ndimage.median_filter
/// size=101 mode=reflect + scipy.signal.find_peaks" → "scipy.ndimage.median_filter…").
pub fn short_method(method: &str) -> String {
    let head = method.split(" + ").next().unwrap_or(method);
    let head = head.split(" (").next().unwrap_or(head).trim();
    let cut = head != method.trim();
    if head.chars().count() <= SHORT_METHOD_CHARS {
        return if cut {
            format!("{head}…")
        } else {
            head.to_string()
        };
    }
    let mut out = String::new();
    for w in head.split_whitespace() {
        if out.chars().count() + w.chars().count() + 1 > SHORT_METHOD_CHARS && !out.is_empty() {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    let out: String = out.chars().take(SHORT_METHOD_CHARS).collect();
    format!("{out}…")
}

/// The longest method name [`short_method`] keeps.
pub const SHORT_METHOD_CHARS: usize = 30;

/// The library a Python run used most ("numpy", "numba", "python", ...).
pub fn library_of(v: &VariantRun) -> &str {
    v.summary
        .get("library")
        .and_then(Value::as_str)
        .unwrap_or("python")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn progress_lines_parse_and_other_lines_pass_through() {
        let ev = parse_event(
            r#"@progress {"analysis": "x", "method": "numpy", "variant": "vectorized", "phase": "timed", "done": 2, "total": 5}"#,
        );
        assert_eq!(
            ev,
            PyEvent::Progress(Progress {
                method: "numpy".into(),
                variant: "vectorized".into(),
                phase: "timed".into(),
                done: 2,
                total: 5
            })
        );
        assert_eq!(
            parse_event("@progress {broken"),
            PyEvent::Line("@progress {broken".into())
        );
        assert_eq!(parse_event("  bench x"), PyEvent::Line("  bench x".into()));
    }

    #[test]
    fn summaries_agree_on_shared_values_only_counts_exactly() {
        let ours = map(json!({"n_pairs": 45, "mean": 0.5, "peak_nm": 501.5, "method": "x"}));
        let same =
            map(json!({"n_pairs": 45, "mean": 0.5 + 1e-12, "py_only": 3, "method": "numpy"}));
        let r = compare_summaries(&ours, &same, Tolerance::Rel(1e-9));
        assert!(
            matches!(&r, Verdict::Agrees(s) if s.contains("2 value(s)")),
            "{r:?}"
        );
        let off_count = map(json!({"n_pairs": 46, "mean": 0.5}));
        let r = compare_summaries(&ours, &off_count, Tolerance::Rel(1e-9));
        assert!(
            matches!(&r, Verdict::Differs(s) if s.contains("n_pairs")),
            "{r:?}"
        );
        let off_float = map(json!({"mean": 0.5001}));
        let strict = compare_summaries(&ours, &off_float, Tolerance::Rel(1e-9));
        assert!(matches!(strict, Verdict::Differs(_)), "{strict:?}");
        let loose = compare_summaries(&ours, &off_float, Tolerance::Rel(1e-3));
        assert!(matches!(loose, Verdict::Agrees(_)), "{loose:?}");
        let nothing = map(json!({"other": 1, "method": "m"}));
        let r = compare_summaries(&ours, &nothing, Tolerance::Rel(1e-9));
        assert!(matches!(r, Verdict::NotCompared(_)), "{r:?}");
    }

    #[test]
    fn method_names_are_shortened_at_a_word() {
        assert_eq!(short_method("numba prange"), "numba prange");
        assert_eq!(
            short_method(
                "scipy.ndimage.median_filter size=101 mode=reflect + scipy.signal.find_peaks"
            ),
            "scipy.ndimage.median_filter…"
        );
        assert_eq!(
            short_method("pure Python sorted-window running median (bisect) + scipy find_peaks"),
            "pure Python sorted-window…"
        );
        assert_eq!(short_method("numpy argsort (stable)"), "numpy argsort…");
    }

    #[test]
    fn a_differing_parameter_is_named() {
        let ours = map(json!({"detect": "background", "k": 3.0}));
        let theirs = map(json!({"detect": "threshold", "k": 3.0}));
        let d = differing_param(&ours, &theirs).unwrap_or_default();
        assert!(d.contains("detect=\"threshold\""), "{d}");
        assert!(differing_param(&ours, &map(json!({"k": 3}))).is_none());
    }

    #[test]
    fn notes_name_the_missing_package_and_its_pip_line() {
        let lines = vec![
            "reference_bench: optional package 'numba' is missing; its implementations are skipped"
                .to_string(),
            "bench planck (1000 points)".to_string(),
            "skip memory-layout: no Python reference implementation".to_string(),
        ];
        let n = notes_of(&lines);
        assert_eq!(n.len(), 2);
        assert!(n[0].contains("pip install numba"));
        assert!(n[1].contains("skip memory-layout"));
        assert_eq!(
            last_error_line(&lines),
            Some("skip memory-layout: no Python reference implementation")
        );
    }
}
