//! The IDX file format of the MNIST files: uint8 images and labels.
//!
//! An IDX file is a big-endian header (two zero bytes, a type code, the number of dimensions,
//! then one `u32` per dimension) followed by the data. Images are `u8` with 3 dimensions
//! (count, rows, columns; magic `0x00000803`), labels `u8` with 1 (magic `0x00000801`).
//! Images are scaled to `0..=1` as PyTorch's `ToTensor` does (`x / 255`).

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::path::Path;

/// Magic number of a `u8` 3-dimensional IDX file (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of a `u8` 1-dimensional IDX file (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

fn idx_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Idx {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses a `u8` IDX file with `magic` and returns its dimensions and data.
fn parse<'a>(bytes: &'a [u8], magic: u32, path: &Path) -> Result<(Vec<usize>, &'a [u8])> {
    let Some(head) = bytes.get(..4) else {
        return Err(idx_error(
            path,
            format!("truncated: {} bytes, no 4-byte magic number", bytes.len()),
        ));
    };
    let found = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if found != magic {
        return Err(idx_error(
            path,
            format!("bad magic number 0x{found:08x}, expected 0x{magic:08x}"),
        ));
    }
    let rank = (magic & 0xff) as usize;
    let header = 4 + 4 * rank;
    let Some(dims) = bytes.get(4..header) else {
        return Err(idx_error(
            path,
            format!(
                "truncated header: {} bytes, {rank} dimensions need {header}",
                bytes.len()
            ),
        ));
    };
    let dims: Vec<usize> = dims
        .chunks_exact(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect();
    let len = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| idx_error(path, format!("dimensions {dims:?} overflow")))?;
    let data = &bytes[header..];
    if data.len() < len {
        return Err(idx_error(
            path,
            format!(
                "truncated: dimensions {dims:?} need {len} data bytes, the file has {}",
                data.len()
            ),
        ));
    }
    if data.len() > len {
        return Err(idx_error(
            path,
            format!(
                "size mismatch: dimensions {dims:?} need {len} data bytes, the file has {} \
                 (trailing bytes)",
                data.len()
            ),
        ));
    }
    Ok((dims, data))
}

/// Parses IDX image bytes into an `N×1×rows×cols` tensor scaled to `0..=1`; `path` names
/// errors.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<Tensor> {
    let (dims, data) = parse(bytes, IMAGES_MAGIC, path)?;
    if dims.contains(&0) {
        return Err(idx_error(path, format!("empty image set {dims:?}")));
    }
    let pixels = data.iter().map(|&p| f32::from(p) / 255.0).collect();
    Tensor::new(&[dims[0], 1, dims[1], dims[2]], pixels)
}

/// Parses IDX label bytes; `path` names errors.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let (_, data) = parse(bytes, LABELS_MAGIC, path)?;
    Ok(data.to_vec())
}

/// Reads an IDX image file (`N×1×rows×cols`, values `x / 255`).
pub fn read_images(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    parse_images(&read(path)?, path)
}

/// Reads an IDX label file.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    parse_labels(&read(path)?, path)
}

/// Reads images and labels and checks that their counts agree.
pub fn read_dataset(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
) -> Result<(Tensor, Vec<u8>)> {
    let x = read_images(images)?;
    let y = read_labels(labels)?;
    if x.shape().batch() != y.len() {
        return Err(Error::CountMismatch {
            images: x.shape().batch(),
            labels: y.len(),
        });
    }
    Ok((x, y))
}

/// Encodes images (`u8`, `count × rows × cols`) as IDX bytes.
pub fn encode_images(count: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [count, rows, cols] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as IDX bytes.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = LABELS_MAGIC.to_be_bytes().to_vec();
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}
