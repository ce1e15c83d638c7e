//! The contract, checked for every analysis in the registry: unique ids, valid default
//! parameters, a generated quick-size input, three variants that agree, per-stage
//! timings, and a run record that serialises to the documented JSON shape.

use astroperf::analysis::{self, Control, Params};
use astroperf::bench::{self, RunConfig};
use astroperf::data::{Loaded, Origin};

#[test]
fn ids_are_unique_kebab_case_and_documented() {
    let mut ids: Vec<&str> = analysis::registry().iter().map(|a| a.id()).collect();
    for id in &ids {
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{id} is not kebab-case"
        );
        assert!(analysis::find(id).is_some());
    }
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate analysis ids");
    for a in analysis::registry() {
        assert!(!a.title().is_empty() && !a.help().is_empty() && !a.section().is_empty());
        assert!(a.quick_size() <= a.default_size(), "{}", a.id());
        for p in a.params() {
            if let Some(d) = &p.default {
                p.check(d.clone())
                    .unwrap_or_else(|e| panic!("{}: default of {} invalid: {e}", a.id(), p.name));
            }
        }
    }
}

#[test]
fn every_analysis_runs_all_variants_that_agree_at_quick_size() {
    for a in analysis::registry() {
        let data = a
            .generate(a.quick_size(), 7)
            .unwrap_or_else(|e| panic!("{}: generate failed: {e}", a.id()));
        let loaded = Loaded::new(data, "test", Origin::Generated);
        let params = Params::defaults(&a.params());
        let cfg = RunConfig {
            threads: 2,
            repeat: 1,
            warmup: 0,
            ..Default::default()
        };
        let (rec, outs) = bench::run(
            *a,
            &loaded.data,
            &loaded.info,
            &params,
            &cfg,
            &Control::new(),
        )
        .unwrap_or_else(|e| panic!("{}: run failed: {e}", a.id()));
        assert!(rec.agree, "{}: {:?}", a.id(), rec.disagreement);
        assert_eq!(rec.runs.len(), 3, "{}", a.id());
        assert_eq!(outs.len(), 3);
        for r in &rec.runs {
            assert!(
                !r.stages.is_empty(),
                "{} {}: no stages timed",
                a.id(),
                r.variant
            );
            assert!(r.median_s > 0.0);
        }
        assert!(
            !outs[2].1.artifacts.is_empty() || !outs[2].1.summary.is_empty(),
            "{}",
            a.id()
        );
        let json = serde_json::to_value(&rec).expect("serialise");
        for key in ["analysis", "input", "params", "agree", "runs"] {
            assert!(json.get(key).is_some(), "{}: missing {key}", a.id());
        }
    }
}

#[test]
fn cancel_stops_a_run_with_an_error() {
    let a = analysis::find("spectrum-pipeline").expect("registered");
    let data = a.generate(a.default_size(), 1).expect("generate");
    let loaded = Loaded::new(data, "test", Origin::Generated);
    let control = Control::new();
    control.cancel();
    let err = bench::run(
        a,
        &loaded.data,
        &loaded.info,
        &Params::defaults(&a.params()),
        &RunConfig::default(),
        &control,
    )
    .expect_err("a cancelled run fails");
    assert!(matches!(err, astroperf::Error::Cancelled));
}
