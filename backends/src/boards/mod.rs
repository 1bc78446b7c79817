//! The board table: the FPGA boards weft targets, each with its part's
//! resource totals (from the vendor's data sheet, cited in spec/boards.md),
//! its off-chip memory bandwidth and the default accelerator clock; and
//! custom boards read from a TOML file ([`custom`]).
//!
//! Invariants: every board has a nonzero count of LUTs, FFs, DSPs and
//! BRAM36 blocks, a positive bandwidth and clock (custom boards are checked
//! on reading); names are lower-case and unique; the table is in a fixed
//! order, so listings are deterministic.

pub mod custom;
#[cfg(test)]
mod tests;

use weft_ir::diag::{closest, did_you_mean};

/// Resource totals of a part (or amounts used of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capacity {
    /// CLB look-up tables (LUT6).
    pub lut: u64,
    /// CLB flip-flops.
    pub ff: u64,
    /// DSP slices (DSP48E2 on UltraScale+, DSP58 on Versal).
    pub dsp: u64,
    /// 36 Kb block RAMs.
    pub bram: u64,
    /// 288 Kb UltraRAMs.
    pub uram: u64,
}

/// The DSP slice of a family: what one multiplier slice can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DspKind {
    /// UltraScale+: 27 x 18 signed multiplier, 48-bit accumulator (UG579).
    Dsp48e2,
    /// Versal: 27 x 24 signed multiplier, 58-bit accumulator (AM004).
    Dsp58,
}

impl DspKind {
    pub fn name(self) -> &'static str {
        match self {
            DspKind::Dsp48e2 => "DSP48E2",
            DspKind::Dsp58 => "DSP58",
        }
    }

    /// Parses the name written in a board file.
    pub fn parse(text: &str) -> Option<DspKind> {
        match text.to_ascii_uppercase().as_str() {
            "DSP48E2" => Some(DspKind::Dsp48e2),
            "DSP58" => Some(DspKind::Dsp58),
            _ => None,
        }
    }
}

/// One board: a part on a card, with its memory and clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    /// The name `--board` takes (lower case).
    pub name: String,
    /// What the board is, for listings.
    pub description: String,
    /// The part name Vivado / Vitis HLS takes (`set_part`).
    pub part: String,
    /// The part's resource totals.
    pub capacity: Capacity,
    pub dsp_kind: DspKind,
    /// The off-chip memory the accelerator streams weights and
    /// activations from, and its peak bandwidth in GB/s (10^9 bytes/s).
    pub memory: String,
    pub memory_gbps: f64,
    /// The default accelerator clock (MHz); `--clock` overrides it.
    pub clock_mhz: f64,
}

/// A row of the builtin table.
struct Entry {
    name: &'static str,
    description: &'static str,
    part: &'static str,
    capacity: Capacity,
    dsp_kind: DspKind,
    memory: &'static str,
    memory_gbps: f64,
    clock_mhz: f64,
}

const fn cap(lut: u64, ff: u64, dsp: u64, bram: u64, uram: u64) -> Capacity {
    Capacity { lut, ff, dsp, bram, uram }
}

/// The builtin boards. Sources for every number: spec/boards.md.
const TABLE: &[Entry] = &[
    Entry {
        name: "zcu102",
        description: "Zynq UltraScale+ MPSoC ZCU102 evaluation kit",
        part: "xczu9eg-ffvb1156-2-e",
        capacity: cap(274_080, 548_160, 2_520, 912, 0),
        dsp_kind: DspKind::Dsp48e2,
        memory: "PS DDR4, 64-bit, 2400 MT/s",
        memory_gbps: 19.2,
        clock_mhz: 300.0,
    },
    Entry {
        name: "zcu104",
        description: "Zynq UltraScale+ MPSoC ZCU104 evaluation kit",
        part: "xczu7ev-ffvc1156-2-e",
        capacity: cap(230_400, 460_800, 1_728, 312, 96),
        dsp_kind: DspKind::Dsp48e2,
        memory: "PS DDR4, 64-bit, 2400 MT/s",
        memory_gbps: 19.2,
        clock_mhz: 300.0,
    },
    Entry {
        name: "kv260",
        description: "Kria KV260 vision AI starter kit (K26 SOM)",
        part: "xck26-sfvc784-2LV-c",
        capacity: cap(117_120, 234_240, 1_248, 144, 64),
        dsp_kind: DspKind::Dsp48e2,
        memory: "DDR4, 64-bit, 2400 MT/s",
        memory_gbps: 19.2,
        clock_mhz: 300.0,
    },
    Entry {
        name: "u50",
        description: "Alveo U50 data center accelerator card",
        part: "xcu50-fsvh2104-2-e",
        capacity: cap(871_680, 1_743_360, 5_952, 1_344, 640),
        dsp_kind: DspKind::Dsp48e2,
        memory: "HBM2, 8 GB",
        memory_gbps: 316.0,
        clock_mhz: 300.0,
    },
    Entry {
        name: "u250",
        description: "Alveo U250 data center accelerator card",
        part: "xcu250-figd2104-2L-e",
        capacity: cap(1_728_000, 3_456_000, 12_288, 2_688, 1_280),
        dsp_kind: DspKind::Dsp48e2,
        memory: "DDR4, 4 x 16 GB, 2400 MT/s",
        memory_gbps: 77.0,
        clock_mhz: 300.0,
    },
    Entry {
        name: "u280",
        description: "Alveo U280 data center accelerator card",
        part: "xcu280-fsvh2892-2L-e",
        capacity: cap(1_303_680, 2_607_360, 9_024, 2_016, 960),
        dsp_kind: DspKind::Dsp48e2,
        memory: "HBM2, 8 GB",
        memory_gbps: 460.0,
        clock_mhz: 300.0,
    },
    Entry {
        name: "vck190",
        description: "Versal AI Core VCK190 evaluation kit (programmable logic only)",
        part: "xcvc1902-vsva2197-2MP-e-S",
        capacity: cap(899_840, 1_799_680, 1_968, 967, 463),
        dsp_kind: DspKind::Dsp58,
        memory: "DDR4 component, 64-bit, 3200 MT/s",
        memory_gbps: 25.6,
        clock_mhz: 300.0,
    },
];

impl Entry {
    fn board(&self) -> Board {
        Board {
            name: self.name.to_string(),
            description: self.description.to_string(),
            part: self.part.to_string(),
            capacity: self.capacity,
            dsp_kind: self.dsp_kind,
            memory: self.memory.to_string(),
            memory_gbps: self.memory_gbps,
            clock_mhz: self.clock_mhz,
        }
    }
}

/// Every builtin board, in table order.
pub fn builtin() -> Vec<Board> {
    TABLE.iter().map(Entry::board).collect()
}

/// The builtin board called `name` (case-insensitive; an `alveo-` prefix
/// is accepted for the Alveo cards). The error suggests close names.
pub fn lookup(name: &str) -> Result<Board, String> {
    let key = name.trim().to_ascii_lowercase();
    let key = key.strip_prefix("alveo-").unwrap_or(&key);
    if let Some(entry) = TABLE.iter().find(|e| e.name == key) {
        return Ok(entry.board());
    }
    let names = TABLE.iter().map(|e| e.name);
    let hint = did_you_mean(&closest(key, names.clone())).map(|h| format!("; {h}")).unwrap_or_default();
    let known: Vec<&str> = names.collect();
    Err(format!(
        "unknown board '{name}'{hint} (known boards: {}; or give a board file ending in .toml)",
        known.join(", ")
    ))
}

/// The board `arg` names: a builtin board's name, or a board file (a path
/// ending in `.toml`), read and registered in `sources` so that its
/// diagnostics point into it.
pub fn resolve(arg: &str, sources: &mut weft_ir::SourceMap) -> Result<Board, weft_ir::Diagnostic> {
    if !arg.ends_with(".toml") {
        return lookup(arg).map_err(|msg| weft_ir::Diagnostic::error(msg, weft_ir::Span::NONE));
    }
    let text = std::fs::read_to_string(arg)
        .map_err(|e| weft_ir::Diagnostic::error(format!("cannot read board file {arg}: {e}"), weft_ir::Span::NONE))?;
    let file = sources.add(arg, text.clone());
    custom::parse_board(&text, file)
}
