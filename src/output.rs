//! Atomic output files: each file is written to a temporary file in its
//! target's directory, and all are renamed into place only after every one
//! was written.
//!
//! Invariant: a [`Staged`] file that is dropped without [`commit`] removes
//! its temporary file, so an error leaves neither a partial output nor
//! stray temporaries.

use std::path::{Path, PathBuf};
use weft_ir::resources::{sidecar_path, Resources};

/// A file written to its temporary path, waiting to be renamed.
pub struct Staged {
    target: PathBuf,
    temp: Option<PathBuf>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// `DIR/.NAME.weft-tmp-PID` for `DIR/NAME`.
fn temp_path_for(target: &Path) -> Result<PathBuf, String> {
    let name = target.file_name().ok_or_else(|| format!("'{}' is not a file name", target.display()))?;
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok(dir.join(format!(".{}.weft-tmp-{}", name.to_string_lossy(), std::process::id())))
}

/// Writes a temporary file for `target` with `write` (which gets the
/// temporary path).
pub fn stage(target: &Path, write: impl FnOnce(&Path) -> Result<(), String>) -> Result<Staged, String> {
    let temp = temp_path_for(target)?;
    let staged = Staged { target: target.to_path_buf(), temp: Some(temp.clone()) };
    write(&temp).map_err(|e| format!("cannot write '{}': {e}", target.display()))?;
    Ok(staged)
}

/// Stages `bytes` for `target`.
pub fn stage_bytes(target: &Path, bytes: &[u8]) -> Result<Staged, String> {
    stage(target, |temp| std::fs::write(temp, bytes).map_err(|e| e.to_string()))
}

/// Stages `resources` as the safetensors file beside the module file
/// `weft_path` (`OUT.weft` -> `OUT.safetensors`), streamed to disk; nothing
/// when there are none.
pub fn stage_resources(weft_path: &Path, resources: &Resources) -> Result<Option<Staged>, String> {
    if resources.is_empty() {
        return Ok(None);
    }
    stage(&sidecar_path(weft_path), |temp| resources.write_file(temp)).map(Some)
}

/// Renames every staged file into place.
pub fn commit(files: Vec<Staged>) -> Result<(), String> {
    for mut f in files {
        let Some(temp) = f.temp.as_ref() else { continue };
        std::fs::rename(temp, &f.target).map_err(|e| format!("cannot write '{}': {e}", f.target.display()))?;
        f.temp = None;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("weft-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn commit_renames_into_place_and_leaves_no_temporaries() {
        let dir = scratch("commit");
        let a = dir.join("a.weft");
        std::fs::write(&a, "old").unwrap();
        let staged = vec![stage_bytes(&a, b"new").unwrap(), stage_bytes(&dir.join("a.safetensors"), b"x").unwrap()];
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old");
        commit(staged).unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dropping_without_commit_removes_the_temporary() {
        let dir = scratch("drop");
        let first = stage_bytes(&dir.join("a.weft"), b"new").unwrap();
        let failed = stage(&dir.join("b.weft"), |_| Err("disk full".into()));
        assert_eq!(failed.err().unwrap(), format!("cannot write '{}': disk full", dir.join("b.weft").display()));
        drop(first);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn resources_are_staged_beside_the_module() {
        let dir = scratch("resources");
        let module = dir.join("m.weft");
        assert!(stage_resources(&module, &Resources::new()).unwrap().is_none());
        let mut res = Resources::new();
        let w = weft_ir::resources::Resource::new(weft_ir::ElemType::F32, vec![2], vec![0u8; 8]).unwrap();
        res.insert("w", w);
        let staged = stage_resources(&module, &res).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "only the temporary");
        commit(staged.into_iter().collect()).unwrap();
        assert_eq!(Resources::load(&dir.join("m.safetensors")).unwrap(), res);
        let e = stage_resources(Path::new("/nonexistent-weft-dir/x.weft"), &res).err().unwrap();
        assert!(e.starts_with("cannot write '/nonexistent-weft-dir/x.safetensors'"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let e = stage_bytes(Path::new("/nonexistent-weft-dir/x.weft"), b"").err().unwrap();
        assert!(e.starts_with("cannot write '/nonexistent-weft-dir/x.weft'"), "{e}");
    }
}
