//! What a light curve's sampling lets a periodogram say: the step of regular sampling
//! (whose Nyquist frequency 1/(2·step) bounds the frequencies it can tell apart), the
//! spectral window at a frequency (how strongly the sampling itself repeats there), and
//! the aliases of a peak: f ± k·fs for a frequency fs at which the sampling repeats look
//! the same to the data, so a peak with a strong partner there may be either.

/// An interval is a whole number of steps when it is within this fraction of a step of one.
const REGULAR_TOL: f64 = 1e-3;

/// The spectral window at which a sampling frequency makes aliases worth a warning.
pub const STRONG_WINDOW: f64 = 0.5;

/// A partner peak with at least this fraction of the best peak's power makes it a likely
/// alias.
pub const ALIAS_POWER_RATIO: f64 = 0.5;

/// The step of regularly sampled (sorted) times: every positive interval a whole number of
/// the smallest one (gaps allowed). `None` for irregular sampling or fewer than two
/// positive intervals.
pub fn regular_step(t: &[f64]) -> Option<f64> {
    let positive = || t.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0.0);
    let step = positive().fold(f64::INFINITY, f64::min);
    if positive().count() < 2 || !step.is_finite() {
        return None;
    }
    positive()
        .all(|d| {
            let m = d / step;
            (m - m.round()).abs() < REGULAR_TOL
        })
        .then_some(step)
}

/// The spectral window |Σ exp(2πi·f·t)| / N: 1 when all times are whole periods 1/f
/// apart, about 1/√N for random times.
pub fn window_power(t: &[f64], f: f64) -> f64 {
    if t.is_empty() {
        return 0.0;
    }
    let t0 = t[0];
    let (c, s) = t.iter().fold((0.0, 0.0), |(c, s), &ti| {
        let (sn, cs) = (std::f64::consts::TAU * f * (ti - t0)).sin_cos();
        (c + cs, s + sn)
    });
    c.hypot(s) / t.len() as f64
}

/// A partner of the best peak at `frequency` = |best ± k·sampling| with `ratio` of its
/// power.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alias {
    pub frequency: f64,
    pub sampling: f64,
    pub k: u32,
    pub ratio: f64,
}

/// The partners of the peak at `best` (an index into the evenly spaced `freqs`) among the
/// aliases |f ± k·fs|, k = 1, 2, for each sampling frequency fs: those inside the grid
/// whose local maximum (±3 grid steps) has at least [`ALIAS_POWER_RATIO`] of the best
/// power. `power` is maximised.
pub fn aliases(freqs: &[f64], power: &[f64], best: usize, sampling: &[f64]) -> Vec<Alias> {
    let n = freqs.len();
    if n < 2 || best >= n || power.len() != n {
        return Vec::new();
    }
    let (f0, df) = (freqs[0], (freqs[n - 1] - freqs[0]) / (n - 1) as f64);
    let (fb, pb) = (freqs[best], power[best]);
    let mut found: Vec<Alias> = Vec::new();
    for &fs in sampling {
        for k in 1..=2u32 {
            for cand in [(fb - k as f64 * fs).abs(), fb + k as f64 * fs] {
                if cand < f0 || cand > freqs[n - 1] || (cand - fb).abs() <= 3.0 * df {
                    continue;
                }
                let at = ((cand - f0) / df).round() as usize;
                let (lo, hi) = (at.saturating_sub(3), (at + 3).min(n - 1));
                let p = power[lo..=hi]
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .fold(f64::NEG_INFINITY, f64::max);
                let ratio = p / pb;
                if ratio >= ALIAS_POWER_RATIO
                    && !found.iter().any(|a| (a.frequency - cand).abs() <= 3.0 * df)
                {
                    found.push(Alias {
                        frequency: cand,
                        sampling: fs,
                        k,
                        ratio,
                    });
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_steps_with_gaps_and_irregular_times() {
        let years: Vec<f64> = (1700..2009).map(f64::from).collect();
        assert_eq!(regular_step(&years), Some(1.0));
        let gappy = [0.0, 0.5, 1.0, 3.0, 3.5, 10.0];
        assert_eq!(regular_step(&gappy), Some(0.5));
        let random = [0.0, 0.31, 0.77, 1.2, 2.9];
        assert_eq!(regular_step(&random), None);
        assert_eq!(regular_step(&[1.0, 2.0]), None);
    }

    #[test]
    fn window_is_one_at_the_sampling_frequency() {
        let t: Vec<f64> = (0..100).map(|i| 3.0 + 2.0 * i as f64).collect();
        assert!((window_power(&t, 0.5) - 1.0).abs() < 1e-12);
        assert!(window_power(&t, 0.123) < 0.2);
    }

    #[test]
    fn the_partner_of_an_alias_is_found() {
        // A peak at 0.09 and its alias at 1.09 (sampling 1): the one at 1.09 is flagged.
        let freqs: Vec<f64> = (0..1200).map(|i| i as f64 * 0.001).collect();
        let power: Vec<f64> = freqs
            .iter()
            .map(|f| {
                let g = |c: f64| (-((f - c) / 0.002).powi(2)).exp();
                0.9 * g(0.09) + g(1.09)
            })
            .collect();
        let best = 1090;
        let a = aliases(&freqs, &power, best, &[1.0]);
        assert_eq!(a.len(), 1, "{a:?}");
        assert!((a[0].frequency - 0.09).abs() < 1e-9 && a[0].k == 1);
        // no partner: no alias
        let lone: Vec<f64> = freqs
            .iter()
            .map(|f| (-((f - 0.3) / 0.002f64).powi(2)).exp())
            .collect();
        assert!(aliases(&freqs, &lone, 300, &[1.0]).is_empty());
    }
}
