//! Phase folding of a light curve, shared by the analyses that fold and the app's
//! light-curve view.

/// Phase in [0, 1) of each time at a period (the fold every light-curve view uses).
pub fn fold_phase(time: &[f64], period: f64, t0: f64) -> Vec<f64> {
    time.iter()
        .map(|t| ((t - t0) / period).rem_euclid(1.0))
        .collect()
}
