//! LeNet against an independent numpy forward pass, weight-file errors and the save/load
//! round trip.

mod common;

use common::{fixture, randomize, Rng};
use convkit_runtime::lenet::{lenet, lenet_from_file};
use convkit_runtime::weights::read_tensor;
use convkit_runtime::{Error, Threads};

#[test]
fn reproduces_numpy_logits_within_1e_5() {
    let path = fixture("lenet_fixture.safetensors");
    let input = read_tensor(&path, "input").unwrap();
    let want = read_tensor(&path, "logits").unwrap();
    assert_eq!(input.shape().dims(), &[8, 1, 28, 28]);
    assert_eq!(want.shape().dims(), &[8, 10]);
    for threads in [1, 2, 3] {
        let mut model = lenet_from_file(&path)
            .unwrap()
            .with_threads(Threads::new(threads).unwrap());
        let got = model.forward(&input).unwrap();
        assert_eq!(got.shape().dims(), &[8, 10]);
        let worst = got
            .data()
            .iter()
            .zip(want.data())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{threads} threads: max |Δ| = {worst:e}");
        // Batch of one, image by image: same logits.
        for n in 0..8 {
            let one = input.slice_batch(n, n + 1).unwrap();
            let y = model.forward(&one).unwrap();
            for (a, b) in y.data().iter().zip(want.item(n).unwrap()) {
                assert!((a - b).abs() <= 1e-5, "image {n}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn flat_input_gives_the_same_logits() {
    let path = fixture("lenet_fixture.safetensors");
    let input = read_tensor(&path, "input").unwrap();
    let mut model = lenet_from_file(&path)
        .unwrap()
        .with_threads(Threads::new(1).unwrap());
    let a = model.forward(&input).unwrap().to_tensor();
    let flat = input.clone().reshape(&[8, 784]).unwrap();
    let b = model.forward(&flat).unwrap().to_tensor();
    assert_eq!(a, b);
}

#[test]
fn wrong_dtype_is_a_clear_error() {
    let err = lenet_from_file(fixture("lenet_bad_dtype.safetensors")).unwrap_err();
    match &err {
        Error::WrongTensorDtype { name, dtype } => {
            assert_eq!(name, "1.weight");
            assert_eq!(dtype, "F64");
        }
        e => panic!("unexpected error {e:?}"),
    }
    assert!(err.to_string().contains("only F32"), "{err}");
}

#[test]
fn wrong_shape_is_a_clear_error() {
    let err = lenet_from_file(fixture("lenet_bad_shape.safetensors")).unwrap_err();
    match &err {
        Error::WrongTensorShape {
            name,
            expected,
            actual,
        } => {
            assert_eq!(name, "4.weight");
            assert_eq!(expected, &[16, 6, 5, 5]);
            assert_eq!(actual, &[16, 6, 3, 3]);
        }
        e => panic!("unexpected error {e:?}"),
    }
}

#[test]
fn missing_tensor_is_a_clear_error() {
    let err = lenet_from_file(fixture("lenet_missing.safetensors")).unwrap_err();
    assert!(
        matches!(&err, Error::MissingTensor { name } if name == "12.bias"),
        "{err:?}"
    );
    assert!(err.to_string().contains("12.bias"));
}

#[test]
fn malformed_and_absent_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    assert!(matches!(
        lenet_from_file(&junk),
        Err(Error::Safetensors { .. })
    ));
    assert!(matches!(
        lenet_from_file(dir.path().join("absent.safetensors")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn a_failed_load_leaves_the_model_unchanged() {
    let mut model = lenet_from_file(fixture("lenet_fixture.safetensors")).unwrap();
    let before = model.to_safetensors_bytes().unwrap();
    assert!(model
        .load_safetensors(fixture("lenet_missing.safetensors"))
        .is_err());
    assert_eq!(model.to_safetensors_bytes().unwrap(), before);
}

#[test]
fn save_then_load_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lenet.safetensors");
    let mut a = lenet().with_threads(Threads::new(1).unwrap());
    randomize(&mut a, 7);
    a.save_safetensors(&path).unwrap();
    let mut b = lenet_from_file(&path)
        .unwrap()
        .with_threads(Threads::new(1).unwrap());
    let names: Vec<String> = b.parameters().into_iter().map(|p| p.0).collect();
    assert_eq!(
        names,
        [
            "1.weight",
            "1.bias",
            "4.weight",
            "4.bias",
            "8.weight",
            "8.bias",
            "10.weight",
            "10.bias",
            "12.weight",
            "12.bias"
        ]
    );
    for (pa, pb) in a.parameters().iter().zip(b.parameters()) {
        assert_eq!((&pa.0, &pa.1), (&pb.0, &pb.1));
        assert_eq!(pa.2, pb.2);
    }
    let x = Rng::new(3).tensor(&[2, 1, 28, 28], 1.0);
    let ya = a.forward(&x).unwrap().to_tensor();
    let yb = b.forward(&x).unwrap().to_tensor();
    assert_eq!(ya, yb);
    // The fixture re-saved keeps its parameters bit for bit.
    let f = lenet_from_file(fixture("lenet_fixture.safetensors")).unwrap();
    let resaved = dir.path().join("fixture.safetensors");
    f.save_safetensors(&resaved).unwrap();
    let g = lenet_from_file(&resaved).unwrap();
    for (pa, pb) in f.parameters().iter().zip(g.parameters()) {
        assert_eq!(pa.2, pb.2);
    }
}
