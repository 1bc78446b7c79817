//! `hw.engine`: one engine of the accelerator with the parameters
//! `tile-and-pack` chose (spec/perf.md): the FC engine (`t_in`, `t_out`,
//! `t_m`), the attention engine (`t_in`, `t_out`) or the nonlinear unit
//! (`lanes`), the AXI word width, the precision it was sized for, and the
//! model's estimate of its resources and of its cycles per inference.
//!
//! Invariants: the op computes nothing (no operands, no results); each
//! kind carries its own parameters, every integer attribute is >= 0 and
//! the parallelism parameters are >= 1; `word_bits` is 64, 128 or 512.

use crate::attr::Attribute;
use crate::ops::nn::common::int_attr;
use crate::ops::{Arity, AttrKind, AttrSpec, OpDef, OpInfo};

/// The parameters each engine kind must have.
pub fn engine_params(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "fc" => Some(&["t_in", "t_out", "t_m"]),
        "attn" => Some(&["t_in", "t_out"]),
        "nonlinear" => Some(&["lanes"]),
        _ => None,
    }
}

const COMMON: [&str; 8] = ["word_bits", "weight_bits", "act_bits", "lut", "ff", "dsp", "bram18", "cycles"];

fn verify_engine(info: &OpInfo) -> Result<(), String> {
    let kind = info.attrs.get("kind").and_then(Attribute::as_str).unwrap_or("");
    let params = engine_params(kind)
        .ok_or_else(|| format!("attribute 'kind' must be \"fc\", \"attn\" or \"nonlinear\", got \"{kind}\""))?;
    for p in params {
        if int_attr(info.attrs, p)? < 1 {
            return Err(format!("attribute '{p}' must be at least 1"));
        }
    }
    for c in COMMON {
        if int_attr(info.attrs, c)? < 0 {
            return Err(format!("attribute '{c}' must be >= 0"));
        }
    }
    match int_attr(info.attrs, "word_bits")? {
        64 | 128 | 512 => Ok(()),
        w => Err(format!("attribute 'word_bits' must be 64, 128 or 512, got {w}")),
    }
}

const PARAM_DOC: &str = "a parameter of the engine's kind (fc: t_in, t_out, t_m; attn: t_in, t_out; nonlinear: lanes)";
const ESTIMATE_DOC: &str = "the model's estimate for the engine (spec/perf.md)";

pub const ENGINE: OpDef = OpDef {
    name: "hw.engine",
    summary: "One engine of the accelerator with the parameters tile-and-pack chose",
    description: "An engine the model runs on, layer after layer (spec/perf.md): `kind = \"fc\"` \
executes every matmul with constant weights with `t_in` x `t_out` multiply-accumulates per \
cycle over tiles of `t_m` activation rows; `kind = \"attn\"` the products of two activations \
with `t_in` x `t_out` products per cycle; `kind = \"nonlinear\"` the nonlinear and elementwise \
ops with `lanes` elements per cycle. `word_bits` is the AXI word (values pack `word_bits / \
bits` to a word), `weight_bits` (1: binary) and `act_bits` the precision the engine was sized \
for; `lut`, `ff`, `dsp`, `bram18` and `cycles` (per inference) are the model's estimates. The \
op computes nothing; the HLS backend takes the parallelism from it.\n\n\
```\n\"hw.engine\"() {act_bits = 8, bram18 = 96, cycles = 5000000, dsp = 0, ff = 40000, kind = \"fc\", \
lut = 60000, t_in = 32, t_m = 16, t_out = 64, weight_bits = 1, word_bits = 128} : () -> ()\n```",
    operands: Arity::Fixed(&[]),
    results: Arity::Fixed(&[]),
    attrs: &[
        AttrSpec { name: "kind", kind: AttrKind::Str, required: true, doc: "fc, attn or nonlinear" },
        AttrSpec { name: "t_in", kind: AttrKind::Int, required: false, doc: PARAM_DOC },
        AttrSpec { name: "t_out", kind: AttrKind::Int, required: false, doc: PARAM_DOC },
        AttrSpec { name: "t_m", kind: AttrKind::Int, required: false, doc: PARAM_DOC },
        AttrSpec { name: "lanes", kind: AttrKind::Int, required: false, doc: PARAM_DOC },
        AttrSpec { name: "word_bits", kind: AttrKind::Int, required: true, doc: "AXI word width: 64, 128 or 512" },
        AttrSpec { name: "weight_bits", kind: AttrKind::Int, required: true, doc: "weight bits (1: binary)" },
        AttrSpec { name: "act_bits", kind: AttrKind::Int, required: true, doc: "activation bits" },
        AttrSpec { name: "lut", kind: AttrKind::Int, required: true, doc: ESTIMATE_DOC },
        AttrSpec { name: "ff", kind: AttrKind::Int, required: true, doc: ESTIMATE_DOC },
        AttrSpec { name: "dsp", kind: AttrKind::Int, required: true, doc: ESTIMATE_DOC },
        AttrSpec { name: "bram18", kind: AttrKind::Int, required: true, doc: ESTIMATE_DOC },
        AttrSpec { name: "cycles", kind: AttrKind::Int, required: true, doc: "cycles of one inference on it" },
    ],
    traits: &[],
    verify: Some(verify_engine),
    eval: Some(|_, _, _| Ok(Vec::new())),
    ..OpDef::DEFAULT
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::Attrs;

    fn attrs(kind: &str, extra: &[(&str, i64)]) -> Attrs {
        let mut a = Attrs::new();
        a.insert("kind".into(), Attribute::Str(kind.into()));
        for c in COMMON {
            a.insert(c.into(), Attribute::Int(if c == "word_bits" { 128 } else { 0 }));
        }
        for (k, v) in extra {
            a.insert((*k).into(), Attribute::Int(*v));
        }
        a
    }

    #[test]
    fn each_kind_needs_its_parameters() {
        let ok = attrs("fc", &[("t_in", 4), ("t_out", 8), ("t_m", 2)]);
        assert_eq!(verify_engine(&OpInfo::new(&[], &ok)), Ok(()));
        let missing = attrs("attn", &[("t_in", 4)]);
        let e = verify_engine(&OpInfo::new(&[], &missing)).unwrap_err();
        assert!(e.contains("'t_out'"), "{e}");
        let zero = attrs("nonlinear", &[("lanes", 0)]);
        assert!(verify_engine(&OpInfo::new(&[], &zero)).unwrap_err().contains("at least 1"));
        let bad_kind = attrs("dma", &[]);
        assert!(verify_engine(&OpInfo::new(&[], &bad_kind)).unwrap_err().contains("\"dma\""));
        let mut bad_word = attrs("nonlinear", &[("lanes", 2)]);
        bad_word.insert("word_bits".into(), Attribute::Int(96));
        assert!(verify_engine(&OpInfo::new(&[], &bad_word)).unwrap_err().contains("96"));
    }
}
