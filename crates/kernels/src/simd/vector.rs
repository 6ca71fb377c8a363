//! The vector trait every micro-kernel is written against.

use super::{Level, SimdKernel};

/// A vector of `LANES` `f32`s at one [`Level`].
///
/// Every method is `unsafe`: it may only run on a CPU that supports [`Self::LEVEL`], inside
/// a function compiled with that level's target features (see [`super::dispatch`]). Pointer
/// arguments must be valid for the number of lanes read or written; no alignment is required.
#[allow(clippy::missing_safety_doc)] // the contract above covers every method
#[allow(dead_code)] // LEVEL and the reductions are used by tests and later micro-kernels
pub(crate) trait F32Vector: Copy {
    /// Lanes per vector.
    const LANES: usize;
    /// The level this implementation needs.
    const LEVEL: Level;
    /// Whether [`F32Vector::store_partial`] is a single cheap masked store (AVX-512), so a
    /// tile may end with a partial vector; elsewhere it goes through a stack buffer (or,
    /// AVX2's `vmaskmovps`, costs tens of cycles on AMD) and tiles avoid it.
    const FAST_MASKED_STORE: bool = false;
    /// Vector registers the level has (16 on SSE2 and AVX2, 32 on AVX-512 and NEON), for
    /// tiles that size themselves against the register file.
    const REGISTERS: usize = 16;

    /// Runs `kernel` with this vector type in a function of its own, compiled for this
    /// level and never inlined into the caller.
    ///
    /// A micro-kernel called from a `#[target_feature]` entry gets that level's instructions
    /// only by being inlined into it, so without this every kernel variant a plan can pick
    /// (tile sizes, window shapes, blockings) lands in one giant function per level, which
    /// LLVM optimises on one thread and superlinearly in its size. Kernels wrap each variant
    /// arm (and other large, rarely-entered bodies) in `V::isolate` to keep functions small;
    /// the cost is one direct call per arm per plan execution, not per tile or row (see
    /// `docs/architecture.md`, "Code size and build time").
    unsafe fn isolate<K: SimdKernel>(kernel: K) -> K::Output;

    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self;
    /// All lanes zero.
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: forwarded contract.
        unsafe { Self::splat(0.0) }
    }
    /// Loads `LANES` elements from `p`.
    unsafe fn load(p: *const f32) -> Self;
    /// Stores `LANES` elements to `p`.
    unsafe fn store(self, p: *mut f32);
    /// Loads `n < LANES` elements from `p`, the other lanes zero. Reads only `p[..n]`.
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // SAFETY: forwarded contract.
        unsafe { load_via_buffer(p, n) }
    }
    /// Stores the first `n < LANES` lanes to `p`. Writes only `p[..n]`.
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, n: usize) {
        // SAFETY: forwarded contract.
        unsafe { store_via_buffer(self, p, n) }
    }
    /// [`F32Vector::load_partial`] the cheaper way for this level: the level's masked load
    /// where [`F32Vector::FAST_MASKED_STORE`], else through a stack buffer (AVX2's
    /// `vmaskmovps` costs tens of cycles on AMD). For tails: a run's last partial vector.
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> Self {
        // SAFETY: forwarded contract.
        unsafe {
            if Self::FAST_MASKED_STORE {
                Self::load_partial(p, n)
            } else {
                load_via_buffer(p, n)
            }
        }
    }
    /// [`F32Vector::store_partial`] the cheaper way for this level (see
    /// [`F32Vector::load_first`]).
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        // SAFETY: forwarded contract.
        unsafe {
            if Self::FAST_MASKED_STORE {
                self.store_partial(p, n)
            } else {
                store_via_buffer(self, p, n)
            }
        }
    }
    /// Lane-wise `self + b`.
    unsafe fn add(self, b: Self) -> Self;
    /// Lane-wise `self − b`.
    unsafe fn sub(self, b: Self) -> Self;
    /// Lane-wise `self · b`.
    unsafe fn mul(self, b: Self) -> Self;
    /// Lane-wise `self / b`.
    unsafe fn div(self, b: Self) -> Self;
    /// Lane-wise `self · b + c`, fused (one rounding) at levels that have FMA.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// Lane-wise maximum. Where either lane is NaN the result is unspecified among the two.
    unsafe fn max(self, b: Self) -> Self;
    /// Lane-wise minimum. Where either lane is NaN the result is unspecified among the two.
    unsafe fn min(self, b: Self) -> Self;
    /// Lane-wise round to nearest integer (ties to even).
    unsafe fn round(self) -> Self;
    /// Lane-wise `2^n` for lanes holding integers in `−126..=127`.
    unsafe fn pow2i(self) -> Self;
    /// Lane-wise `1 / self` for the activation epilogues, within 2 ulp for normal inputs
    /// whose reciprocal is normal (results below the normal range may flush to zero).
    /// The default divides (portable, SSE2, NEON); AVX-512 refines `rcp14` by one
    /// Newton–Raphson step (2 FMAs: a fraction of `vdivps zmm`'s throughput cost), AVX2
    /// refines `rcp` by two.
    #[inline(always)]
    unsafe fn recip(self) -> Self {
        // SAFETY: forwarded contract.
        unsafe { Self::splat(1.0).div(self) }
    }
    /// Lane-wise `self · 2^n` for lanes of `n` holding integers in `−126..=127`.
    #[inline(always)]
    unsafe fn mul_pow2i(self, n: Self) -> Self {
        // SAFETY: forwarded contract.
        unsafe { self.mul(n.pow2i()) }
    }
    /// Sum of all lanes.
    #[inline(always)]
    unsafe fn reduce_sum(self) -> f32 {
        let mut buf = [0.0f32; 64];
        // SAFETY: `LANES <= 64`.
        unsafe { self.store(buf.as_mut_ptr()) };
        buf[..Self::LANES].iter().sum()
    }
    /// Maximum of all lanes.
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        let mut buf = [0.0f32; 64];
        // SAFETY: `LANES <= 64`.
        unsafe { self.store(buf.as_mut_ptr()) };
        buf[..Self::LANES]
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max)
    }

    /// Lane-wise maximum for pooling: NaN where either lane is NaN (any NaN payload), and
    /// `self` where the lanes compare equal (so `−0.0` vs `+0.0` keeps `self`, the earlier tap).
    #[inline(always)]
    unsafe fn max_nan(self, b: Self) -> Self {
        // SAFETY: the `F32Vector` contract, forwarded.
        unsafe { lanewise(self, b, |x, y| if y.is_nan() || y > x { y } else { x }) }
    }
    /// Lane-wise maximum of `self` (an earlier pooling tap) and `later`: `later` only where
    /// `later > self`, so ties (`−0.0` vs `+0.0`) keep `self`. Where either lane is NaN the
    /// result is unspecified: callers check [`F32Vector::any_nan`] on the taps instead. One
    /// instruction on x86 (`maxps later, self`), two elsewhere.
    #[inline(always)]
    unsafe fn max_ordered(self, later: Self) -> Self {
        // SAFETY: the `F32Vector` contract, forwarded.
        unsafe { lanewise(self, later, |x, y| if y > x { y } else { x }) }
    }
    /// Whether any lane is NaN.
    #[inline(always)]
    unsafe fn any_nan(self) -> bool {
        let mut x = [0.0f32; 64];
        // SAFETY: `LANES <= 64`.
        unsafe { self.store(x.as_mut_ptr()) };
        x[..Self::LANES].iter().any(|v| v.is_nan())
    }
    /// Splits the `2·LANES` consecutive elements `self ++ hi` into their even-indexed and
    /// odd-indexed elements, in order: `([e0, e2, …], [e1, e3, …])`. The stride-2 pooling
    /// kernels use it instead of gathering one element at a time.
    #[inline(always)]
    unsafe fn deinterleave(self, hi: Self) -> (Self, Self) {
        let mut x = [0.0f32; 128];
        let mut even = [0.0f32; 64];
        let mut odd = [0.0f32; 64];
        // SAFETY: `2·LANES <= 128`.
        unsafe {
            self.store(x.as_mut_ptr());
            hi.store(x.as_mut_ptr().add(Self::LANES));
        }
        for i in 0..Self::LANES {
            even[i] = x[2 * i];
            odd[i] = x[2 * i + 1];
        }
        // SAFETY: `LANES <= 64`.
        unsafe { (Self::load(even.as_ptr()), Self::load(odd.as_ptr())) }
    }
    /// [`F32Vector::deinterleave`] up to a fixed lane permutation shared by every call at
    /// this level, undone by [`F32Vector::deinterleave_order`]. Lane-wise work between the two
    /// commutes with the permutation, so a kernel deinterleaves many times and reorders once
    /// (AVX2: `shufps` per deinterleave, one `vpermpd` per result vector).
    #[inline(always)]
    unsafe fn deinterleave_unordered(self, hi: Self) -> (Self, Self) {
        // SAFETY: forwarded contract.
        unsafe { self.deinterleave(hi) }
    }
    /// Puts the lanes of a result of [`F32Vector::deinterleave_unordered`] in order.
    #[inline(always)]
    unsafe fn deinterleave_order(self) -> Self {
        self
    }
    /// `[self[1], …, self[LANES−1], next[0]]`: the lanes move down one place and `next`'s
    /// first lane comes in at the top (x86 `valignd`, NEON `ext`). With an ordered
    /// [`F32Vector::deinterleave`] it turns the even elements from `p` into those from
    /// `p + 2` without another pair of loads.
    #[inline(always)]
    unsafe fn shift_in_last(self, next: Self) -> Self {
        let mut x = [0.0f32; 128];
        // SAFETY: `2·LANES <= 128`.
        unsafe {
            self.store(x.as_mut_ptr());
            next.store(x.as_mut_ptr().add(Self::LANES));
            Self::load(x.as_ptr().add(1))
        }
    }
    /// `[prev[LANES−1], self[0], …, self[LANES−2]]`: the lanes move up one place and
    /// `prev`'s last lane comes in at the bottom.
    #[inline(always)]
    unsafe fn shift_in_first(self, prev: Self) -> Self {
        let mut x = [0.0f32; 128];
        // SAFETY: `2·LANES <= 128`.
        unsafe {
            prev.store(x.as_mut_ptr());
            self.store(x.as_mut_ptr().add(Self::LANES));
            Self::load(x.as_ptr().add(Self::LANES - 1))
        }
    }
    /// Loads `p[0], p[stride], …, p[(n−1)·stride]` (`1 <= n <= LANES`) into the first `n`
    /// lanes, the other lanes zero. Reads only those elements.
    #[inline(always)]
    unsafe fn load_strided(p: *const f32, stride: usize, n: usize) -> Self {
        let mut buf = [0.0f32; 64];
        for (i, b) in buf[..n].iter_mut().enumerate() {
            // SAFETY: the caller guarantees `p[i·stride]` is readable for `i < n`.
            *b = unsafe { *p.add(i * stride) };
        }
        // SAFETY: `LANES <= 64`.
        unsafe { Self::load(buf.as_ptr()) }
    }

    /// Stores `rows` transposed: lane `k` of `rows[m]` to `dst[k·stride + m]`, for every
    /// `k < k_valid` and `m < M` (`M <= 16`, `k_valid <= LANES`). Writes nothing else.
    ///
    /// The epilogue of tiles that hold output channels in lanes and pixels in registers
    /// (`conv::direct::f32_conv_kvec_mx1v`). Here through a stack buffer, one element at a
    /// time; AVX-512 transposes in registers and stores each channel's `M` pixels with one
    /// masked store.
    #[inline(always)]
    unsafe fn store_transposed<const M: usize>(
        rows: &[Self; M],
        dst: *mut f32,
        stride: usize,
        k_valid: usize,
    ) {
        let mut buf = core::mem::MaybeUninit::<[f32; 16 * 64]>::uninit();
        let bp = buf.as_mut_ptr().cast::<f32>();
        // SAFETY: m·LANES + LANES <= 16·64 (M <= 16, LANES <= 64); every element the copy
        // reads was stored just before (lane k < k_valid <= LANES of row m < M); `dst` is
        // writable at k·stride + m by the caller's contract.
        unsafe {
            for (m, r) in rows.iter().enumerate() {
                r.store(bp.add(m * Self::LANES));
            }
            copy_transposed(bp, Self::LANES, M, dst, stride, k_valid);
        }
    }

    /// Lane-wise `e^x` for the activation epilogues (Cephes' `expf`: `x = n·ln2 + r`, a
    /// degree-5 polynomial for `e^r`, scaled by `2^n`), within 2 ulp on `[−87.3, 88.3]`.
    /// Inputs are clamped to that range first, so the result stays finite and normal
    /// (about 1.2e−38 to 2.4e38); NaN propagates at levels whose `min`/`max` keep it.
    #[inline(always)]
    unsafe fn exp(self) -> Self {
        // SAFETY: forwarded contract.
        unsafe {
            // Constant first: x86 min/max return the second operand when one is NaN.
            let x = Self::splat(88.376_26).min(self);
            let x = Self::splat(-87.336_55).max(x);
            let n = x.mul(Self::splat(core::f32::consts::LOG2_E)).round();
            // r = x − n·ln2 in two steps (Cody–Waite) to keep r exact.
            let r = n.mul_add(Self::splat(-0.693_359_4), x);
            let r = n.mul_add(Self::splat(2.121_944_4e-4), r);
            let mut p = Self::splat(1.987_569_1e-4);
            p = p.mul_add(r, Self::splat(1.398_199_9e-3));
            p = p.mul_add(r, Self::splat(8.333_452e-3));
            p = p.mul_add(r, Self::splat(4.166_579_6e-2));
            p = p.mul_add(r, Self::splat(1.666_666_5e-1));
            p = p.mul_add(r, Self::splat(5e-1));
            let e = p.mul_add(r.mul(r), r.add(Self::splat(1.0)));
            // n is in −126..=127 after the clamp.
            e.mul_pow2i(n)
        }
    }
}

/// [`F32Vector::exp`] of `N` independent vectors, in place, one step at a time across all
/// of them: `exp` is a chain of about 16 dependent operations, so a vector at a time runs at
/// that chain's latency, while interleaved chains keep the FMA pipes busy. Each lane gets the
/// same operations in the same order as `exp` alone, so the same bits.
///
/// # Safety
/// The [`F32Vector`] contract must hold.
#[inline(always)]
pub(crate) unsafe fn exp_each<V: F32Vector, const N: usize>(xs: &mut [V; N]) {
    // SAFETY: (whole body) forwarded contract, only lane-wise arithmetic.
    unsafe {
        let mut n = [V::zero(); N];
        for (x, n) in xs.iter_mut().zip(&mut n) {
            // Constant first: x86 min/max return the second operand when one is NaN.
            *x = V::splat(-87.336_55).max(V::splat(88.376_26).min(*x));
            *n = x.mul(V::splat(core::f32::consts::LOG2_E)).round();
        }
        // r = x − n·ln2 in two steps (Cody–Waite) to keep r exact; r replaces x.
        for c in [-0.693_359_4, 2.121_944_4e-4] {
            for (r, n) in xs.iter_mut().zip(&n) {
                *r = n.mul_add(V::splat(c), *r);
            }
        }
        let mut p = [V::splat(1.987_569_1e-4); N];
        for c in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            5e-1,
        ] {
            for (p, r) in p.iter_mut().zip(xs.iter()) {
                *p = p.mul_add(*r, V::splat(c));
            }
        }
        for ((r, p), n) in xs.iter_mut().zip(&p).zip(&n) {
            // n is in −126..=127 after the clamp.
            *r = p.mul_add(r.mul(*r), r.add(V::splat(1.0))).mul_pow2i(*n);
        }
    }
}

/// `f(a[i], b[i])` in every lane, through arrays: the portable defaults of the binary lane-wise
/// methods.
///
/// # Safety
/// The [`F32Vector`] contract.
#[inline(always)]
unsafe fn lanewise<V: F32Vector>(a: V, b: V, f: impl Fn(f32, f32) -> f32) -> V {
    let mut x = [0.0f32; 64];
    let mut y = [0.0f32; 64];
    // SAFETY: `LANES <= 64`.
    unsafe {
        a.store(x.as_mut_ptr());
        b.store(y.as_mut_ptr());
    }
    for (x, y) in x[..V::LANES].iter_mut().zip(&y[..V::LANES]) {
        *x = f(*x, *y);
    }
    // SAFETY: `LANES <= 64`.
    unsafe { V::load(x.as_ptr()) }
}

/// `dst[k·stride + m] = buf[m·lanes + k]` for `k < k_valid`, `m < rows`: rows of `lanes`
/// stored vectors copied out transposed, one element at a time (the fallback of
/// [`F32Vector::store_transposed`]).
///
/// # Safety
/// `buf[m·lanes + k]` initialised and readable and `dst[k·stride + m]` writable for every such
/// `k` and `m`.
#[inline(always)]
pub(crate) unsafe fn copy_transposed(
    buf: *const f32,
    lanes: usize,
    rows: usize,
    dst: *mut f32,
    stride: usize,
    k_valid: usize,
) {
    for k in 0..k_valid {
        // SAFETY: the caller's contract.
        unsafe {
            let y = dst.add(k * stride);
            for m in 0..rows {
                *y.add(m) = *buf.add(m * lanes + k);
            }
        }
    }
}

/// `V::load_partial` through a stack buffer.
///
/// # Safety
/// `p[..n]` readable, `n < V::LANES`, and the [`F32Vector`] contract.
#[inline(always)]
unsafe fn load_via_buffer<V: F32Vector>(p: *const f32, n: usize) -> V {
    let mut buf = [0.0f32; 64];
    // SAFETY: `n < LANES <= 64`; `p[..n]` readable by the contract.
    unsafe {
        core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
        V::load(buf.as_ptr())
    }
}

/// `v.store_partial` through a stack buffer.
///
/// # Safety
/// `p[..n]` writable, `n < V::LANES`, and the [`F32Vector`] contract.
#[inline(always)]
unsafe fn store_via_buffer<V: F32Vector>(v: V, p: *mut f32, n: usize) {
    let mut buf = [0.0f32; 64];
    // SAFETY: `n < LANES <= 64`; `p[..n]` writable by the contract.
    unsafe {
        v.store(buf.as_mut_ptr());
        core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
    }
}
