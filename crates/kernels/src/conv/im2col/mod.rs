//! im2col + GEMM convolution: each work unit (batch item, block of output rows) is, per
//! group, one GEMM `C[M×N] = A[M×Kd]·B[Kd×N]` with `M = K/groups` output channels,
//! `Kd = (C/groups)·R·S` and `N` the unit's output pixels; `A` is the weight tensor itself
//! (OIHW is already `M×Kd` row-major) and `B` the im2col matrix of the unit's patches.
//!
//! Two paths share the work split:
//! - [`gemm_path`] (`Algorithm::Im2colGemm`): our packed GEMM ([`crate::gemm`]); `B` is packed
//!   panel by panel straight from the image into caller scratch (implicit im2col), or read
//!   in place for 1×1 stride-1 unpadded convolutions. Bias and activation are fused into the
//!   micro-kernel's last store.
//! - `matrixmultiply_path` (`Algorithm::Im2colMatrixMultiply`, `std` only): explicit im2col
//!   of the unit into scratch, `matrixmultiply::sgemm`, then the SIMD epilogue. The baseline.

pub(super) mod gemm_path;
#[cfg(feature = "std")]
pub(super) mod matrixmultiply_path;
pub(crate) mod pack_b;

use crate::error::{mul, Error};
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

/// True when `B` is the input itself: 1×1 kernel, stride 1, no padding (dilation is then
/// irrelevant), so patch column `n` of channel `c` is input pixel `n` of channel `c`.
fn reads_input_directly(desc: &Conv2d) -> bool {
    let pad = desc.padding();
    desc.kernel_height() == 1
        && desc.kernel_width() == 1
        && desc.stride_height() == 1
        && desc.stride_width() == 1
        && pad.top == 0
        && pad.bottom == 0
        && pad.left == 0
        && pad.right == 0
}

/// `Kd = (C/groups)·R·S`, the GEMM depth.
fn depth(desc: &Conv2d) -> usize {
    // A factor of weights_len, which the descriptor checked for overflow.
    desc.in_channels_per_group() * desc.kernel_height() * desc.kernel_width()
}

/// `(rows_per_unit, scratch_len)` of [`gemm_path`] at `level`: one packed `kc×nc` block of `B`
/// (the whole unit if smaller), or one `kc×nr` tail panel when `B` is read in place.
pub(super) fn gemm_layout(desc: &Conv2d, level: Level) -> Result<(usize, usize), Error> {
    let b = Blocking::for_level(level);
    let rows = rows_per_unit(desc, b.nc);
    let kc = b.kc.min(depth(desc));
    let unit_pixels = mul(rows, desc.output_width(), "im2col unit pixels")?;
    let nc = if reads_input_directly(desc) {
        b.nr()
    } else {
        b.nc.min(unit_pixels.div_ceil(b.nr()) * b.nr())
    };
    Ok((rows, mul(kc, nc, "im2col scratch")?))
}

/// `(rows_per_unit, scratch_len)` of `matrixmultiply_path`: the whole `Kd × pixels` im2col
/// matrix of one unit.
#[cfg(feature = "std")]
pub(super) fn matrixmultiply_layout(desc: &Conv2d, level: Level) -> Result<(usize, usize), Error> {
    let rows = rows_per_unit(desc, Blocking::for_level(level).nc);
    let unit_pixels = mul(rows, desc.output_width(), "im2col unit pixels")?;
    Ok((rows, mul(depth(desc), unit_pixels, "im2col scratch")?))
}
