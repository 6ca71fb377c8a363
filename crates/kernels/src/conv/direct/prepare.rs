//! Input rows prepared for the row-vectorised micro-kernels: zero-padded and, for a column
//! stride `sw > 1`, split into `sw` phases so every kernel tap reads contiguous lanes.
//!
//! Prepared row of input row `ih` (one per input channel and row):
//!
//! ```text
//!   phase 0: x[ih][0·sw − left], x[ih][1·sw − left], x[ih][2·sw − left], ...   (L values)
//!   phase 1: x[ih][0·sw + 1 − left], x[ih][1·sw + 1 − left], ...              (L values)
//!   ...                                                              (zero outside 0..W)
//! ```
//!
//! Output column `q` at tap `s` reads padded column `q·sw + s·dw`, which is element
//! `q + ⌊s·dw / sw⌋` of phase `(s·dw) mod sw`: consecutive `q` are consecutive elements, so a
//! vector of output pixels is one unaligned load, with no border branch in the inner loop. The
//! phase length `L = Q_pad + ⌊(S−1)·dw / sw⌋` (`Q_pad` = `Q` rounded up to the vector width)
//! covers every lane any tile loads, including the lanes of a partial last vector.

use crate::simd::Level;
use crate::Conv2d;
use crate::Error;

/// The geometry of the prepared rows for one descriptor at one SIMD level.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowPrep {
    /// Input width `W`.
    pub w: usize,
    /// Left padding.
    pub left: usize,
    /// Column stride `sw` (= number of phases).
    pub sw: usize,
    /// Elements per phase, `L`.
    pub phase_len: usize,
    /// Elements per prepared row, `sw · L`.
    pub row_len: usize,
}

impl RowPrep {
    /// The prepared-row geometry for `desc` with vectors of `level.lanes()` lanes.
    pub fn new(desc: &Conv2d, level: Level) -> Result<RowPrep, Error> {
        let lanes = level.lanes();
        let q_pad = desc
            .output_width()
            .checked_next_multiple_of(lanes)
            .ok_or(Error::Overflow {
                what: "direct row length",
            })?;
        let sw = desc.stride_width();
        let reach = crate::error::mul(
            desc.kernel_width() - 1,
            desc.dilation_width(),
            "direct row length",
        )? / sw;
        let phase_len = crate::error::add(q_pad, reach, "direct row length")?;
        let row_len = crate::error::mul(phase_len, sw, "direct row length")?;
        Ok(RowPrep {
            w: desc.input_width(),
            left: desc.padding().left,
            sw,
            phase_len,
            row_len,
        })
    }

    /// Offset of kernel tap column `s` (dilation `dw`) inside a prepared row.
    #[inline(always)]
    pub fn tap_offset(&self, s: usize, dw: usize) -> usize {
        let c = s * dw;
        (c % self.sw) * self.phase_len + c / self.sw
    }

    /// Prepares one input row `src` (`W` elements) into `dst` (`row_len` elements).
    #[inline(always)]
    pub fn prepare_row(&self, src: &[f32], dst: &mut [f32]) {
        let (w, left, sw, len) = (self.w, self.left, self.sw, self.phase_len);
        if sw == 1 {
            // Padded copy: zeros, the row, zeros (memcpy-speed for the common stride 1).
            let dst = &mut dst[..len];
            let lead = left.min(len);
            dst[..lead].fill(0.0);
            let body = w.min(len - lead);
            dst[lead..lead + body].copy_from_slice(&src[..body]);
            dst[lead + body..].fill(0.0);
            return;
        }
        for phase in 0..sw {
            let out = &mut dst[phase * len..(phase + 1) * len];
            // Element j holds padded column phase + sw·j, i.e. input column
            // phase + sw·j − left, valid for j in [j_lo, j_hi).
            let j_lo = left.saturating_sub(phase).div_ceil(sw).min(len);
            let j_hi = (w + left)
                .saturating_sub(phase)
                .div_ceil(sw)
                .clamp(j_lo, len);
            out[..j_lo].fill(0.0);
            let first = phase + sw * j_lo - left;
            for (j, o) in out[j_lo..j_hi].iter_mut().enumerate() {
                *o = src[first + sw * j];
            }
            out[j_hi..].fill(0.0);
        }
    }
}
