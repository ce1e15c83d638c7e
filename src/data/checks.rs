//! The checks every loader shares: how user text appears in one-line messages, the
//! refusal of allocations beyond the memory available, the "NaN kept" warning, and which
//! dataset a table's column names and values make (spectrum, light curve, catalog, or a
//! plain table).

use super::{Catalog, CurveLabels, Dataset, LightCurve, Loaded, Spectrum, Table};
use crate::sys::available_memory;
use crate::{Error, Result};
use ndarray::{Array1, Array2};
use std::path::Path;

/// User text (a cell, a header value, a library's message) as it may appear in a
/// one-line error: control characters and line separators escaped, at most 120 chars.
pub(crate) fn shown(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 120 {
            out.push_str("...");
            break;
        }
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A name from a file (column name, FITS string) with control characters and line
/// separators replaced by spaces, so facts and messages stay one line.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// A byte count for messages: "12.3 GB".
pub(crate) fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b} bytes")
    }
}

/// The one-line refusal when reading `what` needs `need` bytes but only `avail` are free.
pub(crate) fn memory_check(path: &Path, what: &str, need: u64, avail: Option<u64>) -> Result<()> {
    match avail {
        Some(a) if need > a => Err(Error::format(
            path,
            format!(
                "{what} needs about {} of memory but only {} are available; refusing to load it",
                human_bytes(need),
                human_bytes(a)
            ),
        )),
        _ => Ok(()),
    }
}

/// Refuse to start an allocation of `need` bytes larger than the memory available now.
pub(crate) fn ensure_memory(path: &Path, what: &str, need: u64) -> Result<()> {
    memory_check(path, what, need, available_memory())
}

/// Count the non-finite values of an array (for the "NaNs kept" warning).
pub(crate) fn count_nonfinite<'a>(it: impl IntoIterator<Item = &'a f64>) -> usize {
    it.into_iter().filter(|v| !v.is_finite()).count()
}

/// Add the standard warning when a loaded dataset holds NaN / infinite values.
pub(crate) fn warn_nonfinite(l: Loaded, n: usize, what: &str) -> Loaded {
    if n > 0 {
        l.with_warning(format!(
            "{n} NaN or infinite values kept ({what}); analyses that need finite data will say so"
        ))
    } else {
        l
    }
}

/// The role a column name suggests.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Wave,
    LogWave,
    Flux,
    Mag,
    Err,
    Time,
    Ra,
    Dec,
    Other,
}

/// Normalise a column name: lower case, units in brackets dropped, quotes trimmed.
fn norm(name: &str) -> String {
    let mut s = name.trim().trim_matches('"').trim().to_ascii_lowercase();
    for open in ['(', '['] {
        if let Some(i) = s.find(open) {
            s.truncate(i);
        }
    }
    s.trim().trim_end_matches('_').to_string()
}

/// The unit a column name states: "flux [e-/s]" or "time (d)" give "e-/s" and "d".
fn unit_in(name: &str) -> Option<String> {
    let name = name.trim().trim_matches('"');
    let (open, close) = match (name.find('['), name.find('(')) {
        (Some(i), _) => (i, name[i..].find(']').map(|j| i + j)?),
        (None, Some(i)) => (i, name[i..].find(')').map(|j| i + j)?),
        (None, None) => return None,
    };
    let u = name[open + 1..close].trim();
    (!u.is_empty()).then(|| u.to_string())
}

/// A column name without its unit, as the file spells it ("SUNACTIVITY", "flux").
fn name_without_unit(name: &str) -> String {
    let name = name.trim().trim_matches('"');
    let end = name.find(['[', '(']).unwrap_or(name.len());
    name[..end].trim().to_string()
}

/// A time unit as axes show it: years "yr", days "d", seconds "s", hours "h"; other
/// spellings are kept as the file has them.
fn canonical_time_unit(u: &str) -> String {
    match u.trim().to_ascii_lowercase().as_str() {
        "yr" | "year" | "years" | "a" => "yr".into(),
        "d" | "day" | "days" | "mjd" | "jd" | "bjd" | "hjd" => "d".into(),
        "s" | "sec" | "second" | "seconds" => "s".into(),
        "h" | "hr" | "hour" | "hours" => "h".into(),
        _ => u.trim().to_string(),
    }
}

/// The time unit a time column's name states: its bracketed unit, else what the name
/// implies (YEAR: years; MJD, JD, BJD, HJD: days).
fn time_unit_of(name: &str) -> Option<String> {
    if let Some(u) = unit_in(name) {
        return Some(canonical_time_unit(&u));
    }
    let n = norm(name);
    if n.starts_with("year") || n == "yr" {
        Some("yr".into())
    } else if ["mjd", "bjd", "hjd"].iter().any(|p| n.starts_with(p))
        || n == "jd"
        || n.starts_with("jd_")
    {
        Some("d".into())
    } else {
        None
    }
}

/// What the time and value columns' names say about a light curve.
pub(crate) fn curve_labels(time: &str, value: &str, magnitudes: bool) -> CurveLabels {
    CurveLabels {
        time_name: Some(name_without_unit(time)).filter(|n| !n.is_empty()),
        time_unit: time_unit_of(time),
        value_name: Some(name_without_unit(value)).filter(|n| !n.is_empty()),
        value_unit: unit_in(value).or_else(|| magnitudes.then(|| "mag".to_string())),
    }
}

fn role(name: &str) -> Role {
    let n = norm(name);
    let n = n.as_str();
    let is_err = n == "err"
        || n == "error"
        || n == "sigma"
        || n.ends_with("_err")
        || n.ends_with("err")
        || n.ends_with("_error")
        || n.ends_with("_sigma")
        || n.starts_with("err_")
        || n.starts_with("e_")
        || n.starts_with("sig_");
    if is_err {
        return Role::Err;
    }
    if n == "loglam" || n == "log_lambda" || n == "logwave" || n == "log_wave" {
        return Role::LogWave;
    }
    if n.starts_with("wavelength")
        || n.starts_with("wave")
        || n.starts_with("lambda")
        || n == "wl"
        || n == "lam"
        || n.starts_with("wl_")
        || n.starts_with("lam_")
    {
        return Role::Wave;
    }
    if n.starts_with("flux") || n == "f" || n == "counts" || n == "rate" || n == "sap_flux" {
        return Role::Flux;
    }
    if n.starts_with("mag") || n.ends_with("mag") {
        return Role::Mag;
    }
    let time_names = [
        "time", "t", "mjd", "bjd", "hjd", "jd", "date", "year", "years", "epoch",
    ];
    if time_names.contains(&n)
        || n.starts_with("time_")
        || n.starts_with("mjd")
        || n.starts_with("bjd")
        || n.starts_with("hjd")
        || n.starts_with("jd_")
        || n.starts_with("year")
    {
        return Role::Time;
    }
    if n == "ra" || n.starts_with("ra_") || n.starts_with("raj2000") || n == "alpha" {
        return Role::Ra;
    }
    if n == "dec"
        || n == "de"
        || n.starts_with("dec_")
        || n.starts_with("dej2000")
        || n.starts_with("decj2000")
        || n == "delta"
    {
        return Role::Dec;
    }
    Role::Other
}

/// Turn a numeric table with named columns into the kind its names suggest:
/// wavelength + flux -> spectrum; time + flux/mag -> light curve; ra + dec -> catalog;
/// otherwise a table. Returns the dataset and facts describing the choice.
pub(crate) fn classify_table(
    columns: Vec<String>,
    data: Array2<f64>,
    magnitudes_hint: bool,
) -> (Dataset, Vec<(String, String)>) {
    // Names and data must line up; pad or cut the names (the text loader warns).
    let mut columns = columns;
    let nc = data.ncols();
    columns.truncate(nc);
    while columns.len() < nc {
        columns.push(format!("col{}", columns.len() + 1));
    }
    let roles: Vec<Role> = columns.iter().map(|c| role(c)).collect();
    let find = |r: Role| roles.iter().position(|&x| x == r);
    let col = |i: usize| -> Array1<f64> { data.column(i).to_owned() };
    let name = |i: usize| columns[i].clone();
    let mut facts = Vec::new();
    // The error column belonging to value column `v`: "<v>_err" first, then any error column.
    let err_for = |v: usize| -> Option<usize> {
        let base = norm(&columns[v]);
        columns
            .iter()
            .position(|c| {
                let c = norm(c);
                c == format!("{base}_err") || c == format!("{base}err") || c == format!("e_{base}")
            })
            .or_else(|| {
                roles
                    .iter()
                    .enumerate()
                    .find(|&(i, &r)| r == Role::Err && i > v)
                    .map(|(i, _)| i)
            })
            .or_else(|| find(Role::Err))
    };

    let wave = find(Role::Wave).map(|i| (i, false));
    let wave = wave.or_else(|| find(Role::LogWave).map(|i| (i, true)));
    if let (Some((w, log)), Some(f)) = (wave, find(Role::Flux)) {
        let mut wl = col(w);
        if log {
            wl.mapv_inplace(|x| 10f64.powf(x));
            facts.push((
                "wavelength".into(),
                format!("10^{} (log10 wavelength column)", name(w)),
            ));
        } else {
            facts.push(("wavelength".into(), format!("column '{}'", name(w))));
        }
        facts.push(("flux".into(), format!("column '{}'", name(f))));
        let e = err_for(f);
        if let Some(e) = e {
            facts.push(("error".into(), format!("column '{}'", name(e))));
        }
        let d = Dataset::Spectrum(Spectrum {
            wavelength: wl,
            flux: col(f),
            error: e.map(col),
        });
        return (d, facts);
    }
    if let Some(t) = find(Role::Time) {
        // value: flux, else magnitude, else the only other column.
        let flux = find(Role::Flux);
        let mag = find(Role::Mag);
        let others: Vec<usize> = (0..columns.len())
            .filter(|&i| i != t && roles[i] != Role::Err)
            .collect();
        let (v, magnitudes) = match (flux, mag) {
            (Some(f), _) => (Some(f), false),
            (None, Some(m)) => (Some(m), true),
            (None, None) if others.len() == 1 => (Some(others[0]), magnitudes_hint),
            _ => (None, false),
        };
        if let Some(v) = v {
            facts.push(("time".into(), format!("column '{}'", name(t))));
            let labels = curve_labels(&columns[t], &columns[v], magnitudes);
            if let Some(u) = &labels.time_unit {
                facts.push((
                    "time unit".into(),
                    match u.as_str() {
                        "yr" => "years (not days)".to_string(),
                        "d" => "days".to_string(),
                        other => other.to_string(),
                    },
                ));
            }
            facts.push((
                if magnitudes { "magnitude" } else { "value" }.into(),
                format!("column '{}'", name(v)),
            ));
            let e = err_for(v);
            if let Some(e) = e {
                facts.push(("error".into(), format!("column '{}'", name(e))));
            }
            let d = Dataset::LightCurve(LightCurve {
                time: col(t),
                value: col(v),
                error: e.map(col),
                magnitudes,
                labels,
            });
            return (d, facts);
        }
    }
    if let (Some(r), Some(d)) = (find(Role::Ra), find(Role::Dec)) {
        facts.push((
            "positions".into(),
            format!("columns '{}', '{}' (degrees)", name(r), name(d)),
        ));
        let m = find(Role::Mag);
        if let Some(m) = m {
            facts.push(("magnitude".into(), format!("column '{}'", name(m))));
        }
        let c = Dataset::Catalog(Catalog {
            ra: col(r),
            dec: col(d),
            mag: m.map(col),
            color: None,
        });
        return (c, facts);
    }
    facts.push((
        "columns".into(),
        if columns.len() <= 12 {
            columns.join(", ")
        } else {
            format!(
                "{}, ... ({} in all)",
                columns[..12].join(", "),
                columns.len()
            )
        },
    ));
    (Dataset::Table(Table { columns, data }), facts)
}

/// True when `x` is strictly increasing with nearly constant steps in linear or log
/// space (a wavelength grid rather than uneven times or random positions).
pub(crate) fn is_regular_grid(x: ndarray::ArrayView1<f64>) -> bool {
    let n = x.len();
    if n < 3 || x.iter().any(|v| !v.is_finite()) {
        return false;
    }
    let check = |f: &dyn Fn(f64) -> f64| {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for i in 1..n {
            let d = f(x[i]) - f(x[i - 1]);
            if d <= 0.0 || !d.is_finite() {
                return false;
            }
            lo = lo.min(d);
            hi = hi.max(d);
        }
        hi <= lo * 1.01
    };
    check(&|v| v) || (x[0] > 0.0 && check(&|v: f64| v.ln()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_from_column_names() {
        let l = curve_labels("YEAR", "SUNACTIVITY", false);
        assert_eq!(l.time_axis(), "YEAR (yr)");
        assert_eq!(l.value_axis(false), "SUNACTIVITY");
        assert_eq!(
            curve_labels("mjd", "mag", true).time_unit.as_deref(),
            Some("d")
        );
        assert_eq!(curve_labels("mjd", "mag", true).value_axis(true), "mag");
        let l = curve_labels("time [s]", "flux (e-/s)", false);
        assert_eq!(
            (l.time_axis(), l.value_axis(false)),
            ("time (s)".into(), "flux (e-/s)".into())
        );
        let l = curve_labels("BJD_TDB", "FLUX", false);
        assert_eq!(l.time_unit.as_deref(), Some("d"));
        let l = curve_labels("t", "y", false);
        assert_eq!((l.time_unit, l.value_unit), (None, None));
        assert_eq!(curve_labels("t", "y", false).time_axis(), "t");
    }
    use ndarray::array;

    #[test]
    fn user_text_in_messages_stays_on_one_line() {
        assert_eq!(shown("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(one_line("YEA\r\nR\u{2028}"), "YEA  R ");
        assert_eq!(shown(&"x".repeat(500)).len(), 123);
    }

    #[test]
    fn memory_guard_refuses_more_than_available() {
        let p = Path::new("x.fits");
        assert!(memory_check(p, "image", 10, Some(100)).is_ok());
        assert!(memory_check(p, "image", 10, None).is_ok());
        let e = memory_check(
            p,
            "image of 10^12 pixels",
            8_000_000_000_000,
            Some(16 << 30),
        )
        .expect_err("refused")
        .to_string();
        assert!(
            e.starts_with("x.fits: image of 10^12 pixels needs about 8000.0 GB"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        assert!(available_memory().is_some_and(|m| m > 0));
    }

    #[test]
    fn column_roles_from_names() {
        for (n, r) in [
            ("WAVELENGTH", Role::Wave),
            ("wavelength_A", Role::Wave),
            ("Lambda (nm)", Role::Wave),
            ("LOGLAM", Role::LogWave),
            ("FLUX", Role::Flux),
            ("flux_err", Role::Err),
            ("ERR", Role::Err),
            ("ivar_err", Role::Err),
            ("MJD", Role::Time),
            ("BJD_TDB", Role::Time),
            ("time_d", Role::Time),
            ("\"YEAR\"", Role::Time),
            ("Mag", Role::Mag),
            ("Vmag", Role::Mag),
            ("RA_deg", Role::Ra),
            ("DEJ2000", Role::Dec),
            ("SUNACTIVITY", Role::Other),
            ("idx1", Role::Other),
        ] {
            assert_eq!(role(n), r, "{n}");
        }
    }

    #[test]
    fn regular_grids() {
        assert!(is_regular_grid(array![1.0, 2.0, 3.0, 4.0].view()));
        let log = array![1.0f64, 10.0, 100.0, 1000.0];
        assert!(is_regular_grid(log.view()));
        assert!(!is_regular_grid(array![1.0, 2.0, 4.0, 9.0].view()));
        assert!(!is_regular_grid(array![3.0, 2.0, 1.0].view()));
        assert!(!is_regular_grid(array![1.0, f64::NAN, 3.0].view()));
    }

    #[test]
    fn classify_prefers_spectrum_then_light_curve_then_catalog() {
        let d = array![[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]];
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (k, _) = classify_table(names(&["wave", "flux", "err"]), d.clone(), false);
        assert_eq!(k.kind(), "spectrum");
        let (k, _) = classify_table(names(&["mjd", "mag", "err"]), d.clone(), false);
        match k {
            Dataset::LightCurve(l) => assert!(l.magnitudes && l.error.is_some()),
            other => panic!("{}", other.kind()),
        }
        let (k, _) = classify_table(names(&["ra", "dec", "x"]), d.clone(), false);
        assert_eq!(k.kind(), "catalog");
        let (k, _) = classify_table(names(&["a"]), d, false);
        assert_eq!(k.kind(), "table");
        assert_eq!(k.shape(), vec![2, 3]);
    }
}
