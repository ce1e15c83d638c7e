//! NPY arrays (via `ndarray-npy`): the header is checked here first (dtype, order,
//! declared size against the file length) so a corrupt file cannot trigger a huge
//! allocation; then the array is read in its own dtype and converted to f64.

use super::checks::{classify_table, count_nonfinite, is_regular_grid, warn_nonfinite};
use super::mapped::{self, map_file};
use super::{Dataset, Dtype, Frame, Loaded, Mapped, Origin, Spectrum};
use crate::{Error, Result};
use ndarray::{Array2, ArrayD, Ix2};
use ndarray_npy::ReadNpyExt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// What an NPY header declares.
#[derive(Clone, Debug)]
pub struct NpyHeader {
    /// numpy type string, e.g. `<f8`.
    pub descr: String,
    pub fortran: bool,
    pub shape: Vec<usize>,
    /// Byte offset of the first element.
    pub data_offset: usize,
}

impl NpyHeader {
    /// Element type and whether it is little-endian (or single-byte).
    pub fn dtype(&self) -> Option<(Dtype, bool)> {
        // By characters: the descr is user text and may start with a multi-byte one.
        let mut chars = self.descr.chars();
        let order = chars.next()?;
        let code = chars.as_str();
        let little = matches!(order, '<' | '|' | '=');
        let big = order == '>';
        if !(little || big) {
            return None;
        }
        let t = match code {
            "f8" => Dtype::F64,
            "f4" => Dtype::F32,
            "i2" => Dtype::I16,
            "i4" => Dtype::I32,
            "i8" => Dtype::I64,
            "u1" => Dtype::U8,
            _ => return None,
        };
        Some((t, little))
    }

    pub fn n_elements(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b))
    }
}

/// Longest header accepted (numpy itself refuses headers above 10 000 bytes by default).
const MAX_HEADER: usize = 1 << 16;
/// Deepest bracket nesting accepted in a header (a real one nests 2 deep).
const MAX_NESTING: usize = 16;

/// Read and check the header of the NPY file at `path` (`file_len` bytes).
pub fn read_header(path: &Path, file_len: u64) -> Result<NpyHeader> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::new();
    f.take(12 + MAX_HEADER as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    parse_header(path, &head, file_len)
}

/// Parse and check an NPY header from the first bytes `head` of a file of `file_len`
/// bytes: the declared shape must fit in the file before anything is allocated.
pub fn parse_header(path: &Path, head: &[u8], file_len: u64) -> Result<NpyHeader> {
    let bad = |m: &str| Error::format(path, format!("corrupt NPY header: {m}"));
    if head.len() < 10 {
        return Err(bad("file shorter than the NPY preamble"));
    }
    if &head[..6] != b"\x93NUMPY" {
        return Err(bad("missing \\x93NUMPY magic"));
    }
    let major = head[6];
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([head[8], head[9]]) as usize, 10usize),
        2 | 3 => {
            if head.len() < 12 {
                return Err(bad("file shorter than the NPY preamble"));
            }
            (
                u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize,
                12usize,
            )
        }
        v => return Err(bad(&format!("unsupported NPY version {v}"))),
    };
    if hlen > MAX_HEADER {
        return Err(bad(&format!(
            "header of {hlen} bytes (at most {MAX_HEADER} are read)"
        )));
    }
    if (start + hlen) as u64 > file_len || start + hlen > head.len() {
        return Err(bad("header length runs past the end of the file"));
    }
    let h = String::from_utf8_lossy(&head[start..start + hlen]);
    let mut depth = 0usize;
    for c in h.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(bad(&format!("brackets nest deeper than {MAX_NESTING}")));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let field = |key: &str| -> Option<String> {
        let k = format!("'{key}'");
        let i = h.find(&k)? + k.len();
        let rest = h[i..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest.to_string())
    };
    let descr = field("descr")
        .and_then(|r| {
            let q = r.chars().next()?;
            let r = &r[q.len_utf8()..];
            Some(super::checks::shown(&r[..r.find(q)?]))
        })
        .ok_or_else(|| bad("no 'descr'"))?;
    let fortran = field("fortran_order")
        .map(|r| r.starts_with("True"))
        .ok_or_else(|| bad("no 'fortran_order'"))?;
    let shape_s = field("shape")
        .and_then(|r| Some(r.strip_prefix('(')?.split(')').next()?.to_string()))
        .ok_or_else(|| bad("no 'shape'"))?;
    let shape = shape_s
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad(&format!("bad shape ({})", super::checks::shown(&shape_s))))?;
    let hdr = NpyHeader {
        descr,
        fortran,
        shape,
        data_offset: start + hlen,
    };
    // Declared size against the file length, before anything is allocated.
    let size = hdr
        .dtype()
        .map_or(1, |(d, _)| d.size())
        .checked_mul(hdr.n_elements().ok_or_else(|| bad("shape overflows"))?)
        .ok_or_else(|| bad("shape overflows"))?;
    let avail = file_len.saturating_sub(hdr.data_offset as u64);
    if size as u64 > avail {
        return Err(Error::format(
            path,
            format!(
                "truncated or corrupt NPY: shape {:?} of '{}' needs {size} bytes but only {avail} follow the header",
                hdr.shape, hdr.descr
            ),
        ));
    }
    Ok(hdr)
}

fn read_as<T: ndarray_npy::ReadableElement + Copy>(
    path: &Path,
    bytes: &[u8],
    f: impl Fn(T) -> f64,
) -> Result<ArrayD<f64>> {
    let a = ArrayD::<T>::read_npy(std::io::Cursor::new(bytes)).map_err(|e| {
        Error::format(
            path,
            format!("cannot read NPY: {}", super::checks::shown(&e.to_string())),
        )
    })?;
    Ok(a.mapv(f))
}

/// Load an NPY file of `len` bytes into memory (read through a read-only map).
pub fn load(path: &Path, len: u64) -> Result<Loaded> {
    // The header first, from a few bytes: a corrupt shape is refused before mapping.
    read_header(path, len)?;
    // read through a read-only map, dropped before returning (the arrays are copied out)
    let map = map_file(path)?;
    load_bytes(path, &map)
}

/// Map a little-endian f64/f32 NPY in C order.
pub fn load_mapped(path: &Path) -> Result<Loaded> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let h = read_header(path, len)?;
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
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let m = Mapped {
        map: Arc::new(mapped::map_read_only(&file, path)?),
        offset: h.data_offset,
        dtype,
        shape: h.shape.clone(),
        file: Some(path.to_path_buf()),
        reader: Some(Arc::new(file)),
    };
    if m.offset + m.bytes() > m.map.len() {
        return Err(Error::format(path, "NPY data run past the end of the file"));
    }
    Ok(mapped::finish(
        path,
        m,
        format!("NPY '{}' {:?}, memory-mapped", h.descr, h.shape),
    ))
}

/// Load an NPY file whose bytes are in memory (`path` names it in messages).
pub fn load_bytes(path: &Path, bytes: &[u8]) -> Result<Loaded> {
    let h = parse_header(path, bytes, bytes.len() as u64)?;
    let Some((dtype, _little)) = h.dtype() else {
        return Err(Error::format(
            path,
            format!(
                "NPY dtype '{}' is not supported (float64, float32, int16, int32, int64, uint8)",
                h.descr
            ),
        ));
    };
    // Stored array + its f64 copy (+ one more copy for frame stacks), all checked.
    let n = h.n_elements().unwrap_or(usize::MAX) as u64;
    let copies = if h.shape.len() == 3 { 16 } else { 8 };
    let need = n.saturating_mul(dtype.size() as u64 + copies);
    super::checks::ensure_memory(
        path,
        &format!("NPY array of shape {:?} ('{}')", h.shape, h.descr),
        need,
    )?;
    let a = match dtype {
        Dtype::F64 => read_as::<f64>(path, bytes, |v| v)?,
        Dtype::F32 => read_as::<f32>(path, bytes, |v| v as f64)?,
        Dtype::I16 => read_as::<i16>(path, bytes, |v| v as f64)?,
        Dtype::I32 => read_as::<i32>(path, bytes, |v| v as f64)?,
        Dtype::I64 => read_as::<i64>(path, bytes, |v| v as f64)?,
        Dtype::U8 => read_as::<u8>(path, bytes, |v| v as f64)?,
    };
    let nonfinite = count_nonfinite(a.iter());
    let mut facts: Vec<(String, String)> = vec![
        ("format".into(), "NPY".into()),
        (
            "npy".into(),
            format!(
                "descr '{}', shape {:?}{}",
                h.descr,
                h.shape,
                if h.fortran { ", Fortran order" } else { "" }
            ),
        ),
    ];
    let src = path.display().to_string();
    let d = match a.ndim() {
        0 => {
            return Err(Error::format(
                path,
                "NPY holds a single number (0-d array), not a dataset",
            ))
        }
        1 => {
            let n = a.len();
            let t = a
                .into_shape_with_order((n, 1))
                .map_err(|e| Error::format(path, format!("shape: {e}")))?;
            facts.push(("read as".into(), "table of one column".into()));
            Dataset::Table(super::Table {
                columns: vec!["value".into()],
                data: t,
            })
        }
        2 => {
            let t: Array2<f64> = a
                .into_dimensionality::<Ix2>()
                .map_err(|e| Error::format(path, format!("shape: {e}")))?;
            let (nr, nc) = t.dim();
            if nc >= 16 && nr >= 2 {
                facts.push(("read as".into(), "image (rows x columns)".into()));
                Dataset::Frame(Frame {
                    data: t,
                    stored: dtype,
                })
            } else if (2..=3).contains(&nc) && is_regular_grid(t.column(0)) {
                facts.push((
                    "read as".into(),
                    "spectrum (first column is a regular grid: wavelength, flux[, error])".into(),
                ));
                Dataset::Spectrum(Spectrum {
                    wavelength: t.column(0).to_owned(),
                    flux: t.column(1).to_owned(),
                    error: (nc == 3).then(|| t.column(2).to_owned()),
                })
            } else {
                let names = (0..nc).map(|j| format!("col{}", j + 1)).collect();
                let (d, f) = classify_table(names, t, false);
                facts.extend(f);
                d
            }
        }
        3 => {
            let s = a.shape().to_vec();
            let mut frames = Vec::with_capacity(s[0]);
            for k in 0..s[0] {
                let fr = a
                    .index_axis(ndarray::Axis(0), k)
                    .to_owned()
                    .into_dimensionality::<Ix2>()
                    .map_err(|e| Error::format(path, format!("shape: {e}")))?;
                frames.push(Frame {
                    data: fr,
                    stored: dtype,
                });
            }
            facts.push(("read as".into(), "stack of frames (axis 0 = frame)".into()));
            Dataset::FrameBatch(frames)
        }
        d => {
            return Err(Error::format(
                path,
                format!("{d}-dimensional NPY array {:?} is not supported", h.shape),
            ))
        }
    };
    let mut l = Loaded::new(d, src, Origin::File);
    l.info.facts.extend(facts);
    Ok(warn_nonfinite(l, nonfinite, "NaN in the array"))
}
