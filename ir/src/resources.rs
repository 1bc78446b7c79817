//! Named resources: tensor data kept outside the text, in a safetensors file
//! beside the `.weft` file (spec/resources.md). A constant refers to one by
//! name: `constant dense_resource<blocks.0.attn.q.weight> : tensor<384x384xf32>`.
//!
//! Invariants: a [`Resource`]'s bytes are exactly `num_elements * size` of
//! its storage dtype (checked by [`Resource::new`]; the fields are private),
//! little-endian, row-major; names are unique (a `BTreeMap`), so iteration and
//! the saved file are in a deterministic order. Element types that safetensors
//! has no dtype for (`i4`, `!quant.int<w=6, ..>`, `!quant.bin`) are stored in
//! the smallest integer container that holds them ([`storage_dtype`]); the
//! file records the container, the IR type records the rest.

use crate::tensor::{Scalar, Tensor, TensorData};
use crate::types::{Dim, ElemType, TensorType};
use half::{bf16, f16};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One named tensor: element type, static shape, little-endian bytes.
/// The bytes are shared, so cloning a module does not copy weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    elem: ElemType,
    shape: Vec<u64>,
    bytes: Arc<[u8]>,
}

/// The resources of a module, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources {
    map: BTreeMap<String, Resource>,
}

/// The safetensors file that holds the resources of `weft_file`: same
/// directory, same stem, extension `.safetensors` (`model.weft` ->
/// `model.safetensors`).
pub fn sidecar_path(weft_file: &Path) -> PathBuf {
    weft_file.with_extension("safetensors")
}

/// The safetensors dtype an element type is stored as: its own dtype where
/// one exists, otherwise the smallest integer container of its width and
/// signedness (`i4` -> I8, `!quant.int<w=12, unsigned>` -> U16,
/// `!quant.bin` -> U8 holding 0 or 1).
pub fn storage_dtype(elem: &ElemType) -> Dtype {
    match elem {
        ElemType::F16 => Dtype::F16,
        ElemType::BF16 => Dtype::BF16,
        ElemType::F32 => Dtype::F32,
        ElemType::F64 => Dtype::F64,
        ElemType::Bool => Dtype::BOOL,
        ElemType::Int { width, signed } => int_container(*width, *signed),
        ElemType::Quant(q) => int_container(q.width, q.signed),
        ElemType::Bin(_) => Dtype::U8,
    }
}

fn int_container(width: u8, signed: bool) -> Dtype {
    match (width, signed) {
        (0..=8, true) => Dtype::I8,
        (0..=8, false) => Dtype::U8,
        (9..=16, true) => Dtype::I16,
        (9..=16, false) => Dtype::U16,
        (17..=32, true) => Dtype::I32,
        (17..=32, false) => Dtype::U32,
        (_, true) => Dtype::I64,
        (_, false) => Dtype::U64,
    }
}

/// The element type a safetensors dtype is read as, if weft supports it.
pub fn elem_of_dtype(dtype: Dtype) -> Option<ElemType> {
    let int = |width, signed| Some(ElemType::Int { width, signed });
    match dtype {
        Dtype::F16 => Some(ElemType::F16),
        Dtype::BF16 => Some(ElemType::BF16),
        Dtype::F32 => Some(ElemType::F32),
        Dtype::F64 => Some(ElemType::F64),
        Dtype::BOOL => Some(ElemType::Bool),
        Dtype::I8 => int(8, true),
        Dtype::I16 => int(16, true),
        Dtype::I32 => int(32, true),
        Dtype::I64 => int(64, true),
        Dtype::U8 => int(8, false),
        Dtype::U16 => int(16, false),
        Dtype::U32 => int(32, false),
        Dtype::U64 => int(64, false),
        _ => None,
    }
}

/// Bytes per element of a supported dtype.
fn dtype_size(dtype: Dtype) -> usize {
    dtype.bitsize().div_ceil(8)
}

/// True when data of element type `a` can stand for `b` in a resource:
/// equal storage dtypes (a file's `I8` tensor serves an `i4` constant).
pub fn storage_compatible(a: &ElemType, b: &ElemType) -> bool {
    storage_dtype(a) == storage_dtype(b)
}

impl Resource {
    /// A resource from little-endian bytes in the storage dtype of `elem`;
    /// the byte count must match the shape.
    pub fn new(elem: ElemType, shape: Vec<u64>, bytes: Vec<u8>) -> Result<Resource, String> {
        let size = dtype_size(storage_dtype(&elem)) as u64;
        let expected = shape
            .iter()
            .try_fold(size, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("a tensor of shape {shape:?} is too large"))?;
        if bytes.len() as u64 != expected {
            let ty = TensorType::fixed(&shape, elem);
            return Err(format!("{ty} needs {expected} bytes, got {}", bytes.len()));
        }
        Ok(Resource { elem, shape, bytes: bytes.into() })
    }

    /// Encodes a tensor (its data must hold every element, not a splat).
    /// Integers must fit the storage container; floats round to nearest.
    pub fn from_tensor(t: &Tensor) -> Result<Resource, String> {
        let n = usize::try_from(t.numel()).map_err(|_| "tensor too large".to_string())?;
        if t.data.len() != n {
            return Err(format!("tensor of shape {:?} holds {} elements, expected {n}", t.shape, t.data.len()));
        }
        let dtype = storage_dtype(&t.elem);
        let mut bytes = Vec::with_capacity(n * dtype_size(dtype));
        for i in 0..n {
            encode_scalar(dtype, t.data.get(i), &mut bytes)?;
        }
        Resource::new(t.elem.clone(), t.shape.clone(), bytes)
    }

    pub fn elem(&self) -> &ElemType {
        &self.elem
    }

    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// The raw little-endian bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn ty(&self) -> TensorType {
        TensorType::fixed(&self.shape, self.elem.clone())
    }

    /// True when the resource can serve an attribute of type `ty`: the same
    /// static shape and a storage-compatible element type.
    pub fn fits(&self, ty: &TensorType) -> bool {
        let same_shape =
            ty.dims.len() == self.shape.len() && ty.dims.iter().zip(&self.shape).all(|(d, &s)| *d == Dim::Fixed(s));
        same_shape && storage_compatible(&self.elem, &ty.elem)
    }

    /// Decodes into a tensor: floats keep their kind, integer-like elements
    /// become `i64` (bool: 0 or 1; `u64` above `i64::MAX` wraps).
    pub fn to_tensor(&self) -> Tensor {
        let dtype = storage_dtype(&self.elem);
        let size = dtype_size(dtype);
        let chunks = self.bytes.chunks_exact(size);
        let data = match dtype {
            Dtype::F16 => TensorData::F16(chunks.map(|c| f16::from_le_bytes(array(c))).collect()),
            Dtype::BF16 => TensorData::BF16(chunks.map(|c| bf16::from_le_bytes(array(c))).collect()),
            Dtype::F32 => TensorData::F32(chunks.map(|c| f32::from_le_bytes(array(c))).collect()),
            Dtype::F64 => TensorData::F64(chunks.map(|c| f64::from_le_bytes(array(c))).collect()),
            _ => TensorData::Int(chunks.map(|c| decode_int(dtype, c)).collect()),
        };
        Tensor { elem: self.elem.clone(), shape: self.shape.clone(), data }
    }
}

/// Copies a chunk of exactly `N` bytes into an array (zero-padded if short,
/// which `chunks_exact` rules out).
fn array<const N: usize>(c: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    for (dst, src) in a.iter_mut().zip(c) {
        *dst = *src;
    }
    a
}

fn decode_int(dtype: Dtype, c: &[u8]) -> i64 {
    match dtype {
        Dtype::BOOL => i64::from(c.first().is_some_and(|&b| b != 0)),
        Dtype::I8 => i64::from(i8::from_le_bytes(array(c))),
        Dtype::U8 => i64::from(u8::from_le_bytes(array(c))),
        Dtype::I16 => i64::from(i16::from_le_bytes(array(c))),
        Dtype::U16 => i64::from(u16::from_le_bytes(array(c))),
        Dtype::I32 => i64::from(i32::from_le_bytes(array(c))),
        Dtype::U32 => i64::from(u32::from_le_bytes(array(c))),
        Dtype::U64 => u64::from_le_bytes(array(c)) as i64,
        _ => i64::from_le_bytes(array(c)),
    }
}

fn encode_scalar(dtype: Dtype, s: Scalar, out: &mut Vec<u8>) -> Result<(), String> {
    let float = |s: Scalar| match s {
        Scalar::Float(f) => f,
        Scalar::Int(i) => i as f64,
    };
    match dtype {
        Dtype::F16 => out.extend(f16::from_f64(float(s)).to_le_bytes()),
        Dtype::BF16 => out.extend(bf16::from_f64(float(s)).to_le_bytes()),
        Dtype::F32 => out.extend((float(s) as f32).to_le_bytes()),
        Dtype::F64 => out.extend(float(s).to_le_bytes()),
        _ => {
            let Scalar::Int(i) = s else {
                return Err(format!("float value {} in an integer tensor", float(s)));
            };
            encode_int(dtype, i, out)?;
        }
    }
    Ok(())
}

fn encode_int(dtype: Dtype, i: i64, out: &mut Vec<u8>) -> Result<(), String> {
    let range = || format!("value {i} does not fit in {dtype:?}");
    match dtype {
        Dtype::BOOL => out.push(u8::from(i != 0)),
        Dtype::I8 => out.extend(i8::try_from(i).map_err(|_| range())?.to_le_bytes()),
        Dtype::U8 => out.extend(u8::try_from(i).map_err(|_| range())?.to_le_bytes()),
        Dtype::I16 => out.extend(i16::try_from(i).map_err(|_| range())?.to_le_bytes()),
        Dtype::U16 => out.extend(u16::try_from(i).map_err(|_| range())?.to_le_bytes()),
        Dtype::I32 => out.extend(i32::try_from(i).map_err(|_| range())?.to_le_bytes()),
        Dtype::U32 => out.extend(u32::try_from(i).map_err(|_| range())?.to_le_bytes()),
        // u64 values are held in i64 by their bit pattern.
        Dtype::U64 => out.extend((i as u64).to_le_bytes()),
        _ => out.extend(i.to_le_bytes()),
    }
    Ok(())
}

impl Resources {
    pub fn new() -> Resources {
        Resources::default()
    }

    /// Reads a safetensors file. Errors name the file, and the tensor and
    /// dtype when a tensor has a dtype weft does not support.
    pub fn load(path: &Path) -> Result<Resources, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Resources::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the bytes of a safetensors file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Resources, String> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| format!("not a valid safetensors file: {e}"))?;
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
            let r = Resource::new(elem, shape, view.data().to_vec()).map_err(|e| format!("tensor '{name}': {e}"))?;
            out.insert(name, r);
        }
        Ok(out)
    }

    /// The bytes of the safetensors file: the same resources always give
    /// the same bytes (tensors ordered by dtype, then name; no metadata).
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut views = Vec::with_capacity(self.map.len());
        for (name, r) in &self.map {
            let shape = r
                .shape
                .iter()
                .map(|&d| usize::try_from(d))
                .collect::<Result<Vec<usize>, _>>()
                .map_err(|_| format!("resource '{name}' is too large for this machine"))?;
            let view = TensorView::new(storage_dtype(&r.elem), shape, &r.bytes)
                .map_err(|e| format!("resource '{name}': {e}"))?;
            views.push((name.as_str(), view));
        }
        safetensors::serialize(views, None).map_err(|e| format!("cannot encode resources: {e}"))
    }

    /// Writes the safetensors file: to a temporary file in the same
    /// directory first, then renamed over `path`, so a failure never leaves
    /// a partial file.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let bytes = self.to_bytes()?;
        let tmp = temp_path(path);
        let written = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, path));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
    }

    /// Adds or replaces a resource; returns the one it replaced.
    pub fn insert(&mut self, name: impl Into<String>, r: Resource) -> Option<Resource> {
        self.map.insert(name.into(), r)
    }

    pub fn remove(&mut self, name: &str) -> Option<Resource> {
        self.map.remove(name)
    }

    pub fn get(&self, name: &str) -> Option<&Resource> {
        self.map.get(name)
    }

    /// The names, in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.map.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Resource)> + '_ {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The resource `name` decoded as a tensor.
    pub fn tensor(&self, name: &str) -> Option<Tensor> {
        self.get(name).map(Resource::to_tensor)
    }
}

/// `dir/.name.tmp.<pid>`: beside `path`, so the rename stays on one file
/// system.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "resources".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{QuantInt, QuantParams};

    fn temp_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("weft-resources-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    fn f32_resource(values: &[f32], shape: &[u64]) -> Resource {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Resource::new(ElemType::F32, shape.to_vec(), bytes).expect("valid resource")
    }

    fn sample() -> Resources {
        let mut r = Resources::new();
        r.insert("w.f32", f32_resource(&[1.0, -2.5, 3.0, 0.0, 5.0, 6.0], &[2, 3]));
        let i8s = Tensor { elem: ElemType::I8, shape: vec![3], data: TensorData::Int(vec![-128, 0, 127]) };
        r.insert("b.i8", Resource::from_tensor(&i8s).expect("i8 fits"));
        let u16s = Tensor {
            elem: ElemType::Int { width: 16, signed: false },
            shape: vec![2],
            data: TensorData::Int(vec![0, 65535]),
        };
        r.insert("c.u16", Resource::from_tensor(&u16s).expect("u16 fits"));
        let bools = Tensor { elem: ElemType::Bool, shape: vec![2], data: TensorData::Int(vec![1, 0]) };
        r.insert("mask", Resource::from_tensor(&bools).expect("bools"));
        let halfs = Tensor { elem: ElemType::F16, shape: vec![], data: TensorData::F16(vec![f16::from_f32(0.5)]) };
        r.insert("scalar.f16", Resource::from_tensor(&halfs).expect("f16"));
        r
    }

    #[test]
    fn sidecar_replaces_extension() {
        assert_eq!(sidecar_path(Path::new("dir/model.weft")), PathBuf::from("dir/model.safetensors"));
        assert_eq!(sidecar_path(Path::new("model")), PathBuf::from("model.safetensors"));
        assert_eq!(sidecar_path(Path::new("a.b.weft")), PathBuf::from("a.b.safetensors"));
    }

    #[test]
    fn save_load_round_trip() {
        let dir = temp_dir("round-trip");
        let path = dir.join("model.safetensors");
        let r = sample();
        r.save(&path).expect("save");
        let back = Resources::load(&path).expect("load");
        assert_eq!(back, r);
        assert_eq!(back.names().collect::<Vec<_>>(), ["b.i8", "c.u16", "mask", "scalar.f16", "w.f32"]);
        let t = back.tensor("w.f32").expect("present");
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.data, TensorData::F32(vec![1.0, -2.5, 3.0, 0.0, 5.0, 6.0]));
        assert_eq!(back.tensor("b.i8").map(|t| t.data), Some(TensorData::Int(vec![-128, 0, 127])));
        assert_eq!(back.tensor("c.u16").map(|t| t.data), Some(TensorData::Int(vec![0, 65535])));
        assert_eq!(back.tensor("mask").map(|t| t.data), Some(TensorData::Int(vec![1, 0])));
        assert_eq!(back.tensor("scalar.f16").map(|t| t.data), Some(TensorData::F16(vec![f16::from_f32(0.5)])));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn saved_bytes_are_deterministic() {
        let a = sample().to_bytes().expect("encode");
        // Insert in the reverse order: same bytes.
        let mut r = Resources::new();
        let s = sample();
        for (name, res) in s.iter().collect::<Vec<_>>().into_iter().rev() {
            r.insert(name, res.clone());
        }
        assert_eq!(r.to_bytes().expect("encode"), a);
    }

    #[test]
    fn corrupt_files_are_errors() {
        let dir = temp_dir("corrupt");
        let path = dir.join("bad.safetensors");
        std::fs::write(&path, b"\x05\x00\x00\x00\x00\x00\x00\x00{\"a\":").expect("write");
        let err = Resources::load(&path).expect_err("corrupt");
        assert!(err.contains("bad.safetensors") && err.contains("not a valid safetensors file"), "{err}");
        // Truncated data: the header promises 16 bytes, 4 are there.
        let mut bytes = sample().to_bytes().expect("encode");
        bytes.truncate(bytes.len() - 3);
        assert!(Resources::from_bytes(&bytes).is_err());
        assert!(Resources::from_bytes(&[]).is_err());
        let missing = Resources::load(&dir.join("missing.safetensors")).expect_err("missing");
        assert!(missing.starts_with("cannot read"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unsupported_dtype_names_tensor_and_dtype() {
        let header = br#"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 8]);
        let err = Resources::from_bytes(&bytes).expect_err("C64 unsupported");
        assert!(err.contains("tensor 'w' has dtype C64"), "{err}");
    }

    #[test]
    fn narrow_types_use_containers() {
        let q = ElemType::Quant(Box::new(QuantInt {
            width: 4,
            signed: true,
            params: QuantParams::PerTensor { scale: 0.5, zp: 0 },
        }));
        assert_eq!(storage_dtype(&q), Dtype::I8);
        assert_eq!(storage_dtype(&ElemType::Int { width: 12, signed: false }), Dtype::U16);
        assert_eq!(storage_dtype(&ElemType::Int { width: 33, signed: true }), Dtype::I64);
        let file = Resource::new(ElemType::I8, vec![2], vec![1, 0xff]).expect("i8");
        assert!(file.fits(&TensorType::fixed(&[2], q.clone())));
        assert!(!file.fits(&TensorType::fixed(&[2], ElemType::F32)));
        assert!(!file.fits(&TensorType::fixed(&[1, 2], q)));
        assert!(!file.fits(&TensorType::new(vec![Dim::Dyn], ElemType::I8)));
    }

    #[test]
    fn constructors_check_sizes_and_ranges() {
        assert!(Resource::new(ElemType::F32, vec![2, 2], vec![0; 15]).is_err());
        assert!(Resource::new(ElemType::F32, vec![u64::MAX, 4], vec![]).is_err());
        let too_big = Tensor { elem: ElemType::I8, shape: vec![1], data: TensorData::Int(vec![200]) };
        let err = Resource::from_tensor(&too_big).expect_err("out of range");
        assert!(err.contains("200"), "{err}");
        let splat = Tensor { elem: ElemType::F32, shape: vec![4], data: TensorData::F32(vec![1.0]) };
        assert!(Resource::from_tensor(&splat).is_err());
        let u64s = Tensor {
            elem: ElemType::Int { width: 64, signed: false },
            shape: vec![1],
            data: TensorData::Int(vec![-1]),
        };
        let r = Resource::from_tensor(&u64s).expect("bit pattern");
        assert_eq!(r.bytes(), &[0xff; 8]);
        assert_eq!(r.to_tensor().data, TensorData::Int(vec![-1]));
    }
}
