//! Every [`F32Vector`] method at every supported level against scalar arithmetic.

use super::*;

/// Runs all vector operations on lanes of `a` and `b` and writes the results.
struct Exercise<'a> {
    a: &'a [f32; 64],
    b: &'a [f32; 64],
    out: &'a mut [[f32; 64]; 14],
    partial: usize,
}

impl SimdKernel for Exercise<'_> {
    type Output = usize;
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) -> usize {
        // SAFETY: every pointer covers 64 floats, LANES <= 64, partial < LANES.
        unsafe {
            assert_eq!(V::LEVEL.lanes(), V::LANES);
            let (a, b) = (V::load(self.a.as_ptr()), V::load(self.b.as_ptr()));
            let o = self.out;
            a.add(b).store(o[0].as_mut_ptr());
            a.sub(b).store(o[1].as_mut_ptr());
            a.mul(b).store(o[2].as_mut_ptr());
            a.div(b).store(o[3].as_mut_ptr());
            a.mul_add(b, a).store(o[4].as_mut_ptr());
            a.max(b).store(o[5].as_mut_ptr());
            a.min(b).store(o[6].as_mut_ptr());
            a.round().store(o[7].as_mut_ptr());
            V::splat(3.0).pow2i().store(o[8].as_mut_ptr());
            o[9][0] = a.reduce_sum();
            o[9][1] = a.reduce_max();
            V::load_partial(self.a.as_ptr(), self.partial).store(o[10].as_mut_ptr());
            V::splat(7.0).store_partial(o[11].as_mut_ptr(), self.partial);
            V::zero().store(o[11].as_mut_ptr().add(32));
            V::load_first(self.a.as_ptr(), self.partial).store(o[12].as_mut_ptr());
            V::splat(7.0).store_first(o[13].as_mut_ptr(), self.partial);
        }
        V::LANES
    }
}

#[test]
fn every_method_at_every_level() {
    let a: [f32; 64] = core::array::from_fn(|i| i as f32 * 0.75 - 11.3);
    let b: [f32; 64] = core::array::from_fn(|i| 5.0 - i as f32 * 0.5 + 0.125);
    for level in supported_levels() {
        for partial in 0..level.lanes() {
            let mut out = [[-1.0f32; 64]; 14];
            let lanes = dispatch(
                level,
                Exercise {
                    a: &a,
                    b: &b,
                    out: &mut out,
                    partial,
                },
            );
            assert_eq!(lanes, level.lanes(), "{level}");
            for i in 0..lanes {
                assert_eq!(out[0][i], a[i] + b[i]);
                assert_eq!(out[1][i], a[i] - b[i]);
                assert_eq!(out[2][i], a[i] * b[i]);
                assert_eq!(out[3][i], a[i] / b[i]);
                assert!((out[4][i] - (a[i] * b[i] + a[i])).abs() <= 1e-5 * a[i].abs().max(1.0));
                assert_eq!(out[5][i], a[i].max(b[i]));
                assert_eq!(out[6][i], a[i].min(b[i]));
                assert_eq!(out[7][i], libm::rintf(a[i]), "{level} round {}", a[i]);
                assert_eq!(out[8][i], 8.0);
            }
            let sum: f32 = a[..lanes].iter().sum();
            assert!(
                (out[9][0] - sum).abs() <= 1e-4 * sum.abs().max(1.0),
                "{level}"
            );
            assert_eq!(out[9][1], a[lanes - 1], "{level}");
            for i in 0..lanes {
                let want = if i < partial { a[i] } else { 0.0 };
                assert_eq!(out[10][i], want, "{level} load_partial {partial}");
                let want = if i < partial { 7.0 } else { -1.0 };
                assert_eq!(out[11][i], want, "{level} store_partial {partial}");
                assert_eq!(out[13][i], want, "{level} store_first {partial}");
                assert_eq!(out[11][32 + i], 0.0, "{level} zero");
                let want = if i < partial { a[i] } else { 0.0 };
                assert_eq!(out[12][i], want, "{level} load_first {partial}");
            }
            // Nothing past the vector was written.
            assert!(out[0][lanes..].iter().all(|&x| x == -1.0));
        }
    }
}

#[test]
fn exp_is_accurate_at_every_level() {
    struct Exp<'a>(&'a mut [f32; 64]);
    impl SimdKernel for Exp<'_> {
        type Output = ();
        #[inline(always)]
        unsafe fn run<V: F32Vector>(self) {
            let mut i = 0;
            while i < 64 {
                // SAFETY: i + LANES <= 64 because LANES divides 64.
                unsafe {
                    V::load(self.0.as_ptr().add(i))
                        .exp()
                        .store(self.0.as_mut_ptr().add(i))
                };
                i += V::LANES;
            }
        }
    }
    let xs: [f32; 64] = core::array::from_fn(|i| (i as f32 - 32.0) * 2.7 + 0.1);
    for level in supported_levels() {
        let mut y = xs;
        dispatch(level, Exp(&mut y));
        for (x, y) in xs.iter().zip(y.iter()) {
            let want = libm::exp(*x as f64);
            assert!(
                ((*y as f64) - want).abs() <= 3e-7 * want,
                "{level}: exp({x}) = {y}, want {want}"
            );
        }
    }
}

#[test]
fn recip_and_mul_pow2i_are_accurate_at_every_level() {
    struct Recip<'a>(&'a mut [f32; 64], &'a mut [f32; 64]);
    impl SimdKernel for Recip<'_> {
        type Output = ();
        #[inline(always)]
        unsafe fn run<V: F32Vector>(self) {
            let mut i = 0;
            while i < 64 {
                // SAFETY: i + LANES <= 64 because LANES divides 64.
                unsafe {
                    let x = V::load(self.0.as_ptr().add(i));
                    // n = i/LANES − 3: −3..=12 at 4 lanes and more, up to 60 at one lane
                    // (then x·2^n may be inf, on both sides of the comparison).
                    let n = V::splat((i / V::LANES) as f32 - 3.0);
                    x.mul_pow2i(n).store(self.1.as_mut_ptr().add(i));
                    x.recip().store(self.0.as_mut_ptr().add(i));
                }
                i += V::LANES;
            }
        }
    }
    // Magnitudes from 1e-30 to 1e30, both signs, and the sigmoid denominators' range.
    let xs: [f32; 64] = core::array::from_fn(|i| {
        let m = [1.0f32, 1.000_000_1, 1.5, 3.7, 1e-30, 1e30, 0.1, 7e5][i % 8];
        let sign = if i % 3 == 0 { -1.0 } else { 1.0 };
        sign * m * (1.0 + i as f32 / 64.0)
    });
    for level in supported_levels() {
        let (mut r, mut s) = (xs, [0.0f32; 64]);
        dispatch(level, Recip(&mut r, &mut s));
        let lanes = level.lanes();
        for (i, x) in xs.iter().enumerate() {
            let want = 1.0 / *x as f64;
            assert!(
                ((r[i] as f64) - want).abs() <= 2.5e-7 * want.abs(),
                "{level}: 1/{x} = {}, want {want}",
                r[i]
            );
            let n = (i / lanes) as i32 - 3;
            // 2^n from its bits: exact (Miri perturbs `powi`, which IEEE does not pin down).
            let pow2 = f32::from_bits(((n + 127) as u32) << 23);
            assert_eq!(s[i], x * pow2, "{level}: {x}·2^{n}");
        }
        // Exactly 1 at 1 (sigmoid of large inputs is exactly 1).
        let mut one = [1.0f32; 64];
        dispatch(level, Recip(&mut one, &mut [0.0; 64]));
        assert!(one.iter().all(|&y| y == 1.0), "{level}: {one:?}");
    }
}

/// The pooling ops: `max_nan`, `deinterleave`, `load_strided`.
struct PoolOps<'a> {
    a: &'a [f32; 128],
    b: &'a [f32; 64],
    out: &'a mut [[f32; 64]; 7],
    /// NaN only in lane `LANES − 1`.
    last_nan: &'a [f32; 64],
    /// `any_nan` of the vectors at `a`, `a + LANES`, `b`, `last_nan`.
    nans: &'a mut [bool; 4],
    stride: usize,
    n: usize,
}

impl SimdKernel for PoolOps<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: `a` covers 128 floats (>= 2·LANES and >= (n−1)·stride + 1 for the strides
        // used below), `b` and every output 64, LANES <= 64.
        unsafe {
            let (lo, hi) = (
                V::load(self.a.as_ptr()),
                V::load(self.a.as_ptr().add(V::LANES)),
            );
            let b = V::load(self.b.as_ptr());
            lo.max_nan(b).store(self.out[0].as_mut_ptr());
            let (even, odd) = lo.deinterleave(hi);
            even.store(self.out[1].as_mut_ptr());
            odd.store(self.out[2].as_mut_ptr());
            V::load_strided(self.a.as_ptr(), self.stride, self.n).store(self.out[3].as_mut_ptr());
            // Unordered deinterleave, a lane-wise op, then one reorder.
            let (e, o) = lo.deinterleave_unordered(hi);
            e.deinterleave_order().store(self.out[4].as_mut_ptr());
            e.add(o)
                .deinterleave_order()
                .store(self.out[5].as_mut_ptr());
            lo.max_ordered(b).store(self.out[6].as_mut_ptr());
            let last = V::load(self.last_nan.as_ptr());
            *self.nans = [lo.any_nan(), hi.any_nan(), b.any_nan(), last.any_nan()];
        }
    }
}

#[test]
fn pooling_ops_at_every_level() {
    let mut a: [f32; 128] = core::array::from_fn(|i| i as f32 * 0.5 - 7.0);
    let mut b: [f32; 64] = core::array::from_fn(|i| 4.0 - (i % 7) as f32);
    // Ties of signed zeros, NaN on either side and on both, infinities.
    a[0] = -0.0;
    b[0] = 0.0;
    a[1] = 0.0;
    b[1] = -0.0;
    a[2] = f32::NAN;
    b[3] = f32::NAN;
    a[4] = f32::NAN;
    b[4] = f32::NAN;
    a[5] = f32::INFINITY;
    b[6] = f32::NEG_INFINITY;
    for level in supported_levels() {
        let lanes = level.lanes();
        for (stride, n) in [
            (1, lanes),
            (3, 1),
            (3, lanes),
            (7, lanes.min(18)),
            (2, lanes - 1),
        ] {
            let mut out = [[-99.0f32; 64]; 7];
            let mut last_nan = [1.0f32; 64];
            last_nan[lanes - 1] = f32::NAN;
            let mut nans = [false; 4];
            dispatch(
                level,
                PoolOps {
                    a: &a,
                    b: &b,
                    out: &mut out,
                    last_nan: &last_nan,
                    nans: &mut nans,
                    stride,
                    n,
                },
            );
            for i in 0..lanes {
                let (x, y) = (a[i], b[i]);
                let want = if x.is_nan() || y.is_nan() {
                    f32::NAN
                } else if y > x {
                    y
                } else {
                    x
                };
                let got = out[0][i];
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{level} max_nan lane {i}: {x} {y} -> {got}"
                );
                // The order-preserving maximum: `y` only where `y > x` (ties keep `x`); NaN
                // lanes are unspecified.
                if !x.is_nan() && !y.is_nan() {
                    let want = if y > x { y } else { x };
                    assert_eq!(
                        out[6][i].to_bits(),
                        want.to_bits(),
                        "{level} max_ordered lane {i}: {x} {y}"
                    );
                }
                assert_eq!(out[1][i].to_bits(), a[2 * i].to_bits(), "{level} even {i}");
                assert_eq!(
                    out[2][i].to_bits(),
                    a[2 * i + 1].to_bits(),
                    "{level} odd {i}"
                );
                assert_eq!(
                    out[4][i].to_bits(),
                    a[2 * i].to_bits(),
                    "{level} unordered {i}"
                );
                let sum = a[2 * i] + a[2 * i + 1];
                assert!(same_bits(out[5][i], sum), "{level} unordered sum {i}");
                let want = if i < n { a[i * stride] } else { 0.0 };
                assert_eq!(
                    out[3][i].to_bits(),
                    want.to_bits(),
                    "{level} strided {stride} {n} lane {i}"
                );
            }
            let has_nan = |x: &[f32]| x[..lanes].iter().any(|v| v.is_nan());
            let want = [has_nan(&a), has_nan(&a[lanes..]), has_nan(&b), true];
            assert_eq!(nans, want, "{level} any_nan");
        }
    }
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// `shift_in_last` and `shift_in_first` of the vectors at `a` and `a + LANES`.
struct Shifts<'a> {
    a: &'a [f32; 128],
    out: &'a mut [[f32; 64]; 2],
}

impl SimdKernel for Shifts<'_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: `a` holds 128 >= 2·LANES floats, each output 64 >= LANES.
        unsafe {
            let lo = V::load(self.a.as_ptr());
            let hi = V::load(self.a.as_ptr().add(V::LANES));
            lo.shift_in_last(hi).store(self.out[0].as_mut_ptr());
            hi.shift_in_first(lo).store(self.out[1].as_mut_ptr());
        }
    }
}

#[test]
fn lane_shifts_at_every_level() {
    // Distinct values with NaN and signed zeros, so a lane from the wrong place shows.
    let mut a: [f32; 128] = core::array::from_fn(|i| i as f32 + 0.25);
    a[0] = -0.0;
    a[3] = f32::NAN;
    for level in supported_levels() {
        let lanes = level.lanes();
        let mut out = [[-99.0f32; 64]; 2];
        dispatch(
            level,
            Shifts {
                a: &a,
                out: &mut out,
            },
        );
        for i in 0..lanes {
            // Both are the window of LANES elements one place on from `lo` / one place back
            // from `hi` in the concatenation `lo ++ hi`.
            assert!(
                same_bits(out[0][i], a[i + 1]),
                "{level} shift_in_last lane {i}: {}",
                out[0][i]
            );
            assert!(
                same_bits(out[1][i], a[lanes - 1 + i]),
                "{level} shift_in_first lane {i}: {}",
                out[1][i]
            );
        }
    }
}

/// `store_transposed` of `M` rows (row `m` lane `k` = `src[m·64 + k]`) into a 64 × 32 grid
/// with row stride 32, `k_valid` channels.
struct Transposed<'a, const M: usize> {
    src: &'a [f32; 16 * 64],
    dst: &'a mut [f32; 64 * 32],
    k_valid: usize,
}

impl<const M: usize> SimdKernel for Transposed<'_, M> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: row m < M <= 16 reads src[m·64 ..][..LANES], LANES <= 64; the stores reach
        // dst[k·32 + m] with k < k_valid <= LANES <= 64 and m < M <= 16 < 32.
        unsafe {
            let rows: [V; M] = core::array::from_fn(|m| V::load(self.src.as_ptr().add(m * 64)));
            V::store_transposed(&rows, self.dst.as_mut_ptr(), 32, self.k_valid);
        }
    }
}

fn check_transposed<const M: usize>(level: Level) {
    let src: [f32; 16 * 64] = core::array::from_fn(|i| i as f32 + 0.5);
    let lanes = level.lanes();
    for k_valid in [1, lanes / 2, lanes.saturating_sub(1), lanes] {
        if k_valid == 0 {
            continue;
        }
        let mut dst = [-7.0f32; 64 * 32];
        dispatch(
            level,
            Transposed::<M> {
                src: &src,
                dst: &mut dst,
                k_valid,
            },
        );
        for k in 0..64 {
            for m in 0..32 {
                let want = if k < k_valid && m < M {
                    src[m * 64 + k]
                } else {
                    -7.0 // untouched
                };
                assert_eq!(
                    dst[k * 32 + m],
                    want,
                    "{level} M {M} k_valid {k_valid} channel {k} pixel {m}"
                );
            }
        }
    }
}

#[test]
fn store_transposed_at_every_level() {
    for level in supported_levels() {
        check_transposed::<1>(level);
        check_transposed::<2>(level);
        check_transposed::<5>(level);
        check_transposed::<8>(level);
        check_transposed::<10>(level);
        check_transposed::<12>(level);
        check_transposed::<16>(level);
    }
}
