//! The buffer planner: gives every tensor value of a function a place in
//! one arena, reusing the bytes of values after their last use.
//!
//! The function is a sequence of steps (the arguments, then each op, then
//! the `return`); a step defines values and uses values. A value is placed
//! in the arena, aliases another value's bytes (`nn.reshape` moves no data)
//! or has a fixed place (a constant's buffer, a resource's bytes), or none
//! (a value fused into its consumer's kernel lives in registers). Arena
//! values are placed greedily in step order, first fit, each at a
//! 64-byte-aligned offset.
//!
//! Invariants: a step's results are placed before its operands' bytes are
//! released, so no kernel's output overlaps one of its inputs; the bytes of
//! a value (and of every alias of it) stay reserved through its last use;
//! values the last step uses (the function's results) are never released.

use std::collections::HashMap;
use weft_ir::Value;

/// Where a value's bytes are: `slot` 0 is the arena, other slots are
/// constant buffers; `offset` is in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub slot: u32,
    pub offset: u64,
}

/// What a defined value needs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need {
    /// This many bytes of the arena.
    Arena(u64),
    /// The bytes of an earlier value.
    Alias(Value),
    /// A place decided elsewhere (constants).
    Fixed(Place),
    /// No bytes: the value is computed in registers inside its consumer's
    /// kernel (fusion), so it has no place.
    Fused,
}

/// One step: what it defines, then what it uses.
#[derive(Debug, Default)]
pub(crate) struct Step {
    pub defs: Vec<(Value, Need)>,
    pub uses: Vec<Value>,
}

/// The outcome: a place per value, the arena's size.
#[derive(Debug)]
pub(crate) struct Plan {
    pub places: HashMap<Value, Place>,
    pub arena_bytes: u64,
}

const ALIGN: u64 = 64;

/// Plans `steps`; an error names a value used before it is defined.
pub(crate) fn plan(steps: &[Step]) -> Result<Plan, String> {
    let last_use = liveness(steps)?;
    let mut places = HashMap::new();
    let mut live: Vec<(u64, u64, Value)> = Vec::new(); // (offset, size, root), sorted by offset
    let mut arena_bytes = 0;
    for (i, step) in steps.iter().enumerate() {
        for &(v, need) in &step.defs {
            let place = match need {
                Need::Fused => continue,
                Need::Fixed(p) => p,
                Need::Alias(of) => {
                    *places.get(&of).ok_or_else(|| format!("value {of} is aliased before it is defined"))?
                }
                Need::Arena(size) => {
                    let offset = first_fit(&live, size.max(1));
                    let pos = live.partition_point(|&(o, _, _)| o < offset);
                    live.insert(pos, (offset, size.max(1), v));
                    arena_bytes = arena_bytes.max(offset + size);
                    Place { slot: 0, offset }
                }
            };
            places.insert(v, place);
        }
        // Release what dies here: roots whose last use is this step (or
        // that nothing uses).
        live.retain(|&(_, _, v)| last_use.get(&v).is_some_and(|&l| l > i));
    }
    Ok(Plan { places, arena_bytes })
}

/// For each root (a value whose bytes its aliases use) the last step that uses it or an alias of it (`usize::MAX` for the
/// function's results).
fn liveness(steps: &[Step]) -> Result<HashMap<Value, usize>, String> {
    let mut root: HashMap<Value, Value> = HashMap::new();
    let mut last_use: HashMap<Value, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        for &(v, need) in &step.defs {
            let r = match need {
                Need::Alias(of) => {
                    *root.get(&of).ok_or_else(|| format!("value {of} is aliased before it is defined"))?
                }
                _ => v,
            };
            root.insert(v, r);
        }
        let end = if i + 1 == steps.len() { usize::MAX } else { i };
        for v in &step.uses {
            let r = *root.get(v).ok_or_else(|| format!("value {v} is used before it is defined"))?;
            let l = last_use.entry(r).or_insert(end);
            *l = (*l).max(end);
        }
    }
    Ok(last_use)
}

/// The lowest aligned offset where `size` bytes fit between the live
/// allocations (sorted by offset).
fn first_fit(live: &[(u64, u64, Value)], size: u64) -> u64 {
    let mut candidate = 0;
    for &(offset, len, _) in live {
        if candidate + size <= offset {
            return candidate;
        }
        candidate = candidate.max(align(offset + len));
    }
    candidate
}

fn align(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::entity::EntityRef;

    fn v(i: usize) -> Value {
        Value::new(i)
    }

    #[test]
    fn dead_values_give_their_bytes_to_later_ones() {
        // arg v0 (100 B); v1 = f(v0) 100 B; v2 = g(v1) 100 B; v3 = h(v2); return v3.
        let steps = vec![
            Step { defs: vec![(v(0), Need::Arena(100))], uses: vec![] },
            Step { defs: vec![(v(1), Need::Arena(100))], uses: vec![v(0)] },
            Step { defs: vec![(v(2), Need::Arena(100))], uses: vec![v(1)] },
            Step { defs: vec![(v(3), Need::Arena(100))], uses: vec![v(2)] },
            Step { defs: vec![], uses: vec![v(3)] },
        ];
        let p = plan(&steps).unwrap();
        let off = |i| p.places[&v(i)].offset;
        // An output never overlaps its input; v2 reuses v0's bytes.
        assert_ne!(off(1), off(0));
        assert_eq!(off(2), off(0));
        assert_eq!(off(3), off(1));
        assert_eq!(p.arena_bytes, 128 + 100);
    }

    #[test]
    fn aliases_keep_their_root_alive_and_results_live_to_the_end() {
        let steps = vec![
            Step { defs: vec![(v(0), Need::Arena(64))], uses: vec![] },
            Step { defs: vec![(v(1), Need::Alias(v(0)))], uses: vec![v(0)] },
            Step { defs: vec![(v(2), Need::Arena(64))], uses: vec![] },
            Step { defs: vec![(v(3), Need::Arena(64))], uses: vec![v(1)] },
            Step { defs: vec![(v(4), Need::Fixed(Place { slot: 3, offset: 0 }))], uses: vec![] },
            Step { defs: vec![], uses: vec![v(3), v(4)] },
        ];
        let p = plan(&steps).unwrap();
        assert_eq!(p.places[&v(1)], p.places[&v(0)]);
        // v0 is still live through its alias at step 3, so v2 (unused,
        // released at once) and v3 go elsewhere; v3 may take v2's bytes.
        assert_ne!(p.places[&v(2)].offset, p.places[&v(0)].offset);
        assert_ne!(p.places[&v(3)].offset, p.places[&v(0)].offset);
        assert_eq!(p.places[&v(4)].slot, 3);
        assert!(plan(&[Step { defs: vec![], uses: vec![v(9)] }]).is_err());
    }

    #[test]
    fn fused_values_have_no_place_and_no_bytes() {
        // v1 = f(v0) is fused into v2 = g(v1), whose step reads v0.
        let steps = vec![
            Step { defs: vec![(v(0), Need::Arena(100))], uses: vec![] },
            Step { defs: vec![(v(1), Need::Fused)], uses: vec![] },
            Step { defs: vec![(v(2), Need::Arena(100))], uses: vec![v(0)] },
            Step { defs: vec![], uses: vec![v(2)] },
        ];
        let p = plan(&steps).unwrap();
        assert!(!p.places.contains_key(&v(1)));
        assert_eq!(p.arena_bytes, 128 + 100);
    }
}
