//! im2col + GEMM convolution: each work unit (batch item, block of output rows) is, per
//! group, one GEMM `C[M×N] = A[M×Kd]·B[Kd×N]` with `M = K/groups` output channels,
//! `Kd = (C/groups)·R·S` and `N` the unit's output pixels; `A` is the weight tensor itself
//! (OIHW is already `M×Kd` row-major) and `B` the im2col matrix of the unit's patches.
//!
//! Two paths share the work split:
//! - [`gemm_path`] (`Algorithm::Im2colGemm`): our packed GEMM ([`crate::gemm`]); `B` is packed
//!   panel by panel straight from the image into caller scratch (implicit im2col; 1×1
//!   convolutions too). Bias and activation are fused into the micro-kernel's last store.
//! - `matrixmultiply_path` (`Algorithm::Im2colMatrixMultiply`, `std` only): explicit im2col
//!   of the unit into scratch, `matrixmultiply::sgemm`, then the SIMD epilogue. The baseline.

pub(super) mod gemm_path;
#[cfg(feature = "std")]
pub(super) mod matrixmultiply_path;
pub(crate) mod pack_b;

use crate::error::{add, mul, Error};
use crate::gemm::pack::{pack_a, Strided};
use crate::gemm::Blocking;
use crate::simd::Level;
use crate::Conv2d;

/// Output rows per work unit: about `target_pixels` output pixels per unit, an even number of
/// units per image when there is more than one (so two threads split an image evenly), the
/// rows spread evenly over the units...
fn rows_per_unit(desc: &Conv2d, target_pixels: usize) -> usize {
    let (p, q) = (desc.output_height(), desc.output_width());
    // p·q <= output_len, which the descriptor checked for overflow.
    let units = (p * q).div_ceil(target_pixels.max(1));
    let units = if units > 1 { units + units % 2 } else { 1 };
    // ... but never more than `target_pixels` per unit when a row fits, so a unit is one
    // column block of the GEMM (resnet_stem: 3 rows of 112, not 4 rows split 384 + 64).
    p.div_ceil(units).min(target_pixels / q.max(1)).max(1)
}

/// `Kd = (C/groups)·R·S`, the GEMM depth.
fn depth(desc: &Conv2d) -> usize {
    // A factor of weights_len, which the descriptor checked for overflow.
    desc.in_channels_per_group() * desc.kernel_height() * desc.kernel_width()
}

/// Scratch layout of [`gemm_path`] at one level.
pub(super) struct GemmLayout {
    /// Output rows per work unit.
    pub rows_per_unit: usize,
    /// Floats of the packed `B` block: `⌈nc/nr⌉` panels of `kc×nr`, each followed by
    /// [`pack_b::PANEL_SKEW`] unused floats.
    pub b_len: usize,
    /// Total scratch: the `B` block, then the packed `A` row panels of one depth block
    /// (`kc × mgr`; used only with raw weights).
    pub scratch_len: usize,
}

/// The [`GemmLayout`] of [`gemm_path`] for `desc` at `level`.
pub(super) fn gemm_layout(desc: &Conv2d, level: Level) -> Result<GemmLayout, Error> {
    let b = Blocking::for_level(level);
    let rows = rows_per_unit(desc, b.nc);
    let kc = b.kc.min(depth(desc));
    let unit_pixels = mul(rows, desc.output_width(), "im2col unit pixels")?;
    let panels = b.nc.min(unit_pixels).div_ceil(b.nr());
    let panel = add(
        mul(kc, b.nr(), "im2col scratch")?,
        pack_b::PANEL_SKEW,
        "im2col scratch",
    )?;
    let b_len = mul(panels, panel, "im2col scratch")?;
    let a_len = mul(kc, padded_rows(desc, level)?, "im2col scratch")?;
    Ok(GemmLayout {
        rows_per_unit: rows,
        b_len,
        scratch_len: add(b_len, a_len, "im2col scratch")?,
    })
}

/// Output channels per group rounded up to whole `mr`-row panels.
fn padded_rows(desc: &Conv2d, level: Level) -> Result<usize, Error> {
    let mr = Blocking::for_level(level).mr;
    mul(
        desc.out_channels_per_group().div_ceil(mr),
        mr,
        "im2col packed weights",
    )
}

/// Length of the `im2col` path's prepared weights at `level`: per group, the `M×Kd` weights
/// packed into `mr`-row panels (rows padded with zeros to a multiple of `mr`), depth block
/// by depth block (see [`prepare`]).
pub(super) fn prepared_len(desc: &Conv2d, level: Level) -> Result<usize, Error> {
    crate::error::product(
        &[desc.groups(), padded_rows(desc, level)?, depth(desc)],
        "im2col packed weights",
    )
}

/// Offset of depth block `kb` (`kb` a multiple of `kc`) of group `grp` in the prepared
/// weights; panel `p` of it starts `p·kcb·mr` further, element `(i, k)` at `k·mr + i`.
fn prepared_offset(mgr: usize, kd: usize, grp: usize, kb: usize) -> usize {
    grp * mgr * kd + mgr * kb
}

/// Packs OIHW `weights` into the prepared layout ([`prepared_len`] values): per group, per
/// depth block of `kc`, the `mr`-row panels of [`crate::gemm`]'s packed micro-kernel.
/// Lengths were checked by the plan.
pub(super) fn prepare(desc: &Conv2d, level: Level, weights: &[f32], prepared: &mut [f32]) {
    let Ok(mgr) = padded_rows(desc, level) else {
        return;
    };
    let b = Blocking::for_level(level);
    let kd = depth(desc);
    let mg = desc.out_channels_per_group();
    for grp in 0..desc.groups() {
        let mut kb = 0;
        while kb < kd {
            let kcb = b.kc.min(kd - kb);
            pack_a(
                Strided {
                    data: &weights[grp * mg * kd + kb..],
                    rs: kd,
                    cs: 1,
                    rows: mg,
                    cols: kcb,
                },
                b.mr,
                &mut prepared[prepared_offset(mgr, kd, grp, kb)..],
            );
            kb += kcb;
        }
    }
}

/// `(rows_per_unit, scratch_len)` of `matrixmultiply_path`: the whole `Kd × pixels` im2col
/// matrix of one unit.
#[cfg(feature = "std")]
pub(super) fn matrixmultiply_layout(desc: &Conv2d, level: Level) -> Result<(usize, usize), Error> {
    let rows = rows_per_unit(desc, Blocking::for_level(level).nc);
    let unit_pixels = mul(rows, desc.output_width(), "im2col unit pixels")?;
    Ok((rows, mul(depth(desc), unit_pixels, "im2col scratch")?))
}
