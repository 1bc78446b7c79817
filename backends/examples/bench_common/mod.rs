//! What the GEMM benchmark programs share (included by `#[path]`, not an
//! example of its own): the MiniLM-L3 product shapes and the median.

/// `(name, m, n, k)` of MiniLM-L3's products at sequence length 128.
pub const MINILM_SHAPES: &[(&str, usize, usize, usize)] = &[
    ("qkv/out proj 128x384x384", 128, 384, 384),
    ("ffn up 128x384x1536", 128, 1536, 384),
    ("ffn down 128x1536x384", 128, 384, 1536),
    ("scores 128x32x128", 128, 128, 32),
    ("context 128x128x32", 128, 32, 128),
];

/// The median of `v` (the upper one for an even count); NaN when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
