//! Synthetic datasets with known answers (line positions, star fluxes, periods, true
//! pairs), seeded and block-counter based so a given seed always gives the same data.

use super::rng::Rng;
use super::{
    Catalog, Dataset, Dtype, Frame, LightCurve, Loaded, Origin, Points, Spectrum, SpectrumBatch,
};
use crate::{Error, Result};
use ndarray::{Array1, Array2};

/// Rows per random block: each block has its own counter-based stream.
const BLOCK: usize = 4096;

#[derive(Clone, Debug)]
pub struct SpectrumParams {
    pub n: usize,
    pub wl_min: f64,
    pub wl_max: f64,
    pub redshift: f64,
    /// Continuum level at wl_min and its change across the band.
    pub continuum: f64,
    pub slope: f64,
    /// (rest wavelength Å, amplitude) of Gaussian emission lines.
    pub lines: Vec<(f64, f64)>,
    pub line_sigma: f64,
    pub noise: f64,
}

impl Default for SpectrumParams {
    fn default() -> Self {
        SpectrumParams {
            n: 50_000,
            wl_min: 4000.0,
            wl_max: 7000.0,
            redshift: 0.0123,
            continuum: 100.0,
            slope: 10.0,
            lines: vec![(6563.0, 50.0), (4861.0, 20.0), (5007.0, 30.0)],
            line_sigma: 0.5,
            noise: 1.0,
        }
    }
}

/// A spectrum like the chapter's: sloped continuum, Gaussian lines at `rest·(1+z)`, noise.
pub fn spectrum(p: &SpectrumParams, seed: u64) -> Spectrum {
    let n = p.n.max(2);
    let step = (p.wl_max - p.wl_min) / (n - 1) as f64;
    let wl = Array1::from_iter((0..n).map(|i| p.wl_min + step * i as f64));
    let mut flux = Array1::zeros(n);
    for (b, chunk) in flux
        .as_slice_mut()
        .into_iter()
        .flat_map(|s| s.chunks_mut(BLOCK))
        .enumerate()
    {
        let mut r = Rng::for_block(seed, b as u64);
        for (k, f) in chunk.iter_mut().enumerate() {
            let w = wl[b * BLOCK + k];
            let mut v = p.continuum + p.slope * (w - p.wl_min) / (p.wl_max - p.wl_min);
            for &(rest, amp) in &p.lines {
                let c = rest * (1.0 + p.redshift);
                let d = (w - c) / p.line_sigma;
                if d.abs() < 12.0 {
                    v += amp * (-0.5 * d * d).exp();
                }
            }
            *f = v + p.noise * r.normal();
        }
    }
    Spectrum {
        wavelength: wl,
        flux,
        error: Some(Array1::from_elem(n, p.noise)),
    }
}

#[derive(Clone, Debug)]
pub struct FrameParams {
    pub rows: usize,
    pub cols: usize,
    pub stars: usize,
    pub fwhm: f64,
    pub background: f64,
    pub noise: f64,
    pub flux_min: f64,
    pub flux_max: f64,
    pub cosmic_rays: usize,
}

impl Default for FrameParams {
    fn default() -> Self {
        FrameParams {
            rows: 1024,
            cols: 1024,
            stars: 40,
            fwhm: 1.5 * 2.354_820_045,
            background: 100.0,
            noise: 5.0,
            flux_min: 2000.0,
            flux_max: 20000.0,
            cosmic_rays: 0,
        }
    }
}

/// True stars of a generated frame: (row, col, total flux).
pub type Stars = Vec<(f64, f64, f64)>;

/// A CCD frame with Gaussian stars (PSF sampled at pixel centres), flat background,
/// Gaussian noise and optional single-pixel cosmic rays.
pub fn frame_with_truth(p: &FrameParams, seed: u64) -> (Frame, Stars) {
    let (rows, cols) = (p.rows.max(1), p.cols.max(1));
    let mut r = Rng::for_block(seed, u64::MAX);
    let margin = 10.0f64.min(rows as f64 / 4.0).min(cols as f64 / 4.0);
    let stars: Stars = (0..p.stars)
        .map(|_| {
            (
                r.range(margin, rows as f64 - margin),
                r.range(margin, cols as f64 - margin),
                r.range(p.flux_min, p.flux_max),
            )
        })
        .collect();
    let sigma = p.fwhm / 2.354_820_045;
    let norm = 1.0 / (2.0 * std::f64::consts::PI * sigma * sigma);
    let reach = (sigma * 6.0).ceil() as isize;
    let mut data = Array2::zeros((rows, cols));
    for (i, mut row) in data.rows_mut().into_iter().enumerate() {
        let mut rr = Rng::for_block(seed, i as u64);
        for v in row.iter_mut() {
            *v = p.background + p.noise * rr.normal();
        }
    }
    for &(sr, sc, f) in &stars {
        let (r0, c0) = (sr.round() as isize, sc.round() as isize);
        for i in (r0 - reach).max(0)..(r0 + reach + 1).min(rows as isize) {
            for j in (c0 - reach).max(0)..(c0 + reach + 1).min(cols as isize) {
                let d2 = (i as f64 - sr).powi(2) + (j as f64 - sc).powi(2);
                data[[i as usize, j as usize]] += f * norm * (-d2 / (2.0 * sigma * sigma)).exp();
            }
        }
    }
    for _ in 0..p.cosmic_rays {
        let (i, j) = (r.below(rows), r.below(cols));
        data[[i, j]] += r.range(500.0, 5000.0);
    }
    (
        Frame {
            data,
            stored: Dtype::F64,
        },
        stars,
    )
}

pub fn frame(p: &FrameParams, seed: u64) -> Frame {
    frame_with_truth(p, seed).0
}

#[derive(Clone, Debug)]
pub struct LightCurveParams {
    pub n: usize,
    pub span: f64,
    pub period: f64,
    pub amplitude: f64,
    pub mean: f64,
    pub noise: f64,
}

impl Default for LightCurveParams {
    fn default() -> Self {
        LightCurveParams {
            n: 1000,
            span: 100.0,
            period: 3.7,
            amplitude: 0.1,
            mean: 1.0,
            noise: 0.05,
        }
    }
}

/// A sinusoidal variable sampled at sorted uniform-random (uneven) times.
pub fn light_curve(p: &LightCurveParams, seed: u64) -> LightCurve {
    let n = p.n.max(1);
    let mut t: Vec<f64> = Vec::with_capacity(n);
    for b in 0..n.div_ceil(BLOCK) {
        let mut r = Rng::for_block(seed, b as u64);
        for _ in b * BLOCK..((b + 1) * BLOCK).min(n) {
            t.push(r.range(0.0, p.span));
        }
    }
    t.sort_by(f64::total_cmp);
    let mut r = Rng::for_block(seed, u64::MAX - 1);
    let value: Vec<f64> = t
        .iter()
        .map(|&ti| {
            p.mean
                + p.amplitude * (2.0 * std::f64::consts::PI * ti / p.period).sin()
                + p.noise * r.normal()
        })
        .collect();
    LightCurve {
        time: Array1::from(t),
        value: Array1::from(value),
        error: Some(Array1::from_elem(n, p.noise)),
        magnitudes: false,
        labels: super::CurveLabels::days(),
    }
}

/// Points uniform in the unit square.
pub fn points(n: usize, seed: u64) -> Points {
    let mut xy = Array2::zeros((n, 2));
    for (b, mut chunk) in xy.axis_chunks_iter_mut(ndarray::Axis(0), BLOCK).enumerate() {
        let mut r = Rng::for_block(seed, b as u64);
        for mut row in chunk.rows_mut() {
            row[0] = r.uniform();
            row[1] = r.uniform();
        }
    }
    Points { xy }
}

/// A catalog uniform on the sphere, with magnitudes 14..22 and colours -0.5..2.
pub fn catalog(n: usize, seed: u64) -> Catalog {
    let mut ra = Vec::with_capacity(n);
    let mut dec = Vec::with_capacity(n);
    let mut mag = Vec::with_capacity(n);
    let mut color = Vec::with_capacity(n);
    for b in 0..n.div_ceil(BLOCK) {
        let mut r = Rng::for_block(seed, b as u64);
        for _ in b * BLOCK..((b + 1) * BLOCK).min(n) {
            ra.push(r.range(0.0, 360.0));
            dec.push(r.range(-1.0, 1.0).asin().to_degrees());
            mag.push(r.range(14.0, 22.0));
            color.push(r.range(-0.5, 2.0));
        }
    }
    Catalog {
        ra: Array1::from(ra),
        dec: Array1::from(dec),
        mag: Some(Array1::from(mag)),
        color: Some(Array1::from(color)),
    }
}

/// Destination point at angular distance `d` (radians) and position angle `pa` from (ra, dec) in degrees.
pub fn offset_position(ra: f64, dec: f64, d: f64, pa: f64) -> (f64, f64) {
    let (ra1, dec1) = (ra.to_radians(), dec.to_radians());
    let dec2 = (dec1.sin() * d.cos() + dec1.cos() * d.sin() * pa.cos()).asin();
    let ra2 = ra1 + (pa.sin() * d.sin() * dec1.cos()).atan2(d.cos() - dec1.sin() * dec2.sin());
    (ra2.to_degrees().rem_euclid(360.0), dec2.to_degrees())
}

/// Two catalogs where `common` rows of the second are counterparts of rows of the first,
/// offset by up to `max_offset_arcsec`. Returns the true pairs (idx1, idx2) too.
pub fn catalog_pair(
    n1: usize,
    n2: usize,
    common: usize,
    max_offset_arcsec: f64,
    seed: u64,
) -> (Catalog, Catalog, Vec<(usize, usize)>) {
    let c1 = catalog(n1, seed);
    let mut c2 = catalog(n2, seed.wrapping_add(1));
    let common = common.min(n1).min(n2);
    let mut r = Rng::for_block(seed, u64::MAX - 2);
    // Distinct rows on both sides: a stride walk through a random start is enough.
    let pick = |n: usize, r: &mut Rng| -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..common {
            let j = i + r.below(n - i);
            idx.swap(i, j);
        }
        idx.truncate(common);
        idx
    };
    let i1 = pick(n1, &mut r);
    let i2 = pick(n2, &mut r);
    let mut pairs = Vec::with_capacity(common);
    for (&a, &b) in i1.iter().zip(&i2) {
        let d = (r.uniform() * max_offset_arcsec / 3600.0).to_radians();
        let pa = r.range(0.0, 2.0 * std::f64::consts::PI);
        let (ra, dec) = offset_position(c1.ra[a], c1.dec[a], d, pa);
        c2.ra[b] = ra;
        c2.dec[b] = dec;
        pairs.push((a, b));
    }
    pairs.sort_unstable();
    (c1, c2, pairs)
}

/// Many spectra on one grid, each with its own noise and lines (for stacks and peak counts).
pub fn spectrum_batch(count: usize, n: usize, seed: u64) -> SpectrumBatch {
    let mut flux = Array2::zeros((count, n));
    let p = SpectrumParams {
        n,
        ..Default::default()
    };
    let mut wl = Array1::zeros(n);
    for (k, mut row) in flux.rows_mut().into_iter().enumerate() {
        let s = spectrum(&p, seed.wrapping_add(k as u64 * 7919));
        row.assign(&s.flux);
        if k == 0 {
            wl = s.wavelength;
        }
    }
    if count == 0 {
        wl = spectrum(&p, seed).wavelength;
    }
    SpectrumBatch {
        wavelength: wl,
        flux,
    }
}

/// The kinds `generate_from_spec` knows, with their keys (for help texts).
pub const GENERATORS: &[(&str, &str)] = &[
    ("spectrum", "n, z, noise, seed"),
    (
        "frame",
        "size (or rows, cols), stars, fwhm, background, noise, cosmics, seed",
    ),
    ("lightcurve", "n, period, amplitude, noise, span, seed"),
    (
        "lightcurves",
        "count, n, period, noise, seed (a batch; periods spread ±20%)",
    ),
    ("points", "n, seed"),
    ("catalog", "n, seed"),
    ("catalogs", "n (both), common, offset (arcsec), seed"),
    ("spectra", "count, n, seed"),
];

/// Build a dataset from the CLI's `--generate kind=spectrum,n=50000,seed=1` text.
pub fn generate_from_spec(spec: &str) -> Result<Loaded> {
    let pairs = parse_pairs(spec)?;
    let mut kind = None;
    let mut path: Option<String> = None;
    let mut seed = 1u64;
    let mut nums: Vec<(String, f64)> = Vec::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "kind" => kind = Some(v.clone()),
            "path" => path = Some(v.clone()),
            "seed" => {
                seed = v
                    .parse()
                    .map_err(|_| Error::param(format!("--generate seed '{v}' is not an integer")))?
            }
            _ => {
                let x: f64 = v
                    .parse()
                    .map_err(|_| Error::param(format!("--generate {k}='{v}' is not a number")))?;
                if !x.is_finite() || x < 0.0 {
                    return Err(Error::param(format!(
                        "--generate {k}={v} must be a finite number >= 0"
                    )));
                }
                nums.push((k.clone(), x));
            }
        }
    }
    let kind = kind.ok_or_else(|| {
        Error::param("--generate needs kind=... (spectrum, frame, lightcurve, points, catalog, catalogs, spectra)")
    })?;
    if kind == "stackfile" {
        return generate_stack_file(&nums, seed, path.as_deref().map(std::path::Path::new));
    }
    if path.is_some() {
        return Err(Error::param(format!(
            "--generate path=... is only for kind=stackfile, not {kind}"
        )));
    }
    generate_kind(&kind, &nums, seed)
}

/// Flux of spectrum `i` of the Exercise 7.2 stack: N(100, 1) noise on every pixel, every
/// 100th spectrum (0, 100, ...) raised by 50; spectrum i draws from `Rng::for_block(seed, i)`,
/// so any block of spectra can be made on its own (in parallel, or while streaming to disk).
pub fn stack_row(i: usize, seed: u64, row: &mut [f64]) {
    let mut r = Rng::for_block(seed, i as u64);
    let off = if i.is_multiple_of(100) { 150.0 } else { 100.0 };
    for v in row.iter_mut() {
        *v = r.normal() + off;
    }
}

/// Spectra generated and written per block of this many rows (bounded memory).
const STACK_WRITE_ROWS: usize = 256;
/// Most values a stack file may hold (32 GB of float64).
pub const MAX_STACK_FILE: usize = 4_000_000_000;

/// `count` × `pixels` stack spectra (as `stack_row`) written block by block as float64 and
/// memory-mapped, never all in memory. With `path`, an NPY file that stays on disk (numpy
/// reads it with `np.load(path, mmap_mode="r")`); without, a temporary file whose name is
/// removed at once (the map keeps it alive until dropped; nothing is left behind).
pub fn stack_file(
    count: usize,
    pixels: usize,
    seed: u64,
    path: Option<&std::path::Path>,
) -> Result<super::Mapped> {
    use rayon::prelude::*;
    use std::io::Write;
    if count == 0 || pixels == 0 {
        return Err(Error::param("a stack file needs count >= 1 and n >= 1"));
    }
    if count.saturating_mul(pixels) > MAX_STACK_FILE {
        return Err(Error::param(format!(
            "a stack of {count} × {pixels} values is more than the limit of {MAX_STACK_FILE}"
        )));
    }
    let write_rows = |w: &mut dyn Write| -> std::io::Result<()> {
        let mut block = vec![0.0f64; STACK_WRITE_ROWS * pixels];
        let mut bytes = Vec::with_capacity(block.len() * 8);
        for r0 in (0..count).step_by(STACK_WRITE_ROWS) {
            let r1 = (r0 + STACK_WRITE_ROWS).min(count);
            let rows = &mut block[..(r1 - r0) * pixels];
            rows.par_chunks_mut(pixels)
                .enumerate()
                .for_each(|(k, row)| stack_row(r0 + k, seed, row));
            bytes.clear();
            for v in rows.iter() {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            w.write_all(&bytes)?;
        }
        Ok(())
    };
    let Some(path) = path else {
        return super::Mapped::temp_f64("stackfile", vec![count, pixels], |w| write_rows(w));
    };
    let io = |e| Error::io(path, e);
    let f = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    w.write_all(&npy_header_f64(&[count, pixels])).map_err(io)?;
    write_rows(&mut w).map_err(io)?;
    w.flush().map_err(io)?;
    drop(w);
    match super::npy::load_mapped(path)?.data {
        Dataset::Mapped(m) => Ok(m),
        _ => Err(Error::format(path, "the stack file did not map")),
    }
}

/// NPY version 1.0 header of a little-endian float64 C-order array, padded to 64 bytes.
pub fn npy_header_f64(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape_txt}, }}");
    let total = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    dict.push('\n');
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    h.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h
}

/// `--generate kind=stackfile,count=100000,n=3000[,path=FILE.npy]`: a spectrum stack
/// (Exercise 7.2) written to a file block by block and memory-mapped.
fn generate_stack_file(
    nums: &[(String, f64)],
    seed: u64,
    path: Option<&std::path::Path>,
) -> Result<Loaded> {
    for (k, _) in nums {
        if !matches!(k.as_str(), "count" | "n") {
            return Err(Error::param(format!(
                "generator stackfile has no key '{k}' (keys: count, n, path, seed)"
            )));
        }
    }
    let get = |k: &str, d: f64| nums.iter().find(|(n, _)| n == k).map_or(d, |(_, v)| *v);
    let (count, pixels) = (get("count", 100_000.0), get("n", 3000.0));
    if count * pixels > MAX_STACK_FILE as f64 {
        return Err(Error::param(format!(
            "--generate stackfile of {count} × {pixels} values exceeds the limit of {MAX_STACK_FILE}"
        )));
    }
    let m = stack_file(count as usize, pixels as usize, seed, path)?;
    let desc = match path {
        Some(p) => format!(
            "generated stackfile (seed {seed}, count={count}, n={pixels}) in {}",
            p.display()
        ),
        None => format!("generated stackfile (seed {seed}, count={count}, n={pixels}), temporary memory-mapped file"),
    };
    Ok(Loaded::new(Dataset::Mapped(m), desc, Origin::MemoryMapped))
}

/// Largest element count a generator will make (keeps a typo from allocating 100 GB).
pub const MAX_GENERATED: f64 = 2.0e9;

/// Generate `kind` from numeric keys; unknown keys are an error.
pub fn generate_kind(kind: &str, nums: &[(String, f64)], seed: u64) -> Result<Loaded> {
    let allowed: &[&str] = match kind {
        "spectrum" => &["n", "z", "noise"],
        "frame" => &["size", "rows", "cols", "stars", "fwhm", "background", "noise", "cosmics"],
        "lightcurve" => &["n", "period", "amplitude", "noise", "span"],
        "lightcurves" => &["count", "n", "period", "noise"],
        "points" | "catalog" => &["n"],
        "catalogs" => &["n", "common", "offset"],
        "spectra" => &["count", "n"],
        other => {
            return Err(Error::param(format!(
                "unknown generator kind '{other}' (known: spectrum, frame, lightcurve, lightcurves, points, catalog, catalogs, spectra)"
            )))
        }
    };
    for (k, _) in nums {
        if !allowed.contains(&k.as_str()) {
            return Err(Error::param(format!(
                "generator {kind} has no key '{k}' (keys: {})",
                allowed.join(", ")
            )));
        }
    }
    let get = |k: &str, d: f64| nums.iter().find(|(n, _)| n == k).map_or(d, |(_, v)| *v);
    let count = |x: f64| -> Result<usize> {
        if x > MAX_GENERATED {
            Err(Error::param(format!(
                "--generate size {x} exceeds the limit of {MAX_GENERATED}"
            )))
        } else {
            Ok(x as usize)
        }
    };
    let data = match kind {
        "spectrum" => {
            let p = SpectrumParams {
                n: count(get("n", 50_000.0))?.max(2),
                redshift: get("z", 0.0123),
                noise: get("noise", 1.0),
                ..Default::default()
            };
            Dataset::Spectrum(spectrum(&p, seed))
        }
        "frame" => {
            let size = get("size", 1024.0);
            let p = FrameParams {
                rows: count(get("rows", size))?.max(1),
                cols: count(get("cols", size))?.max(1),
                stars: count(get("stars", 40.0))?,
                fwhm: get("fwhm", FrameParams::default().fwhm),
                background: get("background", 100.0),
                noise: get("noise", 5.0),
                cosmic_rays: count(get("cosmics", 0.0))?,
                ..Default::default()
            };
            count((p.rows * p.cols) as f64)?;
            Dataset::Frame(frame(&p, seed))
        }
        "lightcurve" => {
            let p = LightCurveParams {
                n: count(get("n", 1000.0))?.max(3),
                period: get("period", 3.7),
                amplitude: get("amplitude", 0.1),
                noise: get("noise", 0.05),
                span: get("span", 100.0),
                ..Default::default()
            };
            Dataset::LightCurve(light_curve(&p, seed))
        }
        "lightcurves" => {
            let c = count(get("count", 100.0))?.max(1);
            let n = count(get("n", 1000.0))?.max(3);
            count((c * n) as f64)?;
            let p0 = get("period", 3.7);
            let batch = (0..c)
                .map(|k| {
                    // Each curve its own period and noise stream.
                    let p = LightCurveParams {
                        n,
                        period: p0 * (0.8 + 0.4 * (k as f64 + 0.5) / c as f64),
                        noise: get("noise", 0.05),
                        ..Default::default()
                    };
                    light_curve(&p, seed.wrapping_add(k as u64 * 104_729))
                })
                .collect();
            Dataset::LightCurveBatch(batch)
        }
        "points" => Dataset::Points(points(count(get("n", 2000.0))?, seed)),
        "catalog" => Dataset::Catalog(catalog(count(get("n", 100_000.0))?, seed)),
        "catalogs" => {
            let n = count(get("n", 100_000.0))?;
            let common = count(get("common", n as f64 / 2.0))?;
            let (a, b, _) = catalog_pair(n, n, common, get("offset", 0.5), seed);
            Dataset::CatalogPair(a, b)
        }
        _ => {
            let c = count(get("count", 1000.0))?;
            let n = count(get("n", 3000.0))?;
            count((c * n) as f64)?;
            Dataset::SpectrumBatch(spectrum_batch(c, n, seed))
        }
    };
    let mut desc = format!("generated {kind} (seed {seed}");
    for (k, v) in nums {
        desc.push_str(&format!(", {k}={v}"));
    }
    desc.push(')');
    Ok(Loaded::new(data, desc, Origin::Generated))
}

/// Parse "key=value,key=value" (the CLI's `--generate` syntax).
pub fn parse_pairs(text: &str) -> Result<Vec<(String, String)>> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| Error::param(format!("'{p}' is not of the form key=value")))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_pairs_needs_key_value() {
        assert!(parse_pairs("a=1,b").is_err());
        assert_eq!(parse_pairs("a=1, b=x").expect("pairs").len(), 2);
    }

    #[test]
    fn generators_are_reproducible() {
        let p = SpectrumParams::default();
        assert_eq!(spectrum(&p, 3).flux, spectrum(&p, 3).flux);
        assert_ne!(spectrum(&p, 3).flux, spectrum(&p, 4).flux);
        let (a, b, pairs) = catalog_pair(1000, 800, 100, 0.5, 9);
        assert_eq!(pairs.len(), 100);
        for (i, j) in pairs {
            let dra = (a.ra[i] - b.ra[j]) * a.dec[i].to_radians().cos();
            let sep = (dra * dra + (a.dec[i] - b.dec[j]).powi(2)).sqrt() * 3600.0;
            assert!(sep <= 0.5 + 1e-6, "sep {sep}");
        }
    }

    #[test]
    fn generate_spec_rejects_bad_keys() {
        assert!(generate_from_spec("kind=spectrum,n=100").is_ok());
        assert!(generate_from_spec("kind=spectrum,bogus=1").is_err());
        assert!(generate_from_spec("kind=frame,size=1e12").is_err());
        assert!(generate_from_spec("n=5").is_err());
    }
}
