//! Attributes from their syntax tree: every value checked against what the
//! IR's invariants demand, above all dense literals against their tensor
//! types (shape and nesting, literal kinds, integer ranges, size limit).
//!
//! Invariants: a [`DenseAttr`] built here has a static tensor type and holds
//! one element (a splat, or the value of a rank-0 tensor) or exactly as many
//! as its type; a literal of more than [`MAX_MATERIALIZED_ELEMENTS`]
//! elements is refused before any storage is allocated; `f32` elements are
//! parsed from their text directly, so the printer's shortest form reads
//! back to the same bits.

use super::ast::{AttrAst, AttrAstKind, AttrEntry, ByteSpan, DenseLit, ScalarLit};
use crate::attr::{Attribute, DenseAttr};
use crate::module::Attrs;
use crate::tensor::{Scalar, TensorData, MAX_MATERIALIZED_ELEMENTS};
use crate::types::{Dim, ElemType, TensorType, Type};
use crate::{Diagnostic, FileId, Span};

/// Converts attributes of one source file.
pub struct AttrBuilder<'t> {
    pub file: FileId,
    pub text: &'t str,
}

impl AttrBuilder<'_> {
    fn span(&self, s: ByteSpan) -> Span {
        Span::new(self.file, s.0, s.1)
    }

    fn error<T>(&self, message: impl Into<String>, s: ByteSpan) -> Result<T, Diagnostic> {
        Err(Diagnostic::error(message, self.span(s)))
    }

    /// An attribute dictionary; errors (bad values, duplicate names) are
    /// pushed to `diags` and the entry left out.
    pub fn dict(&self, entries: Vec<AttrEntry<'_>>, diags: &mut Vec<Diagnostic>) -> Attrs {
        let mut attrs = Attrs::new();
        for (i, entry) in entries.iter().enumerate() {
            if let Some(prev) = entries[..i].iter().find(|e| e.name == entry.name) {
                diags.push(
                    Diagnostic::error(format!("duplicate attribute '{}'", entry.name), self.span(entry.span))
                        .note_at("first given here", self.span(prev.span)),
                );
            }
        }
        for entry in entries {
            if attrs.contains_key(entry.name) {
                continue;
            }
            match self.attr(entry.value) {
                Ok(value) => {
                    attrs.insert(entry.name.to_string(), value);
                }
                Err(d) => diags.push(d),
            }
        }
        attrs
    }

    pub fn attr(&self, a: AttrAst<'_>) -> Result<Attribute, Diagnostic> {
        Ok(match a.kind {
            AttrAstKind::Int(i) => Attribute::Int(i),
            AttrAstKind::Float(x) => Attribute::Float(x),
            AttrAstKind::Str(s) => Attribute::Str(s.into_owned()),
            AttrAstKind::Bool(b) => Attribute::Bool(b),
            AttrAstKind::Array(items) => {
                Attribute::Array(items.into_iter().map(|item| self.attr(item)).collect::<Result<_, _>>()?)
            }
            AttrAstKind::Type(t) => Attribute::Type(t),
            AttrAstKind::Dense { literal, ty, ty_span } => {
                let ty = self.static_tensor(ty, ty_span, "dense")?;
                Attribute::Dense(self.dense(&literal, ty)?)
            }
            AttrAstKind::Resource { name, ty, ty_span } => {
                if name.is_empty() {
                    return self.error("resource name is empty", a.span);
                }
                let ty = self.static_tensor(ty, ty_span, "dense_resource")?;
                Attribute::Resource { name: name.into_owned(), ty }
            }
        })
    }

    /// The tensor type of a `dense` / `dense_resource` attribute, which must
    /// have a static shape.
    fn static_tensor(&self, ty: Type, span: ByteSpan, what: &str) -> Result<TensorType, Diagnostic> {
        let Type::Tensor(t) = ty else {
            return self.error(format!("{what} needs a tensor type, found '{ty}'"), span);
        };
        if let Some((i, d)) = t.dims.iter().enumerate().find(|(_, d)| d.fixed().is_none()) {
            let kind = if matches!(d, Dim::Dyn) { "dynamic" } else { "symbolic" };
            return self
                .error(format!("{what} needs a static shape, but dimension {i} of '{t}' is {kind} ('{d}')"), span);
        }
        Ok(t)
    }

    fn dense(&self, literal: &DenseLit, ty: TensorType) -> Result<DenseAttr, Diagnostic> {
        let shape: Vec<u64> = ty.dims.iter().filter_map(Dim::fixed).collect();
        // The grammar bounds the product of the dims by i64::MAX.
        let count = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).unwrap_or(u64::MAX);
        let data = match literal {
            DenseLit::Scalar(s, span) => {
                let mut data = TensorData::empty_for(&ty.elem, 1);
                data.push(self.element(*s, *span, &ty.elem)?);
                data
            }
            DenseLit::List(_, span) => {
                if count > MAX_MATERIALIZED_ELEMENTS {
                    return self.error(
                        format!(
                            "a dense literal of {count} elements is larger than the limit of \
                             {MAX_MATERIALIZED_ELEMENTS}; keep the data in a resource (dense_resource)"
                        ),
                        *span,
                    );
                }
                let mut data = TensorData::empty_for(&ty.elem, count as usize);
                self.fill(literal, &shape, &ty, &mut data)?;
                data
            }
        };
        Ok(DenseAttr { ty, data })
    }

    /// Appends the elements of `lit`, which must be nested like `dims`.
    fn fill(&self, lit: &DenseLit, dims: &[u64], ty: &TensorType, data: &mut TensorData) -> Result<(), Diagnostic> {
        let level = ty.rank() - dims.len();
        match (lit, dims.split_first()) {
            (DenseLit::Scalar(s, span), None) => {
                data.push(self.element(*s, *span, &ty.elem)?);
                Ok(())
            }
            (DenseLit::List(_, span), None) => self
                .error(format!("expected a single element here ('{ty}' has rank {}), found a list", ty.rank()), *span),
            (DenseLit::Scalar(_, span), Some((&n, _))) => self.error(
                format!(
                    "expected a list of {n} element{} (dimension {level} of '{ty}'), found a single element",
                    if n == 1 { "" } else { "s" }
                ),
                *span,
            ),
            (DenseLit::List(items, span), Some((&n, rest))) => {
                if items.len() as u64 != n {
                    return self.error(
                        format!("expected {n} elements (dimension {level} of '{ty}'), found {}", items.len()),
                        *span,
                    );
                }
                items.iter().try_for_each(|item| self.fill(item, rest, ty, data))
            }
        }
    }

    /// One literal element, checked against the element type.
    fn element(&self, s: ScalarLit, span: ByteSpan, elem: &ElemType) -> Result<Scalar, Diagnostic> {
        match (elem, s) {
            (ElemType::Bool, ScalarLit::Bool(b)) => Ok(Scalar::Int(i64::from(b))),
            (ElemType::Bool, _) => self.error("expected 'true' or 'false' in a tensor of bool", span),
            (_, ScalarLit::Bool(_)) => self.error(format!("a bool literal in a tensor of {elem}"), span),
            (ElemType::F32, ScalarLit::Float(x)) => {
                let text = self.text.get(span.0..span.1).unwrap_or_default();
                Ok(Scalar::Float(text.parse::<f32>().map_or(x, f64::from)))
            }
            (e, ScalarLit::Float(x)) if e.is_float() => Ok(Scalar::Float(x)),
            (e, ScalarLit::Int(i)) if e.is_float() => Ok(Scalar::Float(i as f64)),
            (_, ScalarLit::Float(_)) => self.error(format!("a float literal in a tensor of {elem}"), span),
            (_, ScalarLit::Int(i)) => {
                let (lo, hi) = int_range(elem);
                if (lo..=hi).contains(&i) {
                    Ok(Scalar::Int(i))
                } else {
                    self.error(format!("{i} is out of range for {elem} ({lo} to {hi})"), span)
                }
            }
        }
    }
}

/// The stored integers an integer-like element type admits.
fn int_range(elem: &ElemType) -> (i64, i64) {
    let (width, signed) = match elem {
        ElemType::Int { width, signed } => (*width, *signed),
        ElemType::Quant(q) => (q.width, q.signed),
        _ => (1, false),
    };
    let width = u32::from(width.clamp(1, 64));
    if signed {
        let half = 1i128 << (width - 1);
        (-half as i64, (half - 1) as i64)
    } else {
        let max = (1i128 << width) - 1;
        (0, max.min(i64::MAX as i128) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ranges() {
        assert_eq!(int_range(&ElemType::Int { width: 4, signed: true }), (-8, 7));
        assert_eq!(int_range(&ElemType::Int { width: 8, signed: false }), (0, 255));
        assert_eq!(int_range(&ElemType::I64), (i64::MIN, i64::MAX));
        assert_eq!(int_range(&ElemType::Int { width: 64, signed: false }), (0, i64::MAX));
        assert_eq!(int_range(&ElemType::Bin(Box::new(crate::types::QuantBin::PerTensor { scale: 1.0 }))), (0, 1));
    }
}
