//! Memory-mapped arrays: a large little-endian f64/f32 NPY in C order, or a raw
//! `.f64`/`.f32`/`.raw` file (`.raw` is read as f64), is viewed through `memmap2` — the
//! bytes stay in the page cache and nothing is copied at load time.

use super::{Dataset, Dtype, Loaded, Mapped, Origin};
use crate::sys::page_size;
use crate::{Error, Result};
use std::path::Path;
use std::sync::Arc;

/// A read-only map of the file at `path`: opened with `File::open` (read-only) and
/// mapped by [`map_read_only`], so nothing can be written back to the user's file.
pub fn map_file(path: &Path) -> Result<memmap2::Mmap> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    map_read_only(&file, path)
}

/// A read-only, shared map (`Mmap::map`: PROT_READ, MAP_SHARED) of an open file; `path`
/// names it in errors. Every map of a file in this program is made here.
pub fn map_read_only(file: &std::fs::File, path: &Path) -> Result<memmap2::Mmap> {
    // SAFETY: a read-only map. Its contract (as numpy.memmap's) is that no other process
    // truncates or rewrites the file while it is mapped: the loaders' maps of user files
    // are read at once and dropped (or kept as a `Mapped` dataset the user chose to map),
    // and the analyses map only temporary files private to this process.
    unsafe { memmap2::Mmap::map(file) }.map_err(|e| Error::io(path, e))
}

fn map(path: &Path) -> Result<Arc<memmap2::Mmap>> {
    Ok(Arc::new(map_file(path)?))
}

/// The loaded dataset of a map, with the facts the info panel shows.
pub(crate) fn finish(path: &Path, m: Mapped, how: String) -> Loaded {
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

/// Map a raw little-endian array: `.f32` = float32, `.f64`/`.raw` = float64, 1-D.
pub fn load_raw(path: &Path) -> Result<Loaded> {
    let map = map(path)?;
    let mut loaded = raw(path, map)?;
    if let Dataset::Mapped(m) = &mut loaded.data {
        m.file = Some(path.to_path_buf());
    }
    Ok(loaded)
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
    if !len.is_multiple_of(dtype.size()) {
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
        file: None,
    };
    Ok(finish(
        path,
        m,
        format!("raw little-endian {} (1-D), memory-mapped", dtype.name()),
    ))
}

impl Mapped {
    /// Write little-endian f64 values (through `fill`) to a private temporary file, map
    /// it and remove its name at once: the map keeps the data alive until dropped, and
    /// nothing is left on disk even if the process dies later.
    pub fn temp_f64(
        prefix: &str,
        shape: Vec<usize>,
        fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
    ) -> crate::Result<Mapped> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "astroperf-{prefix}-{}-{nanos}.f64",
            std::process::id()
        ));
        let io = |e| crate::Error::io(&path, e);
        let result = (|| {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(io)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            fill(&mut w).map_err(io)?;
            let f = w.into_inner().map_err(|e| io(e.into_error()))?;
            let map = map_read_only(&f, &path)?;
            let m = Mapped {
                map: Arc::new(map),
                offset: 0,
                dtype: Dtype::F64,
                shape,
                file: None,
            };
            if m.bytes() > m.map.len() {
                return Err(crate::Error::format(
                    &path,
                    "temporary file is shorter than its shape",
                ));
            }
            Ok(m)
        })();
        let _ = std::fs::remove_file(&path);
        result
    }
}

/// The mapped values as a slice of f64 without copying: a little-endian float64 map
/// whose data start is 8-byte aligned (always so for our files and for NPY headers,
/// which are padded to 64 bytes). `None` for float32 or an odd offset.
pub fn f64_view(m: &Mapped) -> Option<&[f64]> {
    if m.dtype != Dtype::F64 || cfg!(target_endian = "big") {
        return None;
    }
    // SAFETY: every bit pattern is a valid f64; align_to only reinterprets aligned bytes.
    let (pre, mid, _) = unsafe { m.raw().align_to::<f64>() };
    (pre.is_empty() && mid.len() == m.len()).then_some(mid)
}

/// Drop the resident pages of elements `e0..e1` of a read-only file map (they are
/// re-read from the file if touched again), keeping the RSS of a large stack bounded.
pub fn release(m: &Mapped, e0: usize, e1: usize) {
    let size = m.dtype.size();
    let start = m.offset + e0 * size;
    let page = page_size();
    // A read fault on a file map also maps neighbouring pages (the kernel's 64 KB
    // fault-around, or a whole large folio of the page cache, up to 2 MB), some of them
    // just before `start`, in the stretch the previous call already released: reach back
    // 2 MB so those go too, or a sequential pass leaves pages mapped behind every block
    // (measured: RSS 316 MB instead of ~100 MB for a 2.4 GB stack). Zapping page-table
    // entries that are already empty costs little.
    const FAULT_AROUND: usize = 2 << 20;
    let a = start.saturating_sub(FAULT_AROUND) / page * page;
    let end = (m.offset + e1 * size).min(m.map.len());
    if end > a {
        // The advice is only about memory, never about the values: if the kernel refuses
        // it (EINVAL where a map cannot be advised, e.g. under some sandboxes) the pages
        // stay resident until the map is dropped and the results are the same; only the
        // RSS bound is lost, which the run's `rss_mb` summary shows. So a refusal is not
        // an error of the run, and the result is deliberately not acted on.
        // SAFETY: the map is read-only and file-backed; MADV_DONTNEED only drops
        // pages, which are faulted in again from the file on the next access.
        #[cfg(unix)]
        let _refused_only_costs_memory = unsafe {
            m.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, a, end - a)
        };
    }
}
