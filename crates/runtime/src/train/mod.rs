//! Training: softmax cross-entropy, reverse-mode gradients through a [`Sequential`],
//! optimizers with PyTorch's formulas, PyTorch's default initialisation from a seed, and
//! data-parallel minibatches with a fixed reduction order.
//!
//! There is no general autograd: a [`Trainer`] plans, per shard of a batch, the same steps
//! the model's forward runs (activations fused into conv, linear and pooling steps) and
//! keeps what each step's backward needs (its input and output, arg-max indices).
//!
//! [`Sequential`]: crate::Sequential

mod init;
mod loss;
mod optim;
mod rng;
mod trainer;

pub use init::init_parameters;
pub use loss::softmax_cross_entropy;
pub use optim::{Adam, Optimizer, Sgd};
pub use rng::{TrainRng, INIT_STREAM, SHUFFLE_STREAM};
pub use trainer::{TrainOptions, Trainer};
