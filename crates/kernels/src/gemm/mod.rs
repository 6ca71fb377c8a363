//! Packed single-precision GEMM: the public entry point ([`Gemm`], [`GemmPlan`]) and the
//! building blocks of the convolution paths.
//!
//! `C[M×N] = A[M×K] · B[K×N]`, BLIS style: `A` is packed into `MR`-row panels and `B` into
//! `NR`-column panels in caller scratch (`pack`), and the packed micro-kernel of
//! `f32_gemm_packed` computes every `MR×NR` tile with the bias and activation fused into
//! its store. For a convolution (`conv/im2col`) `M` is output channels (per group),
//! `K = (C/groups)·R·S` and `N` output pixels; `B` is packed straight from the image
//! (implicit im2col) and `A` (the weights) is packed once ahead of time by
//! `Conv2dPlan::prepare_weights`, or panel by panel during the call.
//!
//! Tile and block sizes per SIMD level live in [`Blocking`]; the plans derive their work
//! split and scratch length from the same values, so the two cannot disagree. Design notes
//! and measured figures: `docs/gemm.md`.

pub(crate) mod f32_gemm_packed;
/// The unpacked register tile (A read in place) that the backward convolution passes use.
pub(crate) mod f32_gemm_tile;
pub(crate) mod pack;
mod plan;

pub use plan::{Gemm, GemmBias, GemmPlan};

use crate::simd::Level;

/// Register tile and cache blocking of the GEMM at one SIMD level.
///
/// The micro-kernel keeps an `mr × (nv·lanes)` block of `C` in `mr·nv` vector accumulators;
/// `kc` rows of `B` (one depth block) are packed at a time, `nc` columns (pixels) at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Rows of `C` (output channels) per register tile.
    pub mr: usize,
    /// Vectors of `C` per tile row; the tile is `nv·lanes` columns (pixels) wide.
    pub nv: usize,
    /// `f32` lanes per vector at this level.
    pub lanes: usize,
    /// Depth block: rows of `B` packed at once.
    pub kc: usize,
    /// Column block: pixels of `B` packed at once (a multiple of `nr()`).
    pub nc: usize,
    /// Row block of the packed GEMM: rows of `A` packed at once (a multiple of `mr`).
    pub mc: usize,
    /// Column block of the public GEMM ([`GemmPlan`]): columns of `B` packed at once (a
    /// multiple of `nr()`).
    pub gemm_nc: usize,
}

impl Blocking {
    /// The blocking used at `level`.
    ///
    /// Zen 4 (32 KiB L1d, 1 MiB L2 per core): one packed `kc×nr` panel of `B` stays in L1
    /// (AVX2: 256×16×4 B = 16 KiB; AVX-512: 128×48×4 B = 24 KiB) while every row tile of the
    /// weights (`M×kc`, read in place) streams past it from L2; the `kc×nc` block of `B` (at
    /// most 384 KiB) stays in L2.
    pub const fn for_level(level: Level) -> Blocking {
        let lanes = level.lanes();
        match level {
            // 8×3 zmm = 24 accumulators + 3 B vectors + 1 broadcast of 32 registers.
            Level::Avx512f => Blocking {
                mr: 8,
                nv: 3,
                lanes,
                kc: 128,
                nc: 384,
                mc: 128,
                gemm_nc: 3072,
            },
            // 6×2 ymm = 12 accumulators + 2 B vectors + 1 broadcast of 16 registers.
            Level::Avx2Fma => Blocking {
                mr: 6,
                nv: 2,
                lanes,
                kc: 256,
                nc: 384,
                mc: 144,
                gemm_nc: 4080,
            },
            // 8×3 q-registers = 24 accumulators + 3 + 1 of 32 registers.
            Level::Neon => Blocking {
                mr: 8,
                nv: 3,
                lanes,
                kc: 512,
                nc: 384,
                mc: 128,
                gemm_nc: 3072,
            },
            // SSE2 has no FMA (a product needs a temporary): 4×2 xmm = 8 accumulators.
            // Portable (`wide::f32x8`, two xmm per vector on a default x86-64 build) likewise.
            Level::Sse2 | Level::Portable => Blocking {
                mr: 4,
                nv: 2,
                lanes,
                kc: 256,
                nc: 256,
                mc: 128,
                gemm_nc: 2048,
            },
        }
    }

    /// Columns (pixels) per register tile, `nv·lanes`.
    pub const fn nr(&self) -> usize {
        self.nv * self.lanes
    }
}

#[cfg(test)]
mod tests;
