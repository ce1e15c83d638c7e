//! astroperf: a performance explorer for astronomical data.
//!
//! The engine (`data`, `analysis`, `bench`) is shared by the desktop app (`app`)
//! and the headless command line, so what a lecture shows is what a benchmark measures.

pub mod analysis;
#[cfg(feature = "gui")]
pub mod app;
pub mod bench;
pub mod data;
pub mod error;
pub mod fsutil;

pub use error::{Error, Result};
