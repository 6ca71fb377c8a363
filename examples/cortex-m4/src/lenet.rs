//! The course's LeNet as a chain of convkit-kernels plans, shared by the firmware (`main.rs`)
//! and the host build script (`build.rs`, which includes this file with `#[path]` to compute
//! the logits the firmware must reproduce). `no_std`, no allocation: the caller owns every
//! buffer.
//!
//! ```text
//! input 1×28×28 ─ conv1 1→6 5×5 pad 2 + sigmoid ─ 6×28×28 ─ avgpool 2×2/2 ─ 6×14×14
//!   ─ conv2 6→16 5×5 + sigmoid ─ 16×10×10 ─ avgpool 2×2/2 ─ 16×5×5 = 400
//!   ─ fc1 400→120 + sigmoid ─ fc2 120→84 + sigmoid ─ fc3 84→10 (logits)
//! ```
//!
//! The linear layers run as 1×1 convolutions on a 1×1 image: a PyTorch `Linear` weight
//! `out×in` is exactly the OIHW weight `K×C×1×1`, and the NCHW flatten of 16×5×5 is the
//! 400-channel 1×1 input.
//!
//! Activations ping-pong between two buffers, A (`BUF_A_LEN`) and B (`BUF_B_LEN`):
//! input → A, conv1 → B, pool1 → A, conv2 → B, pool2 → A, fc1 → B, fc2 → A, fc3 → logits.

use convkit_kernels::{
    reference, Activation, Algorithm, Conv2d, Conv2dPlan, ConvOptions, Error, Level, Padding,
    Pool2d, PoolKind,
};

/// Pixels of one input digit.
pub const INPUT_LEN: usize = 28 * 28;
/// Classes.
pub const CLASSES: usize = 10;
/// Buffer A holds the input (784), pool1's output (6·14·14 = 1176), pool2's (400), fc2's (84).
pub const BUF_A_LEN: usize = 6 * 14 * 14;
/// Buffer B holds conv1's output (6·28·28 = 4704), conv2's (1600) and fc1's (120).
pub const BUF_B_LEN: usize = 6 * 28 * 28;

/// The five weight layers, in order: name prefix in the PyTorch state_dict, `(C, K, R)` and
/// padding, and whether sigmoid follows.
pub const CONV_LAYERS: [(&str, usize, usize, usize, usize, bool); 5] = [
    ("1", 1, 6, 5, 2, true),
    ("4", 6, 16, 5, 0, true),
    ("8", 400, 120, 1, 0, true),
    ("10", 120, 84, 1, 0, true),
    ("12", 84, 10, 1, 0, false),
];
/// Input side length of each weight layer.
pub const CONV_INPUT_SIDE: [usize; 5] = [28, 14, 1, 1, 1];

/// The convolution descriptors, in layer order.
pub fn conv_descriptors() -> Result<[Conv2d; 5], Error> {
    let mut out = [None; 5];
    for (i, &(_, c, k, r, pad, _)) in CONV_LAYERS.iter().enumerate() {
        let side = CONV_INPUT_SIDE[i];
        out[i] = Some(
            Conv2d::builder()
                .channels(c, k)
                .input_size(side, side)
                .kernel_size(r, r)
                .padding(Padding::uniform(pad))
                .build()?,
        );
    }
    Ok(out.map(|d| d.expect("every layer is set above")))
}

/// The two average pools (2×2, stride 2): over 6×28×28 and 16×10×10.
pub fn pool_descriptors() -> Result<[Pool2d; 2], Error> {
    let pool = |c: usize, side: usize| {
        Pool2d::builder(PoolKind::Average)
            .channels(c)
            .input_size(side, side)
            .window(2, 2)
            .stride(2, 2)
            .build()
    };
    Ok([pool(6, 28)?, pool(16, 10)?])
}

/// Weight and bias slices of the five layers (OIHW weights, as in the PyTorch state_dict).
pub struct Weights<'a> {
    /// Weights, layer order.
    pub w: [&'a [f32]; 5],
    /// Biases, layer order.
    pub b: [&'a [f32]; 5],
}

/// The network's plans.
pub struct LeNet {
    /// conv1, conv2, fc1, fc2, fc3.
    pub conv: [Conv2dPlan; 5],
    /// pool1, pool2, run with the reference pooling: on a Cortex-M the SIMD pooling plan
    /// (`Pool2dPlan`, ten specialised window kernels) costs about 50 KB of code at the scalar
    /// portable level, for 2×2 averages that are about 2% of an inference's instructions.
    pub pool: [Pool2d; 2],
}

impl LeNet {
    /// Plans every layer with the given algorithm per weight layer, at `level`.
    pub fn new(algorithms: [Algorithm; 5], level: Level) -> Result<LeNet, Error> {
        let descs = conv_descriptors()?;
        let mut conv = [None; 5];
        for i in 0..5 {
            let activation = if CONV_LAYERS[i].5 {
                Activation::Sigmoid
            } else {
                Activation::Identity
            };
            let options = ConvOptions {
                algorithm: algorithms[i],
                level: Some(level),
                activation,
            };
            conv[i] = Some(Conv2dPlan::new(&descs[i], options)?);
        }
        Ok(LeNet {
            conv: conv.map(|p| p.expect("every layer is planned above")),
            pool: pool_descriptors()?,
        })
    }

    /// The scratch `f32`s a forward pass needs: the largest of the layers' own queries.
    pub fn scratch_len(&self) -> usize {
        self.conv.iter().map(|p| p.scratch_len()).max().unwrap_or(0)
    }

    /// Classifies one digit (`pixels` as stored in IDX, scaled by 1/255).
    ///
    /// `a` must hold at least `BUF_A_LEN`, `b` at least `BUF_B_LEN` and `scratch` at least
    /// [`LeNet::scratch_len`] values; too short a buffer is an error, not a panic.
    pub fn forward(
        &self,
        weights: &Weights<'_>,
        pixels: &[u8],
        a: &mut [f32],
        b: &mut [f32],
        scratch: &mut [f32],
        logits: &mut [f32; CLASSES],
    ) -> Result<(), Error> {
        if pixels.len() != INPUT_LEN || a.len() < BUF_A_LEN || b.len() < BUF_B_LEN {
            return Err(Error::InvalidParameter {
                what: "LeNet buffers too short",
            });
        }
        for (x, &p) in a.iter_mut().zip(pixels) {
            *x = f32::from(p) / 255.0;
        }
        let [c1, c2, f1, f2, f3] = &self.conv;
        let [p1, p2] = &self.pool;
        let out = |plan: &Conv2dPlan| plan.descriptor().output_len();
        let inp = |plan: &Conv2dPlan| plan.descriptor().input_len();
        let (w, bias) = (&weights.w, &weights.b);
        c1.run(
            &a[..inp(c1)],
            w[0],
            Some(bias[0]),
            &mut b[..out(c1)],
            scratch,
        )?;
        reference::pool2d(p1, &b[..out(c1)], &mut a[..p1.output_len()])?;
        c2.run(
            &a[..inp(c2)],
            w[1],
            Some(bias[1]),
            &mut b[..out(c2)],
            scratch,
        )?;
        reference::pool2d(p2, &b[..out(c2)], &mut a[..p2.output_len()])?;
        f1.run(
            &a[..inp(f1)],
            w[2],
            Some(bias[2]),
            &mut b[..out(f1)],
            scratch,
        )?;
        f2.run(
            &b[..inp(f2)],
            w[3],
            Some(bias[3]),
            &mut a[..out(f2)],
            scratch,
        )?;
        f3.run(&a[..inp(f3)], w[4], Some(bias[4]), logits, scratch)?;
        Ok(())
    }
}

/// Index of the largest logit (the first on ties).
pub fn argmax(logits: &[f32; CLASSES]) -> usize {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best
}

/// Decodes one digit stored as tokens `[zeros, literals, literal bytes...]` (build.rs's
/// `encode_zero_runs`). A malformed stream is an error, never a panic.
pub fn decode_zero_runs(stream: &[u8], out: &mut [u8; INPUT_LEN]) -> Result<(), Error> {
    const BAD: Error = Error::InvalidParameter {
        what: "malformed zero-run digit stream",
    };
    let (mut i, mut o) = (0, 0);
    while o < INPUT_LEN {
        let (zeros, lits) = match stream.get(i..i + 2) {
            Some(&[z, l]) => (usize::from(z), usize::from(l)),
            _ => return Err(BAD),
        };
        i += 2;
        out.get_mut(o..o + zeros).ok_or(BAD)?.fill(0);
        o += zeros;
        let src = stream.get(i..i + lits).ok_or(BAD)?;
        out.get_mut(o..o + lits).ok_or(BAD)?.copy_from_slice(src);
        i += lits;
        o += lits;
    }
    if i == stream.len() {
        Ok(())
    } else {
        Err(BAD)
    }
}
