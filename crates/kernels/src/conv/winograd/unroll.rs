//! Compile-time unrolling for the transforms: the tile size is a constant of each kernel
//! instantiation, so `unroll8!(i < T::ALPHA, { … })` becomes straight-line code with constant
//! indices, every transform coefficient a folded constant and every zero coefficient gone.
//! (A plain `for` over 0..α of nested loops with coefficient branches is left rolled by LLVM.)

/// Runs `body` with `$i` bound to each constant `0..8` below `$n`.
macro_rules! unroll8 {
    ($i:ident < $n:expr, $body:block) => {{
        unroll8!(@one $i, 0, $n, $body);
        unroll8!(@one $i, 1, $n, $body);
        unroll8!(@one $i, 2, $n, $body);
        unroll8!(@one $i, 3, $n, $body);
        unroll8!(@one $i, 4, $n, $body);
        unroll8!(@one $i, 5, $n, $body);
        unroll8!(@one $i, 6, $n, $body);
        unroll8!(@one $i, 7, $n, $body);
    }};
    (@one $i:ident, $v:expr, $n:expr, $body:block) => {{
        #[allow(clippy::identity_op, clippy::erasing_op)]
        let $i: usize = $v;
        if $i < $n $body
    }};
}
pub(crate) use unroll8;
