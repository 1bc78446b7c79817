//! Custom boards from a TOML file (spec/boards.md, "Custom boards"):
//!
//! ```toml
//! name = "zcu102-half"
//! base = "zcu102"        # optional: start from a builtin board
//! lut = 137040           # then override what differs
//! bram = 456
//! ```
//!
//! Without `base`, every resource, the part, the bandwidth and the clock
//! must be given. Invariants: unknown keys, values of the wrong type and
//! out-of-range numbers are errors pointing at the key or value in the
//! file; a board that reads successfully satisfies the table's invariants.

use super::{lookup, Board, Capacity, DspKind};
use toml::de::{DeTable, DeValue};
use toml::Spanned;
use weft_ir::diag::{closest, did_you_mean};
use weft_ir::{Diagnostic, FileId, Span};

/// The keys a board file may have.
const KEYS: &[&str] = &[
    "name",
    "base",
    "description",
    "part",
    "lut",
    "ff",
    "dsp",
    "bram",
    "uram",
    "dsp-kind",
    "memory",
    "memory-gbps",
    "clock-mhz",
];

/// Keys a board file without `base` must have.
const REQUIRED: &[&str] = &["name", "part", "lut", "ff", "dsp", "bram", "memory-gbps", "clock-mhz"];

/// Reads a board file's text (registered as `file` in the caller's
/// source map, so diagnostics point into it).
pub fn parse_board(text: &str, file: FileId) -> Result<Board, Diagnostic> {
    let table = DeTable::parse(text).map_err(|e| {
        let span = e.span().map_or(Span::new(file, 0, 0), |r| Span::new(file, r.start, r.end));
        Diagnostic::error(format!("invalid board file: {}", e.message()), span)
    })?;
    let whole = Span::new(file, 0, text.len());
    let reader = Reader { table: table.get_ref(), file };
    reader.check_keys()?;
    let mut board = match reader.string("base")? {
        Some((base, span)) => lookup(&base).map_err(|msg| Diagnostic::error(msg, span))?,
        None => {
            reader.require_all(whole)?;
            empty_board()
        }
    };
    reader.apply(&mut board)?;
    if board.name.is_empty() {
        return Err(Diagnostic::error("a board file needs a 'name'", whole));
    }
    Ok(board)
}

/// The starting point of a board file without `base`: every required key
/// overwrites its field.
fn empty_board() -> Board {
    Board {
        name: String::new(),
        description: "custom board".to_string(),
        part: String::new(),
        capacity: Capacity::default(),
        dsp_kind: DspKind::Dsp48e2,
        memory: "off-chip memory".to_string(),
        memory_gbps: 0.0,
        clock_mhz: 0.0,
    }
}

struct Reader<'a, 'i> {
    table: &'a DeTable<'i>,
    file: FileId,
}

impl Reader<'_, '_> {
    fn span(&self, range: std::ops::Range<usize>) -> Span {
        Span::new(self.file, range.start, range.end)
    }

    fn get(&self, key: &str) -> Option<&Spanned<DeValue<'_>>> {
        self.table.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(_, v)| v)
    }

    fn check_keys(&self) -> Result<(), Diagnostic> {
        for (key, _) in self.table.iter() {
            let name: &str = key.get_ref().as_ref();
            if !KEYS.contains(&name) {
                let hint = did_you_mean(&closest(name, KEYS.iter().copied()));
                let mut diag = Diagnostic::error(format!("unknown key '{name}' in board file"), self.span(key.span()));
                if let Some(hint) = hint {
                    diag = diag.note(hint);
                }
                return Err(diag.note(format!("known keys: {}", KEYS.join(", "))));
            }
        }
        Ok(())
    }

    fn require_all(&self, whole: Span) -> Result<(), Diagnostic> {
        let missing: Vec<&str> = REQUIRED.iter().copied().filter(|k| self.get(k).is_none()).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Diagnostic::error(format!("board file is missing {}", missing.join(", ")), whole)
            .note("give every resource, the part, memory-gbps and clock-mhz, or start from a builtin board with base = \"zcu102\""))
    }

    fn string(&self, key: &str) -> Result<Option<(String, Span)>, Diagnostic> {
        let Some(value) = self.get(key) else { return Ok(None) };
        let span = self.span(value.span());
        match value.get_ref().as_str() {
            Some(s) if !s.trim().is_empty() => Ok(Some((s.to_string(), span))),
            Some(_) => Err(Diagnostic::error(format!("'{key}' must not be empty"), span)),
            None => Err(Diagnostic::error(format!("'{key}' must be a string"), span)),
        }
    }

    /// A count of resources: an integer in 0..=10^9 (`min` is 0 or 1).
    fn count(&self, key: &str, min: u64) -> Result<Option<u64>, Diagnostic> {
        let Some(value) = self.get(key) else { return Ok(None) };
        let span = self.span(value.span());
        let parsed = value
            .get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok());
        match parsed {
            Some(n) if n >= min as i64 && n <= 1_000_000_000 => Ok(Some(n as u64)),
            Some(n) => Err(Diagnostic::error(format!("'{key}' = {n} is out of range {min}..=1000000000"), span)),
            None => Err(Diagnostic::error(format!("'{key}' must be an integer"), span)),
        }
    }

    /// A positive finite number (integer or float), at most `max`.
    fn positive(&self, key: &str, max: f64) -> Result<Option<f64>, Diagnostic> {
        let Some(value) = self.get(key) else { return Ok(None) };
        let span = self.span(value.span());
        let v = value.get_ref();
        let parsed = match (v.as_float(), v.as_integer()) {
            (Some(f), _) => f.as_str().replace('_', "").parse::<f64>().ok(),
            (None, Some(i)) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok().map(|n| n as f64),
            _ => None,
        };
        match parsed {
            Some(x) if x.is_finite() && x > 0.0 && x <= max => Ok(Some(x)),
            Some(x) => Err(Diagnostic::error(format!("'{key}' = {x} must be positive and at most {max}"), span)),
            None => Err(Diagnostic::error(format!("'{key}' must be a number"), span)),
        }
    }

    fn apply(&self, board: &mut Board) -> Result<(), Diagnostic> {
        if let Some((name, span)) = self.string("name")? {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(Diagnostic::error("'name' may hold letters, digits, '-' and '_' only", span));
            }
            board.name = name.to_ascii_lowercase();
        }
        if let Some((text, _)) = self.string("description")? {
            board.description = text;
        }
        if let Some((part, _)) = self.string("part")? {
            board.part = part;
        }
        if let Some((memory, _)) = self.string("memory")? {
            board.memory = memory;
        }
        if let Some((kind, span)) = self.string("dsp-kind")? {
            board.dsp_kind = DspKind::parse(&kind)
                .ok_or_else(|| Diagnostic::error(format!("unknown dsp-kind '{kind}' (DSP48E2 or DSP58)"), span))?;
        }
        let cap = &mut board.capacity;
        for (key, field, min) in [
            ("lut", &mut cap.lut, 1),
            ("ff", &mut cap.ff, 1),
            ("dsp", &mut cap.dsp, 1),
            ("bram", &mut cap.bram, 1),
            ("uram", &mut cap.uram, 0),
        ] {
            if let Some(n) = self.count(key, min)? {
                *field = n;
            }
        }
        if let Some(gbps) = self.positive("memory-gbps", 100_000.0)? {
            board.memory_gbps = gbps;
        }
        if let Some(mhz) = self.positive("clock-mhz", 2_000.0)? {
            board.clock_mhz = mhz;
        }
        Ok(())
    }
}
