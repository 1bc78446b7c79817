// weft_ops.h: written by weft. The scalar rules of weft's quant and nl
// dialects (spec/quant.md, spec/nl.md), bit for bit as the reference
// interpreter computes them:
// - quant: 64-bit two's complement, fixed-point multipliers applied with a
//   rounding right shift (ties toward +infinity), saturation to the result;
// - nl: exact 128-bit intermediates that saturate instead of wrapping, one
//   clamp to the declared result type at the end of each op.
#ifndef WEFT_OPS_H
#define WEFT_OPS_H

#include <cmath>
#include <cstdint>

#include "weft_types.h"

typedef __int128 wide_t;
typedef unsigned __int128 uwide_t;

static const wide_t WIDE_MAX = (wide_t)(((uwide_t)1 << 127) - 1);
static const wide_t WIDE_MIN = -WIDE_MAX - 1;

enum weft_rounding { ROUND_FLOOR = 0, ROUND_CEIL = 1, ROUND_NEAREST = 2 };

// ---- quant: 64-bit rules ----------------------------------------------------

// floor(v / 2^n + 1/2), without overflow for every v.
static inline int64_t q_round_shift(int64_t v, int n) {
    if (n == 0) return v;
    if (n > 63) return 0;
    return (v >> n) + ((v >> (n - 1)) & 1);
}

static inline int64_t q_sat_mul(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return ((a < 0) != (b < 0)) ? INT64_MIN : INT64_MAX;
    return r;
}

static inline int64_t q_sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t q_wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t q_wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t q_wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

static inline int64_t q_clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The fixed-point multiplier (m, n) applied to v: round(v * m / 2^n).
static inline int64_t q_apply(int64_t v, int64_t m, int n) { return q_round_shift(q_sat_mul(v, m), n); }

// round_half_even(x / scale) + zp, saturated to [lo, hi]; NaN gives zp.
static inline int64_t q_quantize(double x, double scale, int64_t zp, int64_t lo, int64_t hi) {
    if (std::isnan(x)) return q_clamp(zp, lo, hi);
    double v = std::nearbyint(x / scale) + (double)zp;
    if (v < (double)lo) return lo;
    if (v > (double)hi) return hi;
    return (int64_t)v;
}

// ---- nl: saturating 128-bit rules -------------------------------------------

static inline wide_t w_add(wide_t a, wide_t b) {
    wide_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? WIDE_MAX : WIDE_MIN;
    return r;
}

static inline wide_t w_sub(wide_t a, wide_t b) {
    wide_t r;
    if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? WIDE_MAX : WIDE_MIN;
    return r;
}

static inline wide_t w_mul(wide_t a, wide_t b) {
    wide_t r;
    if (__builtin_mul_overflow(a, b, &r)) return ((a < 0) != (b < 0)) ? WIDE_MIN : WIDE_MAX;
    return r;
}

static inline wide_t w_neg(wide_t a) { return a == WIDE_MIN ? WIDE_MAX : -a; }

static inline wide_t w_clamp(wide_t v, wide_t lo, wide_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

static inline wide_t w_max(wide_t a, wide_t b) { return a > b ? a : b; }
static inline wide_t w_min(wide_t a, wide_t b) { return a < b ? a : b; }

// v * 2^k for k >= 0, saturating at the 128-bit range.
static inline wide_t w_shift_left(wide_t v, long long k) {
    if (v == 0) return 0;
    const wide_t limit = v > 0 ? WIDE_MAX : WIDE_MIN;
    if (k >= 126) return limit;
    const uwide_t mag = v < 0 ? (uwide_t)0 - (uwide_t)v : (uwide_t)v;
    if (mag > (uwide_t)(WIDE_MAX >> k)) return limit;
    return v * ((wide_t)1 << k);
}

// v * 2^amount: left shifts saturate, right shifts round as told.
static inline wide_t w_shift(wide_t v, long long amount, int rounding) {
    if (amount >= 0) return w_shift_left(v, amount);
    const int k = amount < -127 ? 127 : (int)(-amount);
    switch (rounding) {
        case ROUND_CEIL: return -(w_neg(v) >> k);
        case ROUND_NEAREST: return w_add(v, (wide_t)1 << (k - 1)) >> k;
        default: return v >> k;
    }
}

// floor(a / b); division by zero saturates (0 / 0 is 0).
static inline wide_t w_floor_div(wide_t a, wide_t b) {
    if (b == 0) return a == 0 ? 0 : (a > 0 ? WIDE_MAX : WIDE_MIN);
    if (a == WIDE_MIN && b == -1) return WIDE_MAX;
    const wide_t q = a / b;
    const wide_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}

// floor(log2 x) for x > 0, else -1.
static inline wide_t w_lod(wide_t x) {
    if (x <= 0) return -1;
    const uint64_t hi = (uint64_t)((uwide_t)x >> 64);
    if (hi != 0) return 127 - __builtin_clzll(hi);
    return 63 - __builtin_clzll((uint64_t)x);
}

static inline wide_t w_poly2(wide_t a, wide_t b, wide_t c, wide_t x, long long frac) {
    const wide_t t = w_add(w_shift(w_mul(a, x), -frac, ROUND_NEAREST), b);
    return w_add(w_shift(w_mul(t, x), -frac, ROUND_NEAREST), c);
}

static inline wide_t w_isqrt(wide_t x) {
    if (x <= 0) return 0;
    const int bits = (int)w_lod(x) + 1;
    wide_t r = (wide_t)1 << ((bits + 1) / 2);
    for (;;) {
        const wide_t next = (r + x / r) >> 1;
        if (next >= r) return r;
        r = next;
    }
}

// The segment of a fraction f with `frac` bits among `segments` (a power of
// two) rows, and f's offset from the segment's start.
static inline int w_segment(wide_t f, long long frac, int segments, wide_t *rest) {
    const int bits = __builtin_ctz((unsigned)segments);
    wide_t i = w_shift(f, bits - frac, ROUND_FLOOR);
    i = w_clamp(i, 0, segments - 1);
    *rest = f - w_shift(i, frac - bits, ROUND_FLOOR);
    return (int)i;
}

// QUARK's Appro-Exp: 2^t, t with `frac` fractional bits, coefficient rows
// [a, b, c] with `coeff_frac` bits, a result with `out_frac` bits.
static inline wide_t w_exp2(wide_t t, int frac, const long long *coeffs, int segments, int coeff_frac,
                            int out_frac) {
    const wide_t qi = w_shift(t, -frac, ROUND_CEIL);
    const wide_t qf = w_sub(t, w_shift(qi, frac, ROUND_FLOOR));
    wide_t rest;
    const int i = w_segment(-qf, frac, segments, &rest);
    const wide_t p = w_poly2(coeffs[3 * i], coeffs[3 * i + 1], coeffs[3 * i + 2], -rest, frac);
    wide_t amount = w_add(qi, (wide_t)(out_frac - coeff_frac));
    amount = w_clamp(amount, -126, 126);
    return w_shift(p, (long long)amount, ROUND_NEAREST);
}

// QUARK's Appro-LN: log2 x with `out_frac` bits, x with `frac` bits; x <= 0
// gives the least 128-bit value (saturated by the caller to its type).
static inline wide_t w_log2(wide_t x, int frac, int mantissa_frac, const long long *coeffs, int segments,
                            int out_frac) {
    if (x <= 0) return WIDE_MIN;
    const wide_t k = w_lod(x);
    const wide_t m = w_shift(x, mantissa_frac - (long long)k, ROUND_FLOOR);
    const wide_t f = m - ((wide_t)1 << mantissa_frac);
    wide_t rest;
    const int i = w_segment(f, mantissa_frac, segments, &rest);
    const wide_t p = w_poly2(coeffs[3 * i], coeffs[3 * i + 1], coeffs[3 * i + 2], rest, mantissa_frac);
    const wide_t exponent = w_shift(k - frac, out_frac, ROUND_FLOOR);
    return w_add(p, exponent);
}

#endif
