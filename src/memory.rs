//! How much memory a run takes: a counting global allocator (live bytes, their high-water
//! mark and the number of allocations, in relaxed atomics so rayon workers' allocations
//! count for the run they serve) and the process's resident-set high-water mark. Small
//! allocations are batched per thread (see [`BATCH_BYTES`]): peaks are exact for large
//! buffers and within 64 KiB per thread for small ones.
//!
//! A run or a stage is measured between a [`Mark`] and [`Mark::finish`]: its peak is the
//! highest live-byte count reached in between, less what was live at the mark, so it is
//! what the run itself held at most. Marks nest (a stage inside a call inside a run): each
//! mark lowers the global high-water mark to the present and [`Mark::finish`] raises it
//! back to the larger of the two, so the outer measurement still sees the inner peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};

/// Bytes live now (requested sizes, not the allocator's rounding). Signed: memory
/// allocated while counting was off may be freed while it is on.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The highest `LIVE` since the innermost open [`Mark`].
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// Allocations (alloc, alloc_zeroed and realloc calls) since the process started.
static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Counting can be switched off to measure what it costs (the bench's overhead check).
static COUNTING: AtomicBool = AtomicBool::new(true);

/// Small allocations are counted per thread and added to the shared counters in batches:
/// a naive kernel that allocates per pixel would otherwise pay two contended atomic
/// operations per allocation (18% of ccd-pipeline's naive run in `bench --overhead`).
/// Allocations of this many bytes or more, and every batch this large, go to the shared
/// counters at once, so a peak is exact to within this much per thread.
const BATCH_BYTES: isize = 64 << 10;
/// A thread's pending allocation count is added to the shared one every this many.
const BATCH_ALLOCS: u64 = 256;

thread_local! {
    /// This thread's bytes and allocations not yet added to `LIVE` and `ALLOCS`.
    static PENDING: Cell<(isize, u64)> = const { Cell::new((0, 0)) };
}

/// The system allocator with counters; installed as the global allocator in `lib.rs`.
/// Large blocks are also offered transparent huge pages (see [`prefer_huge_pages`]).
pub struct CountingAlloc;

/// Blocks of at least this many bytes ask for transparent huge pages: numpy's threshold
/// (it calls `madvise(MADV_HUGEPAGE)` on every array of 4 MiB or more since 1.20).
const HUGE_FROM: usize = 4 << 20;

/// Ask the kernel to back the 2 MiB-aligned part of a fresh large block with transparent
/// huge pages, as numpy does for its arrays. With the kernel's THP in `madvise` mode (the
/// default on most distributions, and this machine's) a large buffer otherwise gets
/// 4 KiB pages: 512 first-touch faults and 512 TLB entries where one would do. Measured
/// on the 4096² frame copy and the 1e6-star and 2000-point outputs (README, Speed).
#[inline]
fn prefer_huge_pages(p: *mut u8, size: usize) {
    #[cfg(target_os = "linux")]
    if size >= HUGE_FROM && !p.is_null() {
        const HUGE: usize = 2 << 20;
        let start = (p as usize).div_ceil(HUGE) * HUGE;
        let end = (p as usize + size) / HUGE * HUGE;
        if end > start {
            // SAFETY: [start, end) lies inside the block just allocated; MADV_HUGEPAGE only
            // changes how the kernel backs its pages, never their contents. A failure
            // (THP off, an old kernel) leaves ordinary pages and is ignored.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (p, size);
}

/// Add `bytes` and `allocs` to the shared counters and raise the peak if they did.
#[inline]
fn publish(bytes: isize, allocs: u64) {
    if allocs > 0 {
        ALLOCS.fetch_add(allocs, Ordering::Relaxed);
    }
    if bytes != 0 {
        let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
        // A load first: most allocations do not set a new peak, and a plain load does not
        // take the cache line from the other cores.
        if now > PEAK.load(Ordering::Relaxed) {
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
    }
}

/// Count `bytes` (negative for a free) and `allocs` on this thread, publishing when the
/// batch is full or the change is large.
#[inline]
fn count(bytes: isize, allocs: u64) {
    if !COUNTING.load(Ordering::Relaxed) {
        return;
    }
    if bytes.abs() >= BATCH_BYTES {
        return publish(bytes, allocs);
    }
    // `try_with`: during thread teardown the slot may be gone; count directly then.
    let batched = PENDING.try_with(|p| {
        let (b, a) = p.get();
        let (b, a) = (b + bytes, a + allocs);
        if b.abs() >= BATCH_BYTES || a >= BATCH_ALLOCS {
            p.set((0, 0));
            publish(b, a);
        } else {
            p.set((b, a));
        }
    });
    if batched.is_err() {
        publish(bytes, allocs);
    }
}

/// Add this thread's pending counts to the shared ones (marks do this; a run's worker
/// threads do it when they end).
pub fn flush_thread() {
    let _ = PENDING.try_with(|p| {
        let (b, a) = p.replace((0, 0));
        publish(b, a);
    });
}

#[inline]
fn grew(by: usize) {
    count(by as isize, 1);
}

#[inline]
fn shrank(by: usize) {
    count(-(by as isize), 0);
}

// SAFETY: every method forwards to `System` with the caller's layout and pointer unchanged;
// the counters are plain atomics and the huge-page advice only changes how pages are
// backed, so neither affects what is allocated.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as it is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
            prefer_huge_pages(p, layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
            prefer_huge_pages(p, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, passed on as it is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            prefer_huge_pages(p, new_size);
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                count(-((layout.size() - new_size) as isize), 1);
            }
        }
        p
    }
}

/// Fix glibc malloc's thresholds for the process: blocks up to 64 MiB come from (and go
/// back to) the heap, and up to 128 MiB of freed heap is kept for the next call. By
/// default glibc adjusts its mmap threshold as blocks are freed, and after some sequences
/// of sizes (the bench's suite, an app session) each call's 8–16 MB output is mapped
/// afresh and every page faulted and zeroed again: extinction-correction at 1e6 stars
/// measured 737 µs parallel after four other analyses in one `bench`, 389 µs with these
/// thresholds (`perf stat`: 3,500 fewer page faults). numpy's process, which the
/// comparisons run beside, keeps its blocks on the heap after the first call. Called
/// once at start by the `astroperf` binary; a no-op outside glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other
    // thread exists, and a refused value leaves glibc's default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

/// Turn counting on or off (on by default). Off, the allocator costs one relaxed load.
pub fn set_counting(on: bool) {
    COUNTING.store(on, Ordering::Relaxed);
}

pub fn is_counting() -> bool {
    COUNTING.load(Ordering::Relaxed)
}

/// Bytes live in the heap now.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed).max(0) as usize
}

/// The start of a measured interval (a run, a call or a stage).
#[derive(Debug)]
#[must_use = "finish the mark to read what the interval used"]
pub struct Mark {
    live: isize,
    allocs: u64,
    /// The high-water mark of the enclosing interval, restored (raised) on finish.
    outer_peak: isize,
}

/// What an interval used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// The most heap bytes held at once above what was live at the mark.
    pub peak_bytes: u64,
    /// Allocations made in the interval (by every thread).
    pub allocs: u64,
}

impl Usage {
    /// The larger peak and the sum of allocations (the same stage over several calls).
    pub fn max_peak(self, other: Usage) -> Usage {
        Usage {
            peak_bytes: self.peak_bytes.max(other.peak_bytes),
            allocs: self.allocs + other.allocs,
        }
    }
}

impl Mark {
    pub fn now() -> Mark {
        flush_thread();
        let live = LIVE.load(Ordering::Relaxed);
        let outer_peak = PEAK.swap(live, Ordering::Relaxed);
        Mark {
            live,
            allocs: ALLOCS.load(Ordering::Relaxed),
            outer_peak,
        }
    }

    pub fn finish(self) -> Usage {
        flush_thread();
        let inner_peak = PEAK.fetch_max(self.outer_peak, Ordering::Relaxed);
        Usage {
            peak_bytes: inner_peak.saturating_sub(self.live).max(0) as u64,
            allocs: ALLOCS.load(Ordering::Relaxed).saturating_sub(self.allocs),
        }
    }
}

/// The process's resident-set high-water mark (`VmHWM`), in bytes; `None` off Linux.
pub fn rss_high_water() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Lower the resident-set high-water mark to the present RSS (Linux's `clear_refs` 5), so
/// the next [`rss_high_water`] is this run's. Returns false where the kernel refuses.
pub fn reset_rss_high_water() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_counts_its_bytes_and_nested_marks_keep_the_outer_peak() {
        let outer = Mark::now();
        let inner = Mark::now();
        let v = vec![1u8; 8 << 20];
        std::hint::black_box(&v);
        drop(v);
        let inner_use = inner.finish();
        let small = vec![0u64; 1000];
        std::hint::black_box(&small);
        let outer_use = outer.finish();
        // Other test threads allocate too; bounds are generous but would fail without
        // counting (0) or without the nesting (outer would see only the small vector).
        assert!(inner_use.peak_bytes >= 8 << 20, "{inner_use:?}");
        assert!(inner_use.peak_bytes < 64 << 20, "{inner_use:?}");
        assert!(outer_use.peak_bytes >= 8 << 20, "{outer_use:?}");
        assert!(inner_use.allocs >= 1 && outer_use.allocs >= 2);
    }

    #[test]
    fn rss_high_water_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let hwm = rss_high_water().expect("VmHWM");
            assert!(hwm > 1 << 20, "{hwm}");
        }
    }
}
