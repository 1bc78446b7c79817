//! `weft boards`: the board table (spec/boards.md) as a text table or
//! JSON, or one board (builtin or a board file) with `weft boards NAME`.
//!
//! Invariants: the listing is in the table's fixed order; exit code 1
//! when the named board is unknown or its file is invalid.

use serde_json::{json, Value};
use weft_backends::boards::{self, Board};
use weft_ir::diag::render_all;
use weft_ir::SourceMap;

/// Arguments of `weft boards`.
#[derive(Debug, clap::Args)]
pub struct BoardsArgs {
    /// Show one board: a name from the table or a board file (.toml).
    #[arg(value_name = "BOARD")]
    board: Option<String>,
    /// Print JSON (a list of boards) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &BoardsArgs) -> u8 {
    let list = match &args.board {
        None => boards::builtin(),
        Some(arg) => {
            let mut sources = SourceMap::new();
            match boards::resolve(arg, &mut sources) {
                Ok(board) => vec![board],
                Err(diag) => {
                    eprint!("{}", render_all(&[diag], &sources));
                    return 1;
                }
            }
        }
    };
    let text = if args.json {
        let items: Vec<Value> = list.iter().map(board_json).collect();
        format!("{}\n", serde_json::to_string_pretty(&Value::Array(items)).unwrap_or_default())
    } else {
        table(&list)
    };
    print!("{text}");
    0
}

/// One board as JSON: the keys `weft compile`'s report uses.
pub fn board_json(b: &Board) -> Value {
    let c = b.capacity;
    json!({
        "name": b.name,
        "description": b.description,
        "part": b.part,
        "resources": { "lut": c.lut, "ff": c.ff, "dsp": c.dsp, "bram": c.bram, "uram": c.uram },
        "dsp_kind": b.dsp_kind.name(),
        "memory": b.memory,
        "memory_gbps": b.memory_gbps,
        "clock_mhz": b.clock_mhz,
    })
}

fn table(list: &[Board]) -> String {
    let header = ["board", "part", "LUT", "FF", "DSP", "BRAM36", "URAM", "memory GB/s", "clock MHz"];
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            let c = b.capacity;
            vec![
                b.name.clone(),
                b.part.clone(),
                group(c.lut),
                group(c.ff),
                format!("{} ({})", group(c.dsp), b.dsp_kind.name()),
                group(c.bram),
                group(c.uram),
                format!("{}", b.memory_gbps),
                format!("{}", b.clock_mhz),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| if i < 2 { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out.push_str(
        "Totals of each part from the vendor's data sheets (spec/boards.md); --board also takes a .toml board file.\n",
    );
    out
}

/// 274080 -> "274,080".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
