//! Values known at import time: the results of ops whose operands are all
//! known (evaluated with the op's reference semantics), and the shapes of
//! tensors with static types (`Shape`, `Size`), so that the
//! `Shape -> Gather -> Concat -> Reshape` chains of exported models give
//! their users static types.
//!
//! Invariants: only small results (at most [`KNOWN_LIMIT`] elements) are
//! computed, and only when every result type is static; a computed value
//! whose type differs from the declared result type is discarded; an
//! evaluation that fails or panics leaves the value unknown (running the
//! model will report it).

use super::builder::Importer;
use std::panic::{catch_unwind, AssertUnwindSafe};
use weft_ir::ops::Trait;
use weft_ir::{Attrs, DenseAttr, Dim, ElemType, OpDef, Tensor, TensorData, TensorType, Type, Value};

/// The most elements a value computed at import time may have.
pub const KNOWN_LIMIT: u64 = 1 << 16;

/// The values of an op's results, where they can be known now.
pub fn known_results(
    imp: &Importer,
    def: &OpDef,
    operands: &[Value],
    attrs: &Attrs,
    types: &[TensorType],
) -> Vec<Option<DenseAttr>> {
    compute(imp, def, operands, attrs, types).unwrap_or_else(|| vec![None; types.len()])
}

fn compute(
    imp: &Importer,
    def: &OpDef,
    operands: &[Value],
    attrs: &Attrs,
    types: &[TensorType],
) -> Option<Vec<Option<DenseAttr>>> {
    let small = types.iter().all(|t| t.num_elements().is_some_and(|n| n <= KNOWN_LIMIT));
    if !small {
        return None;
    }
    match def.name {
        "onnx.Shape" => return Some(vec![Some(shape_of(imp.ty(*operands.first()?).ok()?, attrs)?)]),
        "onnx.Size" => return Some(vec![Some(size_of(imp.ty(*operands.first()?).ok()?)?)]),
        _ => {}
    }
    let eval = def.eval.filter(|_| def.has_trait(Trait::Pure))?;
    let inputs: Vec<Tensor> = operands.iter().map(|&v| imp.known(v)?.to_tensor()).collect::<Option<_>>()?;
    let declared: Vec<Type> = types.iter().cloned().map(Type::Tensor).collect();
    let results = catch_unwind(AssertUnwindSafe(|| eval(&inputs, attrs, &declared))).ok()?.ok()?;
    if results.len() != types.len() {
        return None;
    }
    let values = results
        .into_iter()
        .zip(types)
        .map(|(t, ty)| (t.ty() == *ty && t.data.len() as u64 == t.numel()).then(|| DenseAttr::from_tensor(t)))
        .collect();
    Some(values)
}

/// ONNX `Shape` (opset 15: `start`, `end`, negative counting from the
/// end, both clamped to `0..=rank`) of a static type.
fn shape_of(ty: &TensorType, attrs: &Attrs) -> Option<DenseAttr> {
    let rank = ty.rank() as i64;
    let clamp = |a: i64| if a < 0 { (a + rank).max(0) } else { a.min(rank) };
    let start = clamp(attrs.get("start").and_then(|a| a.as_int()).unwrap_or(0));
    let end = clamp(attrs.get("end").and_then(|a| a.as_int()).unwrap_or(rank));
    let dims = ty.dims.get(start as usize..end.max(start) as usize)?;
    let values: Vec<i64> = dims.iter().map(|d| d.fixed().and_then(|n| i64::try_from(n).ok())).collect::<Option<_>>()?;
    Some(int64s(vec![values.len() as u64], values))
}

/// ONNX `Size` of a static type: a scalar.
fn size_of(ty: &TensorType) -> Option<DenseAttr> {
    let n = ty.num_elements()?;
    if ty.dims.iter().any(|d| !matches!(d, Dim::Fixed(_))) {
        return None;
    }
    Some(int64s(Vec::new(), vec![i64::try_from(n).ok()?]))
}

fn int64s(shape: Vec<u64>, values: Vec<i64>) -> DenseAttr {
    DenseAttr::from_tensor(Tensor { elem: ElemType::I64, shape, data: TensorData::Int(values) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::Attribute;

    fn ints(d: &DenseAttr) -> Vec<i64> {
        let t = d.to_tensor().unwrap();
        (0..t.data.len()).map(|i| crate::import::known::tests::int(&t, i)).collect()
    }

    fn int(t: &Tensor, i: usize) -> i64 {
        match t.data.get(i) {
            weft_ir::tensor::Scalar::Int(v) => v,
            weft_ir::tensor::Scalar::Float(f) => f as i64,
        }
    }

    #[test]
    fn shape_honours_start_and_end() {
        let ty = TensorType::fixed(&[2, 3, 4], ElemType::F32);
        assert_eq!(ints(&shape_of(&ty, &Attrs::new()).unwrap()), [2, 3, 4]);
        let mut attrs = Attrs::new();
        attrs.insert("start".into(), Attribute::Int(-2));
        assert_eq!(ints(&shape_of(&ty, &attrs).unwrap()), [3, 4]);
        attrs.insert("end".into(), Attribute::Int(-5));
        assert_eq!(shape_of(&ty, &attrs).unwrap().ty.to_string(), "tensor<0xi64>");
        let sym = TensorType::new(vec![Dim::Sym("b".into()), Dim::Fixed(3)], ElemType::F32);
        assert!(shape_of(&sym, &Attrs::new()).is_none());
        let mut tail = Attrs::new();
        tail.insert("start".into(), Attribute::Int(1));
        assert_eq!(ints(&shape_of(&sym, &tail).unwrap()), [3]);
        assert_eq!(ints(&size_of(&ty).unwrap()), [24]);
        assert!(size_of(&sym).is_none());
    }
}
