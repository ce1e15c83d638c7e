//! A small counter-based random source. Each fixed-size block of a random workload
//! gets its own stream derived from (seed, block index), so the numbers do not depend
//! on which thread draws them: naive, vectorized and parallel variants, at any thread
//! count, see identical samples.

/// SplitMix64 finaliser: a bijective mixer with good avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The SplitMix64 increment: the i-th draw (from 1) of a stream whose counter is `c`
/// is `mix64(c + i·GAMMA)`, so SIMD kernels can compute any draw directly.
pub const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A fast generator (SplitMix64 stream) seeded from (seed, block).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    spare_normal: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self::for_block(seed, 0)
    }

    /// The stream for block `block` of a workload seeded with `seed`.
    pub fn for_block(seed: u64, block: u64) -> Self {
        Rng {
            state: mix64(seed ^ mix64(block.wrapping_add(0x9e37_79b9_7f4a_7c15))),
            spare_normal: None,
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// The stream's counter: the next draw is `mix64(counter() + GAMMA)` (see [`GAMMA`]).
    #[inline]
    pub fn counter(&self) -> u64 {
        self.state
    }

    /// Skip `n` draws of `next_u64` (and so of `uniform`) in O(1).
    #[inline]
    pub fn skip(&mut self, n: u64) {
        self.state = self.state.wrapping_add(n.wrapping_mul(GAMMA));
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    #[inline]
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Marsaglia polar method).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let m = (-2.0 * s.ln() / s).sqrt();
                self.spare_normal = Some(v * m);
                return u * m;
            }
        }
    }

    /// Integer in 0..n (n > 0).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_independent_and_reproducible() {
        let a: Vec<u64> = (0..4).map(|_| Rng::for_block(7, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::for_block(7, 3).next_u64(),
            Rng::for_block(7, 4).next_u64()
        );
    }

    #[test]
    fn counter_gives_any_draw_directly() {
        let mut r = Rng::for_block(11, 5);
        let c = r.counter();
        let draws: Vec<u64> = (0..10).map(|_| r.next_u64()).collect();
        for (i, d) in draws.iter().enumerate() {
            assert_eq!(
                *d,
                mix64(c.wrapping_add((i as u64 + 1).wrapping_mul(GAMMA)))
            );
        }
        let mut s = Rng::for_block(11, 5);
        s.skip(7);
        assert_eq!(s.next_u64(), draws[7]);
    }

    #[test]
    fn uniform_and_normal_moments() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let u: f64 = (0..n).map(|_| r.uniform()).sum::<f64>() / n as f64;
        assert!((u - 0.5).abs() < 0.01, "mean {u}");
        let z: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let m = z.iter().sum::<f64>() / n as f64;
        let v = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.02, "mean {m} var {v}");
    }
}
