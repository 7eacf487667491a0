//! Fails if the SIMD kernels silently fell back to a narrower path.
//!
//! This repository's `.cargo/config.toml` builds with `-C target-cpu=native`
//! and `--cfg backprop_native`. Under that cfg, a CPU with AVX2 and FMA must
//! have produced a build with both target features enabled, so that
//! `wide::f32x8` is one 256-bit register with fused multiply-add; if the
//! flags were lost (a `RUSTFLAGS` override, a broken config), this fails
//! instead of the kernels quietly running at half width. A portable build
//! (`RUSTFLAGS=""`) checks only that `simd_width()` reports AVX2+FMA exactly
//! when both were compiled in.

#![cfg(target_arch = "x86_64")]

use backprop::kernels::simd_width;

#[test]
#[cfg(backprop_native)]
fn native_build_uses_avx2_fma_when_the_cpu_has_them() {
    let width = simd_width();
    println!("simd width: {width}");
    let cpu =
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    let compiled = cfg!(target_feature = "avx2") && cfg!(target_feature = "fma");
    if cpu {
        assert!(
            compiled,
            "the CPU has AVX2 and FMA but the crate was built without them \
             (cfg backprop_native is set, so target-cpu=native was expected)"
        );
        assert!(
            width.starts_with("avx2+fma"),
            "the CPU has AVX2 and FMA but simd_width() reports {width:?}"
        );
    } else {
        println!("this CPU lacks AVX2 or FMA; nothing to check beyond {width:?}");
    }
}

/// Holds for both builds: the reported width matches the features compiled in.
#[test]
fn reported_width_matches_compiled_features() {
    let width = simd_width();
    let fused = cfg!(all(target_feature = "avx2", target_feature = "fma"));
    assert_eq!(
        width.starts_with("avx2+fma"),
        fused,
        "simd_width() = {width:?}"
    );
}
