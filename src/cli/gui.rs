//! `astroperf gui`: the desktop app, optionally scripted for lecture preparation, report
//! pictures and tests — open a file, pick an analysis and its parameters, run, show a tab,
//! save a screenshot (the app's own PNG capture) and the run history, and exit. The flags
//! are checked here, before a window opens, so a typo is one line and exit 2.

use crate::engine::{Params, Variant};
use crate::{analyses, Error, Result};
use std::path::PathBuf;

/// The tabs `--tab` accepts (the app's tab names in lower case, spaces as dashes).
pub const TABS: [&str; 10] = [
    "result",
    "timing",
    "stages",
    "flame-graph",
    "memory",
    "roofline",
    "compare",
    "size-sweep",
    "thread-sweep",
    "history",
];

/// What to run once the app is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunRequest {
    All,
    One(Variant),
}

/// Everything `astroperf gui` was asked to do, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuiRequest {
    pub file: Option<PathBuf>,
    pub analysis: Option<String>,
    /// Parameter values for the analysis (already checked against its specs).
    pub params: Vec<(String, String)>,
    pub run: Option<RunRequest>,
    /// One of [`TABS`].
    pub tab: Option<String>,
    pub lecture: bool,
    /// Hide the side panel (the plots get the whole width).
    pub hide_panel: bool,
    pub screenshot: Option<PathBuf>,
    pub history_json: Option<PathBuf>,
    /// Close the window once everything asked for is done.
    pub exit: bool,
    /// The window's inner size in points, if given.
    pub size: Option<[f32; 2]>,
    /// Tick "Run Python too" before the run.
    pub python: bool,
}

impl GuiRequest {
    /// Whether anything beyond opening the window was asked for.
    pub fn is_scripted(&self) -> bool {
        self.run.is_some() || self.screenshot.is_some() || self.history_json.is_some() || self.exit
    }
}

/// The clap arguments of `astroperf gui`.
#[derive(clap::Args, Debug, Default)]
pub struct GuiArgs {
    /// A FITS, CSV/TXT or NPY file to open.
    pub file: Option<PathBuf>,
    /// The analysis to select (see `astroperf list`).
    #[arg(long)]
    pub analysis: Option<String>,
    /// An analysis parameter, repeatable: --param window=101.
    #[arg(long = "param")]
    pub params: Vec<String>,
    /// Run once the app is open: all, naive, vectorized or parallel.
    #[arg(long)]
    pub run: Option<String>,
    /// The tab to show: result, timing, stages, flame-graph, memory, roofline, compare,
    /// size-sweep, thread-sweep or history.
    #[arg(long)]
    pub tab: Option<String>,
    /// Lecture mode (large text, high contrast).
    #[arg(long)]
    pub lecture: bool,
    /// Hide the side panel, giving the plots the whole width (F9 in the app).
    #[arg(long)]
    pub hide_panel: bool,
    /// Also run the chapter's Python on the same input after ours ("Run Python too"; the
    /// interpreter is $ASTROPERF_PYTHON or python3).
    #[arg(long)]
    pub python: bool,
    /// Save a PNG of the window once the run (if any) has finished and the tab is drawn.
    #[arg(long, value_name = "OUT.png")]
    pub screenshot: Option<PathBuf>,
    /// Write the run history (run --json records, a JSON array) when done.
    #[arg(long, value_name = "FILE")]
    pub history_json: Option<PathBuf>,
    /// Close the app when the run, screenshot and history are done.
    #[arg(long)]
    pub exit: bool,
    /// Replace existing --screenshot / --history-json files.
    #[arg(long)]
    pub force: bool,
    /// The window's size, e.g. 1600x1000 or 1280x720 (a projector).
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
}

fn parse_size(s: &str) -> Result<[f32; 2]> {
    let bad = || Error::param(format!("--size '{s}' is not WIDTHxHEIGHT, e.g. 1280x720"));
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(320..=8192).contains(&w) || !(240..=8192).contains(&h) {
        return Err(Error::param(format!(
            "--size {w}x{h}: each side must be between 320x240 and 8192x8192"
        )));
    }
    Ok([w as f32, h as f32])
}

/// Check the flags; every problem is one line naming the flag.
pub fn request(args: GuiArgs) -> Result<GuiRequest> {
    let analysis = match &args.analysis {
        Some(id) => Some(analyses::find(id).ok_or_else(|| {
            Error::param(format!(
                "--analysis: unknown analysis '{id}' (see astroperf list)"
            ))
        })?),
        None => None,
    };
    let params = super::run::given_params(&args.params)?;
    if !params.is_empty() {
        let a = analysis.ok_or_else(|| Error::param("--param needs --analysis"))?;
        Params::resolve(&a.params(), &params)?;
    }
    let run = match args.run.as_deref() {
        None => None,
        Some("all") => Some(RunRequest::All),
        Some(v) => Some(RunRequest::One(Variant::parse(v).ok_or_else(|| {
            Error::param(format!(
                "--run '{v}' is not all, naive, vectorized or parallel"
            ))
        })?)),
    };
    if let Some(t) = &args.tab {
        if !TABS.contains(&t.as_str()) {
            return Err(Error::param(format!(
                "--tab '{t}' is not one of {}",
                TABS.join(", ")
            )));
        }
    }
    if !args.force {
        let outputs: Vec<PathBuf> = args
            .screenshot
            .iter()
            .chain(args.history_json.iter())
            .cloned()
            .collect();
        crate::fsutil::refuse_existing(&outputs)?;
    }
    if let Some(s) = &args.screenshot {
        if s.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            != Some("png".into())
        {
            return Err(Error::param(format!(
                "--screenshot {}: the file must end in .png",
                s.display()
            )));
        }
    }
    let size = args.size.as_deref().map(parse_size).transpose()?;
    Ok(GuiRequest {
        size,
        file: args.file,
        analysis: analysis.map(|a| a.id().to_string()),
        params,
        run,
        tab: args.tab,
        lecture: args.lecture,
        hide_panel: args.hide_panel,
        python: args.python,
        screenshot: args.screenshot,
        history_json: args.history_json,
        exit: args.exit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_checked_before_a_window_opens() {
        let ok = request(GuiArgs {
            analysis: Some("spectrum-pipeline".into()),
            params: vec!["window=51".into()],
            run: Some("all".into()),
            tab: Some("flame-graph".into()),
            size: Some("1280x720".into()),
            ..Default::default()
        })
        .expect("valid flags");
        assert_eq!(ok.run, Some(RunRequest::All));
        assert_eq!(ok.size, Some([1280.0, 720.0]));
        assert!(ok.is_scripted());
        let bad = [
            GuiArgs {
                analysis: Some("nope".into()),
                ..Default::default()
            },
            GuiArgs {
                run: Some("fast".into()),
                ..Default::default()
            },
            GuiArgs {
                tab: Some("flame".into()),
                ..Default::default()
            },
            GuiArgs {
                params: vec!["window=51".into()],
                ..Default::default()
            },
            GuiArgs {
                analysis: Some("spectrum-pipeline".into()),
                params: vec!["window=0".into()],
                ..Default::default()
            },
            GuiArgs {
                size: Some("big".into()),
                ..Default::default()
            },
            GuiArgs {
                screenshot: Some("out.jpg".into()),
                ..Default::default()
            },
        ];
        for b in bad {
            let e = request(b).expect_err("refused");
            assert_eq!(e.exit_code(), 2, "{e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }
}
