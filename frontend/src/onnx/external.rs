//! Memory-mapped file access: whole model files, and the byte ranges of
//! external tensor data (`data_location: EXTERNAL`, with `location`,
//! `offset` and `length` entries in `external_data`).
//!
//! Invariants: every map is wrapped in a [`Bytes`] that owns it, so slices
//! of model data keep the mapping alive and nothing is copied. External
//! data locations are relative paths inside the model's directory: an
//! absolute path, a drive prefix or any `..` component is refused before
//! the file system is touched. Offsets and lengths are checked against the
//! file's size before mapping.

use super::proto::TensorProto;
use bytes::Bytes;
use std::fs::File;
use std::path::{Component, Path, PathBuf};

/// Maps `len` bytes of `file` starting at `offset` (0 bytes: no map).
/// The map is weft-ir's, so writing resources that are slices of it can
/// copy file to file.
fn map_range(file: &File, offset: u64, len: usize) -> std::io::Result<Bytes> {
    weft_ir::resources::map_file(file, offset, len)
}

/// The whole of `file`, whose size is `len`.
pub(super) fn map_whole(file: &File, len: u64) -> std::io::Result<Bytes> {
    let len = usize::try_from(len).map_err(|_| std::io::Error::other("the file is too large for this machine"))?;
    map_range(file, 0, len)
}

/// The external data of `t`, located relative to `dir`. `expected` is the
/// byte length the tensor's type and shape need, used when `length` is
/// absent. Errors do not name the tensor (the caller does).
pub(super) fn read(dir: &Path, t: &TensorProto, expected: usize) -> Result<Bytes, String> {
    let entry = |key: &str| t.external_data.iter().find(|e| e.key == key).map(|e| e.value.as_str());
    let location = entry("location").ok_or("its data is external, but external_data has no 'location'")?;
    let path = checked_location(dir, location)?;
    let offset = parse_number(entry("offset"), "offset")?.unwrap_or(0);
    let length = parse_number(entry("length"), "length")?;
    let file = File::open(&path).map_err(|e| format!("cannot open its external data file {}: {e}", path.display()))?;
    let size =
        file.metadata().map_err(|e| format!("cannot read its external data file {}: {e}", path.display()))?.len();
    let length = length.unwrap_or(expected as u64);
    let in_bounds = offset.checked_add(length).is_some_and(|end| end <= size);
    if !in_bounds {
        return Err(format!(
            "its external data (offset {offset}, length {length}) runs past the end of {} ({size} bytes)",
            path.display()
        ));
    }
    // In bounds of a file that exists, so it fits the address space only
    // if usize can hold it; say so otherwise.
    let len = usize::try_from(length).map_err(|_| format!("its external data of {length} bytes is too large"))?;
    map_range(&file, offset, len).map_err(|e| format!("cannot map its external data file {}: {e}", path.display()))
}

/// `dir/location`, when `location` is a relative path that stays inside
/// `dir` (no root, no drive prefix, no `..`).
fn checked_location(dir: &Path, location: &str) -> Result<PathBuf, String> {
    let relative = Path::new(location);
    let inside = relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if location.is_empty() || !inside {
        return Err(format!(
            "its external data location '{location}' must be a relative path inside the model's directory \
             (absolute paths and '..' are refused)"
        ));
    }
    Ok(dir.join(relative))
}

/// An optional decimal byte count from `external_data`.
fn parse_number(value: Option<&str>, key: &str) -> Result<Option<u64>, String> {
    value
        .map(|v| v.trim().parse::<u64>().map_err(|_| format!("its external data {key} '{v}' is not a byte count")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_must_stay_inside_the_directory() {
        let dir = Path::new("/models/bert");
        assert_eq!(checked_location(dir, "weights.bin"), Ok(PathBuf::from("/models/bert/weights.bin")));
        assert_eq!(checked_location(dir, "./data/w.bin"), Ok(PathBuf::from("/models/bert/./data/w.bin")));
        for bad in ["/etc/passwd", "../secret.bin", "data/../../x", ""] {
            let err = checked_location(dir, bad).expect_err(bad);
            assert!(err.contains("must be a relative path inside the model's directory"), "{err}");
        }
    }

    #[test]
    fn numbers_are_byte_counts() {
        assert_eq!(parse_number(Some("4096"), "offset"), Ok(Some(4096)));
        assert_eq!(parse_number(None, "offset"), Ok(None));
        let err = parse_number(Some("-1"), "offset").expect_err("negative");
        assert!(err.contains("offset '-1' is not a byte count"), "{err}");
    }
}
