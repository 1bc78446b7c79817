//! Shape rules shared by op declarations: numpy broadcasting, matmul
//! shapes, permutations, over dimensions that may be symbolic.
//!
//! Invariants: a rule returns `Err` with a message naming the mismatching
//! dimensions, never panics; symbolic dims unify only with themselves or 1.

use crate::types::{Dim, TensorType, Type};

/// The tensor type of operand `i`, or an error naming it.
pub fn tensor_operand<'a>(types: &[&'a Type], i: usize) -> Result<&'a TensorType, String> {
    types.get(i).and_then(|t| t.as_tensor()).ok_or_else(|| format!("operand #{i} must be a tensor"))
}

/// Broadcasts two dimensions (numpy rules).
pub fn broadcast_dim(a: &Dim, b: &Dim) -> Result<Dim, String> {
    match (a, b) {
        (Dim::Fixed(1), d) | (d, Dim::Fixed(1)) => Ok(d.clone()),
        (x, y) if x == y => Ok(x.clone()),
        (Dim::Dyn, d) | (d, Dim::Dyn) => Ok(d.clone()),
        (x, y) => Err(format!("dimensions {x} and {y} do not broadcast")),
    }
}

/// Broadcasts two shapes, aligned at the right (numpy rules).
pub fn broadcast_shapes(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, String> {
    let rank = a.len().max(b.len());
    let one = Dim::Fixed(1);
    let at = |s: &[Dim], i: usize| -> Dim {
        let pad = rank - s.len();
        if i < pad {
            one.clone()
        } else {
            s[i - pad].clone()
        }
    };
    (0..rank).map(|i| broadcast_dim(&at(a, i), &at(b, i))).collect()
}

/// Broadcasts any number of shapes together (numpy rules); no shapes give
/// a scalar shape.
pub fn broadcast_many(shapes: &[&[Dim]]) -> Result<Vec<Dim>, String> {
    shapes.iter().try_fold(Vec::new(), |acc, s| broadcast_shapes(&acc, s))
}

/// The result shape of a batched matmul `[..., m, k] x [..., k, n]`
/// (numpy `matmul`: batch dims broadcast; rank-1 operands not accepted).
pub fn matmul_shape(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, String> {
    if a.len() < 2 || b.len() < 2 {
        return Err(format!("matmul operands must have rank >= 2, got ranks {} and {}", a.len(), b.len()));
    }
    let (ab, am) = a.split_at(a.len() - 2);
    let (bb, bm) = b.split_at(b.len() - 2);
    let k_ok = match (&am[1], &bm[0]) {
        (Dim::Dyn, _) | (_, Dim::Dyn) => true,
        (x, y) => x == y,
    };
    if !k_ok {
        return Err(format!("contraction dimensions differ: {} (lhs) vs {} (rhs)", am[1], bm[0]));
    }
    let mut out = broadcast_shapes(ab, bb)?;
    out.push(am[0].clone());
    out.push(bm[1].clone());
    Ok(out)
}

/// Checks that `perm` is a permutation of `0..rank`.
pub fn check_perm(perm: &[i64], rank: usize) -> Result<(), String> {
    let mut seen = vec![false; rank];
    if perm.len() != rank {
        return Err(format!("'perm' has {} entries but the operand has rank {rank}", perm.len()));
    }
    for &p in perm {
        let ok = p >= 0 && (p as usize) < rank && !seen[p as usize];
        if !ok {
            return Err(format!("'perm' {perm:?} is not a permutation of 0..{rank}"));
        }
        seen[p as usize] = true;
    }
    Ok(())
}

/// Resolves a possibly negative axis against `rank`.
pub fn normalize_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r.max(1)).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}
