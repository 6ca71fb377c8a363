//! Pooling backward: the gradient of [`Pool2dPlan::run`] (average) and of
//! [`Pool2dPlan::run_with_indices`] (max) with respect to the input.
//!
//! Average: every output gradient divided by its window's divisor is added to each input
//! element of its window, walking output rows → window rows → output columns → window columns,
//! so each input element receives its contributions in the reference's order (output row, then
//! column) and the result equals [`crate::reference::pool2d_backward`] bit for bit. Max: each
//! output gradient is added to the input element its arg-max index names.
//!
//! The loops are plain Rust inlined into `simd::dispatch`'s `#[target_feature]` function, so
//! the compiler vectorises the row loops at the plan's level; the common non-overlapping
//! average (stride = window, no dilation, no padding, LeNet's 2×2/2) has its own loop that
//! writes each input row once instead of zeroing and accumulating.

use super::Pool2dPlan;
use crate::error::{check_len, Error};
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::{Pool2d, PoolKind};

impl Pool2dPlan {
    /// Gradient of average pooling: overwrites `grad_input` (`N×C×H×W`) from `grad_output`
    /// (`N×C×P×Q`) with the forward's divisor rule (`count_include_pad`, ceil mode). The plan's
    /// fused activation is not differentiated here: apply
    /// [`crate::backward::activation_backward`] to `grad_output` first.
    ///
    /// ```
    /// use convkit_kernels::{Pool2d, Pool2dPlan, PoolKind, PoolOptions};
    /// let desc = Pool2d::builder(PoolKind::Average).channels(1).input_size(2, 2)
    ///     .window(2, 2).build()?;
    /// let plan = Pool2dPlan::new(&desc, PoolOptions::default())?;
    /// let mut dx = [0.0f32; 4];
    /// plan.backward_average(&[8.0], &mut dx)?;
    /// assert_eq!(dx, [2.0; 4]);
    /// # Ok::<(), convkit_kernels::Error>(())
    /// ```
    pub fn backward_average(
        &self,
        grad_output: &[f32],
        grad_input: &mut [f32],
    ) -> Result<(), Error> {
        let d = &self.desc;
        if d.kind() != PoolKind::Average {
            return Err(Error::InvalidParameter {
                what: "backward_average needs an average-pooling descriptor",
            });
        }
        check_len("grad_output", d.output_len(), grad_output.len())?;
        check_len("grad_input", d.input_len(), grad_input.len())?;
        dispatch(
            self.level,
            AverageBackward {
                desc: d,
                grad_output,
                grad_input,
            },
        );
        Ok(())
    }

    /// Gradient of max pooling: overwrites `grad_input` with each output gradient added at its
    /// window's arg-max (`indices` as written by [`Pool2dPlan::run_with_indices`]: in-plane
    /// `y·W + x`, ties to the first tap), zero elsewhere. An index outside its plane is
    /// [`Error::InvalidParameter`]. The plan's fused activation is not differentiated here.
    pub fn backward_max(
        &self,
        grad_output: &[f32],
        indices: &[u32],
        grad_input: &mut [f32],
    ) -> Result<(), Error> {
        let d = &self.desc;
        self.check_indices()?;
        check_len("grad_output", d.output_len(), grad_output.len())?;
        check_len("indices", d.output_len(), indices.len())?;
        check_len("grad_input", d.input_len(), grad_input.len())?;
        let hw = d.input_height() * d.input_width();
        let out_plane = d.output_height() * d.output_width();
        if indices.iter().any(|&i| i as usize >= hw) {
            return Err(Error::InvalidParameter {
                what: "arg-max index outside its input plane",
            });
        }
        grad_input.fill(0.0);
        for ((dx, dy), idx) in grad_input
            .chunks_exact_mut(hw)
            .zip(grad_output.chunks_exact(out_plane))
            .zip(indices.chunks_exact(out_plane))
        {
            for (&g, &i) in dy.iter().zip(idx) {
                // In range: checked above.
                dx[i as usize] += g;
            }
        }
        Ok(())
    }
}

struct AverageBackward<'a> {
    desc: &'a Pool2d,
    grad_output: &'a [f32],
    grad_input: &'a mut [f32],
}

impl SimdKernel for AverageBackward<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        let AverageBackward {
            desc: d,
            grad_output,
            grad_input,
        } = self;
        let (h, w) = (d.input_height(), d.input_width());
        let (ph, pw) = (d.output_height(), d.output_width());
        let (kh, kw) = (d.window_height(), d.window_width());
        let (sh, sw) = (d.stride_height(), d.stride_width());
        let (dh, dw) = (d.dilation_height(), d.dilation_width());
        let pad = d.padding();
        let planes = grad_input
            .chunks_exact_mut(h * w)
            .zip(grad_output.chunks_exact(ph * pw));
        let tiled = sh == kh
            && sw == kw
            && dh == 1
            && dw == 1
            && pad == crate::Padding::ZERO
            && ph * kh <= h
            && pw * kw <= w;
        if tiled {
            // Every input element lies in at most one window, every window inside the input (no
            // ceil-mode overhang), every divisor kh·kw. A power-of-two divisor is applied as an
            // exact multiplication by its reciprocal (same bits as the reference's division);
            // the first input row of each window row is computed, the other kh−1 copied.
            let divisor = (kh * kw) as f32;
            let scale = (kh * kw).is_power_of_two().then_some(1.0 / divisor);
            for (dx, dy) in planes {
                let (covered, rest) = dx.split_at_mut(ph * kh * w);
                rest.fill(0.0);
                for (p, block) in covered.chunks_exact_mut(kh * w).enumerate() {
                    let dy_row = &dy[p * pw..][..pw];
                    let (first, others) = block.split_at_mut(w);
                    let (cells, tail) = first.split_at_mut(pw * kw);
                    tail.fill(0.0);
                    match (kw, scale) {
                        (2, Some(scale)) => {
                            for (pair, &g) in cells.chunks_exact_mut(2).zip(dy_row) {
                                let v = g * scale;
                                pair[0] = v;
                                pair[1] = v;
                            }
                        }
                        _ => {
                            for (cols, &g) in cells.chunks_exact_mut(kw).zip(dy_row) {
                                cols.fill(scale.map_or(g / divisor, |s| g * s));
                            }
                        }
                    }
                    for row in others.chunks_exact_mut(w) {
                        row.copy_from_slice(first);
                    }
                }
            }
            return;
        }
        // Per-axis divisors: the window is a rectangle, so its tap count (inside the padded
        // input, or inside the input) is the product of a row count and a column count.
        let include = d.count_include_pad();
        let count = |o: usize, k: usize, s: usize, dl: usize, before: usize, n: usize, after| {
            (0..k)
                .filter(|&j| {
                    let at = o * s + j * dl;
                    if include {
                        at < before + n + after
                    } else {
                        at >= before && at < before + n
                    }
                })
                .count()
        };
        for (dx, dy) in planes {
            dx.fill(0.0);
            for p in 0..ph {
                let rows = count(p, kh, sh, dh, pad.top, h, pad.bottom);
                let dy_row = &dy[p * pw..][..pw];
                for i in 0..kh {
                    let Some(y) = (p * sh + i * dh).checked_sub(pad.top).filter(|&y| y < h) else {
                        continue;
                    };
                    let dx_row = &mut dx[y * w..][..w];
                    for (q, &g) in dy_row.iter().enumerate() {
                        let cols = count(q, kw, sw, dw, pad.left, w, pad.right);
                        let share = g / (rows * cols) as f32;
                        for j in 0..kw {
                            if let Some(x) = (q * sw + j * dw).checked_sub(pad.left) {
                                if x < w {
                                    dx_row[x] += share;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
