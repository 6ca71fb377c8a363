//! The portable level, compiled for whatever the build's target features are.
//!
//! Two implementations, chosen at compile time:
//!
//! - **`wide::f32x8`** (8 lanes) where `wide` has SIMD for the target: SSE on x86, NEON on
//!   aarch64, `simd128` on wasm32.
//! - **one `f32`** (1 lane, plain scalar code) everywhere else (Cortex-M, RISC-V, ...), or
//!   anywhere with the `portable-scalar` feature. There `wide` would emulate each 8-lane
//!   operation with 8 scalar ones: every register tile of every micro-kernel would unroll
//!   8×, spill far beyond the FPU's registers and cost tens of KB of code per kernel
//!   (LeNet on a Cortex-M4: 168 KB of `.text` with `f32x8`, see `docs/embedded.md`). With one
//!   lane the same generic micro-kernels become small scalar loops whose tiles fit the FPU's
//!   registers. The plans size scratch from [`Portable::LANES`], so a host computing buffer
//!   sizes for such a device enables `portable-scalar` to get the device's figures.

#[cfg(not(any(
    feature = "portable-scalar",
    not(any(
        target_feature = "sse",
        target_feature = "simd128",
        all(target_arch = "aarch64", target_feature = "neon")
    ))
)))]
mod imp {
    use crate::simd::{F32Vector, Level, SimdKernel};
    use wide::f32x8;

    /// Runs `kernel` at this level in a function of its own (`simd::dispatch`).
    ///
    /// # Safety
    /// None beyond `SimdKernel::run`'s: the portable level needs no target feature.
    #[inline(never)]
    pub(crate) unsafe fn run_portable<K: SimdKernel>(kernel: K) -> K::Output {
        // SAFETY: the portable level needs no target feature.
        unsafe { kernel.run::<Portable>() }
    }

    /// Eight `f32`s in a `wide::f32x8`.
    #[derive(Clone, Copy)]
    pub(crate) struct Portable(f32x8);

    impl Portable {
        pub(crate) const LANES: usize = 8;
    }

    // SAFETY (every method): no target feature is needed; pointers are valid for the lanes
    // accessed by the trait contract.
    impl F32Vector for Portable {
        const LANES: usize = Portable::LANES;
        const LEVEL: Level = Level::Portable;

        #[inline(always)]
        unsafe fn isolate<K: SimdKernel>(kernel: K) -> K::Output {
            // SAFETY: the portable level needs no target feature.
            unsafe { run_portable(kernel) }
        }

        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            Portable(f32x8::splat(x))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: `p[..8]` is readable by the trait contract.
            let a: [f32; 8] = unsafe { core::ptr::read_unaligned(p.cast::<[f32; 8]>()) };
            Portable(f32x8::from(a))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            // SAFETY: `p[..8]` is writable by the trait contract.
            unsafe { core::ptr::write_unaligned(p.cast::<[f32; 8]>(), self.0.to_array()) }
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Portable(self.0 + b.0)
        }
        #[inline(always)]
        unsafe fn sub(self, b: Self) -> Self {
            Portable(self.0 - b.0)
        }
        #[inline(always)]
        unsafe fn mul(self, b: Self) -> Self {
            Portable(self.0 * b.0)
        }
        #[inline(always)]
        unsafe fn div(self, b: Self) -> Self {
            Portable(self.0 / b.0)
        }
        #[inline(always)]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Portable(self.0.mul_add(b.0, c.0))
        }
        #[inline(always)]
        unsafe fn max(self, b: Self) -> Self {
            Portable(self.0.fast_max(b.0))
        }
        #[inline(always)]
        unsafe fn min(self, b: Self) -> Self {
            Portable(self.0.fast_min(b.0))
        }
        #[inline(always)]
        unsafe fn round(self) -> Self {
            Portable(self.0.round())
        }
        #[inline(always)]
        unsafe fn pow2i(self) -> Self {
            let n = self.0.round_int().to_array();
            Portable(f32x8::from(
                n.map(|e| f32::from_bits(((e + 127) as u32) << 23)),
            ))
        }
    }
}

#[cfg(any(
    feature = "portable-scalar",
    not(any(
        target_feature = "sse",
        target_feature = "simd128",
        all(target_arch = "aarch64", target_feature = "neon")
    ))
))]
mod imp {
    use crate::simd::{F32Vector, Level, SimdKernel};

    /// Runs `kernel` at this level (`simd::dispatch`), inlined: one lane keeps each kernel
    /// small, and on the devices that run this level flash counts more than build time.
    ///
    /// # Safety
    /// None beyond `SimdKernel::run`'s: the portable level needs no target feature.
    #[inline(always)]
    pub(crate) unsafe fn run_portable<K: SimdKernel>(kernel: K) -> K::Output {
        // SAFETY: the portable level needs no target feature.
        unsafe { kernel.run::<Portable>() }
    }

    /// One `f32`: the micro-kernels' register tiles become tiles of scalar registers.
    #[derive(Clone, Copy)]
    pub(crate) struct Portable(f32);

    impl Portable {
        pub(crate) const LANES: usize = 1;
    }

    // SAFETY (every method): no target feature is needed; pointers are valid for the one
    // lane accessed by the trait contract.
    impl F32Vector for Portable {
        const LANES: usize = Portable::LANES;
        const LEVEL: Level = Level::Portable;

        /// Inline, unlike the other levels: the scalar level is what small devices run,
        /// where flash counts more than build time, and one lane keeps each kernel small.
        #[inline(always)]
        unsafe fn isolate<K: SimdKernel>(kernel: K) -> K::Output {
            // SAFETY: forwarded from the caller (the portable level needs no target feature).
            unsafe { kernel.run::<Self>() }
        }

        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            Portable(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: `p[0]` is readable by the trait contract (no alignment needed beyond
            // f32's, which every `*const f32` the kernels form has).
            Portable(unsafe { p.read_unaligned() })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            // SAFETY: `p[0]` is writable by the trait contract.
            unsafe { p.write_unaligned(self.0) }
        }
        // With one lane `n < LANES` means `n == 0`: nothing to read or write.
        #[inline(always)]
        unsafe fn load_partial(_p: *const f32, _n: usize) -> Self {
            Portable(0.0)
        }
        #[inline(always)]
        unsafe fn store_partial(self, _p: *mut f32, _n: usize) {}
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Portable(self.0 + b.0)
        }
        #[inline(always)]
        unsafe fn sub(self, b: Self) -> Self {
            Portable(self.0 - b.0)
        }
        #[inline(always)]
        unsafe fn mul(self, b: Self) -> Self {
            Portable(self.0 * b.0)
        }
        #[inline(always)]
        unsafe fn div(self, b: Self) -> Self {
            Portable(self.0 / b.0)
        }
        /// Two roundings, like `wide`'s fallback: a software `fmaf` would be far slower than
        /// the FPU's multiply and add.
        #[inline(always)]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Portable(self.0 * b.0 + c.0)
        }
        /// Like x86 `maxss` (and so like the other levels' `max`): `self` only where
        /// `self > b`, otherwise `b` — the second operand on equality (`±0.0`) and where
        /// either is NaN. `exp` relies on it (constant first, so a NaN input propagates), and
        /// the max-pooling kernels' results are then bit-identical at every level.
        #[inline(always)]
        unsafe fn max(self, b: Self) -> Self {
            Portable(if self.0 > b.0 { self.0 } else { b.0 })
        }
        /// Like x86 `minss`: `self` only where `self < b`, otherwise `b` (see `max`).
        #[inline(always)]
        unsafe fn min(self, b: Self) -> Self {
            Portable(if self.0 < b.0 { self.0 } else { b.0 })
        }
        #[inline(always)]
        unsafe fn round(self) -> Self {
            Portable(libm::rintf(self.0))
        }
        #[inline(always)]
        unsafe fn pow2i(self) -> Self {
            // The lane holds an integer in −126..=127 (trait contract): exact in i32.
            let e = self.0 as i32;
            Portable(f32::from_bits(((e + 127) as u32) << 23))
        }
        #[inline(always)]
        unsafe fn reduce_sum(self) -> f32 {
            self.0
        }
        #[inline(always)]
        unsafe fn reduce_max(self) -> f32 {
            self.0
        }
        #[inline(always)]
        unsafe fn max_nan(self, b: Self) -> Self {
            Portable(if b.0.is_nan() || b.0 > self.0 {
                b.0
            } else {
                self.0
            })
        }
        #[inline(always)]
        unsafe fn max_ordered(self, later: Self) -> Self {
            Portable(if later.0 > self.0 { later.0 } else { self.0 })
        }
        #[inline(always)]
        unsafe fn any_nan(self) -> bool {
            self.0.is_nan()
        }
        #[inline(always)]
        unsafe fn deinterleave(self, hi: Self) -> (Self, Self) {
            // The two elements `self ++ hi`: element 0 is even, element 1 odd.
            (self, hi)
        }
        #[inline(always)]
        unsafe fn load_strided(p: *const f32, _stride: usize, n: usize) -> Self {
            // `n <= LANES = 1`: the first element, or nothing (a zero lane) when `n == 0`,
            // like the generic version, which reads `p[..n]` only. `p` may then point past
            // the end of its slice, so it must not be read.
            if n == 0 {
                return Portable(0.0);
            }
            // SAFETY: `n == 1`, so `p[0]` is readable by the trait contract.
            Portable(unsafe { p.read_unaligned() })
        }
    }
}

pub(crate) use imp::{run_portable, Portable};
