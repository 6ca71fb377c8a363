//! Per-axis window geometry: which taps of a window land inside the input, where the
//! interior (windows with every tap inside the input) starts and ends, and the divisors.

use core::ops::Range;

/// One axis of a pooling window, in padded coordinates: output `o`'s tap `j` sits at
/// `o·stride + j·dilation`, and the input occupies `[pad_before, pad_before + input)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AxisPlan {
    pub input: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad_before: usize,
    /// `pad_before + input + pad_after`.
    pub padded: usize,
    pub output: usize,
    /// Outputs whose taps all fall inside the input (may be empty).
    pub interior: (usize, usize),
}

impl AxisPlan {
    pub(crate) fn new(
        input: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
        pad_before: usize,
        pad_after: usize,
        output: usize,
    ) -> AxisPlan {
        // Validated descriptors keep every product here below `padded + stride`: no overflow.
        let span = (kernel - 1) * dilation;
        let end = pad_before + input;
        let hi = if end > span {
            ((end - 1 - span) / stride + 1).min(output)
        } else {
            0
        };
        let lo = pad_before.div_ceil(stride).min(hi);
        AxisPlan {
            input,
            kernel,
            stride,
            dilation,
            pad_before,
            padded: pad_before + input + pad_after,
            output,
            interior: (lo, hi),
        }
    }

    /// The taps `j` of output `o` inside the input: a contiguous range, never empty for a
    /// validated descriptor.
    #[inline]
    pub(crate) fn taps(&self, o: usize) -> Range<usize> {
        if o >= self.interior.0 && o < self.interior.1 {
            return 0..self.kernel;
        }
        let start = o * self.stride;
        let end = self.pad_before + self.input;
        let lo = if start >= self.pad_before {
            0
        } else {
            (self.pad_before - start).div_ceil(self.dilation)
        };
        let hi = if start >= end {
            0
        } else {
            self.kernel.min((end - start).div_ceil(self.dilation))
        };
        lo..hi.max(lo)
    }

    /// Input coordinate of tap `j` of output `o` (the tap must be inside the input).
    #[inline]
    pub(crate) fn coord(&self, o: usize, j: usize) -> usize {
        o * self.stride + j * self.dilation - self.pad_before
    }

    /// Taps of output `o` inside the padded input (PyTorch's `count_include_pad` divisor:
    /// padding counts, a ceil-mode overhang past the padded edge does not).
    #[inline]
    pub(crate) fn padded_taps(&self, o: usize) -> usize {
        let start = o * self.stride;
        if start >= self.padded {
            return 0;
        }
        self.kernel
            .min((self.padded - start).div_ceil(self.dilation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over every tap.
    fn inside(a: &AxisPlan, o: usize, j: usize) -> bool {
        let x = o * a.stride + j * a.dilation;
        x >= a.pad_before && x < a.pad_before + a.input
    }

    #[test]
    fn taps_interior_and_divisors_match_brute_force() {
        for input in 1..9 {
            for kernel in 1..5 {
                for stride in 1..4 {
                    for dilation in 1..3 {
                        for pb in 0..=kernel / 2 {
                            for pa in 0..=kernel / 2 {
                                let padded = pb + input + pa;
                                let span = (kernel - 1) * dilation + 1;
                                if padded < span {
                                    continue;
                                }
                                let output = (padded - span) / stride + 2;
                                let a =
                                    AxisPlan::new(input, kernel, stride, dilation, pb, pa, output);
                                for o in 0..output {
                                    let want: usize =
                                        (0..kernel).filter(|&j| inside(&a, o, j)).count();
                                    let got = a.taps(o);
                                    assert_eq!(got.len(), want, "{a:?} {o}");
                                    for j in got.clone() {
                                        assert!(inside(&a, o, j));
                                    }
                                    let all = (0..kernel).all(|j| inside(&a, o, j));
                                    let interior = (a.interior.0..a.interior.1).contains(&o);
                                    if interior {
                                        assert!(all, "{a:?} {o}");
                                    } else if all {
                                        // Interior is a range: an all-inside output outside it
                                        // would be a missed fast-path opportunity.
                                        panic!("{a:?} {o} missed");
                                    }
                                    let padded_want = (0..kernel)
                                        .filter(|&j| o * stride + j * dilation < padded)
                                        .count();
                                    assert_eq!(a.padded_taps(o), padded_want);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
