//! Winograd convolution F(m×m, 3×3), m ∈ {2, 4, 6}: 3×3 kernels, stride 1, dilation 1, any
//! padding, batch and groups (each group on its own).
//!
//! Per work unit (batch item × block of tile rows) and group:
//!
//! ```text
//!   input  ─deinterleave by tile phase─►  strip  ─Bᵀ d B (LANES tiles per vector)─►  V[ξ][c][t]
//!   U[ξ][k][c] (filters, G g Gᵀ, prepared once)  ×  V[ξ][c][t]  ─α² GEMMs─►  M[ξ][k][t]
//!   M  ─Aᵀ M A + bias, activation (LANES tiles per vector)─►  output rows (clipped tiles)
//! ```
//!
//! The input transform zero-fills the padding, so no tile reads outside the image, and the
//! output transform clips tiles at the right and bottom borders. Matrices and points:
//! [`transforms`]; sizes and scratch: [`layout`]. Accuracy and speed: `docs/winograd.md`.

mod f32_gemm_mrx3v;
mod filter_transform;
mod input_transform;
pub(crate) mod layout;
mod output_transform;
mod transforms;
mod unroll;

use self::f32_gemm_mrx3v::gemm;
use self::input_transform::{deinterleave_strip, gather_tiles, input_tiles, TileSource};
use self::layout::{Tile, WinogradLayout};
use self::output_transform::{output_tiles, OutTiles};
use self::transforms::{WinogradTile, F2, F4, F6};
use super::{Algorithm, Conv2dPlan};
use crate::epilogue::Activation;
use crate::simd::prefetch_range;
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::split::OutputPiece;

/// The transform matrices of one Winograd tile size, for inspection and tests.
///
/// `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A` computes the `m × m` output tile `Y` of the 3×3
/// cross-correlation of the `α × α` input tile `d` (`α = m + 2`) with the filter `g`.
///
/// ```
/// use convkit_kernels::conv::WinogradMatrices;
/// use convkit_kernels::Algorithm;
/// let f = WinogradMatrices::of(Algorithm::Winograd4x4).unwrap();
/// assert_eq!((f.m, f.alpha, f.points.len()), (4, 6, 5));
/// assert!(WinogradMatrices::of(Algorithm::Reference).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WinogradMatrices {
    /// Output tile side `m`.
    pub m: usize,
    /// Input tile side `α = m + 2`.
    pub alpha: usize,
    /// The finite interpolation points (`α − 1`; the last point is infinity).
    pub points: &'static [f64],
    /// `Aᵀ`, `m × α`, row-major, as the kernels use it.
    pub at: &'static [f32],
    /// `Bᵀ`, `α × α`, row-major, as the kernels use it.
    pub bt: &'static [f32],
    /// `G`, `α × 3`, row-major (applied in `f64` when filters are prepared).
    pub g: &'static [f64],
}

impl WinogradMatrices {
    /// The matrices of a Winograd algorithm, `None` for any other algorithm.
    pub fn of(algorithm: Algorithm) -> Option<WinogradMatrices> {
        fn get<T: WinogradTile>() -> WinogradMatrices {
            WinogradMatrices {
                m: T::M,
                alpha: T::ALPHA,
                points: T::POINTS,
                at: T::AT,
                bt: T::BT,
                g: T::G,
            }
        }
        match tile_of(algorithm)? {
            Tile::F2 => Some(get::<F2>()),
            Tile::F4 => Some(get::<F4>()),
            Tile::F6 => Some(get::<F6>()),
        }
    }
}

/// The tile size of a Winograd algorithm.
pub(crate) fn tile_of(algorithm: Algorithm) -> Option<Tile> {
    match algorithm {
        Algorithm::Winograd2x2 => Some(Tile::F2),
        Algorithm::Winograd4x4 => Some(Tile::F4),
        Algorithm::Winograd6x6 => Some(Tile::F6),
        _ => None,
    }
}

/// Transforms and packs the filters (lengths checked by the plan).
pub(crate) fn prepare(layout: &WinogradLayout, weights: &[f32], prepared: &mut [f32]) {
    match layout.tile {
        Tile::F2 => filter_transform::transform_filters::<F2>(layout, weights, prepared),
        Tile::F4 => filter_transform::transform_filters::<F4>(layout, weights, prepared),
        Tile::F6 => filter_transform::transform_filters::<F6>(layout, weights, prepared),
    }
}

/// Runs the units of `piece` with prepared filters; `work` is at least `layout.work_len()`
/// (lengths checked by the plan).
pub(crate) fn run(
    plan: &Conv2dPlan,
    layout: &WinogradLayout,
    piece: &mut OutputPiece<'_>,
    input: &[f32],
    prepared: &[f32],
    bias: Option<&[f32]>,
    work: &mut [f32],
) {
    // Start the transform-domain buffers on a 64-byte boundary: their rows are multiples of
    // 16 floats, so every vector load of the GEMM stays within one cache line (the layout
    // reserves ALIGN_SLACK floats for this). Alignment changes no result.
    let skip = work.as_ptr().align_offset(64).min(layout::ALIGN_SLACK);
    let work = &mut work[skip..];
    let (v_buf, rest) = work.split_at_mut(layout.v_len);
    let (m_buf, rest) = rest.split_at_mut(layout.m_len);
    let (tile_buf, rest) = rest.split_at_mut(layout.tiles_len);
    let strip = &mut rest[..layout.strip_len];
    let desc = plan.descriptor();
    let plane = desc.input_height() * desc.input_width();
    let g = piece.geometry();
    // Batch item and first row of the input `v_buf` holds transformed, if any: the channel
    // blocks of one row block are consecutive units and share it (ungrouped plans only; a
    // grouped plan's units span all channels and transform each group in turn).
    let mut transformed: Option<(usize, usize)> = None;
    for u in piece.units() {
        let (n, rows) = g.unit(u);
        let Some((out_ptr, chan_stride)) = piece.unit_ptr(u) else {
            continue;
        };
        let chans = g.unit_channels(u);
        let transform_input = layout.groups != 1 || transformed != Some((n, rows.start));
        for group in 0..layout.groups {
            let c0 = group * layout.cg;
            let k0 = group * layout.kg;
            // The unit's output channels in this group (group-relative): all `kg`, or one
            // channel block of an ungrouped plan, which starts at a multiple of `mr`
            // (`UnitGeometry::split_channels_for_two`).
            let k_lo = chans.start.max(k0) - k0;
            let k_hi = chans.end.min(k0 + layout.kg).saturating_sub(k0);
            if k_lo >= k_hi {
                continue;
            }
            let input = &input[(n * desc.in_channels() + c0) * plane..][..layout.cg * plane];
            let a2 = layout.alpha * layout.alpha;
            let unit = UnitRun {
                layout,
                input,
                width: desc.input_width(),
                y0: rows.start as isize - desc.padding().top as isize,
                left: desc.padding().left,
                out_rows: rows.len(),
                out_cols: desc.output_width(),
                prepared: &prepared[group * a2 * layout.kg_pad * layout.cg..]
                    [..a2 * layout.kg_pad * layout.cg],
                bias: bias.map(|b| &b[k0..k0 + layout.kg]),
                channels: k_lo..k_hi,
                transform_input,
                activation: plan.activation(),
                v_buf: &mut *v_buf,
                m_buf: &mut *m_buf,
                tile_buf: &mut *tile_buf,
                strip: &mut *strip,
                // SAFETY: channel k0 of this unit's rows exists (k0 < K); the kernel writes
                // only channels k0 + (k_lo..k_hi) of the unit's rows, which are the unit's own
                // (`unit_channels`), as `unit_ptr` allows.
                out: unsafe { out_ptr.add(k0 * chan_stride) },
                chan_stride,
            };
            match layout.tile {
                Tile::F2 => dispatch(plan.level(), UnitKernel::<F2>(unit, Default::default())),
                Tile::F4 => dispatch(plan.level(), UnitKernel::<F4>(unit, Default::default())),
                Tile::F6 => dispatch(plan.level(), UnitKernel::<F6>(unit, Default::default())),
            }
            // `v_buf` now holds these rows transformed (the last group's, for grouped plans).
            transformed = Some((n, rows.start));
        }
    }
}

/// One group of one work unit.
struct UnitRun<'a> {
    layout: &'a WinogradLayout,
    /// The group's input channels of this batch item, `cg × H × W`.
    input: &'a [f32],
    width: usize,
    /// Input row of the unit's first strip row (negative inside the top padding).
    y0: isize,
    left: usize,
    /// Output rows of this unit.
    out_rows: usize,
    /// Output row length `Q`.
    out_cols: usize,
    /// The group's prepared filters `[ξ][kg_pad / mr][cg][mr]`.
    prepared: &'a [f32],
    bias: Option<&'a [f32]>,
    /// The group's output channels this unit computes; starts at a multiple of `mr`.
    channels: core::ops::Range<usize>,
    /// False when `v_buf` already holds this unit's transformed input (the previous unit
    /// had the same batch item and rows); the transform would write the same bits.
    transform_input: bool,
    activation: Activation,
    v_buf: &'a mut [f32],
    m_buf: &'a mut [f32],
    /// Flat numbering's tile buffer (empty when row-aligned).
    tile_buf: &'a mut [f32],
    strip: &'a mut [f32],
    /// Row `rows.start` of the group's first output channel; channels `chan_stride` apart.
    out: *mut f32,
    chan_stride: usize,
}

struct UnitKernel<'a, T>(UnitRun<'a>, core::marker::PhantomData<T>);

impl<T: WinogradTile> SimdKernel for UnitKernel<'_, T> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        let UnitKernel(s, _) = self;
        let ly = s.layout;
        let (a, m, l) = (T::ALPHA, T::M, V::LANES);
        let a2 = a * a;
        let (cg, kg_pad, ts, xw) = (ly.cg, ly.kg_pad, ly.t_stride, ly.xw);
        let tile_rows = s.out_rows.div_ceil(m);
        let (cols, pitch) = (ly.tiles_x, ly.tile_pitch);
        // Columns of the transform domain: tile (ty, tx) is column ty·pitch + tx; whole
        // vectors of them (`vectors` of `LANES`).
        let vectors = ((tile_rows - 1) * pitch + cols).div_ceil(l);
        let t_len = vectors * l;
        let plane = s.input.len() / cg;
        let height = plane / s.width;

        // 1. Input transform, channel by channel (unless already done for these rows), a
        // vector of tiles at a time into V[ξ][c][t].
        let channels = if s.transform_input { 0..cg } else { 0..0 };
        // The image rows the strip reads (the same in every channel).
        let strip_rows = (tile_rows * m + 2) as isize;
        let row_lo = s.y0.clamp(0, height as isize) as usize;
        let row_hi = (s.y0 + strip_rows).clamp(0, height as isize) as usize;
        let rows_in = row_lo * s.width..row_hi * s.width;
        for c in channels {
            // The next channel's rows: each channel is a short burst of rows a plane away
            // from the last, which the hardware prefetchers do not foresee.
            if c + 1 < cg {
                prefetch_range(&s.input[(c + 1) * plane..][rows_in.clone()]);
            }
            // SAFETY: the dispatch contract, forwarded. The first channel writes the
            // padding's zeros, which stay for the unit's other channels (same rows).
            unsafe {
                deinterleave_strip::<V, T>(
                    ly,
                    &s.input[c * plane..][..height * s.width],
                    s.width,
                    s.y0,
                    s.left,
                    s.strip,
                    c == 0,
                );
            }
            if ly.flat() {
                // SAFETY: the strip holds tile_rows·m + 2 rows of m·xw for this unit's tile
                // rows (strip_rows is for the layout's maximum); the tile buffer holds α² rows
                // of t_stride ≥ round_up(tile_rows·tiles_x, 16) + 16 columns; xw =
                // round_up(tiles_x, 16) + 1 (layout).
                unsafe {
                    gather_tiles::<V, T>(
                        s.strip.as_ptr(),
                        xw,
                        tile_rows,
                        cols,
                        s.tile_buf.as_mut_ptr(),
                        ts,
                    );
                }
            }
            for vec in 0..vectors {
                let t0 = vec * l;
                let src = if ly.flat() {
                    TileSource {
                        // SAFETY: column t0 + LANES ≤ t_len ≤ t_stride of row 0.
                        base: unsafe { s.tile_buf.as_ptr().add(t0) },
                        row: a * ts,
                        phase: ts,
                        shift: m * ts,
                    }
                } else {
                    // Row-aligned: the vector lies in tile row t0 / pitch, from its tile
                    // t0 % pitch (a multiple of LANES).
                    let (ty, tx) = (t0 / pitch, t0 % pitch);
                    TileSource {
                        // SAFETY: strip row ty·m exists (ty < tile_rows), and column tx +
                        // 1 + LANES ≤ pitch + 1 ≤ xw of every phase row.
                        base: unsafe { s.strip.as_ptr().add(ty * m * m * xw + tx) },
                        row: m * xw,
                        phase: xw,
                        shift: 1,
                    }
                };
                // SAFETY: the tile buffer's rows r·α + k < α² from column t0, or the strip's
                // rows ty·m + r < tile_rows·m + 2 from column tx + k div m, hold a whole
                // vector (above); V row ξ·cg + c has t_stride ≥ t0 + LANES columns.
                unsafe {
                    input_tiles::<V, T>(src, s.v_buf.as_mut_ptr().add(c * ts + t0), cg * ts);
                }
            }
        }

        // 2. One GEMM per transform point, over the unit's rows `k_lo..k_lo + k_rows` of the
        // packed filters (whole `mr` panels), into M[k][vector][ξ][LANES].
        let mr = ly.mr;
        let k_lo = s.channels.start;
        let k_rows = (s.channels.end.div_ceil(mr) * mr).min(kg_pad) - k_lo;
        let m_row = vectors * a2 * l;
        for xi in 0..a2 {
            // SAFETY: U panel ξ has kg_pad·cg elements, and its row panels from k_lo (a
            // multiple of mr) on hold k_rows·cg of them; V rows ξ hold cg rows of ts ≥ t_len
            // columns; M holds kg_pad ≥ k_lo + k_rows rows of m_row ≤ α²·t_stride floats
            // (m_len = kg_pad·α²·t_stride).
            unsafe {
                let u = s.prepared.as_ptr().add(xi * kg_pad * cg + k_lo * cg);
                let v = s.v_buf.as_ptr().add(xi * cg * ts);
                let o = s.m_buf.as_mut_ptr().add(k_lo * m_row + xi * l);
                // One function per blocking and level, shared by the three tile sizes.
                let g = PointGemm {
                    u,
                    v,
                    v_stride: ts,
                    depth: cg,
                    out: o,
                    out_stride: m_row,
                    vec_stride: a2 * l,
                    rows: k_rows,
                    cols: t_len,
                };
                if mr == 8 {
                    V::isolate(PointGemmOf::<8, 3>(g));
                } else {
                    V::isolate(PointGemmOf::<6, 2>(g));
                }
            }
        }

        // 3. Output transform, bias and activation, into the output rows.
        let mut buf = [0.0f32; 6 * 6 * 16];
        for k in s.channels.clone() {
            let bias = s.bias.map_or(0.0, |b| b[k]);
            let out = OutTiles {
                // SAFETY: channel k < kg of this unit.
                ptr: unsafe { s.out.add(k * s.chan_stride) },
                cols: s.out_cols,
                rows: s.out_rows,
                tiles_x: cols,
                pitch,
            };
            for vec in 0..vectors {
                // SAFETY: M row k, vector vec: α²·LANES floats inside m_len (above); buf
                // holds m·m·LANES ≤ 36·16 elements; the unit's output rows of channel k.
                unsafe {
                    output_tiles::<V, T>(
                        s.m_buf.as_ptr().add(k * m_row + vec * a2 * l),
                        vec * l,
                        bias,
                        s.activation,
                        &out,
                        buf.as_mut_ptr(),
                    );
                }
            }
        }
    }
}

/// The arguments of one transform point's [`gemm`] (see there).
struct PointGemm {
    u: *const f32,
    v: *const f32,
    v_stride: usize,
    depth: usize,
    out: *mut f32,
    out_stride: usize,
    vec_stride: usize,
    rows: usize,
    cols: usize,
}

/// [`gemm`] with an `MR × NV` register tile, as a kernel of its own.
struct PointGemmOf<const MR: usize, const NV: usize>(PointGemm);

impl<const MR: usize, const NV: usize> SimdKernel for PointGemmOf<MR, NV> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        let g = self.0;
        // SAFETY: the caller's (`UnitKernel::run`) bounds for these pointers and sizes, and
        // the forwarded dispatch contract.
        unsafe {
            gemm::<V, MR, NV>(
                g.u,
                g.v,
                g.v_stride,
                g.depth,
                g.out,
                g.out_stride,
                g.vec_stride,
                g.rows,
                g.cols,
            )
        }
    }
}
