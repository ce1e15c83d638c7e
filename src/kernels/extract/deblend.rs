//! SExtractor-style multi-threshold deblending for `ccd-pipeline detect=background`.
//!
//! Per detected object (a set of 8-connected pixels above the detection threshold) the
//! detection image (filtered, in units of the local RMS) is cut at `nthresh − 1`
//! sub-thresholds spaced exponentially between the detection threshold and the object's
//! peak. The connected parts at every level form a tree (each part at level k+1 lies in
//! exactly one part at level k). Walking the tree from the top level down as SExtractor
//! does, a node splits when at least two of its branches are significant: their flux
//! above their own level (Σ (d − t_k) over the branch, d the detection image) exceeds
//! `mincont` × the object's total flux, and they have at least `minarea` pixels (as
//! SExtractor's sub-extraction keeps only parts of DETECT_MINAREA). The surviving branches are the seeds of the new
//! objects; pixels outside every seed go to the most likely seed under SExtractor's
//! Gaussian profile model (amplitude t·exp(npix/(2π·a·b)) capped at 4 × the seed's peak,
//! times exp(−r²/2) with r² from the seed's flux-weighted second moments). SExtractor's
//! `gatherup` draws the owner at random with these probabilities; here the most probable
//! seed takes the pixel, so the result is deterministic.
//!
//! The tree is built with one union-find pass from the top level down (pixels bucketed by
//! level), so an object costs O(npix · α) plus the bounding box, not O(npix · nthresh).
//! Everything about one object is serial and deterministic, so every variant (serial or
//! rayon over objects) produces the same children in the same order.

/// Deblending settings.
#[derive(Clone, Copy, Debug)]
pub struct DeblendParams {
    /// Number of levels (SExtractor's DEBLEND_NTHRESH, 32).
    pub nthresh: usize,
    /// Minimum contrast (DEBLEND_MINCONT, 0.005).
    pub mincont: f64,
    /// Smallest branch in pixels (the detection `minarea`: SExtractor's sub-extraction
    /// at each level keeps only parts of at least DETECT_MINAREA pixels).
    pub minarea: usize,
    /// Detection threshold in the units of the detection image.
    pub thresh: f64,
}

/// Result of deblending one object: the children's pixel lists (flat indices, raster
/// order), sorted by their first pixel. One child means "not split".
pub type Children = Vec<Vec<u32>>;

struct Node {
    level: u32,
    /// A local pixel index inside the node's part (its union-find root when made).
    root: u32,
    flux: f64,
    npix: u32,
    /// Seeds (node indices) this subtree resolves to.
    objs: Vec<u32>,
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let g = parent[parent[i as usize] as usize];
        parent[i as usize] = g;
        i = g;
    }
    i
}

/// The sub-thresholds t_1 < … < t_{n−1} between `lo` (the detection threshold) and `peak`:
/// exponential when `lo` > 0 (SExtractor), linear otherwise.
pub fn levels(lo: f64, peak: f64, nthresh: usize) -> Vec<f64> {
    let n = nthresh as f64;
    (1..nthresh)
        .map(|k| {
            let f = k as f64 / n;
            if lo > 0.0 {
                lo * (peak / lo).powf(f)
            } else {
                lo + (peak - lo) * f
            }
        })
        .collect()
}

/// Deblend one object. `pix` are its pixels (flat indices into a `cols`-wide frame, raster
/// order) and `vals` the detection image at those pixels (the image itself is not kept).
pub fn deblend_object(pix: &[u32], vals: &[f64], cols: usize, p: &DeblendParams) -> Children {
    let n = pix.len();
    let single = || vec![pix.to_vec()];
    let minarea = p.minarea.max(1);
    if p.nthresh < 2 || n < 2 * minarea {
        return single();
    }
    let v = vals;
    let peak = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if peak.partial_cmp(&p.thresh) != Some(std::cmp::Ordering::Greater) {
        return single();
    }
    let lv = levels(p.thresh, peak, p.nthresh);
    // level of each pixel: how many sub-thresholds it is above
    let q: Vec<u32> = v
        .iter()
        .map(|&x| lv.partition_point(|&t| x > t) as u32)
        .collect();
    let top = *q.iter().max().unwrap_or(&0) as usize;
    if top == 0 {
        return single();
    }
    // bounding box grid: local index of each pixel, u32::MAX where not in the object
    let (mut r0, mut r1, mut c0, mut c1) = (usize::MAX, 0, usize::MAX, 0);
    for &g in pix {
        let (r, c) = (g as usize / cols, g as usize % cols);
        r0 = r0.min(r);
        r1 = r1.max(r);
        c0 = c0.min(c);
        c1 = c1.max(c);
    }
    let (h, w) = (r1 - r0 + 1, c1 - c0 + 1);
    let mut grid = vec![u32::MAX; h * w];
    let lr: Vec<(u32, u32)> = pix
        .iter()
        .map(|&g| {
            (
                (g as usize / cols - r0) as u32,
                (g as usize % cols - c0) as u32,
            )
        })
        .collect();
    for (i, &(r, c)) in lr.iter().enumerate() {
        grid[r as usize * w + c as usize] = i as u32;
    }
    let neighbours = |i: usize, f: &mut dyn FnMut(u32)| {
        let (r, c) = (lr[i].0 as isize, lr[i].1 as isize);
        for dr in -1isize..=1 {
            for dc in -1isize..=1 {
                if dr == 0 && dc == 0 {
                    continue;
                }
                let (rr, cc) = (r + dr, c + dc);
                if rr < 0 || cc < 0 || rr >= h as isize || cc >= w as isize {
                    continue;
                }
                let j = grid[rr as usize * w + cc as usize];
                if j != u32::MAX {
                    f(j);
                }
            }
        }
    };
    // pixels bucketed by level (stable: raster order inside a level)
    let mut start = vec![0usize; top + 2];
    for &k in &q {
        start[k as usize + 1] += 1;
    }
    for k in 0..=top {
        start[k + 1] += start[k];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; n];
    for (i, &k) in q.iter().enumerate() {
        order[fill[k as usize]] = i as u32;
        fill[k as usize] += 1;
    }
    let total: f64 = v.iter().sum();
    let level_value = |k: usize| if k == 0 { p.thresh } else { lv[k - 1] };
    let fmin = p.mincont * total;
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut flux = vec![0.0f64; n];
    let mut count = vec![0u32; n];
    let mut active = vec![false; n];
    let mut node_of_root = vec![u32::MAX; n];
    let mut nodes: Vec<Node> = Vec::new();
    let mut live: Vec<u32> = Vec::new();
    let mut prev_nodes: Vec<u32> = Vec::new();
    for k in (0..=top).rev() {
        for &i in &order[start[k]..start[k + 1]] {
            active[i as usize] = true;
            flux[i as usize] = v[i as usize];
            count[i as usize] = 1;
            live.push(i);
            let mut nb = [0u32; 8];
            let mut m = 0;
            neighbours(i as usize, &mut |j| {
                nb[m] = j;
                m += 1;
            });
            for &j in &nb[..m] {
                if !active[j as usize] {
                    continue;
                }
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a == b {
                    continue;
                }
                // the smaller local index stays the root (deterministic)
                let (keep, gone) = if a < b { (a, b) } else { (b, a) };
                parent[gone as usize] = keep;
                flux[keep as usize] += flux[gone as usize];
                count[keep as usize] += count[gone as usize];
            }
        }
        live.retain(|&r| parent[r as usize] == r);
        live.sort_unstable();
        // nodes of this level
        let first = nodes.len() as u32;
        for &r in &live {
            node_of_root[r as usize] = nodes.len() as u32;
            nodes.push(Node {
                level: k as u32,
                root: r,
                flux: flux[r as usize],
                npix: count[r as usize],
                objs: Vec::new(),
            });
        }
        // children (nodes of level k+1) grouped under their part at level k
        let mut kids: Vec<Vec<u32>> = vec![Vec::new(); live.len()];
        for &c in &prev_nodes {
            let r = find(&mut parent, nodes[c as usize].root);
            let pn = node_of_root[r as usize];
            kids[(pn - first) as usize].push(c);
        }
        for (off, ks) in kids.into_iter().enumerate() {
            let id = first as usize + off;
            // SExtractor's contrast test: the branch's flux above its own level
            let sig: Vec<u32> = ks
                .into_iter()
                .filter(|&c| {
                    let c = &nodes[c as usize];
                    c.npix as usize >= minarea
                        && c.flux - level_value(c.level as usize) * c.npix as f64 > fmin
                })
                .collect();
            let objs = match sig.len() {
                0 => vec![id as u32],
                1 => {
                    let o = &nodes[sig[0] as usize].objs;
                    if o.len() >= 2 {
                        o.clone()
                    } else {
                        vec![id as u32]
                    }
                }
                _ => sig
                    .iter()
                    .flat_map(|&c| nodes[c as usize].objs.iter().copied())
                    .collect(),
            };
            nodes[id].objs = objs;
        }
        prev_nodes = (first..nodes.len() as u32).collect();
    }
    // level 0 has exactly one part (the object is connected)
    let seeds = match prev_nodes.first() {
        Some(&root) if prev_nodes.len() == 1 => nodes[root as usize].objs.clone(),
        _ => return single(),
    };
    if seeds.len() < 2 {
        return single();
    }
    // seed membership: the part at the seed's level around its root pixel
    const NONE: u32 = u32::MAX;
    let mut owner = vec![NONE; n];
    let mut stack = Vec::new();
    for (s, &sid) in seeds.iter().enumerate() {
        let (lev, root) = (nodes[sid as usize].level, nodes[sid as usize].root);
        owner[root as usize] = s as u32;
        stack.push(root);
        while let Some(i) = stack.pop() {
            neighbours(i as usize, &mut |j| {
                if owner[j as usize] == NONE && q[j as usize] >= lev {
                    owner[j as usize] = s as u32;
                    stack.push(j);
                }
            });
        }
    }
    // Gaussian profile of each seed: flux-weighted centre, second moments, peak
    let prof: Vec<(f64, f64, f64, f64, f64, f64)> = (0..seeds.len())
        .map(|s| {
            let (mut sw, mut sx, mut sy, mut pk) = (0.0, 0.0, 0.0, f64::NEG_INFINITY);
            let mut np = 0.0;
            for i in 0..n {
                if owner[i] == s as u32 {
                    let (y, x) = (lr[i].0 as f64, lr[i].1 as f64);
                    sw += v[i];
                    sx += v[i] * x;
                    sy += v[i] * y;
                    pk = pk.max(v[i]);
                    np += 1.0;
                }
            }
            let (mx, my) = (sx / sw, sy / sw);
            let (mut x2, mut y2, mut xy) = (0.0, 0.0, 0.0);
            for i in 0..n {
                if owner[i] == s as u32 {
                    let (dy, dx) = (lr[i].0 as f64 - my, lr[i].1 as f64 - mx);
                    x2 += v[i] * dx * dx;
                    y2 += v[i] * dy * dy;
                    xy += v[i] * dx * dy;
                }
            }
            let (mut x2, mut y2, xy) = (x2 / sw, y2 / sw, xy / sw);
            // SExtractor's guard against singular (line-like) profiles
            if x2 * y2 - xy * xy < 1.0 / 144.0 {
                x2 += 1.0 / 12.0;
                y2 += 1.0 / 12.0;
            }
            let det = x2 * y2 - xy * xy;
            // SExtractor's amplitude: level · exp(npix / (2π·a·b)), at most 4 × the peak
            let lev = level_value(nodes[seeds[s] as usize].level as usize);
            let e = np / (2.0 * std::f64::consts::PI * det.sqrt());
            let amp = if e < 70.0 {
                (lev * e.exp()).min(4.0 * pk)
            } else {
                4.0 * pk
            };
            let lnamp = amp.max(f64::MIN_POSITIVE).ln();
            (mx, my, y2 / det, x2 / det, -2.0 * xy / det, lnamp)
        })
        .collect();
    for i in 0..n {
        if owner[i] != NONE {
            continue;
        }
        let (y, x) = (lr[i].0 as f64, lr[i].1 as f64);
        let mut best = (f64::NEG_INFINITY, 0u32);
        for (s, &(mx, my, cxx, cyy, cxy, lnpk)) in prof.iter().enumerate() {
            let (dx, dy) = (x - mx, y - my);
            let score = lnpk - 0.5 * (cxx * dx * dx + cyy * dy * dy + cxy * dx * dy);
            if score > best.0 {
                best = (score, s as u32);
            }
        }
        owner[i] = best.1;
    }
    let mut out: Children = vec![Vec::new(); seeds.len()];
    for (i, &g) in pix.iter().enumerate() {
        out[owner[i] as usize].push(g);
    }
    out.retain(|c| !c.is_empty());
    out.sort_by_key(|c| c[0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauss_frame(rows: usize, cols: usize, stars: &[(f64, f64, f64)], sigma: f64) -> Vec<f64> {
        let mut d = vec![0.0; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                for &(sr, sc, a) in stars {
                    let d2 = (r as f64 - sr).powi(2) + (c as f64 - sc).powi(2);
                    d[r * cols + c] += a * (-d2 / (2.0 * sigma * sigma)).exp();
                }
            }
        }
        d
    }

    fn at(pix: &[u32], d: &[f64]) -> Vec<f64> {
        pix.iter().map(|&g| d[g as usize]).collect()
    }

    fn object(d: &[f64], thr: f64) -> Vec<u32> {
        (0..d.len() as u32)
            .filter(|&i| d[i as usize] > thr)
            .collect()
    }

    const P: DeblendParams = DeblendParams {
        nthresh: 32,
        mincont: 0.005,
        minarea: 5,
        thresh: 1.5,
    };

    #[test]
    fn two_touching_stars_split_with_all_pixels_assigned() {
        let (rows, cols) = (30, 40);
        let d = gauss_frame(rows, cols, &[(15.0, 14.0, 100.0), (15.0, 22.0, 60.0)], 2.0);
        let pix = object(&d, 1.5);
        let ch = deblend_object(&pix, &at(&pix, &d), cols, &P);
        assert_eq!(ch.len(), 2);
        assert_eq!(ch.iter().map(|c| c.len()).sum::<usize>(), pix.len());
        // each child holds its own peak; the split runs between the stars
        let has = |c: &Vec<u32>, r: usize, cc: usize| c.contains(&((r * cols + cc) as u32));
        assert!(
            has(&ch[0], 15, 14) && has(&ch[1], 15, 22)
                || has(&ch[1], 15, 14) && has(&ch[0], 15, 22)
        );
        // pixels well to one side of the saddle belong to that side's star
        let first = if has(&ch[0], 15, 14) { 0 } else { 1 };
        for (k, c) in ch.iter().enumerate() {
            for &g in c {
                let col = g as usize % cols;
                if k == first {
                    assert!(col < 21, "pixel at column {col} went to the left star");
                } else {
                    assert!(col > 15, "pixel at column {col} went to the right star");
                }
            }
        }
    }

    #[test]
    fn one_star_and_faint_bumps_stay_one_object() {
        let (rows, cols) = (30, 30);
        // a local bump 8 px away holding 0.3% of the flux (far less above the saddle
        // level, which is what SExtractor's contrast test uses): below mincont 0.005
        let d = gauss_frame(rows, cols, &[(15.0, 11.0, 1000.0), (15.0, 19.0, 3.0)], 1.5);
        let pix = object(&d, 1.0);
        let p = DeblendParams { thresh: 1.0, ..P };
        assert_eq!(deblend_object(&pix, &at(&pix, &d), cols, &p).len(), 1);
        // ... but above a contrast of 0.0001 it is its own object
        let p = DeblendParams {
            mincont: 0.0001,
            ..p
        };
        assert_eq!(deblend_object(&pix, &at(&pix, &d), cols, &p).len(), 2);
        let levels = levels(1.0, 1000.0, 32);
        assert!((levels[0] - 1000f64.powf(1.0 / 32.0)).abs() < 1e-12);
        assert_eq!(levels.len(), 31);
    }

    #[test]
    fn three_stars_in_a_row_give_three_children() {
        let (rows, cols) = (25, 60);
        let d = gauss_frame(
            rows,
            cols,
            &[(12.0, 15.0, 80.0), (12.0, 25.0, 50.0), (13.0, 34.0, 90.0)],
            2.2,
        );
        let pix = object(&d, 1.5);
        let ch = deblend_object(&pix, &at(&pix, &d), cols, &P);
        assert_eq!(ch.len(), 3);
        let mut all: Vec<u32> = ch.concat();
        all.sort_unstable();
        assert_eq!(all, pix);
    }
}
