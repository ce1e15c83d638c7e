//! SExtractor's CLEAN for `ccd-pipeline detect=background`: detections that are only the
//! wings of a brighter neighbour are merged into it.
//!
//! Without it, the halo of a bright star, once deblended, leaves faint "objects" around
//! the star whose peaks barely clear the threshold; on the ESO test frame SExtractor 2.25
//! finds 77 objects without CLEAN and 68 with it. The test follows SExtractor's
//! (`clean.c`, documented in its manual as CLEAN / CLEAN_PARAM):
//!
//! - each object gets a Moffat-like wing model from its filtered detection flux and
//!   isophotal shape: amplitude `amp = F / (2π a b · abcor)` and
//!   `I(r) = amp · (1 + α·r²)^(−β)` with `r²` the ellipse metric of its second moments,
//!   `β` = `clean_param` (1.0), and `α` chosen so that `I` falls to the detection threshold
//!   at the object's isophotal area;
//! - of two objects closer than 10 × (a₁ + a₂), the fainter one is merged into the brighter
//!   when the brighter's model at the fainter's centre exceeds the fainter's `mthresh` (its
//!   `minarea`-th brightest pixel above the threshold): the fainter one would not have
//!   been detected on its own above the brighter one's wings. `mthresh` is taken as
//!   SExtractor's heap selects it from the pixels in the order of its pixel list
//!   ([`crate::kernels::extract::lutz`]; for a deblended child its seed's list, then the
//!   leftover pixels it was given in the detection's list order): the heap skips the
//!   (minarea+1)-th pixel, its sift-down is SExtractor's own (not always a heap), and for
//!   an object of exactly `minarea` pixels it is the first pixel's value. With all three
//!   the objects CLEAN removes on the crowded test set and the ESO frame are SExtractor's
//!   and sep's, object for object; in raster order with a true heap, 14 more objects
//!   were removed on the crowded set, in list order with a true heap 9 more;
//! - objects enter in the order SExtractor's scan hands them over: a detection when the
//!   raster scan completes it (its last pixel), its deblended children one after the
//!   other in the order their seeds were accepted; each is compared with the objects
//!   already standing within 10 × (a₁ + a₂), in the order of SExtractor's list (an object
//!   appended at its end; a removed object's slot taken by the last one), found through a
//!   grid of 64-px cells (objects with a > 8 px in a list of their own), and the run can
//!   be cancelled between objects. The first standing object that eats the newcomer takes
//!   it; otherwise the newcomer eats every fainter one whose wings it covers. SExtractor
//!   also retires objects from the list once its scan buffer (MEMORY_BUFSIZE, 1024 lines
//!   by default) moves past them: on frames up to that height, as every test frame here,
//!   it does not; on taller ones it compares fewer pairs than this;
//! - each object's centre and shape are those it is measured with
//!   ([`crate::kernels::extract::photometry::iso_moments`]: for a deblended child, its
//!   seed's barycentre and the moments about it), as SExtractor's CLEAN reads them from
//!   `preanalyse`.
//!
//! Everything is in the units of the detection image (the filtered image over the RMS), in
//! which the threshold is `thresh`; SExtractor's quantities are in ADU, which only scales
//! every term of the test by the same factor when the RMS is global.

use crate::kernels::extract::photometry::{abcor, shape, IsoMoments};

/// CLEAN settings.
#[derive(Clone, Copy, Debug)]
pub struct CleanParams {
    /// β of the wing model (SExtractor's CLEAN_PARAM, 1.0).
    pub beta: f64,
    /// Detection threshold in detection-image units.
    pub thresh: f64,
    pub minarea: usize,
}

/// Zone of interaction, in units of a₁ + a₂ (SExtractor's CLEAN_ZONE).
const CLEAN_ZONE: f64 = 10.0;

/// What CLEAN needs to know of one object.
#[derive(Clone, Debug)]
struct Profile {
    x: f64,
    y: f64,
    a: f64,
    cxx: f64,
    cyy: f64,
    cxy: f64,
    /// Σ of the detection image over the object.
    flux: f64,
    npix: f64,
    /// π·a·b, the ellipse's unit area.
    unit: f64,
    /// SExtractor's area correction of the amplitude (≤ 1).
    abcor: f64,
    /// The `minarea`-th highest detection value above the threshold, as SExtractor's
    /// heap selects it (0 for a smaller object).
    mthresh: f64,
}

impl Profile {
    /// The wing model's value at offset (dx, dy) from the centre, or `None` inside the
    /// model's core (SExtractor's `val > 1` condition).
    fn wing_at(&self, beta: f64, thresh: f64, dx: f64, dy: f64) -> Option<f64> {
        let positive = |v: f64| v > 0.0;
        if ![self.flux, self.unit, self.abcor, self.npix]
            .into_iter()
            .all(positive)
        {
            return None;
        }
        let amp = self.flux / (2.0 * self.unit * self.abcor);
        let alpha = ((amp / thresh).powf(1.0 / beta) - 1.0) * self.unit / self.npix;
        let val = 1.0 + alpha * (self.cxx * dx * dx + self.cyy * dy * dy + self.cxy * dx * dy);
        if val.is_nan() || val <= 1.0 {
            return None;
        }
        Some(if val < 1e10 {
            amp * val.powf(-beta)
        } else {
            0.0
        })
    }
}

/// SExtractor's `mthresh` (`examineiso`; sep's `analysemthresh`) from the pixels' excess
/// over the threshold in the order of its pixel list: the first `m` values fill a heap,
/// the (m+1)-th only sorts it, and each later value larger than the heap's first replaces
/// it and is sifted down; the result is the heap's first value (for exactly `m` pixels
/// the first pixel's, for fewer 0). The sift-down is SExtractor's, which moves on to the
/// slot after the child it swapped with, so the heap is not always a heap and the result
/// is not always the m-th largest value: on `gen_cluster` an object whose m-th largest
/// excess is 1.184 σ gets 1.383 σ, as sep does, and survives a neighbour's wing of
/// 1.317 σ as it does in SExtractor and sep.
fn sextractor_mthresh(v: &[f64], m: usize) -> f64 {
    if v.len() < m || m == 0 {
        return 0.0;
    }
    let mut heap: Vec<f64> = Vec::with_capacity(m);
    for (n, &t) in v.iter().enumerate() {
        if n < m {
            heap.push(t);
        } else if n == m {
            heap.sort_unstable_by(f64::total_cmp);
        } else if t > heap[0] {
            heap[0] = t;
            let mut j = 0usize;
            loop {
                let mut k = (j + 1) << 1;
                if k > m {
                    break;
                }
                // k − 1 and k are j's children (k only below m); take the smaller
                let mut c = k - 1;
                if k != m && heap[k - 1] > heap[k] {
                    c = k;
                    k += 1;
                }
                if heap[j] <= heap[c] {
                    break;
                }
                heap.swap(c, j);
                j = k;
            }
        }
    }
    heap[0]
}

/// Measure one object for CLEAN: `pix` its pixels, `det` the detection image (filtered,
/// over the RMS) at them, `list` the same in SExtractor's list order, `iso` its centre and
/// moments, and `raw(g)` the unfiltered background-subtracted pixel g over the RMS.
fn profile(
    pix: &[u32],
    det: &[f64],
    list: &[f64],
    iso: &IsoMoments,
    raw: &dyn Fn(usize) -> f64,
    p: &CleanParams,
) -> Profile {
    let sh = shape(iso.x2, iso.y2, iso.xy);
    let ab = abcor(pix.iter().map(|&g| raw(g as usize)), p.thresh, sh.a, sh.b);
    let excess: Vec<f64> = list.iter().map(|&d| d - p.thresh).collect();
    let mthresh = sextractor_mthresh(&excess, p.minarea.max(1));
    Profile {
        x: iso.x,
        y: iso.y,
        a: sh.a,
        cxx: sh.cxx,
        cyy: sh.cyy,
        cxy: sh.cxy,
        flux: det.iter().sum(),
        npix: pix.len() as f64,
        unit: std::f64::consts::PI * sh.a * sh.b,
        abcor: ab,
        mthresh,
    }
}

/// What CLEAN reads of one object.
pub struct CleanInput<'a> {
    /// Its pixels (raster order).
    pub pix: &'a [u32],
    /// The detection image at them.
    pub det: &'a [f64],
    /// The same values in the order of SExtractor's pixel list (its `mthresh` depends on
    /// it); empty: `det`'s order.
    pub det_scan: &'a [f64],
    /// Its centre and moments.
    pub iso: IsoMoments,
    /// When SExtractor's scan hands it to CLEAN: objects enter by increasing `entry`,
    /// equal ones in their order here.
    pub entry: u64,
}

/// Run CLEAN over `objects`. Returns, for each object, the index of the object that
/// absorbed it, or its own index if it survives. Absorption is resolved to the final
/// survivor (never a chain).
pub fn clean(
    objects: &[CleanInput],
    raw: &(dyn Fn(usize) -> f64 + Sync),
    p: &CleanParams,
    par: bool,
    check: &dyn Fn() -> crate::Result<()>,
) -> crate::Result<Vec<usize>> {
    use rayon::prelude::*;
    let n = objects.len();
    let mut owner: Vec<usize> = (0..n).collect();
    if n < 2 || p.thresh.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Ok(owner);
    }
    let one = |i: usize| {
        let o = &objects[i];
        let list = if o.det_scan.is_empty() {
            o.det
        } else {
            o.det_scan
        };
        profile(o.pix, o.det, list, &o.iso, raw, p)
    };
    let mut prof: Vec<Profile> = if par {
        (0..n).into_par_iter().map(one).collect()
    } else {
        (0..n).map(one).collect()
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| objects[i].entry);
    // Candidates: objects with a ≤ BIG_A sit in a grid of GRID px cells, so a newcomer i
    // looks only at the cells within 10·(a_i + BIG_A) of its centre, which holds every
    // such j with a distance below 10·(a_i + a_j); the few larger objects are all looked
    // at. (Comparing with every object was O(N²) on a frame of many sources.)
    const BIG_A: f64 = 8.0;
    const GRID: f64 = 64.0;
    let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
    let (x0, y0) = prof
        .iter()
        .fold((f64::INFINITY, f64::INFINITY), |(x, y), q| {
            (x.min(finite(q.x)), y.min(finite(q.y)))
        });
    let cell_of = |v: f64, o: f64| (((finite(v) - o) / GRID).max(0.0) as usize).min(1 << 20);
    let gw = prof.iter().map(|q| cell_of(q.x, x0)).max().unwrap_or(0) + 1;
    let gh = prof.iter().map(|q| cell_of(q.y, y0)).max().unwrap_or(0) + 1;
    let cells = gw.saturating_mul(gh).clamp(1, 1 << 22);
    let mut grid: Vec<Vec<usize>> = vec![Vec::new(); cells];
    let slot = move |cx: usize, cy: usize| (cy * gw + cx).min(cells - 1);
    let mut big: Vec<usize> = Vec::new();
    // SExtractor's list of standing objects: `list[pos[j]] == j`; a removed object's
    // slot goes to the last one (its `subcleanobj`)
    let mut list: Vec<usize> = Vec::new();
    let mut pos = vec![usize::MAX; n];
    let mut near: Vec<usize> = Vec::new();
    let mut victims: Vec<usize> = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        if k % 256 == 0 {
            check()?;
        }
        let reach = CLEAN_ZONE * (prof[i].a + BIG_A);
        let (cx0, cx1) = (
            cell_of(prof[i].x - reach, x0),
            cell_of(prof[i].x + reach, x0),
        );
        let (cy0, cy1) = (
            cell_of(prof[i].y - reach, y0),
            cell_of(prof[i].y + reach, y0),
        );
        near.clear();
        for cy in cy0..=cy1.min(gh - 1) {
            for cx in cx0..=cx1.min(gw - 1) {
                near.extend(
                    grid[slot(cx, cy)]
                        .iter()
                        .copied()
                        .filter(|&j| pos[j] != usize::MAX),
                );
            }
        }
        near.extend(big.iter().copied().filter(|&j| pos[j] != usize::MAX));
        // SExtractor compares in the order of its list
        near.sort_by_key(|&j| pos[j]);
        victims.clear();
        let mut eaten_by = None;
        for &j in &near {
            let (pi, pj) = (&prof[i], &prof[j]);
            let (dx, dy) = (pi.x - pj.x, pi.y - pj.y);
            let rlim = (pi.a + pj.a) * CLEAN_ZONE;
            if dx * dx + dy * dy >= rlim * rlim {
                continue;
            }
            if pj.flux < pi.flux {
                // the newcomer's wings at j
                if let Some(w) = pi.wing_at(p.beta, p.thresh, dx, dy) {
                    if w > pj.mthresh {
                        victims.push(j);
                    }
                }
            } else if let Some(w) = pj.wing_at(p.beta, p.thresh, dx, dy) {
                if w > pi.mthresh {
                    eaten_by = Some(j);
                    break;
                }
            }
        }
        if let Some(j) = eaten_by {
            merge(&mut prof, i, j);
            owner[i] = j;
            continue;
        }
        // removed from the end of the list first, as SExtractor does
        for &v in victims.iter().rev() {
            merge(&mut prof, v, i);
            owner[v] = i;
            let at = pos[v];
            pos[v] = usize::MAX;
            let last = list.pop().expect("a victim is in the list");
            if last != v {
                list[at] = last;
                pos[last] = at;
            }
        }
        pos[i] = list.len();
        list.push(i);
        if prof[i].a > BIG_A {
            big.push(i);
        } else {
            let s = slot(cell_of(prof[i].x, x0), cell_of(prof[i].y, y0));
            grid[s].push(i);
        }
    }
    // resolve chains (a victim's own victims follow it to its eater)
    for i in 0..n {
        let mut k = owner[i];
        while owner[k] != k {
            k = owner[k];
        }
        owner[i] = k;
    }
    Ok(owner)
}

/// SExtractor's `clean_merge`: the eater gains the victim's flux and pixel count (its
/// shape and centre stay).
fn merge(prof: &mut [Profile], victim: usize, eater: usize) {
    let (f, np) = (prof[victim].flux, prof[victim].npix);
    let e = &mut prof[eater];
    e.flux += f;
    e.npix += np;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rows: usize, cols: usize, stars: &[(f64, f64, f64, f64)]) -> Vec<f64> {
        let mut d = vec![0.0; rows * cols];
        for (k, v) in d.iter_mut().enumerate() {
            let (r, c) = ((k / cols) as f64, (k % cols) as f64);
            for &(sr, sc, amp, s) in stars {
                *v += amp * (-((r - sr).powi(2) + (c - sc).powi(2)) / (2.0 * s * s)).exp();
            }
        }
        d
    }

    fn at(pix: &[u32], d: &[f64]) -> Vec<f64> {
        pix.iter().map(|&g| d[g as usize]).collect()
    }

    /// CLEAN on objects of the image `d` (the detection image and the raw one alike).
    fn run(
        objs: &[&[u32]],
        d: &[f64],
        cols: usize,
        p: &CleanParams,
        par: bool,
        check: &dyn Fn() -> crate::Result<()>,
    ) -> crate::Result<Vec<usize>> {
        let vals: Vec<Vec<f64>> = objs.iter().map(|o| at(o, d)).collect();
        // each object handed over when a raster scan completes it (its last pixel)
        let input: Vec<CleanInput> = objs
            .iter()
            .zip(&vals)
            .map(|(o, v)| CleanInput {
                pix: o,
                det: v,
                det_scan: &[],
                iso: crate::kernels::extract::photometry::iso_moments(o, v, cols, None),
                entry: u64::from(*o.last().expect("pixels")),
            })
            .collect();
        clean(&input, &|g| d[g], p, par, check)
    }

    /// The pixels above `thr` within `rad` of (r, c), raster order.
    fn blob(d: &[f64], cols: usize, r: f64, c: f64, rad: f64, thr: f64) -> Vec<u32> {
        (0..d.len() as u32)
            .filter(|&g| {
                let (gr, gc) = ((g as usize / cols) as f64, (g as usize % cols) as f64);
                (gr - r).hypot(gc - c) <= rad && d[g as usize] > thr
            })
            .collect()
    }

    fn params() -> CleanParams {
        CleanParams {
            beta: 1.0,
            thresh: 1.5,
            minarea: 5,
        }
    }

    #[test]
    fn a_faint_bump_beyond_a_bright_stars_isophote_is_merged() {
        // a bright star (isophote radius 7.9 px at 1.5) and, 11 px away, a bump whose five
        // pixels are barely above the threshold: the star's wing model (1/r² beyond the
        // isophote) predicts more than the bump's excess
        let (rows, cols) = (60, 60);
        let d = frame(
            rows,
            cols,
            &[(30.0, 30.0, 4000.0, 2.0), (30.0, 41.0, 3.0, 1.0)],
        );
        let star = blob(&d, cols, 30.0, 30.0, 9.0, 1.5);
        let bump = blob(&d, cols, 30.0, 41.0, 1.5, 1.5);
        assert_eq!(bump.len(), 5);
        assert!(!star.iter().any(|g| bump.contains(g)));
        let owner = run(&[&star, &bump], &d, cols, &params(), false, &|| Ok(())).expect("clean");
        assert_eq!(owner, vec![0, 0]);
    }

    #[test]
    fn mthresh_follows_sextractors_heap() {
        // fewer than minarea: 0; exactly minarea: the first value
        assert_eq!(sextractor_mthresh(&[3.0, 1.0], 5), 0.0);
        assert_eq!(sextractor_mthresh(&[3.0, 1.0, 4.0, 1.5, 9.0], 5), 3.0);
        // more: the 6th value (0.2, then 8.0) only sorts the heap
        let v = [3.0, 1.0, 4.0, 1.5, 9.0, 0.2, 2.6, 5.0];
        assert_eq!(sextractor_mthresh(&v, 5), 2.6);
        let v = [3.0, 1.0, 4.0, 1.5, 9.0, 8.0, 0.5];
        assert_eq!(sextractor_mthresh(&v, 5), 1.0);
        // a 15-pixel object of gen_cluster.fits (excess in σ, in the order of sep's pixel
        // list): its 5th largest is 1.184, sep's analysemthresh gives 1.383 (46.258 ADU
        // at σ = 33.437) and so does this
        let v = [
            0.448, 0.411, 0.643, 0.058, 1.621, 2.001, 1.11, 0.167, 1.383, 2.132, 1.447, 0.128,
            0.27, 1.184, 0.833,
        ];
        assert_eq!(sextractor_mthresh(&v, 5), 1.383);
    }

    #[test]
    fn grid_finds_a_neighbour_in_the_next_cell_and_cancels() {
        // a faint star far to the left (x = 5) sets the grid's origin, so that the bright
        // star (x = 125, cell 1) and the bump 11 px to its right (x = 136, cell 2) fall
        // in different 64-px cells: the bump is still found and merged
        let (rows, cols) = (80, 200);
        let d = frame(
            rows,
            cols,
            &[
                (40.0, 5.0, 300.0, 1.0),
                (40.0, 125.0, 4000.0, 2.0),
                (40.0, 136.0, 3.0, 1.0),
            ],
        );
        let star = blob(&d, cols, 40.0, 125.0, 9.0, 1.5);
        let bump = blob(&d, cols, 40.0, 136.0, 1.5, 1.5);
        let far = blob(&d, cols, 40.0, 5.0, 4.0, 1.5);
        assert_eq!(bump.len(), 5);
        let owner = run(
            &[&far, &star, &bump],
            &d,
            cols,
            &params(),
            false,
            &|| Ok(()),
        )
        .expect("clean");
        assert_eq!(owner, vec![0, 1, 1]);
        // cancellation reaches the loop
        let stop = || Err(crate::Error::Cancelled);
        assert!(run(&[&star, &bump], &d, cols, &params(), false, &stop).is_err());
    }

    #[test]
    fn two_real_stars_are_kept() {
        let (rows, cols) = (60, 80);
        let d = frame(
            rows,
            cols,
            &[(30.0, 25.0, 4000.0, 2.0), (30.0, 45.0, 800.0, 2.0)],
        );
        let a = blob(&d, cols, 30.0, 25.0, 9.0, 1.5);
        let b = blob(&d, cols, 30.0, 45.0, 9.0, 1.5);
        let owner = run(&[&a, &b], &d, cols, &params(), true, &|| Ok(())).expect("clean");
        assert_eq!(owner, vec![0, 1]);
        // and with no threshold there is no model: nothing merges
        let p0 = CleanParams {
            thresh: 0.0,
            ..params()
        };
        assert_eq!(
            run(&[&a, &b], &d, cols, &p0, false, &|| Ok(())).expect("clean"),
            vec![0, 1]
        );
    }
}
