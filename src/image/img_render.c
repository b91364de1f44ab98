/* render.h's decoding (the pipeline's sources in colour mode, then the EXIF orientation),
 * cropping, and resizing: pixd's own separable Catmull-Rom resampler, Pillow's algorithm in
 * fixed point, with SSE2 inner loops where the target has them. Why our own and not libvips,
 * and the measurements: docs/decisions/008-resizing.md. */
#include "image/render.h"

#include "image/img_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- decoding ---- */

/* Where the pixels of a w x h source row go in the upright frame for EXIF orientation o:
 * pixel (x, y) lands at base + x * step_x + y * step_y, in pixels. Orientations 5..8 swap
 * the sides. */
typedef struct {
    ptrdiff_t base, step_x, step_y;
} orient_t;

static orient_t orient(unsigned o, uint32_t w, uint32_t h)
{
    ptrdiff_t uw = o >= 5 ? h : w, wm = (ptrdiff_t)w - 1, hm = (ptrdiff_t)h - 1; /* uw: upright width */
    switch (o) {
    case 2: /* mirrored left-right */
        return (orient_t){wm, -1, uw};
    case 3: /* turned 180 degrees */
        return (orient_t){hm * uw + wm, -1, -uw};
    case 4: /* mirrored top-bottom */
        return (orient_t){hm * uw, 1, -uw};
    case 5: /* transposed */
        return (orient_t){0, uw, 1};
    case 6: /* needs turning 90 degrees clockwise */
        return (orient_t){hm, uw, -1};
    case 7: /* transversed */
        return (orient_t){wm * uw + hm, -uw, -1};
    case 8: /* needs turning 90 degrees anticlockwise */
        return (orient_t){wm * uw, -uw, 1};
    default:
        return (orient_t){0, 1, uw};
    }
}

/* Pulls every row of `src` into a new upright frame. Upright sources decode straight into
 * it; others through a strip of rows that is then scattered into place. */
static img_status_t read_frame(img_source_t *src, img_pixels_t *out)
{
    uint32_t w = src->width, h = src->height;
    unsigned o = src->orientation >= 1 && src->orientation <= 8 ? src->orientation : 1;
    unsigned bands = img_pix_bytes(src->pix);
    size_t row_bytes = (size_t)w * bands;
    uint8_t *px = malloc(row_bytes * h);
    uint8_t *strip = o == 1 ? NULL : malloc(row_bytes * IMG_STRIP_ROWS);
    if (!px || (o != 1 && !strip)) {
        free(px);
        free(strip);
        return IMG_ERR_NOMEM;
    }
    orient_t m = orient(o, w, h);
    img_status_t st = IMG_OK;
    uint8_t *rows[IMG_STRIP_ROWS];
    for (uint32_t y = 0; y < h && st == IMG_OK; y += IMG_STRIP_ROWS) {
        unsigned n = h - y < IMG_STRIP_ROWS ? h - y : IMG_STRIP_ROWS;
        for (unsigned k = 0; k < n; k++)
            rows[k] = o == 1 ? px + (y + k) * row_bytes : strip + k * row_bytes;
        st = src->read_rows(src, rows, n);
        for (unsigned k = 0; k < n && o != 1 && st == IMG_OK; k++) {
            uint8_t *dst = px + (m.base + (ptrdiff_t)(y + k) * m.step_y) * (ptrdiff_t)bands;
            ptrdiff_t step = m.step_x * (ptrdiff_t)bands;
            for (uint32_t x = 0; x < w; x++, dst += step)
                memcpy(dst, rows[k] + (size_t)x * bands, bands);
        }
    }
    free(strip);
    if (st != IMG_OK) {
        free(px);
        return st;
    }
    *out =
        (img_pixels_t){.px = px, .width = o >= 5 ? h : w, .height = o >= 5 ? w : h, .bands = (uint8_t)bands};
    return IMG_OK;
}

img_status_t img_decode_pixels(const void *in, size_t len, const img_limits_t *lim, uint32_t min_side,
                               img_pixels_t *out, img_format_t *src_fmt)
{
    *out = (img_pixels_t){0};
    const img_mode_t mode = {.colour = 1, .min_side = min_side};
    img_source_t *src;
    img_status_t st = img_source_open_as(in, len, lim, &mode, &src);
    if (st != IMG_OK) return st;
    st = read_frame(src, out);
    src->destroy(src);
    if (st == IMG_OK && src_fmt) *src_fmt = img_sniff(in, len);
    return st;
}

img_status_t img_crop(img_pixels_t *p, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    if (!img_pixels_ok(p) || w == 0 || h == 0 || (uint64_t)x + w > p->width || (uint64_t)y + h > p->height)
        return IMG_ERR_ARGUMENT;
    size_t b = p->bands, from = (size_t)p->width * b, to = (size_t)w * b;
    /* each row moves to an address at or before where it was, so in order is safe */
    for (uint32_t r = 0; r < h; r++)
        memmove(p->px + r * to, p->px + (size_t)(y + r) * from + (size_t)x * b, to);
    p->width = w;
    p->height = h;
    uint8_t *smaller = realloc(p->px, to * h);
    if (smaller) p->px = smaller; /* else the bigger block serves as well */
    return IMG_OK;
}

/* ---- resizing ---- */

/* Catmull-Rom, the cubic convolution with a = -0.5 (Pillow's BICUBIC), support 2. */
#define CUBIC_SUPPORT 2.0

static double cubic(double x)
{
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

/* Fractional bits of the fixed-point coefficients: as many as the largest coefficient of an
 * axis allows in an int16 (so that 8-bit x 16-bit products vectorise), at least 14 (a
 * coefficient is at most ~1.2) and at most Pillow's 22 (then 255 x the sum of |coefficients|,
 * under 1.3 x 2^22, still fits an int32 accumulator). */
#define COEF_BITS_MIN 14
#define COEF_BITS_MAX 22

/* One axis of a resize, computed once per call: output pixel i is the sum of the `n` input
 * pixels from start[i] (counted from the box's edge) times coef[i * stride ...], which sum to
 * exactly 1 << bits, so that a constant colour stays exactly that colour. Every window has the
 * same length n (zero weights pad the shorter ones, and windows at the far edge are moved back
 * inside), so that the inner loops run a fixed count the branch predictor learns; start[] never
 * decreases. */
typedef struct {
    uint32_t *start;
    int16_t *coef;
    uint32_t n, stride;
    uint32_t inner; /* the outputs whose window ends before the last input pixel */
    int bits;
} axis_t;

static void axis_free(axis_t *ax)
{
    free(ax->start);
    free(ax->coef);
    ax->start = NULL;
    ax->coef = NULL;
}

/* The window of output pixel i, as Pillow's precompute_coeffs: centre (i + 0.5) * scale, the
 * kernel stretched by the reduction factor when reducing (so that it antialiases) and the
 * plain kernel when enlarging, clipped to the box and normalised. Weights into w[]. */
static uint32_t window(uint32_t in, double scale, double support, uint32_t i, double *w, uint32_t *start)
{
    double centre = (i + 0.5) * scale, lo = centre - support + 0.5, hi = centre + support + 0.5;
    double step = scale > 1.0 ? 1.0 / scale : 1.0, sum = 0.0;
    uint32_t first = lo > 0.0 ? (uint32_t)lo : 0, end = hi < (double)in ? (uint32_t)hi : in;
    for (uint32_t x = first; x < end; x++)
        sum += w[x - first] = cubic((x - centre + 0.5) * step);
    double norm = sum != 0.0 ? 1.0 / sum : 1.0;
    for (uint32_t x = first; x < end; x++)
        w[x - first] *= norm;
    *start = first;
    return end - first;
}

/* Moves window i's coefficients d places later and its start d earlier. */
static void window_back(axis_t *ax, uint32_t i, uint32_t len, uint32_t d)
{
    int16_t *c = ax->coef + (size_t)i * ax->stride;
    memmove(c + d, c, len * sizeof *c);
    memset(c, 0, d * sizeof *c);
    ax->start[i] -= d;
}

static img_status_t axis_init(axis_t *ax, uint32_t in, uint32_t out)
{
    double scale = (double)in / out, support = CUBIC_SUPPORT * (scale > 1.0 ? scale : 1.0);
    uint64_t taps = (uint64_t)ceil(support) * 2 + 1; /* the longest a window can be */
    if (taps > in) taps = in;
    *ax = (axis_t){.stride = (uint32_t)taps};
    ax->start = malloc(out * sizeof *ax->start);
    ax->coef = calloc((size_t)out * taps, sizeof *ax->coef);
    uint32_t *len = malloc(out * sizeof *len);
    double *w = malloc(taps * sizeof *w);
    int32_t *q = malloc(taps * sizeof *q);
    if (!ax->start || !ax->coef || !len || !w || !q) {
        free(len);
        free(w);
        free(q);
        axis_free(ax);
        return IMG_ERR_NOMEM;
    }
    /* the windows of the first half are computed, the second half mirrors them: a symmetric
     * picture stays exactly symmetric. The largest weight decides the precision: one pass to
     * find it, one to quantise. */
    const uint32_t half = (out + 1) / 2;
    double max = 0.0;
    for (uint32_t i = 0; i < half; i++)
        for (uint32_t k = 0, n = window(in, scale, support, i, w, &ax->start[i]); k < n; k++)
            max = fabs(w[k]) > max ? fabs(w[k]) : max;
    /* room for the rounding error, which goes to the largest weight */
    int bits = COEF_BITS_MAX;
    while (bits > COEF_BITS_MIN && max * (1 << bits) + 0.5 * (double)taps + 1.0 > INT16_MAX)
        bits--;
    ax->bits = bits;
    for (uint32_t i = 0; i < half; i++) {
        uint32_t first, n = window(in, scale, support, i, w, &first), big = 0;
        int32_t sum = 0;
        for (uint32_t k = 0; k < n; k++) {
            double v = w[k] * (1 << bits);
            q[k] = (int32_t)(v < 0.0 ? v - 0.5 : v + 0.5); /* rounded half away from 0, as Pillow */
            sum += q[k];
            big = w[k] > w[big] ? k : big;
        }
        /* the rounding error goes where it matters least, the largest weight, or is shared by
         * the two largest of a symmetric window; the 1 that sharing may leave does not change
         * a constant colour: 255 x 1 < 2^(bits - 1) */
        uint32_t twin = n - 1 - big;
        if (twin != big && w[twin] == w[big]) {
            q[big] += ((1 << bits) - sum) / 2;
            q[twin] += ((1 << bits) - sum) / 2;
        } else {
            q[big] += (1 << bits) - sum;
        }
        /* zero weights at either end (the kernel's zeros, tiny weights) cost time only */
        uint32_t a = 0, b = n;
        while (a < b && q[a] == 0)
            a++;
        while (b > a && q[b - 1] == 0)
            b--;
        ax->start[i] = first + a;
        len[i] = b - a;
        for (uint32_t k = a; k < b; k++)
            ax->coef[(size_t)i * taps + k - a] = (int16_t)q[k];
    }
    for (uint32_t i = half; i < out; i++) {
        uint32_t j = out - 1 - i;
        len[i] = len[j];
        ax->start[i] = in - ax->start[j] - len[j];
        for (uint32_t k = 0; k < len[j]; k++)
            ax->coef[(size_t)i * taps + k] = ax->coef[(size_t)j * taps + len[j] - 1 - k];
    }
    /* starts in order (trimming may have moved one past the next), within the untrimmed
     * windows; then one length for all, the last windows moved back inside */
    for (uint32_t i = out - 1; i-- > 0;)
        if (ax->start[i] > ax->start[i + 1]) {
            uint32_t d = ax->start[i] - ax->start[i + 1];
            window_back(ax, i, len[i], d);
            len[i] += d;
        }
    for (uint32_t i = 0; i < out; i++)
        ax->n = len[i] > ax->n ? len[i] : ax->n;
    for (uint32_t i = 0; i < out; i++)
        if (ax->start[i] + ax->n > in) window_back(ax, i, len[i], ax->start[i] + ax->n - in);
    while (ax->inner < out && ax->start[ax->inner] + ax->n < in)
        ax->inner++;
    free(len);
    free(w);
    free(q);
    return IMG_OK;
}

static inline uint8_t clamp8(int32_t v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* Output pixels [from, to) of one row through the horizontal filter, 3 and 4 bytes a pixel:
 * portable C, and the reference the SSE2 version below is identical to. */
static void hpass3(const uint8_t *in, uint8_t *out, const axis_t *ax, uint32_t from, uint32_t to)
{
    const int bits = ax->bits;
    const int32_t half = 1 << (bits - 1);
    const uint32_t n = ax->n;
    for (uint32_t x = from; x < to; x++) {
        const uint8_t *p = in + (size_t)ax->start[x] * 3;
        const int16_t *k = ax->coef + (size_t)x * ax->stride;
        int32_t r = half, g = half, b = half;
        for (uint32_t t = 0; t < n; t++, p += 3) {
            r += p[0] * k[t];
            g += p[1] * k[t];
            b += p[2] * k[t];
        }
        out[3 * x] = clamp8(r >> bits);
        out[3 * x + 1] = clamp8(g >> bits);
        out[3 * x + 2] = clamp8(b >> bits);
    }
}

static void hpass4(const uint8_t *in, uint8_t *out, const axis_t *ax, uint32_t from, uint32_t to)
{
    const int bits = ax->bits;
    const int32_t half = 1 << (bits - 1);
    const uint32_t n = ax->n;
    for (uint32_t x = from; x < to; x++) {
        const uint8_t *p = in + (size_t)ax->start[x] * 4;
        const int16_t *k = ax->coef + (size_t)x * ax->stride;
        int32_t r = half, g = half, b = half, a = half;
        for (uint32_t t = 0; t < n; t++, p += 4) {
            r += p[0] * k[t];
            g += p[1] * k[t];
            b += p[2] * k[t];
            a += p[3] * k[t];
        }
        out[4 * x] = clamp8(r >> bits);
        out[4 * x + 1] = clamp8(g >> bits);
        out[4 * x + 2] = clamp8(b >> bits);
        out[4 * x + 3] = clamp8(a >> bits);
    }
}

#ifdef __SSE2__
/* The same sums with SSE2 (every x86-64 has it): two taps of all four channels per pmaddwd.
 * A pair of pixels is one 8-byte load, widened to 16 bits and interleaved to r0 r1 g0 g1 b0 b1
 * a0 a1, times k0 k1 k0 k1 ...; an odd last tap is one 4-byte load times k 0 k 0 ... For 3
 * bytes a pixel the loads read up to 2 bytes past the window (the 4th lane, ignored), so only
 * windows that end before the row's last pixel come here. Sums are exact int32 as in C, and
 * packs saturate to 0..255 as clamp8, so the bytes are the same. */
static inline void hpass_sse2(const uint8_t *in, uint8_t *out, const axis_t *ax, uint32_t to,
                              const unsigned bands)
{
    const __m128i zero = _mm_setzero_si128(), half = _mm_set1_epi32(1 << (ax->bits - 1));
    const __m128i bits = _mm_cvtsi32_si128(ax->bits);
    const uint32_t n = ax->n;
    for (uint32_t x = 0; x < to; x++) {
        const uint8_t *p = in + (size_t)ax->start[x] * bands;
        const int16_t *k = ax->coef + (size_t)x * ax->stride;
        __m128i acc = half;
        uint32_t t = 0;
        for (; t + 2 <= n; t += 2, p += 2 * bands) {
            __m128i px = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)p), zero);
            /* the second pixel's lanes down to the first's (the count must be a literal) */
            px = _mm_unpacklo_epi16(px, bands == 4 ? _mm_srli_si128(px, 8) : _mm_srli_si128(px, 6));
            int32_t pair;
            memcpy(&pair, k + t, sizeof pair);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(px, _mm_set1_epi32(pair)));
        }
        if (t < n) {
            int32_t one;
            memcpy(&one, p, sizeof one);
            __m128i px = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(one), zero), zero);
            acc = _mm_add_epi32(acc, _mm_madd_epi16(px, _mm_set1_epi32((uint16_t)k[t])));
        }
        acc = _mm_sra_epi32(acc, bits);
        acc = _mm_packus_epi16(_mm_packs_epi32(acc, acc), zero);
        int32_t v = _mm_cvtsi128_si32(acc);
        memcpy(out + (size_t)x * bands, &v, bands);
    }
}
#endif

/* One row through the horizontal filter. */
static void hpass(const uint8_t *in, uint8_t *out, const axis_t *ax, uint32_t out_w, unsigned bands)
{
    uint32_t x = 0;
#ifdef __SSE2__
    x = bands == 4 ? out_w : ax->inner;
    if (bands == 4)
        hpass_sse2(in, out, ax, x, 4);
    else
        hpass_sse2(in, out, ax, x, 3);
#endif
    if (bands == 4)
        hpass4(in, out, ax, x, out_w);
    else
        hpass3(in, out, ax, x, out_w);
}

/* Bytes of a row the vertical filter does at once: fixed, so that the compiler turns the
 * loops over them into vector code without a scalar remainder (GCC's -O2 cost model). */
#define VCHUNK 32

/* One output row from n rows through the vertical filter `k`; `bytes` is the row's length.
 * Portable C; a last part shorter than VCHUNK is done again from bytes - VCHUNK (the same
 * bytes come out), so only rows shorter than that take the byte loop. */
static void vpass_c(const uint8_t *const *rows, const int16_t *k, uint32_t n, int bits, uint8_t *out,
                    size_t bytes)
{
    const int32_t half = 1 << (bits - 1);
    for (size_t x = 0; bytes >= VCHUNK; x += VCHUNK) {
        if (x + VCHUNK > bytes) x = bytes - VCHUNK;
        int32_t acc[VCHUNK];
        for (int i = 0; i < VCHUNK; i++)
            acc[i] = half;
        for (uint32_t t = 0; t < n; t++) {
            const uint8_t *r = rows[t] + x;
            const int16_t c = k[t];
            for (int i = 0; i < VCHUNK; i++)
                acc[i] += (int16_t)r[i] * c;
        }
        for (int i = 0; i < VCHUNK; i++)
            out[x + i] = clamp8(acc[i] >> bits);
        if (x + VCHUNK == bytes) return;
    }
    for (size_t x = 0; x < bytes; x++) {
        int32_t acc = half;
        for (uint32_t t = 0; t < n; t++)
            acc += rows[t][x] * k[t];
        out[x] = clamp8(acc >> bits);
    }
}

#ifdef __SSE2__
/* The same with SSE2, 16 bytes of two rows per step: the rows' bytes interleaved and widened
 * to 16 bits, times k0 k1 k0 k1 ... (an odd last row pairs with zeros). */
static void vpass_sse2(const uint8_t *const *rows, const int16_t *k, uint32_t n, int bits, uint8_t *out,
                       size_t bytes)
{
    const __m128i zero = _mm_setzero_si128(), half = _mm_set1_epi32(1 << (bits - 1));
    const __m128i shift = _mm_cvtsi32_si128(bits);
    for (size_t x = 0;; x += 16) {
        if (x + 16 > bytes) x = bytes - 16;
        __m128i a0 = half, a1 = half, a2 = half, a3 = half;
        for (uint32_t t = 0; t < n; t += 2) {
            __m128i r0 = _mm_loadu_si128((const __m128i *)(const void *)(rows[t] + x)), r1 = zero;
            int32_t pair = (uint16_t)k[t];
            if (t + 1 < n) {
                r1 = _mm_loadu_si128((const __m128i *)(const void *)(rows[t + 1] + x));
                memcpy(&pair, k + t, sizeof pair);
            }
            const __m128i kk = _mm_set1_epi32(pair);
            const __m128i lo = _mm_unpacklo_epi8(r0, r1), hi = _mm_unpackhi_epi8(r0, r1);
            a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi8(lo, zero), kk));
            a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi8(lo, zero), kk));
            a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi8(hi, zero), kk));
            a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi8(hi, zero), kk));
        }
        a0 = _mm_packs_epi32(_mm_sra_epi32(a0, shift), _mm_sra_epi32(a1, shift));
        a2 = _mm_packs_epi32(_mm_sra_epi32(a2, shift), _mm_sra_epi32(a3, shift));
        _mm_storeu_si128((__m128i *)(void *)(out + x), _mm_packus_epi16(a0, a2));
        if (x + 16 == bytes) return;
    }
}
#endif

static void vpass(const uint8_t *const *rows, const int16_t *k, uint32_t n, int bits, uint8_t *out,
                  size_t bytes)
{
#ifdef __SSE2__
    if (bytes >= 16) {
        vpass_sse2(rows, k, n, bits, out, bytes);
        return;
    }
#endif
    vpass_c(rows, k, n, bits, out, bytes);
}

#define MULDIV255(a, b) ((((a) * (b) + 128) + (((a) * (b) + 128) >> 8)) >> 8)

/* Straight to premultiplied alpha, as Pillow's RGBA -> RGBa (colour x alpha / 255, rounded).
 * SSE2: 4 pixels at a time in 16-bit lanes, each times its alpha (and alpha times 255, which
 * MULDIV255 gives back unchanged); every intermediate stays below 2^16. */
static void premultiply(const uint8_t *in, uint8_t *out, uint32_t w)
{
    uint32_t x = 0;
#ifdef __SSE2__
    const __m128i zero = _mm_setzero_si128(), c128 = _mm_set1_epi16(128);
    const __m128i rgb = _mm_set_epi16(0, -1, -1, -1, 0, -1, -1, -1),
                  a255 = _mm_set_epi16(255, 0, 0, 0, 255, 0, 0, 0);
    for (; x + 4 <= w; x += 4, in += 16, out += 16) {
        const __m128i px = _mm_loadu_si128((const __m128i *)(const void *)in);
        __m128i half[2] = {_mm_unpacklo_epi8(px, zero), _mm_unpackhi_epi8(px, zero)};
        for (int k = 0; k < 2; k++) {
            __m128i a = _mm_shufflehi_epi16(_mm_shufflelo_epi16(half[k], 0xFF), 0xFF); /* a a a a, a a a a */
            a = _mm_or_si128(_mm_and_si128(a, rgb), a255);
            __m128i t = _mm_add_epi16(_mm_mullo_epi16(half[k], a), c128);
            half[k] = _mm_srli_epi16(_mm_add_epi16(t, _mm_srli_epi16(t, 8)), 8);
        }
        _mm_storeu_si128((__m128i *)(void *)out, _mm_packus_epi16(half[0], half[1]));
    }
#endif
    for (; x < w; x++, in += 4, out += 4) {
        unsigned a = in[3];
        out[0] = (uint8_t)MULDIV255(in[0], a);
        out[1] = (uint8_t)MULDIV255(in[1], a);
        out[2] = (uint8_t)MULDIV255(in[2], a);
        out[3] = (uint8_t)a;
    }
}

/* Back to straight alpha, rounded: colour x 255 / alpha, where recip[a] = ceil(2^24 / a)
 * makes the division exact for every numerator below 2^16. The filter's overshoot can leave a
 * colour above its alpha: clamped to 255. Clear pixels become 0, 0, 0, 0. */
static void unpremultiply(uint8_t *px, uint32_t w, const uint32_t *recip)
{
    for (uint32_t x = 0; x < w; x++, px += 4) {
        unsigned a = px[3];
        if (a == 255) continue;
        for (int c = 0; c < 3; c++) {
            uint64_t v = a ? ((uint64_t)px[c] * 255 + a / 2) * recip[a] >> 24 : 0;
            px[c] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

/* Resizes the w x h box at (x0, y0) of `p` to out_w x out_h, as if the box had been cropped
 * first: separable Catmull-Rom, horizontal then vertical (with the same scale on both axes, as
 * here, either order costs the same), 8-bit between the passes as Pillow, alpha premultiplied
 * meanwhile. Memory: the output frame, the coefficients, and a ring of as many horizontally
 * filtered rows as the vertical window is long (out_w wide); each input row is filtered once,
 * when the first window that needs it comes. The result replaces p's pixels. */
static img_status_t resize(img_pixels_t *p, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, uint32_t out_w,
                           uint32_t out_h)
{
    const unsigned bands = p->bands;
    const int horiz = out_w != w, vert = out_h != h, alpha = bands == 4;
    if (!horiz && !vert) return img_crop(p, x0, y0, w, h);
    const size_t in_stride = (size_t)p->width * bands, out_row = (size_t)out_w * bands;
    axis_t ax = {0}, ay = {0};
    img_status_t st = IMG_ERR_NOMEM;
    uint8_t *out = malloc(out_row * out_h), *ring = NULL, *pre = NULL;
    const uint8_t **rows = NULL;
    uint32_t recip[256];
    if (!out) goto done;
    if (horiz && (st = axis_init(&ax, w, out_w)) != IMG_OK) goto done;
    if (vert && horiz && h == w && out_h == out_w)
        ay = ax; /* a square: the same axis twice (freed once) */
    else if (vert && (st = axis_init(&ay, h, out_h)) != IMG_OK)
        goto done;
    st = IMG_ERR_NOMEM;
    if (vert && (!(ring = malloc(ay.n * out_row)) || !(rows = malloc(ay.n * sizeof *rows)))) goto done;
    if (alpha && horiz && !(pre = malloc((size_t)w * 4))) goto done;
    for (unsigned a = 1; alpha && a < 256; a++)
        recip[a] = ((1u << 24) + a - 1) / a;
    uint32_t next = 0; /* the next row of the box to filter horizontally */
    for (uint32_t y = 0; y < out_h; y++) {
        uint8_t *dst = out + out_row * y;
        uint32_t first = vert ? ay.start[y] : y, n = vert ? ay.n : 1;
        if (next < first) next = first; /* rows no window needs */
        for (; next < first + n; next++) {
            const uint8_t *src = p->px + in_stride * (y0 + next) + (size_t)x0 * bands;
            uint8_t *to = vert ? ring + out_row * (next % ay.n) : dst;
            if (alpha) premultiply(src, horiz ? pre : to, w);
            if (horiz) {
                hpass(alpha ? pre : src, to, &ax, out_w, bands);
            } else if (!alpha) {
                memcpy(to, src, out_row);
            }
        }
        if (vert) {
            for (uint32_t k = 0; k < n; k++)
                rows[k] = ring + out_row * ((first + k) % ay.n);
            vpass(rows, ay.coef + (size_t)y * ay.stride, n, ay.bits, dst, out_row);
        }
        if (alpha) unpremultiply(dst, out_w, recip);
    }
    free(p->px);
    *p = (img_pixels_t){.px = out, .width = out_w, .height = out_h, .bands = (uint8_t)bands};
    out = NULL;
    st = IMG_OK;
done:
    free(out);
    free(ring);
    free(rows);
    free(pre);
    if (ay.coef != ax.coef) axis_free(&ay);
    axis_free(&ax);
    return st;
}

img_status_t img_square(img_pixels_t *p, uint32_t n)
{
    if (!img_pixels_ok(p) || n == 0) return IMG_ERR_ARGUMENT;
    if (n > IMG_RENDER_MAX_SIDE) return IMG_ERR_TOO_LARGE;
    /* the centre square first: resizing the whole picture to cover n x n and then cropping
     * (as libvips' thumbnail with crop does) costs as much as the picture is long */
    uint32_t side = p->width < p->height ? p->width : p->height;
    uint32_t x = (p->width - side) / 2, y = (p->height - side) / 2;
    if (side == n) return img_crop(p, x, y, side, side);
    return resize(p, x, y, side, side, n, n);
}

img_status_t img_fit(img_pixels_t *p, uint32_t max_side)
{
    if (!img_pixels_ok(p) || max_side == 0) return IMG_ERR_ARGUMENT;
    uint32_t w = p->width, h = p->height, longer = w > h ? w : h;
    if (longer <= max_side) return IMG_OK;
    /* the longer side exactly max_side, the other in proportion, rounded, at least 1 */
    uint32_t out_w = w == longer ? max_side : (uint32_t)(((uint64_t)w * max_side + longer / 2) / longer);
    uint32_t out_h = h == longer ? max_side : (uint32_t)(((uint64_t)h * max_side + longer / 2) / longer);
    return resize(p, 0, 0, w, h, out_w ? out_w : 1, out_h ? out_h : 1);
}
