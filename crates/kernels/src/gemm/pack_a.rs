//! Packs a depth block of `A` (row-major `M×K`, e.g. OIHW weights) into `MR`-row panels.

/// Packs `A[0..m][k0..k0+kc]` (row stride `lda`) into `dst` as panels of `mr` rows: element
/// `(i, k)` goes to `dst[(i / mr)·kc·mr + k·mr + i % mr]`; rows past `m` in the last panel
/// are zero. The micro-kernel then reads one sequential stream per panel.
///
/// Panics only if a slice is shorter than the caller's contract (`a` holds `m` rows,
/// `dst` at least `⌈m/mr⌉·kc·mr`).
pub(crate) fn pack_a(
    a: &[f32],
    lda: usize,
    m: usize,
    k0: usize,
    kc: usize,
    mr: usize,
    dst: &mut [f32],
) {
    let panel_len = kc * mr;
    for (p, panel) in dst[..m.div_ceil(mr) * panel_len]
        .chunks_exact_mut(panel_len)
        .enumerate()
    {
        let rows = mr.min(m - p * mr);
        for r in 0..rows {
            let src = &a[(p * mr + r) * lda + k0..][..kc];
            for (k, &x) in src.iter().enumerate() {
                panel[k * mr + r] = x;
            }
        }
        for r in rows..mr {
            for k in 0..kc {
                panel[k * mr + r] = 0.0;
            }
        }
    }
}
