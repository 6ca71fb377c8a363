//! Running kernel plans on a rayon thread pool.
//!
//! A plan's output is cut into work units (see [`convkit_kernels::split`]). [`Threads`] starts
//! one leaf per thread (fewer, or none, for calls too small to pay for a split) with
//! `rayon::join`, each leaf with its own slice of one scratch buffer, and the leaves take
//! pieces of the remaining units from a shared queue until it is empty (guided
//! self-scheduling: `docs/runtime.md`, "Dynamic pieces"). `join` needs no heap allocation,
//! and every unit is computed the same way in any piece, so results are bit-identical at any
//! thread count and a call allocates nothing once its [`Scratch`] has grown to size.

use crate::layers::{LinearPlan, LINEAR_SHARD_ROWS};
use convkit_kernels::{Conv2dPlan, Error, OutputPiece, Pool2dPlan};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sized rayon pool (or the calling thread alone, for one thread).
#[derive(Debug)]
pub struct Threads {
    pool: Option<rayon::ThreadPool>,
    count: usize,
    split_small: bool,
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
        Ok(Threads {
            pool,
            count,
            split_small: false,
        })
    }

    /// Whether calls below [`MIN_CONV_FLOPS_PER_LEAF`] / [`MIN_POOL_BYTES_PER_LEAF`] per
    /// thread are split anyway (default: no, they run on the calling thread). The result is
    /// the same bits either way; tests use this to exercise every split on small shapes.
    pub fn split_small_calls(mut self, yes: bool) -> Threads {
        self.split_small = yes;
        self
    }

    /// One thread per available core.
    pub fn all_cores() -> Threads {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Building a pool only fails if the OS refuses threads; fall back to one.
        Threads::new(n).unwrap_or(Threads {
            pool: None,
            count: 1,
            split_small: false,
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

    /// [`Threads::install`], with one other thread of the pool kept awake polling for the
    /// pieces `f` splits off (`keep_warm`) instead of sleeping between calls: waking a
    /// sleeping rayon worker took 25–75 µs (median) on the 2-vCPU benchmark machine, a third
    /// of a LeNet layer at batch 256. Worth it when `f` makes several split calls; the price
    /// is that the thread spins while `f` runs (it gives up after [`KEEP_WARM_IDLE`] without
    /// work), that it may run other work queued on the pool meanwhile (which `f`'s return
    /// then waits for, as any rayon `join` would), and that `f` returns only once the thread
    /// that took the spinning job has seen it finish (for a short `f` that never splits, that
    /// thread's wake-up: use [`Threads::install`] there). With more than two threads the
    /// others still sleep between calls.
    pub fn install_warm<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(|| {
                let done = AtomicBool::new(false);
                let owner = rayon::current_thread_index();
                let (r, ()) = rayon::join(
                    || {
                        // Set even if `f` panics, or `join` would wait for the spinner forever.
                        let _done = SetOnDrop(&done);
                        f()
                    },
                    || keep_warm(&done, owner),
                );
                r
            }),
            None => f(),
        }
    }

    /// Leaves (threads) a call of `units` work units that pays for `work_leaves` would use.
    fn leaves(&self, units: usize, work_leaves: usize) -> usize {
        let work_leaves = if self.split_small {
            usize::MAX
        } else {
            work_leaves
        };
        self.count.min(units).min(work_leaves).max(1)
    }

    /// Threads [`Threads::conv2d`] would split `plan` over.
    pub fn conv_leaves(&self, plan: &Conv2dPlan) -> usize {
        self.leaves(plan.unit_geometry().units(), conv_work_leaves(plan))
    }

    /// Threads [`Threads::pool2d`] would split `plan` over.
    pub fn pool_leaves(&self, plan: &Pool2dPlan) -> usize {
        self.leaves(plan.unit_geometry().units(), pool_work_leaves(plan))
    }

    /// Threads [`Threads::linear`] would split `plan` over.
    pub fn linear_leaves(&self, plan: &LinearPlan) -> usize {
        self.count.min(plan.shards()).max(1)
    }

    /// Runs `f(piece, scratch)` on pieces covering `whole`'s units exactly once, on up to one
    /// leaf per thread ([`drain_pieces`]); returns the first error. At most `work_leaves`
    /// leaves: a call too small to pay for a split runs on the calling thread as one piece.
    fn for_each_piece<F>(
        &self,
        whole: OutputPiece<'_>,
        scratch: &mut [f32],
        scratch_per_leaf: usize,
        work_leaves: usize,
        f: &F,
    ) -> Result<(), Error>
    where
        F: Fn(OutputPiece<'_>, &mut [f32]) -> Result<(), Error> + Sync,
    {
        let leaves = self.leaves(whole.len(), work_leaves);
        match &self.pool {
            Some(pool) if leaves > 1 => {
                let queue = Mutex::new(Some(whole));
                pool.install(|| {
                    split_leaves(0..leaves, scratch, scratch_per_leaf, &|leaf, s| {
                        drain_pieces(&queue, leaf, leaves, s, f)
                    })
                })
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
        self.for_each_piece(whole, buf, per_leaf, conv_work_leaves(plan), &|piece, s| {
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
        self.for_each_piece(whole, buf, per_leaf, conv_work_leaves(plan), &|piece, s| {
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
        let work_leaves = pool_work_leaves(plan);
        self.for_each_piece(whole, &mut [], 0, work_leaves, &|piece, _| {
            plan.run_piece(piece, input)
        })
    }
}

/// Least convolution work worth a thread of its own (direct-convolution FLOPs): about 10–20 µs
/// at this library's speeds. Splitting less cost more than it saved: LeNet batch 1 ran its
/// 0.2–0.5 MFLOP layers in halves on two threads and took 37 µs per image against 17 µs on
/// one (the halves' sync and the activations crossing cores outweigh a few µs of arithmetic).
pub const MIN_CONV_FLOPS_PER_LEAF: f64 = 1.0e6;

/// Least pooling traffic (input + output bytes) worth a thread of its own.
pub const MIN_POOL_BYTES_PER_LEAF: usize = 128 * 1024;

/// How many leaves a convolution's work pays for.
fn conv_work_leaves(plan: &Conv2dPlan) -> usize {
    (plan.descriptor().flops() / MIN_CONV_FLOPS_PER_LEAF) as usize
}

/// How many leaves a pooling's traffic pays for.
fn pool_work_leaves(plan: &Pool2dPlan) -> usize {
    let d = plan.descriptor();
    4 * (d.input_len() + d.output_len()) / MIN_POOL_BYTES_PER_LEAF
}

/// How long `keep_warm` polls without finding work before it lets its thread sleep (OpenMP
/// runtimes spin for 200 ms by default; a pass with a long unsplit stretch should not burn a
/// core for all of it).
pub const KEEP_WARM_IDLE: Duration = Duration::from_millis(2);

/// Sets the flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Runs pool work on this thread until `done`: the half of [`Threads::install_warm`]'s `join` that
/// another worker steals. Work it finds (the pieces `f` splits off) runs at once, without a
/// sleeping worker's wake-up. When the `owner` thread (the one running `f`) gets the job back
/// itself, after `f` or while waiting inside a nested `join`, it returns at once: spinning
/// there would wait for a `done` that only the owner can set.
fn keep_warm(done: &AtomicBool, owner: Option<usize>) {
    if rayon::current_thread_index() == owner {
        return;
    }
    let mut idle_since: Option<Instant> = None;
    while !done.load(Ordering::Acquire) {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => idle_since = None,
            Some(rayon::Yield::Idle) => {
                // Returning early is always safe: `join` only needs this job to finish.
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() > KEEP_WARM_IDLE {
                    return;
                }
                std::hint::spin_loop();
            }
            None => return,
        }
    }
}

/// Runs `f(leaf, scratch)` for each leaf index of `leaves` in parallel (`rayon::join`
/// halving), each with its own `per_leaf` slice of `scratch`.
fn split_leaves<F>(
    leaves: Range<usize>,
    scratch: &mut [f32],
    per_leaf: usize,
    f: &F,
) -> Result<(), Error>
where
    F: Fn(usize, &mut [f32]) -> Result<(), Error> + Sync,
{
    if leaves.len() <= 1 {
        return f(leaves.start, &mut scratch[..per_leaf]);
    }
    let mid = leaves.start + leaves.len() / 2;
    let (left_scratch, right_scratch) = scratch.split_at_mut(per_leaf * (mid - leaves.start));
    let (a, b) = rayon::join(
        || split_leaves(leaves.start..mid, left_scratch, per_leaf, f),
        || split_leaves(mid..leaves.end, right_scratch, per_leaf, f),
    );
    a.and(b)
}

/// One leaf's share of a split call: takes pieces off `queue` (the units no leaf has taken
/// yet) and runs them until none are left. Guided self-scheduling: each piece is
/// `remaining / (2·leaves)` units (at least one), so the first pieces are large and the last
/// ones a single unit, and a leaf that runs slower (a busy or slower core) or starts late (a
/// sleeping worker's wake-up) simply takes fewer; the leaves finish within about one unit
/// of each other. Even leaves take from the front, odd ones from the back, so with two
/// threads each keeps to its own end of the output (as a static split would) until they
/// meet. On an error the queue is emptied so the other leaves stop too.
fn drain_pieces<F>(
    queue: &Mutex<Option<OutputPiece<'_>>>,
    leaf: usize,
    leaves: usize,
    scratch: &mut [f32],
    f: &F,
) -> Result<(), Error>
where
    F: Fn(OutputPiece<'_>, &mut [f32]) -> Result<(), Error> + Sync,
{
    let poisoned = || Error::InvalidParameter {
        what: "a thread panicked while taking work",
    };
    loop {
        let piece = {
            let mut rest = queue.lock().map_err(|_| poisoned())?;
            let Some(all) = rest.take() else {
                return Ok(());
            };
            let len = all.len();
            if len == 0 {
                return Ok(());
            }
            let take = (len / (2 * leaves)).max(1);
            let (piece, left) = if leaf.is_multiple_of(2) {
                all.split_at(take)
            } else {
                let (left, piece) = all.split_at(len - take);
                (piece, left)
            };
            *rest = Some(left);
            piece
        };
        if let Err(e) = f(piece, scratch) {
            if let Ok(mut rest) = queue.lock() {
                *rest = None;
            }
            return Err(e);
        }
    }
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
    use convkit_kernels::{Activation, Algorithm, Conv2d, ConvOptions, Padding};

    /// A 3×3, pad-1 convolution of `n×c×h×w` to `k` channels, its plan, and deterministic
    /// input and weights.
    fn conv3x3_case(
        n: usize,
        c: usize,
        k: usize,
        h: usize,
        w: usize,
    ) -> (Conv2d, Conv2dPlan, Vec<f32>, Vec<f32>) {
        let desc = Conv2d::builder()
            .batch(n)
            .channels(c, k)
            .input_size(h, w)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        let plan = Conv2dPlan::new(&desc, ConvOptions::default()).unwrap();
        let input = (0..desc.input_len())
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let weights = (0..desc.weights_len())
            .map(|i| (i as f32 * 0.11).cos())
            .collect();
        (desc, plan, input, weights)
    }

    #[test]
    fn conv_is_bit_identical_at_any_thread_count() {
        let (desc, plan, input, weights) = conv3x3_case(3, 4, 5, 9, 7);
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
                .split_small_calls(true)
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

    /// Plans that cut a small image's output channels into blocks (Winograd, 1×1 im2col)
    /// give the single call's bits at any thread count, with raw and prepared weights.
    #[test]
    fn channel_block_units_are_bit_identical_at_any_thread_count() {
        for (algorithm, r) in [(Algorithm::Winograd2x2, 3), (Algorithm::Im2colGemm, 1)] {
            let desc = Conv2d::builder()
                .channels(16, 40)
                .input_size(7, 7)
                .kernel_size(r, r)
                .padding(Padding::uniform(r / 2))
                .build()
                .unwrap();
            let options = ConvOptions {
                algorithm,
                activation: Activation::Tanh,
                ..ConvOptions::default()
            };
            let plan = Conv2dPlan::new(&desc, options).unwrap();
            assert_eq!(plan.unit_geometry().channel_blocks(), 2, "{algorithm}");
            let input: Vec<f32> = (0..desc.input_len())
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let weights: Vec<f32> = (0..desc.weights_len())
                .map(|i| (i as f32 * 0.11).cos())
                .collect();
            let bias: Vec<f32> = (0..40).map(|i| i as f32 * 0.01).collect();
            let mut prepared = vec![0.0; plan.prepared_weights_len()];
            plan.prepare_weights(&weights, &mut prepared).unwrap();
            let mut want = vec![0.0; desc.output_len()];
            let mut scratch = vec![0.0; plan.scratch_len()];
            plan.run(&input, &weights, Some(&bias), &mut want, &mut scratch)
                .unwrap();
            for t in 1..=4 {
                let threads = Threads::new(t).unwrap().split_small_calls(true);
                let (mut raw, mut pre) = (vec![0.0; want.len()], vec![0.0; want.len()]);
                let mut s = Scratch::new();
                threads
                    .conv2d(&plan, &input, &weights, Some(&bias), &mut raw, &mut s)
                    .unwrap();
                threads
                    .conv2d_prepared(&plan, &input, &prepared, Some(&bias), &mut pre, &mut s)
                    .unwrap();
                for got in [&raw, &pre] {
                    assert!(
                        want.iter()
                            .zip(got)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{algorithm} {t} threads"
                    );
                }
            }
        }
    }

    #[test]
    fn install_keeps_results_nests_and_propagates_panics() {
        let threads = Threads::new(2).unwrap();
        // Work split inside `install` runs on both threads, and nested installs return.
        let (a, b) = threads.install_warm(|| {
            rayon::join(
                || threads.install_warm(|| (0..1000u64).sum::<u64>()),
                rayon::current_thread_index,
            )
        });
        assert_eq!(a, 499_500);
        assert!(b.is_some());
        // A panic inside `f` reaches the caller instead of leaving the spinner waiting.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            threads.install_warm(|| panic!("inside install"))
        }));
        assert!(caught.is_err());
        // The pool still works afterwards.
        assert_eq!(threads.install_warm(|| 7), 7);
    }

    #[test]
    fn conv_inside_install_matches_one_thread() {
        let (desc, plan, input, weights) = conv3x3_case(2, 3, 8, 12, 10);
        let run = |t: usize| {
            let threads = Threads::new(t).unwrap().split_small_calls(true);
            let mut out = vec![0.0; desc.output_len()];
            let mut scratch = Scratch::new();
            threads
                .install_warm(|| {
                    (0..3).try_for_each(|_| {
                        // Longer than the spinner polls without work: later calls split
                        // over a worker that gave up spinning and sleeps.
                        std::thread::sleep(KEEP_WARM_IDLE * 2);
                        threads.conv2d(&plan, &input, &weights, None, &mut out, &mut scratch)
                    })
                })
                .unwrap();
            out
        };
        let want = run(1);
        for t in [2, 3] {
            let got = run(t);
            assert!(want
                .iter()
                .zip(&got)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn small_calls_run_on_one_thread() {
        let small = Conv2d::builder()
            .channels(1, 6)
            .input_size(28, 28)
            .kernel_size(5, 5)
            .build()
            .unwrap();
        let big = Conv2d::builder()
            .batch(64)
            .channels(1, 6)
            .input_size(28, 28)
            .kernel_size(5, 5)
            .build()
            .unwrap();
        for (desc, want_split) in [(small, false), (big, true)] {
            let plan = Conv2dPlan::new(&desc, ConvOptions::default()).unwrap();
            let input = vec![1.0; desc.input_len()];
            let weights = vec![0.5; desc.weights_len()];
            for split_small in [false, true] {
                let threads = Threads::new(2).unwrap().split_small_calls(split_small);
                let mut out = vec![0.0; desc.output_len()];
                let mut scratch = Scratch::new();
                let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
                threads
                    .install(|| {
                        let whole = OutputPiece::whole(&mut out, plan.unit_geometry())?;
                        let buf = scratch.reserve(plan.scratch_len(), 2)?;
                        threads.for_each_piece(
                            whole,
                            buf,
                            plan.scratch_len(),
                            conv_work_leaves(&plan),
                            &|piece, s| {
                                seen.lock().unwrap().insert(piece.units().start);
                                plan.run_piece(piece, &input, &weights, None, s)
                            },
                        )
                    })
                    .unwrap();
                // A split call runs as several pieces (the first piece a leaf takes is at
                // most a quarter of the units), an unsplit one as one.
                let pieces = seen.into_inner().unwrap().len();
                let split = want_split || split_small;
                assert_eq!(pieces > 1, split, "{pieces} pieces");
                assert_eq!(threads.conv_leaves(&plan), if split { 2 } else { 1 });
            }
        }
    }

    #[test]
    fn zero_threads_is_an_error() {
        assert!(matches!(Threads::new(0), Err(Error::ZeroDimension { .. })));
    }
}
