//! Tensor data of a [`TensorProto`] as little-endian bytes in the storage
//! layout of weft's resources (spec/resources.md): `f16`/`bf16` in 2 bytes,
//! `bool` in 1 byte (0 or 1), integers at their container width (`i4`/`u4`
//! one byte per element, sign-extended for `i4`).
//!
//! Invariants: a [`TensorPayload`] holds exactly `product(shape) * size`
//! bytes; `raw_data` and external data are sliced, never copied (except
//! 4-bit types, which are unpacked); typed fields (`float_data`,
//! `int32_data`, ...) are converted and range-checked. External data is read
//! only from files inside the model's directory: absolute locations and
//! `..` components are refused. Every error names the tensor and says what
//! is wrong; nothing here panics on bad input.

use super::proto::{DataLocation, DataType, TensorProto};
use bytes::Bytes;
use half::{bf16, f16};
use std::path::Path;
use weft_ir::tensor::{Tensor, TensorData};
use weft_ir::types::ElemType;

/// The most elements one tensor may declare (2^40).
pub const MAX_ELEMENTS: u64 = 1 << 40;

/// A tensor's element type, shape and little-endian data.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorPayload {
    pub elem: ElemType,
    pub shape: Vec<u64>,
    pub data: Bytes,
}

/// How one element is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    F16,
    BF16,
    F32,
    F64,
    Bool,
    Int { bytes: usize, signed: bool },
}

impl Storage {
    /// The container weft's resources use for `elem` (mirrors
    /// `weft_ir::resources::storage_dtype`).
    fn of(elem: &ElemType) -> Storage {
        let int = |width: u8, signed| {
            let bytes = match width {
                0..=8 => 1,
                9..=16 => 2,
                17..=32 => 4,
                _ => 8,
            };
            Storage::Int { bytes, signed }
        };
        match elem {
            ElemType::F16 => Storage::F16,
            ElemType::BF16 => Storage::BF16,
            ElemType::F32 => Storage::F32,
            ElemType::F64 => Storage::F64,
            ElemType::Bool => Storage::Bool,
            ElemType::Int { width, signed } => int(*width, *signed),
            ElemType::Quant(q) => int(q.width, q.signed),
            ElemType::Bin(_) => int(1, false),
        }
    }

    fn size(self) -> usize {
        match self {
            Storage::Bool => 1,
            Storage::F16 | Storage::BF16 => 2,
            Storage::F32 => 4,
            Storage::F64 => 8,
            Storage::Int { bytes, .. } => bytes,
        }
    }
}

/// The ONNX name of a `data_type` value (`FLOAT`, `INT4`), or
/// `data type 99` for a value this file does not know.
pub fn data_type_name(data_type: i32) -> String {
    match DataType::try_from(data_type) {
        Ok(dt) => dt.as_str_name().to_string(),
        Err(_) => format!("data type {data_type}"),
    }
}

/// The weft element type of an ONNX `data_type`. STRING, complex, float8,
/// float4 and 2-bit types are not supported.
pub fn onnx_elem_type(data_type: i32) -> Result<ElemType, String> {
    let int = |width, signed| Ok(ElemType::Int { width, signed });
    let Ok(dt) = DataType::try_from(data_type) else {
        return Err(format!("unknown ONNX data type {data_type}"));
    };
    match dt {
        DataType::Float => Ok(ElemType::F32),
        DataType::Double => Ok(ElemType::F64),
        DataType::Float16 => Ok(ElemType::F16),
        DataType::Bfloat16 => Ok(ElemType::BF16),
        DataType::Bool => Ok(ElemType::Bool),
        DataType::Int4 => int(4, true),
        DataType::Int8 => int(8, true),
        DataType::Int16 => int(16, true),
        DataType::Int32 => int(32, true),
        DataType::Int64 => int(64, true),
        DataType::Uint4 => int(4, false),
        DataType::Uint8 => int(8, false),
        DataType::Uint16 => int(16, false),
        DataType::Uint32 => int(32, false),
        DataType::Uint64 => int(64, false),
        DataType::Undefined => Err("the data type is UNDEFINED (0)".to_string()),
        other => Err(format!("data type {} is not supported by weft", other.as_str_name())),
    }
}

/// The ONNX `data_type` of a weft element type; the inverse of
/// [`onnx_elem_type`].
pub fn onnx_data_type(elem: &ElemType) -> Result<i32, String> {
    let dt = match elem {
        ElemType::F32 => DataType::Float,
        ElemType::F64 => DataType::Double,
        ElemType::F16 => DataType::Float16,
        ElemType::BF16 => DataType::Bfloat16,
        ElemType::Bool => DataType::Bool,
        ElemType::Int { width, signed } => match (width, signed) {
            (4, true) => DataType::Int4,
            (8, true) => DataType::Int8,
            (16, true) => DataType::Int16,
            (32, true) => DataType::Int32,
            (64, true) => DataType::Int64,
            (4, false) => DataType::Uint4,
            (8, false) => DataType::Uint8,
            (16, false) => DataType::Uint16,
            (32, false) => DataType::Uint32,
            (64, false) => DataType::Uint64,
            _ => return Err(format!("ONNX has no element type for {elem}")),
        },
        ElemType::Quant(_) | ElemType::Bin(_) => return Err(format!("ONNX has no element type for {elem}")),
    };
    Ok(dt as i32)
}

/// How a tensor is named in errors: `tensor 'w'` or `an unnamed tensor`.
fn describe(t: &TensorProto) -> String {
    if t.name.is_empty() {
        "an unnamed tensor".to_string()
    } else {
        format!("tensor '{}'", t.name)
    }
}

/// The checked shape of `t` and its element count. The product of the
/// non-zero dims is bounded too (so `[0, 2^62]` is refused): no product of
/// any subset of the dims can then overflow later.
fn checked_shape(t: &TensorProto) -> Result<(Vec<u64>, u64), String> {
    let mut shape = Vec::with_capacity(t.dims.len());
    let mut nonzero: u64 = 1;
    for &d in &t.dims {
        let d =
            u64::try_from(d).map_err(|_| format!("{} has a negative dimension {d} in {:?}", describe(t), t.dims))?;
        nonzero = nonzero.saturating_mul(d.max(1));
        shape.push(d);
    }
    if nonzero > MAX_ELEMENTS {
        return Err(format!("{} has shape {:?}: its dimensions multiply to more than 2^40", describe(t), t.dims));
    }
    let count = if shape.contains(&0) { 0 } else { nonzero };
    Ok((shape, count))
}

/// The data of `t` in weft's storage layout. External data is looked up
/// relative to `dir` (the directory of the model file).
pub fn tensor_payload_in(dir: &Path, t: &TensorProto) -> Result<TensorPayload, String> {
    let elem = onnx_elem_type(t.data_type).map_err(|e| format!("{}: {e}", describe(t)))?;
    let (shape, count) = checked_shape(t)?;
    if t.segment.is_some() {
        return Err(format!("{} is segmented, which weft does not support", describe(t)));
    }
    let count = usize::try_from(count).map_err(|_| format!("{} is too large for this machine", describe(t)))?;
    let data = if t.data_location == DataLocation::External as i32 {
        let bytes =
            super::external::read(dir, t, expected_bytes(&elem, count)).map_err(|e| format!("{}: {e}", describe(t)))?;
        from_bytes(t, &elem, count, bytes)?
    } else if !t.raw_data.is_empty() {
        from_bytes(t, &elem, count, t.raw_data.clone())?
    } else {
        from_typed_fields(t, &elem, count)?
    };
    Ok(TensorPayload { elem, shape, data })
}

/// The byte length of `count` elements of `elem` as ONNX stores them
/// (4-bit types two to a byte).
fn expected_bytes(elem: &ElemType, count: usize) -> usize {
    if is_nibble(elem) {
        count.div_ceil(2)
    } else {
        count * Storage::of(elem).size()
    }
}

fn is_nibble(elem: &ElemType) -> bool {
    matches!(elem, ElemType::Int { width: 4, .. })
}

/// `raw_data` or external bytes: checked and sliced (4-bit types unpacked).
fn from_bytes(t: &TensorProto, elem: &ElemType, count: usize, bytes: Bytes) -> Result<Bytes, String> {
    let expected = expected_bytes(elem, count);
    if bytes.len() != expected {
        return Err(format!(
            "{} of type {} and shape {:?} needs {expected} bytes of data, found {}",
            describe(t),
            data_type_name(t.data_type),
            t.dims,
            bytes.len()
        ));
    }
    if is_nibble(elem) {
        let signed = matches!(elem, ElemType::Int { signed: true, .. });
        return Ok(unpack_nibbles(bytes.iter().map(|&b| i64::from(b)), count, signed).into());
    }
    Ok(bytes)
}

/// Splits packed 4-bit pairs (first element in the low nibble) into one
/// byte per element.
fn unpack_nibbles(packed: impl Iterator<Item = i64>, count: usize, signed: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    for byte in packed {
        for nibble in [byte & 0xf, (byte >> 4) & 0xf] {
            if out.len() < count {
                out.push(nibble_byte(nibble, signed));
            }
        }
    }
    out
}

/// One 4-bit value as a byte: sign-extended for int4.
fn nibble_byte(nibble: i64, signed: bool) -> u8 {
    let n = (nibble & 0xf) as u8;
    if signed && n >= 8 {
        n | 0xf0
    } else {
        n
    }
}

/// The data of the typed field that `t`'s data type uses.
fn from_typed_fields(t: &TensorProto, elem: &ElemType, count: usize) -> Result<Bytes, String> {
    let field_len = |name: &str, len: usize| -> Result<(), String> {
        if len == count {
            return Ok(());
        }
        if len == 0 {
            return Err(format!(
                "{} of type {} and shape {:?} has no data (no raw_data, external data or {name})",
                describe(t),
                data_type_name(t.data_type),
                t.dims
            ));
        }
        Err(format!("{} has {len} values in {name}, but its shape {:?} holds {count}", describe(t), t.dims))
    };
    let bytes: Vec<u8> = match Storage::of(elem) {
        Storage::F32 => {
            field_len("float_data", t.float_data.len())?;
            t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        Storage::F64 => {
            field_len("double_data", t.double_data.len())?;
            t.double_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        Storage::F16 | Storage::BF16 => {
            field_len("int32_data", t.int32_data.len())?;
            float_bits(t, &t.int32_data)?
        }
        Storage::Int { bytes: 8, signed: true } => {
            field_len("int64_data", t.int64_data.len())?;
            t.int64_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        Storage::Int { bytes: 8, signed: false } => {
            field_len("uint64_data", t.uint64_data.len())?;
            t.uint64_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        Storage::Int { bytes: 4, signed: false } => {
            field_len("uint64_data", t.uint64_data.len())?;
            narrow(t, elem, t.uint64_data.iter().map(|&v| i128::from(v)))?
        }
        _ if is_nibble(elem) => nibbles_from_int32(t, elem, count)?,
        _ => {
            field_len("int32_data", t.int32_data.len())?;
            narrow(t, elem, t.int32_data.iter().map(|&v| i128::from(v)))?
        }
    };
    Ok(bytes.into())
}

/// float16/bfloat16 bit patterns from `int32_data`: each value holds the
/// 16 bits (written as 0..=65535, or as a signed 16-bit number).
fn float_bits(t: &TensorProto, values: &[i32]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(values.len() * 2);
    for &v in values {
        if !(-32768..=65535).contains(&v) {
            return Err(format!("{} holds {v} in int32_data, which is not a 16-bit pattern", describe(t)));
        }
        out.extend((v as u16).to_le_bytes());
    }
    Ok(out)
}

/// Integers in their container, each checked against the element's range.
fn narrow(t: &TensorProto, elem: &ElemType, values: impl Iterator<Item = i128>) -> Result<Vec<u8>, String> {
    let Storage::Int { bytes, signed } = Storage::of(elem) else {
        // Bool: one byte, any nonzero value is true.
        return Ok(values.map(|v| u8::from(v != 0)).collect());
    };
    let bits = 8 * bytes as u32;
    let (lo, hi) = if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
    let mut out = Vec::new();
    for v in values {
        if v < lo || v > hi {
            return Err(format!(
                "{} holds {v}, which is out of range for {}",
                describe(t),
                data_type_name(t.data_type)
            ));
        }
        out.extend_from_slice(&v.to_le_bytes()[..bytes]);
    }
    Ok(out)
}

/// int4/uint4 from `int32_data`: packed pairs (one byte per entry, as ONNX
/// writes them) or, when there is one entry per element, one value each (as
/// the ONNX text parser writes them).
fn nibbles_from_int32(t: &TensorProto, elem: &ElemType, count: usize) -> Result<Vec<u8>, String> {
    let signed = matches!(elem, ElemType::Int { signed: true, .. });
    let values = &t.int32_data;
    let (lo, hi) = if signed { (-8, 7) } else { (0, 15) };
    if values.len() == count && values.iter().all(|v| (lo..=hi).contains(v)) {
        return Ok(values.iter().map(|&v| nibble_byte(i64::from(v), signed)).collect());
    }
    if values.len() == count.div_ceil(2) {
        if let Some(v) = values.iter().find(|v| !(-128..=255).contains(*v)) {
            return Err(format!("{} holds {v} in int32_data, which is not a packed pair of 4-bit values", describe(t)));
        }
        return Ok(unpack_nibbles(values.iter().map(|&v| i64::from(v)), count, signed));
    }
    Err(format!(
        "{} has {} values in int32_data, but its shape {:?} holds {count} 4-bit elements ({} packed bytes)",
        describe(t),
        values.len(),
        t.dims,
        count.div_ceil(2)
    ))
}

/// Decodes a payload into a tensor: floats keep their kind, integers and
/// bools become `i64` (u64 above `i64::MAX` keeps its bit pattern). Meant
/// for small tensors (inputs, constants, test data).
pub fn payload_to_tensor(p: &TensorPayload) -> Tensor {
    let bytes = &p.data[..];
    let data = match Storage::of(&p.elem) {
        Storage::F16 => TensorData::F16(chunks::<2>(bytes).map(f16::from_le_bytes).collect()),
        Storage::BF16 => TensorData::BF16(chunks::<2>(bytes).map(bf16::from_le_bytes).collect()),
        Storage::F32 => TensorData::F32(chunks::<4>(bytes).map(f32::from_le_bytes).collect()),
        Storage::F64 => TensorData::F64(chunks::<8>(bytes).map(f64::from_le_bytes).collect()),
        Storage::Bool => TensorData::Int(bytes.iter().map(|&b| i64::from(b != 0)).collect()),
        Storage::Int { bytes: 1, signed } => TensorData::Int(bytes.iter().map(|&b| int_of(&[b], signed)).collect()),
        Storage::Int { bytes: 2, signed } => TensorData::Int(chunks::<2>(bytes).map(|c| int_of(&c, signed)).collect()),
        Storage::Int { bytes: 4, signed } => TensorData::Int(chunks::<4>(bytes).map(|c| int_of(&c, signed)).collect()),
        Storage::Int { signed, .. } => TensorData::Int(chunks::<8>(bytes).map(|c| int_of(&c, signed)).collect()),
    };
    Tensor { elem: p.elem.clone(), shape: p.shape.clone(), data }
}

/// The `N`-byte chunks of `bytes` as arrays (a trailing partial chunk,
/// which a valid payload never has, is dropped).
fn chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

/// A little-endian integer of up to 8 bytes, sign- or zero-extended.
fn int_of(le: &[u8], signed: bool) -> i64 {
    let mut buf = [0u8; 8];
    let negative = signed && le.last().is_some_and(|&b| b & 0x80 != 0);
    if negative {
        buf = [0xff; 8];
    }
    buf[..le.len().min(8)].copy_from_slice(&le[..le.len().min(8)]);
    i64::from_le_bytes(buf)
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
