// weft_pack.h: written by weft. Integer activations and constants packed in
// DDR words.
//
// A word is WEFT_WORD_BITS bits (64, 128 or 512: the AXI word tile-and-pack
// chose), held as 64-bit lanes, lane 0 the lowest. A value of `bits` bits
// packs `per = WEFT_WORD_BITS / bits` to a word: element i of a region is
// field i % per of word i / per, at bit (i % per) * bits, low bits first; a
// field may straddle two lanes but never two words. Reads sign-extend
// (signed types) or zero-extend (unsigned); writes keep the low `bits` bits
// and leave the word's other fields unchanged.
#ifndef WEFT_PACK_H
#define WEFT_PACK_H

#include <cstdint>

#ifndef WEFT_WORD_BITS
#error "define WEFT_WORD_BITS (64, 128 or 512) before including weft_pack.h"
#endif

#define WEFT_WORD_LANES (WEFT_WORD_BITS / 64)

struct weft_word {
    uint64_t lane[WEFT_WORD_LANES];
};

static inline uint64_t act_mask(int bits) { return bits >= 64 ? ~0ull : ((1ull << bits) - 1ull); }

// Field `field` of `bits` bits of a word, extended to 64 bits.
static inline int64_t act_field(const weft_word &w, int field, int bits, int is_signed) {
    const int pos = field * bits;
    const int lane = pos >> 6;
    const int shift = pos & 63;
    uint64_t raw = w.lane[lane] >> shift;
    if (WEFT_WORD_LANES > 1 && shift + bits > 64 && lane + 1 < WEFT_WORD_LANES) raw |= w.lane[lane + 1] << (64 - shift);
    raw &= act_mask(bits);
    if (is_signed && bits < 64) {
        const uint64_t sign = 1ull << (bits - 1);
        return (int64_t)((raw ^ sign) - sign);
    }
    return (int64_t)raw;
}

// Replaces field `field` of a word with the low `bits` bits of `v`.
static inline void act_set_field(weft_word &w, int field, int bits, int64_t v) {
    const int pos = field * bits;
    const int lane = pos >> 6;
    const int shift = pos & 63;
    const uint64_t mask = act_mask(bits);
    const uint64_t x = (uint64_t)v & mask;
    w.lane[lane] = (w.lane[lane] & ~(mask << shift)) | (x << shift);
    if (WEFT_WORD_LANES > 1 && shift + bits > 64 && lane + 1 < WEFT_WORD_LANES) {
        const int spill = 64 - shift;
        w.lane[lane + 1] = (w.lane[lane + 1] & ~(mask >> spill)) | (x >> spill);
    }
}

// Element i of the region starting at `base`.
static inline int64_t act_get(const weft_word *base, long long i, int bits, int per, int is_signed) {
    return act_field(base[i / per], (int)(i % per), bits, is_signed);
}

// Writes element i of the region starting at `base` (read-modify-write of its word).
static inline void act_put(weft_word *base, long long i, int bits, int per, int64_t v) {
    weft_word w = base[i / per];
    act_set_field(w, (int)(i % per), bits, v);
    base[i / per] = w;
}

// An f32 held as the 32 bits of a field.
static inline float act_f32(int64_t bits) {
    const uint32_t b = (uint32_t)(uint64_t)bits;
    float f;
    __builtin_memcpy(&f, &b, 4);
    return f;
}

// Sequential reads that fetch each word once (a burst on the AXI port):
// the engines load their on-chip tiles through it.
struct act_stream {
    const weft_word *base;
    int bits, per, is_signed;
    long long word;
    weft_word w;
};

static inline act_stream act_stream_of(const weft_word *base, int bits, int per, int is_signed) {
    act_stream s;
    s.base = base;
    s.bits = bits;
    s.per = per;
    s.is_signed = is_signed;
    s.word = -1;
    for (int l = 0; l < WEFT_WORD_LANES; ++l) s.w.lane[l] = 0;
    return s;
}

static inline int64_t act_stream_get(act_stream &s, long long i) {
    const long long word = i / s.per;
    if (word != s.word) {
        s.word = word;
        s.w = s.base[word];
    }
    return act_field(s.w, (int)(i % s.per), s.bits, s.is_signed);
}

#endif
