//! `shape-inference`: refines the result types of ops with what their shape
//! inference knows now.
//!
//! Types are written when an op is created; later rewrites can make more
//! known (a fold turns a shape operand into a constant, the importer binds a
//! symbolic dimension), and the verifier accepts a declared `?` where
//! inference knows the extent. This pass closes that gap:
//!
//! 1. Walk every function's ops in block order (definitions before uses,
//!    regions after their op), so each op sees the refined types of its
//!    operands.
//! 2. For an op with shape inference, compute the inferred result types from
//!    the current operand types and inline constant operands; where the
//!    declared dimension is `?` and the inferred one is known, take the
//!    inferred one. A declared dimension is never replaced by another known
//!    one (the declared type may be more precise than inference).
//! 3. Set each function's result types to the types its `return` gives.
//!
//! Invariants: only `?` dimensions change, to known ones; an inference that
//! fails or disagrees is left alone (the verifier reports it after the pass).

use crate::{Pass, PassContext, PassStatistic};
use weft_ir::attr::DenseAttr;
use weft_ir::ops::OpInfo;
use weft_ir::{Diagnostic, Dim, Function, Module, Op, Type};

/// The `shape-inference` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShapeInference;

const REFINED_VALUES: PassStatistic =
    PassStatistic { name: "refined-values", doc: "op results whose type gained known dimensions" };

impl Pass for ShapeInference {
    fn name(&self) -> &'static str {
        "shape-inference"
    }

    fn summary(&self) -> &'static str {
        "Refines unknown (?) dimensions of result types with what shape inference knows now"
    }

    fn description(&self) -> &'static str {
        "Walks the ops in order and, for each op with shape inference, replaces every `?` \
dimension of a result type by the extent inference gives (from the operand types and \
inline constant operands, so after folding a shape operand the reshape's result becomes \
static). Function result types follow their `return`. Known dimensions never change."
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[REFINED_VALUES]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        for f in module.funcs.iter_mut() {
            let refined = refine_function(f);
            cx.count(&REFINED_VALUES, refined);
        }
        Ok(())
    }
}

/// Refines every op of `f` in order, then the signature; returns how many
/// result types changed.
pub fn refine_function(f: &mut Function) -> u64 {
    let mut refined = 0;
    for op in f.walk() {
        refined += refine_op(f, op);
    }
    if let Some(ret) = f.terminator() {
        let types: Vec<Type> = f.ops[ret].operands.iter().map(|&v| f.values[v].ty.clone()).collect();
        if types.len() == f.results.len() {
            f.results = types;
        }
    }
    refined
}

fn refine_op(f: &mut Function, op: Op) -> u64 {
    let Some(inferred) = infer(f, op) else { return 0 };
    let mut refined = 0;
    for (i, ty) in inferred.iter().enumerate() {
        let Some(&v) = f.ops[op].results.get(i) else { break };
        if let Some(better) = merge(&f.values[v].ty, ty) {
            f.values[v].ty = better;
            refined += 1;
        }
    }
    refined
}

/// The op's inferred result types, if it has shape inference that succeeds.
fn infer(f: &Function, op: Op) -> Option<Vec<Type>> {
    let data = &f.ops[op];
    let hook = data.def.infer?;
    let types: Vec<&Type> = data.operands.iter().map(|&v| &f.values[v].ty).collect();
    let constants: Vec<Option<&DenseAttr>> = data.operands.iter().map(|&v| f.dense_constant(v)).collect();
    hook(&OpInfo { operand_types: &types, attrs: &data.attrs, constants: &constants }).ok()
}

/// `declared` with its `?` dimensions taken from `inferred`, when that
/// changes anything and the two agree everywhere else.
fn merge(declared: &Type, inferred: &Type) -> Option<Type> {
    let (Type::Tensor(d), Type::Tensor(i)) = (declared, inferred) else { return None };
    if d.elem != i.elem || d.dims.len() != i.dims.len() {
        return None;
    }
    let mut out = d.clone();
    let mut changed = false;
    for (mine, theirs) in out.dims.iter_mut().zip(&i.dims) {
        match (&*mine, theirs) {
            (Dim::Dyn, Dim::Dyn) => {}
            (Dim::Dyn, known) => {
                *mine = known.clone();
                changed = true;
            }
            (a, b) if a == b || *b == Dim::Dyn => {}
            _ => return None,
        }
    }
    changed.then_some(Type::Tensor(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::{ElemType, TensorType};

    fn t(dims: Vec<Dim>) -> Type {
        Type::Tensor(TensorType::new(dims, ElemType::F32))
    }

    #[test]
    fn merge_fills_unknown_dimensions_only() {
        let declared = t(vec![Dim::Dyn, Dim::Fixed(3), Dim::Dyn]);
        let inferred = t(vec![Dim::Fixed(2), Dim::Dyn, Dim::Sym("n".into())]);
        assert_eq!(merge(&declared, &inferred), Some(t(vec![Dim::Fixed(2), Dim::Fixed(3), Dim::Sym("n".into())])));
        assert_eq!(merge(&inferred, &inferred), None, "nothing to refine");
        assert_eq!(merge(&t(vec![Dim::Fixed(4)]), &t(vec![Dim::Fixed(5)])), None, "disagreement is left alone");
        assert_eq!(merge(&t(vec![Dim::Dyn]), &t(vec![Dim::Dyn, Dim::Dyn])), None, "rank differs");
    }
}
