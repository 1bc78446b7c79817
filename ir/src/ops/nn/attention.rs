//! `nn.attention`: scaled dot-product attention as one op,
//! `softmax(scale(q @ kt) + mask) @ v`, and [`expand`], its decomposition
//! into the nn ops it stands for.
//!
//! Invariants: the op means exactly its decomposition: [`eval_attention`]
//! calls the reference semantics of `nn.matmul`, `nn.div` or `nn.mul`,
//! `nn.add`, `nn.softmax` (last axis) and `nn.matmul` in that order, and
//! [`expand`] builds those ops with the same operands, so a fused program,
//! its expansion and the program it was fused from compute the same bits.
//! Shape inference is the composition of those ops' inference, with the
//! one extra condition that no operand widens an intermediate (the scale
//! is a scalar, the mask broadcasts to the scores without changing them).

use super::arith::{ADD, DIV, MUL, ONE_RESULT};
use super::common::{choice_attr, float_attr, float_operand, one, same_elem};
use super::linalg::MATMUL;
use super::norm::SOFTMAX;
use crate::attr::{Attribute, DenseAttr};
use crate::location::Location;
use crate::location::Span;
use crate::module::{Attrs, Function, NewOp};
use crate::module::{Op, Value};
use crate::ops::builtin;
use crate::ops::eval::round_to;
use crate::ops::shape::{broadcast_shapes, matmul_shape};
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use crate::tensor::{Scalar, Tensor};
use crate::types::{ElemType, TensorType, Type};

/// How the scale is applied to the scores: `x / scale` and `x * scale`
/// round differently, so the op keeps the exported form.
const SCALE_OPS: &[&str] = &["mul", "div"];

pub const ATTENTION: OpDef = OpDef {
    name: "nn.attention",
    summary: "Scaled dot-product attention softmax(scale(q @ kt) + mask) @ v",
    description: "Operands: queries `q` `[..., S, D]`, keys already transposed `kt` \
`[..., D, T]`, values `v` `[..., T, Dv]` and an optional additive `mask` that broadcasts to \
the scores' shape `[..., S, T]` without changing it; one float element type. The result is \
`[..., S, Dv]`; batch dims broadcast as in `nn.matmul`.\n\n\
The op is defined as exactly this sequence of nn ops, with their rounding (so a fused program \
computes the bits of the decomposition it replaces, and the `expand-attention` pass writes it \
back):\n\n\
1. `scores = nn.matmul q, kt`\n\
2. `scaled = nn.div scores, c` when `scale_op = \"div\"`, `nn.mul scores, c` when \
`scale_op = \"mul\"` (the default), where `c` is the scalar constant `scale` rounded to the \
element type (exporters write `x / sqrt(D)` or `x * (1 / sqrt(D))`, which round differently)\n\
3. `masked = nn.add scaled, mask` (only with a mask)\n\
4. `probs = nn.softmax masked {axis = -1}`\n\
5. `result = nn.matmul probs, v`\n\n\
`scale` is finite, and non-zero with `div`. `fuse` builds the op from exported graphs; the \
JIT and `prepare-quant` expand it.\n\n\
```\n%4 = nn.attention %0, %1, %2, %3 {scale = 8.0, scale_op = \"div\"} : (tensor<1x2x16x32xf32>, \
tensor<1x2x32x16xf32>, tensor<1x2x16x32xf32>, tensor<1x1x1x16xf32>) -> tensor<1x2x16x32xf32>\n```",
    operands: Arity::Variadic { name: "q, kt, v, mask", min: 3 },
    results: ONE_RESULT,
    attrs: &[
        AttrSpec { name: "scale", kind: AttrKind::Float, required: true, doc: "the constant the scores are scaled by" },
        AttrSpec {
            name: "scale_op",
            kind: AttrKind::Str,
            required: false,
            doc: "\"mul\" (default): scores * scale; \"div\": scores / scale",
        },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_attention),
    eval: Some(eval_attention),
    ..OpDef::DEFAULT
};

/// The scale and whether it divides.
fn scale_of(attrs: &Attrs) -> Result<(f64, bool), String> {
    let divides = choice_attr(attrs, "scale_op", SCALE_OPS)? == "div";
    let scale = float_attr(attrs, "scale", f64::NAN)?;
    if !scale.is_finite() {
        return Err(format!("'scale' must be finite, got {scale}"));
    }
    if divides && scale == 0.0 {
        return Err("'scale' must not be 0 with scale_op = \"div\"".into());
    }
    Ok((scale, divides))
}

fn infer_attention(info: &OpInfo) -> Result<Vec<Type>, String> {
    let n = info.operand_types.len();
    if !(3..=4).contains(&n) {
        return Err(format!("takes q, kt, v and an optional mask, got {n} operands"));
    }
    scale_of(info.attrs)?;
    let q = float_operand(info, 0)?;
    let mut operands = vec![q];
    for i in 1..n {
        let t = float_operand(info, i)?;
        same_elem(q, t)?;
        operands.push(t);
    }
    let scores = matmul_shape(&q.dims, &operands[1].dims).map_err(|e| format!("q @ kt: {e}"))?;
    if let Some(mask) = operands.get(3) {
        if broadcast_shapes(&scores, &mask.dims).ok().as_ref() != Some(&scores) {
            let scores = TensorType::new(scores, q.elem.clone());
            return Err(format!("the mask of type {mask} does not broadcast to the scores' type {scores}"));
        }
    }
    let out = matmul_shape(&scores, &operands[2].dims).map_err(|e| format!("probabilities @ v: {e}"))?;
    Ok(one(out, q.elem.clone()))
}

/// The scale as the scalar constant the decomposition uses.
fn scale_tensor(elem: &ElemType, scale: f64) -> Tensor {
    Tensor::from_fn(elem.clone(), Vec::new(), |_| Scalar::Float(round_to(elem, scale)))
}

/// One op's reference semantics (every op used here declares one).
fn eval_op(def: &OpDef, operands: &[Tensor], attrs: &Attrs) -> Result<Tensor, String> {
    let eval = def.eval.ok_or_else(|| format!("{} has no reference semantics", def.name))?;
    eval(operands, attrs, &[])?.into_iter().next().ok_or_else(|| format!("{} gave no result", def.name))
}

fn softmax_attrs() -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("axis".into(), Attribute::Int(-1));
    attrs
}

fn eval_attention(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (scale, divides) = scale_of(attrs)?;
    let [q, kt, v, rest @ ..] = ops else { return Err("attention needs q, kt and v".into()) };
    let none = Attrs::new();
    let scores = eval_op(&MATMUL, &[q.clone(), kt.clone()], &none)?;
    let c = scale_tensor(&scores.elem, scale);
    let mut x = eval_op(if divides { &DIV } else { &MUL }, &[scores, c], &none)?;
    if let Some(mask) = rest.first() {
        x = eval_op(&ADD, &[x, mask.clone()], &none)?;
    }
    let probs = eval_op(&SOFTMAX, &[x], &softmax_attrs())?;
    Ok(vec![eval_op(&MATMUL, &[probs, v.clone()], &none)?])
}

/// Replaces the `nn.attention` op `op` of `f` by its decomposition (built
/// right before it; every use of its result moves to the last matmul's)
/// and returns the new result. When the op's location is a fusion of as
/// many locations as the decomposition has ops (as `fuse` records them:
/// matmul, scale, mask add, softmax, matmul), each op gets its own again;
/// otherwise every op gets the attention's location.
pub fn expand(f: &mut Function, op: Op) -> Result<Value, String> {
    let data = f.ops.get(op).ok_or("not an op of this function")?;
    if data.def.name != ATTENTION.name {
        return Err(format!("expected {}, got {}", ATTENTION.name, data.def.name));
    }
    let (scale, divides) = scale_of(&data.attrs)?;
    let operands = data.operands.clone();
    let &[q, kt, v, ref rest @ ..] = &operands[..] else { return Err("attention needs q, kt and v".into()) };
    let result = *data.results.first().ok_or("the op has no result")?;
    let span = data.span;
    let steps = 4 + rest.len().min(1);
    let locs = match &data.loc {
        Location::Fused(parts) if parts.len() == steps => parts.clone(),
        loc => vec![loc.clone(); steps],
    };
    // The decomposition's type is the op's (checked before anything is
    // built, so an error leaves `f` unchanged).
    let types: Vec<&Type> = operands.iter().map(|&v| f.value_type(v)).collect();
    let inferred = infer_attention(&OpInfo::new(&types, &data.attrs))?;
    if inferred.first() != Some(f.value_type(result)) {
        return Err(format!("the result type {} is not the inferred one", f.value_type(result)));
    }
    let elem = match f.value_type(q) {
        Type::Tensor(t) => t.elem.clone(),
        other => return Err(format!("q must be a tensor, got {other}")),
    };
    let mut b = Builder { f, before: op, span, locs: locs.into_iter() };
    let scores = b.op(&MATMUL, vec![q, kt], Attrs::new())?;
    let scale_loc = b.locs.as_slice().first().cloned().unwrap_or_default();
    let c = b.constant(scale_tensor(&elem, scale), scale_loc)?;
    let mut x = b.op(if divides { &DIV } else { &MUL }, vec![scores, c], Attrs::new())?;
    if let Some(&mask) = rest.first() {
        x = b.op(&ADD, vec![x, mask], Attrs::new())?;
    }
    let probs = b.op(&SOFTMAX, vec![x], softmax_attrs())?;
    let out = b.op(&MATMUL, vec![probs, v], Attrs::new())?;
    f.replace_all_uses(result, out);
    f.remove_ops(&[op]);
    Ok(out)
}

/// Expands every `nn.attention` op of `f` (in every block); the count.
pub fn expand_all(f: &mut Function) -> Result<usize, (Op, String)> {
    let ops: Vec<Op> = f.walk().into_iter().filter(|&o| f.ops[o].def.name == ATTENTION.name).collect();
    for &op in &ops {
        expand(f, op).map_err(|e| (op, e))?;
    }
    Ok(ops.len())
}

/// Builds ops before one op, inferring their types, with locations from a
/// list.
struct Builder<'f> {
    f: &'f mut Function,
    before: Op,
    span: Span,
    locs: std::vec::IntoIter<Location>,
}

impl Builder<'_> {
    fn op(&mut self, def: &'static OpDef, operands: Vec<Value>, attrs: Attrs) -> Result<Value, String> {
        let types: Vec<&Type> = operands.iter().map(|&v| self.f.value_type(v)).collect();
        let infer = def.infer.ok_or_else(|| format!("{} has no shape inference", def.name))?;
        let result_types = infer(&OpInfo::new(&types, &attrs)).map_err(|e| format!("{}: {e}", def.name))?;
        let loc = self.locs.next().unwrap_or_default();
        let spec = NewOp { def, operands, result_types, attrs, loc, span: self.span };
        let op = self.f.insert_op_before(self.before, spec);
        self.f.ops[op].results.first().copied().ok_or_else(|| format!("{} has no result", def.name))
    }

    fn constant(&mut self, t: Tensor, loc: Location) -> Result<Value, String> {
        let ty = Type::Tensor(t.ty());
        let mut spec =
            NewOp::new(&builtin::CONSTANT, vec![], vec![ty]).attr("value", Attribute::Dense(DenseAttr::from_tensor(t)));
        spec.loc = loc;
        spec.span = self.span;
        let op = self.f.insert_op_before(self.before, spec);
        self.f.ops[op].results.first().copied().ok_or_else(|| "a constant without result".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::interp::run_function;
    use crate::ops::Context;
    use crate::parser::parse_str;
    use crate::tensor::TensorData;

    /// Values whose products and quotients round (so that `x / 3` and
    /// `x * (1/3)` differ somewhere).
    fn wavy(shape: &[u64], seed: u32) -> Tensor {
        let n: u64 = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|i| ((i as f32 + 0.37) * (seed as f32 + 1.3)).sin() * 2.7).collect();
        f32s(shape, &v)
    }

    fn scale_attrs(scale: f64, op: &str) -> Attrs {
        attrs(&[("scale", Attribute::Float(scale)), ("scale_op", Attribute::Str(op.into()))])
    }

    /// The decomposition, op by op, with the scale constant of shape [1].
    fn composed(ops: &[Tensor], scale: f64, divides: bool) -> Tensor {
        let none = Attrs::new();
        let s = run(&MATMUL, &[ops[0].clone(), ops[1].clone()], &none);
        let c = f32s(&[1], &[scale as f32]);
        let mut x = run(if divides { &DIV } else { &MUL }, &[s, c], &none);
        if let Some(m) = ops.get(3) {
            x = run(&ADD, &[m.clone(), x], &none);
        }
        let p = run(&SOFTMAX, &[x], &attrs(&[("axis", Attribute::Int(3))]));
        run(&MATMUL, &[p, ops[2].clone()], &none)
    }

    #[test]
    fn eval_is_the_decomposition_to_the_bit() {
        let (q, kt, v) = (wavy(&[1, 2, 3, 4], 1), wavy(&[1, 2, 4, 5], 2), wavy(&[1, 2, 5, 3], 3));
        let mask = f32s(&[1, 1, 1, 5], &[0., 0., -1e4, 0., -3.5]);
        for (scale, op) in [(3.0, "div"), (1.0 / 3.0, "mul")] {
            for ops in [vec![q.clone(), kt.clone(), v.clone()], vec![q.clone(), kt.clone(), v.clone(), mask.clone()]] {
                let got = run(&ATTENTION, &ops, &scale_attrs(scale, op));
                assert_eq!(got, composed(&ops, scale, op == "div"), "{op} with {} operands", ops.len());
                assert_eq!(got.shape, vec![1, 2, 3, 3]);
            }
        }
        // The two scale forms are different functions on these values.
        let div = run(&ATTENTION, &[q.clone(), kt.clone(), v.clone()], &scale_attrs(3.0, "div"));
        let mul = run(&ATTENTION, &[q, kt, v], &scale_attrs(1.0 / 3.0, "mul"));
        let (TensorData::F32(a), TensorData::F32(b)) = (&div.data, &mul.data) else { panic!("f32 results") };
        assert!(a.iter().zip(b).any(|(x, y)| x.to_bits() != y.to_bits()), "x / 3 and x * (1/3) never differed");
    }

    #[test]
    fn inference_checks_every_operand() {
        let a = scale_attrs(8.0, "div");
        let (q, kt, v) = (f32_type(&[2, 4, 8]), f32_type(&[2, 8, 6]), f32_type(&[2, 6, 3]));
        let t = infer(&ATTENTION, &[q.clone(), kt.clone(), v.clone()], &a).unwrap();
        assert_eq!(t.to_string(), "tensor<2x4x3xf32>");
        let e = infer(&ATTENTION, &[q.clone(), kt.clone(), v.clone(), f32_type(&[3, 1, 6])], &a).unwrap_err();
        assert_eq!(e, "the mask of type tensor<3x1x6xf32> does not broadcast to the scores' type tensor<2x4x6xf32>");
        let e = infer(&ATTENTION, &[q.clone(), v.clone(), v.clone()], &a).unwrap_err();
        assert!(e.starts_with("q @ kt: contraction dimensions differ"), "{e}");
        let e = infer(&ATTENTION, &[q.clone(), kt.clone(), q.clone()], &a).unwrap_err();
        assert!(e.starts_with("probabilities @ v:"), "{e}");
        let e = infer(&ATTENTION, &[q.clone(), kt.clone()], &a).unwrap_err();
        assert_eq!(e, "takes q, kt, v and an optional mask, got 2 operands");
        let e = infer(&ATTENTION, &[q.clone(), kt.clone(), v.clone()], &scale_attrs(0.0, "div")).unwrap_err();
        assert_eq!(e, "'scale' must not be 0 with scale_op = \"div\"");
        let e = infer(&ATTENTION, &[q.clone(), kt.clone(), v.clone()], &scale_attrs(2.0, "add")).unwrap_err();
        assert_eq!(e, "attribute 'scale_op' must be one of \"mul\", \"div\", got \"add\"");
        let f16 = TensorType::fixed(&[2, 6, 3], ElemType::F16);
        let e = infer(&ATTENTION, &[q, kt, f16], &a).unwrap_err();
        assert_eq!(e, "element types differ: f32 vs f16");
    }

    const PROGRAM: &str = r#"
func @f(%q: tensor<1x2x3x4xf32>, %kt: tensor<1x2x4x5xf32>, %v: tensor<1x2x5x3xf32>, %m: tensor<1x1x1x5xf32>) -> tensor<1x2x3x3xf32> {
  %0 = nn.attention %q, %kt, %v, %m {scale = 2.0, scale_op = "div"} : (tensor<1x2x3x4xf32>, tensor<1x2x4x5xf32>, tensor<1x2x5x3xf32>, tensor<1x1x1x5xf32>) -> tensor<1x2x3x3xf32> loc(fused["mm", "div", "add", "softmax", "mm1"])
  %1 = nn.neg %0 : tensor<1x2x3x3xf32>
  return %1 : tensor<1x2x3x3xf32>
}
"#;

    #[test]
    fn expand_builds_the_decomposition_with_its_locations() {
        let ctx = Context::default();
        let (_, m) = parse_str(&ctx, "t.weft", PROGRAM);
        let mut m = m.unwrap_or_else(|e| panic!("{e:?}"));
        let inputs =
            vec![wavy(&[1, 2, 3, 4], 1), wavy(&[1, 2, 4, 5], 2), wavy(&[1, 2, 5, 3], 3), wavy(&[1, 1, 1, 5], 4)];
        let before = run_function(&m, &m.funcs[0], inputs.clone()).unwrap();
        let f = &mut m.funcs[0];
        assert_eq!(expand_all(f), Ok(1));
        crate::verify::verify_module(&m).unwrap_or_else(|e| panic!("{e:?}"));
        let f = &m.funcs[0];
        let ops: Vec<(&str, String)> =
            f.walk().into_iter().map(|o| (f.ops[o].name(), f.ops[o].loc.to_string())).collect();
        let names: Vec<&str> = ops.iter().map(|o| o.0).collect();
        assert_eq!(
            names,
            [
                "nn.matmul",
                "builtin.constant",
                "nn.div",
                "nn.add",
                "nn.softmax",
                "nn.matmul",
                "nn.neg",
                "builtin.return"
            ]
        );
        assert_eq!(ops[0].1, "\"mm\"");
        assert_eq!(ops[1].1, "\"div\"");
        assert_eq!(ops[5].1, "\"mm1\"");
        assert_eq!(run_function(&m, &m.funcs[0], inputs).unwrap(), before);
        // Expanding something else is an error that changes nothing.
        let mut f = m.funcs[0].clone();
        let neg = f.walk()[6];
        assert_eq!(expand(&mut f, neg), Err("expected nn.attention, got nn.neg".into()));
        assert_eq!(f.walk().len(), 8);
    }
}
