//! Helpers for the passes' unit tests: build small functions with the IR
//! API and print them.

use weft_ir::ops::{builtin, OpDef};
use weft_ir::{Attribute, DenseAttr, ElemType, Function, Location, Module, NewOp, Op, Tensor, TensorType, Type, Value};

pub fn f32_type(shape: &[u64]) -> Type {
    Type::Tensor(TensorType::fixed(shape, ElemType::F32))
}

pub fn i32_type(shape: &[u64]) -> Type {
    Type::Tensor(TensorType::fixed(shape, ElemType::I32))
}

/// A tensor of `ty`'s element type and shape from `values` (floats are
/// converted to integers for integer types).
pub fn tensor(ty: &Type, values: &[f64]) -> Tensor {
    let t = ty.as_tensor().expect("tensor type");
    let shape = t.static_shape().expect("static shape");
    let int = !t.elem.is_float();
    Tensor::from_fn(t.elem.clone(), shape, |i| {
        if int {
            weft_ir::tensor::Scalar::Int(values[i] as i64)
        } else {
            weft_ir::tensor::Scalar::Float(values[i])
        }
    })
}

/// A function `@main` with arguments of `args` returning `results`.
pub fn func(args: Vec<Type>, results: Vec<Type>) -> Function {
    Function::new("main", args, results)
}

/// Appends `constant dense<values> : ty`.
pub fn constant(f: &mut Function, ty: &Type, values: &[f64]) -> Value {
    let value = Attribute::Dense(DenseAttr::from_tensor(tensor(ty, values)));
    let op = f.append_op(f.body, NewOp::new(&builtin::CONSTANT, vec![], vec![ty.clone()]).attr("value", value));
    f.ops[op].results[0]
}

/// Appends an op with one result of type `ty`.
pub fn op(f: &mut Function, def: &'static OpDef, operands: &[Value], ty: &Type) -> Value {
    let op = f.append_op(f.body, NewOp::new(def, operands.to_vec(), vec![ty.clone()]));
    f.ops[op].results[0]
}

/// Appends an op with one result of type `ty` and a location name.
pub fn op_at(f: &mut Function, def: &'static OpDef, operands: &[Value], ty: &Type, loc: &str) -> Value {
    let mut spec = NewOp::new(def, operands.to_vec(), vec![ty.clone()]);
    spec.loc = Location::Name(loc.to_string());
    let op = f.append_op(f.body, spec);
    f.ops[op].results[0]
}

/// Appends `return values`.
pub fn ret(f: &mut Function, values: &[Value]) -> Op {
    f.append_op(f.body, NewOp::new(&builtin::RETURN, values.to_vec(), vec![]))
}

pub fn module(f: Function) -> Module {
    Module { funcs: vec![f], ..Default::default() }
}

pub fn print(m: &Module) -> String {
    weft_ir::printer::print_module(m)
}

/// The printed body lines of the only function, trimmed (without the
/// `module {`/`func` framing), for compact assertions.
pub fn body(m: &Module) -> Vec<String> {
    let text = print(m);
    let lines: Vec<&str> = text.lines().collect();
    lines[2..lines.len() - 2].iter().map(|l| l.trim().to_string()).collect()
}
