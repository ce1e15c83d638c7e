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

/// The short form runs 2 rounds per analysis at the quick size. The long form:
/// `ASTROPERF_SOAK_SECS=300 cargo test --release --test soak -- --nocapture` keeps going
/// for that many seconds, each pass at a random size between half and twice the quick size
/// (`ASTROPERF_SOAK_ROUNDS` sets the rounds per analysis and pass).
#[test]
fn random_parameters_never_panic_and_variants_agree() {
    let rounds: usize = std::env::var("ASTROPERF_SOAK_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let secs: Option<f64> = std::env::var("ASTROPERF_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok());
    let t0 = std::time::Instant::now();
    let mut r = Rng::new(20251124);
    let mut pass = 0;
    let mut runs = 0;
    let mut problems = Vec::new();
    loop {
        soak_pass(&mut r, rounds, pass, &mut runs, &mut problems);
        pass += 1;
        if secs.is_none_or(|s| t0.elapsed().as_secs_f64() >= s) {
            break;
        }
    }
    println!(
        "soak: {pass} passes, {runs} runs of all variants in {:.0} s, {} problems",
        t0.elapsed().as_secs_f64(),
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn soak_pass(
    r: &mut Rng,
    rounds: usize,
    pass: usize,
    runs: &mut usize,
    problems: &mut Vec<String>,
) {
    for a in analysis::registry() {
        // The first pass at the quick size, later ones at random sizes around it.
        let size = if pass == 0 {
            a.quick_size()
        } else {
            ((a.quick_size() as f64) * 2f64.powf(r.range(-1.0, 1.0))).round() as usize
        }
        .max(1);
        let data = match a.generate(size, 3 + pass as u64) {
            Ok(d) => d,
            Err(e) => {
                let msg = e.to_string();
                if pass == 0 || msg.contains('\n') {
                    problems.push(format!("{} cannot generate {size}: {msg}", a.id()));
                }
                continue;
            }
        };
        let loaded = Loaded::new(data, "soak", Origin::Generated);
        for round in 0..rounds {
            *runs += 1;
            let specs = a.params();
            let mut p = Params::defaults(&specs);
            for s in &specs {
                let v = random_value(s, r);
                p.set(s, v).expect("value inside the declared range");
            }
            let cfg = RunConfig {
                threads: 2,
                repeat: 1,
                warmup: 0,
                ..Default::default()
            };
            let what = format!(
                "{} size {size} round {round} params {:?}",
                a.id(),
                p.to_json(&specs)
            );
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                bench::run(*a, &loaded.data, &loaded.info, &p, &cfg, &Control::new())
            }));
            // Every problem is collected, so one soak reports all of them.
            match res {
                Err(_) => problems.push(format!("panic in {what}")),
                Ok(Ok((rec, _))) if !rec.agree => {
                    problems.push(format!("{what}: {:?}", rec.disagreement))
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    let msg = e.to_string();
                    if msg.is_empty() || msg.contains('\n') {
                        problems.push(format!("{what}: error '{msg}'"));
                    }
                }
            }
        }
    }
}
