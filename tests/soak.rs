//! Short soak: every analysis, all variants, with random parameters inside their declared
//! ranges, at quick size. Errors are fine (a parameter may not suit the data); a panic or
//! a disagreement between variants is a bug.

use astroperf::analysis::{self, Control, ParamKind, ParamSpec, ParamValue, Params};
use astroperf::bench::{self, RunConfig};
use astroperf::data::rng::Rng;
use astroperf::data::{Loaded, Origin};

/// A random value: for wide ranges, within a factor of 4 of the default (a random value in
/// 0..1e12 would only test the size guards), else uniform in the range.
/// Automatic parameters (no default) stay automatic: their ranges are open-ended
/// (e.g. a frequency up to 1e12), and values far outside the data's scale are refused or
/// meaningless rather than interesting.
fn random_value(s: &ParamSpec, r: &mut Rng) -> Option<ParamValue> {
    if s.default.is_none() || r.uniform() < 0.25 {
        return s.default.clone();
    }
    Some(match &s.kind {
        ParamKind::Float { min, max } => {
            let d = match &s.default {
                Some(ParamValue::Float(d)) => *d,
                _ => 0.5 * (min + max),
            };
            let v = if max - min > 100.0 && d != 0.0 {
                d * 4f64.powf(r.range(-1.0, 1.0))
            } else {
                r.range(*min, *max)
            };
            ParamValue::Float(v.clamp(*min, *max))
        }
        ParamKind::Int { min, max } => {
            let d = match &s.default {
                Some(ParamValue::Int(d)) => *d,
                _ => (*min).max(1),
            };
            let v = if max - min > 100 {
                ((d.max(1) as f64) * 4f64.powf(r.range(-1.0, 1.0))).round() as i64
            } else {
                min + r.below((max - min + 1) as usize) as i64
            };
            ParamValue::Int(v.clamp(*min, *max))
        }
        ParamKind::Choice(o) => ParamValue::Text(o[r.below(o.len())].to_string()),
        ParamKind::Bool => ParamValue::Bool(r.uniform() < 0.5),
    })
}

#[test]
fn random_parameters_never_panic_and_variants_agree() {
    let rounds: usize = std::env::var("ASTROPERF_SOAK_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let mut r = Rng::new(20251124);
    for a in analysis::registry() {
        let data = a.generate(a.quick_size(), 3).expect("generate");
        let loaded = Loaded::new(data, "soak", Origin::Generated);
        for round in 0..rounds {
            let specs = a.params();
            let mut p = Params::defaults(&specs);
            for s in &specs {
                let v = random_value(s, &mut r);
                p.set(s, v).expect("value inside the declared range");
            }
            let cfg = RunConfig {
                threads: 2,
                repeat: 1,
                warmup: 0,
                ..Default::default()
            };
            let what = format!("{} round {round} params {:?}", a.id(), p.to_json(&specs));
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                bench::run(*a, &loaded.data, &loaded.info, &p, &cfg, &Control::new())
            }));
            match res {
                Err(_) => panic!("panic in {what}"),
                Ok(Ok((rec, _))) => assert!(rec.agree, "{what}: {:?}", rec.disagreement),
                Ok(Err(e)) => {
                    let msg = e.to_string();
                    assert!(
                        !msg.is_empty() && !msg.contains('\n'),
                        "{what}: error '{msg}'"
                    );
                }
            }
        }
    }
}
