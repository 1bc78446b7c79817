//! The hardware resource model: LUT, FF, DSP (DSP48E2) and BRAM of every
//! nl primitive as a function of its bit widths, and of a hardware unit
//! (primitives times lanes, with a mode mux in front of each shared
//! primitive, and for a time-multiplexed primitive its slot mux, hold
//! registers and the unit's sequencer). One model serves `share-nonlinear`'s extraction and the
//! reports; spec/hw.md gives every formula and where its constants come
//! from (UG574 for the CLB, UG579 for the DSP48E2, UG573 for block RAM).
//!
//! Invariants: every cost is a pure function of its arguments (integers
//! in, integers out), monotonic in every width and count, so comparisons
//! are exact and deterministic; BRAM is counted in 18 Kb halves
//! ([`Resources::bram18`]) and reported as BRAM36 tiles.

pub mod engines;
pub mod latency;
#[cfg(test)]
mod perf_tests;
mod primitive;
#[cfg(test)]
mod tests;
pub mod workload;

pub use primitive::{
    add_tree, adder, barrel_shifter, comparator, conditional_negate, divider, exp2, is_constant, isqrt, lod, log2,
    lut_multiplier, multiplier, poly2, rounding_shift, table, Primitive, PrimitiveKind,
};

use std::ops::{Add, AddAssign, Mul};

/// FPGA resources of a piece of hardware.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resources {
    /// LUT6 (a LUT6_2 used as two LUT5 counts once).
    pub lut: u64,
    /// Flip-flops outside the DSP and RAM blocks.
    pub ff: u64,
    /// DSP48E2 slices.
    pub dsp: u64,
    /// RAMB18 halves of block RAM (two make one RAMB36 tile).
    pub bram18: u64,
}

impl Resources {
    pub const ZERO: Resources = Resources { lut: 0, ff: 0, dsp: 0, bram18: 0 };

    pub fn new(lut: u64, ff: u64, dsp: u64, bram18: u64) -> Resources {
        Resources { lut, ff, dsp, bram18 }
    }

    /// Block RAM in RAMB36 tiles (halves count 0.5).
    pub fn bram36(&self) -> f64 {
        self.bram18 as f64 / 2.0
    }

    /// The objective of extraction: LUT + FF, then DSP, then BRAM, as one
    /// number. A DSP48E2 weighs as much as the fabric it replaces (a 27x18
    /// multiplier in LUTs is about 27 * 18 / 2 LUTs and as many FFs, see
    /// spec/hw.md), a RAMB18 as its 18 Kb in LUTRAM (288 LUTs).
    pub fn weight(&self) -> u64 {
        self.lut + self.ff + self.dsp * DSP_WEIGHT + self.bram18 * BRAM18_WEIGHT
    }
}

/// LUT + FF a DSP48E2 stands for in [`Resources::weight`]: a 27x18
/// multiplier built from LUTs (`Primitive::lut_multiplier(27, 18)`).
pub const DSP_WEIGHT: u64 = 486;
/// LUT + FF a RAMB18 stands for: 18 Kb of 64-bit LUTRAM.
pub const BRAM18_WEIGHT: u64 = 288;

impl Add for Resources {
    type Output = Resources;
    fn add(self, o: Resources) -> Resources {
        Resources { lut: self.lut + o.lut, ff: self.ff + o.ff, dsp: self.dsp + o.dsp, bram18: self.bram18 + o.bram18 }
    }
}

impl AddAssign for Resources {
    fn add_assign(&mut self, o: Resources) {
        *self = *self + o;
    }
}

impl Mul<u64> for Resources {
    type Output = Resources;
    fn mul(self, n: u64) -> Resources {
        Resources { lut: self.lut * n, ff: self.ff * n, dsp: self.dsp * n, bram18: self.bram18 * n }
    }
}

impl std::iter::Sum for Resources {
    fn sum<I: Iterator<Item = Resources>>(iter: I) -> Resources {
        iter.fold(Resources::ZERO, |a, b| a + b)
    }
}

/// ceil(log2 n) for n >= 1 (0 for n <= 1).
pub fn clog2(n: u64) -> u64 {
    if n <= 1 {
        0
    } else {
        u64::from(64 - (n - 1).leading_zeros())
    }
}

/// LUTs of an `inputs`:1 multiplexer of one bit: a LUT6 is a 4:1 mux,
/// F7MUX/F8MUX combine two and four of them into 8:1 and 16:1 for free
/// (UG574, "Multiplexers"); two bits of a 2:1 mux share one LUT6_2.
pub fn mux_luts_per_bit_x2(inputs: u64) -> u64 {
    match inputs {
        0 | 1 => 0,
        2 => 1,
        n => 2 * n.div_ceil(4),
    }
}

/// A mux of `inputs` inputs of `width` bits: combinational (it feeds a
/// primitive whose own register holds the result), so LUTs only.
pub fn mux(width: u64, inputs: u64) -> Resources {
    if inputs <= 1 {
        return Resources::ZERO;
    }
    Resources::new((width * mux_luts_per_bit_x2(inputs)).div_ceil(2), 0, 0, 0)
}

/// One primitive instance of a unit: how many modes use it, how many
/// evaluations per element it makes for them (a time-multiplexed
/// instance serves several uses of one program at an initiation interval
/// above 1, spec/hw.md "Initiation interval"), and whether it exists once
/// per lane (elementwise work) or once per unit (the trees, and steps on
/// a row's reduced value, which come once per row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    pub primitive: Primitive,
    pub modes: u64,
    /// Evaluations per element summed over the modes; `uses - modes`
    /// results are held in registers.
    pub uses: u64,
    pub per_lane: bool,
    /// The inputs of each operand's mux, when known from where the
    /// operands come from (evaluations whose operand is the same wire
    /// need no mux input of their own); `None`: every evaluation is its
    /// own input, `max(uses, modes)` per operand.
    pub inputs: Option<[u64; MAX_OPERANDS]>,
}

/// The most non-constant operands an nl primitive has (`nl.mux`).
pub const MAX_OPERANDS: usize = 3;

impl Instance {
    /// An instance evaluated once per element by each of its `modes`.
    pub fn new(primitive: Primitive, modes: u64, per_lane: bool) -> Instance {
        Instance { primitive, modes, uses: modes, per_lane, inputs: None }
    }

    /// The inputs of each non-constant operand's mux, in operand order
    /// (at most [`MAX_OPERANDS`]; 1: no mux).
    pub fn operand_inputs(&self) -> Vec<u64> {
        let operands = usize::try_from(self.primitive.operands()).unwrap_or(MAX_OPERANDS).min(MAX_OPERANDS);
        (0..operands).map(|k| self.mux_inputs(k)).collect()
    }

    /// The inputs of operand `k`'s mux (1: no mux).
    pub fn mux_inputs(&self, k: usize) -> u64 {
        match self.inputs {
            Some(inputs) => inputs.get(k).copied().unwrap_or(1).max(1),
            None => self.uses.max(self.modes).max(1),
        }
    }

    /// Result registers beyond the primitive's own: every evaluation of a
    /// mode but its last is captured when it leaves the instance, because
    /// the next evaluation overwrites the output register one cycle later.
    pub fn held(&self) -> u64 {
        self.uses.saturating_sub(self.modes.max(1))
    }

    /// Copies of the instance in a unit of `lanes` lanes: one per lane
    /// for elementwise work, one per unit for a row's work and the
    /// lane reductions (which span the lanes themselves).
    pub fn copies(&self, lanes: u64) -> u64 {
        if self.per_lane && !self.primitive.is_lane_reduction() {
            lanes
        } else {
            1
        }
    }

    /// The instance's resources in a unit of `lanes` lanes, all copies:
    /// the primitive, on each operand a mux of its inputs
    /// ([`Instance::mux_inputs`]), and the hold registers of a
    /// time-multiplexed instance.
    pub fn cost(&self, lanes: u64) -> Resources {
        let p = self.primitive;
        let mut one = p.cost(lanes);
        let operands = usize::try_from(p.operands()).unwrap_or(MAX_OPERANDS);
        for k in 0..operands {
            one += mux(p.input_width(), self.mux_inputs(k));
        }
        one += Resources::new(0, self.held() * p.out, 0, 0);
        one * self.copies(lanes)
    }
}

/// A hardware unit of `lanes` lanes: each instance (once per lane when it
/// is `per_lane`), with a `u`:1 mux on each operand of an instance with
/// `u > 1` uses (modes, and evaluations of a time-multiplexed instance),
/// the hold registers of a time-multiplexed instance's results, plus the
/// mode register.
pub fn unit(instances: &[Instance], lanes: u64, modes: u64) -> Resources {
    let mut total: Resources = instances.iter().map(|i| i.cost(lanes)).sum();
    if modes > 1 {
        total += Resources::new(0, clog2(modes), 0, 0);
    }
    total
}

/// The sequencer of a unit whose slowest mode takes `ii` cycles per
/// element: a `clog2 ii`-bit slot counter (one LUT and one FF per bit)
/// whose count drives the select lines of the time-multiplexed
/// instances' muxes and the enables of their hold registers; the lanes
/// run in lockstep, so there is one per unit.
pub fn sequencer(ii: u64) -> Resources {
    let bits = clog2(ii);
    Resources::new(bits, bits, 0, 0)
}
