//! Implicit im2col: packs a block of the patch matrix `B` straight from the NCHW image.

use crate::Conv2d;

/// Which block of `B` to pack and how.
pub(super) struct BBlock {
    /// First depth row `k` of the block (`k = (c·R + r)·S + s`).
    pub k0: usize,
    /// Depth rows in the block.
    pub kc: usize,
    /// First output pixel of the block (index into the `P×Q` plane).
    pub pixel0: usize,
    /// Pixels in the block.
    pub nc: usize,
    /// Panel width: pixels per packed panel.
    pub nr: usize,
}

/// Packs `B[k0..k0+kc][pixel0..pixel0+nc]` into `dst` as panels of `nr` pixels: element
/// `(k, i)` goes to `dst[(i / nr)·kc·nr + k·nr + i % nr]`. Padding positions become zeros;
/// stride, dilation and per-side padding follow the descriptor. `image` holds the group's
/// `C/groups` input planes of one batch item. Columns past `nc` in the last panel are left
/// as they are (the micro-kernel never stores them).
///
/// Panics only if a slice is shorter than the caller's contract (`dst` at least
/// `⌈nc/nr⌉·kc·nr`, `image` at least `(C/groups)·H·W`).
pub(super) fn pack_b(desc: &Conv2d, image: &[f32], block: &BBlock, dst: &mut [f32]) {
    let (h, w) = (desc.input_height(), desc.input_width());
    let (kh, kw) = (desc.kernel_height(), desc.kernel_width());
    let (sh, sw) = (desc.stride_height(), desc.stride_width());
    let (dh, dw) = (desc.dilation_height(), desc.dilation_width());
    let pad = desc.padding();
    let q = desc.output_width();
    let hw = h * w;
    let nr = block.nr;
    let panel_len = block.kc * nr;

    let (mut c, mut r, mut s) = {
        let rs = block.k0 % (kh * kw);
        (block.k0 / (kh * kw), rs / kw, rs % kw)
    };
    for kk in 0..block.kc {
        let plane = &image[c * hw..][..hw];
        let mut i = 0;
        let (mut p, mut qq) = (block.pixel0 / q, block.pixel0 % q);
        while i < block.nc {
            let seg = (q - qq).min(block.nc - i);
            let ih = (p * sh + r * dh) as isize - pad.top as isize;
            let row = if ih >= 0 && (ih as usize) < h {
                Some(&plane[ih as usize * w..][..w])
            } else {
                None
            };
            // Input column of output column qq: qq·sw + s·dw − left.
            let off0 = (qq * sw + s * dw) as isize - pad.left as isize;
            let mut t = 0;
            while t < seg {
                let col = i + t;
                let (jr, at) = (col / nr, col % nr);
                let len = (seg - t).min(nr - at);
                let d = &mut dst[jr * panel_len + kk * nr + at..][..len];
                fill(d, row, off0 + (t * sw) as isize, sw, w);
                t += len;
            }
            i += seg;
            p += 1;
            qq = 0;
        }
        s += 1;
        if s == kw {
            s = 0;
            r += 1;
            if r == kh {
                r = 0;
                c += 1;
            }
        }
    }
}

/// `dst[t] = row[off + t·sw]` where that index is inside `0..w`, else 0 (`row = None`: all 0).
#[inline]
fn fill(dst: &mut [f32], row: Option<&[f32]>, off: isize, sw: usize, w: usize) {
    let Some(row) = row else {
        dst.fill(0.0);
        return;
    };
    let len = dst.len();
    // First t with off + t·sw >= 0, first t with off + t·sw >= w.
    let lo = if off >= 0 {
        0
    } else {
        (off.unsigned_abs()).div_ceil(sw)
    }
    .min(len);
    let hi = if off >= w as isize {
        0
    } else {
        ((w as isize - off) as usize).div_ceil(sw)
    }
    .clamp(lo, len);
    dst[..lo].fill(0.0);
    dst[hi..].fill(0.0);
    if hi > lo {
        let start = (off + (lo * sw) as isize) as usize;
        let n = hi - lo;
        if sw == 1 {
            dst[lo..hi].copy_from_slice(&row[start..start + n]);
        } else {
            for (d, x) in dst[lo..hi].iter_mut().zip(row[start..].iter().step_by(sw)) {
                *d = *x;
            }
        }
    }
}
