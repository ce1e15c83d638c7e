//! Memory-mapped arrays: a large little-endian f64/f32 NPY in C order, or a raw
//! `.f64`/`.f32`/`.raw` file (`.raw` is read as f64), is viewed through `memmap2` — the
//! bytes stay in the page cache and nothing is copied at load time.

use super::{Dataset, Dtype, Loaded, Mapped, Origin};
use crate::{Error, Result};
use std::path::Path;
use std::sync::Arc;

/// A read-only map of the file: opened with `File::open` (read-only) and mapped with
/// `Mmap::map` (PROT_READ, shared), so nothing can be written back to the user's file.
fn map(path: &Path) -> Result<Arc<memmap2::Mmap>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: read-only map; the file must not be truncated by another process while it
    // is mapped (the same contract as numpy.memmap).
    let m = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    Ok(Arc::new(m))
}

fn finish(path: &Path, m: Mapped, how: String) -> Loaded {
    let bytes = m.bytes();
    let offset = m.offset;
    Loaded::new(
        Dataset::Mapped(m),
        path.display().to_string(),
        Origin::MemoryMapped,
    )
    .with_fact("format", how)
    .with_fact(
        "mapped",
        format!("{bytes} bytes from offset {offset} (viewed, not copied)"),
    )
}

/// Map a little-endian f64/f32 NPY in C order.
pub fn load_npy(path: &Path) -> Result<Loaded> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let h = super::npy::read_header(path, len)?;
    let dtype = match h.dtype() {
        Some((d @ (Dtype::F64 | Dtype::F32), true)) if !h.fortran => d,
        _ => {
            return Err(Error::format(
                path,
                format!(
                    "cannot memory-map NPY with dtype '{}'{}: only little-endian float64/float32 in C order",
                    h.descr,
                    if h.fortran { " in Fortran order" } else { "" }
                ),
            ))
        }
    };
    let m = Mapped {
        map: map(path)?,
        offset: h.data_offset,
        dtype,
        shape: h.shape.clone(),
    };
    if m.offset + m.bytes() > m.map.len() {
        return Err(Error::format(path, "NPY data run past the end of the file"));
    }
    Ok(finish(
        path,
        m,
        format!("NPY '{}' {:?}, memory-mapped", h.descr, h.shape),
    ))
}

/// Map a raw little-endian array: `.f32` = float32, `.f64`/`.raw` = float64, 1-D.
pub fn load_raw(path: &Path) -> Result<Loaded> {
    let map = map(path)?;
    raw(path, map)
}

/// [`load_raw`] for bytes already in memory (fuzzing, tests): they are copied into an
/// anonymous map made read-only, so the result is the same `Mapped` dataset.
pub fn load_raw_bytes(name: &Path, bytes: &[u8]) -> Result<Loaded> {
    if bytes.is_empty() {
        return Err(Error::format(name, "empty file (0 bytes)"));
    }
    let mut m = memmap2::MmapMut::map_anon(bytes.len()).map_err(|e| Error::io(name, e))?;
    m.copy_from_slice(bytes);
    let m = m.make_read_only().map_err(|e| Error::io(name, e))?;
    raw(name, Arc::new(m))
}

fn raw(path: &Path, map: Arc<memmap2::Mmap>) -> Result<Loaded> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let dtype = if ext == "f32" { Dtype::F32 } else { Dtype::F64 };
    let len = map.len();
    if len == 0 {
        return Err(Error::format(path, "empty file (0 bytes)"));
    }
    if len % dtype.size() != 0 {
        return Err(Error::format(
            path,
            format!(
                "raw {} file of {len} bytes is not a whole number of {}-byte values",
                dtype.name(),
                dtype.size()
            ),
        ));
    }
    let m = Mapped {
        map,
        offset: 0,
        dtype,
        shape: vec![len / dtype.size()],
    };
    Ok(finish(
        path,
        m,
        format!("raw little-endian {} (1-D), memory-mapped", dtype.name()),
    ))
}
