//! Edges as scipy handles them: the `reflect` (half-sample symmetric) rule that the 3x3
//! median, the detection filters and the running windows apply at the ends of a row.

/// scipy `reflect` (half-sample symmetric) index for `k` in `-n..2n`.
#[inline]
pub fn reflect(k: isize, n: usize) -> usize {
    let n = n as isize;
    let r = if k < 0 {
        -k - 1
    } else if k >= n {
        2 * n - k - 1
    } else {
        k
    };
    r.clamp(0, n - 1) as usize
}

/// `x` padded so that window `i` of width `w` (scipy origin 0) is `padded[i..i + w]`.
pub fn pad_reflect(x: &[f64], w: usize) -> Vec<f64> {
    let n = x.len();
    let left = (w / 2) as isize;
    (0..n + w - 1)
        .map(|j| x[reflect(j as isize - left, n)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_scipy_rule() {
        assert_eq!(reflect(-1, 5), 0);
        assert_eq!(reflect(-2, 5), 1);
        assert_eq!(reflect(5, 5), 4);
        assert_eq!(reflect(6, 5), 3);
        assert_eq!(
            pad_reflect(&[1.0, 2.0, 3.0], 3),
            vec![1.0, 1.0, 2.0, 3.0, 3.0]
        );
    }
}
