//! One error type for the engine: every message is a single sentence that names the
//! file (or parameter) and the problem, because it is shown as-is on stderr and in the GUI.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read at all.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file was read but its content is not usable.
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
    /// A bad parameter or command-line value.
    #[error("{0}")]
    Param(String),
    /// The input data do not suit the analysis (too short, wrong kind, constant, ...).
    #[error("{0}")]
    Input(String),
    /// The user pressed Cancel.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn format(path: &Path, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    pub fn param(msg: impl Into<String>) -> Self {
        Error::Param(msg.into())
    }

    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(msg.into())
    }

    /// The process exit code DESIGN.md assigns to this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Param(_) => 2,
            Error::Io { .. } | Error::Format { .. } | Error::Input(_) => 3,
            Error::Cancelled => 130,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
