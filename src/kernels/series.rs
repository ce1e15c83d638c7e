//! Power-series coefficients shared by the analyses that evaluate exp and expm1 as
//! polynomials.

/// 1/n! for n = 0..=13: the Taylor coefficients of exp, shared by the exp and expm1
/// polynomials of magnitude-sum and planck.
pub const INV_FACTORIAL: [f64; 14] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];
