// weft_int.h: written by weft. The subset of the vendor's ap_int<W> and
// ap_uint<W> (Vitis HLS <ap_int.h>) that weft's generated code uses, with
// the same semantics, so the C simulation builds with plain g++:
// - W in 1..=64 bits; a value assigned or constructed from any integer is
//   wrapped to W bits (two's complement; sign-extended for ap_int);
// - an ap_int/ap_uint converts implicitly to a 64-bit integer, so every
//   arithmetic expression is evaluated on the exact value (weft's code
//   widens operands explicitly before arithmetic, so the vendor's wider
//   result types give the same bits).
// Used only when <ap_int.h> is absent (see weft_types.h).
#ifndef WEFT_INT_H
#define WEFT_INT_H

#include <cstdint>

namespace weft_detail {
template <int W>
struct bits {
    static_assert(W >= 1 && W <= 64, "weft_int.h supports 1 to 64 bits");
    static constexpr uint64_t mask = W == 64 ? ~0ull : ((1ull << (W % 64)) - 1ull);
    static constexpr int64_t wrap_signed(uint64_t v) {
        return W == 64 ? (int64_t)v
                       : (int64_t)(((v & mask) ^ (1ull << ((W - 1) % 64))) - (1ull << ((W - 1) % 64)));
    }
    static constexpr uint64_t wrap_unsigned(uint64_t v) { return v & mask; }
};

// The value of an ap_int (`Signed`) or ap_uint, held as `T` and wrapped
// to W bits on construction from any integer.
template <int W, bool Signed, typename T>
class ap_value {
  public:
    ap_value() : v_(0) {}
    ap_value(long long v) : v_(wrap((uint64_t)v)) {}
    ap_value(long v) : ap_value((long long)v) {}
    ap_value(int v) : ap_value((long long)v) {}
    ap_value(unsigned long long v) : v_(wrap(v)) {}
    ap_value(unsigned long v) : ap_value((unsigned long long)v) {}
    ap_value(unsigned v) : ap_value((unsigned long long)v) {}
    ap_value(__int128 v) : v_(wrap((uint64_t)(unsigned __int128)v)) {}
    operator T() const { return v_; }

  protected:
    static T wrap(uint64_t v) { return Signed ? (T)bits<W>::wrap_signed(v) : (T)bits<W>::wrap_unsigned(v); }
    T v_;
};
}  // namespace weft_detail

template <int W>
class ap_int : public weft_detail::ap_value<W, true, long long> {
  public:
    using weft_detail::ap_value<W, true, long long>::ap_value;
    long long to_int64() const { return this->v_; }
};

template <int W>
class ap_uint : public weft_detail::ap_value<W, false, unsigned long long> {
  public:
    using weft_detail::ap_value<W, false, unsigned long long>::ap_value;
    unsigned long long to_uint64() const { return this->v_; }
};

#endif
