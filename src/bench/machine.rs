//! This machine's ceilings, the roof of the roofline: read bandwidth with working sets that
//! fit L1, L2, L3 and only DRAM, and peak double-precision FLOP/s on one core and on all
//! cores. Measured once (about two seconds) and kept in the user's cache directory, since
//! the hardware does not change between runs; `astroperf machine --remeasure` renews it.
//!
//! A ceiling is what the machine *can* do, so each one is the best of several timings, and
//! the timings of every ceiling are interleaved in rounds spread over the whole measurement:
//! a burst of other work then spoils one round of each, not every repeat of one level.
//! Work that goes on for the whole measurement still spoils them all, so the share of the
//! CPUs that other work took while it measured is kept with the figures, beside the
//! 1-minute load average at the start (see [`Machine::doubts`] in `plausibility.rs`).
//!
//! The kernels are what the ceilings promise and no more: a read is a sum with eight
//! independent 256-bit accumulators (so the adds never wait on each other and only the
//! loads limit), the FLOP peak is twelve independent fused multiply-add chains (enough to
//! cover the FMA latency times its throughput on current x86 cores). Without AVX2+FMA the
//! same loops run in portable Rust and report what they reach.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// Bandwidth (GB/s, 10⁹ bytes per second) at each level of the memory hierarchy, read by
/// every core at once from its own working set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Levels {
    pub l1: f64,
    pub l2: f64,
    pub l3: f64,
    pub dram: f64,
}

/// Peak double-precision GFLOP/s (an FMA counts two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    pub one_core: f64,
    pub all_cores: f64,
}

/// Cache sizes per level in bytes, as the kernel reports them (`/sys`), or common sizes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Caches {
    pub l1d: usize,
    pub l2: usize,
    pub l3: usize,
}

/// What `astroperf machine` prints and the roofline draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub caches: Caches,
    pub bandwidth_gbs: Levels,
    /// DRAM read bandwidth of one core alone (a serial kernel's roof).
    pub dram_one_core_gbs: f64,
    pub peak_gflops: Peak,
    /// Whether the AVX2+FMA kernels ran (otherwise the portable loops did).
    pub simd: bool,
    /// Seconds since the Unix epoch at measurement.
    pub measured_unix_s: u64,
    /// How busy the machine was just before the measurement. `None` in cache files written
    /// before it was kept, and where `/proc/loadavg` is missing: unknown, never a guess.
    #[serde(default)]
    pub load: Option<Load>,
}

/// The system's 1-minute load average (`/proc/loadavg`: runnable and waiting tasks,
/// decayed over a minute) and the CPUs online that it is spread over, read just before
/// the measurement; and what other work took of the CPUs while it measured. The load
/// counts every process on the system, this one's recent work included, so it is compared
/// with every online CPU, not only those this process may use ([`Machine::cores`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub one_min: f64,
    pub cpus: usize,
    /// The CPU time others took during the measurement. `None` in cache files written
    /// before it was kept and where `/proc/stat` or `/proc/self/stat` is unreadable; the
    /// check then falls back to the load average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<Share>,
}

/// Shares (0 to 1) of all online CPUs' time between the start and the end of a
/// measurement. Unlike the load average these leave out this process's own threads (the
/// run a user just timed keeps the 1-minute load near 2 on two cores for a minute after),
/// cover exactly the measurement rather than the minute before it, and include the time
/// a virtual machine's host gave to other guests (steal), which the load average misses.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// Busy time of all CPUs (steal included) other than this process's, over all
    /// CPUs' time: 0.25 is half a CPU's worth on two.
    pub others: f64,
    /// The part of [`Share::others`] that the host took (steal).
    pub steal: f64,
}

impl Load {
    /// The load now, if the kernel tells it, with no share yet (see [`Share::between`]).
    pub fn now() -> Option<Load> {
        let one_min = parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)?;
        let cpus = std::fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|s| count_cpu_list(&s))
            .unwrap_or_else(crate::engine::run_config::available_threads);
        Some(Load {
            one_min,
            cpus,
            during: None,
        })
    }

    /// Load per online CPU: 1.0 means every CPU had, on average, one task wanting it.
    pub fn per_cpu(&self) -> f64 {
        self.one_min / self.cpus.max(1) as f64
    }
}

/// CPU time counters at one instant, in clock ticks (USER_HZ). `/proc/stat` and
/// `/proc/self/stat` count in the same tick, and only ratios of differences are used, so
/// the tick's length (`sysconf(_SC_CLK_TCK)`) is never needed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuTimes {
    /// All CPUs' time: user, nice, system, idle, iowait, irq, softirq and steal.
    pub total: u64,
    /// All of it but idle and iowait (a CPU waiting on I/O is free to run a thread).
    pub busy: u64,
    pub steal: u64,
    /// This process's user and system time, all its threads.
    pub own: u64,
}

impl CpuTimes {
    /// The counters now; `None` if either file is missing or not as expected.
    pub fn now() -> Option<CpuTimes> {
        let (total, busy, steal) = parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?)?;
        let own = parse_self_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        Some(CpuTimes {
            total,
            busy,
            steal,
            own,
        })
    }
}

impl Share {
    /// What others took between `start` and `end`; `None` if no tick passed (nothing to
    /// divide by) or a counter went backwards. The per-process and the per-CPU counters
    /// are sampled separately by the kernel, so their difference can be a tick or two off
    /// either way: it is clamped to 0..1.
    pub fn between(start: &CpuTimes, end: &CpuTimes) -> Option<Share> {
        let total = end.total.checked_sub(start.total).filter(|t| *t > 0)? as f64;
        let busy = end.busy.checked_sub(start.busy)? as f64;
        let steal = end.steal.checked_sub(start.steal)? as f64;
        let own = end.own.checked_sub(start.own)? as f64;
        Some(Share {
            others: ((busy - own) / total).clamp(0.0, 1.0),
            steal: (steal / total).clamp(0.0, 1.0),
        })
    }
}

/// Total, busy and steal ticks from the aggregate `cpu` line of `/proc/stat`
/// ("cpu  user nice system idle iowait irq softirq steal guest guest_nice"). Guest time is
/// already inside user and nice, so it is not added again. Kernels before 2.6.11 have no
/// steal field: such a line is refused rather than read as no steal.
fn parse_proc_stat(s: &str) -> Option<(u64, u64, u64)> {
    let line = s
        .lines()
        .find(|l| l.split_whitespace().next() == Some("cpu"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|x| x.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = f[..] else {
        return None;
    };
    let total = [user, nice, system, idle, iowait, irq, softirq, steal]
        .iter()
        .try_fold(0u64, |a, x| a.checked_add(*x))?;
    Some((total, total - idle - iowait, steal))
}

/// utime + stime (fields 14 and 15) of `/proc/self/stat`. Field 2 is the command name in
/// parentheses and may itself hold spaces and parentheses, so the fields are counted from
/// after the last ')'; the first one there is field 3.
fn parse_self_stat(s: &str) -> Option<u64> {
    let (_, rest) = s.rsplit_once(')')?;
    let mut f = rest.split_whitespace().skip(14 - 3);
    let utime = f.next()?.parse::<u64>().ok()?;
    let stime = f.next()?.parse::<u64>().ok()?;
    utime.checked_add(stime)
}

/// The first field of `/proc/loadavg` ("0.68 1.19 1.64 1/82 4530").
fn parse_loadavg(s: &str) -> Option<f64> {
    s.split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .filter(|l| l.is_finite() && *l >= 0.0)
}

/// The number of CPUs in a kernel CPU list ("0-1", "0-3,8-11", "5").
fn count_cpu_list(s: &str) -> Option<usize> {
    let mut n = 0;
    for part in s.trim().split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?);
                b.checked_sub(a)? + 1
            }
            None => part.parse::<usize>().map(|_| 1).ok()?,
        };
    }
    (n > 0).then_some(n)
}

/// Which ceiling bounds a stage with this arithmetic intensity (flops per byte) and working
/// set, and that ceiling in GFLOP/s: `min(peak, intensity × bandwidth of the level that
/// holds the working set)`.
impl Machine {
    pub fn bandwidth_for(&self, working_set: usize, threads: usize) -> f64 {
        let b = &self.bandwidth_gbs;
        let per_core = |all: f64| all / self.cores.max(1) as f64 * threads.min(self.cores) as f64;
        if working_set <= self.caches.l1d {
            per_core(b.l1)
        } else if working_set <= self.caches.l2 {
            per_core(b.l2)
        } else if working_set <= self.caches.l3 {
            per_core(b.l3)
        } else if threads <= 1 {
            self.dram_one_core_gbs
        } else {
            b.dram
        }
    }

    /// A fixed, made-up two-core machine (L1 32 KiB at 400 GB/s, L2 1 MiB at 200, L3
    /// 32 MiB at 100, DRAM 20 or 12 on one core; 50 GFLOP/s per core) for tests and
    /// examples that must not measure.
    pub fn example() -> Machine {
        Machine {
            cpu: "example".into(),
            cores: 2,
            caches: Caches {
                l1d: 32 << 10,
                l2: 1 << 20,
                l3: 32 << 20,
            },
            bandwidth_gbs: Levels {
                l1: 400.0,
                l2: 200.0,
                l3: 100.0,
                dram: 20.0,
            },
            dram_one_core_gbs: 12.0,
            peak_gflops: Peak {
                one_core: 50.0,
                all_cores: 100.0,
            },
            simd: true,
            measured_unix_s: 0,
            load: None,
        }
    }

    /// [`Machine::example`] as measured beside other work, for tests of the plausibility
    /// check: L1 at 58 GB/s (below L2's 200), 26 GFLOP/s on all cores (below one core's
    /// 30), at a load average of 1.8 on 2 CPUs, other processes taking 40% of the CPUs
    /// while it measured (no steal).
    pub fn example_busy() -> Machine {
        let quiet = Machine::example();
        Machine {
            bandwidth_gbs: Levels {
                l1: 58.0,
                ..quiet.bandwidth_gbs
            },
            peak_gflops: Peak {
                one_core: 30.0,
                all_cores: 26.0,
            },
            load: Some(Load {
                one_min: 1.8,
                cpus: 2,
                during: Some(Share {
                    others: 0.40,
                    steal: 0.0,
                }),
            }),
            ..quiet
        }
    }

    pub fn peak_for(&self, threads: usize) -> f64 {
        if threads <= 1 {
            self.peak_gflops.one_core
        } else {
            self.peak_gflops.one_core * threads.min(self.cores) as f64
        }
        .min(self.peak_gflops.all_cores.max(self.peak_gflops.one_core))
    }

    /// When the figures were measured (UTC) and how busy the machine was then, in one line.
    pub fn measured_when(&self) -> String {
        let s = self.measured_unix_s;
        let (days, rem) = (s / 86_400, s % 86_400);
        let when = format!(
            "{} {:02}:{:02} UTC",
            civil_date(days),
            rem / 3600,
            (rem / 60) % 60
        );
        let Some(l) = self.load else {
            return format!("{when}, load not recorded");
        };
        let load = format!(
            "{when}, 1-minute load average {:.2} on {} CPUs",
            l.one_min, l.cpus
        );
        match l.during {
            Some(s) => format!(
                "{load}; others took {:.0}% of them while it measured (steal {:.0}%)",
                100.0 * s.others,
                100.0 * s.steal
            ),
            None => load,
        }
    }
}

/// The date (YYYY-MM-DD) `days` days after 1970-01-01, by the civil-from-days algorithm
/// (Howard Hinnant's), so the table needs no date crate.
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn caches() -> Caches {
    // index0 = L1d, index1 = L1i, index2 = L2, index3 = L3 on Linux x86.
    Caches {
        l1d: crate::sys::cache_bytes(0).unwrap_or(32 << 10),
        l2: crate::sys::cache_bytes(2).unwrap_or(512 << 10),
        l3: crate::sys::l3_bytes(),
    }
}

/// The CPU's model name (`/proc/cpuinfo`), else the architecture; a cached measurement is
/// only used on the CPU it was taken on.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Sum of `x` with eight independent accumulators of four lanes.
fn read_sum(x: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // SAFETY: AVX2 and FMA were detected at run time just above.
        return unsafe { read_sum_avx2(x) };
    }
    let mut acc = [0.0f64; 32];
    let chunks = x.chunks_exact(32);
    let tail: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for k in 0..32 {
            acc[k] += c[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// # Safety
/// The CPU must support AVX2 (checked by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn read_sum_avx2(x: &[f64]) -> f64 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_pd(); 8];
    let chunks = x.chunks_exact(32);
    let tail: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: `c` has 32 elements, so c[4k..4k+4] is in bounds for k < 8.
            let v = unsafe { _mm256_loadu_pd(c.as_ptr().add(4 * k)) };
            *a = _mm256_add_pd(*a, v);
        }
    }
    let mut lanes = [0.0f64; 4];
    let mut s = _mm256_setzero_pd();
    for a in acc {
        s = _mm256_add_pd(s, a);
    }
    // SAFETY: `lanes` holds four f64.
    unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), s) };
    lanes.iter().sum::<f64>() + tail
}

/// `iters` rounds of twelve independent FMA chains; returns a value so nothing is dropped.
fn fma_chains(iters: usize) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // SAFETY: AVX2 and FMA were detected at run time just above.
        return unsafe { fma_chains_avx2(iters) };
    }
    let mut acc = [1.0f64; 48];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = a.mul_add(0.999_999_9, 1e-9);
        }
    }
    acc.iter().sum()
}

/// Flops one round of [`fma_chains`] performs.
const FLOPS_PER_ROUND: f64 = 12.0 * 4.0 * 2.0;

/// # Safety
/// The CPU must support AVX2 and FMA (checked by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains_avx2(iters: usize) -> f64 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_pd(1.0); 12];
    let m = _mm256_set1_pd(0.999_999_9);
    let c = _mm256_set1_pd(1e-9);
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_pd(*a, m, c);
        }
    }
    let mut s = _mm256_setzero_pd();
    for a in acc {
        s = _mm256_add_pd(s, a);
    }
    let mut lanes = [0.0f64; 4];
    // SAFETY: `lanes` holds four f64.
    unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), s) };
    lanes.iter().sum()
}

/// One working set to read: an array of `n` f64 per thread, each read `passes` times in a
/// timing so that a timing moves about the target bytes.
struct Reads {
    arrays: Vec<Vec<f64>>,
    passes: usize,
}

impl Reads {
    /// `threads` arrays of `set` bytes, read until about `target` bytes per thread.
    fn new(set: usize, threads: usize, target: usize) -> Reads {
        let n = (set / 8).max(64);
        Reads {
            arrays: (0..threads.max(1))
                .map(|t| (0..n).map(|i| (i + t) as f64 * 1e-3).collect())
                .collect(),
            passes: (target / (n * 8)).max(1),
        }
    }

    /// Bytes read by `passes` passes over every array.
    fn bytes(&self, passes: usize) -> f64 {
        (passes * self.arrays.iter().map(Vec::len).sum::<usize>() * 8) as f64
    }

    /// Seconds for every thread of `pool` to sum its own array `passes` times.
    fn time_parallel(&self, pool: Option<&rayon::ThreadPool>) -> f64 {
        let t = Instant::now();
        let run = || {
            self.arrays
                .par_iter()
                .map(|a| (0..self.passes).map(|_| read_sum(a)).sum::<f64>())
                .sum::<f64>()
        };
        std::hint::black_box(match pool {
            Some(p) => p.install(run),
            None => run(),
        });
        t.elapsed().as_secs_f64()
    }

    /// Seconds for this thread alone to read all the arrays one after another, `passes`
    /// times (the DRAM ceiling of a serial kernel, from the all-core arrays).
    fn time_serial(&self, passes: usize) -> f64 {
        let t = Instant::now();
        std::hint::black_box(
            (0..passes)
                .map(|_| self.arrays.iter().map(|a| read_sum(a)).sum::<f64>())
                .sum::<f64>(),
        );
        t.elapsed().as_secs_f64()
    }
}

/// Seconds of `threads` threads each running [`fma_chains`] for `iters` rounds.
fn time_fma(threads: usize, iters: usize) -> f64 {
    let t = Instant::now();
    let s: f64 = (0..threads)
        .into_par_iter()
        .map(|_| fma_chains(iters))
        .sum();
    std::hint::black_box(s);
    t.elapsed().as_secs_f64()
}

/// GFLOP/s of `threads` threads running [`fma_chains`] for `iters` rounds in `seconds`.
fn gflops(threads: usize, iters: usize, seconds: f64) -> f64 {
    FLOPS_PER_ROUND * (iters * threads) as f64 / seconds / 1e9
}

/// Timings of each ceiling: enough that a quiet stretch of a few hundred milliseconds
/// gives every ceiling one undisturbed round, at about a second of timing on two cores.
const ROUNDS: usize = 9;

/// Measure this machine now (about two seconds on two cores, a third of it filling the
/// arrays): [`ROUNDS`] rounds, each timing every ceiling once; each ceiling is its best.
pub fn measure() -> Machine {
    measure_rounds(&mut |_| true).0
}

/// [`measure`], calling `round_done` with the fraction done after each round and stopping
/// after the round where it returns false; also whether every round ran.
fn measure_rounds(round_done: &mut dyn FnMut(f64) -> bool) -> (Machine, bool) {
    let mut load = Load::now();
    let start = CpuTimes::now();
    let caches = caches();
    let cores = crate::engine::run_config::available_threads();
    // Working sets well inside each level (halves), and 256 MB for DRAM.
    // An unoptimised (debug) build's ceilings are meaningless, only its tests need some:
    // a sixteenth of the traffic there, kept in a cache file of its own.
    let scale = if cfg!(debug_assertions) { 16 } else { 1 };
    let target = (1 << 30) / scale;
    let l3_share = (caches.l3 / 2 / cores).max(caches.l2 * 2);
    let dram_total = (256 << 20) / scale;
    let levels = [
        Reads::new(caches.l1d / 2, cores, target),
        Reads::new(caches.l2 / 2, cores, target),
        Reads::new(l3_share, cores, target / 2),
        Reads::new(dram_total / cores, cores, 2 * dram_total / cores),
    ];
    // One core reads the DRAM arrays of all cores (256 MB in all) twice.
    let serial_passes = 2;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build()
        .ok();
    let iters = 4_000_000 / scale;
    // Best seconds of L1, L2, L3, DRAM, DRAM on one core, FMA on one core, on all.
    let mut best = [f64::INFINITY; 7];
    let mut complete = true;
    for r in 0..ROUNDS {
        let round = [
            levels[0].time_parallel(pool.as_ref()),
            levels[1].time_parallel(pool.as_ref()),
            levels[2].time_parallel(pool.as_ref()),
            levels[3].time_parallel(pool.as_ref()),
            levels[3].time_serial(serial_passes),
            time_fma(1, iters),
            time_fma(cores, iters),
        ];
        for (b, t) in best.iter_mut().zip(round) {
            *b = b.min(t);
        }
        if !round_done((r + 1) as f64 / ROUNDS as f64) && r + 1 < ROUNDS {
            complete = false;
            break;
        }
    }
    if let (Some(load), Some(start), Some(end)) = (load.as_mut(), start, CpuTimes::now()) {
        load.during = Share::between(&start, &end);
    }
    let gbs = |i: usize, bytes: f64| bytes / best[i] / 1e9;
    let machine = Machine {
        cpu: cpu_name(),
        cores,
        caches,
        bandwidth_gbs: Levels {
            l1: gbs(0, levels[0].bytes(levels[0].passes)),
            l2: gbs(1, levels[1].bytes(levels[1].passes)),
            l3: gbs(2, levels[2].bytes(levels[2].passes)),
            dram: gbs(3, levels[3].bytes(levels[3].passes)),
        },
        dram_one_core_gbs: gbs(4, levels[3].bytes(serial_passes)),
        peak_gflops: Peak {
            one_core: gflops(1, iters, best[5]),
            all_cores: gflops(cores, iters, best[6]),
        },
        simd: simd(),
        measured_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        load,
    };
    (machine, complete)
}

/// Where the measurement is kept: `$XDG_CACHE_HOME/astroperf/machine.json`, else
/// `~/.cache/astroperf/machine.json` (`machine-debug.json` for a debug build, whose
/// figures must not stand for a release build's).
pub fn cache_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache_path_under(&base))
}

/// The measurement's file under the cache directory `base`.
pub fn cache_path_under(base: &std::path::Path) -> PathBuf {
    let file = if cfg!(debug_assertions) {
        "machine-debug.json"
    } else {
        "machine.json"
    };
    base.join("astroperf").join(file)
}

/// The cached measurement if there is a readable one for this CPU and core count, else a
/// new one (written to the cache; a cache that cannot be written is only a warning).
pub fn load_or_measure(remeasure: bool) -> (Machine, Option<String>) {
    load_or(cache_path(), remeasure, measure)
}

/// [`load_or_measure`] with the cache at `path` and `measure` to call when it is missing,
/// unreadable, corrupt or from another machine.
fn load_or(
    path: Option<PathBuf>,
    remeasure: bool,
    measure: impl FnOnce() -> Machine,
) -> (Machine, Option<String>) {
    if !remeasure {
        if let Some(m) = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<Machine>(&b).ok())
            .filter(|m| {
                m.cpu == cpu_name() && m.cores == crate::engine::run_config::available_threads()
            })
        {
            return (m, None);
        }
    }
    let m = measure();
    let warning = store(path.as_deref(), &m);
    (m, warning)
}

/// Measure again (as `load_or_measure(true)`) for the app's worker: `round_done` gets the
/// fraction done after each round; when it returns false the measurement stops, nothing
/// is kept and `None` is returned.
pub fn remeasure_with(
    round_done: &mut dyn FnMut(f64) -> bool,
) -> Option<(Machine, Option<String>)> {
    let (m, complete) = measure_rounds(round_done);
    complete.then(|| {
        let warning = store(cache_path().as_deref(), &m);
        (m, warning)
    })
}

/// Write `m` to the cache file at `path`; why not, if it could not be.
fn store(path: Option<&std::path::Path>, m: &Machine) -> Option<String> {
    match path {
        Some(p) => {
            let write = || -> std::io::Result<()> {
                if let Some(dir) = p.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let json = serde_json::to_vec_pretty(m).map_err(std::io::Error::other)?;
                crate::fsutil::write_bytes(p, &json)
                    .map_err(|e| std::io::Error::other(e.to_string()))
            };
            write()
                .err()
                .map(|e| format!("could not cache the measurement in {}: {e}", p.display()))
        }
        None => Some("no cache directory (HOME unset): measured, not kept".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_compute_what_they_claim() {
        let x: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(read_sum(&x), 499_500.0);
        // 12·4 chains of x ← 0.9999999·x + 1e-9 from 1: stays near 48.
        let s = fma_chains(10);
        assert!((s - 48.0).abs() < 1e-3, "{s}");
    }

    #[test]
    fn ceilings_are_ordered_and_the_level_follows_the_working_set() {
        let m = Machine::example();
        assert_eq!(m.bandwidth_for(16 << 10, 2), 400.0);
        assert_eq!(m.bandwidth_for(16 << 10, 1), 200.0);
        assert_eq!(m.bandwidth_for(512 << 10, 2), 200.0);
        assert_eq!(m.bandwidth_for(8 << 20, 2), 100.0);
        assert_eq!(m.bandwidth_for(1 << 30, 2), 20.0);
        assert_eq!(m.bandwidth_for(1 << 30, 1), 12.0);
        assert_eq!(m.peak_for(1), 50.0);
        assert_eq!(m.peak_for(2), 100.0);
    }

    #[test]
    fn the_cache_is_read_when_valid_and_renewed_when_corrupt() {
        let dir = std::env::temp_dir().join(format!("astroperf-machine-{}", std::process::id()));
        let path = dir.join("astroperf").join("machine.json");
        let here = Machine {
            cpu: cpu_name(),
            cores: crate::engine::run_config::available_threads(),
            ..Machine::example()
        };
        let fresh = Machine {
            measured_unix_s: 42,
            ..here.clone()
        };
        // Nothing cached: measured and written.
        let (m, warning) = load_or(Some(path.clone()), false, || here.clone());
        assert_eq!((m, warning), (here.clone(), None));
        // A valid cache is read, not measured.
        let (m, _) = load_or(Some(path.clone()), false, || panic!("measured"));
        assert_eq!(m, here);
        // --remeasure renews it.
        let (m, _) = load_or(Some(path.clone()), true, || fresh.clone());
        assert_eq!(m, fresh);
        // A corrupt cache is measured again and replaced.
        std::fs::write(&path, b"{ not json").ok();
        let (m, _) = load_or(Some(path.clone()), false, || here.clone());
        assert_eq!(m, here);
        let (m, _) = load_or(Some(path.clone()), false, || panic!("measured"));
        assert_eq!(m, here);
        // Another CPU's cache is not used.
        let other = serde_json::to_vec(&Machine::example()).unwrap_or_default();
        std::fs::write(&path, other).ok();
        let (m, _) = load_or(Some(path), false, || fresh.clone());
        assert_eq!(m, fresh);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_short_measurement_gives_positive_finite_ceilings() {
        let r = Reads::new(16 << 10, 2, 16 << 20);
        // Two arrays of 2,048 f64, each read 1,024 times.
        assert_eq!(r.bytes(r.passes), (2 * 2048 * 8 * 1024) as f64);
        for s in [r.time_parallel(None), r.time_serial(1)] {
            assert!(s.is_finite() && s > 0.0, "{s}");
        }
        let f = gflops(1, 10_000, time_fma(1, 10_000));
        assert!(f.is_finite() && f > 0.0, "{f}");
    }

    #[test]
    fn a_measurement_told_to_stop_stops_after_the_round() {
        let mut calls = Vec::new();
        let (m, complete) = measure_rounds(&mut |done| {
            calls.push(done);
            false
        });
        assert!(!complete);
        assert_eq!(calls, vec![1.0 / ROUNDS as f64]);
        // One round still gives ceilings (the worker discards them).
        assert!(m.bandwidth_gbs.l1 > 0.0 && m.peak_gflops.all_cores > 0.0);
    }

    #[test]
    fn the_load_average_and_the_cpu_list_are_read() {
        assert_eq!(parse_loadavg("0.68 1.19 1.64 1/82 4530\n"), Some(0.68));
        assert_eq!(parse_loadavg("nan 1 1"), None);
        assert_eq!(parse_loadavg(""), None);
        assert_eq!(count_cpu_list("0-1\n"), Some(2));
        assert_eq!(count_cpu_list("0-3,8-11"), Some(8));
        assert_eq!(count_cpu_list("5"), Some(1));
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("x"), None);
        let l = Load {
            one_min: 1.5,
            cpus: 2,
            during: None,
        };
        assert_eq!(l.per_cpu(), 0.75);
    }

    /// `/proc/stat` as this 2-CPU VM gave it, and a shorter, older line.
    const PROC_STAT: &str = "cpu  10132153 290696 3084719 46828483 16683 0 25195 175628 0 0\n\
        cpu0 5066076 145348 1542359 23414241 8341 0 12597 87814 0 0\n\
        intr 1462898 0 0\n";

    #[test]
    fn the_cpu_times_are_read_from_proc_stat() {
        let total = 10132153 + 290696 + 3084719 + 46828483 + 16683 + 25195 + 175628;
        assert_eq!(
            parse_proc_stat(PROC_STAT),
            Some((total, total - 46828483 - 16683, 175628))
        );
        // The per-CPU lines are not the aggregate.
        assert_eq!(
            parse_proc_stat("cpu0 1 2 3 4 5 6 7 8 0 0\ncpu  10 0 0 90 0 0 0 0 0 0\n"),
            Some((100, 10, 0))
        );
        // No steal field (before Linux 2.6.11), a non-number, nothing: unknown.
        assert_eq!(parse_proc_stat("cpu  1 2 3 4 5 6 7\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 2 x 4 5 6 7 8\n"), None);
        assert_eq!(parse_proc_stat(""), None);
    }

    #[test]
    fn the_own_cpu_time_is_read_after_the_command_name() {
        let fields = "S 1 2 3 4 5 6 7 8 9 10 1234 56 7 8 20 0 3 0";
        assert_eq!(
            parse_self_stat(&format!("4530 (astroperf) {fields}\n")),
            Some(1290)
        );
        // A command name with spaces and parentheses would shift a naive split.
        assert_eq!(
            parse_self_stat(&format!("4530 (a) b (c) d) {fields}")),
            Some(1290)
        );
        assert_eq!(parse_self_stat("4530 (astroperf) S 1 2 3"), None);
        assert_eq!(parse_self_stat("4530 astroperf S"), None);
    }

    #[test]
    fn the_share_of_others_leaves_out_this_process_and_counts_steal() {
        let at = |total, busy, steal, own| CpuTimes {
            total,
            busy,
            steal,
            own,
        };
        let start = at(1_000, 300, 10, 50);
        // 400 ticks of 2 CPUs: 300 busy, 200 of them ours, 40 stolen by the host.
        let end = at(1_400, 600, 50, 250);
        assert_eq!(
            Share::between(&start, &end),
            Some(Share {
                others: 0.25,
                steal: 0.1
            })
        );
        // Only our threads busy: nobody else took anything, however high the load.
        let ours = Share::between(&start, &at(1_400, 700, 10, 450));
        assert_eq!(ours.map(|s| s.others), Some(0.0));
        // Counted a tick more for us than for the CPUs: clamped, not negative.
        let over = Share::between(&start, &at(1_400, 700, 10, 460));
        assert_eq!(over.map(|s| s.others), Some(0.0));
        // No time passed, or a counter went back: unknown.
        assert_eq!(Share::between(&start, &start), None);
        assert_eq!(Share::between(&start, &at(1_400, 200, 10, 60)), None);
    }

    #[test]
    fn the_table_says_when_and_under_what_load() {
        let m = Machine {
            // 2026-12-02 14:05:24 UTC.
            measured_unix_s: 1_796_220_324,
            load: Some(Load {
                one_min: 0.31,
                cpus: 2,
                during: None,
            }),
            ..Machine::example()
        };
        assert_eq!(
            m.measured_when(),
            "2026-12-02 14:05 UTC, 1-minute load average 0.31 on 2 CPUs"
        );
        let busy = Machine::example_busy();
        assert_eq!(
            busy.measured_when(),
            "1970-01-01 00:00 UTC, 1-minute load average 1.80 on 2 CPUs; \
             others took 40% of them while it measured (steal 0%)"
        );
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_782), "2024-02-29");
    }
}
