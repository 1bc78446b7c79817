//! The primitives of the resource model and their costs: one
//! [`Primitive`] per piece of hardware an nl op becomes (an adder, a
//! DSP multiplier, a comparator or adder tree, a barrel shifter, the
//! exp2/log2 units, a divider, a table), with the widths that size it;
//! [`Primitive::of_nl_op`] reads it off an nl op of a function.
//!
//! Invariants: a primitive's cost depends only on its fields and the
//! lanes of its unit; ops that are wires (constants, casts that only
//! widen, shifts by a constant amount that truncate) have no primitive.

use super::{clog2, Resources};
use crate::attr::Attribute;
use crate::ops::nl;
use crate::types::ElemType;
use crate::{Function, Op};

/// What a primitive is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrimitiveKind {
    /// `nl.add`, `nl.sub`: a carry-chain adder.
    Adder,
    /// `nl.max`, `nl.min`: a comparator and a 2:1 mux.
    Comparator,
    /// `nl.mux`: a 2:1 mux on a sign bit.
    Mux,
    /// `nl.mul`: DSP48E2 multipliers (a constant operand too).
    Multiplier,
    /// `nl.shift` rounding to nearest (`b` the kept width): an
    /// incrementer of the kept bits.
    RoundingShift,
    /// `nl.cast` that narrows: saturation logic.
    Saturate,
    /// `nl.barrel_shift`.
    BarrelShifter,
    /// `nl.lod`: a leading-one detector (priority encoder).
    Lod,
    /// `nl.poly2`: two multipliers and two adders.
    Poly2,
    /// `nl.exp2`: QUARK's Appro-Exp unit.
    Exp2,
    /// `nl.log2`: QUARK's Appro-LN unit.
    Log2,
    /// `nl.div`: a pipelined radix-2 divider.
    Divider,
    /// `nl.isqrt`: a pipelined non-restoring square root.
    Isqrt,
    /// `nl.lut`: a ROM.
    Table,
    /// `nl.max_tree`: one comparator per lane plus the running maximum.
    MaxTree,
    /// `nl.add_tree`: a tree of adders over the lanes plus the accumulator.
    AddTree,
}

impl PrimitiveKind {
    pub const ALL: [PrimitiveKind; 16] = [
        PrimitiveKind::Adder,
        PrimitiveKind::Comparator,
        PrimitiveKind::Mux,
        PrimitiveKind::Multiplier,
        PrimitiveKind::RoundingShift,
        PrimitiveKind::Saturate,
        PrimitiveKind::BarrelShifter,
        PrimitiveKind::Lod,
        PrimitiveKind::Poly2,
        PrimitiveKind::Exp2,
        PrimitiveKind::Log2,
        PrimitiveKind::Divider,
        PrimitiveKind::Isqrt,
        PrimitiveKind::Table,
        PrimitiveKind::MaxTree,
        PrimitiveKind::AddTree,
    ];

    /// The kind [`PrimitiveKind::name`] prints as `name`.
    pub fn from_name(name: &str) -> Option<PrimitiveKind> {
        PrimitiveKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The name reports print.
    pub fn name(self) -> &'static str {
        match self {
            PrimitiveKind::Adder => "adder",
            PrimitiveKind::Comparator => "comparator",
            PrimitiveKind::Mux => "mux",
            PrimitiveKind::Multiplier => "multiplier",
            PrimitiveKind::RoundingShift => "rounding-shift",
            PrimitiveKind::Saturate => "saturate",
            PrimitiveKind::BarrelShifter => "barrel-shifter",
            PrimitiveKind::Lod => "lod",
            PrimitiveKind::Poly2 => "poly2",
            PrimitiveKind::Exp2 => "exp2",
            PrimitiveKind::Log2 => "log2",
            PrimitiveKind::Divider => "divider",
            PrimitiveKind::Isqrt => "isqrt",
            PrimitiveKind::Table => "table",
            PrimitiveKind::MaxTree => "max-tree",
            PrimitiveKind::AddTree => "add-tree",
        }
    }
}

/// One primitive with the widths that size it: `a` and `b` the widest
/// and second operand widths (for a table, `a` is the input width and
/// `b` the number of entries; for exp2 and log2, `b` the coefficient
/// rows), `out` the result width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Primitive {
    pub kind: PrimitiveKind,
    pub a: u64,
    pub b: u64,
    pub out: u64,
    /// Operands that are not constants (each needs a mode mux when the
    /// primitive is shared).
    pub operands: u64,
}

/// Fractional bits of the quadratic's argument in the exp2 and log2 units
/// (spec/nl.md: 16), plus the sign.
const UNIT_FRACTION: u64 = 17;
/// Width of the quadratic coefficients of the units (16 fractional bits
/// and the integer part).
const COEFF_WIDTH: u64 = 18;

impl Primitive {
    pub fn new(kind: PrimitiveKind, a: u64, b: u64, out: u64, operands: u64) -> Primitive {
        Primitive { kind, a, b, out, operands }
    }

    /// The same primitive wide enough for both (the shared instance).
    pub fn widest(self, o: Primitive) -> Primitive {
        Primitive {
            kind: self.kind,
            a: self.a.max(o.a),
            b: self.b.max(o.b),
            out: self.out.max(o.out),
            operands: self.operands.max(o.operands),
        }
    }

    pub fn is_lane_reduction(&self) -> bool {
        matches!(self.kind, PrimitiveKind::MaxTree | PrimitiveKind::AddTree)
    }

    pub fn input_width(&self) -> u64 {
        match self.kind {
            PrimitiveKind::Table | PrimitiveKind::RoundingShift => self.a,
            _ => self.a.max(self.b),
        }
    }

    pub fn operands(&self) -> u64 {
        self.operands
    }

    /// The cost of one instance; lane reductions span all `lanes`.
    pub fn cost(&self, lanes: u64) -> Resources {
        let (a, b, out) = (self.a, self.b, self.out);
        match self.kind {
            PrimitiveKind::Adder => adder(out),
            PrimitiveKind::Comparator => comparator(a) + Resources::new(out.div_ceil(2), out, 0, 0),
            PrimitiveKind::Mux => Resources::new(out.div_ceil(2), out, 0, 0),
            PrimitiveKind::Multiplier => multiplier(a, b, out),
            PrimitiveKind::RoundingShift => rounding_shift(b, out),
            PrimitiveKind::Saturate => Resources::new(a.saturating_sub(out) + out.div_ceil(2), out, 0, 0),
            PrimitiveKind::BarrelShifter => barrel_shifter(out, b.min(clog2(a.max(out) * 2))),
            PrimitiveKind::Lod => lod(a),
            PrimitiveKind::Poly2 => poly2(a, COEFF_WIDTH.max(b), out),
            PrimitiveKind::Exp2 => exp2(b, out),
            PrimitiveKind::Log2 => log2(a, b, out),
            PrimitiveKind::Divider => divider(a, b),
            PrimitiveKind::Isqrt => isqrt(a),
            PrimitiveKind::Table => table(b, out),
            PrimitiveKind::MaxTree => comparator(a) * lanes + Resources::new(a.div_ceil(2) * lanes, a * lanes, 0, 0),
            PrimitiveKind::AddTree => add_tree(lanes, a, out),
        }
    }

    /// The primitive an nl op of `f` is, with its widths; `None` for ops
    /// that are wires and for ops of other dialects.
    pub fn of_nl_op(f: &Function, op: Op) -> Option<Primitive> {
        let data = f.ops.get(op)?;
        let width = |v| int_width(f.value_type(v).as_tensor().map(|t| &t.elem));
        let out = data.results.first().map_or(0, |&v| width(v));
        let live: Vec<u64> = data.operands.iter().filter(|&&v| !is_constant(f, v)).map(|&v| width(v)).collect();
        let mut all: Vec<u64> = data.operands.iter().map(|&v| width(v)).collect();
        all.sort_unstable_by(|x, y| y.cmp(x));
        let a = all.first().copied().unwrap_or(0);
        let b = all.get(1).copied().unwrap_or(0);
        let live = live.len() as u64;
        let kind = match data.name() {
            n if n == nl::ADD.name || n == nl::SUB.name => PrimitiveKind::Adder,
            n if n == nl::MAX.name || n == nl::MIN.name => PrimitiveKind::Comparator,
            n if n == nl::MUX.name && conditional_negate(f, op).is_some() => return None,
            n if n == nl::MUX.name => PrimitiveKind::Mux,
            n if n == nl::MUL.name => PrimitiveKind::Multiplier,
            n if n == nl::DIV.name => PrimitiveKind::Divider,
            n if n == nl::ISQRT.name => PrimitiveKind::Isqrt,
            n if n == nl::LOD.name => PrimitiveKind::Lod,
            n if n == nl::MAX_TREE.name => PrimitiveKind::MaxTree,
            n if n == nl::ADD_TREE.name => PrimitiveKind::AddTree,
            n if n == nl::BARREL_SHIFT.name => PrimitiveKind::BarrelShifter,
            n if n == nl::POLY2.name => {
                return Some(Primitive::new(PrimitiveKind::Poly2, a, COEFF_WIDTH, out, live.max(1)));
            }
            n if n == nl::EXP2.name => {
                return Some(Primitive::new(PrimitiveKind::Exp2, a, rows(data.attrs.get("coeffs")), out, 1));
            }
            n if n == nl::LOG2.name => {
                return Some(Primitive::new(PrimitiveKind::Log2, a, rows(data.attrs.get("coeffs")), out, 1));
            }
            n if n == nl::LUT.name => {
                let entries = data.attrs.get("table").and_then(Attribute::as_ints).map_or(1, |t| t.len() as u64);
                return Some(Primitive::new(PrimitiveKind::Table, a, entries, out, 1));
            }
            n if n == nl::SHIFT.name => {
                let amount = data.attrs.get("amount").and_then(Attribute::as_int).unwrap_or(0);
                let rounding = data.attrs.get("rounding").and_then(Attribute::as_str).unwrap_or("floor");
                if amount >= 0 || rounding == "floor" || live == 0 {
                    return None;
                }
                // `nearest` adds the round bit x[k-1] to the kept bits
                // (the bits below it cannot carry); `ceil` adds the OR of
                // all k dropped bits, modelled as the full-width adder.
                let k = amount.unsigned_abs();
                let kept = if rounding == "nearest" { a.saturating_sub(k).max(1) } else { a };
                return Some(Primitive::new(PrimitiveKind::RoundingShift, a, kept, out, 1));
            }
            n if n == nl::CAST.name => {
                if out >= a || live == 0 {
                    return None;
                }
                PrimitiveKind::Saturate
            }
            _ => return None,
        };
        if live == 0 {
            return None;
        }
        Some(Primitive::new(kind, a, b, out, live))
    }
}

/// Rows of a unit's coefficient table (`coeffs` holds 3 per row).
fn rows(coeffs: Option<&Attribute>) -> u64 {
    coeffs.and_then(Attribute::as_ints).map_or(1, |c| (c.len() as u64 / 3).max(1))
}

fn int_width(elem: Option<&ElemType>) -> u64 {
    match elem {
        Some(ElemType::Int { width, .. }) => u64::from(*width),
        Some(ElemType::Quant(q)) => u64::from(q.width),
        _ => 0,
    }
}

/// For `nl.mux %c, %n, %y` or `nl.mux %c, %y, %n` with `%n = nl.sub 0, %y`,
/// the negation `%n`: the mux is a conditional negate, one adder row whose
/// LUTs compute `y xor s` into the CARRY8 with carry-in `s` (UG574), so it
/// folds into the subtractor (which is costed) and is a wire. `None` for
/// every other op.
pub fn conditional_negate(f: &Function, op: Op) -> Option<crate::Value> {
    let data = f.ops.get(op)?;
    if data.name() != nl::MUX.name {
        return None;
    }
    let [_, t, e] = data.operands[..] else { return None };
    let negates = |n: crate::Value, y: crate::Value| {
        f.defining_op(n).is_some_and(|op| {
            let d = &f.ops[op];
            d.name() == nl::SUB.name && d.operands.len() == 2 && d.operands[1] == y && is_zero(f, d.operands[0])
        })
    };
    [(t, e), (e, t)].into_iter().find(|&(n, y)| negates(n, y)).map(|(n, _)| n)
}

/// Whether `v` is a constant whose every element is zero.
fn is_zero(f: &Function, v: crate::Value) -> bool {
    let Some(op) = f.defining_op(v) else { return false };
    let d = &f.ops[op];
    if !d.def.has_trait(crate::ops::Trait::ConstantLike) {
        return false;
    }
    match d.attrs.get("value") {
        Some(Attribute::Dense(dense)) => match &dense.data {
            crate::tensor::TensorData::Int(v) => v.iter().all(|&x| x == 0),
            _ => false,
        },
        _ => false,
    }
}

/// Whether `v` is the result of a constant-like op.
pub fn is_constant(f: &Function, v: crate::Value) -> bool {
    f.defining_op(v).is_some_and(|op| f.ops[op].def.has_trait(crate::ops::Trait::ConstantLike))
}

/// A `w`-bit adder: one LUT per bit into the CARRY8 chain (UG574), its
/// output registered.
pub fn adder(w: u64) -> Resources {
    Resources::new(w, w, 0, 0)
}

/// A registered adder tree over `lanes` lanes of `w` bits, one level a
/// stage, each level's adders a bit wider than the last's (`lanes - 1`
/// adders in all), plus the `out`-bit accumulator that sums a row longer
/// than the lanes across cycles.
pub fn add_tree(lanes: u64, w: u64, out: u64) -> Resources {
    let (mut n, mut width, mut total) = (lanes.max(1), w, Resources::ZERO);
    while n > 1 {
        width += 1;
        total += adder(width.min(out)) * (n / 2);
        n = n.div_ceil(2);
    }
    total + adder(out)
}

/// A `w`-bit magnitude comparator: two bits per LUT6 into the carry chain
/// (UG574); no register of its own (its mux is registered).
pub fn comparator(w: u64) -> Resources {
    Resources::new(w.div_ceil(2), 0, 0, 0)
}

/// DSP48E2 tiles of an `a` x `b` signed product: the DSP multiplies 27 x
/// 18 (UG579); a wider product is split into 26- and 17-bit parts (the
/// low parts unsigned), `ceil(x / 26) * ceil(y / 17)` tiles in the better
/// of the two orientations, whose partial products meet in adders of the
/// result width. A product with a 1- or 2-bit operand is LUT logic.
pub fn multiplier(a: u64, b: u64, out: u64) -> Resources {
    let (wide, narrow) = (a.max(b), a.min(b));
    if narrow <= 2 {
        return Resources::new(wide * narrow, out, 0, 0);
    }
    let tiles = if wide <= 27 && narrow <= 18 {
        1
    } else {
        (wide.div_ceil(26) * narrow.div_ceil(17)).min(narrow.div_ceil(26) * wide.div_ceil(17))
    };
    Resources::new((tiles - 1) * out, (tiles - 1) * out, tiles, 0)
}

/// An `a` x `b` multiplier in LUTs (shift-and-add array): `a * b / 2`
/// LUTs and as many FFs (the [`super::DSP_WEIGHT`] of a DSP).
pub fn lut_multiplier(a: u64, b: u64) -> Resources {
    Resources::new(a * b / 2, a * b / 2, 0, 0)
}

/// A barrel shifter of `w` bits by an amount of `s` bits: `s` stages of
/// 2:1 muxes, two stages per LUT6 (a 4:1 mux, UG574), registered.
pub fn barrel_shifter(w: u64, s: u64) -> Resources {
    Resources::new(w * s.div_ceil(2), w, 0, 0)
}

/// A leading-one detector of `w` bits: a priority encoder, one LUT6 per
/// 4 input bits per output bit level (own derivation: `w / 4 * clog2(w)`
/// plus the `w / 4` group flags), registered.
pub fn lod(w: u64) -> Resources {
    let groups = w.div_ceil(4);
    Resources::new(groups * (clog2(w) + 1), clog2(w) + 1, 0, 0)
}

/// `a x^2 + b x + c` by Horner: two `x` x coefficient products. When a
/// product fits one DSP48E2 (`x <= 27`, coefficients `<= 18` bits), each
/// Horner step `t x + c` is one DSP: the addend and the rounding constant
/// (folded into it) enter the 48-bit post-adder through the C port and
/// the pipeline registers are the DSP's own (UG579, `P = A * B + C`), so
/// no fabric; otherwise the split products meet in fabric adders and the
/// two rounding adders of the result width are fabric too.
pub fn poly2(x: u64, coeff: u64, out: u64) -> Resources {
    let product = multiplier(x, coeff, x + coeff);
    if x <= 27 && coeff <= 18 {
        return product * 2;
    }
    product * 2 + adder(out) * 2 + adder(x + coeff) * 2
}

/// A rounding right shift keeping `kept` bits into a `out`-bit result:
/// an incrementer of the kept bits, registered, and when the result is
/// narrower than the kept bits, the saturation of a narrowing cast.
pub fn rounding_shift(kept: u64, out: u64) -> Resources {
    let saturate = if out < kept { kept - out + out.div_ceil(2) } else { 0 };
    Resources::new(kept + saturate, out, 0, 0)
}

/// A coefficient ROM of `rows` rows of three `COEFF_WIDTH`-bit words in
/// LUTRAM: one LUT6 holds 64 x 1 bits, a LUT6_2 32 x 2 (UG574).
fn coefficient_rom(rows: u64) -> Resources {
    if rows <= 1 {
        return Resources::ZERO;
    }
    let bits = 3 * COEFF_WIDTH;
    let luts = if rows <= 32 { bits.div_ceil(2) } else { bits * rows.div_ceil(64) };
    Resources::new(luts, bits, 0, 0)
}

/// Pipeline stages of the quadratic with its coefficient ROM: the ROM's
/// registered read, then one DSP48E2 per Horner step. A value that skips
/// them (the integer part of exp2, the exponent of log2) is carried
/// through as many delay registers; the fraction's own delay for the
/// second step rides in the DSP's B-register cascade (UG579, BREG = 2).
const POLY_STAGES: u64 = 3;

/// Appro-Exp: the ceil split (a subtractor of the fraction), the
/// coefficient ROM, the quadratic on the fraction, the output barrel
/// shifter by the integer part (as many stages as the output has bits to
/// move through) with its round-to-nearest incrementer and the 2:1 mux
/// that saturates it (spec/nl.md: the shift rounds to nearest and the
/// result saturates; both chained into the shifter's register), and the
/// delay registers that carry the shift amount (its `clog2(w + 18)` bits
/// and the saturation flag) past the quadratic. The fraction's segment
/// needs no adder: `-qf`'s top bits are the complemented top bits of the
/// fraction plus a zero test of the rest, and the quadratic's argument is
/// the rest sign-extended by that test.
pub fn exp2(rows: u64, out: u64) -> Resources {
    let amount = clog2(out + COEFF_WIDTH);
    adder(UNIT_FRACTION)
        + coefficient_rom(rows)
        + poly2(UNIT_FRACTION, COEFF_WIDTH, COEFF_WIDTH)
        + barrel_shifter(out, amount)
        + Resources::new(out + out.div_ceil(2), (amount + 1) * POLY_STAGES, 0, 0)
}

/// Appro-LN: a leading-one detector of the input, the normalizing barrel
/// shifter, the coefficient ROM, the quadratic on the mantissa and the
/// adder of the exponent; delay registers hold the input while the
/// detector runs and carry the exponent (`clog2 a + 1` bits) past the
/// shifter and the quadratic.
pub fn log2(input: u64, rows: u64, out: u64) -> Resources {
    let exponent = clog2(input) + 1;
    lod(input)
        + barrel_shifter(UNIT_FRACTION, clog2(input))
        + coefficient_rom(rows)
        + poly2(UNIT_FRACTION, COEFF_WIDTH, COEFF_WIDTH)
        + adder(out)
        + Resources::new(0, input + exponent * (POLY_STAGES + 1), 0, 0)
}

/// A pipelined radix-2 restoring divider of an `n`-bit numerator by a
/// `d`-bit divisor: `n` stages, each a `d + 1`-bit subtractor whose mux
/// folds into the same LUTs, with its partial remainder registered (the
/// LUT-only radix-2 architecture of Xilinx's Divider Generator, PG151).
pub fn divider(n: u64, d: u64) -> Resources {
    let stages = n.max(1);
    Resources::new(stages * (d + 1), stages * (d + 1) + stages * stages / 2, 0, 0)
}

/// A pipelined non-restoring square root of `w` bits: `w / 2` stages of a
/// `w / 2 + 2`-bit add/subtract, registered (own derivation).
pub fn isqrt(w: u64) -> Resources {
    let stages = w.div_ceil(2);
    Resources::new(stages * (stages + 2), stages * (stages + 2), 0, 0)
}

/// A ROM of `entries` words of `out` bits: LUTRAM (64 x 1 per LUT6, the
/// F7/F8 muxes free up to 256 entries) up to 1024 entries, RAMB18 (18 Kb,
/// UG573) beyond; the output registered.
pub fn table(entries: u64, out: u64) -> Resources {
    if entries <= 1024 {
        let words = entries.div_ceil(64);
        let extra_mux = if words > 4 { out * mux_extra(words) } else { 0 };
        Resources::new(out * words + extra_mux, out, 0, 0)
    } else {
        Resources::new(0, out, 0, (entries * out).div_ceil(18 * 1024))
    }
}

fn mux_extra(words: u64) -> u64 {
    super::mux_luts_per_bit_x2(words.div_ceil(4)).div_ceil(2)
}
