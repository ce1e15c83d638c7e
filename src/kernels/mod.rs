//! Kernels: the science on slices, shared by several analyses and testable on their own.
//! A kernel knows no `Dataset`, no analysis and no egui; it takes slices, plain parameter
//! structs and, where it is long enough to be cancelled, the run's [`crate::ctx::Ctx`].

pub mod common;
pub mod extract;
pub mod image;
pub mod periodogram;
