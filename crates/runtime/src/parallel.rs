//! Running kernel plans on a rayon thread pool.
//!
//! A plan's output is cut into work units (see [`convkit_kernels::split`]); [`Threads`]
//! halves the output recursively with `rayon::join`, one leaf per thread, each leaf with its own
//! slice of one scratch buffer. `join` needs no heap allocation, and every unit is computed the
//! same way in any leaf, so results are bit-identical at any thread count and a call allocates
//! nothing once its [`Scratch`] has grown to size.

use crate::layers::{LinearPlan, LINEAR_SHARD_ROWS};
use convkit_kernels::{Conv2dPlan, Error, OutputPiece, Pool2dPlan};
use std::ops::Range;

/// A sized rayon pool (or the calling thread alone, for one thread).
#[derive(Debug)]
pub struct Threads {
    pool: Option<rayon::ThreadPool>,
    count: usize,
}

impl Threads {
    /// A pool of `count` threads (`count >= 1`); one thread runs on the caller, no pool.
    pub fn new(count: usize) -> Result<Threads, Error> {
        if count == 0 {
            return Err(Error::ZeroDimension { what: "threads" });
        }
        let pool = if count == 1 {
            None
        } else {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(count)
                    .build()
                    .map_err(|_| Error::InvalidParameter {
                        what: "could not start the thread pool",
                    })?,
            )
        };
        Ok(Threads { pool, count })
    }

    /// One thread per available core.
    pub fn all_cores() -> Threads {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Building a pool only fails if the OS refuses threads; fall back to one.
        Threads::new(n).unwrap_or(Threads {
            pool: None,
            count: 1,
        })
    }

    /// Number of threads.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Runs `f` inside the pool (directly on the caller for one thread). Plan calls made
    /// inside `f` then split within the pool without crossing into it again: a whole model
    /// forward pass enters the pool once instead of once per layer. Entering a rayon pool
    /// from outside queues one job in its injector, which allocates a 1.5 KB block every 63
    /// entries; inside, `join` does not allocate.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Runs `f(piece, scratch)` on every leaf of `output` split over the threads, the leaves
    /// covering disjoint unit ranges; returns the first error.
    fn for_each_piece<F>(
        &self,
        whole: OutputPiece<'_>,
        scratch: &mut [f32],
        scratch_per_leaf: usize,
        f: &F,
    ) -> Result<(), Error>
    where
        F: Fn(OutputPiece<'_>, &mut [f32]) -> Result<(), Error> + Sync,
    {
        let leaves = self.count.min(whole.len()).max(1);
        match &self.pool {
            Some(pool) if leaves > 1 => {
                pool.install(|| split_run(whole, scratch, scratch_per_leaf, leaves, f))
            }
            _ => f(whole, &mut scratch[..scratch_per_leaf]),
        }
    }

    /// Runs a convolution plan over the threads: `output = act(conv(input) + bias)`.
    pub fn conv2d(
        &self,
        plan: &Conv2dPlan,
        input: &[f32],
        weights: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut Scratch,
    ) -> Result<(), Error> {
        let per_leaf = plan.scratch_len();
        let buf = scratch.reserve(per_leaf, self.count)?;
        let whole = OutputPiece::whole(output, plan.unit_geometry())?;
        self.for_each_piece(whole, buf, per_leaf, &|piece, s| {
            plan.run_piece(piece, input, weights, bias, s)
        })
    }

    /// [`Threads::conv2d`] with weights from [`Conv2dPlan::prepare_weights`] (or the raw
    /// weights when the plan's `prepared_weights_len()` is 0): the transform runs once per
    /// plan instead of once per call. Scratch per thread is `prepared_scratch_len()`.
    pub fn conv2d_prepared(
        &self,
        plan: &Conv2dPlan,
        input: &[f32],
        prepared: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut Scratch,
    ) -> Result<(), Error> {
        let per_leaf = plan.prepared_scratch_len();
        let buf = scratch.reserve(per_leaf, self.count)?;
        let whole = OutputPiece::whole(output, plan.unit_geometry())?;
        self.for_each_piece(whole, buf, per_leaf, &|piece, s| {
            plan.run_piece_prepared(piece, input, prepared, bias, s)
        })
    }

    /// Runs a linear plan over the threads: `output = act(input·W + b)` with `weights_t` =
    /// `Wᵀ` (`in×out`). The plan's row shards are handed out in contiguous ranges, one range
    /// per thread; a shard is computed the same way on any thread, so the output is
    /// bit-identical at any thread count.
    pub fn linear(
        &self,
        plan: &LinearPlan,
        input: &[f32],
        weights_t: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut Scratch,
    ) -> crate::Result<()> {
        self.linear_with(plan, input, weights_t, false, bias, output, scratch)
    }

    /// [`Threads::linear`] with weights packed by [`LinearPlan::pack_weights`] (same bits).
    pub fn linear_packed(
        &self,
        plan: &LinearPlan,
        input: &[f32],
        packed: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut Scratch,
    ) -> crate::Result<()> {
        self.linear_with(plan, input, packed, true, bias, output, scratch)
    }

    #[allow(clippy::too_many_arguments)]
    fn linear_with(
        &self,
        plan: &LinearPlan,
        input: &[f32],
        weights_t: &[f32],
        packed: bool,
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut Scratch,
    ) -> crate::Result<()> {
        let per_leaf = plan.scratch_len();
        let shards = plan.shards();
        let leaves = self.count.min(shards).max(1);
        let buf = scratch
            .reserve(per_leaf, leaves)
            .map_err(|e| crate::Error::kernel("linear scratch", e))?;
        let run = |range: Range<usize>, out: &mut [f32], s: &mut [f32]| {
            if packed {
                plan.run_shards_packed(range, input, weights_t, bias, out, s)
            } else {
                plan.run_shards(range, input, weights_t, bias, out, s)
            }
        };
        match &self.pool {
            Some(pool) if leaves > 1 => pool.install(|| {
                split_shards(
                    0..shards,
                    output,
                    plan.out_features() * LINEAR_SHARD_ROWS,
                    buf,
                    per_leaf,
                    leaves,
                    &run,
                )
            }),
            _ => run(0..shards, output, &mut buf[..per_leaf]),
        }
    }

    /// Runs a pooling plan over the threads.
    pub fn pool2d(
        &self,
        plan: &Pool2dPlan,
        input: &[f32],
        output: &mut [f32],
    ) -> Result<(), Error> {
        let whole = OutputPiece::whole(output, plan.unit_geometry())?;
        self.for_each_piece(whole, &mut [], 0, &|piece, _| plan.run_piece(piece, input))
    }
}

/// Splits `piece` into `leaves` parts of near-equal unit counts and runs them in parallel.
fn split_run<F>(
    piece: OutputPiece<'_>,
    scratch: &mut [f32],
    per_leaf: usize,
    leaves: usize,
    f: &F,
) -> Result<(), Error>
where
    F: Fn(OutputPiece<'_>, &mut [f32]) -> Result<(), Error> + Sync,
{
    if leaves <= 1 {
        return f(piece, &mut scratch[..per_leaf]);
    }
    let left_leaves = leaves / 2;
    let mid = piece.len() * left_leaves / leaves;
    let (left, right) = piece.split_at(mid);
    let (left_scratch, right_scratch) = scratch.split_at_mut(per_leaf * left_leaves);
    let (a, b) = rayon::join(
        || split_run(left, left_scratch, per_leaf, left_leaves, f),
        || split_run(right, right_scratch, per_leaf, leaves - left_leaves, f),
    );
    a.and(b)
}

/// Splits the shards `range` (whose output rows are `output`, `per_shard` values per full
/// shard, the last shard possibly shorter) into `leaves` contiguous parts and runs them in
/// parallel, each with its own `per_leaf` slice of `scratch`.
fn split_shards<F>(
    range: Range<usize>,
    output: &mut [f32],
    per_shard: usize,
    scratch: &mut [f32],
    per_leaf: usize,
    leaves: usize,
    f: &F,
) -> crate::Result<()>
where
    F: Fn(Range<usize>, &mut [f32], &mut [f32]) -> crate::Result<()> + Sync,
{
    if leaves <= 1 {
        return f(range, output, &mut scratch[..per_leaf]);
    }
    let left_leaves = leaves / 2;
    let mid = range.start + range.len() * left_leaves / leaves;
    let split = ((mid - range.start) * per_shard).min(output.len());
    let (left, right) = output.split_at_mut(split);
    let (left_scratch, right_scratch) = scratch.split_at_mut(per_leaf * left_leaves);
    let (a, b) = rayon::join(
        || {
            split_shards(
                range.start..mid,
                left,
                per_shard,
                left_scratch,
                per_leaf,
                left_leaves,
                f,
            )
        },
        || {
            split_shards(
                mid..range.end,
                right,
                per_shard,
                right_scratch,
                per_leaf,
                leaves - left_leaves,
                f,
            )
        },
    );
    a.and(b)
}

/// Scratch memory for threaded kernel calls: one slice per thread, grown on demand and then
/// reused, so steady-state calls do not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    buf: Vec<f32>,
}

impl Scratch {
    /// An empty scratch buffer.
    pub fn new() -> Scratch {
        Scratch::default()
    }

    /// Current capacity in `f32`s.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing has been reserved yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Grows to at least `per_thread · threads` elements and returns that prefix.
    pub fn reserve(&mut self, per_thread: usize, threads: usize) -> Result<&mut [f32], Error> {
        let need = per_thread.checked_mul(threads).ok_or(Error::Overflow {
            what: "scratch size",
        })?;
        if self.buf.len() < need {
            self.buf.resize(need, 0.0);
        }
        Ok(&mut self.buf[..need])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convkit_kernels::{Conv2d, ConvOptions, Padding};

    #[test]
    fn conv_is_bit_identical_at_any_thread_count() {
        let desc = Conv2d::builder()
            .batch(3)
            .channels(4, 5)
            .input_size(9, 7)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        let plan = Conv2dPlan::new(&desc, ConvOptions::default()).unwrap();
        let input: Vec<f32> = (0..desc.input_len())
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let weights: Vec<f32> = (0..desc.weights_len())
            .map(|i| (i as f32 * 0.11).cos())
            .collect();
        let bias: Vec<f32> = (0..5).map(|i| i as f32 * 0.1).collect();
        let mut want = vec![0.0; desc.output_len()];
        Threads::new(1)
            .unwrap()
            .conv2d(
                &plan,
                &input,
                &weights,
                Some(&bias),
                &mut want,
                &mut Scratch::new(),
            )
            .unwrap();
        for t in [2, 3, 4, 8] {
            let mut got = vec![0.0; desc.output_len()];
            Threads::new(t)
                .unwrap()
                .conv2d(
                    &plan,
                    &input,
                    &weights,
                    Some(&bias),
                    &mut got,
                    &mut Scratch::new(),
                )
                .unwrap();
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{t} threads"
            );
        }
    }

    #[test]
    fn zero_threads_is_an_error() {
        assert!(matches!(Threads::new(0), Err(Error::ZeroDimension { .. })));
    }
}
