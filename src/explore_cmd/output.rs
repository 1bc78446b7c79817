//! `weft explore`'s table and JSON.
//!
//! Invariants: one row per target in the order given; numbers are
//! printed with fixed precision, so output is deterministic.

use super::search::Choice;
use serde_json::{json, Value};
use std::fmt::Write as _;
use weft_backends::boards::Board;
use weft_ir::hwcost::Resources;
use weft_passes::eqsat::tile::Chosen;
use weft_passes::transforms::tile_and_pack::Target;

pub struct Context<'a> {
    pub board: &'a Board,
    pub target: Target,
    pub weight_bits: u64,
    /// Mean model cosine per bits value (empty: not measured).
    pub accuracy: &'a [(u64, f64)],
}

/// The chosen parameters in one line.
pub fn params(c: &Chosen) -> String {
    let d = c.design;
    format!(
        "fc {}x{} rows {}, attn {}x{}, nl {} lanes, {}-bit words ({} acts/word)",
        d.fc.t_in,
        d.fc.t_out,
        d.fc.t_m,
        d.attn.t_in,
        d.attn.t_out,
        d.nl.lanes,
        d.port.word_bits,
        d.port.pack(c.precision.act_bits)
    )
}

fn pct(used: u64, total: u64) -> f64 {
    100.0 * used as f64 / total.max(1) as f64
}

fn cell(used: u64, total: u64) -> String {
    format!("{used} ({:.1}%)", pct(used, total))
}

fn weights_name(bits: u64) -> String {
    if bits == 1 {
        "binary".into()
    } else {
        format!("{bits}-bit")
    }
}

pub fn table(cx: &Context, choices: &[Choice]) -> String {
    let cap = cx.target.capacity;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "board {} ({}), {:.0} MHz, {} GB/s, cap {:.0}%, {} weights",
        cx.board.name,
        cx.board.part,
        cx.target.platform.clock_mhz,
        cx.target.platform.memory_gbps,
        cx.target.cap * 100.0,
        weights_name(cx.weight_bits)
    );
    let _ = writeln!(
        s,
        "{:>8}  {:>4}  {:>8}  {:>16}  {:>16}  {:>12}  {:>14}  parameters",
        "target", "bits", "fps", "LUT", "FF", "DSP", "BRAM36"
    );
    for c in choices {
        match (c.act_bits, &c.chosen) {
            (Some(bits), Some(ch)) => {
                let r = ch.resources.total();
                let _ = writeln!(
                    s,
                    "{:>8.1}  {:>4}  {:>8.2}  {:>16}  {:>16}  {:>12}  {:>14}  {}",
                    c.target_fps,
                    bits,
                    ch.fps,
                    cell(r.lut, cap.lut),
                    cell(r.ff, cap.ff),
                    cell(r.dsp, cap.dsp),
                    format!("{:.1} ({:.1}%)", r.bram36(), pct(r.bram18, cap.bram18)),
                    params(ch)
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "{:>8.1}  {:>4}  {:>8}  out of reach: the best design reaches {:.2} FPS (at {} bits)",
                    c.target_fps,
                    "-",
                    "-",
                    c.best_fps(),
                    super::search::MIN_BITS
                );
            }
        }
    }
    let _ = writeln!(s, "\nbits tried (binary search, highest bits meeting the target):");
    for c in choices {
        let tried: Vec<String> = c
            .tried
            .iter()
            .map(|t| {
                let acc = cx.accuracy.iter().find(|a| a.0 == t.act_bits).map(|a| format!(", cos {:.4}", a.1));
                let ok = if t.fps() >= c.target_fps { "ok" } else { "slow" };
                format!("{}b {:.2} fps {ok}{}", t.act_bits, t.fps(), acc.unwrap_or_default())
            })
            .collect();
        let _ = writeln!(s, "  {:>6.1} fps: {}", c.target_fps, tried.join("; "));
    }
    if cx.accuracy.is_empty() {
        let _ = writeln!(s, "(accuracy not measured: --accuracy-samples N runs `weft accuracy` per bits value)");
    }
    s
}

fn resources_json(r: Resources) -> Value {
    json!({"lut": r.lut, "ff": r.ff, "dsp": r.dsp, "bram": r.bram36(), "uram": 0})
}

pub fn choice_json(cx: &Context, c: &Choice) -> Value {
    let cap = cx.target.capacity;
    let tried: Vec<Value> = c
        .tried
        .iter()
        .map(|t| {
            let cos = cx.accuracy.iter().find(|a| a.0 == t.act_bits).map(|a| a.1);
            json!({"act_bits": t.act_bits, "fps": t.best.map(|b| b.fps), "meets": t.fps() >= c.target_fps,
                   "cosine": cos, "designs": t.designs})
        })
        .collect();
    let (fps, resources, utilization, params_v) = match &c.chosen {
        Some(ch) => {
            let r = ch.resources.total();
            let util = json!({"lut": pct(r.lut, cap.lut) / 100.0, "ff": pct(r.ff, cap.ff) / 100.0,
                "dsp": pct(r.dsp, cap.dsp) / 100.0, "bram": pct(r.bram18, cap.bram18) / 100.0, "uram": 0.0});
            let d = ch.design;
            let p = json!({"fc": {"t_in": d.fc.t_in, "t_out": d.fc.t_out, "t_m": d.fc.t_m},
                "attn": {"t_in": d.attn.t_in, "t_out": d.attn.t_out}, "nl": {"lanes": d.nl.lanes},
                "word_bits": d.port.word_bits});
            (json!(ch.fps), resources_json(r), util, p)
        }
        None => (Value::Null, Value::Null, Value::Null, Value::Null),
    };
    json!({
        "target_fps": c.target_fps,
        "act_bits": c.act_bits,
        "weight_bits": cx.weight_bits,
        "fps": fps,
        "best_fps_reachable": c.best_fps(),
        "resources": resources,
        "utilization": utilization,
        "parameters": params_v,
        "tried": tried,
    })
}

pub fn json(cx: &Context, choices: &[Choice]) -> String {
    let v: Vec<Value> = choices.iter().map(|c| choice_json(cx, c)).collect();
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}
