//! Where every value of the compiled function lives in the generated C++,
//! and the packed weight file.
//!
//! - Integer values (plain, `!quant.int`, `!quant.bin`, bool) live in the
//!   DDR arena `act_i` of `weft_word`s (`word_bits` wide: tile-and-pack's
//!   AXI word), packed at their own width: a value of `b` bits takes
//!   `word_bits / b` fields per word (cpp/weft_pack.h). f32 values live in
//!   the DDR arena `act_f`, one `float` each. Regions start on a word and
//!   are reused once their value is dead ([`arena`]). Function arguments
//!   are read from their input ports.
//! - Constants of at most [`INLINE_LIMIT`] elements become `static const`
//!   arrays in kernel.cpp; larger ones (and every operand of a
//!   `quant.qmatmul`) are packed into `weights.bin` in the same
//!   `weft_word`s: an integer of `b` bits takes a `b`-bit field
//!   (`word_bits / b` per word, low bits first, no field straddles two
//!   words; binary weights 1 bit), an f32 32 bits; each constant starts on
//!   a word.
//! - `nn.reshape` and `quant.storage_cast` do not move data: the result
//!   shares its operand's place (and so its packing).
//!
//! Invariants: every value an emitted op reads has a place before the op
//! is emitted (block order); offsets are deterministic (assigned in op
//! order); the weight file is the concatenation of the constants' words in
//! op order and the manifest lists each with its offset.

pub mod arena;

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
        ElemType::Int { width, .. } if *width > 64 => {
            Err(format!("the HLS backend has no storage for {elem} tensors (at most 64 bits)"))
        }
        ElemType::Quant(q) if q.width > 64 => {
            Err(format!("the HLS backend has no storage for {elem} tensors (at most 64 bits)"))
        }
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
    /// Integers packed in `act_i` from word `word`: fields of `bits` bits,
    /// `per` to a word, sign-extended when `signed`.
    Act { word: u64, bits: u8, signed: bool, per: u32 },
    /// `act_f[offset + i]`.
    Floats { offset: u64 },
    /// An input port of the top function.
    Input { class: Class, name: String },
    /// A `static const` array in kernel.cpp.
    Inline { name: String },
    /// Packed in weights.bin from word `word`, `per` fields of `width` bits
    /// to a word.
    Packed { class: Class, word: u64, width: u8, signed: bool, per: u32 },
}

impl Place {
    /// A C++ expression reading element `idx` (an `int64_t` for integers,
    /// a `float` for f32).
    pub fn read(&self, idx: &str) -> String {
        match self {
            Place::Act { word, bits, signed, per } => {
                format!("act_get(act_i + {word}LL, {idx}, {bits}, {per}, {})", i32::from(*signed))
            }
            Place::Floats { offset } => format!("act_f[{offset}LL + ({idx})]"),
            Place::Input { name, .. } | Place::Inline { name } => format!("{name}[{idx}]"),
            Place::Packed { class: Class::F32, word, per, .. } => {
                format!("act_f32(act_get(weights + {word}LL, {idx}, 32, {per}, 0))")
            }
            Place::Packed { word, width, signed, per, .. } => {
                format!("act_get(weights + {word}LL, {idx}, {width}, {per}, {})", i32::from(*signed))
            }
        }
    }

    /// A C++ statement storing `value` (an `int64_t` for integers, a
    /// `float` for f32) as element `idx` of an arena value; an error for
    /// read-only places.
    pub fn store(&self, idx: &str, value: &str) -> Result<String, String> {
        match self {
            Place::Act { word, bits, per, .. } => {
                Ok(format!("act_put(act_i + {word}LL, {idx}, {bits}, {per}, {value});"))
            }
            Place::Floats { .. } => Ok(format!("{} = {value};", self.read(idx))),
            _ => Err("a result must be stored in an arena (internal error)".into()),
        }
    }

    /// The start of an integer arena value: the `weft_word` pointer.
    pub fn act_base(&self) -> Option<String> {
        match self {
            Place::Act { word, .. } => Some(format!("act_i + {word}LL")),
            _ => None,
        }
    }
}

/// Fields of `width` bits per word of `word_bits` bits.
pub fn fields_per_word(width: u8, word_bits: u32) -> u32 {
    word_bits.max(64) / u32::from(width.clamp(1, 64))
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
#[derive(Debug)]
pub struct Storage {
    places: HashMap<Value, Place>,
    /// The AXI word of `act_i` in bits (64, 128 or 512).
    pub word_bits: u32,
    /// `act_i` in words, `act_f` in floats.
    pub act_i: arena::Arena,
    pub act_f: arena::Arena,
    /// weights.bin as 64-bit lanes, `word_bits / 64` to a word.
    pub weights: Vec<u64>,
    pub manifest: Vec<ManifestEntry>,
    /// `static const ...` definitions of the inline constants.
    pub inline_defs: String,
    pub names: Names,
}

impl Storage {
    pub fn new(word_bits: u32) -> Storage {
        Storage {
            places: HashMap::new(),
            word_bits,
            act_i: arena::Arena::default(),
            act_f: arena::Arena::default(),
            weights: Vec::new(),
            manifest: Vec::new(),
            inline_defs: String::new(),
            names: Names::default(),
        }
    }

    pub fn place(&self, v: Value) -> Option<&Place> {
        self.places.get(&v)
    }

    pub fn set(&mut self, v: Value, p: Place) {
        self.places.insert(v, p);
    }

    /// An arena region for `n` elements of `elem`, for a value defined at
    /// op `now` and read until op `until`.
    pub fn alloc(&mut self, v: Value, elem: &ElemType, n: u64, now: usize, until: usize) -> Result<Place, String> {
        let p = match class_of(elem)? {
            Class::F32 => Place::Floats { offset: self.act_f.take(n, now, until) },
            Class::Int => {
                let (bits, signed) = packed_format(elem);
                let per = fields_per_word(bits, self.word_bits);
                let word = self.act_i.take(n.div_ceil(u64::from(per)), now, until);
                Place::Act { word, bits, signed, per }
            }
        };
        self.places.insert(v, p.clone());
        Ok(p)
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

    /// weights.bin's size in words.
    pub fn weight_words(&self) -> u64 {
        self.weights.len() as u64 / lanes(self.word_bits)
    }

    fn pack(&mut self, t: &Tensor, class: Class, label: &str) -> Result<Place, String> {
        let word = self.weight_words();
        let wb = self.word_bits;
        let (width, signed) = match class {
            Class::F32 => (32, false),
            Class::Int => packed_format(&t.elem),
        };
        match (&t.data, class) {
            (TensorData::F32(v), Class::F32) => {
                pack_fields(&mut self.weights, v.iter().map(|f| u64::from(f.to_bits())), 32, wb)
            }
            (TensorData::Int(v), Class::Int) => pack_fields(&mut self.weights, v.iter().map(|&x| x as u64), width, wb),
            _ => return Err(format!("constant '{label}' holds data that does not match its type {}", t.elem)),
        }
        let words = self.weight_words() - word;
        self.manifest.push(ManifestEntry {
            name: label.to_string(),
            word,
            words,
            elem: t.elem.to_string(),
            shape: t.shape.clone(),
        });
        Ok(Place::Packed { class, word, width, signed, per: fields_per_word(width, wb) })
    }
}

/// 64-bit lanes per word of `word_bits` bits.
fn lanes(word_bits: u32) -> u64 {
    u64::from(word_bits.max(64) / 64)
}

/// Appends `values` as fields of `width` bits, `word_bits / width` per
/// word, each word as its 64-bit lanes (lowest first); a field may cross
/// from one lane into the next, never into the next word.
fn pack_fields(out: &mut Vec<u64>, values: impl Iterator<Item = u64>, width: u8, word_bits: u32) {
    let width = u32::from(width.clamp(1, 64));
    let per = fields_per_word(width as u8, word_bits);
    let mask = if width >= 64 { u64::MAX } else { (1u64 << width) - 1 };
    let mut word = vec![0u64; lanes(word_bits) as usize];
    let mut filled = 0u32;
    for v in values {
        let pos = filled * width;
        let (lane, shift) = ((pos / 64) as usize, pos % 64);
        let x = v & mask;
        if let Some(l) = word.get_mut(lane) {
            *l |= x << shift;
        }
        if shift + width > 64 {
            if let Some(l) = word.get_mut(lane + 1) {
                *l |= x >> (64 - shift);
            }
        }
        filled += 1;
        if filled == per {
            out.extend_from_slice(&word);
            word.iter_mut().for_each(|l| *l = 0);
            filled = 0;
        }
    }
    if filled > 0 {
        out.extend_from_slice(&word);
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
        pack_fields(&mut out, [1u64, 0, 1, 1].into_iter(), 1, 64);
        assert_eq!(out, vec![0b1101]);
        let mut out = Vec::new();
        // -1 and 2 as 4-bit fields, then a third word-filling test at 3 bits.
        pack_fields(&mut out, [(-1i64) as u64, 2].into_iter(), 4, 64);
        assert_eq!(out, vec![0x2f]);
        let mut out = Vec::new();
        pack_fields(&mut out, std::iter::repeat_n(7u64, 22), 3, 64);
        assert_eq!(out.len(), 2, "21 fields of 3 bits per word");
        assert_eq!(out[1], 7);
        // 128-bit words: 21 fields of 6 bits, the 11th across the lanes
        // (bits 60..66); the 22nd opens a new word of two lanes.
        let mut out = Vec::new();
        pack_fields(&mut out, std::iter::repeat_n(0b10_1011u64, 22), 6, 128);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0] >> 60, 0b1011);
        assert_eq!(out[1] & 0b11, 0b10);
        assert_eq!(out[1] >> 62, 0, "bits 126..128 are left empty");
        assert_eq!(out[2..], [0b10_1011, 0]);
    }

    #[test]
    fn places_read_as_cpp() {
        let p = Place::Packed { class: Class::Int, word: 4, width: 8, signed: true, per: 8 };
        assert_eq!(p.read("i"), "act_get(weights + 4LL, i, 8, 8, 1)");
        assert_eq!(Place::Floats { offset: 3 }.read("o"), "act_f[3LL + (o)]");
        assert_eq!(Place::Floats { offset: 3 }.store("o", "x").unwrap(), "act_f[3LL + (o)] = x;");
        let a = Place::Act { word: 2, bits: 4, signed: true, per: 32 };
        assert_eq!(a.read("o"), "act_get(act_i + 2LL, o, 4, 32, 1)");
        assert_eq!(a.store("o", "v").unwrap(), "act_put(act_i + 2LL, o, 4, 32, v);");
        assert!(Place::Inline { name: "k".into() }.store("0", "1").is_err());
    }
}
