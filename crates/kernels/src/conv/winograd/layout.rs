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
    /// Column stride of the transform-domain matrices: the unit's tiles rounded up to 16, plus
    /// 16 so a whole vector read at any tile position stays inside the buffer.
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
    /// GEMM output `[α²][kg_pad][t_stride]`.
    pub(crate) m_len: usize,
    /// Deinterleaved input strip `[strip_rows][m][xw]`.
    pub(crate) strip_len: usize,
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
        let t_stride = add(unit_tiles.div_ceil(16) * 16, 16, "winograd tile stride")?;
        let xw = tiles_x.div_ceil(16) * 16 + 1;
        let strip_rows = tile_rows * m + 2;

        let prepared_len = product(&[groups, a2, kg_pad, cg], "winograd prepared filters")?;
        let v_len = product(&[a2, cg, t_stride], "winograd transformed input")?;
        let m_len = product(&[a2, kg_pad, t_stride], "winograd GEMM output")?;
        let strip_len = product(&[strip_rows, m, xw], "winograd input strip")?;
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
            t_stride,
            xw,
            strip_rows,
            prepared_len,
            v_len,
            m_len,
            strip_len,
        })
    }

    pub(crate) fn rows_per_unit(&self) -> usize {
        self.tile_rows * self.m
    }

    /// Scratch for a call with prepared filters: transformed input, GEMM output, input strip.
    pub(crate) fn work_len(&self) -> Result<usize, Error> {
        let a = add(self.v_len, self.m_len, "winograd scratch")?;
        add(a, self.strip_len, "winograd scratch")
    }

    /// Scratch for a call with raw filters: the prepared filters come first.
    pub(crate) fn raw_scratch_len(&self) -> Result<usize, Error> {
        add(self.prepared_len, self.work_len()?, "winograd scratch")
    }
}
