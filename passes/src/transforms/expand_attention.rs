//! `expand-attention`: replaces every `nn.attention` by the nn ops it is
//! defined as (`weft_ir::ops::nn::attention::expand`: matmul, div or mul by
//! the scale constant, add of the mask, softmax over the last axis,
//! matmul), for the passes and backends that work on those ops
//! (`quantize` and everything after it). `prepare-quant` runs it after
//! `fuse`.
//!
//! Invariants: the program computes the same bits before and after (the
//! op's semantics are its expansion); an op fused by `fuse` gets its
//! original ops' locations back; ops keep their block order.

use crate::{Pass, PassContext, PassStatistic};
use weft_ir::ops::nn::attention::expand_all;
use weft_ir::{Diagnostic, Module};

/// The `expand-attention` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExpandAttention;

const EXPANDED: PassStatistic = PassStatistic { name: "expanded-attention", doc: "nn.attention ops expanded" };

impl Pass for ExpandAttention {
    fn name(&self) -> &'static str {
        "expand-attention"
    }

    fn summary(&self) -> &'static str {
        "Replaces nn.attention by its matmul, scale, mask add, softmax and matmul"
    }

    fn description(&self) -> &'static str {
        "Each `nn.attention` becomes the sequence of nn ops its semantics are defined as: \
`nn.matmul q, kt`, `nn.div` or `nn.mul` by a scalar constant holding `scale` (as `scale_op` \
says; with `scale_at = \"q\"` or `\"qk\"` applied to `q`, or to `q` and `kt`, before the \
matmul), `nn.add` of the mask when there is one, `nn.softmax {axis = -1}` and `nn.matmul` with `v`. \
The results are the same bits. When the op's location is the fusion of one location per op (as \
`fuse` writes it), each op gets its own location back, so a quantization config that names the \
exported nodes still matches them."
    }

    fn statistics(&self) -> &'static [PassStatistic] {
        &[EXPANDED]
    }

    fn run(&mut self, module: &mut Module, cx: &mut PassContext) -> Result<(), Diagnostic> {
        for f in module.funcs.iter_mut() {
            let n = expand_all(f).map_err(|(op, e)| {
                let data = &f.ops[op];
                Diagnostic::error(format!("'nn.attention' op {e}"), data.span).with_loc(data.loc.clone())
            })?;
            cx.count(&EXPANDED, n as u64);
        }
        Ok(())
    }
}
