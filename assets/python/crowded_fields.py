#!/usr/bin/env python3
"""Crowded-field test set for source extraction (issue #16, step 1).

Writes into ``tests/data/crowded/`` (or ``--out DIR``):

Generated 512x512 float32 frames (deterministic: fixed numpy seeds), each with a truth
list ``<frame>.truth.csv`` (x, y 0-based pixel coordinates, the centre of pixel (0, 0)
being (0, 0); flux in ADU; kind; saturated):

* ``gen_cluster``  - a star cluster with a dense core (Plummer profile, scale radius
  18 px, 1,700 stars drawn, those falling off the frame dropped) on 905 field stars;
* ``gen_sparse``   - 453 field stars;
* ``gen_galaxies`` - 28 extended galaxies (exponential discs, de Vaucouleurs spheroids,
  and 4 large discs with a bulge and 8-20 compact H II-region-like knots along two
  spiral arms), plus 222 stars.

All use a Moffat PSF (beta 2.8, FWHM 3.0 px), integrated over each pixel by 4x4
sub-sampling, a power-law luminosity function N(>F) ~ F^-0.75 (dN/dm ~ 10^(0.3 m)) from 300 ADU
(below the detection limit) to 2-3e6 ADU, plus 2-5 bright stars per frame (1e6-5e6 ADU),
a flat sky, Poisson noise (gain 1 e-/ADU) plus 5 ADU Gaussian read noise, and
saturation: pixels are clipped at SATURATE = 60000 ADU (keyword in the header), so the
brightest few stars have flat cores.

Real frames (copied from the test data that astronomy packages ship, see CREDITS.md):

* ``iraf_m51_B``   - IRAF's ``dev$pix`` (M51, B, 600 s, KPNO 1987), 512x512 int16, from
  Debian's ``iraf`` package (``/usr/lib/iraf/dev/pix.pix``, an IRAF OIF image: big-endian
  int16 after a 2048-byte header), header cards from ``dev/pix.imh``.
* ``saao_rf0420``  - the SAAO 1.0 m STE3 frame ``ccdproc/tests/data/a8280271.fits`` of
  the ccdproc 2.5.1 sdist, trimmed to its TRIMSEC [17:528,1:520] (the overscan
  columns removed): 512x520 uint16.

Both are fetched with the registries' ordinary clients (``apt-get download iraf``,
``pip download --no-deps --no-binary :all: ccdproc==2.5.1``) unless given with
``--iraf-deb`` / ``--ccdproc-sdist``. The sep 1.4.1 sdist's ``data/image.fits`` is the
frame already in ``tests/data/real`` (eso_ntt_emmi_R.fits) and is not repeated.

Reference catalogs, beside each frame, with SExtractor's ``default.sex`` settings
(DETECT_THRESH 1.5 x global RMS, DETECT_MINAREA 5, FILTER Y with the 3x3 default.conv
pyramid, BACK_SIZE 64, BACK_FILTERSIZE 3, DEBLEND_NTHRESH 32, DEBLEND_MINCONT 0.005,
CLEAN Y, CLEAN_PARAM 1.0, PHOT_AUTOPARAMS 2.5, 3.5, SATUR_LEVEL from SATURATE or 50000):

* ``<frame>.sex.csv`` - ``source-extractor`` (Debian package, 2.25.0), configuration in
  ``sextractor/`` (MEMORY_OBJSTACK/PIXSTACK raised so that crowded frames do not
  overflow; otherwise the package's default.sex);
* ``<frame>.sep.csv`` - sep (PyPI, 1.4.1): ``sep.Background(bw=bh=64, fw=fh=3)``,
  ``sep.extract(data - bkg, 1.5, err=bkg.globalrms, minarea=5, filter_kernel=pyramid,
  filter_type='conv', deblend_nthresh=32, deblend_cont=0.005, clean=True,
  clean_param=1.0, segmentation_map=True)``, FLUX_AUTO as SExtractor does it:
  ``kron_radius(..., 6.0)`` (r1), Kron factor max(2.5 r1, 3.5),
  ``sum_ellipse(..., subpix=1)`` (whole pixels by centre, as SExtractor's AUTO
  aperture), both with ``seg_id``/``segmap`` so that other objects' pixels are masked:
  sep's nearest thing to SExtractor's MASK_TYPE CORRECT (which mirrors them instead;
  sep scales the sum by total/unmasked area). ``flux_auto_nomask`` is without masking.

CSV columns (both): ``x,y`` (0-based barycentre: SExtractor's X_IMAGE - 1),
``flux_auto,flux_iso,npix,flags`` (SExtractor's FLAGS convention: 1 crowded, 2 blended,
4 saturated, 8 truncated at the edge, 16 aperture incomplete; sep's own flags are
converted: OBJ_MERGED -> 2, OBJ_TRUNC -> 8, APER_TRUNC -> 16, and kept raw in
``sep_flag``), then ``kron_radius`` (the Kron factor, in units of a and b),
``a,b,theta`` (theta in degrees) and, for sep, ``flux_auto_nomask``. ``npix`` is ISOAREA_IMAGE for SExtractor
and sep's ``npix``.

Usage::

    python3 assets/python/crowded_fields.py                # everything
    python3 assets/python/crowded_fields.py --refs-only    # catalogs of existing frames
    python3 assets/python/crowded_fields.py --no-real      # generated frames only

Needs numpy, scipy, astropy, sep and ``source-extractor`` on PATH.
"""
from __future__ import annotations

import argparse
import csv
import glob
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
from astropy.io import fits

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(REPO, "tests", "data", "crowded")

SIZE = 512
BETA = 2.8
FWHM = 3.0
ALPHA = FWHM / (2.0 * np.sqrt(2.0 ** (1.0 / BETA) - 1.0))
SATURATE = 60000.0
GAIN = 1.0
READ_NOISE = 5.0
SUB = 4  # sub-pixel samples per axis

# SExtractor's default.conv
PYRAMID = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32)


# ----------------------------------------------------------------------------- PSF

def pixel_integrated(x, y, r, shape, profile):
    """A radial profile, given as a function of r² (pixels²), averaged over SUB×SUB
    sub-pixels in the box of half-size r about (x, y) (0-based), cut to the frame.

    Returns (stamp, y0, x0): the stamp's lower-left pixel in the frame; (None, 0, 0) when
    the box lies outside."""
    x0, x1 = max(int(np.floor(x)) - r, 0), min(int(np.floor(x)) + r + 1, shape[1])
    y0, y1 = max(int(np.floor(y)) - r, 0), min(int(np.floor(y)) + r + 1, shape[0])
    if x0 >= x1 or y0 >= y1:
        return None, 0, 0
    off = (np.arange(SUB) + 0.5) / SUB - 0.5
    xs = (np.arange(x0, x1)[:, None] + off[None, :]).ravel() - x
    ys = (np.arange(y0, y1)[:, None] + off[None, :]).ravel() - y
    prof = profile(ys[:, None] ** 2 + xs[None, :] ** 2)
    return prof.reshape(y1 - y0, SUB, x1 - x0, SUB).mean(axis=(1, 3)), y0, x0


def moffat_stamp(x, y, flux, shape):
    """Add a pixel-integrated Moffat star at (x, y) (0-based) into a new stamp.

    Returns (stamp, y0, x0): the stamp's lower-left pixel in the frame."""
    # radius where the profile falls below 0.05 ADU, between 6 and 60 px
    peak = flux * (BETA - 1.0) / (np.pi * ALPHA ** 2)
    r = ALPHA * np.sqrt(max((peak / 0.05) ** (1.0 / BETA) - 1.0, 0.0))
    r = int(np.clip(np.ceil(r), 6, 60))
    prof, y0, x0 = pixel_integrated(
        x, y, r, shape, lambda r2: (BETA - 1.0) / (np.pi * ALPHA ** 2) * (1.0 + r2 / ALPHA ** 2) ** (-BETA)
    )
    return (None if prof is None else flux * prof), y0, x0


def psf_kernel(half=20):
    """The same Moffat, pixel-integrated and centred, for convolving extended sources."""
    st, _, _ = moffat_stamp(half, half, 1.0, (2 * half + 1, 2 * half + 1))
    return st / st.sum()


def add_stars(img, xs, ys, fluxes):
    for x, y, f in zip(xs, ys, fluxes):
        st, y0, x0 = moffat_stamp(x, y, f, img.shape)
        if st is not None:
            img[y0:y0 + st.shape[0], x0:x0 + st.shape[1]] += st


def power_law_fluxes(rng, n, fmin, fmax, gamma=0.75):
    """n fluxes with N(>F) ~ F^-gamma between fmin and fmax (truncated Pareto)."""
    u = rng.random(n)
    a, b = fmin ** -gamma, fmax ** -gamma
    return (a - u * (a - b)) ** (-1.0 / gamma)


def bright_fluxes(rng, n):
    """n extra bright stars, log-uniform in 1e6-5e6 ADU: their cores saturate."""
    return 10 ** rng.uniform(6.0, np.log10(5.0e6), n)


def observe(rng, signal, sky):
    """Sky + Poisson (gain 1) + read noise, clipped at SATURATE: float32 frame."""
    electrons = rng.poisson(np.clip((signal + sky) * GAIN, 0, None)).astype(np.float64)
    img = electrons / GAIN + rng.normal(0.0, READ_NOISE, signal.shape)
    return np.minimum(img, SATURATE).astype(np.float32)


def peak_saturated(signal, sky, xs, ys):
    h, w = signal.shape
    out = []
    for x, y in zip(xs, ys):
        i, j = int(round(y)), int(round(x))
        out.append(0 <= i < h and 0 <= j < w and signal[i, j] + sky >= SATURATE)
    return out


# ------------------------------------------------------------------- generated frames

def gen_cluster():
    rng = np.random.default_rng(16001)
    n_core, n_field = 1700, 900
    # Plummer surface density: R = a / sqrt(u^(-2/3) - 1) in 3-D; projected radius
    a = 18.0
    u = rng.random(n_core) * 0.995
    r3 = a / np.sqrt(u ** (-2.0 / 3.0) - 1.0)
    cos_t = rng.uniform(-1, 1, n_core)
    phi = rng.uniform(0, 2 * np.pi, n_core)
    sin_t = np.sqrt(1 - cos_t ** 2)
    cx, cy = 262.3, 247.8
    xs_c = cx + r3 * sin_t * np.cos(phi)
    ys_c = cy + r3 * sin_t * np.sin(phi)
    keep = (xs_c > -5) & (xs_c < SIZE + 5) & (ys_c > -5) & (ys_c < SIZE + 5)
    xs_c, ys_c = xs_c[keep], ys_c[keep]
    xs_f = rng.uniform(-3, SIZE + 3, n_field)
    ys_f = rng.uniform(-3, SIZE + 3, n_field)
    n_b = 5
    xs_b = rng.uniform(20, SIZE - 20, n_b)
    ys_b = rng.uniform(20, SIZE - 20, n_b)
    xs = np.concatenate([xs_c, xs_f, xs_b])
    ys = np.concatenate([ys_c, ys_f, ys_b])
    fl = np.concatenate([power_law_fluxes(rng, xs_c.size + n_field, 300.0, 3.0e6),
                         bright_fluxes(rng, n_b)])
    kinds = ["cluster"] * xs_c.size + ["field"] * (n_field + n_b)
    sig = np.zeros((SIZE, SIZE))
    add_stars(sig, xs, ys, fl)
    sky = 1000.0
    img = observe(rng, sig, sky)
    sat = peak_saturated(sig, sky, xs, ys)
    truth = [dict(x=x, y=y, flux=f, kind=k, saturated=int(s))
             for x, y, f, k, s in zip(xs, ys, fl, kinds, sat)]
    return img, truth, sky, "generated star cluster: Plummer core a=18 px + field stars"


def gen_sparse():
    rng = np.random.default_rng(16002)
    n, n_b = 450, 3
    xs = rng.uniform(-3, SIZE + 3, n + n_b)
    ys = rng.uniform(-3, SIZE + 3, n + n_b)
    fl = np.concatenate([power_law_fluxes(rng, n, 300.0, 2.0e6), bright_fluxes(rng, n_b)])
    sig = np.zeros((SIZE, SIZE))
    add_stars(sig, xs, ys, fl)
    sky = 600.0
    img = observe(rng, sig, sky)
    sat = peak_saturated(sig, sky, xs, ys)
    truth = [dict(x=x, y=y, flux=f, kind="field", saturated=int(s))
             for x, y, f, s in zip(xs, ys, fl, sat)]
    return img, truth, sky, "generated sparse star field"


def sersic_stamp(n, re, q, pa, flux, x, y, shape, over=3):
    """A Sersic profile (index n, effective radius re along the major axis, axis ratio q,
    position angle pa from +x) rendered with over x over sub-sampling; normalised to
    flux over its stamp (radius min(8 re, 150) px)."""
    bn = 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)
    r = int(min(max(8.0 * re, 10.0), 150.0))
    x0, x1 = int(np.floor(x)) - r, int(np.floor(x)) + r + 1
    y0, y1 = int(np.floor(y)) - r, int(np.floor(y)) + r + 1
    off = (np.arange(over) + 0.5) / over - 0.5
    xs = (np.arange(x0, x1)[:, None] + off[None, :]).ravel() - x
    ys = (np.arange(y0, y1)[:, None] + off[None, :]).ravel() - y
    X, Y = np.meshgrid(xs, ys)
    c, s = np.cos(pa), np.sin(pa)
    xp = X * c + Y * s
    yp = -X * s + Y * c
    rr = np.sqrt(xp ** 2 + (yp / q) ** 2)
    prof = np.exp(-bn * ((rr / re) ** (1.0 / n) - 1.0))
    prof = prof.reshape(y1 - y0, over, x1 - x0, over).mean(axis=(1, 3))
    prof *= flux / prof.sum()
    # clip to the frame
    cy0, cy1 = max(y0, 0), min(y1, shape[0])
    cx0, cx1 = max(x0, 0), min(x1, shape[1])
    if cy0 >= cy1 or cx0 >= cx1:
        return None, 0, 0
    return prof[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0], cy0, cx0


def gen_galaxies():
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(16003)
    ext = np.zeros((SIZE, SIZE))
    truth = []

    def put(st, y0, x0):
        if st is not None:
            ext[y0:y0 + st.shape[0], x0:x0 + st.shape[1]] += st

    def gal(n, re, q, pa, flux, x, y, kind):
        st, y0, x0 = sersic_stamp(n, re, q, pa, flux, x, y, ext.shape)
        put(st, y0, x0)
        inside = 0.0 if st is None else float(st.sum())
        truth.append(dict(x=x, y=y, flux=inside, kind=kind, saturated=0))

    # large discs with a bulge and knots (H II regions along two arms)
    big = [(130.0, 380.0), (370.0, 140.0), (400.0, 400.0), (120.0, 120.0)]
    for gx, gy in big:
        gx += rng.uniform(-10, 10)
        gy += rng.uniform(-10, 10)
        re = rng.uniform(18, 32)
        q = rng.uniform(0.55, 0.95)
        pa = rng.uniform(0, np.pi)
        fdisc = 10 ** rng.uniform(5.6, 6.2)
        gal(1.0, re, q, pa, fdisc, gx, gy, "disc")
        gal(4.0, re * 0.12, q, pa, fdisc * rng.uniform(0.1, 0.3), gx, gy, "bulge")
        nk = int(rng.integers(8, 21))
        c, s = np.cos(pa), np.sin(pa)
        for k in range(nk):
            arm = k % 2
            t = rng.uniform(0.2, 2.2)  # radians along a log spiral
            rad = re * 0.5 * np.exp(0.6 * t) + rng.normal(0, 1.5)  # 0.56-1.9 re
            ang = t + np.pi * arm + rng.normal(0, 0.15)
            xd, yd = rad * np.cos(ang), rad * np.sin(ang) * q
            kx = gx + xd * c - yd * s
            ky = gy + xd * s + yd * c
            kf = fdisc * rng.uniform(0.003, 0.02)
            sig = rng.uniform(0.6, 1.4)
            st, y0, x0 = gauss_stamp(kx, ky, kf, sig, ext.shape)
            put(st, y0, x0)
            truth.append(dict(x=kx, y=ky, flux=kf, kind="knot", saturated=0))
    # smaller discs and spheroids
    for _ in range(20):
        x, y = rng.uniform(25, SIZE - 25, 2)
        gal(1.0, rng.uniform(3, 12), rng.uniform(0.25, 1.0), rng.uniform(0, np.pi),
            10 ** rng.uniform(4.0, 5.8), x, y, "disc")
    for _ in range(8):
        x, y = rng.uniform(25, SIZE - 25, 2)
        gal(4.0, rng.uniform(2, 8), rng.uniform(0.5, 1.0), rng.uniform(0, np.pi),
            10 ** rng.uniform(4.2, 6.0), x, y, "spheroid")
    sig = fftconvolve(ext, psf_kernel(), mode="same")
    n, n_b = 220, 2
    xs = rng.uniform(-3, SIZE + 3, n + n_b)
    ys = rng.uniform(-3, SIZE + 3, n + n_b)
    fl = np.concatenate([power_law_fluxes(rng, n, 300.0, 2.0e6), bright_fluxes(rng, n_b)])
    add_stars(sig, xs, ys, fl)
    sky = 800.0
    img = observe(rng, sig, sky)
    sat = peak_saturated(sig, sky, xs, ys)
    truth += [dict(x=x, y=y, flux=f, kind="star", saturated=int(s))
              for x, y, f, s in zip(xs, ys, fl, sat)]
    return img, truth, sky, "generated galaxies (discs with knots, spheroids) and stars"


def gauss_stamp(x, y, flux, sigma, shape):
    r = int(np.ceil(5 * sigma)) + 1
    g, y0, x0 = pixel_integrated(x, y, r, shape, lambda r2: np.exp(-0.5 * r2 / sigma ** 2))
    return (None if g is None else flux * g / (2 * np.pi * sigma ** 2)), y0, x0


def write_generated(out):
    for name, fn in [("gen_cluster", gen_cluster), ("gen_sparse", gen_sparse),
                     ("gen_galaxies", gen_galaxies)]:
        img, truth, sky, what = fn()
        h = fits.Header()
        h["OBJECT"] = name
        h["SATURATE"] = (SATURATE, "pixels clipped at this level (ADU)")
        h["GAIN"] = (GAIN, "e-/ADU")
        h["RDNOISE"] = (READ_NOISE, "read noise (ADU)")
        h["SKYLEVEL"] = (sky, "flat sky (ADU)")
        h["PSF"] = ("Moffat", "pixel-integrated")
        h["PSFBETA"] = BETA
        h["PSFFWHM"] = (FWHM, "px")
        h["NTRUTH"] = (len(truth), "entries in the truth CSV")
        h["COMMENT"] = what
        h["COMMENT"] = "made by assets/python/crowded_fields.py (astroperf)"
        fits.PrimaryHDU(img, h).writeto(os.path.join(out, name + ".fits"),
                                        overwrite=True)
        with open(os.path.join(out, name + ".truth.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["x", "y", "flux", "kind", "saturated"])
            for t in truth:
                w.writerow([f"{t['x']:.3f}", f"{t['y']:.3f}", f"{t['flux']:.1f}",
                            t["kind"], t["saturated"]])
        print(f"{name}: {len(truth)} truth entries, {what}", file=sys.stderr)


# ------------------------------------------------------------------------ real frames

def fetch_iraf_deb(tmp):
    subprocess.run(["apt-get", "download", "iraf"], cwd=tmp, check=True)
    return glob.glob(os.path.join(tmp, "iraf_*.deb"))[0]


def fetch_ccdproc(tmp):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", "-d", tmp, "ccdproc==2.5.1"], check=True)
    return glob.glob(os.path.join(tmp, "ccdproc-2.5.1.tar.gz"))[0]


def write_iraf_m51(out, deb, tmp):
    x = os.path.join(tmp, "iraf")
    subprocess.run(["dpkg-deb", "-x", deb, x], check=True)
    pix = open(os.path.join(x, "usr/lib/iraf/dev/pix.pix"), "rb").read()
    data = np.frombuffer(pix[2048:2048 + SIZE * SIZE * 2], dtype=">i2").reshape(SIZE, SIZE)
    h = fits.Header()
    imh = open(os.path.join(x, "usr/lib/iraf/dev/pix.imh"), "rb").read()
    # the user area of the OIF header holds FITS-like cards (ASCII)
    for m in re.finditer(rb"([A-Z][A-Z0-9_-]{0,7}) *= [ -~]{10,70}", imh):
        card = m.group(0).decode("ascii")
        key = m.group(1).decode()
        if key in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "BSCALE",
                   "BZERO", "IRAF-BPX", "IRAFTYPE") or key in h:
            continue
        try:
            c = fits.Card.fromstring(card.ljust(80)[:80])
            c.verify("silentfix")
            h.append(c)
        except Exception:  # noqa: BLE001 - skip a card astropy cannot parse
            pass
    h["OBJECT"] = "m51  B  600s"
    h["COMMENT"] = "IRAF dev$pix, from Debian package iraf 2.17-4, /usr/lib/iraf/dev/pix.pix"
    fits.PrimaryHDU(data.astype(np.int16), h).writeto(
        os.path.join(out, "iraf_m51_B.fits"), overwrite=True)


def write_saao(out, sdist):
    with tarfile.open(sdist) as t:
        raw = t.extractfile("ccdproc-2.5.1/ccdproc/tests/data/a8280271.fits").read()
    with fits.open(io.BytesIO(raw)) as hl:
        data = hl[0].data  # uint16 via BZERO
        h = hl[0].header.copy()
    # TRIMSEC = '[  17: 528,   1: 520]' (1-based, inclusive)
    trimmed = np.ascontiguousarray(data[0:520, 16:528])
    for k in ("TRIMSEC", "BIASSEC", "BSCALE", "BZERO"):
        h.remove(k, ignore_missing=True)
    h["COMMENT"] = "ccdproc 2.5.1 sdist ccdproc/tests/data/a8280271.fits trimmed to TRIMSEC"
    fits.PrimaryHDU(trimmed.astype(np.uint16), h).writeto(
        os.path.join(out, "saao_rf0420.fits"), overwrite=True)


# --------------------------------------------------------------------- reference runs

SEX_PARAMS = ["NUMBER", "X_IMAGE", "Y_IMAGE", "FLUX_AUTO", "FLUXERR_AUTO", "FLUX_ISO",
              "ISOAREA_IMAGE", "KRON_RADIUS", "A_IMAGE", "B_IMAGE", "THETA_IMAGE", "FLAGS"]
SEX_OVERRIDES = {
    "CATALOG_TYPE": "ASCII_HEAD",
    "PARAMETERS_NAME": "crowded.param",
    "FILTER_NAME": "default.conv",
    "CHECKIMAGE_TYPE": "NONE",
    "MEMORY_OBJSTACK": "30000",
    "MEMORY_PIXSTACK": "3000000",
    "VERBOSE_TYPE": "QUIET",
}
CSV_COLS = ["x", "y", "flux_auto", "flux_iso", "npix", "flags", "sep_flag",
            "kron_radius", "a", "b", "theta", "flux_auto_nomask"]


def write_sex_config(cfgdir):
    """crowded.sex = the package's default.sex with SEX_OVERRIDES; crowded.param;
    default.conv (the 3x3 pyramid)."""
    os.makedirs(cfgdir, exist_ok=True)
    dflt = subprocess.run(["source-extractor", "-d"], capture_output=True, text=True,
                          check=True).stdout
    lines = []
    for line in dflt.splitlines():
        key = line.split()[0] if line.strip() and not line.startswith("#") else None
        if key in SEX_OVERRIDES:
            line = f"{key:<16} {SEX_OVERRIDES[key]}"
        lines.append(line)
    open(os.path.join(cfgdir, "crowded.sex"), "w").write("\n".join(lines) + "\n")
    open(os.path.join(cfgdir, "crowded.param"), "w").write("\n".join(SEX_PARAMS) + "\n")
    open(os.path.join(cfgdir, "default.conv"), "w").write(
        "CONV NORM\n# 3x3 ``all-ground'' convolution mask with FWHM = 2 pixels.\n"
        "1 2 1\n2 4 2\n1 2 1\n")


def run_sextractor(frame, cfgdir):
    with tempfile.TemporaryDirectory() as tmp:
        cat = os.path.join(tmp, "out.cat")
        p = subprocess.run(["source-extractor", os.path.abspath(frame), "-c", "crowded.sex",
                            "-CATALOG_NAME", cat], cwd=cfgdir, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(p.stderr)
        if p.stderr.strip():
            print(f"  source-extractor: {p.stderr.strip()}", file=sys.stderr)
        cols = {}
        rows = []
        for line in open(cat):
            if line.startswith("#"):
                parts = line.split()
                cols[parts[2]] = int(parts[1]) - 1
                continue
            rows.append([float(v) for v in line.split()])
    out = []
    for r in rows:
        out.append(dict(x=r[cols["X_IMAGE"]] - 1.0, y=r[cols["Y_IMAGE"]] - 1.0,
                        flux_auto=r[cols["FLUX_AUTO"]], flux_iso=r[cols["FLUX_ISO"]],
                        npix=int(r[cols["ISOAREA_IMAGE"]]), flags=int(r[cols["FLAGS"]]),
                        sep_flag="", kron_radius=r[cols["KRON_RADIUS"]],
                        a=r[cols["A_IMAGE"]], b=r[cols["B_IMAGE"]],
                        theta=r[cols["THETA_IMAGE"]]))
    return out


def run_sep(frame):
    import sep

    sep.set_extract_pixstack(10_000_000)
    sep.set_sub_object_limit(8192)
    data = fits.getdata(frame).astype(np.float32)
    data = np.ascontiguousarray(data)
    bkg = sep.Background(data, bw=64, bh=64, fw=3, fh=3)
    sub = data - bkg.back()
    objs, seg = sep.extract(sub, 1.5, err=bkg.globalrms, minarea=5,
                            filter_kernel=PYRAMID, filter_type="conv",
                            deblend_nthresh=32, deblend_cont=0.005, clean=True,
                            clean_param=1.0, segmentation_map=True)
    x, y, a, b, th = objs["x"], objs["y"], objs["a"], objs["b"], objs["theta"]
    # sep wants theta in [-pi/2, pi/2]
    th = np.clip(th, -np.pi / 2, np.pi / 2)
    # SExtractor's MASK_TYPE CORRECT replaces other objects' pixels in the Kron
    # aperture by the pixel mirrored through the centre; the closest sep has is to mask
    # them by the segmentation map (sep then scales the sum by total/unmasked area).
    # flux_auto_nomask is the same without masking.
    ids = np.arange(1, len(objs) + 1, dtype=np.int32)
    kr, kflag = sep.kron_radius(sub, x, y, a, b, th, 6.0, seg_id=ids, segmap=seg)
    kfac = np.maximum(2.5 * kr, 3.5)
    kfac = np.where(np.isfinite(kfac), kfac, 3.5)
    fa, _, fflag = sep.sum_ellipse(sub, x, y, a, b, th, kfac, subpix=1, seg_id=ids,
                                   segmap=seg)
    kr0, _ = sep.kron_radius(sub, x, y, a, b, th, 6.0)
    kfac0 = np.maximum(2.5 * kr0, 3.5)
    kfac0 = np.where(np.isfinite(kfac0), kfac0, 3.5)
    fa0, _, _ = sep.sum_ellipse(sub, x, y, a, b, th, kfac0, subpix=1)
    out = []
    for k in range(len(objs)):
        sf = int(objs["flag"][k]) | int(kflag[k]) | int(fflag[k])
        fl = (2 if sf & sep.OBJ_MERGED else 0) | (8 if sf & sep.OBJ_TRUNC else 0) | \
             (16 if sf & sep.APER_TRUNC else 0)
        out.append(dict(x=float(x[k]), y=float(y[k]), flux_auto=float(fa[k]),
                        flux_iso=float(objs["flux"][k]), npix=int(objs["npix"][k]),
                        flags=fl, sep_flag=sf, kron_radius=float(kfac[k]),
                        flux_auto_nomask=float(fa0[k]),
                        a=float(a[k]), b=float(b[k]), theta=float(np.degrees(th[k]))))
    return out, float(bkg.globalrms)


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLS)
        for r in rows:
            w.writerow([f"{r['x']:.4f}", f"{r['y']:.4f}", f"{r['flux_auto']:.6g}",
                        f"{r['flux_iso']:.6g}", r["npix"], r["flags"], r["sep_flag"],
                        f"{r['kron_radius']:.3f}", f"{r['a']:.3f}", f"{r['b']:.3f}",
                        f"{r['theta']:.2f}",
                        "" if r.get("flux_auto_nomask") is None
                        else f"{r['flux_auto_nomask']:.6g}"])


def write_refs(out):
    cfgdir = os.path.join(out, "sextractor")
    write_sex_config(cfgdir)
    for frame in sorted(glob.glob(os.path.join(out, "*.fits"))):
        base = frame[:-len(".fits")]
        sx = run_sextractor(frame, cfgdir)
        write_csv(base + ".sex.csv", sx)
        sp, rms = run_sep(frame)
        write_csv(base + ".sep.csv", sp)
        print(f"{os.path.basename(frame)}: source-extractor {len(sx)}, sep {len(sp)} "
              f"(sep global rms {rms:.2f})", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--refs-only", action="store_true",
                    help="only (re)write the reference catalogs of the frames in --out")
    ap.add_argument("--no-real", action="store_true", help="skip the real frames")
    ap.add_argument("--iraf-deb", help="Debian iraf_2.17-4_*.deb (else apt-get download)")
    ap.add_argument("--ccdproc-sdist", help="ccdproc-2.5.1.tar.gz (else pip download)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if not args.refs_only:
        write_generated(args.out)
        if not args.no_real:
            with tempfile.TemporaryDirectory() as tmp:
                deb = args.iraf_deb or fetch_iraf_deb(tmp)
                write_iraf_m51(args.out, deb, tmp)
                sd = args.ccdproc_sdist or fetch_ccdproc(tmp)
                write_saao(args.out, sd)
    if shutil.which("source-extractor") is None:
        sys.exit("source-extractor not on PATH (apt-get install source-extractor)")
    write_refs(args.out)


if __name__ == "__main__":
    main()
