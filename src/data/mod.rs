//! Datasets: the input kinds of every analysis, how they were obtained, and what a
//! loader saw. Science is always computed in f64; the on-disk dtype is kept alongside
//! so the memory views can teach what a dtype costs.

pub mod checks;
pub mod fits;
pub mod generate;
pub mod kind;
pub mod load;
pub mod mapped;
pub mod npy;
pub mod rng;
pub mod text;

pub use kind::Kind;

use ndarray::{Array1, Array2};
use serde::Serialize;
use std::sync::Arc;

/// A 1-D spectrum. `wavelength` is in Angstrom when known, else the pixel index.
#[derive(Clone, Debug)]
pub struct Spectrum {
    pub wavelength: Array1<f64>,
    pub flux: Array1<f64>,
    pub error: Option<Array1<f64>>,
}

/// A light curve: time, flux or magnitude, optional uncertainty, and what the file says
/// the columns are.
#[derive(Clone, Debug)]
pub struct LightCurve {
    pub time: Array1<f64>,
    pub value: Array1<f64>,
    pub error: Option<Array1<f64>>,
    /// True when `value` holds magnitudes (brighter = smaller).
    pub magnitudes: bool,
    /// Column names and units as the file states them (for axes and summaries).
    pub labels: CurveLabels,
}

/// A light curve's column names and units as its file states them (a column name such as
/// "YEAR", "MJD" or "flux [e-/s]", a FITS TUNITn); `None` where the file does not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CurveLabels {
    pub time_name: Option<String>,
    /// "yr", "d", "s", … (MJD/JD/BJD/HJD are days).
    pub time_unit: Option<String>,
    pub value_name: Option<String>,
    pub value_unit: Option<String>,
}

impl CurveLabels {
    /// Days, as the generator and the chapter's light curves are.
    pub fn days() -> Self {
        CurveLabels {
            time_unit: Some("d".into()),
            ..Default::default()
        }
    }

    /// The time unit for periods ("yr"), or "time units" when the file does not say.
    pub fn time_unit_or_default(&self) -> &str {
        self.time_unit.as_deref().unwrap_or("time units")
    }

    /// The time axis: "YEAR (yr)", "time (d)", or "time" when the unit is unknown.
    pub fn time_axis(&self) -> String {
        let name = self.time_name.as_deref().unwrap_or("time");
        match &self.time_unit {
            Some(u) => format!("{name} ({u})"),
            None => name.to_string(),
        }
    }

    /// The value axis: "SUNACTIVITY", "flux (e-/s)", "magnitude (mag)".
    pub fn value_axis(&self, magnitudes: bool) -> String {
        let name =
            self.value_name
                .as_deref()
                .unwrap_or(if magnitudes { "magnitude" } else { "flux" });
        match &self.value_unit {
            Some(u) if !u.eq_ignore_ascii_case(name) => format!("{name} ({u})"),
            _ => name.to_string(),
        }
    }
}

/// The element type a frame had on disk (or in the generator), for memory views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    U8,
    I16,
    I32,
    I64,
    F32,
    F64,
}

impl Dtype {
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::I16 => 2,
            Dtype::I32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::F64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }
}

/// A 2-D CCD frame, `data[[row, col]]` as numpy/astropy index it, physical values
/// (BSCALE/BZERO applied, BLANK as NaN).
#[derive(Clone, Debug)]
pub struct Frame {
    pub data: Array2<f64>,
    /// The dtype the pixels were stored with.
    pub stored: Dtype,
}

/// A sky catalog: positions in degrees, optional magnitude and colour per row.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub ra: Array1<f64>,
    pub dec: Array1<f64>,
    pub mag: Option<Array1<f64>>,
    pub color: Option<Array1<f64>>,
}

impl Catalog {
    pub fn len(&self) -> usize {
        self.ra.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ra.is_empty()
    }
}

/// A plain 2-D point set (x, y).
#[derive(Clone, Debug)]
pub struct Points {
    pub xy: Array2<f64>,
}

/// Many spectra on one wavelength grid (rows = spectra).
#[derive(Clone, Debug)]
pub struct SpectrumBatch {
    pub wavelength: Array1<f64>,
    pub flux: Array2<f64>,
}

/// A numeric table with named columns, for files that are none of the kinds above.
#[derive(Clone, Debug)]
pub struct Table {
    pub columns: Vec<String>,
    pub data: Array2<f64>,
}

/// A large little-endian array viewed through a memory map rather than copied.
#[derive(Clone, Debug)]
pub struct Mapped {
    pub map: Arc<memmap2::Mmap>,
    /// Byte offset of the first element.
    pub offset: usize,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// The file mapped, when the user named it (None: an anonymous or private temporary
    /// map). The Python reference reads the same file through numpy.memmap.
    pub file: Option<std::path::PathBuf>,
    /// The open, read-only file behind the map (None for an anonymous map). Sequential
    /// passes read it with `pread` into a reused buffer ([`Mapped::stream`]) rather than
    /// faulting the map's pages in and out.
    pub reader: Option<Arc<std::fs::File>>,
}

impl Mapped {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn bytes(&self) -> usize {
        self.len() * self.dtype.size()
    }
    /// The raw bytes of the array (no copy).
    pub fn raw(&self) -> &[u8] {
        &self.map[self.offset..self.offset + self.bytes()]
    }
    /// Element `i` as f64 (f64/f32 little-endian only; checked at load time).
    pub fn get(&self, i: usize) -> f64 {
        let raw = self.raw();
        match self.dtype {
            Dtype::F32 => {
                let b = &raw[i * 4..i * 4 + 4];
                f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64
            }
            _ => {
                let b = &raw[i * 8..i * 8 + 8];
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
        }
    }
    /// Copy elements `start..end` into `out` as f64 (for chunked, bounded-memory passes).
    pub fn read_into(&self, start: usize, end: usize, out: &mut Vec<f64>) {
        out.clear();
        out.extend((start..end).map(|i| self.get(i)));
    }
}

/// Every input kind an analysis may take.
#[derive(Clone, Debug)]
pub enum Dataset {
    /// For analyses that generate their own samples (Monte Carlo, orbits).
    None,
    Spectrum(Spectrum),
    LightCurve(LightCurve),
    /// Many light curves (period search over a batch).
    LightCurveBatch(Vec<LightCurve>),
    Frame(Frame),
    FrameBatch(Vec<Frame>),
    Catalog(Catalog),
    /// Two catalogs to cross-match.
    CatalogPair(Catalog, Catalog),
    Points(Points),
    SpectrumBatch(SpectrumBatch),
    Table(Table),
    Mapped(Mapped),
}

impl Dataset {
    pub fn kind(&self) -> Kind {
        match self {
            Dataset::None => Kind::None,
            Dataset::Spectrum(_) => Kind::Spectrum,
            Dataset::LightCurve(_) => Kind::LightCurve,
            Dataset::LightCurveBatch(_) => Kind::LightCurveBatch,
            Dataset::Frame(_) => Kind::Frame,
            Dataset::FrameBatch(_) => Kind::FrameBatch,
            Dataset::Catalog(_) => Kind::Catalog,
            Dataset::CatalogPair(..) => Kind::CatalogPair,
            Dataset::Points(_) => Kind::Points,
            Dataset::SpectrumBatch(_) => Kind::SpectrumBatch,
            Dataset::Table(_) => Kind::Table,
            Dataset::Mapped(_) => Kind::Mapped,
        }
    }

    pub fn shape(&self) -> Vec<usize> {
        match self {
            Dataset::None => vec![],
            Dataset::Spectrum(s) => vec![s.flux.len()],
            Dataset::LightCurve(l) => vec![l.time.len()],
            Dataset::LightCurveBatch(v) => {
                vec![v.len(), v.first().map_or(0, |l| l.time.len())]
            }
            Dataset::Frame(f) => f.data.shape().to_vec(),
            Dataset::FrameBatch(v) => {
                let mut s = vec![v.len()];
                s.extend(v.first().map_or(vec![0, 0], |f| f.data.shape().to_vec()));
                s
            }
            Dataset::Catalog(c) => vec![c.len()],
            Dataset::CatalogPair(a, b) => vec![a.len(), b.len()],
            Dataset::Points(p) => p.xy.shape().to_vec(),
            Dataset::SpectrumBatch(b) => b.flux.shape().to_vec(),
            Dataset::Table(t) => t.data.shape().to_vec(),
            Dataset::Mapped(m) => m.shape.clone(),
        }
    }

    /// The element type as stored on disk (or generated).
    pub fn dtype(&self) -> Dtype {
        match self {
            Dataset::Frame(f) => f.stored,
            Dataset::FrameBatch(v) => v.first().map_or(Dtype::F64, |f| f.stored),
            Dataset::Mapped(m) => m.dtype,
            _ => Dtype::F64,
        }
    }

    /// Bytes held in memory by the f64 arrays (for a memory map: bytes mapped).
    pub fn bytes(&self) -> usize {
        let f = std::mem::size_of::<f64>();
        let opt = |a: &Option<Array1<f64>>| a.as_ref().map_or(0, |a| a.len() * f);
        match self {
            Dataset::None => 0,
            Dataset::Spectrum(s) => (s.wavelength.len() + s.flux.len()) * f + opt(&s.error),
            Dataset::LightCurve(l) => (l.time.len() + l.value.len()) * f + opt(&l.error),
            Dataset::LightCurveBatch(v) => v
                .iter()
                .map(|l| (l.time.len() + l.value.len()) * f + opt(&l.error))
                .sum(),
            Dataset::Frame(fr) => fr.data.len() * f,
            Dataset::FrameBatch(v) => v.iter().map(|fr| fr.data.len() * f).sum(),
            Dataset::Catalog(c) => catalog_bytes(c),
            Dataset::CatalogPair(a, b) => catalog_bytes(a) + catalog_bytes(b),
            Dataset::Points(p) => p.xy.len() * f,
            Dataset::SpectrumBatch(b) => (b.wavelength.len() + b.flux.len()) * f,
            Dataset::Table(t) => t.data.len() * f,
            Dataset::Mapped(m) => m.bytes(),
        }
    }

    /// Number of elements, used as "N" for throughput and size sweeps.
    pub fn n_elements(&self) -> usize {
        let s = self.shape();
        if s.is_empty() {
            0
        } else {
            s.iter().product()
        }
    }

    /// One line for logs and the CLI: "spectrum [50000]".
    pub fn describe(&self) -> String {
        format!("{} {:?}", self.kind(), self.shape())
    }
}

fn catalog_bytes(c: &Catalog) -> usize {
    let f = std::mem::size_of::<f64>();
    let opt = |a: &Option<Array1<f64>>| a.as_ref().map_or(0, |a| a.len() * f);
    (c.ra.len() + c.dec.len()) * f + opt(&c.mag) + opt(&c.color)
}

/// Where a dataset came from.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    File,
    Generated,
    MemoryMapped,
}

/// What the loader (or generator) saw: shown by `astroperf info` and the data panel.
#[derive(Clone, Debug, Serialize)]
pub struct DataInfo {
    pub kind: Kind,
    pub source: String,
    pub origin: Origin,
    pub shape: Vec<usize>,
    pub dtype: String,
    pub bytes: usize,
    /// Key header facts (FITS keywords, detected columns, wavelength solution...).
    pub facts: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

/// A dataset together with its description.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub data: Dataset,
    pub info: DataInfo,
}

impl Loaded {
    /// Wrap a dataset, filling the info fields that follow from the data itself.
    pub fn new(data: Dataset, source: impl Into<String>, origin: Origin) -> Self {
        let info = DataInfo {
            kind: data.kind(),
            source: source.into(),
            origin,
            shape: data.shape(),
            dtype: data.dtype().name().to_string(),
            bytes: data.bytes(),
            facts: Vec::new(),
            warnings: Vec::new(),
        };
        Loaded { data, info }
    }

    pub fn with_fact(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.info.facts.push((key.into(), value.to_string()));
        self
    }

    pub fn with_warning(mut self, w: impl Into<String>) -> Self {
        self.info.warnings.push(w.into());
        self
    }
}

/// Convert a loaded dataset to the kind an analysis takes when the mapping is obvious
/// (a 2-column table -> points, a spectrum's flux -> ...); otherwise keep it as it is and
/// let the analysis report the mismatch. `want` is a [`Kind`] or its name (an unknown
/// name converts nothing).
pub fn adapt(want: impl TryInto<Kind>, l: Loaded) -> crate::Result<Loaded> {
    let Loaded { data, mut info } = l;
    let data = match (want.try_into().ok(), data) {
        (Some(Kind::Points), Dataset::Table(t)) if t.data.ncols() >= 2 => {
            info.warnings.push(format!(
                "using columns '{}' and '{}' as x, y",
                t.columns[0], t.columns[1]
            ));
            Dataset::Points(Points {
                xy: t.data.slice(ndarray::s![.., 0..2]).to_owned(),
            })
        }
        (Some(Kind::Catalog), Dataset::Table(t)) if t.data.ncols() >= 2 => {
            Dataset::Catalog(Catalog {
                ra: t.data.column(0).to_owned(),
                dec: t.data.column(1).to_owned(),
                mag: (t.data.ncols() >= 3).then(|| t.data.column(2).to_owned()),
                color: (t.data.ncols() >= 4).then(|| t.data.column(3).to_owned()),
            })
        }
        (Some(Kind::Spectrum), Dataset::Table(t)) if t.data.ncols() >= 2 => {
            Dataset::Spectrum(Spectrum {
                wavelength: t.data.column(0).to_owned(),
                flux: t.data.column(1).to_owned(),
                error: (t.data.ncols() >= 3).then(|| t.data.column(2).to_owned()),
            })
        }
        (Some(Kind::LightCurve), Dataset::Table(t)) if t.data.ncols() >= 2 => {
            Dataset::LightCurve(LightCurve {
                time: t.data.column(0).to_owned(),
                value: t.data.column(1).to_owned(),
                error: (t.data.ncols() >= 3).then(|| t.data.column(2).to_owned()),
                magnitudes: false,
                labels: CurveLabels::default(),
            })
        }
        (_, d) => d,
    };
    info.kind = data.kind();
    info.shape = data.shape();
    Ok(Loaded { data, info })
}
