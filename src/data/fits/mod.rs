//! FITS: primary and IMAGE-extension images of every BITPIX, 1-D image spectra with a
//! linear or log-linear wavelength solution, and BINTABLE columns guessed by name.
//!
//! The header cards are parsed by `fitsrs`; before it runs, a structural pre-scan of our
//! own walks the 2880-byte blocks with checked arithmetic and compares every declared
//! data size with the file length, so a truncated file or a header declaring absurd
//! sizes is refused before anything is allocated. The data units are decoded here from
//! the memory-mapped bytes (big-endian), with BSCALE/BZERO/BLANK (TSCALn/TZEROn/TNULLn)
//! applied: fitsrs returns stored values only.

use super::checks::{classify_table, count_nonfinite, warn_nonfinite};
use super::{Dataset, Dtype, Frame, Loaded, Origin, Spectrum};
use crate::{Error, Result};
use ndarray::{Array1, Array2};
use std::path::Path;

mod prescan;

use prescan::{prescan, HduLayout};

/// FITS block and card sizes in bytes.
const BLOCK: usize = 2880;
const CARD: usize = 80;

/// A header value as the loader uses it.
#[derive(Clone, Debug, PartialEq)]
pub enum HVal {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl HVal {
    fn as_f64(&self) -> Option<f64> {
        match self {
            HVal::Int(i) => Some(*i as f64),
            HVal::Float(f) => Some(*f),
            HVal::Str(s) => s.trim().replace(['D', 'd'], "E").parse().ok(),
            HVal::Bool(_) => None,
        }
    }
    fn show(&self) -> String {
        match self {
            HVal::Int(i) => i.to_string(),
            HVal::Float(f) => format!("{f}"),
            HVal::Str(s) => s.trim_end().to_string(),
            HVal::Bool(b) => if *b { "T" } else { "F" }.to_string(),
        }
    }
}

/// The cards of one header, last occurrence of a keyword wins.
#[derive(Clone, Debug, Default)]
struct Header {
    cards: Vec<(String, HVal)>,
}

impl Header {
    fn get(&self, k: &str) -> Option<&HVal> {
        self.cards
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v)
    }
    fn f64(&self, k: &str) -> Option<f64> {
        self.get(k).and_then(HVal::as_f64)
    }
    fn str(&self, k: &str) -> Option<String> {
        match self.get(k)? {
            HVal::Str(s) => Some(s.trim().to_string()),
            other => Some(other.show()),
        }
    }
}

fn from_fitsrs(v: &fitsrs::card::Value) -> Option<HVal> {
    use fitsrs::card::Value;
    match v {
        Value::Integer { value, .. } => Some(HVal::Int(*value)),
        Value::Float { value, .. } => Some(HVal::Float(*value)),
        Value::Logical { value, .. } => Some(HVal::Bool(*value)),
        Value::String { value, .. } => Some(HVal::Str(super::checks::one_line(value))),
        Value::Undefined | Value::Invalid(_) => None,
    }
}

/// Parse the headers with fitsrs (guarded: a panic inside it becomes an error).
fn headers(path: &Path, bytes: &[u8], expect: usize) -> Result<Vec<Header>> {
    let run = || -> std::result::Result<Vec<Header>, String> {
        let mut out = Vec::new();
        let mut fits = fitsrs::Fits::from_reader(std::io::Cursor::new(bytes));
        while out.len() < expect {
            let Some(hdu) = fits.next() else { break };
            let hdu = hdu.map_err(|e| {
                format!(
                    "HDU {}: {}",
                    out.len(),
                    super::checks::shown(&e.to_string())
                )
            })?;
            let cards: Vec<(String, HVal)> = match &hdu {
                fitsrs::HDU::Primary(h) | fitsrs::HDU::XImage(h) => h
                    .get_header()
                    .iter()
                    .filter_map(|(k, v)| from_fitsrs(v).map(|v| (k.to_string(), v)))
                    .collect(),
                fitsrs::HDU::XBinaryTable(h) => h
                    .get_header()
                    .iter()
                    .filter_map(|(k, v)| from_fitsrs(v).map(|v| (k.to_string(), v)))
                    .collect(),
                fitsrs::HDU::XASCIITable(h) => h
                    .get_header()
                    .iter()
                    .filter_map(|(k, v)| from_fitsrs(v).map(|v| (k.to_string(), v)))
                    .collect(),
            };
            out.push(Header { cards });
        }
        Ok(out)
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(h)) if !h.is_empty() => Ok(h),
        Ok(Ok(_)) => Err(Error::format(path, "fitsrs found no HDU")),
        Ok(Err(e)) => Err(Error::format(
            path,
            format!("cannot parse FITS header: {e}"),
        )),
        Err(_) => Err(Error::format(
            path,
            "cannot parse FITS header (the FITS reader failed on malformed content)",
        )),
    }
}

/// Load a FITS file of `len` bytes.
pub fn load(path: &Path, _len: u64) -> Result<Loaded> {
    // Opened read-only and mapped read-only: the user's file is never written. The map is
    // dropped before returning; a file truncated by another process while we read it is
    // outside what any loader can guard against.
    let map = super::mapped::map_file(path)?;
    load_bytes(path, &map)
}

/// Load a FITS file whose bytes are in memory (`path` names it in messages).
pub fn load_bytes(path: &Path, bytes: &[u8]) -> Result<Loaded> {
    let mut warnings = Vec::new();
    let layout = prescan(path, bytes, &mut warnings)?;
    let hdrs = headers(path, bytes, layout.len())?;
    if hdrs.len() < layout.len() {
        warnings.push(format!(
            "only {} of {} HDUs could be parsed",
            hdrs.len(),
            layout.len()
        ));
    }
    // The first HDU that holds data we can use.
    let usable = |h: &HduLayout| {
        h.data_len > 0
            && (h.xtension == "primary" || h.xtension == "IMAGE" || h.xtension == "BINTABLE")
            && h.naxis.iter().all(|&a| a > 0)
    };
    let Some(k) = (0..hdrs.len()).find(|&i| usable(&layout[i])) else {
        let kinds: Vec<&str> = layout.iter().map(|h| h.xtension.as_str()).collect();
        return Err(Error::format(
            path,
            format!(
                "no image or binary-table data in any HDU ({} HDUs: {})",
                layout.len(),
                kinds.join(", ")
            ),
        ));
    };
    let lay = &layout[k];
    let hdr = &hdrs[k];
    // Decoded as f64 (8 bytes a value whatever BITPIX): refuse before allocating when
    // that is more than the memory available (a BITPIX = 8 file grows eightfold).
    let values = (lay.data_len / (lay.bitpix.unsigned_abs() as usize / 8).max(1)) as u64;
    let copies = if lay.xtension == "BINTABLE" || lay.naxis.len() >= 3 {
        24
    } else {
        8
    };
    super::checks::ensure_memory(
        path,
        &format!(
            "HDU {k} ({}, BITPIX = {}, NAXISn = {:?})",
            lay.xtension, lay.bitpix, lay.naxis
        ),
        values.saturating_mul(copies),
    )?;
    let data = &bytes[lay.data_start..lay.data_start + lay.data_len];
    let mut facts: Vec<(String, String)> = vec![("format".into(), "FITS".into())];
    let name = hdr
        .str("EXTNAME")
        .map(|n| format!(" '{n}'"))
        .unwrap_or_default();
    facts.push((
        "HDU".into(),
        format!("{k} of {} ({}{name})", layout.len(), lay.xtension),
    ));
    let loaded = if lay.xtension == "BINTABLE" {
        bintable(path, hdr, lay, data, &mut facts)?
    } else {
        image(path, hdr, lay, data, &mut facts, &mut warnings)?
    };
    // Key header facts from this HDU, else the primary.
    for key in [
        "OBJECT", "TELESCOP", "INSTRUME", "DATE-OBS", "EXPTIME", "BUNIT", "VELOCITY", "REDSHIFT",
        "PERIOD",
    ] {
        let v = hdr.str(key).or_else(|| hdrs[0].str(key));
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            facts.push((key.into(), v));
        }
    }
    let mut l = loaded;
    l.info.facts.extend(facts);
    l.info.warnings.extend(warnings);
    Ok(l)
}

fn dtype_of(bitpix: i64) -> Dtype {
    match bitpix {
        8 => Dtype::U8,
        16 => Dtype::I16,
        32 => Dtype::I32,
        64 => Dtype::I64,
        -32 => Dtype::F32,
        _ => Dtype::F64,
    }
}

/// Decode big-endian stored values into physical f64: BLANK -> NaN (integers), then
/// `stored * BSCALE + BZERO`. Like astropy (`fits.getdata`), scaled BITPIX 8/16 data are
/// computed in float32 (each step rounded to f32) and everything else in float64, so the
/// values equal what the Python reference sees; the f32 rounding (~1e-7 relative) is far
/// below the quantisation step BSCALE of such files.
fn decode(bytes: &[u8], bitpix: i64, bscale: f64, bzero: f64, blank: Option<i64>) -> Vec<f64> {
    let scaled = bscale != 1.0 || bzero != 0.0;
    let f32_math = scaled && (bitpix == 8 || bitpix == 16);
    let (bs32, bz32) = (bscale as f32, bzero as f32);
    let phys = |s: f64| {
        if f32_math {
            ((s as f32) * bs32 + bz32) as f64
        } else if scaled {
            s * bscale + bzero
        } else {
            s
        }
    };
    let int = |v: i64| {
        if blank == Some(v) {
            f64::NAN
        } else {
            phys(v as f64)
        }
    };
    match bitpix {
        8 => bytes.iter().map(|&b| int(b as i64)).collect(),
        16 => bytes
            .chunks_exact(2)
            .map(|c| int(i16::from_be_bytes([c[0], c[1]]) as i64))
            .collect(),
        32 => bytes
            .chunks_exact(4)
            .map(|c| int(i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as i64))
            .collect(),
        64 => bytes
            .chunks_exact(8)
            .map(|c| {
                int(i64::from_be_bytes([
                    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                ]))
            })
            .collect(),
        -32 => bytes
            .chunks_exact(4)
            .map(|c| phys(f32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f64))
            .collect(),
        _ => bytes
            .chunks_exact(8)
            .map(|c| {
                phys(f64::from_be_bytes([
                    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                ]))
            })
            .collect(),
    }
}

fn image(
    path: &Path,
    hdr: &Header,
    lay: &HduLayout,
    data: &[u8],
    facts: &mut Vec<(String, String)>,
    warnings: &mut Vec<String>,
) -> Result<Loaded> {
    facts.push(("BITPIX".into(), lay.bitpix.to_string()));
    for (i, a) in lay.naxis.iter().enumerate() {
        facts.push((format!("NAXIS{}", i + 1), a.to_string()));
    }
    let bscale = hdr.f64("BSCALE").unwrap_or(1.0);
    let bzero = hdr.f64("BZERO").unwrap_or(0.0);
    if hdr.get("BSCALE").is_some() || hdr.get("BZERO").is_some() {
        facts.push(("BSCALE".into(), format!("{bscale}")));
        facts.push(("BZERO".into(), format!("{bzero}")));
        if (bscale != 1.0 || bzero != 0.0) && (lay.bitpix == 8 || lay.bitpix == 16) {
            facts.push((
                "scaling".into(),
                "stored * BSCALE + BZERO in float32, as astropy does for BITPIX 8/16".into(),
            ));
        }
    }
    let blank = if lay.bitpix > 0 {
        hdr.get("BLANK").and_then(|v| match v {
            HVal::Int(i) => Some(*i),
            _ => None,
        })
    } else {
        None
    };
    if let Some(b) = blank {
        facts.push(("BLANK".into(), b.to_string()));
    }
    // Drop trailing axes of length 1 (a 1-row "2-D" spectrum is a spectrum).
    let mut shape: Vec<usize> = lay.naxis.iter().map(|&a| a as usize).collect();
    while shape.len() > 1 && shape.last() == Some(&1) {
        shape.pop();
    }
    let mut vals = decode(data, lay.bitpix, bscale, bzero, blank);
    // GCOUNT/PCOUNT (not used by images) can make the data unit longer than the image.
    vals.truncate(shape.iter().product());
    let nonfinite = count_nonfinite(&vals);
    let stored = dtype_of(lay.bitpix);
    let src = path.display().to_string();
    let loaded = match shape.len() {
        1 => {
            let n = shape[0];
            let flux = Array1::from_vec(vals);
            let wavelength = wavelengths(hdr, n, facts, warnings);
            Loaded::new(
                Dataset::Spectrum(Spectrum {
                    wavelength,
                    flux,
                    error: None,
                }),
                src,
                Origin::File,
            )
        }
        2 => {
            let (cols, rows) = (shape[0], shape[1]);
            let a = Array2::from_shape_vec((rows, cols), vals)
                .map_err(|e| Error::format(path, format!("image shape: {e}")))?;
            Loaded::new(Dataset::Frame(Frame { data: a, stored }), src, Origin::File)
        }
        3 => {
            let (cols, rows, nf) = (shape[0], shape[1], shape[2]);
            let per = rows * cols;
            let mut frames = Vec::with_capacity(nf);
            for f in 0..nf {
                let a = Array2::from_shape_vec((rows, cols), vals[f * per..(f + 1) * per].to_vec())
                    .map_err(|e| Error::format(path, format!("image shape: {e}")))?;
                frames.push(Frame { data: a, stored });
            }
            Loaded::new(Dataset::FrameBatch(frames), src, Origin::File)
        }
        d => {
            return Err(Error::format(
                path,
                format!("{d}-dimensional image (NAXISn = {:?}) is not supported; 1-D spectra, 2-D frames and 3-D frame stacks are", lay.naxis),
            ))
        }
    };
    Ok(warn_nonfinite(
        loaded,
        nonfinite,
        "BLANK pixels or NaN in the data",
    ))
}

/// The wavelength of each pixel from CRVAL1/CDELT1 (or CD1_1)/CRPIX1, log-linear when
/// DC-FLAG = 1: `x_i = CRVAL1 + (i + 1 - CRPIX1) * CDELT1`, `lambda = 10^x` if log.
fn wavelengths(
    hdr: &Header,
    n: usize,
    facts: &mut Vec<(String, String)>,
    warnings: &mut Vec<String>,
) -> Array1<f64> {
    let crval = hdr.f64("CRVAL1");
    let cdelt = hdr.f64("CDELT1").or_else(|| hdr.f64("CD1_1"));
    let crpix = hdr.f64("CRPIX1").unwrap_or(1.0);
    let (Some(crval), Some(cdelt)) = (crval, cdelt) else {
        warnings.push(
            "no wavelength solution (CRVAL1 and CDELT1/CD1_1); using the pixel index as wavelength"
                .into(),
        );
        facts.push((
            "wavelength".into(),
            "pixel index (no solution in header)".into(),
        ));
        return Array1::from_iter((0..n).map(|i| i as f64));
    };
    let log = hdr.f64("DC-FLAG") == Some(1.0);
    let x = |i: usize| crval + (i as f64 + 1.0 - crpix) * cdelt;
    let wl: Array1<f64> = if log {
        Array1::from_iter((0..n).map(|i| 10f64.powf(x(i))))
    } else {
        Array1::from_iter((0..n).map(x))
    };
    let unit = hdr
        .str("CUNIT1")
        .unwrap_or_else(|| "Angstrom (assumed)".into());
    facts.push((
        "wavelength".into(),
        format!(
            "{} CRVAL1={crval} CDELT1={cdelt} CRPIX1={crpix}{}: {:.2}..{:.2} {unit}",
            if log { "log-linear" } else { "linear" },
            if log {
                " (DC-FLAG=1, log10 lambda)"
            } else {
                ""
            },
            wl.first().copied().unwrap_or(f64::NAN),
            wl.last().copied().unwrap_or(f64::NAN),
        ),
    ));
    wl
}

/// One BINTABLE field: its name, type code, repeat count and byte offset in the row.
#[derive(Debug)]
struct Field {
    name: String,
    code: char,
    repeat: usize,
    offset: usize,
}

/// Bytes of a field of `repeat` values of type `code`; `None` for an unknown code or a
/// width that overflows.
fn width(code: char, repeat: usize) -> Option<usize> {
    match code {
        'L' | 'B' | 'A' => Some(repeat),
        'X' => Some(repeat.div_ceil(8)),
        'I' => repeat.checked_mul(2),
        'J' | 'E' => repeat.checked_mul(4),
        'K' | 'D' | 'C' | 'P' => repeat.checked_mul(8),
        'M' | 'Q' => repeat.checked_mul(16),
        _ => None,
    }
}

fn bintable(
    path: &Path,
    hdr: &Header,
    lay: &HduLayout,
    data: &[u8],
    facts: &mut Vec<(String, String)>,
) -> Result<Loaded> {
    let (row_len, nrows) = match lay.naxis.as_slice() {
        [a, b] => (*a as usize, *b as usize),
        _ => return Err(Error::format(path, "BINTABLE without NAXIS = 2")),
    };
    if hdr.get("ZIMAGE") == Some(&HVal::Bool(true)) {
        return Err(Error::format(
            path,
            "tile-compressed FITS image (ZIMAGE = T) is not supported; decompress it first (e.g. funpack)",
        ));
    }
    let tfields = hdr.f64("TFIELDS").unwrap_or(0.0);
    if !(0.0..=999.0).contains(&tfields) {
        return Err(Error::format(
            path,
            format!("BINTABLE declares TFIELDS = {tfields}"),
        ));
    }
    let mut fields = Vec::new();
    let mut off = 0usize;
    for i in 1..=tfields as usize {
        let tform = hdr
            .str(&format!("TFORM{i}"))
            .ok_or_else(|| Error::format(path, format!("BINTABLE column {i} has no TFORM{i}")))?;
        let t = tform.trim();
        let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
        let repeat: usize = if digits.is_empty() {
            1
        } else {
            digits
                .parse()
                .map_err(|_| Error::format(path, format!("bad TFORM{i} = '{t}'")))?
        };
        let code = t[digits.len()..]
            .chars()
            .next()
            .unwrap_or('?')
            .to_ascii_uppercase();
        let w = width(code, repeat)
            .ok_or_else(|| Error::format(path, format!("unknown or oversized TFORM{i} = '{t}'")))?;
        let name = hdr
            .str(&format!("TTYPE{i}"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("col{i}"));
        fields.push(Field {
            name,
            code,
            repeat,
            offset: off,
        });
        off = off
            .checked_add(w)
            .ok_or_else(|| Error::format(path, "BINTABLE row width overflows"))?;
    }
    if off != row_len {
        return Err(Error::format(
            path,
            format!(
                "BINTABLE columns (TFORMn) add up to {off} bytes per row but NAXIS1 = {row_len}"
            ),
        ));
    }
    if nrows.checked_mul(row_len).is_none_or(|b| b > data.len()) {
        return Err(Error::format(
            path,
            format!("BINTABLE of {nrows} rows x {row_len} bytes does not fit its data unit"),
        ));
    }
    let numeric = |c: char| matches!(c, 'L' | 'B' | 'I' | 'J' | 'K' | 'E' | 'D');
    // A single-row table with array columns (one spectrum per row) is read along the arrays.
    let arrays = nrows == 1 && fields.iter().any(|f| numeric(f.code) && f.repeat > 1);
    let mut names = Vec::new();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    let mut skipped = Vec::new();
    let mut units = Vec::new();
    let mut len = None;
    for (i, f) in fields.iter().enumerate() {
        let ok = numeric(f.code) && if arrays { f.repeat > 1 } else { f.repeat == 1 };
        if !ok || (arrays && len.is_some_and(|l| l != f.repeat)) {
            skipped.push(format!("{} ({}{})", f.name, f.repeat, f.code));
            continue;
        }
        len = Some(f.repeat);
        let k = i + 1;
        let tscal = hdr.f64(&format!("TSCAL{k}")).unwrap_or(1.0);
        let tzero = hdr.f64(&format!("TZERO{k}")).unwrap_or(0.0);
        let tnull = match hdr.get(&format!("TNULL{k}")) {
            Some(HVal::Int(v)) => Some(*v),
            _ => None,
        };
        let mut v = Vec::with_capacity(if arrays { f.repeat } else { nrows });
        let (nr, nper) = if arrays { (1, f.repeat) } else { (nrows, 1) };
        for r in 0..nr {
            for j in 0..nper {
                let w = match f.code {
                    'L' | 'B' => 1,
                    'I' => 2,
                    'J' | 'E' => 4,
                    _ => 8,
                };
                let p = r * row_len + f.offset + j * w;
                let b = &data[p..p + w];
                v.push(decode_cell(f.code, b, tscal, tzero, tnull));
            }
        }
        // The unit goes into the name ("TIME [d]"): roles ignore it, light curves take
        // their axes' units from it.
        match hdr.str(&format!("TUNIT{k}")).filter(|u| !u.is_empty()) {
            Some(u) => {
                units.push(format!("{} [{u}]", f.name));
                names.push(format!("{} [{u}]", f.name));
            }
            None => names.push(f.name.clone()),
        }
        cols.push(v);
    }
    if !units.is_empty() {
        facts.push(("units".into(), units.join(", ")));
    }
    if !skipped.is_empty() {
        facts.push(("skipped columns".into(), skipped.join(", ")));
    }
    let n = if arrays { len.unwrap_or(0) } else { nrows };
    if cols.is_empty() || n == 0 {
        return Err(Error::format(
            path,
            "BINTABLE has no numeric scalar columns (or no rows) to read",
        ));
    }
    facts.push(("rows".into(), n.to_string()));
    let ncol = cols.len();
    let mut a = Array2::<f64>::zeros((n, ncol));
    for (j, c) in cols.iter().enumerate() {
        for (i, &x) in c.iter().enumerate() {
            a[[i, j]] = x;
        }
    }
    let nonfinite = count_nonfinite(a.iter());
    let (d, cfacts) = classify_table(names, a, false);
    facts.extend(cfacts);
    let l = Loaded::new(d, path.display().to_string(), Origin::File);
    Ok(warn_nonfinite(
        l,
        nonfinite,
        "TNULL cells or NaN in the table",
    ))
}

fn decode_cell(code: char, b: &[u8], tscal: f64, tzero: f64, tnull: Option<i64>) -> f64 {
    let scale = |x: f64| {
        if tscal != 1.0 || tzero != 0.0 {
            x * tscal + tzero
        } else {
            x
        }
    };
    let int = |v: i64| {
        if tnull == Some(v) {
            f64::NAN
        } else {
            scale(v as f64)
        }
    };
    match code {
        'L' => match b[0] {
            b'T' => 1.0,
            b'F' => 0.0,
            _ => f64::NAN,
        },
        'B' => int(b[0] as i64),
        'I' => int(i16::from_be_bytes([b[0], b[1]]) as i64),
        'J' => int(i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64),
        'K' => int(i64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ])),
        'E' => scale(f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64),
        _ => scale(f64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ])),
    }
}
