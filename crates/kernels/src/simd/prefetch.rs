//! Software prefetch: a hint to bring a cache line towards L1 before a loop reads it.
//!
//! The packing loops read many short runs of a large image (one run per channel and tap);
//! the hardware prefetchers see each run too late to hide the memory latency, so the loops
//! ask for the next channel's lines while they copy the current one. A prefetch never
//! faults and has no visible effect, so any address is allowed; on targets without a
//! stable prefetch intrinsic it compiles to nothing.

/// Bytes per cache line assumed by [`prefetch_range`].
const LINE: usize = 64;

/// Hints that the bytes of `data` will be read soon (one prefetch per cache line).
#[inline(always)]
pub(crate) fn prefetch_range(data: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = data.as_ptr() as usize;
        let end = start + core::mem::size_of_val(data);
        let mut at = start & !(LINE - 1);
        while at < end {
            // SAFETY: `_mm_prefetch` is a hint: it never faults or reads architecturally,
            // whatever the address; SSE is part of the x86-64 baseline.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                    at as *const i8,
                );
            }
            at += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, LINE);
}

#[cfg(test)]
mod tests {
    use super::prefetch_range;

    #[test]
    fn prefetch_accepts_empty_unaligned_and_long_ranges() {
        let v = [1.0f32; 100];
        prefetch_range(&v[..0]);
        prefetch_range(&v[3..5]);
        prefetch_range(&v);
        assert_eq!(v[99], 1.0);
    }
}
