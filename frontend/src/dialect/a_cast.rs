//! Element type conversion in the onnx dialect: `Cast`, `CastLike`,
//! `Identity`, and the table of ONNX `TensorProto.DataType` codes.
//!
//! Invariants: every conversion rounds once (ties to even) to a float
//! target, including from integers wider than the target's mantissa;
//! float to integer truncates toward zero, NaN gives 0 and out-of-range
//! values saturate (ONNX leaves them undefined); integer to integer keeps
//! the low bits (two's complement); anything to bool is `x != 0` (NaN is
//! true).

use super::a_common::{arg, tensor_type, Operands, ANY};
use weft_ir::module::Attrs;
use weft_ir::ops::{Arity, AttrKind, AttrSpec, OpDef, Trait};
use weft_ir::types::{ElemType, Type};

/// The weft element type of an ONNX `TensorProto.DataType` code; strings,
/// complex numbers and 8- or 4-bit floats are not supported.
pub fn elem_type_from_onnx(code: i64) -> Result<ElemType, String> {
    let int = |width, signed| ElemType::Int { width, signed };
    Ok(match code {
        1 => ElemType::F32,
        2 => int(8, false),
        3 => int(8, true),
        4 => int(16, false),
        5 => int(16, true),
        6 => int(32, true),
        7 => int(64, true),
        9 => ElemType::Bool,
        10 => ElemType::F16,
        11 => ElemType::F64,
        12 => int(32, false),
        13 => int(64, false),
        16 => ElemType::BF16,
        21 => int(4, false),
        22 => int(4, true),
        8 => return Err("ONNX data type 8 (STRING) is not supported".into()),
        14 | 15 => return Err(format!("ONNX data type {code} (complex) is not supported")),
        17..=20 | 23 => return Err(format!("ONNX data type {code} (float8/float4) is not supported")),
        _ => return Err(format!("{code} is not an ONNX data type")),
    })
}

/// The ONNX `TensorProto.DataType` code of a weft element type, when ONNX
/// has one.
pub fn onnx_code_of(elem: &ElemType) -> Option<i64> {
    Some(match elem {
        ElemType::F32 => 1,
        ElemType::F16 => 10,
        ElemType::F64 => 11,
        ElemType::BF16 => 16,
        ElemType::Bool => 9,
        ElemType::Int { width, signed } => match (width, signed) {
            (8, false) => 2,
            (8, true) => 3,
            (16, false) => 4,
            (16, true) => 5,
            (32, true) => 6,
            (64, true) => 7,
            (32, false) => 12,
            (64, false) => 13,
            (4, false) => 21,
            (4, true) => 22,
            _ => return None,
        },
        ElemType::Quant(_) | ElemType::Bin(_) => return None,
    })
}

const SATURATE: AttrSpec = AttrSpec {
    name: "saturate",
    kind: AttrKind::Int,
    required: false,
    doc: "default 1; only affects float8 targets, which weft does not support, so it is ignored",
};

pub const CAST: OpDef = OpDef {
    name: "onnx.Cast",
    summary: "Converts every element to the element type given by `to`",
    description: concat!(
        "`to` is an ONNX `TensorProto.DataType` code (1 = f32, 2 = u8, 3 = i8, 4 = u16, 5 = i16, \
6 = i32, 7 = i64, 9 = bool, 10 = f16, 11 = f64, 12 = u32, 13 = u64, 16 = bf16, 21 = u4, 22 = i4). ",
        "Conversions (ONNX `Cast`, opset 21): to a float type, the nearest value (ties to even; out \
of range gives ±inf), also from integers wider than the mantissa; float to integer truncates \
toward zero, NaN gives 0, and out-of-range values saturate to the type's bounds (ONNX leaves them \
undefined); integer to integer keeps the low bits (`200` as i8 is `-56`); to bool, `x != 0` (NaN \
is true); bool to numbers is 0 or 1. Strings, complex and float8 types are not supported.",
        "\n\n```\n%1 = onnx.Cast %0 {to = 7} : (tensor<2x3xf32>) -> tensor<2x3xi64>\n```"
    ),
    operands: Arity::Fixed(&["input"]),
    results: Arity::Fixed(&["output"]),
    attrs: &[
        AttrSpec { name: "to", kind: AttrKind::Int, required: true, doc: "the target ONNX data type code" },
        SATURATE,
    ],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let x = Operands::new(info, Arity::Fixed(&["input"])).typed(0, &ANY)?;
        Ok(vec![tensor_type(x.dims.clone(), cast_target(info.attrs)?)])
    }),
    eval: Some(|ops, attrs, _| Ok(vec![cast(arg(ops, 0)?, &cast_target(attrs)?)])),
    ..OpDef::DEFAULT
};

fn cast_target(attrs: &Attrs) -> Result<ElemType, String> {
    let code = attrs.get("to").and_then(|a| a.as_int()).ok_or("attribute 'to' must be an integer")?;
    elem_type_from_onnx(code).map_err(|e| format!("attribute 'to': {e}"))
}

const CAST_LIKE_OPERANDS: Arity = Arity::Fixed(&["input", "target_type"]);

pub const CAST_LIKE: OpDef = OpDef {
    name: "onnx.CastLike",
    summary: "Converts every element to the element type of `target_type`",
    description: "Like `onnx.Cast` with `to` taken from the second operand's element type (its \
values are not read; ONNX `CastLike`, opset 21).\n\n\
```\n%2 = onnx.CastLike %0, %1 : (tensor<2x3xi64>, tensor<f16>) -> tensor<2x3xf16>\n```",
    operands: CAST_LIKE_OPERANDS,
    results: Arity::Fixed(&["output"]),
    attrs: &[SATURATE],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        let ops = Operands::new(info, CAST_LIKE_OPERANDS);
        let x = ops.typed(0, &ANY)?;
        let target = ops.typed(1, &ANY)?;
        Ok(vec![tensor_type(x.dims.clone(), target.elem.clone())])
    }),
    eval: Some(|ops, _, _| Ok(vec![cast(arg(ops, 0)?, &arg(ops, 1)?.elem)])),
    ..OpDef::DEFAULT
};

pub const IDENTITY: OpDef = OpDef {
    name: "onnx.Identity",
    summary: "The operand, unchanged",
    description: "Any tensor type (ONNX `Identity`, opset 21; sequences and optionals are not \
supported).\n\n```\n%1 = onnx.Identity %0 : tensor<2x3xf32>\n```",
    operands: Arity::Fixed(&["input"]),
    results: Arity::Fixed(&["output"]),
    traits: &[Trait::Pure],
    infer: Some(|info| Ok(vec![Type::Tensor(Operands::new(info, Arity::Fixed(&["input"])).typed(0, &ANY)?.clone())])),
    eval: Some(|ops, _, _| Ok(vec![arg(ops, 0)?.clone()])),
    ..OpDef::DEFAULT
};

/// `x` converted to `to`: the rules of `nn.cast` (which are ONNX's, see
/// the module comment), so that legalizing `onnx.Cast` cannot change a bit.
pub use weft_ir::ops::nn::convert::cast;

#[cfg(test)]
#[path = "a_tests/cast.rs"]
mod tests;
