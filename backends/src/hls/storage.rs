//! Where every value of the compiled function lives in the generated C++,
//! and the packed weight file.
//!
//! - Integer values (plain, `!quant.int`, `!quant.bin`, bool) live in the
//!   DDR arena `act_i` as one `int64_t` each (the stored integer);
//!   f32 values in the DDR arena `act_f`. Each value gets its own region
//!   (no reuse yet). Function arguments are read from their input ports.
//! - Constants of at most [`INLINE_LIMIT`] elements become `static const`
//!   arrays in kernel.cpp; larger ones (and every operand of a
//!   `quant.qmatmul`) are packed into `weights.bin`: an integer of W bits
//!   takes W bits (`64 / W` fields per 64-bit word, low bits first, no field
//!   straddles two words; binary weights 1 bit), an f32 32 bits.
//! - `nn.reshape` does not move data: its result shares its operand's place.
//!
//! Invariants: every value an emitted op reads has a place before the op
//! is emitted (block order); offsets are deterministic (assigned in op
//! order); the weight file is the concatenation of the constants' words in
//! op order and the manifest lists each with its offset.

use super::text::{f32_literal, i64_literal, Names};
use std::collections::HashMap;
use weft_ir::{ElemType, Tensor, TensorData, Value};

/// Constants of at most this many elements are inlined in kernel.cpp.
pub const INLINE_LIMIT: u64 = 16;

/// How a value's elements are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Stored integers, read as `int64_t`.
    Int,
    /// IEEE single precision.
    F32,
}

/// The storage class of an element type, or why it has none.
pub fn class_of(elem: &ElemType) -> Result<Class, String> {
    match elem {
        ElemType::F32 => Ok(Class::F32),
        ElemType::Int { .. } | ElemType::Quant(_) | ElemType::Bin(_) | ElemType::Bool => Ok(Class::Int),
        other => Err(format!("the HLS backend has no storage for {other} tensors (f32 and integer types only)")),
    }
}

/// The bits and signedness of one packed integer element.
pub fn packed_format(elem: &ElemType) -> (u8, bool) {
    match elem {
        ElemType::Int { width, signed } => (*width, *signed),
        ElemType::Quant(q) => (q.width, q.signed),
        _ => (1, false),
    }
}

/// The place of one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// `act_i[offset + i]` or `act_f[offset + i]`.
    Arena { class: Class, offset: u64 },
    /// An input port of the top function.
    Input { class: Class, name: String },
    /// A `static const` array in kernel.cpp.
    Inline { name: String },
    /// Packed in weights.bin from word `word`.
    Packed { class: Class, word: u64, width: u8, signed: bool },
}

impl Place {
    /// A C++ expression reading element `idx` (an `int64_t` for integers,
    /// a `float` for f32).
    pub fn read(&self, idx: &str) -> String {
        match self {
            Place::Arena { class: Class::Int, offset } => format!("act_i[{offset}LL + ({idx})]"),
            Place::Arena { class: Class::F32, offset } => format!("act_f[{offset}LL + ({idx})]"),
            Place::Input { name, .. } | Place::Inline { name } => format!("{name}[{idx}]"),
            Place::Packed { class: Class::F32, word, .. } => format!("w_load_f32(weights + {word}, {idx})"),
            Place::Packed { word, width, signed, .. } => {
                let f = if *signed { "w_load_signed" } else { "w_load_unsigned" };
                format!("{f}(weights + {word}, {idx}, {width}, {})", per_word(*width))
            }
        }
    }

    /// A C++ lvalue for element `idx` of an arena value (`None` for
    /// read-only places).
    pub fn write(&self, idx: &str) -> Option<String> {
        match self {
            Place::Arena { .. } => Some(self.read(idx)),
            _ => None,
        }
    }
}

/// Fields of `width` bits per 64-bit word.
pub fn per_word(width: u8) -> u32 {
    64 / u32::from(width.clamp(1, 64))
}

/// One constant in weights.bin.
#[derive(Debug, Clone)]
pub struct ManifestEntry {
    pub name: String,
    pub word: u64,
    pub words: u64,
    pub elem: String,
    pub shape: Vec<u64>,
}

/// The places of all values, the arenas' sizes, the inline constants and
/// the weight file.
#[derive(Debug, Default)]
pub struct Storage {
    places: HashMap<Value, Place>,
    pub act_i_words: u64,
    pub act_f_words: u64,
    pub weights: Vec<u64>,
    pub manifest: Vec<ManifestEntry>,
    /// `static const ...` definitions of the inline constants.
    pub inline_defs: String,
    pub names: Names,
}

impl Storage {
    pub fn place(&self, v: Value) -> Option<&Place> {
        self.places.get(&v)
    }

    pub fn set(&mut self, v: Value, p: Place) {
        self.places.insert(v, p);
    }

    /// A fresh arena region of `n` elements.
    pub fn alloc(&mut self, v: Value, class: Class, n: u64) -> Place {
        let words = match class {
            Class::Int => &mut self.act_i_words,
            Class::F32 => &mut self.act_f_words,
        };
        let p = Place::Arena { class, offset: *words };
        *words += n;
        self.places.insert(v, p.clone());
        p
    }

    /// Places a constant: inline when small and `may_inline`, else packed.
    pub fn constant(&mut self, v: Value, t: &Tensor, label: &str, may_inline: bool) -> Result<(), String> {
        let class = class_of(&t.elem)?;
        let place = if may_inline && t.numel() <= INLINE_LIMIT {
            let name = self.names.fresh("k_", label);
            self.inline_defs.push_str(&inline_definition(&name, t, class)?);
            Place::Inline { name }
        } else {
            self.pack(t, class, label)?
        };
        self.places.insert(v, place);
        Ok(())
    }

    fn pack(&mut self, t: &Tensor, class: Class, label: &str) -> Result<Place, String> {
        let word = self.weights.len() as u64;
        let (width, signed) = match class {
            Class::F32 => (32, false),
            Class::Int => packed_format(&t.elem),
        };
        match (&t.data, class) {
            (TensorData::F32(v), Class::F32) => {
                pack_fields(&mut self.weights, v.iter().map(|f| u64::from(f.to_bits())), 32)
            }
            (TensorData::Int(v), Class::Int) => pack_fields(&mut self.weights, v.iter().map(|&x| x as u64), width),
            _ => return Err(format!("constant '{label}' holds data that does not match its type {}", t.elem)),
        }
        let words = self.weights.len() as u64 - word;
        self.manifest.push(ManifestEntry {
            name: label.to_string(),
            word,
            words,
            elem: t.elem.to_string(),
            shape: t.shape.clone(),
        });
        Ok(Place::Packed { class, word, width, signed })
    }
}

/// Appends `values` as fields of `width` bits, `64 / width` per word.
fn pack_fields(out: &mut Vec<u64>, values: impl Iterator<Item = u64>, width: u8) {
    let per = per_word(width) as usize;
    let mask = if width >= 64 { u64::MAX } else { (1u64 << width) - 1 };
    let mut word = 0u64;
    let mut filled = 0usize;
    for v in values {
        word |= (v & mask) << (filled * usize::from(width.min(64)) % 64);
        filled += 1;
        if filled == per {
            out.push(word);
            word = 0;
            filled = 0;
        }
    }
    if filled > 0 {
        out.push(word);
    }
}

fn inline_definition(name: &str, t: &Tensor, class: Class) -> Result<String, String> {
    let items: Vec<String> = match (&t.data, class) {
        (TensorData::F32(v), Class::F32) => v.iter().map(|&f| f32_literal(f)).collect(),
        (TensorData::Int(v), Class::Int) => v.iter().map(|&x| i64_literal(x)).collect(),
        _ => return Err(format!("constant '{name}' holds data that does not match its type {}", t.elem)),
    };
    let ty = if class == Class::F32 { "float" } else { "long long" };
    let items = if items.is_empty() { "0".to_string() } else { items.join(", ") };
    Ok(format!("static const {ty} {name}[] = {{{items}}};  // {}\n", t.ty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_pack_low_bits_first_without_straddling() {
        let mut out = Vec::new();
        pack_fields(&mut out, [1u64, 0, 1, 1].into_iter(), 1);
        assert_eq!(out, vec![0b1101]);
        let mut out = Vec::new();
        // -1 and 2 as 4-bit fields, then a third word-filling test at 3 bits.
        pack_fields(&mut out, [(-1i64) as u64, 2].into_iter(), 4);
        assert_eq!(out, vec![0x2f]);
        let mut out = Vec::new();
        pack_fields(&mut out, std::iter::repeat_n(7u64, 22), 3);
        assert_eq!(out.len(), 2, "21 fields of 3 bits per word");
        assert_eq!(out[1], 7);
    }

    #[test]
    fn places_read_as_cpp() {
        let p = Place::Packed { class: Class::Int, word: 4, width: 8, signed: true };
        assert_eq!(p.read("i"), "w_load_signed(weights + 4, i, 8, 8)");
        assert_eq!(Place::Arena { class: Class::F32, offset: 3 }.read("o"), "act_f[3LL + (o)]");
        assert!(Place::Inline { name: "k".into() }.write("0").is_none());
    }
}
