//! The e-graph language of the nn dialect's float arithmetic and matmul
//! (and the fused ops LayerNorm, GELU, SiLU, Softmax and attention), its
//! parameters (reduction axes, softmax axis, epsilon, attention scale) and
//! the analysis that carries each class's tensor type, how many times the
//! IR uses its values, and, for single-element constants, their value.
//!
//! Invariants: a [`Leaf`] is an index into [`NnAnalysis::leaves`]; a class's
//! type is the type of the IR values it stands for (all equal, since rules
//! only merge terms of the same value); parameter nodes are compared by
//! their exact bits.

use egg::{define_language, Analysis, DidMerge, EGraph, Id};
use std::fmt;
use std::str::FromStr;
use weft_ir::ops::nn::attention::ScaleAt;
use weft_ir::TensorType;

define_language! {
    /// Float nn ops (the decomposed forms and the fused ops they become).
    pub enum NnLang {
        "add" = Add([Id; 2]),
        "sub" = Sub([Id; 2]),
        "mul" = Mul([Id; 2]),
        "div" = Div([Id; 2]),
        "pow" = Pow([Id; 2]),
        "sqrt" = Sqrt([Id; 1]),
        "erf" = Erf([Id; 1]),
        "tanh" = Tanh([Id; 1]),
        "exp" = Exp([Id; 1]),
        "sigmoid" = Sigmoid([Id; 1]),
        "reduce-mean" = ReduceMean([Id; 2]),
        "reduce-sum" = ReduceSum([Id; 2]),
        "reduce-max" = ReduceMax([Id; 2]),
        "matmul" = MatMul([Id; 2]),
        // Fused ops: input, then parameters.
        "softmax" = Softmax([Id; 2]),
        "gelu" = Gelu([Id; 1]),
        "gelu-tanh" = GeluTanh([Id; 1]),
        // x * sigmoid(1.702 x), fused to the erf GELU only when asked
        "gelu-sigmoid" = GeluSigmoid([Id; 1]),
        "silu" = Silu([Id; 1]),
        // input, scale, bias, first normalized axis, epsilon
        "layer-norm" = LayerNorm([Id; 5]),
        // q, kt, v, scale (nn.attention without a mask)
        "attention" = Attention([Id; 4]),
        // q, kt, v, mask, scale
        "attention-masked" = AttentionMasked([Id; 5]),
        Param(Param),
        Leaf(Leaf),
    }
}

/// The fused ops `fuse` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FusedKind {
    LayerNorm,
    Gelu,
    GeluTanh,
    /// `x * sigmoid(1.702 x)` replaced by the erf GELU it approximates
    /// (only with the `gelu-sigmoid` option).
    GeluSigmoid,
    Silu,
    Softmax,
    Attention,
}

impl NnLang {
    /// The fused op this node is, if it is one.
    pub fn fused_kind(&self) -> Option<FusedKind> {
        match self {
            NnLang::LayerNorm(_) => Some(FusedKind::LayerNorm),
            NnLang::Gelu(_) => Some(FusedKind::Gelu),
            NnLang::GeluTanh(_) => Some(FusedKind::GeluTanh),
            NnLang::GeluSigmoid(_) => Some(FusedKind::GeluSigmoid),
            NnLang::Silu(_) => Some(FusedKind::Silu),
            NnLang::Softmax(_) => Some(FusedKind::Softmax),
            NnLang::Attention(_) | NnLang::AttentionMasked(_) => Some(FusedKind::Attention),
            _ => None,
        }
    }
}

/// An IR value the e-graph does not look into, by its index in
/// [`NnAnalysis::leaves`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Leaf(pub u32);

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

impl FromStr for Leaf {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.strip_prefix('%').ok_or_else(|| format!("not a leaf: '{s}'"))?;
        digits.parse().map(Leaf).map_err(|_| format!("not a leaf: '{s}'"))
    }
}

/// An attribute of an op, as an e-node of its own so that patterns can bind
/// it and rules can compare it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Param {
    /// Reduction axes (normalized, sorted) and keepdims.
    Axes { axes: Vec<u32>, keep: bool },
    /// One normalized axis (softmax, layer norm).
    Axis(u32),
    /// A float attribute by its bits (layer norm's epsilon).
    Float(u64),
    /// Attention's scale constant by its bits, whether it divides (else
    /// multiplies), and where it is applied.
    Scale { bits: u64, divides: bool, at: ScaleAt },
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Axes { axes, keep } => {
                let list: Vec<String> = axes.iter().map(u32::to_string).collect();
                write!(f, "#axes[{}]{}", list.join(","), if *keep { "k" } else { "" })
            }
            Param::Axis(a) => write!(f, "#axis{a}"),
            Param::Float(bits) => write!(f, "#f{bits:x}"),
            Param::Scale { bits, divides, at } => {
                let place = if *at == ScaleAt::Scores { "" } else { at.name() };
                write!(f, "#{}{place}{bits:x}", if *divides { "div" } else { "mul" })
            }
        }
    }
}

impl FromStr for Param {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("not a parameter: '{s}'");
        if let Some(rest) = s.strip_prefix("#axes[") {
            let (list, tail) = rest.split_once(']').ok_or_else(bad)?;
            let keep = match tail {
                "k" => true,
                "" => false,
                _ => return Err(bad()),
            };
            let axes = if list.is_empty() {
                Vec::new()
            } else {
                list.split(',').map(|a| a.parse().map_err(|_| bad())).collect::<Result<_, _>>()?
            };
            return Ok(Param::Axes { axes, keep });
        }
        if let Some(a) = s.strip_prefix("#axis") {
            return a.parse().map(Param::Axis).map_err(|_| bad());
        }
        for (prefix, divides) in [("#div", true), ("#mul", false)] {
            if let Some(rest) = s.strip_prefix(prefix) {
                // The places are not hex digits, "qk" before its prefix "q".
                let (at, bits) = [ScaleAt::QueryAndKeys, ScaleAt::Query]
                    .into_iter()
                    .find_map(|at| rest.strip_prefix(at.name()).map(|bits| (at, bits)))
                    .unwrap_or((ScaleAt::Scores, rest));
                let bits = u64::from_str_radix(bits, 16).map_err(|_| bad())?;
                return Ok(Param::Scale { bits, divides, at });
            }
        }
        if let Some(bits) = s.strip_prefix("#f") {
            return u64::from_str_radix(bits, 16).map(Param::Float).map_err(|_| bad());
        }
        Err(bad())
    }
}

/// What is known about a leaf.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafInfo {
    pub ty: Option<TensorType>,
    /// The value of a single-element float constant.
    pub konst: Option<f64>,
    /// How many operands of IR ops are values of the class (op results;
    /// 0 for leaves, which `fuse` never removes).
    pub uses: u32,
}

/// What is known about a class: the type of its values, and its value when
/// it is a single-element constant.
pub type ClassInfo = LeafInfo;

/// The analysis: leaf facts, looked up when a leaf node is added.
#[derive(Debug, Default)]
pub struct NnAnalysis {
    pub leaves: Vec<LeafInfo>,
}

pub type NnEGraph = EGraph<NnLang, NnAnalysis>;

impl Analysis<NnLang> for NnAnalysis {
    type Data = ClassInfo;

    fn make(egraph: &mut NnEGraph, enode: &NnLang, _id: Id) -> ClassInfo {
        match enode {
            NnLang::Leaf(Leaf(i)) => egraph.analysis.leaves.get(*i as usize).cloned().unwrap_or_default(),
            _ => ClassInfo::default(),
        }
    }

    fn merge(&mut self, a: &mut ClassInfo, b: ClassInfo) -> DidMerge {
        let a_gains = (a.ty.is_none() && b.ty.is_some()) || (a.konst.is_none() && b.konst.is_some());
        let b_gains = (b.ty.is_none() && a.ty.is_some()) || (b.konst.is_none() && a.konst.is_some());
        if a.ty.is_none() {
            a.ty = b.ty;
        }
        if a.konst.is_none() {
            a.konst = b.konst;
        }
        // Distinct IR values can meet in one class (duplicated
        // computations): their uses add up.
        let (a_uses, b_uses) = (a.uses, b.uses);
        a.uses = a_uses.saturating_add(b_uses);
        DidMerge(a_gains || b_uses > 0, b_gains || a_uses > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_leaves_print_and_parse_back() {
        for p in [
            Param::Axes { axes: vec![1, 2], keep: true },
            Param::Axes { axes: vec![], keep: false },
            Param::Axis(3),
            Param::Float(1e-12f64.to_bits()),
            Param::Scale { bits: 8f64.to_bits(), divides: true, at: ScaleAt::Scores },
            Param::Scale { bits: 0.125f64.to_bits(), divides: false, at: ScaleAt::Query },
            Param::Scale { bits: 0.5f64.to_bits(), divides: false, at: ScaleAt::QueryAndKeys },
        ] {
            assert_eq!(p.to_string().parse::<Param>(), Ok(p));
        }
        assert_eq!("%7".parse::<Leaf>(), Ok(Leaf(7)));
        assert!("#axes[1".parse::<Param>().is_err());
        assert!("7".parse::<Leaf>().is_err());
    }

    #[test]
    fn fused_kinds() {
        let x = Id::from(0usize);
        assert_eq!(NnLang::Gelu([x]).fused_kind(), Some(FusedKind::Gelu));
        assert_eq!(NnLang::Erf([x]).fused_kind(), None);
    }
}
