//! Lowering of `nn.conv` to a direct-convolution kernel ([`Conv`]).
//!
//! Invariants: the attributes are checked as the reference does (one entry
//! per spatial dim, strides and dilations >= 1, pads >= 0, groups dividing
//! the channels); the kernel sums in the reference's order (input channel,
//! then kernel position row-major), so the result is bit-identical.

use super::kernel::{row_major, Access, Conv, Part};
use super::lower::{arg, int_attr, ints_attr, Operand};

pub(crate) fn conv(op: &weft_ir::OpData, ins: &[Operand], out: &Operand) -> Result<Part, String> {
    let (x, w) = (arg(ins, 0)?, arg(ins, 1)?);
    let rank = x.shape.len();
    if rank < 3 || w.shape.len() != rank || out.shape.len() != rank {
        return Err("input, weight and result must have one rank >= 3".into());
    }
    let n = rank - 2;
    let list = |name: &str, len: usize, min: i64| -> Result<Vec<i64>, String> {
        let v = ints_attr(op, name)?;
        if v.len() != len || v.iter().any(|&e| e < min) {
            return Err(format!("'{name}' needs {len} entries >= {min}"));
        }
        Ok(v)
    };
    let (strides, dilations, pads) = (list("strides", n, 1)?, list("dilations", n, 1)?, list("pads", 2 * n, 0)?);
    let groups = u64::try_from(int_attr(op, "groups")?).ok().filter(|&g| g >= 1).ok_or("'groups' must be >= 1")?;
    let (batch, channels, m, cg) = (x.shape[0], x.shape[1], w.shape[0], w.shape[1]);
    if m % groups != 0 || cg * groups != channels || out.shape[0] != batch || out.shape[1] != m {
        return Err(format!("shapes {:?} and {:?} do not convolve to {:?}", x.shape, w.shape, out.shape));
    }
    let mg = m / groups;
    let (xs, ws, os) = (row_major(&x.shape), row_major(&w.shape), row_major(&out.shape));
    let spatial_out = &out.shape[2..];
    let mut outer = vec![batch, groups, mg];
    outer.extend_from_slice(spatial_out);
    let lead = |v: [i64; 3], spatial: Vec<i64>| -> Vec<i64> { v.into_iter().chain(spatial).collect() };
    let x_strides = lead([xs[0], cg as i64 * xs[1], 0], (0..n).map(|i| strides[i] * xs[i + 2]).collect());
    let w_strides = lead([0, mg as i64 * ws[0], ws[0]], vec![0; n]);
    let o_strides = lead([os[0], mg as i64 * os[1], os[1]], os[2..].to_vec());
    let begin_offset: i64 = (0..n).map(|i| pads[i] * xs[i + 2]).sum();
    let positions = (0..n)
        .map(|i| {
            let mut s = vec![0i64; 3 + n];
            s[3 + i] = strides[i];
            (-pads[i], s)
        })
        .collect();
    let in_bounds = (0..n).all(|i| {
        let last = (spatial_out[i] as i64 - 1) * strides[i] + (w.shape[i + 2] as i64 - 1) * dilations[i] - pads[i];
        pads[i] == 0 && last < x.shape[i + 2] as i64
    });
    let pos_kernel = (0..n)
        .map(|i| {
            let mut s = vec![0i64; n];
            s[i] = dilations[i];
            s
        })
        .collect();
    Ok(Part::Conv(Box::new(Conv {
        outer,
        x: Access { place: x.place, st: x.st, base: -begin_offset, strides: x_strides },
        w: Access { place: w.place, st: w.st, base: 0, strides: w_strides },
        out: Access { place: out.place, st: out.st, base: 0, strides: o_strides },
        positions,
        cg,
        x_channel: xs[1],
        w_channel: ws[1],
        kernel: w.shape[2..].to_vec(),
        x_kernel: (0..n).map(|i| dilations[i] * xs[i + 2]).collect(),
        w_kernel: ws[2..].to_vec(),
        pos_kernel,
        limits: x.shape[2..].to_vec(),
        in_bounds,
    })))
}
