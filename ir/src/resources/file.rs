//! Resources as safetensors files: reading by memory-mapping the file and
//! slicing it, writing by streaming each tensor's bytes after a header.
//!
//! Invariants: reading never copies tensor data (each [`Resource`] holds a
//! slice of the one map, which lives as long as any slice of it) and never
//! trusts the file: the header and every offset are validated before any
//! slice is taken. Writing never builds the file in memory: the header is
//! computed first, then each tensor's bytes go straight to the writer;
//! writing a file copies large tensors that are slices of a mapped file
//! (a model being imported, a safetensors file being rewritten) file to
//! file instead (see `mapped`).
//! The same resources always give the same bytes: tensors in descending
//! dtype order, then by name (safetensors' own order, so a file written
//! here is byte-identical to `safetensors::serialize`'s), no metadata, the
//! header padded with spaces to a multiple of 8 bytes. A file is replaced
//! only by renaming a finished temporary over it, never rewritten in place,
//! so maps of the old file stay valid.

use super::mapped::{map_file as map_range, origin};
use super::{elem_of_dtype, storage_dtype, Resource, Resources};
use bytes::Bytes;
use safetensors::tensor::{Dtype, SafeTensors};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The buffer between the header and the file: big tensors bypass it, the
/// many small ones are gathered into few writes.
const WRITE_BUFFER: usize = 1 << 20;

/// Tensors from a mapped file at least this large are copied file to file
/// when writing a file (smaller ones are cheaper through the buffer). Only
/// on Linux, where `std::io::copy` between files is `copy_file_range`.
const FILE_COPY_MIN: usize = if cfg!(target_os = "linux") { 64 << 10 } else { usize::MAX };

impl Resources {
    /// Reads a safetensors file by memory-mapping it: the resources are
    /// slices of the map, nothing is copied. Errors name the file, and the
    /// tensor and dtype when a tensor has a dtype weft does not support.
    ///
    /// The file must not be truncated or rewritten in place while the
    /// resources live (weft itself replaces files by renaming, which is
    /// safe); that is the usual contract of memory-mapped model loaders.
    pub fn load(path: &Path) -> Result<Resources, String> {
        let bytes = map_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Resources::from_bytes(bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the bytes of a safetensors file; the resources share `bytes`
    /// (a `Vec<u8>` is moved into the buffer, not copied).
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Result<Resources, String> {
        let bytes = bytes.into();
        let file = SafeTensors::deserialize(&bytes).map_err(|e| format!("not a valid safetensors file: {e}"))?;
        let mut out = Resources::new();
        for (name, view) in file.iter() {
            let elem = elem_of_dtype(view.dtype()).ok_or_else(|| {
                format!(
                    "tensor '{name}' has dtype {:?}, which weft does not support \
                     (supported: F16, BF16, F32, F64, I8, I16, I32, I64, U8, U16, U32, U64, BOOL)",
                    view.dtype()
                )
            })?;
            let shape = view.shape().iter().map(|&d| d as u64).collect();
            // `view.data()` borrows from `bytes`, which `deserialize` checked
            // it lies within: slicing shares the buffer.
            let data = bytes.slice_ref(view.data());
            let r = Resource::new(elem, shape, data).map_err(|e| format!("tensor '{name}': {e}"))?;
            out.insert(name, r);
        }
        Ok(out)
    }

    /// Streams the safetensors file to `out`: the 8-byte header length, the
    /// header, then each tensor's bytes as they are (no copy into a
    /// buffer). Errors say which resource could not be encoded, or carry
    /// the writer's error.
    pub fn write_to(&self, out: &mut impl Write) -> Result<(), String> {
        self.stream(out, |out, bytes| out.write_all(bytes))
    }

    /// Writes the header, then each tensor's bytes with `tensor`.
    fn stream<W: Write>(
        &self,
        out: &mut W,
        mut tensor: impl FnMut(&mut W, &[u8]) -> std::io::Result<()>,
    ) -> Result<(), String> {
        let (header, order) = self.layout()?;
        let io = |e: std::io::Error| e.to_string();
        out.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
        out.write_all(&header).map_err(io)?;
        for r in order {
            tensor(out, &r.bytes).map_err(io)?;
        }
        Ok(())
    }

    /// The bytes of the safetensors file, in memory. Meant for small sets
    /// of resources and tests; files are written by [`Resources::save`] and
    /// [`Resources::write_file`], which stream.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        Ok(out)
    }

    /// Creates (or truncates) the file `path` and streams the resources
    /// into it. No temporary: for callers that stage files themselves.
    /// Errors do not name the file (the caller, which chose it, does).
    /// `path` must not be a file these resources were loaded from (it is
    /// mapped); [`Resources::save`] is safe for that.
    pub fn write_file(&self, path: &Path) -> Result<(), String> {
        let file = File::create(path).map_err(|e| e.to_string())?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        self.stream(&mut out, |out, bytes| {
            let from = if bytes.len() >= FILE_COPY_MIN { origin(bytes) } else { None };
            match from {
                Some(from) => {
                    out.flush()?;
                    from.copy_to(bytes.len() as u64, out.get_mut())
                }
                None => out.write_all(bytes),
            }
        })?;
        out.flush().map_err(|e| e.to_string())
    }

    /// Writes the safetensors file: streamed to a temporary file in the
    /// same directory first, then renamed over `path`, so a failure never
    /// leaves a partial file and maps of the old file stay valid.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let tmp = temp_path(path);
        let written = self.write_file(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
    }

    /// The padded header and the resources in file order.
    fn layout(&self) -> Result<(Vec<u8>, Vec<&Resource>), String> {
        let mut entries: Vec<(&str, &Resource)> = self.iter().collect();
        // Stable: names stay sorted within a dtype.
        entries.sort_by_key(|(_, r)| std::cmp::Reverse(storage_dtype(&r.elem)));
        let mut header = String::from("{");
        let mut offset = 0usize;
        for (i, (name, r)) in entries.iter().enumerate() {
            let end = offset + r.bytes.len();
            if i > 0 {
                header.push(',');
            }
            write_entry(&mut header, name, r, offset, end)?;
            offset = end;
        }
        header.push('}');
        let mut header = header.into_bytes();
        header.resize(header.len().next_multiple_of(8), b' ');
        Ok((header, entries.into_iter().map(|(_, r)| r).collect()))
    }
}

/// `"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}`.
fn write_entry(out: &mut String, name: &str, r: &Resource, start: usize, end: usize) -> Result<(), String> {
    let dtype = storage_dtype(&r.elem);
    let dtype = dtype_name(dtype).ok_or_else(|| format!("resource '{name}': dtype {dtype:?} cannot be written"))?;
    push_json_string(out, name);
    let shape: Vec<String> = r.shape.iter().map(u64::to_string).collect();
    // Writing to a String cannot fail.
    let _ = write!(out, r#":{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{start},{end}]}}"#, shape.join(","));
    Ok(())
}

/// The header's name of each dtype weft stores.
fn dtype_name(dtype: Dtype) -> Option<&'static str> {
    Some(match dtype {
        Dtype::BOOL => "BOOL",
        Dtype::U8 => "U8",
        Dtype::I8 => "I8",
        Dtype::I16 => "I16",
        Dtype::U16 => "U16",
        Dtype::F16 => "F16",
        Dtype::BF16 => "BF16",
        Dtype::I32 => "I32",
        Dtype::U32 => "U32",
        Dtype::F32 => "F32",
        Dtype::F64 => "F64",
        Dtype::I64 => "I64",
        Dtype::U64 => "U64",
        _ => return None,
    })
}

/// A JSON string literal, escaped as serde_json does: `"` and `\`, the
/// short escapes `\b \f \n \r \t`, other control characters as `\u00XX`;
/// everything else (non-ASCII included) as it is.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The whole of the file at `path`, memory-mapped (an empty file is an
/// empty buffer: there is nothing to map).
fn map_file(path: &Path) -> std::io::Result<Bytes> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    let len =
        usize::try_from(meta.len()).map_err(|_| std::io::Error::other("the file is too large for this machine"))?;
    map_range(&file, 0, len)
}

/// `dir/.name.tmp.<pid>`: beside `path`, so the rename stays on one file
/// system.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "resources".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
}
