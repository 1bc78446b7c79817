//! Sample input sets on disk, for calibration (`--calibrate DIR`) and
//! evaluation (`weft accuracy --inputs DIR`): a directory holding one
//! `NAME.npy` per input of the function is one sample; otherwise each of
//! its subdirectories that holds them is one, in name order (the layout of
//! testsuite/models/<model>/inputs/).
//!
//! Invariants: every sample has one tensor per input, in argument order,
//! checked against the argument's type (element type, rank, static and
//! symbolic dimensions) with a message naming the file; the order of
//! samples does not depend on the file system.

use std::path::{Path, PathBuf};
use weft_ir::interp::{input_names, DimBindings};
use weft_ir::{Function, Tensor};

/// One sample's files, one per input name, in argument order.
pub fn sample_dirs(dir: &Path, names: &[String]) -> Result<Vec<PathBuf>, String> {
    if !dir.is_dir() {
        return Err(format!("'{}' is not a directory", dir.display()));
    }
    if holds_sample(dir, names) {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read '{}': {e}", dir.display()))?;
    let mut subdirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    let found: Vec<PathBuf> = subdirs.into_iter().filter(|d| holds_sample(d, names)).collect();
    if found.is_empty() {
        let files: Vec<String> = names.iter().map(|n| format!("{n}.npy")).collect();
        return Err(format!(
            "'{}' holds no sample: expected {} in it or in its subdirectories",
            dir.display(),
            files.join(", ")
        ));
    }
    Ok(found)
}

/// True when `dir` holds at least one of the input files (a sample with a
/// missing file is reported when it is read).
fn holds_sample(dir: &Path, names: &[String]) -> bool {
    names.iter().any(|n| dir.join(format!("{n}.npy")).is_file())
}

/// The `NAME.npy` files of the first sample of `dir` (the directory itself
/// when it holds any, else its first subdirectory in name order that
/// does), read without checking types: the shapes an ONNX model is
/// imported with.
pub fn first_sample(dir: &Path) -> Result<Vec<(String, Tensor)>, String> {
    let mut candidates = vec![dir.to_path_buf()];
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read '{}': {e}", dir.display()))?;
    let mut subdirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    candidates.extend(subdirs);
    for d in candidates {
        let files = npy_files(&d)?;
        if !files.is_empty() {
            return files
                .into_iter()
                .map(|(name, path)| crate::run_cmd::read_tensor_file(&path).map(|t| (name, t)))
                .collect();
        }
    }
    Err(format!("'{}' holds no .npy file", dir.display()))
}

/// The `.npy` files directly in `dir`, by name, sorted.
fn npy_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read '{}': {e}", dir.display()))?;
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "npy"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p.clone())))
        .collect();
    files.sort();
    Ok(files)
}

/// Every sample of `dir` for `func`, checked against its argument types.
pub fn load_samples(dir: &Path, func: &Function) -> Result<Vec<Vec<Tensor>>, String> {
    let names = input_names(func);
    let types = func.arg_types();
    let mut samples = Vec::new();
    for d in sample_dirs(dir, &names)? {
        let mut dims = DimBindings::default();
        let mut inputs = Vec::with_capacity(names.len());
        for (name, ty) in names.iter().zip(&types) {
            let t = read_input(&d, name)?;
            let path = d.join(format!("{name}.npy"));
            dims.check(ty, &t, &format!("'{}'", path.display()))?;
            inputs.push(t);
        }
        samples.push(inputs);
    }
    Ok(samples)
}

fn read_input(dir: &Path, name: &str) -> Result<Tensor, String> {
    let path = dir.join(format!("{name}.npy"));
    if !path.is_file() {
        return Err(format!("'{}' has no {name}.npy for input '{name}'", dir.display()));
    }
    crate::run_cmd::read_tensor_file(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_npy(path: &Path, t: &Tensor) {
        std::fs::write(path, crate::run_cmd::npy::npy_bytes(t).unwrap()).unwrap();
    }

    #[test]
    fn a_directory_of_cases_in_name_order() {
        let root = std::env::temp_dir().join(format!("weft-samples-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (case, v) in [("b", 2.0f32), ("a", 1.0)] {
            std::fs::create_dir_all(root.join(case)).unwrap();
            let t = Tensor { elem: weft_ir::ElemType::F32, shape: vec![2], data: weft_ir::TensorData::F32(vec![v; 2]) };
            write_npy(&root.join(case).join("x.npy"), &t);
        }
        let names = vec!["x".to_string()];
        let dirs = sample_dirs(&root, &names).unwrap();
        assert_eq!(dirs, vec![root.join("a"), root.join("b")]);
        assert_eq!(sample_dirs(&root.join("a"), &names).unwrap(), vec![root.join("a")]);
        let e = sample_dirs(&root, &["y".to_string()]).unwrap_err();
        assert!(e.ends_with("holds no sample: expected y.npy in it or in its subdirectories"), "{e}");
        let first = first_sample(&root).unwrap();
        assert_eq!(first[0].1.data, weft_ir::TensorData::F32(vec![1.0; 2]));
        let _ = std::fs::remove_dir_all(&root);
    }
}
