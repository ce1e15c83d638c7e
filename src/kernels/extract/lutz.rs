//! The order of an object's pixel list in SExtractor and sep. Their raster scan (R. K.
//! Lutz's one-pass algorithm: `lutz.c`, `scan.c`, sep's `extract.c`) chains an object's
//! pixels as it meets them, and joins the chains of two parts when the scan finds them
//! connected: the later part's chain goes after the earlier one's, so the list is not in
//! raster order. Some results depend on that order: CLEAN's `mthresh` (a heap fed in list
//! order that skips one pixel) and deblending, whose seeds and leftover pixels keep the
//! order their lists had. [`scan_order`] replays the scan on one object.

/// The markers the scan leaves on a column for the next row.
#[derive(Clone, Copy, PartialEq)]
enum Mark {
    None,
    /// A segment starts here (`S`), or one joins an object already started (`s`).
    Start,
    Join,
    /// The first pixel after a segment whose object continues (`f`) or is complete so far
    /// (`F`).
    Incomplete,
    End,
}

#[derive(Clone, Copy, PartialEq)]
enum Status {
    Complete,
    Incomplete,
    Object,
}

/// A chain of pixels: first, last (indices into `next`), and count.
#[derive(Clone, Copy)]
struct Info {
    first: u32,
    last: u32,
}

const NIL: u32 = u32::MAX;
const EMPTY: Info = Info {
    first: NIL,
    last: NIL,
};

/// Append chain `b` to chain `a` (SExtractor's `update`).
fn update(a: &mut Info, b: Info, next: &mut [u32]) {
    if a.first == NIL {
        *a = b;
    } else if b.last != NIL {
        next[a.last as usize] = b.first;
        a.last = b.last;
    }
}

/// The pixels of an `h` × `w` box for which `id(row, col)` is `Some`, in the order of
/// SExtractor's pixel lists: every object the scan completes, its chain in list order
/// (objects one after the other, in the order the scan completes them). `id` gives each
/// pixel's number, which the result lists.
pub fn scan_order(h: usize, w: usize, id: &dyn Fn(usize, usize) -> Option<u32>) -> Vec<u32> {
    // chain links, by pixel number met so far (the numbers are stored in `px`)
    let mut px: Vec<u32> = Vec::new();
    let mut next: Vec<u32> = Vec::new();
    let mut marker = vec![Mark::None; w + 1];
    let mut store = vec![EMPTY; w + 1];
    let mut info: Vec<Info> = vec![EMPTY];
    let mut start: Vec<Option<usize>> = vec![None];
    let mut end: Vec<usize> = vec![0];
    let mut psstack: Vec<Status> = Vec::new();
    let mut out: Vec<u32> = Vec::new();
    let mut co = 0usize;
    let grow = |v: &mut Vec<Info>, s: &mut Vec<Option<usize>>, e: &mut Vec<usize>, co: usize| {
        if v.len() <= co {
            v.resize(co + 1, EMPTY);
            s.resize(co + 1, None);
            e.resize(co + 1, 0);
        }
    };
    for y in 0..=h {
        let mut ps = Status::Complete;
        let mut cs = Status::Complete; // NONOBJECT
        for x in 0..=w {
            let newmarker = std::mem::replace(&mut marker[x], Mark::None);
            let pix = if x < w && y < h { id(y, x) } else { None };
            let mut cur = EMPTY;
            if let Some(p) = pix {
                let k = px.len() as u32;
                px.push(p);
                next.push(NIL);
                cur = Info { first: k, last: k };
                if cs != Status::Object {
                    cs = Status::Object;
                    if ps == Status::Object {
                        if start[co].is_none() {
                            marker[x] = Mark::Start;
                            start[co] = Some(x);
                        } else {
                            marker[x] = Mark::Join;
                        }
                    } else {
                        psstack.push(ps);
                        marker[x] = Mark::Start;
                        co += 1;
                        grow(&mut info, &mut start, &mut end, co);
                        start[co] = Some(x);
                        ps = Status::Complete;
                        info[co] = EMPTY;
                    }
                }
            }
            match newmarker {
                Mark::None => {}
                Mark::Start => {
                    psstack.push(ps);
                    if cs != Status::Object {
                        psstack.push(Status::Complete);
                        co += 1;
                        grow(&mut info, &mut start, &mut end, co);
                        info[co] = store[x];
                        start[co] = None;
                    } else {
                        let s = store[x];
                        update(&mut info[co], s, &mut next);
                    }
                    ps = Status::Object;
                }
                Mark::Join => {
                    if cs == Status::Object && ps == Status::Complete {
                        psstack.pop();
                        let xl2 = start[co];
                        let inner = info[co];
                        update(&mut info[co - 1], inner, &mut next);
                        co -= 1;
                        if start[co].is_none() {
                            start[co] = xl2;
                        } else if let Some(x2) = xl2 {
                            marker[x2] = Mark::Join;
                        }
                    }
                    ps = Status::Object;
                }
                Mark::Incomplete => ps = Status::Incomplete,
                Mark::End => {
                    ps = psstack.pop().unwrap_or(Status::Complete);
                    if cs != Status::Object && ps == Status::Complete {
                        match start[co] {
                            None => {
                                // complete: emit its chain
                                let mut k = info[co].first;
                                while k != NIL {
                                    out.push(px[k as usize]);
                                    k = next[k as usize];
                                }
                            }
                            Some(s) => {
                                marker[end[co]] = Mark::End;
                                store[s] = info[co];
                            }
                        }
                        co -= 1;
                        ps = psstack.pop().unwrap_or(Status::Complete);
                    }
                }
            }
            if pix.is_some() {
                update(&mut info[co], cur, &mut next);
            } else if cs == Status::Object {
                cs = Status::Complete;
                if ps != Status::Complete {
                    marker[x] = Mark::Incomplete;
                    end[co] = x;
                } else {
                    ps = psstack.pop().unwrap_or(Status::Complete);
                    marker[x] = Mark::End;
                    if let Some(s) = start[co] {
                        store[s] = info[co];
                    }
                    co -= 1;
                }
            }
        }
    }
    out
}

/// [`scan_order`] of one object given as flat pixel indices (`cols` wide), on its
/// bounding box.
pub fn object_scan_order(pix: &[u32], cols: usize) -> Vec<u32> {
    let (mut r0, mut r1, mut c0, mut c1) = (usize::MAX, 0, usize::MAX, 0);
    for &g in pix {
        let (r, c) = (g as usize / cols, g as usize % cols);
        (r0, r1, c0, c1) = (r0.min(r), r1.max(r), c0.min(c), c1.max(c));
    }
    if pix.is_empty() {
        return Vec::new();
    }
    let (h, w) = (r1 - r0 + 1, c1 - c0 + 1);
    let mut on = vec![false; h * w];
    for &g in pix {
        on[(g as usize / cols - r0) * w + g as usize % cols - c0] = true;
    }
    scan_order(h, w, &|r, c| {
        on[r * w + c].then(|| ((r0 + r) * cols + c0 + c) as u32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(rows: &[&str]) -> Vec<u32> {
        let w = rows[0].len();
        let grid: Vec<Vec<u8>> = rows.iter().map(|r| r.bytes().collect()).collect();
        scan_order(rows.len(), w, &|r, c| {
            (grid[r][c] != b'.').then(|| (r * w + c) as u32)
        })
    }

    #[test]
    fn a_row_that_starts_further_left_comes_first() {
        // row 1 starts left of row 0: its pixels before the join come first, then row 0,
        // then the rest of row 1
        assert_eq!(order(&[".##", "###"]), vec![3, 1, 2, 4, 5]);
        // otherwise raster order
        assert_eq!(order(&["##.", "###"]), vec![0, 1, 3, 4, 5]);
        assert_eq!(order(&["#", "#", "#"]), vec![0, 1, 2]);
    }

    #[test]
    fn two_arms_joined_below() {
        // a U: the arms are separate until the bottom row joins them
        let got = order(&["#.#", "#.#", "###"]);
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 2, 3, 5, 6, 7, 8]);
        assert_eq!(got.len(), 7);
    }

    #[test]
    fn every_pixel_once_on_random_blobs() {
        let mut r = crate::data::rng::Rng::new(11);
        for _ in 0..200 {
            let (h, w) = (
                1 + (r.uniform() * 9.0) as usize,
                1 + (r.uniform() * 9.0) as usize,
            );
            let on: Vec<bool> = (0..h * w).map(|_| r.uniform() < 0.6).collect();
            let got = scan_order(h, w, &|y, x| on[y * w + x].then_some((y * w + x) as u32));
            let mut sorted = got.clone();
            sorted.sort_unstable();
            let want: Vec<u32> = (0..(h * w) as u32).filter(|&k| on[k as usize]).collect();
            assert_eq!(sorted, want);
        }
    }
}
