//! `astroperf machine`: this machine's ceilings (cache sizes, read bandwidth at each
//! memory level, peak FLOP/s), measured once and cached, as a table or JSON; with a warning
//! on stderr, one line a reason, when the figures look measured on a busy machine.

use crate::bench::machine::{self, Machine};
use crate::bench::plausibility;
use crate::Result;

pub(super) fn machine(json: bool, remeasure: bool) -> Result<u8> {
    let (m, warning) = machine::load_or_measure(remeasure);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
    } else {
        print!("{}", table(&m));
    }
    // After the table, so the figures the reasons name are just above them.
    for line in plausibility::warning_lines(&m.doubts(None)) {
        eprintln!("{line}");
    }
    Ok(0)
}

fn kib(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

/// The measurement as the plain-text table `astroperf machine` prints.
fn table(m: &Machine) -> String {
    let b = &m.bandwidth_gbs;
    let cached = machine::cache_path().map_or_else(
        || "not cached (no HOME)".to_string(),
        |p| p.display().to_string(),
    );
    let kernels = if m.simd { "AVX2+FMA" } else { "portable" };
    [
        format!("cpu:        {}", m.cpu),
        format!("cores:      {}", m.cores),
        format!(
            "caches:     L1d {}, L2 {}, L3 {}",
            kib(m.caches.l1d),
            kib(m.caches.l2),
            kib(m.caches.l3)
        ),
        format!(
            "bandwidth:  L1 {:.1} GB/s, L2 {:.1} GB/s, L3 {:.1} GB/s, DRAM {:.1} GB/s (all cores)",
            b.l1, b.l2, b.l3, b.dram
        ),
        format!(
            "            DRAM {:.1} GB/s (one core)",
            m.dram_one_core_gbs
        ),
        format!(
            "peak:       {:.1} GFLOP/s one core, {:.1} GFLOP/s all cores ({kernels} kernels)",
            m.peak_gflops.one_core, m.peak_gflops.all_cores
        ),
        format!("measured:   {}", m.measured_when()),
        format!("cached in:  {cached} (astroperf machine --remeasure renews it)"),
    ]
    .join("\n")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_every_ceiling() {
        let t = table(&Machine::example());
        for s in [
            "L1d 32 KiB",
            "L2 1 MiB",
            "L3 32 MiB",
            "DRAM 20.0 GB/s",
            "DRAM 12.0",
        ] {
            assert!(t.contains(s), "{s} missing in\n{t}");
        }
        assert!(
            t.contains("50.0 GFLOP/s one core, 100.0 GFLOP/s all cores"),
            "{t}"
        );
        assert!(
            t.contains("measured:   1970-01-01 00:00 UTC, load not recorded"),
            "{t}"
        );
        // The share others took while it measured, beside the load average.
        let t = table(&Machine::example_busy());
        assert!(
            t.contains(
                "measured:   1970-01-01 00:00 UTC, 1-minute load average 1.80 on 2 CPUs; \
                 others took 40% of them while it measured (steal 0%)"
            ),
            "{t}"
        );
    }
}
