#ifndef SENTINEL_CZLIB_SHIM_H
#define SENTINEL_CZLIB_SHIM_H

#include <zlib.h>

// zlib's init functions are macros over versioned calls (they pass ZLIB_VERSION and the
// stream's size so the library can check the caller's header): plain functions Swift can call.

static inline int sentinel_deflate_init(z_streamp strm, int level, int window_bits, int mem_level) {
    return deflateInit2(strm, level, Z_DEFLATED, window_bits, mem_level, Z_DEFAULT_STRATEGY);
}

static inline int sentinel_inflate_init(z_streamp strm, int window_bits) {
    return inflateInit2(strm, window_bits);
}

#endif
