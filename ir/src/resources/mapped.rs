//! Memory-mapped files that remember which file their bytes are, so a
//! writer can copy a mapped range file-to-file inside the kernel
//! (`copy_file_range` on Linux, through `std::io::copy`) instead of reading
//! it through the process's memory: writing a 400 MB model's weights then
//! neither faults the map's pages into the process (its resident set stays
//! small) nor pays for those faults.
//!
//! Invariants: every map made by [`map_file`] is recorded, weakly, in a
//! process-wide list of live maps; the list never keeps a map alive, and
//! dead entries are pruned whenever a map is added. A byte slice lies in the
//! address range of a live map only if it is part of that map (live
//! mappings share their addresses with nothing), so [`origin`] is exact:
//! it never mistakes other memory for file data. Maps are read-only (no
//! one writes through them); like every memory-mapped loader, weft assumes the file is not
//! truncated or rewritten in place while mapped (weft replaces files by
//! renaming, which is safe).

use bytes::Bytes;
use memmap2::{Mmap, MmapOptions};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// One live map and the file it maps.
struct Mapped {
    /// A handle of its own on the file (positioned by each copy).
    file: Mutex<File>,
    /// The file offset of the map's first byte.
    offset: u64,
    map: Mmap,
}

/// The owner of a [`Bytes`] made from a map: keeps the map alive.
struct Owner(Arc<Mapped>);

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        &self.0.map
    }
}

/// The live maps, weakly.
static LIVE: Mutex<Vec<Weak<Mapped>>> = Mutex::new(Vec::new());

/// Maps `len` bytes of `file` from `offset`, read-only, as a shared
/// buffer; slices of it are recognized by [`origin`]. Zero bytes map
/// nothing (an empty buffer).
pub fn map_file(file: &File, offset: u64, len: usize) -> std::io::Result<Bytes> {
    if len == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: the map is read-only, and nothing in weft writes to a file it
    // maps (files are replaced by renaming); a file truncated or rewritten
    // in place by another process while mapped is outside what weft guards
    // against, as with every memory-mapped model loader.
    let map = unsafe { MmapOptions::new().offset(offset).len(len).map(file)? };
    let mapped = Arc::new(Mapped { file: Mutex::new(file.try_clone()?), offset, map });
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|m| m.strong_count() > 0);
    live.push(Arc::downgrade(&mapped));
    drop(live);
    Ok(Bytes::from_owner(Owner(mapped)))
}

/// Where a slice of a live map is in its file.
pub(super) struct Origin {
    mapped: Arc<Mapped>,
    /// The file offset of the slice's first byte.
    offset: u64,
}

/// The file range `bytes` is a view of, when it lies inside a live map
/// made by [`map_file`].
pub(super) fn origin(bytes: &[u8]) -> Option<Origin> {
    let start = bytes.as_ptr() as usize;
    let end = start.checked_add(bytes.len())?;
    let live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.iter().filter_map(Weak::upgrade).find_map(|mapped| {
        let base = mapped.map.as_ptr() as usize;
        let inside = base <= start && end <= base + mapped.map.len();
        inside.then(|| Origin { offset: mapped.offset + (start - base) as u64, mapped })
    })
}

impl Origin {
    /// Copies the `len` bytes at this origin to `out`, at its current
    /// position, file to file (in the kernel where the platform can).
    pub(super) fn copy_to(&self, len: u64, out: &mut File) -> std::io::Result<()> {
        let file = self.mapped.file.lock().unwrap_or_else(PoisonError::into_inner);
        let mut src: &File = &file;
        src.seek(SeekFrom::Start(self.offset))?;
        let copied = std::io::copy(&mut src.take(len), out)?;
        if copied != len {
            return Err(std::io::Error::other(format!(
                "the mapped file ended after {copied} of {len} bytes (was it truncated while weft read it?)"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch_file(name: &str, contents: &[u8]) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!("weft-mapped-{name}-{}", std::process::id()));
        std::fs::write(&path, contents).expect("write");
        let file = File::open(&path).expect("open");
        (path, file)
    }

    #[test]
    fn slices_of_maps_know_their_file_offsets() {
        let contents: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let (path, file) = scratch_file("origin", &contents);
        // An offset that is not page-aligned.
        let bytes = map_file(&file, 100, 9_000).expect("map");
        assert_eq!(&bytes[..], &contents[100..9_100]);
        let slice = bytes.slice(50..150);
        let o = origin(&slice).expect("a slice of a live map");
        assert_eq!(o.offset, 150);
        assert!(origin(&contents[..100]).is_none(), "heap memory is not a map");
        assert!(origin(&bytes[8_990..]).is_some());
        // The copy is the file's bytes at that offset.
        let out_path = path.with_extension("out");
        let mut out = File::create(&out_path).expect("create");
        out.write_all(b"head").expect("write");
        o.copy_to(100, &mut out).expect("copy");
        drop(out);
        let written = std::fs::read(&out_path).expect("read");
        assert_eq!(&written[..4], b"head");
        assert_eq!(&written[4..], &contents[150..250]);
        // A range past the end of the file is an error, not a short file.
        let past = Origin { mapped: o.mapped.clone(), offset: 9_950 };
        let mut out = File::create(&out_path).expect("create");
        let err = past.copy_to(100, &mut out).expect_err("past the end");
        assert!(err.to_string().contains("ended after 50 of 100 bytes"), "{err}");
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&out_path);
    }

    #[test]
    fn dropped_maps_are_forgotten() {
        let (path, file) = scratch_file("dropped", &[7; 64]);
        let bytes = map_file(&file, 0, 64).expect("map");
        let weak = {
            let o = origin(&bytes).expect("live");
            Arc::downgrade(&o.mapped)
        };
        drop(bytes);
        assert!(weak.upgrade().is_none(), "the registry must not keep maps alive");
        assert!(map_file(&file, 0, 0).expect("empty").is_empty());
        let _ = std::fs::remove_file(&path);
    }
}
