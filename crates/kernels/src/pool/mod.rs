//! Pooling: the plan and the paths it runs.
//!
//! Pooling needs no scratch and no weights: a plan validates the options and picks the SIMD
//! level, the work-unit size and the micro-kernel; [`Pool2dPlan::run`] or
//! [`Pool2dPlan::run_piece`] computes the output, [`Pool2dPlan::run_with_indices`] also
//! writes max pooling's arg-max indices (for the backward pass).
//!
//! How a call flows: `mod.rs` (decisions) → `run.rs` (units → channels → rows) → per row,
//! `edges.rs` for the columns whose windows touch padding or a ceil-mode overhang and one
//! interior micro-kernel from `row.rs` for the rest (`taps.rs` loads the taps, `reduce.rs`
//! says max or sum), or `global.rs` for global pooling. See `docs/pooling.md`.

mod backward;
mod edges;
mod f32_maxpool_3x3s2;
mod geometry;
mod global;
mod indices;
mod reduce;
mod row;
mod run;
mod taps;

pub use indices::IndexPiece;

use crate::epilogue::Activation;
use crate::error::{check_len, Error};
use crate::simd::{self, Level};
use crate::split::{OutputPiece, UnitGeometry};
use crate::{Pool2d, PoolKind};
use geometry::AxisPlan;

/// What a pooling plan is asked for beyond the descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct PoolOptions {
    /// SIMD level (default: [`simd::active`]). Must be supported by this CPU.
    pub level: Option<Level>,
    /// Activation applied to each pooled value.
    pub activation: Activation,
}

/// The interior micro-kernel a plan runs (see `row.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Micro {
    /// Global pooling: one vector reduction per plane.
    Global,
    /// Stride 2, dilation 1, window width 2: one deinterleave per tap row.
    Stride2K2,
    /// Stride 2, dilation 1, window width 3.
    Stride2K3,
    /// Max pooling, 3×3 window, stride 2×2, dilation 1: whole runs of rows, each input row's
    /// horizontal maxima shared by the two output rows that use it (`f32_maxpool_3x3s2.rs`).
    Max3x3S2,
    /// Stride 2, dilation 1, any other window width.
    Stride2,
    /// Anything else: one load (stride 1), deinterleave (2) or strided load per tap.
    General,
}

/// Output elements one work unit aims for: enough that a unit's fixed cost (row setup, edge
/// columns) is small, few enough that two threads get many units each on the benchmark cases
/// (1×64×56×56 outputs: planes of 3 channels, 22 units).
const UNIT_OUTPUTS: usize = 8192;

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
    micro: Micro,
    h: AxisPlan,
    w: AxisPlan,
}

impl Pool2dPlan {
    /// Validates the options and makes every decision the call needs.
    pub fn new(desc: &Pool2d, options: PoolOptions) -> Result<Pool2dPlan, Error> {
        let activation = options.activation.validate()?;
        let level = options.level.unwrap_or_else(simd::active).require()?;
        let pad = desc.padding();
        let (out_h, out_w) = (desc.output_height(), desc.output_width());
        let h = AxisPlan::new(
            desc.input_height(),
            desc.window_height(),
            desc.stride_height(),
            desc.dilation_height(),
            pad.top,
            pad.bottom,
            out_h,
        );
        let w = AxisPlan::new(
            desc.input_width(),
            desc.window_width(),
            desc.stride_width(),
            desc.dilation_width(),
            pad.left,
            pad.right,
            out_w,
        );
        let micro = if desc.is_global() {
            Micro::Global
        } else if desc.kind() == PoolKind::Max
            && (h.kernel, h.stride, h.dilation) == (3, 2, 1)
            && (w.kernel, w.stride, w.dilation) == (3, 2, 1)
        {
            Micro::Max3x3S2
        } else if w.stride == 2 && w.dilation == 1 {
            match w.kernel {
                2 => Micro::Stride2K2,
                3 => Micro::Stride2K3,
                _ => Micro::Stride2,
            }
        } else {
            Micro::General
        };
        // Planes smaller than a unit: units of whole planes (every row of a block of
        // channels), so a unit reads and writes one contiguous run of planes. Larger planes:
        // blocks of rows with every channel. Both factors are at most the output length,
        // which the descriptor checked.
        let plane = out_h * out_w;
        let (rows_per_unit, channels_per_unit) = if plane < UNIT_OUTPUTS {
            (out_h, UNIT_OUTPUTS.div_ceil(plane).min(desc.channels()))
        } else {
            let row_outputs = desc.channels() * out_w;
            (
                UNIT_OUTPUTS.div_ceil(row_outputs).clamp(1, out_h),
                desc.channels(),
            )
        };
        Ok(Pool2dPlan {
            desc: *desc,
            level,
            activation,
            geometry: UnitGeometry {
                batch: desc.batch(),
                channels: desc.channels(),
                rows: out_h,
                cols: out_w,
                rows_per_unit,
                channels_per_unit,
            },
            micro,
            h,
            w,
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
    /// Name of the interior micro-kernel this plan runs (for benchmarks and logs).
    pub fn kernel_name(&self) -> &'static str {
        match self.micro {
            Micro::Global => "global",
            Micro::Stride2K2 => "stride2_w2_deinterleave",
            Micro::Stride2K3 => "stride2_w3_deinterleave",
            Micro::Max3x3S2 => "max_3x3s2_shared_rows",
            Micro::Stride2 => "stride2_deinterleave",
            Micro::General => "general",
        }
    }

    /// Pools the whole input.
    pub fn run(&self, input: &[f32], output: &mut [f32]) -> Result<(), Error> {
        check_len("output", self.desc.output_len(), output.len())?;
        let piece = OutputPiece::whole(output, self.geometry)?;
        self.run_piece(piece, input)
    }

    /// Pools the work units of one piece of the output (see [`crate::split`]).
    pub fn run_piece(&self, mut piece: OutputPiece<'_>, input: &[f32]) -> Result<(), Error> {
        self.check_piece(piece.geometry())?;
        check_len("input", self.desc.input_len(), input.len())?;
        run::run(self, &mut piece, input);
        Ok(())
    }

    /// Max pooling that also writes each output's arg-max: its index `y·W + x` within its
    /// input plane, ties to the first tap in row-major order, a NaN's position when the window
    /// holds a NaN (exactly [`crate::reference::max_pool2d_with_indices`]). The activation is
    /// applied to the values, not the indices. Errors for average pooling and for planes of
    /// more than `u32::MAX` elements.
    ///
    /// ```
    /// use convkit_kernels::{Pool2d, Pool2dPlan, PoolKind, PoolOptions};
    /// let desc = Pool2d::builder(PoolKind::Max).channels(1).input_size(3, 3).window(2, 2)
    ///     .stride(1, 1).build()?;
    /// let plan = Pool2dPlan::new(&desc, PoolOptions::default())?;
    /// let input = [0.0, 1.0, 2.0, 3.0, 9.0, 5.0, 6.0, 7.0, 8.0];
    /// let (mut output, mut indices) = ([0.0f32; 4], [0u32; 4]);
    /// plan.run_with_indices(&input, &mut output, &mut indices)?;
    /// assert_eq!((output, indices), ([9.0, 9.0, 9.0, 9.0], [4, 4, 4, 4]));
    /// # Ok::<(), convkit_kernels::Error>(())
    /// ```
    pub fn run_with_indices(
        &self,
        input: &[f32],
        output: &mut [f32],
        indices: &mut [u32],
    ) -> Result<(), Error> {
        self.check_indices()?;
        check_len("output", self.desc.output_len(), output.len())?;
        check_len("indices", self.desc.output_len(), indices.len())?;
        let piece = OutputPiece::whole(output, self.geometry)?;
        let index_piece = IndexPiece::whole(indices, self.geometry)?;
        self.run_piece_with_indices(piece, index_piece, input)
    }

    /// [`Pool2dPlan::run_with_indices`] for the work units of one piece; `indices` must cover
    /// the same units (split both at the same places).
    pub fn run_piece_with_indices(
        &self,
        mut piece: OutputPiece<'_>,
        mut indices: IndexPiece<'_>,
        input: &[f32],
    ) -> Result<(), Error> {
        self.check_indices()?;
        self.check_piece(piece.geometry())?;
        self.check_piece(indices.geometry())?;
        if piece.units() != indices.units() {
            return Err(Error::InvalidParameter {
                what: "index piece covers other work units than the output piece",
            });
        }
        check_len("input", self.desc.input_len(), input.len())?;
        run::run_with_indices(self, &mut piece, &mut indices, input);
        Ok(())
    }

    fn check_piece(&self, geometry: UnitGeometry) -> Result<(), Error> {
        if geometry != self.geometry {
            return Err(Error::InvalidParameter {
                what: "output piece was cut for another plan",
            });
        }
        Ok(())
    }

    fn check_indices(&self) -> Result<(), Error> {
        if self.desc.kind() != PoolKind::Max {
            return Err(Error::InvalidParameter {
                what: "arg-max indices need a max-pooling descriptor",
            });
        }
        if u32::try_from(self.h.input * self.w.input).is_err() {
            return Err(Error::Overflow {
                what: "arg-max index (u32)",
            });
        }
        Ok(())
    }
}
