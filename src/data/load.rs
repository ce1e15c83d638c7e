//! Loaders: FITS, CSV/whitespace text, NPY, and memory-mapped raw/NPY arrays. The kind
//! is chosen from the content; when it cannot be, the error says why.
//!
//! Every error names the file and the problem in one line; no input may panic, hang or
//! make the loader allocate more than the file could hold (declared sizes are checked
//! against the file length before anything is allocated).

use super::Loaded;
use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The memory available now, under the name tests have always used.
pub use crate::sys::available_memory as mem_available;

/// NPY files above this size are memory-mapped by [`load`] instead of copied.
pub const MAP_THRESHOLD: u64 = 256 * 1024 * 1024;

/// Extensions read as text tables.
const TEXT_EXT: &[&str] = &[
    "csv", "txt", "dat", "tsv", "mjd", "cat", "tbl", "ascii", "ssv", "text",
];
const FITS_EXT: &[&str] = &["fits", "fit", "fts"];
const RAW_EXT: &[&str] = &["f64", "f32", "raw"];

/// What the first bytes (or, failing that, the extension) say the file is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Fits,
    Npy,
    Raw,
    Text,
}

/// Load any supported file: FITS (image or binary table), NPY, CSV/whitespace text, or
/// a raw little-endian `.f64`/`.f32`/`.raw` array (always memory-mapped). NPY files above
/// [`MAP_THRESHOLD`] that are little-endian f64/f32 in C order are memory-mapped too.
pub fn load(path: &Path) -> Result<Loaded> {
    if path.is_dir() {
        return load_frame_folder(path);
    }
    let (kind, len) = sniff(path)?;
    match kind {
        Kind::Fits => super::fits::load(path, len),
        Kind::Npy => {
            if len > MAP_THRESHOLD {
                if let Ok(l) = super::npy::load_mapped(path) {
                    return Ok(l);
                }
            }
            super::npy::load(path, len)
        }
        Kind::Raw => super::mapped::load_raw(path),
        Kind::Text => super::text::load(path, len),
    }
}

/// Most frames a folder may hold (a folder of thousands is a mistake, not a batch).
const MAX_FOLDER_FRAMES: usize = 10_000;

/// A folder of CCD frames (FITS or NPY, one frame each, all the same shape) as a frame
/// batch, in file-name order — the input of `observation-batch`. Other files are ignored.
pub fn load_frame_folder(dir: &Path) -> Result<Loaded> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            p.is_file() && matches!(ext.as_str(), "fits" | "fit" | "fts" | "npy")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::format(dir, "folder holds no .fits or .npy frames"));
    }
    if files.len() > MAX_FOLDER_FRAMES {
        return Err(Error::format(
            dir,
            format!(
                "folder holds {} frames; at most {MAX_FOLDER_FRAMES} are read as a batch",
                files.len()
            ),
        ));
    }
    let mut frames = Vec::with_capacity(files.len());
    let mut warnings = Vec::new();
    for f in &files {
        let l = load(f)?;
        match l.data {
            super::Dataset::Frame(fr) => {
                if let Some(first) = frames.first() {
                    let first: &super::Frame = first;
                    if first.data.dim() != fr.data.dim() {
                        return Err(Error::format(
                            f,
                            format!(
                                "frame is {:?} but the folder's first frame is {:?}",
                                fr.data.dim(),
                                first.data.dim()
                            ),
                        ));
                    }
                }
                frames.push(fr);
            }
            other => warnings.push(format!(
                "{} skipped: it is a {}, not a frame",
                f.display(),
                other.kind()
            )),
        }
    }
    if frames.is_empty() {
        return Err(Error::format(dir, "folder holds no 2-D frames"));
    }
    let n = frames.len();
    let mut l = Loaded::new(
        super::Dataset::FrameBatch(frames),
        dir.display().to_string(),
        super::Origin::File,
    )
    .with_fact("format", format!("folder of {n} frames"));
    for w in warnings {
        l = l.with_warning(w);
    }
    Ok(l)
}

/// Load a large array through a memory map (viewed, not copied): a little-endian
/// f64/f32 NPY in C order, or a raw `.f64`/`.f32`/`.raw` file (`.raw` = f64).
pub fn load_mapped(path: &Path) -> Result<Loaded> {
    let (kind, _) = sniff(path)?;
    match kind {
        Kind::Npy => super::npy::load_mapped(path),
        Kind::Raw => super::mapped::load_raw(path),
        Kind::Fits | Kind::Text => Err(Error::format(
            path,
            "only NPY and raw .f64/.f32/.raw arrays can be memory-mapped",
        )),
    }
}

fn ext_of(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Decide the file kind from its magic bytes, else from its extension.
fn sniff(path: &Path) -> Result<(Kind, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::format(path, "is a directory, not a data file"));
    }
    let len = meta.len();
    if len == 0 {
        return Err(Error::format(path, "empty file (0 bytes)"));
    }
    let mut head = [0u8; 16];
    let n = {
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut got = 0;
        while got < head.len() {
            match f.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        got
    };
    Ok((sniff_head(path, &head[..n])?, len))
}

/// The kind the first bytes `head` (else the extension of `path`) say a file is.
fn sniff_head(path: &Path, head: &[u8]) -> Result<Kind> {
    if head.starts_with(b"SIMPLE  =") {
        return Ok(Kind::Fits);
    }
    if head.starts_with(b"\x93NUMPY") {
        return Ok(Kind::Npy);
    }
    let ext = ext_of(path);
    let e = ext.as_str();
    if FITS_EXT.contains(&e) {
        return Err(Error::format(
            path,
            "not a FITS file: it does not begin with the card 'SIMPLE  ='",
        ));
    }
    if e == "npy" {
        return Err(Error::format(
            path,
            "not an NPY file: it does not begin with the magic bytes \\x93NUMPY",
        ));
    }
    if RAW_EXT.contains(&e) {
        return Ok(Kind::Raw);
    }
    if TEXT_EXT.contains(&e) {
        return Ok(Kind::Text);
    }
    let shown = if e.is_empty() {
        "no extension".to_string()
    } else {
        format!("extension '.{e}'")
    };
    Err(Error::format(
        path,
        format!(
            "unknown file type ({shown}); supported: FITS (.fits/.fit/.fts), NPY (.npy), \
             text tables (.csv/.txt/.dat/.mjd/...), raw little-endian arrays (.f64/.f32/.raw)"
        ),
    ))
}

/// [`load`] for the content of a file already in memory: `name` is only used for the
/// extension (when the magic bytes do not decide) and in messages. This is what the
/// fuzz targets call; raw arrays are copied into an anonymous read-only map.
pub fn load_bytes(name: &Path, bytes: &[u8]) -> Result<Loaded> {
    if bytes.is_empty() {
        return Err(Error::format(name, "empty file (0 bytes)"));
    }
    let head = &bytes[..bytes.len().min(16)];
    match sniff_head(name, head)? {
        Kind::Fits => super::fits::load_bytes(name, bytes),
        Kind::Npy => super::npy::load_bytes(name, bytes),
        Kind::Text => super::text::load_bytes(name, bytes),
        Kind::Raw => super::mapped::load_raw_bytes(name, bytes),
    }
}
