//! SExtractor-style multi-threshold deblending for `ccd-pipeline detect=background`.
//!
//! Per detected object (a set of 8-connected pixels above the detection threshold) the
//! detection image (filtered, in units of the RMS) is cut at `nthresh − 1` sub-thresholds
//! spaced exponentially between the detection threshold and the object's peak. The
//! connected parts at every level form a tree (each part at level k+1 lies in exactly one
//! part at level k). Walking the tree from the top level down as SExtractor's `parcelout`
//! (and sep's `deblend`) does, a node splits when at least two of its branches are
//! significant: their flux above their own level (Σ (d − t_k) over the branch, d the
//! detection image) exceeds `mincont` × the object's total flux. Parts of fewer than
//! min(DETECT_MINAREA, 3) pixels do not count as branches (SExtractor's `deb_maxarea`:
//! `prefs.c` sets it to min(DETECT_MINAREA, MAXDEBAREA = 3), and the sub-extraction at
//! each level, `lutz`, keeps only parts of that size; sep does the same).
//!
//! The surviving branches are the seeds of the new objects, in the order SExtractor
//! accepts them (highest split level first; at one level in the order of its part list,
//! which its raster scans build parent by parent, each part where the scan completes it:
//! its last pixel). Each seed gets a Gaussian profile as in SExtractor's `gatherup`: its
//! barycentre and second moments weighted by the detection image, SExtractor's `abcor`
//! area correction (from the unfiltered pixels at the seed's level), and an amplitude
//! t₀·exp(npix / (2π·abcor·a·b)) capped at 4 × the seed's peak, t₀ the detection
//! threshold. A pixel outside every seed goes to the seed whose profile
//! amp·exp(−r²/(2·abcor)) is largest there (r² from the seed's second moments).
//! SExtractor draws that owner at random with these weights; here the most probable seed
//! takes the pixel, so the result is deterministic.
//!
//! Each child keeps its seed's barycentre: SExtractor (`scan.c`, `preanalyse` with
//! ANALYSE_ROBUST for OBJ_MERGED objects) and sep (`analyse` with `robust`) report a
//! deblended object at its seed's centre, with its second moments taken over all its final
//! pixels about that centre.
//!
//! The tree is built with one union-find pass from the top level down (pixels bucketed by
//! level), so an object costs O(npix · α) plus the bounding box, not O(npix · nthresh).
//! Everything about one object is serial and deterministic, so every variant (serial or
//! rayon over objects) produces the same children in the same order.

use crate::kernels::extract::lutz::scan_order;
use crate::kernels::extract::photometry::{abcor, shape};

/// Smallest part that counts as a branch, whatever DETECT_MINAREA (SExtractor's
/// MAXDEBAREA).
pub const MAX_DEB_AREA: usize = 3;

/// Deblending settings.
#[derive(Clone, Copy, Debug)]
pub struct DeblendParams {
    /// Number of levels (SExtractor's DEBLEND_NTHRESH, 32).
    pub nthresh: usize,
    /// Minimum contrast (DEBLEND_MINCONT, 0.005).
    pub mincont: f64,
    /// The detection's `minarea` (DETECT_MINAREA); a branch needs
    /// min(minarea, [`MAX_DEB_AREA`]) pixels.
    pub minarea: usize,
    /// Detection threshold in the units of the detection image.
    pub thresh: f64,
}

impl DeblendParams {
    /// The smallest part kept at a level: SExtractor's `deb_maxarea`.
    pub fn branch_area(&self) -> usize {
        self.minarea.clamp(1, MAX_DEB_AREA)
    }
}

/// One object out of deblending.
#[derive(Clone, Debug, PartialEq)]
pub struct Child {
    /// Its pixels (flat indices, raster order).
    pub pix: Vec<u32>,
    /// For a child of a split: its seed's barycentre (x = column, y = row, 0-based),
    /// weighted by the detection image. `None` when the object was not split.
    pub centre: Option<(f64, f64)>,
    /// Its pixels in the order of SExtractor's pixel list (see
    /// [`crate::kernels::extract::lutz`]), when the detection's was given; else empty.
    pub scan: Vec<u32>,
}

/// Result of deblending one object: its children in SExtractor's order. One child means
/// "not split".
pub type Children = Vec<Child>;

struct Node {
    level: u32,
    /// A local pixel index inside the node's part (its union-find root when made).
    root: u32,
    flux: f64,
    npix: u32,
    /// The part's last pixel in raster order (a local index): where a raster scan
    /// completes it.
    last: u32,
    /// The node of the level below that holds this part (`u32::MAX` at level 0).
    down: u32,
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
/// order), `vals` the detection image (filtered) at those pixels and `raw` the unfiltered
/// image in the same units (the images themselves are not kept).
pub fn deblend_object(
    pix: &[u32],
    vals: &[f64],
    raw: &[f64],
    scan: Option<&[u32]>,
    cols: usize,
    p: &DeblendParams,
) -> Children {
    let n = pix.len();
    let single = || {
        vec![Child {
            pix: pix.to_vec(),
            centre: None,
            scan: scan.map(<[u32]>::to_vec).unwrap_or_default(),
        }]
    };
    let minarea = p.branch_area();
    if p.nthresh < 2 || n < 2 * minarea {
        return single();
    }
    let v = vals;
    let peak = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if peak.partial_cmp(&p.thresh) != Some(std::cmp::Ordering::Greater) {
        return single();
    }
    let lv = Levels {
        thresh: p.thresh,
        sub: levels(p.thresh, peak, p.nthresh),
    };
    // level of each pixel: how many sub-thresholds it is above
    let q: Vec<u32> = v
        .iter()
        .map(|&x| lv.sub.partition_point(|&t| x > t) as u32)
        .collect();
    let top = *q.iter().max().unwrap_or(&0) as usize;
    if top == 0 {
        return single();
    }
    let patch = Patch::new(pix, cols);
    let fmin = p.mincont * v.iter().sum::<f64>();
    let (nodes, bottom) = build_tree(&patch, &q, v, top, &lv, minarea, fmin);
    // level 0 has exactly one part (the object is connected)
    let mut seeds = match bottom.first() {
        Some(&root) if bottom.len() == 1 => nodes[root as usize].objs.clone(),
        _ => return single(),
    };
    if seeds.len() < 2 {
        return single();
    }
    let rank = scan_ranks(&nodes);
    seeds.sort_by_key(|&s| (std::cmp::Reverse(nodes[s as usize].level), rank[s as usize]));
    let mut owner = seed_members(&seeds, &nodes, &patch, &q);
    let seed_owner = scan.map(|_| owner.clone());
    // each seed's pixels (local indices), gathered in one pass
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); seeds.len()];
    for (i, &o) in owner.iter().enumerate() {
        if o != NONE {
            members[o as usize].push(i as u32);
        }
    }
    let prof: Vec<Profile> = (0..seeds.len())
        .map(|s| {
            let level = lv.value(nodes[seeds[s] as usize].level as usize);
            seed_profile(&members[s], &patch, v, raw, level, p.thresh)
        })
        .collect();
    assign_to_likeliest(&mut owner, &prof, &patch);
    let mut out: Children = prof
        .iter()
        .map(|pr| Child {
            pix: Vec::new(),
            centre: Some((pr.mx + patch.c0 as f64, pr.my + patch.r0 as f64)),
            scan: Vec::new(),
        })
        .collect();
    for (i, &g) in pix.iter().enumerate() {
        out[owner[i] as usize].pix.push(g);
    }
    if let (Some(scan), Some(seed_owner)) = (scan, seed_owner) {
        list_orders(&mut out, scan, &seed_owner, &owner, &patch, pix, cols);
    }
    out
}

/// Each child's pixel list in SExtractor's order: its seed's list (the part as the
/// sub-extraction's scan chains it), then the leftover pixels `gatherup` gave it, in the
/// order of the detection's list `scan`.
fn list_orders(
    out: &mut Children,
    scan: &[u32],
    seed_owner: &[u32],
    owner: &[u32],
    patch: &Patch,
    pix: &[u32],
    cols: usize,
) {
    for (s, child) in out.iter_mut().enumerate() {
        let s = s as u32;
        let (mut r0, mut r1, mut c0, mut c1) = (usize::MAX, 0, usize::MAX, 0);
        for (i, &(r, c)) in patch.lr.iter().enumerate() {
            if seed_owner[i] == s {
                let (r, c) = (r as usize, c as usize);
                (r0, r1, c0, c1) = (r0.min(r), r1.max(r), c0.min(c), c1.max(c));
            }
        }
        if r0 > r1 {
            continue;
        }
        child.scan = scan_order(r1 - r0 + 1, c1 - c0 + 1, &|r, c| {
            let j = patch.grid[(r0 + r) * patch.w + c0 + c];
            (j != u32::MAX && seed_owner[j as usize] == s).then(|| pix[j as usize])
        });
    }
    for &g in scan {
        let (r, c) = (g as usize / cols - patch.r0, g as usize % cols - patch.c0);
        let i = patch.grid[r * patch.w + c] as usize;
        if seed_owner[i] == NONE {
            out[owner[i] as usize].scan.push(g);
        }
    }
}

/// The detection threshold and the sub-thresholds above it.
struct Levels {
    thresh: f64,
    /// t_1 < … < t_{n−1} of [`levels`].
    sub: Vec<f64>,
}

impl Levels {
    /// The cut of level `k` (0 = the detection threshold).
    fn value(&self, k: usize) -> f64 {
        if k == 0 {
            self.thresh
        } else {
            self.sub[k - 1]
        }
    }
}

/// An object's pixels on its bounding box: each pixel's local (row, column), and the box
/// as a grid of local pixel indices (`u32::MAX` outside the object), for 8-neighbours.
struct Patch {
    lr: Vec<(u32, u32)>,
    grid: Vec<u32>,
    h: usize,
    w: usize,
    /// The box's first row and column in the frame.
    r0: usize,
    c0: usize,
}

impl Patch {
    fn new(pix: &[u32], cols: usize) -> Patch {
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
        Patch {
            lr,
            grid,
            h,
            w,
            r0,
            c0,
        }
    }

    fn len(&self) -> usize {
        self.lr.len()
    }

    /// Call `f` with each 8-neighbour of pixel `i` that belongs to the object.
    fn neighbours(&self, i: usize, f: &mut dyn FnMut(u32)) {
        let (r, c) = (self.lr[i].0 as isize, self.lr[i].1 as isize);
        for dr in -1isize..=1 {
            for dc in -1isize..=1 {
                if dr == 0 && dc == 0 {
                    continue;
                }
                let (rr, cc) = (r + dr, c + dc);
                if rr < 0 || cc < 0 || rr >= self.h as isize || cc >= self.w as isize {
                    continue;
                }
                let j = self.grid[rr as usize * self.w + cc as usize];
                if j != u32::MAX {
                    f(j);
                }
            }
        }
    }
}

/// Local pixel indices bucketed by level (stable: raster order inside a level): level k
/// holds `order[start[k]..start[k + 1]]`.
fn bucket_by_level(q: &[u32], top: usize) -> (Vec<usize>, Vec<u32>) {
    let mut start = vec![0usize; top + 2];
    for &k in q {
        start[k as usize + 1] += 1;
    }
    for k in 0..=top {
        start[k + 1] += start[k];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; q.len()];
    for (i, &k) in q.iter().enumerate() {
        order[fill[k as usize]] = i as u32;
        fill[k as usize] += 1;
    }
    (start, order)
}

/// The tree of connected parts, built with one union-find pass from the top level down;
/// each node's `objs` are the seeds its subtree resolves to under SExtractor's contrast
/// test. Returns the nodes and those of level 0.
fn build_tree(
    patch: &Patch,
    q: &[u32],
    v: &[f64],
    top: usize,
    lv: &Levels,
    minarea: usize,
    fmin: f64,
) -> (Vec<Node>, Vec<u32>) {
    let n = patch.len();
    let (start, order) = bucket_by_level(q, top);
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut flux = vec![0.0f64; n];
    let mut count = vec![0u32; n];
    let mut last: Vec<u32> = (0..n as u32).collect();
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
            patch.neighbours(i as usize, &mut |j| {
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
                last[keep as usize] = last[keep as usize].max(last[gone as usize]);
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
                last: last[r as usize],
                down: u32::MAX,
                objs: Vec::new(),
            });
        }
        // children (nodes of level k+1) grouped under their part at level k
        let mut kids: Vec<Vec<u32>> = vec![Vec::new(); live.len()];
        for &c in &prev_nodes {
            let r = find(&mut parent, nodes[c as usize].root);
            let pn = node_of_root[r as usize];
            nodes[c as usize].down = pn;
            kids[(pn - first) as usize].push(c);
        }
        for (off, ks) in kids.into_iter().enumerate() {
            let id = first as usize + off;
            nodes[id].objs = resolve_branches(&nodes, id as u32, ks, lv, minarea, fmin);
        }
        prev_nodes = (first..nodes.len() as u32).collect();
    }
    (nodes, prev_nodes)
}

/// Each node's place in SExtractor's list of parts of its level: that list is built
/// part of the level below by part, each part's sub-parts in the order a raster scan
/// completes them (their last pixel). So a node ranks by (its lower part's rank, its last
/// pixel).
fn scan_ranks(nodes: &[Node]) -> Vec<u32> {
    let mut rank = vec![0u32; nodes.len()];
    // nodes are stored level by level from the top down: walk the levels upwards
    let mut at = nodes.len();
    while at > 0 {
        let level = nodes[at - 1].level;
        let mut lo = at - 1;
        while lo > 0 && nodes[lo - 1].level == level {
            lo -= 1;
        }
        let mut ids: Vec<usize> = (lo..at).collect();
        ids.sort_by_key(|&i| {
            let d = nodes[i].down;
            let below = if d == u32::MAX { 0 } else { rank[d as usize] };
            (below, nodes[i].last)
        });
        for (r, &i) in ids.iter().enumerate() {
            rank[i] = r as u32;
        }
        at = lo;
    }
    rank
}

/// The seeds node `id` resolves to, from its children `ks`: SExtractor's contrast test
/// keeps the branches with at least `minarea` pixels and more than `fmin` flux above their
/// own level; two or more such branches split the node, otherwise it is one seed (or
/// passes on the split found further up its single branch).
fn resolve_branches(
    nodes: &[Node],
    id: u32,
    ks: Vec<u32>,
    lv: &Levels,
    minarea: usize,
    fmin: f64,
) -> Vec<u32> {
    let sig: Vec<u32> = ks
        .into_iter()
        .filter(|&c| {
            let c = &nodes[c as usize];
            c.npix as usize >= minarea && c.flux - lv.value(c.level as usize) * c.npix as f64 > fmin
        })
        .collect();
    match sig.len() {
        0 => vec![id],
        1 => {
            let o = &nodes[sig[0] as usize].objs;
            if o.len() >= 2 {
                o.clone()
            } else {
                vec![id]
            }
        }
        _ => sig
            .iter()
            .flat_map(|&c| nodes[c as usize].objs.iter().copied())
            .collect(),
    }
}

/// Not (yet) owned by a seed.
const NONE: u32 = u32::MAX;

/// ln(1e−31): below this total probability SExtractor's `gatherup` gives a pixel to the
/// nearest seed instead of drawing one.
const LN_NEGLIGIBLE: f64 = -71.380_137_882_815_42;

/// Seed membership: for each seed, the part at the seed's level around its root pixel;
/// every other pixel is [`NONE`].
fn seed_members(seeds: &[u32], nodes: &[Node], patch: &Patch, q: &[u32]) -> Vec<u32> {
    let mut owner = vec![NONE; patch.len()];
    let mut stack = Vec::new();
    for (s, &sid) in seeds.iter().enumerate() {
        let (lev, root) = (nodes[sid as usize].level, nodes[sid as usize].root);
        owner[root as usize] = s as u32;
        stack.push(root);
        while let Some(i) = stack.pop() {
            patch.neighbours(i as usize, &mut |j| {
                if owner[j as usize] == NONE && q[j as usize] >= lev {
                    owner[j as usize] = s as u32;
                    stack.push(j);
                }
            });
        }
    }
    owner
}

/// A seed's Gaussian profile, as SExtractor's `gatherup` builds it.
struct Profile {
    /// Barycentre (local column, row), weighted by the detection image.
    mx: f64,
    my: f64,
    /// Inverse second-moment coefficients, divided by 2·abcor: the exponent at (dx, dy)
    /// is −(cxx dx² + cyy dy² + cxy dx dy).
    cxx: f64,
    cyy: f64,
    cxy: f64,
    lnamp: f64,
}

/// The profile of a seed (`members`, its pixels' local indices): SExtractor's
/// `preanalyse` of the seed (at its own level `level`), then the amplitude
/// `thresh` · exp(npix / (2π·abcor·a·b)), at most 4 × its peak.
fn seed_profile(
    members: &[u32],
    patch: &Patch,
    v: &[f64],
    raw: &[f64],
    level: f64,
    thresh: f64,
) -> Profile {
    let lr = &patch.lr;
    let mine = || members.iter().map(|&i| i as usize);
    let (mut sw, mut sx, mut sy, mut pk) = (0.0, 0.0, 0.0, f64::NEG_INFINITY);
    let mut np = 0.0;
    for i in mine() {
        let (y, x) = (lr[i].0 as f64, lr[i].1 as f64);
        sw += v[i];
        sx += v[i] * x;
        sy += v[i] * y;
        pk = pk.max(v[i]);
        np += 1.0;
    }
    let (mx, my) = (sx / sw, sy / sw);
    let (mut x2, mut y2, mut xy) = (0.0, 0.0, 0.0);
    for i in mine() {
        let (dy, dx) = (lr[i].0 as f64 - my, lr[i].1 as f64 - mx);
        x2 += v[i] * dx * dx;
        y2 += v[i] * dy * dy;
        xy += v[i] * dx * dy;
    }
    let sh = shape(x2 / sw, y2 / sw, xy / sw);
    let ab = abcor(mine().map(|i| raw[i]), level, sh.a, sh.b);
    let e = np / (2.0 * std::f64::consts::PI * ab * sh.a * sh.b);
    let amp = if e < 70.0 {
        (thresh * e.exp()).min(4.0 * pk)
    } else {
        4.0 * pk
    };
    let k = 0.5 / ab;
    Profile {
        mx,
        my,
        cxx: k * sh.cxx,
        cyy: k * sh.cyy,
        cxy: k * sh.cxy,
        lnamp: amp.max(f64::MIN_POSITIVE).ln(),
    }
}

/// Give every pixel outside the seeds to the seed whose profile is most probable there
/// (SExtractor draws it at random with these probabilities); where every profile is
/// negligible (SExtractor drops terms whose exponent reaches 70 and falls back when their
/// sum is below 1e−31), to the nearest seed in the profiles' metric, as SExtractor does.
fn assign_to_likeliest(owner: &mut [u32], prof: &[Profile], patch: &Patch) {
    for (i, o) in owner.iter_mut().enumerate() {
        if *o != NONE {
            continue;
        }
        let (y, x) = (patch.lr[i].0 as f64, patch.lr[i].1 as f64);
        let mut best = (f64::NEG_INFINITY, 0u32);
        let mut nearest = (f64::INFINITY, 0u32);
        for (s, pr) in prof.iter().enumerate() {
            let (dx, dy) = (x - pr.mx, y - pr.my);
            let dist = pr.cxx * dx * dx + pr.cyy * dy * dy + pr.cxy * dx * dy;
            if dist < nearest.0 {
                nearest = (dist, s as u32);
            }
            if dist < 70.0 && pr.lnamp - dist > best.0 {
                best = (pr.lnamp - dist, s as u32);
            }
        }
        *o = if best.0 > LN_NEGLIGIBLE {
            best.1
        } else {
            nearest.1
        };
    }
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
        let ch = deblend_object(&pix, &at(&pix, &d), &at(&pix, &d), None, cols, &P);
        assert_eq!(ch.len(), 2);
        assert_eq!(ch.iter().map(|c| c.pix.len()).sum::<usize>(), pix.len());
        // each child holds its own peak; the split runs between the stars
        let has = |c: &Child, r: usize, cc: usize| c.pix.contains(&((r * cols + cc) as u32));
        assert!(
            has(&ch[0], 15, 14) && has(&ch[1], 15, 22)
                || has(&ch[1], 15, 14) && has(&ch[0], 15, 22)
        );
        // pixels well to one side of the saddle belong to that side's star
        let first = if has(&ch[0], 15, 14) { 0 } else { 1 };
        for (k, c) in ch.iter().enumerate() {
            for &g in &c.pix {
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
        assert_eq!(
            deblend_object(&pix, &at(&pix, &d), &at(&pix, &d), None, cols, &p).len(),
            1
        );
        // ... but above a contrast of 0.0001 it is its own object
        let p = DeblendParams {
            mincont: 0.0001,
            ..p
        };
        assert_eq!(
            deblend_object(&pix, &at(&pix, &d), &at(&pix, &d), None, cols, &p).len(),
            2
        );
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
        let ch = deblend_object(&pix, &at(&pix, &d), &at(&pix, &d), None, cols, &P);
        assert_eq!(ch.len(), 3);
        let mut all: Vec<u32> = ch.iter().flat_map(|c| c.pix.iter().copied()).collect();
        all.sort_unstable();
        assert_eq!(all, pix);
    }

    #[test]
    fn children_come_in_seed_order_at_their_seed_centres() {
        // B and C split at a high level (close together), A from both lower down: the
        // seeds are accepted top-down, B before C (its last pixel comes first in a raster
        // scan), then A, although A's first pixel is the first of the object
        let (rows, cols) = (25, 60);
        let stars = [(12.0, 19.0, 80.0), (12.0, 30.0, 60.0), (12.0, 37.0, 60.0)];
        let d = gauss_frame(rows, cols, &stars, 2.2);
        let pix = object(&d, 1.5);
        let ch = deblend_object(&pix, &at(&pix, &d), &at(&pix, &d), None, cols, &P);
        assert_eq!(ch.len(), 3);
        for (c, k) in ch.iter().zip([1, 2, 0]) {
            let (x, y) = c.centre.expect("a split child has its seed's centre");
            let (sr, sc, _) = stars[k];
            assert!(
                (x - sc).abs() < 0.3 && (y - sr).abs() < 0.3,
                "{x} {y} vs star {k}"
            );
        }
        // not split: no seed centre
        let one = deblend_object(
            &pix,
            &at(&pix, &d),
            &at(&pix, &d),
            None,
            cols,
            &DeblendParams { nthresh: 1, ..P },
        );
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].centre, None);
        assert_eq!(one[0].pix, pix);
        // with the detection's list order, each child's list holds its pixels
        let scan: Vec<u32> = pix.iter().rev().copied().collect();
        let ch = deblend_object(&pix, &at(&pix, &d), &at(&pix, &d), Some(&scan), cols, &P);
        for c in &ch {
            let mut s = c.scan.clone();
            s.sort_unstable();
            assert_eq!(s, c.pix);
        }
    }

    #[test]
    fn a_branch_needs_three_pixels_whatever_minarea() {
        assert_eq!(P.branch_area(), 3);
        assert_eq!(DeblendParams { minarea: 2, ..P }.branch_area(), 2);
        assert_eq!(DeblendParams { minarea: 0, ..P }.branch_area(), 1);
    }
}
