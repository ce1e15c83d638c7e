//! CSV and whitespace-separated text tables: `#` comments, an optional header line (or a
//! header in the last comment line before the data, as in MACHO `.mjd` files, or
//! SExtractor's `#   1 NAME` column list), numbers only in the data lines.

use super::checks::{
    classify_table, count_nonfinite, is_regular_grid, one_line, shown, warn_nonfinite,
};
use super::{Dataset, Dtype, Frame, Loaded, Origin, Spectrum};
use crate::{Error, Result};
use ndarray::Array2;
use std::path::Path;

/// Text tables above this size are refused (they would be better as NPY).
const MAX_TEXT: u64 = 4 << 30;

fn parse_num(s: &str) -> Option<f64> {
    let t = s.trim().trim_matches('"').trim();
    if t.is_empty() {
        return Some(f64::NAN);
    }
    t.parse::<f64>().ok().or_else(|| {
        // Fortran-style exponents (1.0D+03).
        if t.contains(['D', 'd']) {
            t.replace(['D', 'd'], "E").parse().ok()
        } else {
            None
        }
    })
}

fn is_num(s: &str) -> bool {
    let t = s.trim().trim_matches('"').trim();
    !t.is_empty() && parse_num(t).is_some()
}

/// Most values on one line: a wider "table" is a corrupt or binary file, and the first
/// line's fields are kept as strings (for the header test) before anything is parsed.
const MAX_COLUMNS: usize = 1 << 20;

/// Load a text table of `len` bytes.
pub fn load(path: &Path, len: u64) -> Result<Loaded> {
    if len > MAX_TEXT {
        return Err(too_large(path, len));
    }
    // The whole file is read: refuse before reading one larger than the free memory.
    super::checks::ensure_memory(path, "text file", len)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_bytes(path, &bytes)
}

fn too_large(path: &Path, len: u64) -> Error {
    Error::format(
        path,
        format!(
            "text file of {len} bytes is too large to parse (limit {MAX_TEXT}); convert it to NPY"
        ),
    )
}

/// Load a text table whose bytes are in memory (`path` names it in messages and its
/// extension picks CSV / `.mjd` conventions).
pub fn load_bytes(path: &Path, bytes: &[u8]) -> Result<Loaded> {
    if bytes.len() as u64 > MAX_TEXT {
        return Err(too_large(path, bytes.len() as u64));
    }
    if bytes.contains(&0) {
        return Err(Error::format(
            path,
            "not a text table: the file contains binary (NUL) bytes",
        ));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = String::from_utf8_lossy(body);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (comments, first_data) = leading_comments(&text);
    let Some(first) = first_data else {
        return Err(Error::format(
            path,
            "no data lines (only comments or blank lines)",
        ));
    };
    let comma = ext == "csv" || first.contains(',');
    let mut rows = Rows {
        path,
        // At most this many data lines: with the column count it bounds the table's size.
        max_lines: body.iter().filter(|&&b| b == b'\n').count() as u64 + 1,
        header: None,
        seen_row: false,
        ncol: None,
        nrow: 0,
        data: Vec::new(),
    };
    let mut on_row = |line: usize, fields: &[&str]| rows.push(line, fields);
    if comma {
        visit_csv(path, body, &mut on_row)?;
    } else {
        visit_ws(&text, &mut on_row)?;
    }
    if !rows.seen_row {
        return Err(Error::format(path, "no data lines"));
    }
    let Some(ncol) = rows.ncol else {
        return Err(Error::format(path, "a header line but no data lines"));
    };
    let mut header = rows.header;
    let mut header_src = header.as_ref().map(|_| "first line");
    let a = Array2::from_shape_vec((rows.nrow, ncol), rows.data)
        .map_err(|e| Error::format(path, format!("table shape: {e}")))?;
    if header.is_none() {
        if let Some(h) = header_from_comments(&comments, ncol) {
            header = Some(h);
            header_src = Some("comment line");
        }
    }
    let mut warnings = Vec::new();
    if let Some(h) = &header {
        if h.len() != ncol {
            warnings.push(format!(
                "the header has {} names but the data have {ncol} columns; names matched by position",
                h.len()
            ));
        }
    }
    let nonfinite = count_nonfinite(a.iter());
    let mut facts: Vec<(String, String)> = vec![(
        "format".into(),
        if comma {
            "CSV text"
        } else {
            "whitespace-separated text"
        }
        .into(),
    )];
    let src = path.display().to_string();
    let (d, cfacts) = match header {
        Some(h) => {
            facts.push((
                "header".into(),
                format!("{} ({})", h.join(", "), header_src.unwrap_or("")),
            ));
            classify_table(h, a, ext == "mjd")
        }
        None => {
            facts.push(("header".into(), "none (bare numbers)".into()));
            bare(a, ext == "mjd")
        }
    };
    facts.extend(cfacts);
    let mut l = Loaded::new(d, src, Origin::File);
    l.info.facts.extend(facts);
    l.info.warnings.extend(warnings);
    Ok(warn_nonfinite(l, nonfinite, "'nan' or empty cells"))
}

/// The comment lines before the first data line (for a header hidden in comments), and
/// that line (`None` when there is none).
fn leading_comments(text: &str) -> (Vec<&str>, Option<&str>) {
    let mut comments: Vec<&str> = Vec::new();
    for l in text.lines() {
        let t = l.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(c) = t.strip_prefix('#') {
            comments.push(c);
            continue;
        }
        return (comments, Some(t));
    }
    (comments, None)
}

/// The table as its rows arrive: parsed straight into one f64 buffer (no per-field
/// strings); the first row is a header when any of its fields is not a number.
struct Rows<'a> {
    path: &'a Path,
    /// Most data lines the file can hold (its line count).
    max_lines: u64,
    header: Option<Vec<String>>,
    seen_row: bool,
    /// Fields of the first data line, which every line must have.
    ncol: Option<usize>,
    nrow: usize,
    data: Vec<f64>,
}

impl Rows<'_> {
    /// Take line `line`'s fields: the header, or a row of numbers as wide as the first.
    fn push(&mut self, line: usize, fields: &[&str]) -> Result<()> {
        let path = self.path;
        if fields.len() > MAX_COLUMNS {
            return Err(Error::format(
                path,
                format!(
                    "line {line} has {} fields (at most {MAX_COLUMNS} columns are read); not a table",
                    fields.len()
                ),
            ));
        }
        if !self.seen_row {
            self.seen_row = true;
            if fields.iter().any(|f| !f.trim().is_empty() && !is_num(f)) {
                self.header = Some(fields.iter().map(|f| one_line(f.trim())).collect());
                return Ok(());
            }
        }
        let n = match self.ncol {
            Some(n) => n,
            None => self.first_width(fields.len())?,
        };
        if fields.len() != n {
            return Err(Error::format(
                path,
                format!(
                    "line {line} has {} values, but the first data line has {n}",
                    fields.len()
                ),
            ));
        }
        for (j, f) in fields.iter().enumerate() {
            match parse_num(f) {
                Some(v) => self.data.push(v),
                None => {
                    let col = self
                        .header
                        .as_ref()
                        .and_then(|h| h.get(j))
                        .map(|n| format!(" ('{}')", shown(n)))
                        .unwrap_or_default();
                    return Err(Error::format(
                        path,
                        format!(
                            "line {line}: column {}{col} holds '{}', which is not a number",
                            j + 1,
                            shown(f.trim())
                        ),
                    ));
                }
            }
        }
        self.nrow += 1;
        Ok(())
    }

    /// The first data line sets the width: the table (and the per-column copies a
    /// dataset makes) must fit in memory.
    fn first_width(&mut self, n: usize) -> Result<usize> {
        let max_lines = self.max_lines;
        let cells = max_lines.saturating_mul(n as u64);
        super::checks::ensure_memory(
            self.path,
            &format!("a table of up to {max_lines} lines x {n} columns"),
            cells.saturating_mul(16),
        )?;
        self.ncol = Some(n);
        Ok(n)
    }
}

/// A header hidden in the comments: the last comment line before the data whose word
/// count equals the column count and which is not all numbers; or SExtractor's
/// `#   1 NUMBER  description [unit]` list.
fn header_from_comments(comments: &[&str], ncol: usize) -> Option<Vec<String>> {
    // SExtractor: "#  <index> <NAME> ..."; vector columns leave index gaps.
    let mut sex: Vec<(usize, String)> = Vec::new();
    for c in comments {
        let mut w = c.split_whitespace();
        if let (Some(i), Some(n)) = (w.next(), w.next()) {
            if let Ok(i) = i.parse::<usize>() {
                if !is_num(n) {
                    sex.push((i, n.to_string()));
                    continue;
                }
            }
        }
        sex.clear();
        break;
    }
    if !sex.is_empty() && sex.len() == comments.len() && sex[0].0 == 1 {
        let mut names = Vec::with_capacity(ncol);
        for k in 0..sex.len() {
            let (i, n) = &sex[k];
            let next = sex.get(k + 1).map_or(ncol + 1, |(j, _)| *j);
            if next <= *i {
                return None;
            }
            for m in 0..(next - i) {
                names.push(if m == 0 {
                    n.clone()
                } else {
                    format!("{n}_{m}")
                });
            }
        }
        if names.len() == ncol {
            return Some(names);
        }
    }
    comments.iter().rev().find_map(|c| {
        let w: Vec<String> = c.split_whitespace().map(str::to_string).collect();
        (w.len() == ncol && w.iter().any(|x| !is_num(x))).then_some(w)
    })
}

/// Columns without names: a wide matrix is an image; two or three columns whose first
/// is a regular grid are a spectrum; a `.mjd` file is MJD, magnitude, error; else a table.
fn bare(a: Array2<f64>, mjd: bool) -> (Dataset, Vec<(String, String)>) {
    let (nrow, ncol) = a.dim();
    if ncol >= 16 && nrow >= 2 {
        return (
            Dataset::Frame(Frame {
                data: a,
                stored: Dtype::F64,
            }),
            vec![("read as".into(), "image (bare matrix: line = row)".into())],
        );
    }
    let names: Vec<String> = (0..ncol).map(|j| format!("col{}", j + 1)).collect();
    if mjd && (2..=3).contains(&ncol) {
        let mut n = vec!["mjd".to_string(), "mag".to_string(), "mag_err".to_string()];
        n.truncate(ncol);
        return classify_table(n, a, true);
    }
    if (2..=3).contains(&ncol) && is_regular_grid(a.column(0)) {
        let d = Dataset::Spectrum(Spectrum {
            wavelength: a.column(0).to_owned(),
            flux: a.column(1).to_owned(),
            error: (ncol == 3).then(|| a.column(2).to_owned()),
        });
        return (
            d,
            vec![(
                "read as".into(),
                "spectrum (first column is a regular grid: wavelength, flux[, error])".into(),
            )],
        );
    }
    classify_table(names, a, false)
}

/// Call `f(line, fields)` for every CSV record with a non-empty field.
fn visit_csv(
    path: &Path,
    bytes: &[u8],
    f: &mut dyn FnMut(usize, &[&str]) -> Result<()>,
) -> Result<()> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => {
                return Err(Error::format(
                    path,
                    format!("CSV: {}", shown(&e.to_string())),
                ))
            }
        }
        if rec.iter().all(|x| x.is_empty()) {
            continue;
        }
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let fields: Vec<&str> = rec.iter().collect();
        f(line, &fields)?;
    }
}

/// Call `f(line, fields)` for every non-blank line (text after `#` dropped).
fn visit_ws(text: &str, f: &mut dyn FnMut(usize, &[&str]) -> Result<()>) -> Result<()> {
    let mut fields: Vec<&str> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        fields.clear();
        fields.extend(l.split_whitespace());
        f(i + 1, &fields)?;
    }
    Ok(())
}
