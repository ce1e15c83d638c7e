//! The hardware limit for streaming kernels: memory bandwidth measured at the start of a
//! bench (copy and read of arrays far larger than the caches), so a kernel's GB/s can be
//! shown as a percentage of what this machine can move.

use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

#[derive(Clone, Debug, Serialize)]
pub struct Bandwidth {
    /// Bytes of the array used (each of source and destination).
    pub bytes: usize,
    /// Copy: bytes copied per second (the traffic is twice that: read + write).
    pub copy_gbps: f64,
    /// Read-only pass (a sum), one thread.
    pub read_gbps: f64,
    /// Read-only pass over all threads: the limit streaming kernels are compared with.
    pub read_parallel_gbps: f64,
    /// Triad a[i] = b[i] + s·c[i] over all threads into an already-written `a`: bytes
    /// moved (16 read + 8 written an element) per second. The limit of a streaming
    /// kernel with two inputs and one output (extinction-correction, magnitude-sum).
    #[serde(default)]
    pub triad_parallel_gbps: f64,
}

impl Bandwidth {
    /// The figures on one line, as the bench prints them on stderr after measuring.
    pub fn progress_line(&self) -> String {
        format!(
            "copy {:.2} GB/s, read {:.2} GB/s (1 thread), {:.2} GB/s (all threads), triad {:.2} GB/s",
            self.copy_gbps, self.read_gbps, self.read_parallel_gbps, self.triad_parallel_gbps
        )
    }

    /// The line of the bench report's header, `threads` being those the parallel read and
    /// the triad used (all of the machine's).
    pub fn header_line(&self, threads: usize) -> String {
        format!(
            "memory bandwidth ({} MB arrays): copy {:.2} GB/s copied, read {:.2} GB/s on 1 thread, {:.2} GB/s on {threads} threads, triad (2 reads + 1 write) {:.2} GB/s moved\n",
            self.bytes >> 20,
            self.copy_gbps,
            self.read_gbps,
            self.read_parallel_gbps,
            self.triad_parallel_gbps
        )
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Measure with arrays of `mb` megabytes (5 repeats, median).
pub fn measure(mb: usize) -> Bandwidth {
    let n = (mb.max(1) << 20) / 8;
    let src: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let mut dst = vec![0.0f64; n];
    let bytes = n * 8;
    let mut copy = Vec::new();
    let mut read = Vec::new();
    let mut read_par = Vec::new();
    let mut triad = Vec::new();
    let src2: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
    let mut sink = 0.0;
    for _ in 0..5 {
        let t = Instant::now();
        dst.copy_from_slice(&src);
        copy.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        // Four accumulators so the adds pipeline; the sum keeps the loop alive.
        let mut acc = [0.0f64; 4];
        for c in src.chunks_exact(4) {
            for k in 0..4 {
                acc[k] += c[k];
            }
        }
        sink += acc.iter().sum::<f64>();
        read.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        sink += src
            .par_chunks(1 << 16)
            .map(|c| c.iter().sum::<f64>())
            .sum::<f64>();
        read_par.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        dst.par_chunks_mut(1 << 16)
            .zip(src.par_chunks(1 << 16))
            .zip(src2.par_chunks(1 << 16))
            .for_each(|((a, b), c)| {
                for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                    *a = b + 0.5 * c;
                }
            });
        triad.push(t.elapsed().as_secs_f64());
    }
    std::hint::black_box((sink, &dst));
    let gb = bytes as f64 / 1e9;
    Bandwidth {
        bytes,
        copy_gbps: gb / median(copy),
        read_gbps: gb / median(read),
        read_parallel_gbps: gb / median(read_par),
        triad_parallel_gbps: 3.0 * gb / median(triad),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bandwidth_is_positive_and_finite() {
        let b = super::measure(8);
        for v in [
            b.copy_gbps,
            b.read_gbps,
            b.read_parallel_gbps,
            b.triad_parallel_gbps,
        ] {
            assert!(v.is_finite() && v > 0.0);
        }
    }
}
