//! A training step allocates nothing after the first step of its batch size (counting global
//! allocator, one thread; one test in this binary so nothing else allocates while it counts).

mod common;

use common::Rng;
use convkit_runtime::lenet::lenet;
use convkit_runtime::train::{init_parameters, Adam, Optimizer, TrainOptions, Trainer};
use convkit_runtime::Threads;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn training_steps_allocate_nothing_after_the_first() {
    let mut model = lenet();
    init_parameters(&mut model, 4);
    let mut t = Trainer::new(
        model,
        &[1, 28, 28],
        Optimizer::Adam(Adam::new(2e-3)),
        Threads::new(1).unwrap(),
        TrainOptions { shard: 16 },
    )
    .unwrap();
    let mut rng = Rng::new(3);
    // 40 items: two full shards and a tail of 8.
    let x = rng.vec(40 * 784, 0.5);
    let y: Vec<u8> = (0..40).map(|i| (i % 10) as u8).collect();
    t.step(&x, &y).unwrap();
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..5 {
        t.step(&x, &y).unwrap();
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(after - before, 0, "allocations in 5 training steps");
}
