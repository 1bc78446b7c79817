//! Lowering of `nn.conv_transpose` to a gather-form kernel
//! ([`ConvTranspose`]): each output element sums the products that the
//! reference's scatter adds into it.
//!
//! The reference scatters input elements in row-major order (batch,
//! channel, spatial position) and, per input element, kernel positions in
//! row-major order. For one output element at position `p` of spatial dim
//! `d`, the input position `i` and kernel position `k` that reach it
//! satisfy `i * stride + k * dilation - begin = p`: at most one `k` per
//! `i`, and `i` grows as `k` shrinks. So the reference adds, in order:
//! the channels of the group ascending, then the reaching input positions
//! ascending row-major, i.e. the kernel positions *descending* in each
//! dim, keeping those where `q = p + begin - k * dilation` is a multiple
//! of the stride and `q / stride` is inside the input.
//!
//! Invariants: the attributes are checked as the reference does (one
//! entry per spatial dim, strides and dilations >= 1, pads of any sign,
//! groups dividing the input channels); the sum starts at +0.0 (the
//! reference's zeroed output), accumulates f64 products in the order
//! above, and rounds once: bit-identical.

use super::kernel::{row_major, Access, Part};
use super::lower::{arg, int_attr, ints_attr, Operand};

/// A transposed convolution in gather form. The outer nest iterates
/// `outer` = `[batch, groups, out channels per group, out spatial..]` with
/// `x`, `w` and `out`; `w` starts at the last kernel position. Per output
/// element: for each of the `cg` input channels of the group (strides
/// `x_channel`, `w_channel`), for the kernel positions of each spatial dim
/// descending (`w_kernel` strides), with `q = start + position - k *
/// dilation`, read `x` at `q / stride` when `q` is a multiple of `stride`
/// and `q / stride < limit` (`x_spatial` strides).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConvTranspose {
    pub outer: Vec<u64>,
    pub x: Access,
    pub w: Access,
    pub out: Access,
    pub cg: u64,
    pub x_channel: i64,
    pub w_channel: i64,
    /// Per spatial dim: `begin - (kernel - 1) * dilation` (the `q` of
    /// output position 0 at the last kernel position).
    pub starts: Vec<i64>,
    pub kernel: Vec<u64>,
    pub w_kernel: Vec<i64>,
    pub dilations: Vec<i64>,
    pub strides: Vec<i64>,
    pub limits: Vec<u64>,
    pub x_spatial: Vec<i64>,
}

pub(crate) fn conv_transpose(op: &weft_ir::OpData, ins: &[Operand], out: &Operand) -> Result<Part, String> {
    let (x, w) = (arg(ins, 0)?, arg(ins, 1)?);
    let rank = x.shape.len();
    if rank < 3 || w.shape.len() != rank || out.shape.len() != rank {
        return Err("input, weight and result must have one rank >= 3".into());
    }
    if !x.st.is_float() || w.st != x.st || out.st != x.st {
        return Err(format!("cannot convolve {} with {} to {}", x.elem, w.elem, out.elem));
    }
    let n = rank - 2;
    let list = |name: &str, len: usize, min: i64| -> Result<Vec<i64>, String> {
        let v = ints_attr(op, name)?;
        if v.len() != len || v.iter().any(|&e| e < min) {
            return Err(format!("'{name}' needs {len} entries >= {min}"));
        }
        Ok(v)
    };
    let (strides, dilations, pads) = (list("strides", n, 1)?, list("dilations", n, 1)?, list("pads", 2 * n, i64::MIN)?);
    let groups = u64::try_from(int_attr(op, "groups")?).ok().filter(|&g| g >= 1).ok_or("'groups' must be >= 1")?;
    let (batch, channels, mg) = (x.shape[0], x.shape[1], w.shape[1]);
    let fits = channels % groups == 0
        && w.shape[0] == channels
        && out.shape[0] == batch
        && Some(out.shape[1]) == mg.checked_mul(groups);
    if !fits {
        return Err(format!("shapes {:?} and {:?} do not transpose-convolve to {:?}", x.shape, w.shape, out.shape));
    }
    let cg = channels / groups;
    let (xs, ws, os) = (row_major(&x.shape), row_major(&w.shape), row_major(&out.shape));
    let mut outer = vec![batch, groups, mg];
    outer.extend_from_slice(&out.shape[2..]);
    let lead = |v: [i64; 3]| -> Vec<i64> { v.into_iter().chain(vec![0; n]).collect() };
    let last_kernel: i64 = (0..n).map(|i| (w.shape[i + 2] as i64 - 1).max(0) * ws[i + 2]).sum();
    let mut o_strides = vec![os[0], mg as i64 * os[1], os[1]];
    o_strides.extend_from_slice(&os[2..]);
    let mut starts = Vec::with_capacity(n);
    for i in 0..n {
        let k = w.shape[i + 2] as i64;
        let reach = (k - 1).max(0).checked_mul(dilations[i]).ok_or("the kernel's reach overflows")?;
        starts.push(pads[i].checked_sub(reach).ok_or("the padding overflows")?);
        strides[i].checked_mul(x.shape[i + 2] as i64).ok_or("the input's extent overflows")?;
    }
    Ok(Part::ConvTranspose(Box::new(ConvTranspose {
        outer,
        x: Access { place: x.place, st: x.st, base: 0, strides: lead([xs[0], cg as i64 * xs[1], 0]) },
        w: Access { place: w.place, st: w.st, base: last_kernel, strides: lead([0, cg as i64 * ws[0], ws[1]]) },
        out: Access { place: out.place, st: out.st, base: 0, strides: o_strides },
        cg,
        x_channel: xs[1],
        w_channel: ws[0],
        starts,
        kernel: w.shape[2..].to_vec(),
        w_kernel: ws[2..].to_vec(),
        dilations,
        strides,
        limits: x.shape[2..].to_vec(),
        x_spatial: xs[2..].to_vec(),
    })))
}
