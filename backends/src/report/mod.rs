//! The accelerator report of `weft compile`: report.txt (a table for
//! people), report.json (for tools; keys `board`, `clock_mhz`, `fps`,
//! `latency_ms`, `weight_bits`, `act_bits`, `resources`, `utilization`,
//! `engines`, `fps_by_bits`, `sharing`) and report.html (charts as inline
//! SVG: resources per engine against the board, FPS against activation
//! bits, what sharing saved), all from one [`Report`].
//!
//! Invariants: pure functions of the report (same report, same bytes);
//! `resources` and `utilization` always carry `lut`, `ff`, `dsp`, `bram`
//! (RAMB36 tiles) and `uram`; utilization is a fraction of the board's.

mod html;

pub use html::html;

use crate::boards::{Board, Capacity};
use serde_json::{json, Value};
use std::fmt::Write as _;
use weft_ir::hwcost::Resources;

/// One engine's line.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineRow {
    pub name: String,
    /// Its parameters, e.g. `t_in=32 t_out=64 t_m=16`.
    pub params: String,
    pub resources: Resources,
    pub cycles: u64,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub board: Board,
    pub clock_mhz: f64,
    pub fps: f64,
    pub weight_bits: u64,
    pub act_bits: u64,
    pub word_bits: u64,
    pub engines: Vec<EngineRow>,
    /// FPS of the best design per activation bits searched (may be empty).
    pub fps_by_bits: Vec<(u64, f64)>,
    /// The nonlinear units' resources without and with sharing, when share-nonlinear ran.
    pub sharing: Option<(Resources, Resources)>,
}

impl Report {
    pub fn total(&self) -> Resources {
        self.engines.iter().map(|e| e.resources).sum()
    }

    pub fn cycles(&self) -> u64 {
        self.engines.iter().map(|e| e.cycles).sum()
    }

    pub fn latency_ms(&self) -> f64 {
        self.cycles() as f64 / (self.clock_mhz * 1e3)
    }
}

fn frac(used: f64, total: u64) -> f64 {
    used / total.max(1) as f64
}

/// Used amounts as the five report keys.
fn amounts(r: Resources) -> [(&'static str, f64); 5] {
    [("lut", r.lut as f64), ("ff", r.ff as f64), ("dsp", r.dsp as f64), ("bram", r.bram36()), ("uram", 0.0)]
}

fn capacities(c: &Capacity) -> [u64; 5] {
    [c.lut, c.ff, c.dsp, c.bram, c.uram]
}

/// report.txt.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let b = &r.board;
    let _ = writeln!(s, "weft accelerator report: {} ({})", b.name, b.part);
    let _ = writeln!(s, "clock {:.1} MHz, {:.2} FPS, latency {:.3} ms", r.clock_mhz, r.fps, r.latency_ms());
    let w = if r.weight_bits == 1 { "binary".to_string() } else { format!("{}-bit", r.weight_bits) };
    let _ = writeln!(s, "weights {w}, activations {}-bit, {}-bit AXI words\n", r.act_bits, r.word_bits);
    let _ = writeln!(
        s,
        "{:<10} {:>10} {:>10} {:>6} {:>8} {:>12}  parameters",
        "engine", "LUT", "FF", "DSP", "BRAM36", "cycles"
    );
    for e in &r.engines {
        let x = e.resources;
        let _ = writeln!(
            s,
            "{:<10} {:>10} {:>10} {:>6} {:>8.1} {:>12}  {}",
            e.name,
            x.lut,
            x.ff,
            x.dsp,
            x.bram36(),
            e.cycles,
            e.params
        );
    }
    let t = r.total();
    let _ =
        writeln!(s, "{:<10} {:>10} {:>10} {:>6} {:>8.1} {:>12}", "total", t.lut, t.ff, t.dsp, t.bram36(), r.cycles());
    let caps = capacities(&b.capacity);
    let _ = write!(s, "{:<10}", "board");
    for ((name, used), cap) in amounts(t).iter().zip(caps) {
        let _ = write!(s, " {name} {:.1}%", 100.0 * frac(*used, cap));
    }
    let _ = writeln!(s);
    if let Some((without, with)) = r.sharing {
        let _ = writeln!(s, "\nsharing: nonlinear units {} LUT without sharing, {} with", without.lut, with.lut);
    }
    if !r.fps_by_bits.is_empty() {
        let pts: Vec<String> = r.fps_by_bits.iter().map(|(b, f)| format!("{b}b {f:.2}")).collect();
        let _ = writeln!(s, "\nFPS by activation bits: {}", pts.join(", "));
    }
    s
}

fn keyed(values: [(&'static str, f64); 5]) -> Value {
    Value::Object(values.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect())
}

/// report.json.
pub fn json(r: &Report) -> String {
    let t = r.total();
    let caps = capacities(&r.board.capacity);
    let used = amounts(t);
    let util: Vec<(&'static str, f64)> = used.iter().zip(caps).map(|((k, u), c)| (*k, frac(*u, c))).collect();
    let util: [(&'static str, f64); 5] = [util[0], util[1], util[2], util[3], util[4]];
    let engines: Vec<Value> = r
        .engines
        .iter()
        .map(|e| json!({"name": e.name, "params": e.params, "cycles": e.cycles, "resources": keyed(amounts(e.resources))}))
        .collect();
    let v = json!({
        "board": r.board.name,
        "part": r.board.part,
        "clock_mhz": r.clock_mhz,
        "fps": r.fps,
        "latency_ms": r.latency_ms(),
        "weight_bits": r.weight_bits,
        "act_bits": r.act_bits,
        "word_bits": r.word_bits,
        "resources": keyed(used),
        "utilization": keyed(util),
        "engines": engines,
        "fps_by_bits": r.fps_by_bits.iter().map(|(b, f)| json!({"act_bits": b, "fps": f})).collect::<Vec<_>>(),
        "sharing": r.sharing.map(|(a, b)| json!({"without": keyed(amounts(a)), "with": keyed(amounts(b))})),
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
