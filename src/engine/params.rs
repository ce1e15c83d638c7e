//! Typed analysis parameters: declared once by each analysis (name, help, range,
//! default) and used by the CLI parser, the GUI editors and the JSON records alike.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub enum ParamKind {
    Float { min: f64, max: f64 },
    Int { min: i64, max: i64 },
    Choice(&'static [&'static str]),
    Bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => write!(f, "{s}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: ParamKind,
    /// `None` means "automatic": the analysis chooses from the data (e.g. a frequency grid).
    pub default: Option<ParamValue>,
}

impl ParamSpec {
    pub fn float(name: &'static str, help: &'static str, default: f64, min: f64, max: f64) -> Self {
        ParamSpec {
            name,
            help,
            kind: ParamKind::Float { min, max },
            default: Some(ParamValue::Float(default)),
        }
    }
    pub fn int(name: &'static str, help: &'static str, default: i64, min: i64, max: i64) -> Self {
        ParamSpec {
            name,
            help,
            kind: ParamKind::Int { min, max },
            default: Some(ParamValue::Int(default)),
        }
    }
    pub fn choice(
        name: &'static str,
        help: &'static str,
        default: &'static str,
        options: &'static [&'static str],
    ) -> Self {
        ParamSpec {
            name,
            help,
            kind: ParamKind::Choice(options),
            default: Some(ParamValue::Text(default.to_string())),
        }
    }
    pub fn bool(name: &'static str, help: &'static str, default: bool) -> Self {
        ParamSpec {
            name,
            help,
            kind: ParamKind::Bool,
            default: Some(ParamValue::Bool(default)),
        }
    }
    /// A float that the analysis picks automatically unless the user sets it.
    pub fn auto_float(name: &'static str, help: &'static str, min: f64, max: f64) -> Self {
        ParamSpec {
            name,
            help,
            kind: ParamKind::Float { min, max },
            default: None,
        }
    }
    /// An integer that the analysis picks automatically unless the user sets it.
    pub fn auto_int(name: &'static str, help: &'static str, min: i64, max: i64) -> Self {
        ParamSpec {
            name,
            help,
            kind: ParamKind::Int { min, max },
            default: None,
        }
    }

    /// Parse and range-check a user-supplied value.
    pub fn parse(&self, text: &str) -> Result<ParamValue> {
        let text = text.trim();
        let bad = |what: &str| Error::param(format!("parameter {}: {what}", self.name));
        match &self.kind {
            ParamKind::Float { min, max } => {
                let v: f64 = text
                    .parse()
                    .map_err(|_| bad(&format!("'{text}' is not a number")))?;
                self.check(ParamValue::Float(v))
                    .map_err(|_| bad(&format!("{v} is outside the allowed range {min}..={max}")))
            }
            ParamKind::Int { min, max } => {
                let v: i64 = text
                    .parse()
                    .map_err(|_| bad(&format!("'{text}' is not an integer")))?;
                self.check(ParamValue::Int(v))
                    .map_err(|_| bad(&format!("{v} is outside the allowed range {min}..={max}")))
            }
            ParamKind::Choice(opts) => {
                if opts.contains(&text) {
                    Ok(ParamValue::Text(text.to_string()))
                } else {
                    Err(bad(&format!("'{text}' is not one of {}", opts.join(", "))))
                }
            }
            ParamKind::Bool => match text {
                "true" | "1" | "yes" | "on" => Ok(ParamValue::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(ParamValue::Bool(false)),
                _ => Err(bad(&format!("'{text}' is not true or false"))),
            },
        }
    }

    /// Check a value against the declared kind and range.
    pub fn check(&self, v: ParamValue) -> Result<ParamValue> {
        let ok = match (&self.kind, &v) {
            (ParamKind::Float { min, max }, ParamValue::Float(x)) => {
                x.is_finite() && *x >= *min && *x <= *max
            }
            (ParamKind::Int { min, max }, ParamValue::Int(x)) => *x >= *min && *x <= *max,
            (ParamKind::Choice(o), ParamValue::Text(s)) => o.contains(&s.as_str()),
            (ParamKind::Bool, ParamValue::Bool(_)) => true,
            _ => false,
        };
        if ok {
            Ok(v)
        } else {
            Err(Error::param(format!(
                "parameter {}: {v} is not allowed ({})",
                self.name,
                self.allowed()
            )))
        }
    }

    /// What the parameter accepts, in words: "1..=100001", "one of a, b".
    pub fn allowed(&self) -> String {
        match &self.kind {
            ParamKind::Float { min, max } => format!("a number in {min}..={max}"),
            ParamKind::Int { min, max } => format!("an integer in {min}..={max}"),
            ParamKind::Choice(o) => format!("one of {}", o.join(", ")),
            ParamKind::Bool => "true or false".to_string(),
        }
    }
}

/// Resolved parameter values: every declared parameter, defaults filled in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
}

impl Params {
    /// Defaults, overridden by `given` (name, text) pairs; unknown names are an error.
    pub fn resolve(specs: &[ParamSpec], given: &[(String, String)]) -> Result<Params> {
        let mut values = BTreeMap::new();
        for s in specs {
            if let Some(d) = &s.default {
                values.insert(s.name.to_string(), d.clone());
            }
        }
        for (k, v) in given {
            let spec = specs.iter().find(|s| s.name == k).ok_or_else(|| {
                let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
                Error::param(format!(
                    "unknown parameter '{k}' (this analysis takes: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
            })?;
            values.insert(k.clone(), spec.parse(v)?);
        }
        Ok(Params { values })
    }

    pub fn defaults(specs: &[ParamSpec]) -> Params {
        Params::resolve(specs, &[]).unwrap_or_default()
    }

    /// These values with the declared default filled in for every parameter not set (a
    /// caller may pass `Params::default()`; the guard still sees the chapter's values).
    pub fn with_defaults(&self, specs: &[ParamSpec]) -> Params {
        let mut values = self.values.clone();
        for s in specs {
            if let Some(d) = &s.default {
                values
                    .entry(s.name.to_string())
                    .or_insert_with(|| d.clone());
            }
        }
        Params { values }
    }

    /// Set a typed value (from the GUI), range-checked.
    pub fn set(&mut self, spec: &ParamSpec, v: Option<ParamValue>) -> Result<()> {
        match v {
            Some(v) => {
                let v = spec.check(v)?;
                self.values.insert(spec.name.to_string(), v);
            }
            None => {
                self.values.remove(spec.name);
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    /// A float parameter (ints are widened); `None` when automatic.
    pub fn opt_f64(&self, name: &str) -> Option<f64> {
        match self.values.get(name)? {
            ParamValue::Float(x) => Some(*x),
            ParamValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn f64(&self, name: &str) -> Result<f64> {
        self.opt_f64(name)
            .ok_or_else(|| Error::param(format!("parameter {name} is missing")))
    }

    pub fn opt_i64(&self, name: &str) -> Option<i64> {
        match self.values.get(name)? {
            ParamValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn i64(&self, name: &str) -> Result<i64> {
        self.opt_i64(name)
            .ok_or_else(|| Error::param(format!("parameter {name} is missing")))
    }

    pub fn usize(&self, name: &str) -> Result<usize> {
        let v = self.i64(name)?;
        usize::try_from(v).map_err(|_| Error::param(format!("parameter {name} must be >= 0")))
    }

    pub fn str(&self, name: &str) -> Result<&str> {
        match self.values.get(name) {
            Some(ParamValue::Text(s)) => Ok(s),
            _ => Err(Error::param(format!("parameter {name} is missing"))),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool> {
        match self.values.get(name) {
            Some(ParamValue::Bool(b)) => Ok(*b),
            _ => Err(Error::param(format!("parameter {name} is missing"))),
        }
    }

    /// Values as a JSON object (automatic ones as "auto").
    pub fn to_json(&self, specs: &[ParamSpec]) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        for s in specs {
            let v = match self.values.get(s.name) {
                Some(v) => serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                None => serde_json::Value::String("auto".into()),
            };
            m.insert(s.name.to_string(), v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_checks_names_and_ranges() {
        let specs = vec![
            ParamSpec::int("window", "w", 101, 3, 10_001),
            ParamSpec::float("k", "k", 3.0, 0.0, 100.0),
            ParamSpec::choice("m", "m", "a", &["a", "b"]),
        ];
        let p = Params::resolve(&specs, &[("window".into(), "51".into())]).expect("valid");
        assert_eq!(p.usize("window").expect("int"), 51);
        assert_eq!(p.f64("k").expect("float"), 3.0);
        assert!(Params::resolve(&specs, &[("window".into(), "2".into())]).is_err());
        assert!(Params::resolve(&specs, &[("k".into(), "abc".into())]).is_err());
        assert!(Params::resolve(&specs, &[("m".into(), "c".into())]).is_err());
        assert!(Params::resolve(&specs, &[("zzz".into(), "1".into())]).is_err());
    }
}
