//! Which SIMD paths the CPU can take, asked in one place. The kernels compile their AVX2
//! (and AVX2 + FMA) bodies with `#[target_feature]` and dispatch at run time with these
//! checks; std caches the CPUID answer, so a check is one atomic load and may sit in a
//! per-block dispatch. On other architectures both are `false` and the portable bodies
//! run.

/// The CPU supports AVX2.
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The CPU supports AVX-512F (8 f64 lanes; min/max and compares on them).
#[inline]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The CPU supports AVX-512F and AVX-512DQ (`vfpclasspd`, 64-bit mask conversions).
#[inline]
pub fn has_avx512_dq() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        has_avx512() && std::arch::is_x86_feature_detected!("avx512dq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The CPU supports AVX2 and FMA (the fused multiply-add paths need both).
#[inline]
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        has_avx2() && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
