//! The FC engine's C++: `t_m x K` activation tiles and `K x t_out` weight
//! tiles on chip, `t_in x t_out` multiply-accumulates per cycle.
//!
//! Loop order (spec/perf.md's FC model): for each tile of `t_m` rows, load
//! the rows' activations (one burst through `act_stream`); for each block of
//! `t_out` columns, load the block's weights and bias; for each row, sum
//! `ceil(K / t_in)` blocks of `t_in` products per column (pipelined, II=1),
//! then clamp and write the `t_out` results (packed): the row is
//! [`super::TILE_ROW`], which the attention engine shares.

use super::{fill, FcShape, FcTiling};

pub fn definition(t: FcTiling, s: FcShape) -> String {
    let kb = s.k_max.div_ceil(u64::from(t.t_in.max(1)));
    fill(
        FC,
        &[
            ("T_IN", t.t_in.to_string()),
            ("T_OUT", t.t_out.to_string()),
            ("T_M", t.t_m.to_string()),
            ("K_MAX", s.k_max.to_string()),
            ("KB", kb.to_string()),
            ("A_BITS", s.a_bits.to_string()),
            ("ACC_BITS", s.acc_bits.to_string()),
            ("W_BITS", s.w_bits.to_string()),
        ],
    )
}

const FC: &str = r#"// FC engine: out[m][n] = clamp(bias[n] + sum_k (a[m][k] - za) * (w[k][n] - wzp[n]), lo, hi).
// hw.engine kind="fc": t_in = @T_IN@ input channels and t_out = @T_OUT@ output channels per cycle,
// t_m = @T_M@ activation rows per tile; tiles sized for K <= @K_MAX@ (@KB@ blocks of t_in).
// a: packed activations from element a_at; w: K x N weights packed `wper` fields of `wbits`
// bits to a word (wbits = 1: binary, bit 1 = +1, bit 0 = -1); bias: N fields of `bbits` bits,
// `bper` to a word; out: packed results from element out_at.
typedef ap_int<@A_BITS@> fc_act_t;
typedef ap_int<@W_BITS@> fc_wt_t;
typedef ap_int<@ACC_BITS@> fc_acc_t;  // no call's sum overflows it
static void fc_engine(const weft_word *a, long long a_at, int a_bits, int a_per, int a_signed, int64_t za,
                      const weft_word *w, int wbits, int wsigned, int wper, const long long *wzp,
                      const weft_word *bias, int bbits, int bper, int has_bias, weft_word *out, long long out_at,
                      int out_bits, int out_per, int M, int K, int N, int64_t lo, int64_t hi) {
#pragma HLS INLINE off
  static fc_act_t a_tile[@T_M@][@KB@][@T_IN@];
#pragma HLS ARRAY_PARTITION variable=a_tile complete dim=3
  static fc_wt_t w_tile[@KB@][@T_IN@][@T_OUT@];
#pragma HLS ARRAY_PARTITION variable=w_tile complete dim=2
#pragma HLS ARRAY_PARTITION variable=w_tile complete dim=3
  fc_acc_t b_tile[@T_OUT@];
#pragma HLS ARRAY_PARTITION variable=b_tile complete
  const int kb_n = (K + @T_IN@ - 1) / @T_IN@;
  for (int m0 = 0; m0 < M; m0 += @T_M@) {
    const int rows = M - m0 < @T_M@ ? M - m0 : @T_M@;
    // Activation tile: rows x K centred values, the rows' words read once.
    act_stream as = act_stream_of(a, a_bits, a_per, a_signed);
    for (int r = 0; r < rows; ++r) {
      for (int k = 0; k < kb_n * @T_IN@; ++k) {
#pragma HLS PIPELINE II=1
        const long long idx = a_at + (long long)(m0 + r) * K + k;
        a_tile[r][k / @T_IN@][k % @T_IN@] = k < K ? q_wrap_sub(act_stream_get(as, idx), za) : 0;
      }
    }
    for (int n0 = 0; n0 < N; n0 += @T_OUT@) {
      // Weight tile: K x t_out centred weights of columns n0.. (each row's
      // words read once), and their bias.
      for (int j = 0; j < @T_OUT@; ++j) {
#pragma HLS PIPELINE II=1
        const int n = n0 + j;
        b_tile[j] = (has_bias && n < N) ? act_get(bias, n, bbits, bper, 1) : 0;
      }
      act_stream ws = act_stream_of(w, wbits, wper, wbits == 1 ? 0 : wsigned);
      for (int k = 0; k < kb_n * @T_IN@; ++k) {
        for (int j = 0; j < @T_OUT@; ++j) {
#pragma HLS PIPELINE II=1
          const int n = n0 + j;
          int64_t v = 0;
          if (k < K && n < N) {
            const int64_t q = act_stream_get(ws, (long long)k * N + n);
            v = wbits == 1 ? (q ? 1 : -1) : q_wrap_sub(q, wzp[n]);
          }
          w_tile[k / @T_IN@][k % @T_IN@][j] = v;
        }
      }
      for (int r = 0; r < rows; ++r) {
        tile_row<@KB@, @T_IN@, @T_OUT@>(a_tile[r], w_tile, b_tile, kb_n, out, out_at + (long long)(m0 + r) * N, n0, N,
                                        out_bits, out_per, lo, hi);
      }
    }
  }
}

"#;
