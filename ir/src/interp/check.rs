//! Checking concrete tensors against declared types: element type, rank,
//! static dimensions, and symbolic dimensions bound consistently (the first
//! tensor that shows `[batch]` binds it; every later one must agree).
//!
//! Invariants: a tensor that passes [`DimBindings::check`] has storage of
//! the kind its element type needs and exactly as many elements as its
//! shape, so evaluation may index it freely.

use crate::tensor::{Tensor, TensorData};
use crate::types::{Dim, Type};
use std::collections::HashMap;

/// Values bound to symbolic dimensions during one run.
#[derive(Debug, Default, Clone)]
pub struct DimBindings {
    /// Symbol -> (extent, who bound it, for messages).
    bound: HashMap<String, (u64, String)>,
}

impl DimBindings {
    /// The extent bound to `sym`, if any.
    pub fn get(&self, sym: &str) -> Option<u64> {
        self.bound.get(sym).map(|b| b.0)
    }

    /// Checks `t` against `ty`, binding the symbols `ty` mentions for the
    /// first time. `what` names the value in messages ("argument #0
    /// ('input_ids')", "result #1").
    pub fn check(&mut self, ty: &Type, t: &Tensor, what: &str) -> Result<(), String> {
        let Some(tt) = ty.as_tensor() else {
            return Err(format!("{what} has type {ty}, which is not a tensor type"));
        };
        check_storage(t).map_err(|e| format!("{what} is malformed: {e}"))?;
        if t.elem != tt.elem {
            return Err(format!("{what} has element type {}, but {} is expected", t.elem, tt.elem));
        }
        if t.shape.len() != tt.dims.len() {
            return Err(format!(
                "{what} has rank {} (shape {}), but {ty} has rank {}",
                t.shape.len(),
                shape_text(&t.shape),
                tt.dims.len()
            ));
        }
        for (axis, (dim, &actual)) in tt.dims.iter().zip(&t.shape).enumerate() {
            self.check_dim(dim, actual, axis, what, ty)?;
        }
        Ok(())
    }

    fn check_dim(&mut self, dim: &Dim, actual: u64, axis: usize, what: &str, ty: &Type) -> Result<(), String> {
        match dim {
            Dim::Fixed(n) if *n != actual => {
                Err(format!("{what} has extent {actual} in dimension {axis}, but {ty} needs {n}"))
            }
            Dim::Sym(s) => match self.bound.get(s) {
                Some((n, by)) if *n != actual => {
                    Err(format!("{what} has extent {actual} in dimension {axis}, but [{s}] is {n} (bound by {by})"))
                }
                Some(_) => Ok(()),
                None => {
                    self.bound.insert(s.clone(), (actual, what.to_string()));
                    Ok(())
                }
            },
            _ => Ok(()),
        }
    }
}

/// The storage kind matches the element type and the element count the
/// shape.
pub fn check_storage(t: &Tensor) -> Result<(), String> {
    let expected = TensorData::empty_for(&t.elem, 0);
    if std::mem::discriminant(&expected) != std::mem::discriminant(&t.data) {
        return Err(format!("its data is not stored as {} needs", t.elem));
    }
    let n = t.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    match n {
        Some(n) if n == t.data.len() as u64 => Ok(()),
        Some(n) => Err(format!("shape {} needs {n} elements, it holds {}", shape_text(&t.shape), t.data.len())),
        None => Err(format!("shape {} has too many elements", shape_text(&t.shape))),
    }
}

/// `2x3`, or `scalar` for rank 0.
pub fn shape_text(shape: &[u64]) -> String {
    if shape.is_empty() {
        return "scalar".to_string();
    }
    shape.iter().map(u64::to_string).collect::<Vec<_>>().join("x")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ElemType, TensorType};

    fn f32s(shape: &[u64]) -> Tensor {
        let n: u64 = shape.iter().product();
        Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(vec![0.0; n as usize]) }
    }

    fn ty(dims: Vec<Dim>) -> Type {
        Type::Tensor(TensorType::new(dims, ElemType::F32))
    }

    #[test]
    fn symbols_bind_once_and_must_agree() {
        let mut b = DimBindings::default();
        let t = ty(vec![Dim::Sym("batch".into()), Dim::Fixed(3)]);
        b.check(&t, &f32s(&[2, 3]), "argument #0").unwrap();
        assert_eq!(b.get("batch"), Some(2));
        let err = b.check(&t, &f32s(&[4, 3]), "argument #1").unwrap_err();
        assert_eq!(err, "argument #1 has extent 4 in dimension 0, but [batch] is 2 (bound by argument #0)");
    }

    #[test]
    fn element_type_rank_and_static_dims() {
        let mut b = DimBindings::default();
        let t = ty(vec![Dim::Fixed(2), Dim::Dyn]);
        b.check(&t, &f32s(&[2, 7]), "x").unwrap();
        assert!(b.check(&t, &f32s(&[3, 7]), "x").unwrap_err().contains("needs 2"));
        assert!(b.check(&t, &f32s(&[2]), "x").unwrap_err().contains("rank 1"));
        let ints = Tensor { elem: ElemType::I64, shape: vec![2, 1], data: TensorData::Int(vec![1, 2]) };
        assert_eq!(b.check(&t, &ints, "x").unwrap_err(), "x has element type i64, but f32 is expected");
    }

    #[test]
    fn malformed_tensors_are_rejected() {
        let short = Tensor { elem: ElemType::F32, shape: vec![3], data: TensorData::F32(vec![1.0]) };
        assert!(check_storage(&short).unwrap_err().contains("needs 3 elements, it holds 1"));
        let wrong = Tensor { elem: ElemType::F32, shape: vec![1], data: TensorData::Int(vec![1]) };
        assert!(check_storage(&wrong).is_err());
        let huge = Tensor { elem: ElemType::F32, shape: vec![u64::MAX, 4], data: TensorData::F32(vec![]) };
        assert!(check_storage(&huge).unwrap_err().contains("too many"));
    }
}
