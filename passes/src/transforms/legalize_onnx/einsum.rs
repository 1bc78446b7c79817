//! The rule for Einsum: pairwise contractions as batched matmuls.
//!
//! Phases: parse the equation (explicit `->` or implicit output, `...`
//! expanded into numbered labels aligned at the right); broadcast operands
//! whose ellipsis dims have extent 1 where another operand's do not; take
//! the diagonal of every label repeated within one term (an `nn.gather` of
//! constant indices on the merged dims); then fold the operands left to
//! right, each step summing out the labels no later term needs
//! (`nn.reduce_sum`) and contracting the shared ones with one `nn.matmul`
//! over `[batch, left, shared] x [batch, shared, right]` (transposes and
//! reshapes around it); finally sum out what the output does not name and
//! transpose into the output's order.
//!
//! Invariant: malformed equations (a label repeated in the output, an
//! output label no input has, term and rank mismatches) are errors naming
//! the equation.

use super::builder::{attrs, ints, Replacement, Rewriter};
use super::LegalizeError;
use std::collections::BTreeMap;
use weft_ir::ops::nn;
use weft_ir::tensor::Scalar;
use weft_ir::{Attribute, ElemType, Tensor, Value};

/// A dim label: a letter's code point, or `ELLIPSIS + i` for the i-th
/// ellipsis dim (counted from the left of the widest ellipsis).
type Label = u32;
const ELLIPSIS: Label = 0x1_0000;

/// A parsed equation with `...` expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct Equation {
    pub inputs: Vec<Vec<Label>>,
    pub output: Vec<Label>,
}

/// One operand in the fold: its value and the label of each dim.
struct Term {
    value: Value,
    labels: Vec<Label>,
}

/// Parses `equation` for operands of `ranks`.
pub fn parse(equation: &str, ranks: &[usize]) -> Result<Equation, String> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != ranks.len() {
        return Err(format!("equation '{equation}' has {} input terms for {} operands", terms.len(), ranks.len()));
    }
    let mut widest = 0;
    let mut parsed = Vec::with_capacity(terms.len());
    for (term, &rank) in terms.iter().zip(ranks) {
        let (letters, ellipsis) = split_term(term)?;
        let e = if ellipsis.is_some() {
            rank.checked_sub(letters.len()).ok_or_else(|| format!("term '{term}' names more dims than rank {rank}"))?
        } else if letters.len() != rank {
            return Err(format!("term '{term}' names {} dims, but its operand has rank {rank}", letters.len()));
        } else {
            0
        };
        widest = widest.max(e);
        parsed.push((letters, ellipsis, e));
    }
    let expand = |letters: &[Label], at: Option<usize>, e: usize| -> Vec<Label> {
        let Some(at) = at else { return letters.to_vec() };
        let dots = (widest - e..widest).map(|i| ELLIPSIS + i as Label);
        letters[..at].iter().copied().chain(dots).chain(letters[at..].iter().copied()).collect()
    };
    let inputs: Vec<Vec<Label>> = parsed.iter().map(|(l, at, e)| expand(l, *at, *e)).collect();
    let output = match rhs {
        Some(r) => {
            let (letters, at) = split_term(r)?;
            if at.is_none() && widest > 0 {
                return Err(format!("equation '{equation}' drops the '...' dims from its output"));
            }
            expand(&letters, at, widest)
        }
        None => implicit_output(&inputs, widest),
    };
    Ok(Equation { inputs, output })
}

/// The letters of a term and where its `...` stands (an index into them).
fn split_term(term: &str) -> Result<(Vec<Label>, Option<usize>), String> {
    let mut letters = Vec::new();
    let mut ellipsis = None;
    let mut rest = term;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("...") {
            if ellipsis.replace(letters.len()).is_some() {
                return Err(format!("term '{term}' has two '...'"));
            }
            rest = r;
            continue;
        }
        let c = rest.chars().next().unwrap_or('?');
        if !c.is_ascii_alphabetic() {
            return Err(format!("term '{term}' has '{c}', which is not a letter"));
        }
        letters.push(c as Label);
        rest = &rest[c.len_utf8()..];
    }
    Ok((letters, ellipsis))
}

/// numpy's implicit output: the ellipsis dims, then the letters that occur
/// once, in ASCII order.
fn implicit_output(inputs: &[Vec<Label>], widest: usize) -> Vec<Label> {
    let mut counts: BTreeMap<Label, usize> = BTreeMap::new();
    for l in inputs.iter().flatten().filter(|&&l| l < ELLIPSIS) {
        *counts.entry(*l).or_default() += 1;
    }
    (0..widest as Label)
        .map(|i| ELLIPSIS + i)
        .chain(counts.into_iter().filter(|&(_, n)| n == 1).map(|(l, _)| l))
        .collect()
}

fn label_text(l: Label) -> String {
    if l >= ELLIPSIS {
        format!("...#{}", l - ELLIPSIS)
    } else {
        char::from_u32(l).map_or_else(|| "?".to_string(), |c| c.to_string())
    }
}

pub fn einsum(rw: &mut Rewriter) -> Replacement {
    let equation = rw.attr_str("equation", "");
    let operands = rw.operands();
    let ranks: Vec<usize> = operands.iter().map(|&v| rw.rank(v)).collect();
    let eq = parse(&equation, &ranks).map_err(LegalizeError::new)?;
    if let Some(l) = repeated(&eq.output) {
        return Err(LegalizeError::new(format!(
            "equation '{equation}' repeats label '{}' in its output",
            label_text(l)
        )));
    }
    if let Some(&l) = eq.output.iter().find(|l| !eq.inputs.iter().any(|i| i.contains(l))) {
        return Err(LegalizeError::new(format!(
            "equation '{equation}' outputs label '{}', which no input has",
            label_text(l)
        )));
    }
    let extents = label_extents(rw, &operands, &eq)?;
    let mut terms = Vec::with_capacity(operands.len());
    for (&v, labels) in operands.iter().zip(&eq.inputs) {
        let target: Vec<u64> = labels.iter().map(|l| extents[l]).collect();
        let value = if rw.shape(v)? == target {
            v
        } else {
            rw.build(&nn::BROADCAST, &[v], attrs(&[("shape", ints(&target))]))?
        };
        terms.push(take_diagonals(rw, Term { value, labels: labels.clone() }, &extents)?);
    }
    let mut terms = terms.into_iter();
    let mut acc = terms.next().ok_or_else(|| LegalizeError::new("needs at least one operand"))?;
    let rest: Vec<Term> = terms.collect();
    for (i, next) in rest.iter().enumerate() {
        let needed: Vec<Label> =
            eq.output.iter().chain(rest[i + 1..].iter().flat_map(|t| &t.labels)).copied().collect();
        acc = contract(rw, acc, next, &needed, &extents)?;
    }
    let acc = sum_out(rw, acc, &eq.output)?;
    let perm: Vec<usize> = eq.output.iter().filter_map(|l| acc.labels.iter().position(|x| x == l)).collect();
    Ok(vec![rw.transpose(acc.value, &perm)?])
}

/// The first label that occurs twice in `labels`.
fn repeated(labels: &[Label]) -> Option<Label> {
    labels.iter().enumerate().find(|(i, l)| labels[..*i].contains(l)).map(|(_, l)| *l)
}

/// Replaces each label repeated within `t` by its diagonal: the `m`
/// repeated dims of extent `n` move last and merge into one of extent
/// `n^m`, and a gather of the indices `i * (1 + n + .. + n^(m-1))` keeps
/// the elements whose indices are all equal.
fn take_diagonals(rw: &mut Rewriter, mut t: Term, extents: &BTreeMap<Label, u64>) -> Result<Term, LegalizeError> {
    while let Some(l) = repeated(&t.labels) {
        let (same, rest): (Vec<usize>, Vec<usize>) = (0..t.labels.len()).partition(|&p| t.labels[p] == l);
        let order: Vec<usize> = rest.iter().chain(&same).copied().collect();
        let moved = rw.transpose(t.value, &order)?;
        let n = extents[&l];
        let too_large = || LegalizeError::new("the diagonal's dims are too large");
        let merged_extent = n.checked_pow(same.len() as u32).ok_or_else(too_large)?;
        let mut shape: Vec<u64> = rest.iter().map(|&p| extents[&t.labels[p]]).collect();
        shape.push(merged_extent);
        let merged = rw.reshape(moved, &shape)?;
        let step: u64 = (0..same.len() as u32).map(|j| n.pow(j)).sum();
        let diagonal = Tensor::from_fn(ElemType::I64, vec![n], |i| Scalar::Int((i as u64 * step) as i64));
        let indices = rw.constant(diagonal);
        let a = attrs(&[("axis", Attribute::Int(rest.len() as i64))]);
        let value = rw.build(&nn::GATHER, &[merged, indices], a)?;
        let labels = rest.iter().map(|&p| t.labels[p]).chain([l]).collect();
        t = Term { value, labels };
    }
    Ok(t)
}

/// The extent of every label: equal across operands, except that ellipsis
/// dims of extent 1 broadcast.
fn label_extents(rw: &Rewriter, operands: &[Value], eq: &Equation) -> Result<BTreeMap<Label, u64>, LegalizeError> {
    let mut extents = BTreeMap::new();
    for (&v, labels) in operands.iter().zip(&eq.inputs) {
        for (&l, &d) in labels.iter().zip(&rw.shape(v)?) {
            let e = extents.entry(l).or_insert(d);
            match (*e, d) {
                (a, b) if a == b => {}
                (1, b) if l >= ELLIPSIS => *e = b,
                (_, 1) if l >= ELLIPSIS => {}
                (a, b) => {
                    return Err(LegalizeError::new(format!("label '{}' has extents {a} and {b}", label_text(l))));
                }
            }
        }
    }
    Ok(extents)
}

/// Sums out the dims of `t` whose labels are not in `keep`.
fn sum_out(rw: &mut Rewriter, t: Term, keep: &[Label]) -> Result<Term, LegalizeError> {
    let axes: Vec<i64> = (0..t.labels.len()).filter(|&i| !keep.contains(&t.labels[i])).map(|i| i as i64).collect();
    if axes.is_empty() {
        return Ok(t);
    }
    let a = attrs(&[("axes", ints(&axes)), ("keepdims", Attribute::Bool(false))]);
    let value = rw.build(&nn::REDUCE_SUM, &[t.value], a)?;
    let labels = t.labels.into_iter().filter(|l| keep.contains(l)).collect();
    Ok(Term { value, labels })
}

/// Contracts `a` with `b`, keeping the labels in `needed` (and every label
/// only one of them has).
fn contract(
    rw: &mut Rewriter,
    a: Term,
    b: &Term,
    needed: &[Label],
    extents: &BTreeMap<Label, u64>,
) -> Result<Term, LegalizeError> {
    let keep_a: Vec<Label> = needed.iter().chain(&b.labels).copied().collect();
    let keep_b: Vec<Label> = needed.iter().chain(&a.labels).copied().collect();
    let a = sum_out(rw, a, &keep_a)?;
    let b = sum_out(rw, Term { value: b.value, labels: b.labels.clone() }, &keep_b)?;
    let shared: Vec<Label> = a.labels.iter().filter(|l| b.labels.contains(l)).copied().collect();
    let batch: Vec<Label> = shared.iter().filter(|l| needed.contains(l)).copied().collect();
    let summed: Vec<Label> = shared.iter().filter(|l| !needed.contains(l)).copied().collect();
    let left: Vec<Label> = a.labels.iter().filter(|l| !shared.contains(l)).copied().collect();
    let right: Vec<Label> = b.labels.iter().filter(|l| !shared.contains(l)).copied().collect();
    let size = |ls: &[Label]| ls.iter().map(|l| extents[l]).product::<u64>();
    let lhs = arrange(rw, &a, &[&batch, &left, &summed], &[size(&batch), size(&left), size(&summed)])?;
    let rhs = arrange(rw, &b, &[&batch, &summed, &right], &[size(&batch), size(&summed), size(&right)])?;
    let product = rw.binary(&nn::MATMUL, lhs, rhs)?;
    let labels: Vec<Label> = batch.iter().chain(&left).chain(&right).copied().collect();
    let shape: Vec<u64> = labels.iter().map(|l| extents[l]).collect();
    Ok(Term { value: rw.reshape(product, &shape)?, labels })
}

/// `t` transposed so that its labels follow `groups`, reshaped to `shape`.
fn arrange(rw: &mut Rewriter, t: &Term, groups: &[&[Label]], shape: &[u64]) -> Result<Value, LegalizeError> {
    let order: Vec<usize> =
        groups.iter().flat_map(|g| g.iter()).filter_map(|l| t.labels.iter().position(|x| x == l)).collect();
    let moved = rw.transpose(t.value, &order)?;
    rw.reshape(moved, shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letters(s: &str) -> Vec<Label> {
        s.chars().map(|c| c as Label).collect()
    }

    #[test]
    fn explicit_and_implicit_outputs() {
        let eq = parse("bhqd, bhkd -> bhqk", &[4, 4]).unwrap();
        assert_eq!(eq.inputs, vec![letters("bhqd"), letters("bhkd")]);
        assert_eq!(eq.output, letters("bhqk"));
        assert_eq!(parse("ij,jk", &[2, 2]).unwrap().output, letters("ik"));
        assert_eq!(parse("ba", &[2]).unwrap().output, letters("ab"));
    }

    #[test]
    fn ellipsis_dims_align_at_the_right() {
        let eq = parse("...ij,...jk->...ik", &[4, 3]).unwrap();
        let e = |i| ELLIPSIS + i;
        assert_eq!(eq.inputs[0], vec![e(0), e(1), 'i' as Label, 'j' as Label]);
        assert_eq!(eq.inputs[1], vec![e(1), 'j' as Label, 'k' as Label]);
        assert_eq!(eq.output, vec![e(0), e(1), 'i' as Label, 'k' as Label]);
    }

    #[test]
    fn malformed_equations() {
        assert_eq!(parse("ij,jk", &[2]).unwrap_err(), "equation 'ij,jk' has 2 input terms for 1 operands");
        assert_eq!(parse("ij->i", &[3]).unwrap_err(), "term 'ij' names 2 dims, but its operand has rank 3");
        assert_eq!(parse("i1->i", &[2]).unwrap_err(), "term 'i1' has '1', which is not a letter");
        assert!(parse("...i->i", &[2]).unwrap_err().contains("drops the '...'"));
    }
}
