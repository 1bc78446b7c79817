//! Initiation intervals: how many cycles a unit spends per element per
//! lane on one op kind, and so how far the ops of one pass can be
//! time-multiplexed onto fewer primitive instances (spec/hw.md,
//! "Initiation interval").
//!
//! A kind's interval is fixed (`ii=N`, `<kind>-ii=N`) or chosen
//! (`auto`): then every interval from 1 up to a bound is a candidate and
//! the search of [`super::choose`] picks the one whose unit is smallest.
//! The bound is the kind's rate: `lanes / (passes * ii)` elements per
//! cycle must stay at least `<kind>-rate`; without it, at least the rate
//! of the kind with the most passes at full rate (`lanes / P`), so that
//! no kind costs the unit more cycles per element than the slowest kind
//! does anyway (`ii <= P / passes`); and no interval beyond the one at
//! which folding stops removing instances.
//!
//! Invariants: intervals are >= 1 and listed ascending (a tie in cost
//! keeps the faster unit); a fixed interval is the only candidate.

use super::inventory::Programs;
use crate::transforms::lower_nonlinear::OpKind;

/// How one kind's interval is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ii {
    /// This many cycles per element per lane.
    Fixed(u64),
    /// The smallest unit within the rate bound.
    Auto,
}

impl Ii {
    /// `N >= 1` or `auto`.
    pub fn parse(text: &str) -> Result<Ii, String> {
        match text.trim() {
            "auto" => Ok(Ii::Auto),
            t => match t.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(Ii::Fixed(n)),
                _ => Err(format!("expected an initiation interval >= 1 or 'auto', got '{text}'")),
            },
        }
    }

    pub fn text(self) -> String {
        match self {
            Ii::Fixed(n) => n.to_string(),
            Ii::Auto => "auto".into(),
        }
    }
}

/// What one kind runs at on a unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Cycles per element per lane in each pass.
    pub ii: u64,
    /// Passes over each row (a reduction's value is known one pass later).
    pub passes: u64,
    /// Elements finished per cycle: `lanes / (passes * ii)`.
    pub elements_per_cycle: f64,
}

impl Throughput {
    pub fn new(lanes: u64, passes: u64, ii: u64) -> Throughput {
        let (passes, ii) = (passes.max(1), ii.max(1));
        Throughput { ii, passes, elements_per_cycle: lanes as f64 / (passes * ii) as f64 }
    }

    /// Cycles to stream a row of `n` elements through every pass.
    pub fn cycles_per_row(&self, lanes: u64, n: u64) -> u64 {
        self.passes * self.ii * n.div_ceil(lanes.max(1))
    }
}

/// The candidate intervals of one kind under one method, ascending.
/// `slowest_passes` is the most passes any kind of the function makes.
pub fn intervals(setting: Ii, rate: Option<f64>, lanes: u64, programs: &Programs, slowest_passes: u64) -> Vec<u64> {
    match setting {
        Ii::Fixed(n) => vec![n.max(1)],
        Ii::Auto => {
            let passes = programs.pass_count.max(1);
            let by_rate = match rate {
                // lanes / (passes * ii) >= rate
                Some(r) if r > 0.0 => ((lanes as f64 / (passes as f64 * r)).floor() as u64).max(1),
                Some(_) => u64::MAX,
                None => (slowest_passes.max(1) / passes).max(1),
            };
            (1..=by_rate.min(programs.max_useful_ii())).collect()
        }
    }
}

/// The option that sets `kind`'s interval.
pub fn option_name(kind: OpKind) -> String {
    format!("{}-ii", kind.option())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::share_nonlinear::inventory::{Inventory, Slot};
    use weft_ir::hwcost::{Primitive, PrimitiveKind};

    /// A one-pass program with three exp2 per lane.
    fn three_exp2(passes: u64) -> Programs {
        let slot = Slot {
            primitive: Primitive::new(PrimitiveKind::Exp2, 25, 4, 18, 1),
            per_lane: true,
            uses: 1,
            evals: Vec::new(),
        };
        let mut inv = Inventory::default();
        inv.slots.insert(PrimitiveKind::Exp2, vec![slot; 3]);
        Programs { passes: vec![inv], pass_count: passes }
    }

    #[test]
    fn auto_is_bounded_by_the_slowest_kind_the_rate_and_usefulness() {
        let p = three_exp2(1);
        // Next to a three-pass kind: up to 3 cycles per element.
        assert_eq!(intervals(Ii::Auto, None, 36, &p, 3), [1, 2, 3]);
        // Alone: full rate.
        assert_eq!(intervals(Ii::Auto, None, 36, &p, 1), [1]);
        // A rate of 12 elements per cycle at 36 lanes: ii <= 3; of 18: ii <= 2.
        assert_eq!(intervals(Ii::Auto, Some(12.0), 36, &p, 1), [1, 2, 3]);
        assert_eq!(intervals(Ii::Auto, Some(18.0), 36, &p, 1), [1, 2]);
        // Beyond three, no exp2 is left to fold.
        assert_eq!(intervals(Ii::Auto, Some(0.0), 36, &p, 1), [1, 2, 3]);
        assert_eq!(intervals(Ii::Fixed(5), None, 36, &p, 3), [5]);
    }

    #[test]
    fn throughput_counts_passes_and_interval() {
        let t = Throughput::new(36, 3, 1);
        assert_eq!(t.elements_per_cycle, 12.0);
        assert_eq!(t.cycles_per_row(36, 197), 3 * 6);
        assert_eq!(Throughput::new(36, 1, 3).elements_per_cycle, 12.0);
        assert_eq!(Ii::parse("auto"), Ok(Ii::Auto));
        assert_eq!(Ii::parse(" 3"), Ok(Ii::Fixed(3)));
        assert!(Ii::parse("0").is_err() && Ii::parse("fast").is_err());
    }
}
