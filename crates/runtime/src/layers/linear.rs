//! The fully connected layer.

use crate::error::{Error, Result};
use crate::tensor::Shape;
use convkit_kernels::{Activation, Gemm, GemmBias, GemmPlan, Level};

/// `y = x·Wᵀ + b` on an `N×in` input: weights `out×in` (PyTorch's layout), bias `out`.
///
/// It runs on the kernels' packed GEMM ([`GemmPlan`]) through a [`LinearPlan`]: planning
/// caches the transposed weights `Wᵀ` (`in×out`), so the GEMM packs contiguous rows of `B`,
/// and the bias and activation are fused into the GEMM's store.
#[derive(Clone, Debug)]
pub struct Linear {
    in_features: usize,
    out_features: usize,
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
    /// `Wᵀ` (`in×out`), made by [`Linear::plan`]; dropped when the weights change.
    transposed: Option<Vec<f32>>,
    /// `Wᵀ` packed into the GEMM's panels by [`Linear::plan`] (see
    /// [`LinearPlan::pack_weights`]); dropped when the weights change.
    packed: Option<Vec<f32>>,
}

impl Linear {
    /// A layer with zero weights and a zero bias.
    pub fn new(in_features: usize, out_features: usize) -> Linear {
        Linear {
            in_features,
            out_features,
            weights: vec![0.0; in_features * out_features],
            bias: Some(vec![0.0; out_features]),
            transposed: None,
            packed: None,
        }
    }

    /// Sets the weights and bias (see [`Linear::set_weights`]).
    pub fn with_weights(mut self, weights: Vec<f32>, bias: Option<Vec<f32>>) -> Result<Linear> {
        self.set_weights(weights, bias)?;
        Ok(self)
    }

    /// Replaces the weights (`out·in`, row-major `out×in`) and the bias (`out`, or none).
    pub fn set_weights(&mut self, weights: Vec<f32>, bias: Option<Vec<f32>>) -> Result<()> {
        if weights.len() != self.in_features * self.out_features {
            return Err(Error::shape(
                "linear weights",
                format!("[{}, {}]", self.out_features, self.in_features),
                format!("{} elements", weights.len()),
            ));
        }
        if let Some(b) = &bias {
            if b.len() != self.out_features {
                return Err(Error::shape(
                    "linear bias",
                    format!("[{}]", self.out_features),
                    format!("{} elements", b.len()),
                ));
            }
        }
        self.weights = weights;
        self.bias = bias;
        self.transposed = None;
        self.packed = None;
        Ok(())
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.in_features
    }
    /// Output features.
    pub fn out_features(&self) -> usize {
        self.out_features
    }
    /// The weights, `out×in` row-major.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
    /// The bias, if any.
    pub fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }
    /// The weights and bias for in-place updates (an optimizer step). Drops the transposed
    /// weights: the next [`Linear::plan`] makes them again.
    pub fn parameters_mut(&mut self) -> (&mut [f32], Option<&mut [f32]>) {
        self.transposed = None;
        self.packed = None;
        (&mut self.weights, self.bias.as_deref_mut())
    }
    /// The weights' shape `[out, in]`.
    pub fn weight_shape(&self) -> [usize; 2] {
        [self.out_features, self.in_features]
    }

    /// Output shape `N×out` for an input `N×in`.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        match *input.dims() {
            [n, f] if f == self.in_features => Shape::new(&[n, self.out_features]),
            _ => Err(Error::shape(
                "linear input",
                format!("N×{}", self.in_features),
                input.to_string(),
            )),
        }
    }

    /// Plans the layer for an input shape with a fused activation, and caches the transposed
    /// weights `Wᵀ` (`in×out`) the plan runs on ([`Linear::planned_weights`]).
    pub fn plan(&mut self, input: Shape, activation: Activation) -> Result<LinearPlan> {
        self.output_shape(input)?;
        let plan = LinearPlan::new(
            input.batch(),
            self.in_features,
            self.out_features,
            activation,
            None,
        )?;
        let mut t = self.transposed.take().unwrap_or_default();
        t.resize(self.weights.len(), 0.0);
        transpose(&self.weights, self.out_features, self.in_features, &mut t);
        let mut packed = self.packed.take().unwrap_or_default();
        packed.resize(plan.packed_weights_len(), 0.0);
        plan.pack_weights(&t, &mut packed)?;
        self.transposed = Some(t);
        self.packed = Some(packed);
        Ok(plan)
    }

    /// `Wᵀ` packed for the GEMMs of the last [`Linear::plan`] (what
    /// [`LinearPlan::run_shards_packed`] takes): `None` if the weights changed since.
    pub fn planned_packed_weights(&self) -> Option<&[f32]> {
        self.packed.as_deref()
    }

    /// The transposed weights `Wᵀ` (`in×out` row-major) cached by the last [`Linear::plan`];
    /// an error if the weights changed since (re-plan first).
    pub fn planned_weights(&self) -> Result<&[f32]> {
        self.transposed.as_deref().ok_or_else(|| {
            Error::shape(
                "linear weights",
                "weights transposed by Linear::plan".to_string(),
                "weights changed since the last plan".to_string(),
            )
        })
    }
}

/// Writes the transpose of the row-major `rows×cols` matrix `src` into `dst` (`cols×rows`).
pub(crate) fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    // Blocks of 8×8 keep both sides' cache lines hot.
    const B: usize = 8;
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// Rows of the batch one GEMM call computes: the unit of work the threads share. Fixed, so
/// every row is computed by the same call shape at any thread count (bit-identical results).
pub const LINEAR_SHARD_ROWS: usize = 32;

/// A planned `Y = act(X·W + b)` on `rows` input rows, with `W` given transposed (`in×out`,
/// see [`Linear::planned_weights`]), as calls of the kernels' packed [`GemmPlan`] on shards of
/// [`LINEAR_SHARD_ROWS`] rows (the last one smaller) with the bias and activation fused into
/// the GEMM's store.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearPlan {
    rows: usize,
    in_features: usize,
    out_features: usize,
    /// The plan of a full shard (none when `rows < LINEAR_SHARD_ROWS`).
    full: Option<GemmPlan>,
    /// The plan of the last, smaller shard (none when the shards divide `rows`).
    tail: Option<GemmPlan>,
    activation: Activation,
}

impl LinearPlan {
    /// Plans `rows` rows of `in → out` features with a fused activation at `level`
    /// (`None`: the detected level).
    pub fn new(
        rows: usize,
        in_features: usize,
        out_features: usize,
        activation: Activation,
        level: Option<Level>,
    ) -> Result<LinearPlan> {
        let plan = |m: usize| -> Result<Option<GemmPlan>> {
            if m == 0 {
                return Ok(None);
            }
            let gemm = Gemm::new(m, out_features, in_features)
                .map_err(|e| Error::kernel("linear plan", e))?;
            GemmPlan::new(gemm, level, activation)
                .map(Some)
                .map_err(|e| Error::kernel("linear plan", e))
        };
        if rows == 0 {
            return Err(Error::kernel(
                "linear plan",
                convkit_kernels::Error::ZeroDimension {
                    what: "linear rows",
                },
            ));
        }
        let full = if rows >= LINEAR_SHARD_ROWS {
            plan(LINEAR_SHARD_ROWS)?
        } else {
            None
        };
        let tail = plan(rows % LINEAR_SHARD_ROWS)?;
        Ok(LinearPlan {
            rows,
            in_features,
            out_features,
            full,
            tail,
            activation,
        })
    }

    /// Input rows (the batch).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Input features.
    pub fn in_features(&self) -> usize {
        self.in_features
    }
    /// Output features.
    pub fn out_features(&self) -> usize {
        self.out_features
    }
    /// The fused activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// The SIMD level the GEMM runs at.
    pub fn level(&self) -> Level {
        self.full
            .or(self.tail)
            .map_or_else(convkit_kernels::simd::active, |p| p.level())
    }
    /// Number of shards (units of parallel work).
    pub fn shards(&self) -> usize {
        self.rows.div_ceil(LINEAR_SHARD_ROWS)
    }
    /// Scratch one thread needs (`f32`s).
    pub fn scratch_len(&self) -> usize {
        let len = |p: Option<GemmPlan>| p.map_or(0, |p| p.scratch_len());
        len(self.full).max(len(self.tail))
    }

    /// `f32`s of `Wᵀ` packed once by [`LinearPlan::pack_weights`] (every shard's GEMM has the
    /// same `n × k`, so one packing serves them all).
    pub fn packed_weights_len(&self) -> usize {
        self.full.or(self.tail).map_or(0, |p| p.packed_b_len())
    }

    /// Packs `Wᵀ` (`in×out`) into the GEMM's panels once, for
    /// [`LinearPlan::run_shards_packed`]: at batch 1 packing the weights on every call was
    /// most of a small layer's time.
    pub fn pack_weights(&self, weights_t: &[f32], packed: &mut [f32]) -> Result<()> {
        if let Some(p) = self.full.or(self.tail) {
            p.pack_b(weights_t, packed)
                .map_err(|e| Error::kernel("linear pack", e))?;
        }
        Ok(())
    }

    /// [`LinearPlan::run_shards`] with weights from [`LinearPlan::pack_weights`]: same bits.
    pub fn run_shards_packed(
        &self,
        shards: std::ops::Range<usize>,
        input: &[f32],
        packed: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        self.run_shards_with(shards, input, packed, true, bias, output, scratch)
    }

    /// Runs shards `shards` (a range of shard indices): `input` is the whole `rows×in`
    /// input, `output` the `out`-wide rows of exactly those shards.
    pub fn run_shards(
        &self,
        shards: std::ops::Range<usize>,
        input: &[f32],
        weights_t: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        self.run_shards_with(shards, input, weights_t, false, bias, output, scratch)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_shards_with(
        &self,
        shards: std::ops::Range<usize>,
        input: &[f32],
        weights_t: &[f32],
        packed: bool,
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        let (fin, fout) = (self.in_features, self.out_features);
        if shards.end > self.shards() || shards.start > shards.end {
            return Err(Error::shape(
                "linear shards",
                format!("within 0..{}", self.shards()),
                format!("{shards:?}"),
            ));
        }
        // Both within 0..=rows: `shards.end <= shards()` was checked.
        let first = (shards.start * LINEAR_SHARD_ROWS).min(self.rows);
        let last = (shards.end * LINEAR_SHARD_ROWS).min(self.rows);
        if input.len() != self.rows * fin || output.len() != (last - first) * fout {
            return Err(Error::shape(
                "linear input/output",
                format!("{}×{fin} in, {}×{fout} out", self.rows, last - first),
                format!("{} in, {} out", input.len(), output.len()),
            ));
        }
        let bias = bias.map_or(GemmBias::None, GemmBias::Columns);
        let ctx = |e| Error::kernel("linear", e);
        let mut row = first;
        for out in output.chunks_mut(LINEAR_SHARD_ROWS * fout) {
            let m = out.len() / fout;
            let plan = if m == LINEAR_SHARD_ROWS {
                self.full
            } else {
                self.tail
            };
            let Some(plan) = plan else {
                return Err(Error::shape(
                    "linear shard",
                    "a planned shard size".to_string(),
                    format!("{m} rows"),
                ));
            };
            let x = &input[row * fin..(row + m) * fin];
            if packed {
                plan.run_packed_b(x, weights_t, out, bias, scratch)
            } else {
                plan.run(x, weights_t, out, bias, scratch)
            }
            .map_err(ctx)?;
            row += m;
        }
        Ok(())
    }

    /// Runs every shard on the calling thread: `output = act(input·W + b)`.
    pub fn run(
        &self,
        input: &[f32],
        weights_t: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        self.run_shards(0..self.shards(), input, weights_t, bias, output, scratch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_rows_and_bad_ranges_are_errors() {
        let plan = LinearPlan::new(70, 3, 2, Activation::Identity, None).unwrap();
        assert_eq!(plan.shards(), 3);
        let x: Vec<f32> = (0..70 * 3).map(|i| i as f32).collect();
        let wt = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]; // Wᵀ (3×2): y = (x0, x1)
        let mut s = vec![0.0; plan.scratch_len()];
        let mut y = vec![0.0; 70 * 2];
        plan.run(&x, &wt, None, &mut y, &mut s).unwrap();
        for r in 0..70 {
            assert_eq!(&y[r * 2..r * 2 + 2], &[x[r * 3], x[r * 3 + 1]]);
        }
        // The last shard alone (6 rows), an empty range at the end, bad ranges and lengths.
        let mut tail = vec![0.0; 6 * 2];
        plan.run_shards(2..3, &x, &wt, None, &mut tail, &mut s)
            .unwrap();
        assert_eq!(tail, y[64 * 2..]);
        plan.run_shards(3..3, &x, &wt, None, &mut [], &mut s)
            .unwrap();
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 2..1;
        assert!(plan
            .run_shards(backwards, &x, &wt, None, &mut [], &mut s)
            .is_err());
        assert!(plan
            .run_shards(2..4, &x, &wt, None, &mut tail, &mut s)
            .is_err());
        assert!(plan
            .run_shards(0..1, &x, &wt, None, &mut tail, &mut s)
            .is_err());
        assert!(plan.run(&x, &wt[..5], None, &mut y, &mut s).is_err());
        assert!(LinearPlan::new(0, 3, 2, Activation::Identity, None).is_err());
        assert!(LinearPlan::new(4, 0, 2, Activation::Identity, None).is_err());
    }
}
