//! The TOML form of a quantization configuration (spec/quant.md):
//! top-level keys set the base precision, each `[[layer]]` table is a rule
//! for the ops whose location matches its `match` glob (and `op`, if
//! given); later rules override earlier ones.
//!
//! ```toml
//! scheme = "w8a8"
//! observer = "percentile:99.9"
//! [[layer]]
//! match = "*/attention/*"
//! weights = "int4"
//! ```
//!
//! Invariants: every key is known (an unknown one is an error with a
//! suggestion), every value is checked with the message of the same key
//! given as a pass option, and errors name the rule they are in.

use super::scheme::{
    parse_act_bits, parse_scheme, LayerRule, Observer, Precision, PrecisionPatch, QuantConfig, WeightFormat,
};
use toml::{Table, Value};
use weft_ir::diag::{closest, did_you_mean};

/// A configuration file: the precisions and the calibration settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigFile {
    pub config: QuantConfig,
    /// Random calibration samples to draw when none are given.
    pub samples: Option<u64>,
    pub seed: Option<u64>,
}

/// Keys of a precision, at the top level and in `[[layer]]` tables.
const PRECISION_KEYS: &[&str] = &[
    "scheme",
    "weights",
    "acts",
    "wide-acts",
    "observer",
    "weight-observer",
    "symmetric-acts",
    "symmetric-weights",
    "per-channel",
    "channel-axis",
    "skip",
];
const TOP_KEYS: &[&str] = &["samples", "seed", "layer"];
const LAYER_KEYS: &[&str] = &["match", "op"];

/// Parses a configuration file's text.
pub fn parse_config(text: &str) -> Result<ConfigFile, String> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| syntax_error(text, &e))?;
    check_keys(&table, &[PRECISION_KEYS, TOP_KEYS], "the top level")?;
    let mut base = Precision::default();
    read_patch(&table, "the top level")?.apply(&mut base);
    let samples = opt_uint(&table, "samples", "the top level")?;
    let seed = opt_uint(&table, "seed", "the top level")?;
    let rules = match table.get("layer") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(i, v)| read_rule(i + 1, v)).collect::<Result<_, _>>()?
        }
        Some(_) => return Err("'layer' must be an array of tables: write each rule as [[layer]]".into()),
    };
    Ok(ConfigFile { config: QuantConfig { base, rules }, samples, seed })
}

fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim_end();
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {col}: {message}")
        }
        None => message.to_string(),
    }
}

fn read_rule(index: usize, v: &Value) -> Result<LayerRule, String> {
    let place = format!("[[layer]] #{index}");
    let Value::Table(t) = v else { return Err(format!("{place} must be a table")) };
    check_keys(t, &[PRECISION_KEYS, LAYER_KEYS], &place)?;
    let pattern = opt_str(t, "match", &place)?;
    let op = opt_str(t, "op", &place)?;
    if pattern.is_none() && op.is_none() {
        return Err(format!("{place} needs 'match' (a glob over op locations) or 'op' (an op name)"));
    }
    Ok(LayerRule { pattern, op, patch: read_patch(t, &place)? })
}

/// Errors on a key that none of `allowed` lists, suggesting the closest.
fn check_keys(t: &Table, allowed: &[&[&str]], place: &str) -> Result<(), String> {
    let all: Vec<&str> = allowed.iter().flat_map(|k| k.iter().copied()).collect();
    match t.keys().find(|k| !all.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => {
            let mut msg = format!("unknown key '{k}' in {place}");
            if let Some(hint) = did_you_mean(&closest(k, all.iter().copied())) {
                msg = format!("{msg}; {hint}");
            }
            Err(msg)
        }
    }
}

fn read_patch(t: &Table, place: &str) -> Result<PrecisionPatch, String> {
    let at = |key: &str, e: String| format!("'{key}' in {place}: {e}");
    let mut p = PrecisionPatch::default();
    if let Some(s) = opt_str(t, "scheme", place)? {
        let (w, a) = parse_scheme(&s).map_err(|e| at("scheme", e))?;
        p.weights = Some(w);
        p.acts = Some(a);
    }
    if let Some(v) = t.get("weights") {
        let text = match v {
            Value::Integer(i) => i.to_string(),
            Value::String(s) => s.clone(),
            _ => return Err(at("weights", "expected a string such as \"int4\" or \"binary\"".into())),
        };
        p.weights = Some(WeightFormat::parse(&text).map_err(|e| at("weights", e))?);
    }
    for (key, slot) in [("acts", &mut p.acts), ("wide-acts", &mut p.wide_acts)] {
        if let Some(v) = t.get(key) {
            let text = match v {
                Value::Integer(i) => i.to_string(),
                _ => return Err(at(key, "expected an integer from 4 to 16".into())),
            };
            *slot = Some(parse_act_bits(&text).map_err(|e| at(key, e))?);
        }
    }
    if let Some(s) = opt_str(t, "observer", place)? {
        p.act_observer = Some(Observer::parse(&s).map_err(|e| at("observer", e))?);
    }
    if let Some(s) = opt_str(t, "weight-observer", place)? {
        p.weight_observer = Some(parse_weight_observer(&s).map_err(|e| at("weight-observer", e))?);
    }
    p.symmetric_acts = opt_bool(t, "symmetric-acts", place)?;
    p.symmetric_weights = opt_bool(t, "symmetric-weights", place)?;
    p.per_channel = opt_bool(t, "per-channel", place)?;
    p.skip = opt_bool(t, "skip", place)?;
    if let Some(v) = t.get("channel-axis") {
        let Value::Integer(i) = v else { return Err(at("channel-axis", "expected an integer axis".into())) };
        p.channel_axis = Some(*i);
    }
    Ok(p)
}

/// The observers that make sense for weights: `minmax` and `mse`.
pub fn parse_weight_observer(s: &str) -> Result<Observer, String> {
    match Observer::parse(s)? {
        Observer::Percentile(_) => Err("weights take minmax or mse (a percentile would clip real weights)".into()),
        o => Ok(o),
    }
}

fn opt_str(t: &Table, key: &str, place: &str) -> Result<Option<String>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("'{key}' in {place}: expected a string")),
    }
}

fn opt_bool(t: &Table, key: &str, place: &str) -> Result<Option<bool>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("'{key}' in {place}: expected true or false")),
    }
}

fn opt_uint(t: &Table, key: &str, place: &str) -> Result<Option<u64>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::Integer(i)) if *i >= 0 => Ok(Some(*i as u64)),
        Some(_) => Err(format!("'{key}' in {place}: expected a non-negative integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mixed_precision_file() {
        let text = "scheme = \"w8a8\"\nobserver = \"mse\"\nsamples = 4\n\n\
[[layer]]\nmatch = \"*/attention/*\"\nweights = \"int4\"\n\n\
[[layer]]\nop = \"nn.matmul\"\nmatch = \"*/pooler/*\"\nskip = true\nacts = 16\n";
        let file = parse_config(text).unwrap();
        assert_eq!(file.samples, Some(4));
        assert_eq!(file.config.base.act_observer, Observer::Mse);
        let p = file.config.precision_for(&["/layer.0/attention/self/key/MatMul"], "nn.matmul");
        assert_eq!((p.weights, p.acts, p.skip), (WeightFormat::Int(4), 8, false));
        let p = file.config.precision_for(&["/pooler/dense/MatMul"], "nn.matmul");
        assert_eq!((p.weights, p.acts, p.skip), (WeightFormat::Int(8), 16, true));
        let p = file.config.precision_for(&["/pooler/Tanh"], "nn.tanh");
        assert!(!p.skip, "the rule is limited to matmuls");
    }

    #[test]
    fn errors_name_the_place() {
        let e = |text: &str| parse_config(text).unwrap_err();
        assert_eq!(e("wieghts = \"int4\""), "unknown key 'wieghts' in the top level; did you mean 'weights'?");
        assert_eq!(
            e("[[layer]]\nmatch = \"*\"\nacts = 3"),
            "'acts' in [[layer]] #1: expected activation bits from 4 to 16, got '3'"
        );
        assert_eq!(
            e("[[layer]]\nacts = 8"),
            "[[layer]] #1 needs 'match' (a glob over op locations) or 'op' (an op name)"
        );
        assert!(e("acts = ").starts_with("line 1, column"), "{}", e("acts = "));
        assert_eq!(e("layer = 3"), "'layer' must be an array of tables: write each rule as [[layer]]");
        assert!(e("weight-observer = \"percentile\"").contains("weights take minmax or mse"));
        assert_eq!(e("skip = 1"), "'skip' in the top level: expected true or false");
    }
}
