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
//! phase length `L ≥ Q_pad + ⌊(S−1)·dw / sw⌋` (`Q_pad` = `Q` rounded up to the vector width,
//! `L` a whole number of vectors) covers every lane any tile loads, including the lanes of a
//! partial last vector.

use crate::simd::{F32Vector, Level};
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
        // Rounded up to whole vectors so the preparation zero-fills with full stores (AVX2
        // masked stores cost tens of cycles on AMD).
        let phase_len = crate::error::add(q_pad, reach, "direct row length")?
            .checked_next_multiple_of(lanes)
            .ok_or(Error::Overflow {
                what: "direct row length",
            })?;
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

    /// [`RowPrep::prepare_row`] with vector loads and stores: a padded copy for stride 1, an
    /// in-register even/odd split ([`F32Vector::deinterleave`]) of the interior for stride
    /// 2, the scalar loop for the borders and larger strides. Same values as the scalar
    /// version (pure data movement).
    ///
    /// # Safety
    /// The [`F32Vector`] contract must hold; `src.len() >= W` and `dst.len() >= row_len`.
    #[inline(always)]
    pub unsafe fn prepare_row_simd<V: F32Vector>(&self, src: &[f32], dst: &mut [f32]) {
        let (w, left, len) = (self.w, self.left, self.phase_len);
        let lanes = V::LANES;
        match self.sw {
            1 if left + w <= len => {
                // SAFETY: (whole block) `len` is a multiple of `lanes`, so the zero stores
                // cover exactly dst[..len]; the copy writes [left, left + w) from src[..w],
                // its last vector (masked load, zeros beyond w) only when it ends within len.
                unsafe {
                    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
                    let z = V::zero();
                    let mut i = 0;
                    while i < len {
                        z.store(d.add(i));
                        i += lanes;
                    }
                    let mut j = 0;
                    while j + lanes <= w {
                        V::load(s.add(j)).store(d.add(left + j));
                        j += lanes;
                    }
                    if j < w {
                        if left + j + lanes <= len {
                            V::load_partial(s.add(j), w - j).store(d.add(left + j));
                        } else {
                            core::ptr::copy_nonoverlapping(s.add(j), d.add(left + j), w - j);
                        }
                    }
                }
            }
            2 => {
                // The last vector of each phase zeroed first, with full stores: the vector
                // stores below overwrite what of it holds data, so when the data ends within
                // that vector no tail fill is left (two `memset` calls per row cost 5% of
                // mobilenet_dw_3x3_s2).
                let prezeroed = len >= lanes;
                if prezeroed {
                    // SAFETY: len is a multiple of `lanes` (`RowPrep::new`) and `dst` holds
                    // the two phases, 2·len elements: both stores lie inside it.
                    unsafe {
                        V::zero().store(dst.as_mut_ptr().add(len - lanes));
                        V::zero().store(dst.as_mut_ptr().add(2 * len - lanes));
                    }
                }
                // Interior: element j of both phases from source columns 2j − left and
                // 2j + 1 − left; a block of `lanes` j's reads 2·lanes columns from 2j − left.
                let mut j = left.div_ceil(2).min(len);
                self.prepare_range(src, dst, 0..j);
                while j + lanes <= len && 2 * j + 2 * lanes <= w + left {
                    // SAFETY: source columns [2j − left, 2j − left + 2·lanes) lie in [0, w)
                    // (2j >= left, checked end), destinations j..j + lanes < len of phases 0
                    // and 1 lie in dst[..2·len].
                    unsafe {
                        let s = src.as_ptr().add(2 * j - left);
                        let (e, o) = V::load(s).deinterleave(V::load(s.add(lanes)));
                        e.store(dst.as_mut_ptr().add(j));
                        o.store(dst.as_mut_ptr().add(len + j));
                    }
                    j += lanes;
                }
                // Tail: the last (fewer than 2·lanes) source columns, zeros beyond `w`.
                while j + lanes <= len && 2 * j < w + left {
                    let rem = w + left - 2 * j;
                    // SAFETY: source columns [2j − left, 2j − left + rem) = [.., w) are
                    // readable (2j >= left); each partial load reads fewer than `lanes`
                    // elements of them; destinations j..j + lanes <= len of both phases.
                    unsafe {
                        let s = src.as_ptr().add(2 * j - left);
                        let lo = if rem >= lanes {
                            V::load(s)
                        } else {
                            V::load_partial(s, rem)
                        };
                        let hi = if rem >= 2 * lanes {
                            V::load(s.add(lanes))
                        } else if rem > lanes {
                            V::load_partial(s.add(lanes), rem - lanes)
                        } else {
                            V::zero()
                        };
                        let (e, o) = lo.deinterleave(hi);
                        e.store(dst.as_mut_ptr().add(j));
                        o.store(dst.as_mut_ptr().add(len + j));
                    }
                    j += lanes;
                }
                if 2 * j >= w + left {
                    // Already zero from the first stores when j >= len − lanes.
                    let from = j.min(len);
                    if !prezeroed || from + lanes < len {
                        dst[from..len].fill(0.0);
                        dst[len + from..2 * len].fill(0.0);
                    }
                } else {
                    self.prepare_range(src, dst, j..len);
                }
            }
            _ => self.prepare_row(src, dst),
        }
    }

    /// Elements `js` of every phase, one by one (zero outside the input).
    #[inline(always)]
    fn prepare_range(&self, src: &[f32], dst: &mut [f32], js: core::ops::Range<usize>) {
        for phase in 0..self.sw {
            for j in js.clone() {
                let col = (phase + self.sw * j).wrapping_sub(self.left);
                dst[phase * self.phase_len + j] = if col < self.w { src[col] } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::RowPrep;
    use crate::simd::{dispatch, supported_levels, F32Vector, SimdKernel};
    use crate::{Conv2d, Padding};
    use std::{vec, vec::Vec};

    struct Simd<'a> {
        prep: RowPrep,
        src: &'a [f32],
        dst: &'a mut [f32],
    }

    impl SimdKernel for Simd<'_> {
        type Output = ();
        unsafe fn run<V: F32Vector>(self) {
            // SAFETY: forwarded dispatch contract; the slices have W and row_len elements.
            unsafe { self.prep.prepare_row_simd::<V>(self.src, self.dst) }
        }
    }

    /// The vector preparation equals the scalar one (every width around the vector sizes,
    /// strides 1..=3, paddings 0..=3, dilations 1..=2) at every level.
    #[test]
    fn simd_preparation_equals_scalar() {
        // Under Miri (interpreted, ~1000× slower) the widths around the vector sizes only.
        let widths: Vec<usize> = if cfg!(miri) {
            vec![1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 70]
        } else {
            // 1..=70, and the MobileNet widths (several vectors per phase at every level).
            (1..=70).chain([112, 113, 224]).collect()
        };
        for level in supported_levels() {
            for &w in &widths {
                for (sw, left, right, s, dw) in [
                    (1, 0, 0, 3, 1),
                    (1, 1, 1, 3, 1),
                    (1, 2, 2, 5, 1),
                    (2, 0, 0, 3, 1),
                    (2, 1, 1, 3, 1),
                    (2, 1, 0, 3, 1),
                    (2, 3, 2, 5, 1),
                    (2, 2, 2, 3, 2),
                    (3, 1, 1, 3, 1),
                ] {
                    if w + left + right < (s - 1) * dw + 1 {
                        continue;
                    }
                    let desc = Conv2d::builder()
                        .channels(1, 1)
                        .input_size(1, w)
                        .kernel_size(1, s)
                        .stride(1, sw)
                        .dilation(1, dw)
                        .padding(Padding {
                            top: 0,
                            bottom: 0,
                            left,
                            right,
                        })
                        .build()
                        .unwrap();
                    let prep = RowPrep::new(&desc, level).unwrap();
                    let src: Vec<f32> = (0..w).map(|i| i as f32 + 1.0).collect();
                    let mut want = vec![f32::NAN; prep.row_len];
                    prep.prepare_row(&src, &mut want);
                    let mut got = vec![f32::NAN; prep.row_len];
                    dispatch(
                        level,
                        Simd {
                            prep,
                            src: &src,
                            dst: &mut got,
                        },
                    );
                    assert_eq!(
                        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        "{level:?} w={w} sw={sw} left={left} s={s} dw={dw}"
                    );
                }
            }
        }
    }
}
