//! The public GEMM: [`Gemm`] (shape and options), [`GemmPlan`] (level, activation, scratch)
//! and [`GemmPlan::run`], a BLIS-style packed SGEMM into caller scratch.

use super::f32_gemm_packed::{kernel_narrow, PackedOut, TileBias};
use super::pack::{pack_a, pack_b, Strided};
use super::Blocking;
use crate::epilogue::Activation;
use crate::error::{add, check_len, check_min_len, mul, Error};
use crate::simd::{self, dispatch, F32Vector, Level, SimdKernel};

/// The shape and options of one matrix product
/// `C (m×n, row-major) = op(A)·op(B) [+ C if accumulate] + bias`, then an activation.
///
/// `A` is `m×k` row-major, or `k×m` row-major when [`Gemm::transpose_a`]; `B` is `k×n`
/// row-major, or `n×k` row-major when [`Gemm::transpose_b`].
///
/// ```
/// use convkit_kernels::{Activation, Gemm, GemmBias, GemmPlan};
/// // [1 2; 3 4] · [5 6; 7 8] + row bias [1, -1]
/// let plan = GemmPlan::new(Gemm::new(2, 2, 2)?, None, Activation::Identity)?;
/// let mut scratch = vec![0.0; plan.scratch_len()];
/// let mut c = [0.0f32; 4];
/// plan.run(&[1., 2., 3., 4.], &[5., 6., 7., 8.], &mut c, GemmBias::Rows(&[1., -1.]), &mut scratch)?;
/// assert_eq!(c, [20., 23., 42., 49.]);
/// # Ok::<(), convkit_kernels::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Gemm {
    m: usize,
    n: usize,
    k: usize,
    transpose_a: bool,
    transpose_b: bool,
    accumulate: bool,
}

impl Gemm {
    /// An `m×n` result of depth `k`, no transposes, overwriting `C`. Zero dimensions and
    /// element counts that overflow `usize` are errors.
    pub fn new(m: usize, n: usize, k: usize) -> Result<Gemm, Error> {
        for (v, what) in [(m, "gemm m"), (n, "gemm n"), (k, "gemm k")] {
            if v == 0 {
                return Err(Error::ZeroDimension { what });
            }
        }
        mul(m, k, "gemm A length")?;
        mul(k, n, "gemm B length")?;
        mul(m, n, "gemm C length")?;
        Ok(Gemm {
            m,
            n,
            k,
            transpose_a: false,
            transpose_b: false,
            accumulate: false,
        })
    }

    /// `A` is given as `k×m` row-major (its transpose is used).
    pub fn transpose_a(mut self, yes: bool) -> Gemm {
        self.transpose_a = yes;
        self
    }

    /// `B` is given as `n×k` row-major (its transpose is used), e.g. a Linear layer's
    /// `out×in` weights.
    pub fn transpose_b(mut self, yes: bool) -> Gemm {
        self.transpose_b = yes;
        self
    }

    /// Adds the product to what `C` holds instead of overwriting it.
    pub fn accumulate(mut self, yes: bool) -> Gemm {
        self.accumulate = yes;
        self
    }

    /// Rows of `C`.
    pub fn m(&self) -> usize {
        self.m
    }
    /// Columns of `C`.
    pub fn n(&self) -> usize {
        self.n
    }
    /// The depth (columns of `op(A)`, rows of `op(B)`).
    pub fn k(&self) -> usize {
        self.k
    }
    /// Whether `A` is given transposed.
    pub fn is_transpose_a(&self) -> bool {
        self.transpose_a
    }
    /// Whether `B` is given transposed.
    pub fn is_transpose_b(&self) -> bool {
        self.transpose_b
    }
    /// Whether the product is added to `C`.
    pub fn is_accumulate(&self) -> bool {
        self.accumulate
    }
}

/// The bias of a [`GemmPlan::run`], added after the product (and the old `C`) and before the
/// activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GemmBias<'a> {
    /// No bias.
    None,
    /// `m` values: `bias[i]` is added to every element of row `i`.
    Rows(&'a [f32]),
    /// `n` values: `bias[j]` is added to every element of column `j`.
    Columns(&'a [f32]),
}

/// A [`Gemm`] bound to a SIMD level and a fused activation, with its scratch size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmPlan {
    gemm: Gemm,
    level: Level,
    activation: Activation,
    layout: Layout,
    packed_b_len: usize,
}

/// The block sizes one plan runs with (derived once, used by both `scratch_len` and `run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    blocking: Blocking,
    /// Rows per micro-tile: the level's `mr`, or 1 for a one-row product (a batch-1 fully
    /// connected layer), where the level's tile would compute `mr` rows to keep one.
    mr: usize,
    /// Rows of `A` per packed block (a multiple of `mr`, at most `m` rounded up).
    mc: usize,
    /// Depth per packed block.
    kc: usize,
    /// Columns of `B` per packed block (a multiple of `nr`, at most `n` rounded up).
    nc: usize,
}

impl Layout {
    fn new(g: &Gemm, level: Level) -> Result<Layout, Error> {
        let bl = Blocking::for_level(level);
        let mr = if g.m == 1 { 1 } else { bl.mr };
        let nr = bl.nr();
        let round =
            |x: usize, to: usize| -> Result<usize, Error> { mul(x.div_ceil(to), to, "gemm block") };
        let mc = round(g.m, mr)?.min(bl.mc);
        let nc = round(g.n, nr)?.min(bl.gemm_nc);
        let kc = g.k.min(bl.kc);
        Ok(Layout {
            blocking: bl,
            mr,
            mc,
            kc,
            nc,
        })
    }

    /// The whole of `op(B)` packed ([`GemmPlan::pack_b`]): for every column block (`nc`)
    /// and depth block (`kc`), in the loop order of `body`, the block's `nr`-wide panels.
    fn packed_b_len(&self, g: &Gemm) -> Result<usize, Error> {
        let nr = self.blocking.nr();
        let mut total = 0usize;
        let mut jc = 0;
        while jc < g.n {
            let ncb = self.nc.min(g.n - jc);
            let panels = mul(ncb.div_ceil(nr), nr, "gemm packed b")?;
            total = add(total, mul(panels, g.k, "gemm packed b")?, "gemm packed b")?;
            jc += ncb;
        }
        Ok(total)
    }

    /// Packed `A` block (`mc×kc`) then packed `B` block (`kc×nc`).
    fn scratch_len(&self) -> Result<usize, Error> {
        add(
            mul(self.mc, self.kc, "gemm scratch")?,
            mul(self.kc, self.nc, "gemm scratch")?,
            "gemm scratch",
        )
    }
}

impl GemmPlan {
    /// Plans `gemm` at `level` (`None`: [`simd::active`]) with `activation` fused into the
    /// store. Fails for an unsupported level or an invalid activation.
    pub fn new(
        gemm: Gemm,
        level: Option<Level>,
        activation: Activation,
    ) -> Result<GemmPlan, Error> {
        let activation = activation.validate()?;
        let level = level.unwrap_or_else(simd::active).require()?;
        let layout = Layout::new(&gemm, level)?;
        layout.scratch_len()?;
        let packed_b_len = layout.packed_b_len(&gemm)?;
        Ok(GemmPlan {
            gemm,
            level,
            activation,
            layout,
            packed_b_len,
        })
    }

    /// The product this plan computes.
    pub fn gemm(&self) -> Gemm {
        self.gemm
    }

    /// The SIMD level it runs at.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The fused activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// `f32`s of scratch [`GemmPlan::run`] needs (packed blocks of `A` and `B`).
    pub fn scratch_len(&self) -> usize {
        // Checked for overflow in `new`.
        self.layout.mc * self.layout.kc + self.layout.kc * self.layout.nc
    }

    /// `f32`s of `op(B)` packed once by [`GemmPlan::pack_b`] (for a `B` that many calls
    /// share, such as a layer's weights).
    pub fn packed_b_len(&self) -> usize {
        self.packed_b_len
    }

    /// `f32`s of scratch [`GemmPlan::run_packed_b`] needs (the packed `A` block only).
    pub fn packed_b_scratch_len(&self) -> usize {
        self.layout.mc * self.layout.kc
    }

    /// Packs `b` (`k·n` values, laid out as [`GemmPlan::run`] takes them) once into `packed`
    /// ([`GemmPlan::packed_b_len`] values) for [`GemmPlan::run_packed_b`]. Valid for plans
    /// of the same [`Gemm`] and level.
    pub fn pack_b(&self, b: &[f32], packed: &mut [f32]) -> Result<(), Error> {
        let g = &self.gemm;
        check_len("b", g.k * g.n, b.len())?;
        check_len("packed b", self.packed_b_len, packed.len())?;
        let Layout {
            blocking, kc, nc, ..
        } = self.layout;
        let nr = blocking.nr();
        let (b_rs, b_cs) = if g.transpose_b { (1, g.k) } else { (g.n, 1) };
        let mut off = 0;
        let mut jc = 0;
        while jc < g.n {
            let ncb = nc.min(g.n - jc);
            let mut pc = 0;
            while pc < g.k {
                let kcb = kc.min(g.k - pc);
                pack_b(
                    Strided {
                        data: &b[pc * b_rs + jc * b_cs..],
                        rs: b_rs,
                        cs: b_cs,
                        rows: kcb,
                        cols: ncb,
                    },
                    nr,
                    &mut packed[off..],
                );
                off += ncb.div_ceil(nr) * nr * kcb;
                pc += kcb;
            }
            jc += ncb;
        }
        Ok(())
    }

    /// [`GemmPlan::run`] with `B` packed by [`GemmPlan::pack_b`]; scratch at least
    /// [`GemmPlan::packed_b_scratch_len`]. Same bits as `run`.
    pub fn run_packed_b(
        &self,
        a: &[f32],
        packed_b: &[f32],
        c: &mut [f32],
        bias: GemmBias<'_>,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        check_len("packed b", self.packed_b_len, packed_b.len())?;
        self.checked_run(a, packed_b, true, c, bias, scratch)
    }

    /// Computes `C = op(A)·op(B) [+ C] + bias`, then the activation. Lengths: `a` `m·k`,
    /// `b` `k·n`, `c` `m·n`, bias `m` (rows) or `n` (columns), `scratch` at least
    /// [`GemmPlan::scratch_len`]; anything else is [`Error::LengthMismatch`]. No allocation.
    pub fn run(
        &self,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        bias: GemmBias<'_>,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        check_len("b", self.gemm.k * self.gemm.n, b.len())?;
        check_min_len("scratch", self.scratch_len(), scratch.len())?;
        self.checked_run(a, b, false, c, bias, scratch)
    }

    /// The common checks and the dispatch; `b` raw (`k·n`, checked) or packed (checked).
    fn checked_run(
        &self,
        a: &[f32],
        b: &[f32],
        b_packed: bool,
        c: &mut [f32],
        bias: GemmBias<'_>,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        let g = &self.gemm;
        check_len("a", g.m * g.k, a.len())?;
        check_len("c", g.m * g.n, c.len())?;
        match bias {
            GemmBias::None => {}
            GemmBias::Rows(v) => check_len("bias", g.m, v.len())?,
            GemmBias::Columns(v) => check_len("bias", g.n, v.len())?,
        }
        check_min_len("scratch", self.packed_b_scratch_len(), scratch.len())?;
        dispatch(
            self.level,
            GemmRun {
                plan: self,
                a,
                b,
                b_packed,
                c,
                bias,
                scratch,
            },
        );
        Ok(())
    }
}

struct GemmRun<'a, 'b> {
    plan: &'a GemmPlan,
    a: &'a [f32],
    b: &'a [f32],
    /// `b` is the whole `op(B)` packed by [`GemmPlan::pack_b`] (else raw, packed per block
    /// into the scratch).
    b_packed: bool,
    c: &'a mut [f32],
    bias: GemmBias<'b>,
    scratch: &'a mut [f32],
}

impl SimdKernel for GemmRun<'_, '_> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        let bl = Blocking::for_level(V::LEVEL);
        // The plan's level is the one dispatched (it was checked supported), so the layout's
        // blocking is this level's; anything else would be a bug, refused rather than run.
        if bl != self.plan.layout.blocking || bl.lanes != V::LANES {
            return;
        }
        // SAFETY: forwarded dispatch contract; `MR`, `NV` are this level's blocking. Each
        // blocking is a function of its own (`isolate`).
        unsafe {
            match (self.plan.layout.mr, bl.nv) {
                (6, 2) => V::isolate(Body::<6, 2>(self)),
                (8, 3) => V::isolate(Body::<8, 3>(self)),
                (4, 2) => V::isolate(Body::<4, 2>(self)),
                // One-row products (`Layout::mr`): same per-element operations, fewer rows.
                (1, 2) => V::isolate(Body::<1, 2>(self)),
                (1, 3) => V::isolate(Body::<1, 3>(self)),
                _ => {}
            }
        }
    }
}

/// [`body`] for one register blocking, as a kernel of its own.
struct Body<'a, 'b, const MR: usize, const NV: usize>(GemmRun<'a, 'b>);

impl<const MR: usize, const NV: usize> SimdKernel for Body<'_, '_, MR, NV> {
    type Output = ();
    #[inline(always)]
    unsafe fn run<V: F32Vector>(self) {
        // SAFETY: forwarded dispatch contract; the caller matched `MR × NV` to the plan.
        unsafe { body::<V, MR, NV>(self.0) }
    }
}

/// The BLIS loops: column blocks (`nc`) → depth blocks (`kc`, pack `B`) → row blocks (`mc`,
/// pack `A`) → column panels (`nr`) → row panels (`mr`) → micro-kernel.
///
/// # Safety
/// The dispatch contract for `V`; `MR × NV` is the plan's blocking (lengths were checked by
/// [`GemmPlan::run`]).
#[inline(always)]
unsafe fn body<V: F32Vector, const MR: usize, const NV: usize>(run: GemmRun<'_, '_>) {
    let GemmRun {
        plan,
        a,
        b,
        b_packed,
        c,
        bias,
        scratch,
    } = run;
    let g = plan.gemm;
    let Layout { mc, kc, nc, .. } = plan.layout;
    let nr = NV * V::LANES;
    let (m, n, k) = (g.m, g.n, g.k);
    let (sa, sb) = scratch.split_at_mut(mc * kc);
    // Offset of the current (column block, depth block) in a pre-packed `B`.
    let mut b_off = 0;
    // op(A)(i, p) and op(B)(p, j) as strides.
    let (a_rs, a_cs) = if g.transpose_a { (1, m) } else { (k, 1) };
    let (b_rs, b_cs) = if g.transpose_b { (1, k) } else { (n, 1) };
    let c_ptr = c.as_mut_ptr();

    let mut jc = 0;
    while jc < n {
        let ncb = nc.min(n - jc);
        let mut pc = 0;
        while pc < k {
            let kcb = kc.min(k - pc);
            let sb: &[f32] = if b_packed {
                &b[b_off..]
            } else {
                pack_b(
                    Strided {
                        data: &b[pc * b_rs + jc * b_cs..],
                        rs: b_rs,
                        cs: b_cs,
                        rows: kcb,
                        cols: ncb,
                    },
                    nr,
                    sb,
                );
                sb
            };
            b_off += ncb.div_ceil(nr) * nr * kcb;
            let accumulate = pc > 0 || g.accumulate;
            let finish = pc + kcb == k;
            let mut ic = 0;
            while ic < m {
                let mcb = mc.min(m - ic);
                pack_a(
                    Strided {
                        data: &a[ic * a_rs + pc * a_cs..],
                        rs: a_rs,
                        cs: a_cs,
                        rows: mcb,
                        cols: kcb,
                    },
                    MR,
                    sa,
                );
                let mut jr = 0;
                while jr < ncb {
                    let cols = nr.min(ncb - jr);
                    let bp = sb[(jr / nr) * kcb * nr..].as_ptr();
                    let mut ir = 0;
                    while ir < mcb {
                        let rows = MR.min(mcb - ir);
                        let (row0, col0) = (ic + ir, jc + jr);
                        let out = PackedOut {
                            // SAFETY: row0 < m, col0 < n: inside c (m·n, checked).
                            c: unsafe { c_ptr.add(row0 * n + col0) },
                            ldc: n,
                            rows,
                            cols,
                            accumulate,
                            finish,
                            bias: match bias {
                                GemmBias::None => TileBias::None,
                                GemmBias::Rows(v) => TileBias::Rows(v[row0..].as_ptr()),
                                GemmBias::Columns(v) => TileBias::Columns(v[col0..].as_ptr()),
                            },
                            activation: plan.activation,
                        };
                        // SAFETY: the packed A panel holds kcb·MR values and the B panel
                        // kcb·nr (both inside the scratch blocks sized by the layout); C rows
                        // row0..row0+rows < m and columns col0..col0+cols <= n are in c; the
                        // bias slices have m (rows) / n (columns) entries.
                        unsafe {
                            kernel_narrow::<V, MR, NV>(
                                kcb,
                                sa[(ir / MR) * kcb * MR..].as_ptr(),
                                bp,
                                nr,
                                &out,
                            );
                        }
                        ir += MR;
                    }
                    jr += nr;
                }
                ic += mcb;
            }
            pc += kcb;
        }
        jc += ncb;
    }
}
