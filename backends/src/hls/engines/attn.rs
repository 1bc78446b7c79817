//! The attention engine's C++: the whole left operand on chip (`M x K`),
//! a `K x t_out` column tile of the right one, `t_in x t_out` products per
//! cycle; one call per batch (head) of QK^T or AV.
//!
//! Loop order (spec/perf.md's attention model): load the left operand (one
//! burst through `act_stream`); for each block of `t_out` columns, load the
//! block of the right operand; for each row, sum `ceil(K / t_in)` blocks of
//! `t_in` products per column (pipelined, II=1), clamp and write: the row
//! is [`super::TILE_ROW`], which the FC engine shares.

use super::{fill, AttnShape, AttnTiling};

pub fn definition(t: AttnTiling, s: AttnShape) -> String {
    let kb = s.k_max.div_ceil(u64::from(t.t_in.max(1)));
    fill(
        ATTN,
        &[
            ("T_IN", t.t_in.to_string()),
            ("T_OUT", t.t_out.to_string()),
            ("M_MAX", s.m_max.to_string()),
            ("K_MAX", s.k_max.to_string()),
            ("KB", kb.to_string()),
            ("A_BITS", s.a_bits.to_string()),
            ("ACC_BITS", s.acc_bits.to_string()),
            ("B_BITS", s.b_bits.to_string()),
        ],
    )
}

const ATTN: &str = r#"// Attention engine: out[m][n] = clamp(sum_k (a[m][k] - za) * (b[k][n] - zb), lo, hi) for two
// packed activations (QK^T, AV), one batch (head) per call.
// hw.engine kind="attn": t_in = @T_IN@ and t_out = @T_OUT@ products per cycle; the left operand
// (M <= @M_MAX@ rows, K <= @K_MAX@: @KB@ blocks of t_in) stays on chip, the right one is read in
// column tiles of t_out.
typedef ap_int<@A_BITS@> attn_a_t;
typedef ap_int<@B_BITS@> attn_b_t;
typedef ap_int<@ACC_BITS@> attn_acc_t;  // no call's sum overflows it
static void attn_engine(const weft_word *a, long long a_at, int a_bits, int a_per, int a_signed, int64_t za,
                        const weft_word *b, long long b_at, int b_bits, int b_per, int b_signed, int64_t zb,
                        weft_word *out, long long out_at, int out_bits, int out_per, int M, int K, int N,
                        int64_t lo, int64_t hi) {
#pragma HLS INLINE off
  static attn_a_t a_buf[@M_MAX@][@KB@][@T_IN@];
#pragma HLS ARRAY_PARTITION variable=a_buf complete dim=3
  static attn_b_t b_tile[@KB@][@T_IN@][@T_OUT@];
#pragma HLS ARRAY_PARTITION variable=b_tile complete dim=2
#pragma HLS ARRAY_PARTITION variable=b_tile complete dim=3
  attn_acc_t zero[@T_OUT@] = {};
#pragma HLS ARRAY_PARTITION variable=zero complete
  const int kb_n = (K + @T_IN@ - 1) / @T_IN@;
  act_stream as = act_stream_of(a, a_bits, a_per, a_signed);
  for (int r = 0; r < M; ++r) {
    for (int k = 0; k < kb_n * @T_IN@; ++k) {
#pragma HLS PIPELINE II=1
      const long long idx = a_at + (long long)r * K + k;
      a_buf[r][k / @T_IN@][k % @T_IN@] = k < K ? q_wrap_sub(act_stream_get(as, idx), za) : 0;
    }
  }
  for (int n0 = 0; n0 < N; n0 += @T_OUT@) {
    act_stream bs = act_stream_of(b, b_bits, b_per, b_signed);
    for (int k = 0; k < kb_n * @T_IN@; ++k) {
      for (int j = 0; j < @T_OUT@; ++j) {
#pragma HLS PIPELINE II=1
        const int n = n0 + j;
        const long long idx = b_at + (long long)k * N + n;
        b_tile[k / @T_IN@][k % @T_IN@][j] = (k < K && n < N) ? q_wrap_sub(act_stream_get(bs, idx), zb) : 0;
      }
    }
    for (int r = 0; r < M; ++r) {
      tile_row<@KB@, @T_IN@, @T_OUT@>(a_buf[r], b_tile, zero, kb_n, out, out_at + (long long)r * N, n0, N, out_bits,
                                      out_per, lo, hi);
    }
  }
}

"#;
