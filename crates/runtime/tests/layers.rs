//! Layers and the planned model against the reference kernels, thread-count invariance and
//! shape errors.

mod common;

use common::{randomize, Rng};
use convkit_runtime::kernels::{reference, Activation, Algorithm, Padding, PoolKind};
use convkit_runtime::layers::{
    AvgPool2d, Conv2d, Flatten, Layer, Linear, MaxPool2d, ReLU, Reshape, Sigmoid, Tanh,
};
use convkit_runtime::lenet::lenet;
use convkit_runtime::{BatchChunks, Error, Sequential, Shape, Tensor, Threads};

fn one_thread(layers: Vec<Layer>) -> Sequential {
    Sequential::new(layers).with_threads(Threads::new(1).unwrap())
}

/// Equal lengths and every element the same bits.
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn act(a: Activation, x: f32) -> f32 {
    a.apply_reference(f64::from(x)) as f32
}

fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "element {i}: {g} vs {w}"
        );
    }
}

#[test]
fn conv2d_layer_matches_the_reference_with_fused_activations() {
    let mut rng = Rng::new(1);
    let cases = [
        // (n, c, k, h, w, r, s, stride, pad, dilation, groups)
        (2, 3, 4, 9, 7, 3, 3, 1, 1, 1, 1),
        (1, 1, 6, 28, 28, 5, 5, 1, 2, 1, 1),
        (3, 6, 16, 14, 14, 5, 5, 1, 0, 1, 1),
        (1, 4, 4, 8, 8, 3, 3, 2, 1, 1, 4),
        (2, 2, 3, 10, 9, 3, 2, 1, 0, 2, 1),
    ];
    for (i, &(n, c, k, h, w, r, s, st, pad, dil, g)) in cases.iter().enumerate() {
        for (a, layer_act) in [
            (Activation::Identity, None),
            (Activation::Sigmoid, Some(Layer::from(Sigmoid))),
            (Activation::Relu, Some(ReLU.into())),
            (Activation::Tanh, Some(Tanh.into())),
        ] {
            let conv = Conv2d::new(c, k, (r, s))
                .with_stride(st, st)
                .with_padding(Padding::uniform(pad))
                .with_dilation(dil, dil)
                .with_groups(g);
            let wlen = conv.weights().len();
            let conv = conv
                .with_weights(rng.vec(wlen, 0.5), Some(rng.vec(k, 0.5)))
                .unwrap();
            let x = rng.tensor(&[n, c, h, w], 1.0);
            let desc = conv.descriptor(x.shape()).unwrap();
            let mut want = vec![0.0f32; desc.output_len()];
            reference::conv2d(&desc, x.data(), conv.weights(), conv.bias(), &mut want).unwrap();
            want.iter_mut().for_each(|v| *v = act(a, *v));
            let mut layers = vec![Layer::from(conv)];
            layers.extend(layer_act);
            let mut model = one_thread(layers);
            let y = model.forward(&x).unwrap();
            assert_eq!(
                y.shape().dims(),
                &[n, k, desc.output_height(), desc.output_width()],
                "case {i}"
            );
            assert_close(y.data(), &want, 1e-5);
        }
    }
}

#[test]
fn every_algorithm_runs_through_the_layer_with_prepared_weights() {
    use convkit_runtime::kernels::Algorithm;
    let mut rng = Rng::new(9);
    let x = rng.tensor(&[2, 3, 12, 11], 1.0);
    let mut ran = Vec::new();
    for &alg in Algorithm::ALL {
        let conv = Conv2d::new(3, 5, (3, 3))
            .with_padding(Padding::uniform(1))
            .with_algorithm(alg)
            .with_weights(rng.vec(5 * 3 * 9, 0.5), Some(rng.vec(5, 0.5)))
            .unwrap();
        let desc = conv.descriptor(x.shape()).unwrap();
        let mut want = vec![0.0f32; desc.output_len()];
        reference::conv2d(&desc, x.data(), conv.weights(), conv.bias(), &mut want).unwrap();
        let mut model = one_thread(vec![conv.into(), ReLU.into()]);
        match model.forward(&x) {
            Ok(y) => {
                let want: Vec<f32> = want.iter().map(|v| v.max(0.0)).collect();
                assert_close(y.data(), &want, 1e-4);
                ran.push(alg.name());
            }
            // An algorithm that cannot run this shape says so; it must not be the default.
            Err(e) => assert!(alg != Algorithm::Auto, "{alg}: {e}"),
        }
    }
    // The Winograd paths run on weights transformed once at plan time.
    assert!(ran.contains(&"winograd-2x2"), "ran {ran:?}");
}

#[test]
fn pooling_layers_match_the_reference() {
    let mut rng = Rng::new(2);
    let x = rng.tensor(&[2, 3, 9, 8], 2.0);
    type Case = (Layer, PoolKind, (usize, usize), (usize, usize), usize, bool);
    let pools: [Case; 4] = [
        (
            AvgPool2d::new((2, 2), (2, 2)).into(),
            PoolKind::Average,
            (2, 2),
            (2, 2),
            0,
            false,
        ),
        (
            MaxPool2d::new((2, 2), (2, 2)).into(),
            PoolKind::Max,
            (2, 2),
            (2, 2),
            0,
            false,
        ),
        (
            MaxPool2d::new((3, 3), (2, 2))
                .with_padding(Padding::uniform(1))
                .into(),
            PoolKind::Max,
            (3, 3),
            (2, 2),
            1,
            false,
        ),
        (
            AvgPool2d::new((3, 3), (2, 2)).with_ceil_mode(true).into(),
            PoolKind::Average,
            (3, 3),
            (2, 2),
            0,
            true,
        ),
    ];
    for (layer, kind, win, st, pad, ceil) in pools {
        let desc = convkit_runtime::kernels::Pool2d::builder(kind)
            .batch(2)
            .channels(3)
            .input_size(9, 8)
            .window(win.0, win.1)
            .stride(st.0, st.1)
            .padding(Padding::uniform(pad))
            .ceil_mode(ceil)
            .build()
            .unwrap();
        let mut want = vec![0.0f32; desc.output_len()];
        reference::pool2d(&desc, x.data(), &mut want).unwrap();
        // Unfused, and fused with a following sigmoid.
        let mut model = one_thread(vec![layer.clone()]);
        assert_close(model.forward(&x).unwrap().data(), &want, 1e-6);
        let mut model = one_thread(vec![layer, Sigmoid.into()]);
        let fused: Vec<f32> = want.iter().map(|&v| act(Activation::Sigmoid, v)).collect();
        assert_close(model.forward(&x).unwrap().data(), &fused, 1e-6);
    }
}

#[test]
fn linear_matches_a_plain_loop() {
    let mut rng = Rng::new(3);
    // 70 and 65 rows: two full 32-row GEMM shards and a tail.
    for (n, fin, fout) in [
        (1, 400, 120),
        (5, 7, 3),
        (3, 84, 10),
        (70, 84, 10),
        (65, 400, 120),
    ] {
        let w = rng.vec(fin * fout, 0.2);
        let b = rng.vec(fout, 0.2);
        let x = rng.tensor(&[n, fin], 1.0);
        let mut want = vec![0.0f32; n * fout];
        for i in 0..n {
            for o in 0..fout {
                let dot: f64 = (0..fin)
                    .map(|j| f64::from(x.data()[i * fin + j]) * f64::from(w[o * fin + j]))
                    .sum();
                want[i * fout + o] = (dot + f64::from(b[o])) as f32;
            }
        }
        let lin = Linear::new(fin, fout).with_weights(w, Some(b)).unwrap();
        let mut model = one_thread(vec![lin.clone().into()]);
        let y = model.forward(&x).unwrap();
        assert_eq!(y.shape().dims(), &[n, fout]);
        assert_close(y.data(), &want, 1e-5);
        let mut model = one_thread(vec![lin.into(), Tanh.into()]);
        let fused: Vec<f32> = want.iter().map(|&v| act(Activation::Tanh, v)).collect();
        assert_close(model.forward(&x).unwrap().data(), &fused, 1e-5);
    }
}

#[test]
fn linear_uses_new_weights_after_an_update() {
    let lin = Linear::new(3, 2)
        .with_weights(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0], None)
        .unwrap();
    let mut model = one_thread(vec![lin.into()]);
    let x = Tensor::new(&[1, 3], vec![1.0, 2.0, 3.0]).unwrap();
    assert_eq!(model.forward(&x).unwrap().data(), &[1.0, 2.0]);
    if let Layer::Linear(l) = &mut model.layers_mut()[0] {
        let (w, _) = l.parameters_mut();
        w.copy_from_slice(&[0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
    }
    assert_eq!(model.forward(&x).unwrap().data(), &[3.0, 6.0]);
}

#[test]
fn fused_and_standalone_activations_agree() {
    let mut rng = Rng::new(4);
    let x = rng.tensor(&[2, 2, 6, 6], 1.0);
    let conv = Conv2d::new(2, 3, (3, 3))
        .with_weights(rng.vec(54, 0.5), Some(rng.vec(3, 0.5)))
        .unwrap();
    // Fused: conv + sigmoid. Stand-alone: a reshape in between stops the fusion.
    let mut fused = one_thread(vec![conv.clone().into(), Sigmoid.into()]);
    let mut split = one_thread(vec![
        conv.into(),
        Reshape::new(&[3, 4, 4]).unwrap().into(),
        Sigmoid.into(),
    ]);
    let a = fused.forward(&x).unwrap().to_tensor();
    let b = split.forward(&x).unwrap().to_tensor();
    assert_close(a.data(), b.data(), 1e-6);
    // An activation first (reads the caller's input) and a model of shape changes only.
    let mut m = one_thread(vec![ReLU.into(), Flatten.into()]);
    let y = m.forward(&x).unwrap();
    assert_eq!(y.shape().dims(), &[2, 72]);
    let want: Vec<f32> = x.data().iter().map(|&v| v.max(0.0)).collect();
    assert_eq!(y.data(), &want[..]);
    let mut m = one_thread(vec![Flatten.into()]);
    assert_eq!(m.forward(&x).unwrap().data(), x.data());
}

#[test]
fn results_are_bit_identical_at_any_thread_count() {
    let mut base = lenet().with_threads(Threads::new(1).unwrap());
    randomize(&mut base, 11);
    let bytes = base.to_safetensors_bytes().unwrap();
    let mut rng = Rng::new(5);
    // Whole batches, so every layer splits over the threads (batch chunks have their own
    // test below); 70: the linear layers run three 32-row shards (the last one 6 rows).
    for n in [1, 3, 8, 70] {
        let x = rng.tensor(&[n, 1, 28, 28], 1.0);
        let want = base.forward(&x).unwrap().to_tensor();
        for (t, split_small) in [(2, false), (2, true), (3, true), (4, true)] {
            // `split_small_calls`: split even the layers too small to pay for it (batch 1).
            let threads = Threads::new(t).unwrap().split_small_calls(split_small);
            let mut m = lenet()
                .with_threads(threads)
                .with_batch_chunks(BatchChunks::Whole);
            m.load_safetensors_bytes(&bytes, "mem".as_ref()).unwrap();
            let got = m.forward(&x).unwrap();
            assert!(
                same_bits(got.data(), want.data()),
                "batch {n}, {t} threads, split_small {split_small}"
            );
        }
    }
}

#[test]
fn replanning_on_a_new_shape_gives_the_same_items() {
    let mut m = lenet().with_threads(Threads::new(2).unwrap());
    randomize(&mut m, 12);
    let x = Rng::new(6).tensor(&[5, 1, 28, 28], 1.0);
    let all = m.forward(&x).unwrap().to_tensor();
    assert_eq!(m.planned_input(), Some(x.shape()));
    for i in 0..5 {
        let one = m.forward(&x.slice_batch(i, i + 1).unwrap()).unwrap();
        assert_eq!(one.data(), all.item(i).unwrap());
    }
}

#[test]
fn shape_errors_name_the_layer() {
    let mut m = lenet();
    let err = m
        .forward(&Tensor::zeros(&[1, 1, 32, 32]).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err:?}");
    assert!(err.to_string().contains("layer 0 (reshape)"), "{err}");
    let mut m = one_thread(vec![Conv2d::new(3, 4, (3, 3)).into()]);
    let err = m
        .forward(&Tensor::zeros(&[1, 2, 8, 8]).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("layer 0 (conv2d)"), "{err}");
    let err = m
        .forward(&Tensor::zeros(&[1, 3, 2, 2]).unwrap())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Kernel { context, .. } if context.starts_with("layer 0 (conv2d)")),
        "{err:?}"
    );
    let mut m = one_thread(vec![Linear::new(4, 2).into()]);
    assert!(m.forward(&Tensor::zeros(&[1, 1, 2, 2]).unwrap()).is_err());
    assert!(m.forward(&Tensor::zeros(&[1, 5]).unwrap()).is_err());
    assert!(m
        .forward_slice(Shape::new(&[1, 4]).unwrap(), &[0.0; 3])
        .is_err());
    assert!(Linear::new(4, 2).with_weights(vec![0.0; 7], None).is_err());
    assert!(Conv2d::new(1, 2, (3, 3))
        .with_weights(vec![0.0; 18], Some(vec![0.0; 3]))
        .is_err());
    assert!(Reshape::new(&[1, 2, 3, 4]).is_err());
}

#[test]
fn receptive_fields_compose_through_lenet() {
    let m = lenet();
    let input = Shape::nchw(1, 1, 28, 28).unwrap();
    let rf = |layer, idx: &[usize]| {
        let r = m.receptive_field(input, layer, idx).unwrap();
        (r.rows, r.cols)
    };
    // conv1: 5×5 window, padding 2.
    assert_eq!(rf(1, &[0, 0, 0]), (-2..3, -2..3));
    assert_eq!(rf(2, &[5, 27, 10]), (25..30, 8..13));
    // pool1 output (1, 1) covers conv1 rows/cols 2..4, i.e. input 0..6.
    assert_eq!(rf(3, &[0, 1, 1]), (0..6, 0..6));
    // conv2 output (0, 0): pool1 0..5 → conv1 0..10 → input −2..12.
    assert_eq!(rf(4, &[15, 0, 0]), (-2..12, -2..12));
    // pool2 output (4, 4): conv2 8..10 → pool1 8..14 → conv1 16..28 → input 14..30.
    assert_eq!(rf(6, &[0, 4, 4]), (14..30, 14..30));
    // Flatten keeps the element: index 24 of channel 0 is pool2 (4, 4).
    assert_eq!(rf(7, &[24]), (14..30, 14..30));
    assert_eq!(rf(7, &[25 + 6]), rf(6, &[1, 1, 1]));
    // Every linear output sees the whole (padded) image.
    assert_eq!(rf(8, &[0]), (-2..30, -2..30));
    assert_eq!(rf(12, &[9]), (-2..30, -2..30));
    // Bad requests.
    assert!(m.receptive_field(input, 13, &[0]).is_err());
    assert!(m.receptive_field(input, 1, &[6, 0, 0]).is_err());
    assert!(m.receptive_field(input, 1, &[0, 0]).is_err());
}

#[test]
fn receptive_field_of_strided_dilated_convs() {
    let m = one_thread(vec![
        Conv2d::new(1, 1, (3, 3))
            .with_stride(2, 2)
            .with_padding(Padding::uniform(1))
            .into(),
        Conv2d::new(1, 1, (3, 3)).with_dilation(2, 2).into(),
    ]);
    let input = Shape::nchw(1, 1, 16, 16).unwrap();
    // conv2 output 0: conv1 rows 0..5 → input 0·2−1 .. 4·2−1+3 = −1..10.
    let r = m.receptive_field(input, 1, &[0, 0, 0]).unwrap();
    assert_eq!((r.rows, r.cols), (-1..10, -1..10));
    let r = m.receptive_field(input, 0, &[0, 7, 3]).unwrap();
    assert_eq!((r.rows, r.cols), (13..16, 5..8));
}

/// LeNet with the weights of `base` on `threads` threads, walking batches as `chunks` says.
fn lenet_like(bytes: &[u8], threads: usize, chunks: BatchChunks) -> Sequential {
    let mut m = lenet()
        .with_threads(Threads::new(threads).unwrap())
        .with_batch_chunks(chunks);
    m.load_safetensors_bytes(bytes, "mem".as_ref()).unwrap();
    m
}

#[test]
fn batch_chunks_give_the_same_bits_as_whole_batches() {
    let mut base = lenet().with_threads(Threads::new(1).unwrap());
    randomize(&mut base, 21);
    let bytes = base.to_safetensors_bytes().unwrap();
    let x = Rng::new(22).tensor(&[37, 1, 28, 28], 1.0);
    let mut whole = lenet_like(&bytes, 1, BatchChunks::Whole);
    let want = whole.forward(&x).unwrap().to_tensor();
    assert_eq!(whole.planned_chunk(), None);
    // Auto: LeNet's conv1 step holds 23 images in 512 KiB, so 37 images run as 19 + 18.
    for (chunks, planned) in [
        (BatchChunks::Auto, Some(19)),
        (BatchChunks::Images(1), Some(1)),
        (BatchChunks::Images(5), Some(5)),
        (BatchChunks::Images(16), Some(13)),
        (BatchChunks::Images(36), Some(19)),
        (BatchChunks::Images(37), None),
        (BatchChunks::Images(100), None),
    ] {
        for threads in [1, 2, 3] {
            let mut m = lenet_like(&bytes, threads, chunks);
            // Twice: the second pass reuses the workers' buffers.
            for pass in 0..2 {
                let got = m.forward(&x).unwrap();
                assert!(
                    same_bits(got.data(), want.data()),
                    "{chunks:?}, {threads} threads, pass {pass}"
                );
            }
            assert_eq!(m.planned_chunk(), planned, "{chunks:?}");
        }
    }
}

#[test]
fn batch_chunks_run_prepared_weights_of_a_smaller_last_chunk() {
    // Winograd and im2col convs run on prepared weights; the last chunk (3 images) has a plan
    // of its own with its own prepared weights, and the layer's cache stays the full chunk's.
    let mut rng = Rng::new(23);
    for algorithm in [
        Algorithm::Winograd2x2,
        Algorithm::Winograd4x4,
        Algorithm::Im2colGemm,
        Algorithm::Direct,
    ] {
        let conv = Conv2d::new(5, 7, (3, 3))
            .with_padding(Padding::uniform(1))
            .with_algorithm(algorithm);
        let wlen = conv.weights().len();
        let conv = conv
            .with_weights(rng.vec(wlen, 0.5), Some(rng.vec(7, 0.5)))
            .unwrap();
        let layers = || -> Vec<Layer> { vec![conv.clone().into(), ReLU.into()] };
        let x = rng.tensor(&[11, 5, 9, 10], 1.0);
        let mut whole = one_thread(layers()).with_batch_chunks(BatchChunks::Whole);
        let want = whole.forward(&x).unwrap().to_tensor();
        for threads in [1, 2] {
            let mut m = Sequential::new(layers())
                .with_threads(Threads::new(threads).unwrap())
                .with_batch_chunks(BatchChunks::Images(4));
            let got = m.forward(&x).unwrap().to_tensor();
            assert_eq!(m.planned_chunk(), Some(4));
            assert!(
                same_bits(got.data(), want.data()),
                "{algorithm:?}, {threads} threads"
            );
        }
    }
}

#[test]
fn zero_images_per_chunk_is_an_error() {
    let mut m = lenet().with_batch_chunks(BatchChunks::Images(0));
    let err = m
        .forward(&Tensor::zeros(&[2, 1, 28, 28]).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("images per batch chunk"), "{err}");
}
