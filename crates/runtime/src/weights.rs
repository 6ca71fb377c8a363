//! Loading and saving model parameters as a safetensors PyTorch `state_dict`.
//!
//! Layer `i` of a [`Sequential`] with parameters (conv or linear) stores `"{i}.weight"` and
//! `"{i}.bias"`, exactly as PyTorch names the parameters of an `nn.Sequential`: conv weights
//! `O×I×H×W`, linear weights `out×in`, biases `O`. Only `F32` tensors are accepted.

use crate::error::{Error, Result};
use crate::layers::Layer;
use crate::model::Sequential;
use crate::tensor::Tensor;
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| Error::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads tensor `name` as f32 with its shape: an error if it is missing or not `F32`.
fn read_f32(st: &SafeTensors<'_>, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
    let view = st.tensor(name).map_err(|_| Error::MissingTensor {
        name: name.to_string(),
    })?;
    if view.dtype() != Dtype::F32 {
        return Err(Error::WrongTensorDtype {
            name: name.to_string(),
            dtype: format!("{:?}", view.dtype()),
        });
    }
    // Little-endian bytes, possibly unaligned inside the file buffer: decode per element.
    let data = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((view.shape().to_vec(), data))
}

/// Reads one `F32` tensor (rank 1 to 4) from a safetensors file.
pub fn read_tensor(path: impl AsRef<Path>, name: &str) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let st = parse(&bytes, path)?;
    let (shape, data) = read_f32(&st, name)?;
    Tensor::new(&shape, data)
}

/// Reads a parameter and checks its shape.
fn read_param(st: &SafeTensors<'_>, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
    let (shape, data) = read_f32(st, name)?;
    if shape != expected {
        return Err(Error::WrongTensorShape {
            name: name.to_string(),
            expected: expected.to_vec(),
            actual: shape,
        });
    }
    Ok(data)
}

impl Sequential {
    /// Loads every parameter from a safetensors `state_dict` file (see the module docs).
    /// Nothing changes if any tensor is missing, misshapen or not `F32`.
    pub fn load_safetensors(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        self.load_safetensors_bytes(&bytes, path)
    }

    /// [`Sequential::load_safetensors`] from bytes in memory; `path` only names errors.
    pub fn load_safetensors_bytes(&mut self, bytes: &[u8], path: &Path) -> Result<()> {
        let st = parse(bytes, path)?;
        // Read and check everything first, then assign: a bad file leaves the model intact.
        let mut loaded = Vec::new();
        for (i, layer) in self.layers().iter().enumerate() {
            let (wshape, has_bias, bias_len): (Vec<usize>, bool, usize) = match layer {
                Layer::Conv2d(l) => (
                    l.weight_shape().to_vec(),
                    l.bias().is_some(),
                    l.out_channels(),
                ),
                Layer::Linear(l) => (
                    l.weight_shape().to_vec(),
                    l.bias().is_some(),
                    l.out_features(),
                ),
                _ => continue,
            };
            let w = read_param(&st, &format!("{i}.weight"), &wshape)?;
            let b = if has_bias {
                Some(read_param(&st, &format!("{i}.bias"), &[bias_len])?)
            } else {
                None
            };
            loaded.push((i, w, b));
        }
        let layers = self.layers_mut();
        for (i, w, b) in loaded {
            match &mut layers[i] {
                Layer::Conv2d(l) => l.set_weights(w, b)?,
                Layer::Linear(l) => l.set_weights(w, b)?,
                _ => unreachable!("only parameter layers were read"),
            }
        }
        Ok(())
    }

    /// The parameters as `(name, shape, data)` in layer order.
    pub fn parameters(&self) -> Vec<(String, Vec<usize>, &[f32])> {
        let mut out = Vec::new();
        for (i, layer) in self.layers().iter().enumerate() {
            let (wshape, w, b) = match layer {
                Layer::Conv2d(l) => (l.weight_shape().to_vec(), l.weights(), l.bias()),
                Layer::Linear(l) => (l.weight_shape().to_vec(), l.weights(), l.bias()),
                _ => continue,
            };
            out.push((format!("{i}.weight"), wshape, w));
            if let Some(b) = b {
                out.push((format!("{i}.bias"), vec![b.len()], b));
            }
        }
        out
    }

    /// The parameters serialised as a safetensors `state_dict`.
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        let params = self.parameters();
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = params
            .into_iter()
            .map(|(n, s, d)| (n, s, d.iter().flat_map(|x| x.to_le_bytes()).collect()))
            .collect();
        let views = bytes
            .iter()
            .map(|(n, s, d)| {
                safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), d)
                    .map(|v| (n.clone(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Safetensors {
                path: PathBuf::from("<memory>"),
                message: e.to_string(),
            })?;
        // PyTorch's `safetensors.torch.save_file` writes this metadata; keep the same header.
        let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
        safetensors::serialize(views, Some(metadata)).map_err(|e| Error::Safetensors {
            path: PathBuf::from("<memory>"),
            message: e.to_string(),
        })
    }

    /// Saves the parameters as a safetensors `state_dict` that PyTorch's
    /// `load_state_dict(safetensors.torch.load_file(path))` accepts.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_safetensors_bytes()?;
        std::fs::write(path, bytes).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
