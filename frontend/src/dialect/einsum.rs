//! ONNX `Einsum`: sums of products over labelled dims, written as an
//! equation such as `bhqd,bhkd->bhqk`.
//!
//! Invariants: the equation is parsed and checked once ([`Equation`])
//! before any arithmetic; every label and ellipsis dim becomes one loop
//! variable, a label repeated within a term reads a diagonal, and each
//! operand reaches its element through per-variable strides (0 for a
//! broadcast ellipsis dim). Floats accumulate in f64 and round once;
//! integers wrap.

use super::util_b::{attr_str, checked_numel, numeric_operand, operand, strides, tensor_type, unflatten, unify_dims};
use weft_ir::ops::shape::broadcast_shapes;
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Scalar, Tensor};
use weft_ir::types::{Dim, Type};
use weft_ir::Attrs;

pub const EINSUM: OpDef = OpDef {
    name: "onnx.Einsum",
    summary: "Sums of products over labelled dims given by an Einstein-summation equation",
    description: "`equation` names each operand's dims with letters (`a-z`, `A-Z`), with at most one \
`...` per term standing for broadcast dims. Explicit mode (`->`) lists the output labels (and \
`...` if the inputs use it); in implicit mode the output is `...` followed by the labels that \
occur exactly once, in ASCII order. A label repeated within one term takes the diagonal; labels \
absent from the output are summed over. Dims of one label must be equal; ellipsis dims \
broadcast with numpy rules. Floats accumulate in f64 and round once; integers wrap.\n\n\
```\n%2 = onnx.Einsum %0, %1 {equation = \"bhqd,bhkd->bhqk\"} : (tensor<1x12x128x64xf32>, tensor<1x12x128x64xf32>) -> tensor<1x12x128x128xf32>\n```",
    operands: Arity::Variadic { name: "Inputs", min: 1 },
    results: Arity::Fixed(&["Output"]),
    attrs: &[AttrSpec { name: "equation", kind: AttrKind::Str, required: true, doc: "the Einstein-summation equation" }],
    traits: &[Trait::Pure],
    infer: Some(infer_einsum),
    eval: Some(eval_einsum),
    ..OpDef::DEFAULT
};

/// The most products an evaluation may compute (a guard against
/// equations that would run for hours).
const MAX_STEPS: u64 = 1 << 32;

/// One subscript of a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Letter(u8),
    Ellipsis,
}

/// A parsed equation: one term per input, and the output term.
#[derive(Debug, Clone, PartialEq)]
struct Equation {
    inputs: Vec<Vec<Label>>,
    output: Vec<Label>,
}

fn parse_term(term: &str) -> Result<Vec<Label>, String> {
    let mut labels = Vec::new();
    let bytes = term.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b if b.is_ascii_alphabetic() => {
                labels.push(Label::Letter(b));
                i += 1;
            }
            b'.' if term[i..].starts_with("...") => {
                if labels.contains(&Label::Ellipsis) {
                    return Err(format!("term '{term}' has more than one '...'"));
                }
                labels.push(Label::Ellipsis);
                i += 3;
            }
            _ => {
                return Err(format!(
                    "term '{term}' has an invalid character at offset {i} (labels are letters or '...')"
                ))
            }
        }
    }
    Ok(labels)
}

fn parse_equation(equation: &str, n_inputs: usize) -> Result<Equation, String> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let inputs: Vec<Vec<Label>> = lhs.split(',').map(parse_term).collect::<Result<_, _>>()?;
    if inputs.len() != n_inputs {
        return Err(format!("the equation has {} input terms but the op has {n_inputs} operands", inputs.len()));
    }
    let any_ellipsis = inputs.iter().any(|t| t.contains(&Label::Ellipsis));
    let output = match rhs {
        Some(r) => {
            let out = parse_term(r)?;
            check_output(&out, &inputs, any_ellipsis)?;
            out
        }
        None => implicit_output(&inputs, any_ellipsis),
    };
    Ok(Equation { inputs, output })
}

fn check_output(out: &[Label], inputs: &[Vec<Label>], any_ellipsis: bool) -> Result<(), String> {
    for (i, l) in out.iter().enumerate() {
        match l {
            Label::Ellipsis if !any_ellipsis => return Err("the output has '...' but no input does".into()),
            Label::Letter(c) if !inputs.iter().flatten().any(|x| x == l) => {
                return Err(format!("output label '{}' does not occur in the inputs", *c as char))
            }
            _ if out[..i].contains(l) => return Err("the output repeats a label".into()),
            _ => {}
        }
    }
    Ok(())
}

fn implicit_output(inputs: &[Vec<Label>], any_ellipsis: bool) -> Vec<Label> {
    let mut counts = [0usize; 256];
    for l in inputs.iter().flatten() {
        if let Label::Letter(c) = l {
            counts[*c as usize] += 1;
        }
    }
    let mut out: Vec<Label> = if any_ellipsis { vec![Label::Ellipsis] } else { Vec::new() };
    out.extend((0u8..=255).filter(|&c| counts[c as usize] == 1).map(Label::Letter));
    out
}

/// One operand's dims split by its term.
struct TermDims<'a> {
    /// The dims the ellipsis stands for.
    ellipsis: &'a [Dim],
    /// Each letter position's label and dim.
    letters: Vec<(u8, &'a Dim)>,
}

fn split_dims<'a>(term: &[Label], dims: &'a [Dim], i: usize) -> Result<TermDims<'a>, String> {
    let letters = term.iter().filter(|l| matches!(l, Label::Letter(_))).count();
    let has_ellipsis = term.contains(&Label::Ellipsis);
    if dims.len() < letters || (!has_ellipsis && dims.len() != letters) {
        return Err(format!("operand #{i} has rank {} but its term has {letters} labels", dims.len()));
    }
    let ell = dims.len() - letters;
    let mut at = 0;
    let mut ell_dims: &[Dim] = &[];
    let mut pairs = Vec::with_capacity(letters);
    for l in term {
        match l {
            Label::Ellipsis => {
                ell_dims = &dims[at..at + ell];
                at += ell;
            }
            Label::Letter(c) => {
                pairs.push((*c, &dims[at]));
                at += 1;
            }
        }
    }
    Ok(TermDims { ellipsis: ell_dims, letters: pairs })
}

/// The extent of every label and the broadcast ellipsis dims.
struct Extents {
    letters: Vec<(u8, Dim)>,
    ellipsis: Vec<Dim>,
}

fn extents(eq: &Equation, shapes: &[Vec<Dim>]) -> Result<Extents, String> {
    let mut letters: Vec<(u8, Dim)> = Vec::new();
    let mut ellipsis: Vec<Dim> = Vec::new();
    for (i, (term, dims)) in eq.inputs.iter().zip(shapes).enumerate() {
        let split = split_dims(term, dims, i)?;
        ellipsis = broadcast_shapes(&ellipsis, split.ellipsis).map_err(|e| format!("ellipsis dims: {e}"))?;
        for (c, d) in split.letters {
            match letters.iter_mut().find(|(l, _)| *l == c) {
                Some((_, known)) => {
                    *known = unify_dims(known, d).map_err(|e| format!("label '{}': {e}", c as char))?;
                }
                None => letters.push((c, d.clone())),
            }
        }
    }
    Ok(Extents { letters, ellipsis })
}

fn output_dims(eq: &Equation, ext: &Extents) -> Vec<Dim> {
    let mut dims = Vec::new();
    for l in &eq.output {
        match l {
            Label::Ellipsis => dims.extend(ext.ellipsis.iter().cloned()),
            Label::Letter(c) => dims.extend(ext.letters.iter().filter(|(x, _)| x == c).map(|(_, d)| d.clone())),
        }
    }
    dims
}

fn infer_einsum(info: &OpInfo) -> Result<Vec<Type>, String> {
    let first = numeric_operand(info, 0)?;
    let mut shapes = Vec::with_capacity(info.operand_types.len());
    for i in 0..info.operand_types.len() {
        let t = operand(info, i)?;
        if t.elem != first.elem {
            return Err(format!("operands must have one element type, got {} and {}", first.elem, t.elem));
        }
        shapes.push(t.dims.clone());
    }
    let eq = parse_equation(attr_str(info.attrs, "equation", "")?, shapes.len())?;
    let ext = extents(&eq, &shapes)?;
    Ok(vec![tensor_type(output_dims(&eq, &ext), first.elem.clone())])
}

/// The loop variables of an evaluation: each label, then each ellipsis dim.
struct Loops {
    extents: Vec<u64>,
    /// Per operand, the stride of each variable (0 if it does not index it).
    strides: Vec<Vec<u64>>,
    /// The variables of the output dims, in order.
    output: Vec<usize>,
}

fn loops(eq: &Equation, ops: &[Tensor], ext: &Extents) -> Result<Loops, String> {
    let fixed = |d: &Dim| d.fixed().ok_or_else(|| "internal: unknown extent in evaluation".to_string());
    let mut extents: Vec<u64> = ext.letters.iter().map(|(_, d)| fixed(d)).collect::<Result<_, _>>()?;
    let n_letters = extents.len();
    extents.extend(ext.ellipsis.iter().map(fixed).collect::<Result<Vec<_>, _>>()?);
    let letter_var = |c: u8| ext.letters.iter().position(|(l, _)| *l == c).unwrap_or(0);
    let mut all_strides = Vec::with_capacity(ops.len());
    for (term, t) in eq.inputs.iter().zip(ops) {
        let own = strides(&t.shape);
        let mut per_var = vec![0u64; extents.len()];
        let ell_len = t.shape.len() + 1 - term.len();
        let mut at = 0;
        for l in term {
            match l {
                Label::Letter(c) => {
                    per_var[letter_var(*c)] += own[at];
                    at += 1;
                }
                Label::Ellipsis => {
                    let first_var = n_letters + ext.ellipsis.len() - ell_len;
                    for k in 0..ell_len {
                        if t.shape[at + k] != 1 {
                            per_var[first_var + k] += own[at + k];
                        }
                    }
                    at += ell_len;
                }
            }
        }
        all_strides.push(per_var);
    }
    let mut output = Vec::new();
    for l in &eq.output {
        match l {
            Label::Letter(c) => output.push(letter_var(*c)),
            Label::Ellipsis => output.extend(n_letters..extents.len()),
        }
    }
    Ok(Loops { extents, strides: all_strides, output })
}

fn eval_einsum(ops: &[Tensor], attrs: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let elem = ops[0].elem.clone();
    let shapes: Vec<Vec<Dim>> = ops.iter().map(|t| super::util_b::fixed_dims(&t.shape)).collect();
    let eq = parse_equation(attr_str(attrs, "equation", "")?, ops.len())?;
    let ext = extents(&eq, &shapes)?;
    let lp = loops(&eq, ops, &ext)?;
    let out_shape: Vec<u64> = lp.output.iter().map(|&v| lp.extents[v]).collect();
    checked_numel(&out_shape)?;
    let summed: Vec<usize> = (0..lp.extents.len()).filter(|v| !lp.output.contains(v)).collect();
    let sum_shape: Vec<u64> = summed.iter().map(|&v| lp.extents[v]).collect();
    let n_out = out_shape.iter().product::<u64>();
    let n_sum = sum_shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).unwrap_or(u64::MAX);
    if n_out.checked_mul(n_sum).is_none_or(|steps| steps > MAX_STEPS) {
        return Err(format!("Einsum would take {n_out} x {n_sum} steps (limit {MAX_STEPS})"));
    }
    let int = elem.is_int();
    let (mut oi, mut si) = (vec![0u64; out_shape.len()], vec![0u64; sum_shape.len()]);
    let mut var = vec![0u64; lp.extents.len()];
    let mut values = Vec::with_capacity(n_out as usize);
    for o in 0..n_out as usize {
        unflatten(o, &out_shape, &mut oi);
        for (&v, &i) in lp.output.iter().zip(&oi) {
            var[v] = i;
        }
        let (mut f, mut s) = (0f64, 0i64);
        for k in 0..n_sum as usize {
            unflatten(k, &sum_shape, &mut si);
            for (&v, &i) in summed.iter().zip(&si) {
                var[v] = i;
            }
            let (mut pf, mut ps) = (1f64, 1i64);
            for (t, st) in ops.iter().zip(&lp.strides) {
                let off: u64 = var.iter().zip(st).map(|(i, s)| i * s).sum();
                match t.data.get(off as usize) {
                    Scalar::Int(x) => ps = ps.wrapping_mul(x),
                    Scalar::Float(x) => pf *= x,
                }
            }
            if int {
                s = s.wrapping_add(ps);
            } else {
                f += pf;
            }
        }
        values.push(if int { Scalar::Int(s) } else { Scalar::Float(f) });
    }
    Ok(vec![super::util_b::build(&elem, out_shape, values)])
}

#[cfg(test)]
mod tests;
