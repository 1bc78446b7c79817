//! `fold`: constant folding and `OpDef::fold` rewrites, without removing
//! anything, so a user can see what folding produced next to what it
//! replaced.
//!
//! Phases: one sweep of [`folding::fold_function`] per function (a sweep
//! visits defs before uses, so it is already a fixed point of folding).
//! The folded ops stay in place with no uses; `dce` or `canonicalize`
//! removes them.

use super::folding::{self, FoldLimits};
use crate::{parse_uint_option, Pass, PassContext, PassOption, PassStatistic};
use weft_ir::{Diagnostic, Module};

/// The `fold` pass.
#[derive(Debug, Clone, Default)]
pub struct Fold {
    limits: FoldLimits,
}

pub(crate) const MAX_ELEMENTS: PassOption = PassOption {
    name: "max-elements",
    kind: "uint",
    default: "1048576",
    doc: "tensors with more elements are neither read from constants nor created as constants",
};

pub(crate) const FOLDED_OPS: PassStatistic =
    PassStatistic { name: "folded-ops", doc: "ops replaced by constants or by one of their operands" };

impl Pass for Fold {
    fn name(&self) -> &'static str {
        "fold"
    }

    fn summary(&self) -> &'static str {
        "Folds ops on constants and algebraic identities; removes nothing"
    }

    fn description(&self) -> &'static str {
        "Replaces every pure op whose operands are all constants by the constants it \
computes (with the op's reference semantics), and applies each op's algebraic folds \
(`x * 1 -> x`, only when the result type equals the operand's). New constants are \
inserted right before the op they replace and take its location. The replaced ops \
stay in place, unused, so the output shows what folding produced; `canonicalize` \
folds and removes them. An evaluation error (an integer division by zero) leaves \
the op unchanged."
    }

    fn options(&self) -> &'static [PassOption] {
        &[MAX_ELEMENTS]
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[FOLDED_OPS]
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "max-elements" => self.limits.max_elements = parse_uint_option(value)?,
            _ => return Err(format!("unknown option '{name}'")),
        }
        Ok(())
    }

    fn option_values(&self) -> Vec<(&'static str, String)> {
        vec![("max-elements", self.limits.max_elements.to_string())]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        let Module { funcs, resources, .. } = module;
        for f in funcs.iter_mut() {
            let folded = folding::fold_function(f, resources, self.limits);
            cx.count(&FOLDED_OPS, folded);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::testing::*;
    use weft_ir::ops::nn;
    use weft_ir::Context;

    #[test]
    fn folds_and_keeps_the_folded_ops() {
        let t = f32_type(&[]);
        let mut f = func(vec![], vec![t.clone()]);
        let a = constant(&mut f, &t, &[2.0]);
        let e = op(&mut f, &nn::SQRT, &[a], &t);
        ret(&mut f, &[e]);
        let mut m = module(f);
        let ctx = Context::default();
        let mut cx = PassContext::new(&ctx);
        let mut pass = Fold::default();
        pass.set_option("max-elements", "1").unwrap();
        pass.run(&mut m, &mut cx).unwrap();
        assert_eq!(
            body(&m),
            vec![
                "%0 = constant dense<2.0> : tensor<f32>",
                "%1 = constant dense<1.4142135> : tensor<f32>",
                "%2 = nn.sqrt %0 : tensor<f32>",
                "return %1 : tensor<f32>",
            ]
        );
        assert_eq!(cx.stats, vec![("folded-ops", 1, FOLDED_OPS.doc)]);
    }

    #[test]
    fn max_elements_zero_disables_folding() {
        let t = f32_type(&[]);
        let mut f = func(vec![], vec![t.clone()]);
        let a = constant(&mut f, &t, &[2.0]);
        let e = op(&mut f, &nn::NEG, &[a], &t);
        ret(&mut f, &[e]);
        let mut m = module(f);
        let ctx = Context::default();
        let mut cx = PassContext::new(&ctx);
        let mut pass = Fold::default();
        pass.set_option("max-elements", "0").unwrap();
        pass.run(&mut m, &mut cx).unwrap();
        assert_eq!(cx.stat("folded-ops"), 0);
        assert_eq!(pass.set_option("max-elements", "lots"), Err("expected an unsigned integer, got 'lots'".into()));
    }
}
