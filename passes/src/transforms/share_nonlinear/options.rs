//! `share-nonlinear`'s options: lanes, sharing, the e-graph's limits,
//! per kind an error budget, a pinned method, an initiation interval and
//! a rate bound (spec/hw.md, "share-nonlinear").
//!
//! Invariants: later options override earlier ones; an empty value
//! restores a per-kind option's default; every value set is printed back
//! by [`ShareOptions::values`] under its option's name.

use super::ii::Ii;
use crate::eqsat::nl::SaturationLimits;
use crate::transforms::lower_nonlinear::{Method, OpKind};
use crate::{parse_bool_option, parse_uint_option, PassOption};
use std::collections::BTreeMap;
use std::time::Duration;

/// The pass's options.
#[derive(Debug, Clone)]
pub struct ShareOptions {
    /// Elements per cycle of every unit.
    pub lanes: u64,
    /// One unit for all kinds (`true`) or one per kind.
    pub share: bool,
    pub limits: SaturationLimits,
    /// Per kind, a budget replacing [`super::errors::default_budget`].
    pub budgets: BTreeMap<OpKind, f64>,
    /// Per kind, the only method considered (QUARK's setting pins every
    /// kind to `quark`); other kinds choose freely.
    pub pinned: BTreeMap<OpKind, Method>,
    /// The initiation interval of every kind without its own.
    pub ii: Ii,
    /// Per kind, its initiation interval.
    pub kind_ii: BTreeMap<OpKind, Ii>,
    /// Per kind, the least elements per cycle an `auto` interval keeps.
    pub rates: BTreeMap<OpKind, f64>,
}

impl ShareOptions {
    /// Pins every op kind to `method` (`None`: every kind chooses).
    pub fn pin_all(&mut self, method: Option<Method>) {
        self.pinned.clear();
        if let Some(m) = method {
            self.pinned.extend(OpKind::ALL.into_iter().map(|k| (k, m)));
        }
    }

    /// Sets every kind's interval to `ii`.
    pub fn ii_all(&mut self, ii: Ii) {
        self.kind_ii.clear();
        self.ii = ii;
    }

    /// How `kind`'s interval is set.
    pub fn ii_of(&self, kind: OpKind) -> Ii {
        self.kind_ii.get(&kind).copied().unwrap_or(self.ii)
    }

    /// Sets the option `name` to `value`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let positive = || match parse_uint_option(value)? {
            0 => Err("expected at least 1, got '0'".to_string()),
            n => Ok(n),
        };
        let size = || positive().and_then(|n| usize::try_from(n).map_err(|_| format!("'{value}' is too large")));
        match name {
            "lanes" => self.lanes = positive()?,
            "share" => self.share = parse_bool_option(value)?,
            "iter-limit" => self.limits.iterations = size()?,
            "node-limit" => self.limits.nodes = size()?,
            "time-limit" => self.limits.time = Duration::from_millis(parse_uint_option(value)?),
            "methods" => self.pin_all(parse_method(value)?),
            "ii" => self.ii_all(Ii::parse(value)?),
            _ => self.set_per_kind(name, value)?,
        }
        Ok(())
    }

    /// `<kind>-method`, `<kind>-ii`, `<kind>-rate`, `<kind>-budget`.
    fn set_per_kind(&mut self, name: &str, value: &str) -> Result<(), String> {
        let unknown = || format!("unknown option '{name}'");
        let (kind, what) = OpKind::ALL
            .into_iter()
            .find_map(|k| name.strip_prefix(k.option()).and_then(|r| r.strip_prefix('-')).map(|w| (k, w)))
            .ok_or_else(unknown)?;
        let empty = value.trim().is_empty();
        match what {
            "method" => match parse_method(value)? {
                Some(m) => self.pinned.insert(kind, m).map(|_| ()),
                None => self.pinned.remove(&kind).map(|_| ()),
            },
            "ii" if empty => self.kind_ii.remove(&kind).map(|_| ()),
            "ii" => self.kind_ii.insert(kind, Ii::parse(value)?).map(|_| ()),
            "rate" if empty => self.rates.remove(&kind).map(|_| ()),
            "rate" => self.rates.insert(kind, non_negative(value, "a rate")?).map(|_| ()),
            "budget" if empty => self.budgets.remove(&kind).map(|_| ()),
            "budget" => self.budgets.insert(kind, non_negative(value, "a budget")?).map(|_| ()),
            _ => return Err(unknown()),
        };
        Ok(())
    }

    /// The options set, as `(name, value)`.
    pub fn values(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("lanes", self.lanes.to_string()),
            ("share", self.share.to_string()),
            ("iter-limit", self.limits.iterations.to_string()),
            ("node-limit", self.limits.nodes.to_string()),
            ("time-limit", self.limits.time.as_millis().to_string()),
            ("ii", self.ii.text()),
        ];
        let named = |kind: OpKind, what: &str| {
            OPTIONS.iter().find(|p| p.name.strip_suffix(what) == Some(kind.option())).map(|p| p.name)
        };
        let per_kind = self
            .budgets
            .iter()
            .map(|(&k, b)| (named(k, "-budget"), b.to_string()))
            .chain(self.pinned.iter().map(|(&k, m)| (named(k, "-method"), m.name().to_string())))
            .chain(self.kind_ii.iter().map(|(&k, ii)| (named(k, "-ii"), ii.text())))
            .chain(self.rates.iter().map(|(&k, r)| (named(k, "-rate"), r.to_string())));
        out.extend(per_kind.filter_map(|(name, v)| Some((name?, v))));
        out
    }
}

impl Default for ShareOptions {
    fn default() -> Self {
        ShareOptions {
            lanes: 16,
            share: true,
            limits: SaturationLimits::default(),
            budgets: BTreeMap::new(),
            pinned: BTreeMap::new(),
            ii: Ii::Fixed(1),
            kind_ii: BTreeMap::new(),
            rates: BTreeMap::new(),
        }
    }
}

fn non_negative(value: &str, what: &str) -> Result<f64, String> {
    let x: f64 = value.trim().parse().map_err(|_| format!("expected a number, got '{value}'"))?;
    if !(x.is_finite() && x >= 0.0) {
        return Err(format!("expected {what} >= 0, got '{value}'"));
    }
    Ok(x)
}

/// A method option's value: `None` for the empty string (choose freely).
fn parse_method(value: &str) -> Result<Option<Method>, String> {
    match value.trim() {
        "" => Ok(None),
        v => Method::parse(v).map(Some),
    }
}

const BUDGET_DOC: &str = "max abs error allowed (empty: the default, spec/hw.md)";
const METHOD_DOC: &str =
    "the only method for this kind: quark (with its log-domain variant), quark-log, ibert or lut (empty: chosen freely)";
const II_DOC: &str = "cycles per element per lane for this kind: N >= 1 or auto (empty: the value of `ii`)";
const RATE_DOC: &str =
    "with an auto interval, the least elements per cycle this kind keeps (empty: the slowest kind's full rate)";

macro_rules! options {
    ($(($name:literal, $method:literal, $ii:literal, $rate:literal)),*) => {
        &[
            PassOption { name: "lanes", kind: "uint", default: "16", doc: "elements per cycle of every unit" },
            PassOption { name: "share", kind: "bool", default: "true", doc: "one unit for every op kind (false: one unit per kind, each with its cheapest method)" },
            PassOption { name: "iter-limit", kind: "uint", default: "16", doc: "at most this many saturation iterations" },
            PassOption { name: "node-limit", kind: "uint", default: "20000", doc: "stop saturating at this many e-nodes" },
            PassOption { name: "time-limit", kind: "uint", default: "2000", doc: "stop saturating after this many milliseconds (per function)" },
            PassOption { name: "methods", kind: "string", default: "", doc: "pin every kind to this method (quark: QUARK's setting, quark-log included; empty: each kind chooses)" },
            PassOption { name: "ii", kind: "string", default: "1", doc: "initiation interval of every kind: N cycles per element per lane (1: full rate), or auto (the smallest unit within each kind's rate)" },
            $(PassOption { name: $name, kind: "float", default: "", doc: BUDGET_DOC },)*
            $(PassOption { name: $method, kind: "string", default: "", doc: METHOD_DOC },)*
            $(PassOption { name: $ii, kind: "string", default: "", doc: II_DOC },)*
            $(PassOption { name: $rate, kind: "float", default: "", doc: RATE_DOC }),*
        ]
    };
}

pub const OPTIONS: &[PassOption] = options!(
    ("softmax-budget", "softmax-method", "softmax-ii", "softmax-rate"),
    ("gelu-budget", "gelu-method", "gelu-ii", "gelu-rate"),
    ("layer-norm-budget", "layer-norm-method", "layer-norm-ii", "layer-norm-rate"),
    ("sigmoid-budget", "sigmoid-method", "sigmoid-ii", "sigmoid-rate"),
    ("silu-budget", "silu-method", "silu-ii", "silu-rate"),
    ("tanh-budget", "tanh-method", "tanh-ii", "tanh-rate"),
    ("exp-budget", "exp-method", "exp-ii", "exp-rate"),
    ("reciprocal-budget", "reciprocal-method", "reciprocal-ii", "reciprocal-rate"),
    ("sqrt-budget", "sqrt-method", "sqrt-ii", "sqrt-rate"),
    ("rsqrt-budget", "rsqrt-method", "rsqrt-ii", "rsqrt-rate")
);
