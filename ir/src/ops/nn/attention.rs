//! `nn.attention`: scaled dot-product attention as one op,
//! `softmax(scale(q @ kt) + mask) @ v` (the scale on the scores, on the
//! queries, or on both queries and keys, as exporters place it), and
//! [`expand`], its decomposition into the nn ops it stands for.
//!
//! Invariants: the op means exactly its decomposition: [`eval_attention`]
//! calls the reference semantics of `nn.div` or `nn.mul` (at the scale's
//! place), `nn.matmul`, `nn.add`, `nn.softmax` (last axis) and `nn.matmul`
//! in that order, and
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

/// Where the scale is applied (`scale_at`), in [`ScaleAt`]'s order.
const SCALE_PLACES: &[&str] = &["scores", "q", "qk"];

/// Where `nn.attention` applies its scale. The three are equal in exact
/// arithmetic and round differently, so the op keeps the exported form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScaleAt {
    /// `scale(q @ kt)`: PyTorch's explicit `matmul / sqrt(d)` (BERT, HF ViT).
    Scores,
    /// `scale(q) @ kt`: the queries scaled first (timm's `q = q * self.scale`).
    Query,
    /// `scale(q) @ scale(kt)`: both operands by the same constant (the
    /// ONNX export of `scaled_dot_product_attention` multiplies each by the
    /// square root of the softmax scale).
    QueryAndKeys,
}

impl ScaleAt {
    pub const ALL: [ScaleAt; 3] = [ScaleAt::Scores, ScaleAt::Query, ScaleAt::QueryAndKeys];

    /// The attribute value.
    pub fn name(self) -> &'static str {
        match self {
            ScaleAt::Scores => "scores",
            ScaleAt::Query => "q",
            ScaleAt::QueryAndKeys => "qk",
        }
    }

    fn from_name(name: &str) -> Option<ScaleAt> {
        ScaleAt::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// The scale of an `nn.attention`'s attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub value: f64,
    pub divides: bool,
    pub at: ScaleAt,
}

pub const ATTENTION: OpDef = OpDef {
    name: "nn.attention",
    summary: "Scaled dot-product attention softmax(scale(q @ kt) + mask) @ v, the scale on the scores, q, or q and kt",
    description: "Operands: queries `q` `[..., S, D]`, keys already transposed `kt` \
`[..., D, T]`, values `v` `[..., T, Dv]` and an optional additive `mask` that broadcasts to \
the scores' shape `[..., S, T]` without changing it; one float element type. The result is \
`[..., S, Dv]`; batch dims broadcast as in `nn.matmul`.\n\n\
The op is defined as exactly this sequence of nn ops, with their rounding (so a fused program \
computes the bits of the decomposition it replaces, and the `expand-attention` pass writes it \
back):\n\n\
1. `scores = nn.matmul q, kt`\n\
2. `scaled = s(scores)`\n\
3. `masked = nn.add scaled, mask` (only with a mask)\n\
4. `probs = nn.softmax masked {axis = -1}`\n\
5. `result = nn.matmul probs, v`\n\n\
where `s(x)` is `nn.div x, c` when `scale_op = \"div\"` and `nn.mul x, c` when \
`scale_op = \"mul\"` (the default), `c` the scalar constant `scale` rounded to the element type \
(exporters write `x / sqrt(D)` or `x * (1 / sqrt(D))`, which round differently). `scale_at` \
says where `s` is applied: `\"scores\"` (the default) as above; `\"q\"`: step 1 is \
`nn.matmul s(q), kt` and step 2 is skipped (timm scales the queries); `\"qk\"`: step 1 is \
`nn.matmul s(q), s(kt)` and step 2 is skipped (the ONNX export of PyTorch's \
`scaled_dot_product_attention` multiplies both by the square root of the softmax scale; \
`scale` is that square root). These round differently, so the op keeps the exported place.\n\n\
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
        AttrSpec {
            name: "scale_at",
            kind: AttrKind::Str,
            required: false,
            doc: "\"scores\" (default): scale(q @ kt); \"q\": scale(q) @ kt; \"qk\": scale(q) @ scale(kt)",
        },
    ],
    traits: &[Trait::Pure],
    infer: Some(infer_attention),
    eval: Some(eval_attention),
    ..OpDef::DEFAULT
};

/// The scale of an `nn.attention`'s attributes, checked.
pub fn scale_of(attrs: &Attrs) -> Result<Scale, String> {
    let divides = choice_attr(attrs, "scale_op", SCALE_OPS)? == "div";
    let place = choice_attr(attrs, "scale_at", SCALE_PLACES)?;
    let at = ScaleAt::from_name(place).ok_or_else(|| format!("unknown scale place '{place}'"))?;
    let value = float_attr(attrs, "scale", f64::NAN)?;
    if !value.is_finite() {
        return Err(format!("'scale' must be finite, got {value}"));
    }
    if divides && value == 0.0 {
        return Err("'scale' must not be 0 with scale_op = \"div\"".into());
    }
    Ok(Scale { value, divides, at })
}

impl Scale {
    /// The attributes that state this scale (`scale_at` only when not the
    /// default, so programs without it print as before).
    pub fn attrs(&self) -> Vec<(&'static str, Attribute)> {
        let mut out = vec![
            ("scale", Attribute::Float(self.value)),
            ("scale_op", Attribute::Str(if self.divides { "div" } else { "mul" }.into())),
        ];
        if self.at != ScaleAt::Scores {
            out.push(("scale_at", Attribute::Str(self.at.name().into())));
        }
        out
    }

    fn def(&self) -> &'static OpDef {
        if self.divides {
            &DIV
        } else {
            &MUL
        }
    }
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
    let scale = scale_of(attrs)?;
    let [q, kt, v, rest @ ..] = ops else { return Err("attention needs q, kt and v".into()) };
    let none = Attrs::new();
    let c = scale_tensor(&q.elem, scale.value);
    let scaled = |x: &Tensor| eval_op(scale.def(), &[x.clone(), c.clone()], &none);
    let (q, kt) = match scale.at {
        ScaleAt::Scores => (q.clone(), kt.clone()),
        ScaleAt::Query => (scaled(q)?, kt.clone()),
        ScaleAt::QueryAndKeys => (scaled(q)?, scaled(kt)?),
    };
    let mut x = eval_op(&MATMUL, &[q, kt], &none)?;
    if scale.at == ScaleAt::Scores {
        x = scaled(&x)?;
    }
    if let Some(mask) = rest.first() {
        x = eval_op(&ADD, &[x, mask.clone()], &none)?;
    }
    let probs = eval_op(&SOFTMAX, &[x], &softmax_attrs())?;
    Ok(vec![eval_op(&MATMUL, &[probs, v.clone()], &none)?])
}

/// Replaces the `nn.attention` op `op` of `f` by its decomposition (built
/// right before it; every use of its result moves to the last matmul's)
/// and returns the new result. When the op's location is a fusion of as
/// many locations as the decomposition has ops (as `fuse` records them, in
/// [`chain_steps`]' order), each op gets its own again (the scale constant
/// the first scale's); otherwise every op gets the attention's location.
pub fn expand(f: &mut Function, op: Op) -> Result<Value, String> {
    let data = f.ops.get(op).ok_or("not an op of this function")?;
    if data.def.name != ATTENTION.name {
        return Err(format!("expected {}, got {}", ATTENTION.name, data.def.name));
    }
    let scale = scale_of(&data.attrs)?;
    let operands = data.operands.clone();
    let &[q, kt, v, ref rest @ ..] = &operands[..] else { return Err("attention needs q, kt and v".into()) };
    let result = *data.results.first().ok_or("the op has no result")?;
    let span = data.span;
    let steps = chain_steps(scale.at, !rest.is_empty());
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
    let scale_loc = match scale.at {
        ScaleAt::Scores => locs.get(1),
        ScaleAt::Query | ScaleAt::QueryAndKeys => locs.first(),
    };
    let scale_loc = scale_loc.cloned().unwrap_or_default();
    let mut b = Builder { f, before: op, span, locs: locs.into_iter() };
    let c = scale_tensor(&elem, scale.value);
    let mut x = match scale.at {
        ScaleAt::Scores => {
            let scores = b.op(&MATMUL, vec![q, kt], Attrs::new())?;
            let c = b.constant(c, scale_loc)?;
            b.op(scale.def(), vec![scores, c], Attrs::new())?
        }
        ScaleAt::Query => {
            let c = b.constant(c, scale_loc)?;
            let q = b.op(scale.def(), vec![q, c], Attrs::new())?;
            b.op(&MATMUL, vec![q, kt], Attrs::new())?
        }
        ScaleAt::QueryAndKeys => {
            let c = b.constant(c, scale_loc)?;
            let q = b.op(scale.def(), vec![q, c], Attrs::new())?;
            let kt = b.op(scale.def(), vec![kt, c], Attrs::new())?;
            b.op(&MATMUL, vec![q, kt], Attrs::new())?
        }
    };
    if let Some(&mask) = rest.first() {
        x = b.op(&ADD, vec![x, mask], Attrs::new())?;
    }
    let probs = b.op(&SOFTMAX, vec![x], softmax_attrs())?;
    let out = b.op(&MATMUL, vec![probs, v], Attrs::new())?;
    f.replace_all_uses(result, out);
    f.remove_ops(&[op]);
    Ok(out)
}

/// The ops of the decomposition, in the order of a fused location's parts:
/// the scale of the queries (and of the keys) when it comes first, the
/// scores' matmul, the scale of the scores when it comes after, the mask
/// add, the softmax and the last matmul.
pub fn chain_steps(at: ScaleAt, masked: bool) -> usize {
    let scales = if at == ScaleAt::QueryAndKeys { 2 } else { 1 };
    3 + scales + usize::from(masked)
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
    fn composed(ops: &[Tensor], scale: f64, divides: bool, at: ScaleAt) -> Tensor {
        let none = Attrs::new();
        let c = f32s(&[1], &[scale as f32]);
        let scaled = |x: Tensor| run(if divides { &DIV } else { &MUL }, &[x, c.clone()], &none);
        let (q, kt) = match at {
            ScaleAt::Scores => (ops[0].clone(), ops[1].clone()),
            ScaleAt::Query => (scaled(ops[0].clone()), ops[1].clone()),
            ScaleAt::QueryAndKeys => (scaled(ops[0].clone()), scaled(ops[1].clone())),
        };
        let s = run(&MATMUL, &[q, kt], &none);
        let mut x = if at == ScaleAt::Scores { scaled(s) } else { s };
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
            for at in ScaleAt::ALL {
                let mut a = scale_attrs(scale, op);
                a.insert("scale_at".into(), Attribute::Str(at.name().into()));
                for ops in
                    [vec![q.clone(), kt.clone(), v.clone()], vec![q.clone(), kt.clone(), v.clone(), mask.clone()]]
                {
                    let got = run(&ATTENTION, &ops, &a);
                    let want = composed(&ops, scale, op == "div", at);
                    assert_eq!(got, want, "{op} at {} with {} operands", at.name(), ops.len());
                    assert_eq!(got.shape, vec![1, 2, 3, 3]);
                }
            }
        }
        // The three places are different functions on these values.
        let ops = [q.clone(), kt.clone(), v.clone()];
        let at = |at: ScaleAt| composed(&ops, 1.0 / 3.0, false, at);
        assert_ne!(at(ScaleAt::Scores), at(ScaleAt::Query));
        assert_ne!(at(ScaleAt::Query), at(ScaleAt::QueryAndKeys));
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
        let mut k = scale_attrs(2.0, "mul");
        k.insert("scale_at".into(), Attribute::Str("k".into()));
        let e = infer(&ATTENTION, &[q.clone(), kt.clone(), v.clone()], &k).unwrap_err();
        assert_eq!(e, "attribute 'scale_at' must be one of \"scores\", \"q\", \"qk\", got \"k\"");
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

    #[test]
    fn expand_scales_queries_and_keys_where_the_op_says() {
        let ctx = Context::default();
        let text = PROGRAM
            .replace(r#"{scale = 2.0, scale_op = "div"}"#, r#"{scale = 0.5, scale_op = "mul", scale_at = "qk"}"#);
        let text = text.replace(
            r#"loc(fused["mm", "div", "add", "softmax", "mm1"])"#,
            r#"loc(fused["sq", "sk", "mm", "add", "softmax", "mm1"])"#,
        );
        let (_, m) = parse_str(&ctx, "t.weft", &text);
        let mut m = m.unwrap_or_else(|e| panic!("{e:?}"));
        let inputs =
            vec![wavy(&[1, 2, 3, 4], 1), wavy(&[1, 2, 4, 5], 2), wavy(&[1, 2, 5, 3], 3), wavy(&[1, 1, 1, 5], 4)];
        let before = run_function(&m, &m.funcs[0], inputs.clone()).unwrap();
        assert_eq!(before[0], composed_neg(&inputs, 0.5, ScaleAt::QueryAndKeys));
        assert_eq!(expand_all(&mut m.funcs[0]), Ok(1));
        crate::verify::verify_module(&m).unwrap_or_else(|e| panic!("{e:?}"));
        let f = &m.funcs[0];
        let ops: Vec<(&str, String)> =
            f.walk().into_iter().map(|o| (f.ops[o].name(), f.ops[o].loc.to_string())).collect();
        let want = [
            ("builtin.constant", "\"sq\""),
            ("nn.mul", "\"sq\""),
            ("nn.mul", "\"sk\""),
            ("nn.matmul", "\"mm\""),
            ("nn.add", "\"add\""),
            ("nn.softmax", "\"softmax\""),
            ("nn.matmul", "\"mm1\""),
        ];
        let got: Vec<(&str, &str)> = ops.iter().take(7).map(|(n, l)| (*n, l.as_str())).collect();
        assert_eq!(got, want);
        assert_eq!(run_function(&m, &m.funcs[0], inputs).unwrap(), before);
    }

    /// `-attention` of the inputs, the program's result.
    fn composed_neg(inputs: &[Tensor], scale: f64, at: ScaleAt) -> Tensor {
        let x = composed(inputs, scale, false, at);
        run(&super::super::unary::NEG, &[x], &Attrs::new())
    }
}
