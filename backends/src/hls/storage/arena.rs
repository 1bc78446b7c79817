//! Regions of a DDR arena reused by liveness.
//!
//! [`lifetimes`] gives every value of a function body the index of the last
//! op that reads it, through aliases (`nn.reshape` and `quant.storage_cast`
//! results share their operand's storage, so a region lives until the last
//! read of any of its aliases). [`Arena`] hands out regions first-fit from
//! the regions whose value is dead, else at the end.
//!
//! Invariants: a region is released only when every op that reads it lies
//! strictly before the op that asks for a new one, so an op's result never
//! shares storage with its operands; the returned values live to the
//! terminator, past every op; allocation is deterministic (op order,
//! first fit, free regions kept sorted and coalesced).

use std::collections::HashMap;
use weft_ir::{Function, Op, Value};

/// Ops whose result is a view of their first operand.
pub fn is_alias(op_name: &str) -> bool {
    matches!(op_name, "nn.reshape" | "quant.storage_cast")
}

/// The position of each op of the body, and for each value the position of
/// the last op reading it or any of its aliases (its definition when
/// nothing reads it). Function arguments are not listed.
pub fn lifetimes(func: &Function) -> (HashMap<Op, usize>, HashMap<Value, usize>) {
    let ops = func.blocks.get(func.body).map(|b| b.ops.clone()).unwrap_or_default();
    let mut position = HashMap::new();
    let mut root: HashMap<Value, Value> = HashMap::new();
    let mut last: HashMap<Value, usize> = HashMap::new();
    for (i, &op) in ops.iter().enumerate() {
        position.insert(op, i);
        let data = &func.ops[op];
        for v in &data.operands {
            let r = root.get(v).copied().unwrap_or(*v);
            let e = last.entry(r).or_insert(i);
            *e = (*e).max(i);
        }
        let source = data.operands.first().filter(|_| is_alias(data.name()));
        for &res in &data.results {
            match source {
                Some(s) => {
                    let r = root.get(s).copied().unwrap_or(*s);
                    root.insert(res, r);
                }
                None => {
                    last.entry(res).or_insert(i);
                }
            }
        }
    }
    let until = last.iter().map(|(&v, &i)| (v, i)).collect::<HashMap<_, _>>();
    let mut out = until.clone();
    for (alias, r) in root {
        if let Some(&i) = until.get(&r) {
            out.insert(alias, i);
        }
    }
    (position, out)
}

#[derive(Debug, Clone, Copy)]
struct Region {
    start: u64,
    len: u64,
    /// The position of the last op reading it.
    until: usize,
}

/// One arena: its size, the live regions and the free ones.
#[derive(Debug, Default)]
pub struct Arena {
    end: u64,
    live: Vec<Region>,
    /// Sorted by start, never adjacent.
    free: Vec<(u64, u64)>,
    /// Units requested in all (without reuse the arena would be this big).
    pub requested: u64,
}

impl Arena {
    /// The arena's size in its units.
    pub fn size(&self) -> u64 {
        self.end
    }

    /// A region of `len` units for a value defined at op `now` and read
    /// until op `until`.
    pub fn take(&mut self, len: u64, now: usize, until: usize) -> u64 {
        self.release_before(now);
        self.requested += len;
        let start = match self.free.iter().position(|&(_, l)| l >= len) {
            Some(i) => {
                let (s, l) = self.free[i];
                if l == len {
                    self.free.remove(i);
                } else {
                    self.free[i] = (s + len, l - len);
                }
                s
            }
            None => self.grow(len),
        };
        self.live.push(Region { start, len, until: until.max(now) });
        start
    }

    /// Extends the arena by `len`, using a free region that ends at the end.
    fn grow(&mut self, len: u64) -> u64 {
        match self.free.last() {
            Some(&(s, l)) if s + l == self.end => {
                self.free.pop();
                self.end = s + len;
                s
            }
            _ => {
                let s = self.end;
                self.end += len;
                s
            }
        }
    }

    fn release_before(&mut self, now: usize) {
        let (dead, live): (Vec<Region>, Vec<Region>) = self.live.iter().partition(|r| r.until < now);
        self.live = live;
        for r in dead {
            if r.len > 0 {
                self.insert_free(r.start, r.len);
            }
        }
    }

    fn insert_free(&mut self, start: u64, len: u64) {
        let i = self.free.partition_point(|&(s, _)| s < start);
        self.free.insert(i, (start, len));
        // Coalesce with the next, then with the previous neighbour.
        if i + 1 < self.free.len() && self.free[i].0 + self.free[i].1 == self.free[i + 1].0 {
            self.free[i].1 += self.free[i + 1].1;
            self.free.remove(i + 1);
        }
        if i > 0 && self.free[i - 1].0 + self.free[i - 1].1 == self.free[i].0 {
            self.free[i - 1].1 += self.free[i].1;
            self.free.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_regions_are_reused_first_fit() {
        let mut a = Arena::default();
        let x = a.take(10, 0, 2); // read by op 2
        let y = a.take(4, 1, 3);
        assert_eq!((x, y), (0, 10));
        // At op 2 x is still read: no reuse.
        assert_eq!(a.take(3, 2, 5), 14);
        // At op 3 x is dead (last read at 2): its 10 units are reused.
        assert_eq!(a.take(6, 3, 4), 0);
        assert_eq!(a.take(4, 3, 6), 6);
        assert_eq!(a.size(), 17);
        assert_eq!(a.requested, 27);
    }

    #[test]
    fn free_neighbours_coalesce_and_the_tail_grows() {
        let mut a = Arena::default();
        a.take(4, 0, 1);
        a.take(4, 0, 1);
        a.take(4, 0, 9);
        // Both first regions are dead at op 2: one free region of 8.
        assert_eq!(a.take(8, 2, 3), 0);
        let mut b = Arena::default();
        b.take(2, 0, 0);
        b.take(3, 0, 0);
        // Everything is dead; the request is larger than the free space,
        // which sits at the end: the arena grows from its start.
        assert_eq!(b.take(9, 1, 1), 0);
        assert_eq!(b.size(), 9);
    }
}
