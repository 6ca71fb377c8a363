//! Depthwise convolution (`groups == in_channels == out_channels`): each channel convolved
//! with its own `R×S` filter, vectorised along the output row.
//!
//! A work unit is one channel of one batch item, all its output rows: channels are
//! independent, so units share no input and a split has no halo to read twice, and a
//! batch-1 layer has as many units as channels for the runtime's threads to balance. Within
//! a unit the output rows go in blocks ([`row_block`]) whose input rows, top/bottom padding
//! rows included as zero rows, are prepared once into the caller's scratch ([`RowPrep`]:
//! left/right zero padding, stride phases); [`f32_dwconv_mrxnv`] tiles of 2 output rows × up
//! to 4 vectors (or the 3×3 row-reuse tile) cover the block. im2col + GEMM would copy 9
//! values per multiply-add here; this path reads each prepared row from L1.
//!
//! 3×3 and 5×5 are unrolled; other sizes up to 16 columns wide run the same body with the
//! size read at run time (wider kernels: use the direct path).

mod f32_dwconv_3x3_mrxnv;
mod f32_dwconv_3x3s2_rows;
mod f32_dwconv_mrxnv;

use self::f32_dwconv_3x3_mrxnv::{dwconv_3x3_tile, Dw3x3Tile};
use self::f32_dwconv_3x3s2_rows::{dwconv_3x3s2_rows, Dw3x3s2Plane};
use self::f32_dwconv_mrxnv::{dwconv_tile, DwTile, MAX_TAPS};
use super::direct::column_tile;
use super::direct::prepare::RowPrep;
use super::Conv2dPlan;
use crate::epilogue::Activation;
use crate::error::{mul, Error};
use crate::simd::{dispatch, F32Vector, Level, SimdKernel};
use crate::split::OutputPiece;
use crate::Conv2d;

/// Prepared rows (zero rows included) a block of `rows` output rows reads.
fn input_rows_for(desc: &Conv2d, rows: usize) -> usize {
    (rows - 1) * desc.stride_height() + (desc.kernel_height() - 1) * desc.dilation_height() + 1
}

/// Prepared floats a row block aims to stay within (16 KiB: half of L1, so the block's rows
/// stay there while its tiles read them up to `R` times and the input and output rows stream
/// past; at 32 KiB mobilenet_dw_3x3_s1, one block of 58 prepared rows, ran 12% slower, at 8
/// or 12 KiB the extra halo rows cost more).
const ROW_BLOCK_FLOATS: usize = 4 * 1024;

/// Output rows per block of a unit: as many as keep the prepared rows within
/// [`ROW_BLOCK_FLOATS`] (at least one), evened out over the output height so the last block
/// is not a sliver.
fn row_block(desc: &Conv2d, row_len: usize) -> usize {
    let p = desc.output_height().max(1);
    let rows_in = (ROW_BLOCK_FLOATS / row_len.max(1)).max(input_rows_for(desc, 1));
    let fit = (rows_in - input_rows_for(desc, 1)) / desc.stride_height() + 1;
    let blocks = p.div_ceil(fit.clamp(1, p));
    p.div_ceil(blocks)
}

/// The plan's decision for this path: `(rows_per_unit, scratch_len)` (a unit is one channel,
/// all `P` rows; the scratch holds one row block's prepared rows), or
/// [`Error::UnsupportedAlgorithm`] when the descriptor is not depthwise or the kernel is wider
/// than 16.
pub(super) fn decide(desc: &Conv2d, level: Level) -> Result<(usize, usize), Error> {
    if !desc.is_depthwise() {
        return Err(Error::UnsupportedAlgorithm {
            algorithm: "depthwise",
            reason: "needs groups == in_channels == out_channels",
        });
    }
    if desc.kernel_width() > MAX_TAPS {
        return Err(Error::UnsupportedAlgorithm {
            algorithm: "depthwise",
            reason: "kernel wider than 16 (use the direct path)",
        });
    }
    let prep = RowPrep::new(desc, level)?;
    let rows = row_block(desc, prep.row_len);
    let scratch = mul(
        input_rows_for(desc, rows),
        prep.row_len,
        "depthwise scratch",
    )?;
    Ok((desc.output_height(), scratch))
}

/// Runs the units of `piece` (lengths checked by the plan).
pub(super) fn run(
    plan: &Conv2dPlan,
    piece: &mut OutputPiece<'_>,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    scratch: &mut [f32],
) {
    // The plan built this same layout without error, so it cannot fail here.
    let Ok(prep) = RowPrep::new(plan.descriptor(), plan.level()) else {
        return;
    };
    dispatch(
        plan.level(),
        DwUnits {
            desc: plan.descriptor(),
            prep,
            act: plan.activation(),
            piece,
            input,
            weights,
            bias,
            scratch,
        },
    );
}

struct DwUnits<'a, 'b> {
    desc: &'a Conv2d,
    prep: RowPrep,
    act: Activation,
    piece: &'a mut OutputPiece<'b>,
    input: &'a [f32],
    weights: &'a [f32],
    bias: Option<&'a [f32]>,
    scratch: &'a mut [f32],
}

impl SimdKernel for DwUnits<'_, '_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // Each kernel size is a function of its own (`isolate`).
        match (self.desc.kernel_height(), self.desc.kernel_width()) {
            // SAFETY: forwarded dispatch contract; R, S match the kernel.
            (3, 3) => unsafe { V::isolate(UnitsOfSize::<3, 3>(self)) },
            // SAFETY: as above.
            (5, 5) => unsafe { V::isolate(UnitsOfSize::<5, 5>(self)) },
            // SAFETY: as above; 0 reads the size at run time.
            _ => unsafe { V::isolate(UnitsOfSize::<0, 0>(self)) },
        }
    }
}

/// [`run_units`] for one kernel size `R × S` (0: any), as a kernel of its own.
struct UnitsOfSize<'a, 'b, const R: usize, const S: usize>(DwUnits<'a, 'b>);

impl<const R: usize, const S: usize> SimdKernel for UnitsOfSize<'_, '_, R, S> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: forwarded dispatch contract; the caller matched `R × S` to the kernel.
        unsafe { run_units::<V, R, S>(self.0) }
    }
}

/// The driver: units (channels) → row blocks → prepare rows → row tiles → column tiles.
#[inline(always)]
unsafe fn run_units<V: F32Vector, const R: usize, const S: usize>(k: DwUnits<'_, '_>) {
    let d = k.desc;
    let prep = k.prep;
    let g = k.piece.geometry();
    let (h, w, c_all) = (d.input_height(), d.input_width(), d.in_channels());
    let (r_len, s_len) = (d.kernel_height(), d.kernel_width());
    let (sh, dh, dw) = (d.stride_height(), d.dilation_height(), d.dilation_width());
    let top = d.padding().top as isize;
    let q_len = g.cols;
    let mut taps = [0usize; MAX_TAPS];
    for (s, t) in taps.iter_mut().enumerate().take(s_len) {
        *t = prep.tap_offset(s, dw);
    }
    let row_len = prep.row_len;
    let block = row_block(d, row_len);
    // 3×3 stride 2 whose rows the vectors cover exactly: read straight from the input.
    let direct_s2 = if R == 3 && S == 3 && (sh, d.stride_width(), dh, dw) == (2, 2, 1, 1) {
        Dw3x3s2Plane::columns::<V>(w, q_len, d.padding().left)
    } else {
        None
    };

    for u in k.piece.units() {
        let (n, rows) = g.unit(u);
        let Some((y_unit, y_kstride)) = k.piece.unit_ptr(u) else {
            continue;
        };
        for ch in g.unit_channels(u) {
            let plane = (n * c_all + ch) * h * w;
            if let Some(cols) = &direct_s2 {
                let p = Dw3x3s2Plane {
                    x: k.input[plane..plane + h * w].as_ptr(),
                    h,
                    w,
                    pad_top: d.padding().top,
                    pad_left: d.padding().left,
                    // SAFETY: ch < K = C, so the channel's filter exists.
                    weights: unsafe { k.weights.as_ptr().add(ch * 9) },
                    bias: k.bias.map(|b| b[ch]),
                    act: k.act,
                    // SAFETY: as for `y_block` below, at the unit's first row.
                    y: unsafe { y_unit.add(ch * y_kstride) },
                    q_len,
                };
                // SAFETY: `cols` is this shape's `columns`; the plane, filter and the unit's
                // rows of channel ch exist (lengths checked by the plan).
                unsafe { dwconv_3x3s2_rows::<V>(&p, cols, rows.clone()) };
                continue;
            }
            let mut b0 = rows.start;
            while b0 < rows.end {
                let b_len = block.min(rows.end - b0);
                // Prepared row i holds input row first + i (a zero row outside the image).
                let first = (b0 * sh) as isize - top;
                let count = input_rows_for(d, b_len);
                for i in 0..count {
                    let ih = first + i as isize;
                    let dst = &mut k.scratch[i * row_len..(i + 1) * row_len];
                    if ih < 0 || ih >= h as isize {
                        dst.fill(0.0);
                    } else {
                        let src = plane + ih as usize * w;
                        // SAFETY: forwarded dispatch contract; the slices have W and row_len
                        // elements.
                        unsafe { prep.prepare_row_simd::<V>(&k.input[src..src + w], dst) };
                    }
                }
                // SAFETY: `unit_ptr` points at row rows.start of channel 0 of the unit's
                // batch item; channel ch (one of the unit's) and rows b0..b0 + b_len of it
                // exist.
                let y_block = unsafe { y_unit.add(ch * y_kstride + (b0 - rows.start) * q_len) };
                let bias = k.bias.map(|b| b[ch]);
                // SAFETY: ch < K = C, so the channel's filter exists.
                let w_ch = unsafe { k.weights.as_ptr().add(ch * r_len * s_len) };
                if R == 3 && S == 3 && dh == 1 && (sh == 1 || sh == 2) {
                    let mut tile = Dw3x3Tile {
                        x: k.scratch.as_ptr(),
                        x_row: row_len,
                        taps: [taps[0], taps[1], taps[2]],
                        w: w_ch,
                        y: y_block,
                        y_mstride: q_len,
                        q_valid: 0,
                        bias,
                        act: k.act,
                    };
                    // SAFETY: the block's output rows exist and their input rows were
                    // prepared (as for the general tiles below).
                    unsafe {
                        if sh == 1 {
                            rows_3x3::<V, 1>(&mut tile, b_len, q_len);
                        } else {
                            rows_3x3::<V, 2>(&mut tile, b_len, q_len);
                        }
                    }
                } else {
                    let mut tile = DwTile {
                        x: k.scratch.as_ptr(),
                        x_mstride: sh * row_len,
                        x_rstride: dh * row_len,
                        w: w_ch,
                        r_len,
                        s_len,
                        taps,
                        y: y_block,
                        y_mstride: q_len,
                        q_valid: 0,
                        bias,
                        act: k.act,
                    };
                    let mut m = 0;
                    while m < b_len {
                        let mr = if b_len - m >= 2 { 2 } else { 1 };
                        // SAFETY: output rows m, m + mr − 1 of the block exist; their input
                        // rows (m + mr − 1)·sh + (R − 1)·dh < count were prepared.
                        unsafe {
                            tile.x = k.scratch.as_ptr().add(m * sh * row_len);
                            tile.y = y_block.add(m * q_len);
                            if mr == 2 {
                                row_tiles::<V, 2, R, S>(&mut tile, q_len);
                            } else {
                                row_tiles::<V, 1, R, S>(&mut tile, q_len);
                            }
                        }
                        m += mr;
                    }
                }
                b0 += b_len;
            }
        }
    }
}

/// Covers a unit's `rows` output rows of one channel (3×3, row stride `SH`, row dilation 1)
/// with [`dwconv_3x3_tile`] tiles: up to 4 rows × 4 vectors on AVX-512 (a masked last
/// vector), 2 × 2 on the 16-register levels (a last tile moved back, [`column_tile`]).
#[inline(always)]
unsafe fn rows_3x3<V: F32Vector, const SH: usize>(t: &mut Dw3x3Tile, rows: usize, q_len: usize) {
    let lanes = V::LANES;
    let (max_mr, max_nv) = if lanes >= 16 { (4, 4) } else { (2, 2) };
    let (x0, y0) = (t.x, t.y);
    let mut m = 0;
    while m < rows {
        let mr = (rows - m).min(max_mr);
        let mut q0 = 0;
        while q0 < q_len {
            let (start, nv, valid, next) = if V::FAST_MASKED_STORE {
                let rem = q_len - q0;
                let nv = rem.div_ceil(lanes).min(max_nv);
                (q0, nv, rem.min(nv * lanes), q0 + nv * lanes)
            } else {
                column_tile(q0, q_len, lanes, max_nv)
            };
            t.q_valid = valid;
            // SAFETY: output rows m..m + mr of the unit exist and read prepared rows
            // m·SH .. (m + mr − 1)·SH + 3; start + nv·lanes <= Q_pad, so the loads end within
            // the phase length (see `RowPrep`) and the stores within the rows' Q columns.
            unsafe {
                t.x = x0.add(m * SH * t.x_row + start);
                t.y = y0.add(m * q_len + start);
                match (mr, nv) {
                    (1, 1) => dwconv_3x3_tile::<V, 1, 1, SH>(t),
                    (1, 2) => dwconv_3x3_tile::<V, 1, 2, SH>(t),
                    (2, 1) => dwconv_3x3_tile::<V, 2, 1, SH>(t),
                    (2, 2) => dwconv_3x3_tile::<V, 2, 2, SH>(t),
                    // The guards keep the larger tiles out of the levels that never use them.
                    (1, 3) if lanes >= 16 => dwconv_3x3_tile::<V, 1, 3, SH>(t),
                    (1, _) if lanes >= 16 => dwconv_3x3_tile::<V, 1, 4, SH>(t),
                    (2, 3) if lanes >= 16 => dwconv_3x3_tile::<V, 2, 3, SH>(t),
                    (2, _) if lanes >= 16 => dwconv_3x3_tile::<V, 2, 4, SH>(t),
                    (3, 1) if lanes >= 16 => dwconv_3x3_tile::<V, 3, 1, SH>(t),
                    (3, 2) if lanes >= 16 => dwconv_3x3_tile::<V, 3, 2, SH>(t),
                    (3, 3) if lanes >= 16 => dwconv_3x3_tile::<V, 3, 3, SH>(t),
                    (3, _) if lanes >= 16 => dwconv_3x3_tile::<V, 3, 4, SH>(t),
                    (_, 1) if lanes >= 16 => dwconv_3x3_tile::<V, 4, 1, SH>(t),
                    (_, 2) if lanes >= 16 => dwconv_3x3_tile::<V, 4, 2, SH>(t),
                    (_, 3) if lanes >= 16 => dwconv_3x3_tile::<V, 4, 3, SH>(t),
                    _ => dwconv_3x3_tile::<V, 4, 4, SH>(t),
                }
            }
            q0 = next;
        }
        m += mr;
    }
    t.x = x0;
    t.y = y0;
}

/// Covers `MR` output rows with column tiles of up to 4 vectors ([`column_tile`]).
#[inline(always)]
unsafe fn row_tiles<V: F32Vector, const MR: usize, const R: usize, const S: usize>(
    t: &mut DwTile,
    q_len: usize,
) {
    let lanes = V::LANES;
    let (x0, y0) = (t.x, t.y);
    let mut q0 = 0;
    while q0 < q_len {
        let (start, nv, valid, next) = column_tile(q0, q_len, lanes, 4);
        t.q_valid = valid;
        // SAFETY: start + nv·lanes <= Q_pad, so the loads end within the phase length (see
        // `RowPrep`) and the stores within the rows' Q columns.
        unsafe {
            t.x = x0.add(start);
            t.y = y0.add(start);
            match nv {
                1 => dwconv_tile::<V, MR, 1, R, S>(t),
                2 => dwconv_tile::<V, MR, 2, R, S>(t),
                3 => dwconv_tile::<V, MR, 3, R, S>(t),
                _ => dwconv_tile::<V, MR, 4, R, S>(t),
            }
        }
        q0 = next;
    }
    t.x = x0;
    t.y = y0;
}
