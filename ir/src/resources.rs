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
//!
//! Weights are never copied: a resource's bytes are a shared [`Bytes`]
//! buffer, which may be a slice of a memory-mapped model or safetensors file
//! (the map lives as long as any slice of it; [`map_file`]). Reading and
//! writing safetensors files is in `file`; writing copies the bytes of
//! mapped resources file to file, in the kernel where it can.

mod file;
mod mapped;

pub use mapped::map_file;

use crate::tensor::{Scalar, Tensor, TensorData};
use crate::types::{Dim, ElemType, TensorType};
use bytes::Bytes;
use half::{bf16, f16};
use safetensors::tensor::Dtype;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One named tensor: element type, static shape, little-endian bytes.
/// The bytes are shared, so cloning a module does not copy weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    elem: ElemType,
    shape: Vec<u64>,
    bytes: Bytes,
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
    /// the byte count must match the shape. A [`Bytes`] is kept as it is
    /// (a slice of a memory-mapped file stays one), a `Vec<u8>` is moved.
    pub fn new(elem: ElemType, shape: Vec<u64>, bytes: impl Into<Bytes>) -> Result<Resource, String> {
        let bytes = bytes.into();
        let size = dtype_size(storage_dtype(&elem)) as u64;
        let expected = shape
            .iter()
            .try_fold(size, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("a tensor of shape {shape:?} is too large"))?;
        if bytes.len() as u64 != expected {
            let ty = TensorType::fixed(&shape, elem);
            return Err(format!("{ty} needs {expected} bytes, got {}", bytes.len()));
        }
        Ok(Resource { elem, shape, bytes })
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
        match (&t.data, dtype) {
            // The common cases without a per-element dispatch.
            (TensorData::F32(x), Dtype::F32) => bytes.extend(x.iter().flat_map(|v| v.to_le_bytes())),
            (TensorData::Int(x), Dtype::I8) => {
                encode_ints(x, dtype, &mut bytes, |i| i8::try_from(i).ok().map(i8::to_le_bytes))?
            }
            (TensorData::Int(x), Dtype::U8) => {
                encode_ints(x, dtype, &mut bytes, |i| u8::try_from(i).ok().map(u8::to_le_bytes))?
            }
            (TensorData::Int(x), Dtype::I32) => {
                encode_ints(x, dtype, &mut bytes, |i| i32::try_from(i).ok().map(i32::to_le_bytes))?
            }
            _ => {
                for i in 0..n {
                    encode_scalar(dtype, t.data.get(i), &mut bytes)?;
                }
            }
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

    /// The shared buffer holding the bytes (cloning it copies nothing).
    pub fn shared_bytes(&self) -> &Bytes {
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

/// Appends the little-endian bytes `narrow` gives for each of `values`
/// (`None`: out of `dtype`'s range, an error as [`encode_int`] gives).
fn encode_ints<B: IntoIterator<Item = u8>>(
    values: &[i64],
    dtype: Dtype,
    out: &mut Vec<u8>,
    narrow: impl Fn(i64) -> Option<B>,
) -> Result<(), String> {
    for &i in values {
        out.extend(narrow(i).ok_or_else(|| format!("value {i} does not fit in {dtype:?}"))?);
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

#[cfg(test)]
mod tests;
