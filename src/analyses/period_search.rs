//! Exercise 7.1 done properly: search a light curve (or a batch of them) for a period.
//!
//! Methods (param `method`):
//! * `chi2-fold` — the chapter's metric: fold at each trial period, sort by phase, χ² of
//!   the sorted fluxes about their mean. Sorting does not change a sum of squares, so the
//!   value is the same at every period (up to round-off): the flat periodogram is the
//!   lesson. Implemented faithfully, sort and all.
//! * `pdm` — Stellingwerf phase dispersion minimisation: θ = pooled within-bin variance /
//!   total variance, phase bins `floor(phase·bins)`; the best period minimises θ.
//! * `lomb-scargle` — floating-mean Lomb-Scargle, astropy's `standard` normalisation
//!   (see [`crate::kernels::periodogram`]); the best period maximises the power.
//! * `lomb-scargle-fast` — Press & Rybicki's extirpolation + FFT approximation.
//!
//! Trial frequencies are `np.linspace(fmin, fmax, n)`; unset, they follow astropy's
//! `autofrequency` (5 samples per peak, Nyquist factor 5), except that for regularly
//! sampled data (yearly sunspot numbers) the automatic `fmax` stops at the sampling's
//! Nyquist frequency 1/(2·step): above it every peak is an alias of one below. The
//! summary warns when the best peak has a strong partner at an alias f ± k·fs of a
//! frequency fs at which the sampling repeats (see [`crate::kernels::periodogram::sampling`]).

use crate::data::{generate, Dataset, Kind, LightCurve};
use crate::engine::work::F64;
use crate::engine::{
    wrong_input, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork,
    Tolerance, Variant,
};
use crate::kernels::periodogram::chi2_fold::chi2_fold;
use crate::kernels::periodogram::lomb_scargle::{self as ls, FastImpl, FastOptions, Prepared};
use crate::kernels::periodogram::pdm::pdm;
use crate::kernels::periodogram::sampling::{self, Alias};
use crate::kernels::periodogram::Grid;
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;

pub struct PeriodSearch;

/// Artifact: power (or θ / χ²) per trial frequency, a table whose first column is the
/// frequency.
pub const PERIODOGRAM: &str = "periodogram";
/// Summary key: the best period of the first curve (in `time_unit`, days if unstated).
pub const BEST_PERIOD: &str = "best_period";

/// Most cycles across the baseline at fmax for which trial phases stay accurate.
const MAX_CYCLES: f64 = 1e9;

/// Largest frequency grid chosen automatically (set `n`, `fmin`, `fmax` to go beyond).
const MAX_AUTO_N: usize = 5_000_000;
/// Largest grid a user may ask for.
const MAX_N: i64 = 50_000_000;

const METHODS: &[&str] = &["lomb-scargle", "lomb-scargle-fast", "pdm", "chi2-fold"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Method {
    Chi2,
    Pdm,
    Ls,
    LsFast,
}

impl Method {
    fn parse(s: &str) -> Result<Method> {
        match s {
            "chi2-fold" => Ok(Method::Chi2),
            "pdm" => Ok(Method::Pdm),
            "lomb-scargle" => Ok(Method::Ls),
            "lomb-scargle-fast" => Ok(Method::LsFast),
            other => Err(Error::param(format!(
                "parameter method: '{other}' is not one of {}",
                METHODS.join(", ")
            ))),
        }
    }
    /// The periodogram column name.
    fn column(self) -> &'static str {
        match self {
            Method::Chi2 => "chi2",
            Method::Pdm => "theta",
            Method::Ls | Method::LsFast => "power",
        }
    }
    fn maximize(self) -> bool {
        matches!(self, Method::Ls | Method::LsFast)
    }
}

/// One light curve after cleaning: finite points, sorted by time.
#[derive(Clone, Debug)]
pub struct CleanCurve {
    pub t: Vec<f64>,
    pub y: Vec<f64>,
    pub dy: Option<Vec<f64>>,
    pub dropped: usize,
    pub was_unsorted: bool,
}

/// Drop non-finite points (and non-positive uncertainties when they are used as
/// weights), sort by time, and reject curves that cannot have a period.
pub fn clean_curve(lc: &LightCurve, use_errors: bool, name: &str) -> Result<CleanCurve> {
    let n = lc.time.len();
    if lc.value.len() != n {
        return Err(Error::input(format!(
            "{name}: {} times but {} values",
            n,
            lc.value.len()
        )));
    }
    let err = if use_errors { lc.error.as_ref() } else { None };
    if let Some(e) = err {
        if e.len() != n {
            return Err(Error::input(format!(
                "{name}: {} times but {} uncertainties",
                n,
                e.len()
            )));
        }
    }
    let mut pts: Vec<(f64, f64, f64)> = Vec::with_capacity(n);
    let mut dropped = 0;
    for i in 0..n {
        let (t, y) = (lc.time[i], lc.value[i]);
        let e = err.map_or(1.0, |e| e[i]);
        if t.is_finite() && y.is_finite() && e.is_finite() && e > 0.0 {
            pts.push((t, y, e));
        } else {
            dropped += 1;
        }
    }
    if pts.len() < 3 {
        return Err(Error::input(format!(
            "{name}: {} usable points (of {n}); a period search needs at least 3",
            pts.len()
        )));
    }
    let was_unsorted = pts.windows(2).any(|w| w[1].0 < w[0].0);
    if was_unsorted {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let y0 = pts[0].1;
    if pts.iter().all(|p| p.1 == y0) {
        return Err(Error::input(format!(
            "{name}: the flux is constant ({y0}); there is no variability to search"
        )));
    }
    if pts[pts.len() - 1].0 <= pts[0].0 {
        return Err(Error::input(format!(
            "{name}: every point has the same time; a period search needs a time baseline"
        )));
    }
    Ok(CleanCurve {
        t: pts.iter().map(|p| p.0).collect(),
        y: pts.iter().map(|p| p.1).collect(),
        dy: err.map(|_| pts.iter().map(|p| p.2).collect()),
        dropped,
        was_unsorted,
    })
}

/// The Nyquist frequency 1/(2·step) when every curve is regularly sampled (the largest
/// over a batch, so that no curve loses part of its band); `None` otherwise.
pub fn nyquist_of(curves: &[CleanCurve]) -> Option<f64> {
    curves
        .iter()
        .map(|c| sampling::regular_step(&c.t).map(|d| 0.5 / d))
        .try_fold(0.0, |acc: f64, f| f.map(|f| acc.max(f)))
        .filter(|f| *f > 0.0)
}

/// The trial frequencies: given values, else astropy's autofrequency rule, with the
/// automatic fmax at most the Nyquist frequency of regular sampling.
pub fn resolve_grid(params: &Params, curves: &[CleanCurve]) -> Result<Grid> {
    let baseline = curves
        .iter()
        .map(|c| c.t[c.t.len() - 1] - c.t[0])
        .fold(0.0, f64::max);
    let npts = curves.iter().map(|c| c.t.len()).max().unwrap_or(0) as f64;
    let df_auto = 1.0 / (5.0 * baseline);
    let fmin = params.opt_f64("fmin").unwrap_or(0.5 * df_auto);
    let fmax = params.opt_f64("fmax").unwrap_or_else(|| {
        let astropy = 2.5 * npts / baseline;
        nyquist_of(curves).map_or(astropy, |nyq| astropy.min(nyq))
    });
    if fmin.is_nan() || fmin <= 0.0 || !fmin.is_finite() {
        return Err(Error::param(format!("fmin must be positive, not {fmin}")));
    }
    if fmin >= fmax || fmax.is_nan() || !fmax.is_finite() {
        return Err(Error::param(format!(
            "fmin ({fmin}) must be smaller than fmax ({fmax})"
        )));
    }
    // Trial phases are 2π·f·(t − t0); the exact and PDM variants get them from a
    // trigonometric recurrence or fixed point, whose error grows with the number of
    // cycles across the baseline. Past 1e9 cycles the variants no longer agree (seen at
    // fmax ≈ 1e11/d), so such grids are refused rather than answered differently.
    if fmax * baseline > MAX_CYCLES {
        return Err(Error::param(format!(
            "fmax ({fmax:e}) times the baseline ({baseline:e}) is {:.1e} cycles, more than the {MAX_CYCLES:.0e} whose phases stay accurate; lower fmax",
            fmax * baseline
        )));
    }
    let n = match params.opt_i64("n") {
        Some(n) => {
            if !(2..=MAX_N).contains(&n) {
                return Err(Error::param(format!(
                    "n must be between 2 and {MAX_N}, not {n}"
                )));
            }
            n as usize
        }
        None => {
            let n = 1.0 + ((fmax - fmin) / df_auto).round();
            if n.is_nan() || n > MAX_AUTO_N as f64 {
                return Err(Error::param(format!(
                    "the automatic grid ({fmin:.4}..{fmax:.4}, 5 samples per peak) would have {n:.0} frequencies; set n, fmin or fmax"
                )));
            }
            (n as usize).max(2)
        }
    };
    Ok(Grid { fmin, fmax, n })
}

fn curves_of<'a>(a: &PeriodSearch, input: &'a Dataset) -> Result<Vec<&'a LightCurve>> {
    match input {
        Dataset::LightCurve(l) => Ok(vec![l]),
        Dataset::LightCurveBatch(v) if !v.is_empty() => Ok(v.iter().collect()),
        Dataset::LightCurveBatch(_) => Err(Error::input("the light-curve batch is empty")),
        other => Err(wrong_input(a, other)),
    }
}

/// Trial frequencies for the cost model: `n` if given, else astropy's automatic grid (5
/// samples per peak up to 5 × the average Nyquist frequency), which for automatic
/// fmin/fmax is about 12.5 per point whatever the baseline.
fn trial_frequencies(input: &Dataset, params: &Params, npts: f64) -> f64 {
    if let Some(n) = params.opt_i64("n") {
        return n.max(2) as f64;
    }
    let baseline = match input {
        Dataset::LightCurve(l) => span(l.time.iter().copied()),
        Dataset::LightCurveBatch(v) => v
            .iter()
            .map(|l| span(l.time.iter().copied()))
            .fold(0.0, f64::max),
        _ => 0.0,
    };
    match (params.opt_f64("fmin"), params.opt_f64("fmax")) {
        (None, None) => 12.5 * npts,
        (fmin, fmax) if baseline > 0.0 => {
            let df = 1.0 / (5.0 * baseline);
            let fmin = fmin.unwrap_or(0.5 * df);
            let fmax = fmax.unwrap_or(2.5 * npts / baseline);
            ((fmax - fmin) / df).max(2.0)
        }
        _ => 12.5 * npts,
    }
}

fn span(t: impl Iterator<Item = f64>) -> f64 {
    let (lo, hi) = t
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    if hi > lo {
        hi - lo
    } else {
        0.0
    }
}

struct Setup {
    method: Method,
    /// The first curve's time unit, when its file states it.
    time_unit: Option<String>,
    curves: Vec<CleanCurve>,
    grid: Grid,
    bins: usize,
    fast: FastOptions,
    check: usize,
}

fn setup(a: &PeriodSearch, input: &Dataset, params: &Params) -> Result<Setup> {
    let method = Method::parse(params.str("method")?)?;
    let use_errors = params.bool("weights")?;
    let raw = curves_of(a, input)?;
    let many = raw.len() > 1;
    let curves = raw
        .iter()
        .enumerate()
        .map(|(i, lc)| {
            let name = if many {
                format!("light curve {i}")
            } else {
                "the light curve".to_string()
            };
            clean_curve(
                lc,
                use_errors && method != Method::Pdm && method != Method::Chi2,
                &name,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let grid = resolve_grid(params, &curves)?;
    let bins = params.usize("bins")?;
    if method == Method::Pdm {
        if let Some(c) = curves.iter().find(|c| c.t.len() < 2 * bins) {
            return Err(Error::param(format!(
                "PDM with {bins} bins needs at least {} points; a curve has {}",
                2 * bins,
                c.t.len()
            )));
        }
    }
    let fast = FastOptions {
        oversampling: params.usize("oversampling")?,
        mfft: params.usize("mfft")?,
    };
    if method == Method::LsFast {
        ls::fft_len(grid.n, &fast)?;
    }
    Ok(Setup {
        method,
        time_unit: raw[0].labels.time_unit.clone(),
        curves,
        grid,
        bins,
        fast,
        check: params.usize("check")?,
    })
}

impl Analysis for PeriodSearch {
    fn id(&self) -> &'static str {
        "period-search"
    }
    /// The anchor's Lomb-Scargle grid is linspace(0.01, 5, 10,000); the automatic grid
    /// for 10,000 points would have 125,001 frequencies.
    fn chapter_params(&self) -> &'static [(&'static str, &'static str)] {
        &[("fmin", "0.01"), ("fmax", "5"), ("n", "10000")]
    }
    fn preferred_for_input(&self) -> bool {
        true
    }
    fn title(&self) -> &'static str {
        "Period search (χ² fold, PDM, Lomb-Scargle)"
    }
    fn section(&self) -> Section {
        Section::Exercise1
    }
    fn help(&self) -> &'static str {
        "Periodogram of a light curve (or batch) over a frequency grid: Lomb-Scargle (exact or FFT), PDM θ, or the chapter's fold-sort-χ², which is the same at every period because sorting cannot change a sum of squares."
    }
    fn input_kind(&self) -> Kind {
        Kind::LightCurve
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::choice(
                "method",
                "lomb-scargle (exact), lomb-scargle-fast (Press & Rybicki FFT), pdm (phase dispersion), chi2-fold (the chapter's metric: flat, period-independent)",
                "lomb-scargle",
                METHODS,
            ),
            ParamSpec::auto_float(
                "fmin",
                "lowest trial frequency (1/time unit); auto: half the grid step 1/(5·baseline)",
                0.0,
                1.0e12,
            ),
            ParamSpec::auto_float(
                "fmax",
                "highest trial frequency; auto: 5 × the average Nyquist frequency N/(2·baseline), but at most the Nyquist frequency 1/(2·step) of regularly sampled data",
                0.0,
                1.0e12,
            ),
            ParamSpec::auto_int(
                "n",
                "number of trial frequencies, np.linspace(fmin, fmax, n); auto: 5 per peak width",
                2,
                MAX_N,
            ),
            ParamSpec::int("bins", "PDM phase bins", 10, 2, 1000),
            ParamSpec::bool(
                "weights",
                "Lomb-Scargle: use the uncertainties as weights 1/σ² when the curve has them",
                true,
            ),
            ParamSpec::int(
                "oversampling",
                "lomb-scargle-fast: FFT grid points per frequency (astropy: 5)",
                5,
                1,
                64,
            ),
            ParamSpec::int(
                "mfft",
                "lomb-scargle-fast: grid neighbours per point in the extirpolation (astropy: 4)",
                4,
                2,
                10,
            ),
            ParamSpec::int(
                "check",
                "lomb-scargle-fast: frequencies (plus the peak) recomputed exactly to report the FFT's error; 0 = none",
                8,
                0,
                10_000,
            ),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "points"
    }
    fn default_size(&self) -> usize {
        10_000
    }
    fn quick_size(&self) -> usize {
        1_000
    }
    /// astropy's fast Lomb-Scargle (Press & Rybicki) and ours approximate the same
    /// periodogram differently: peak powers differ by up to 3.3e-7 at 10⁴ points (the exact
    /// method agrees to 1e-11).
    fn cross_tool_tolerance(&self) -> Tolerance {
        Tolerance::Rel(1e-6)
    }
    fn cost(&self) -> CostModel {
        CostModel {
            // work = points × trial frequencies (bench: 10,000 × 10,000).
            time: [(1.0, 2.092), (1.0, 57.1e-3), (1.0, 36.6e-3)],
            mem: (1.0, 64.0),
            w_ref: 1e8,
        }
    }
    fn work(&self, input: &Dataset, params: &Params) -> f64 {
        let npts = match input {
            Dataset::LightCurveBatch(v) => v.iter().map(|l| l.time.len()).sum::<usize>() as f64,
            other => self.size_of(other) as f64,
        };
        let per_curve = match input {
            Dataset::LightCurveBatch(v) if !v.is_empty() => npts / v.len() as f64,
            _ => npts,
        };
        npts * trial_frequencies(input, params, per_curve)
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        let p = generate::LightCurveParams {
            n: size.max(3),
            ..Default::default()
        };
        Ok(Dataset::LightCurve(generate::light_curve(&p, seed)))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        setup(self, input, params).map(|_| ())
    }
    /// Declared for the exact Lomb-Scargle only; the other methods' work (sorts, bins,
    /// the FFT's grid) is not counted.
    fn stage_work(&self, input: &Dataset, params: &Params) -> Vec<StageWork> {
        let curves: &[LightCurve] = match input {
            Dataset::LightCurve(c) => std::slice::from_ref(c),
            Dataset::LightCurveBatch(v) => v,
            _ => return Vec::new(),
        };
        if params.str("method").ok() != Some("lomb-scargle") || curves.is_empty() {
            return Vec::new();
        }
        let npts = curves.iter().map(|c| c.time.len()).sum::<usize>() as f64;
        let m = trial_frequencies(input, params, npts / curves.len() as f64);
        // Per (point, frequency): ω·t, its sine and cosine, and the seven weighted sums
        // (two flops each, three for the squares and the product): 20 flops. t, w and
        // w·y read once (they stay in cache over the frequencies), one power written.
        let per_curve = 24.0 * npts / curves.len() as f64;
        vec![StageWork::streaming(
            "periodogram",
            24.0 * npts + F64 * m * curves.len() as f64,
            20.0 * npts * m,
        )
        .reusing(per_curve)]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let s = stage!(ctx, "prepare", setup(self, input, params)?);
        let batch = s.curves.len() > 1;
        let preps: Vec<Option<Prepared>> = stage!(ctx, "center", {
            s.curves
                .iter()
                .map(|c| {
                    matches!(s.method, Method::Ls | Method::LsFast)
                        .then(|| Prepared::new(&c.t, &c.y, c.dy.as_deref()))
                })
                .collect()
        });
        for (i, p) in preps.iter().enumerate() {
            if let Some(p) = p {
                if p.yy.is_nan() || p.yy <= 0.0 {
                    return Err(Error::input(format!(
                        "light curve {i}: the weighted flux variance is zero; there is no variability to search"
                    )));
                }
            }
        }
        let values = stage!(ctx, "periodogram", periodograms(&s, &preps, variant, ctx)?);
        let best: Vec<Option<usize>> = stage!(ctx, "best", {
            values
                .iter()
                .map(|v| best_index(v, s.method.maximize()))
                .collect()
        });
        // The FFT method's error against exact sums at a few frequencies and the peak.
        let mut check_err: Option<(f64, usize)> = None;
        if s.method == Method::LsFast && s.check > 0 && !batch {
            if let (Some(p), Some(bi)) = (preps[0].as_ref(), best[0]) {
                check_err = Some(stage!(
                    ctx,
                    "check-exact",
                    error_against_exact(p, &s, &values[0], bi, variant)
                ));
            }
        }
        ctx.progress(1.0);
        let found = Found {
            values,
            best,
            freqs: s.grid.frequencies(),
        };
        let out = summary(&s, &found, preps[0].as_ref(), check_err, params)?;
        Ok(with_tables(out, &s, &found))
    }
}

/// Every curve's periodogram. One curve: the parallel variant parallelises inside the
/// curve. A batch: it runs curves in parallel, each with the (identical) serial
/// vectorized kernel.
fn periodograms(
    s: &Setup,
    preps: &[Option<Prepared>],
    variant: Variant,
    ctx: &Ctx,
) -> Result<Vec<Vec<f64>>> {
    let ncurves = s.curves.len();
    let batch = ncurves > 1;
    let inner_parallel = variant == Variant::Parallel && !batch;
    let one = |i: usize| -> Result<Vec<f64>> {
        let c = &s.curves[i];
        let v = if batch && variant == Variant::Parallel {
            Variant::Vectorized
        } else {
            variant
        };
        match s.method {
            Method::Chi2 => chi2_fold(&c.t, &c.y, &s.grid, v.into(), ctx),
            Method::Pdm => pdm(&c.t, &c.y, &s.grid, s.bins, v.into(), ctx),
            Method::Ls => {
                let p = preps[i]
                    .as_ref()
                    .ok_or_else(|| Error::input("not prepared"))?;
                match v {
                    Variant::Naive => ls::exact_naive(p, &s.grid, ctx),
                    _ => ls::exact_blocked(p, &s.grid, inner_parallel, ctx),
                }
            }
            Method::LsFast => {
                let p = preps[i]
                    .as_ref()
                    .ok_or_else(|| Error::input("not prepared"))?;
                let how = match v {
                    Variant::Naive => FastImpl::Naive,
                    _ if inner_parallel => FastImpl::Parallel,
                    _ => FastImpl::Fused,
                };
                ls::fast_power(p, &s.grid, &s.fast, how)
            }
        }
    };
    if batch && variant == Variant::Parallel {
        (0..ncurves).into_par_iter().map(one).collect()
    } else {
        let mut v = Vec::with_capacity(ncurves);
        for i in 0..ncurves {
            ctx.check()?;
            v.push(one(i)?);
            if batch {
                ctx.progress((i + 1) as f64 / ncurves as f64);
            }
        }
        Ok(v)
    }
}

/// The largest error of the FFT power against the exact sums, at `s.check` frequencies
/// spread over the grid and at the peak `bi`; and how many frequencies were checked.
fn error_against_exact(
    p: &Prepared,
    s: &Setup,
    values: &[f64],
    bi: usize,
    variant: Variant,
) -> (f64, usize) {
    let n = s.grid.n;
    let m = s.check.min(n);
    let mut idx: Vec<usize> = (0..m)
        .map(|j| if m > 1 { j * (n - 1) / (m - 1) } else { 0 })
        .collect();
    idx.push(bi);
    idx.sort_unstable();
    idx.dedup();
    let err = |&k: &usize| (ls::exact_at(p, s.grid.freq(k)) - values[k]).abs();
    let e = if variant == Variant::Parallel {
        idx.par_iter().map(err).reduce(|| 0.0, f64::max)
    } else {
        idx.iter().map(err).fold(0.0, f64::max)
    };
    (e, idx.len())
}

/// What the search found: each curve's periodogram, the index of its best frequency,
/// and the grid's frequencies.
struct Found {
    values: Vec<Vec<f64>>,
    best: Vec<Option<usize>>,
    freqs: Vec<f64>,
}

/// A JSON number, or null for NaN and infinities.
fn num(x: f64) -> serde_json::Value {
    if x.is_finite() {
        x.into()
    } else {
        serde_json::Value::Null
    }
}

/// The summary: the grid, the best period of the first curve (and of every curve in a
/// batch), the method's own figures and the warnings about dropped or unsorted points.
fn summary(
    s: &Setup,
    found: &Found,
    prep0: Option<&Prepared>,
    check_err: Option<(f64, usize)>,
    params: &Params,
) -> Result<Output> {
    let (freqs, values) = (&found.freqs, &found.values);
    let batch = s.curves.len() > 1;
    let b0 = found.best[0];
    let best_f = b0.map_or(f64::NAN, |k| freqs[k]);
    let best_v = b0.map_or(f64::NAN, |k| values[0][k]);
    let mut out = Output::new()
        .sum("method", params.str("method")?)
        .sum("n_curves", s.curves.len())
        .sum("n_points", s.curves[0].t.len())
        .sum("n_frequencies", s.grid.n)
        .sum("fmin", s.grid.fmin)
        .sum("fmax", s.grid.fmax)
        .sum("best_frequency", num(best_f))
        .sum(BEST_PERIOD, num(1.0 / best_f));
    if let Some(u) = &s.time_unit {
        // the unit of best_period (and 1/unit of the frequencies), as the file states it
        out = out.sum("time_unit", u.as_str());
    }
    match s.method {
        Method::Ls | Method::LsFast => {
            out = out.sum("peak_power", num(best_v));
            if !batch {
                if let Some(p) = prep0 {
                    out = out.sum(
                        "false_alarm_probability",
                        fap_value(ls::fap_baluev(best_v, s.grid.fmax, p)),
                    );
                }
            }
            out = out.sum("weighted", s.curves[0].dy.is_some());
            if let Some((e, m)) = check_err {
                out = out
                    .sum("max_abs_error_vs_exact", e)
                    .sum("checked_frequencies", m);
            }
        }
        Method::Pdm => {
            out = out.sum("theta_min", num(best_v)).sum("bins", s.bins);
        }
        Method::Chi2 => {
            let v = &values[0];
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            out = out
                .sum("chi2_min", num(lo))
                .sum("chi2_relative_spread", num((hi - lo) / lo.abs().max(f64::MIN_POSITIVE)))
                .sum(
                    "note",
                    "the chapter's chi2 of the phase-sorted fluxes equals sum((f-mean)^2) at every period; its 'best period' is decided by round-off",
                );
        }
    }
    if batch {
        let best_periods: Vec<serde_json::Value> = found
            .best
            .iter()
            .map(|b| num(b.map_or(f64::NAN, |k| 1.0 / freqs[k])))
            .collect();
        out = out.sum("best_periods", best_periods);
    }
    let nyquist = nyquist_of(&s.curves);
    if let Some(nyq) = nyquist {
        out = out
            .sum("sampling_step", 0.5 / nyq)
            .sum("nyquist_frequency", nyq);
    }
    let mut warn = warnings(&s.curves);
    if !batch {
        warn.extend(alias_warnings(s, found, nyquist));
    }
    Ok(out.sum("warnings", warn))
}

/// The false-alarm probability as a number, or, when it underflows to 0, the honest
/// "< 1e-300" (a probability too small for a double, not an impossible peak).
fn fap_value(fap: f64) -> serde_json::Value {
    if fap == 0.0 {
        "< 1e-300".into()
    } else {
        num(fap)
    }
}

/// One cycle per time unit (the day of ground-based nights, the year of yearly data) when
/// the spectral window there is strong and it is not the regular step's 1/step already.
fn window_frequency(t: &[f64], nyquist: Option<f64>) -> Option<f64> {
    let regular = nyquist.is_some_and(|n| (2.0 * n - 1.0).abs() < 1e-9);
    (!regular && sampling::window_power(t, 1.0) >= sampling::STRONG_WINDOW).then_some(1.0)
}

/// Warnings about the best peak of the first curve: above the Nyquist frequency of its
/// regular sampling (an explicit fmax), at a multiple of a sampling frequency, or with a
/// strong partner at an alias f ± k·fs (Lomb-Scargle only: its power compares).
fn alias_warnings(s: &Setup, found: &Found, nyquist: Option<f64>) -> Vec<String> {
    let Some(best) = found.best[0] else {
        return Vec::new();
    };
    let fb = found.freqs[best];
    let mut w = Vec::new();
    if let Some(nyq) = nyquist.filter(|n| fb > *n) {
        w.push(format!(
            "the best frequency {fb:.6} is above the Nyquist frequency {nyq:.6} of the regular sampling (step {:.6}): it is an alias of one below; search up to fmax = {nyq:.6}",
            0.5 / nyq
        ));
    }
    let window = window_frequency(&s.curves[0].t, nyquist);
    let fs: Vec<f64> = nyquist.map(|n| 2.0 * n).into_iter().chain(window).collect();
    for f in &fs {
        let k = (fb / f).round();
        if k >= 1.0 && (fb - k * f).abs() <= 3.0 * s.grid.df() {
            w.push(format!(
                "the best period {:.6} is {k:.0} × the sampling period {:.6}: likely the sampling itself, not the source",
                1.0 / fb,
                1.0 / f
            ));
        }
    }
    if s.method.maximize() {
        for a in sampling::aliases(&found.freqs, &found.values[0], best, &fs) {
            w.push(alias_text(fb, &a));
        }
    }
    // Aliases through a repeating (not regular) sampling that the grid did not reach: the
    // true frequency may be one of them. (Above a regular sampling's Nyquist frequency
    // aliases cannot be told apart at all; the grid stops there by convention.)
    if let Some(f) = window {
        let unsearched: Vec<f64> = [f - fb, f + fb]
            .into_iter()
            .filter(|a| *a > s.grid.fmax)
            .collect();
        if !unsearched.is_empty() {
            let list = |g: &dyn Fn(f64) -> f64| {
                unsearched
                    .iter()
                    .map(|a| format!("{:.6}", g(*a)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            w.push(format!(
                "the sampling repeats at frequency {f} (spectral window {:.2}), so the best peak's aliases at {} (periods {}) look alike to the data; they lie above fmax {:.6}, unsearched: set fmax above them to compare",
                sampling::window_power(&s.curves[0].t, f),
                list(&|a| a),
                list(&|a| 1.0 / a),
                s.grid.fmax
            ));
        }
    }
    w
}

fn alias_text(fb: f64, a: &Alias) -> String {
    format!(
        "the best peak (frequency {fb:.6}, period {:.6}) may be an alias: the sampling repeats at frequency {:.6}, and the peak at |{fb:.6} ± {}×{:.6}| = {:.6} (period {:.6}) has {:.0}% of its power",
        1.0 / fb,
        a.sampling,
        a.k,
        a.sampling,
        a.frequency,
        1.0 / a.frequency,
        100.0 * a.ratio
    )
}

/// Warnings about points dropped or sorted before the search.
fn warnings(curves: &[CleanCurve]) -> Vec<String> {
    let dropped: usize = curves.iter().map(|c| c.dropped).sum();
    let unsorted = curves.iter().filter(|c| c.was_unsorted).count();
    let mut warnings: Vec<String> = Vec::new();
    if dropped > 0 {
        warnings.push(format!(
            "dropped {dropped} point(s) with NaN/infinite time, flux or uncertainty (or uncertainty <= 0)"
        ));
    }
    if unsorted > 0 {
        warnings.push(format!(
            "{unsorted} curve(s) had unsorted times; sorted before the search"
        ));
    }
    warnings
}

/// The artifacts: the periodogram (frequency and one column per curve) and each curve's
/// best frequency, period and value.
fn with_tables(out: Output, s: &Setup, found: &Found) -> Output {
    let (freqs, values) = (&found.freqs, &found.values);
    let ncurves = s.curves.len();
    let col = s.method.column();
    let mut columns: Vec<String> = vec!["frequency".to_string()];
    if ncurves > 1 {
        columns.extend((0..ncurves).map(|i| format!("{col}_{i}")));
    } else {
        columns.push(col.to_string());
    }
    let mut table = Array2::zeros((s.grid.n, 1 + ncurves));
    for (k, f) in freqs.iter().enumerate() {
        table[[k, 0]] = *f;
        for (c, v) in values.iter().enumerate() {
            table[[k, c + 1]] = v[k];
        }
    }
    let mut best_table = Array2::from_elem((ncurves, 4), f64::NAN);
    for (c, b) in found.best.iter().enumerate() {
        best_table[[c, 0]] = c as f64;
        if let Some(k) = b {
            best_table[[c, 1]] = freqs[*k];
            best_table[[c, 2]] = 1.0 / freqs[*k];
            best_table[[c, 3]] = values[c][*k];
        }
    }
    let tol = match s.method {
        Method::Chi2 => Tolerance::Rel(1e-12),
        _ => Tolerance::Rel(1e-9),
    };
    out.table(
        PERIODOGRAM,
        &columns.iter().map(String::as_str).collect::<Vec<_>>(),
        table,
        tol,
    )
    .table(
        "best_periods",
        &["curve", "best_frequency", "best_period", col],
        best_table,
        tol,
    )
}

/// Index of the largest (or smallest) finite value; ties go to the first.
pub fn best_index(v: &[f64], maximize: bool) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &x) in v.iter().enumerate() {
        if !x.is_finite() {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, b)) => {
                if maximize {
                    x > b
                } else {
                    x < b
                }
            }
        };
        if better {
            best = Some((i, x));
        }
    }
    best.map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lc(n: usize, period: f64, seed: u64) -> LightCurve {
        let p = generate::LightCurveParams {
            n,
            period,
            ..Default::default()
        };
        generate::light_curve(&p, seed)
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        let given: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Params::resolve(&PeriodSearch.params(), &given).expect("params")
    }

    #[test]
    fn every_method_agrees_across_variants_and_finds_the_period() {
        let d = Dataset::LightCurve(lc(600, 2.5, 11));
        let ctx = Ctx::detached(2);
        for m in METHODS {
            let p = params(&[
                ("method", m),
                ("fmin", "0.05"),
                ("fmax", "1.5"),
                ("n", "1500"),
            ]);
            let outs: Vec<Output> = crate::engine::ALL_VARIANTS
                .iter()
                .map(|&v| PeriodSearch.run(v, &d, &p, &ctx).expect("run"))
                .collect();
            for o in &outs[1..] {
                outs[0].agrees_with(o).expect("variants agree");
            }
            if *m != "chi2-fold" {
                for o in &outs {
                    let bp = o.summary_f64("best_period").expect("best");
                    assert!((bp - 2.5).abs() < 0.02, "{m}: {bp}");
                }
            } else {
                let spread = outs[0].summary_f64("chi2_relative_spread").expect("spread");
                assert!(spread < 1e-12, "chi2 must be flat: {spread}");
            }
        }
    }

    #[test]
    fn batch_runs_per_curve() {
        let d = Dataset::LightCurveBatch(vec![lc(300, 1.7, 1), lc(300, 4.2, 2), lc(300, 0.9, 3)]);
        let ctx = Ctx::detached(2);
        for m in ["pdm", "lomb-scargle"] {
            let p = params(&[
                ("method", m),
                ("fmin", "0.1"),
                ("fmax", "2.0"),
                ("n", "400"),
            ]);
            let a = PeriodSearch
                .run(Variant::Vectorized, &d, &p, &ctx)
                .expect("vec");
            let b = PeriodSearch
                .run(Variant::Parallel, &d, &p, &ctx)
                .expect("par");
            a.agrees_with(&b).expect("agree");
            let (cols, rows) = a.table_of("periodogram").expect("table");
            assert_eq!(cols.len(), 4);
            assert_eq!(rows.nrows(), 400);
            let (_, best) = a.table_of("best_periods").expect("best");
            for (i, want) in [1.7, 4.2, 0.9].iter().enumerate() {
                let got = best[[i, 2]];
                assert!((got - want).abs() / want < 0.02, "{m} curve {i}: {got}");
            }
        }
    }

    #[test]
    fn bad_inputs_are_clear_errors() {
        let ctx = Ctx::detached(1);
        let p = params(&[]);
        let mk = |t: Vec<f64>, y: Vec<f64>| {
            Dataset::LightCurve(LightCurve {
                time: t.into(),
                value: y.into(),
                error: None,
                magnitudes: false,
                labels: Default::default(),
            })
        };
        let e = PeriodSearch
            .validate(&mk(vec![0.0, 1.0], vec![1.0, 2.0]), &p)
            .expect_err("too short");
        assert!(e.to_string().contains("at least 3"), "{e}");
        let e = PeriodSearch
            .validate(&mk(vec![0.0, 1.0, 2.0, 3.0], vec![5.0; 4]), &p)
            .expect_err("constant");
        assert!(e.to_string().contains("constant"), "{e}");
        let bad = params(&[("fmin", "2"), ("fmax", "1")]);
        let d = Dataset::LightCurve(lc(100, 3.0, 1));
        let e = PeriodSearch.validate(&d, &bad).expect_err("fmin>=fmax");
        assert!(e.to_string().contains("smaller than fmax"), "{e}");
        let huge = params(&[("fmin", "1"), ("fmax", "1e11"), ("n", "100")]);
        let e = PeriodSearch.validate(&d, &huge).expect_err("1e11/d");
        assert!(e.to_string().contains("cycles"), "{e}");
        // NaNs dropped with a warning; unsorted times sorted
        let mut c = lc(200, 3.0, 4);
        c.value[5] = f64::NAN;
        c.time.swap(10, 20);
        let p = params(&[("fmin", "0.1"), ("fmax", "1"), ("n", "100")]);
        let o = PeriodSearch
            .run(Variant::Vectorized, &Dataset::LightCurve(c), &p, &ctx)
            .expect("runs");
        let w = o.summary.get("warnings").expect("warnings").to_string();
        assert!(w.contains("dropped 1") && w.contains("sorted"), "{w}");
        assert_eq!(o.summary_f64("n_points"), Some(199.0));
        assert!(PeriodSearch.validate(&Dataset::None, &p).is_err());
    }

    #[test]
    fn auto_grid_stops_at_the_nyquist_frequency_of_regular_sampling() {
        let t: Vec<f64> = (0..300).map(f64::from).collect();
        let y: Vec<f64> = t.iter().map(|t| (t / 11.0 * std::f64::consts::TAU).sin()).collect();
        let c = LightCurve {
            time: t.into(),
            value: y.into(),
            error: None,
            magnitudes: false,
            labels: Default::default(),
        };
        let c = clean_curve(&c, false, "x").expect("clean");
        let g = resolve_grid(&params(&[]), std::slice::from_ref(&c)).expect("grid");
        assert_eq!(g.fmax, 0.5);
        // an explicit fmax is kept, and a peak above the Nyquist frequency is warned about
        let d = Dataset::LightCurve(LightCurve {
            time: c.t.clone().into(),
            value: c.y.clone().into(),
            error: None,
            magnitudes: false,
            labels: Default::default(),
        });
        let ctx = Ctx::detached(1);
        let o = PeriodSearch
            .run(Variant::Vectorized, &d, &params(&[]), &ctx)
            .expect("run");
        let bp = o.summary_f64("best_period").expect("best");
        assert!((bp - 11.0).abs() < 0.2, "{bp}");
        assert_eq!(o.summary_f64("nyquist_frequency"), Some(0.5));
        assert_eq!(o.summary["warnings"], serde_json::json!([]));
        let o = PeriodSearch
            .run(
                Variant::Vectorized,
                &d,
                &params(&[("fmin", "0.95"), ("fmax", "1.2")]),
                &ctx,
            )
            .expect("run");
        let w = o.summary["warnings"].to_string();
        assert!(w.contains("above the Nyquist frequency"), "{w}");
    }

    #[test]
    fn auto_grid_follows_astropy_rule() {
        let c = clean_curve(&lc(1000, 3.7, 5), true, "x").expect("clean");
        let g = resolve_grid(&params(&[]), std::slice::from_ref(&c)).expect("grid");
        let base = c.t[999] - c.t[0];
        assert!((g.fmin - 0.1 / base).abs() < 1e-15);
        assert!((g.fmax - 2500.0 / base).abs() < 1e-9);
        assert_eq!(g.n, 1 + ((g.fmax - g.fmin) * 5.0 * base).round() as usize);
    }
}
