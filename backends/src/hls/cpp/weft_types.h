// weft_types.h: written by weft. Arbitrary-width integers: the vendor's
// ap_int/ap_uint when <ap_int.h> is on the include path (Vitis HLS),
// otherwise weft_int.h, which has the same wrap-around and sign semantics
// for the operations weft's code uses.
#ifndef WEFT_TYPES_H
#define WEFT_TYPES_H

#if defined(__has_include)
#if __has_include(<ap_int.h>) && !defined(WEFT_NO_VENDOR_AP_INT)
#include <ap_int.h>
#define WEFT_VENDOR_AP_INT 1
#endif
#endif

#ifndef WEFT_VENDOR_AP_INT
#include "weft_int.h"
#endif

// HLS directives: WEFT_PRAGMA(HLS PIPELINE II=1) is the directive during
// synthesis and nothing for a C++ compiler, which would warn about it.
#if defined(__SYNTHESIS__)
#define WEFT_PRAGMA(x) _Pragma(#x)
#else
#define WEFT_PRAGMA(x)
#endif

#endif
