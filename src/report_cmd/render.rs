//! The text table and the JSON of `weft report --nonlinear`.
//!
//! Invariants: both show the same numbers; JSON keys are stable
//! (`nonlinear.shared` and `nonlinear.unshared` with `lut`, `ff`, `dsp`,
//! `bram`; `bram` in RAMB36 tiles).

use super::NonlinearReport;
use std::fmt::Write as _;
use weft_ir::hwcost::Resources;
use weft_passes::transforms::share_nonlinear::choose::Choice;
use weft_passes::transforms::share_nonlinear::SharePlan;

/// QUARK's Table IV (paper; ZCU102): design, LUT, FF, DSP (totals).
const TABLE_IV: [(&str, u64, u64, u64); 3] = [
    ("QUARK (shared)", 29_535, 11_014, 147),
    ("TCAS-I'23 (separate units)", 43_586, 31_800, 167),
    ("ViA (Alveo U50)", 38_925, 37_689, 158),
];

fn total(choices: &[Choice]) -> Resources {
    choices.iter().map(|c| c.cost).sum()
}

fn methods(c: &Choice) -> String {
    c.methods.iter().map(|(k, m)| format!("{}={}", k.option(), m.name())).collect::<Vec<_>>().join(" ")
}

fn row(out: &mut String, name: &str, r: Resources, note: &str) {
    let _ = writeln!(out, "  {name:<34} {:>9} {:>9} {:>6} {:>7.1}  {note}", r.lut, r.ff, r.dsp, r.bram36());
}

fn saving(shared: Resources, unshared: Resources) -> f64 {
    let (s, u) = ((shared.lut + shared.ff) as f64, (unshared.lut + unshared.ff) as f64);
    if u > 0.0 {
        100.0 * (1.0 - s / u)
    } else {
        0.0
    }
}

/// The designs of one plan: shared, each kind alone, and their totals.
fn designs(out: &mut String, title: &str, p: &SharePlan) {
    let _ = writeln!(out, "\n  {:<34} {:>9} {:>9} {:>6} {:>7}  ({title})", "design", "LUT", "FF", "DSP", "BRAM36");
    row(out, "shared (one unit)", p.shared.cost, &methods(&p.shared));
    for c in &p.unshared {
        row(out, &format!("  alone: {}", methods(c)), c.cost, "");
    }
    let unshared = total(&p.unshared);
    row(out, "unshared (each kind its best)", unshared, "");
    let separate = total(&p.separate);
    row(out, "unshared (shared's methods)", separate, "");
    let _ = writeln!(
        out,
        "  sharing saves {:.1}% of LUT + FF against each kind's best unit, {:.1}% against the same methods unshared",
        saving(p.shared.cost, unshared),
        saving(p.shared.cost, separate)
    );
}

pub fn table(r: &NonlinearReport) -> String {
    let p = &r.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "nonlinear hardware of {} ({}, nonlinear inputs {} bits), {} lanes per unit, methods: {}",
        r.model,
        r.scheme,
        r.wide_acts,
        r.lanes,
        r.pinned.map_or("chosen per kind", |m| m.name())
    );
    let s = &p.saturation;
    let _ = writeln!(
        out,
        "e-graph: {} nodes, {} classes, {} iterations, stopped: {}; planned in {:.3} s\n",
        s.nodes, s.classes, s.iterations, s.stop, r.plan_seconds
    );
    let _ = writeln!(
        out,
        "  {:<12} {:>4} {:>5} {:>8}  {:<8} {:<8} errors (quark / ibert / lut)",
        "op kind", "ops", "bits", "budget", "shared", "alone"
    );
    for k in &p.kinds {
        let shared = p.shared.methods.get(&k.kind).map_or("-", |m| m.name());
        let alone = p.unshared.iter().find_map(|c| c.methods.get(&k.kind)).map_or("-", |m| m.name());
        let errs: Vec<String> = k
            .methods
            .iter()
            .map(|(_, e, why)| match (e, why) {
                (Some(e), None) => format!("{e:.4}"),
                (Some(e), Some(_)) => format!("({e:.4})"),
                (None, _) => "-".into(),
            })
            .collect();
        let _ = writeln!(
            out,
            "  {:<12} {:>4} {:>5} {:>8.4}  {:<8} {:<8} {}",
            k.kind.option(),
            k.ops,
            k.bits,
            k.budget,
            shared,
            alone,
            errs.join(" / ")
        );
    }
    let title = match r.pinned {
        Some(m) => format!("every kind {}", m.name()),
        None => "methods chosen by share-nonlinear".to_string(),
    };
    designs(&mut out, &title, p);
    match &r.quark {
        // The plan above is QUARK's setting already.
        Ok(_) if r.pinned.is_some_and(|m| m.name() == "quark") => {}
        Ok(q) => designs(&mut out, "QUARK's setting: every kind quark", q),
        Err(why) => {
            let _ = writeln!(out, "\n  QUARK's setting (every kind quark) is not possible: {why}");
        }
    }
    let _ = writeln!(out, "\n  QUARK Table IV (paper, ZCU102, softmax + GELU + layer norm):");
    for (name, lut, ff, dsp) in TABLE_IV {
        row(&mut out, name, Resources::new(lut, ff, dsp, 0), "");
    }
    let _ = writeln!(
        out,
        "  QUARK vs TCAS-I'23: {:.1}% less LUT + FF",
        saving(Resources::new(29_535, 11_014, 0, 0), Resources::new(43_586, 31_800, 0, 0))
    );
    out
}

fn resources_json(r: Resources) -> String {
    format!("\"lut\": {}, \"ff\": {}, \"dsp\": {}, \"bram\": {}", r.lut, r.ff, r.dsp, r.bram36())
}

fn units_json(choices: &[Choice]) -> String {
    let items: Vec<String> = choices
        .iter()
        .map(|c| format!("{{\"methods\": {{{}}}, {}}}", methods_json(c), resources_json(c.cost)))
        .collect();
    format!("[{}]", items.join(", "))
}

fn methods_json(c: &Choice) -> String {
    c.methods.iter().map(|(k, m)| format!("\"{}\": \"{}\"", k.option(), m.name())).collect::<Vec<_>>().join(", ")
}

pub fn json(r: &NonlinearReport) -> String {
    let p = &r.plan;
    let kinds: Vec<String> = p
        .kinds
        .iter()
        .map(|k| {
            let errs: Vec<String> = k
                .methods
                .iter()
                .map(|(m, e, why)| {
                    let e = e.map_or("null".to_string(), |e| format!("{e}"));
                    format!("{{\"method\": \"{}\", \"error\": {e}, \"candidate\": {}}}", m.name(), why.is_none())
                })
                .collect();
            format!(
                "{{\"kind\": \"{}\", \"ops\": {}, \"bits\": {}, \"budget\": {}, \"methods\": [{}]}}",
                k.kind.option(),
                k.ops,
                k.bits,
                k.budget,
                errs.join(", ")
            )
        })
        .collect();
    let quark = match &r.quark {
        Ok(q) => format!(
            "{{\"shared\": {{{}, \"methods\": {{{}}}}}, \"unshared_same_methods\": {{{}, \"units\": {}}}}}",
            resources_json(q.shared.cost),
            methods_json(&q.shared),
            resources_json(total(&q.separate)),
            units_json(&q.separate)
        ),
        Err(why) => format!("{{\"error\": {why:?}}}"),
    };
    let s = &p.saturation;
    let table_iv: Vec<String> = TABLE_IV
        .iter()
        .map(|(n, lut, ff, dsp)| format!("{{\"design\": \"{n}\", \"lut\": {lut}, \"ff\": {ff}, \"dsp\": {dsp}}}"))
        .collect();
    format!(
        "{{\n  \"model\": {:?},\n  \"scheme\": {:?},\n  \"lanes\": {},\n  \"wide_acts\": {},\n  \"methods\": {:?},\n  \"nonlinear\": {{\n    \
\"shared\": {{{}, \"methods\": {{{}}}}},\n    \"unshared\": {{{}, \"units\": {}}},\n    \
\"unshared_same_methods\": {{{}, \"units\": {}}},\n    \"quark_setting\": {},\n    \"kinds\": [{}],\n    \
\"egraph\": {{\"nodes\": {}, \"classes\": {}, \"iterations\": {}, \"stop\": \"{}\"}},\n    \
\"quark_table_iv\": [{}]\n  }}\n}}\n",
        r.model,
        r.scheme,
        r.lanes,
        r.wide_acts,
        r.pinned.map_or("chosen", |m| m.name()),
        resources_json(p.shared.cost),
        methods_json(&p.shared),
        resources_json(total(&p.unshared)),
        units_json(&p.unshared),
        resources_json(total(&p.separate)),
        units_json(&p.separate),
        quark,
        kinds.join(", "),
        s.nodes,
        s.classes,
        s.iterations,
        s.stop,
        table_iv.join(", ")
    )
}
