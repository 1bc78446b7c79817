//! The text table of `weft report --nonlinear` (its JSON:
//! [`super::json`]).
//!
//! Invariants: every design's rows, its rates, its savings and its merge
//! bound ([`merge_bound`]); every unshared design runs each kind at the
//! shared design's rate but the full-rate one; `--units` lists each
//! unit's instances, which add up to the unit but for its mode register
//! and sequencer.

use super::NonlinearReport;
use std::fmt::Write as _;
use weft_ir::hwcost::{Instance, Resources};
use weft_passes::transforms::share_nonlinear::bound::merge_bound;
use weft_passes::transforms::share_nonlinear::choose::Choice;
use weft_passes::transforms::share_nonlinear::SharePlan;

/// QUARK's Table IV (paper; ZCU102): design, LUT, FF, DSP (totals).
pub(super) const TABLE_IV: [(&str, u64, u64, u64); 3] = [
    ("QUARK (shared)", 29_535, 11_014, 147),
    ("TCAS-I'23 (separate units)", 43_586, 31_800, 167),
    ("ViA (Alveo U50)", 38_925, 37_689, 158),
];

pub(super) fn total(choices: &[Choice]) -> Resources {
    choices.iter().map(|c| c.cost).sum()
}

fn methods(c: &Choice) -> String {
    let ii = |k| c.ii.get(k).copied().unwrap_or(1);
    c.methods
        .iter()
        .map(|(k, m)| match ii(k) {
            1 => format!("{}={}", k.option(), m.name()),
            n => format!("{}={}@ii{n}", k.option(), m.name()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn row(out: &mut String, name: &str, r: Resources, note: &str) {
    let _ = writeln!(out, "  {name:<40} {:>9} {:>9} {:>6} {:>7.1}  {note}", r.lut, r.ff, r.dsp, r.bram36());
}

/// How much less `shared` is than `unshared`, in percent (0 when
/// `unshared` is 0).
fn percent_less(shared: u64, unshared: u64) -> f64 {
    if unshared > 0 {
        100.0 * (1.0 - shared as f64 / unshared as f64)
    } else {
        0.0
    }
}

/// The saving of LUT + FF, in percent.
fn saving(shared: Resources, unshared: Resources) -> f64 {
    percent_less(shared.lut + shared.ff, unshared.lut + unshared.ff)
}

/// The saving of LUTs alone and of FFs alone, in percent.
fn split_saving(shared: Resources, unshared: Resources) -> (f64, f64) {
    (percent_less(shared.lut, unshared.lut), percent_less(shared.ff, unshared.ff))
}

/// Each kind's rate on the shared unit, one line.
fn rates(p: &SharePlan) -> String {
    let items: Vec<String> = p
        .throughput
        .iter()
        .map(|(k, t)| {
            format!("{} ii {} x {} passes = {:.2} el/cycle", k.option(), t.ii, t.passes, t.elements_per_cycle)
        })
        .collect();
    items.join("; ")
}

/// A unit's primitive instances, costliest (LUT + FF, then DSP) first:
/// kind, widths, copies, modes, uses and each operand's mux inputs, and
/// the resources of all copies.
fn instances(out: &mut String, c: &Choice, lanes: u64) {
    let mut list: Vec<(Resources, &Instance)> = c.instances.iter().map(|i| (i.cost(lanes), i)).collect();
    list.sort_by(|(x, i), (y, j)| {
        let key = |r: &Resources| (r.lut + r.ff, r.dsp);
        key(y).cmp(&key(x)).then_with(|| j.primitive.cmp(&i.primitive))
    });
    for (r, i) in list {
        let p = i.primitive;
        let inputs: Vec<String> = i.operand_inputs().iter().map(u64::to_string).collect();
        let what = format!(
            "{} {}x{}->{} {}{} modes {} uses {} mux {}",
            p.kind.name(),
            p.a,
            p.b,
            p.out,
            i.copies(lanes),
            if i.per_lane { "/lane" } else { "/row" },
            i.modes,
            i.uses,
            inputs.join(",")
        );
        let _ = writeln!(out, "      {what:<50} {:>9} {:>9} {:>6} {:>7.1}", r.lut, r.ff, r.dsp, r.bram36());
    }
}

/// The designs of one plan: shared, each kind alone, and their totals;
/// with `units`, each unit's instances under it.
fn designs(out: &mut String, title: &str, p: &SharePlan, units: bool) {
    let _ = writeln!(out, "\n  {:<40} {:>9} {:>9} {:>6} {:>7}  ({title})", "design", "LUT", "FF", "DSP", "BRAM36");
    row(out, "shared (one unit)", p.shared.cost, &methods(&p.shared));
    let _ = writeln!(out, "    rates ({} lanes): {}", p.lanes, rates(p));
    if units {
        instances(out, &p.shared, p.lanes);
    }
    for c in &p.unshared {
        row(out, &format!("  alone: {}", methods(c)), c.cost, "");
        if units {
            instances(out, c, p.lanes);
        }
    }
    let unshared = total(&p.unshared);
    row(out, "unshared (each kind its best)", unshared, "same rates");
    let separate = total(&p.separate);
    row(out, "unshared (shared's methods)", separate, "same rates");
    let _ = writeln!(
        out,
        "  sharing saves {:.1}% of LUT + FF against each kind's best unit, {:.1}% against the same methods unshared",
        saving(p.shared.cost, unshared),
        saving(p.shared.cost, separate)
    );
    let (lut, ff) = split_saving(p.shared.cost, separate);
    let _ = writeln!(out, "  against the same methods: {lut:.1}% of LUT, {ff:.1}% of FF");
    let bound = merge_bound(&p.separate, p.lanes);
    let _ = writeln!(
        out,
        "  merge bound: LUT + FF >= {bound} ({:.1}% saved) if every same-primitive instance of the same-methods units merged, with no mux",
        percent_less(bound, separate.lut + separate.ff)
    );
    if let Some(full) = &p.separate_full_rate {
        let full = total(full);
        row(out, "unshared (shared's methods, full rate)", full, "every ii 1");
        let _ = writeln!(
            out,
            "  against it the shared unit saves {:.1}% of LUT + FF: sharing and the lower rates together",
            saving(p.shared.cost, full)
        );
    }
}

pub fn table(r: &NonlinearReport) -> String {
    let p = &r.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "nonlinear hardware of {} ({}, nonlinear inputs {} bits), {} lanes per unit, methods: {}, ii: {}",
        r.model,
        r.scheme,
        r.wide_acts,
        r.lanes,
        r.pinned.map_or("chosen per kind", |m| m.name()),
        r.ii
    );
    let s = &p.saturation;
    let _ = writeln!(
        out,
        "e-graph: {} nodes, {} classes, {} iterations, stopped: {}; planned in {:.3} s\n",
        s.nodes, s.classes, s.iterations, s.stop, r.plan_seconds
    );
    let names: Vec<&str> = p.kinds.first().map_or_else(Vec::new, |k| k.methods.iter().map(|m| m.0.name()).collect());
    let _ = writeln!(
        out,
        "  {:<12} {:>4} {:>5} {:>8}  {:<9} {:<9} errors ({})",
        "op kind",
        "ops",
        "bits",
        "budget",
        "shared",
        "alone",
        names.join(" / ")
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
            "  {:<12} {:>4} {:>5} {:>8.4}  {:<9} {:<9} {}",
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
        Some(m) => format!("every kind {}, ii {}", m.name(), r.ii),
        None => format!("methods chosen by share-nonlinear, ii {}", r.ii),
    };
    designs(&mut out, &title, p, r.units);
    let quark_settings = [
        (&r.quark, "QUARK's setting: every kind quark or quark-log, ii auto (GELU on the softmax's rate)"),
        (&r.quark_full_rate, "QUARK's setting at full rate: every kind quark or quark-log, every ii 1"),
    ];
    for (plan, title) in quark_settings {
        match plan {
            // The plan above is this setting already.
            Ok(q) if q.shared.methods == p.shared.methods && q.shared.ii == p.shared.ii => {
                let _ = writeln!(out, "\n  ({title}: the design above)");
            }
            Ok(q) => designs(&mut out, title, q, r.units),
            Err(why) => {
                let _ = writeln!(out, "\n  QUARK's setting (every kind quark) is not possible: {why}");
                break;
            }
        }
    }
    let resources = |(_, lut, ff, dsp): (&str, u64, u64, u64)| Resources::new(lut, ff, dsp, 0);
    let _ = writeln!(out, "\n  QUARK Table IV (paper, ZCU102, softmax + GELU + layer norm):");
    for design in TABLE_IV {
        row(&mut out, design.0, resources(design), "");
    }
    let (quark, tcas) = (resources(TABLE_IV[0]), resources(TABLE_IV[1]));
    let (lut, ff) = split_saving(quark, tcas);
    let _ = writeln!(
        out,
        "  QUARK vs TCAS-I'23: {:.1}% less LUT + FF ({lut:.1}% of LUT, {ff:.1}% of FF)",
        saving(quark, tcas)
    );
    out
}
