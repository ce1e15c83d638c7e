//! What an analysis returns: a summary (small named numbers for tables and JSON) and
//! artifacts (the full arrays/tables written by `--out` and drawn by the GUI). Each
//! artifact states how closely two variants must agree on it.

use crate::{Error, Result};
use ndarray::{Array2, ArrayD};
use serde_json::{Map, Value};
use std::path::Path;

/// How two variants' copies of an artifact are compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// Bit-for-bit equal (labels, indices, counts).
    Exact,
    /// |a-b| <= tol * max(|a|, |b|, 1)  (floats whose summation order differs).
    Rel(f64),
    /// |a-b| <= tol.
    Abs(f64),
}

#[derive(Clone, Debug)]
pub enum ArtifactData {
    F64(ArrayD<f64>),
    I32(ArrayD<i32>),
    I64(ArrayD<i64>),
    /// Rows of named columns, written as CSV.
    Table {
        columns: Vec<String>,
        rows: Array2<f64>,
    },
}

#[derive(Clone, Debug)]
pub struct Artifact {
    /// File stem: `continuum` -> continuum.npy, `lines` (a table) -> lines.csv.
    pub name: String,
    pub data: ArtifactData,
    pub tol: Tolerance,
}

impl Artifact {
    /// The file it is written to: arrays as `<name>.npy`, tables as `<name>.csv`.
    pub fn file_name(&self) -> String {
        let ext = match self.data {
            ArtifactData::Table { .. } => "csv",
            _ => "npy",
        };
        format!("{}.{ext}", self.name)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Output {
    pub summary: Map<String, Value>,
    pub artifacts: Vec<Artifact>,
}

impl Output {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sum(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.summary.insert(key.to_string(), v.into());
        self
    }

    pub fn f64(self, name: &str, a: ArrayD<f64>, tol: Tolerance) -> Self {
        self.artifact(name, ArtifactData::F64(a), tol)
    }

    pub fn i32(self, name: &str, a: ArrayD<i32>) -> Self {
        self.artifact(name, ArtifactData::I32(a), Tolerance::Exact)
    }

    pub fn i64(self, name: &str, a: ArrayD<i64>) -> Self {
        self.artifact(name, ArtifactData::I64(a), Tolerance::Exact)
    }

    pub fn table(self, name: &str, columns: &[&str], rows: Array2<f64>, tol: Tolerance) -> Self {
        self.artifact(
            name,
            ArtifactData::Table {
                columns: columns.iter().map(|c| c.to_string()).collect(),
                rows,
            },
            tol,
        )
    }

    pub fn artifact(mut self, name: &str, data: ArtifactData, tol: Tolerance) -> Self {
        self.artifacts.push(Artifact {
            name: name.to_string(),
            data,
            tol,
        });
        self
    }

    pub fn get(&self, name: &str) -> Option<&ArtifactData> {
        self.artifacts
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.data)
    }

    /// A 1-D f64 artifact as a slice (for viewers).
    pub fn f64_slice(&self, name: &str) -> Option<&[f64]> {
        match self.get(name)? {
            ArtifactData::F64(a) => a.as_slice(),
            _ => None,
        }
    }

    /// A table artifact.
    pub fn table_of(&self, name: &str) -> Option<(&[String], &Array2<f64>)> {
        match self.get(name)? {
            ArtifactData::Table { columns, rows } => Some((columns, rows)),
            _ => None,
        }
    }

    pub fn summary_f64(&self, key: &str) -> Option<f64> {
        self.summary.get(key).and_then(Value::as_f64)
    }

    /// Compare with another variant's output; `Err(reason)` names the first mismatch.
    pub fn agrees_with(&self, other: &Output) -> std::result::Result<(), String> {
        for a in &self.artifacts {
            let Some(b) = other.artifacts.iter().find(|b| b.name == a.name) else {
                return Err(format!("artifact {} missing", a.name));
            };
            compare(&a.name, &a.data, &b.data, a.tol)?;
        }
        Ok(())
    }

    /// Write every artifact into `dir` (arrays as .npy, tables as .csv).
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for a in &self.artifacts {
            write_artifact(dir, a)?;
        }
        Ok(())
    }
}

fn close(x: f64, y: f64, tol: Tolerance) -> bool {
    if x == y || (x.is_nan() && y.is_nan()) {
        return true;
    }
    match tol {
        Tolerance::Exact => false,
        Tolerance::Rel(t) => (x - y).abs() <= t * x.abs().max(y.abs()).max(1.0),
        Tolerance::Abs(t) => (x - y).abs() <= t,
    }
}

fn compare(
    name: &str,
    a: &ArtifactData,
    b: &ArtifactData,
    tol: Tolerance,
) -> std::result::Result<(), String> {
    let shape_err = |sa: &[usize], sb: &[usize]| format!("{name}: shape {sa:?} vs {sb:?}");
    match (a, b) {
        (ArtifactData::F64(x), ArtifactData::F64(y)) => {
            if x.shape() != y.shape() {
                return Err(shape_err(x.shape(), y.shape()));
            }
            for (i, (p, q)) in x.iter().zip(y.iter()).enumerate() {
                if !close(*p, *q, tol) {
                    return Err(format!("{name}[{i}]: {p} vs {q} (tolerance {tol:?})"));
                }
            }
            Ok(())
        }
        (ArtifactData::I32(x), ArtifactData::I32(y)) => {
            if x != y {
                return Err(format!("{name}: integer arrays differ"));
            }
            Ok(())
        }
        (ArtifactData::I64(x), ArtifactData::I64(y)) => {
            if x != y {
                return Err(format!("{name}: integer arrays differ"));
            }
            Ok(())
        }
        (ArtifactData::Table { rows: x, .. }, ArtifactData::Table { rows: y, .. }) => {
            if x.shape() != y.shape() {
                return Err(shape_err(x.shape(), y.shape()));
            }
            for ((r, c), p) in x.indexed_iter() {
                let q = y[[r, c]];
                if !close(*p, q, tol) {
                    return Err(format!("{name} row {r} col {c}: {p} vs {q} ({tol:?})"));
                }
            }
            Ok(())
        }
        _ => Err(format!("{name}: different artifact types")),
    }
}

fn write_artifact(dir: &Path, a: &Artifact) -> Result<()> {
    use ndarray_npy::WriteNpyExt;
    let p = dir.join(a.file_name());
    let npy_err = |e: ndarray_npy::WriteNpyError| std::io::Error::other(e.to_string());
    match &a.data {
        ArtifactData::F64(x) => {
            crate::fsutil::write_atomic(&p, |w| x.write_npy(w).map_err(npy_err))
        }
        ArtifactData::I32(x) => {
            crate::fsutil::write_atomic(&p, |w| x.write_npy(w).map_err(npy_err))
        }
        ArtifactData::I64(x) => {
            crate::fsutil::write_atomic(&p, |w| x.write_npy(w).map_err(npy_err))
        }
        ArtifactData::Table { columns, rows } => {
            let mut s = columns.join(",");
            s.push('\n');
            for row in rows.rows() {
                let cells: Vec<String> = row.iter().map(|v| format_number(*v)).collect();
                s.push_str(&cells.join(","));
                s.push('\n');
            }
            crate::fsutil::write_bytes(&p, s.as_bytes())
        }
    }
}

/// Shortest text that parses back to the same f64 ("nan" for NaN, integers without ".0").
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else {
        format!("{v}")
    }
}
