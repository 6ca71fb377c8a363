//! The one decision a Winograd plan makes: tile size, work-unit size and the scratch layout
//! derived from them. Everything that sizes a buffer or walks one reads it from here.

use super::transforms::{WinogradTile, F2, F4, F6};
use crate::error::{add, mul, product, Error};
use crate::simd::Level;
use crate::Conv2d;

/// Which F(m×m, 3×3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tile {
    F2,
    F4,
    F6,
}

impl Tile {
    pub(crate) const fn m(self) -> usize {
        match self {
            Tile::F2 => F2::M,
            Tile::F4 => F4::M,
            Tile::F6 => F6::M,
        }
    }
    pub(crate) const fn alpha(self) -> usize {
        self.m() + 2
    }
}

/// Scratch budget for one work unit's transformed input and GEMM output, in bytes: about half
/// of Zen 4's 1 MiB L2, so the unit's transform-domain data stays in L2 between the input
/// transform, the GEMMs and the output transform.
const UNIT_L2_BYTES: usize = 512 * 1024;
/// Tiles per work unit are kept within these bounds whatever the cache budget says: below 16
/// the GEMMs reuse each transformed filter too little, above 96 the unit outgrows L2 on every
/// benchmark case.
const MIN_UNIT_TILES: usize = 32;
const MAX_UNIT_TILES: usize = 96;

/// Floats of scratch reserved so the transform-domain buffers can start on a 64-byte line.
pub(crate) const ALIGN_SLACK: usize = 16;

/// Rows of the transform-domain GEMM output per micro-kernel tile (the `MR` of the packed
/// filters): 8 with 32 vector registers (8 × 3 accumulators), 6 with 16 (6 × 2).
pub(crate) const fn gemm_mr(level: Level) -> usize {
    if level.lanes() >= 16 {
        8
    } else {
        6
    }
}

/// Every size and offset of one Winograd plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WinogradLayout {
    pub(crate) tile: Tile,
    pub(crate) m: usize,
    pub(crate) alpha: usize,
    pub(crate) groups: usize,
    /// Input / output channels per group.
    pub(crate) cg: usize,
    pub(crate) kg: usize,
    /// `kg` rounded up to `mr`.
    pub(crate) kg_pad: usize,
    pub(crate) mr: usize,
    pub(crate) tiles_x: usize,
    pub(crate) tiles_y: usize,
    /// Tile rows per work unit (`rows_per_unit = tile_rows · m`).
    pub(crate) tile_rows: usize,
    /// How the unit's tiles are numbered in the transform-domain columns: tile `(ty, tx)` is
    /// column `ty · tile_pitch + tx`. `tiles_x` ("flat": a vector of tiles may span tile
    /// rows, which the input transform gathers through the tile buffer) when that needs
    /// fewer vectors per unit than starting every tile row on a vector boundary
    /// (`tiles_x` rounded up to the level's lanes, "row-aligned": vectors load straight from
    /// the strip).
    pub(crate) tile_pitch: usize,
    /// Column stride of the transformed input `V` and the tile buffer: the unit's columns
    /// rounded up to 16, plus 16 so a whole vector read or written at any tile position stays
    /// inside the buffer.
    pub(crate) t_stride: usize,
    /// Width of one deinterleaved phase row of the input strip (`tiles_x` rounded up to 16,
    /// plus 1 for the tile overlap).
    pub(crate) xw: usize,
    /// Input rows one unit reads.
    pub(crate) strip_rows: usize,
    /// Length of the prepared (transformed, packed) filters.
    pub(crate) prepared_len: usize,
    /// Transformed input `[α²][cg][t_stride]`.
    pub(crate) v_len: usize,
    /// GEMM output `[k][t / lanes][ξ][lanes]` (each vector of tiles' `α²` transform points
    /// contiguous for the output transform), at most `kg_pad · α² · t_stride` floats.
    pub(crate) m_len: usize,
    /// Deinterleaved input strip `[strip_rows][m][xw]`.
    pub(crate) strip_len: usize,
    /// Flat numbering only: one channel's input tiles `[r·α + k][t_stride]` (element `(r, k)`
    /// of every tile, tiles contiguous), copied from the strip; 0 when row-aligned.
    pub(crate) tiles_len: usize,
}

impl WinogradLayout {
    pub(crate) fn new(
        desc: &Conv2d,
        tile: Tile,
        level: Level,
        name: &'static str,
    ) -> Result<WinogradLayout, Error> {
        let unsupported = |reason| Error::UnsupportedAlgorithm {
            algorithm: name,
            reason,
        };
        if desc.kernel_height() != 3 || desc.kernel_width() != 3 {
            return Err(unsupported("Winograd F(m×m, 3×3) needs a 3×3 kernel"));
        }
        if desc.stride_height() != 1 || desc.stride_width() != 1 {
            return Err(unsupported("Winograd needs stride 1"));
        }
        if desc.dilation_height() != 1 || desc.dilation_width() != 1 {
            return Err(unsupported("Winograd needs dilation 1"));
        }
        let (m, alpha) = (tile.m(), tile.alpha());
        let a2 = alpha * alpha;
        let groups = desc.groups();
        let cg = desc.in_channels_per_group();
        let kg = desc.out_channels_per_group();
        let mr = gemm_mr(level);
        let kg_pad = kg.div_ceil(mr) * mr;
        let (p, q) = (desc.output_height(), desc.output_width());
        let tiles_x = q.div_ceil(m);
        let tiles_y = p.div_ceil(m);

        // Tiles per unit: as many as fit the L2 budget, within [MIN, MAX] unit tiles, in whole
        // tile rows; with one image, at least two units so two threads have work.
        let per_tile = a2 * (cg + kg_pad) * 4;
        let target = (UNIT_L2_BYTES / per_tile.max(1)).clamp(MIN_UNIT_TILES, MAX_UNIT_TILES);
        let mut tile_rows = (target / tiles_x).clamp(1, tiles_y);
        if desc.batch() == 1 && tiles_y.div_ceil(2) * tiles_x >= MIN_UNIT_TILES {
            tile_rows = tile_rows.min(tiles_y.div_ceil(2));
        }
        let unit_tiles = mul(tile_rows, tiles_x, "winograd tiles per unit")?;
        // Flat numbering when it saves vectors: 28×28 at F(4,3) has 7 tiles a row, so 4 tile
        // rows are 2 vectors of 16 flat (28 of 32 lanes busy) against 4 row-aligned (7 of
        // 16); a 56×56 image (14 a row) is 2 vectors either way and keeps the direct loads.
        let lanes = level.lanes();
        let aligned_row = tiles_x.div_ceil(lanes) * lanes;
        let flat = unit_tiles.div_ceil(lanes) < tile_rows * (aligned_row / lanes);
        let tile_pitch = if flat { tiles_x } else { aligned_row };
        let unit_cols = mul(tile_rows, tile_pitch, "winograd tiles per unit")?;
        let t_stride = add(unit_cols.div_ceil(16) * 16, 16, "winograd tile stride")?;
        let xw = tiles_x.div_ceil(16) * 16 + 1;
        let strip_rows = tile_rows * m + 2;

        let prepared_len = product(&[groups, a2, kg_pad, cg], "winograd prepared filters")?;
        let v_len = product(&[a2, cg, t_stride], "winograd transformed input")?;
        let m_len = product(&[a2, kg_pad, t_stride], "winograd GEMM output")?;
        let strip_len = product(&[strip_rows, m, xw], "winograd input strip")?;
        let tiles_len = if flat {
            product(&[a2, t_stride], "winograd tile buffer")?
        } else {
            0
        };
        Ok(WinogradLayout {
            tile,
            m,
            alpha,
            groups,
            cg,
            kg,
            kg_pad,
            mr,
            tiles_x,
            tiles_y,
            tile_rows,
            tile_pitch,
            t_stride,
            xw,
            strip_rows,
            prepared_len,
            v_len,
            m_len,
            strip_len,
            tiles_len,
        })
    }

    pub(crate) fn rows_per_unit(&self) -> usize {
        self.tile_rows * self.m
    }

    /// Whether a vector of tiles may span tile rows (see [`WinogradLayout::tile_pitch`]).
    pub(crate) fn flat(&self) -> bool {
        self.tiles_len != 0
    }

    /// Scratch for a call with prepared filters: transformed input, GEMM output, input strip,
    /// tile buffer, and [`ALIGN_SLACK`] floats to align them.
    pub(crate) fn work_len(&self) -> Result<usize, Error> {
        let a = add(self.v_len, self.m_len, "winograd scratch")?;
        let a = add(a, ALIGN_SLACK, "winograd scratch")?;
        let a = add(a, self.tiles_len, "winograd scratch")?;
        add(a, self.strip_len, "winograd scratch")
    }

    /// Scratch for a call with raw filters: the prepared filters come first.
    pub(crate) fn raw_scratch_len(&self) -> Result<usize, Error> {
        add(self.prepared_len, self.work_len()?, "winograd scratch")
    }
}

#[cfg(test)]
mod tests {
    use super::{Tile, WinogradLayout};
    use crate::simd::Level;
    use crate::{Conv2d, Padding};

    fn layout(c: usize, hw: usize, tile: Tile, level: Level) -> WinogradLayout {
        let desc = Conv2d::builder()
            .channels(c, c)
            .input_size(hw, hw)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        WinogradLayout::new(&desc, tile, level, "winograd").unwrap()
    }

    /// Flat numbering where row-aligned vectors would leave lanes idle, row-aligned where
    /// both need the same vectors.
    #[test]
    fn tile_numbering_follows_the_vector_count() {
        let l = layout(128, 28, Tile::F4, Level::Avx512f); // 7 tiles a row, 4 rows a unit
        assert!(l.flat());
        assert_eq!((l.tile_pitch, l.tiles_len), (7, 36 * l.t_stride));
        let l = layout(256, 14, Tile::F4, Level::Avx512f); // 4 × 4 tiles: one vector
        assert!(l.flat());
        let l = layout(64, 56, Tile::F4, Level::Avx512f); // 14 tiles a row
        assert!(!l.flat());
        assert_eq!((l.tile_pitch, l.tiles_len), (16, 0));
        let l = layout(64, 56, Tile::F4, Level::Avx2Fma); // 14 a row, 2 vectors of 8 either way
        assert!(!l.flat());
    }
}
