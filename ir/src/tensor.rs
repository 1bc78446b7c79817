//! Tensor values: the data of dense attributes and the values the reference
//! semantics of ops compute on.
//!
//! Invariants: `data.len()` equals the product of `shape`, except for a
//! dense attribute's splat, which holds one element (see [`TensorData`]);
//! integers of every width, bools, quantized and binary values are held as
//! `i64` (the stored integer: `q` for `!quant.int`, 0/1 for bool and
//! `!quant.bin`).

use crate::ops::eval::round_to;
use crate::types::{ElemType, TensorType};
use half::{bf16, f16};

/// Element storage.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// Every integer-like element type (iN, uN, bool, quant, bin).
    Int(Vec<i64>),
}

/// A scalar read out of a [`TensorData`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    Float(f64),
    Int(i64),
}

impl TensorData {
    pub fn len(&self) -> usize {
        match self {
            TensorData::F16(v) => v.len(),
            TensorData::BF16(v) => v.len(),
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
            TensorData::Int(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empty storage of the kind that holds `elem`.
    pub fn empty_for(elem: &ElemType, capacity: usize) -> TensorData {
        match elem {
            ElemType::F16 => TensorData::F16(Vec::with_capacity(capacity)),
            ElemType::BF16 => TensorData::BF16(Vec::with_capacity(capacity)),
            ElemType::F32 => TensorData::F32(Vec::with_capacity(capacity)),
            ElemType::F64 => TensorData::F64(Vec::with_capacity(capacity)),
            _ => TensorData::Int(Vec::with_capacity(capacity)),
        }
    }

    pub fn get(&self, i: usize) -> Scalar {
        match self {
            TensorData::F16(v) => Scalar::Float(v[i].to_f64()),
            TensorData::BF16(v) => Scalar::Float(v[i].to_f64()),
            TensorData::F32(v) => Scalar::Float(v[i] as f64),
            TensorData::F64(v) => Scalar::Float(v[i]),
            TensorData::Int(v) => Scalar::Int(v[i]),
        }
    }

    /// Appends a value, converting to the storage kind (floats round to
    /// nearest, ints from floats truncate toward zero).
    pub fn push(&mut self, s: Scalar) {
        let as_f = |s: Scalar| match s {
            Scalar::Float(f) => f,
            Scalar::Int(i) => i as f64,
        };
        match self {
            TensorData::F16(v) => v.push(f16::from_f64(round_to(&ElemType::F16, as_f(s)))),
            TensorData::BF16(v) => v.push(bf16::from_f64(round_to(&ElemType::BF16, as_f(s)))),
            TensorData::F32(v) => v.push(as_f(s) as f32),
            TensorData::F64(v) => v.push(as_f(s)),
            TensorData::Int(v) => v.push(match s {
                Scalar::Int(i) => i,
                Scalar::Float(f) => f as i64,
            }),
        }
    }

    /// True when every element has the same bits.
    pub fn all_equal(&self) -> bool {
        fn same<T: PartialEq>(v: &[T], eq: impl Fn(&T, &T) -> bool) -> bool {
            v.windows(2).all(|w| eq(&w[0], &w[1]))
        }
        match self {
            TensorData::F16(v) => same(v, |a, b| a.to_bits() == b.to_bits()),
            TensorData::BF16(v) => same(v, |a, b| a.to_bits() == b.to_bits()),
            TensorData::F32(v) => same(v, |a, b| a.to_bits() == b.to_bits()),
            TensorData::F64(v) => same(v, |a, b| a.to_bits() == b.to_bits()),
            TensorData::Int(v) => same(v, |a, b| a == b),
        }
    }
}

/// A tensor with a static shape and its elements in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub elem: ElemType,
    pub shape: Vec<u64>,
    pub data: TensorData,
}

/// The most elements a tensor built from text may hold (a guard against
/// `dense<0.0> : tensor<99999999999xf32>` exhausting memory).
pub const MAX_MATERIALIZED_ELEMENTS: u64 = 1 << 26;

impl Tensor {
    pub fn numel(&self) -> u64 {
        self.shape.iter().product()
    }

    pub fn ty(&self) -> TensorType {
        TensorType::fixed(&self.shape, self.elem.clone())
    }

    /// Row-major strides of `shape`, in elements.
    pub fn strides(shape: &[u64]) -> Vec<u64> {
        let mut strides = vec![1; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
        strides
    }

    /// Builds a tensor by evaluating `f` at every element index.
    pub fn from_fn(elem: ElemType, shape: Vec<u64>, mut f: impl FnMut(usize) -> Scalar) -> Tensor {
        let n: u64 = shape.iter().product();
        let mut data = TensorData::empty_for(&elem, n as usize);
        for i in 0..n as usize {
            data.push(f(i));
        }
        Tensor { elem, shape, data }
    }
}
