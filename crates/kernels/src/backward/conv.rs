//! The convolution backward plan.

use super::{
    f32_conv_backward_data_gemm as data_gemm, f32_conv_backward_weights_gemm as weights_gemm,
    f32_conv_backward_weights_rows as weights_rows,
};
use crate::error::{check_len, check_min_len, Error};
use crate::gemm::Blocking;
use crate::simd::{self, Level};
use crate::Conv2d;

/// A prepared convolution backward pass: the gradients of [`crate::Conv2dPlan::run`]'s
/// convolution (without its activation, see [`super::activation_backward`]) with respect to the
/// input ([`Conv2dBackwardPlan::backward_data`]) and to the weights and bias
/// ([`Conv2dBackwardPlan::backward_weights`]), for every descriptor the forward supports.
///
/// ```
/// use convkit_kernels::backward::Conv2dBackwardPlan;
/// use convkit_kernels::Conv2d;
/// let desc = Conv2d::builder().channels(1, 1).input_size(2, 2).kernel_size(1, 1).build()?;
/// let plan = Conv2dBackwardPlan::new(&desc, None)?;
/// let mut scratch = vec![0.0f32; plan.data_scratch_len().max(plan.weights_scratch_len())];
/// let (x, dy) = ([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 0.0, 1.0]);
/// let mut dx = [0.0f32; 4];
/// plan.backward_data(&dy, &[3.0], &mut dx, &mut scratch)?;
/// assert_eq!(dx, [3.0, 0.0, 0.0, 3.0]);
/// let (mut dw, mut db) = ([0.0f32; 1], [0.0f32; 1]);
/// plan.backward_weights(&x, &dy, &mut dw, Some(&mut db), &mut scratch)?;
/// assert_eq!((dw, db), ([5.0], [2.0]));
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dBackwardPlan {
    desc: Conv2d,
    level: Level,
    data_scratch: usize,
    weights_scratch: usize,
    /// Backward-weights straight on the input rows (horizontal stride 1), else the im2col
    /// GEMM. Backward-data is always GEMM + col2im.
    weights_from_rows: bool,
}

impl Conv2dBackwardPlan {
    /// Picks the SIMD level (default [`simd::active`]; it must be supported) and sizes the
    /// scratch of both passes.
    pub fn new(desc: &Conv2d, level: Option<Level>) -> Result<Conv2dBackwardPlan, Error> {
        let level = level.unwrap_or_else(simd::active).require()?;
        // Both passes run the forward GEMM's register tile; its width `nr` sizes the panels.
        let nr = Blocking::for_level(level).nr();
        let overflow = Error::Overflow {
            what: "backward scratch",
        };
        let weights_from_rows = weights_rows::supports(desc);
        let weights_scratch = if weights_from_rows {
            weights_rows::scratch_len(desc, Blocking::for_level(level))
        } else {
            weights_gemm::scratch_len(desc, nr)
        };
        Ok(Conv2dBackwardPlan {
            desc: *desc,
            level,
            data_scratch: data_gemm::scratch_len(desc, nr).ok_or(overflow)?,
            weights_scratch: weights_scratch.ok_or(overflow)?,
            weights_from_rows,
        })
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &Conv2d {
        &self.desc
    }
    /// The SIMD level the kernels run at.
    pub fn level(&self) -> Level {
        self.level
    }
    /// Scratch elements [`Conv2dBackwardPlan::backward_data`] needs.
    pub fn data_scratch_len(&self) -> usize {
        self.data_scratch
    }
    /// Scratch elements [`Conv2dBackwardPlan::backward_weights`] needs.
    pub fn weights_scratch_len(&self) -> usize {
        self.weights_scratch
    }

    /// Gradient with respect to the input: overwrites `grad_input` (`N×C×H×W`) with
    /// `Σ_{k,r,s} w[k][c][r][s]·dy[n][k][p][q]` over the outputs `(p, q)` whose tap `(r, s)`
    /// reads input element `(y, x)` (exactly
    /// [`crate::reference::conv2d_backward_data`], up to rounding). `grad_output` is `N×K×P×Q`, `weights` `K×(C/groups)×R×S`.
    pub fn backward_data(
        &self,
        grad_output: &[f32],
        weights: &[f32],
        grad_input: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        let d = &self.desc;
        check_len("grad_output", d.output_len(), grad_output.len())?;
        check_len("weights", d.weights_len(), weights.len())?;
        check_len("grad_input", d.input_len(), grad_input.len())?;
        check_min_len("scratch", self.data_scratch, scratch.len())?;
        data_gemm::run(self, grad_output, weights, grad_input, scratch);
        Ok(())
    }

    /// Gradient with respect to the weights and bias: overwrites `grad_weights`
    /// (`K×(C/groups)×R×S`) with `Σ_{n,p,q} dy[n][k][p][q]·x[n][c][tap]` and `grad_bias` (`K`,
    /// if given) with `Σ_{n,p,q} dy[n][k][p][q]`, summed over the whole batch (exactly
    /// [`crate::reference::conv2d_backward_weights`], up to rounding).
    pub fn backward_weights(
        &self,
        input: &[f32],
        grad_output: &[f32],
        grad_weights: &mut [f32],
        grad_bias: Option<&mut [f32]>,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        let d = &self.desc;
        check_len("input", d.input_len(), input.len())?;
        check_len("grad_output", d.output_len(), grad_output.len())?;
        check_len("grad_weights", d.weights_len(), grad_weights.len())?;
        if let Some(db) = grad_bias.as_deref() {
            check_len("grad_bias", d.bias_len(), db.len())?;
        }
        check_min_len("scratch", self.weights_scratch, scratch.len())?;
        if self.weights_from_rows {
            weights_rows::run(self, input, grad_output, grad_weights, grad_bias, scratch);
        } else {
            weights_gemm::run(self, input, grad_output, grad_weights, grad_bias, scratch);
        }
        Ok(())
    }
}
