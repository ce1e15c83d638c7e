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

/// A read-only map of the file at `path` and the open file behind it (kept for
/// [`Mapped::stream`]'s reads).
fn map(path: &Path) -> Result<(Arc<memmap2::Mmap>, Arc<std::fs::File>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let map = map_read_only(&file, path)?;
    Ok((Arc::new(map), Arc::new(file)))
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
    let (map, file) = map(path)?;
    let mut loaded = raw(path, map, Some(file))?;
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
    raw(name, Arc::new(m), None)
}

fn raw(path: &Path, map: Arc<memmap2::Mmap>, reader: Option<Arc<std::fs::File>>) -> Result<Loaded> {
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
        reader,
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
                reader: Some(Arc::new(f)),
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

/// Bytes per read of a streamed pass ([`Mapped::stream`]): 256 KiB, a quarter of the
/// 1 MiB L2 of the machine measured, so a block the kernel has just copied is still in L2
/// when the analysis reads it (1 MiB blocks measured the same, 4 MiB blocks slower).
pub const STREAM_BYTES: usize = 256 << 10;

/// The `block` of a [`Mapped::stream`] pass over records of `unit` float64 each (a
/// catalog row, a chunk of a stream, a spectrum): whole records, about [`STREAM_BYTES`]
/// in all, and at least one record.
pub fn stream_block(unit: usize) -> usize {
    (STREAM_BYTES / (unit.max(1) * 8)).max(1) * unit
}

impl Mapped {
    /// One sequential pass over elements `e0..e1`, handed to `f` in order in blocks of at
    /// most `block` elements, as `f(first element, values)`.
    ///
    /// A float64 map of a file is read with `pread` into `buf` (reused across blocks and
    /// calls), not through the map: no page of the map is faulted in or left resident, and
    /// the copy lands in a buffer still in cache for `f`. Faulting a map costs a page-table
    /// entry set and later cleared per 4 KiB page (half the time of a pass over a file in
    /// the page cache, measured with `perf record`). Other maps (float32, anonymous) are read
    /// through the map and their pages released after each block, as [`release`] does.
    ///
    /// # Errors
    /// A failed or short read (the file shrank or the disk failed) is an I/O error naming
    /// the file.
    pub fn stream(
        &self,
        e0: usize,
        e1: usize,
        block: usize,
        buf: &mut Vec<f64>,
        mut f: impl FnMut(usize, &[f64]),
    ) -> Result<()> {
        let block = block.max(1);
        let e1 = e1.min(self.len());
        if let Some(file) = self.pread_file() {
            let mut e = e0;
            while e < e1 {
                let n = block.min(e1 - e);
                if buf.len() < n {
                    buf.resize(n, 0.0);
                }
                self.pread_into(file, e, &mut buf[..n])?;
                f(e, &buf[..n]);
                e += n;
            }
            return Ok(());
        }
        let view = f64_view(self);
        let mut e = e0;
        while e < e1 {
            let n = block.min(e1 - e);
            match view {
                Some(d) => f(e, &d[e..e + n]),
                None => {
                    self.read_into(e, e + n, buf);
                    f(e, buf);
                }
            }
            release(self, e, e + n);
            e += n;
        }
        Ok(())
    }
}

impl Mapped {
    /// Elements `e0..e1` copied into `out` (resized to `e1 - e0`): with `pread` from a
    /// float64 map's file, as [`Mapped::stream`]; else through the map, whose pages are
    /// released after the copy.
    ///
    /// # Errors
    /// A failed or short read is an I/O error naming the file.
    pub fn read_block(&self, e0: usize, e1: usize, out: &mut Vec<f64>) -> Result<()> {
        if let Some(file) = self.pread_file() {
            out.resize(e1 - e0, 0.0);
            return self.pread_into(file, e0, out);
        }
        match f64_view(self) {
            Some(d) => {
                out.clear();
                out.extend_from_slice(&d[e0..e1]);
            }
            None => self.read_into(e0, e1, out),
        }
        release(self, e0, e1);
        Ok(())
    }

    /// [`Mapped::stream`] and [`Mapped::read_block`] read the file with `pread`, not the
    /// map (a little-endian float64 map of a file, on Unix).
    pub fn reads_with_pread(&self) -> bool {
        self.pread_file().is_some()
    }

    /// The file to `pread` from: a little-endian float64 map of a file (Unix).
    fn pread_file(&self) -> Option<&std::fs::File> {
        let ok = cfg!(all(unix, target_endian = "little")) && self.dtype == Dtype::F64;
        self.reader.as_deref().filter(|_| ok)
    }

    /// Elements from `e0` on, `dst.len()` of them, read from `file` at their offset.
    #[cfg(unix)]
    fn pread_into(&self, file: &std::fs::File, e0: usize, dst: &mut [f64]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        // SAFETY: the byte view covers exactly `dst`'s memory and lives only for this
        // read; every byte pattern is a valid f64.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(
                dst.as_mut_ptr().cast::<u8>(),
                std::mem::size_of_val(dst),
            )
        };
        file.read_exact_at(bytes, (self.offset + e0 * 8) as u64)
            .map_err(|err| {
                let name = self
                    .file
                    .as_deref()
                    .unwrap_or(Path::new("memory-mapped file"));
                Error::io(name, err)
            })
    }

    #[cfg(not(unix))]
    fn pread_into(&self, _file: &std::fs::File, e0: usize, dst: &mut [f64]) -> Result<()> {
        let n = dst.len();
        let mut v = Vec::with_capacity(n);
        self.read_into(e0, e0 + n, &mut v);
        dst.copy_from_slice(&v);
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw f64 file of `n` values (i * 0.5) in `dir`, loaded as a map.
    fn raw_file(dir: &Path, n: usize) -> (std::path::PathBuf, Mapped) {
        let path = dir.join("v.f64");
        let bytes: Vec<u8> = (0..n)
            .flat_map(|i| (i as f64 * 0.5).to_le_bytes())
            .collect();
        std::fs::write(&path, bytes).expect("write");
        let Dataset::Mapped(m) = load_raw(&path).expect("load").data else {
            panic!("not mapped");
        };
        (path, m)
    }

    #[test]
    fn stream_and_read_block_read_the_values_of_the_map() {
        let dir = tempfile::tempdir().expect("dir");
        let (_, m) = raw_file(dir.path(), 10_007);
        assert!(m.reader.is_some());
        let want = f64_view(&m).expect("view").to_vec();
        // Through pread, and through the map (the same values without the file).
        let no_file = Mapped {
            reader: None,
            ..m.clone()
        };
        for src in [&m, &no_file] {
            let mut got = Vec::new();
            let mut starts = Vec::new();
            let mut buf = Vec::new();
            src.stream(3, 10_007, 1000, &mut buf, |e, v| {
                starts.push(e);
                got.extend_from_slice(v);
            })
            .expect("stream");
            assert_eq!(got, want[3..]);
            assert_eq!(starts, (3..10_007).step_by(1000).collect::<Vec<_>>());
            src.read_block(17, 2017, &mut buf).expect("block");
            assert_eq!(buf, want[17..2017]);
        }
    }

    #[test]
    fn a_file_shorter_than_its_map_is_a_read_error_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        let (path, m) = raw_file(dir.path(), 1000);
        let m = Mapped {
            shape: vec![2000],
            file: Some(path.clone()),
            ..m
        };
        let err = m.read_block(500, 1500, &mut Vec::new()).expect_err("short");
        assert!(err.to_string().contains("v.f64"), "{err}");
    }
}
