//! The accelerator's engines, VAQF-style: one FC engine that executes every
//! `quant.qmatmul` with constant (packed) weights, one attention engine for
//! the products of two activations (QK^T and AV). Both take their sizes at
//! run time, so one circuit serves every layer; their loops are tiled by
//! [`Tiling`] (output columns processed in parallel, the reduction loop
//! pipelined), which a later search (tile-and-pack) will choose.
//!
//! Invariants: the engines compute `quant.qmatmul`'s `eval` exactly: the
//! bias (or 0) plus the products of centred operands, summed in 64-bit
//! two's complement, clamped to the accumulator's range; binary weights
//! contribute `+x` (bit 1) or `-x` (bit 0).

use std::fmt::Write as _;

/// The engines' parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Output columns the FC engine computes in parallel (unrolled MACs).
    pub fc_columns: u32,
    /// Output columns the attention engine computes in parallel.
    pub attn_columns: u32,
}

impl Default for Tiling {
    fn default() -> Tiling {
        Tiling { fc_columns: 16, attn_columns: 8 }
    }
}

impl Tiling {
    /// The engines' C++ definitions.
    pub fn definitions(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, "{}", FC.replace("TN", &self.fc_columns.max(1).to_string()));
        let _ = write!(s, "{}", ATTN.replace("TN", &self.attn_columns.max(1).to_string()));
        s
    }
}

pub const FC_FUNCTION: &str = "fc_engine";
pub const ATTN_FUNCTION: &str = "attn_engine";

const FC: &str = r#"// FC engine: out[m][n] = clamp(bias[n] + sum_k (a[m][k] - za) * (w[k][n] - wzp[n]), lo, hi).
// w: K x N weights packed `wper` fields of `wbits` bits per word (wbits = 1:
// binary, bit 1 = +1, bit 0 = -1); bias: N fields of `bbits` bits.
static void fc_engine(const int64_t *a, int64_t za, const uint64_t *w, int wbits, int wsigned, int wper,
                      const long long *wzp, const uint64_t *bias, int bbits, int has_bias, int64_t *out,
                      int M, int K, int N, int64_t lo, int64_t hi) {
#pragma HLS INLINE off
  int64_t acc[TN];
#pragma HLS ARRAY_PARTITION variable=acc complete
  for (int n0 = 0; n0 < N; n0 += TN) {
    for (int m = 0; m < M; ++m) {
      for (int j = 0; j < TN; ++j) {
#pragma HLS UNROLL
        const int n = n0 + j;
        acc[j] = (has_bias && n < N) ? w_load_signed(bias, n, bbits, 64 / bbits) : 0;
      }
      for (int k = 0; k < K; ++k) {
#pragma HLS PIPELINE II=1
        const int64_t x = q_wrap_sub(a[(long long)m * K + k], za);
        for (int j = 0; j < TN; ++j) {
#pragma HLS UNROLL
          const int n = n0 + j;
          if (n < N) {
            const long long idx = (long long)k * N + n;
            int64_t wv;
            if (wbits == 1) {
              wv = w_field(w, idx, 1, 64) ? 1 : -1;
            } else {
              const int64_t q = wsigned ? w_load_signed(w, idx, wbits, wper) : w_load_unsigned(w, idx, wbits, wper);
              wv = q_wrap_sub(q, wzp[n]);
            }
            acc[j] = q_wrap_add(acc[j], q_wrap_mul(x, wv));
          }
        }
      }
      for (int j = 0; j < TN; ++j) {
#pragma HLS UNROLL
        const int n = n0 + j;
        if (n < N) out[(long long)m * N + n] = q_clamp(acc[j], lo, hi);
      }
    }
  }
}

"#;

const ATTN: &str = r#"// Attention engine: out[m][n] = clamp(sum_k (a[m][k] - za) * (b[k][n] - zb), lo, hi)
// for two activations (QK^T, AV), one batch (head) per call.
static void attn_engine(const int64_t *a, int64_t za, const int64_t *b, int64_t zb, int64_t *out,
                        int M, int K, int N, int64_t lo, int64_t hi) {
#pragma HLS INLINE off
  int64_t acc[TN];
#pragma HLS ARRAY_PARTITION variable=acc complete
  for (int n0 = 0; n0 < N; n0 += TN) {
    for (int m = 0; m < M; ++m) {
      for (int j = 0; j < TN; ++j) {
#pragma HLS UNROLL
        acc[j] = 0;
      }
      for (int k = 0; k < K; ++k) {
#pragma HLS PIPELINE II=1
        const int64_t x = q_wrap_sub(a[(long long)m * K + k], za);
        for (int j = 0; j < TN; ++j) {
#pragma HLS UNROLL
          const int n = n0 + j;
          if (n < N) acc[j] = q_wrap_add(acc[j], q_wrap_mul(x, q_wrap_sub(b[(long long)k * N + n], zb)));
        }
      }
      for (int j = 0; j < TN; ++j) {
#pragma HLS UNROLL
        const int n = n0 + j;
        if (n < N) out[(long long)m * N + n] = q_clamp(acc[j], lo, hi);
      }
    }
  }
}

"#;
