//! Training: whole-network gradient check, determinism, a short run that lowers the loss.

mod common;

use common::Rng;
use convkit_runtime::lenet::lenet;
use convkit_runtime::train::{init_parameters, Adam, Optimizer, TrainOptions, TrainRng, Trainer};
use convkit_runtime::{idx, Threads};

fn trainer(seed: u64, threads: usize, shard: usize) -> Trainer {
    let mut model = lenet();
    init_parameters(&mut model, seed);
    Trainer::new(
        model,
        &[1, 28, 28],
        Optimizer::Adam(Adam::new(2e-3)),
        Threads::new(threads).unwrap(),
        TrainOptions { shard },
    )
    .unwrap()
}

/// Random images in 0..1 and labels.
fn batch(n: usize, seed: u64) -> (Vec<f32>, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let x = (0..n * 784).map(|_| 0.5 + rng.next(0.5)).collect();
    let y = (0..n)
        .map(|i| ((i * 7 + seed as usize) % 10) as u8)
        .collect();
    (x, y)
}

/// The gradient of LeNet's mean loss w.r.t. parameters of every layer against central finite
/// differences. The forward runs in f32, so the difference quotient carries the loss's
/// rounding noise (~1e-7 relative) divided by 2h; h = 1e-2 keeps that near 1e-5 while the
/// truncation error (h² · third derivative) stays far below the gradients checked.
#[test]
fn lenet_gradient_matches_finite_differences() {
    let mut t = trainer(3, 1, 2);
    let (x, y) = batch(5, 11);
    t.gradients(&x, &y).unwrap();
    let grads = t.grads().to_vec();
    let names: Vec<(String, usize)> = t
        .model()
        .parameters()
        .iter()
        .map(|(n, _, d)| (n.clone(), d.len()))
        .collect();
    let h = 1e-2f32;
    let mut at = 0;
    let mut worst = 0.0f64;
    for (name, len) in names {
        // The three largest gradients of the tensor and one fixed position.
        let mut picks: Vec<usize> = (at..at + len).collect();
        picks.sort_by(|&a, &b| grads[b].abs().total_cmp(&grads[a].abs()));
        picks.truncate(3);
        picks.push(at + len / 2);
        for p in picks {
            let set = |t: &mut Trainer, v: Option<f32>| -> f32 {
                let mut k = p;
                for s in t.parameters_mut() {
                    if k < s.len() {
                        let old = s[k];
                        if let Some(v) = v {
                            s[k] = v;
                        }
                        return old;
                    }
                    k -= s.len();
                }
                unreachable!()
            };
            let w = set(&mut t, None);
            set(&mut t, Some(w + h));
            let up = t.loss(&x, &y).unwrap();
            set(&mut t, Some(w - h));
            let down = t.loss(&x, &y).unwrap();
            set(&mut t, Some(w));
            let numeric = (up - down) / (2.0 * f64::from(h));
            let analytic = f64::from(grads[p]);
            let err = (numeric - analytic).abs();
            let tol = 3e-5 + 1e-2 * numeric.abs();
            worst = worst.max(err / tol);
            assert!(
                err <= tol,
                "{name}[{}]: analytic {analytic:.6e}, numeric {numeric:.6e}",
                p - at
            );
        }
        at += len;
    }
    eprintln!("worst error / tolerance: {worst:.3}");
}

#[test]
fn same_seed_gives_identical_weights_at_any_thread_count() {
    let (x, y) = batch(40, 5);
    let run = |threads: usize| {
        let mut t = trainer(9, threads, 16);
        for _ in 0..3 {
            t.step(&x, &y).unwrap();
        }
        t.model().to_safetensors_bytes().unwrap()
    };
    let a = run(1);
    assert_eq!(a, run(1), "two runs, one thread");
    assert_eq!(a, run(2), "one thread vs two");
    assert_ne!(a, trainer(9, 1, 16).model().to_safetensors_bytes().unwrap());
}

#[test]
fn one_short_epoch_lowers_the_loss() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let (x, y) = idx::read_dataset(
        root.join("t10k-images-idx3-ubyte"),
        root.join("t10k-labels-idx1-ubyte"),
    )
    .unwrap();
    let n = 400;
    let x = x.slice_batch(0, n).unwrap();
    let y = &y[..n];
    let mut t = trainer(1, 2, 16);
    let (before, _) = t.evaluate(&x, y, 256).unwrap();
    let mut rng = TrainRng::new(1, convkit_runtime::train::SHUFFLE_STREAM);
    let mut steps = 0;
    let epoch = t
        .train_epoch(&x, y, 16, &mut rng, |_, _| steps += 1)
        .unwrap();
    let (after, _) = t.evaluate(&x, y, 256).unwrap();
    assert_eq!(steps, n / 16);
    assert!(epoch.is_finite());
    assert!(after < before - 0.02, "loss {before} -> {after}");
}
