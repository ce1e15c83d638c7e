//! Facts about the machine and this process that several layers ask: the page size, the
//! cache sizes (the roofline's levels; where a kernel switches to streaming stores), the
//! memory available to a new allocation (the loaders' and the guard's refusals), and the
//! process' resident memory (the streaming analyses report it). Linux answers from
//! `/proc` and `/sys`; elsewhere the memory facts are `None`, the caches fall back to
//! typical sizes, and the callers skip what needs them.

use std::sync::OnceLock;

/// The size of a virtual-memory page in bytes (`sysconf(_SC_PAGESIZE)`, asked once):
/// 4 KiB on most x86-64 Linux machines, 16 or 64 KiB on some ARM ones.
pub fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        #[cfg(unix)]
        {
            // SAFETY: sysconf only reads a system constant; it has no preconditions.
            let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if p > 0 {
                return p as usize;
            }
        }
        4096
    })
}

/// Bytes of memory available to a new allocation (`MemAvailable` in /proc/meminfo);
/// `None` where the system does not say (then only the file-length checks apply).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

/// The `MemAvailable` line of a /proc/meminfo text, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Resident and peak resident memory of this process in MB (Linux /proc/self/status).
pub fn memory_mb() -> (Option<f64>, Option<f64>) {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    let field = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The size in bytes of cache level `index` as Linux lists it for CPU 0
/// (`/sys/devices/system/cpu/cpu0/cache/index{index}/size`: 0 = L1d, 1 = L1i, 2 = L2,
/// 3 = L3 on x86); `None` where the system does not say.
pub fn cache_bytes(index: usize) -> Option<usize> {
    let p = format!("/sys/devices/system/cpu/cpu0/cache/index{index}/size");
    parse_cache_size(&std::fs::read_to_string(p).ok()?)
}

/// A sysfs cache size (`32K`, `512K`, `32M` or plain bytes) in bytes.
pub fn parse_cache_size(text: &str) -> Option<usize> {
    let s = text.trim();
    let (num, mul) = match s.strip_suffix('K') {
        Some(n) => (n, 1024),
        None => match s.strip_suffix('M') {
            Some(n) => (n, 1 << 20),
            None => (s, 1),
        },
    };
    num.parse::<usize>().ok()?.checked_mul(mul)
}

/// The last-level cache (L3) in bytes, asked once; 8 MiB where the system does not say.
pub fn l3_bytes() -> usize {
    static L3: OnceLock<usize> = OnceLock::new();
    *L3.get_or_init(|| cache_bytes(3).unwrap_or(8 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_parse_as_sysfs_writes_them() {
        assert_eq!(parse_cache_size("32K\n"), Some(32 << 10));
        assert_eq!(parse_cache_size("32M"), Some(32 << 20));
        assert_eq!(parse_cache_size("1024"), Some(1024));
        assert_eq!(parse_cache_size("lots"), None);
        assert_eq!(parse_cache_size(""), None);
    }

    #[test]
    fn page_size_is_a_power_of_two() {
        let p = page_size();
        assert!(p >= 4096 && p.is_power_of_two(), "{p}");
    }
}
