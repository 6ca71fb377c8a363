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
//! [`Sequential::forward`] then runs the steps: after the first call with a shape it
//! allocates nothing (tested with a counting allocator in `tests/no_alloc.rs`).

use crate::error::{Error, Result};
use crate::layers::{Layer, LinearPlan};
use crate::parallel::{Scratch, Threads};
use crate::tensor::{Shape, Tensor, TensorRef};
use convkit_kernels::{epilogue, simd, Activation, Conv2dPlan, Pool2dPlan};
use std::time::{Duration, Instant};

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
    scratch: Scratch,
    planned: Option<Planned>,
}

/// What planning decided for one input shape.
#[derive(Debug)]
struct Planned {
    input: Shape,
    output: Shape,
    steps: Vec<Step>,
    buffers: [Vec<f32>; 2],
    /// Some step splits over the threads: the pass keeps them awake
    /// ([`Threads::install_warm`]); a pass that splits nothing (LeNet batch 1) runs on the
    /// calling thread and waits for no worker's wake-up.
    splits: bool,
}

#[derive(Debug)]
struct Step {
    /// Index of the layer that owns the parameters (and names the step in errors).
    layer: usize,
    kind: StepKind,
    /// Elements read.
    in_len: usize,
    /// Elements written.
    out_len: usize,
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
            scratch: Scratch::new(),
            planned: None,
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
        let mut steps = Vec::new();
        let mut shape = input;
        let mut max_len = input.numel();
        let mut max_scratch = 0;
        let mut i = 0;
        while i < self.layers.len() {
            // Fuse a directly following activation into conv, linear and pooling layers.
            let fused = self.layers.get(i + 1).and_then(Layer::as_activation);
            let act = fused.unwrap_or_default();
            let layer = &mut self.layers[i];
            let name = layer.name();
            let ctx = |e| in_layer(i, name, e);
            let out = layer.output_shape(shape).map_err(ctx)?;
            let kind = match layer {
                Layer::Conv2d(l) => Some(StepKind::Conv(l.plan(shape, act).map_err(ctx)?)),
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
                    in_len: shape.numel(),
                    out_len: out.numel(),
                });
            }
            shape = out;
            max_len = max_len.max(shape.numel());
            i += if fuses { 2 } else { 1 };
        }
        let threads = self.threads.get_or_insert_with(Threads::all_cores);
        self.scratch
            .reserve(max_scratch, threads.count())
            .map_err(|e| Error::kernel("scratch", e))?;
        let splits = steps.iter().any(|s| match &s.kind {
            StepKind::Conv(p) => threads.conv_leaves(p) > 1,
            StepKind::Linear(p) => threads.linear_leaves(p) > 1,
            StepKind::Pool(p) => threads.pool_leaves(p) > 1,
            StepKind::Activation(_) => false,
        });
        self.planned = Some(Planned {
            input,
            output: shape,
            steps,
            buffers: [vec![0.0; max_len], vec![0.0; max_len]],
            splits,
        });
        Ok(())
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
        let scratch = &mut self.scratch;
        let splits = planned.splits;
        let mut run = || run_steps(planned, layers, threads, scratch, input, None);
        // A pass that splits nothing runs on the caller: entering the pool would hand it to a
        // worker and wait for that worker's wake-up (12 µs on a 26 µs LeNet batch-1 pass).
        let at = if splits {
            threads.install_warm(run)?
        } else {
            run()?
        };
        let out_len = planned.output.numel();
        let data: &[f32] = match at {
            Loc::Input => {
                planned.buffers[0][..out_len].copy_from_slice(input);
                &planned.buffers[0][..out_len]
            }
            Loc::Buffer(b) => &planned.buffers[b][..out_len],
        };
        TensorRef::new(planned.output, data)
    }

    /// Times every planned step over `runs` forward passes of `input` (after one untimed
    /// pass): `(layer index, what runs, total time)`, in order. A fused activation is
    /// counted with its conv, linear or pooling step.
    pub fn profile(
        &mut self,
        input: &Tensor,
        runs: usize,
    ) -> Result<Vec<(usize, String, Duration)>> {
        self.forward(input)?;
        let (Some(planned), Some(threads)) = (self.planned.as_mut(), self.threads.as_ref()) else {
            unreachable!("planned by forward")
        };
        let mut times = vec![Duration::ZERO; planned.steps.len()];
        let layers = &self.layers;
        let scratch = &mut self.scratch;
        let splits = planned.splits;
        for _ in 0..runs {
            let t = &mut times[..];
            // As `forward` runs the pass, so the times are those of a forward pass.
            let mut run = || run_steps(planned, layers, threads, scratch, input.data(), Some(t));
            if splits {
                threads.install_warm(run)?;
            } else {
                run()?;
            }
        }
        Ok(planned
            .steps
            .iter()
            .zip(times)
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

/// Runs every planned step; returns where the output is.
fn run_steps(
    planned: &mut Planned,
    layers: &[Layer],
    threads: &Threads,
    scratch: &mut Scratch,
    input: &[f32],
    mut times: Option<&mut [Duration]>,
) -> Result<Loc> {
    let mut at = Loc::Input;
    for (i, step) in planned.steps.iter().enumerate() {
        let start = times.as_ref().map(|_| Instant::now());
        let layer = &layers[step.layer];
        let ctx = |e| Error::kernel(format!("layer {} ({})", step.layer, layer.name()), e);
        match &step.kind {
            StepKind::Conv(plan) => {
                let (src, dst) = src_dst(&mut planned.buffers, input, at, step.in_len);
                let dst = &mut dst[..step.out_len];
                let Layer::Conv2d(l) = layer else {
                    return Err(in_layer(step.layer, layer.name(), not_planned()));
                };
                threads
                    .conv2d_prepared(plan, src, l.planned_weights(), l.bias(), dst, scratch)
                    .map_err(ctx)?;
                at = Loc::Buffer(other(at));
            }
            StepKind::Linear(plan) => {
                let (src, dst) = src_dst(&mut planned.buffers, input, at, step.in_len);
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
                let (src, dst) = src_dst(&mut planned.buffers, input, at, step.in_len);
                threads
                    .pool2d(plan, src, &mut dst[..step.out_len])
                    .map_err(ctx)?;
                at = Loc::Buffer(other(at));
            }
            StepKind::Activation(act) => {
                if at == Loc::Input {
                    planned.buffers[0][..input.len()].copy_from_slice(input);
                    at = Loc::Buffer(0);
                }
                let Loc::Buffer(b) = at else { unreachable!() };
                let data = &mut planned.buffers[b][..step.out_len];
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
