//! Binds the symbolic dims of the function `weft run` runs to the extents
//! of its inputs, so that the JIT (which needs static shapes) can compile
//! a .weft module written with `[batch]`-style dims. An ONNX model needs
//! none of this: it is imported with the inputs' shapes bound.
//!
//! Invariants: the inputs are checked against the argument types exactly
//! as a run checks them (same messages), binding each symbol once; then
//! every type in the function that names a bound symbol gets the extent
//! instead. Symbols the arguments do not bind, and `?` dims, stay: the JIT
//! reports them. The caller re-verifies the module when anything changed.

use weft_ir::interp::{input_names, DimBindings};
use weft_ir::{Diagnostic, Dim, Function, Tensor, Type};

/// Binds the symbolic dims of `func` from `inputs` (in argument order);
/// whether any type changed.
pub fn bind_symbolic_dims(func: &mut Function, inputs: &[Tensor]) -> Result<bool, Diagnostic> {
    let error = |m: String| Diagnostic::error(m, func.span).with_loc(func.loc.clone());
    let names = input_names(func);
    let mut dims = DimBindings::default();
    for (i, (ty, t)) in func.arg_types().iter().zip(inputs).enumerate() {
        let what = format!("input #{i} ('{}') of '@{}'", names.get(i).map_or("", String::as_str), func.name);
        dims.check(ty, t, &what).map_err(error)?;
    }
    let mut changed = false;
    let values: Vec<_> = func.values.keys().collect();
    for v in values {
        changed |= bind_type(&mut func.values[v].ty, &dims);
    }
    for ty in &mut func.results {
        changed |= bind_type(ty, &dims);
    }
    Ok(changed)
}

/// Replaces the bound symbols of a tensor type; whether any was.
fn bind_type(ty: &mut Type, dims: &DimBindings) -> bool {
    let Type::Tensor(t) = ty else { return false };
    let mut changed = false;
    for d in &mut t.dims {
        if let Some(n) = match d {
            Dim::Sym(name) => dims.get(name),
            _ => None,
        } {
            *d = Dim::Fixed(n);
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::parser::parse_str;
    use weft_ir::{Context, ElemType, TensorData};

    fn function(text: &str) -> Function {
        let (_, m) = parse_str(&Context::default(), "t.weft", text);
        m.unwrap_or_else(|_| panic!("parse")).funcs.remove(0)
    }

    fn f32s(shape: &[u64]) -> Tensor {
        let n = shape.iter().product::<u64>() as usize;
        Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(vec![0.5; n]) }
    }

    #[test]
    fn symbols_become_the_inputs_extents_everywhere() {
        let mut f = function(
            "func @main(%x: tensor<[n]x4xf32>, %y: tensor<4x[m]xf32>) -> tensor<[n]x[m]xf32> {
  %0 = nn.matmul %x, %y : (tensor<[n]x4xf32>, tensor<4x[m]xf32>) -> tensor<[n]x[m]xf32>
  return %0 : tensor<[n]x[m]xf32>
}",
        );
        assert!(bind_symbolic_dims(&mut f, &[f32s(&[3, 4]), f32s(&[4, 5])]).unwrap());
        assert_eq!(f.arg_types()[0].to_string(), "tensor<3x4xf32>");
        assert_eq!(f.results[0].to_string(), "tensor<3x5xf32>");
        let ret = f.walk().into_iter().map(|op| f.ops[op].operands.clone()).next_back().unwrap();
        assert_eq!(f.values[ret[0]].ty.to_string(), "tensor<3x5xf32>");
        // Already static: nothing changes.
        assert!(!bind_symbolic_dims(&mut f, &[f32s(&[3, 4]), f32s(&[4, 5])]).unwrap());
    }

    #[test]
    fn inputs_that_disagree_are_reported_as_a_run_reports_them() {
        let mut f = function(
            "func @main(%x: tensor<[n]xf32>, %y: tensor<[n]xf32>) -> tensor<[n]xf32> {
  %0 = nn.add %x, %y : tensor<[n]xf32>
  return %0 : tensor<[n]xf32>
}",
        );
        let e = bind_symbolic_dims(&mut f, &[f32s(&[3]), f32s(&[4])]).unwrap_err();
        assert!(e.message.starts_with("input #1 ('arg1') of '@main' has extent 4 in dimension 0"), "{}", e.message);
    }
}
