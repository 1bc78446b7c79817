//! NumPy `.npy` files in and out of [`Tensor`]s, with the npyz crate.
//!
//! Reading accepts bool, signed and unsigned integers of 1, 2, 4 and 8
//! bytes, and f16/f32/f64, in either byte order and in C or Fortran order
//! (Fortran arrays are reordered to row-major). Writing uses the element
//! type's own dtype; `bf16` (which NumPy lacks) is written as f32, exactly,
//! and integer widths NumPy lacks (`i4`, quantized types) as their storage
//! container.
//!
//! Invariants: a tensor read here has as many elements as its shape and
//! the storage kind of its element type; errors say what is wrong with the
//! file, never panic.

use half::{bf16, f16};
use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};
use weft_ir::{ElemType, Tensor, TensorData};

/// Reads a `.npy` file's bytes.
pub fn read_npy(bytes: &[u8]) -> Result<Tensor, String> {
    let npy = NpyFile::new(bytes).map_err(|e| format!("not a valid .npy file: {e}"))?;
    let DType::Plain(ts) = npy.dtype() else {
        return Err(format!("structured arrays are not supported (dtype {})", npy.dtype().descr()));
    };
    let shape = npy.shape().to_vec();
    let order = npy.order();
    let elem = elem_of(ts.type_char(), ts.size_field()).ok_or_else(|| {
        format!("dtype '{ts}' is not supported (bool, int8..int64, uint8..uint64, float16/32/64 are)")
    })?;
    let data = read_data(npy, &elem).map_err(|e| format!("cannot read the data: {e}"))?;
    let n = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or("the shape is too large")?;
    if data.len() as u64 != n {
        return Err(format!("the header promises {n} elements, the file holds {}", data.len()));
    }
    let data = if order == Order::Fortran { fortran_to_c(data, &shape) } else { data };
    Ok(Tensor { elem, shape, data })
}

fn elem_of(c: TypeChar, size: u64) -> Option<ElemType> {
    let int = |signed| {
        let width = match size {
            1 | 2 | 4 | 8 => size as u8 * 8,
            _ => return None,
        };
        Some(ElemType::Int { width, signed })
    };
    match (c, size) {
        (TypeChar::Bool, 1) => Some(ElemType::Bool),
        (TypeChar::Int, _) => int(true),
        (TypeChar::Uint, _) => int(false),
        (TypeChar::Float, 2) => Some(ElemType::F16),
        (TypeChar::Float, 4) => Some(ElemType::F32),
        (TypeChar::Float, 8) => Some(ElemType::F64),
        _ => None,
    }
}

fn read_data(npy: NpyFile<&[u8]>, elem: &ElemType) -> std::io::Result<TensorData> {
    fn ints<T: npyz::Deserialize + Into<i64>>(npy: NpyFile<&[u8]>) -> std::io::Result<TensorData> {
        Ok(TensorData::Int(npy.into_vec::<T>()?.into_iter().map(Into::into).collect()))
    }
    Ok(match elem {
        ElemType::F16 => TensorData::F16(npy.into_vec::<f16>()?),
        ElemType::F32 => TensorData::F32(npy.into_vec::<f32>()?),
        ElemType::F64 => TensorData::F64(npy.into_vec::<f64>()?),
        ElemType::Bool => TensorData::Int(npy.into_vec::<bool>()?.into_iter().map(i64::from).collect()),
        ElemType::Int { width: 8, signed: true } => ints::<i8>(npy)?,
        ElemType::Int { width: 16, signed: true } => ints::<i16>(npy)?,
        ElemType::Int { width: 32, signed: true } => ints::<i32>(npy)?,
        ElemType::Int { width: 8, signed: false } => ints::<u8>(npy)?,
        ElemType::Int { width: 16, signed: false } => ints::<u16>(npy)?,
        ElemType::Int { width: 32, signed: false } => ints::<u32>(npy)?,
        // u64 keeps its bit pattern in i64 (weft's convention).
        ElemType::Int { width: 64, signed: false } => {
            TensorData::Int(npy.into_vec::<u64>()?.into_iter().map(|v| v as i64).collect())
        }
        _ => ints::<i64>(npy)?,
    })
}

/// Reorders column-major data to row-major.
fn fortran_to_c(data: TensorData, shape: &[u64]) -> TensorData {
    let n = data.len();
    let mut out = match &data {
        TensorData::F16(_) => TensorData::F16(Vec::with_capacity(n)),
        TensorData::BF16(_) => TensorData::BF16(Vec::with_capacity(n)),
        TensorData::F32(_) => TensorData::F32(Vec::with_capacity(n)),
        TensorData::F64(_) => TensorData::F64(Vec::with_capacity(n)),
        TensorData::Int(_) => TensorData::Int(Vec::with_capacity(n)),
    };
    let mut index = vec![0u64; shape.len()];
    for flat in 0..n as u64 {
        weft_ir::ops::eval::unflatten(flat, shape, &mut index);
        // Column-major: the first index varies fastest.
        let mut src = 0u64;
        for (i, &d) in index.iter().zip(shape).rev() {
            src = src * d + i;
        }
        out.push(data.get(src as usize));
    }
    out
}

/// The bytes of a `.npy` file holding `t`.
pub fn npy_bytes(t: &Tensor) -> Result<Vec<u8>, String> {
    let ints = |d: &TensorData| match d {
        TensorData::Int(v) => Ok(v.clone()),
        _ => Err(format!("a tensor of {} holds non-integer data", t.elem)),
    };
    let shape = &t.shape;
    let result = match (&t.elem, &t.data) {
        (_, TensorData::F16(v)) => write(shape, v.iter().copied()),
        (_, TensorData::BF16(v)) => write(shape, v.iter().map(|x| bf16::to_f32(*x))),
        (_, TensorData::F32(v)) => write(shape, v.iter().copied()),
        (_, TensorData::F64(v)) => write(shape, v.iter().copied()),
        (ElemType::Bool, d) => write(shape, ints(d)?.into_iter().map(|x| x != 0)),
        (elem, d) => write_ints(shape, container(elem), ints(d)?),
    };
    result.map_err(|e| format!("cannot encode the tensor: {e}"))
}

/// The NumPy integer an element type is stored in: bytes and signedness.
fn container(elem: &ElemType) -> (u8, bool) {
    let (width, signed) = match elem {
        ElemType::Int { width, signed } => (*width, *signed),
        ElemType::Quant(q) => (q.width, q.signed),
        _ => (8, false),
    };
    let bytes = match width {
        0..=8 => 1,
        9..=16 => 2,
        17..=32 => 4,
        _ => 8,
    };
    (bytes, signed)
}

fn write_ints(shape: &[u64], (bytes, signed): (u8, bool), v: Vec<i64>) -> std::io::Result<Vec<u8>> {
    let it = v.into_iter();
    match (bytes, signed) {
        (1, true) => write(shape, it.map(|x| x as i8)),
        (2, true) => write(shape, it.map(|x| x as i16)),
        (4, true) => write(shape, it.map(|x| x as i32)),
        (1, false) => write(shape, it.map(|x| x as u8)),
        (2, false) => write(shape, it.map(|x| x as u16)),
        (4, false) => write(shape, it.map(|x| x as u32)),
        (_, false) => write(shape, it.map(|x| x as u64)),
        _ => write(shape, it),
    }
}

fn write<T: npyz::AutoSerialize>(shape: &[u64], values: impl Iterator<Item = T>) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::new().default_dtype().shape(shape).writer(&mut buf).begin_nd()?;
    w.extend(values)?;
    w.finish()?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(t: &Tensor) -> Tensor {
        read_npy(&npy_bytes(t).unwrap()).unwrap()
    }

    #[test]
    fn element_types_round_trip() {
        let f = Tensor { elem: ElemType::F32, shape: vec![2, 2], data: TensorData::F32(vec![1.0, -2.5, 0.0, 7.0]) };
        assert_eq!(round_trip(&f), f);
        let i = Tensor { elem: ElemType::I64, shape: vec![3], data: TensorData::Int(vec![-1, 0, i64::MAX]) };
        assert_eq!(round_trip(&i), i);
        let u = Tensor {
            elem: ElemType::Int { width: 8, signed: false },
            shape: vec![2],
            data: TensorData::Int(vec![0, 255]),
        };
        assert_eq!(round_trip(&u), u);
        let b = Tensor { elem: ElemType::Bool, shape: vec![], data: TensorData::Int(vec![1]) };
        assert_eq!(round_trip(&b), b);
        let h = Tensor { elem: ElemType::F16, shape: vec![1], data: TensorData::F16(vec![f16::from_f32(0.5)]) };
        assert_eq!(round_trip(&h), h);
    }

    #[test]
    fn bf16_is_written_as_f32() {
        let t = Tensor { elem: ElemType::BF16, shape: vec![1], data: TensorData::BF16(vec![bf16::from_f32(1.5)]) };
        let back = round_trip(&t);
        assert_eq!(back.elem, ElemType::F32);
        assert_eq!(back.data, TensorData::F32(vec![1.5]));
    }

    #[test]
    fn fortran_order_is_reordered() {
        // [[1, 2, 3], [4, 5, 6]] stored column-major: 1 4 2 5 3 6.
        let data = TensorData::Int(vec![1, 4, 2, 5, 3, 6]);
        assert_eq!(fortran_to_c(data, &[2, 3]), TensorData::Int(vec![1, 2, 3, 4, 5, 6]));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(read_npy(b"not numpy").unwrap_err().starts_with("not a valid .npy file"));
        let mut bytes =
            npy_bytes(&Tensor { elem: ElemType::F32, shape: vec![4], data: TensorData::F32(vec![0.0; 4]) }).unwrap();
        bytes.truncate(bytes.len() - 3);
        assert!(read_npy(&bytes).is_err());
    }
}
