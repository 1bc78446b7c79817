//! Run-time kernels of `quant.softmax` and `quant.layer_norm` that work
//! lane by lane on the run's buffers instead of building tensors: each
//! calls the ideal semantics' own functions (`QuantView::dequantize`,
//! `ideal::normalize`, `quantize_value`) in the reference's order, so the
//! results are the interpreter's bits. Softmax computes each exponential
//! once (the reference computes it for the sum and again for the
//! quotient; `exp` is deterministic, so the values are the same).
//!
//! Invariants: built only for shapes and types lowering checked (result
//! of the input's shape, layer-norm parameters that vary only along the
//! normalized dims); reads and writes only its buffers' places.

use super::lower::Operand;
use super::lower_qgemm::{read_int, write_int};
use super::quant_runtime::{Buf, RuntimeOp};
use super::storage;
use std::sync::Mutex;
use weft_ir::ops::quant::common::qrange;
use weft_ir::ops::quant::nonlinear::ideal::{normalize, QuantView};
use weft_ir::ops::shape::normalize_axis;
use weft_ir::types::QuantParams;
use weft_ir::{ElemType, OpData, Tensor};

fn buf(x: &Operand) -> Buf {
    Buf { place: x.place, st: x.st, elem: x.elem.clone(), shape: x.shape.clone() }
}

/// `quant.softmax` along one axis: lanes of `n` elements `inner` apart.
#[derive(Debug)]
pub(crate) struct Softmax {
    x: Buf,
    out: Buf,
    outer: usize,
    n: usize,
    inner: usize,
    lane: Mutex<Vec<f64>>,
}

impl Softmax {
    pub fn new(op: &OpData, x: &Operand, out: &Operand) -> Result<Softmax, String> {
        let axis = normalize_axis(super::lower::int_attr(op, "axis")?, x.shape.len())?;
        check_views(x, out)?;
        let n = x.shape.get(axis).copied().unwrap_or(1) as usize;
        Ok(Softmax {
            x: buf(x),
            out: buf(out),
            outer: x.shape[..axis].iter().product::<u64>() as usize,
            n,
            inner: x.shape[axis + 1..].iter().product::<u64>() as usize,
            lane: Mutex::new(Vec::with_capacity(n)),
        })
    }
}

/// Both are `!quant.int` tensors of one shape whose views the ideal
/// semantics can build.
fn check_views(x: &Operand, out: &Operand) -> Result<(), String> {
    if x.shape != out.shape {
        return Err(format!("the result shape {:?} differs from the input's {:?}", out.shape, x.shape));
    }
    for (e, what) in [(&x.elem, "the input"), (&out.elem, "the result")] {
        if QuantView::new(e, &x.shape).is_none() {
            return Err(format!("{what} must be a !quant.int tensor, got {e}"));
        }
    }
    Ok(())
}

fn view<'e>(b: &'e Buf) -> Result<Scaled<'e>, String> {
    let view = QuantView::new(&b.elem, &b.shape).ok_or("internal error: not a quantized tensor")?;
    let fixed = match &b.elem {
        ElemType::Quant(q) if q.width <= 32 => match q.params {
            QuantParams::PerTensor { scale, zp } => {
                let (lo, hi) = qrange(q.width, q.signed);
                Some(PerTensor { scale, zp, zp_f: zp as f64, lo: lo as f64, hi: hi as f64, nan: zp.clamp(lo, hi) })
            }
            QuantParams::PerChannel { .. } => None,
        },
        _ => None,
    };
    Ok(Scaled { view, fixed })
}

/// The parameters of a per-tensor type, hoisted out of the element loop.
struct PerTensor {
    scale: f64,
    zp: i64,
    zp_f: f64,
    lo: f64,
    hi: f64,
    nan: i64,
}

/// [`QuantView`]'s `dequantize` and `quantize`, the same operations with
/// per-tensor parameters read once.
struct Scaled<'e> {
    view: QuantView<'e>,
    fixed: Option<PerTensor>,
}

impl Scaled<'_> {
    #[inline]
    fn dequantize(&self, i: usize, q: i64) -> f64 {
        match &self.fixed {
            Some(p) => (q as f64 - p.zp as f64) * p.scale,
            None => self.view.dequantize(i, q),
        }
    }

    /// `quantize_value`: `round_half_even(y / scale) + zp` saturated, NaN
    /// gives the clamped zero point.
    #[inline]
    fn quantize(&self, i: usize, y: f64) -> i64 {
        let Some(p) = &self.fixed else { return self.view.quantize(i, y) };
        if y.is_nan() {
            return p.nan;
        }
        let r = round_ties_even(y / p.scale) + p.zp_f;
        r.clamp(p.lo, p.hi) as i64
    }
}

/// `x.round_ties_even()` without a library call: below `2^52` adding and
/// subtracting `2^52` (with `x`'s sign) rounds to an integer, ties to
/// even, in the default rounding mode; larger magnitudes, infinities and
/// NaN are returned as they are (already integers, or not numbers). Only
/// the sign of a zero result may differ, which adding the zero point
/// (`+0.0` or an integer) and converting make irrelevant.
#[inline]
fn round_ties_even(x: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    if x.abs() < TWO_52 {
        let t = TWO_52.copysign(x);
        (x + t) - t
    } else {
        x
    }
}

impl RuntimeOp for Softmax {
    unsafe fn run(&self, table: *const *mut u8) -> Result<(), String> {
        // SAFETY: planned places of the described sizes; the result is an
        // arena place the input does not overlap.
        let (src, dst) = unsafe { (self.x.bytes(table), self.out.bytes_mut(table)) };
        let (vx, vy) = (view(&self.x)?, view(&self.out)?);
        let mut lane = self.lane.lock().map_err(|_| "internal error: the softmax lane is poisoned")?;
        for o in 0..self.outer {
            for j in 0..self.inner {
                let at = |k: usize| (o * self.n + k) * self.inner + j;
                lane.clear();
                lane.extend((0..self.n).map(|k| vx.dequantize(at(k), read_int(src, self.x.st, at(k)))));
                let max = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                lane.iter_mut().for_each(|x| *x = (*x - max).exp());
                let sum: f64 = lane.iter().sum();
                for (k, e) in lane.iter().enumerate() {
                    write_int(dst, self.out.st, at(k), vy.quantize(at(k), e / sum));
                }
            }
        }
        Ok(())
    }
}

/// `quant.layer_norm` over trailing blocks of `inner` elements, with the
/// scale and bias read at each position of the block.
#[derive(Debug)]
pub(crate) struct LayerNorm {
    x: Buf,
    scale: Buf,
    bias: Buf,
    out: Buf,
    inner: usize,
    eps: f64,
    /// For each position of a block, the element of `scale` and `bias`.
    at_scale: Vec<usize>,
    at_bias: Vec<usize>,
    lane: Mutex<Vec<f64>>,
}

impl LayerNorm {
    /// `None` when a parameter varies outside the normalized dims (the
    /// caller then runs the reference `eval`).
    pub fn new(op: &OpData, ins: &[Operand], out: &Operand) -> Result<Option<LayerNorm>, String> {
        let (x, scale, bias) = (super::lower::arg(ins, 0)?, super::lower::arg(ins, 1)?, super::lower::arg(ins, 2)?);
        check_views(x, out)?;
        let axis = normalize_axis(super::lower::int_attr(op, "axis")?, x.shape.len())?;
        let eps = op.attr("epsilon").and_then(|a| a.as_float()).ok_or("attribute 'epsilon' must be a float")?;
        let inner_shape = &x.shape[axis..];
        let (Some(at_scale), Some(at_bias)) =
            (block_index(&scale.shape, &x.shape, axis), block_index(&bias.shape, &x.shape, axis))
        else {
            return Ok(None);
        };
        if !scale.st.is_float() || !bias.st.is_float() {
            return Err("scale and bias must be float tensors".into());
        }
        let inner = inner_shape.iter().product::<u64>() as usize;
        Ok(Some(LayerNorm {
            x: buf(x),
            scale: buf(scale),
            bias: buf(bias),
            out: buf(out),
            inner,
            eps,
            at_scale,
            at_bias,
            lane: Mutex::new(Vec::with_capacity(inner)),
        }))
    }
}

/// For each position of a trailing block (dims `axis..` of `out`), the
/// element of a parameter of `shape` broadcast to `out`; `None` when the
/// parameter moves along a dim before `axis` (or does not broadcast).
fn block_index(shape: &[u64], out: &[u64], axis: usize) -> Option<Vec<usize>> {
    super::lower::check_broadcast(shape, out).ok()?;
    let pad = out.len() - shape.len();
    let own = super::kernel::row_major(shape);
    let strides: Vec<i64> = (0..out.len())
        .map(|d| match d.checked_sub(pad) {
            Some(i) if shape[i] != 1 => own[i],
            _ => 0,
        })
        .collect();
    if strides[..axis].iter().any(|&s| s != 0) {
        return None;
    }
    let block = &out[axis..];
    let count = block.iter().product::<u64>();
    let mut idx = vec![0u64; block.len()];
    Some(
        (0..count)
            .map(|t| {
                weft_ir::ops::eval::unflatten(t, block, &mut idx);
                idx.iter().zip(&strides[axis..]).map(|(&i, &s)| i as i64 * s).sum::<i64>() as usize
            })
            .collect(),
    )
}

/// The values of a float buffer as f64.
fn floats(b: &Buf, bytes: &[u8]) -> Vec<f64> {
    let t: Tensor = storage::read_tensor(&b.elem, &b.shape, b.st, bytes);
    (0..t.data.len()).map(|i| weft_ir::ops::eval::as_f64(t.data.get(i))).collect()
}

impl RuntimeOp for LayerNorm {
    unsafe fn run(&self, table: *const *mut u8) -> Result<(), String> {
        // SAFETY: as in `Softmax::run`.
        let (src, dst) = unsafe { (self.x.bytes(table), self.out.bytes_mut(table)) };
        // SAFETY: as above (operands are not written).
        let (scale, bias) =
            unsafe { (floats(&self.scale, self.scale.bytes(table)), floats(&self.bias, self.bias.bytes(table))) };
        let (vx, vy) = (view(&self.x)?, view(&self.out)?);
        let mut lane = self.lane.lock().map_err(|_| "internal error: the layer-norm lane is poisoned")?;
        let total = self.x.shape.iter().product::<u64>() as usize;
        for start in (0..total).step_by(self.inner.max(1)) {
            lane.clear();
            lane.extend((start..start + self.inner).map(|i| vx.dequantize(i, read_int(src, self.x.st, i))));
            normalize(&mut lane, self.inner, self.eps);
            for (p, v) in lane.iter().enumerate() {
                let s = scale.get(self.at_scale[p]).copied().unwrap_or(0.0);
                let b = bias.get(self.at_bias[p]).copied().unwrap_or(0.0);
                write_int(dst, self.out.st, start + p, vy.quantize(start + p, v * s + b));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::round_ties_even;

    #[test]
    fn rounding_matches_the_library_ties_to_even() {
        let mut values = vec![0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 4503599627370495.5];
        values.extend([1e300, -1e300, f64::INFINITY, f64::NEG_INFINITY, 2f64.powi(52) + 1.0, -0.0, 3.0]);
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            values.push(f64::from_bits(s) % 1e6);
            values.push((s % 2001) as f64 / 4.0 - 250.0);
        }
        for x in values.into_iter().filter(|x| !x.is_nan()) {
            // Equal values (a zero's sign aside: callers add the zero point).
            assert_eq!(round_ties_even(x) + 0.0, x.round_ties_even() + 0.0, "{x}");
        }
        assert!(round_ties_even(f64::NAN).is_nan());
    }
}
