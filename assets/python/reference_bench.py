#!/usr/bin/env python3
"""Python reference timings for astroperf's workloads.

Reads the inputs that ``astroperf bench --export-inputs DIR`` writes (``DIR/manifest.json``
plus one ``.npy`` file per input part), times the fastest Python implementations we know
of for each analysis on exactly those arrays, and writes a JSON array of run records in
astroperf's ``run --json`` schema with ``"tool": "python"``. Load the file with
``astroperf bench --compare FILE`` (Markdown report) or the GUI's "Compare with Python...".

numpy is required (it reads the .npy files); scipy, astropy, numba and sep are optional:
an implementation whose package is missing is skipped with a note on stderr.

Variant names follow astroperf's three: pure Python -> ``naive``, numpy/scipy/astropy (and
serial numba) -> ``vectorized``, numba ``prange`` / multi-threaded -> ``parallel``. The
implementation actually timed is in each run's ``summary.method``, its main package in
``summary.library`` (one of python, numpy, scipy, astropy, numba, sep).

ccd-pipeline's default ``detect=background`` (SExtractor-like) is timed with sep (the
SExtractor library, C, serial: ``vectorized``) on the same frame with astroperf's
parameter values. It is a peer implementation, not astroperf's algorithm, so its results
are ``py_*`` keys (``py_n_sources``, ``py_global_rms``, ``py_median_flux_auto``, ...) and
nothing numeric is compared; only the settings strings (``detect``, ``thresh_type``,
``filter``, ``clean``, ``deblend``) are astroperf's, identical by construction.

Timing protocol: ``time.perf_counter``; one warm-up call (its time is ``first_s``: for numba
that includes JIT compilation), then ``--repeat`` timed calls; median, min, max and the
median absolute deviation. When the warm-up alone exceeds ``--budget`` seconds the repeats
are reduced to one (and said so in the summary). Pure-Python loops only run when their
estimated cost is small (``--naive-limit``); otherwise the skip is listed in ``skipped``.

Agreement with astroperf: a summary key that astroperf's own summary of the same analysis
also has means the same quantity, computed the same way on the same input, so the two can
be compared on shared key names (integers exactly, floats within a relative tolerance;
``method`` and ``library`` are this script's own and are not results). Where only a
different quantity can be given (Python's own timings or memory, statistics of different
random draws) the key carries a ``py_`` prefix. A record's ``same_input`` is true when its
input is astroperf's: read from the exported files, or regenerated bit for bit (or, for
observation-batch's master dark/flat, to the last bit of numpy's log) from astroperf's
generator; it is false where the workload draws its own random numbers (monte-carlo-pi,
streaming-stats, population-synthesis: numpy's generator, not astroperf's counter-based one,
so only the workload is the same and the draw-dependent keys are ``py_``). A record's
optional ``compare_rtol`` maps keys to the relative tolerance they need (quantities that
amplify round-off, e.g. a relative energy error of 1e-10). ``agree`` / ``agrees`` compare
the Python implementations of one record with each other (the first one is the reference).

``--progress`` adds machine-readable lines to stderr, one per event, beside the notes::

    @progress {"analysis": ID, "method": M, "variant": V, "phase": P, "done": k, "total": n}

phase ``warmup`` (0/1 before the warm-up call, 1/1 after), ``timed`` (0/n before the timed
calls, then k/n after each), ``profile`` (0/1, 1/1 around the --profile call) and ``done``
(after each implementation, finished or failed: k implementations of the analysis done of
n). ``--profile FILE`` runs every implementation once more under cProfile after its timing
and writes ``{"analysis": ID, "profiles": [{"analysis", "variant", "method", "total_s",
"tree"}]}``; a tree node is ``{"name", "file", "line", "total_s", "self_s", "calls",
"children"}``, built from pstats' caller graph from the implementation's own callable (the
root, named by its method), a callee's time split among its callers in proportion to the
caller edges' cumulative time, no function repeated on one path, nodes under 0.5% of the
root merged into their parent's self time, depth at most 40. cProfile sees the calling
thread only: a numba-compiled function is one opaque node (all its time is self time), and
work done on other threads (numba prange, a thread pool) shows as the caller waiting. An
implementation slower than ``--budget`` (median), or one that failed, is not profiled: its
entry has ``"skipped": reason`` and ``"total_s": 0.0`` instead of a tree.
"""

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time

try:
    import numpy as np
except ImportError:  # pragma: no cover - reported at run time
    np = None

MISSING = set()


def note(msg):
    print(msg, file=sys.stderr, flush=True)


def optional(name):
    """Import an optional module, remembering the missing ones."""
    try:
        return __import__(name, fromlist=["_"])
    except ImportError:
        MISSING.add(name.split(".")[0])
        return None


scipy_ndimage = optional("scipy.ndimage") if np is not None else None
scipy_signal = optional("scipy.signal") if np is not None else None
scipy_spatial = optional("scipy.spatial") if np is not None else None
scipy_distance = optional("scipy.spatial.distance") if np is not None else None
astropy_ts = optional("astropy.timeseries") if np is not None else None
numba = optional("numba") if np is not None else None
sep = optional("sep") if np is not None else None

# Physical constants (SI) as astroperf uses them.
H_PLANCK = 6.62607015e-34
C_LIGHT = 299792458.0
K_BOLTZ = 1.380649e-23
WIEN_NM_K = 2.897771955e6
SIGMA_SB = 5.670374419e-8
G_NEWTON = 6.67430e-11
M_SUN = 1.989e30
GM_SUN = G_NEWTON * M_SUN
AU = 1.496e11
AV_PER_COLOR = 0.574
T_SUN_GYR = 10.0
ARCSEC = math.pi / (180.0 * 3600.0)


# --------------------------------------------------------------------------- timing


class Impl:
    """One implementation of a workload: a zero-argument callable plus how to read it.
    ``library`` is the package doing the main work: python, numpy, scipy, astropy, numba or sep."""

    def __init__(self, variant, method, fn, summarize=None, check=None, threads=1, library=None):
        self.variant = variant
        self.method = method
        self.fn = fn
        self.summarize = summarize or (lambda r: {})
        self.check = check
        self.threads = threads
        self.library = library or guess_library(method)


def guess_library(method):
    m = method.lower()
    if m.startswith("pure python"):
        return "python"
    for lib in ("numba", "astropy", "scipy"):
        if lib in m:
            return lib
    return "numpy"


def robust(times):
    med = statistics.median(times)
    mad = statistics.median([abs(t - med) for t in times])
    return med, mad


class Progress:
    """``@progress {json}`` lines on stderr (``--progress``), one per event."""

    def __init__(self, enabled):
        self.enabled = enabled

    def __call__(self, analysis, impl, phase, done, total):
        if not self.enabled:
            return
        ev = {
            "analysis": analysis,
            "method": impl.method,
            "variant": impl.variant,
            "phase": phase,
            "done": int(done),
            "total": int(total),
        }
        print("@progress " + json.dumps(ev), file=sys.stderr, flush=True)


def time_impl(impl, repeat, budget, event=lambda phase, done, total: None):
    event("warmup", 0, 1)
    t0 = time.perf_counter()
    result = impl.fn()
    first = time.perf_counter() - t0
    event("warmup", 1, 1)
    n = repeat if first <= budget else 1
    times = []
    event("timed", 0, n)
    for k in range(n):
        t0 = time.perf_counter()
        impl.fn()
        times.append(time.perf_counter() - t0)
        event("timed", k + 1, n)
    return first, times, result, n < repeat


def agree(a, b, rtol=1e-9, atol=1e-12):
    """Whether two check values (arrays, scalars, tuples) agree."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(agree(x, y, rtol, atol) for x, y in zip(a, b))
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def jsonable(v):
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if np is not None and isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if np is not None and isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# --------------------------------------------------------------------------- profiling

# Nodes below this fraction of the root's time are merged into their parent's self time.
PROFILE_MIN_FRACTION = 0.005
PROFILE_MAX_DEPTH = 40


def _stdlib_dirs():
    import sysconfig

    dirs = set()
    for key in ("stdlib", "platstdlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            dirs.add(os.path.realpath(p).replace("\\", "/"))
    return sorted(dirs, key=len, reverse=True)


_STDLIB = None


def short_path(path):
    """'scipy/ndimage/_filters.py' for a file in site-packages, the path below the
    standard library for stdlib modules, else the file name; '~' for builtins."""
    global _STDLIB
    if not path or path == "~":
        return "~"
    p = path.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        i = p.rfind(marker)
        if i >= 0:
            return p[i + len(marker):]
    if _STDLIB is None:
        _STDLIB = _stdlib_dirs()
    rp = os.path.realpath(p).replace("\\", "/") if os.path.isabs(p) else p
    for base in _STDLIB:
        if rp.startswith(base + "/"):
            return rp[len(base) + 1:]
    return os.path.basename(p)


def node_label(func):
    """(name, file, line) of a pstats function key: 'name (short/path.py)' for Python
    functions, pstats' own name ('<built-in method ...>', "<method 'sort' of ...>") for
    builtins."""
    filename, line, name = func
    if filename == "~":
        return name, "~", 0
    short = short_path(filename)
    return f"{name} ({short})", short, int(line)


def find_root(st, fn):
    """The pstats key of the implementation callable `fn`, else the entry with the most
    cumulative time (the profiler's own 'disable' aside)."""
    code = getattr(fn, "__code__", None)
    if code is not None:
        for key in st:
            if key[0] == code.co_filename and key[1] == code.co_firstlineno and key[2] == code.co_name:
                return key
    cands = [k for k in st if "disable" not in k[2] or k[0] != "~"]
    return max(cands, key=lambda k: st[k][3]) if cands else None


def call_tree(st, root, label=None, min_fraction=PROFILE_MIN_FRACTION, max_depth=PROFILE_MAX_DEPTH):
    """The call tree below `root` from pstats' `stats` dict (func -> (cc, nc, tt, ct,
    callers)). A node's time is the part of its function's cumulative time that flows in
    along this call path: a callee reached from a node gets the caller edge's cumulative
    time (callers[caller][3]) scaled by the share of the caller's cumulative time the node
    holds; its self time is the function's own time scaled the same way. Call counts are
    split the same way by the share of the caller's calls (an estimate: pstats keeps one
    level of callers)."""
    callees = {}
    for f, (_cc, _nc, _tt, _ct, callers) in st.items():
        for caller, edge in callers.items():
            callees.setdefault(caller, {})[f] = edge
    root_total = float(st[root][3])
    floor = min_fraction * root_total

    def build(f, total, calls, path, depth):
        _cc, nc, tt, ct, _callers = st[f]
        share = total / ct if ct > 0 else 0.0
        cshare = calls / nc if nc > 0 else 0.0
        self_s = tt * share
        children = []
        if depth >= max_depth:
            self_s = total
        else:
            edges = sorted(callees.get(f, {}).items(), key=lambda kv: -kv[1][3])
            for g, (_ecc, enc, _ett, ect) in edges:
                if g in path:  # recursion: not revisited on this path
                    continue
                t = ect * share
                if t < floor:
                    self_s += t
                    continue
                children.append(build(g, t, enc * cshare, path | {g}, depth + 1))
        csum = sum(c["total_s"] for c in children)
        # cProfile's edge times can add up to a little more than the caller's (recursion,
        # timer granularity): keep self + children == at most total.
        total = max(total, csum)
        self_s = min(self_s, max(total - csum, 0.0))
        name, file, line = node_label(f)
        return {
            "name": name,
            "file": file,
            "line": line,
            "total_s": total,
            "self_s": self_s,
            "calls": int(round(calls)),
            "children": children,
        }

    tree = build(root, root_total, st[root][1], {root}, 0)
    if label:
        tree["name"] = label
    return tree


def profile_impl(impl):
    """Run `impl` once under cProfile; its call tree (see call_tree)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    try:
        impl.fn()
    finally:
        prof.disable()
    st = pstats.Stats(prof).stats
    root = find_root(st, impl.fn)
    if root is None:
        raise RuntimeError("the profiler recorded no call")
    tree = call_tree(st, root, label=impl.method)
    return tree["total_s"], tree


# --------------------------------------------------------------------------- records


def make_record(entry, spec, impls, args, ctx):
    """Time every implementation (and profile it with --profile) and build one run record.
    `ctx` carries the progress emitter, the profile list and the per-analysis counter."""
    aid = entry["analysis"]
    size = int(entry["size"])
    unit = entry["size_unit"]
    runs = []
    ref = None
    all_agree = True
    for impl in impls:
        note(f"  {aid:<22} {impl.variant:<10} {impl.method} ...")

        def event(phase, done, total, impl=impl):
            ctx["progress"](aid, impl, phase, done, total)

        try:
            first, times, result, reduced = time_impl(impl, args.repeat, args.budget, event)
        except Exception as e:  # a failing implementation is reported, not fatal
            note(f"    failed: {type(e).__name__}: {e}")
            spec.setdefault("skipped", []).append(f"{impl.variant} ({impl.method}): failed: {e}")
            if ctx["profiles"] is not None:
                ctx["profiles"].append(
                    {"analysis": aid, "variant": impl.variant, "method": impl.method, "total_s": 0.0, "skipped": f"failed: {type(e).__name__}: {e}"}
                )
            ctx["done"] += 1
            event("done", ctx["done"], ctx["total"])
            continue
        med, mad = robust(times)
        ok = True
        if impl.check is not None:
            value = impl.check(result)
            if ref is None:
                ref = value
            else:
                ok = agree(ref, value, *spec.get("tolerance", (1e-9, 1e-12)))
        all_agree &= ok
        summary = {"method": impl.method, "library": impl.library}
        summary.update(impl.summarize(result))
        if reduced:
            summary["note"] = (
                f"warm-up took {first:.1f} s (> budget {args.budget:g} s): one timed repeat only"
            )
        if impl.check is None:
            summary.setdefault("agreement", "not compared (independent random draws)")
        note(f"    median {med:.6f} s (first {first:.6f} s){'' if ok else '  DISAGREES'}")
        runs.append(
            {
                "variant": impl.variant,
                "threads": impl.threads,
                "first_s": first,
                "times_s": times,
                "median_s": med,
                "min_s": min(times),
                "max_s": max(times),
                "mad_s": mad,
                "throughput": size / med if med > 0 else 0.0,
                "throughput_unit": f"{unit}/s",
                "stages": [],
                "summary": jsonable(summary),
                "agrees": ok,
            }
        )
        del result
        if ctx["profiles"] is not None:
            entry_p = {"analysis": aid, "variant": impl.variant, "method": impl.method}
            if med > args.budget:
                entry_p.update(total_s=0.0, skipped=f"timed median {med:.3g} s is over --budget {args.budget:g} s")
            else:
                event("profile", 0, 1)
                try:
                    total_s, tree = profile_impl(impl)
                    entry_p.update(total_s=total_s, tree=tree)
                except Exception as e:
                    entry_p.update(total_s=0.0, skipped=f"failed under cProfile: {type(e).__name__}: {e}")
                event("profile", 1, 1)
            ctx["profiles"].append(entry_p)
        ctx["done"] += 1
        event("done", ctx["done"], ctx["total"])
    rec = {
        "analysis": aid,
        "input": {
            "kind": entry["input_kind"],
            "source": spec["source"],
            "shape": [int(s) for s in spec["shape"]],
        },
        "size": size,
        "size_unit": unit,
        "params": jsonable(spec.get("params", entry.get("params", {}))),
        "agree": all_agree,
        "tool": "python",
        "same_input": bool(spec.get("same_input", True)),
        "runs": runs,
    }
    if spec.get("compare_rtol"):
        rec["compare_rtol"] = dict(spec["compare_rtol"])
    if not all_agree:
        rec["disagreement"] = "the Python implementations disagree with each other"
    if spec.get("skipped"):
        rec["skipped"] = spec["skipped"]
    return rec


# --------------------------------------------------------------------------- numba kernels

_NB = {}


def nb():
    """Compile (lazily, once) the numba kernels; None without numba."""
    if numba is None:
        return None
    if _NB:
        return _NB
    njit, prange = numba.njit, numba.prange

    @njit(parallel=True, fastmath=False, cache=False)
    def pdist2(p):
        n = p.shape[0]
        out = np.empty(n * (n - 1) // 2)
        for i in prange(n - 1):
            base = i * (2 * n - i - 1) // 2
            xi, yi = p[i, 0], p[i, 1]
            for j in range(i + 1, n):
                dx = xi - p[j, 0]
                dy = yi - p[j, 1]
                out[base + j - i - 1] = math.sqrt(dx * dx + dy * dy)
        return out

    @njit(parallel=True)
    def haversine(ra, dec):
        # half-angle sines/cosines once per source: sin((b-a)/2) = sin(b/2)cos(a/2) -
        # cos(b/2)sin(a/2), so a pair needs products, a sqrt and an asin; the upper
        # triangle is computed and mirrored.
        n = ra.shape[0]
        out = np.empty((n, n))
        r = np.radians(ra) * 0.5
        d = np.radians(dec) * 0.5
        sr, cr, sd, cdh = np.sin(r), np.cos(r), np.sin(d), np.cos(d)
        cd = np.cos(2.0 * d)
        for i in prange(n):
            out[i, i] = 0.0
            for j in range(i + 1, n):
                s1 = sd[j] * cdh[i] - cdh[j] * sd[i]
                s2 = sr[j] * cr[i] - cr[j] * sr[i]
                a = s1 * s1 + cd[i] * cd[j] * s2 * s2
                v = math.degrees(2.0 * math.asin(math.sqrt(min(1.0, a))))
                out[i, j] = v
                out[j, i] = v
        return out

    @njit(inline="always")
    def refl(i, n):
        if i < 0:
            return -i - 1
        if i >= n:
            return 2 * n - i - 1
        return i

    @njit(inline="always")
    def med9(p0, p1, p2, p3, p4, p5, p6, p7, p8):
        # the 19-exchange median-of-9 network (min/max, branch-free)
        p1, p2 = min(p1, p2), max(p1, p2)
        p4, p5 = min(p4, p5), max(p4, p5)
        p7, p8 = min(p7, p8), max(p7, p8)
        p0, p1 = min(p0, p1), max(p0, p1)
        p3, p4 = min(p3, p4), max(p3, p4)
        p6, p7 = min(p6, p7), max(p6, p7)
        p1, p2 = min(p1, p2), max(p1, p2)
        p4, p5 = min(p4, p5), max(p4, p5)
        p7, p8 = min(p7, p8), max(p7, p8)
        p3 = max(p0, p3)
        p5 = min(p5, p8)
        p4, p7 = min(p4, p7), max(p4, p7)
        p6 = max(p3, p6)
        p4 = max(p1, p4)
        p2 = min(p2, p5)
        p4 = min(p4, p7)
        p4, p2 = min(p4, p2), max(p4, p2)
        p4 = max(p6, p4)
        return min(p4, p2)

    @njit(parallel=True)
    def median3(img):
        rows, cols = img.shape
        out = np.empty_like(img)
        for r in prange(rows):
            a = img[refl(r - 1, rows)]
            b = img[r]
            c = img[refl(r + 1, rows)]
            for j in range(cols):
                jm = refl(j - 1, cols)
                jp = refl(j + 1, cols)
                out[r, j] = med9(a[jm], a[j], a[jp], b[jm], b[j], b[jp], c[jm], c[j], c[jp])
        return out

    @njit(parallel=True)
    def extinction(mag, color, rv):
        out = np.empty_like(mag)
        for i in prange(mag.shape[0]):
            c = color[i]
            out[i] = mag[i] if c < 0.0 else mag[i] - rv * AV_PER_COLOR * c
        return out

    @njit(parallel=True)
    def mc_pi(n, nblocks):
        counts = np.zeros(nblocks, dtype=np.int64)
        per = (n + nblocks - 1) // nblocks
        for b in prange(nblocks):
            lo = b * per
            hi = min(n, lo + per)
            c = 0
            for _ in range(lo, hi):
                x = np.random.random()
                y = np.random.random()
                if x * x + y * y <= 1.0:
                    c += 1
            counts[b] = c
        return counts.sum()

    @njit
    def count_peaks(x, h):
        n = x.shape[0]
        cnt = 0
        i = 1
        while i < n - 1:
            if x[i - 1] < x[i]:
                ahead = i + 1
                while ahead < n - 1 and x[ahead] == x[i]:
                    ahead += 1
                if x[ahead] < x[i]:
                    if x[(i + ahead - 1) // 2] >= h:
                        cnt += 1
                    i = ahead
            i += 1
        return cnt

    @njit(parallel=True)
    def peak_counts(flux, k):
        s = flux.shape[0]
        out = np.zeros(s, dtype=np.int64)
        for r in prange(s):
            row = flux[r]
            out[r] = count_peaks(row, row.mean() + k * row.std())
        return out

    @njit(parallel=True)
    def magsum(m1, m2):
        out = np.empty_like(m1)
        for i in prange(m1.shape[0]):
            out[i] = -2.5 * math.log10(10.0 ** (-0.4 * m1[i]) + 10.0 ** (-0.4 * m2[i]))
        return out

    @njit(parallel=True)
    def planck(wl_nm, t, scale):
        out = np.empty_like(wl_nm)
        c1 = 2.0 * H_PLANCK * C_LIGHT * C_LIGHT
        c2 = H_PLANCK * C_LIGHT / K_BOLTZ
        for i in prange(wl_nm.shape[0]):
            lam = wl_nm[i] * 1e-9
            out[i] = scale * c1 / lam**5 / math.expm1(c2 / (lam * t))
        return out

    @njit(parallel=True)
    def popsyn(nreal, stars, lo, span, inv, mdead):
        res = np.empty((nreal, 4))
        for r in prange(nreal):
            sm = 0.0
            gt8 = 0
            alive = 0
            lum = 0.0
            for _ in range(stars):
                m = (lo + np.random.random() * span) ** inv
                sm += m
                if m > 8.0:
                    gt8 += 1
                if m < mdead:
                    alive += 1
                    lum += m**3.5
            res[r, 0] = sm / stars
            res[r, 1] = gt8
            res[r, 2] = alive
            res[r, 3] = lum
        return res

    # The pure-Python loop itself, compiled: the chapter's point that numba takes the same
    # source (python_leapfrog, below) and makes it machine code.
    leapfrog = njit(python_leapfrog)

    @njit(parallel=True)
    def leapfrog_orbits(state, orbits, steps, dt):
        # orbit k starts with its velocity scaled by (1 - 0.01 k), as astroperf's
        out = np.empty((orbits, 5))
        for k in prange(orbits):
            f = 1.0 - 0.01 * k
            r = leapfrog(state[0], state[1], state[2], state[3] * f, state[4] * f, state[5] * f, steps, dt)
            out[k, 0] = r[0]
            out[k, 1] = r[1]
            out[k, 2] = r[2]
            out[k, 3] = r[3]
            out[k, 4] = r[4]
        return out

    _NB.update(
        pdist2=pdist2,
        haversine=haversine,
        median3=median3,
        extinction=extinction,
        mc_pi=mc_pi,
        peak_counts=peak_counts,
        magsum=magsum,
        planck=planck,
        popsyn=popsyn,
        leapfrog=leapfrog,
        leapfrog_orbits=leapfrog_orbits,
    )
    return _NB


def nb_threads():
    return int(numba.get_num_threads()) if numba is not None else 1


# --------------------------------------------------------------------------- helpers


def median3_scipy(img):
    return scipy_ndimage.median_filter(img, size=3, mode="reflect")


def label_moments(values, mask, eight=False):
    """Labels numbered as scipy numbers them, and per-label npix, flux, centroid and
    flux-weighted centroid via find_objects (one small window per label)."""
    nd = scipy_ndimage
    structure = np.ones((3, 3), bool) if eight else None
    labels, n = nd.label(mask, structure=structure)
    rows = np.empty((n, 6))
    for i, sl in enumerate(nd.find_objects(labels)):
        m = labels[sl] == i + 1
        rr, cc = np.nonzero(m)
        v = values[sl][m]
        rr = rr + sl[0].start
        cc = cc + sl[1].start
        f = v.sum()
        rows[i] = (m.sum(), f, rr.mean(), cc.mean(), (rr * v).sum() / f, (cc * v).sum() / f)
    return labels, rows


def unit_vectors(ra_deg, dec_deg):
    ra = np.radians(ra_deg)
    dec = np.radians(dec_deg)
    cd = np.cos(dec)
    return np.column_stack((cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)))


def haversine_numpy(ra, dec):
    r = np.radians(ra)
    d = np.radians(dec)
    s1 = np.sin(0.5 * (d[None, :] - d[:, None]))
    s2 = np.sin(0.5 * (r[None, :] - r[:, None]))
    a = s1 * s1 + np.cos(d)[:, None] * np.cos(d)[None, :] * s2 * s2
    return np.degrees(2.0 * np.arcsin(np.sqrt(np.minimum(a, 1.0))))


def running_median_python(x, w):
    """Pure-Python running median with a sorted window (reflect edges); the element of
    rank w//2, as scipy's median_filter (and astroperf) take it for any w."""
    import bisect

    n = len(x)
    h = w // 2
    xs = x.tolist()

    def at(i):
        if i < 0:
            i = -i - 1
        if i >= n:
            i = 2 * n - i - 1
        return xs[min(max(i, 0), n - 1)]

    window = sorted(at(i) for i in range(-h, w - h))
    out = [0.0] * n
    for i in range(n):
        out[i] = window[h]
        old = at(i - h)
        new = at(i - h + w)
        del window[bisect.bisect_left(window, old)]
        bisect.insort(window, new)
    return np.array(out)


def proc_memory_mb():
    """(VmRSS, VmHWM) of this process in MB (1 MB = 2^20 bytes), None where /proc has none."""
    rss = hwm = None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024.0
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return rss, hwm


# --------------------------------------------------------------------------- astroperf's generator
# SplitMix64 streams as astroperf's data::rng draws them: block b of a workload seeded with
# `seed` starts at mix64(seed ^ mix64(b + GAMMA)), its i-th draw (from 1) is
# mix64(start + i*GAMMA), a uniform is (draw >> 11) * 2^-53. Used to regenerate inputs that
# the export cannot hold (catalog-chunks' catalog file, observation-batch's master dark and
# flat), never to replace a workload's own random numbers.

_MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15


def mix64_int(z):
    z &= _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def block_state(seed, block):
    return mix64_int((seed & _MASK64) ^ mix64_int(block + _GAMMA))


def _mix64(z):
    u = np.uint64
    z = (z ^ (z >> u(30))) * u(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u(27))) * u(0x94D049BB133111EB)
    return z ^ (z >> u(31))


def ap_uniforms(states, count):
    """Draws 1..count of the streams starting at `states` (uint64 array, one per row):
    uniforms in [0, 1), shape (len(states), count)."""
    k = np.arange(1, count + 1, dtype=np.uint64) * np.uint64(_GAMMA)
    u = _mix64(np.asarray(states, dtype=np.uint64)[:, None] + k[None, :])
    return (u >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


CATALOG_BLOCK = 1 << 16  # rows per random block of catalog-chunks' generator


def write_ap_catalog(path, rows, seed):
    """catalog-chunks' generated file: rows of (ra U[0,360), dec U[-90,90), mag U[10,20))
    as little-endian float64, block b of 65,536 rows from astroperf's stream (seed, b)."""
    with open(path, "wb") as f:
        for b in range(-(-rows // CATALOG_BLOCK)):
            n = min(CATALOG_BLOCK, rows - b * CATALOG_BLOCK)
            u = ap_uniforms([block_state(seed, b)], 3 * n).reshape(n, 3)
            out = np.empty((n, 3), dtype="<f8")
            out[:, 0] = 0.0 + 360.0 * u[:, 0]
            out[:, 1] = -90.0 + 180.0 * u[:, 1]
            out[:, 2] = 10.0 + 10.0 * u[:, 2]
            f.write(out.tobytes())


CAL_SEED = 0x0DA7F1A7  # observation-batch's master dark/flat seed


def ap_masters(rows, cols):
    """observation-batch's synthetic master dark (10 + 2 N(0,1)) and flat ((1 - 0.05 r^2)
    (1 + 0.01 N(0,1))) as astroperf draws them: row r from stream (CAL_SEED, r), normals
    by the polar method (pair k of uniforms -> u*m for the dark, v*m for the flat of
    column k). numpy's SIMD log may differ from libm's in the last bit for a few pixels."""
    dark = np.empty((rows, cols))
    flat = np.empty((rows, cols))
    rc, cc = (rows - 1) / 2.0, (cols - 1) / 2.0
    norm = max(rc * rc + cc * cc, 1.0)
    dc2 = (np.arange(cols) - cc) ** 2
    pairs = cols + int(0.3 * cols + 8.0 * math.sqrt(cols)) + 32
    step = max(1, (1 << 21) // (2 * pairs))  # rows per batch: ~16 MB of draws
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        states = [block_state(CAL_SEED, r) for r in range(r0, r1)]
        k = pairs
        while True:
            u = ap_uniforms(states, 2 * k)
            a = 2.0 * u[:, 0::2] - 1.0
            b = 2.0 * u[:, 1::2] - 1.0
            s = a * a + b * b
            ok = (s > 0.0) & (s < 1.0)
            if ok.sum(axis=1).min() >= cols:
                break
            k *= 2
        take = ok & (np.cumsum(ok, axis=1) <= cols)
        a = a[take].reshape(r1 - r0, cols)
        b = b[take].reshape(r1 - r0, cols)
        s = s[take].reshape(r1 - r0, cols)
        m = np.sqrt(-2.0 * np.log(s) / s)
        r2 = ((np.arange(r0, r1) - rc) ** 2)[:, None] + dc2[None, :]
        r2 = r2 / norm
        dark[r0:r1] = 10.0 + 2.0 * (a * m)
        flat[r0:r1] = (1.0 - 0.05 * r2) * (1.0 + 0.01 * (b * m))
    return dark, flat


# --------------------------------------------------------------------------- workloads
# Each builder gets (entry, arrays, args) and returns (spec, [Impl]) or a list of those
# (one record each), or raises Skip. spec: source, shape, optional params, skipped,
# tolerance (between the Python implementations), same_input (default true) and
# compare_rtol (key -> relative tolerance against astroperf).


class Skip(Exception):
    pass


def need(mod, name):
    if mod is None:
        raise Skip(f"needs {name}, which is not installed")


def exported_source(entry, args):
    files = ", ".join(sorted(entry.get("files", {}).values()))
    return f"astroperf --export-inputs {args.input_dir} ({files}; seed {entry['seed']})"


def generated_source(entry, what):
    return (
        f"generated in numpy from size {entry['size']} and the same params ({what}); "
        "astroperf's counter-based RNG is not reproduced, so the random numbers differ: "
        "same workload, not the same draws"
    )


def mapped_input(entry):
    """A memory-mapped input the manifest names (``"mapped": {"path", "dtype" ("f64" or
    "f32"), "shape", "offset"}``), as a read-only np.memmap; None without one."""
    m = entry.get("mapped")
    if not m:
        return None
    dt = {"f64": "<f8", "float64": "<f8", "f32": "<f4", "float32": "<f4"}.get(str(m.get("dtype", "f64")).lower())
    if dt is None:
        raise Skip(f"mapped input of dtype {m.get('dtype')!r} is not float64/float32")
    shape = tuple(int(s) for s in m["shape"])
    return np.memmap(m["path"], dtype=dt, mode="r", offset=int(m.get("offset", 0)), shape=shape)


def finite_points(*cols):
    """The points whose every column is finite (astroperf drops the others), and how many
    were dropped."""
    ok = np.ones(cols[0].shape, bool)
    for c in cols:
        if c is not None:
            ok &= np.isfinite(c)
    dropped = int(ok.size - np.count_nonzero(ok))
    return [None if c is None else (c[ok] if dropped else c) for c in cols], dropped


def w_pairwise(e, a, args):
    p = np.ascontiguousarray(a["points"])
    n = p.shape[0]
    spec = {"source": exported_source(e, args), "shape": p.shape}

    def summ(d):
        return {"n_pairs": d.size, "min_distance": d.min(), "max_distance": d.max(), "mean_distance": d.mean()}

    impls = []
    if n * n <= args.naive_limit:

        def naive():
            xs, ys = p[:, 0].tolist(), p[:, 1].tolist()
            out = []
            for i in range(n):
                xi, yi = xs[i], ys[i]
                for j in range(i + 1, n):
                    dx, dy = xi - xs[j], yi - ys[j]
                    out.append(math.sqrt(dx * dx + dy * dy))
            return np.array(out)

        impls.append(Impl("naive", "pure Python double loop (math.sqrt)", naive, summ, lambda d: d, library="python"))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {n * n:.0f} pairs is over --naive-limit")
    if scipy_distance is not None:
        impls.append(Impl("vectorized", "scipy.spatial.distance.pdist", lambda: scipy_distance.pdist(p), summ, lambda d: d, library="scipy"))
    else:
        iu = np.triu_indices(n, 1)
        impls.append(
            Impl("vectorized", "numpy broadcast + triu", lambda: np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))[iu], summ, lambda d: d, library="numpy")
        )
    if nb():
        impls.append(Impl("parallel", "numba prange (condensed)", lambda: nb()["pdist2"](p), summ, lambda d: d, nb_threads(), library="numba"))
    return spec, impls


def group_lines(resid, peaks):
    """Peaks grouped into lines as astroperf groups them: a peak joins the line of the
    peak before it when the residual between them never falls to half the lower of the
    two. Returns each line's highest peak (its top)."""
    tops = []
    prev = None
    for p in peaks.tolist():
        joins = prev is not None and resid[prev:p + 1].min() > 0.5 * min(resid[prev], resid[p])
        if tops and joins:
            if resid[p] > resid[tops[-1]]:
                tops[-1] = p
        else:
            tops.append(p)
        prev = p
    return np.array(tops, dtype=np.int64)


def w_spectrum_pipeline(e, a, args):
    need(scipy_ndimage, "scipy")
    wl = a["wavelength"]
    flux = np.ascontiguousarray(a["flux"])
    pr = e["params"]
    w, k, rest = int(pr["window"]), float(pr["k"]), float(pr["rest"])
    spec = {"source": exported_source(e, args), "shape": flux.shape}

    def finish(cont):
        resid = flux - cont
        sigma = resid.std()
        peaks, _ = scipy_signal.find_peaks(resid, height=k * sigma)
        tops = group_lines(resid, peaks)
        z = None
        if tops.size:
            obs = wl[tops][np.argmin(np.abs(wl[tops] - rest))]
            z = obs / rest - 1.0
        return peaks, tops, z, sigma

    def summ(r):
        peaks, tops, z, sigma = r
        return {
            "n_lines": int(tops.size),
            "n_peaks": int(peaks.size),
            "redshift": z,
            "sigma": sigma,
            "threshold": k * sigma,
            "line_wavelengths": wl[tops],
        }

    def check(r):
        return (r[0], r[1])

    impls = []
    if flux.size * w <= 50 * args.naive_limit:
        impls.append(Impl("naive", "pure Python sorted-window running median (bisect) + scipy find_peaks", lambda: finish(running_median_python(flux, w)), summ, check, library="python"))
    else:
        spec.setdefault("skipped", []).append("naive: pure Python running median over --naive-limit")
    impls.insert(
        0,
        Impl(
            "vectorized",
            f"scipy.ndimage.median_filter size={w} mode=reflect + scipy.signal.find_peaks height=k*std",
            lambda: finish(scipy_ndimage.median_filter(flux, size=w, mode="reflect")),
            summ,
            check,
            library="scipy",
        ),
    )
    return spec, impls


def ccd_threshold(img, k, eight, median):
    cleaned = median(img)
    mean = cleaned.mean()
    std = cleaned.std()
    thr = mean + k * std
    mask = cleaned > thr
    labels, rows = label_moments(cleaned, mask, eight)
    return cleaned, labels, rows, mean, std, thr, int(mask.sum())


# SExtractor's default.conv (sep normalises a conv kernel itself).
PYRAMID3 = [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]


def gaussian_kernel(fwhm):
    """astroperf's 1-D Gaussian detection kernel (background.rs gaussian_kernel): sigma =
    fwhm / 2.354820045, radius ceil(3 sigma) (at least 1), normalised."""
    sigma = fwhm / 2.354820045
    rad = max(math.ceil(3.0 * sigma), 1)
    i = np.arange(-rad, rad + 1, dtype=np.float64)
    k = np.exp(-(i * i) / (2.0 * sigma * sigma))
    return k / k.sum()


def rust_float(x):
    """A float as Rust's Display prints it (shortest round trip, positional, no '.0')."""
    return np.format_float_positional(float(x), trim="-")


def sep_config(pr):
    """sep's arguments for ccd-pipeline's background-mode params (ccd_pipeline.rs):
    back_size -> bw = bh, the mesh median filter fixed at 3x3 (fw = fh = 3, as astroperf),
    thresh in units of the global RMS (thresh_rms=global: err=bkg.globalrms, SExtractor
    without a weight map) or of the RMS map (local: err=bkg.rms()), filter off / the 3x3
    pyramid / the outer product of astroperf's 1-D Gaussian of filter_fwhm, deblend off
    as deblend_cont=1 (sep's way to disable it), FLUX_APER's circle radius aper_radius."""
    fwhm = float(pr.get("filter_fwhm", 0.0))
    if not pr.get("filter", True):
        kernel, fdesc = None, "none"
    elif fwhm > 0.0:
        g = gaussian_kernel(fwhm)
        kernel, fdesc = np.outer(g, g), f"gaussian ({g.size} taps)"
    else:
        kernel, fdesc = np.array(PYRAMID3), "3x3 default.conv"
    deblend = bool(pr.get("deblend", True))
    clean = bool(pr.get("clean", True))
    return {
        "bs": max(int(pr.get("back_size", 64)), 1),
        "thresh": float(pr.get("thresh", 1.5)),
        "local": pr.get("thresh_rms", "global") == "local",
        "minarea": int(pr.get("minarea", 5)),
        "kernel": kernel,
        "nthresh": int(pr.get("deblend_nthresh", 32)),
        "cont": float(pr.get("deblend_mincont", 0.005)) if deblend else 1.0,
        "clean": clean,
        "clean_param": float(pr.get("clean_param", 1.0)),
        "aper": float(pr.get("aper_radius", 5.0)),
        "satur": float(pr.get("satur_level", 50000.0)),
        # astroperf's own descriptions of the settings (strings: never compared)
        "desc": {
            "detect": "background",
            "thresh_type": "local" if pr.get("thresh_rms", "global") == "local" else "global",
            "filter": fdesc,
            "clean": f"clean_param {rust_float(pr.get('clean_param', 1.0))}" if clean else "off",
            "deblend": (
                f"nthresh {int(pr.get('deblend_nthresh', 32))} mincont {rust_float(pr.get('deblend_mincont', 0.005))}"
                if deblend
                else "off"
            ),
        },
    }


# sep's calls, each in a function of its own so that --profile's tree shows the stages
# (sep is Cython: cProfile does not see its functions, only these Python frames).


def sep_background(img, mask, c):
    bkg = sep.Background(img, mask=mask, bw=c["bs"], bh=c["bs"], fw=3, fh=3)
    return bkg, img - bkg.back(), bkg.rms()


def sep_detect(sub, rms, globalrms, mask, c):
    return sep.extract(
        sub,
        c["thresh"],
        err=rms if c["local"] else globalrms,
        mask=mask,
        minarea=c["minarea"],
        filter_kernel=c["kernel"],
        filter_type="conv",
        deblend_nthresh=c["nthresh"],
        deblend_cont=c["cont"],
        clean=c["clean"],
        clean_param=c["clean_param"],
        segmentation_map=True,
    )


def sep_flux_auto(sub, rms, objs, seg):
    x, y, a, b = objs["x"], objs["y"], objs["a"], objs["b"]
    th = np.clip(objs["theta"], -np.pi / 2, np.pi / 2)  # sep wants theta in [-pi/2, pi/2]
    ids = np.arange(1, len(objs) + 1, dtype=np.int32)
    kr, kflag = sep.kron_radius(sub, x, y, a, b, th, 6.0, seg_id=ids, segmap=seg)
    kfac = np.maximum(2.5 * kr, 3.5)
    kfac = np.where(np.isfinite(kfac), kfac, 3.5)
    fa, fa_err, fflag = sep.sum_ellipse(sub, x, y, a, b, th, kfac, err=rms, subpix=1, seg_id=ids, segmap=seg)
    return kfac, fa, fa_err, kflag | fflag


def sep_flux_aper(sub, rms, objs, seg, r):
    ids = np.arange(1, len(objs) + 1, dtype=np.int32)
    fap, fap_err, _ = sep.sum_circle(sub, objs["x"], objs["y"], r, err=rms, subpix=5, seg_id=ids, segmap=seg)
    return fap, fap_err


def sep_extract(img, mask, c):
    """SExtractor-like extraction with sep, as crowded_fields.py's run_sep calls it:
    Background (mesh bs, 3x3 mesh filter), extract on data - back with the conv filter,
    deblending and CLEAN, then FLUX_AUTO as SExtractor does it (kron_radius within 6
    isophotal radii, Kron factor max(2.5 r1, 3.5), sum_ellipse over whole pixels by
    centre, other objects masked by the segmentation map, errors from the RMS map), a
    circular FLUX_APER (5x5 subpixels like astroperf) and the saturated objects (FLAGS 4:
    an input pixel >= satur_level)."""
    bkg, sub, rms = sep_background(img, mask, c)
    objs, seg = sep_detect(sub, rms, bkg.globalrms, mask, c)
    n = len(objs)
    if n:
        kfac, fa, fa_err, pflag = sep_flux_auto(sub, rms, objs, seg)
        fap, fap_err = sep_flux_aper(sub, rms, objs, seg, c["aper"]) if c["aper"] > 0.0 else (np.zeros(n), np.zeros(n))
    else:
        kfac = fa = fa_err = fap = fap_err = np.zeros(0)
        pflag = np.zeros(0, dtype=np.int16)
    saturated = np.zeros(n + 1, dtype=bool)
    saturated[seg[img >= c["satur"]]] = True
    return {
        "objs": objs,
        "flag": objs["flag"].astype(np.int64) | pflag,
        "saturated": saturated[1:],
        "kron_radius": kfac,
        "flux_auto": fa,
        "fluxerr_auto": fa_err,
        "flux_aper": fap,
        "fluxerr_aper": fap_err,
        "globalback": float(bkg.globalback),
        "globalrms": float(bkg.globalrms),
    }


def w_ccd_background(e, a, args):
    """ccd-pipeline detect=background: sep (SExtractor's algorithms as a C library) with
    astroperf's parameter values. A peer implementation, not astroperf's algorithm (edges,
    mesh interpolation, deblending and CLEAN details differ), so its results carry py_*
    names: only astroperf's own settings strings are shared."""
    need(sep, "sep")
    pr = e["params"]
    img = np.ascontiguousarray(a["frame"], dtype=np.float64)  # native byte order for sep
    c = sep_config(pr)
    finite = np.isfinite(img)
    mask = None
    if not finite.all():  # sep would smear NaN through the filter: mask them, as zeros
        mask = ~finite
        img = np.where(finite, img, 0.0)
    # never overflow the pixel stack (SExtractor's MEMORY_PIXSTACK; sep's default 300000)
    sep.set_extract_pixstack(max(300_000, int(img.size)))
    sep.set_sub_object_limit(8192)
    spec = {"source": exported_source(e, args), "shape": img.shape}
    merged = int(getattr(sep, "OBJ_MERGED", 1))

    def med(v):
        return float(np.median(v)) if v.size else None

    def summ(r):
        fa = r["flux_auto"]
        out = dict(c["desc"])
        out.update(
            {
                "py_n_sources": int(len(r["objs"])),
                "py_n_blended": int(np.count_nonzero(r["objs"]["flag"] & merged)),
                "py_n_saturated": int(np.count_nonzero(r["saturated"])),
                "py_global_back": r["globalback"],
                "py_global_rms": r["globalrms"],
                "py_median_npix": med(r["objs"]["npix"].astype(np.float64)),
                "py_median_flux_iso": med(r["objs"]["flux"]),
                "py_median_kron_radius": med(r["kron_radius"]),
                "py_median_flux_auto": med(fa),
                "py_sum_flux_auto": float(fa.sum()),
                "py_median_flux_aper": med(r["flux_aper"]),
            }
        )
        return out

    def check(r):
        return (r["objs"]["x"], r["objs"]["y"], r["flux_auto"])

    ver = getattr(sep, "__version__", "?")
    impls = [
        Impl(
            "vectorized",
            f"sep {ver} Background + extract + Kron FLUX_AUTO (SExtractor's algorithms, astroperf's params)",
            lambda: sep_extract(img, mask, c),
            summ,
            check,
            library="sep",
        )
    ]
    return spec, impls


def w_ccd(e, a, args):
    pr = e["params"]
    if pr.get("detect", "threshold") == "background":
        return w_ccd_background(e, a, args)
    need(scipy_ndimage, "scipy")
    if pr.get("detect", "threshold") != "threshold":
        raise Skip(f"detect={pr.get('detect')} has no Python reference here")
    img = np.ascontiguousarray(a["frame"])
    k = float(pr["k"])
    eight = int(pr.get("connectivity", 4)) == 8
    spec = {"source": exported_source(e, args), "shape": img.shape}

    def summ(r):
        _, _, rows, mean, std, thr, npix = r
        return {"n_sources": rows.shape[0], "threshold": thr, "mean": mean, "std": std, "n_pixels_above": npix, "connectivity": 8 if eight else 4}

    def check(r):
        return (r[0], r[1], r[2])

    impls = [
        Impl(
            "vectorized",
            "scipy.ndimage median_filter 3x3 + mean/std + label + find_objects moments",
            lambda: ccd_threshold(img, k, eight, median3_scipy),
            summ,
            check,
            library="scipy",
        )
    ]
    if nb():
        impls.append(
            Impl(
                "parallel",
                "numba prange 3x3 median + numpy mean/std + scipy label/find_objects",
                lambda: ccd_threshold(img, k, eight, nb()["median3"]),
                summ,
                check,
                nb_threads(),
                library="numba",
            )
        )
    spec["tolerance"] = (1e-12, 0.0)
    return spec, impls


def nyquist_of_regular(t):
    """1/(2*step) when every positive interval is a whole number of the smallest (within
    1e-3 of a step), as sampling.rs's regular_step; infinity for irregular sampling."""
    d = np.diff(np.sort(t))
    d = d[d > 0]
    if d.size < 2:
        return np.inf
    step = d.min()
    m = d / step
    return 0.5 / step if np.all(np.abs(m - np.round(m)) < 1e-3) else np.inf


def ls_grid(t, pr):
    """The trial frequencies astroperf uses: explicit fmin/fmax/n, else astropy's
    autofrequency rule (5 samples per peak, Nyquist factor 5) as period_search.rs has it,
    the automatic fmax at most the Nyquist frequency of regularly sampled times."""
    baseline = float(t.max() - t.min())
    df = 1.0 / (5.0 * baseline)

    def opt(name):
        v = pr.get(name, "auto")
        return None if v in (None, "auto") else float(v)

    fmin = opt("fmin") or 0.5 * df
    fmax = opt("fmax") or min(2.5 * t.size / baseline, nyquist_of_regular(t))
    n = opt("n")
    n = int(n) if n else max(2, int(1 + round((fmax - fmin) / df)))
    return np.linspace(fmin, fmax, n)


def w_period_search(e, a, args):
    need(astropy_ts, "astropy")
    pr = dict(e["params"])
    method = pr.get("method", "lomb-scargle")
    if method not in ("lomb-scargle", "lomb-scargle-fast"):
        raise Skip(f"method={method} has no Python reference here (only Lomb-Scargle)")
    if a["time"].ndim != 1:
        raise Skip("a batch of light curves: the Python reference takes one curve")
    dy0 = a.get("error") if pr.get("weights", True) else None
    (t, y, dy), dropped = finite_points(a["time"], a["value"], dy0)
    freq = ls_grid(t, pr)
    shape = [t.size]
    src = exported_source(e, args)
    if dropped:
        src += f"; {dropped} point(s) with NaN/infinite values dropped, as astroperf drops them"
    grid = {"fmin": freq[0], "fmax": freq[-1], "n_frequencies": freq.size}
    nyq = nyquist_of_regular(t)

    def model():
        return astropy_ts.LombScargle(t, y, dy, fit_mean=True, center_data=True, normalization="standard")

    def run(m):
        def f():
            return model().power(freq, method=m)

        return f

    def summ(p):
        i = int(np.argmax(p))
        out = dict(grid, n_curves=1, n_points=t.size, best_frequency=freq[i], best_period=1.0 / freq[i], peak_power=p[i], weighted=dy is not None)
        try:
            # astropy's Baluev approximation at the grid's own fmax (LombScargle's method
            # would move fmax onto its autofrequency grid first), as astroperf computes it
            from astropy.timeseries.periodograms.lombscargle import _statistics

            fap = float(_statistics.false_alarm_probability(p[i], fmax=freq[-1], t=t, y=y, dy=dy, normalization="standard", method="baluev"))
            # an underflow to 0 is written as astroperf writes it
            out["false_alarm_probability"] = "< 1e-300" if fap == 0.0 else fap
        except Exception as err:  # pragma: no cover - astropy version differences
            out["py_false_alarm_probability"] = f"not computed: {err}"
        if math.isfinite(nyq):
            out.update(sampling_step=0.5 / nyq, nyquist_frequency=nyq)
        return out

    # The false-alarm probability of a peak this strong is exp(-hundreds): computed by
    # each tool from its own peak power, it differs by far more than the power does.
    rtol = {"false_alarm_probability": 1e-6}
    exact = ({"source": src, "shape": shape, "params": dict(pr, method="lomb-scargle"), "tolerance": (1e-6, 1e-9), "compare_rtol": rtol},
             [Impl("vectorized", "astropy LombScargle method=cython (exact)", run("cython"), summ, lambda p: p, library="astropy")])
    # astropy's fast method and astroperf's are both Press & Rybicki's extirpolation with
    # oversampling 5 and Mfft 4 but differ in detail: their peak powers agree to 1e-9 at
    # 1,000 points and 3e-7 at 10,000 (astroperf's is up to ~1e-4 from the exact power
    # elsewhere on the grid), and the false-alarm probability amplifies that (N-3)/2/(1-z)
    # fold: only its order of magnitude is comparable.
    fast = ({"source": src, "shape": shape, "params": dict(pr, method="lomb-scargle-fast"), "compare_rtol": {"peak_power": 1e-3, "false_alarm_probability": 0.5}},
            [Impl("vectorized", "astropy LombScargle method=fast (approximate, Press-Rybicki)", run("fast"), summ, lambda p: p, library="astropy")])
    return [exact, fast]


def w_cross_match(e, a, args):
    need(scipy_spatial, "scipy")
    c1, c2 = a["catalog1"], a["catalog2"]
    radius = float(e["params"]["radius"])
    chord = 2.0 * math.sin(math.radians(radius / 3600.0) / 2.0)
    spec = {"source": exported_source(e, args), "shape": [c1.shape[0], c2.shape[0]]}
    v1 = unit_vectors(c1[:, 0], c1[:, 1])
    v2 = unit_vectors(c2[:, 0], c2[:, 1])

    def match(workers):
        def f():
            tree = scipy_spatial.cKDTree(v2)
            d, j = tree.query(v1, k=1, distance_upper_bound=chord, workers=workers)
            ok = np.isfinite(d)
            sep = 2.0 * np.arcsin(d[ok] / 2.0) / ARCSEC
            return np.nonzero(ok)[0], j[ok], sep

        return f

    def summ(r):
        i, _, sep = r
        n = i.size
        # astroperf's median is the element of rank n//2 of the sorted separations
        # (the upper middle one for even n), not numpy's mean of the two middle ones
        return {
            "n_matches": n,
            "n_catalog1": c1.shape[0],
            "n_catalog2": c2.shape[0],
            "match_fraction": n / c1.shape[0],
            "radius_arcsec": radius,
            "median_sep_arcsec": float(np.partition(sep, n // 2)[n // 2]) if n else None,
            "max_sep_arcsec": float(sep.max()) if n else None,
        }

    check = lambda r: (r[0], r[1])  # noqa: E731
    return spec, [
        Impl("vectorized", "scipy cKDTree on unit vectors (build + query, workers=1)", match(1), summ, check, library="scipy"),
        Impl("parallel", "scipy cKDTree on unit vectors (build + query, workers=-1)", match(-1), summ, check, os.cpu_count() or 1, library="scipy"),
    ]


def w_angular(e, a, args):
    c = a["catalog"]
    ra, dec = np.ascontiguousarray(c[:, 0]), np.ascontiguousarray(c[:, 1])
    n = ra.size
    spec = {"source": exported_source(e, args), "shape": [n, 2]}
    off = ~np.eye(n, dtype=bool)

    def summ(d):
        o = d[off]
        return {"n_sources": n, "min_offdiag_deg": o.min(), "max_deg": d.max(), "mean_offdiag_deg": o.mean()}

    impls = []
    if n * n <= args.naive_limit:

        def naive():
            out = np.empty((n, n))
            r = [math.radians(v) for v in ra]
            d = [math.radians(v) for v in dec]
            for i in range(n):
                for j in range(n):
                    s1 = math.sin(0.5 * (d[j] - d[i]))
                    s2 = math.sin(0.5 * (r[j] - r[i]))
                    h = s1 * s1 + math.cos(d[i]) * math.cos(d[j]) * s2 * s2
                    out[i, j] = math.degrees(2.0 * math.asin(math.sqrt(min(1.0, h))))
            return out

        impls.append(Impl("naive", "pure Python haversine pair loop", naive, summ, lambda d: d, library="python"))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {n * n} pairs is over --naive-limit")
    impls.insert(0, Impl("vectorized", "numpy broadcast haversine (full NxN)", lambda: haversine_numpy(ra, dec), summ, lambda d: d, library="numpy"))
    if nb():
        impls.append(Impl("parallel", "numba prange haversine (half-angle terms precomputed, upper triangle mirrored)", lambda: nb()["haversine"](ra, dec), summ, lambda d: d, nb_threads(), library="numba"))
    return spec, impls


def w_extinction(e, a, args):
    c = a["catalog"]
    mag, color = np.ascontiguousarray(c[:, 2]), np.ascontiguousarray(c[:, 3])
    rv = float(e["params"]["r_v"])
    spec = {"source": exported_source(e, args), "shape": [mag.size]}

    def summ(out):
        # a star counts as corrected when its magnitude changed, as astroperf counts it
        n_corr = int(np.count_nonzero(out != mag))
        return {
            "stars": out.size,
            "corrected_stars": n_corr,
            "blue_uncorrected": out.size - n_corr,
            "mean_extinction_mag": float((mag - out).mean()),
            "r_v": rv,
        }

    impls = [Impl("vectorized", "numpy where(colour < 0, mag, mag - R_V*0.574*colour)", lambda: np.where(color < 0.0, mag, mag - rv * AV_PER_COLOR * color), summ, lambda o: o, library="numpy")]
    if mag.size <= args.naive_limit:

        def naive():
            out = []
            for m, col in zip(mag.tolist(), color.tolist()):
                out.append(m if col < 0.0 else m - rv * AV_PER_COLOR * col)
            return np.array(out)

        impls.append(Impl("naive", "pure Python loop into a list", naive, summ, lambda o: o, library="python"))
    if nb():
        impls.append(Impl("parallel", "numba prange", lambda: nb()["extinction"](mag, color, rv), summ, lambda o: o, nb_threads(), library="numba"))
    return spec, impls


def w_mc_pi(e, a, args):
    n = int(e["size"])
    seed = int(e["params"].get("seed", e.get("seed", 1)))
    t = a.get("table")
    if t is not None and t.ndim == 2 and t.shape[1] >= 2:
        seed = int(t[0, 1])  # the table's seed wins over the parameter, as in astroperf
    spec = {"source": generated_source(e, "uniform x, y in [0, 1)"), "shape": [n], "same_input": False}
    p = math.pi / 4.0
    sigma = 4.0 * math.sqrt(p * (1.0 - p) / n)

    def summ(inside):
        pi = 4.0 * inside / n
        return {
            "samples": n,
            "seed": seed,
            "expected_sigma": sigma,
            "py_inside": int(inside),
            "py_pi_estimate": pi,
            "py_error": pi - math.pi,
            "py_error_in_sigma": (pi - math.pi) / sigma,
        }

    def numpy_pi():
        rng = np.random.default_rng(seed)
        inside = 0
        for lo in range(0, n, 1 << 20):
            m = min(1 << 20, n - lo)
            x = rng.random(m)
            y = rng.random(m)
            inside += int(np.count_nonzero(x * x + y * y <= 1.0))
        return inside

    impls = [Impl("vectorized", "numpy default_rng, 2^20-sample chunks", numpy_pi, summ, library="numpy")]
    if n <= args.naive_limit:

        def naive():
            import random

            g = random.Random(seed)
            inside = 0
            for _ in range(n):
                x, y = g.random(), g.random()
                if x * x + y * y <= 1.0:
                    inside += 1
            return inside

        impls.append(Impl("naive", "pure Python random.random loop", naive, summ, library="python"))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {n} samples is over --naive-limit")
    if nb():
        impls.append(Impl("parallel", "numba prange over 64 blocks (np.random per thread)", lambda: nb()["mc_pi"](n, 64), summ, None, nb_threads(), library="numba"))
    return spec, impls


def w_peak_count(e, a, args):
    need(scipy_signal, "scipy")
    flux = np.ascontiguousarray(a["flux"])
    k = float(e["params"]["k"])
    spec = {"source": exported_source(e, args), "shape": flux.shape}

    def scipy_counts():
        out = np.empty(flux.shape[0], dtype=np.int64)
        for r, row in enumerate(flux):
            p, _ = scipy_signal.find_peaks(row, height=row.mean() + k * row.std())
            out[r] = p.size
        return out

    def summ(c):
        return {"spectra": c.size, "points": flux.shape[1], "total_peaks": int(c.sum()), "mean_peaks": float(c.mean()), "max_peaks": int(c.max())}

    impls = [Impl("vectorized", "scipy.signal.find_peaks per spectrum (height=mean+k*std)", scipy_counts, summ, lambda c: c, library="scipy")]
    if nb():
        impls.append(Impl("parallel", "numba prange over spectra (find_peaks rules)", lambda: nb()["peak_counts"](flux, k), summ, lambda c: c, nb_threads(), library="numba"))
    return spec, impls


def w_magsum(e, a, args):
    t = a["table"]
    m1, m2 = np.ascontiguousarray(t[:, 0]), np.ascontiguousarray(t[:, 1])
    spec = {"source": exported_source(e, args), "shape": list(t.shape)}

    def summ(m):
        fin = np.isfinite(m)
        mf = m[fin]
        return {
            "n_pairs": m.size,
            "brightest": mf.min() if mf.size else None,
            "faintest": mf.max() if mf.size else None,
            "mean_gain_over_brighter_mag": float((np.minimum(m1, m2) - m).mean()),
            "n_non_finite": int(m.size - mf.size),
        }

    impls = [Impl("vectorized", "numpy -2.5*log10(10**(-0.4*m1) + 10**(-0.4*m2))", lambda: -2.5 * np.log10(10.0 ** (-0.4 * m1) + 10.0 ** (-0.4 * m2)), summ, lambda m: m, library="numpy")]
    if m1.size <= args.naive_limit:
        impls.append(
            Impl(
                "naive",
                "pure Python math per pair",
                lambda: np.array([-2.5 * math.log10(10.0 ** (-0.4 * x) + 10.0 ** (-0.4 * y)) for x, y in zip(m1.tolist(), m2.tolist())]),
                summ,
                lambda m: m,
                library="python",
            )
        )
    if nb():
        impls.append(Impl("parallel", "numba prange", lambda: nb()["magsum"](m1, m2), summ, lambda m: m, nb_threads(), library="numba"))
    return spec, impls


def refine_peak(x, y, i):
    """The vertex of the parabola through the grid maximum and its neighbours, as
    astroperf's planck refines the peak (the grid point when the fit is not a maximum
    inside the bracket)."""
    if i == 0 or i + 1 >= len(x):
        return float(x[i])
    x1, x2, x3 = float(x[i - 1]), float(x[i]), float(x[i + 1])
    y1, y2, y3 = float(y[i - 1]), float(y[i]), float(y[i + 1])
    denom = (x1 - x2) * (x1 - x3) * (x2 - x3)
    if denom == 0.0:
        return x2
    a = (x3 * (y2 - y1) + x2 * (y1 - y3) + x1 * (y3 - y2)) / denom
    bq = (x3 * x3 * (y1 - y2) + x2 * x2 * (y3 - y1) + x1 * x1 * (y2 - y3)) / denom
    v = -bq / (2.0 * a) if a != 0.0 else math.nan
    if a < 0.0 and math.isfinite(v) and min(x1, x3) <= v <= max(x1, x3):
        return v
    return x2


def w_planck(e, a, args):
    wl = np.ascontiguousarray(a["table"][:, 0])
    t = float(e["params"]["temperature"])
    scale = float(e["params"]["scale"])
    spec = {"source": exported_source(e, args), "shape": [wl.size]}
    c1 = 2.0 * H_PLANCK * C_LIGHT**2
    c2 = H_PLANCK * C_LIGHT / K_BOLTZ

    def numpy_planck():
        lam = wl * 1e-9
        return scale * c1 / lam**5 / np.expm1(c2 / (lam * t))

    def summ(b):
        i = int(np.argmax(b))
        wien = WIEN_NM_K / t
        peak = refine_peak(wl, b, i)
        total = scale * SIGMA_SB * t**4 / math.pi
        band = float(np.trapezoid(b, wl)) * 1e-9 / total if total > 0 else None
        return {
            "temperature_k": t,
            "n_wavelengths": wl.size,
            "peak_nm": peak,
            "peak_nm_grid": wl[i],
            "wien_peak_nm": wien,
            "peak_rel_diff": peak / wien - 1.0,
            "peak_radiance_w_m3_sr": b[i],
            "band_fraction_of_sigma_t4": band,
        }

    impls = [Impl("vectorized", "numpy expm1", numpy_planck, summ, lambda b: b, library="numpy")]
    if wl.size <= args.naive_limit:
        impls.append(
            Impl(
                "naive",
                "pure Python math.expm1 per wavelength",
                lambda: np.array([scale * c1 / (w * 1e-9) ** 5 / math.expm1(c2 / (w * 1e-9 * t)) for w in wl.tolist()]),
                summ,
                lambda b: b,
                library="python",
            )
        )
    if nb():
        impls.append(Impl("parallel", "numba prange", lambda: nb()["planck"](wl, t, scale), summ, lambda b: b, nb_threads(), library="numba"))
    spec["tolerance"] = (1e-12, 0.0)
    # The refined peak is a few 1e-9 (1e-11 on a fine grid) from Wien's: round-off in the
    # radiance moves the parabola's vertex by ~1e-11 of itself, so peak_rel_diff keeps only
    # its order of magnitude (astroperf's own variants differ by 20% at 1e6 wavelengths).
    spec["compare_rtol"] = {"peak_rel_diff": 0.5, "peak_nm": 1e-9}
    return spec, impls


def chan_merge(state, x):
    cnt, mean, m2, lo, hi = state
    nb_ = x.size
    mb = float(x.mean())
    m2b = float(((x - mb) ** 2).sum())
    tot = cnt + nb_
    d = mb - mean
    mean += d * nb_ / tot
    m2 += m2b + d * d * cnt * nb_ / tot
    return tot, mean, m2, min(lo, float(x.min())), max(hi, float(x.max()))


def w_streaming(e, a, args):
    chunk = max(1, int(e["params"].get("chunk", 1000)))
    mapped = mapped_input(e)
    if mapped is None and e.get("input_kind") == "memory-mapped array":
        raise Skip("streams a memory-mapped file that the export does not name (no 'mapped' entry)")
    if mapped is not None:
        values = mapped.reshape(-1)
        n = values.size
        spec = {"source": f"memory-mapped {e['mapped']['path']}", "shape": [n]}

        def chunks():
            for lo in range(0, n, chunk):
                yield np.asarray(values[lo:lo + chunk], dtype=np.float64)

        names = ("mean", "std", "min", "max")
    else:
        n = int(e["size"])
        seed = int(e.get("seed", 1))
        spec = {"source": generated_source(e, f"chunks of {chunk} normal values, mean 50, std 10, drawn during the run"), "shape": [n], "same_input": False}

        def chunks():
            rng = np.random.default_rng(seed)
            for lo in range(0, n, chunk):
                yield rng.normal(50.0, 10.0, min(chunk, n - lo))

        names = ("py_mean", "py_std", "py_min", "py_max")

    def numpy_stream():
        state = (0, 0.0, 0.0, math.inf, -math.inf)
        for x in chunks():
            state = chan_merge(state, x)
        cnt, mean, m2, lo, hi = state
        return cnt, mean, math.sqrt(m2 / (cnt - 1)) if cnt > 1 else math.nan, lo, hi

    def welford():
        cnt, mean, m2, lo, hi = 0, 0.0, 0.0, math.inf, -math.inf
        for x in chunks():
            for v in x.tolist():
                cnt += 1
                d = v - mean
                mean += d / cnt
                m2 += d * (v - mean)
                lo = v if v < lo else lo
                hi = v if v > hi else hi
        return cnt, mean, math.sqrt(m2 / (cnt - 1)) if cnt > 1 else math.nan, lo, hi

    def summ(r):
        out = {"count": r[0], "chunks": -(-n // chunk), "chunk_bytes": chunk * 8}
        out.update(zip(names, r[1:]))
        return out

    impls = [Impl("vectorized", "numpy per-chunk moments merged by Chan et al.", numpy_stream, summ, lambda r: r, library="numpy")]
    if n <= args.naive_limit:
        impls.append(Impl("naive", "pure Python Welford update per value", welford, summ, lambda r: r, library="python"))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python Welford over {n} values is over --naive-limit")
    return spec, impls


def w_popsyn(e, a, args):
    pr = e["params"]
    nreal = int(e["size"])
    stars = int(pr["stars"])
    seed = int(e.get("seed", 1))
    alpha, m_min, m_max, age = float(pr["alpha"]), float(pr["m_min"]), float(pr["m_max"]), float(pr["age"])
    ea = alpha + 1.0
    lo, hi = m_min**ea, m_max**ea
    span, inv = hi - lo, 1.0 / ea
    mdead = math.inf if age <= 0 else (age / T_SUN_GYR) ** -0.4
    spec = {"source": generated_source(e, f"{stars} Salpeter-IMF stars per realization by inverse CDF"), "shape": [nreal, stars], "same_input": False}

    # The IMF's analytic figures, as astroperf's Model computes them (no random draws).
    def moment(k):
        ex = alpha + k + 1.0
        return math.log(m_max / m_min) if abs(ex) < 1e-12 else (m_max**ex - m_min**ex) / ex

    def fraction(a1, a2):
        a1 = min(max(a1, m_min), m_max)
        a2 = min(max(a2, m_min), m_max)
        return (a2**ea - a1**ea) / (m_max**ea - m_min**ea)

    analytic = moment(1.0) / moment(0.0)

    def numpy_pop():
        rng = np.random.default_rng(seed)
        res = np.empty((nreal, 4))
        for r in range(nreal):
            m = (lo + rng.random(stars) * span) ** inv
            alive = m < mdead
            ma = m[alive]
            res[r] = (m.mean(), np.count_nonzero(m > 8.0), ma.size, (ma**3 * np.sqrt(ma)).sum())
        return res

    def summ(res):
        mean_mass = float(res[:, 0].mean())
        return {
            "realizations": nreal,
            "stars_per_realization": stars,
            "mean_mass_analytic": analytic,
            "n_gt8_expected": fraction(8.0, m_max) * stars,
            "n_alive_expected": fraction(m_min, mdead) * stars,
            "turnoff_mass": min(mdead, m_max),
            "py_mean_mass": mean_mass,
            "py_mean_mass_rel_diff": mean_mass / analytic - 1.0,
            "py_mean_n_gt8": float(res[:, 1].mean()),
            "py_mean_n_alive": float(res[:, 2].mean()),
            "py_mean_luminosity_lsun": float(res[:, 3].mean()),
        }

    impls = [Impl("vectorized", "numpy per realization (inverse CDF, mass cut, m^3*sqrt(m))", numpy_pop, summ, library="numpy")]
    if nreal * stars <= args.naive_limit:

        def naive():
            import random

            g = random.Random(seed)
            res = np.empty((nreal, 4))
            for r in range(nreal):
                sm, gt8, alive, lum = 0.0, 0, 0, 0.0
                for _ in range(stars):
                    m = (lo + g.random() * span) ** inv
                    sm += m
                    gt8 += m > 8.0
                    if T_SUN_GYR * m**-2.5 > age:
                        alive += 1
                        lum += m**3.5
                res[r] = (sm / stars, gt8, alive, lum)
            return res

        impls.append(Impl("naive", "pure Python star by star (three powers)", naive, summ, library="python"))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {nreal * stars} stars is over --naive-limit")
    if nb():
        impls.append(Impl("parallel", "numba prange over realizations", lambda: nb()["popsyn"](nreal, stars, lo, span, inv, mdead), summ, None, nb_threads(), library="numba"))
    return spec, impls


def w_spectrum_stack(e, a, args):
    mapped = mapped_input(e)
    if mapped is not None:
        flux = mapped
        src = f"memory-mapped {e['mapped']['path']}"
    elif "flux" in a:
        flux = np.ascontiguousarray(a["flux"])
        src = exported_source(e, args)
    else:
        raise Skip("a memory-mapped stack that the export does not name (no 'mapped' entry)")
    k = float(e["params"]["k"])
    mode = e["params"].get("mode", "memory")
    spec = {"source": src + ("" if mode == "memory" else f"; held in memory (astroperf mode={mode})"), "shape": flux.shape}

    def numpy_stack():
        med = np.median(flux, axis=0)
        resid = flux - med
        var = resid.var(axis=1)
        dev = np.median(np.abs(resid), axis=1)
        w = np.where(dev > k, 0.0, 1.0 / var)
        coadd = (w @ flux) / w.sum()
        return med, np.nonzero(dev > k)[0], coadd

    def summ(r):
        rows, cols = flux.shape
        return {"n_spectra": rows, "n_pixels": cols, "n_outliers": r[1].size, "outliers_first": r[1][:20], "stack_mb": rows * cols * 8 / 1048576.0}

    return spec, [Impl("vectorized", "numpy median(axis=0), MAD per spectrum, weighted coadd (w @ flux)", numpy_stack, summ, lambda r: r, library="numpy")]


def w_phase_fold(e, a, args):
    (t, y), dropped = finite_points(a["time"], a["value"])
    pr = e["params"]
    period, epoch, bins = float(pr["period"]), float(pr["epoch"]), int(pr["bins"])
    src = exported_source(e, args)
    if dropped:
        src += f"; {dropped} point(s) with NaN/infinite time or value dropped, as astroperf drops them"
    spec = {"source": src, "shape": [t.size]}

    def numpy_fold():
        phase = np.mod(t - epoch, period) / period
        phase[phase >= 1.0] = 0.0  # a remainder that rounds up to the period is phase 0
        order = np.argsort(phase, kind="stable")
        if bins == 0:
            return order, phase[order], y[order], np.empty(0)
        b = np.minimum((phase * bins).astype(np.int64), bins - 1)
        cnt = np.bincount(b, minlength=bins)
        s = np.bincount(b, weights=y, minlength=bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = s / cnt
        return order, phase[order], y[order], means

    def naive_fold():
        ph = []
        for ti in t.tolist():
            p = ((ti - epoch) % period) / period
            ph.append(0.0 if p >= 1.0 else p)
        order = sorted(range(len(ph)), key=lambda i: ph[i])
        if bins == 0:
            return np.array(order), np.array(ph)[order], y[order], np.empty(0)
        sums = [0.0] * bins
        cnts = [0] * bins
        yl = y.tolist()
        for i, p in enumerate(ph):
            j = min(int(p * bins), bins - 1)
            sums[j] += yl[i]
            cnts[j] += 1
        means = [s / c if c else math.nan for s, c in zip(sums, cnts)]
        return np.array(order), np.array(ph)[order], y[order], np.array(means)

    def summ(r):
        m = r[3][np.isfinite(r[3])]
        amp = 0.5 * (m.max() - m.min()) if m.size else None
        return {"n_points": t.size, "period": period, "epoch": epoch, "bins": bins, "binned_semi_amplitude": amp}

    check = lambda r: (r[0], r[3])  # noqa: E731
    impls = [Impl("vectorized", "numpy mod + argsort(kind=stable) + bincount bin means", numpy_fold, summ, check, library="numpy")]
    if t.size <= args.naive_limit:
        impls.append(Impl("naive", "pure Python sorted(range(n), key=phase)", naive_fold, summ, check, library="python"))
    return spec, impls


def w_banded_median(e, a, args):
    need(scipy_ndimage, "scipy")
    img = np.ascontiguousarray(a["frame"])
    spec = {"source": exported_source(e, args), "shape": img.shape}

    def summ(out):
        return {"rows": img.shape[0], "cols": img.shape[1], "frame_bytes": img.nbytes, "out_of_place_bytes": 2 * img.nbytes, "mean_filtered": float(out.mean())}

    impls = [Impl("vectorized", "scipy.ndimage.median_filter size=3 mode=reflect (out of place)", lambda: median3_scipy(img), summ, lambda o: o, library="scipy")]
    if nb():
        impls.append(Impl("parallel", "numba prange 3x3 median (out of place)", lambda: nb()["median3"](img), summ, lambda o: o, nb_threads(), library="numba"))
    return spec, impls


def w_observation_batch(e, a, args):
    need(scipy_ndimage, "scipy")
    frames = a["frames"]
    k = float(e["params"]["k"])
    calibrate = bool(e["params"].get("calibrate", True))
    nf, rows, cols = frames.shape
    src = exported_source(e, args)
    if calibrate:
        src += "; master dark/flat drawn in numpy from astroperf's generator and seed (SplitMix64 streams, polar normals)"
    spec = {"source": src, "shape": frames.shape}

    def one(f, dark, flat):
        cal = (f - dark) / flat if calibrate else f
        thr = cal.mean() + k * cal.std()
        _, rows_ = label_moments(cal, cal > thr)
        return rows_

    def serial():
        dark, flat = ap_masters(rows, cols) if calibrate else (None, None)
        return [one(f, dark, flat) for f in frames]

    def threaded(pool):
        def f():
            dark, flat = ap_masters(rows, cols) if calibrate else (None, None)
            return list(pool.map(lambda fr: one(fr, dark, flat), frames))

        return f

    def summ(res):
        total = sum(r.shape[0] for r in res)
        return {"n_frames": nf, "frame_shape": [rows, cols], "n_sources": total, "sources_per_frame": total / nf, "calibrated": calibrate}

    from concurrent.futures import ThreadPoolExecutor

    nt = os.cpu_count() or 1
    pool = ThreadPoolExecutor(nt)
    check = lambda res: [r[:, :2] for r in res]  # noqa: E731
    return spec, [
        Impl("vectorized", "numpy masters + calibrate + threshold, scipy label + find_objects, frame by frame", serial, summ, check, library="scipy"),
        Impl("parallel", f"the same over a ThreadPoolExecutor({nt}) (numpy/scipy release the GIL)", threaded(pool), summ, check, nt, library="scipy"),
    ]


def python_leapfrog(x, y, z, vx, vy, vz, steps, dt):
    """Kick-drift-kick in pure Python: (x, y, z, max |E/E0 - 1|, E_final/E0 - 1)."""

    def acc(x, y, z):
        rm = math.sqrt(x * x + y * y + z * z)
        k = -GM_SUN / (rm * rm * rm)
        return k * x, k * y, k * z

    def energy(x, y, z, vx, vy, vz):
        return 0.5 * (vx * vx + vy * vy + vz * vz) - GM_SUN / math.sqrt(x * x + y * y + z * z)

    e0 = energy(x, y, z, vx, vy, vz)
    e = e0
    ax, ay, az = acc(x, y, z)
    worst = 0.0
    for _ in range(steps - 1):  # `steps` states, as astroperf counts them
        vx += 0.5 * dt * ax
        vy += 0.5 * dt * ay
        vz += 0.5 * dt * az
        x += dt * vx
        y += dt * vy
        z += dt * vz
        ax, ay, az = acc(x, y, z)
        vx += 0.5 * dt * ax
        vy += 0.5 * dt * ay
        vz += 0.5 * dt * az
        e = energy(x, y, z, vx, vy, vz)
        de = abs(e / e0 - 1.0)
        worst = de if de > worst else worst
    return x, y, z, worst, e / e0 - 1.0


def w_orbit(e, a, args):
    row = a["table"][0]
    state = np.array([float(v) for v in row[:6]])
    steps = int(row[6]) if row.size > 6 else int(e["size"])
    dt = float(e["params"]["dt"])
    orbits = max(1, int(e["params"].get("orbits", 1)))
    spec = {"source": exported_source(e, args), "shape": [steps]}

    def starts():
        # orbit k: the velocity scaled by (1 - 0.01 k), as astroperf's
        for k in range(orbits):
            f = 1.0 - 0.01 * k
            yield (state[0], state[1], state[2], state[3] * f, state[4] * f, state[5] * f)

    def python_orbits():
        return np.array([python_leapfrog(*s, steps, dt) for s in starts()])

    def numba_orbits():
        lf = nb()["leapfrog"]
        return np.array([lf(*s, steps, dt) for s in starts()])

    def summ(r):
        return {
            "steps": steps,
            "orbits": orbits,
            "dt_s": dt,
            "days": steps * dt / 86400.0,
            "max_rel_energy_error": r[0, 3],
            "final_rel_energy_error": r[0, 4],
            "max_rel_energy_error_all_orbits": r[:, 3].max(),
            "final_x_au": r[0, 0] / AU,
            "final_y_au": r[0, 1] / AU,
            "final_radius_au": np.sqrt(r[:, 0] ** 2 + r[:, 1] ** 2 + r[:, 2] ** 2) / AU,
        }

    check = lambda r: r  # noqa: E731
    impls = []
    if orbits * steps <= 10 * args.naive_limit:
        impls.append(Impl("naive", "pure Python kick-drift-kick loop" + (" per orbit" if orbits > 1 else ""), python_orbits, summ, check, library="python"))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {orbits * steps} steps is over 10 x --naive-limit")
    if nb():
        impls.append(Impl("vectorized", "numba njit kick-drift-kick (serial: a recurrence)" + (", orbit by orbit" if orbits > 1 else ""), numba_orbits, summ, check, library="numba"))
        if orbits > 1:
            impls.append(Impl("parallel", "numba prange over orbits (njit kick-drift-kick each)", lambda: nb()["leapfrog_orbits"](state, orbits, steps, dt), summ, check, nb_threads(), library="numba"))
    # This plain kick-drift-kick and astroperf's rearranged one (velocity carried as dt*v,
    # potential from the force's factor) round differently. The energy error (|E/E0 - 1| ~
    # 1e-10) is a difference of nearly equal numbers whose round-off random-walks (~1e-16
    # sqrt(steps) absolute): the maximum agrees to ~3e-4 at 1e7 steps, the signed final
    # value to ~2e-2. The positions drift apart about as steps^1.7 (2e-14 at 1e4 steps,
    # 2e-9 at 1e7).
    pos = min(1e-3, max(1e-10, 1e-21 * float(steps) ** 2))
    spec["compare_rtol"] = {
        "max_rel_energy_error": 1e-2,
        "max_rel_energy_error_all_orbits": 1e-2,
        "final_rel_energy_error": 0.1,
        "final_x_au": pos,
        "final_y_au": pos,
        "final_radius_au": pos,
    }
    return spec, impls


# --------------------------------------------------------------------------- memory (7.5)

LAYOUTS = ["f64", "f32", "i16", "view", "copy", "mmap"]


def i16_scaling(lo, hi):
    """astropy's scale('int16', 'minmax'): BZERO = (max + min) / 2, BSCALE = (max - min) /
    (2^16 - 2)."""
    bscale = (hi - lo) / 65534.0 if hi > lo else 1.0
    return (hi + lo) / 2.0, bscale


def timed(make):
    """make() and the seconds it took."""
    t = time.perf_counter()
    made = make()
    return made, time.perf_counter() - t


class LayoutRecords:
    """One record per layout: bytes of its own, seconds to make it, seconds of one full
    pass (timed here), the pass's sum as float64 and the largest difference from the f64
    values (computed after the pass, untimed)."""

    def __init__(self):
        self.out = {"bytes": [], "load": [], "pass": [], "sum": [], "diff": []}

    def add(self, layout, nbytes, load, full_pass, diff):
        """full_pass(layout) timed, diff(layout) after it."""
        s, t_pass = timed(lambda: full_pass(layout))
        self.out["bytes"].append(int(nbytes))
        self.out["load"].append(load)
        self.out["pass"].append(t_pass)
        self.out["sum"].append(float(s))
        self.out["diff"].append(float(diff(layout)))


def layouts_numpy(frame, tmpdir):
    """The frame as f64 (a copy), f32, i16 with BSCALE/BZERO (astropy's minmax scaling,
    np.around = ties to even), a view and a copy of the view, and an np.memmap of a file it
    was written to; for each: bytes of its own, seconds to make it, seconds of one full pass
    (the sum as float64) and the largest difference from the f64 values."""
    rec = LayoutRecords()

    a64, load = timed(lambda: np.array(frame, dtype=np.float64, order="C", copy=True))
    rec.add(a64, a64.nbytes, load, np.ndarray.sum, lambda x: 0.0)

    a32, load = timed(lambda: a64.astype(np.float32))
    rec.add(a32, a32.nbytes, load, lambda x: x.sum(dtype=np.float64), lambda x: np.abs(x.astype(np.float64) - a64).max())
    del a32

    bzero, bscale = i16_scaling(float(a64.min()), float(a64.max()))
    q, load = timed(lambda: np.clip(np.around((a64 - bzero) / bscale), -32768, 32767).astype(np.int16))
    rec.add(
        q,
        q.nbytes,
        load,
        lambda x: a64.size * bzero + bscale * float(x.sum(dtype=np.int64)),
        lambda x: np.abs(bzero + bscale * x.astype(np.float64) - a64).max(),
    )
    del q

    view, load = timed(lambda: a64[:, :])
    rec.add(view, 0, load, np.ndarray.sum, lambda x: 0.0)  # a view owns no bytes

    copy, load = timed(view.copy)
    rec.add(copy, copy.nbytes, load, np.ndarray.sum, lambda x: np.abs(x - a64).max())
    del copy

    fd, path = tempfile.mkstemp(prefix="astroperf-py-layout-", suffix=".f64", dir=tmpdir)
    os.close(fd)
    try:
        _, write_s = timed(lambda: a64.astype("<f8", copy=False).tofile(path))
        mm, load = timed(lambda: np.memmap(path, dtype="<f8", mode="r", shape=a64.shape))
        rec.add(mm, mm.nbytes, load, np.ndarray.sum, lambda x: np.abs(x - a64).max())
        del mm
    finally:
        os.remove(path)
    rec.out.update(write_s=write_s, bzero=bzero, bscale=bscale)
    return rec.out


def layouts_python(frame, tmpdir):
    """The same six layouts with the standard library only: array.array('d'/'f'/'h'), a
    memoryview, a copy of it, and mmap.mmap of the file cast to doubles; passes by sum()."""
    import array
    import mmap

    rec = LayoutRecords()
    values = frame.ravel().tolist()

    def max_diff(xs):
        return max(abs(u - v) for u, v in zip(xs, a64))

    a64, load = timed(lambda: array.array("d", values))
    rec.add(a64, a64.itemsize * len(a64), load, sum, lambda x: 0.0)

    a32, load = timed(lambda: array.array("f", a64))
    rec.add(a32, a32.itemsize * len(a32), load, sum, max_diff)
    del a32

    bzero, bscale = i16_scaling(min(a64), max(a64))
    q, load = timed(lambda: array.array("h", [min(max(round((v - bzero) / bscale), -32768), 32767) for v in a64]))
    rec.add(
        q,
        q.itemsize * len(q),
        load,
        lambda x: len(x) * bzero + bscale * sum(x),
        lambda x: max_diff([bzero + bscale * v for v in x]),
    )
    del q

    view, load = timed(lambda: memoryview(a64))
    rec.add(view, 0, load, sum, lambda x: 0.0)

    copy, load = timed(lambda: array.array("d", view))
    rec.add(copy, copy.itemsize * len(copy), load, sum, max_diff)
    del copy
    view.release()

    fd, path = tempfile.mkstemp(prefix="astroperf-py-layout-", suffix=".f64", dir=tmpdir)
    os.close(fd)
    try:

        def write():
            with open(path, "wb") as f:
                data = a64 if sys.byteorder == "little" else array.array("d", a64)
                if sys.byteorder != "little":
                    data.byteswap()
                data.tofile(f)

        _, write_s = timed(write)
        with open(path, "rb") as f:

            def map_doubles():
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                return mm, memoryview(mm).cast("d")

            (mm, mv), load = timed(map_doubles)
            rec.add(mv, len(mm), load, sum, max_diff)
            mv.release()
            mm.close()
    finally:
        os.remove(path)
    rec.out.update(write_s=write_s, bzero=bzero, bscale=bscale)
    return rec.out


def w_memory_layout(e, a, args):
    frame = np.ascontiguousarray(a["frame"], dtype=np.float64)
    spec = {"source": exported_source(e, args), "shape": frame.shape, "tolerance": (1e-9, 0.0)}
    tmpdir = tempfile.gettempdir()

    def summ(r):
        return {
            "layouts": LAYOUTS,
            "bytes": r["bytes"],
            "max_abs_diff": r["diff"],
            "i16_bscale": r["bscale"],
            "i16_bzero": r["bzero"],
            "pass_sum": r["sum"],
            # wall times of this process: the same measurements, never the same numbers
            "py_load_s": r["load"],
            "py_pass_s": r["pass"],
            "py_mmap_write_s": r["write_s"],
        }

    def check(r):
        return (np.array(r["bytes"]), np.array(r["diff"]), np.array(r["sum"]))

    impls = [Impl("vectorized", "numpy astype f32 / around+astype i16 (minmax BSCALE/BZERO), view, copy, np.memmap; sums", lambda: layouts_numpy(frame, tmpdir), summ, check, library="numpy")]
    if frame.size <= args.naive_limit:
        impls.append(Impl("naive", "pure Python array.array d/f/h, memoryview, copy, mmap.mmap; sum()", lambda: layouts_python(frame, tmpdir), summ, check, library="python"))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {frame.size} pixels is over --naive-limit")
    return spec, impls


HIST_WIDTH = 0.25  # catalog-chunks' magnitude histogram: 0.25-mag bins over [0, 40)
HIST_BINS = 160


def mag_bins(mag):
    """Histogram bin of each non-NaN magnitude, below the range -> 0, above -> the last."""
    return np.minimum(np.maximum(mag / HIST_WIDTH, 0.0), HIST_BINS - 1).astype(np.int64)


class CatalogSource:
    """Rows (ra, dec, mag, ...) of a catalog through a memory map: `rows` is the (n, cols)
    array view; `release(r0, r1)` lets the kernel drop the pages of rows r0..r1 (when the
    map is our own mmap.mmap)."""

    def __init__(self, rows, mm=None, row_bytes=0, nbytes=0):
        self.rows = rows
        self.mm = mm
        self.row_bytes = row_bytes
        self.nbytes = nbytes

    def release(self, r0, r1):
        if self.mm is None or not hasattr(self.mm, "madvise"):
            return
        import mmap

        page = mmap.PAGESIZE
        lo = (r0 * self.row_bytes) // page * page
        hi = min(r1 * self.row_bytes, len(self.mm))
        if hi > lo:
            try:
                self.mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
            except (OSError, ValueError, AttributeError):
                pass

    def close(self):
        if self.mm is not None:
            self.rows = None
            try:
                self.mm.close()
            except BufferError:  # a view is still alive: the map goes with the process
                pass


def catalog_source(e, a, args):
    """(CatalogSource, source text, same_input) of catalog-chunks' input: an exported
    catalog (.npy, columns ra, dec, mag, colour), a mapped file the manifest names, or else
    astroperf's generated catalog file regenerated bit for bit from its size and seed."""
    import mmap

    if "catalog" in a:
        c = a["catalog"]
        return CatalogSource(c, nbytes=c.shape[0] * 24), exported_source(e, args), True
    m = mapped_input(e)
    if m is not None:
        if m.ndim != 2 or m.shape[1] < 3:
            raise Skip(f"catalog-chunks reads rows of (ra, dec, mag, ...); the mapped file is {m.shape}")
        return CatalogSource(m, nbytes=m.nbytes), f"memory-mapped {e['mapped']['path']}", True
    rows, seed = int(e["size"]), int(e.get("seed", 1))
    fd, path = tempfile.mkstemp(prefix="astroperf-py-catalog-", suffix=".f64")
    os.close(fd)
    try:
        write_ap_catalog(path, rows, seed)
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    finally:
        os.remove(path)  # the map keeps the data; nothing is left on disk (as astroperf)
    arr = np.frombuffer(mm, dtype="<f8").reshape(rows, 3)
    src = f"astroperf's generated catalog file ({rows} rows of ra, dec, mag as float64, seed {seed}) regenerated bit for bit, memory-mapped"
    return CatalogSource(arr, mm, 24, rows * 24), src, True


def w_catalog_chunks(e, a, args):
    pr = e["params"]
    limit = float(pr.get("limit", 15.0))
    chunk = max(1, int(pr.get("chunk", 100000)))
    max_rows = max(0, int(pr.get("max_rows", 10000)))
    src_obj, src_text, same = catalog_source(e, a, args)
    rows_arr = src_obj.rows
    n = rows_arr.shape[0]
    if n == 0:
        src_obj.close()
        raise Skip("the catalog has no rows")
    n_chunks = -(-n // chunk)
    spec = {"source": src_text, "shape": [n, 3], "same_input": same, "cleanup": src_obj.close}

    def scan(r0, keep):
        r1 = min(n, r0 + chunk)
        mag = rows_arr[r0:r1, 2]
        bright = mag < limit
        count = int(np.count_nonzero(bright))
        ok = ~np.isnan(mag)
        hist = np.bincount(mag_bins(mag[ok]), minlength=HIST_BINS)
        kept = None
        if keep > 0 and count:
            idx = np.flatnonzero(bright)[:keep]
            kept = np.column_stack((r0 + idx, rows_arr[r0 + idx, :3]))
        src_obj.release(r0, r1)
        return count, hist, kept

    def merge(results):
        count = 0
        hist = np.zeros(HIST_BINS, np.int64)
        kept = []
        have = 0
        for c, h, k in results:
            count += c
            hist += h
            if k is not None and have < max_rows:
                kept.append(k[: max_rows - have])
                have += kept[-1].shape[0]
        table = np.concatenate(kept) if kept else np.empty((0, 4))
        return count, hist, table

    def vectorized():
        out = []
        have = 0
        for r0 in range(0, n, chunk):
            res = scan(r0, max_rows - have)
            if res[2] is not None:
                have += res[2].shape[0]
            out.append(res)
        return merge(out)

    from concurrent.futures import ThreadPoolExecutor

    nt = os.cpu_count() or 1
    pool = ThreadPoolExecutor(nt)

    def parallel():
        # waves of 4 chunks per thread, merged in file order (the table keeps the first
        # max_rows bright rows of the file, as the serial scan does)
        out = []
        have = 0
        starts = list(range(0, n, chunk))
        wave = 4 * nt
        for w0 in range(0, len(starts), wave):
            keep = max_rows - have
            res = list(pool.map(lambda r0: scan(r0, keep), starts[w0:w0 + wave]))
            for r in res:
                if r[2] is not None:
                    have += r[2].shape[0]
            out.extend(res)
        return merge(out)

    def naive():
        # the chapter's ChunkedProcessor: each chunk copied out, a dict per bright object
        # appended to one list; the histogram row by row
        results = []
        hist = [0] * HIST_BINS
        for r0 in range(0, n, chunk):
            r1 = min(n, r0 + chunk)
            chunk_data = {"ra": rows_arr[r0:r1, 0].tolist(), "dec": rows_arr[r0:r1, 1].tolist(), "mag": rows_arr[r0:r1, 2].tolist()}
            for i, mag in enumerate(chunk_data["mag"]):
                if mag == mag:
                    hist[min(int(max(mag / HIST_WIDTH, 0.0)), HIST_BINS - 1)] += 1
                if mag < limit:
                    results.append({"index": r0 + i, "ra": chunk_data["ra"][i], "dec": chunk_data["dec"][i], "mag": mag})
            del chunk_data
            src_obj.release(r0, r1)
        table = np.array([[b["index"], b["ra"], b["dec"], b["mag"]] for b in results[:max_rows]]).reshape(-1, 4)
        return len(results), np.array(hist, np.int64), table

    def summ(r):
        count, _, table = r
        rss, hwm = proc_memory_mb()
        return {
            "n_rows": n,
            "n_bright": count,
            "bright_fraction": count / n,
            "limit": limit,
            "chunks": n_chunks,
            "rows_in_table": table.shape[0],
            "file_mb": src_obj.nbytes / 1048576.0,
            # this process's memory: not astroperf's
            "py_rss_mb": rss,
            "py_process_peak_rss_mb": hwm,
        }

    check = lambda r: (r[0], r[1], r[2])  # noqa: E731
    impls = [Impl("vectorized", "numpy over mmap chunks (count, bincount histogram, first bright rows; pages released)", vectorized, summ, check, library="numpy")]
    if n <= args.naive_limit:
        impls.append(Impl("naive", "pure Python list of dicts per bright object over copied chunks (the chapter's ChunkedProcessor)", naive, summ, check, library="python"))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {n} rows is over --naive-limit")
    impls.append(Impl("parallel", f"numpy chunks over a ThreadPoolExecutor({nt}), merged in file order", parallel, summ, check, nt, library="numpy"))
    spec["tolerance"] = (0.0, 0.0)
    return spec, impls


WORKLOADS = {
    "pairwise-distances": w_pairwise,
    "spectrum-pipeline": w_spectrum_pipeline,
    "ccd-pipeline": w_ccd,
    "period-search": w_period_search,
    "cross-match": w_cross_match,
    "angular-distances": w_angular,
    "extinction-correction": w_extinction,
    "monte-carlo-pi": w_mc_pi,
    "peak-count": w_peak_count,
    "magnitude-sum": w_magsum,
    "planck": w_planck,
    "streaming-stats": w_streaming,
    "population-synthesis": w_popsyn,
    "spectrum-stack": w_spectrum_stack,
    "phase-fold": w_phase_fold,
    "banded-median": w_banded_median,
    "observation-batch": w_observation_batch,
    "orbit-leapfrog": w_orbit,
    "memory-layout": w_memory_layout,
    "catalog-chunks": w_catalog_chunks,
}

NOT_COVERED = {}


# --------------------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input_dir", help="directory written by `astroperf bench --export-inputs DIR`")
    ap.add_argument("--out", required=True, help="JSON file of run records to write")
    ap.add_argument("--repeat", type=int, default=5, help="timed repeats after the warm-up (default 5)")
    ap.add_argument("--only", help="comma-separated analysis ids")
    ap.add_argument("--budget", type=float, default=30.0, help="warm-up seconds above which only one repeat is timed, and median seconds above which --profile skips an implementation (default 30)")
    ap.add_argument("--naive-limit", type=float, default=4e6, help="largest element/pair count pure-Python loops are run on (default 4e6)")
    ap.add_argument("--progress", action="store_true", help='machine-readable progress on stderr: @progress {"analysis", "method", "variant", "phase", "done", "total"} lines')
    ap.add_argument("--profile", metavar="PFILE", help="after timing, run every implementation once more under cProfile and write its call tree to PFILE (JSON)")
    args = ap.parse_args(argv)
    if np is None:
        note("reference_bench: numpy is required (pip install numpy scipy numba astropy sep)")
        return 2
    args.repeat = max(1, args.repeat)
    for m in sorted(MISSING):
        note(f"reference_bench: optional package '{m}' is missing; its implementations are skipped")
    if numba is not None:
        note(f"reference_bench: numba {numba.__version__}, {nb_threads()} threads")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            note(f"reference_bench: warning: {var} is set; unset it for representative timings")
    manifest_path = os.path.join(args.input_dir, "manifest.json")
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        note(f"reference_bench: cannot read {manifest_path}: {e}")
        return 2
    only = None
    if args.only:
        only = [s.strip() for s in args.only.split(",") if s.strip()]
        known = {m["analysis"] for m in manifest}
        for o in only:
            if o not in known:
                note(f"reference_bench: --only: '{o}' is not in {manifest_path}")
                return 2
    ctx = {"progress": Progress(args.progress), "profiles": [] if args.profile else None}
    records = []
    analyses = []
    for entry in manifest:
        aid = entry["analysis"]
        if only is not None and aid not in only:
            continue
        if aid not in WORKLOADS:
            note(f"skip {aid}: {NOT_COVERED.get(aid, 'no Python reference implementation')}")
            continue
        note(f"bench {aid} ({entry['size']} {entry['size_unit']})")
        try:
            arrays = {part: np.load(os.path.join(args.input_dir, fn)) for part, fn in entry.get("files", {}).items()}
            built = WORKLOADS[aid](entry, arrays, args)
        except Skip as s:
            note(f"skip {aid}: {s}")
            continue
        except (OSError, ValueError, KeyError, IndexError) as err:
            note(f"skip {aid}: cannot read its input: {type(err).__name__}: {err}")
            continue
        analyses.append(aid)
        built = built if isinstance(built, list) else [built]
        ctx["done"] = 0
        ctx["total"] = sum(len(impls) for _, impls in built)
        for spec, impls in built:
            try:
                if not impls:
                    note(f"skip {aid}: no implementation available")
                    continue
                rec = make_record(entry, spec, impls, args, ctx)
                if rec["runs"]:
                    records.append(rec)
            finally:
                if spec.get("cleanup"):
                    spec["cleanup"]()
    with open(args.out, "w") as f:
        json.dump(records, f, indent=1)
    note(f"wrote {len(records)} records to {args.out}")
    if args.profile:
        doc = {"analysis": analyses[0] if len(analyses) == 1 else ",".join(analyses), "profiles": ctx["profiles"]}
        with open(args.profile, "w") as f:
            json.dump(jsonable(doc), f)
        note(f"wrote {len(ctx['profiles'])} profiles to {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
