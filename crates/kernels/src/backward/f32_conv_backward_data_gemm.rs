//! Convolution backward-data as a GEMM followed by col2im, per image and group:
//!
//! ```text
//! cols[D × pixels] = Wᵀ[D × Kg] · dY[Kg × pixels]          (the forward GEMM's register tile)
//! dX[c][y][x]     += cols[(c,r,s)][(p,q)]  where (y, x) is tap (r, s) of output (p, q)
//! ```
//!
//! `D = (C/groups)·R·S`. It does exactly the forward's multiply-adds (a full correlation with
//! the flipped kernel would also multiply the zeros of its `R−1` padding: about 2× more work
//! on LeNet's conv2) plus one add per patch element. `Wᵀ` is packed once per call; `dY` is
//! read in place (full `nr`-pixel panels) or through a copied tail panel; the `D × nc` block
//! of `cols` stays in L2 and is added into `dX` by [`col2im`] right after it is computed
//! (a gather per input row where the block is whole output rows at stride 1).

use super::conv::Conv2dBackwardPlan;
use super::f32_conv_backward_weights_gemm::{depth, pixel_block};
use crate::gemm::f32_gemm_tile::{tile_dispatch, TileOut};
use crate::gemm::Blocking;
use crate::simd::{dispatch, F32Vector, SimdKernel};
use crate::{Activation, Conv2d};

/// Scratch elements: `Wᵀ` (the weight count), one `cols` block `D × nc`, one tail panel of
/// `dY` (`Kg × nr`). `None` on overflow.
pub(super) fn scratch_len(desc: &Conv2d, nr: usize) -> Option<usize> {
    desc.weights_len()
        .checked_add(depth(desc).checked_mul(pixel_block(desc))?)?
        .checked_add(desc.out_channels_per_group().checked_mul(nr)?)
}

/// The pixel block: [`pixel_block`] rounded down to whole output rows when it holds one, so
/// that [`col2im`] takes its row-at-a-time form.
fn row_block(desc: &Conv2d) -> usize {
    let (nc, q) = (pixel_block(desc), desc.output_width());
    if nc >= q {
        nc - nc % q
    } else {
        nc
    }
}

/// Runs the pass (lengths checked by the plan).
pub(super) fn run(
    plan: &Conv2dBackwardPlan,
    grad_output: &[f32],
    weights: &[f32],
    grad_input: &mut [f32],
    scratch: &mut [f32],
) {
    dispatch(
        plan.level(),
        DataRun {
            desc: plan.descriptor(),
            grad_output,
            weights,
            grad_input,
            scratch,
        },
    );
}

struct DataRun<'a> {
    desc: &'a Conv2d,
    grad_output: &'a [f32],
    weights: &'a [f32],
    grad_input: &'a mut [f32],
    scratch: &'a mut [f32],
}

impl SimdKernel for DataRun<'_> {
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

/// Images → groups → pixel blocks → column panels (`nr` pixels) → row tiles (`mr` patch rows)
/// into `cols`, then col2im of the block.
///
/// # Safety
/// The dispatch contract for `V`; `NV_MAX` is `Blocking::for_level(V::LEVEL).nv`.
#[inline(always)]
unsafe fn body<V: F32Vector, const NV_MAX: usize>(run: DataRun<'_>) {
    let DataRun {
        desc: d,
        grad_output,
        weights,
        grad_input,
        scratch,
    } = run;
    let bl = Blocking::for_level(V::LEVEL);
    let (nr, mr_max) = (bl.nr(), bl.mr);
    let (cg, kg, groups) = (
        d.in_channels_per_group(),
        d.out_channels_per_group(),
        d.groups(),
    );
    let hw = d.input_height() * d.input_width();
    let pq = d.output_height() * d.output_width();
    let dd = depth(d);
    let nc = row_block(d);
    if scratch_len(d, nr).is_none_or(|need| scratch.len() < need) {
        return;
    }
    let (wt, rest) = scratch.split_at_mut(d.weights_len());
    let (cols, rest) = rest.split_at_mut(dd * nc);
    let tail = &mut rest[..kg * nr];

    transpose_weights(d, weights, wt);
    grad_input.fill(0.0);

    for n in 0..d.batch() {
        for g in 0..groups {
            let dy = &grad_output[(n * d.out_channels() + g * kg) * pq..][..kg * pq];
            let wt_g = &wt[g * dd * kg..][..dd * kg];
            let dx = &mut grad_input[(n * d.in_channels() + g * cg) * hw..][..cg * hw];
            let mut pix0 = 0;
            while pix0 < pq {
                let ncb = nc.min(pq - pix0);
                let mut jr = 0;
                while jr < ncb {
                    let width = nr.min(ncb - jr);
                    let (b, ldb) = if width == nr {
                        (dy[pix0 + jr..].as_ptr(), pq)
                    } else {
                        // A partial panel is copied so no vector reads past the plane.
                        for k in 0..kg {
                            tail[k * nr..][..width]
                                .copy_from_slice(&dy[k * pq + pix0 + jr..][..width]);
                        }
                        (tail.as_ptr(), nr)
                    };
                    let mut m0 = 0;
                    while m0 < dd {
                        let mr = mr_max.min(dd - m0);
                        let out = TileOut {
                            c: cols[m0 * ncb + jr..].as_mut_ptr(),
                            ldc: ncb,
                            n: width,
                            accumulate: false,
                            finish: false,
                            bias: core::ptr::null(),
                            activation: Activation::Identity,
                        };
                        // SAFETY: rows m0..m0+mr (< D) of Wᵀ_g hold Kg values each (lda = Kg);
                        // B rows k < Kg hold ⌈width/LANES⌉·LANES <= nr readable values (a full
                        // panel of nr pixels inside dY's plane k, or the copied tail panel);
                        // cols rows m0..m0+mr, columns jr..jr+width (<= ncb) lie in the block.
                        unsafe {
                            tile_dispatch::<V, NV_MAX>(
                                mr,
                                width.div_ceil(V::LANES),
                                kg,
                                wt_g[m0 * kg..].as_ptr(),
                                kg,
                                b,
                                ldb,
                                &out,
                            );
                        }
                        m0 += mr;
                    }
                    jr += width;
                }
                // SAFETY: the dispatch contract for `V`.
                unsafe { col2im::<V>(d, &cols[..dd * ncb], pix0, ncb, dx) };
                pix0 += ncb;
            }
        }
    }
}

/// Adds the `D × ncb` block of `cols` (pixels `pix0..pix0+ncb` of the output plane) into the
/// group's `C/groups` input-gradient planes `dx`: the exact inverse walk of the forward's
/// implicit im2col (`pack_b`), row segment by row segment, padding taps dropped.
///
/// A block of whole output rows at stride 1 goes to the gather form
/// ([`col2im_rows_stride1`]). Elsewhere rows of `cols` go in `(c, r, s)` order, and within a
/// row output row by output row, adding each segment into its input row; at horizontal
/// stride 1 a segment is a contiguous add, done a vector at a time ([`add_into`]) with its
/// clipping found without a division. (That scatter reloads, shifted by `dw`, what the
/// previous tap stored a row of segments earlier; the core runs far enough ahead that the
/// store is often still in flight, and a partly overlapping load then waits for it: on
/// LeNet's conv2 the scatter took 1.6× the gather's share of a training epoch.)
///
/// # Safety
/// The [`F32Vector`] contract for `V`.
#[inline(always)]
unsafe fn col2im<V: F32Vector>(d: &Conv2d, cols: &[f32], pix0: usize, ncb: usize, dx: &mut [f32]) {
    let (h, w) = (d.input_height(), d.input_width());
    let (kh, kw) = (d.kernel_height(), d.kernel_width());
    let (sh, sw) = (d.stride_height(), d.stride_width());
    let (dh, dw) = (d.dilation_height(), d.dilation_width());
    let pad = d.padding();
    let q = d.output_width();
    if sh == 1 && sw == 1 && pix0.is_multiple_of(q) && ncb.is_multiple_of(q) {
        // SAFETY: forwarded contract.
        unsafe { col2im_rows_stride1::<V>(d, cols, pix0 / q, ncb / q, dx) };
        return;
    }
    let mut j = 0;
    for c in 0..d.in_channels_per_group() {
        let plane = &mut dx[c * h * w..][..h * w];
        for r in 0..kh {
            for s in 0..kw {
                let row_j = &cols[j * ncb..][..ncb];
                j += 1;
                let (mut i, mut p, mut qq) = (0, pix0 / q, pix0 % q);
                while i < ncb {
                    let seg = (q - qq).min(ncb - i);
                    let src = &row_j[i..i + seg];
                    i += seg;
                    let (pp, q0) = (p, qq);
                    p += 1;
                    qq = 0;
                    let Some(y) = (pp * sh + r * dh).checked_sub(pad.top).filter(|&y| y < h) else {
                        continue;
                    };
                    let row = &mut plane[y * w..][..w];
                    // Output column q0 + t reads input column q0·sw + s·dw − left + t·sw.
                    let off = (q0 * sw + s * dw) as isize - pad.left as isize;
                    if sw == 1 {
                        // Columns t in lo..hi land inside the row: off + t in 0..w.
                        let lo = off.min(0).unsigned_abs().min(seg);
                        let hi = (w as isize - off).clamp(0, seg as isize) as usize;
                        if lo < hi {
                            let start = (off + lo as isize) as usize;
                            // SAFETY: `start + (hi − lo) <= w` and `hi <= seg` by the clamps.
                            unsafe {
                                add_into::<V>(&mut row[start..start + (hi - lo)], &src[lo..hi])
                            };
                        }
                        continue;
                    }
                    let lo = if off >= 0 {
                        0
                    } else {
                        off.unsigned_abs().div_ceil(sw)
                    };
                    let hi = if off >= w as isize {
                        0
                    } else {
                        (w as isize - off) as usize
                    }
                    .div_ceil(sw)
                    .min(seg);
                    if lo >= hi {
                        continue;
                    }
                    let start = (off + (lo * sw) as isize) as usize;
                    for (t, &v) in src[lo..hi].iter().enumerate() {
                        row[start + t * sw] += v;
                    }
                }
            }
        }
    }
}

/// [`col2im`] of a block of whole output rows (`rows` from `p0`) at stride 1, as a gather:
/// per input channel `c`, kernel column `s` and input row `y`, the segment of row `y` that tap
/// column `s` reaches is loaded once, the kernel rows `r` whose output row `p = y + top − r·dh`
/// lies in the block are added to it in registers (in increasing `r`), and it is stored once.
///
/// The scatter form (each `cols` row added into its input rows) stalls: the segments of taps
/// `s` and `s + 1` overlap shifted by `dw`, so the load of one cannot be forwarded from the
/// other's store still in flight. Here every input element is loaded and stored once per `s`,
/// and each tap's clipping (which columns of a segment land in the row, and where) is found
/// once per `(c, s)`.
///
/// # Safety
/// The [`F32Vector`] contract for `V`.
#[inline(always)]
unsafe fn col2im_rows_stride1<V: F32Vector>(
    d: &Conv2d,
    cols: &[f32],
    p0: usize,
    rows: usize,
    dx: &mut [f32],
) {
    let (h, w) = (d.input_height(), d.input_width());
    let (kh, kw) = (d.kernel_height(), d.kernel_width());
    let (dh, dw) = (d.dilation_height(), d.dilation_width());
    let pad = d.padding();
    let q = d.output_width();
    let ncb = rows * q;
    let lanes = V::LANES;
    for c in 0..d.in_channels_per_group() {
        let plane = &mut dx[c * h * w..][..h * w];
        let cols_c = &cols[c * kh * kw * ncb..][..kh * kw * ncb];
        for s in 0..kw {
            // Column t of a segment lands on input column t + s·dw − left.
            let off = (s * dw) as isize - pad.left as isize;
            let lo = off.min(0).unsigned_abs().min(q);
            let hi = (w as isize - off).clamp(0, q as isize) as usize;
            if lo >= hi {
                continue;
            }
            let (start, len) = ((off + lo as isize) as usize, hi - lo);
            for y in 0..h {
                // Kernel rows r with p = y + top − r·dh in p0..p0 + rows.
                let Some(reach) = (y + pad.top).checked_sub(p0) else {
                    continue;
                };
                let r_hi = (reach / dh + 1).min(kh);
                let r_lo = if reach >= rows {
                    (reach - rows) / dh + 1
                } else {
                    0
                };
                if r_lo >= r_hi {
                    continue;
                }
                let dst = &mut plane[y * w + start..][..len];
                // `cols_c` index of (r_lo, s, p) at segment column lo; each next kernel row is
                // `step` further (one tap row of `cols` on, `dh` output rows back). Every (r, p)
                // pair used is in range (p − p0 = reach − r·dh < rows), so its segment lies in
                // the block.
                let first = (r_lo * kw + s) * ncb + (reach - r_lo * dh) * q + lo;
                let step = (kw * ncb) as isize - (dh * q) as isize;
                let n_r = r_hi - r_lo;
                let (dp, cp) = (dst.as_mut_ptr(), cols_c.as_ptr().wrapping_add(first));
                let mut t = 0;
                // SAFETY: `t + LANES <= len` for the vectors, `t + n = len` for the masked
                // tail (which reads and writes only its `n` lanes) and `t < len` for the scalars; the
                // segment of kernel row r_lo + i starts at `cp + i·step`, inside `cols_c` with
                // `len` elements (`lo + len <= q`), and only those are read (the pointer steps
                // with wrapping arithmetic, so the one past the last row is never formed
                // unsafely); the contract for `V`.
                unsafe {
                    while t + lanes <= len {
                        let mut acc = V::load(dp.add(t));
                        let mut src = cp.wrapping_add(t);
                        for _ in 0..n_r {
                            acc = acc.add(V::load(src));
                            src = src.wrapping_offset(step);
                        }
                        acc.store(dp.add(t));
                        t += lanes;
                    }
                    if V::FAST_MASKED_STORE && t < len {
                        // AVX-512: the tail as masked vectors (rows narrower than 16 columns,
                        // LeNet's, are all tail); same sums in the same order per element.
                        let n = len - t;
                        let mut acc = V::load_partial(dp.add(t), n);
                        let mut src = cp.wrapping_add(t);
                        for _ in 0..n_r {
                            acc = acc.add(V::load_partial(src, n));
                            src = src.wrapping_offset(step);
                        }
                        acc.store_partial(dp.add(t), n);
                        t = len;
                    }
                    while t < len {
                        let mut acc = *dp.add(t);
                        let mut src = cp.wrapping_add(t);
                        for _ in 0..n_r {
                            acc += *src;
                            src = src.wrapping_offset(step);
                        }
                        *dp.add(t) = acc;
                        t += 1;
                    }
                }
            }
        }
    }
}

/// `dst += src` (equal lengths), whole vectors then scalars.
///
/// # Safety
/// The [`F32Vector`] contract for `V`.
#[inline(always)]
unsafe fn add_into<V: F32Vector>(dst: &mut [f32], src: &[f32]) {
    let n = dst.len().min(src.len());
    let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
    let mut t = 0;
    // SAFETY: every access is below `n`, inside both slices; the contract for `V`.
    unsafe {
        while t + V::LANES <= n {
            V::load(d.add(t)).add(V::load(s.add(t))).store(d.add(t));
            t += V::LANES;
        }
        while t < n {
            *d.add(t) += *s.add(t);
            t += 1;
        }
    }
}

/// `Wᵀ_g[j][k] = W[g·Kg + k][j]`: per group the `D × Kg` transpose of the OIHW weights, the
/// A operand of both backward-data passes.
fn transpose_weights(d: &Conv2d, weights: &[f32], wt: &mut [f32]) {
    let (kg, dd) = (d.out_channels_per_group(), depth(d));
    for g in 0..d.groups() {
        let src = &weights[g * kg * dd..][..kg * dd];
        let dst = &mut wt[g * dd * kg..][..dd * kg];
        for k in 0..kg {
            for j in 0..dd {
                dst[j * kg + k] = src[k * dd + j];
            }
        }
    }
}
