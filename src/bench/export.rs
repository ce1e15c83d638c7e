//! `bench --export-inputs DIR`: the exact inputs of a bench suite as .npy files plus a
//! manifest, so the Python reference (`assets/python/reference_bench.py`) times the same
//! workloads on the same data.

use crate::data::{Catalog, Dataset};
use crate::engine::{Analysis, Params};
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayD};
use ndarray_npy::WriteNpyExt;
use serde_json::{json, Value};
use std::path::Path;

fn npy(dir: &Path, name: &str, a: &ArrayD<f64>) -> Result<String> {
    let p = dir.join(name);
    let f = std::fs::File::create(&p).map_err(|e| Error::io(&p, e))?;
    a.write_npy(std::io::BufWriter::new(f))
        .map_err(|e| Error::format(&p, format!("cannot write .npy: {e}")))?;
    Ok(name.to_string())
}

fn cat2(c: &Catalog) -> Array2<f64> {
    let mut a = Array2::zeros((c.len(), 4));
    for i in 0..c.len() {
        a[[i, 0]] = c.ra[i];
        a[[i, 1]] = c.dec[i];
        a[[i, 2]] = c.mag.as_ref().map_or(f64::NAN, |m| m[i]);
        a[[i, 3]] = c.color.as_ref().map_or(f64::NAN, |m| m[i]);
    }
    a
}

fn col(a: &Array1<f64>) -> ArrayD<f64> {
    a.clone().into_dyn()
}

/// Write one analysis' input; returns its manifest entry.
pub fn export_input(
    dir: &Path,
    a: &dyn Analysis,
    size: usize,
    seed: u64,
    params: &Params,
) -> Result<Value> {
    let data = a.generate(size, seed)?;
    export_dataset(dir, a, &data, seed, params)
}

/// Write a given input of `a` (a loaded file or generated data) as .npy files into `dir`;
/// returns its manifest entry. `seed` tells the reference how astroperf generated it (the
/// reference draws its own random numbers where a workload has no input file).
pub fn export_dataset(
    dir: &Path,
    a: &dyn Analysis,
    data: &Dataset,
    seed: u64,
    params: &Params,
) -> Result<Value> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let id = a.id();
    let mut files = serde_json::Map::new();
    let mut put = |key: &str, arr: ArrayD<f64>| -> Result<()> {
        let name = npy(dir, &format!("{id}.{key}.npy"), &arr)?;
        files.insert(key.to_string(), Value::String(name));
        Ok(())
    };
    match data {
        Dataset::Spectrum(s) => {
            put("wavelength", col(&s.wavelength))?;
            put("flux", col(&s.flux))?;
        }
        Dataset::LightCurve(l) => {
            put("time", col(&l.time))?;
            put("value", col(&l.value))?;
            if let Some(e) = &l.error {
                put("error", col(e))?;
            }
        }
        Dataset::LightCurveBatch(v) => {
            let n = v.first().map_or(0, |l| l.time.len());
            if v.iter().all(|l| l.time.len() == n) {
                let mut t = Array2::zeros((v.len(), n));
                let mut y = Array2::zeros((v.len(), n));
                for (k, l) in v.iter().enumerate() {
                    t.row_mut(k).assign(&l.time);
                    y.row_mut(k).assign(&l.value);
                }
                put("time", t.into_dyn())?;
                put("value", y.into_dyn())?;
            }
        }
        Dataset::Frame(f) => put("frame", f.data.clone().into_dyn())?,
        Dataset::FrameBatch(v) => {
            if let Some(f0) = v.first() {
                let (r, c) = f0.data.dim();
                let mut a = ndarray::Array3::zeros((v.len(), r, c));
                for (k, f) in v.iter().enumerate() {
                    if f.data.dim() == (r, c) {
                        a.index_axis_mut(ndarray::Axis(0), k).assign(&f.data);
                    }
                }
                put("frames", a.into_dyn())?;
            }
        }
        Dataset::Catalog(c) => put("catalog", cat2(c).into_dyn())?,
        Dataset::CatalogPair(c1, c2) => {
            put("catalog1", cat2(c1).into_dyn())?;
            put("catalog2", cat2(c2).into_dyn())?;
        }
        Dataset::Points(p) => put("points", p.xy.clone().into_dyn())?,
        Dataset::SpectrumBatch(b) => {
            put("wavelength", col(&b.wavelength))?;
            put("flux", b.flux.clone().into_dyn())?;
        }
        Dataset::Table(t) => put("table", t.data.clone().into_dyn())?,
        Dataset::None | Dataset::Mapped(_) => {}
    }
    // A mapped file is named, not copied (it may be gigabytes): the reference maps it too.
    let mapped = match data {
        Dataset::Mapped(m) => m.file.as_ref().map(|f| {
            json!({
                "path": std::path::absolute(f).unwrap_or_else(|_| f.clone()),
                "dtype": m.dtype.name(),
                "shape": m.shape,
                "offset": m.offset,
            })
        }),
        _ => None,
    };
    let mut entry = json!({
        "analysis": id,
        "input_kind": data.kind(),
        "size": a.size_of(data),
        "size_unit": a.size_unit(),
        "seed": seed,
        "params": params.to_json(&a.params()),
        "files": files,
    });
    if let (Some(m), Some(obj)) = (mapped, entry.as_object_mut()) {
        obj.insert("mapped".into(), m);
    }
    Ok(entry)
}
