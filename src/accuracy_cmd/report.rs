//! The outputs of `weft accuracy --ops`: a text table grouped by op, with
//! the data each op was measured on, and the same rows as JSON.
//!
//! Invariants: both list the rows in sweep order; errors print with five
//! decimals in the table and as plain numbers in JSON; a combination that
//! was not built carries the reason (the pass's message).

use super::workload::describe;
use super::{Row, TARGETS};
use serde_json::{json, Value};
use std::fmt::Write;

/// The table.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Per-op accuracy of lower-nonlinear: absolute error of the lowered integer program against f64\n\
         (max, mean) and of the ideal quantized op (ideal max: the output quantization alone)."
    );
    let mut kinds: Vec<_> = rows.iter().map(|r| r.kind).collect();
    kinds.dedup();
    for kind in &kinds {
        let _ = writeln!(s, "  {:<11} {}", kind.option(), describe(*kind));
    }
    let _ = writeln!(
        s,
        "\n{:<11} {:<9} {:>4}  {:>9}  {:>9}  {:>9}  target",
        "op", "method", "bits", "max", "mean", "ideal max"
    );
    let mut previous = None;
    for r in rows {
        if previous.is_some() && previous != Some(r.kind) {
            s.push('\n');
        }
        previous = Some(r.kind);
        let _ = write!(s, "{:<11} {:<9} {:>4}  ", r.kind.option(), r.method.name(), r.bits);
        match &r.result {
            Ok(m) => {
                let _ = write!(s, "{:>9.5}  {:>9.5}  {:>9.5}", m.method.max, m.method.mean, m.ideal.max);
                if let Some(t) = r.target() {
                    let verdict = if m.method.max <= t.max_error { "met" } else { "MISSED" };
                    let _ = write!(s, "  <= {} {verdict}", t.max_error);
                }
            }
            Err(d) => {
                // The op is in the first column: drop "'quant.softmax' op ".
                let reason = d.message.split_once(" op ").map_or(d.message.as_str(), |(_, rest)| rest);
                let _ = write!(s, "not built: {reason}");
            }
        }
        s.push('\n');
    }
    let _ = writeln!(s, "\nTargets (8-bit activations, quark):");
    for t in &TARGETS {
        let _ = writeln!(s, "  {:<11} max error <= {}", t.kind.option(), t.max_error);
    }
    s
}

/// The rows as JSON.
pub fn json(rows: &[Row]) -> String {
    let items: Vec<Value> = rows.iter().map(row_json).collect();
    let mut kinds: Vec<_> = rows.iter().map(|r| r.kind).collect();
    kinds.dedup();
    let inputs: serde_json::Map<String, Value> =
        kinds.iter().map(|k| (k.option().to_string(), Value::String(describe(*k)))).collect();
    let doc = json!({ "inputs": inputs, "ops": items });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

fn row_json(r: &Row) -> Value {
    let mut v = json!({ "op": r.kind.option(), "method": r.method.name(), "bits": r.bits });
    match &r.result {
        Ok(m) => {
            v["built"] = json!(true);
            v["max_abs_error"] = json!(m.method.max);
            v["mean_abs_error"] = json!(m.method.mean);
            v["ideal_max_abs_error"] = json!(m.ideal.max);
            v["ideal_mean_abs_error"] = json!(m.ideal.mean);
            v["target"] = match r.target() {
                Some(t) => json!({ "max_abs_error": t.max_error, "met": m.method.max <= t.max_error }),
                None => Value::Null,
            };
        }
        Err(d) => {
            v["built"] = json!(false);
            v["reason"] = json!(d.message);
        }
    }
    v
}
