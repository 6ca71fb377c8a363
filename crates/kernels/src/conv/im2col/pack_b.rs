//! Implicit im2col: packs a block of the patch matrix `B` straight from the NCHW image.

use crate::simd::prefetch_range;
use crate::{Conv2d, Padding};

/// How many input channels ahead of the one being copied [`pack_b`] prefetches.
const PREFETCH_CHANNELS: usize = 2;

/// Floats between the end of one packed panel and the start of the next (one cache line):
/// panels `kc·nr` floats apart alias in the L1 sets (16 KiB apart on AVX2), so a pack that
/// writes one row into every panel in turn would keep evicting its own lines.
pub(crate) const PANEL_SKEW: usize = 16;

/// Which block of `B` to pack and how.
pub(crate) struct BBlock {
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
#[inline(always)]
pub(crate) fn pack_b(desc: &Conv2d, image: &[f32], block: &BBlock, dst: &mut [f32]) {
    let (h, w) = (desc.input_height(), desc.input_width());
    let (kh, kw) = (desc.kernel_height(), desc.kernel_width());
    let (sh, sw) = (desc.stride_height(), desc.stride_width());
    let (dh, dw) = (desc.dilation_height(), desc.dilation_width());
    let pad = desc.padding();
    let q = desc.output_width();
    let hw = h * w;
    let nr = block.nr;
    let panel_len = block.kc * nr + PANEL_SKEW;

    let (mut c, mut r, mut s) = {
        let rs = block.k0 % (kh * kw);
        (block.k0 / (kh * kw), rs / kw, rs % kw)
    };
    let (p0, q0) = (block.pixel0 / q, block.pixel0 % q);
    // The input rows the block reads in every channel, `[row_lo, row_hi)` (clamped to the
    // image): the span to prefetch, `PREFETCH_CHANNELS` channels ahead.
    let p_last = (block.pixel0 + block.nc.max(1) - 1) / q;
    let row_lo = (p0 * sh).saturating_sub(pad.top).min(h);
    let row_hi = (p_last * sh + (kh - 1) * dh + 1)
        .saturating_sub(pad.top)
        .min(h);
    let channels = image.len() / hw.max(1);
    let prefetch_channel = |ch: usize| {
        if ch < channels && row_lo < row_hi {
            prefetch_range(&image[ch * hw + row_lo * w..ch * hw + row_hi * w]);
        }
    };
    for ahead in 0..PREFETCH_CHANNELS {
        prefetch_channel(c + ahead);
    }
    if kh == 1 && kw == 1 && sh == 1 && sw == 1 && pad == Padding::uniform(0) {
        // 1×1, stride 1, unpadded: row k of B is channel k's plane itself, contiguous across
        // output rows, so each depth row is one run cut into panels.
        for kk in 0..block.kc {
            prefetch_channel(block.k0 + kk + PREFETCH_CHANNELS);
            let src = &image[(block.k0 + kk) * hw + block.pixel0..][..block.nc];
            for (jr, run) in src.chunks(nr).enumerate() {
                copy_strided(&mut dst[jr * panel_len + kk * nr..][..run.len()], run, 1);
            }
        }
        return;
    }
    for kk in 0..block.kc {
        if r == 0 && s == 0 {
            prefetch_channel(c + PREFETCH_CHANNELS);
        }
        let plane = &image[c * hw..][..hw];
        let mut i = 0;
        let (mut p, mut qq) = (p0, q0);
        // Column i is offset `at` of panel `jr`; walked without divisions.
        let (mut jr, mut at) = (0, 0);
        while i < block.nc {
            let seg = (q - qq).min(block.nc - i);
            let ih = (p * sh + r * dh) as isize - pad.top as isize;
            let row = if ih >= 0 && (ih as usize) < h {
                Some(&plane[ih as usize * w..][..w])
            } else {
                None
            };
            // Input column of output column qq + t: off0 + t·sw. The columns t in lo..hi
            // fall inside the row; the others (and all of them when the row is padding) are
            // zeros. Computed once per row segment, then cut at panel boundaries.
            let off0 = (qq * sw + s * dw) as isize - pad.left as isize;
            let (lo, hi) = match row {
                Some(_) => valid_range(off0, sw, w, seg),
                None => (0, 0),
            };
            let mut t = 0;
            while t < seg {
                let len = (seg - t).min(nr - at);
                let d = &mut dst[jr * panel_len + kk * nr + at..][..len];
                let a = lo.clamp(t, t + len) - t;
                let b = hi.clamp(t, t + len) - t;
                if a > 0 {
                    zero(&mut d[..a]);
                }
                if b < len {
                    zero(&mut d[b..]);
                }
                if let (Some(row), true) = (row, b > a) {
                    let start = (off0 + ((t + a) * sw) as isize) as usize;
                    copy_strided(&mut d[a..b], &row[start..], sw);
                }
                t += len;
                at += len;
                if at == nr {
                    jr += 1;
                    at = 0;
                }
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

/// The `t` in `0..len` with `0 <= off + t·sw < w`, as a range `lo..hi` (`lo <= hi`).
#[inline]
fn valid_range(off: isize, sw: usize, w: usize, len: usize) -> (usize, usize) {
    if sw == 1 {
        // The common case, without divisions.
        let lo = (off.min(0).unsigned_abs()).min(len);
        let hi = ((w as isize - off).max(0) as usize).clamp(lo, len);
        return (lo, hi);
    }
    let lo = if off >= 0 {
        0
    } else {
        off.unsigned_abs().div_ceil(sw)
    }
    .min(len);
    let hi = if off >= w as isize {
        0
    } else {
        ((w as isize - off) as usize).div_ceil(sw)
    }
    .clamp(lo, len);
    (lo, hi)
}

/// Zeros a short run (a padding border) without a `memset` call.
#[inline]
fn zero(dst: &mut [f32]) {
    for x in dst.iter_mut() {
        *x = 0.0;
    }
}

/// `dst[t] = src[t·sw]`. Short contiguous runs are copied eight at a time without a `memcpy`
/// call (a panel row is at most a few dozen elements, where the call costs more than the copy);
/// stride 2 gets its own loop so the compiler can vectorize the constant-stride gather.
#[inline]
fn copy_strided(dst: &mut [f32], src: &[f32], sw: usize) {
    let n = dst.len();
    match sw {
        1 => {
            let src = &src[..n];
            if n >= 8 {
                // Blocks of 8, the last one overlapping its predecessor: no remainder loop
                // (which the compiler would turn into a `memcpy` call).
                let mut at = 0;
                loop {
                    let d: &mut [f32; 8] = (&mut dst[at..at + 8]).try_into().unwrap();
                    *d = src[at..at + 8].try_into().unwrap();
                    if at + 8 == n {
                        break;
                    }
                    at = (at + 8).min(n - 8);
                }
            } else if n >= 4 {
                let d: &mut [f32; 4] = (&mut dst[..4]).try_into().unwrap();
                *d = src[..4].try_into().unwrap();
                let d: &mut [f32; 4] = (&mut dst[n - 4..]).try_into().unwrap();
                *d = src[n - 4..].try_into().unwrap();
            } else {
                dst[0] = src[0];
                if n > 1 {
                    dst[1] = src[1];
                }
                if n > 2 {
                    dst[2] = src[2];
                }
            }
        }
        2 => {
            // Blocks of 8 outputs whose 16 source elements are all inside `src`.
            let full = (n / 8).min(src.len() / 16);
            for blk in 0..full {
                let d: &mut [f32; 8] = (&mut dst[8 * blk..8 * blk + 8]).try_into().unwrap();
                let s: &[f32; 16] = src[16 * blk..16 * blk + 16].try_into().unwrap();
                for (j, x) in d.iter_mut().enumerate() {
                    *x = s[2 * j];
                }
            }
            for t in 8 * full..n {
                dst[t] = src[2 * t];
            }
        }
        _ => {
            for (d, s) in dst.iter_mut().zip(src.iter().step_by(sw)) {
                *d = *s;
            }
        }
    }
}
