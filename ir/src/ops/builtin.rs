//! The builtin dialect: the structure every program has. `module` and
//! `func` are written with their own syntax (spec/syntax.md) and are not
//! ops of a block; `builtin.return` and `builtin.constant` are ops, written
//! `return` and `constant` in the short form.

use super::{Arity, AttrKind, AttrSpec, Dialect, OpDef, OpInfo, Trait};
use crate::types::Type;

pub static DIALECT: Dialect = Dialect {
    name: "builtin",
    summary: "Modules, functions, constants and return",
    description: "A module holds functions. A function has arguments (the \
arguments of its body block), result types, and one block of ops that ends \
with `return`. Constants are tensors written inline (`dense<...>`) or kept in \
the resource file beside the text (`dense_resource<name>`).\n\n\
```\nmodule {\n  func @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {\n    \
%0 = constant dense<1.0> : tensor<4xf32>\n    %1 = nn.add %arg0, %0 : tensor<4xf32>\n    \
return %1 : tensor<4xf32>\n  }\n}\n```",
    ops: &[RETURN, CONSTANT],
};

pub const RETURN: OpDef = OpDef {
    name: "builtin.return",
    summary: "Returns values from a function; the last op of its body",
    description: "`return %a, %b : T1, T2`. The operand types must equal the \
function's result types, in order.",
    operands: Arity::Variadic { name: "values", min: 0 },
    results: Arity::Fixed(&[]),
    traits: &[Trait::Terminator],
    ..OpDef::DEFAULT
};

pub const CONSTANT: OpDef = OpDef {
    name: "builtin.constant",
    summary: "A constant tensor, inline or from the resource file",
    description: "`%0 = constant dense<[1.0, 2.0]> : tensor<2xf32>` or \
`%w = constant dense_resource<layer0.weight> : tensor<384x384xf32>`. The \
result type is the type of `value`.",
    operands: Arity::Fixed(&[]),
    results: Arity::Fixed(&["result"]),
    attrs: &[AttrSpec { name: "value", kind: AttrKind::Tensor, required: true, doc: "the tensor" }],
    traits: &[Trait::Pure, Trait::ConstantLike],
    infer: Some(infer_constant),
    ..OpDef::DEFAULT
};

fn infer_constant(info: &OpInfo) -> Result<Vec<Type>, String> {
    let ty = info
        .attrs
        .get("value")
        .and_then(|a| a.tensor_type())
        .ok_or("'value' must be a dense or dense_resource tensor")?;
    Ok(vec![Type::Tensor(ty.clone())])
}
