//! Types: tensors with static, symbolic or dynamic dimensions over scalar
//! element types, including quantized integers and binary (+-scale) weights.
//!
//! Invariants: integer widths are 1..=64 (quantized: 1..=32); a per-channel
//! quantized type has as many scales as zero points. `Display` writes the
//! canonical text form that the parser reads back (see spec/types.md).

use std::fmt;

/// One dimension of a tensor shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// A known extent.
    Fixed(u64),
    /// A named extent, bound later (ONNX `dim_param`): written `[name]`.
    Sym(String),
    /// An unknown unnamed extent: written `?`.
    Dyn,
}

impl Dim {
    pub fn fixed(&self) -> Option<u64> {
        match self {
            Dim::Fixed(n) => Some(*n),
            _ => None,
        }
    }
}

/// Quantization parameters shared by the per-tensor and per-channel forms.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantParams {
    PerTensor { scale: f64, zp: i64 },
    PerChannel { axis: u32, scales: Vec<f64>, zps: Vec<i64> },
}

/// `!quant.int<w=8, signed, scale=0.1, zp=0>`: an integer of `width` bits
/// standing for `scale * (q - zp)`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantInt {
    pub width: u8,
    pub signed: bool,
    pub params: QuantParams,
}

/// `!quant.bin<scale=0.5>` or `!quant.bin<axis=0, scales=[..]>`: one bit per
/// value, standing for `+scale` (bit 1) or `-scale` (bit 0).
#[derive(Debug, Clone, PartialEq)]
pub enum QuantBin {
    PerTensor { scale: f64 },
    PerChannel { axis: u32, scales: Vec<f64> },
}

/// A scalar element type.
#[derive(Debug, Clone, PartialEq)]
pub enum ElemType {
    F16,
    BF16,
    F32,
    F64,
    Bool,
    /// `iN` (signed) or `uN` (unsigned), N in 1..=64.
    Int {
        width: u8,
        signed: bool,
    },
    Quant(Box<QuantInt>),
    Bin(Box<QuantBin>),
}

impl ElemType {
    pub const I1: ElemType = ElemType::Int { width: 1, signed: true };
    pub const I8: ElemType = ElemType::Int { width: 8, signed: true };
    pub const I32: ElemType = ElemType::Int { width: 32, signed: true };
    pub const I64: ElemType = ElemType::Int { width: 64, signed: true };

    pub fn is_float(&self) -> bool {
        matches!(self, ElemType::F16 | ElemType::BF16 | ElemType::F32 | ElemType::F64)
    }

    /// Plain integers (not quantized, not bool).
    pub fn is_int(&self) -> bool {
        matches!(self, ElemType::Int { .. })
    }

    /// Parses a builtin element type keyword (`f32`, `i8`, `u4`, `bool`).
    pub fn from_keyword(s: &str) -> Option<ElemType> {
        match s {
            "f16" => return Some(ElemType::F16),
            "bf16" => return Some(ElemType::BF16),
            "f32" => return Some(ElemType::F32),
            "f64" => return Some(ElemType::F64),
            "bool" => return Some(ElemType::Bool),
            _ => {}
        }
        let signed = match s.as_bytes().first()? {
            b'i' => true,
            b'u' => false,
            _ => return None,
        };
        let digits = &s[1..];
        if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let width: u8 = digits.parse().ok()?;
        (1..=64).contains(&width).then_some(ElemType::Int { width, signed })
    }
}

/// A tensor type: dimensions and an element type. Rank 0 is a scalar.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorType {
    pub dims: Vec<Dim>,
    pub elem: ElemType,
}

impl TensorType {
    pub fn new(dims: Vec<Dim>, elem: ElemType) -> Self {
        TensorType { dims, elem }
    }

    /// A tensor with only static dimensions.
    pub fn fixed(shape: &[u64], elem: ElemType) -> Self {
        TensorType { dims: shape.iter().map(|&d| Dim::Fixed(d)).collect(), elem }
    }

    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// The static shape, or `None` if any dimension is symbolic or dynamic.
    pub fn static_shape(&self) -> Option<Vec<u64>> {
        self.dims.iter().map(Dim::fixed).collect()
    }

    /// The number of elements, when the shape is static.
    pub fn num_elements(&self) -> Option<u64> {
        self.static_shape().map(|s| s.iter().product())
    }
}

/// A type: a tensor, or a bare element type (used in attributes such as
/// the target of a cast).
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Tensor(TensorType),
    Elem(ElemType),
}

impl Type {
    pub fn as_tensor(&self) -> Option<&TensorType> {
        match self {
            Type::Tensor(t) => Some(t),
            Type::Elem(_) => None,
        }
    }
}

impl From<TensorType> for Type {
    fn from(t: TensorType) -> Self {
        Type::Tensor(t)
    }
}

/// Writes an f64 so that parsing the text gives the same bits back, always
/// with a `.` or exponent (so it lexes as a float), and `nan`/`inf`/`-inf`.
pub fn write_f64(f: &mut impl fmt::Write, v: f64) -> fmt::Result {
    if v.is_nan() {
        f.write_str("nan")
    } else if v.is_infinite() {
        f.write_str(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        write!(f, "{v:?}")
    }
}

struct F64(f64);
impl fmt::Display for F64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_f64(f, self.0)
    }
}

fn write_list<T>(
    f: &mut fmt::Formatter<'_>,
    xs: &[T],
    mut item: impl FnMut(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    f.write_str("[")?;
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        item(f, x)?;
    }
    f.write_str("]")
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Sym(s) => write!(f, "[{s}]"),
            Dim::Dyn => f.write_str("?"),
        }
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElemType::F16 => f.write_str("f16"),
            ElemType::BF16 => f.write_str("bf16"),
            ElemType::F32 => f.write_str("f32"),
            ElemType::F64 => f.write_str("f64"),
            ElemType::Bool => f.write_str("bool"),
            ElemType::Int { width, signed } => write!(f, "{}{width}", if *signed { 'i' } else { 'u' }),
            ElemType::Quant(q) => {
                let sign = if q.signed { "signed" } else { "unsigned" };
                write!(f, "!quant.int<w={}, {sign}, ", q.width)?;
                match &q.params {
                    QuantParams::PerTensor { scale, zp } => write!(f, "scale={}, zp={zp}>", F64(*scale)),
                    QuantParams::PerChannel { axis, scales, zps } => {
                        write!(f, "axis={axis}, scales=")?;
                        write_list(f, scales, |f, s| write_f64(f, *s))?;
                        f.write_str(", zps=")?;
                        write_list(f, zps, |f, z| write!(f, "{z}"))?;
                        f.write_str(">")
                    }
                }
            }
            ElemType::Bin(b) => match &**b {
                QuantBin::PerTensor { scale } => write!(f, "!quant.bin<scale={}>", F64(*scale)),
                QuantBin::PerChannel { axis, scales } => {
                    write!(f, "!quant.bin<axis={axis}, scales=")?;
                    write_list(f, scales, |f, s| write_f64(f, *s))?;
                    f.write_str(">")
                }
            },
        }
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tensor<")?;
        for d in &self.dims {
            write!(f, "{d}x")?;
        }
        write!(f, "{}>", self.elem)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Tensor(t) => t.fmt(f),
            Type::Elem(e) => e.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_keywords() {
        assert_eq!(ElemType::from_keyword("i4"), Some(ElemType::Int { width: 4, signed: true }));
        assert_eq!(ElemType::from_keyword("u64"), Some(ElemType::Int { width: 64, signed: false }));
        assert_eq!(ElemType::from_keyword("i65"), None);
        assert_eq!(ElemType::from_keyword("i0"), None);
        assert_eq!(ElemType::from_keyword("i08"), None);
        assert_eq!(ElemType::from_keyword("index"), None);
    }

    #[test]
    fn tensor_display() {
        let t = TensorType::new(vec![Dim::Sym("batch".into()), Dim::Fixed(128), Dim::Dyn], ElemType::F32);
        assert_eq!(t.to_string(), "tensor<[batch]x128x?xf32>");
        let q = ElemType::Quant(Box::new(QuantInt {
            width: 6,
            signed: true,
            params: QuantParams::PerTensor { scale: 0.0123, zp: 0 },
        }));
        assert_eq!(TensorType::fixed(&[], q).to_string(), "tensor<!quant.int<w=6, signed, scale=0.0123, zp=0>>");
    }
}
