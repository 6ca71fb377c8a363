//! A prepared benchmark case: tensors filled once, plan built once, the timed call.

use super::cases::{Case, CaseKind};
use super::timing::{measure, Timing, TimingOptions};
use crate::parallel::{Scratch, Threads};
use convkit_kernels::{Algorithm, Conv2dPlan, ConvOptions, Error, Level, Pool2dPlan, PoolOptions};

/// Seed of the input generator: every run times the same numbers.
pub const SEED: u64 = 0x5EED_C0DE_2026;

/// Fills `len` values uniform in `[-1, 1)` from a xorshift64* stream seeded with `seed`
/// (deterministic, and fast enough for the 25-million-element VGG input).
pub fn random_values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40; // 24 bits
            bits as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

enum Prepared {
    Conv {
        plan: Conv2dPlan,
        input: Vec<f32>,
        /// Raw weights, or the plan's prepared form when it has one.
        weights: Vec<f32>,
        bias: Vec<f32>,
        output: Vec<f32>,
        scratch: Scratch,
    },
    Pool {
        plan: Pool2dPlan,
        input: Vec<f32>,
        output: Vec<f32>,
    },
}

/// One case ready to be timed on a fixed number of threads.
///
/// ```
/// use convkit_runtime::bench::{cases::find_case, Workload};
/// use convkit_kernels::Algorithm;
/// let case = find_case("lenet_c1_b1").unwrap();
/// let mut w = Workload::new(&case, Algorithm::Auto, None, 1)?;
/// w.run()?;
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
pub struct Workload {
    threads: Threads,
    prepared: Prepared,
}

impl Workload {
    /// Builds the plan (`algorithm` and `level` apply to convolutions; pooling has one path
    /// per level), allocates and fills the tensors (seeded random input, weights and bias) and
    /// the thread pool. A forced algorithm that cannot run the case gives
    /// [`Error::UnsupportedAlgorithm`].
    pub fn new(
        case: &Case,
        algorithm: Algorithm,
        level: Option<Level>,
        threads: usize,
    ) -> Result<Workload, Error> {
        let threads = Threads::new(threads)?;
        let prepared = match &case.kind {
            CaseKind::Conv(desc) => {
                let plan = Conv2dPlan::new(
                    desc,
                    ConvOptions {
                        algorithm,
                        level,
                        ..ConvOptions::default()
                    },
                )?;
                let mut scratch = Scratch::new();
                scratch.reserve(plan.scratch_len(), threads.count())?;
                let mut weights = random_values(desc.weights_len(), SEED + 1);
                // Weights are constants of an inference: algorithms that transform them
                // (Winograd) do it once here, as the runtime's layers and the peer libraries
                // do, and the timed call uses the prepared form.
                if plan.prepared_weights_len() > 0 {
                    let mut prepared = vec![0.0; plan.prepared_weights_len()];
                    plan.prepare_weights(&weights, &mut prepared)?;
                    weights = prepared;
                }
                Prepared::Conv {
                    plan,
                    input: random_values(desc.input_len(), SEED),
                    weights,
                    bias: random_values(desc.bias_len(), SEED + 2),
                    output: vec![0.0; desc.output_len()],
                    scratch,
                }
            }
            CaseKind::Pool(desc) => Prepared::Pool {
                plan: Pool2dPlan::new(
                    desc,
                    PoolOptions {
                        level,
                        ..PoolOptions::default()
                    },
                )?,
                input: random_values(desc.input_len(), SEED),
                output: vec![0.0; desc.output_len()],
            },
        };
        Ok(Workload { threads, prepared })
    }

    /// The timed call: one whole convolution or pooling over the threads.
    pub fn run(&mut self) -> Result<(), Error> {
        run_prepared(&self.threads, &mut self.prepared)
    }

    /// Times [`Workload::run`] with [`measure`], the whole timing loop running inside the
    /// thread pool as a model's forward pass does ([`Threads::install_warm`]): each call that
    /// splits (see [`Threads::conv_leaves`]) then splits over workers that are already awake;
    /// a call too small to split runs on the caller. Entering the pool from outside on every
    /// call puts the caller to sleep and wakes it again (tens of µs on a virtual machine),
    /// which a 0.2 ms pooling call cannot hide.
    pub fn measure(&mut self, opts: TimingOptions) -> Result<Timing, Error> {
        let Workload { threads, prepared } = self;
        let threads = &*threads;
        threads.install_warm(|| measure(opts, || run_prepared(threads, prepared)))
    }

    /// Name of the algorithm the plan runs (`pool` for pooling).
    pub fn algorithm_name(&self) -> &'static str {
        match &self.prepared {
            Prepared::Conv { plan, .. } => plan.algorithm().name(),
            Prepared::Pool { .. } => "pool",
        }
    }

    /// The SIMD level the plan runs.
    pub fn level(&self) -> Level {
        match &self.prepared {
            Prepared::Conv { plan, .. } => plan.level(),
            Prepared::Pool { plan, .. } => plan.level(),
        }
    }

    /// Threads the call runs on.
    pub fn threads(&self) -> usize {
        self.threads.count()
    }

    /// The last output (for checks).
    pub fn output(&self) -> &[f32] {
        match &self.prepared {
            Prepared::Conv { output, .. } | Prepared::Pool { output, .. } => output,
        }
    }
}

/// One whole convolution or pooling of `prepared` over `threads`.
fn run_prepared(threads: &Threads, prepared: &mut Prepared) -> Result<(), Error> {
    match prepared {
        Prepared::Conv {
            plan,
            input,
            weights,
            bias,
            output,
            scratch,
        } => {
            if plan.prepared_weights_len() > 0 {
                threads.conv2d_prepared(plan, input, weights, Some(bias), output, scratch)
            } else {
                threads.conv2d(plan, input, weights, Some(bias), output, scratch)
            }
        }
        Prepared::Pool {
            plan,
            input,
            output,
        } => threads.pool2d(plan, input, output),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::cases::find_case;

    #[test]
    fn random_values_are_in_range_and_deterministic() {
        let a = random_values(10_000, 7);
        assert_eq!(a, random_values(10_000, 7));
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.05, "{mean}");
    }

    #[test]
    fn runs_a_conv_and_a_pool_case() {
        for name in ["lenet_c1_b1", "maxpool_2x2_s2"] {
            let case = find_case(name).unwrap();
            let mut w = Workload::new(&case, Algorithm::Auto, None, 2).unwrap();
            w.run().unwrap();
            assert!(w.output().iter().any(|&v| v != 0.0), "{name}");
            assert_eq!(w.threads(), 2);
        }
    }
}
