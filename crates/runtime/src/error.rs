//! The runtime's error type: kernel errors with the layer they came from, shape errors,
//! weight-file errors and data-file errors.

use std::path::PathBuf;

/// Everything that can go wrong in the runtime. Every variant says where: which layer, which
/// tensor name, which file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kernel or descriptor rejected a call; `context` names the layer or operation.
    #[error("{context}: {source}")]
    Kernel {
        /// Which layer or operation (for example `layer 1 (conv2d)`).
        context: String,
        /// The kernel's error (shown in the message, so not repeated as a `source`).
        source: convkit_kernels::Error,
    },
    /// A tensor shape does not fit what a layer or call expects.
    #[error("shape mismatch in {context}: expected {expected}, got {actual}")]
    Shape {
        /// Which layer or call.
        context: String,
        /// What was expected (for example `N×400` or `[6, 1, 5, 5]`).
        expected: String,
        /// What was passed.
        actual: String,
    },
    /// A weight file lacks a tensor the model needs.
    #[error("weights: tensor {name:?} is missing")]
    MissingTensor {
        /// The state_dict name, e.g. `1.weight`.
        name: String,
    },
    /// A weight tensor has the wrong shape.
    #[error("weights: tensor {name:?} has shape {actual:?}, the model needs {expected:?}")]
    WrongTensorShape {
        /// The state_dict name.
        name: String,
        /// The shape the layer needs.
        expected: Vec<usize>,
        /// The shape in the file.
        actual: Vec<usize>,
    },
    /// A weight tensor is not `F32`.
    #[error("weights: tensor {name:?} has dtype {dtype}, only F32 is supported")]
    WrongTensorDtype {
        /// The state_dict name.
        name: String,
        /// The dtype in the file.
        dtype: String,
    },
    /// The safetensors file itself is malformed.
    #[error("weights file {path}: {message}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// An IDX data file is malformed (bad magic number, truncated, wrong dimensions).
    #[error("IDX file {path}: {message}")]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Images and labels disagree in count.
    #[error("{images} images but {labels} labels")]
    CountMismatch {
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error (shown in the message, so not repeated as a `source`).
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps a kernel error with context.
    pub fn kernel(context: impl Into<String>, source: convkit_kernels::Error) -> Error {
        Error::Kernel {
            context: context.into(),
            source,
        }
    }

    /// A shape error.
    pub fn shape(
        context: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Error {
        Error::Shape {
            context: context.into(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

/// `Result` with the runtime [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
