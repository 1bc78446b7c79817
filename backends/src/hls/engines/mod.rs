//! The accelerator's engines, VAQF-style: one FC engine that executes every
//! `quant.qmatmul` with constant (packed) weights, one attention engine for
//! the products of two activations (QK^T and AV). Both take their sizes at
//! run time, so one circuit serves every layer; their parallelism and
//! on-chip tiles follow [`Tiling`], the parameters tile-and-pack chose
//! (`hw.engine`, spec/perf.md), and the static sizes of the tiles follow the
//! largest layer of the program ([`EngineUse`]).
//!
//! - FC ([`fc`]): `t_in x t_out` products per cycle (the input-channel
//!   block and the output columns unrolled, one adder tree per output),
//!   `t_m` activation rows per tile; the activation tile (`t_m` rows of the
//!   longest reduction) is read once per row tile, the weight tile (all K of
//!   `t_out` columns) once per row tile and column block.
//! - Attention ([`attn`]): `t_in x t_out` likewise; the whole left operand
//!   on chip, a column tile of the right one.
//!
//! Invariants: the engines compute `quant.qmatmul`'s `eval` exactly: the
//! bias (or 0) plus the products of centred operands, summed in 64-bit
//! two's complement (wrap-around addition is associative, so the adder
//! trees may sum in any order), clamped to the accumulator's range; binary
//! weights contribute `+x` (bit 1) or `-x` (bit 0). Tiles hold centred
//! operands, and accumulators their sums, in `ap_int`s wide enough for every
//! call's exact range (64 bits, which wrap like the 64-bit reference, when
//! more are needed); padding past K or N is 0 and is never written back.

mod attn;
mod fc;

use weft_ir::ops::quant::common::range_of;
use weft_ir::types::QuantInt;

pub const FC_FUNCTION: &str = "fc_engine";
pub const ATTN_FUNCTION: &str = "attn_engine";

/// The FC engine's parameters (`hw.engine kind = "fc"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FcTiling {
    /// Input channels per cycle (the unrolled reduction block).
    pub t_in: u32,
    /// Output channels per cycle (the unrolled columns).
    pub t_out: u32,
    /// Activation rows per on-chip tile.
    pub t_m: u32,
}

/// The attention engine's parameters (`hw.engine kind = "attn"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttnTiling {
    pub t_in: u32,
    pub t_out: u32,
}

/// The engines' parameters: what tile-and-pack chose, or the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    pub fc: FcTiling,
    pub attn: AttnTiling,
    /// Elements per cycle of the nonlinear loops (`hw.engine kind =
    /// "nonlinear"`): the `UNROLL factor` of their innermost loop.
    pub lanes: u32,
    /// The AXI word of the activation arena in bits: 64, 128 or 512.
    pub word_bits: u32,
}

impl Default for Tiling {
    fn default() -> Tiling {
        Tiling {
            fc: FcTiling { t_in: 4, t_out: 16, t_m: 8 },
            attn: AttnTiling { t_in: 4, t_out: 8 },
            lanes: 1,
            word_bits: 64,
        }
    }
}

/// The largest parallelism the backend accepts (larger values would
/// unroll beyond any FPGA).
pub const MAX_PARALLELISM: u32 = 1024;

impl Tiling {
    /// Why these parameters cannot be built, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        let params = [
            ("fc t_in", self.fc.t_in),
            ("fc t_out", self.fc.t_out),
            ("fc t_m", self.fc.t_m),
            ("attn t_in", self.attn.t_in),
            ("attn t_out", self.attn.t_out),
            ("nonlinear lanes", self.lanes),
        ];
        for (name, v) in params {
            if !(1..=MAX_PARALLELISM).contains(&v) {
                return Err(format!("engine parameter {name} = {v} is outside 1..={MAX_PARALLELISM}"));
            }
        }
        match self.word_bits {
            64 | 128 | 512 => Ok(()),
            w => Err(format!("the AXI word must be 64, 128 or 512 bits, got {w}")),
        }
    }

    /// Which directive follows which parameter, for the README and spec/hls.md.
    pub fn pragma_table(&self) -> String {
        let (f, a) = (self.fc, self.attn);
        let w = self.word_bits;
        format!(
            "| parameter (hw.engine) | value | drives |\n|---|---|---|\n\
| fc `t_in` | {} | `fc_engine`: `UNROLL` of the reduction block (adder tree of `t_in` products per output); `ARRAY_PARTITION complete dim=3` of `a_tile`, `dim=2` of `w_tile` |\n\
| fc `t_out` | {} | `fc_engine`: `UNROLL` of the output columns; `ARRAY_PARTITION complete` of `acc`, `b_tile` and `w_tile` `dim=3`; the weight tile's columns |\n\
| fc `t_m` | {} | `fc_engine`: rows of `a_tile`; the weights are streamed once per `t_m` rows |\n\
| attn `t_in` | {} | `attn_engine`: `UNROLL` of the reduction block; `ARRAY_PARTITION complete dim=3` of `a_buf`, `dim=2` of `b_tile` |\n\
| attn `t_out` | {} | `attn_engine`: `UNROLL` of the output columns; `ARRAY_PARTITION complete` of `acc` and `b_tile` `dim=3` |\n\
| nonlinear `lanes` | {} | `UNROLL factor` of the innermost loop of every nl op (with its `PIPELINE II=1`) |\n\
| `word_bits` | {w} | `weft_word` (kernel.h `WEFT_WORD_BITS`): the word of the `act_i` and `weights` ports; a `b`-bit activation or constant packs `{w} / b` to a word |\n",
            f.t_in, f.t_out, f.t_m, a.t_in, a.t_out, self.lanes
        )
    }
}

/// The FC engine's static sizes: the largest layer it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FcShape {
    /// The longest reduction.
    pub k_max: u64,
    /// Bits of the centred activations and weights in the tiles.
    pub a_bits: u32,
    pub w_bits: u32,
    /// Bits of the accumulators: no call's sum can overflow them.
    pub acc_bits: u32,
}

/// The attention engine's static sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttnShape {
    /// The most rows of the left operand (all on chip).
    pub m_max: u64,
    pub k_max: u64,
    pub a_bits: u32,
    pub b_bits: u32,
    pub acc_bits: u32,
}

/// An inclusive range of integers.
pub type Range = (i128, i128);

/// The engines a program calls, with the sizes their tiles need.
#[derive(Debug, Clone, Default)]
pub struct EngineUse {
    pub fc: Option<FcShape>,
    pub attn: Option<AttnShape>,
}

impl EngineUse {
    /// Records an FC call: reduction length, the ranges of the centred
    /// activations and weights, and of the bias ((0, 0) without one).
    pub fn add_fc(&mut self, k: u64, a: Range, w: Range, bias: Range) {
        let s = self.fc.get_or_insert(FcShape { k_max: 1, a_bits: 1, w_bits: 1, acc_bits: 1 });
        s.k_max = s.k_max.max(k);
        s.a_bits = s.a_bits.max(signed_bits(a.0, a.1));
        s.w_bits = s.w_bits.max(signed_bits(w.0, w.1));
        s.acc_bits = s.acc_bits.max(accumulator_bits(k, a, w, bias));
    }

    /// Records an attention call with the ranges of its centred operands.
    pub fn add_attn(&mut self, m: u64, k: u64, a: Range, b: Range) {
        let s = self.attn.get_or_insert(AttnShape { m_max: 1, k_max: 1, a_bits: 1, b_bits: 1, acc_bits: 1 });
        s.m_max = s.m_max.max(m);
        s.k_max = s.k_max.max(k);
        s.a_bits = s.a_bits.max(signed_bits(a.0, a.1));
        s.b_bits = s.b_bits.max(signed_bits(b.0, b.1));
        s.acc_bits = s.acc_bits.max(accumulator_bits(k, a, b, (0, 0)));
    }

    /// The C++ definitions of the engines the program calls.
    pub fn definitions(&self, t: &Tiling) -> String {
        let mut s = String::new();
        if self.fc.is_some() || self.attn.is_some() {
            s.push_str(TILE_ROW);
        }
        if let Some(shape) = self.fc {
            s.push_str(&fc::definition(t.fc, shape));
        }
        if let Some(shape) = self.attn {
            s.push_str(&attn::definition(t.attn, shape));
        }
        s
    }

    /// The engine functions called (for the ALLOCATION pragmas).
    pub fn functions(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.fc.is_some() {
            v.push(FC_FUNCTION);
        }
        if self.attn.is_some() {
            v.push(ATTN_FUNCTION);
        }
        v
    }
}

/// One output row of a tile product, shared by both engines: `T_OUT`
/// accumulators start from `init` (the bias, or zeros) and add, per block
/// of `T_IN` (pipelined, II=1), the adder tree of the block's products of
/// the row's centred left operand and each column of the right tile; the
/// results are clamped and written packed from `at + n0`, columns past
/// `N` skipped. Inlined, so each engine keeps its own circuit.
const TILE_ROW: &str = r#"template <int KB, int T_IN, int T_OUT, typename L, typename R, typename ACC>
static void tile_row(const L left[KB][T_IN], const R right[KB][T_IN][T_OUT], const ACC init[T_OUT], int kb_n,
                     weft_word *out, long long at, int n0, int N, int out_bits, int out_per, int64_t lo, int64_t hi) {
#pragma HLS INLINE
  ACC acc[T_OUT];
#pragma HLS ARRAY_PARTITION variable=acc complete
  for (int j = 0; j < T_OUT; ++j) {
#pragma HLS UNROLL
    acc[j] = init[j];
  }
  for (int kb = 0; kb < kb_n; ++kb) {
#pragma HLS PIPELINE II=1
    for (int j = 0; j < T_OUT; ++j) {
#pragma HLS UNROLL
      // Adder tree of t_in products.
      ACC sum = 0;
      for (int i = 0; i < T_IN; ++i) {
#pragma HLS UNROLL
        sum = q_wrap_add(sum, q_wrap_mul((int64_t)left[kb][i], (int64_t)right[kb][i][j]));
      }
      acc[j] = q_wrap_add(acc[j], sum);
    }
  }
  for (int j = 0; j < T_OUT; ++j) {
#pragma HLS PIPELINE II=1
    const int n = n0 + j;
    if (n < N) act_put(out, at + n, out_bits, out_per, q_clamp(acc[j], lo, hi));
  }
}

"#;

/// The fewest bits of a two's complement integer holding `lo..=hi`, at
/// most 64 (64-bit values wrap exactly like the reference's arithmetic).
pub fn signed_bits(lo: i128, hi: i128) -> u32 {
    let mut w = 1u32;
    while w < 64 {
        let half = 1i128 << (w - 1);
        if lo >= -half && hi < half {
            break;
        }
        w += 1;
    }
    w
}

/// The range of `x - zp` over the range of `q`, for every `zp` in `zps`.
pub fn centred_range(q: &QuantInt, zps: &[i64]) -> Range {
    let (lo, hi) = range_of(q);
    let zmin = zps.iter().copied().min().unwrap_or(0);
    let zmax = zps.iter().copied().max().unwrap_or(0);
    (i128::from(lo) - i128::from(zmax), i128::from(hi) - i128::from(zmin))
}

/// Bits of an accumulator holding `bias + sum of k products a * w`, and
/// every partial sum on the way, for any values in the ranges (at most 64:
/// a 64-bit accumulator wraps like the reference's).
pub fn accumulator_bits(k: u64, a: Range, w: Range, bias: Range) -> u32 {
    let mag = |r: Range| r.0.unsigned_abs().max(r.1.unsigned_abs());
    let bound = u128::from(k).saturating_mul(mag(a)).saturating_mul(mag(w)).saturating_add(mag(bias));
    let b = i128::try_from(bound).unwrap_or(i128::MAX);
    signed_bits(-b, b)
}

/// `text` with every `@NAME@` replaced by its value.
fn fill(text: &str, values: &[(&str, String)]) -> String {
    let mut s = text.to_string();
    for (k, v) in values {
        s = s.replace(&format!("@{k}@"), v);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_cover_the_centred_range() {
        assert_eq!(signed_bits(-128, 127), 8);
        assert_eq!(signed_bits(-255, 0), 9);
        assert_eq!(signed_bits(-1, 1), 2);
        assert_eq!(signed_bits(0, 0), 1);
        assert_eq!(signed_bits(i128::from(i64::MIN) - 5, 0), 64);
        // 64 products of 9-bit by 2-bit values: |sum| <= 64 * 256 * 1 = 2^14.
        assert_eq!(accumulator_bits(64, (-256, 255), (-1, 1), (0, 0)), 16);
        // A 32-bit bias dominates.
        assert_eq!(accumulator_bits(4, (-8, 7), (-8, 7), (-(1 << 31), (1 << 31) - 1)), 33);
        assert_eq!(accumulator_bits(u64::MAX, (0, i128::MAX), (1, 1), (0, 0)), 64);
    }

    #[test]
    fn tiles_follow_the_parameters_and_the_largest_layer() {
        let t = Tiling {
            fc: FcTiling { t_in: 3, t_out: 5, t_m: 7 },
            attn: AttnTiling { t_in: 2, t_out: 6 },
            lanes: 4,
            word_bits: 128,
        };
        let mut u = EngineUse::default();
        u.add_fc(10, (-256, 255), (-1, 1), (0, 0));
        u.add_fc(4, (-16, 15), (-128, 127), (0, 0));
        u.add_attn(17, 16, (-256, 255), (-256, 255));
        let c = u.definitions(&t);
        // ceil(10 / 3) = 4 blocks of 3 input channels, 7 rows, 5 columns.
        assert!(c.contains("static fc_act_t a_tile[7][4][3];"), "{c}");
        assert!(c.contains("static fc_wt_t w_tile[4][3][5];"), "{c}");
        assert!(c.contains("typedef ap_int<9> fc_act_t;") && c.contains("typedef ap_int<8> fc_wt_t;"), "{c}");
        // max(10 * 256 * 1, 4 * 16 * 128) = 8192 needs 15 bits; 16 * 256 * 256 = 2^20 needs 22.
        assert!(c.contains("typedef ap_int<15> fc_acc_t;") && c.contains("typedef ap_int<22> attn_acc_t;"), "{c}");
        assert!(c.contains("static attn_a_t a_buf[17][8][2];"), "{c}");
        assert!(c.contains("static attn_b_t b_tile[8][2][6];"), "{c}");
        assert_eq!(u.functions(), vec![FC_FUNCTION, ATTN_FUNCTION]);
        assert!(EngineUse::default().definitions(&t).is_empty());
        assert!(t.check().is_ok());
        let bad = Tiling { word_bits: 96, ..t };
        assert!(bad.check().unwrap_err().contains("96"));
        let zero = Tiling { lanes: 0, ..t };
        assert!(zero.check().unwrap_err().contains("lanes"));
    }
}
