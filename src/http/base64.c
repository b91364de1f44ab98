#include "http/base64.h"

#include <stdint.h>

static const char enc_alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Sextet value of each byte; the three markers all have bit 6 or 7 set, so one OR over a
 * quad tells the fast path whether all four bytes are plain alphabet. */
enum { X = 0xFF /* foreign byte */, S = 0x80 /* skipped whitespace */, P = 0x40 /* '=' */ };
/* clang-format off */
static const uint8_t dec_table[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  S,  X,  X,  S,  X,  X,  /* \n \r */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10-0x1F */
    S,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63, /* ' ' + / */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  P,  X,  X,  /* 0-9 = */
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* A-O */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,  /* P-Z */
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* a-o */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* p-z */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
};
/* clang-format on */

/* The portable encoder; also the tail of the vector one. */
static size_t encode_scalar(char *dst, const uint8_t *in, size_t n)
{
    char *out = dst;
    for (; n >= 3; n -= 3, in += 3, out += 4) {
        uint32_t v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
        out[0] = enc_alphabet[v >> 18];
        out[1] = enc_alphabet[v >> 12 & 63];
        out[2] = enc_alphabet[v >> 6 & 63];
        out[3] = enc_alphabet[v & 63];
    }
    if (n > 0) {
        uint32_t v = (uint32_t)in[0] << 16 | (n == 2 ? (uint32_t)in[1] << 8 : 0);
        out[0] = enc_alphabet[v >> 18];
        out[1] = enc_alphabet[v >> 12 & 63];
        out[2] = n == 2 ? enc_alphabet[v >> 6 & 63] : '=';
        out[3] = '=';
        out += 4;
    }
    return (size_t)(out - dst);
}

#if defined(__x86_64__)
#include <immintrin.h>

/* 12 bytes in, 16 characters out per step, the SSSE3 method of Mula and Lemire ("Faster
 * Base64 Encoding and Decoding Using AVX2 Instructions", 2018). The result of /magic/base64
 * is tens of kilobytes of base64: the table-per-character loop cost about 4 % of a request. */
__attribute__((target("ssse3"))) static size_t encode_ssse3(char *dst, const uint8_t *in, size_t n)
{
    /* Each 32-bit lane gets bytes b a c b of its group abc: 16-bit halves "ab" and "bc". */
    const __m128i spread = _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    /* Offset to add to a sextet, by class: 0-25 'A', 26-51 'a', 52-61 '0' (10 classes, one
     * per value, all the same), 62 '+', 63 '/'. */
    const __m128i offset = _mm_setr_epi8('A', 'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                         '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
                                         '/' - 63, 0, 0);
    size_t i = 0, o = 0;
    for (; n - i >= 16; i += 12, o += 16) { /* 16-byte loads, 12 used: stay inside src */
        __m128i v = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + i)), spread);
        /* Move the four sextets of each lane to the low bits of its four bytes: s0 and s2
         * by a multiply-high (right shifts of 10 and 6), s1 and s3 by a multiply-low (left
         * shifts of 4 and 8). */
        __m128i s02 = _mm_mulhi_epu16(_mm_and_si128(v, _mm_set1_epi32(0x0FC0FC00)), _mm_set1_epi32(0x04000040));
        __m128i s13 = _mm_mullo_epi16(_mm_and_si128(v, _mm_set1_epi32(0x003F03F0)), _mm_set1_epi32(0x01000010));
        __m128i s = _mm_or_si128(s02, s13);
        /* Class index: 0 below 26, then 1 + (s - 51 saturated) for the rest. */
        __m128i cls = _mm_sub_epi8(_mm_subs_epu8(s, _mm_set1_epi8(51)), _mm_cmpgt_epi8(s, _mm_set1_epi8(25)));
        _mm_storeu_si128((__m128i *)(dst + o), _mm_add_epi8(s, _mm_shuffle_epi8(offset, cls)));
    }
    return o + encode_scalar(dst + o, in + i, n - i);
}

/* 16 characters in, 12 bytes out per step (the same paper's SSSE3 decoder): classify each
 * byte by its two nibbles, stop at the first block holding anything but the 64 alphabet
 * characters (whitespace, '=', a foreign byte: the scalar code deals with it), else map to
 * sextets and pack. The caller leaves 24 bytes of input: the 16-byte loads stay inside src
 * and the 16-byte stores (12 used) inside base64_decoded_max(n). Returns the input consumed. */
__attribute__((target("ssse3"))) static size_t decode_ssse3(uint8_t *out, const uint8_t *in, size_t n)
{
    /* A byte is in the alphabet iff lo_class[low nibble] & hi_class[high nibble] == 0. */
    const __m128i lo_class = _mm_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13,
                                           0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
    const __m128i hi_class = _mm_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10,
                                           0x10, 0x10, 0x10, 0x10, 0x10);
    /* Character to sextet, by high nibble ('/' shares '+''s nibble: it takes index 1). */
    const __m128i shift = _mm_setr_epi8(0, 63 - '/', 62 - '+', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a', 0, 0,
                                        0, 0, 0, 0, 0, 0);
    const __m128i nib = _mm_set1_epi8(0x0F);
    size_t i = 0, o = 0;
    for (; n - i >= 24; i += 16, o += 12) {
        __m128i v = _mm_loadu_si128((const __m128i *)(in + i));
        __m128i hi = _mm_and_si128(_mm_srli_epi32(v, 4), nib);
        __m128i bad = _mm_and_si128(_mm_shuffle_epi8(lo_class, _mm_and_si128(v, nib)), _mm_shuffle_epi8(hi_class, hi));
        if (_mm_movemask_epi8(_mm_cmpgt_epi8(bad, _mm_setzero_si128())))
            break;
        __m128i slash = _mm_cmpeq_epi8(v, _mm_set1_epi8('/'));
        v = _mm_add_epi8(v, _mm_shuffle_epi8(shift, _mm_add_epi8(hi, slash)));
        /* Sextets a b c d -> 12-bit ab, cd -> 24-bit abcd, then the three bytes of each lane. */
        v = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140));
        v = _mm_madd_epi16(v, _mm_set1_epi32(0x00011000));
        v = _mm_shuffle_epi8(v, _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
        _mm_storeu_si128((__m128i *)(out + o), v);
    }
    return i;
}
#endif

size_t base64_encode(char *dst, const void *src, size_t n)
{
#if defined(__x86_64__)
    if (n >= 16 && __builtin_cpu_supports("ssse3")) /* shorter: no vector step (and src may be NULL) */
        return encode_ssse3(dst, src, n);
#endif
    return encode_scalar(dst, src, n);
}

ssize_t base64_decode(void *dst, const char *src, size_t n)
{
    uint8_t *out = dst;
    const uint8_t *in = (const uint8_t *)src, *end = in + n;
    uint32_t acc = 0; /* sextets of the quad being assembled by the slow path */
    int k = 0;        /* how many */

    /* Writes never pass reads: every 3 bytes out consume at least 4 bytes in, and each quad or
     * block is fully loaded before its bytes (a block's 16-byte store: no further than its
     * load) are stored, so dst == src is safe. */
    while (in < end) {
        if (k == 0) {
            /* Fast paths: blocks, then whole quads, of plain alphabet: the overwhelming majority. */
#if defined(__x86_64__)
            if (__builtin_cpu_supports("ssse3")) {
                size_t used = decode_ssse3(out, in, (size_t)(end - in));
                in += used;
                out += used / 4 * 3;
            }
#endif
            while (end - in >= 4) {
                uint32_t a = dec_table[in[0]], b = dec_table[in[1]], c = dec_table[in[2]],
                         d = dec_table[in[3]];
                if ((a | b | c | d) & 0xC0) break;
                uint32_t v = a << 18 | b << 12 | c << 6 | d;
                out[0] = (uint8_t)(v >> 16);
                out[1] = (uint8_t)(v >> 8);
                out[2] = (uint8_t)v;
                out += 3;
                in += 4;
            }
            if (in == end) break;
        }
        /* Slow path, one byte: whitespace, padding, the tail, or an error. */
        uint8_t v = dec_table[*in++];
        if (v < 64) {
            acc = acc << 6 | v;
            if (++k == 4) {
                out[0] = (uint8_t)(acc >> 16);
                out[1] = (uint8_t)(acc >> 8);
                out[2] = (uint8_t)acc;
                out += 3;
                acc = 0;
                k = 0;
            }
        } else if (v == P) {
            /* '=' may only complete the last quad: "xx==" or "xxx=", then whitespace. */
            int pads = 1;
            for (; in < end; in++) {
                uint8_t w = dec_table[*in];
                if (w == P)
                    pads++;
                else if (w != S)
                    return -1;
            }
            if (k < 2 || pads != 4 - k) return -1;
            break;
        } else if (v != S) {
            return -1;
        }
    }

    /* Tail of 2 or 3 sextets (padded or not) carries 1 or 2 bytes; the rest must be zero
     * bits, otherwise the encoding is not canonical. 1 sextet cannot hold a byte. */
    switch (k) {
    case 0:
        break;
    case 2:
        if (acc & 0xF) return -1;
        *out++ = (uint8_t)(acc >> 4);
        break;
    case 3:
        if (acc & 0x3) return -1;
        out[0] = (uint8_t)(acc >> 10);
        out[1] = (uint8_t)(acc >> 2);
        out += 2;
        break;
    default:
        return -1;
    }
    return (ssize_t)(out - (uint8_t *)dst);
}
