//! Convolution: the plan (algorithm choice, scratch size) and the paths it runs.
//!
//! A call flows descriptor → [`Conv2dPlan::new`] (validates options, picks the algorithm and
//! SIMD level, derives the scratch length from that same choice) → [`Conv2dPlan::run`] or, for
//! threads, [`Conv2dPlan::run_piece`] on [`OutputPiece`]s → the path's micro-kernels → the fused
//! bias + activation epilogue.

mod depthwise;
mod direct;
pub(crate) mod im2col;
mod reference_path;
mod winograd;

pub use winograd::WinogradMatrices;

use crate::epilogue::Activation;
use crate::error::{check_len, check_min_len, Error};
use crate::simd::{self, Level};
use crate::split::{OutputPiece, UnitGeometry};
use crate::Conv2d;

/// A convolution algorithm. `Auto` lets the selector choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// The selector's choice for the descriptor and SIMD level.
    #[default]
    Auto,
    /// The plain-loop reference (slow; the oracle).
    Reference,
    /// im2col + our packed GEMM: `B` packed straight from the image into scratch (read in
    /// place for 1×1 stride-1 unpadded convolutions), bias and activation fused into the
    /// micro-kernel's store. No allocation.
    Im2colGemm,
    /// Explicit im2col into scratch + `matrixmultiply::sgemm` + the SIMD epilogue: the GEMM
    /// baseline benchmarks compare against. `std` only (`sgemm` allocates its packing
    /// buffers on every call).
    #[cfg(feature = "std")]
    Im2colMatrixMultiply,
    /// Direct convolution vectorised along the output row, blocked over output channels
    /// (any shape; fastest for few channels and small images).
    Direct,
    /// Depthwise convolution (`groups == in_channels == out_channels` only).
    Depthwise,
    /// Winograd F(2×2, 3×3): 3×3, stride 1, dilation 1 only (`docs/winograd.md`).
    Winograd2x2,
    /// Winograd F(4×4, 3×3): 3×3, stride 1, dilation 1 only.
    Winograd4x4,
    /// Winograd F(6×6, 3×3): 3×3, stride 1, dilation 1 only.
    Winograd6x6,
}

impl Algorithm {
    /// Every algorithm name the CLI accepts, `auto` first.
    pub const ALL: &'static [Algorithm] = &[
        Algorithm::Auto,
        Algorithm::Reference,
        Algorithm::Im2colGemm,
        #[cfg(feature = "std")]
        Algorithm::Im2colMatrixMultiply,
        Algorithm::Direct,
        Algorithm::Depthwise,
        Algorithm::Winograd2x2,
        Algorithm::Winograd4x4,
        Algorithm::Winograd6x6,
    ];

    /// Short name, as printed in benchmarks and accepted by [`Algorithm::from_name`].
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::Reference => "reference",
            Algorithm::Im2colGemm => "im2col",
            #[cfg(feature = "std")]
            Algorithm::Im2colMatrixMultiply => "im2col-mm",
            Algorithm::Direct => "direct",
            Algorithm::Depthwise => "depthwise",
            Algorithm::Winograd2x2 => "winograd-2x2",
            Algorithm::Winograd4x4 => "winograd-4x4",
            Algorithm::Winograd6x6 => "winograd-6x6",
        }
    }

    /// Parses a name printed by [`Algorithm::name`].
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// Whether this build contains the algorithm's code: the cargo features `direct`,
    /// `im2col`, `depthwise` and `winograd` (all default) compile the fast paths in, so a
    /// firmware can leave out the ones it does not run (`docs/embedded.md`). A plan for an
    /// algorithm that is not compiled in is [`Error::UnsupportedAlgorithm`]; `Auto` and
    /// `Reference` are always there, and the selector only picks compiled-in algorithms.
    pub const fn is_compiled_in(self) -> bool {
        match self {
            Algorithm::Auto | Algorithm::Reference => true,
            Algorithm::Im2colGemm => cfg!(feature = "im2col"),
            #[cfg(feature = "std")]
            Algorithm::Im2colMatrixMultiply => true,
            Algorithm::Direct => cfg!(feature = "direct"),
            Algorithm::Depthwise => cfg!(feature = "depthwise"),
            Algorithm::Winograd2x2 | Algorithm::Winograd4x4 | Algorithm::Winograd6x6 => {
                cfg!(feature = "winograd")
            }
        }
    }
}

impl core::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a plan is asked for beyond the descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ConvOptions {
    /// Algorithm to use (default: the selector's choice).
    pub algorithm: Algorithm,
    /// SIMD level (default: [`simd::active`]). Must be supported by this CPU.
    pub level: Option<Level>,
    /// Activation fused after the bias.
    pub activation: Activation,
}

/// A prepared convolution: descriptor, chosen algorithm and level, and the scratch it needs.
///
/// ```
/// use convkit_kernels::{Conv2d, Conv2dPlan, ConvOptions, Padding};
/// let desc = Conv2d::builder().channels(2, 1).input_size(3, 3).kernel_size(2, 2).build()?;
/// let plan = Conv2dPlan::new(&desc, ConvOptions::default())?;
/// let input: Vec<f32> = (0..9).map(|x| x as f32).chain((1..10).map(|x| x as f32)).collect();
/// let weights = [0.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0];
/// let mut output = [0.0f32; 4];
/// let mut scratch = vec![0.0f32; plan.scratch_len()];
/// plan.run(&input, &weights, None, &mut output, &mut scratch)?;
/// assert_eq!(output, [56.0, 72.0, 104.0, 120.0]);
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2dPlan {
    desc: Conv2d,
    algorithm: Algorithm,
    level: Level,
    activation: Activation,
    geometry: UnitGeometry,
    scratch_len: usize,
}

impl Conv2dPlan {
    /// Validates the options and makes every decision the call needs.
    pub fn new(desc: &Conv2d, options: ConvOptions) -> Result<Conv2dPlan, Error> {
        let activation = options.activation.validate()?;
        let level = options.level.unwrap_or_else(simd::active).require()?;
        let algorithm = match options.algorithm {
            Algorithm::Auto => select(desc, level),
            a => a,
        };
        if !algorithm.is_compiled_in() {
            return Err(not_compiled_in(algorithm));
        }
        // One match decides both the work split and the scratch: they cannot drift apart.
        let (rows_per_unit, scratch_len) = match algorithm {
            Algorithm::Auto | Algorithm::Reference => (1, 0),
            Algorithm::Im2colGemm => {
                let l = im2col::gemm_layout(desc, level)?;
                (l.rows_per_unit, l.scratch_len)
            }
            #[cfg(feature = "std")]
            Algorithm::Im2colMatrixMultiply => im2col::matrixmultiply_layout(desc, level)?,
            Algorithm::Direct => direct::decide(desc, level)?,
            Algorithm::Depthwise => depthwise::decide(desc, level)?,
            Algorithm::Winograd2x2 | Algorithm::Winograd4x4 | Algorithm::Winograd6x6 => {
                let l = winograd_layout(desc, algorithm, level)?;
                (l.rows_per_unit(), l.raw_scratch_len()?)
            }
        };
        let geometry = UnitGeometry {
            batch: desc.batch(),
            channels: desc.out_channels(),
            rows: desc.output_height(),
            cols: desc.output_width(),
            rows_per_unit,
            channels_per_unit: desc.out_channels(),
        };
        // The GEMM-shaped paths can also cut a small image's output channels, in blocks of
        // their micro-kernel's rows (`docs/architecture.md`, "Threads"). Each channel block
        // packs the unit's whole `B`: for im2col that is a plain copy only for 1×1 kernels; a
        // 3×3 layer's patch packing cost a 14×14×256 layer 14% at one thread when done twice.
        // Depthwise units are single channels; the other paths write every channel of a unit
        // through `unit_ptr`: their units keep all channels.
        let geometry = match algorithm {
            Algorithm::Im2colGemm if desc.kernel_height() * desc.kernel_width() == 1 => geometry
                .split_channels_for_two(desc.groups(), crate::gemm::Blocking::for_level(level).mr),
            Algorithm::Winograd2x2 | Algorithm::Winograd4x4 | Algorithm::Winograd6x6 => {
                geometry.split_channels_for_two(desc.groups(), winograd::layout::gemm_mr(level))
            }
            // Depthwise channels are independent: a unit is one channel (all rows).
            Algorithm::Depthwise => UnitGeometry {
                channels_per_unit: 1,
                ..geometry
            },
            _ => geometry,
        };
        Ok(Conv2dPlan {
            desc: *desc,
            algorithm,
            level,
            activation,
            geometry,
            scratch_len,
        })
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &Conv2d {
        &self.desc
    }
    /// The algorithm that will run (never `Auto`).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    /// The SIMD level that will run.
    pub fn level(&self) -> Level {
        self.level
    }
    /// The fused activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// Scratch `f32`s one call (or one piece) needs.
    pub fn scratch_len(&self) -> usize {
        self.scratch_len
    }
    /// How the output splits into work units for threads.
    pub fn unit_geometry(&self) -> UnitGeometry {
        self.geometry
    }

    /// Runs the whole convolution: `output = act(conv(input, weights) + bias)`.
    pub fn run(
        &self,
        input: &[f32],
        weights: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        check_len("output", self.desc.output_len(), output.len())?;
        let piece = OutputPiece::whole(output, self.geometry)?;
        self.run_piece(piece, input, weights, bias, scratch)
    }

    /// Runs the work units of one piece of the output (see [`crate::split`]). Gives the same
    /// bits for those elements as [`Conv2dPlan::run`].
    pub fn run_piece(
        &self,
        piece: OutputPiece<'_>,
        input: &[f32],
        weights: &[f32],
        bias: Option<&[f32]>,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        check_len("weights", self.desc.weights_len(), weights.len())?;
        check_min_len("scratch", self.scratch_len, scratch.len())?;
        if let Some(l) = self.winograd()? {
            // Raw filters: transform them into the front of the scratch, then run prepared.
            let (prepared, work) = scratch.split_at_mut(l.prepared_len);
            winograd::prepare(&l, weights, prepared);
            return self.run_piece_with(piece, input, prepared, true, bias, work);
        }
        self.run_piece_with(piece, input, weights, false, bias, scratch)
    }

    /// Length of the prepared weights [`Conv2dPlan::prepare_weights`] writes: the transformed,
    /// packed filters for Winograd, the weights packed into the GEMM's row panels for
    /// `im2col`, the channel blocks of the direct path's channels-in-lanes tiles, 0 for
    /// algorithms that use the raw weights (for those, pass the raw weights as `prepared`).
    pub fn prepared_weights_len(&self) -> usize {
        if self.algorithm == Algorithm::Im2colGemm {
            return im2col::prepared_len(&self.desc, self.level).unwrap_or(0);
        }
        if self.algorithm == Algorithm::Direct && cfg!(feature = "direct") {
            return direct::prepared_len(&self.desc, self.level);
        }
        self.winograd().ok().flatten().map_or(0, |l| l.prepared_len)
    }

    /// Scratch `f32`s one [`Conv2dPlan::run_prepared`] call (or piece) needs; at most
    /// [`Conv2dPlan::scratch_len`], which also covers transforming raw weights in the call.
    pub fn prepared_scratch_len(&self) -> usize {
        match self.winograd() {
            Ok(Some(l)) => self.scratch_len - l.prepared_len,
            // The direct path packs raw weights into the end of its scratch.
            _ if self.algorithm == Algorithm::Direct => {
                self.scratch_len - self.prepared_weights_len()
            }
            _ => self.scratch_len,
        }
    }

    /// Transforms `weights` (OIHW) once into the form [`Conv2dPlan::run_prepared`] takes, for
    /// callers that run a layer many times. Valid for plans with the same descriptor,
    /// algorithm and level. `prepared.len()` must be [`Conv2dPlan::prepared_weights_len`].
    ///
    /// ```
    /// use convkit_kernels::{Algorithm, Conv2d, Conv2dPlan, ConvOptions, Padding};
    /// let desc = Conv2d::builder().channels(2, 3).input_size(5, 5).kernel_size(3, 3)
    ///     .padding(Padding::uniform(1)).build()?;
    /// let options = ConvOptions { algorithm: Algorithm::Winograd2x2, ..Default::default() };
    /// let plan = Conv2dPlan::new(&desc, options)?;
    /// let weights = vec![0.5f32; desc.weights_len()];
    /// let mut prepared = vec![0.0f32; plan.prepared_weights_len()];
    /// plan.prepare_weights(&weights, &mut prepared)?;
    /// let input = vec![1.0f32; desc.input_len()];
    /// let mut output = vec![0.0f32; desc.output_len()];
    /// let mut scratch = vec![0.0f32; plan.prepared_scratch_len()];
    /// plan.run_prepared(&input, &prepared, None, &mut output, &mut scratch)?;
    /// assert!((output[6] - 9.0).abs() < 1e-5); // an interior pixel: 2 channels · 9 taps · 0.5
    /// # Ok::<(), convkit_kernels::Error>(())
    /// ```
    pub fn prepare_weights(&self, weights: &[f32], prepared: &mut [f32]) -> Result<(), Error> {
        check_len("weights", self.desc.weights_len(), weights.len())?;
        check_len(
            "prepared weights",
            self.prepared_weights_len(),
            prepared.len(),
        )?;
        if let Some(l) = self.winograd()? {
            winograd::prepare(&l, weights, prepared);
        }
        if self.algorithm == Algorithm::Im2colGemm {
            im2col::prepare(&self.desc, self.level, weights, prepared);
        }
        if self.algorithm == Algorithm::Direct && cfg!(feature = "direct") {
            direct::prepare(&self.desc, self.level, weights, prepared);
        }
        Ok(())
    }

    /// [`Conv2dPlan::run`] with weights from [`Conv2dPlan::prepare_weights`] (or the raw
    /// weights when [`Conv2dPlan::prepared_weights_len`] is 0); scratch at least
    /// [`Conv2dPlan::prepared_scratch_len`]. Same bits as `run`.
    pub fn run_prepared(
        &self,
        input: &[f32],
        prepared: &[f32],
        bias: Option<&[f32]>,
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        check_len("output", self.desc.output_len(), output.len())?;
        let piece = OutputPiece::whole(output, self.geometry)?;
        self.run_piece_prepared(piece, input, prepared, bias, scratch)
    }

    /// [`Conv2dPlan::run_piece`] with prepared weights (see [`Conv2dPlan::run_prepared`]).
    pub fn run_piece_prepared(
        &self,
        piece: OutputPiece<'_>,
        input: &[f32],
        prepared: &[f32],
        bias: Option<&[f32]>,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        match self.winograd()? {
            Some(l) => check_len("prepared weights", l.prepared_len, prepared.len())?,
            None if matches!(self.algorithm, Algorithm::Im2colGemm | Algorithm::Direct)
                && self.prepared_weights_len() > 0 =>
            {
                check_len(
                    "prepared weights",
                    self.prepared_weights_len(),
                    prepared.len(),
                )?
            }
            None => check_len("weights", self.desc.weights_len(), prepared.len())?,
        }
        self.run_piece_with(piece, input, prepared, true, bias, scratch)
    }

    /// The Winograd layout, if this plan runs Winograd (the same decision `new` sized with).
    fn winograd(&self) -> Result<Option<winograd::layout::WinogradLayout>, Error> {
        match self.algorithm {
            Algorithm::Winograd2x2 | Algorithm::Winograd4x4 | Algorithm::Winograd6x6
                if cfg!(feature = "winograd") =>
            {
                winograd_layout(&self.desc, self.algorithm, self.level).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Common checks and the dispatch to the path; `weights` are raw or prepared as the
    /// algorithm needs (lengths already checked by the caller). `prepared` says which, for the
    /// `im2col` path (raw OIHW, or packed by [`Conv2dPlan::prepare_weights`]).
    fn run_piece_with(
        &self,
        mut piece: OutputPiece<'_>,
        input: &[f32],
        weights: &[f32],
        prepared: bool,
        bias: Option<&[f32]>,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        if piece.geometry() != self.geometry {
            return Err(Error::InvalidParameter {
                what: "output piece was cut for another plan",
            });
        }
        check_len("input", self.desc.input_len(), input.len())?;
        if let Some(b) = bias {
            check_len("bias", self.desc.bias_len(), b.len())?;
        }
        check_min_len("scratch", self.prepared_scratch_len(), scratch.len())?;
        // The `cfg!` guards leave the code of the algorithms a build leaves out unreachable,
        // so the linker drops it (`new` never plans them).
        match self.algorithm {
            Algorithm::Auto | Algorithm::Reference => {
                reference_path::run(self, &mut piece, input, weights, bias)
            }
            Algorithm::Im2colGemm if cfg!(feature = "im2col") => {
                im2col::gemm_path::run(self, &mut piece, input, weights, prepared, bias, scratch)
            }
            #[cfg(feature = "std")]
            Algorithm::Im2colMatrixMultiply => {
                im2col::matrixmultiply_path::run(self, &mut piece, input, weights, bias, scratch)
            }
            Algorithm::Direct if cfg!(feature = "direct") => {
                direct::run(self, &mut piece, input, weights, prepared, bias, scratch)
            }
            Algorithm::Depthwise if cfg!(feature = "depthwise") => {
                depthwise::run(self, &mut piece, input, weights, bias, scratch)
            }
            Algorithm::Winograd2x2 | Algorithm::Winograd4x4 | Algorithm::Winograd6x6
                if cfg!(feature = "winograd") =>
            {
                if let Some(l) = self.winograd()? {
                    winograd::run(self, &l, &mut piece, input, weights, bias, scratch);
                }
            }
            a => return Err(not_compiled_in(a)),
        }
        Ok(())
    }
}

fn not_compiled_in(algorithm: Algorithm) -> Error {
    Error::UnsupportedAlgorithm {
        algorithm: algorithm.name(),
        reason: "not compiled in (cargo feature off)",
    }
}

fn winograd_layout(
    desc: &Conv2d,
    algorithm: Algorithm,
    level: Level,
) -> Result<winograd::layout::WinogradLayout, Error> {
    let tile = winograd::tile_of(algorithm).ok_or(Error::InvalidParameter {
        what: "not a Winograd algorithm",
    })?;
    winograd::layout::WinogradLayout::new(desc, tile, level, algorithm.name())
}

/// The algorithm selector. Rules and the measurements behind them: `docs/algorithms.md`.
/// Only algorithms compiled into this build are chosen (see [`Algorithm::is_compiled_in`]).
fn select(desc: &Conv2d, level: Level) -> Algorithm {
    let on = Algorithm::is_compiled_in;
    if on(Algorithm::Depthwise) && desc.is_depthwise() && depthwise::decide(desc, level).is_ok() {
        return Algorithm::Depthwise;
    }
    if let Some(tile) = winograd_tile(desc).filter(|t| on(*t)) {
        return tile;
    }
    if on(Algorithm::Direct) && prefers_direct(desc) {
        return Algorithm::Direct;
    }
    [Algorithm::Im2colGemm, Algorithm::Direct]
        .into_iter()
        .find(|a| on(*a))
        .unwrap_or(Algorithm::Reference)
}

/// Channels per group (in and out) from which Winograd is chosen for 3×3 stride-1 convolutions.
/// Measured (`winograd_speed`, AVX2, one thread, CPU-time direct-equivalent GFLOP/s, best tile
/// vs im2col): C=K=64 56×56 129 vs 51, C=K=128 28×28 106 vs 41, C=K=256 14×14 124 vs 61,
/// C=K=512 7×7 93 vs 38, VGG 8×64×112×112 121 vs 47. Below 64 channels nothing was measured,
/// and the direct path takes most of that region anyway.
const WINOGRAD_MIN_CHANNELS: usize = 64;

/// The Winograd tile the measurements favour, or `None` where Winograd is not chosen:
/// F(2,3) for outputs of at most 8×8 (C=512 7×7: F(2,3) 93, F(4,3) 40 GFLOP/s on AVX2; on
/// Zen 4 AVX-512 1.61–1.85 vs 3.87–3.92 ms), F(4,3) otherwise. At 14×14 with 256 channels
/// (resnet_3x3_256) F(4,3) won on Zen 4 at one thread, 1.18–1.26 vs 1.45–1.50 ms in three
/// `--algo all` runs (session 17), and the two tie at two threads (F(2,3) 0.73–0.76 vs
/// 0.75–0.82 ms); on AVX2 they tied (123 vs 124 GFLOP/s). F(6,3) was never clearly ahead of
/// F(4,3) (56×56: 108 vs 129), so it is only used when forced.
fn winograd_tile(desc: &Conv2d) -> Option<Algorithm> {
    let (cg, kg) = (desc.in_channels_per_group(), desc.out_channels_per_group());
    let eligible = desc.kernel_height() == 3
        && desc.kernel_width() == 3
        && desc.stride_height() == 1
        && desc.stride_width() == 1
        && desc.dilation_height() == 1
        && desc.dilation_width() == 1
        && cg >= WINOGRAD_MIN_CHANNELS
        && kg >= WINOGRAD_MIN_CHANNELS;
    if !eligible {
        return None;
    }
    let pixels = desc.output_height() * desc.output_width();
    if pixels <= 8 * 8 {
        Some(Algorithm::Winograd2x2)
    } else {
        Some(Algorithm::Winograd4x4)
    }
}

/// The measured region where [`Algorithm::Direct`] beats im2col + GEMM: every kernel larger
/// than 1×1 (asked after Winograd, so 3×3 stride 1 with 64+ channels stays Winograd's, see
/// [`winograd_tile`]; without the `winograd` feature direct takes those too: resnet_3x3_64 direct 2.39 vs im2col 2.76 ms, _512 1.92 vs 3.30, _256 2.66 vs 2.64, a
/// tie). 1×1 kernels never: GEMM runs on the image itself (C=256 → K=16 at 14×14: im2col
/// 54.9 vs direct 9.5 GFLOP/s; 56×56 C=64 → 128 stride 2: 77.1 vs 50.9).
///
/// Measured on the benchmark machine (AMD Zen 4, AVX-512, session 17, `convkit bench --algo
/// direct|im2col --shape …`, GFLOP/s direct vs im2col, at 1 thread, then at 2 where
/// measured): 3×3 stride 2 56×56 C=64 → 128 (resnet_3x3_s2) 86.0 vs 79.7 (as a case over
/// three `--algo all` runs, 1.319–1.342 vs 1.433–1.455 ms, 2 threads 0.662–0.695 vs
/// 0.718–0.760 ms); 28×28 C=128 → 256 s2 83.4 vs 84.6 (tie), 143 vs 85; 14×14 C=256 → 512
/// s2 111.8 vs 72.6, 205 vs 73; 7×7 C=512 → 512 s2 101.4 vs 81.9; 112×112 C=32 → 64 s2 90.4
/// vs 74.2; 3×3 stride 1 56×56 C=32 → 64 98.1 vs 82.9, 183 vs 157; 28×28 C=48 → 48 90.0 vs
/// 66.5; 28×28 C=128 → 32 88.3 vs 55.9; 3×3 dilation 2 28×28 C=K=256 92.3 vs 93.9, 186 vs
/// 187 (tie); 5×5 56×56 C=K=64 93.3 vs 83.9, 190 vs 158; batch 8 28×28 C=128 → 256 s2 82.3
/// vs 81.7 (tie). The earlier rule (direct only up to 8 input channels, or 32 in and 32 out)
/// came from AVX2 measurements on an earlier machine; `docs/algorithms.md` keeps its table.
fn prefers_direct(desc: &Conv2d) -> bool {
    desc.kernel_height() * desc.kernel_width() > 1
}
