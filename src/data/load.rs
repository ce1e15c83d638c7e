//! Loaders: FITS, CSV/whitespace text, NPY, and memory-mapped raw/NPY arrays. The kind
//! is chosen from the content; when it cannot be, the error says why.

use super::Loaded;
use crate::{Error, Result};
use std::path::Path;

/// Load any supported file.
pub fn load(path: &Path) -> Result<Loaded> {
    Err(Error::format(path, "loading files is not implemented yet"))
}
