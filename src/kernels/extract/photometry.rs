//! SExtractor's per-object measurements for `ccd-pipeline detect=background`: isophotal
//! barycentre and second moments (X2, Y2, XY, A, B, THETA), FLUX_ISO, a circular
//! FLUX_APER, the Kron radius and FLUX_AUTO, their errors from the background RMS map,
//! and FLAGS.
//!
//! Conventions follow SExtractor 2.x: x is the column, y the row; `x_image`/`y_image` are
//! 1-based (FITS). The barycentre and the second moments are SExtractor's `preanalyse`
//! ones: weighted by the detection image (the filtered image, `cdvalue` in SExtractor,
//! here over the RMS) over the object's isophotal pixels, with the 1/12 px² guard for
//! singular profiles; a deblended object keeps its seed's barycentre and takes its moments
//! about it (see [`crate::kernels::extract::deblend`]). FLUX_ISO and the apertures sum the
//! background-subtracted image; KRON_RADIUS is 2.5 × Σ r·I / Σ I within r < 6
//! (r in units of the isophotal ellipse, r = 1 on the A, B ellipse), reported as
//! SExtractor reports it (the Kron factor included); FLUX_AUTO sums the pixels whose
//! centres lie in the ellipse of radius max(kron_radius, 3.5) (in units of A, B); FLUX_APER
//! uses a circle sampled 5×5 per pixel on its boundary. Pixels of other objects inside an
//! aperture are replaced by the pixel mirrored through the object's centre (or 0 when that
//! one also belongs to another object), as SExtractor's MASK_TYPE CORRECT does. Errors are
//! sqrt(Σ rms²) (no Poisson term: gain 0, as SExtractor's default).
//!
//! FLAGS: 1 more than 10% of the AUTO aperture's pixels belong to other objects; 2 the
//! object was split by deblending; 4 a pixel is at or above `satur_level` in the input
//! frame; 8 the object touches the frame edge; 16 the AUTO aperture leaves the frame.

use crate::kernels::image::{Moments, SOURCE_COLUMNS};

/// Kron factor and minimum radius (SExtractor's PHOT_AUTOPARAMS 2.5, 3.5).
pub const KRON_FACT: f64 = 2.5;
pub const KRON_MIN_RADIUS: f64 = 3.5;
/// The Kron radius is measured within this many isophotal radii (SExtractor: 6).
pub const KRON_WINDOW: f64 = 6.0;

/// Columns after [`SOURCE_COLUMNS`] in the background-mode source table.
pub const EXTRA_COLUMNS: [&str; 17] = [
    "x_image",
    "y_image",
    "x2_image",
    "y2_image",
    "xy_image",
    "a_image",
    "b_image",
    "theta_image",
    "flux_iso",
    "fluxerr_iso",
    "flux_aper",
    "fluxerr_aper",
    "kron_radius",
    "flux_auto",
    "fluxerr_auto",
    "flags",
    "parent",
];

pub const NCOL: usize = SOURCE_COLUMNS.len() + EXTRA_COLUMNS.len();

/// All column names of the background-mode table.
pub fn columns() -> Vec<&'static str> {
    SOURCE_COLUMNS
        .iter()
        .chain(EXTRA_COLUMNS.iter())
        .copied()
        .collect()
}

pub const FLAG_CROWDED: u32 = 1;
pub const FLAG_BLENDED: u32 = 2;
pub const FLAG_SATURATED: u32 = 4;
pub const FLAG_TRUNCATED: u32 = 8;
pub const FLAG_APER_INCOMPLETE: u32 = 16;

#[derive(Clone, Copy, Debug)]
pub struct PhotParams {
    pub aper_radius: f64,
    pub satur_level: f64,
}

/// The images a measurement reads (all row-major `rows` x `cols`).
pub struct Images<'a> {
    pub raw: &'a [f64],
    pub sub: &'a [f64],
    /// The background RMS at a flat pixel index (interpolated from the mesh).
    pub rms: &'a (dyn Fn(usize) -> f64 + Sync),
    pub labels: &'a [i32],
    pub rows: usize,
    pub cols: usize,
}

/// Barycentre and second moments of an object (pixel coordinates, x = column).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IsoMoments {
    pub x: f64,
    pub y: f64,
    pub x2: f64,
    pub y2: f64,
    pub xy: f64,
}

/// SExtractor's `preanalyse` moments of pixels `pix` (flat indices, `cols` wide) weighted
/// by `w`: about their barycentre, or, for a deblended object (ANALYSE_ROBUST of an
/// OBJ_MERGED object), about the given `centre` (its seed's barycentre), which is kept.
pub fn iso_moments(pix: &[u32], w: &[f64], cols: usize, centre: Option<(f64, f64)>) -> IsoMoments {
    let nan = IsoMoments {
        x: f64::NAN,
        y: f64::NAN,
        x2: f64::NAN,
        y2: f64::NAN,
        xy: f64::NAN,
    };
    let Some(&g0) = pix.first() else {
        return nan;
    };
    // offsets from the first pixel, as SExtractor measures from the box corner
    let (r0, c0) = ((g0 as usize / cols) as f64, (g0 as usize % cols) as f64);
    let at = |g: u32| {
        let g = g as usize;
        ((g % cols) as f64 - c0, (g / cols) as f64 - r0)
    };
    let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for (&g, &v) in pix.iter().zip(w) {
        let (x, y) = at(g);
        sw += v;
        sx += v * x;
        sy += v * y;
    }
    let (xm, ym) = match centre {
        Some((x, y)) => (x - c0, y - r0),
        None => (sx / sw, sy / sw),
    };
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (&g, &v) in pix.iter().zip(w) {
        let (x, y) = at(g);
        let (dx, dy) = (x - xm, y - ym);
        sxx += v * dx * dx;
        syy += v * dy * dy;
        sxy += v * dx * dy;
    }
    IsoMoments {
        x: c0 + xm,
        y: r0 + ym,
        x2: sxx / sw,
        y2: syy / sw,
        xy: sxy / sw,
    }
}

/// One object to measure.
pub struct ObjectRef<'a> {
    pub pix: &'a [u32],
    /// Pixels of detections CLEAN merged into this one. As in SExtractor, they add to the
    /// isophotal area and flux (and their flags carry over) but not to the barycentre or
    /// the moments; in the label image they are this object's, so the apertures keep them.
    pub merged: &'a [u32],
    pub label: i32,
    pub parent: usize,
    pub blended: bool,
    /// Its barycentre and moments ([`iso_moments`] over `pix`).
    pub iso: IsoMoments,
}

/// Shape of an object from its second moments: the inverse-covariance coefficients of
/// the isophotal ellipse (cxx x² + cyy y² + cxy xy = 1 on the A, B ellipse).
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub x2: f64,
    pub y2: f64,
    pub xy: f64,
    pub a: f64,
    pub b: f64,
    pub theta_deg: f64,
    pub cxx: f64,
    pub cyy: f64,
    pub cxy: f64,
}

/// A, B, THETA and the ellipse coefficients from (possibly singular) second moments,
/// with SExtractor's guard: when x2·y2 − xy² < 0.00694 (1/144), add 0.0833333 (1/12) to
/// x2 and y2 (the constants as SExtractor writes them).
pub fn shape(x2: f64, y2: f64, xy: f64) -> Shape {
    let (mut x2, mut y2) = (x2, y2);
    // (also when the moments are NaN)
    if (x2 * y2 - xy * xy).partial_cmp(&0.00694) == Some(std::cmp::Ordering::Less)
        || (x2 * y2 - xy * xy).is_nan()
    {
        x2 += 0.0833333;
        y2 += 0.0833333;
    }
    let t1 = 0.5 * (x2 + y2);
    let t2 = (0.25 * (x2 - y2) * (x2 - y2) + xy * xy).sqrt();
    let a = (t1 + t2).max(0.0).sqrt();
    let b = (t1 - t2).max(0.0).sqrt();
    let theta_deg = 0.5 * (2.0 * xy).atan2(x2 - y2).to_degrees();
    let det = x2 * y2 - xy * xy;
    let (cxx, cyy, cxy) = if det > 0.0 && det.is_finite() {
        (y2 / det, x2 / det, -2.0 * xy / det)
    } else {
        // negative-flux or degenerate moments: fall back to a 1 px circle
        (1.0, 1.0, 0.0)
    };
    Shape {
        x2,
        y2,
        xy,
        a,
        b,
        theta_deg,
        cxx,
        cyy,
        cxy,
    }
}

/// SExtractor's area correction `abcor` (`preanalyse`): how the isophotal area shrinks
/// from `thresh` to half-way to the peak of `raw`, against a Gaussian of axes a, b
/// (at most 1).
pub fn abcor(raw: impl Iterator<Item = f64> + Clone, thresh: f64, a: f64, b: f64) -> f64 {
    let peak = raw.clone().fold(f64::NEG_INFINITY, f64::max);
    let thresh2 = 0.5 * (thresh + peak);
    let (mut dnpix, mut area2) = (0.0f64, 0.0f64);
    for x in raw {
        if x > thresh {
            dnpix += 1.0;
        }
        if x > thresh2 {
            area2 += 1.0;
        }
    }
    let t1t2 = thresh / thresh2;
    if t1t2 > 0.0 {
        let darea = area2 - dnpix;
        let num = if darea < 0.0 { darea } else { -1.0 };
        (num / (2.0 * std::f64::consts::PI * t1t2.min(0.99).ln() * a * b)).min(1.0)
    } else {
        1.0
    }
}

/// Sum over an ellipse or circle around (xc, yc) with neighbour masking.
struct ApSum {
    flux: f64,
    var: f64,
    area: f64,
    masked: f64,
    outside: bool,
}

/// Value of pixel (r, c) for the object `label`: its own or the sky's value, else the
/// mirrored pixel through (yc, xc) when that is not another object's, else 0.
#[inline]
fn masked_value(im: &Images, r: usize, c: usize, label: i32, xc: f64, yc: f64) -> (f64, bool) {
    let k = r * im.cols + c;
    let l = im.labels[k];
    if l == 0 || l == label {
        return (im.sub[k], false);
    }
    let mr = (2.0 * yc - r as f64).round();
    let mc = (2.0 * xc - c as f64).round();
    if mr >= 0.0 && mc >= 0.0 && (mr as usize) < im.rows && (mc as usize) < im.cols {
        let m = mr as usize * im.cols + mc as usize;
        let lm = im.labels[m];
        if lm == 0 || lm == label {
            return (im.sub[m], true);
        }
    }
    (0.0, true)
}

/// Pixels whose centre has elliptical radius² `cxx dx² + cyy dy² + cxy dx dy` below `r2max`
/// (`f` gets the pixel, its radius² and its masked value).
#[allow(clippy::too_many_arguments)]
fn ellipse_pixels(
    im: &Images,
    label: i32,
    xc: f64,
    yc: f64,
    s: &Shape,
    rad: f64,
    outside: &mut bool,
    mut f: impl FnMut(usize, f64, f64, bool),
) {
    // half extents of the ellipse r = rad: rad·sqrt(x2), rad·sqrt(y2)
    let hx = rad * s.x2.max(0.0).sqrt() + 1.0;
    let hy = rad * s.y2.max(0.0).sqrt() + 1.0;
    let (x0, x1) = ((xc - hx).floor(), (xc + hx).ceil());
    let (y0, y1) = ((yc - hy).floor(), (yc + hy).ceil());
    let r2max = rad * rad;
    // one row/column beyond the frame is visited so that an aperture crossing the edge
    // is noticed (`outside`)
    let (rlo, rhi) = (y0.max(-1.0) as i64, y1.min(im.rows as f64) as i64);
    let (clo, chi) = (x0.max(-1.0) as i64, x1.min(im.cols as f64) as i64);
    for r in rlo..=rhi {
        let dy = r as f64 - yc;
        for c in clo..=chi {
            let dx = c as f64 - xc;
            let r2 = s.cxx * dx * dx + s.cyy * dy * dy + s.cxy * dx * dy;
            if r2 >= r2max {
                continue;
            }
            if r < 0 || c < 0 || r >= im.rows as i64 || c >= im.cols as i64 {
                *outside = true;
                continue;
            }
            let (v, m) = masked_value(im, r as usize, c as usize, label, xc, yc);
            f(r as usize * im.cols + c as usize, r2, v, m);
        }
    }
}

/// Circular aperture of radius `rad` around (xc, yc), pixels on the boundary sampled 5×5.
fn circle_sum(im: &Images, label: i32, xc: f64, yc: f64, rad: f64) -> ApSum {
    let mut a = ApSum {
        flux: 0.0,
        var: 0.0,
        area: 0.0,
        masked: 0.0,
        outside: false,
    };
    if rad <= 0.0 {
        return a;
    }
    const HALF_DIAG: f64 = std::f64::consts::FRAC_1_SQRT_2;
    let (rlo, rhi) = ((yc - rad).floor() as i64 - 1, (yc + rad).ceil() as i64 + 1);
    let (clo, chi) = ((xc - rad).floor() as i64 - 1, (xc + rad).ceil() as i64 + 1);
    for r in rlo..=rhi {
        for c in clo..=chi {
            let (dy, dx) = (r as f64 - yc, c as f64 - xc);
            let d = (dx * dx + dy * dy).sqrt();
            let frac = if d + HALF_DIAG <= rad {
                1.0
            } else if d - HALF_DIAG >= rad {
                0.0
            } else {
                let mut k = 0;
                for i in 0..5 {
                    for j in 0..5 {
                        let sy = dy + (i as f64 - 2.0) / 5.0;
                        let sx = dx + (j as f64 - 2.0) / 5.0;
                        if sx * sx + sy * sy < rad * rad {
                            k += 1;
                        }
                    }
                }
                k as f64 / 25.0
            };
            if frac == 0.0 {
                continue;
            }
            if r < 0 || c < 0 || r >= im.rows as i64 || c >= im.cols as i64 {
                a.outside = true;
                continue;
            }
            let (v, m) = masked_value(im, r as usize, c as usize, label, xc, yc);
            let k = r as usize * im.cols + c as usize;
            a.flux += frac * v;
            a.var += frac * (im.rms)(k).powi(2);
            a.area += frac;
            if m {
                a.masked += frac;
            }
        }
    }
    a
}

/// Every column of one object's row (see [`columns`]).
pub fn measure(o: &ObjectRef, im: &Images, p: &PhotParams) -> [f64; NCOL] {
    let cols = im.cols;
    let mut m = Moments::default();
    let mut flags = 0u32;
    let mut var_iso = 0.0;
    for &g in o.pix {
        let g = g as usize;
        m.add(g / cols, g % cols, im.sub[g]);
    }
    let (mut merged_n, mut merged_flux) = (0.0, 0.0);
    for &g in o.merged {
        merged_n += 1.0;
        merged_flux += im.sub[g as usize];
    }
    // the isophotal variance and the pixel flags count the absorbed pixels too
    for &g in o.pix.iter().chain(o.merged) {
        let g = g as usize;
        let (r, c) = (g / cols, g % cols);
        var_iso += (im.rms)(g).powi(2);
        if im.raw[g] >= p.satur_level {
            flags |= FLAG_SATURATED;
        }
        if r == 0 || c == 0 || r + 1 == im.rows || c + 1 == cols {
            flags |= FLAG_TRUNCATED;
        }
    }
    if o.blended {
        flags |= FLAG_BLENDED;
    }
    let n = m.npix as f64;
    let (yc, xc) = (o.iso.y, o.iso.x);
    let s = shape(o.iso.x2, o.iso.y2, o.iso.xy);
    // Kron radius within r < 6
    let mut outside = false;
    let (mut r1, mut v1) = (0.0, 0.0);
    if xc.is_finite() && yc.is_finite() {
        ellipse_pixels(
            im,
            o.label,
            xc,
            yc,
            &s,
            KRON_WINDOW,
            &mut outside,
            |_, r2, v, _| {
                r1 += r2.sqrt() * v;
                v1 += v;
            },
        );
    }
    let kron = if v1 > 0.0 && r1 > 0.0 {
        KRON_FACT * r1 / v1
    } else {
        0.0
    };
    let rad = kron.max(KRON_MIN_RADIUS);
    let (mut fa, mut va, mut area, mut masked) = (0.0, 0.0, 0usize, 0usize);
    let mut out_auto = false;
    if xc.is_finite() && yc.is_finite() {
        ellipse_pixels(
            im,
            o.label,
            xc,
            yc,
            &s,
            rad,
            &mut out_auto,
            |k, _, v, mk| {
                fa += v;
                va += (im.rms)(k).powi(2);
                area += 1;
                masked += usize::from(mk);
            },
        );
    }
    if out_auto {
        flags |= FLAG_APER_INCOMPLETE;
    }
    if masked * 10 > area {
        flags |= FLAG_CROWDED;
    }
    let ap = if xc.is_finite() && yc.is_finite() {
        circle_sum(im, o.label, xc, yc, p.aper_radius)
    } else {
        circle_sum(im, o.label, 0.0, 0.0, 0.0)
    };
    [
        o.label as f64,
        n + merged_n,
        m.flux + merged_flux,
        m.sr / n,
        m.sc / n,
        yc,
        xc,
        xc + 1.0,
        yc + 1.0,
        s.x2,
        s.y2,
        s.xy,
        s.a,
        s.b,
        s.theta_deg,
        m.flux + merged_flux,
        var_iso.sqrt(),
        ap.flux,
        ap.var.sqrt(),
        kron,
        fa,
        va.sqrt(),
        flags as f64,
        o.parent as f64,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pix: &[u32], d: &[f64]) -> Vec<f64> {
        pix.iter().map(|&g| d[g as usize]).collect()
    }

    #[test]
    fn moments_about_a_given_centre() {
        // a 3×3 block of ones: barycentre at its middle, x2 = y2 = 2/3
        let cols = 10;
        let pix: Vec<u32> = [11u32, 12, 13, 21, 22, 23, 31, 32, 33].to_vec();
        let w = vec![1.0; 9];
        let m = iso_moments(&pix, &w, cols, None);
        assert_eq!((m.x, m.y), (2.0, 2.0));
        assert!((m.x2 - 2.0 / 3.0).abs() < 1e-12 && m.xy.abs() < 1e-12);
        // about a centre one column to the left: x2 grows by 1, the centre is kept
        let m = iso_moments(&pix, &w, cols, Some((1.0, 2.0)));
        assert_eq!((m.x, m.y), (1.0, 2.0));
        assert!((m.x2 - 5.0 / 3.0).abs() < 1e-12 && (m.y2 - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn shape_of_a_tilted_ellipse() {
        // covariance of an ellipse with a = 3, b = 1 rotated by 30°
        let (a, b, t) = (3.0f64, 1.0f64, 30f64.to_radians());
        let x2 = a * a * t.cos().powi(2) + b * b * t.sin().powi(2);
        let y2 = a * a * t.sin().powi(2) + b * b * t.cos().powi(2);
        let xy = (a * a - b * b) * t.sin() * t.cos();
        let s = shape(x2, y2, xy);
        assert!((s.a - 3.0).abs() < 1e-12 && (s.b - 1.0).abs() < 1e-12);
        assert!((s.theta_deg - 30.0).abs() < 1e-9);
        // the point at distance a along the major axis is on the r = 1 ellipse
        let (dx, dy) = (a * t.cos(), a * t.sin());
        let r2 = s.cxx * dx * dx + s.cyy * dy * dy + s.cxy * dx * dy;
        assert!((r2 - 1.0).abs() < 1e-12);
        // a single-pixel object gets SExtractor's 1/12 guard
        let s = shape(0.0, 0.0, 0.0);
        assert!((s.x2 - 0.0833333).abs() < 1e-15 && s.a > 0.28 && s.a < 0.3);
    }

    /// A Gaussian star on a flat zero sky: the barycentre, A ≈ B, the Kron radius (the
    /// radial first moment of a 2-D Gaussian is sqrt(π/2)·σ; in units of the isophotal
    /// A < σ and times 2.5 that is > 3), FLUX_AUTO ≈ the total and the aperture sums.
    #[test]
    fn gaussian_star_measurements() {
        let (rows, cols) = (64, 64);
        let (sr, sc, sigma, total) = (31.3, 32.6, 2.0, 10_000.0);
        let mut sub = vec![0.0; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                let d2 = (r as f64 - sr).powi(2) + (c as f64 - sc).powi(2);
                sub[r * cols + c] = total / (2.0 * std::f64::consts::PI * sigma * sigma)
                    * (-d2 / (2.0 * sigma * sigma)).exp();
            }
        }
        let rms = |_: usize| 1.0;
        let thr = 5.0;
        let pix: Vec<u32> = (0..(rows * cols) as u32)
            .filter(|&i| sub[i as usize] > thr)
            .collect();
        let mut labels = vec![0i32; rows * cols];
        for &g in &pix {
            labels[g as usize] = 1;
        }
        let im = Images {
            raw: &sub,
            sub: &sub,
            rms: &rms,
            labels: &labels,
            rows,
            cols,
        };
        let o = ObjectRef {
            pix: &pix,
            merged: &[],
            label: 1,
            parent: 1,
            blended: false,
            iso: iso_moments(&pix, &at(&pix, &sub), cols, None),
        };
        let p = PhotParams {
            aper_radius: 3.0 * sigma,
            satur_level: 1e9,
        };
        let row = measure(&o, &im, &p);
        let col = |n: &str| row[columns().iter().position(|c| *c == n).expect("col")];
        // the isophotal barycentre: pixels above the threshold are not symmetric about a
        // sub-pixel centre, so it is close but not exact
        assert!(
            (col("x_image") - (sc + 1.0)).abs() < 0.05,
            "{}",
            col("x_image")
        );
        assert!(
            (col("y_image") - (sr + 1.0)).abs() < 0.05,
            "{}",
            col("y_image")
        );
        // isophotal moments of a truncated Gaussian are below σ²
        assert!(col("a_image") < sigma && col("a_image") > 0.6 * sigma);
        assert!((col("a_image") - col("b_image")).abs() < 0.05);
        let auto = col("flux_auto");
        assert!((auto / total - 1.0).abs() < 0.01, "auto {auto}");
        // circle of 3σ holds 1 − exp(−4.5) of the light
        let want = total * (1.0 - (-4.5f64).exp());
        assert!(
            (col("flux_aper") / want - 1.0).abs() < 0.005,
            "{}",
            col("flux_aper")
        );
        let want_kron = 2.5 * (std::f64::consts::PI / 2.0).sqrt() * sigma / col("a_image");
        assert!(
            (col("kron_radius") / want_kron - 1.0).abs() < 0.02,
            "{} vs {want_kron}",
            col("kron_radius")
        );
        assert_eq!(col("flags"), 0.0);
        // error from unit RMS: sqrt(number of pixels)
        let ferr = col("fluxerr_iso");
        assert!((ferr - (pix.len() as f64).sqrt()).abs() < 1e-9);
    }
}
