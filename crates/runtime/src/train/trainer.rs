//! Data-parallel minibatch training of a [`Sequential`].
//!
//! A batch is cut into shards of a fixed size ([`TrainOptions::shard`], independent of the
//! thread count). Each shard runs forward and backward on one thread with its own workspace
//! (planned once per shard size: activations of every step, arg-max indices of max pooling,
//! two ping-pong gradient buffers, a flat parameter-gradient buffer, scratch). The shards'
//! parameter gradients are then added in shard order into one flat buffer, so the sum and
//! everything after it are bit-identical at any thread count. The optimizer then updates the
//! layers' parameters in place. After the first step of a batch size nothing allocates.

use super::loss::softmax_cross_entropy;
use super::optim::Optimizer;
use super::rng::TrainRng;
use crate::error::{Error, Result};
use crate::layers::{linear::transpose, Layer, LinearPlan};
use crate::model::Sequential;
use crate::parallel::Threads;
use crate::tensor::{Shape, Tensor};
use convkit_kernels::backward::{activation_backward, Conv2dBackwardPlan};
use convkit_kernels::{
    epilogue, simd, Activation, Conv2dPlan, ConvOptions, Gemm, GemmBias, GemmPlan, Pool2dPlan,
};
use rayon::prelude::*;
use std::ops::Range;

/// Training options beyond the optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrainOptions {
    /// Items per shard: the unit of parallel work and of the fixed reduction order.
    pub shard: usize,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        // Batch 64 gives 4 shards: balanced on 1, 2 or 4 threads.
        TrainOptions { shard: 16 }
    }
}

/// Where one layer's parameters sit in the flat gradient (and optimizer state) layout: layer
/// order, weight before bias, the order of `Sequential::parameters` and of the safetensors
/// file.
#[derive(Clone, Debug)]
struct Slot {
    weight: Range<usize>,
    bias: Option<Range<usize>>,
}

#[derive(Debug)]
enum Op {
    Conv {
        plan: Conv2dPlan,
        back: Conv2dBackwardPlan,
    },
    Linear {
        /// Forward `Y = act(X·W + b)` on the layer's `Wᵀ`.
        plan: LinearPlan,
        /// `dW (out×in) = dYᵀ·X`.
        grad_weights: GemmPlan,
        /// `dX (rows×in) = dY·W`.
        grad_input: GemmPlan,
    },
    Pool {
        plan: Pool2dPlan,
        /// Index of this step's arg-max buffer (max pooling).
        indices: Option<usize>,
    },
    /// A stand-alone activation.
    Act,
}

#[derive(Debug)]
struct TrainStep {
    layer: usize,
    op: Op,
    /// The activation applied last by this step (fused, or the step itself).
    act: Activation,
    slot: Option<usize>,
    in_len: usize,
    out_len: usize,
}

/// One shard's plan and buffers.
#[derive(Debug)]
struct Work {
    batch: usize,
    steps: Vec<TrainStep>,
    /// `acts[0]` is the shard's input, `acts[i + 1]` step `i`'s output.
    acts: Vec<Vec<f32>>,
    indices: Vec<Vec<u32>>,
    grad: [Vec<f32>; 2],
    param_grads: Vec<f32>,
    scratch: Vec<f32>,
    /// Sum of the shard's per-item losses.
    loss: f64,
    /// Items whose largest logit is their label.
    correct: usize,
}

/// Trains a [`Sequential`] classifier with softmax cross-entropy.
#[derive(Debug)]
pub struct Trainer {
    model: Sequential,
    optimizer: Optimizer,
    threads: Threads,
    options: TrainOptions,
    /// Shape of one input item, batch 1.
    item: Shape,
    classes: usize,
    slots: Vec<Option<Slot>>,
    param_len: usize,
    grads: Vec<f32>,
    /// `Wᵀ` of every linear layer (empty for other layers), refreshed before each batch.
    transposed: Vec<Vec<f32>>,
    full: Vec<Work>,
    tail: Option<Work>,
    batch_x: Vec<f32>,
    batch_y: Vec<u8>,
    order: Vec<u32>,
}

impl Trainer {
    /// A trainer for `model` on inputs of per-item shape `item` (for LeNet `[1, 28, 28]`).
    pub fn new(
        model: Sequential,
        item: &[usize],
        optimizer: Optimizer,
        threads: Threads,
        options: TrainOptions,
    ) -> Result<Trainer> {
        if options.shard == 0 {
            return Err(Error::kernel(
                "train options",
                convkit_kernels::Error::ZeroDimension { what: "shard size" },
            ));
        }
        let mut dims = vec![1];
        dims.extend_from_slice(item);
        let item = Shape::new(&dims)?;
        let classes = model.output_shape(item)?.item_len();
        let mut slots = Vec::new();
        let mut at = 0;
        for layer in model.layers() {
            let (w, b) = match layer {
                Layer::Conv2d(l) => (l.weights().len(), l.bias().map(<[f32]>::len)),
                Layer::Linear(l) => (l.weights().len(), l.bias().map(<[f32]>::len)),
                _ => {
                    slots.push(None);
                    continue;
                }
            };
            let weight = at..at + w;
            at += w;
            let bias = b.map(|b| {
                at += b;
                at - b..at
            });
            slots.push(Some(Slot { weight, bias }));
        }
        let slots_len = slots.len();
        Ok(Trainer {
            model,
            optimizer,
            threads,
            options,
            item,
            classes,
            slots,
            param_len: at,
            grads: vec![0.0; at],
            transposed: vec![Vec::new(); slots_len],
            full: Vec::new(),
            tail: None,
            batch_x: Vec::new(),
            batch_y: Vec::new(),
            order: Vec::new(),
        })
    }

    /// The model being trained.
    pub fn model(&self) -> &Sequential {
        &self.model
    }

    /// The trained model.
    pub fn into_model(self) -> Sequential {
        self.model
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// Number of threads.
    pub fn thread_count(&self) -> usize {
        self.threads.count()
    }

    /// The gradient of the mean loss from the last [`Trainer::gradients`] or
    /// [`Trainer::step`], flat in parameter order (see [`Sequential::parameters`]).
    pub fn grads(&self) -> &[f32] {
        &self.grads
    }

    /// Total number of parameters.
    pub fn parameter_count(&self) -> usize {
        self.param_len
    }

    /// Computes the mean loss over `labels.len()` items of `images` (item after item, each of
    /// the item shape) and its gradient w.r.t. every parameter ([`Trainer::grads`]).
    pub fn gradients(&mut self, images: &[f32], labels: &[u8]) -> Result<f64> {
        let (loss, _) = self.run(images, labels, true)?;
        Ok(loss)
    }

    /// One optimizer step on a batch; returns the batch's mean loss (before the step).
    pub fn step(&mut self, images: &[f32], labels: &[u8]) -> Result<f64> {
        let loss = self.gradients(images, labels)?;
        let params = parameters_mut(&mut self.model);
        self.optimizer.step(params, &self.grads)?;
        Ok(loss)
    }

    /// The mean loss over a batch (forward only).
    pub fn loss(&mut self, images: &[f32], labels: &[u8]) -> Result<f64> {
        Ok(self.run(images, labels, false)?.0)
    }

    /// Every parameter tensor, mutable, in the flat gradient order ([`Trainer::grads`]).
    pub fn parameters_mut(&mut self) -> impl Iterator<Item = &mut [f32]> {
        parameters_mut(&mut self.model)
    }

    /// Mean loss and accuracy over a data set (forward only), `batch` items at a time.
    pub fn evaluate(&mut self, images: &Tensor, labels: &[u8], batch: usize) -> Result<(f64, f64)> {
        let n = self.check_dataset(images, labels)?;
        let per = self.item.item_len();
        let mut loss = 0.0;
        let mut correct = 0;
        for start in (0..n).step_by(batch.max(1)) {
            let end = (start + batch.max(1)).min(n);
            let (l, c) = self.run(
                &images.data()[start * per..end * per],
                &labels[start..end],
                false,
            )?;
            loss += l * (end - start) as f64;
            correct += c;
        }
        Ok((loss / n as f64, correct as f64 / n as f64))
    }

    /// One epoch: the items in an order shuffled by `rng`, in batches of `batch` (the last one
    /// smaller, as PyTorch's `DataLoader` without `drop_last`), one optimizer step each.
    /// `on_batch(items done, batch loss)` is called after every step. Returns the mean loss
    /// over the epoch's items.
    pub fn train_epoch(
        &mut self,
        images: &Tensor,
        labels: &[u8],
        batch: usize,
        rng: &mut TrainRng,
        mut on_batch: impl FnMut(usize, f64),
    ) -> Result<f64> {
        let n = self.check_dataset(images, labels)?;
        let batch = batch.max(1);
        let per = self.item.item_len();
        self.order.clear();
        self.order.extend(0..n as u32);
        rng.shuffle(&mut self.order);
        let mut batch_x = std::mem::take(&mut self.batch_x);
        let mut batch_y = std::mem::take(&mut self.batch_y);
        batch_x.resize(batch * per, 0.0);
        batch_y.resize(batch, 0);
        let mut total = 0.0;
        let mut start = 0;
        let result = loop {
            if start >= n {
                break Ok(total / n as f64);
            }
            let end = (start + batch).min(n);
            let m = end - start;
            for (j, &i) in self.order[start..end].iter().enumerate() {
                let i = i as usize;
                batch_x[j * per..(j + 1) * per]
                    .copy_from_slice(&images.data()[i * per..(i + 1) * per]);
                batch_y[j] = labels[i];
            }
            match self.step(&batch_x[..m * per], &batch_y[..m]) {
                Ok(loss) => {
                    total += loss * m as f64;
                    on_batch(end, loss);
                }
                Err(e) => break Err(e),
            }
            start = end;
        };
        self.batch_x = batch_x;
        self.batch_y = batch_y;
        result
    }

    fn check_dataset(&self, images: &Tensor, labels: &[u8]) -> Result<usize> {
        let n = labels.len();
        if images.shape().batch() != n {
            return Err(Error::CountMismatch {
                images: images.shape().batch(),
                labels: n,
            });
        }
        if images.shape().item_len() != self.item.item_len() {
            return Err(Error::shape(
                "training images",
                format!("items of {}", self.item.item_len()),
                images.shape().to_string(),
            ));
        }
        Ok(n)
    }

    /// Forward (and backward) over all shards of a batch; returns (mean loss, correct).
    fn run(&mut self, images: &[f32], labels: &[u8], backward: bool) -> Result<(f64, usize)> {
        let b = labels.len();
        let per = self.item.item_len();
        if b == 0 || images.len() != b * per {
            return Err(Error::shape(
                "training batch",
                format!("{b} items of {per} values (at least one)"),
                format!("{} values", images.len()),
            ));
        }
        let shard = self.options.shard;
        let nfull = b / shard;
        let rem = b % shard;
        while self.full.len() < nfull {
            let w = self.plan_work(shard)?;
            self.full.push(w);
        }
        if rem > 0 && self.tail.as_ref().map(|w| w.batch) != Some(rem) {
            self.tail = Some(self.plan_work(rem)?);
        }
        for (t, layer) in self.transposed.iter_mut().zip(self.model.layers()) {
            if let Layer::Linear(l) = layer {
                t.resize(l.weights().len(), 0.0);
                transpose(l.weights(), l.out_features(), l.in_features(), t);
            }
        }
        let scale = 1.0 / b as f32;
        let layers = self.model.layers();
        let transposed = &self.transposed;
        let slots = &self.slots;
        let classes = self.classes;
        let full = &mut self.full[..nfull];
        let tail = if rem > 0 { self.tail.as_mut() } else { None };
        let job = |j: usize, w: &mut Work| {
            let s = j * shard;
            let e = (s + shard).min(b);
            w.run(
                layers,
                transposed,
                slots,
                classes,
                &images[s * per..e * per],
                &labels[s..e],
                scale,
                backward,
            )
        };
        if self.threads.count() == 1 {
            for (j, w) in full.iter_mut().enumerate() {
                job(j, w)?;
            }
            if let Some(w) = tail {
                job(nfull, w)?;
            }
        } else {
            self.threads.install(|| {
                let (a, t) = rayon::join(
                    || {
                        full.par_iter_mut()
                            .enumerate()
                            .try_for_each(|(j, w)| job(j, w))
                    },
                    || tail.map_or(Ok(()), |w| job(nfull, w)),
                );
                a.and(t)
            })?;
        }
        // Fixed-order reduction: shard 0, 1, ..., then the tail.
        let mut works =
            self.full[..nfull]
                .iter()
                .chain(if rem > 0 { self.tail.as_ref() } else { None });
        let mut loss = 0.0;
        let mut correct = 0;
        if let Some(first) = works.next() {
            if backward {
                self.grads.copy_from_slice(&first.param_grads);
            }
            loss += first.loss;
            correct += first.correct;
        }
        for w in works {
            if backward {
                for (a, &g) in self.grads.iter_mut().zip(&w.param_grads) {
                    *a += g;
                }
            }
            loss += w.loss;
            correct += w.correct;
        }
        Ok((loss / b as f64, correct))
    }

    /// Plans one shard's steps and buffers for `batch` items.
    fn plan_work(&mut self, batch: usize) -> Result<Work> {
        let mut shape = self.item.with_batch(batch)?;
        let mut steps = Vec::new();
        let mut acts = vec![vec![0.0; shape.numel()]];
        let mut indices = Vec::new();
        let mut max_len = shape.numel();
        let mut scratch = 0;
        let layers = self.model.layers_mut();
        let mut i = 0;
        while i < layers.len() {
            let fused = layers.get(i + 1).and_then(Layer::as_activation);
            let act = fused.unwrap_or_default();
            let layer = &mut layers[i];
            let ctx = |e: Error| match e {
                Error::Kernel { context, source } => {
                    Error::kernel(format!("layer {i} ({}): {context}", layer_name(i)), source)
                }
                e => e,
            };
            let out = layer.output_shape(shape).map_err(ctx)?;
            let op = match layer {
                Layer::Conv2d(l) => {
                    let desc = l.descriptor(shape).map_err(ctx)?;
                    let plan_err = |e| Error::kernel(format!("layer {i} (conv2d) plan"), e);
                    let plan = Conv2dPlan::new(
                        &desc,
                        ConvOptions {
                            algorithm: l.algorithm(),
                            level: None,
                            activation: act,
                        },
                    )
                    .map_err(plan_err)?;
                    let back = Conv2dBackwardPlan::new(&desc, None).map_err(plan_err)?;
                    scratch = scratch
                        .max(plan.scratch_len())
                        .max(back.weights_scratch_len())
                        .max(back.data_scratch_len());
                    Some(Op::Conv { plan, back })
                }
                Layer::Linear(l) => {
                    l.output_shape(shape).map_err(ctx)?;
                    let (fin, fout) = (l.in_features(), l.out_features());
                    let plan_err = |e| Error::kernel(format!("layer {i} (linear) plan"), e);
                    let plan = LinearPlan::new(batch, fin, fout, act, None).map_err(ctx)?;
                    let gemm = |g: std::result::Result<Gemm, convkit_kernels::Error>| {
                        g.and_then(|g| GemmPlan::new(g, None, Activation::Identity))
                            .map_err(plan_err)
                    };
                    let grad_weights =
                        gemm(Gemm::new(fout, fin, batch).map(|g| g.transpose_a(true)))?;
                    let grad_input = gemm(Gemm::new(batch, fin, fout))?;
                    scratch = scratch
                        .max(plan.scratch_len())
                        .max(grad_weights.scratch_len())
                        .max(grad_input.scratch_len());
                    Some(Op::Linear {
                        plan,
                        grad_weights,
                        grad_input,
                    })
                }
                Layer::MaxPool2d(l) => {
                    indices.push(vec![0u32; out.numel()]);
                    Some(Op::Pool {
                        plan: l.plan(shape, act).map_err(ctx)?,
                        indices: Some(indices.len() - 1),
                    })
                }
                Layer::AvgPool2d(l) => Some(Op::Pool {
                    plan: l.plan(shape, act).map_err(ctx)?,
                    indices: None,
                }),
                Layer::Sigmoid(_) | Layer::ReLU(_) | Layer::Tanh(_) => Some(Op::Act),
                Layer::Flatten(_) | Layer::Reshape(_) => None,
            };
            let fuses = matches!(
                op,
                Some(Op::Conv { .. } | Op::Linear { .. } | Op::Pool { .. })
            ) && fused.is_some();
            if let Some(op) = op {
                let act = match op {
                    Op::Act => layer.as_activation().unwrap_or_default(),
                    _ => act,
                };
                steps.push(TrainStep {
                    layer: i,
                    op,
                    act,
                    slot: self.slots[i].as_ref().map(|_| i),
                    in_len: shape.numel(),
                    out_len: out.numel(),
                });
                acts.push(vec![0.0; out.numel()]);
            }
            shape = out;
            max_len = max_len.max(shape.numel());
            i += if fuses { 2 } else { 1 };
        }
        Ok(Work {
            batch,
            steps,
            acts,
            indices,
            grad: [vec![0.0; max_len], vec![0.0; max_len]],
            param_grads: vec![0.0; self.param_len],
            scratch: vec![0.0; scratch],
            loss: 0.0,
            correct: 0,
        })
    }
}

fn layer_name(i: usize) -> String {
    format!("#{i}")
}

impl Work {
    /// Forward, loss and (if `backward`) backward of one shard.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        layers: &[Layer],
        transposed: &[Vec<f32>],
        slots: &[Option<Slot>],
        classes: usize,
        input: &[f32],
        labels: &[u8],
        scale: f32,
        backward: bool,
    ) -> Result<()> {
        self.forward(layers, transposed, input)?;
        let logits = self.acts.last().map(Vec::as_slice).unwrap_or(input);
        let n = logits.len();
        self.loss = softmax_cross_entropy(logits, labels, classes, scale, &mut self.grad[0][..n])?;
        self.correct = logits
            .chunks_exact(classes)
            .zip(labels)
            .filter(|(row, &y)| crate::lenet::argmax(row) == usize::from(y))
            .count();
        if backward {
            self.backward(layers, slots)?;
        }
        Ok(())
    }

    fn forward(&mut self, layers: &[Layer], transposed: &[Vec<f32>], input: &[f32]) -> Result<()> {
        self.acts[0].copy_from_slice(input);
        for (i, step) in self.steps.iter().enumerate() {
            let (before, after) = self.acts.split_at_mut(i + 1);
            let src = &before[i][..step.in_len];
            let dst = &mut after[0][..step.out_len];
            let ctx = |e| Error::kernel(format!("layer {} forward", step.layer), e);
            match &step.op {
                Op::Conv { plan, .. } => {
                    let (w, b) = params(&layers[step.layer]);
                    plan.run(src, w, b, dst, &mut self.scratch).map_err(ctx)?;
                }
                Op::Linear { plan, .. } => {
                    let (_, b) = params(&layers[step.layer]);
                    let wt = &transposed[step.layer];
                    plan.run(src, wt, b, dst, &mut self.scratch)?;
                }
                Op::Pool {
                    plan,
                    indices: Some(k),
                    ..
                } => plan
                    .run_with_indices(src, dst, &mut self.indices[*k])
                    .map_err(ctx)?,
                Op::Pool { plan, .. } => plan.run(src, dst).map_err(ctx)?,
                Op::Act => {
                    dst.copy_from_slice(src);
                    let len = dst.len();
                    epilogue::apply_bias_activation(simd::active(), dst, 1, len, None, step.act)
                        .map_err(ctx)?;
                }
            }
        }
        Ok(())
    }

    fn backward(&mut self, layers: &[Layer], slots: &[Option<Slot>]) -> Result<()> {
        let mut cur = 0;
        for (i, step) in self.steps.iter().enumerate().rev() {
            let ctx = |e| Error::kernel(format!("layer {} backward", step.layer), e);
            let [g0, g1] = &mut self.grad;
            let (g, next) = if cur == 0 { (g0, g1) } else { (g1, g0) };
            let g = &mut g[..step.out_len];
            let input = &self.acts[i][..step.in_len];
            if step.act != Activation::Identity {
                activation_backward(None, step.act, &self.acts[i + 1][..step.out_len], g)
                    .map_err(ctx)?;
            }
            let g = &*g;
            let want_input = i > 0;
            let grad_in = &mut next[..step.in_len];
            let scratch = &mut self.scratch;
            match &step.op {
                Op::Conv { back, .. } => {
                    let (w, _) = params(&layers[step.layer]);
                    let (gw, gb) = slot_grads(&mut self.param_grads, slots, step.slot);
                    back.backward_weights(input, g, gw, gb, scratch)
                        .map_err(ctx)?;
                    if want_input {
                        back.backward_data(g, w, grad_in, scratch).map_err(ctx)?;
                    }
                }
                Op::Linear {
                    plan,
                    grad_weights,
                    grad_input,
                } => {
                    let (w, _) = params(&layers[step.layer]);
                    let (gw, gb) = slot_grads(&mut self.param_grads, slots, step.slot);
                    // dW = dYᵀ·X: A is dY (rows×out) read transposed, B is X (rows×in).
                    grad_weights
                        .run(g, input, gw, GemmBias::None, scratch)
                        .map_err(ctx)?;
                    if let Some(gb) = gb {
                        column_sums(g, plan.out_features(), gb);
                    }
                    if want_input {
                        // dX = dY·W: W (out×in) as stored.
                        grad_input
                            .run(g, w, grad_in, GemmBias::None, scratch)
                            .map_err(ctx)?;
                    }
                }
                Op::Pool { plan, indices } => {
                    if want_input {
                        match indices {
                            Some(k) => plan.backward_max(g, &self.indices[*k], grad_in),
                            None => plan.backward_average(g, grad_in),
                        }
                        .map_err(ctx)?;
                    }
                }
                Op::Act => continue,
            }
            if !want_input {
                break;
            }
            cur = 1 - cur;
        }
        Ok(())
    }
}

/// `sums[j] = Σ_r rows[r][j]` over the `width`-wide rows (the bias gradient of a linear layer),
/// row after row in order.
fn column_sums(rows: &[f32], width: usize, sums: &mut [f32]) {
    sums.fill(0.0);
    for row in rows.chunks_exact(width) {
        for (a, &g) in sums.iter_mut().zip(row) {
            *a += g;
        }
    }
}

/// Every parameter tensor of a model, mutable, weight before bias, in layer order.
fn parameters_mut(model: &mut Sequential) -> impl Iterator<Item = &mut [f32]> {
    model
        .layers_mut()
        .iter_mut()
        .filter_map(|l| match l {
            Layer::Conv2d(c) => Some(c.parameters_mut()),
            Layer::Linear(c) => Some(c.parameters_mut()),
            _ => None,
        })
        .flat_map(|(w, b)| std::iter::once(w).chain(b))
}

/// A conv or linear layer's weights and bias.
fn params(layer: &Layer) -> (&[f32], Option<&[f32]>) {
    match layer {
        Layer::Conv2d(l) => (l.weights(), l.bias()),
        Layer::Linear(l) => (l.weights(), l.bias()),
        _ => (&[], None),
    }
}

/// The weight and bias gradient slices of a layer's slot.
fn slot_grads<'a>(
    grads: &'a mut [f32],
    slots: &[Option<Slot>],
    slot: Option<usize>,
) -> (&'a mut [f32], Option<&'a mut [f32]>) {
    let Some(Some(s)) = slot.map(|i| &slots[i]) else {
        return (&mut [], None);
    };
    match &s.bias {
        Some(b) => {
            let (front, back) = grads.split_at_mut(b.start);
            (&mut front[s.weight.clone()], Some(&mut back[..b.len()]))
        }
        None => (&mut grads[s.weight.clone()], None),
    }
}
