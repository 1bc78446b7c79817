//! Locations: where an op came from (an ONNX node name, a file position, a
//! fusion of several), and source spans into parsed text for diagnostics.
//!
//! Invariants: a [`Span`] indexes a file of the [`SourceMap`] that parsed it;
//! ops built by passes copy the span of the op they replace, so diagnostics
//! keep pointing at text the user wrote.

use std::fmt;

/// Where an op came from, as printed in `loc(...)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Location {
    #[default]
    Unknown,
    /// A name: the ONNX node name, or a name a pass gave.
    Name(String),
    /// A position in a file: `loc("model.weft":3:7)`.
    FileLineCol { file: String, line: u32, col: u32 },
    /// An op made from several (a fusion): `loc(fused["a", "b"])`.
    Fused(Vec<Location>),
}

impl Location {
    pub fn is_unknown(&self) -> bool {
        matches!(self, Location::Unknown)
    }

    /// Fuses locations, flattening nested fusions and dropping unknowns and
    /// duplicates; one location stays itself.
    pub fn fuse(locs: impl IntoIterator<Item = Location>) -> Location {
        let mut out: Vec<Location> = Vec::new();
        for l in locs {
            let parts = match l {
                Location::Unknown => continue,
                Location::Fused(v) => v,
                other => vec![other],
            };
            for p in parts {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        match out.len() {
            0 => Location::Unknown,
            1 => out.pop().unwrap_or_default(),
            _ => Location::Fused(out),
        }
    }
}

/// Writes `s` as a quoted string literal of the text format.
pub fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\{:02X}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Unknown => f.write_str("unknown"),
            Location::Name(n) => write_quoted(f, n),
            Location::FileLineCol { file, line, col } => {
                write_quoted(f, file)?;
                write!(f, ":{line}:{col}")
            }
            Location::Fused(v) => {
                f.write_str("fused[")?;
                for (i, l) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    l.fmt(f)?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Identifies one source text in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file. `Span::NONE` is "not from any text".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub const NONE: Span = Span { file: FileId(u32::MAX), start: 0, end: 0 };

    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: start as u32, end: end as u32 }
    }

    pub fn is_none(&self) -> bool {
        self.file.0 == u32::MAX
    }
}

impl Default for Span {
    fn default() -> Self {
        Span::NONE
    }
}

/// The source texts diagnostics point into, with their file names.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<(String, String)>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files.push((name.into(), text.into()));
        FileId(self.files.len() as u32 - 1)
    }

    pub fn name(&self, id: FileId) -> Option<&str> {
        self.files.get(id.0 as usize).map(|f| f.0.as_str())
    }

    pub fn text(&self, id: FileId) -> Option<&str> {
        self.files.get(id.0 as usize).map(|f| f.1.as_str())
    }

    /// The 1-based line and column of a byte offset.
    pub fn line_col(&self, id: FileId, offset: u32) -> Option<(u32, u32)> {
        let text = self.text(id)?;
        let offset = (offset as usize).min(text.len());
        let before = &text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        let col = text[line_start..offset].chars().count() as u32 + 1;
        Some((line, col))
    }

    pub(crate) fn files(&self) -> &[(String, String)] {
        &self.files
    }
}
