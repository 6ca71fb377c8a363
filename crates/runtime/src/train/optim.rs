//! Optimizers with PyTorch's update formulas and defaults (`torch.optim.SGD`, `torch.optim.Adam`,
//! single-tensor implementation, `maximize=False`, `amsgrad=False`).
//!
//! Parameters are handed as one list of slices per step; gradients as one flat slice holding
//! the same parameters concatenated in the same order. State (momentum, moments) is flat too,
//! sized at the first step and reused after (no allocation per step).

use crate::error::{Error, Result};

/// Which optimizer and its hyper-parameters.
#[derive(Clone, Debug)]
pub enum Optimizer {
    /// Stochastic gradient descent with momentum.
    Sgd(Sgd),
    /// Adam.
    Adam(Adam),
}

impl Optimizer {
    /// One update of the parameters from `grads`: `params` yields every parameter tensor in
    /// the order of the flat `grads` (see the module docs). An error if their total length
    /// differs from `grads.len()` (checked per tensor: a short gradient leaves the tensors it
    /// does not cover untouched).
    pub fn step<'a>(
        &mut self,
        params: impl IntoIterator<Item = &'a mut [f32]>,
        grads: &[f32],
    ) -> Result<()> {
        let mismatch = |at: usize| {
            Error::shape(
                "optimizer gradients",
                format!("{at}+ elements (the parameters)"),
                format!("{} elements", grads.len()),
            )
        };
        match self {
            Optimizer::Sgd(o) => o.begin(grads.len()),
            Optimizer::Adam(o) => o.begin(grads.len()),
        }
        let mut at = 0;
        for p in params {
            let end = at + p.len();
            let g = grads.get(at..end).ok_or_else(|| mismatch(end))?;
            match self {
                Optimizer::Sgd(o) => o.update(p, g, at),
                Optimizer::Adam(o) => o.update(p, g, at),
            }
            at = end;
        }
        if at != grads.len() {
            return Err(mismatch(at));
        }
        Ok(())
    }

    /// The learning rate.
    pub fn lr(&self) -> f32 {
        match self {
            Optimizer::Sgd(o) => o.lr,
            Optimizer::Adam(o) => o.lr,
        }
    }
}

/// `torch.optim.SGD`: with `d = g + weight_decay·p`, the momentum buffer is `b = d` at the
/// first step, then `b = momentum·b + (1 − dampening)·d`; the step uses `d + momentum·b`
/// (Nesterov) or `b`, and `p −= lr · step`. Without momentum, `p −= lr · d`.
/// PyTorch's defaults: momentum 0, dampening 0, weight decay 0, no Nesterov.
#[derive(Clone, Debug)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor.
    pub momentum: f32,
    /// Dampening of the momentum.
    pub dampening: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
    buffer: Vec<f32>,
    steps: u64,
}

impl Sgd {
    /// SGD with PyTorch's defaults (no momentum).
    pub fn new(lr: f32) -> Sgd {
        Sgd {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            buffer: Vec::new(),
            steps: 0,
        }
    }

    /// Sets the momentum factor.
    pub fn with_momentum(mut self, momentum: f32) -> Sgd {
        self.momentum = momentum;
        self
    }

    /// Starts a step over `len` parameters (sizes the momentum buffer once).
    fn begin(&mut self, len: usize) {
        if self.momentum != 0.0 && self.buffer.len() != len {
            self.buffer = vec![0.0; len];
            self.steps = 0;
        }
        self.steps += 1;
    }

    /// Updates one parameter tensor whose state starts at flat offset `at`.
    fn update(&mut self, p: &mut [f32], g: &[f32], at: usize) {
        let first = self.steps == 1;
        for (i, (pi, &gi)) in p.iter_mut().zip(g).enumerate() {
            let mut d = gi;
            if self.weight_decay != 0.0 {
                d += self.weight_decay * *pi;
            }
            if self.momentum != 0.0 {
                let b = &mut self.buffer[at + i];
                *b = if first {
                    d
                } else {
                    self.momentum * *b + (1.0 - self.dampening) * d
                };
                d = if self.nesterov {
                    d + self.momentum * *b
                } else {
                    *b
                };
            }
            *pi += -self.lr * d;
        }
    }
}

/// `torch.optim.Adam`: with `d = g + weight_decay·p` and step count `t`,
/// `m = m + (1 − β₁)(d − m)` (PyTorch's `lerp`), `v = β₂·v + (1 − β₂)·d²`,
/// `p −= (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`; the bias corrections are computed in
/// f64 as Python does. PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8, weight decay 0.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// β₁, β₂.
    pub betas: (f32, f32),
    /// ε added to the denominator.
    pub eps: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: u64,
    step_size: f32,
    bias2_sqrt: f32,
}

impl Adam {
    /// Adam with PyTorch's defaults.
    pub fn new(lr: f32) -> Adam {
        Adam {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            m: Vec::new(),
            v: Vec::new(),
            t: 0,
            step_size: 0.0,
            bias2_sqrt: 1.0,
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Starts a step over `len` parameters (sizes the moments once) and computes the bias
    /// corrections of this step.
    fn begin(&mut self, len: usize) {
        if self.m.len() != len {
            self.m = vec![0.0; len];
            self.v = vec![0.0; len];
            self.t = 0;
        }
        self.t += 1;
        let (b1, b2) = self.betas;
        let t = i32::try_from(self.t).unwrap_or(i32::MAX);
        let bias1 = 1.0 - f64::from(b1).powi(t);
        let bias2 = 1.0 - f64::from(b2).powi(t);
        self.step_size = (f64::from(self.lr) / bias1) as f32;
        self.bias2_sqrt = bias2.sqrt() as f32;
    }

    /// Updates one parameter tensor whose state starts at flat offset `at`.
    fn update(&mut self, p: &mut [f32], g: &[f32], at: usize) {
        let (b1, b2) = self.betas;
        let n = p.len();
        let m = &mut self.m[at..at + n];
        let v = &mut self.v[at..at + n];
        for (((pi, &gi), mi), vi) in p.iter_mut().zip(g).zip(m).zip(v) {
            let d = if self.weight_decay != 0.0 {
                gi + self.weight_decay * *pi
            } else {
                gi
            };
            *mi += (1.0 - b1) * (d - *mi);
            *vi = *vi * b2 + (1.0 - b2) * d * d;
            let denom = vi.sqrt() / self.bias2_sqrt + self.eps;
            *pi += -self.step_size * (*mi / denom);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_steps(mut opt: Optimizer) -> f32 {
        let mut p = [1.0f32];
        for g in [0.5f32, -0.25] {
            opt.step([&mut p[..]], &[g]).unwrap();
        }
        p[0]
    }

    #[test]
    fn sgd_momentum_matches_hand_computed_steps() {
        // b = 0.5, p = 1 − 0.1·0.5 = 0.95; b = 0.9·0.5 − 0.25 = 0.2, p = 0.95 − 0.02 = 0.93.
        let p = two_steps(Optimizer::Sgd(Sgd::new(0.1).with_momentum(0.9)));
        assert!((p - 0.93).abs() < 1e-6, "{p}");
        // Without momentum: 1 − 0.05 + 0.025.
        let p = two_steps(Optimizer::Sgd(Sgd::new(0.1)));
        assert!((p - 0.975).abs() < 1e-6, "{p}");
    }

    #[test]
    fn adam_matches_hand_computed_steps() {
        // Step 1: m = 0.05, v = 2.5e-4, p = 1 − (0.1/0.1)·0.05/(√2.5e-4/√1e-3 + 1e-8) ≈ 0.9.
        // Step 2 (g = −0.25): m = 0.02, v = 3.1225e-4, bias corrections 0.19 and 1.999e-3:
        // p = 0.9 − (0.1/0.19)·0.02/(√3.1225e-4/√1.999e-3 + 1e-8) = 0.87336630 (f64).
        let p = two_steps(Optimizer::Adam(Adam::new(0.1)));
        assert!((f64::from(p) - 0.873_366_3).abs() < 2e-6, "{p}");
    }

    #[test]
    fn mismatched_gradients_are_an_error() {
        let mut p = [1.0f32, 2.0];
        let mut opt = Optimizer::Adam(Adam::new(0.1));
        assert!(opt.step([&mut p[..]], &[0.1]).is_err());
        assert!(opt.step([&mut p[..]], &[0.1, 0.2, 0.3]).is_err());
    }
}
