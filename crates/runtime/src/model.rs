//! The `Sequential` model: layers planned once for an input shape, then run with no
//! allocation.
//!
//! Planning ([`Sequential::plan`]) walks the layers once for an input shape:
//! - every conv, linear and pooling layer gets its kernel plan (algorithm, SIMD level, scratch
//!   size), with a directly following activation layer fused into its epilogue;
//! - `Flatten` and `Reshape` become shape changes with no step (NCHW data is contiguous);
//! - two activation buffers are sized for the largest activation and used in ping-pong
//!   (each step reads one and writes the other; in-place steps write where they read);
//! - one scratch buffer is sized for the largest per-thread scratch × threads.
//!
//! A batch whose activations outgrow the cache runs in **batch chunks** ([`BatchChunks`]):
//! the steps are planned for a chunk of images, each thread owns its own ping-pong buffers
//! and scratch and takes whole chunks through every layer, so a chunk's activations stay in
//! its core's L2 and the threads never wait for each other between layers
//! (`docs/runtime.md`, "Batch chunks"). The chunk size depends on the batch and the model,
//! never on the thread count, so results stay bit-identical at any thread count.
//!
//! [`Sequential::forward`] then runs the steps: after the first call with a shape it
//! allocates nothing (tested with a counting allocator in `tests/no_alloc.rs`).

use crate::error::{Error, Result};
use crate::layers::{Layer, LinearPlan};
use crate::parallel::{Scratch, Threads};
use crate::tensor::{Shape, Tensor, TensorRef};
use convkit_kernels::{epilogue, simd, Activation, Conv2dPlan, Pool2dPlan};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How a forward pass walks the batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchChunks {
    /// Chunks of at most [`CHUNK_BYTES`] of activations per step (input + output of the
    /// largest step), when that is at least [`MIN_AUTO_CHUNK`] images and the batch is
    /// larger; otherwise the whole batch.
    #[default]
    Auto,
    /// The whole batch through each layer before the next; each layer splits over the
    /// threads.
    Whole,
    /// Chunks of at most this many images (sizes evened out: 20 images at most 16 per chunk
    /// run as two chunks of 10). `Images(0)` is an error when planning.
    Images(usize),
}

/// The activation bytes (input + output of a chunk's largest step) [`BatchChunks::Auto`]
/// aims a chunk at: a quarter of the benchmark machine's 2 MiB L2, leaving room for the
/// weights (LeNet: at most 23 images, whose conv1 step reads 72 KB and writes 433 KB).
pub const CHUNK_BYTES: usize = 512 * 1024;

/// Smallest chunk [`BatchChunks::Auto`] uses: models whose images are so large that fewer
/// fit in [`CHUNK_BYTES`] run whole batches (their layers are big enough to split well, and
/// chunking would re-read every layer's weights once per chunk).
pub const MIN_AUTO_CHUNK: usize = 4;

/// A chain of layers run in order, like PyTorch's `nn.Sequential`.
///
/// ```
/// use convkit_runtime::layers::{Flatten, Linear, ReLU};
/// use convkit_runtime::{Sequential, Tensor, Threads};
/// let mut model = Sequential::new(vec![
///     Flatten.into(),
///     Linear::new(4, 2).with_weights(vec![1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0], None)?.into(),
///     ReLU.into(),
/// ])
/// .with_threads(Threads::new(1)?);
/// let x = Tensor::new(&[1, 1, 2, 2], vec![3.0, 5.0, 7.0, 9.0])?;
/// let y = model.forward(&x)?;
/// assert_eq!(y.shape().dims(), &[1, 2]);
/// assert_eq!(y.data(), &[3.0, 0.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Sequential {
    layers: Vec<Layer>,
    /// `None` until planned without threads set: then all cores (made lazily, so a model
    /// given its own threads never starts and drops a default pool).
    threads: Option<Threads>,
    batch_chunks: BatchChunks,
    scratch: Scratch,
    planned: Option<Planned>,
}

/// What planning decided for one input shape.
#[derive(Debug)]
struct Planned {
    input: Shape,
    output: Shape,
    pass: Pass,
}

#[derive(Debug)]
enum Pass {
    Whole(WholePass),
    Chunked(ChunkedPass),
}

/// The whole batch through each layer in turn.
#[derive(Debug)]
struct WholePass {
    steps: Vec<Step>,
    buffers: [Vec<f32>; 2],
    /// Some step splits over the threads: the pass keeps them awake
    /// ([`Threads::install_warm`]); a pass that splits nothing (LeNet batch 1) runs on the
    /// calling thread and waits for no worker's wake-up.
    splits: bool,
}

/// The batch in chunks, each chunk through every layer on one thread.
#[derive(Debug)]
struct ChunkedPass {
    /// Images per chunk (the last chunk may have fewer).
    chunk: usize,
    chunks: usize,
    batch: usize,
    /// Steps planned for `chunk` images.
    full: Vec<Step>,
    /// Steps for a smaller last chunk (their own prepared conv weights).
    last: Option<Vec<Step>>,
    /// One per pool thread (indexed by `rayon::current_thread_index`).
    workers: Vec<Mutex<Worker>>,
    in_item: usize,
    out_item: usize,
    output: Vec<f32>,
    /// Runs a chunk's steps on the calling thread.
    solo: Threads,
}

/// A thread's buffers in a chunked pass.
#[derive(Debug)]
struct Worker {
    buffers: [Vec<f32>; 2],
    scratch: Scratch,
}

#[derive(Debug)]
struct Step {
    /// Index of the layer that owns the parameters (and names the step in errors).
    layer: usize,
    kind: StepKind,
    /// The weights a conv step runs on.
    weights: StepWeights,
    /// Elements read.
    in_len: usize,
    /// Elements written.
    out_len: usize,
}

/// Where a conv step's weights are.
#[derive(Debug)]
enum StepWeights {
    /// The layer's cache (`Conv2d::planned_weights`), made by planning this step.
    Layer,
    /// The layer's raw OIHW weights.
    Raw,
    /// Transformed for this step's plan (a second plan of the layer).
    Own(Vec<f32>),
}

/// The steps planned for one input shape.
struct StepList {
    steps: Vec<Step>,
    output: Shape,
    /// Largest activation (elements).
    max_len: usize,
    /// Largest per-thread scratch (elements).
    max_scratch: usize,
}

#[derive(Debug)]
enum StepKind {
    Conv(Conv2dPlan),
    /// Linear: the kernels' GEMM on the layer's cached `Wᵀ`, row shards over the threads.
    Linear(LinearPlan),
    Pool(Pool2dPlan),
    /// A stand-alone activation (one that follows no conv, linear or pooling layer).
    Activation(Activation),
}

/// Where the current activation lives during a forward pass.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Loc {
    Input,
    Buffer(usize),
}

impl Sequential {
    /// A model over `layers`, running on all cores (see [`Sequential::with_threads`]).
    pub fn new(layers: Vec<Layer>) -> Sequential {
        Sequential {
            layers,
            threads: None,
            batch_chunks: BatchChunks::Auto,
            scratch: Scratch::new(),
            planned: None,
        }
    }

    /// Sets how forward passes walk the batch (default [`BatchChunks::Auto`]); the next
    /// forward re-plans.
    pub fn with_batch_chunks(mut self, chunks: BatchChunks) -> Sequential {
        self.set_batch_chunks(chunks);
        self
    }

    /// [`Sequential::with_batch_chunks`] in place.
    pub fn set_batch_chunks(&mut self, chunks: BatchChunks) {
        self.batch_chunks = chunks;
        self.planned = None;
    }

    /// Images per chunk the current plan runs (`None`: unplanned or whole batches).
    pub fn planned_chunk(&self) -> Option<usize> {
        match &self.planned.as_ref()?.pass {
            Pass::Chunked(c) => Some(c.chunk),
            Pass::Whole(_) => None,
        }
    }

    /// Runs on the given threads (results are bit-identical at any count).
    pub fn with_threads(mut self, threads: Threads) -> Sequential {
        self.set_threads(threads);
        self
    }

    /// Replaces the thread pool; the next forward re-plans.
    pub fn set_threads(&mut self, threads: Threads) {
        self.threads = Some(threads);
        self.planned = None;
    }

    /// Number of threads forward passes run on.
    pub fn thread_count(&self) -> usize {
        match &self.threads {
            Some(t) => t.count(),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// The layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Mutable access to the layers (for loading weights); drops the current plan.
    pub fn layers_mut(&mut self) -> &mut [Layer] {
        self.planned = None;
        &mut self.layers
    }

    /// Shapes after every layer for an input shape (`shapes[i]` is layer `i`'s output).
    pub fn shapes(&self, input: Shape) -> Result<Vec<Shape>> {
        let mut shapes = Vec::with_capacity(self.layers.len());
        let mut s = input;
        for (i, layer) in self.layers.iter().enumerate() {
            s = layer
                .output_shape(s)
                .map_err(|e| in_layer(i, layer.name(), e))?;
            shapes.push(s);
        }
        Ok(shapes)
    }

    /// Output shape for an input shape.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        Ok(self.shapes(input)?.last().copied().unwrap_or(input))
    }

    /// The input shape the model is currently planned for, if any.
    pub fn planned_input(&self) -> Option<Shape> {
        self.planned.as_ref().map(|p| p.input)
    }

    /// Plans every layer, the activation buffers and the scratch for `input`. Called by
    /// [`Sequential::forward`] when the input shape changes; call it yourself to keep the
    /// first forward free of allocation.
    pub fn plan(&mut self, input: Shape) -> Result<()> {
        self.planned = None;
        let chunk = self.chunk_images(input)?;
        let threads = self.threads.get_or_insert_with(Threads::all_cores);
        let count = threads.count();
        let Some(chunk) = chunk else {
            let list = plan_steps(&mut self.layers, input, false)?;
            self.scratch
                .reserve(list.max_scratch, count)
                .map_err(|e| Error::kernel("scratch", e))?;
            let splits = list.steps.iter().any(|s| match &s.kind {
                StepKind::Conv(p) => threads.conv_leaves(p) > 1,
                StepKind::Linear(p) => threads.linear_leaves(p) > 1,
                StepKind::Pool(p) => threads.pool_leaves(p) > 1,
                StepKind::Activation(_) => false,
            });
            self.planned = Some(Planned {
                input,
                output: list.output,
                pass: Pass::Whole(WholePass {
                    steps: list.steps,
                    buffers: [vec![0.0; list.max_len], vec![0.0; list.max_len]],
                    splits,
                }),
            });
            return Ok(());
        };
        let batch = input.batch();
        let chunks = batch.div_ceil(chunk);
        let last_images = batch - (chunks - 1) * chunk;
        let full = plan_steps(&mut self.layers, input.with_batch(chunk)?, false)?;
        let last = if last_images < chunk {
            Some(plan_steps(
                &mut self.layers,
                input.with_batch(last_images)?,
                true,
            )?)
        } else {
            None
        };
        let max_scratch = full
            .max_scratch
            .max(last.as_ref().map_or(0, |l| l.max_scratch));
        let output = full.output.with_batch(batch)?;
        let mut workers = Vec::with_capacity(count);
        for _ in 0..count {
            let mut scratch = Scratch::new();
            scratch
                .reserve(max_scratch, 1)
                .map_err(|e| Error::kernel("scratch", e))?;
            workers.push(Mutex::new(Worker {
                buffers: [vec![0.0; full.max_len], vec![0.0; full.max_len]],
                scratch,
            }));
        }
        self.planned = Some(Planned {
            input,
            output,
            pass: Pass::Chunked(ChunkedPass {
                chunk,
                chunks,
                batch,
                in_item: input.item_len(),
                out_item: output.item_len(),
                output: vec![0.0; output.numel()],
                full: full.steps,
                last: last.map(|l| l.steps),
                workers,
                solo: Threads::new(1).map_err(|e| Error::kernel("threads", e))?,
            }),
        });
        Ok(())
    }

    /// Images per chunk for `input` under the current [`BatchChunks`] (`None`: whole batch).
    /// Depends on the batch and the model only, not on the threads.
    fn chunk_images(&self, input: Shape) -> Result<Option<usize>> {
        let batch = input.batch();
        let most = match self.batch_chunks {
            BatchChunks::Whole => return Ok(None),
            BatchChunks::Images(0) => {
                return Err(Error::kernel(
                    "batch chunks",
                    convkit_kernels::Error::ZeroDimension {
                        what: "images per batch chunk",
                    },
                ))
            }
            BatchChunks::Images(n) => n,
            BatchChunks::Auto => {
                if batch <= MIN_AUTO_CHUNK {
                    return Ok(None);
                }
                let one = input.with_batch(1)?;
                let (mut prev, mut step) = (one.numel(), one.numel());
                for (layer, s) in self.layers.iter().zip(self.shapes(one)?) {
                    // Activations run fused or in place: no step of their own.
                    if layer.as_activation().is_none() {
                        step = step.max(prev.saturating_add(s.numel()));
                    }
                    prev = s.numel();
                }
                let n = CHUNK_BYTES / step.saturating_mul(4).max(1);
                if n < MIN_AUTO_CHUNK {
                    return Ok(None);
                }
                n
            }
        };
        if batch <= most {
            return Ok(None);
        }
        // Even chunks: as few as `most` allows, of near-equal size.
        let chunk = batch.div_ceil(batch.div_ceil(most));
        Ok(Some(chunk))
    }

    /// Runs the model on `input` (planning first if the shape changed) and returns a view of
    /// the output, which lives in the model's buffers until the next call.
    pub fn forward(&mut self, input: &Tensor) -> Result<TensorRef<'_>> {
        self.forward_slice(input.shape(), input.data())
    }

    /// [`Sequential::forward`] on borrowed data of the given shape.
    pub fn forward_slice(&mut self, shape: Shape, input: &[f32]) -> Result<TensorRef<'_>> {
        if input.len() != shape.numel() {
            return Err(Error::shape(
                "model input",
                format!("{} elements for {shape}", shape.numel()),
                format!("{} elements", input.len()),
            ));
        }
        if self.planned.as_ref().map(|p| p.input) != Some(shape) {
            self.plan(shape)?;
        }
        let (Some(planned), Some(threads)) = (self.planned.as_mut(), self.threads.as_ref()) else {
            unreachable!("planning sets both")
        };
        let layers = &self.layers;
        let out_len = planned.output.numel();
        let pass = match &mut planned.pass {
            Pass::Whole(pass) => pass,
            Pass::Chunked(pass) => {
                threads.install(|| pass.run(layers, input))?;
                return TensorRef::new(planned.output, &pass.output);
            }
        };
        let scratch = &mut self.scratch;
        let WholePass {
            steps,
            buffers,
            splits,
        } = pass;
        let mut run = || run_steps(steps, buffers, layers, threads, scratch, input, None);
        // A pass that splits nothing runs on the caller: entering the pool would hand it to a
        // worker and wait for that worker's wake-up (12 µs on a 26 µs LeNet batch-1 pass).
        let at = if *splits {
            threads.install_warm(run)?
        } else {
            run()?
        };
        let data: &[f32] = match at {
            Loc::Input => {
                buffers[0][..out_len].copy_from_slice(input);
                &buffers[0][..out_len]
            }
            Loc::Buffer(b) => &buffers[b][..out_len],
        };
        TensorRef::new(planned.output, data)
    }

    /// Times every planned step over `runs` forward passes of `input` (after one untimed
    /// pass): `(layer index, what runs, total time)`, in order. A fused activation is
    /// counted with its conv, linear or pooling step. A chunked pass is timed on one thread
    /// (every chunk in turn, each step's time summed over the chunks).
    pub fn profile(
        &mut self,
        input: &Tensor,
        runs: usize,
    ) -> Result<Vec<(usize, String, Duration)>> {
        self.forward(input)?;
        let (Some(planned), Some(threads)) = (self.planned.as_mut(), self.threads.as_ref()) else {
            unreachable!("planned by forward")
        };
        let layers = &self.layers;
        let scratch = &mut self.scratch;
        let steps = match &mut planned.pass {
            Pass::Whole(pass) => {
                let mut times = vec![Duration::ZERO; pass.steps.len()];
                for _ in 0..runs {
                    let t = &mut times[..];
                    // As `forward` runs the pass, so the times are those of a forward pass.
                    let (steps, buffers) = (&pass.steps, &mut pass.buffers);
                    let data = input.data();
                    let mut run =
                        || run_steps(steps, buffers, layers, threads, scratch, data, Some(t));
                    if pass.splits {
                        threads.install_warm(run)?;
                    } else {
                        run()?;
                    }
                }
                pass.steps.iter().zip(times)
            }
            Pass::Chunked(pass) => {
                let mut times = vec![Duration::ZERO; pass.full.len()];
                for _ in 0..runs {
                    pass.run_on_one_thread(layers, input.data(), &mut times)?;
                }
                pass.full.iter().zip(times)
            }
        };
        Ok(steps
            .map(|(step, t)| {
                let what = match &step.kind {
                    StepKind::Conv(p) => format!(
                        "{} [{} / {}, {:?}]",
                        layers[step.layer].name(),
                        p.algorithm(),
                        p.level().name(),
                        p.activation()
                    ),
                    StepKind::Linear(p) => format!(
                        "{} [gemm / {}, {:?}]",
                        layers[step.layer].name(),
                        p.level().name(),
                        p.activation()
                    ),
                    StepKind::Pool(p) => format!(
                        "{} [{}, {:?}]",
                        layers[step.layer].name(),
                        p.level().name(),
                        p.activation()
                    ),
                    StepKind::Activation(a) => format!("{a:?}"),
                };
                (step.layer, what, t)
            })
            .collect())
    }

    /// Runs the model and copies the output into an owned tensor.
    pub fn forward_owned(&mut self, input: &Tensor) -> Result<Tensor> {
        Ok(self.forward(input)?.to_tensor())
    }
}

/// Plans the steps of `layers` for `input`. `detached`: conv layers' caches are left alone
/// and each conv step keeps its own prepared weights (a second plan of the same layers).
fn plan_steps(layers: &mut [Layer], input: Shape, detached: bool) -> Result<StepList> {
    let mut steps = Vec::new();
    let mut shape = input;
    let mut max_len = input.numel();
    let mut max_scratch = 0;
    let mut i = 0;
    while i < layers.len() {
        // Fuse a directly following activation into conv, linear and pooling layers.
        let fused = layers.get(i + 1).and_then(Layer::as_activation);
        let act = fused.unwrap_or_default();
        let layer = &mut layers[i];
        let name = layer.name();
        let ctx = |e| in_layer(i, name, e);
        let out = layer.output_shape(shape).map_err(ctx)?;
        let mut weights = StepWeights::Layer;
        let kind = match layer {
            Layer::Conv2d(l) if detached => {
                let (plan, prepared) = l.plan_detached(shape, act).map_err(ctx)?;
                weights = prepared.map_or(StepWeights::Raw, StepWeights::Own);
                Some(StepKind::Conv(plan))
            }
            Layer::Conv2d(l) => Some(StepKind::Conv(l.plan(shape, act).map_err(ctx)?)),
            // The packed `Wᵀ` does not depend on the rows: every plan of a layer shares it.
            Layer::Linear(l) => Some(StepKind::Linear(l.plan(shape, act).map_err(ctx)?)),
            Layer::MaxPool2d(l) => Some(StepKind::Pool(l.plan(shape, act).map_err(ctx)?)),
            Layer::AvgPool2d(l) => Some(StepKind::Pool(l.plan(shape, act).map_err(ctx)?)),
            Layer::Sigmoid(_) | Layer::ReLU(_) | Layer::Tanh(_) => Some(StepKind::Activation(
                layer.as_activation().unwrap_or_default(),
            )),
            Layer::Flatten(_) | Layer::Reshape(_) => None,
        };
        let fuses = matches!(
            kind,
            Some(StepKind::Conv(_) | StepKind::Linear(_) | StepKind::Pool(_))
        ) && fused.is_some();
        match &kind {
            // Conv layers run on their cached prepared weights (see `run_steps`).
            Some(StepKind::Conv(p)) => max_scratch = max_scratch.max(p.prepared_scratch_len()),
            Some(StepKind::Linear(p)) => max_scratch = max_scratch.max(p.scratch_len()),
            _ => {}
        }
        if let Some(kind) = kind {
            steps.push(Step {
                layer: i,
                kind,
                weights,
                in_len: shape.numel(),
                out_len: out.numel(),
            });
        }
        shape = out;
        max_len = max_len.max(shape.numel());
        i += if fuses { 2 } else { 1 };
    }
    Ok(StepList {
        steps,
        output: shape,
        max_len,
        max_scratch,
    })
}

impl ChunkedPass {
    /// Runs every chunk (inside the pool). The chunks are rayon tasks, so a thread that
    /// finishes early steals more of them: on the shared 2-vCPU benchmark machine one vCPU
    /// often runs 1.6× slower than the other, and a fixed half each made the pass wait for
    /// the slow one. Each thread runs its chunks with its own worker's buffers.
    fn run(&mut self, layers: &[Layer], input: &[f32]) -> Result<()> {
        let (ctx, workers, output) = self.parts(layers, input);
        if let [worker] = workers {
            let worker = worker.get_mut().unwrap_or_else(PoisonError::into_inner);
            return ctx.run(0..ctx.chunks, worker, output, None);
        }
        let workers = &*workers;
        output
            .par_chunks_mut(ctx.chunk * ctx.out_item)
            .with_max_len(1)
            .enumerate()
            .try_for_each(|(c, out)| {
                // One worker per pool thread: the lock is never contended (a chunk's steps run
                // on this thread and make no rayon calls that could start another chunk here).
                let i = rayon::current_thread_index().unwrap_or(0) % workers.len();
                let mut worker = workers[i].lock().unwrap_or_else(PoisonError::into_inner);
                ctx.run(c..c + 1, &mut worker, out, None)
            })
    }

    /// Runs every chunk on the calling thread, adding each step's time to `times`.
    fn run_on_one_thread(
        &mut self,
        layers: &[Layer],
        input: &[f32],
        times: &mut [Duration],
    ) -> Result<()> {
        let (ctx, workers, output) = self.parts(layers, input);
        let worker = workers[0].get_mut().unwrap_or_else(PoisonError::into_inner);
        ctx.run(0..ctx.chunks, worker, output, Some(times))
    }

    /// What the chunks share, the workers and the output.
    fn parts<'a>(
        &'a mut self,
        layers: &'a [Layer],
        input: &'a [f32],
    ) -> (ChunkRun<'a>, &'a mut [Mutex<Worker>], &'a mut [f32]) {
        let ChunkedPass {
            chunk,
            chunks,
            batch,
            full,
            last,
            workers,
            in_item,
            out_item,
            output,
            solo,
        } = self;
        let ctx = ChunkRun {
            chunk: *chunk,
            chunks: *chunks,
            batch: *batch,
            full,
            last: last.as_deref(),
            in_item: *in_item,
            out_item: *out_item,
            solo,
            layers,
            input,
        };
        (ctx, workers, output)
    }
}

/// What every chunk of one chunked pass shares.
struct ChunkRun<'a> {
    chunk: usize,
    chunks: usize,
    batch: usize,
    full: &'a [Step],
    last: Option<&'a [Step]>,
    in_item: usize,
    out_item: usize,
    solo: &'a Threads,
    layers: &'a [Layer],
    input: &'a [f32],
}

impl ChunkRun<'_> {
    /// Runs chunks `range` in order on one thread; `output` holds exactly their images.
    fn run(
        &self,
        range: Range<usize>,
        worker: &mut Worker,
        output: &mut [f32],
        mut times: Option<&mut [Duration]>,
    ) -> Result<()> {
        let mut output = output;
        for c in range {
            let images = c * self.chunk..((c + 1) * self.chunk).min(self.batch);
            let steps = match self.last {
                Some(last) if c + 1 == self.chunks => last,
                _ => self.full,
            };
            let src = &self.input[images.start * self.in_item..images.end * self.in_item];
            let at = run_steps(
                steps,
                &mut worker.buffers,
                self.layers,
                self.solo,
                &mut worker.scratch,
                src,
                times.as_deref_mut(),
            )?;
            let (dst, rest) =
                std::mem::take(&mut output).split_at_mut(images.len() * self.out_item);
            dst.copy_from_slice(match at {
                Loc::Input => src,
                Loc::Buffer(b) => &worker.buffers[b][..dst.len()],
            });
            output = rest;
        }
        Ok(())
    }
}

/// Runs every step of `steps` on `input` with the ping-pong `buffers`; returns where the
/// output is.
fn run_steps(
    steps: &[Step],
    buffers: &mut [Vec<f32>; 2],
    layers: &[Layer],
    threads: &Threads,
    scratch: &mut Scratch,
    input: &[f32],
    mut times: Option<&mut [Duration]>,
) -> Result<Loc> {
    let mut at = Loc::Input;
    for (i, step) in steps.iter().enumerate() {
        let start = times.as_ref().map(|_| Instant::now());
        let layer = &layers[step.layer];
        let ctx = |e| Error::kernel(format!("layer {} ({})", step.layer, layer.name()), e);
        match &step.kind {
            StepKind::Conv(plan) => {
                let (src, dst) = src_dst(buffers, input, at, step.in_len);
                let dst = &mut dst[..step.out_len];
                let Layer::Conv2d(l) = layer else {
                    return Err(in_layer(step.layer, layer.name(), not_planned()));
                };
                let weights = match &step.weights {
                    StepWeights::Layer => l.planned_weights(),
                    StepWeights::Raw => l.weights(),
                    StepWeights::Own(w) => w,
                };
                threads
                    .conv2d_prepared(plan, src, weights, l.bias(), dst, scratch)
                    .map_err(ctx)?;
                at = Loc::Buffer(other(at));
            }
            StepKind::Linear(plan) => {
                let (src, dst) = src_dst(buffers, input, at, step.in_len);
                let dst = &mut dst[..step.out_len];
                let Layer::Linear(l) = layer else {
                    return Err(in_layer(step.layer, layer.name(), not_planned()));
                };
                let done = match l.planned_packed_weights() {
                    Some(packed) if packed.len() == plan.packed_weights_len() => {
                        threads.linear_packed(plan, src, packed, l.bias(), dst, scratch)
                    }
                    _ => {
                        let wt = l
                            .planned_weights()
                            .map_err(|e| in_layer(step.layer, layer.name(), e))?;
                        threads.linear(plan, src, wt, l.bias(), dst, scratch)
                    }
                };
                done.map_err(|e| in_layer(step.layer, layer.name(), e))?;
                at = Loc::Buffer(other(at));
            }
            StepKind::Pool(plan) => {
                let (src, dst) = src_dst(buffers, input, at, step.in_len);
                threads
                    .pool2d(plan, src, &mut dst[..step.out_len])
                    .map_err(ctx)?;
                at = Loc::Buffer(other(at));
            }
            StepKind::Activation(act) => {
                if at == Loc::Input {
                    buffers[0][..input.len()].copy_from_slice(input);
                    at = Loc::Buffer(0);
                }
                let Loc::Buffer(b) = at else { unreachable!() };
                let data = &mut buffers[b][..step.out_len];
                let len = data.len();
                epilogue::apply_bias_activation(simd::active(), data, 1, len, None, *act)
                    .map_err(ctx)?;
            }
        }
        if let (Some(t), Some(start)) = (times.as_deref_mut(), start) {
            t[i] += start.elapsed();
        }
    }
    Ok(at)
}

/// The buffer a step writes when the activation is at `at`.
fn other(at: Loc) -> usize {
    match at {
        Loc::Input | Loc::Buffer(1) => 0,
        Loc::Buffer(_) => 1,
    }
}

/// Source and destination slices for a step reading at `at`.
fn src_dst<'a>(
    buffers: &'a mut [Vec<f32>; 2],
    input: &'a [f32],
    at: Loc,
    len: usize,
) -> (&'a [f32], &'a mut [f32]) {
    let [a, b] = buffers;
    let (src, dst): (&[f32], &mut [f32]) = match at {
        Loc::Input => (input, a),
        Loc::Buffer(0) => (a, b),
        Loc::Buffer(_) => (b, a),
    };
    (&src[..len], dst)
}

/// A step whose layer is not the kind it was planned for (the plan is stale).
fn not_planned() -> Error {
    Error::shape(
        "planned step",
        "the layer kind it was planned for",
        "another layer",
    )
}

/// Prefixes an error's context with the layer index and name.
fn in_layer(i: usize, name: &str, e: Error) -> Error {
    match e {
        Error::Kernel { context, source } => Error::Kernel {
            context: format!("layer {i} ({name}): {context}"),
            source,
        },
        Error::Shape {
            context,
            expected,
            actual,
        } => Error::Shape {
            context: format!("layer {i} ({name}): {context}"),
            expected,
            actual,
        },
        e => e,
    }
}
