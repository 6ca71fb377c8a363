//! Convolution backward-weights for a horizontal stride of 1, straight from the input rows
//! (no im2col), per image, group, input channel `c`, kernel row `r` and output row `p`:
//!
//! ```text
//! dWᵀ[(c, r, s)][k] += Σ_q X[c][p·sh + r·dh − top][q + s·dw − left] · dYᵀ[p·Q + q][k]
//! ```
//!
//! One register tile per `(c, r)` and block of output rows ([`rows_tile`]): its `mr` rows
//! are consecutive kernel columns `s`, which read the *same* input row shifted by `dw` (so
//! the A operand is the row itself, `lda = dw`), its depth runs over the block's output rows
//! and, inside each, the `Q` output columns (A jumps to the next input row at the end of an
//! output row), and its `nv` vectors are output channels (`dYᵀ`, packed once per block of
//! output rows, channels in the lanes as in `f32_conv_backward_weights_gemm`). Output rows
//! whose kernel row `r` lands in the top or bottom padding are left out of the depth range;
//! left and right padding come from a zero-bordered copy of the block's input rows.
//!
//! Against the im2col GEMM this drops the patch packing, which writes `R·S` values per output
//! pixel and input channel (LeNet's conv2: 150 per pixel, 12.7× the image) and took half of
//! that pass's time. Design notes and figures: `docs/training.md`.

use super::conv::Conv2dBackwardPlan;
use super::f32_conv_backward_weights_gemm::{balanced_rows, sum, transpose_to_oihw};
use crate::gemm::Blocking;
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::Conv2d;

/// Target size of one block's packed `dYᵀ` in elements (64 KiB: L2-resident while the tiles
/// stream over it).
const DYT_BLOCK: usize = 16 * 1024;

/// Whether this pass runs `desc` (a horizontal stride of 1; anything else uses the im2col GEMM).
pub(super) fn supports(desc: &Conv2d) -> bool {
    desc.stride_width() == 1
}

/// Values per pixel row of a `dYᵀ` panel: `nr`, or fewer when all `Kg` channels fit in fewer
/// vectors (LeNet's conv2 at AVX-512: 16 channels, one vector, not a 48-wide panel).
fn panel_stride(desc: &Conv2d, bl: Blocking) -> usize {
    bl.nr()
        .min(desc.out_channels_per_group().next_multiple_of(bl.lanes))
}

/// `dYᵀ` elements per output row: `Q × ⌈Kg/nr⌉ × panel stride`.
fn dyt_row_len(desc: &Conv2d, bl: Blocking) -> Option<usize> {
    desc.output_width()
        .checked_mul(desc.out_channels_per_group().div_ceil(bl.nr()))?
        .checked_mul(panel_stride(desc, bl))
}

/// Output rows per block: about [`DYT_BLOCK`] elements of `dYᵀ`, at least one row, at most the
/// image.
fn row_block(desc: &Conv2d, bl: Blocking) -> usize {
    let per_row = dyt_row_len(desc, bl).unwrap_or(usize::MAX);
    (DYT_BLOCK / per_row.max(1)).clamp(1, desc.output_height())
}

/// Input rows a block of `rows` output rows reads (kernel rows included).
fn input_rows(desc: &Conv2d, rows: usize) -> Option<usize> {
    let span = (rows - 1)
        .checked_mul(desc.stride_height())?
        .checked_add((desc.kernel_height() - 1).checked_mul(desc.dilation_height())?)?
        .checked_add(1)?;
    Some(span.min(desc.input_height()))
}

/// Width of a zero-bordered input row, `left + W + right`.
fn padded_width(desc: &Conv2d) -> usize {
    let pad = desc.padding();
    pad.left + desc.input_width() + pad.right
}

/// Scratch elements: `dWᵀ` (the weight count), one block of `dYᵀ` panels
/// (`rows·Q × ⌈Kg/nr⌉ × panel stride`) and, with left or right padding, the block's
/// zero-bordered input rows. `None` on overflow.
pub(super) fn scratch_len(desc: &Conv2d, bl: Blocking) -> Option<usize> {
    let rows = row_block(desc, bl);
    let dyt = rows.checked_mul(dyt_row_len(desc, bl)?)?;
    let pad = desc.padding();
    let padded = if pad.left + pad.right > 0 {
        input_rows(desc, rows)?.checked_mul(padded_width(desc))?
    } else {
        0
    };
    desc.weights_len().checked_add(dyt)?.checked_add(padded)
}

/// Runs the pass (lengths checked by the plan, `supports(desc)`, `scratch` at least
/// [`scratch_len`] for the plan's level).
pub(super) fn run(
    plan: &Conv2dBackwardPlan,
    input: &[f32],
    grad_output: &[f32],
    grad_weights: &mut [f32],
    grad_bias: Option<&mut [f32]>,
    scratch: &mut [f32],
) {
    dispatch(
        plan.level(),
        RowsRun {
            desc: plan.descriptor(),
            input,
            grad_output,
            grad_weights,
            grad_bias,
            scratch,
        },
    );
}

struct RowsRun<'a> {
    desc: &'a Conv2d,
    input: &'a [f32],
    grad_output: &'a [f32],
    grad_weights: &'a mut [f32],
    grad_bias: Option<&'a mut [f32]>,
    scratch: &'a mut [f32],
}

impl SimdKernel for RowsRun<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: forwarded dispatch contract.
        unsafe {
            match Blocking::for_level(V::LEVEL).nv {
                3 => body::<V, 3>(self),
                2 => body::<V, 2>(self),
                _ => body::<V, 1>(self),
            }
        }
    }
}

/// Writes channels `k0..k0 + width` of `dy` (planes of `pq`, pixels `px0..` of each) into
/// `panel` as `dYᵀ`: pixel `i`'s channels at `panel[i·ps..]`, 16 channels × 16 pixels at a
/// time through [`F32Vector::store_transposed`] (the element loop it replaces was a third of
/// backward-weights at AVX-512). Channels past `width` in a 16-channel block are written as
/// zeros (the tile reads them and never stores their results).
///
/// # Safety
/// The [`F32Vector`] contract, `V::LANES == 16`, `ps` a multiple of 16 and at least `width`
/// rounded up to 16, `panel.len()` a multiple of `ps`, and `dy` holding
/// `(k0 + width − 1)·pq + px0 + panel.len() / ps` elements.
#[inline(always)]
unsafe fn transpose_panel<V: F32Vector>(
    dy: &[f32],
    k0: usize,
    width: usize,
    px0: usize,
    pq: usize,
    panel: &mut [f32],
    ps: usize,
) {
    let block_px = panel.len() / ps;
    let (src, dst) = (dy.as_ptr(), panel.as_mut_ptr());
    let mut kk0 = 0;
    while kk0 < width {
        let m_valid = (width - kk0).min(16);
        let mut i0 = 0;
        while i0 < block_px {
            let n = (block_px - i0).min(16);
            // SAFETY: the contract for `V`.
            let mut rows = [unsafe { V::zero() }; 16];
            // SAFETY: channel k0 + kk0 + m < k0 + width and pixels px0 + i0 .. + n lie in `dy`
            // (the caller's bound); the stores reach panel[(i0 + k)·ps + kk0 + m] with k < n
            // and kk0 + m < kk0 + 16 <= ps, inside the pixel's slot.
            unsafe {
                for (m, r) in rows.iter_mut().enumerate().take(m_valid) {
                    let s = src.add((k0 + kk0 + m) * pq + px0 + i0);
                    *r = if n == 16 {
                        V::load(s)
                    } else {
                        V::load_partial(s, n)
                    };
                }
                V::store_transposed(&rows, dst.add(i0 * ps + kk0), ps, n);
            }
            i0 += 16;
        }
        kk0 += 16;
    }
}

/// Images → groups → blocks of output rows (pack `dYᵀ`) → input channels (pad the block's
/// rows) → kernel rows → output rows → channel panels → tiles of kernel columns, accumulating
/// into `dWᵀ`.
///
/// # Safety
/// The dispatch contract for `V`; `NV_MAX` is `Blocking::for_level(V::LEVEL).nv`.
#[inline(always)]
unsafe fn body<V: F32Vector, const NV_MAX: usize>(run: RowsRun<'_>) {
    let RowsRun {
        desc: d,
        input,
        grad_output,
        grad_weights,
        grad_bias,
        scratch,
    } = run;
    let bl = Blocking::for_level(V::LEVEL);
    let (nr, mr_max) = (bl.nr(), bl.mr);
    let (cg, kg, groups) = (
        d.in_channels_per_group(),
        d.out_channels_per_group(),
        d.groups(),
    );
    let (h, w) = (d.input_height(), d.input_width());
    let (p_all, q) = (d.output_height(), d.output_width());
    let (kh, kw) = (d.kernel_height(), d.kernel_width());
    let (sh, dh, dw) = (d.stride_height(), d.dilation_height(), d.dilation_width());
    let pad = d.padding();
    let (hw, pq) = (h * w, p_all * q);
    let dd = cg * kh * kw;
    let panels = kg.div_ceil(nr);
    let ps = panel_stride(d, bl);
    let rows_blk = row_block(d, bl);
    let wp = padded_width(d);
    let padded = pad.left + pad.right > 0;
    // The plan sized the scratch for its level; never overrun it if dispatch fell back.
    let (Some(need), Some(in_rows)) = (scratch_len(d, bl), input_rows(d, rows_blk)) else {
        return;
    };
    if !supports(d) || scratch.len() < need {
        return;
    }
    let (dwt, rest) = scratch.split_at_mut(d.weights_len());
    let (dyt, rest) = rest.split_at_mut(rows_blk * q * panels * ps);
    let rows_buf = &mut rest[..if padded { in_rows * wp } else { 0 }];

    if let Some(db) = grad_bias {
        db.fill(0.0);
        for (i, plane) in grad_output.chunks_exact(pq).enumerate() {
            // SAFETY: the dispatch contract holds.
            db[i % d.out_channels()] += unsafe { sum::<V>(plane) };
        }
    }
    dwt.fill(0.0);
    // The borders of the padded rows stay zero: only their middle is ever rewritten.
    rows_buf.fill(0.0);

    for n in 0..d.batch() {
        for g in 0..groups {
            let dy = &grad_output[(n * d.out_channels() + g * kg) * pq..][..kg * pq];
            let dwt_g = &mut dwt[g * dd * kg..][..dd * kg];
            let mut p0 = 0;
            while p0 < p_all {
                let rows = rows_blk.min(p_all - p0);
                // dYᵀ panels of the block: panel jp holds channels jp·nr.. as rows·Q rows of
                // `ps` values (lanes past the panel's width are read by the tile but never
                // stored, so they may hold anything).
                let block_px = rows * q;
                for jp in 0..panels {
                    let k0 = jp * nr;
                    let panel = &mut dyt[jp * block_px * ps..][..block_px * ps];
                    if V::FAST_MASKED_STORE && V::LANES == 16 && ps.is_multiple_of(16) {
                        // SAFETY: the dispatch contract; `ps` is a multiple of 16 and the
                        // rows stay inside `dy` (see `transpose_panel`).
                        unsafe {
                            transpose_panel::<V>(dy, k0, nr.min(kg - k0), p0 * q, pq, panel, ps)
                        };
                        continue;
                    }
                    for kk in 0..nr.min(kg - k0) {
                        let src = &dy[(k0 + kk) * pq + p0 * q..][..block_px];
                        for (i, &v) in src.iter().enumerate() {
                            panel[i * ps + kk] = v;
                        }
                    }
                }
                // Input rows the block reads: y0..y0 + ny (inside the image).
                let y0 = (p0 * sh).saturating_sub(pad.top);
                let y_end = ((p0 + rows - 1) * sh + (kh - 1) * dh + 1)
                    .saturating_sub(pad.top)
                    .min(h);
                let ny = y_end.saturating_sub(y0).min(in_rows);
                for c in 0..cg {
                    let plane = &input[(n * d.in_channels() + g * cg + c) * hw..][..hw];
                    if padded {
                        for (yy, dst) in rows_buf.chunks_exact_mut(wp).take(ny).enumerate() {
                            dst[pad.left..pad.left + w]
                                .copy_from_slice(&plane[(y0 + yy) * w..][..w]);
                        }
                    }
                    for r in 0..kh {
                        // Output rows pp of the block whose kernel row r reads an input row
                        // y = (p0 + pp)·sh + r·dh − top inside the image: pp_lo..pp_hi.
                        let first = (p0 * sh + r * dh) as isize - pad.top as isize;
                        let pp_lo = if first >= 0 {
                            0
                        } else {
                            first.unsigned_abs().div_ceil(sh)
                        };
                        let pp_hi = (h as isize - first)
                            .max(0)
                            .unsigned_abs()
                            .div_ceil(sh)
                            .min(rows);
                        if pp_lo >= pp_hi {
                            continue;
                        }
                        let y = (first + (pp_lo * sh) as isize) as usize;
                        let (a, a_row) = if padded {
                            (rows_buf[(y - y0) * wp..].as_ptr(), sh * wp)
                        } else {
                            (plane[y * w..].as_ptr(), sh * w)
                        };
                        for jp in 0..panels {
                            let width = nr.min(kg - jp * nr);
                            let b = dyt[jp * block_px * ps + pp_lo * q * ps..].as_ptr();
                            let mut s0 = 0;
                            while s0 < kw {
                                let mr = balanced_rows(kw - s0, mr_max);
                                let out = RowsOut {
                                    c: dwt_g[((c * kh + r) * kw + s0) * kg + jp * nr..]
                                        .as_mut_ptr(),
                                    ldc: kg,
                                    n: width,
                                };
                                let depth = Depth {
                                    rows: pp_hi - pp_lo,
                                    cols: q,
                                    a_row,
                                    b_row: q * ps,
                                };
                                // SAFETY: tile row i reads a + (s0 + i)·dw + j·a_row + [0, Q)
                                // for j < rows: input row y + j·sh (< H: pp < pp_hi) of the
                                // plane or of the padded rows (y + j·sh − y0 < ny), and with a
                                // horizontal stride of 1, (S−1)·dw + Q = left + W + right, so
                                // every read lies inside that row. B rows (pp_lo + j)·Q + [0,
                                // Q) of the panel hold ps >= ⌈width/LANES⌉·LANES readable
                                // values each (ps is nr, or Kg rounded up to whole vectors);
                                // dWᵀ rows ((c·R + r)·S + s0 + i) (< D), columns jp·nr +
                                // [0, width) (<= Kg) lie inside dwt_g (ldc = Kg).
                                unsafe {
                                    rows_tile_dispatch::<V, NV_MAX>(
                                        mr,
                                        width.div_ceil(V::LANES),
                                        &depth,
                                        a.add(s0 * dw),
                                        dw,
                                        b,
                                        ps,
                                        &out,
                                    );
                                }
                                s0 += mr;
                            }
                        }
                    }
                }
                p0 += rows;
            }
        }
    }
    transpose_to_oihw(d, dwt, grad_weights);
}

/// The depth walk of one [`rows_tile`]: `rows` output rows of `cols` columns; A moves
/// `a_row` values and B `b_row` values from one output row to the next.
struct Depth {
    rows: usize,
    cols: usize,
    a_row: usize,
    b_row: usize,
}

/// Where a [`rows_tile`] adds its result: `C + r·ldc + [0, n)` for its rows `r`.
struct RowsOut {
    c: *mut f32,
    ldc: usize,
    n: usize,
}

/// `C[r][..n] += Σ_rows Σ_cols A[r][k]·B[k][..]` for an `MR × NV·LANES` tile, with
/// `A[r][(j, q)] = a[j·a_row + r·lda + q]` and `B[(j, q)] = b + j·b_row + q·ldb`. The
/// accumulators stay in registers over the whole walk (one load and store of `C` per call).
/// With at most 6 accumulators per set, two sets take alternate columns, so twice as many
/// independent FMA chains hide the FMA latency (LeNet's 5-row tiles of one vector); the sets
/// are added at the end.
///
/// # Safety
/// The [`F32Vector`] contract; `a + j·a_row + r·lda + [0, cols)` readable for `j < rows`, `r <
/// MR`; `b + j·b_row + q·ldb + [0, NV·LANES)` readable for `j < rows`, `q < cols`; `out.c +
/// r·out.ldc + [0, out.n)` readable and writable for `r < MR`; `(NV−1)·LANES < out.n <=
/// NV·LANES`.
#[inline(always)]
unsafe fn rows_tile<V: F32Vector, const MR: usize, const NV: usize>(
    depth: &Depth,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    out: &RowsOut,
) {
    // Two accumulator sets where they fit in the registers with the B vectors and the
    // broadcast (2·6 + 2 + 1 <= 16 at AVX2).
    let two = MR * NV <= 6;
    // SAFETY: (whole body) every offset stays inside the ranges the caller guarantees; the
    // last vector of a row of C is masked to `out.n` columns.
    unsafe {
        let mut acc = [[[V::zero(); NV]; MR]; 2];
        // acc[set] += A[..][k] · B[k] for depth column k of the current output row.
        macro_rules! step {
            ($set:expr, $a:expr, $b:expr, $k:expr) => {{
                let mut bv = [V::zero(); NV];
                for (v, bj) in bv.iter_mut().enumerate() {
                    *bj = V::load($b.add($k * ldb + v * V::LANES));
                }
                for (r, acc_r) in acc[$set].iter_mut().enumerate() {
                    let av = V::splat(*$a.add(r * lda + $k));
                    for (x, &bj) in acc_r.iter_mut().zip(&bv) {
                        *x = av.mul_add(bj, *x);
                    }
                }
            }};
        }
        for j in 0..depth.rows {
            let a_j = a.add(j * depth.a_row);
            let b_j = b.add(j * depth.b_row);
            let mut q = 0;
            if two {
                while q + 1 < depth.cols {
                    step!(0, a_j, b_j, q);
                    step!(1, a_j, b_j, q + 1);
                    q += 2;
                }
            }
            while q < depth.cols {
                step!(0, a_j, b_j, q);
                q += 1;
            }
        }
        let last = out.n - (NV - 1) * V::LANES;
        let [set0, set1] = acc;
        for (r, (row0, row1)) in set0.iter().zip(&set1).enumerate() {
            let c = out.c.add(r * out.ldc);
            for (v, (&x0, &x1)) in row0.iter().zip(row1).enumerate() {
                let x = x0.add(x1);
                let p = c.add(v * V::LANES);
                if v + 1 < NV || last == V::LANES {
                    V::load(p).add(x).store(p);
                } else {
                    V::load_partial(p, last).add(x).store_partial(p, last);
                }
            }
        }
    }
}

/// Runs the `mr × nv` instantiation of [`rows_tile`] (`1 <= mr <= 8`, `1 <= nv <= NV_MAX <=
/// 3`; other values do nothing).
///
/// # Safety
/// As for [`rows_tile`] with `MR = mr`, `NV = nv`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_tile_dispatch<V: F32Vector, const NV_MAX: usize>(
    mr: usize,
    nv: usize,
    depth: &Depth,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    out: &RowsOut,
) {
    macro_rules! rows {
        ($mr:literal) => {
            match nv {
                1 => rows_tile::<V, $mr, 1>(depth, a, lda, b, ldb, out),
                2 if NV_MAX >= 2 => rows_tile::<V, $mr, 2>(depth, a, lda, b, ldb, out),
                3 if NV_MAX >= 3 => rows_tile::<V, $mr, 3>(depth, a, lda, b, ldb, out),
                _ => {}
            }
        };
    }
    // SAFETY: forwarded contract; the arms only fix the const parameters.
    unsafe {
        match mr {
            1 => rows!(1),
            2 => rows!(2),
            3 => rows!(3),
            4 => rows!(4),
            5 => rows!(5),
            6 => rows!(6),
            7 => rows!(7),
            8 => rows!(8),
            _ => {}
        }
    }
}
