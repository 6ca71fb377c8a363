//! Pooling: the plan and the paths it runs.
//!
//! Pooling needs no scratch and no weights: a plan validates the options and picks the SIMD
//! level and micro-kernel; [`Pool2dPlan::run`] or [`Pool2dPlan::run_piece`] computes the output.

mod reference_path;

use crate::epilogue::Activation;
use crate::error::{check_len, Error};
use crate::simd::{self, Level};
use crate::split::{OutputPiece, UnitGeometry};
use crate::Pool2d;

/// What a pooling plan is asked for beyond the descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct PoolOptions {
    /// SIMD level (default: [`simd::active`]). Must be supported by this CPU.
    pub level: Option<Level>,
    /// Activation applied to each pooled value.
    pub activation: Activation,
}

/// A prepared pooling call.
///
/// ```
/// use convkit_kernels::{Pool2d, Pool2dPlan, PoolKind, PoolOptions};
/// let desc = Pool2d::builder(PoolKind::Max).channels(1).input_size(3, 3).window(2, 2)
///     .stride(1, 1).build()?;
/// let plan = Pool2dPlan::new(&desc, PoolOptions::default())?;
/// let input: Vec<f32> = (0..9).map(|x| x as f32).collect();
/// let mut output = [0.0f32; 4];
/// plan.run(&input, &mut output)?;
/// assert_eq!(output, [4.0, 5.0, 7.0, 8.0]);
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool2dPlan {
    desc: Pool2d,
    level: Level,
    activation: Activation,
    geometry: UnitGeometry,
}

impl Pool2dPlan {
    /// Validates the options and makes every decision the call needs.
    pub fn new(desc: &Pool2d, options: PoolOptions) -> Result<Pool2dPlan, Error> {
        let activation = options.activation.validate()?;
        let level = options.level.unwrap_or_else(simd::active).require()?;
        Ok(Pool2dPlan {
            desc: *desc,
            level,
            activation,
            geometry: UnitGeometry {
                batch: desc.batch(),
                channels: desc.channels(),
                rows: desc.output_height(),
                cols: desc.output_width(),
                rows_per_unit: desc.output_height(),
            },
        })
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &Pool2d {
        &self.desc
    }
    /// The SIMD level that will run.
    pub fn level(&self) -> Level {
        self.level
    }
    /// The fused activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// How the output splits into work units for threads.
    pub fn unit_geometry(&self) -> UnitGeometry {
        self.geometry
    }

    /// Pools the whole input.
    pub fn run(&self, input: &[f32], output: &mut [f32]) -> Result<(), Error> {
        check_len("output", self.desc.output_len(), output.len())?;
        let piece = OutputPiece::whole(output, self.geometry)?;
        self.run_piece(piece, input)
    }

    /// Pools the work units of one piece of the output (see [`crate::split`]).
    pub fn run_piece(&self, mut piece: OutputPiece<'_>, input: &[f32]) -> Result<(), Error> {
        if piece.geometry() != self.geometry {
            return Err(Error::InvalidParameter {
                what: "output piece was cut for another plan",
            });
        }
        check_len("input", self.desc.input_len(), input.len())?;
        reference_path::run(self, &mut piece, input);
        Ok(())
    }
}
