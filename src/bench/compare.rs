//! Compare two timed runs stage by stage (Tracy's "compare traces", a differential flame
//! graph in table form): for each stage, A's and B's median time, the ratio, and how many
//! milliseconds of the whole speed-up that stage gave. The stages of both runs are listed
//! in A's order, then those only B has; a stage missing on one side counts as 0 s there.

use super::VariantRun;

/// One stage of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct StageDelta {
    pub name: String,
    pub a_s: f64,
    pub b_s: f64,
    /// a / b: above 1 when B is faster. Infinite when B does not have the stage.
    pub ratio: f64,
    /// a − b: the seconds of the total speed-up this stage gave (negative: it cost time).
    pub gain_s: f64,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub stages: Vec<StageDelta>,
    pub a_total_s: f64,
    pub b_total_s: f64,
}

impl Comparison {
    /// The stages sorted by what they gave, the largest gain first.
    pub fn by_gain(&self) -> Vec<&StageDelta> {
        let mut v: Vec<&StageDelta> = self.stages.iter().collect();
        v.sort_by(|x, y| y.gain_s.total_cmp(&x.gain_s));
        v
    }

    /// Share of the total gain each stage gave (0..1 for stages that gained).
    pub fn share_of_gain(&self, d: &StageDelta) -> f64 {
        let total = self.a_total_s - self.b_total_s;
        if total.abs() < f64::EPSILON {
            0.0
        } else {
            d.gain_s / total
        }
    }
}

/// Compare run `a` with run `b` (e.g. naive with parallel, or the same variant of two
/// runs): per stage medians as the records hold them, the totals from the run medians.
pub fn compare(a: &VariantRun, b: &VariantRun) -> Comparison {
    let mut names: Vec<&str> = a.stages.iter().map(|s| s.name.as_str()).collect();
    for s in &b.stages {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    let time = |r: &VariantRun, n: &str| {
        r.stages
            .iter()
            .find(|s| s.name == n)
            .map_or(0.0, |s| s.median_s)
    };
    let stages = names
        .into_iter()
        .map(|n| {
            let (a_s, b_s) = (time(a, n), time(b, n));
            StageDelta {
                name: n.to_string(),
                a_s,
                b_s,
                ratio: if b_s > 0.0 { a_s / b_s } else { f64::INFINITY },
                gain_s: a_s - b_s,
            }
        })
        .collect();
    Comparison {
        stages,
        a_total_s: a.median_s,
        b_total_s: b.median_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(median: f64, stages: &[(&str, f64)]) -> VariantRun {
        let stages: Vec<serde_json::Value> = stages
            .iter()
            .map(|(n, s)| serde_json::json!({"name": n, "median_s": s}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "variant": "naive", "threads": 1, "first_s": median, "times_s": [median],
            "median_s": median, "min_s": median, "max_s": median, "mad_s": 0.0,
            "throughput": 1.0, "throughput_unit": "x/s", "stages": stages,
            "summary": {}, "agrees": true
        }))
        .expect("a variant run")
    }

    #[test]
    fn gains_add_up_to_the_speed_up_and_missing_stages_count_as_zero() {
        let a = run(
            0.100,
            &[("median", 0.080), ("label", 0.015), ("other", 0.005)],
        );
        let b = run(
            0.010,
            &[("median", 0.004), ("label", 0.005), ("merge", 0.001)],
        );
        let c = compare(&a, &b);
        let names: Vec<&str> = c.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["median", "label", "other", "merge"]);
        let total: f64 = c.stages.iter().map(|s| s.gain_s).sum();
        assert!((total - 0.090).abs() < 1e-12, "{total}");
        assert_eq!(c.by_gain()[0].name, "median");
        assert!((c.stages[0].ratio - 20.0).abs() < 1e-9);
        assert!(c.stages[2].ratio.is_infinite());
        assert!((c.share_of_gain(&c.stages[0]) - 0.076 / 0.090).abs() < 1e-9);
        assert_eq!(c.stages[3].gain_s, -0.001);
    }
}
