//! The public GEMM ([`GemmPlan`]) against a plain triple loop, at every SIMD level this CPU
//! supports: random shapes (m, n, k in 1..=70) with every transpose / accumulate / bias
//! combination (proptest, exact on small integers), sizes around the tile and block edges,
//! every activation, and the error cases.
//!
//! `CONVKIT_PROPTEST_CASES` raises the number of random cases (default 32).

use convkit_kernels::gemm::Blocking;
use convkit_kernels::simd::supported_levels;
use convkit_kernels::{Activation, Error, Gemm, GemmBias, GemmPlan, Level};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("CONVKIT_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
}

/// xorshift for matrix contents.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn small_int(&mut self) -> f32 {
        (self.next() % 17) as f32 - 8.0
    }
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

#[derive(Clone, Copy, Debug)]
enum BiasKind {
    None,
    Rows,
    Columns,
}

struct Problem {
    g: Gemm,
    a: Vec<f32>,
    b: Vec<f32>,
    c0: Vec<f32>,
    bias: Vec<f32>,
    kind: BiasKind,
}

impl Problem {
    fn new(g: Gemm, kind: BiasKind, seed: u64, ints: bool) -> Problem {
        let mut rng = Rng(seed | 1);
        let mut fill = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| if ints { rng.small_int() } else { rng.uniform() })
                .collect()
        };
        let (m, n, k) = (g.m(), g.n(), g.k());
        let a = fill(m * k);
        let b = fill(k * n);
        let c0 = fill(m * n);
        let bias = match kind {
            BiasKind::None => vec![],
            BiasKind::Rows => fill(m),
            BiasKind::Columns => fill(n),
        };
        Problem {
            g,
            a,
            b,
            c0,
            bias,
            kind,
        }
    }

    fn bias(&self) -> GemmBias<'_> {
        match self.kind {
            BiasKind::None => GemmBias::None,
            BiasKind::Rows => GemmBias::Rows(&self.bias),
            BiasKind::Columns => GemmBias::Columns(&self.bias),
        }
    }

    /// The naive triple loop in f64 (exact on small integers), and Σ|terms| per element.
    fn reference(&self, act: Activation) -> (Vec<f64>, Vec<f64>) {
        let g = &self.g;
        let (m, n, k) = (g.m(), g.n(), g.k());
        let mut want = vec![0.0; m * n];
        let mut mag = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let (mut s, mut t) = (0.0f64, 0.0f64);
                for p in 0..k {
                    let x = if g.is_transpose_a() {
                        self.a[p * m + i]
                    } else {
                        self.a[i * k + p]
                    } as f64;
                    let y = if g.is_transpose_b() {
                        self.b[j * k + p]
                    } else {
                        self.b[p * n + j]
                    } as f64;
                    s += x * y;
                    t += (x * y).abs();
                }
                if g.is_accumulate() {
                    s += self.c0[i * n + j] as f64;
                    t += (self.c0[i * n + j] as f64).abs();
                }
                match self.kind {
                    BiasKind::None => {}
                    BiasKind::Rows => s += self.bias[i] as f64,
                    BiasKind::Columns => s += self.bias[j] as f64,
                }
                want[i * n + j] = act.apply_reference(s);
                mag[i * n + j] = t;
            }
        }
        (want, mag)
    }

    fn run(&self, level: Level, act: Activation) -> Vec<f32> {
        let plan = GemmPlan::new(self.g, Some(level), act).unwrap();
        let mut scratch = vec![f32::NAN; plan.scratch_len()];
        let mut c = self.c0.clone();
        plan.run(&self.a, &self.b, &mut c, self.bias(), &mut scratch)
            .unwrap();
        // `B` packed once (NaN-filled buffers: anything unwritten shows) gives the same bits.
        let mut packed = vec![f32::NAN; plan.packed_b_len()];
        plan.pack_b(&self.b, &mut packed).unwrap();
        let mut scratch = vec![f32::NAN; plan.packed_b_scratch_len()];
        let mut again = self.c0.clone();
        plan.run_packed_b(&self.a, &packed, &mut again, self.bias(), &mut scratch)
            .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&again),
            bits(&c),
            "run_packed_b at {level}: {:?}",
            self.g
        );
        assert!(plan.pack_b(&self.b, &mut packed[1..]).is_err());
        assert!(plan
            .run_packed_b(&self.a, &packed[1..], &mut again, self.bias(), &mut scratch)
            .is_err());
        c
    }

    fn check(&self, level: Level, act: Activation, exact: bool) -> Result<(), String> {
        let got = self.run(level, act);
        let (want, mag) = self.reference(act);
        for (idx, (&g, &w)) in got.iter().zip(&want).enumerate() {
            let ok = if exact {
                g as f64 == w
            } else {
                (g as f64 - w).abs() <= 1e-5f64.max(1e-6 * mag[idx]) + 1e-6 * w.abs()
            };
            if !ok {
                return Err(format!(
                    "{level} {:?} {:?} {act:?}: element {idx} (row {}, col {}) got {g}, want {w}",
                    self.g,
                    self.kind,
                    idx / self.g.n(),
                    idx % self.g.n()
                ));
            }
        }
        Ok(())
    }
}

fn gemm(m: usize, n: usize, k: usize, ta: bool, tb: bool, acc: bool) -> Gemm {
    Gemm::new(m, n, k)
        .unwrap()
        .transpose_a(ta)
        .transpose_b(tb)
        .accumulate(acc)
}

const KINDS: [BiasKind; 3] = [BiasKind::None, BiasKind::Rows, BiasKind::Columns];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Every level, transpose/accumulate/bias combination, small integers: exact.
    #[test]
    fn matches_triple_loop_exactly_on_small_integers(
        m in 1usize..=70, n in 1usize..=70, k in 1usize..=70, seed in any::<u64>(),
    ) {
        for level in supported_levels() {
            for combo in 0..8 {
                let g = gemm(m, n, k, combo & 1 != 0, combo & 2 != 0, combo & 4 != 0);
                for kind in KINDS {
                    let p = Problem::new(g, kind, seed ^ combo as u64, true);
                    p.check(level, Activation::Identity, true).map_err(TestCaseError::fail)?;
                }
            }
        }
    }

    /// Uniform floats with ReLU / clamp fused: within max(1e-5, 1e-6·Σ|a·b|).
    #[test]
    fn matches_triple_loop_on_floats(
        m in 1usize..=70, n in 1usize..=70, k in 1usize..=300, seed in any::<u64>(),
        combo in 0usize..8, kind in 0usize..3,
    ) {
        for level in supported_levels() {
            let g = gemm(m, n, k, combo & 1 != 0, combo & 2 != 0, combo & 4 != 0);
            let p = Problem::new(g, KINDS[kind], seed, false);
            for act in [Activation::Relu, Activation::Clamp { min: -0.5, max: 0.75 }] {
                p.check(level, act, false).map_err(TestCaseError::fail)?;
            }
        }
    }
}

/// Sizes around every tile and block edge of each level's blocking (`mr`, `nr`, `kc`, `mc`,
/// the unroll by 4), exact on small integers.
#[test]
fn tile_and_block_edges_are_exact() {
    for level in supported_levels() {
        let bl = Blocking::for_level(level);
        let (mr, nr) = (bl.mr, bl.nr());
        let ms = [1, mr - 1, mr, mr + 1, bl.mc - 1, bl.mc + mr + 1];
        let ns = [1, nr - 1, nr, nr + 1, 2 * nr + 3];
        let ks = [1, 3, 4, 5, bl.kc, bl.kc + 1, 2 * bl.kc + 3];
        for (i, &m) in ms.iter().enumerate() {
            for (j, &n) in ns.iter().enumerate() {
                for (l, &k) in ks.iter().enumerate() {
                    let combo = (i + j + l) % 8;
                    let g = gemm(m, n, k, combo & 1 != 0, combo & 2 != 0, combo & 4 != 0);
                    let kind = KINDS[(i * 7 + j * 3 + l) % 3];
                    let p = Problem::new(g, kind, (i * 100 + j * 10 + l) as u64, true);
                    p.check(level, Activation::Identity, true).unwrap();
                }
            }
        }
    }
}

/// A column block wider than the public GEMM's `gemm_nc` (several `B` blocks) stays exact.
#[test]
fn several_column_blocks_are_exact() {
    for level in supported_levels() {
        let bl = Blocking::for_level(level);
        let g = gemm(7, bl.gemm_nc + 5, 9, false, true, true);
        let p = Problem::new(g, BiasKind::Columns, 42, true);
        p.check(level, Activation::Relu, true).unwrap();
    }
}

#[test]
fn every_activation_is_fused() {
    let acts = [
        Activation::Identity,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Clamp {
            min: -0.25,
            max: 0.5,
        },
    ];
    for level in supported_levels() {
        for act in acts {
            for kind in KINDS {
                let p = Problem::new(gemm(13, 37, 29, false, false, false), kind, 7, false);
                p.check(level, act, false).unwrap();
            }
        }
    }
}

#[test]
fn bad_shapes_and_lengths_are_errors() {
    assert!(matches!(
        Gemm::new(0, 1, 1),
        Err(Error::ZeroDimension { .. })
    ));
    assert!(matches!(
        Gemm::new(1, 0, 1),
        Err(Error::ZeroDimension { .. })
    ));
    assert!(matches!(
        Gemm::new(1, 1, 0),
        Err(Error::ZeroDimension { .. })
    ));
    assert!(matches!(
        Gemm::new(usize::MAX, 2, 2),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(
        Gemm::new(1 << 40, 1 << 40, 1),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(
        GemmPlan::new(
            Gemm::new(2, 2, 2).unwrap(),
            None,
            Activation::Clamp { min: 1.0, max: 0.0 }
        ),
        Err(Error::InvalidParameter { .. })
    ));
    for level in Level::ALL {
        if !level.is_supported() {
            assert!(matches!(
                GemmPlan::new(
                    Gemm::new(2, 2, 2).unwrap(),
                    Some(level),
                    Activation::Identity
                ),
                Err(Error::UnsupportedSimdLevel { .. })
            ));
        }
    }

    let (m, n, k) = (3, 5, 4);
    let plan = GemmPlan::new(Gemm::new(m, n, k).unwrap(), None, Activation::Identity).unwrap();
    let a = vec![1.0; m * k];
    let b = vec![1.0; k * n];
    let mut c = vec![0.0; m * n];
    let mut s = vec![0.0; plan.scratch_len()];
    let bias_m = vec![0.0; m];
    let bias_n = vec![0.0; n];
    let len_err = |r: Result<(), Error>, what: &str| match r {
        Err(Error::LengthMismatch { what: w, .. }) => assert_eq!(w, what),
        other => panic!("expected a length error for {what}, got {other:?}"),
    };
    len_err(plan.run(&a[1..], &b, &mut c, GemmBias::None, &mut s), "a");
    len_err(plan.run(&a, &b[1..], &mut c, GemmBias::None, &mut s), "b");
    len_err(plan.run(&a, &b, &mut c[1..], GemmBias::None, &mut s), "c");
    let mut short = vec![0.0; plan.scratch_len() - 1];
    len_err(
        plan.run(&a, &b, &mut c, GemmBias::None, &mut short),
        "scratch",
    );
    len_err(
        plan.run(&a, &b, &mut c, GemmBias::Rows(&bias_n), &mut s),
        "bias",
    );
    len_err(
        plan.run(&a, &b, &mut c, GemmBias::Columns(&bias_m), &mut s),
        "bias",
    );
    plan.run(&a, &b, &mut c, GemmBias::Rows(&bias_m), &mut s)
        .unwrap();
    assert!(c.iter().all(|&x| x == k as f32));
    // A longer scratch is fine.
    let mut long = vec![0.0; plan.scratch_len() + 10];
    plan.run(&a, &b, &mut c, GemmBias::Columns(&bias_n), &mut long)
        .unwrap();
}
