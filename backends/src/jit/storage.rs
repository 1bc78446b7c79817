//! How the JIT stores elements in memory, and the conversions between its
//! buffers and [`Tensor`]s.
//!
//! Invariants: an element is stored little-endian in the smallest
//! container of its width (f32: 4 bytes, f64: 8, bool: 1 byte holding 0 or
//! 1, an integer of width w in 1, 2, 4 or 8 bytes) — the layout resources
//! use, so weights are read in place. A stored integer is canonical: its
//! value wrapped to the width, sign-extended (signed) or zero-extended
//! (unsigned) to the container. In registers every integer and bool is an
//! `i64` holding the same canonical value (a `u64` holds its bits).
//! A `!quant.int` element is stored as its stored integer `q` (an
//! integer of its width). A `!quant.bin`
//! element is one byte holding its bit. f16 and bf16 have no storage yet
//! ([`Storage::of`] returns `None`).

use weft_ir::{ElemType, Tensor, TensorData};

/// The storage class of an element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Storage {
    F32,
    F64,
    Bool,
    /// An integer of `width` bits in a container of `bytes` bytes.
    Int {
        bytes: u8,
        width: u8,
        signed: bool,
    },
}

impl Storage {
    /// The storage of `elem`, if the JIT handles it.
    pub fn of(elem: &ElemType) -> Option<Storage> {
        match elem {
            ElemType::F32 => Some(Storage::F32),
            ElemType::F64 => Some(Storage::F64),
            ElemType::Bool => Some(Storage::Bool),
            ElemType::Quant(q) => Storage::of(&ElemType::Int { width: q.width, signed: q.signed }),
            // A bit: 1 stands for +scale, 0 for -scale.
            ElemType::Bin(_) => Some(Storage::Int { bytes: 1, width: 1, signed: false }),
            ElemType::Int { width, signed } => {
                let bytes = match width {
                    0..=8 => 1,
                    9..=16 => 2,
                    17..=32 => 4,
                    _ => 8,
                };
                Some(Storage::Int { bytes, width: *width, signed: *signed })
            }
            _ => None,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            Storage::F32 => 4,
            Storage::F64 => 8,
            Storage::Bool => 1,
            Storage::Int { bytes, .. } => u64::from(bytes),
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Storage::F32 | Storage::F64)
    }

    /// True for integers read unsigned (unsigned ints and bool).
    pub fn is_unsigned(self) -> bool {
        matches!(self, Storage::Bool | Storage::Int { signed: false, .. })
    }
}

/// Writes the elements of `t` (whose storage is `st`) into `out`, which
/// holds exactly `numel * st.size()` bytes.
pub(crate) fn write_tensor(t: &Tensor, st: Storage, out: &mut [u8]) {
    let size = st.size() as usize;
    match (&t.data, st) {
        (TensorData::F32(v), Storage::F32) => {
            for (chunk, x) in out.chunks_exact_mut(4).zip(v) {
                chunk.copy_from_slice(&x.to_le_bytes());
            }
        }
        (TensorData::F64(v), Storage::F64) => {
            for (chunk, x) in out.chunks_exact_mut(8).zip(v) {
                chunk.copy_from_slice(&x.to_le_bytes());
            }
        }
        (TensorData::Int(v), _) => {
            for (chunk, x) in out.chunks_exact_mut(size).zip(v) {
                let bytes = canonical(*x, st).to_le_bytes();
                chunk.copy_from_slice(&bytes[..size]);
            }
        }
        _ => {}
    }
}

/// The canonical stored value of an integer or bool element.
fn canonical(v: i64, st: Storage) -> i64 {
    match st {
        Storage::Bool => (v != 0) as i64,
        Storage::Int { width, signed, .. } => weft_ir::ops::eval::wrap_int(v, width, signed),
        _ => v,
    }
}

/// Reads `numel` elements of `elem` (storage `st`) from `bytes`.
pub(crate) fn read_tensor(elem: &ElemType, shape: &[u64], st: Storage, bytes: &[u8]) -> Tensor {
    let size = st.size() as usize;
    let chunks = bytes.chunks_exact(size);
    let data = match st {
        Storage::F32 => TensorData::F32(chunks.map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
        Storage::F64 => TensorData::F64(chunks.map(|c| f64::from_le_bytes(eight(c))).collect()),
        Storage::Bool => TensorData::Int(chunks.map(|c| i64::from(c[0] != 0)).collect()),
        Storage::Int { signed, .. } => TensorData::Int(chunks.map(|c| int_from_le(c, signed)).collect()),
    };
    Tensor { elem: elem.clone(), shape: shape.to_vec(), data }
}

fn eight(c: &[u8]) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..c.len().min(8)].copy_from_slice(&c[..c.len().min(8)]);
    b
}

/// A little-endian integer of 1..=8 bytes, sign- or zero-extended.
fn int_from_le(c: &[u8], signed: bool) -> i64 {
    let mut b = eight(c);
    if signed && c.last().is_some_and(|&top| top & 0x80 != 0) {
        for byte in b.iter_mut().skip(c.len()) {
            *byte = 0xff;
        }
    }
    i64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_in_their_containers() {
        let i4 = ElemType::Int { width: 4, signed: true };
        let st = Storage::of(&i4).unwrap();
        assert_eq!(st, Storage::Int { bytes: 1, width: 4, signed: true });
        let t = Tensor { elem: i4.clone(), shape: vec![3], data: TensorData::Int(vec![-8, 7, 9]) };
        let mut buf = vec![0u8; 3];
        write_tensor(&t, st, &mut buf);
        // 9 wraps to -7 in i4.
        assert_eq!(read_tensor(&i4, &[3], st, &buf).data, TensorData::Int(vec![-8, 7, -7]));
        let u16t = ElemType::Int { width: 16, signed: false };
        let st = Storage::of(&u16t).unwrap();
        let t = Tensor { elem: u16t.clone(), shape: vec![2], data: TensorData::Int(vec![65535, 1]) };
        let mut buf = vec![0u8; 4];
        write_tensor(&t, st, &mut buf);
        assert_eq!(read_tensor(&u16t, &[2], st, &buf), t);
        assert_eq!(Storage::of(&ElemType::F16), None);
    }
}
