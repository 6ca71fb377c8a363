//! No kernel allocates: a counting global allocator records every allocation made on the test
//! thread while a plan runs, for several descriptors, every algorithm a descriptor can run
//! (`Algorithm::ALL`), every supported SIMD level and several fused activations, through both
//! `run` and `run_piece` on split pieces (the threaded path).
//!
//! The embedded promise is for `--no-default-features` (no `std`); with `std`, algorithms that
//! are documented to allocate (the `matrixmultiply` baseline) are skipped here, and the test
//! fails if the selector (`Auto`) ever resolves to one of them.

use convkit_kernels::simd::supported_levels;
use convkit_kernels::{
    Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Error, Level, OutputPiece, Padding,
    Pool2d, Pool2dPlan, PoolKind, PoolOptions,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Algorithms documented to allocate when `std` is on (and absent without it).
const ALLOCATES_WITH_STD: &[&str] = &["im2col-mm"];

struct Counting;

thread_local! {
    // Const-initialised `Cell`s without destructors: touching them never allocates.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with` so allocations during thread teardown are ignored instead of panicking.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards every call to `System` unchanged; the bookkeeping only touches
// thread-locals that need no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded; `ptr` came from `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded; `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, COUNT.with(|c| c.get()))
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 24) as f32 / 64.0 - 2.0
        })
        .collect()
}

fn conv_descriptors() -> Result<Vec<Conv2d>, Error> {
    let b = Conv2d::builder;
    Ok(vec![
        // Tiny, strided, uneven padding (the one Miri runs with kernel = input below).
        b().channels(2, 3)
            .input_size(5, 5)
            .kernel_size(3, 3)
            .stride(2, 2)
            .padding(Padding::new(1, 0, 1, 0))
            .build()?,
        // Miri-sized with output channels in lanes (the direct path's transposing tile).
        b().channels(1, 8)
            .input_size(3, 4)
            .kernel_size(2, 2)
            .build()?,
        // Miri-sized, horizontal stride 1 with left/right padding and a vertical stride: the
        // row form of backward-weights with its zero-bordered rows.
        b().channels(1, 2)
            .input_size(3, 4)
            .kernel_size(2, 3)
            .stride(2, 1)
            .padding(Padding::new(1, 0, 2, 1))
            .build()?,
        // LeNet conv1 and conv2, and its first linear layer as a 1×1 convolution.
        b().channels(1, 6)
            .input_size(28, 28)
            .kernel_size(5, 5)
            .padding(Padding::uniform(2))
            .build()?,
        b().channels(6, 16)
            .input_size(14, 14)
            .kernel_size(5, 5)
            .batch(2)
            .build()?,
        b().channels(400, 120)
            .input_size(1, 1)
            .kernel_size(1, 1)
            .build()?,
        // ResNet-like 3×3 and 1×1, strided, padded, uneven padding.
        b().channels(8, 16)
            .input_size(9, 11)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()?,
        b().channels(16, 8)
            .input_size(7, 7)
            .kernel_size(1, 1)
            .build()?,
        b().channels(3, 8)
            .input_size(15, 15)
            .kernel_size(7, 7)
            .stride(2, 2)
            .padding(Padding::new(3, 2, 3, 2))
            .build()?,
        // Dilated, grouped and depthwise.
        b().channels(4, 4)
            .input_size(10, 10)
            .kernel_size(3, 3)
            .dilation(2, 2)
            .build()?,
        b().channels(8, 12)
            .input_size(8, 8)
            .kernel_size(3, 3)
            .groups(4)
            .padding(Padding::uniform(1))
            .build()?,
        b().channels(16, 16)
            .input_size(12, 12)
            .kernel_size(3, 3)
            .groups(16)
            .stride(2, 2)
            .padding(Padding::uniform(1))
            .build()?,
        // Depthwise 3×3/2 read straight from the input with its left-edge vector at 8 lanes
        // (the portable level Miri runs): 16 columns give 8 outputs.
        b().channels(2, 2)
            .input_size(7, 16)
            .kernel_size(3, 3)
            .groups(2)
            .stride(2, 2)
            .padding(Padding::uniform(1))
            .build()?,
        // One small image with enough output channels for two channel-block units (Winograd
        // and 1×1 im2col; small enough for Miri to check their writes).
        b().channels(1, 12)
            .input_size(2, 2)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()?,
        b().channels(1, 12)
            .input_size(2, 2)
            .kernel_size(1, 1)
            .build()?,
        // Two tile rows of one tile each: Winograd F(2,3) numbers them flat (one vector of
        // tiles spanning both rows, through the tile buffer) at 4 lanes and more.
        b().channels(2, 3)
            .input_size(4, 2)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()?,
        // Kernel equal to the input.
        b().channels(5, 3)
            .input_size(4, 4)
            .kernel_size(4, 4)
            .build()?,
    ])
}

fn pool_descriptors() -> Result<Vec<Pool2d>, Error> {
    let b = Pool2d::builder;
    let mut out = Vec::new();
    for kind in [PoolKind::Max, PoolKind::Average] {
        out.push(
            b(kind)
                .channels(2)
                .input_size(5, 5)
                .window(2, 2)
                .stride(2, 2)
                .ceil_mode(true)
                .build()?,
        );
        out.push(
            b(kind)
                .channels(6)
                .input_size(28, 28)
                .window(2, 2)
                .stride(2, 2)
                .build()?,
        );
        // 3×3/2 max's left-edge vector and fused top row at 8 lanes (the portable level
        // Miri runs): 16 columns give 8 outputs, 7 of them interior.
        out.push(
            b(kind)
                .channels(2)
                .input_size(7, 16)
                .window(3, 3)
                .stride(2, 2)
                .padding(Padding::uniform(1))
                .build()?,
        );
        out.push(
            b(kind)
                .channels(3)
                .batch(2)
                .input_size(13, 11)
                .window(3, 3)
                .stride(2, 2)
                .padding(Padding::uniform(1))
                .build()?,
        );
        out.push(
            b(kind)
                .channels(4)
                .input_size(9, 9)
                .window(2, 2)
                .stride(2, 2)
                .ceil_mode(true)
                .count_include_pad(false)
                .build()?,
        );
        out.push(b(kind).channels(5).input_size(6, 7).global().build()?);
    }
    Ok(out)
}

#[cfg(not(miri))]
const ACTIVATIONS: &[Activation] = &[
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Clamp { min: 0.0, max: 6.0 },
];
#[cfg(miri)]
const ACTIVATIONS: &[Activation] = &[Activation::Sigmoid];

/// Under Miri (scripts/miri.sh) only the tiny descriptors run: Miri interprets every
/// multiply-add (slowly), and the unsafe code paths are the same at any size.
fn too_big_for_miri(flops: f64) -> bool {
    cfg!(miri) && flops > 1.0e3
}

fn allocating(algorithm: Algorithm) -> bool {
    cfg!(feature = "std") && ALLOCATES_WITH_STD.contains(&algorithm.name())
}

#[test]
fn no_kernel_allocates_while_running() -> Result<(), Error> {
    let levels: Vec<Level> = supported_levels().collect();
    let mut conv_runs = 0;
    let mut conv_descs = 0;
    for desc in conv_descriptors()? {
        if too_big_for_miri(desc.flops()) {
            continue;
        }
        conv_descs += 1;
        let input = values(desc.input_len(), 1);
        let weights = values(desc.weights_len(), 2);
        let bias = values(desc.bias_len(), 3);
        let mut output = vec![0.0f32; desc.output_len()];
        for &level in &levels {
            for &algorithm in Algorithm::ALL {
                for &activation in ACTIVATIONS {
                    let options = ConvOptions {
                        algorithm,
                        level: Some(level),
                        activation,
                    };
                    let plan = match Conv2dPlan::new(&desc, options) {
                        Ok(p) => p,
                        // This algorithm cannot run this descriptor (or at this level).
                        Err(Error::UnsupportedAlgorithm { .. }) => continue,
                        Err(e) => return Err(e),
                    };
                    if allocating(plan.algorithm()) {
                        assert_ne!(
                            algorithm,
                            Algorithm::Auto,
                            "the selector chose {} (allocates) for {desc:?} at {level}",
                            plan.algorithm()
                        );
                        continue;
                    }
                    let mut scratch = vec![0.0f32; plan.scratch_len()];
                    let geometry = plan.unit_geometry();
                    let (result, count) = allocations(|| -> Result<(), Error> {
                        plan.run(&input, &weights, Some(&bias), &mut output, &mut scratch)?;
                        // The threaded path: the same units through split pieces.
                        let piece = OutputPiece::whole(&mut output, geometry)?;
                        let mid = piece.len() / 2;
                        let (first, second) = piece.split_at(mid);
                        plan.run_piece(first, &input, &weights, None, &mut scratch)?;
                        plan.run_piece(second, &input, &weights, None, &mut scratch)
                    });
                    result?;
                    assert_eq!(
                        count,
                        0,
                        "{} at {level} with {activation:?} allocated {count} times on {desc:?}",
                        plan.algorithm()
                    );
                    conv_runs += 1;
                }
            }
        }
    }
    let mut pool_runs = 0;
    let mut pool_descs = 0;
    for desc in pool_descriptors()? {
        if too_big_for_miri(desc.output_len() as f64 * 20.0) {
            continue;
        }
        pool_descs += 1;
        let input = values(desc.input_len(), 4);
        let mut output = vec![0.0f32; desc.output_len()];
        for &level in &levels {
            for &activation in ACTIVATIONS {
                let plan = Pool2dPlan::new(
                    &desc,
                    PoolOptions {
                        level: Some(level),
                        activation,
                    },
                )?;
                let geometry = plan.unit_geometry();
                let (result, count) = allocations(|| -> Result<(), Error> {
                    plan.run(&input, &mut output)?;
                    let piece = OutputPiece::whole(&mut output, geometry)?;
                    let mid = piece.len() / 2;
                    let (first, second) = piece.split_at(mid);
                    plan.run_piece(first, &input)?;
                    plan.run_piece(second, &input)
                });
                result?;
                assert_eq!(
                    count, 0,
                    "pooling at {level} allocated {count} times on {desc:?}"
                );
                pool_runs += 1;
            }
        }
    }
    // Every descriptor ran at least through the reference path at every level.
    assert!(conv_descs > 0 && pool_descs > 0);
    assert!(conv_runs >= conv_descs * levels.len() * ACTIVATIONS.len());
    assert_eq!(pool_runs, pool_descs * levels.len() * ACTIVATIONS.len());
    Ok(())
}

/// The backward kernels (convolution data and weights, pooling, activation) allocate nothing
/// either, on the same descriptors, at every level.
#[test]
fn no_backward_kernel_allocates() -> Result<(), Error> {
    use convkit_kernels::backward::{activation_backward, Conv2dBackwardPlan};
    let mut runs = 0;
    for desc in conv_descriptors()? {
        if too_big_for_miri(desc.flops()) {
            continue;
        }
        let input = values(desc.input_len(), 1);
        let weights = values(desc.weights_len(), 2);
        let grad_output = values(desc.output_len(), 3);
        let (mut dx, mut dw, mut db) = (
            vec![0.0f32; desc.input_len()],
            vec![0.0f32; desc.weights_len()],
            vec![0.0f32; desc.bias_len()],
        );
        for level in supported_levels() {
            let plan = Conv2dBackwardPlan::new(&desc, Some(level))?;
            let mut scratch = vec![0.0f32; plan.data_scratch_len().max(plan.weights_scratch_len())];
            let mut grad = grad_output.clone();
            let (result, count) = allocations(|| -> Result<(), Error> {
                activation_backward(Some(level), Activation::Sigmoid, &grad_output, &mut grad)?;
                plan.backward_data(&grad, &weights, &mut dx, &mut scratch)?;
                plan.backward_weights(&input, &grad, &mut dw, Some(&mut db), &mut scratch)
            });
            result?;
            assert_eq!(count, 0, "conv backward at {level} allocated on {desc:?}");
            runs += 1;
        }
    }
    for desc in pool_descriptors()? {
        if too_big_for_miri(desc.output_len() as f64 * 20.0) {
            continue;
        }
        let input = values(desc.input_len(), 4);
        let grad_output = values(desc.output_len(), 5);
        let mut output = vec![0.0f32; desc.output_len()];
        let mut indices = vec![0u32; desc.output_len()];
        let mut dx = vec![0.0f32; desc.input_len()];
        for level in supported_levels() {
            let plan = Pool2dPlan::new(
                &desc,
                PoolOptions {
                    level: Some(level),
                    ..PoolOptions::default()
                },
            )?;
            let (result, count) = allocations(|| -> Result<(), Error> {
                match desc.kind() {
                    PoolKind::Average => plan.backward_average(&grad_output, &mut dx),
                    PoolKind::Max => {
                        plan.run_with_indices(&input, &mut output, &mut indices)?;
                        plan.backward_max(&grad_output, &indices, &mut dx)
                    }
                }
            });
            result?;
            assert_eq!(count, 0, "pool backward at {level} allocated on {desc:?}");
            runs += 1;
        }
    }
    assert!(runs > 0);
    Ok(())
}

#[test]
fn the_counter_sees_allocations() {
    let (v, count) = allocations(|| vec![1u8; 64]);
    assert_eq!(v.len(), 64);
    assert!(
        count >= 1,
        "the counting allocator must observe a Vec allocation"
    );
}
