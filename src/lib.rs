//! astroperf: a performance explorer for astronomical data.
//!
//! Layers, each importing only those before it (README, "Architecture"):
//! `error`, `sys`, `fsutil` ← `data` ← `ctx` ← `kernels` ← `engine` ← `analyses` ← `bench`
//! ← the command line (`cli`) and the desktop app (`app`). The app and the CLI share the
//! engine and the bench, so what a lecture shows is what a benchmark measures.

pub mod analyses;
#[cfg(feature = "gui")]
pub mod app;
pub mod bench;
pub mod cli;
pub mod ctx;
pub mod data;
pub mod engine;
pub mod error;
pub mod fsutil;
pub mod kernels;
pub mod memory;
pub mod sys;

pub use error::{Error, Result};

/// Every heap allocation is counted, so each run and stage reports its peak bytes and
/// allocation count (see [`memory`]).
#[global_allocator]
static ALLOCATOR: memory::CountingAlloc = memory::CountingAlloc;

/// The public face of the engine and the registry in one path, as tests, fuzz targets and
/// downstream code have always named them (`astroperf::analysis::find`, `::Params`, ...).
pub mod analysis {
    pub use crate::analyses::*;
    pub use crate::engine::*;
}
