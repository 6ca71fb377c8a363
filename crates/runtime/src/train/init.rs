//! PyTorch's default initialisation, drawn from a seed.

use super::rng::{TrainRng, INIT_STREAM};
use crate::layers::Layer;
use crate::model::Sequential;

/// Gives every conv and linear layer PyTorch's default initial parameters: weights
/// `uniform(−1/√fan_in, 1/√fan_in)` (what `kaiming_uniform_(a=√5)` reduces to) and bias
/// `uniform(−1/√fan_in, 1/√fan_in)`, with `fan_in = C/groups · R · S` for a convolution and
/// `in_features` for a linear layer. Values come from [`TrainRng`] on [`INIT_STREAM`] of
/// `seed`, layer by layer, weights (in storage order) before bias: the same seed gives the
/// same bits on any machine and thread count.
pub fn init_parameters(model: &mut Sequential, seed: u64) {
    let mut rng = TrainRng::new(seed, INIT_STREAM);
    for layer in model.layers_mut() {
        let (fan_in, (w, b)) = match layer {
            Layer::Conv2d(l) => {
                let [_, c, r, s] = l.weight_shape();
                (c * r * s, l.parameters_mut())
            }
            Layer::Linear(l) => (l.in_features(), l.parameters_mut()),
            _ => continue,
        };
        let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
        for x in w.iter_mut() {
            *x = rng.symmetric(bound);
        }
        for x in b.into_iter().flatten() {
            *x = rng.symmetric(bound);
        }
    }
}
