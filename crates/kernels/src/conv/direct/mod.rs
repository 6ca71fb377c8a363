//! Direct convolution, vectorised along the output row (output pixels in lanes), register
//! blocked over output channels (weights broadcast), for the shapes where im2col copies more
//! than it computes: few input channels (LeNet conv1, the ResNet stem), few output channels,
//! small images, batch 1.
//!
//! Per work unit (batch item × block of output rows) and group: the input rows the block needs
//! are prepared once into the caller's scratch ([`prepare::RowPrep`]: zero padding, stride
//! phases), then every output row is covered by [`f32_conv_row_kxnv`] tiles of `KB` channels ×
//! `NV` vectors. Kernel rows that fall in the top/bottom padding are skipped per output row
//! (no work, no branch in the tile); left/right padding is the zeros of the prepared rows.
//!
//! Any kernel size, stride, dilation, padding and group count. The scratch length and the
//! rows per unit come from [`decide`], which the plan calls once; [`run`] recomputes the same
//! layout from the plan.

mod f32_conv_kvec_mx1v;
pub(crate) mod f32_conv_row_kxnv;
pub(crate) mod prepare;

use self::f32_conv_kvec_mx1v::{conv_kvec_tile, pack_weights, packed_weights_len, KvecTile};
use self::f32_conv_row_kxnv::{conv_row_tile, RowTile, MAX_TABLE_TAPS};
use self::prepare::RowPrep;
use super::Conv2dPlan;
use crate::epilogue::{activate_stored, Activation};
use crate::error::{mul, Error};
use crate::simd::{dispatch, F32Vector, Level, SimdKernel};
use crate::split::OutputPiece;
use crate::Conv2d;

/// Prepared-input budget per work unit, in `f32`s (128 KiB, well inside the 1 MiB
/// L2 of the Zen 4 this was tuned on, so a unit's rows stay cached across channel blocks).
const PREP_BUDGET: usize = 32 * 1024;

/// Input rows a block of `rows` output rows reads (at most `H`).
pub(crate) fn input_rows_for(desc: &Conv2d, rows: usize) -> usize {
    let span =
        (rows - 1) * desc.stride_height() + (desc.kernel_height() - 1) * desc.dilation_height() + 1;
    span.min(desc.input_height())
}

/// Output rows per work unit: enough units for two threads to share a batch-1 image (at
/// least 4 per item), and a prepared block within [`PREP_BUDGET`].
pub(crate) fn rows_per_unit(desc: &Conv2d, prep: &RowPrep) -> usize {
    let p = desc.output_height();
    let mut rows = p.div_ceil(4).max(1);
    let cg = desc.in_channels_per_group();
    while rows > 1
        && cg
            .saturating_mul(input_rows_for(desc, rows))
            .saturating_mul(prep.row_len)
            > PREP_BUDGET
    {
        rows -= 1;
    }
    rows
}

/// Whether the tiles put output channels in lanes ([`f32_conv_kvec_mx1v`]) rather than output
/// pixels ([`f32_conv_row_kxnv`]): when a group's output channels fill the vectors clearly
/// better than an output row does (LeNet conv2 on AVX-512: 16 of 16 lanes against 10 of 16).
fn channels_in_lanes(desc: &Conv2d, lanes: usize) -> bool {
    if lanes < 4 || desc.kernel_width() > MAX_TABLE_TAPS {
        return false;
    }
    let fill = |n: usize| n as f32 / (n.div_ceil(lanes) * lanes) as f32;
    fill(desc.out_channels_per_group()) > fill(desc.output_width()) + 0.125
}

/// The plan's decision for this path: `(rows_per_unit, scratch_len)`. Scratch: the prepared
/// rows of one unit, then (channels in lanes) the packed weights.
pub(super) fn decide(desc: &Conv2d, level: Level) -> Result<(usize, usize), Error> {
    let prep = RowPrep::new(desc, level)?;
    let rows = rows_per_unit(desc, &prep);
    let per_channel = mul(input_rows_for(desc, rows), prep.row_len, "direct scratch")?;
    let mut scratch = mul(per_channel, desc.in_channels_per_group(), "direct scratch")?;
    if channels_in_lanes(desc, level.lanes()) {
        let packed = packed_weights_len(desc, level.lanes()).ok_or(Error::Overflow {
            what: "direct packed weights",
        })?;
        scratch = crate::error::add(scratch, packed, "direct scratch")?;
    }
    Ok((rows, scratch))
}

/// Length of the prepared (packed) weights: the packed channel blocks when the tiles put
/// channels in lanes, else 0 (the row tiles read the OIHW weights).
pub(super) fn prepared_len(desc: &Conv2d, level: Level) -> usize {
    if channels_in_lanes(desc, level.lanes()) {
        packed_weights_len(desc, level.lanes()).unwrap_or(0)
    } else {
        0
    }
}

/// Packs OIHW `weights` into `prepared` ([`prepared_len`] values; nothing when that is 0).
pub(super) fn prepare(desc: &Conv2d, level: Level, weights: &[f32], prepared: &mut [f32]) {
    if prepared_len(desc, level) > 0 {
        pack_weights(desc, level.lanes(), weights, prepared);
    }
}

/// Runs the units of `piece` (lengths checked by the plan). `weights` are OIHW, or packed by
/// [`prepare`] when `prepared` (and [`prepared_len`] > 0); raw weights that the tiles want
/// packed are packed into the end of the scratch.
pub(super) fn run(
    plan: &Conv2dPlan,
    piece: &mut OutputPiece<'_>,
    input: &[f32],
    weights: &[f32],
    prepared: bool,
    bias: Option<&[f32]>,
    scratch: &mut [f32],
) {
    // The plan built this same layout without error, so it cannot fail here.
    let Ok(prep) = RowPrep::new(plan.descriptor(), plan.level()) else {
        return;
    };
    dispatch(
        plan.level(),
        DirectUnits {
            desc: plan.descriptor(),
            prep,
            act: plan.activation(),
            piece,
            input,
            weights,
            prepared,
            bias,
            scratch,
        },
    );
}

struct DirectUnits<'a, 'b> {
    desc: &'a Conv2d,
    prep: RowPrep,
    act: Activation,
    piece: &'a mut OutputPiece<'b>,
    input: &'a [f32],
    weights: &'a [f32],
    prepared: bool,
    bias: Option<&'a [f32]>,
    scratch: &'a mut [f32],
}

impl SimdKernel for DirectUnits<'_, '_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // With one lane (the scalar portable level, `portable-scalar`) only the run-time
        // width is instantiated: the fixed widths save little there and triple the code.
        // Each width is a function of its own (`isolate`).
        match self.desc.kernel_width() {
            // SAFETY: forwarded dispatch contract; S matches the kernel width.
            3 if V::LANES > 1 => unsafe { V::isolate(UnitsOfWidth::<3>(self)) },
            // SAFETY: as above.
            5 if V::LANES > 1 => unsafe { V::isolate(UnitsOfWidth::<5>(self)) },
            // SAFETY: as above; S = 0 reads the width at run time.
            _ => unsafe { V::isolate(UnitsOfWidth::<0>(self)) },
        }
    }
}

/// [`run_units`] for one kernel width `S` (0: any), as a kernel of its own.
struct UnitsOfWidth<'a, 'b, const S: usize>(DirectUnits<'a, 'b>);

impl<const S: usize> SimdKernel for UnitsOfWidth<'_, '_, S> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: forwarded dispatch contract; the caller matched `S` to the kernel width.
        unsafe { run_units::<V, S>(self.0) }
    }
}

/// [`row_tiles`] for one channel block size `KB`, as a kernel of its own.
struct RowTilesOf<'a, const KB: usize, const S: usize>(&'a mut RowTile, usize);

impl<const KB: usize, const S: usize> SimdKernel for RowTilesOf<'_, KB, S> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: forwarded from `row_tiles`' caller (the tile's pointers and `q_len`).
        unsafe { row_tiles::<V, KB, S>(self.0, self.1) }
    }
}

/// The driver: units → groups → prepare rows → output rows → channel blocks → column tiles.
#[inline(always)]
unsafe fn run_units<V: F32Vector, const S: usize>(k: DirectUnits<'_, '_>) {
    let d = k.desc;
    let prep = k.prep;
    let g = k.piece.geometry();
    let (h, w) = (d.input_height(), d.input_width());
    let (c_all, cg, kg) = (
        d.in_channels(),
        d.in_channels_per_group(),
        d.out_channels_per_group(),
    );
    let (r_len, s_len) = (d.kernel_height(), d.kernel_width());
    let (sh, dh, dw) = (d.stride_height(), d.dilation_height(), d.dilation_width());
    let top = d.padding().top;
    let q_len = g.cols;
    let rows_in_max = input_rows_for(d, g.rows_per_unit);
    let x_cstride = rows_in_max * prep.row_len;

    let mut taps = [0usize; MAX_TABLE_TAPS];
    for (s, t) in taps.iter_mut().enumerate().take(s_len) {
        *t = prep.tap_offset(s, dw);
    }
    let step = (dw / prep.sw, dw % prep.sw, prep.sw, prep.phase_len);
    let lanes = V::LANES;
    let kvec = channels_in_lanes(d, lanes);
    let (xs, wp) = k.scratch.split_at_mut(cg * x_cstride);
    let wp: &[f32] = if kvec && !k.prepared {
        // The plan sized the scratch for the packed weights (see `decide`).
        pack_weights(d, lanes, k.weights, wp);
        wp
    } else {
        k.weights
    };
    let k_blocks = kg.div_ceil(lanes);
    let block_len = cg * r_len * s_len * lanes;
    // Row tiles: cheap activations in registers, sigmoid and tanh by a pass over each unit's
    // output (`Activation::in_registers`). Channels-in-lanes tiles keep every activation:
    // their units' rows are short runs per channel (LeNet conv2: 30 floats), which the pass
    // took longer over than the tile's own epilogue (A/B, AVX2).
    // Not at one lane (the Cortex-M4 build, where flash is short and nothing interleaves).
    let stored_pass = V::LANES > 1 && !kvec && !k.act.in_registers();
    // Channels-in-lanes tiles read each input pixel as a scalar broadcast, `MR` consecutive
    // columns from each tap, so without column padding at column stride 1 (every tap then
    // stays inside its row of `W`) they read the input rows where they are: no prepared copy
    // (LeNet conv2: the copy was 6% of the time at AVX-512).
    let in_place = kvec && prep.sw == 1 && d.padding().left == 0 && d.padding().right == 0;
    let row_act = if stored_pass {
        Activation::Identity
    } else {
        k.act
    };

    for u in k.piece.units() {
        let (n, rows) = g.unit(u);
        let Some((y_unit, y_kstride)) = k.piece.unit_ptr(u) else {
            continue;
        };
        // Input rows [ih0, ih1) cover every kernel row of every output row of the unit.
        let first = (rows.start * sh) as isize - top as isize;
        let last = ((rows.end - 1) * sh + (r_len - 1) * dh) as isize - top as isize + 1;
        let ih0 = first.clamp(0, h as isize) as usize;
        let ih1 = (last.clamp(0, h as isize) as usize).max(ih0);
        for grp in 0..d.groups() {
            // In place there is nothing to prepare (`cg` = 0 skips the copy).
            let cg_prepared = if in_place { 0 } else { cg };
            for c in 0..cg_prepared {
                let plane = (n * c_all + grp * cg + c) * h * w;
                for ih in ih0..ih1 {
                    let dst = c * x_cstride + (ih - ih0) * prep.row_len;
                    // SAFETY: forwarded dispatch contract; the slices have W and row_len
                    // elements.
                    unsafe {
                        prep.prepare_row_simd::<V>(
                            &k.input[plane + ih * w..plane + (ih + 1) * w],
                            &mut xs[dst..dst + prep.row_len],
                        )
                    };
                }
            }
            for p in rows.clone() {
                // Kernel rows r with 0 <= p·sh − top + r·dh < H.
                let base = (p * sh) as isize - top as isize;
                let r_lo = if base >= 0 {
                    0
                } else {
                    ((-base) as usize).div_ceil(dh)
                };
                let r_hi = if (h as isize) > base {
                    ((h as isize - base) as usize).div_ceil(dh).min(r_len)
                } else {
                    0
                };
                let nr = r_hi.saturating_sub(r_lo);
                let x_row = if nr > 0 {
                    (base + (r_lo * dh) as isize) as usize - ih0
                } else {
                    0
                };
                let y_row = (p - rows.start) * q_len;
                if kvec {
                    // SAFETY: as for the row tiles below; the channel blocks' packed weights
                    // and bias values exist (k_valid channels of the group from blk·lanes).
                    // In place, the tiles read rows ih0..ih1 of the group's Cg input planes
                    // of image n, and columns q + s·dw <= Q − 1 + (S − 1)·dw = W − 1 (column
                    // stride 1, no column padding).
                    unsafe {
                        // In place: channel stride H·W, row stride W, and x_row counts
                        // from input row ih0 of the group's first channel plane.
                        let (x, x_cstride, row_len) = if in_place {
                            let plane = (n * c_all + grp * cg) * h * w;
                            (k.input.as_ptr().add(plane + ih0 * w), h * w, w)
                        } else {
                            (xs.as_ptr(), x_cstride, prep.row_len)
                        };
                        let mut tile = KvecTile {
                            x: x.add(x_row * row_len),
                            x_cstride,
                            x_rstride: dh * row_len,
                            cg,
                            nr,
                            w: wp.as_ptr(),
                            w_cstride: r_len * s_len * lanes,
                            s_len,
                            taps,
                            y: y_unit,
                            y_kstride,
                            k_valid: 0,
                            bias: None,
                            act: k.act,
                        };
                        for blk in 0..k_blocks {
                            let kk = grp * kg + blk * lanes;
                            tile.k_valid = (kg - blk * lanes).min(lanes);
                            tile.w = wp
                                .as_ptr()
                                .add((grp * k_blocks + blk) * block_len + r_lo * s_len * lanes);
                            tile.bias = k.bias.map(|b| b.as_ptr().add(kk));
                            kvec_row::<V, S>(&mut tile, y_unit.add(kk * y_kstride + y_row), q_len);
                        }
                    }
                    continue;
                }
                let mut tile = RowTile {
                    // SAFETY: x_row < ih1 − ih0 <= rows_in_max when nr > 0 (else unused).
                    x: unsafe { xs.as_ptr().add(x_row * prep.row_len) },
                    x_cstride,
                    x_rstride: dh * prep.row_len,
                    cg,
                    nr,
                    w: k.weights.as_ptr(),
                    w_kstride: cg * r_len * s_len,
                    w_cstride: r_len * s_len,
                    s_len,
                    taps,
                    step,
                    y: y_unit,
                    y_kstride,
                    q_valid: 0,
                    last_shift: 0,
                    bias: None,
                    act: row_act,
                };
                let k_first = grp * kg;
                let mut k0 = 0;
                while k0 < kg {
                    // Blocks of 4, with the remainder in as few tiles as the registers
                    // allow: 6 channels (LeNet conv1) as one 6-row tile, not 4 + a
                    // latency-bound 2 (a tile needs 8+ accumulators to hide the FMA latency).
                    let kb = match kg - k0 {
                        1 => 1,
                        2 => 2,
                        3 | 5 => 3,
                        6 => 6,
                        _ => 4,
                    };
                    let kk = k_first + k0;
                    // SAFETY: kk < K: filter kk, row r_lo, and the output of channel kk in the
                    // unit, row p, exist.
                    unsafe {
                        tile.w = k.weights.as_ptr().add(kk * tile.w_kstride + r_lo * s_len);
                        tile.bias = k.bias.map(|b| b.as_ptr().add(kk));
                        tile.y = y_unit.add(kk * y_kstride + y_row);
                        match kb {
                            1 => row_tiles::<V, 1, S>(&mut tile, q_len),
                            2 => row_tiles::<V, 2, S>(&mut tile, q_len),
                            3 => row_tiles::<V, 3, S>(&mut tile, q_len),
                            // In a function of its own: its 12 accumulators and six
                            // broadcasts per tap fill AVX2's 16 registers, and sharing a
                            // function with the other blocks' loops cost it a third of its
                            // speed there (register allocation, A/B at `--simd avx2`).
                            6 => V::isolate(RowTilesOf::<6, S>(&mut tile, q_len)),
                            _ => row_tiles::<V, 4, S>(&mut tile, q_len),
                        }
                    }
                    k0 += kb;
                }
            }
        }
        if stored_pass {
            // Sigmoid/tanh over the unit's output, still in cache, out of line: each
            // channel's rows of the unit are contiguous.
            let len = rows.len() * q_len;
            // SAFETY: every channel's rows of the unit, written above (`unit_ptr`).
            unsafe { activate_stored::<V>(y_unit, len, d.out_channels(), y_kstride, k.act) };
        }
    }
}

/// The next column tile of a row: `(start, nv, q_valid, next_q0)` for a tile of up to
/// `max_nv` vectors beginning at column `q0 < q_len`.
///
/// A last tile that would stick out of the row is moved back to end at `q_len` (it recomputes
/// a few columns with the same operations, so the same bits) or, if the row is too short for
/// that, narrowed by a vector; only rows shorter than one vector store a partial vector. This
/// keeps masked stores, which cost tens of cycles on AMD's AVX2, out of the tile epilogue.
#[inline(always)]
pub(crate) fn column_tile(
    q0: usize,
    q_len: usize,
    lanes: usize,
    max_nv: usize,
) -> (usize, usize, usize, usize) {
    let rem = q_len - q0;
    let nv = rem.div_ceil(lanes).min(max_nv);
    let width = nv * lanes;
    if width <= rem {
        (q0, nv, width, q0 + width)
    } else if q_len >= width {
        (q_len - width, nv, width, q_len)
    } else if nv > 1 {
        let width = (nv - 1) * lanes;
        (q0, nv - 1, width, q0 + width)
    } else {
        (q0, 1, rem, q_len)
    }
}

/// Covers one output row of a channel block with [`conv_kvec_tile`] tiles of at most
/// [`f32_conv_kvec_mx1v::MAX_MR`] pixels, the row split into equal tiles (a short last tile
/// would run at FMA latency, with too few accumulators).
#[inline(always)]
unsafe fn kvec_row<V: F32Vector, const S: usize>(t: &mut KvecTile, y: *mut f32, q_len: usize) {
    let max = f32_conv_kvec_mx1v::MAX_MR;
    let x0 = t.x;
    let mut q0 = 0;
    while q0 < q_len {
        let rem = q_len - q0;
        let mr = rem.div_ceil(rem.div_ceil(max));
        // SAFETY: columns q0..q0 + mr < Q of the row exist; the prepared rows hold Q_pad
        // columns from every tap offset.
        unsafe {
            t.x = x0.add(q0);
            t.y = y.add(q0);
            match mr {
                1 => conv_kvec_tile::<V, 1, S>(t),
                2 => conv_kvec_tile::<V, 2, S>(t),
                3 => conv_kvec_tile::<V, 3, S>(t),
                4 => conv_kvec_tile::<V, 4, S>(t),
                5 => conv_kvec_tile::<V, 5, S>(t),
                6 => conv_kvec_tile::<V, 6, S>(t),
                7 => conv_kvec_tile::<V, 7, S>(t),
                8 => conv_kvec_tile::<V, 8, S>(t),
                9 => conv_kvec_tile::<V, 9, S>(t),
                10 => conv_kvec_tile::<V, 10, S>(t),
                11 => conv_kvec_tile::<V, 11, S>(t),
                _ => conv_kvec_tile::<V, 12, S>(t),
            }
        }
        q0 += mr;
    }
    t.x = x0;
}

/// The next column tile of a row of [`row_tiles`]: `(start, nv, last_shift, q_valid,
/// next_q0)` for the tile after column `q0 < q_len`.
///
/// The `v` vectors the rest of the row needs are cut into `⌈v / max_nv⌉` tiles of near-equal
/// width (70 columns of 16 lanes: 3 + 2 vectors, not 4 + a latency-bound 1); the last tile's
/// last vector is moved back to end at `q_len` (its `last_shift`) instead of being stored
/// partially, and a last tile of less than one vector is moved back whole (`start < q0`).
/// Only a row shorter than one vector stores a partial vector.
#[inline(always)]
pub(crate) fn row_column_tile(
    q0: usize,
    q_len: usize,
    lanes: usize,
    max_nv: usize,
) -> (usize, usize, usize, usize, usize) {
    let rem = q_len - q0;
    if rem < lanes {
        return if q_len >= lanes {
            (q_len - lanes, 1, 0, lanes, q_len)
        } else {
            (q0, 1, 0, rem, q_len)
        };
    }
    let v = rem.div_ceil(lanes);
    let nv = v.div_ceil(v.div_ceil(max_nv));
    if nv < v {
        (q0, nv, 0, nv * lanes, q0 + nv * lanes)
    } else {
        (q0, nv, nv * lanes - rem, rem, q_len)
    }
}

/// Covers one output row of `KB` channels with column tiles of up to 4 vectors (AVX-512, 32
/// registers) or 2 vectors (16-register ISAs); see [`row_column_tile`].
#[inline(always)]
unsafe fn row_tiles<V: F32Vector, const KB: usize, const S: usize>(t: &mut RowTile, q_len: usize) {
    let lanes = V::LANES;
    let max_nv = if lanes >= 16 { 4 } else { 2 };
    let (x0, y0) = (t.x, t.y);
    let mut q0 = 0;
    while q0 < q_len {
        let (start, nv, shift, valid, next) = row_column_tile(q0, q_len, lanes, max_nv);
        t.q_valid = valid;
        t.last_shift = shift;
        // SAFETY: start + nv·lanes − shift <= Q_pad, so the tile's loads end within the phase
        // length (see `RowPrep`), and its stores within the row's Q columns.
        unsafe {
            t.x = x0.add(start);
            t.y = y0.add(start);
            match nv {
                // `nv <= max_nv`: the guards keep the 3- and 4-vector tiles out of the levels
                // that never use them (all but AVX-512).
                1 => conv_row_tile::<V, KB, 1, S>(t),
                2 => conv_row_tile::<V, KB, 2, S>(t),
                3 if max_nv >= 3 => conv_row_tile::<V, KB, 3, S>(t),
                _ if max_nv >= 4 => conv_row_tile::<V, KB, 4, S>(t),
                _ => {}
            }
        }
        q0 = next;
    }
    t.x = x0;
    t.y = y0;
}

#[cfg(test)]
mod tests {
    use super::row_column_tile;

    /// The tiles of every row width cover `[0, Q)` exactly once except for the overlap of a
    /// shifted last vector, never read past `Q`, and only a row narrower than a vector stores
    /// a partial vector.
    #[test]
    fn row_tiles_cover_the_row() {
        for (lanes, max_nv) in [(16, 4), (8, 2), (4, 2), (1, 2)] {
            for q_len in 1..=200 {
                let mut q0 = 0;
                let mut tiles = 0;
                while q0 < q_len {
                    let (start, nv, shift, valid, next) = row_column_tile(q0, q_len, lanes, max_nv);
                    assert!((1..=max_nv).contains(&nv), "{q_len} {lanes}");
                    assert!(shift < lanes && (shift == 0 || next == q_len));
                    assert!(start <= q0 && start + valid == next);
                    // The vectors end exactly at the tile's end (nothing read past Q), except
                    // in a row narrower than one vector, which stores a partial vector.
                    let end = start + nv * lanes - shift;
                    if q_len >= lanes {
                        assert_eq!(end, next, "{q_len} {lanes}");
                    } else {
                        assert_eq!((nv, shift, valid), (1, 0, q_len));
                    }
                    tiles += 1;
                    q0 = next;
                }
                assert_eq!(q0, q_len);
                let vectors = q_len.div_ceil(lanes);
                assert!(tiles <= vectors.div_ceil(max_nv) + 1, "{q_len} {lanes}");
            }
        }
    }
}
