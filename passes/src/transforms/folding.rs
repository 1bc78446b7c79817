//! The folding engine shared by `fold` and `canonicalize`: one sweep over a
//! function that replaces ops by constants or by one of their operands.
//!
//! Phases of [`fold_function`]:
//! 1. Walk the ops in block order (defs before uses). Skip ops that are not
//!    `Pure`, are constants, own regions, or whose results nobody uses
//!    (folding them would only create dead constants, and an op folded by an
//!    earlier sweep is skipped this way), and ops that hold quantized types
//!    of an imported model ([`crate::transforms::quantize::keeps_quantized_types`]).
//! 2. Constant folding: when every operand is a `builtin.constant` (inline
//!    `dense<..>`, or a `dense_resource<..>` whose data the module holds, see
//!    [`resource_tensor`]), the op has `eval`, and every result has a static
//!    type of at most `max_elements` elements, evaluate it. An evaluation
//!    error (integer division by zero) is not a failure: the op stays.
//! 3. Otherwise algebraic folding with `OpDef::fold` on the partially
//!    constant operands: `Folded::Operand(i)` replaces the single result by
//!    operand `i` only when the types are equal; `Folded::Constants` is used
//!    like an evaluation result.
//! 4. New constants take the location and span of the op they replace and
//!    are inserted right before it; the folded op stays in place, unused, for
//!    the caller to remove (or to show, in `fold`). Uses are redirected once
//!    at the end of the sweep through a replacement table, so later ops of
//!    the same sweep already see earlier results as constants.
//!
//! Invariants: a computed constant replaces a result only if its type equals
//! the result's type exactly, so users never see a type change; one sweep
//! reaches a fixed point of folding alone (ops are visited defs first).

use std::collections::HashMap;
use std::rc::Rc;
use weft_ir::entity::SecondaryMap;
use weft_ir::ops::{builtin, FoldInput, Folded, Trait};
use weft_ir::resources::Resources;
use weft_ir::{Attribute, Block, DenseAttr, Function, NewOp, Op, Tensor, Type, Value};

/// How far folding may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldLimits {
    /// Tensors with more elements are neither read from constants nor
    /// created as constants.
    pub max_elements: u64,
}

impl Default for FoldLimits {
    fn default() -> Self {
        FoldLimits { max_elements: 1 << 20 }
    }
}

/// The data of the resource `name`, when the module holds it.
///
/// The one place folding touches `Module::resources`.
pub fn resource_tensor(resources: &Resources, name: &str) -> Option<Tensor> {
    resources.tensor(name)
}

/// Folds what it can in `f` in one sweep; returns the number of ops folded
/// (replaced by constants or operands).
pub fn fold_function(f: &mut Function, resources: &Resources, limits: FoldLimits) -> u64 {
    let mut sweep = Sweep {
        resources,
        limits,
        constants: HashMap::new(),
        replacements: SecondaryMap::default(),
        inserted: HashMap::new(),
        folded: 0,
    };
    let uses = f.use_counts();
    for op in f.walk() {
        if sweep.is_candidate(f, op, &uses) {
            sweep.fold_op(f, op);
        }
    }
    sweep.finish(f)
}

/// The state of one sweep over a function.
struct Sweep<'a> {
    resources: &'a Resources,
    limits: FoldLimits,
    /// Materialized constant values (`None`: not a constant, or too large).
    constants: HashMap<Value, Option<Rc<Tensor>>>,
    /// Folded results -> their replacements (already resolved).
    replacements: SecondaryMap<Value, Option<Value>>,
    /// New constant ops to insert before each folded op, in order.
    inserted: HashMap<Op, Vec<Op>>,
    folded: u64,
}

impl Sweep<'_> {
    fn resolve(&self, v: Value) -> Value {
        self.replacements[v].unwrap_or(v)
    }

    fn is_candidate(&self, f: &Function, op: Op, uses: &SecondaryMap<Value, u32>) -> bool {
        let data = &f.ops[op];
        data.def.has_trait(Trait::Pure)
            && !data.def.has_trait(Trait::ConstantLike)
            && data.regions.is_empty()
            && data.results.iter().any(|&r| uses[r] > 0)
            && !crate::transforms::quantize::keeps_quantized_types(f, op)
    }

    fn fold_op(&mut self, f: &mut Function, op: Op) {
        let def = f.ops[op].def;
        if def.eval.is_none() && def.fold.is_none() {
            return;
        }
        let operands: Vec<Value> = f.ops[op].operands.iter().map(|&v| self.resolve(v)).collect();
        let consts: Vec<Option<Rc<Tensor>>> = operands.iter().map(|&v| self.constant(f, v)).collect();
        let folded = self.evaluate(f, op, &consts).or_else(|| {
            let fold = def.fold?;
            let data = &f.ops[op];
            let constants: Vec<Option<&Tensor>> = consts.iter().map(|c| c.as_deref()).collect();
            let operand_types: Vec<&Type> = operands.iter().map(|&v| f.value_type(v)).collect();
            let result_types: Vec<&Type> = data.results.iter().map(|&v| f.value_type(v)).collect();
            fold(&FoldInput {
                constants: &constants,
                operand_types: &operand_types,
                result_types: &result_types,
                attrs: &data.attrs,
            })
        });
        let applied = match folded {
            Some(Folded::Operand(i)) => self.replace_by_operand(f, op, &operands, i),
            Some(Folded::Constants(tensors)) => self.replace_by_constants(f, op, tensors),
            None => false,
        };
        if applied {
            self.folded += 1;
        }
    }

    /// Runs `eval` when every operand is a constant and every result fits.
    fn evaluate(&self, f: &Function, op: Op, consts: &[Option<Rc<Tensor>>]) -> Option<Folded> {
        let data = &f.ops[op];
        let eval = data.def.eval?;
        let result_types: Vec<Type> = data.results.iter().map(|&r| f.value_type(r).clone()).collect();
        if !result_types.iter().all(|t| self.fits(t)) {
            return None;
        }
        let inputs: Vec<Tensor> = consts.iter().map(|c| c.as_deref().cloned()).collect::<Option<_>>()?;
        eval(&inputs, &data.attrs, &result_types).ok().map(Folded::Constants)
    }

    /// True when `ty` is a static tensor type of at most `max_elements`.
    fn fits(&self, ty: &Type) -> bool {
        ty.as_tensor().and_then(|t| t.num_elements()).is_some_and(|n| n <= self.limits.max_elements)
    }

    /// The value of `v` when it is a constant small enough to read.
    fn constant(&mut self, f: &Function, v: Value) -> Option<Rc<Tensor>> {
        if let Some(known) = self.constants.get(&v) {
            return known.clone();
        }
        let t = self.read_constant(f, v).map(Rc::new);
        self.constants.insert(v, t.clone());
        t
    }

    fn read_constant(&self, f: &Function, v: Value) -> Option<Tensor> {
        if !self.fits(f.value_type(v)) {
            return None;
        }
        let data = &f.ops[f.defining_op(v)?];
        if !data.def.has_trait(Trait::ConstantLike) {
            return None;
        }
        let t = match data.attr("value")? {
            Attribute::Dense(d) => d.to_tensor()?,
            Attribute::Resource { name, .. } => resource_tensor(self.resources, name)?,
            _ => return None,
        };
        (Type::Tensor(t.ty()) == *f.value_type(v)).then_some(t)
    }

    fn replace_by_operand(&mut self, f: &Function, op: Op, operands: &[Value], i: usize) -> bool {
        let results = &f.ops[op].results;
        let (Some(&operand), [result]) = (operands.get(i), results.as_slice()) else {
            return false;
        };
        if f.value_type(operand) != f.value_type(*result) {
            return false;
        }
        self.replacements.set(*result, Some(operand));
        true
    }

    fn replace_by_constants(&mut self, f: &mut Function, op: Op, tensors: Vec<Tensor>) -> bool {
        let results = f.ops[op].results.clone();
        let types_match = tensors.len() == results.len()
            && tensors.iter().zip(&results).all(|(t, &r)| Type::Tensor(t.ty()) == *f.value_type(r))
            && results.iter().all(|&r| self.fits(f.value_type(r)));
        if !types_match {
            return false;
        }
        for (t, r) in tensors.into_iter().zip(results) {
            let ty = f.value_type(r).clone();
            let spec = NewOp::new(&builtin::CONSTANT, vec![], vec![ty])
                .attr("value", Attribute::Dense(DenseAttr::from_tensor(t.clone())))
                .at(&f.ops[op]);
            let constant = f.create_op(spec);
            f.ops[constant].block = f.ops[op].block;
            let value = f.ops[constant].results[0];
            self.inserted.entry(op).or_default().push(constant);
            self.constants.insert(value, Some(Rc::new(t)));
            self.replacements.set(r, Some(value));
        }
        true
    }

    /// Redirects uses and places the new constants; returns the fold count.
    fn finish(self, f: &mut Function) -> u64 {
        f.replace_uses(&self.replacements);
        if !self.inserted.is_empty() {
            let blocks: Vec<Block> = f.blocks.keys().collect();
            for b in blocks {
                insert_before(f, b, &self.inserted);
            }
        }
        self.folded
    }
}

/// Rebuilds the op list of `block` with `inserted[op]` placed before `op`.
fn insert_before(f: &mut Function, block: Block, inserted: &HashMap<Op, Vec<Op>>) {
    let ops = &f.blocks[block].ops;
    if !ops.iter().any(|op| inserted.contains_key(op)) {
        return;
    }
    let mut out = Vec::with_capacity(ops.len() + inserted.len());
    for &op in ops {
        if let Some(new) = inserted.get(&op) {
            out.extend_from_slice(new);
        }
        out.push(op);
    }
    f.blocks[block].ops = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::testing::*;
    use weft_ir::ops::nn;

    fn fold(m: &mut weft_ir::Module, max_elements: u64) -> u64 {
        let resources = m.resources.clone();
        fold_function(&mut m.funcs[0], &resources, FoldLimits { max_elements })
    }

    #[test]
    fn folds_a_chain_in_one_sweep_and_keeps_dead_ops() {
        let t = f32_type(&[2]);
        let mut f = func(vec![], vec![t.clone()]);
        let a = constant(&mut f, &t, &[1.0, 2.0]);
        let b = constant(&mut f, &t, &[3.0, 4.0]);
        let s = op_at(&mut f, &nn::ADD, &[a, b], &t, "sum");
        let n = op(&mut f, &nn::NEG, &[s], &t);
        ret(&mut f, &[n]);
        let mut m = module(f);
        assert_eq!(fold(&mut m, 100), 2);
        assert_eq!(
            body(&m),
            vec![
                "%0 = constant dense<[1.0, 2.0]> : tensor<2xf32>",
                "%1 = constant dense<[3.0, 4.0]> : tensor<2xf32>",
                "%2 = constant dense<[4.0, 6.0]> : tensor<2xf32> loc(\"sum\")",
                "%3 = nn.add %0, %1 : tensor<2xf32> loc(\"sum\")",
                "%4 = constant dense<[-4.0, -6.0]> : tensor<2xf32>",
                "%5 = nn.neg %2 : tensor<2xf32>",
                "return %4 : tensor<2xf32>",
            ]
        );
        // A second sweep finds nothing: the folded ops are unused now.
        assert_eq!(fold(&mut m, 100), 0);
    }

    #[test]
    fn algebraic_fold_to_operand_needs_equal_types() {
        let t = i32_type(&[2]);
        let scalar = i32_type(&[]);
        let mut f = func(vec![t.clone()], vec![t.clone(), t.clone()]);
        let x = f.args()[0];
        let one = constant(&mut f, &scalar, &[1.0]);
        let left = op(&mut f, &nn::MUL, &[one, x], &t);
        let right = op(&mut f, &nn::MUL, &[x, one], &t);
        ret(&mut f, &[left, right]);
        let mut m = module(f);
        assert_eq!(fold(&mut m, 100), 2);
        assert_eq!(body(&m).last().unwrap(), "return %arg0, %arg0 : tensor<2xi32>, tensor<2xi32>");

        // x * 1 where the result (1x2) is not x's type (2): not folded.
        let wide = i32_type(&[1, 2]);
        let mut f = func(vec![t.clone()], vec![wide.clone()]);
        let x = f.args()[0];
        let one = constant(&mut f, &i32_type(&[1, 1]), &[1.0]);
        let r = op(&mut f, &nn::MUL, &[x, one], &wide);
        ret(&mut f, &[r]);
        let mut m = module(f);
        assert_eq!(fold(&mut m, 100), 0);
    }

    #[test]
    fn eval_errors_leave_the_op() {
        let t = i32_type(&[2]);
        let mut f = func(vec![], vec![t.clone()]);
        let a = constant(&mut f, &t, &[4.0, 6.0]);
        let z = constant(&mut f, &t, &[2.0, 0.0]);
        let q = op(&mut f, &nn::DIV, &[a, z], &t);
        ret(&mut f, &[q]);
        let mut m = module(f);
        let before = print(&m);
        assert_eq!(fold(&mut m, 100), 0);
        assert_eq!(print(&m), before);
    }

    #[test]
    fn respects_max_elements_for_results_and_operands() {
        let t = f32_type(&[4]);
        let mut f = func(vec![], vec![t.clone()]);
        let a = constant(&mut f, &t, &[1.0, 2.0, 3.0, 4.0]);
        let n = op(&mut f, &nn::NEG, &[a], &t);
        ret(&mut f, &[n]);
        let mut m = module(f);
        assert_eq!(fold(&mut m, 3), 0);
        assert_eq!(fold(&mut m, 4), 1);
    }

    #[test]
    fn splat_results_print_as_splats() {
        let t = f32_type(&[3]);
        let mut f = func(vec![], vec![t.clone()]);
        let a = constant(&mut f, &t, &[2.0, 2.0, 2.0]);
        let e = op(&mut f, &nn::MUL, &[a, a], &t);
        ret(&mut f, &[e]);
        let mut m = module(f);
        assert_eq!(fold(&mut m, 100), 1);
        assert_eq!(body(&m)[1], "%1 = constant dense<4.0> : tensor<3xf32>");
    }

    #[test]
    fn does_not_fold_non_constant_operands_or_impure_ops() {
        let t = f32_type(&[2]);
        let mut f = func(vec![t.clone()], vec![t.clone()]);
        let x = f.args()[0];
        let zero = constant(&mut f, &t, &[0.0, 0.0]);
        // x + 0.0 is not x for x = -0.0: the nn.add folder refuses.
        let s = op(&mut f, &nn::ADD, &[x, zero], &t);
        ret(&mut f, &[s]);
        let mut m = module(f);
        assert_eq!(fold(&mut m, 100), 0);
    }
}
