//! The IDX reader on the committed sample and on hand-made bad files.

use convkit_runtime::idx::{self, encode_images, encode_labels};
use convkit_runtime::Error;
use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn idx_message(err: Error) -> String {
    match err {
        Error::Idx { message, .. } => message,
        e => panic!("expected an IDX error, got {e:?}"),
    }
}

#[test]
fn reads_the_committed_sample() {
    let (x, y) = idx::read_dataset(
        repo("data/sample/t10k-images-idx3-ubyte"),
        repo("data/sample/t10k-labels-idx1-ubyte"),
    )
    .unwrap();
    assert_eq!(x.shape().dims(), &[500, 1, 28, 28]);
    assert_eq!(y.len(), 500);
    assert!(y.iter().all(|&l| l < 10));
    assert!(x.data().iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert!(x.data().contains(&1.0));
}

#[test]
fn round_trip_and_scaling() {
    let dir = tempfile::tempdir().unwrap();
    let (ip, lp) = (dir.path().join("i"), dir.path().join("l"));
    let pixels: Vec<u8> = (0..2 * 3 * 4).map(|i| (i * 11) as u8).collect();
    std::fs::write(&ip, encode_images(2, 3, 4, &pixels)).unwrap();
    std::fs::write(&lp, encode_labels(&[7, 1])).unwrap();
    let (x, y) = idx::read_dataset(&ip, &lp).unwrap();
    assert_eq!(x.shape().dims(), &[2, 1, 3, 4]);
    assert_eq!(y, [7, 1]);
    for (v, p) in x.data().iter().zip(&pixels) {
        assert_eq!(*v, f32::from(*p) / 255.0);
    }
}

#[test]
fn bad_magic_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    // Labels where images are expected, and a garbage magic number.
    std::fs::write(&p, encode_labels(&[1, 2])).unwrap();
    let m = idx_message(idx::read_images(&p).unwrap_err());
    assert!(m.contains("bad magic number 0x00000801"), "{m}");
    std::fs::write(&p, b"\x12\x34\x56\x78rest").unwrap();
    let m = idx_message(idx::read_labels(&p).unwrap_err());
    assert!(m.contains("bad magic number 0x12345678"), "{m}");
}

#[test]
fn truncated_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    let full = encode_images(3, 4, 4, &[9; 48]);
    for cut in [0, 2, 4, 10, 16, full.len() - 1] {
        std::fs::write(&p, &full[..cut]).unwrap();
        let m = idx_message(idx::read_images(&p).unwrap_err());
        assert!(m.contains("truncated"), "cut {cut}: {m}");
    }
    let labels = encode_labels(&[1, 2, 3]);
    std::fs::write(&p, &labels[..labels.len() - 1]).unwrap();
    assert!(idx_message(idx::read_labels(&p).unwrap_err()).contains("truncated"));
    // Trailing bytes are a size mismatch too.
    let mut long = full.clone();
    long.push(0);
    std::fs::write(&p, long).unwrap();
    assert!(idx_message(idx::read_images(&p).unwrap_err()).contains("size mismatch"));
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (ip, lp) = (dir.path().join("i"), dir.path().join("l"));
    std::fs::write(&ip, encode_images(3, 2, 2, &[0; 12])).unwrap();
    std::fs::write(&lp, encode_labels(&[1, 2])).unwrap();
    let err = idx::read_dataset(&ip, &lp).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                images: 3,
                labels: 2
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "3 images but 2 labels");
}

#[test]
fn missing_file_and_empty_set() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        idx::read_images(dir.path().join("absent")),
        Err(Error::Io { .. })
    ));
    let p = dir.path().join("x");
    std::fs::write(&p, encode_images(0, 28, 28, &[])).unwrap();
    assert!(idx_message(idx::read_images(&p).unwrap_err()).contains("empty"));
}
