//! Packing `A` into `MR`-row panels and `B` into `NR`-column panels (BLIS layout), from any
//! row/column strides, zero-padding the rows/columns past the matrix so the micro-kernel
//! always runs a whole tile.

/// A strided view of a matrix block: element `(i, j)` is `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Strided<'a> {
    /// The elements; `(rows−1)·rs + (cols−1)·cs < data.len()`.
    pub data: &'a [f32],
    /// Distance between rows.
    pub rs: usize,
    /// Distance between columns.
    pub cs: usize,
    /// Rows in the block.
    pub rows: usize,
    /// Columns in the block.
    pub cols: usize,
}

/// Packs `src` (`rows × depth`, the block of `A`) into panels of `mr` rows: element `(i, k)`
/// goes to `dst[(i / mr)·depth·mr + k·mr + i % mr]`; rows of the last panel past `rows` are
/// zero. `dst` must hold `⌈rows/mr⌉·mr·depth` values.
///
/// Panics only if a slice is shorter than that contract.
pub(crate) fn pack_a(src: Strided<'_>, mr: usize, dst: &mut [f32]) {
    let depth = src.cols;
    let panels = src.rows.div_ceil(mr);
    for (p, panel) in dst[..panels * mr * depth]
        .chunks_exact_mut(mr * depth)
        .enumerate()
    {
        let i0 = p * mr;
        let valid = mr.min(src.rows - i0);
        if src.rs == 1 {
            // Transposed A: the panel's rows are contiguous in each column.
            for (k, d) in panel.chunks_exact_mut(mr).enumerate() {
                let s = &src.data[i0 + k * src.cs..][..valid];
                d[..valid].copy_from_slice(s);
                d[valid..].fill(0.0);
            }
        } else {
            for i in 0..mr {
                if i < valid {
                    let base = (i0 + i) * src.rs;
                    if src.cs == 1 {
                        let row = &src.data[base..][..depth];
                        for (d, &x) in panel.chunks_exact_mut(mr).zip(row) {
                            d[i] = x;
                        }
                    } else {
                        for (k, d) in panel.chunks_exact_mut(mr).enumerate() {
                            d[i] = src.data[base + k * src.cs];
                        }
                    }
                } else {
                    for d in panel.chunks_exact_mut(mr) {
                        d[i] = 0.0;
                    }
                }
            }
        }
    }
}

/// Packs `src` (`depth × cols`, the block of `B`) into panels of `nr` columns: element
/// `(k, j)` goes to `dst[(j / nr)·depth·nr + k·nr + j % nr]`; columns of the last panel past
/// `cols` are zero. `dst` must hold `⌈cols/nr⌉·nr·depth` values.
///
/// Panics only if a slice is shorter than that contract.
pub(crate) fn pack_b(src: Strided<'_>, nr: usize, dst: &mut [f32]) {
    let depth = src.rows;
    let panels = src.cols.div_ceil(nr);
    for (p, panel) in dst[..panels * nr * depth]
        .chunks_exact_mut(nr * depth)
        .enumerate()
    {
        let j0 = p * nr;
        let valid = nr.min(src.cols - j0);
        if src.cs == 1 {
            for (k, d) in panel.chunks_exact_mut(nr).enumerate() {
                let s = &src.data[k * src.rs + j0..][..valid];
                d[..valid].copy_from_slice(s);
                d[valid..].fill(0.0);
            }
        } else {
            for j in 0..nr {
                if j < valid {
                    let base = (j0 + j) * src.cs;
                    if src.rs == 1 {
                        let col = &src.data[base..][..depth];
                        for (d, &x) in panel.chunks_exact_mut(nr).zip(col) {
                            d[j] = x;
                        }
                    } else {
                        for (k, d) in panel.chunks_exact_mut(nr).enumerate() {
                            d[j] = src.data[base + k * src.rs];
                        }
                    }
                } else {
                    for d in panel.chunks_exact_mut(nr) {
                        d[j] = 0.0;
                    }
                }
            }
        }
    }
}
