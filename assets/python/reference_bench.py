#!/usr/bin/env python3
"""Python reference timings for astroperf's workloads.

Reads the inputs that ``astroperf bench --export-inputs DIR`` writes (``DIR/manifest.json``
plus one ``.npy`` file per input part), times the fastest Python implementations we know
of for each analysis on exactly those arrays, and writes a JSON array of run records in
astroperf's ``run --json`` schema with ``"tool": "python"``. Load the file with
``astroperf bench --compare FILE`` (Markdown report) or the GUI's "Compare with Python...".

numpy is required (it reads the .npy files); scipy, astropy and numba are optional: an
implementation whose package is missing is skipped with a note on stderr.

Variant names follow astroperf's three: pure Python -> ``naive``, numpy/scipy/astropy (and
serial numba) -> ``vectorized``, numba ``prange`` / multi-threaded -> ``parallel``. The
implementation actually timed is in each run's ``summary.method``.

Timing protocol: ``time.perf_counter``; one warm-up call (its time is ``first_s``: for numba
that includes JIT compilation), then ``--repeat`` timed calls; median, min, max and the
median absolute deviation. When the warm-up alone exceeds ``--budget`` seconds the repeats
are reduced to one (and said so in the summary). Pure-Python loops only run when their
estimated cost is small (``--naive-limit``); otherwise the skip is listed in ``skipped``.

``agree`` / ``agrees`` compare the Python implementations of one record with each other
(the first one is the reference); they say nothing about astroperf's own results. Workloads
without an input file (random draws) are generated with numpy from the same size and
parameters: astroperf's counter-based generator is not reproduced, so the random numbers
differ and only the workload is the same (the record's ``input.source`` says so).
"""

import argparse
import json
import math
import os
import statistics
import sys
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

# Physical constants (SI) as astroperf uses them.
H_PLANCK = 6.62607015e-34
C_LIGHT = 299792458.0
K_BOLTZ = 1.380649e-23
WIEN_NM_K = 2.897771955e6
G_NEWTON = 6.67430e-11
M_SUN = 1.989e30
GM_SUN = G_NEWTON * M_SUN
AU = 1.496e11
AV_PER_COLOR = 0.574
T_SUN_GYR = 10.0


# --------------------------------------------------------------------------- timing


class Impl:
    """One implementation of a workload: a zero-argument callable plus how to read it."""

    def __init__(self, variant, method, fn, summarize=None, check=None, threads=1):
        self.variant = variant
        self.method = method
        self.fn = fn
        self.summarize = summarize or (lambda r: {})
        self.check = check
        self.threads = threads


def robust(times):
    med = statistics.median(times)
    mad = statistics.median([abs(t - med) for t in times])
    return med, mad


def time_impl(impl, repeat, budget):
    t0 = time.perf_counter()
    result = impl.fn()
    first = time.perf_counter() - t0
    n = repeat if first <= budget else 1
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        impl.fn()
        times.append(time.perf_counter() - t0)
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


def make_record(entry, spec, impls, args):
    """Time every implementation and build one run record."""
    size = int(entry["size"])
    unit = entry["size_unit"]
    runs = []
    ref = None
    all_agree = True
    for impl in impls:
        note(f"  {entry['analysis']:<22} {impl.variant:<10} {impl.method} ...")
        try:
            first, times, result, reduced = time_impl(impl, args.repeat, args.budget)
        except Exception as e:  # a failing implementation is reported, not fatal
            note(f"    failed: {type(e).__name__}: {e}")
            spec.setdefault("skipped", []).append(f"{impl.variant} ({impl.method}): failed: {e}")
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
        summary = {"method": impl.method}
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
    rec = {
        "analysis": entry["analysis"],
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
        "runs": runs,
    }
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

    @njit
    def leapfrog(x, y, z, vx, vy, vz, steps, dt):
        def acc(x, y, z):
            rm = math.sqrt(x * x + y * y + z * z)
            k = -GM_SUN / (rm * rm * rm)
            return k * x, k * y, k * z

        def energy(x, y, z, vx, vy, vz):
            return 0.5 * (vx * vx + vy * vy + vz * vz) - GM_SUN / math.sqrt(x * x + y * y + z * z)

        e0 = energy(x, y, z, vx, vy, vz)
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
            de = abs(energy(x, y, z, vx, vy, vz) / e0 - 1.0)
            if de > worst:
                worst = de
        return x, y, worst

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
    """Pure-Python running median with a sorted window (reflect edges)."""
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
        out[i] = window[h] if w % 2 else 0.5 * (window[h - 1] + window[h])
        old = at(i - h)
        new = at(i - h + w)
        del window[bisect.bisect_left(window, old)]
        bisect.insort(window, new)
    return np.array(out)


# --------------------------------------------------------------------------- workloads
# Each builder gets (entry, arrays, args) and returns (spec, [Impl]) or a list of those
# (one record each), or raises Skip.


class Skip(Exception):
    pass


def need(mod, name):
    if mod is None:
        raise Skip(f"needs {name}, which is not installed")


def exported_source(entry, args):
    files = ", ".join(sorted(entry["files"].values()))
    return f"astroperf --export-inputs {args.input_dir} ({files}; seed {entry['seed']})"


def generated_source(entry, what):
    return (
        f"generated in numpy from size {entry['size']} and the same params ({what}); "
        "astroperf's counter-based RNG is not reproduced, so the random numbers differ: "
        "same workload, not the same draws"
    )


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

        impls.append(Impl("naive", "pure Python double loop (math.sqrt)", naive, summ, lambda d: d))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {n * n:.0f} pairs is over --naive-limit")
    if scipy_distance is not None:
        impls.append(Impl("vectorized", "scipy.spatial.distance.pdist", lambda: scipy_distance.pdist(p), summ, lambda d: d))
    else:
        iu = np.triu_indices(n, 1)
        impls.append(
            Impl("vectorized", "numpy broadcast + triu", lambda: np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))[iu], summ, lambda d: d)
        )
    if nb():
        impls.append(Impl("parallel", "numba prange (condensed)", lambda: nb()["pdist2"](p), summ, lambda d: d, nb_threads()))
    return spec, impls


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
        z = None
        if peaks.size:
            obs = wl[peaks][np.argmin(np.abs(wl[peaks] - rest))]
            z = obs / rest - 1.0
        return peaks, z, sigma

    def summ(r):
        peaks, z, sigma = r
        return {"n_lines": int(peaks.size), "redshift": z, "sigma": sigma, "threshold": k * sigma}

    def check(r):
        return r[0]

    impls = []
    if flux.size * w <= 50 * args.naive_limit:
        impls.append(Impl("naive", "pure Python sorted-window running median (bisect) + scipy find_peaks", lambda: finish(running_median_python(flux, w)), summ, check))
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


def w_ccd(e, a, args):
    need(scipy_ndimage, "scipy")
    pr = e["params"]
    if pr.get("detect", "threshold") != "threshold":
        raise Skip(f"detect={pr.get('detect')} (SExtractor-like background mode) has no Python reference here")
    img = np.ascontiguousarray(a["frame"])
    k = float(pr["k"])
    eight = int(pr.get("connectivity", 4)) == 8
    spec = {"source": exported_source(e, args), "shape": img.shape}

    def summ(r):
        _, _, rows, mean, std, thr, npix = r
        return {"n_sources": rows.shape[0], "threshold": thr, "mean": mean, "std": std, "n_pixels_above": npix}

    def check(r):
        return (r[0], r[1], r[2])

    impls = [
        Impl(
            "vectorized",
            "scipy.ndimage median_filter 3x3 + mean/std + label + find_objects moments",
            lambda: ccd_threshold(img, k, eight, median3_scipy),
            summ,
            check,
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
    t, y = a["time"], a["value"]
    dy = a.get("error") if pr.get("weights", True) else None
    freq = ls_grid(t, pr)
    shape = [t.size]
    src = exported_source(e, args)
    grid = {"fmin": freq[0], "fmax": freq[-1], "n_frequencies": freq.size}

    def run(m):
        def f():
            ls = astropy_ts.LombScargle(t, y, dy, fit_mean=True, center_data=True, normalization="standard")
            return ls.power(freq, method=m)

        return f

    def summ(p):
        i = int(np.argmax(p))
        return dict(grid, best_frequency=freq[i], best_period=1.0 / freq[i], peak_power=p[i])

    exact = ({"source": src, "shape": shape, "params": dict(pr, method="lomb-scargle", **grid), "tolerance": (1e-6, 1e-9)},
             [Impl("vectorized", "astropy LombScargle method=cython (exact)", run("cython"), summ, lambda p: p)])
    fast = ({"source": src, "shape": shape, "params": dict(pr, method="lomb-scargle-fast", **grid)},
            [Impl("vectorized", "astropy LombScargle method=fast (approximate, Press-Rybicki)", run("fast"), summ, None)])
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
            sep = np.degrees(2.0 * np.arcsin(d[ok] / 2.0)) * 3600.0
            return np.nonzero(ok)[0], j[ok], sep

        return f

    def summ(r):
        i, _, sep = r
        return {
            "n_matches": i.size,
            "match_fraction": i.size / c1.shape[0],
            "median_sep_arcsec": float(np.median(sep)) if sep.size else None,
            "max_sep_arcsec": float(sep.max()) if sep.size else None,
        }

    check = lambda r: (r[0], r[1])  # noqa: E731
    return spec, [
        Impl("vectorized", "scipy cKDTree on unit vectors (build + query, workers=1)", match(1), summ, check),
        Impl("parallel", "scipy cKDTree on unit vectors (build + query, workers=-1)", match(-1), summ, check, os.cpu_count() or 1),
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

        impls.append(Impl("naive", "pure Python haversine pair loop", naive, summ, lambda d: d))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {n * n} pairs is over --naive-limit")
    impls.insert(0, Impl("vectorized", "numpy broadcast haversine (full NxN)", lambda: haversine_numpy(ra, dec), summ, lambda d: d))
    if nb():
        impls.append(Impl("parallel", "numba prange haversine (half-angle terms precomputed, upper triangle mirrored)", lambda: nb()["haversine"](ra, dec), summ, lambda d: d, nb_threads()))
    return spec, impls


def w_extinction(e, a, args):
    c = a["catalog"]
    mag, color = np.ascontiguousarray(c[:, 2]), np.ascontiguousarray(c[:, 3])
    rv = float(e["params"]["r_v"])
    spec = {"source": exported_source(e, args), "shape": [mag.size]}

    def summ(out):
        return {"stars": out.size, "corrected_stars": int((color >= 0).sum()), "mean_extinction_mag": float((mag - out).mean()), "r_v": rv}

    impls = [Impl("vectorized", "numpy where(colour < 0, mag, mag - R_V*0.574*colour)", lambda: np.where(color < 0.0, mag, mag - rv * AV_PER_COLOR * color), summ, lambda o: o)]
    if mag.size <= args.naive_limit:

        def naive():
            out = []
            for m, col in zip(mag.tolist(), color.tolist()):
                out.append(m if col < 0.0 else m - rv * AV_PER_COLOR * col)
            return np.array(out)

        impls.append(Impl("naive", "pure Python loop into a list", naive, summ, lambda o: o))
    if nb():
        impls.append(Impl("parallel", "numba prange", lambda: nb()["extinction"](mag, color, rv), summ, lambda o: o, nb_threads()))
    return spec, impls


def w_mc_pi(e, a, args):
    n = int(e["size"])
    seed = int(e["params"].get("seed", e.get("seed", 1)))
    spec = {"source": generated_source(e, "uniform x, y in [0, 1)"), "shape": [n]}

    def summ(inside):
        pi = 4.0 * inside / n
        return {"samples": n, "inside": int(inside), "pi_estimate": pi, "error": pi - math.pi}

    def numpy_pi():
        rng = np.random.default_rng(seed)
        inside = 0
        for lo in range(0, n, 1 << 20):
            m = min(1 << 20, n - lo)
            x = rng.random(m)
            y = rng.random(m)
            inside += int(np.count_nonzero(x * x + y * y <= 1.0))
        return inside

    impls = [Impl("vectorized", "numpy default_rng, 2^20-sample chunks", numpy_pi, summ)]
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

        impls.append(Impl("naive", "pure Python random.random loop", naive, summ))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {n} samples is over --naive-limit")
    if nb():
        impls.append(Impl("parallel", "numba prange over 64 blocks (np.random per thread)", lambda: nb()["mc_pi"](n, 64), summ, None, nb_threads()))
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

    impls = [Impl("vectorized", "scipy.signal.find_peaks per spectrum (height=mean+k*std)", scipy_counts, summ, lambda c: c)]
    if nb():
        impls.append(Impl("parallel", "numba prange over spectra (find_peaks rules)", lambda: nb()["peak_counts"](flux, k), summ, lambda c: c, nb_threads()))
    return spec, impls


def w_magsum(e, a, args):
    t = a["table"]
    m1, m2 = np.ascontiguousarray(t[:, 0]), np.ascontiguousarray(t[:, 1])
    spec = {"source": exported_source(e, args), "shape": list(t.shape)}

    def summ(m):
        return {"n_pairs": m.size, "brightest": m.min(), "faintest": m.max(), "mean_gain_over_brighter_mag": float((np.minimum(m1, m2) - m).mean())}

    impls = [Impl("vectorized", "numpy -2.5*log10(10**(-0.4*m1) + 10**(-0.4*m2))", lambda: -2.5 * np.log10(10.0 ** (-0.4 * m1) + 10.0 ** (-0.4 * m2)), summ, lambda m: m)]
    if m1.size <= args.naive_limit:
        impls.append(
            Impl(
                "naive",
                "pure Python math per pair",
                lambda: np.array([-2.5 * math.log10(10.0 ** (-0.4 * x) + 10.0 ** (-0.4 * y)) for x, y in zip(m1.tolist(), m2.tolist())]),
                summ,
                lambda m: m,
            )
        )
    if nb():
        impls.append(Impl("parallel", "numba prange", lambda: nb()["magsum"](m1, m2), summ, lambda m: m, nb_threads()))
    return spec, impls


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
        return {"temperature_k": t, "n_wavelengths": wl.size, "peak_nm_grid": wl[i], "wien_peak_nm": WIEN_NM_K / t, "peak_radiance_w_m3_sr": b[i]}

    impls = [Impl("vectorized", "numpy expm1", numpy_planck, summ, lambda b: b)]
    if wl.size <= args.naive_limit:
        impls.append(
            Impl(
                "naive",
                "pure Python math.expm1 per wavelength",
                lambda: np.array([scale * c1 / (w * 1e-9) ** 5 / math.expm1(c2 / (w * 1e-9 * t)) for w in wl.tolist()]),
                summ,
                lambda b: b,
            )
        )
    if nb():
        impls.append(Impl("parallel", "numba prange", lambda: nb()["planck"](wl, t, scale), summ, lambda b: b, nb_threads()))
    spec["tolerance"] = (1e-12, 0.0)
    return spec, impls


def w_streaming(e, a, args):
    n = int(e["size"])
    seed = int(e.get("seed", 1))
    chunk = max(1, int(e["params"].get("chunk", 1000)))
    spec = {"source": generated_source(e, f"chunks of {chunk} normal values, mean 50, std 10, drawn during the run"), "shape": [n]}

    def chunks():
        rng = np.random.default_rng(seed)
        for lo in range(0, n, chunk):
            yield rng.normal(50.0, 10.0, min(chunk, n - lo))

    def numpy_stream():
        cnt, mean, m2, lo, hi = 0, 0.0, 0.0, math.inf, -math.inf
        for x in chunks():
            nb_ = x.size
            mb = float(x.mean())
            m2b = float(((x - mb) ** 2).sum())
            tot = cnt + nb_
            d = mb - mean
            mean += d * nb_ / tot
            m2 += m2b + d * d * cnt * nb_ / tot
            cnt = tot
            lo = min(lo, float(x.min()))
            hi = max(hi, float(x.max()))
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
        return {"count": r[0], "mean": r[1], "std": r[2], "min": r[3], "max": r[4], "chunks": -(-n // chunk), "chunk_bytes": chunk * 8}

    impls = [Impl("vectorized", "numpy per-chunk moments merged by Chan et al.", numpy_stream, summ, lambda r: r)]
    if n <= args.naive_limit:
        impls.append(Impl("naive", "pure Python Welford update per value", welford, summ, lambda r: r))
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
    spec = {"source": generated_source(e, f"{stars} Salpeter-IMF stars per realization by inverse CDF"), "shape": [nreal, stars]}

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
        return {
            "realizations": nreal,
            "stars_per_realization": stars,
            "mean_mass": float(res[:, 0].mean()),
            "mean_n_gt8": float(res[:, 1].mean()),
            "mean_n_alive": float(res[:, 2].mean()),
            "turnoff_mass": min(mdead, m_max),
            "mean_luminosity_lsun": float(res[:, 3].mean()),
        }

    impls = [Impl("vectorized", "numpy per realization (inverse CDF, mass cut, m^3*sqrt(m))", numpy_pop, summ)]
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

        impls.append(Impl("naive", "pure Python star by star (three powers)", naive, summ))
    else:
        spec.setdefault("skipped", []).append(f"naive: pure Python over {nreal * stars} stars is over --naive-limit")
    if nb():
        impls.append(Impl("parallel", "numba prange over realizations", lambda: nb()["popsyn"](nreal, stars, lo, span, inv, mdead), summ, None, nb_threads()))
    return spec, impls


def w_spectrum_stack(e, a, args):
    flux = np.ascontiguousarray(a["flux"])
    k = float(e["params"]["k"])
    mode = e["params"].get("mode", "memory")
    spec = {"source": exported_source(e, args) + ("" if mode == "memory" else f"; held in memory (astroperf mode={mode})"), "shape": flux.shape}

    def numpy_stack():
        med = np.median(flux, axis=0)
        resid = flux - med
        var = resid.var(axis=1)
        dev = np.median(np.abs(resid), axis=1)
        w = np.where(dev > k, 0.0, 1.0 / var)
        coadd = (w @ flux) / w.sum()
        return med, np.nonzero(dev > k)[0], coadd

    def summ(r):
        return {"n_spectra": flux.shape[0], "n_pixels": flux.shape[1], "n_outliers": r[1].size, "outliers_first": r[1][:20]}

    return spec, [Impl("vectorized", "numpy median(axis=0), MAD per spectrum, weighted coadd (w @ flux)", numpy_stack, summ, lambda r: r)]


def w_phase_fold(e, a, args):
    t, y = a["time"], a["value"]
    pr = e["params"]
    period, epoch, bins = float(pr["period"]), float(pr["epoch"]), int(pr["bins"])
    spec = {"source": exported_source(e, args), "shape": [t.size]}

    def numpy_fold():
        phase = np.mod(t - epoch, period) / period
        order = np.argsort(phase, kind="stable")
        b = np.minimum((phase * bins).astype(np.int64), bins - 1)
        cnt = np.bincount(b, minlength=bins)
        s = np.bincount(b, weights=y, minlength=bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = s / cnt
        return order, phase[order], y[order], means

    def naive_fold():
        ph = [((ti - epoch) % period) / period for ti in t.tolist()]
        order = sorted(range(len(ph)), key=lambda i: ph[i])
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
        return {"n_points": t.size, "period": period, "epoch": epoch, "bins": bins}

    check = lambda r: (r[0], r[3])  # noqa: E731
    impls = [Impl("vectorized", "numpy mod + argsort(kind=stable) + bincount bin means", numpy_fold, summ, check)]
    if t.size <= args.naive_limit:
        impls.append(Impl("naive", "pure Python sorted(range(n), key=phase)", naive_fold, summ, check))
    return spec, impls


def w_banded_median(e, a, args):
    need(scipy_ndimage, "scipy")
    img = np.ascontiguousarray(a["frame"])
    spec = {"source": exported_source(e, args), "shape": img.shape}

    def summ(out):
        return {"rows": img.shape[0], "cols": img.shape[1], "frame_bytes": img.nbytes, "out_of_place_bytes": 2 * img.nbytes, "mean_filtered": float(out.mean())}

    impls = [Impl("vectorized", "scipy.ndimage.median_filter size=3 mode=reflect (out of place)", lambda: median3_scipy(img), summ, lambda o: o)]
    if nb():
        impls.append(Impl("parallel", "numba prange 3x3 median (out of place)", lambda: nb()["median3"](img), summ, lambda o: o, nb_threads()))
    return spec, impls


def masters(rows, cols, seed=12345):
    g = np.random.default_rng(seed)
    dark = 10.0 + 2.0 * g.standard_normal((rows, cols))
    rc, cc = (rows - 1) / 2.0, (cols - 1) / 2.0
    norm = max(rc * rc + cc * cc, 1.0)
    r2 = ((np.arange(rows)[:, None] - rc) ** 2 + (np.arange(cols)[None, :] - cc) ** 2) / norm
    flat = (1.0 - 0.05 * r2) * (1.0 + 0.01 * g.standard_normal((rows, cols)))
    return dark, flat


def w_observation_batch(e, a, args):
    need(scipy_ndimage, "scipy")
    frames = a["frames"]
    k = float(e["params"]["k"])
    calibrate = bool(e["params"].get("calibrate", True))
    nf, rows, cols = frames.shape
    src = exported_source(e, args)
    if calibrate:
        src += "; master dark/flat regenerated in numpy from astroperf's model (different pixel noise)"
    spec = {"source": src, "shape": frames.shape}

    def one(f, dark, flat):
        cal = (f - dark) / flat if calibrate else f
        thr = cal.mean() + k * cal.std()
        _, rows_ = label_moments(cal, cal > thr)
        return rows_

    def serial():
        dark, flat = masters(rows, cols) if calibrate else (None, None)
        return [one(f, dark, flat) for f in frames]

    def threaded(pool):
        def f():
            dark, flat = masters(rows, cols) if calibrate else (None, None)
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
        Impl("vectorized", "numpy calibrate + threshold, scipy label + find_objects, frame by frame", serial, summ, check),
        Impl("parallel", f"the same over a ThreadPoolExecutor({nt}) (numpy/scipy release the GIL)", threaded(pool), summ, check, nt),
    ]


def w_orbit(e, a, args):
    row = a["table"][0]
    x, y, z, vx, vy, vz = (float(v) for v in row[:6])
    steps = int(row[6]) if row.size > 6 else int(e["size"])
    dt = float(e["params"]["dt"])
    orbits = int(e["params"].get("orbits", 1))
    spec = {"source": exported_source(e, args), "shape": [steps]}
    if orbits != 1:
        spec.setdefault("skipped", []).append(f"orbits={orbits}: only the first orbit is integrated here")

    def python_leapfrog():
        def acc(x, y, z):
            rm = math.sqrt(x * x + y * y + z * z)
            k = -GM_SUN / (rm * rm * rm)
            return k * x, k * y, k * z

        def energy(x, y, z, vx, vy, vz):
            return 0.5 * (vx * vx + vy * vy + vz * vz) - GM_SUN / math.sqrt(x * x + y * y + z * z)

        px, py, pz, ux, uy, uz = x, y, z, vx, vy, vz
        e0 = energy(px, py, pz, ux, uy, uz)
        ax, ay, az = acc(px, py, pz)
        worst = 0.0
        for _ in range(steps - 1):  # `steps` states, as astroperf counts them
            ux += 0.5 * dt * ax
            uy += 0.5 * dt * ay
            uz += 0.5 * dt * az
            px += dt * ux
            py += dt * uy
            pz += dt * uz
            ax, ay, az = acc(px, py, pz)
            ux += 0.5 * dt * ax
            uy += 0.5 * dt * ay
            uz += 0.5 * dt * az
            de = abs(energy(px, py, pz, ux, uy, uz) / e0 - 1.0)
            worst = de if de > worst else worst
        return px, py, worst

    def summ(r):
        return {"steps": steps, "orbits": 1, "dt_s": dt, "days": steps * dt / 86400.0, "max_rel_energy_error": r[2], "final_x_au": r[0] / AU, "final_y_au": r[1] / AU}

    check = lambda r: r  # noqa: E731
    impls = [Impl("naive", "pure Python kick-drift-kick loop", python_leapfrog, summ, check)]
    if nb():
        impls.append(Impl("vectorized", "numba njit kick-drift-kick (serial: a recurrence)", lambda: nb()["leapfrog"](x, y, z, vx, vy, vz, steps, dt), summ, check))
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
}

NOT_COVERED = {
    "catalog-chunks": "reads a memory-mapped catalog that --export-inputs does not write",
    "memory-layout": "a dtype/layout demonstration, not a kernel with a Python counterpart",
}


# --------------------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input_dir", help="directory written by `astroperf bench --export-inputs DIR`")
    ap.add_argument("--out", required=True, help="JSON file of run records to write")
    ap.add_argument("--repeat", type=int, default=5, help="timed repeats after the warm-up (default 5)")
    ap.add_argument("--only", help="comma-separated analysis ids")
    ap.add_argument("--budget", type=float, default=30.0, help="warm-up seconds above which only one repeat is timed (default 30)")
    ap.add_argument("--naive-limit", type=float, default=4e6, help="largest element/pair count pure-Python loops are run on (default 4e6)")
    args = ap.parse_args(argv)
    if np is None:
        note("reference_bench: numpy is required (pip install numpy scipy numba astropy)")
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
    records = []
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
        except (OSError, ValueError, KeyError) as err:
            note(f"skip {aid}: cannot read its input: {err}")
            continue
        for spec, impls in built if isinstance(built, list) else [built]:
            if not impls:
                note(f"skip {aid}: no implementation available")
                continue
            rec = make_record(entry, spec, impls, args)
            if rec["runs"]:
                records.append(rec)
    with open(args.out, "w") as f:
        json.dump(records, f, indent=1)
    note(f"wrote {len(records)} records to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
