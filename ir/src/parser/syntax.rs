//! The checks the grammar's actions make while building the syntax tree:
//! element type keywords, the parameters of `!quant.int` / `!quant.bin`,
//! tensor sizes, and small integers (indices, counts, line numbers). Each
//! returns a [`SyntaxError`] located at the offending text.
//!
//! Invariants: every [`Type`] the grammar builds went through here, so it
//! satisfies the invariants of [`crate::types`] (widths 1..=64, quantized
//! widths 1..=32, per-channel lists of equal length, positive finite
//! scales) and its static element count fits in an `i64`.

use super::ast::ByteSpan;
use super::lexer::Tok;
use crate::types::{Dim, ElemType, QuantBin, QuantInt, QuantParams, TensorType, Type};
use lalrpop_util::ParseError;

/// Turns a check's error into the grammar's error type.
pub fn user<'a, T>(r: Result<T, SyntaxError>) -> Result<T, ParseError<usize, Tok<'a>, SyntaxError>> {
    r.map_err(|error| ParseError::User { error })
}

/// A lexical or grammatical error, located in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub span: ByteSpan,
    /// Notes without a span ("did you mean ...").
    pub notes: Vec<String>,
}

impl SyntaxError {
    pub fn new(message: impl Into<String>, span: ByteSpan) -> Self {
        SyntaxError { message: message.into(), span, notes: Vec::new() }
    }

    fn with_note(mut self, note: Option<String>) -> Self {
        self.notes.extend(note);
        self
    }
}

/// A number as written in quantization parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(x) => x,
        }
    }
}

/// The value of one quantization parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A bare flag: `signed`.
    Flag,
    One(Number),
    List(Vec<Number>),
}

/// `key`, `key=value` or `key=[values]` inside `!quant.int<...>`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantParam<'a> {
    pub key: &'a str,
    pub value: ParamValue,
    pub span: ByteSpan,
}

const ELEM_KEYWORDS: [&str; 13] =
    ["f16", "bf16", "f32", "f64", "bool", "i1", "i8", "i16", "i32", "i64", "u8", "u32", "u64"];

/// A builtin element type keyword.
pub fn elem_keyword(word: &str, span: ByteSpan) -> Result<ElemType, SyntaxError> {
    ElemType::from_keyword(word).ok_or_else(|| {
        let message = if word.starts_with(['i', 'u']) && word[1..].bytes().all(|b| b.is_ascii_digit()) {
            format!("invalid integer type '{word}': the width must be 1 to 64")
        } else {
            format!("unknown type '{word}'")
        };
        let suggestions = crate::diag::closest(word, ELEM_KEYWORDS.iter().copied());
        SyntaxError::new(message, span).with_note(crate::diag::did_you_mean(&suggestions))
    })
}

/// A tensor type; its static element count must fit in an `i64`.
pub fn tensor_type(dims: Vec<Dim>, elem: ElemType, span: ByteSpan) -> Result<Type, SyntaxError> {
    let mut count: i64 = 1;
    for d in &dims {
        if let Dim::Fixed(n) = d {
            count = i64::try_from(*n)
                .ok()
                .and_then(|n| count.checked_mul(n))
                .ok_or_else(|| SyntaxError::new("tensor type has too many elements (more than 2^63 - 1)", span))?;
        }
    }
    Ok(Type::Tensor(TensorType::new(dims, elem)))
}

/// A non-negative integer that fits in a `u32` (an index, a count, a line).
pub fn small_uint(value: i64, what: &str, span: ByteSpan) -> Result<u32, SyntaxError> {
    u32::try_from(value).map_err(|_| SyntaxError::new(format!("{what} must be between 0 and {}", u32::MAX), span))
}

/// `!quant.int<...>` or `!quant.bin<...>`.
pub fn dialect_type(name: &str, params: Vec<QuantParam>, span: ByteSpan) -> Result<ElemType, SyntaxError> {
    let mut params = Params::new(params, span)?;
    let elem = match name {
        "quant.int" => ElemType::Quant(Box::new(quant_int(&mut params)?)),
        "quant.bin" => ElemType::Bin(Box::new(quant_bin(&mut params)?)),
        _ => {
            let suggestions = crate::diag::closest(name, ["quant.int", "quant.bin"].into_iter());
            let suggestions: Vec<String> = suggestions.iter().map(|s| format!("!{s}")).collect();
            let suggestions: Vec<&str> = suggestions.iter().map(String::as_str).collect();
            return Err(SyntaxError::new(format!("unknown dialect type '!{name}'"), span)
                .with_note(crate::diag::did_you_mean(&suggestions)));
        }
    };
    params.finish(name)?;
    Ok(elem)
}

fn quant_int(p: &mut Params) -> Result<QuantInt, SyntaxError> {
    let (width, width_span) = p.int("w")?;
    let width = u8::try_from(width)
        .ok()
        .filter(|w| (1..=32).contains(w))
        .ok_or_else(|| SyntaxError::new("quantized width 'w' must be 1 to 32", width_span))?;
    let signed = match (p.flag("signed"), p.flag("unsigned")) {
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (Some(_), Some(s)) => return Err(SyntaxError::new("'signed' and 'unsigned' both given", s)),
        (None, None) => return Err(SyntaxError::new("!quant.int needs 'signed' or 'unsigned'", p.span)),
    };
    let params = if p.has("axis") {
        let axis = p.axis()?;
        let (scales, _) = p.scales()?;
        let (zps, zps_span) = p.int_list("zps")?;
        if zps.len() != scales.len() {
            let message = format!("'zps' has {} values but 'scales' has {}; they must match", zps.len(), scales.len());
            return Err(SyntaxError::new(message, zps_span));
        }
        QuantParams::PerChannel { axis, scales, zps }
    } else {
        let scale = p.scale()?;
        let (zp, _) = p.int("zp")?;
        QuantParams::PerTensor { scale, zp }
    };
    Ok(QuantInt { width, signed, params })
}

fn quant_bin(p: &mut Params) -> Result<QuantBin, SyntaxError> {
    if p.has("axis") {
        let axis = p.axis()?;
        let (scales, _) = p.scales()?;
        Ok(QuantBin::PerChannel { axis, scales })
    } else {
        Ok(QuantBin::PerTensor { scale: p.scale()? })
    }
}

/// The parameters of one dialect type, consumed by name.
struct Params<'a> {
    items: Vec<Option<QuantParam<'a>>>,
    span: ByteSpan,
}

impl<'a> Params<'a> {
    fn new(items: Vec<QuantParam<'a>>, span: ByteSpan) -> Result<Self, SyntaxError> {
        for (i, p) in items.iter().enumerate() {
            if items[..i].iter().any(|q| q.key == p.key) {
                return Err(SyntaxError::new(format!("parameter '{}' is given twice", p.key), p.span));
            }
        }
        Ok(Params { items: items.into_iter().map(Some).collect(), span })
    }

    fn has(&self, key: &str) -> bool {
        self.items.iter().flatten().any(|p| p.key == key)
    }

    fn take(&mut self, key: &str) -> Option<QuantParam<'a>> {
        self.items.iter_mut().find(|p| p.as_ref().is_some_and(|p| p.key == key)).and_then(Option::take)
    }

    fn require(&mut self, key: &str) -> Result<QuantParam<'a>, SyntaxError> {
        self.take(key).ok_or_else(|| SyntaxError::new(format!("missing parameter '{key}'"), self.span))
    }

    fn flag(&mut self, key: &str) -> Option<ByteSpan> {
        let p = self.take(key)?;
        Some(p.span)
    }

    fn int(&mut self, key: &str) -> Result<(i64, ByteSpan), SyntaxError> {
        let p = self.require(key)?;
        match p.value {
            ParamValue::One(Number::Int(i)) => Ok((i, p.span)),
            _ => Err(SyntaxError::new(format!("'{key}' must be an integer"), p.span)),
        }
    }

    fn axis(&mut self) -> Result<u32, SyntaxError> {
        let (axis, span) = self.int("axis")?;
        small_uint(axis, "'axis'", span)
    }

    fn scale(&mut self) -> Result<f64, SyntaxError> {
        let p = self.require("scale")?;
        match p.value {
            ParamValue::One(n) => check_scale(n.as_f64(), p.span),
            _ => Err(SyntaxError::new("'scale' must be a number", p.span)),
        }
    }

    fn scales(&mut self) -> Result<(Vec<f64>, ByteSpan), SyntaxError> {
        let p = self.require("scales")?;
        let ParamValue::List(values) = p.value else {
            return Err(SyntaxError::new("'scales' must be a list of numbers", p.span));
        };
        let scales = values.iter().map(|n| check_scale(n.as_f64(), p.span)).collect::<Result<_, _>>()?;
        Ok((scales, p.span))
    }

    fn int_list(&mut self, key: &str) -> Result<(Vec<i64>, ByteSpan), SyntaxError> {
        let p = self.require(key)?;
        let ints = match &p.value {
            ParamValue::List(values) => values
                .iter()
                .map(|n| match n {
                    Number::Int(i) => Some(*i),
                    Number::Float(_) => None,
                })
                .collect::<Option<Vec<i64>>>(),
            _ => None,
        };
        ints.map(|v| (v, p.span)).ok_or_else(|| SyntaxError::new(format!("'{key}' must be a list of integers"), p.span))
    }

    /// Errors on a parameter nobody asked for.
    fn finish(self, name: &str) -> Result<(), SyntaxError> {
        match self.items.into_iter().flatten().next() {
            Some(p) => Err(SyntaxError::new(format!("unexpected parameter '{}' for !{name}", p.key), p.span)),
            None => Ok(()),
        }
    }
}

fn check_scale(scale: f64, span: ByteSpan) -> Result<f64, SyntaxError> {
    if scale.is_finite() && scale > 0.0 {
        Ok(scale)
    } else {
        Err(SyntaxError::new(format!("scale {scale} must be positive and finite"), span))
    }
}
