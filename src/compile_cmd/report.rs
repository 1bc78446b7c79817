//! `weft compile`'s use of the performance model: the activation bits for
//! `--fps` (the search of `weft explore`), the `tile-and-pack` step with
//! the board's numbers, reading the chosen `hw.engine` ops (which set the
//! HLS engines' parameters, hls::Tiling, and are then removed: the HLS backend does not
//! emit them), and the report built from them.
//!
//! Invariants: an unreachable `--fps` is an error before any file is
//! written, with the best FPS any precision reaches.

use super::{error, CompileArgs};
use crate::explore_cmd::search::{Searcher, MIN_BITS};
use crate::import_cmd::InputShape;
use weft_backends::boards::Board;
use weft_backends::hls::Tiling;
use weft_backends::report::{EngineRow, Report};
use weft_ir::hwcost::latency::fps;
use weft_ir::hwcost::Resources;
use weft_ir::{Attribute, Diagnostic, Function, SourceMap, Tensor};
use weft_passes::transforms::tile_and_pack::Target;

/// FPS of the best design per activation bits.
pub type FpsByBits = Vec<(u64, f64)>;

/// The quantization scheme, and FPS per bits when `--fps` searched it.
pub fn scheme(
    args: &CompileArgs,
    target: Target,
    golden: &[(String, Tensor)],
    sources: &mut SourceMap,
) -> Result<(String, FpsByBits), Vec<Diagnostic>> {
    if let Some(q) = &args.quant {
        return Ok((q.clone(), Vec::new()));
    }
    let (Some(goal), Some(weights)) = (args.fps, args.weights) else {
        return Err(error("give --quant SCHEME, or --fps with --weights"));
    };
    let shapes: Vec<InputShape> =
        golden.iter().map(|(n, t)| InputShape { name: n.clone(), dims: t.shape.clone() }).collect();
    let w = crate::explore_cmd::model_workload(&args.input, &shapes, sources)?;
    let mut searcher = Searcher::new(&w, weights, target);
    let choice = searcher.choose(goal);
    let Some(bits) = choice.act_bits else {
        return Err(error(format!(
            "--fps {goal}: no design reaches {goal} FPS on {} within {:.0}% of its resources; the best reaches {:.2} FPS (w{weights}a{MIN_BITS})",
            args.board,
            target.cap * 100.0,
            choice.best_fps()
        )));
    };
    Ok((format!("w{weights}a{bits}"), searcher.curve()))
}

/// The tile-and-pack pipeline entry with the board's numbers.
pub fn tile_and_pack_text(t: Target) -> String {
    let c = t.capacity;
    format!(
        "tile-and-pack{{cap={},clock-mhz={},gbps={},lut={},ff={},dsp={},bram={}}}",
        t.cap,
        t.platform.clock_mhz,
        t.platform.memory_gbps,
        c.lut,
        c.ff,
        c.dsp,
        c.bram18 / 2
    )
}

/// One `hw.engine` as read back.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: String,
    pub attrs: Vec<(String, u64)>,
}

impl Engine {
    fn get(&self, name: &str) -> u64 {
        self.attrs.iter().find(|(k, _)| k == name).map_or(0, |(_, v)| *v)
    }
}

/// Reads and removes the `hw.engine` ops of `f`.
pub fn take_engines(f: &mut Function) -> Vec<Engine> {
    let ops: Vec<_> = f.walk().into_iter().filter(|&op| f.ops[op].name() == "hw.engine").collect();
    let engines = ops
        .iter()
        .map(|&op| {
            let d = &f.ops[op];
            let kind = d.attr("kind").and_then(Attribute::as_str).unwrap_or("").to_string();
            let attrs =
                d.attrs.iter().filter_map(|(k, v)| Some((k.clone(), u64::try_from(v.as_int()?).ok()?))).collect();
            Engine { kind, attrs }
        })
        .collect();
    f.remove_ops(&ops);
    engines
}

/// The HLS engines' parameters from the chosen design: each `hw.engine`
/// parameter (and the AXI word) that is present and positive replaces the
/// default.
pub fn tiling(engines: &[Engine]) -> Tiling {
    let mut t = Tiling::default();
    for e in engines {
        let set = |field: &mut u32, name: &str| {
            if let Some(v) = u32::try_from(e.get(name)).ok().filter(|&v| v > 0) {
                *field = v;
            }
        };
        match e.kind.as_str() {
            "fc" => {
                set(&mut t.fc.t_in, "t_in");
                set(&mut t.fc.t_out, "t_out");
                set(&mut t.fc.t_m, "t_m");
            }
            "attn" => {
                set(&mut t.attn.t_in, "t_in");
                set(&mut t.attn.t_out, "t_out");
            }
            "nonlinear" => set(&mut t.lanes, "lanes"),
            _ => {}
        }
        set(&mut t.word_bits, "word_bits");
    }
    t
}

fn params(e: &Engine) -> String {
    let names: &[&str] = match e.kind.as_str() {
        "fc" => &["t_in", "t_out", "t_m"],
        "attn" => &["t_in", "t_out"],
        _ => &["lanes"],
    };
    names.iter().map(|n| format!("{n}={}", e.get(n))).collect::<Vec<_>>().join(" ")
}

/// The report of the chosen design.
pub fn build(board: &Board, clock_mhz: f64, engines: &[Engine], fps_by_bits: Vec<(u64, f64)>) -> Report {
    let rows: Vec<EngineRow> = engines
        .iter()
        .map(|e| EngineRow {
            name: e.kind.clone(),
            params: params(e),
            resources: Resources::new(e.get("lut"), e.get("ff"), e.get("dsp"), e.get("bram18")),
            cycles: e.get("cycles"),
        })
        .collect();
    let first = engines.first();
    let cycles: u64 = rows.iter().map(|r| r.cycles).sum();
    Report {
        board: board.clone(),
        clock_mhz,
        fps: fps(cycles, clock_mhz),
        weight_bits: first.map_or(0, |e| e.get("weight_bits")),
        act_bits: first.map_or(0, |e| e.get("act_bits")),
        word_bits: first.map_or(0, |e| e.get("word_bits")),
        engines: rows,
        fps_by_bits,
        sharing: None,
    }
}
