#!/usr/bin/env python3
"""Parity of astroperf's source extraction with sep and SExtractor on the crowded set.

Runs ``astroperf run ccd-pipeline`` (detect=background, SExtractor's default.sex
settings) on every ``*.fits`` of FRAME_DIR (``tests/data/crowded`` by default, made by
``crowded_fields.py``) and compares its ``sources.csv`` with the reference catalogs stored
beside each frame: ``<frame>.sep.csv`` (sep 1.4.1) and ``<frame>.sex.csv``
(source-extractor 2.25). A third row compares sep with SExtractor (a sanity check of the
references themselves).

Usage::

    python3 assets/python/crowded_parity.py tests/data/crowded --astroperf BIN \
        [--variant vectorized] [--json OUT.json] [--keep DIR]

Settings passed to astroperf: detect=background thresh=1.5 minarea=5 filter=true
back_size=64 deblend=true deblend_nthresh=32 deblend_mincont=0.005 clean=true
clean_param=1, and satur_level = the frame's SATURATE keyword if it has one (what
SExtractor's SATUR_KEY does), else 50000 (SExtractor's SATUR_LEVEL).

Positions: astroperf's ``x_image, y_image`` are 1-based like SExtractor's; they are
compared as ``x_image - 1, y_image - 1`` with the catalogs' 0-based ``x, y``.

Matching logic (a Rust test asserting these numbers must do the same):

* R = the reference catalog, C = the candidate (ours, or sep in the sanity row).
* brightest: the min(30, |R|) objects of R with the largest ``flux_auto`` (ties by
  catalog order). One counts as found when its nearest object of C (Euclidean distance,
  no one-to-one constraint, as in tests/extract.rs) is closer than 1.5 px.
* matches: pairs (r, c) that are mutual nearest neighbours (c is r's nearest in C and r
  is c's nearest in R) with distance < 1.5 px. One-to-one by construction.
* count ratio = |C| / |R|.
* FLUX_AUTO median ratio = median over matches with r.flux_auto > 0 of
  c.flux_auto / r.flux_auto (numpy median: mean of the two middle values when even).
* blended equal = fraction of matches with (c.flags & 2) == (r.flags & 2).
* issue #16's targets: brightest found >= 27 (of 30), |count ratio - 1| <= 0.10,
  |median ratio - 1| <= 0.03, blended equal >= 0.90.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

RADIUS = 1.5
N_BRIGHT = 30
TARGET = dict(bright_found=27, count_tol=0.10, flux_tol=0.03, blended_eq=0.90)
PARAMS = dict(detect="background", thresh="1.5", minarea="5", filter="true",
              back_size="64", deblend="true", deblend_nthresh="32",
              deblend_mincont="0.005", clean="true", clean_param="1")


def read_catalog(path):
    """A reference CSV (x, y 0-based, flux_auto, flags, ...) as dict of arrays."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return dict(x=np.array([float(r["x"]) for r in rows]),
                y=np.array([float(r["y"]) for r in rows]),
                flux_auto=np.array([float(r["flux_auto"]) for r in rows]),
                flux_iso=np.array([float(r["flux_iso"]) for r in rows]),
                npix=np.array([float(r["npix"]) for r in rows]),
                flags=np.array([int(r["flags"]) for r in rows], dtype=np.int64))


def read_ours(path):
    """astroperf's sources.csv; x_image, y_image are 1-based."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return dict(x=np.array([float(r["x_image"]) - 1.0 for r in rows]),
                y=np.array([float(r["y_image"]) - 1.0 for r in rows]),
                flux_auto=np.array([float(r["flux_auto"]) for r in rows]),
                flux_iso=np.array([float(r["flux_iso"]) for r in rows]),
                npix=np.array([float(r["npix"]) for r in rows]),
                flags=np.array([int(float(r["flags"])) for r in rows], dtype=np.int64),
                parent=np.array([int(float(r["parent"])) for r in rows], dtype=np.int64))


def nearest(ax, ay, bx, by):
    """For each point of a: (index of the nearest point of b, distance)."""
    if len(bx) == 0:
        return np.full(len(ax), -1), np.full(len(ax), np.inf)
    idx = np.empty(len(ax), dtype=np.int64)
    dist = np.empty(len(ax))
    for k in range(len(ax)):
        d2 = (bx - ax[k]) ** 2 + (by - ay[k]) ** 2
        j = int(np.argmin(d2))
        idx[k], dist[k] = j, float(np.sqrt(d2[j]))
    return idx, dist


def compare(cand, ref):
    """The metrics of the module docstring, candidate C against reference R."""
    n_c, n_r = len(cand["x"]), len(ref["x"])
    r2c, d_rc = nearest(ref["x"], ref["y"], cand["x"], cand["y"])
    c2r, _ = nearest(cand["x"], cand["y"], ref["x"], ref["y"])
    order = np.argsort(-ref["flux_auto"], kind="stable")
    bright = order[:min(N_BRIGHT, n_r)]
    found = int(np.sum(d_rc[bright] < RADIUS))
    pairs = [(r, int(r2c[r])) for r in range(n_r)
             if r2c[r] >= 0 and d_rc[r] < RADIUS and c2r[r2c[r]] == r]
    ratios = [cand["flux_auto"][c] / ref["flux_auto"][r] for r, c in pairs
              if ref["flux_auto"][r] > 0]
    med = float(np.median(ratios)) if ratios else float("nan")
    beq = [(cand["flags"][c] & 2) == (ref["flags"][r] & 2) for r, c in pairs]
    beq_frac = float(np.mean(beq)) if beq else float("nan")
    count_ratio = n_c / n_r if n_r else float("nan")
    ok = dict(
        bright=found >= min(TARGET["bright_found"], len(bright)),
        count=abs(count_ratio - 1.0) <= TARGET["count_tol"],
        flux=abs(med - 1.0) <= TARGET["flux_tol"],
        blended=beq_frac >= TARGET["blended_eq"],
    )
    return dict(n_cand=n_c, n_ref=n_r, count_ratio=count_ratio, bright_found=found,
                bright_n=int(len(bright)), n_matches=len(pairs),
                n_blended_ref=int(sum((ref["flags"][r] & 2) != 0 for r, _ in pairs)),
                n_blended_cand=int(sum((cand["flags"][c] & 2) != 0 for _, c in pairs)),
                flux_auto_median_ratio=med, blended_equal=beq_frac, ok=ok,
                passes=all(ok.values()),
                missed_bright=[dict(x=float(ref["x"][r]), y=float(ref["y"][r]),
                                    flux_auto=float(ref["flux_auto"][r]),
                                    flags=int(ref["flags"][r]),
                                    nearest_px=float(d_rc[r]))
                               for r in bright if not d_rc[r] < RADIUS])


def saturation(frame):
    try:
        from astropy.io import fits
        h = fits.getheader(frame)
        if "SATURATE" in h:
            return float(h["SATURATE"])
    except Exception:  # noqa: BLE001 - astropy missing or unreadable header
        pass
    return 50000.0


def run_ours(binary, frame, outdir, variant):
    params = dict(PARAMS, satur_level=repr(saturation(frame)))
    cmd = [binary, "run", "ccd-pipeline", "--input", frame, "--variant", variant,
           "--repeat", "1", "--warmup", "0", "--out", outdir, "--force"]
    for k, v in params.items():
        cmd += ["--param", f"{k}={v}"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return read_ours(os.path.join(outdir, "sources.csv")), params


def fmt(x, nd=3):
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def table(frame, rows):
    out = [f"### {frame}", "",
           "| candidate vs reference | brightest within 1.5 px | count (cand / ref) | "
           "count ratio | matches | FLUX_AUTO median ratio | blended flag equal (blended among matches: cand / ref) | "
           "issue #16 targets |",
           "|---|---|---|---|---|---|---|---|"]
    for name, m in rows:
        miss = [k for k, v in m["ok"].items() if not v]
        out.append(
            f"| {name} | {m['bright_found']}/{m['bright_n']} | {m['n_cand']} / {m['n_ref']}"
            f" | {fmt(m['count_ratio'])} | {m['n_matches']} | "
            f"{fmt(m['flux_auto_median_ratio'])} | {fmt(m['blended_equal'])} "
            f"({m['n_blended_cand']}/{m['n_blended_ref']} blended) | "
            f"{'pass' if m['passes'] else 'fail: ' + ', '.join(miss)} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("frame_dir", nargs="?", default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "tests", "data", "crowded"))
    ap.add_argument("--astroperf", required=True, help="astroperf binary")
    ap.add_argument("--variant", default="vectorized")
    ap.add_argument("--json", help="write the numbers as JSON here")
    ap.add_argument("--keep", help="keep astroperf's --out directories under DIR")
    args = ap.parse_args()

    frames = sorted(glob.glob(os.path.join(args.frame_dir, "*.fits")))
    if not frames:
        sys.exit(f"no *.fits in {args.frame_dir}")
    work = args.keep or tempfile.mkdtemp(prefix="crowded_parity_")
    result = dict(radius_px=RADIUS, n_bright=N_BRIGHT, targets=TARGET,
                  astroperf=os.path.abspath(args.astroperf), variant=args.variant,
                  frames={})
    md = []
    for frame in frames:
        name = os.path.basename(frame)[:-len(".fits")]
        base = frame[:-len(".fits")]
        outdir = os.path.join(work, name)
        ours, params = run_ours(args.astroperf, frame, outdir, args.variant)
        sep_cat = read_catalog(base + ".sep.csv")
        sex_cat = read_catalog(base + ".sex.csv")
        rows = [("ours vs sep", compare(ours, sep_cat)),
                ("ours vs SExtractor", compare(ours, sex_cat)),
                ("sep vs SExtractor (sanity)", compare(sep_cat, sex_cat))]
        md.append(table(name, rows))
        result["frames"][name] = dict(params=params, rows={n: m for n, m in rows})
    print("\n\n".join(md))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
