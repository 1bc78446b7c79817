//! The shared nonlinear units: one C++ function per nl unit kind (Appro-Exp,
//! Appro-LN, the quadratic, the integer square root, the divider) that every
//! op of that kind calls, with `#pragma HLS ALLOCATION function
//! instances=... limit=1` in the top function so the tool builds one
//! circuit; the coefficient tables the calls pass (deduplicated ROMs).
//!
//! Which op runs on which unit is decided by [`Units::unit_for`]: today each
//! nl op kind has its own unit; the hw dialect's shared-unit choice
//! (share-nonlinear) plugs in here by returning the unit (and mode) it
//! chose for an op.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// A unit kind and its C++ function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    Exp2,
    Log2,
    Poly2,
    Isqrt,
    Div,
}

impl Unit {
    pub fn function(self) -> &'static str {
        match self {
            Unit::Exp2 => "unit_exp2",
            Unit::Log2 => "unit_log2",
            Unit::Poly2 => "unit_poly2",
            Unit::Isqrt => "unit_isqrt",
            Unit::Div => "unit_div",
        }
    }

    fn definition(self) -> &'static str {
        match self {
            Unit::Exp2 => {
                "static wide_t unit_exp2(wide_t t, int frac, const long long *coeffs, int segments, int coeff_frac, int out_frac) {\n#pragma HLS INLINE off\n  return w_exp2(t, frac, coeffs, segments, coeff_frac, out_frac);\n}\n"
            }
            Unit::Log2 => {
                "static wide_t unit_log2(wide_t x, int frac, int mantissa_frac, const long long *coeffs, int segments, int out_frac) {\n#pragma HLS INLINE off\n  return w_log2(x, frac, mantissa_frac, coeffs, segments, out_frac);\n}\n"
            }
            Unit::Poly2 => {
                "static wide_t unit_poly2(wide_t x, wide_t a, wide_t b, wide_t c, int frac) {\n#pragma HLS INLINE off\n  return w_poly2(a, b, c, x, frac);\n}\n"
            }
            Unit::Isqrt => "static wide_t unit_isqrt(wide_t x) {\n#pragma HLS INLINE off\n  return w_isqrt(x);\n}\n",
            Unit::Div => {
                "static wide_t unit_div(wide_t a, wide_t b) {\n#pragma HLS INLINE off\n  return w_floor_div(a, b);\n}\n"
            }
        }
    }
}

/// The units and tables one translation uses.
#[derive(Debug, Default)]
pub struct Units {
    used: BTreeSet<Unit>,
    tables: Vec<(String, Vec<i64>)>,
}

impl Units {
    /// The unit that executes an op, if it runs on one.
    pub fn unit_for(op_name: &str) -> Option<Unit> {
        match op_name {
            "nl.exp2" => Some(Unit::Exp2),
            "nl.log2" => Some(Unit::Log2),
            "nl.poly2" => Some(Unit::Poly2),
            "nl.isqrt" => Some(Unit::Isqrt),
            "nl.div" => Some(Unit::Div),
            _ => None,
        }
    }

    /// Records a call of `unit`; its function name.
    pub fn call(&mut self, unit: Unit) -> &'static str {
        self.used.insert(unit);
        unit.function()
    }

    /// The name of a ROM holding `values` (one per distinct content).
    pub fn table(&mut self, values: &[i64]) -> String {
        if let Some((name, _)) = self.tables.iter().find(|(_, v)| v == values) {
            return name.clone();
        }
        let name = format!("rom_{}", self.tables.len());
        self.tables.push((name.clone(), values.to_vec()));
        name
    }

    /// The ROMs and unit functions, for kernel.cpp.
    pub fn definitions(&self) -> String {
        let mut s = String::new();
        for (name, values) in &self.tables {
            let _ =
                writeln!(s, "static const long long {name}[{}] = {{{}}};", values.len().max(1), super::ll_list(values));
        }
        for u in &self.used {
            s.push_str(u.definition());
        }
        s
    }

    /// The ALLOCATION pragmas of the top function.
    pub fn allocation_pragmas(&self) -> String {
        self.used
            .iter()
            .map(|u| format!("#pragma HLS ALLOCATION function instances={} limit=1\n", u.function()))
            .collect()
    }

    /// The unit functions used, for the README.
    pub fn used(&self) -> Vec<&'static str> {
        self.used.iter().map(|u| u.function()).collect()
    }
}
