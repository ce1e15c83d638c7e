//! Peak finding as `scipy.signal.find_peaks` does it, shared by the spectrum and the
//! peak-count analyses so that every variant counts the same peaks.

/// Peak indices as `scipy.signal.find_peaks(x, height=h)` finds them: strict local
/// maxima, a flat plateau reported at its middle (rounded down), ends never peaks,
/// height test `>=`.
pub fn find_peaks(x: &[f64], height: f64) -> Vec<usize> {
    let n = x.len();
    let mut peaks = Vec::new();
    if n < 3 {
        return peaks;
    }
    let i_max = n - 1;
    let mut i = 1;
    while i < i_max {
        if x[i - 1] < x[i] {
            let mut ahead = i + 1;
            while ahead < i_max && x[ahead] == x[i] {
                ahead += 1;
            }
            if x[ahead] < x[i] {
                let mid = (i + ahead - 1) / 2;
                if x[mid] >= height {
                    peaks.push(mid);
                }
                i = ahead;
            }
        }
        i += 1;
    }
    peaks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_follow_scipy_rules() {
        // plateau of 3 at indices 2..=4 -> middle 3; ends are never peaks.
        let x = [5.0, 1.0, 3.0, 3.0, 3.0, 1.0, 2.0, 1.0, 9.0];
        assert_eq!(find_peaks(&x, 0.0), vec![3, 6]);
        assert_eq!(find_peaks(&x, 2.5), vec![3]);
        // even plateau rounds down
        assert_eq!(find_peaks(&[0.0, 2.0, 2.0, 0.0], 0.0), vec![1]);
        // a plateau running into the end is no peak
        assert!(find_peaks(&[0.0, 2.0, 2.0], 0.0).is_empty());
    }
}
