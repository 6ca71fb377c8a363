//! The Winograd transform matrices F(m×m, 3×3) for m = 2, 4, 6, and the interpolation points
//! they are built from.
//!
//! Construction (Toom–Cook, Lavin & Gray 2016; the same convention as `wincnn`): with `α = m + 2`
//! points `p_0 … p_{α−2}` plus the point at infinity,
//!
//! - `Aᵀ[i][j] = p_j^i` (`m × α`), column `∞` is `e_{m−1}`;
//! - `G[j][k] = p_j^k / N_j` (`α × 3`), row `∞` is `e_2`, where `N_j = Π_{l≠j} (p_j − p_l)`;
//! - `Bᵀ = diag(N) · V⁻ᵀ` (`α × α`), `V` the full `α × α` Vandermonde matrix of the points
//!   (row `∞` is `e_{α−1}`).
//!
//! Then the 1-D correlation `y_i = Σ_k g_k d_{i+k}` is `y = Aᵀ[(G g) ⊙ (Bᵀ d)]` and the 2-D one
//! `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`. `tests/conv_winograd.rs` rebuilds all three matrices in `f64`
//! from [`WinogradTile::POINTS`] and compares them with the constants here, and checks that the
//! 1-D transforms reproduce direct correlation to 1e-12.
//!
//! Points (see `docs/winograd.md` for the measured errors): F(2,3) uses 0, ±1 (every entry of
//! `Aᵀ` and `Bᵀ` is 0 or ±1, exact); F(4,3) uses 0, ±1, ±2 (Lavin's choice; the largest
//! `Aᵀ` entry is 8, `Bᵀ` entries are small integers, all exact in `f32`); F(6,3) uses 0, ±1,
//! ±2, ±1/2: the reciprocal pair ±2/±1/2 keeps `Aᵀ` entries within 2^±5 instead of the
//! 3^5 = 243 that 0, ±1, ±2, ±3 would give, which is what keeps F(6,3) usable in `f32`. Every
//! `Aᵀ` and `Bᵀ` entry is a dyadic rational, so the `f32` constants are exact; `G` is applied
//! once per filter in `f64` and rounded once.

/// One Winograd tile size: the constants a generic kernel body is instantiated with.
pub(crate) trait WinogradTile {
    /// Output tile side `m`.
    const M: usize;
    /// Input tile side `α = m + 2`.
    const ALPHA: usize;
    /// Finite interpolation points, `α − 1` of them (the last point is infinity).
    #[allow(dead_code)] // read by the tests through `points()`
    const POINTS: &'static [f64];
    /// `Aᵀ`, `m × α`, row-major.
    const AT: &'static [f32];
    /// `Bᵀ`, `α × α`, row-major.
    const BT: &'static [f32];
    /// `G`, `α × 3`, row-major (applied in `f64` to the filters ahead of time).
    const G: &'static [f64];
}

/// F(2×2, 3×3): points 0, 1, −1, ∞.
pub(crate) struct F2;
/// F(4×4, 3×3): points 0, 1, −1, 2, −2, ∞.
pub(crate) struct F4;
/// F(6×6, 3×3): points 0, 1, −1, 2, −2, 1/2, −1/2, ∞.
pub(crate) struct F6;

impl WinogradTile for F2 {
    const M: usize = 2;
    const ALPHA: usize = 4;
    const POINTS: &'static [f64] = &[0.0, 1.0, -1.0];
    #[rustfmt::skip]
    const AT: &'static [f32] = &[
        1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 1.0,
    ];
    #[rustfmt::skip]
    const BT: &'static [f32] = &[
        -1.0, 0.0, 1.0, 0.0,
        0.0, 1.0, 1.0, 0.0,
        0.0, -1.0, 1.0, 0.0,
        0.0, -1.0, 0.0, 1.0,
    ];
    #[rustfmt::skip]
    const G: &'static [f64] = &[
        -1.0, 0.0, 0.0,
        0.5, 0.5, 0.5,
        0.5, -0.5, 0.5,
        0.0, 0.0, 1.0,
    ];
}

impl WinogradTile for F4 {
    const M: usize = 4;
    const ALPHA: usize = 6;
    const POINTS: &'static [f64] = &[0.0, 1.0, -1.0, 2.0, -2.0];
    #[rustfmt::skip]
    const AT: &'static [f32] = &[
        1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 1.0,
    ];
    #[rustfmt::skip]
    const BT: &'static [f32] = &[
        4.0, 0.0, -5.0, 0.0, 1.0, 0.0,
        0.0, -4.0, -4.0, 1.0, 1.0, 0.0,
        0.0, 4.0, -4.0, -1.0, 1.0, 0.0,
        0.0, -2.0, -1.0, 2.0, 1.0, 0.0,
        0.0, 2.0, -1.0, -2.0, 1.0, 0.0,
        0.0, 4.0, 0.0, -5.0, 0.0, 1.0,
    ];
    #[rustfmt::skip]
    const G: &'static [f64] = &[
        1.0 / 4.0, 0.0, 0.0,
        -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0,
        -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0,
        1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0,
        1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0,
        0.0, 0.0, 1.0,
    ];
}

impl WinogradTile for F6 {
    const M: usize = 6;
    const ALPHA: usize = 8;
    const POINTS: &'static [f64] = &[0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5];
    #[rustfmt::skip]
    const AT: &'static [f32] = &[
        1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.25, 0.25, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 0.125, -0.125, 0.0,
        0.0, 1.0, 1.0, 16.0, 16.0, 0.0625, 0.0625, 0.0,
        0.0, 1.0, -1.0, 32.0, -32.0, 0.03125, -0.03125, 1.0,
    ];
    #[rustfmt::skip]
    const BT: &'static [f32] = &[
        -1.0, 0.0, 5.25, 0.0, -5.25, 0.0, 1.0, 0.0,
        0.0, 1.0, 1.0, -4.25, -4.25, 1.0, 1.0, 0.0,
        0.0, -1.0, 1.0, 4.25, -4.25, -1.0, 1.0, 0.0,
        0.0, 0.5, 0.25, -2.5, -1.25, 2.0, 1.0, 0.0,
        0.0, -0.5, 0.25, 2.5, -1.25, -2.0, 1.0, 0.0,
        0.0, 2.0, 4.0, -2.5, -5.0, 0.5, 1.0, 0.0,
        0.0, -2.0, 4.0, 2.5, -5.0, -0.5, 1.0, 0.0,
        0.0, -1.0, 0.0, 5.25, 0.0, -5.25, 0.0, 1.0,
    ];
    #[rustfmt::skip]
    const G: &'static [f64] = &[
        -1.0, 0.0, 0.0,
        -2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0,
        -2.0 / 9.0, 2.0 / 9.0, -2.0 / 9.0,
        1.0 / 90.0, 2.0 / 90.0, 4.0 / 90.0,
        1.0 / 90.0, -2.0 / 90.0, 4.0 / 90.0,
        64.0 / 90.0, 32.0 / 90.0, 16.0 / 90.0,
        64.0 / 90.0, -32.0 / 90.0, 16.0 / 90.0,
        0.0, 0.0, 1.0,
    ];
}
