//! ONNX value types as weft tensor types, and the binding of symbolic
//! dimensions (`dim_param`) to extents given with `--input-shape`.
//!
//! Invariants: a symbol is bound at most once, to one extent, and every
//! type the importer builds from the model goes through
//! [`ShapeBindings::apply`], so a bound symbol appears nowhere in the
//! module; symbolic dimension names never contain `]` or a line break (the
//! text format's `[name]` could not hold them).

use crate::onnx::onnx_elem_type;
use crate::onnx::proto::tensor_shape_proto::dimension::Value as DimValue;
use crate::onnx::proto::{type_proto, TensorShapeProto, TypeProto};
use std::collections::HashMap;
use weft_ir::{Dim, TensorType};

/// The most elements a value may have (2^40).
pub const MAX_ELEMENTS: u64 = 1 << 40;

/// The weft type of an ONNX `TypeProto`. `Ok(None)` when the rank is
/// unknown (no shape); an error for non-tensor types and unsupported
/// element types.
pub fn tensor_type(ty: &TypeProto) -> Result<Option<TensorType>, String> {
    let Some(value) = &ty.value else {
        return Err("has no type".to_string());
    };
    let type_proto::Value::TensorType(t) = value else {
        return Err(format!("has {} type; only tensors are supported", kind_name(value)));
    };
    let elem = onnx_elem_type(t.elem_type)?;
    Ok(t.shape.as_ref().map(|s| TensorType::new(dims(s), elem)))
}

fn kind_name(v: &type_proto::Value) -> &'static str {
    match v {
        type_proto::Value::TensorType(_) => "a tensor",
        type_proto::Value::SequenceType(_) => "a sequence",
        type_proto::Value::MapType(_) => "a map",
        type_proto::Value::OptionalType(_) => "an optional",
        type_proto::Value::SparseTensorType(_) => "a sparse tensor",
        type_proto::Value::OpaqueType(_) => "an opaque",
    }
}

fn dims(shape: &TensorShapeProto) -> Vec<Dim> {
    shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(DimValue::DimValue(n)) if *n >= 0 => Dim::Fixed(*n as u64),
            Some(DimValue::DimParam(p)) if !sanitize_symbol(p).is_empty() => Dim::Sym(sanitize_symbol(p)),
            _ => Dim::Dyn,
        })
        .collect()
}

/// A `dim_param` as a symbolic dimension name: surrounding space trimmed,
/// `]` and control characters replaced by `_`.
pub fn sanitize_symbol(p: &str) -> String {
    p.trim().chars().map(|c| if c == ']' || c.is_control() { '_' } else { c }).collect()
}

/// The number of elements of the static part of `ty` (symbolic and
/// dynamic dims count as 1), or `None` past `u64`.
pub fn static_elements(ty: &TensorType) -> Option<u64> {
    ty.dims.iter().try_fold(1u64, |acc, d| acc.checked_mul(d.fixed().unwrap_or(1)))
}

/// An error when `ty` has more than [`MAX_ELEMENTS`] elements.
pub fn check_size(ty: &TensorType) -> Result<(), String> {
    match static_elements(ty) {
        Some(n) if n <= MAX_ELEMENTS => Ok(()),
        _ => Err(format!("{ty} has more than 2^40 elements")),
    }
}

/// `1x128`.
pub fn shape_text(shape: &[u64]) -> String {
    shape.iter().map(u64::to_string).collect::<Vec<_>>().join("x")
}

/// Extents bound to symbolic dimensions, and by which `--input-shape`.
#[derive(Debug, Default, Clone)]
pub struct ShapeBindings {
    bound: HashMap<String, (u64, String)>,
}

impl ShapeBindings {
    /// Applies `--input-shape input=shape` to the input's declared type
    /// (`None`: unknown rank): the new type, binding the symbols it names.
    pub fn bind_input(&mut self, input: &str, declared: Option<&TensorType>, shape: &[u64]) -> Result<(), String> {
        let flag = format!("--input-shape {input}={}", shape_text(shape));
        let Some(declared) = declared else {
            return Ok(());
        };
        if declared.rank() != shape.len() {
            return Err(format!(
                "{flag} gives rank {}, but input '{input}' has rank {} ({declared})",
                shape.len(),
                declared.rank()
            ));
        }
        for (axis, (dim, &n)) in declared.dims.iter().zip(shape).enumerate() {
            if let Dim::Fixed(m) = dim {
                if *m != n {
                    return Err(format!(
                        "{flag} gives extent {n} to dimension {axis}, but the model fixes it to {m} ({declared})"
                    ));
                }
            }
        }
        for (dim, &n) in declared.dims.iter().zip(shape) {
            if let Dim::Sym(s) = dim {
                self.bind(s, n, &flag)?;
            }
        }
        Ok(())
    }

    fn bind(&mut self, sym: &str, n: u64, flag: &str) -> Result<(), String> {
        match self.bound.get(sym) {
            Some((m, by)) if *m != n => Err(format!("dimension '{sym}' is bound to {m} by {by} and to {n} by {flag}")),
            Some(_) => Ok(()),
            None => {
                self.bound.insert(sym.to_string(), (n, flag.to_string()));
                Ok(())
            }
        }
    }

    /// `ty` with every bound symbol replaced by its extent.
    pub fn apply(&self, ty: &TensorType) -> TensorType {
        let dims = ty
            .dims
            .iter()
            .map(|d| match d {
                Dim::Sym(s) => self.bound.get(s).map_or_else(|| d.clone(), |(n, _)| Dim::Fixed(*n)),
                _ => d.clone(),
            })
            .collect();
        TensorType::new(dims, ty.elem.clone())
    }

    pub fn is_empty(&self) -> bool {
        self.bound.is_empty()
    }
}

/// Uses a hint (ONNX `value_info` or a declared graph output type) to make
/// an inferred type more precise: a dimension inference left unknown takes
/// the hint's extent, or the hint's symbol when `known_symbol` accepts it.
/// A hint of another element type or rank is ignored.
pub fn refine(inferred: &TensorType, hint: &TensorType, known_symbol: impl Fn(&str) -> bool) -> TensorType {
    if inferred.elem != hint.elem || inferred.rank() != hint.rank() {
        return inferred.clone();
    }
    let dims = inferred
        .dims
        .iter()
        .zip(&hint.dims)
        .map(|(i, h)| match (i, h) {
            (Dim::Dyn, Dim::Fixed(_)) => h.clone(),
            (Dim::Dyn, Dim::Sym(s)) if known_symbol(s) => h.clone(),
            _ => i.clone(),
        })
        .collect();
    TensorType::new(dims, inferred.elem.clone())
}

/// Why a declared graph output type contradicts the inferred one: another
/// element type or rank, or two different static extents.
pub fn output_mismatch(declared: &TensorType, inferred: &TensorType) -> Option<String> {
    if declared.elem != inferred.elem {
        return Some(format!("element type {} vs {}", declared.elem, inferred.elem));
    }
    if declared.rank() != inferred.rank() {
        return Some(format!("rank {} vs {}", declared.rank(), inferred.rank()));
    }
    declared.dims.iter().zip(&inferred.dims).enumerate().find_map(|(axis, pair)| match pair {
        (Dim::Fixed(a), Dim::Fixed(b)) if a != b => Some(format!("dimension {axis} is {a} vs {b}")),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::ElemType;

    fn ty(dims: Vec<Dim>) -> TensorType {
        TensorType::new(dims, ElemType::F32)
    }

    fn sym(s: &str) -> Dim {
        Dim::Sym(s.to_string())
    }

    #[test]
    fn binding_substitutes_symbols_everywhere() {
        let mut b = ShapeBindings::default();
        let input = ty(vec![sym("batch"), sym("seq")]);
        b.bind_input("ids", Some(&input), &[1, 128]).unwrap();
        assert_eq!(b.apply(&input), TensorType::fixed(&[1, 128], ElemType::F32));
        let output = ty(vec![sym("batch"), Dim::Fixed(2), sym("other")]);
        assert_eq!(b.apply(&output).to_string(), "tensor<1x2x[other]xf32>");
    }

    #[test]
    fn binding_errors_say_what_conflicts() {
        let mut b = ShapeBindings::default();
        let input = ty(vec![sym("batch"), Dim::Fixed(128)]);
        let rank = b.bind_input("ids", Some(&input), &[1]).unwrap_err();
        assert_eq!(rank, "--input-shape ids=1 gives rank 1, but input 'ids' has rank 2 (tensor<[batch]x128xf32>)");
        let fixed = b.bind_input("ids", Some(&input), &[1, 64]).unwrap_err();
        assert!(fixed.contains("gives extent 64 to dimension 1, but the model fixes it to 128"), "{fixed}");
        b.bind_input("ids", Some(&input), &[2, 128]).unwrap();
        let twice = b.bind_input("mask", Some(&ty(vec![sym("batch")])), &[3]).unwrap_err();
        assert_eq!(
            twice,
            "dimension 'batch' is bound to 2 by --input-shape ids=2x128 and to 3 by --input-shape mask=3"
        );
    }

    #[test]
    fn hints_refine_only_unknown_dims() {
        let inferred = ty(vec![Dim::Dyn, Dim::Fixed(4), Dim::Dyn]);
        let hint = ty(vec![Dim::Fixed(2), Dim::Fixed(5), sym("seq")]);
        assert_eq!(refine(&inferred, &hint, |_| false).to_string(), "tensor<2x4x?xf32>");
        assert_eq!(refine(&inferred, &hint, |s| s == "seq").to_string(), "tensor<2x4x[seq]xf32>");
        let other_rank = ty(vec![Dim::Fixed(2)]);
        assert_eq!(refine(&inferred, &other_rank, |_| true), inferred);
        assert_eq!(output_mismatch(&hint, &inferred), Some("dimension 1 is 5 vs 4".to_string()));
        assert_eq!(output_mismatch(&inferred, &inferred), None);
    }

    #[test]
    fn sizes_and_symbols() {
        assert!(check_size(&TensorType::fixed(&[1 << 20, 1 << 20], ElemType::F32)).is_ok());
        let err = check_size(&TensorType::fixed(&[1 << 21, 1 << 20], ElemType::F32)).unwrap_err();
        assert!(err.contains("more than 2^40"), "{err}");
        assert!(check_size(&TensorType::fixed(&[u64::MAX, 4], ElemType::F32)).is_err());
        assert_eq!(sanitize_symbol(" a]b\n"), "a_b");
    }
}
