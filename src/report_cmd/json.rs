//! The JSON of `weft report --nonlinear`, built with serde_json (keys
//! sorted, strings escaped as JSON).
//!
//! Invariants: it shows the numbers of the text table ([`super::render`]);
//! its keys are stable: `nonlinear.shared` and `nonlinear.unshared` with
//! `lut`, `ff`, `dsp`, `bram` (`bram` in RAMB36 tiles);
//! `nonlinear.shared.throughput` per kind with `ii`, `passes`,
//! `elements_per_cycle`; `instances` on the shared design and on every
//! unit, each with its resources, which add up to the unit's but for its
//! mode register and sequencer; every unshared design runs each kind at
//! the shared design's rate, except `unshared_full_rate` (every interval
//! 1; `null` when the shared design is at full rate already);
//! `merge_bound` (LUT + FF) is the merge bound of
//! `unshared_same_methods` ([`merge_bound`]).

use super::render::{total, TABLE_IV};
use super::NonlinearReport;
use serde_json::{json, Map, Value};
use weft_ir::hwcost::Resources;
use weft_passes::transforms::share_nonlinear::bound::merge_bound;
use weft_passes::transforms::share_nonlinear::choose::Choice;
use weft_passes::transforms::share_nonlinear::SharePlan;

/// `lut`, `ff`, `dsp`, `bram` (RAMB36 tiles) of `r` into `object`.
fn with_resources(mut object: Value, r: Resources) -> Value {
    if let Value::Object(m) = &mut object {
        m.insert("lut".into(), json!(r.lut));
        m.insert("ff".into(), json!(r.ff));
        m.insert("dsp".into(), json!(r.dsp));
        m.insert("bram".into(), json!(r.bram36()));
    }
    object
}

fn methods(c: &Choice) -> Value {
    Value::Object(c.methods.iter().map(|(k, m)| (k.option().to_string(), json!(m.name()))).collect())
}

fn intervals(c: &Choice) -> Value {
    Value::Object(c.ii.iter().map(|(k, ii)| (k.option().to_string(), json!(ii))).collect())
}

/// A unit's primitive instances: kind, widths, copies, modes, uses, the
/// inputs of each operand's mux and the resources of all copies.
fn instances(c: &Choice, lanes: u64) -> Value {
    let items = c.instances.iter().map(|i| {
        let p = i.primitive;
        let object = json!({
            "kind": p.kind.name(), "a": p.a, "b": p.b, "out": p.out, "per_lane": i.per_lane,
            "copies": i.copies(lanes), "modes": i.modes, "uses": i.uses, "mux_inputs": i.operand_inputs(),
        });
        with_resources(object, i.cost(lanes))
    });
    Value::Array(items.collect())
}

fn units(choices: &[Choice], lanes: u64) -> Value {
    let items = choices.iter().map(|c| {
        let object = json!({"methods": methods(c), "ii": intervals(c), "instances": instances(c, lanes)});
        with_resources(object, c.cost)
    });
    Value::Array(items.collect())
}

fn design(choices: &[Choice], lanes: u64) -> Value {
    with_resources(json!({ "units": units(choices, lanes) }), total(choices))
}

fn throughput(p: &SharePlan) -> Value {
    let rates = p.throughput.iter().map(|(k, t)| {
        let rate = json!({"ii": t.ii, "passes": t.passes, "elements_per_cycle": t.elements_per_cycle});
        (k.option().to_string(), rate)
    });
    Value::Object(rates.collect())
}

/// The designs of one plan: `shared` (with its methods, intervals,
/// throughput and instances), `unshared`, `unshared_same_methods`,
/// `unshared_full_rate`, `merge_bound`.
fn designs(p: &SharePlan) -> Map<String, Value> {
    let shared = json!({
        "methods": methods(&p.shared), "ii": intervals(&p.shared), "throughput": throughput(p),
        "instances": instances(&p.shared, p.lanes),
    });
    let full = p.separate_full_rate.as_ref().map_or(Value::Null, |c| design(c, p.lanes));
    let mut m = Map::new();
    m.insert("shared".into(), with_resources(shared, p.shared.cost));
    m.insert("unshared".into(), design(&p.unshared, p.lanes));
    m.insert("unshared_same_methods".into(), design(&p.separate, p.lanes));
    m.insert("unshared_full_rate".into(), full);
    m.insert("merge_bound".into(), json!(merge_bound(&p.separate, p.lanes)));
    m
}

/// Each kind: ops, bits, budget, and per method its error and whether it
/// was a candidate (within the budget, its datapath extracted).
fn kinds(p: &SharePlan) -> Value {
    let items = p.kinds.iter().map(|k| {
        let errors: Vec<Value> = k
            .methods
            .iter()
            .map(|(m, e, why)| json!({"method": m.name(), "error": e, "candidate": why.is_none()}))
            .collect();
        json!({"kind": k.kind.option(), "ops": k.ops, "bits": k.bits, "budget": k.budget, "methods": errors})
    });
    Value::Array(items.collect())
}

pub fn json(r: &NonlinearReport) -> String {
    let p = &r.plan;
    let quark = match (&r.quark, &r.quark_full_rate) {
        (Ok(q), Ok(full)) => {
            let mut m = designs(q);
            m.insert("full_rate".into(), Value::Object(designs(full)));
            Value::Object(m)
        }
        (Err(why), _) | (_, Err(why)) => json!({ "error": why }),
    };
    let s = &p.saturation;
    let table_iv: Vec<Value> =
        TABLE_IV.iter().map(|(n, lut, ff, dsp)| json!({"design": n, "lut": lut, "ff": ff, "dsp": dsp})).collect();
    let mut nonlinear = designs(p);
    nonlinear.insert("quark_setting".into(), quark);
    nonlinear.insert("kinds".into(), kinds(p));
    let egraph =
        json!({"nodes": s.nodes, "classes": s.classes, "iterations": s.iterations, "stop": s.stop.to_string()});
    nonlinear.insert("egraph".into(), egraph);
    nonlinear.insert("quark_table_iv".into(), Value::Array(table_iv));
    let doc = json!({
        "model": r.model, "scheme": r.scheme, "lanes": r.lanes, "wide_acts": r.wide_acts,
        "methods": r.pinned.map_or("chosen", |m| m.name()), "ii": r.ii, "nonlinear": nonlinear,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
