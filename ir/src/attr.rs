//! Attributes: the compile-time constants attached to ops.
//!
//! Invariants: a [`DenseAttr`] has a static tensor type and holds either one
//! element (a splat) or exactly as many as the type has; a
//! [`Attribute::Resource`] names data kept outside the text (in the
//! safetensors file beside it, see spec/resources.md) and carries the type
//! that data must have.

use crate::location::write_quoted;
use crate::tensor::{Scalar, Tensor, TensorData, MAX_MATERIALIZED_ELEMENTS};
use crate::types::{write_f64, ElemType, TensorType, Type};
use std::fmt::{self, Write};

/// Inline tensor data: `dense<[1.0, 2.0]> : tensor<2xf32>`.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseAttr {
    pub ty: TensorType,
    /// One element (splat) or `ty.num_elements()` elements, row-major.
    pub data: TensorData,
}

impl DenseAttr {
    pub fn is_splat(&self) -> bool {
        self.data.len() == 1 && self.ty.num_elements() != Some(1)
    }

    /// The full tensor, with a splat expanded; `None` when the tensor is
    /// larger than [`MAX_MATERIALIZED_ELEMENTS`].
    pub fn to_tensor(&self) -> Option<Tensor> {
        let shape = self.ty.static_shape()?;
        let n: u64 = shape.iter().product();
        if n > MAX_MATERIALIZED_ELEMENTS {
            return None;
        }
        if self.is_splat() {
            let v = self.data.get(0);
            return Some(Tensor::from_fn(self.ty.elem.clone(), shape, |_| v));
        }
        Some(Tensor { elem: self.ty.elem.clone(), shape, data: self.data.clone() })
    }

    /// The attribute for a tensor, stored as a splat when all elements are
    /// equal.
    pub fn from_tensor(t: Tensor) -> DenseAttr {
        let ty = t.ty();
        let data = if t.data.len() > 1 && t.data.all_equal() {
            let mut d = TensorData::empty_for(&t.elem, 1);
            d.push(t.data.get(0));
            d
        } else {
            t.data
        };
        DenseAttr { ty, data }
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Array(Vec<Attribute>),
    Type(Type),
    Dense(DenseAttr),
    /// `dense_resource<name> : T`: data stored outside the text.
    Resource {
        name: String,
        ty: TensorType,
    },
}

impl Attribute {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Attribute::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_float(&self) -> Option<f64> {
        match self {
            Attribute::Float(f) => Some(*f),
            Attribute::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Attribute::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attribute::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_ints(&self) -> Option<Vec<i64>> {
        match self {
            Attribute::Array(v) => v.iter().map(Attribute::as_int).collect(),
            _ => None,
        }
    }

    /// The type of a tensor-valued attribute (dense or resource).
    pub fn tensor_type(&self) -> Option<&TensorType> {
        match self {
            Attribute::Dense(d) => Some(&d.ty),
            Attribute::Resource { ty, .. } => Some(ty),
            _ => None,
        }
    }

    /// A short name of the attribute's kind, for diagnostics.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Attribute::Int(_) => "integer",
            Attribute::Float(_) => "float",
            Attribute::Str(_) => "string",
            Attribute::Bool(_) => "bool",
            Attribute::Array(_) => "array",
            Attribute::Type(_) => "type",
            Attribute::Dense(_) => "dense",
            Attribute::Resource { .. } => "dense_resource",
        }
    }
}

/// True when a resource name prints without quotes.
pub fn is_bare_resource_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:-".contains(&b))
}

fn write_scalar(f: &mut impl Write, elem: &ElemType, s: Scalar) -> fmt::Result {
    match (elem, s) {
        (ElemType::Bool, Scalar::Int(i)) => f.write_str(if i != 0 { "true" } else { "false" }),
        (_, Scalar::Int(i)) => write!(f, "{i}"),
        (ElemType::F32, Scalar::Float(x)) => {
            // Shortest text that reads back to the same f32.
            let v = x as f32;
            if v.is_finite() {
                write!(f, "{v:?}")
            } else {
                write_f64(f, x)
            }
        }
        (ElemType::F16, Scalar::Float(x)) => {
            write_f64(f, shortest(x, |y| crate::ops::eval::round_to(&ElemType::F16, y)))
        }
        (ElemType::BF16, Scalar::Float(x)) => {
            write_f64(f, shortest(x, |y| crate::ops::eval::round_to(&ElemType::BF16, y)))
        }
        (_, Scalar::Float(x)) => write_f64(f, x),
    }
}

/// The f64 with the fewest significant digits that `round` (rounding to a
/// narrower float type) maps to the same value as `x`: `0.1` rather than
/// `0.0999755859375` for the f16 nearest to 0.1.
fn shortest(x: f64, round: impl Fn(f64) -> f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    for digits in 0..17 {
        if let Ok(y) = format!("{x:.digits$e}").parse::<f64>() {
            if round(y).to_bits() == x.to_bits() {
                return y;
            }
        }
    }
    x
}

fn write_dense_level(f: &mut impl Write, d: &DenseAttr, shape: &[u64], offset: usize) -> fmt::Result {
    let Some((&n, rest)) = shape.split_first() else {
        return write_scalar(f, &d.ty.elem, d.data.get(offset));
    };
    let inner: u64 = rest.iter().product();
    f.write_char('[')?;
    for i in 0..n {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_dense_level(f, d, rest, offset + (i * inner) as usize)?;
    }
    f.write_char(']')
}

impl fmt::Display for DenseAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dense<")?;
        if self.is_splat() || self.ty.rank() == 0 {
            write_scalar(f, &self.ty.elem, self.data.get(0))?;
        } else {
            let shape = self.ty.static_shape().unwrap_or_default();
            write_dense_level(f, self, &shape, 0)?;
        }
        write!(f, "> : {}", self.ty)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::Int(i) => write!(f, "{i}"),
            Attribute::Float(x) => write_f64(f, *x),
            Attribute::Str(s) => write_quoted(f, s),
            Attribute::Bool(b) => write!(f, "{b}"),
            Attribute::Array(v) => {
                f.write_char('[')?;
                for (i, a) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    a.fmt(f)?;
                }
                f.write_char(']')
            }
            Attribute::Type(t) => t.fmt(f),
            Attribute::Dense(d) => d.fmt(f),
            Attribute::Resource { name, ty } => {
                f.write_str("dense_resource<")?;
                if is_bare_resource_name(name) {
                    f.write_str(name)?;
                } else {
                    write_quoted(f, name)?;
                }
                write!(f, "> : {ty}")
            }
        }
    }
}
