//! The work a stage must do whatever the variant: its compulsory memory traffic and its
//! floating-point operations, declared per stage by each analysis
//! ([`super::Analysis::stage_work`]). The bench divides them by the stage's median time to
//! place it on the roofline (achieved GB/s and GFLOP/s) and to say how close it is to the
//! machine's ceiling.
//!
//! How the numbers are counted, so all twenty analyses count alike:
//! - `bytes`: every input the stage needs read once and every output it produces written
//!   once, at the element size the data has (8 bytes per f64 or i64, 4 per f32 or u32,
//!   2 per i16). Re-reads a better algorithm could avoid are not counted: this is the
//!   floor, so the same number holds for all three variants.
//! - `flops`: the naive algorithm's floating-point operations as its formula writes them:
//!   every add, subtract and multiply counts one, so a multiply-add counts two whether or
//!   not the compiler fuses it (the machine's peak also counts an FMA as two); a divide,
//!   square root, exp, log, pow, sin, cos or asin counts one as well (they cost more
//!   cycles, but a roofline counts results, not cycles). Comparisons, min/max, abs,
//!   rounding, integer arithmetic and data movement count zero. A stage that only moves or
//!   reorders data declares 0 flops. Data-dependent work (how many sources, matches or
//!   peaks there are) is not counted: a stage whose work is mostly that is left undeclared.
//! - `working_set`: the bytes the stage touches repeatedly while it runs, which picks the
//!   cache level whose bandwidth bounds it (for a single pass over data, the data itself).

/// One stage's compulsory work (see the module documentation for how it is counted).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageWork {
    /// The stage's name, as its variants pass it to `stage!`.
    pub stage: &'static str,
    /// Bytes read and written at least once.
    pub bytes: f64,
    /// Floating-point operations of the naive algorithm.
    pub flops: f64,
    /// Bytes the stage keeps touching (chooses the cache level of the bandwidth ceiling).
    pub working_set: f64,
}

impl StageWork {
    /// A stage that reads and writes `bytes` once with `flops` operations on them: its
    /// working set is the data it streams.
    pub fn streaming(stage: &'static str, bytes: f64, flops: f64) -> Self {
        StageWork {
            stage,
            bytes,
            flops,
            working_set: bytes,
        }
    }

    /// A stage that only moves data (no floating-point arithmetic).
    pub fn moving(stage: &'static str, bytes: f64) -> Self {
        Self::streaming(stage, bytes, 0.0)
    }

    /// The same work with a smaller working set (the part re-used while it runs).
    pub fn reusing(self, working_set: f64) -> Self {
        StageWork {
            working_set,
            ..self
        }
    }

    /// Flops per byte (0 when no bytes are declared).
    pub fn intensity(&self) -> f64 {
        if self.bytes > 0.0 {
            self.flops / self.bytes
        } else {
            0.0
        }
    }
}

/// Bytes of an f64.
pub const F64: f64 = 8.0;

/// The mean and (population) standard deviation of `n` f64 in two passes: the data read
/// once (8n bytes), n adds for the sum, a subtract, multiply and add per value for the
/// squared deviations, then two divides and a square root.
pub fn mean_std(stage: &'static str, n: f64) -> StageWork {
    StageWork::streaming(stage, F64 * n, 4.0 * n + 3.0)
}
