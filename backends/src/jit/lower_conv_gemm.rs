//! f32 convolutions as matrix products (im2col): a direct [`Conv`] whose
//! reads are all inside the input (no padding: a ViT patch embedding, most
//! strided convs) and whose weight is a constant becomes three parts:
//!
//! 1. `patches[b, g, p, ck]` = the input element output position `p` of
//!    group `g` reads for input channel and kernel position `ck`, widened
//!    to f64 (a map into the kernel's temporaries);
//! 2. `prod[b, g] = patches[b, g] x w_g^T` in f64 by the matmul runtime
//!    (`P x CK` times `CK x MG`), the weight packed once at compile time;
//! 3. `out[b, g * MG + m, p]` = `prod[b, g, p, m]` rounded to f32 (a map).
//!
//! Bit-exact with the reference: it sums `x * w` over input channels,
//! then kernel positions row-major, in f64 from `+0.0`, rounding once.
//! The product of two f32 values is exact in f64, so each reference step
//! `sum += x * w` equals the runtime's `fma(x, w, sum)` in f64, and `ck`
//! runs over channels then kernel positions in that order.
//!
//! Invariant: anything else (padding, f64 or computed weights, a weight
//! layout other than row-major) keeps the direct convolution.

use super::gemm::Isa;
use super::kernel::{row_major, Access, Conv, Expr, Gemm, Part, TEMP_SLOT};
use super::plan::Place;
use super::storage::Storage;

/// The parts computing `part`: the im2col form when it applies, else
/// `part` itself.
pub(crate) fn conv(part: Part) -> Vec<Part> {
    match part {
        Part::Conv(c) if applies(&c) => im2col(&c),
        other => vec![other],
    }
}

fn applies(c: &Conv) -> bool {
    let kernel_count: u64 = c.kernel.iter().product();
    let f32s = [&c.x, &c.w, &c.out].iter().all(|a| a.st == Storage::F32);
    let weight_row_major = c.w_channel == kernel_count as i64 && c.w_kernel == row_major(&c.kernel);
    c.in_bounds && f32s && c.w.place.slot != 0 && weight_row_major && c.outer.len() >= 3 && c.x.strides.len() >= 3
}

fn im2col(c: &Conv) -> Vec<Part> {
    let spatial = &c.outer[3..];
    let (batch, groups, mg) = (c.outer[0], c.outer[1], c.outer[2]);
    let p: u64 = spatial.iter().product();
    let ck = c.cg * c.kernel.iter().product::<u64>();
    let temp = |offset: u64, strides: Vec<i64>| Access {
        place: Place { slot: TEMP_SLOT, offset },
        st: Storage::F64,
        base: 0,
        strides,
    };
    // 1. patches, [batch, groups, spatial.., cg, kernel..] row-major.
    let shape: Vec<u64> = [batch, groups].iter().chain(spatial).chain([&c.cg]).chain(&c.kernel).copied().collect();
    let x_strides = [c.x.strides[0], c.x.strides[1]]
        .into_iter()
        .chain(c.x.strides[3..].iter().copied())
        .chain([c.x_channel])
        .chain(c.x_kernel.iter().copied())
        .collect();
    let x = Access { strides: x_strides, ..c.x.clone() };
    let patches = temp(0, row_major(&shape));
    let widen = Expr::Cast { from: Storage::F32, to: Storage::F64, x: Box::new(Expr::Input(0)) };
    let gather = Part::Map { shape, out: patches, inputs: vec![x], expr: widen };
    // 2. prod[b, g] = patches[b, g] (p x ck) times w_g^T (ck x mg).
    let prod_at = (batch * groups * p * ck * 8).next_multiple_of(64);
    let (pk, pm) = ((p * ck) as i64, (p * mg) as i64);
    let filter = c.w.strides[2];
    let product = Gemm {
        batch: vec![batch, groups],
        a: temp(0, vec![groups as i64 * pk, pk]),
        b: Access { strides: vec![0, c.w.strides[1]], ..c.w.clone() },
        c: temp(prod_at, vec![groups as i64 * pm, pm]),
        m: p,
        n: mg,
        k: ck,
        b_strides: [1, filter],
        isa: Isa::host(),
        packed_b: false,
        scratch: Place { slot: 0, offset: 0 },
    };
    // 3. out[b, g, m, spatial..] = prod[b, g, p(spatial..), m] as f32.
    let from_prod: Vec<i64> =
        [groups as i64 * pm, pm, 1].into_iter().chain(row_major(spatial).into_iter().map(|s| s * mg as i64)).collect();
    let narrow = Expr::Cast { from: Storage::F64, to: Storage::F32, x: Box::new(Expr::Input(0)) };
    let scatter =
        Part::Map { shape: c.outer.clone(), out: c.out.clone(), inputs: vec![temp(prod_at, from_prod)], expr: narrow };
    vec![gather, Part::Gemm(Box::new(product)), scatter]
}
