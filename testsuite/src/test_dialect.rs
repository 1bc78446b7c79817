//! The `test` dialect: ops that exist only to exercise the IR, the printer
//! and the passes from lit files (multi-result ops, ops with regions, ops
//! with side effects), the way a user's crate adds its own dialect.
//!
//! Invariant: nothing outside tests uses these ops; [`test_context`] is the
//! context of the lit tests and of `weft test` (builtin, nn, onnx and
//! test), `weft opt` does not know the test ops.

use weft_ir::ops::{Arity, Dialect, OpDef, OpInfo, Trait};
use weft_ir::{Context, Type};

pub static DIALECT: Dialect = Dialect {
    name: "test",
    summary: "Ops for testing the IR and the passes; not for real programs",
    description: "Side effects (`test.print`), several results (`test.split`, \
`test.opaque`) and regions (`test.region`, ended by `test.yield`).",
    ops: &[PRINT, SPLIT, OPAQUE, REGION, YIELD],
};

/// Has a side effect: never removed or merged.
pub const PRINT: OpDef = OpDef {
    name: "test.print",
    summary: "Prints its operands (a side effect; never removed)",
    operands: Arity::Variadic { name: "values", min: 0 },
    ..OpDef::DEFAULT
};

/// Two results of the operand's type.
pub const SPLIT: OpDef = OpDef {
    name: "test.split",
    summary: "Two results, both of the operand's type",
    operands: Arity::Fixed(&["input"]),
    results: Arity::Fixed(&["first", "second"]),
    traits: &[Trait::Pure],
    infer: Some(infer_split),
    ..OpDef::DEFAULT
};

/// Any operands, any results, any types; no traits.
pub const OPAQUE: OpDef = OpDef {
    name: "test.opaque",
    summary: "Any operands and results of any types; has side effects",
    operands: Arity::Variadic { name: "inputs", min: 0 },
    results: Arity::Variadic { name: "results", min: 0 },
    ..OpDef::DEFAULT
};

/// A pure op with a region (written in the generic form).
pub const REGION: OpDef = OpDef {
    name: "test.region",
    summary: "A pure op with a region ended by test.yield",
    operands: Arity::Variadic { name: "inputs", min: 0 },
    results: Arity::Fixed(&["result"]),
    traits: &[Trait::Pure],
    ..OpDef::DEFAULT
};

/// Ends a region of `test.region`.
pub const YIELD: OpDef = OpDef {
    name: "test.yield",
    summary: "Ends a region of test.region",
    operands: Arity::Variadic { name: "values", min: 0 },
    traits: &[Trait::Terminator],
    ..OpDef::DEFAULT
};

fn infer_split(info: &OpInfo) -> Result<Vec<Type>, String> {
    let t = info.operand_types.first().ok_or("test.split needs an operand")?;
    Ok(vec![(*t).clone(), (*t).clone()])
}

/// The builtin dialects, `onnx` and `test`: the context of the lit tests.
pub fn test_context() -> Context {
    let mut ctx = Context::default();
    ctx.register(&weft_frontend::dialect::DIALECT);
    ctx.register(&DIALECT);
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_context_knows_builtin_nn_and_test_ops() {
        let ctx = test_context();
        for name in
            ["return", "nn.add", "onnx.Reshape", "test.print", "test.split", "test.opaque", "test.region", "test.yield"]
        {
            assert!(ctx.lookup(name).is_some(), "{name}");
        }
        assert!(Context::default().lookup("test.print").is_none());
    }
}
