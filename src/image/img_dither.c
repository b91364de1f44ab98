/* Floyd-Steinberg to 1 bit, bit-exact with Pillow's tobilevel (libImaging/Convert.c).
 *
 * Pillow's loop, per row, left to right, with integer state l, l0, l1 and errors[]:
 *     l = CLIP8(in[x] + (l + errors[x + 1]) / 16);      C division: truncates toward 0
 *     out[x] = l > 128 ? 255 : 0;   e = l - out[x];
 *     errors[x] = 3e + l0;  l0 = 5e + l1;  l1 = e;  l = 7e;
 * and errors[width] = l0 after the row. Each pixel waits for the previous one, so a plain
 * loop runs at the latency of that chain (~12 cycles a pixel).
 *
 * The wavefront: row y+1 reads errors[x + 1] at pixel x, which row y writes at pixel x + 1,
 * and overwrites errors[x], which row y no longer needs. So row y+1 may run 2 pixels behind
 * row y over one shared errors[] row. We run IMG_STRIP_ROWS (16) rows at once, one SSE2
 * int16 lane per row: at step t, lane k does pixel t - 2k of its row. A lane's new errors[x]
 * is exactly what the lane below reads on the next step, so it moves down one lane by a
 * byte shift; lane 0 reads the previous strip's last row from errors[]. The luminance is
 * transposed into one 16-byte column per step (row k shifted right by 2k), and the results
 * transposed back, 16x16 bytes at a time. Values stay small (|e| <= 128,
 * |l + errors| <= 2048), so int16 arithmetic is exact. */
#include "image/img_internal.h"

#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define LAG 2 /* pixels each row trails the row above */
#define K IMG_STRIP_ROWS
#define HEAD (LAG * (K - 1)) /* steps before the last lane starts */
/* Beyond this width the strip buffers stop being small; such images (at most a few hundred
 * rows under any sane pixel limit) take the row-at-a-time loop. */
#define WAVEFRONT_MAX_WIDTH 65536u

_Static_assert(K == 16, "the SSE2 kernel holds a strip in two 8-lane vectors");

static inline int clip8(int v)
{
    return v <= 0 ? 0 : v < 256 ? v : 255;
}

/* Pillow's loop for one row. errors[] has width + 1 entries. */
static void fs_row(const uint8_t *in, uint8_t *out, int16_t *errors, uint32_t width)
{
    int l = 0, l0 = 0, l1 = 0;
    uint32_t x;
    for (x = 0; x < width; x++) {
        l = clip8(in[x] + (l + errors[x + 1]) / 16);
        out[x] = l > 128 ? 255 : 0;
        int e = l - out[x];
        errors[x] = (int16_t)(3 * e + l0);
        l0 = 5 * e + l1;
        l1 = e;
        l = 7 * e;
    }
    errors[x] = (int16_t)l0;
}

img_status_t img_dither_reference(const uint8_t *lum, uint8_t *out, uint32_t width, uint32_t height)
{
    int16_t *errors = calloc((size_t)width + 1, sizeof *errors);
    if (!errors) return IMG_ERR_NOMEM;
    for (uint32_t y = 0; y < height; y++)
        fs_row(lum + (size_t)y * width, out + (size_t)y * width, errors, width);
    free(errors);
    return IMG_OK;
}

/* (299R + 587G + 114B) / 1000 for 4-byte pixels. x / 1000 == (x >> 3) / 125, and for
 * x >> 3 <= 31875 the division is (y * 33555) >> 22 exactly (checked for every x), which
 * fits SSE2's 16-bit multiply-high. */
static void luma_rgbx(const uint8_t *in, uint8_t *lum, uint32_t width)
{
    uint32_t x = 0;
#ifdef __SSE2__
    const __m128i zero = _mm_setzero_si128();
    const __m128i coef = _mm_setr_epi16(299, 587, 114, 0, 299, 587, 114, 0);
    const __m128i magic = _mm_set1_epi16((short)33555);
    for (; x + 8 <= width; x += 8) {
        __m128i sum[2];
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) { /* 4 pixels each */
            __m128i px = _mm_loadu_si128((const __m128i *)(in + 4 * x + 16 * h));
            /* per pixel: 299R + 587G in one 32-bit lane, 114B in the next */
            __m128 a = _mm_castsi128_ps(_mm_madd_epi16(_mm_unpacklo_epi8(px, zero), coef));
            __m128 b = _mm_castsi128_ps(_mm_madd_epi16(_mm_unpackhi_epi8(px, zero), coef));
            __m128i even = _mm_castps_si128(_mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
            __m128i odd = _mm_castps_si128(_mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
            sum[h] = _mm_srli_epi32(_mm_add_epi32(even, odd), 3);
        }
        __m128i y = _mm_packs_epi32(sum[0], sum[1]); /* <= 31875: no saturation */
        __m128i q = _mm_srli_epi16(_mm_mulhi_epu16(y, magic), 6);
        _mm_storel_epi64((__m128i *)(lum + x), _mm_packus_epi16(q, q));
    }
#endif
    for (; x < width; x++)
        lum[x] = img_luma(in + 4 * x);
}

static void luma_row(img_pix_t pix, const uint8_t *in, uint8_t *lum, uint32_t width)
{
    switch (pix) {
    case IMG_PIX_RGBX:
        luma_rgbx(in, lum, width);
        break;
    case IMG_PIX_RGB:
        for (uint32_t x = 0; x < width; x++)
            lum[x] = img_luma(in + 3 * x);
        break;
    default:
        memcpy(lum, in, width);
        break;
    }
}

static int use_wavefront(uint32_t width)
{
#ifdef __SSE2__
    return width <= WAVEFRONT_MAX_WIDTH;
#else
    (void)width;
    return 0;
#endif
}

/* Steps of one strip: the last lane starts HEAD late and needs one step past its last
 * pixel to hand errors[width] on. Rounded up to whole 16-step transpose blocks. */
static size_t strip_steps(uint32_t width)
{
    return ((size_t)width + HEAD + 1 + 15) & ~(size_t)15;
}

img_status_t img_dither_init(img_dither_t *d, uint32_t width, uint32_t height)
{
    memset(d, 0, sizeof *d);
    d->width = width;
    d->wavefront = use_wavefront(width);
    size_t steps = strip_steps(width);
    d->errors = calloc(steps + 2, sizeof *d->errors); /* lane 0 reads errors[t + 2] */
    if (d->wavefront) {
        /* luminance row k sits at HEAD - 2k.. so that column t of the strip is byte t of
         * every row; 16 spare bytes keep the last block's loads inside */
        d->stride = steps + HEAD + 16;
        d->lum = calloc(K, d->stride);
        d->skew_in = calloc(steps, K);
        d->skew_out = calloc(steps, K);
        d->out = calloc(K, d->stride);
    } else {
        d->stride = width;
        d->lum = malloc(width);
        d->out = malloc((size_t)(height < K ? height : K) * width);
    }
    if (!d->errors || !d->lum || !d->out || (d->wavefront && (!d->skew_in || !d->skew_out))) {
        img_dither_free(d);
        return IMG_ERR_NOMEM;
    }
    return IMG_OK;
}

void img_dither_free(img_dither_t *d)
{
    free(d->errors);
    free(d->lum);
    free(d->skew_in);
    free(d->skew_out);
    free(d->out);
    memset(d, 0, sizeof *d);
}

#ifdef __SSE2__
/* One round of a 16x16 byte transpose: interleave row i with row i + 8. */
static inline __attribute__((always_inline)) void interleave16(__m128i dst[16], const __m128i src[16])
{
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        dst[2 * i] = _mm_unpacklo_epi8(src[i], src[i + 8]);
        dst[2 * i + 1] = _mm_unpackhi_epi8(src[i], src[i + 8]);
    }
}

/* Transposes 16 rows of 16 bytes: four rounds of interleaving. */
static inline __attribute__((always_inline)) void transpose16(__m128i r[16])
{
    __m128i t[16];
    interleave16(t, r);
    interleave16(r, t);
    interleave16(t, r);
    interleave16(r, t);
}

typedef struct {
    __m128i l[2], l0[2], l1[2], ein[2];
} lanes_t;

typedef struct {
    const uint8_t *in; /* skewed luminance, 16 bytes a step */
    uint8_t *out;      /* skewed results */
    int16_t *errors;
    uint32_t width;
} wave_t;

/* One step of the wavefront: every lane does one pixel. `masked` (a constant after
 * inlining) handles the ragged ends: lanes before their row's start are held at zero
 * state, and a lane one past its row's end passes l0 on as Pillow's errors[width]. */
static inline __attribute__((always_inline)) void wave_step(const wave_t *w, lanes_t *s, size_t t, int masked)
{
    const __m128i zero = _mm_setzero_si128(), c15 = _mm_set1_epi16(15);
    const __m128i c128 = _mm_set1_epi16(128), c255 = _mm_set1_epi16(255);
    /* 2k for each lane k: lane k is at pixel x = t - 2k */
    const __m128i lane2[2] = {_mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14),
                              _mm_setr_epi16(16, 18, 20, 22, 24, 26, 28, 30)};
    __m128i col = _mm_loadu_si128((const __m128i *)(w->in + t * K));
    __m128i lum[2] = {_mm_unpacklo_epi8(col, zero), _mm_unpackhi_epi8(col, zero)};
    __m128i eout[2], out[2];
#pragma GCC unroll 2 /* constant indices let the state live in registers */
    for (int j = 0; j < 2; j++) {
        __m128i v = _mm_add_epi16(s->l[j], s->ein[j]);
        __m128i q = _mm_srai_epi16(_mm_add_epi16(v, _mm_and_si128(_mm_srai_epi16(v, 15), c15)), 4);
        __m128i p = _mm_min_epi16(_mm_max_epi16(_mm_add_epi16(lum[j], q), zero), c255);
        out[j] = _mm_and_si128(_mm_cmpgt_epi16(p, c128), c255);
        __m128i e = _mm_sub_epi16(p, out[j]);
        if (masked) { /* lanes before their row's start keep a zero state */
            int16_t tc = (int16_t)(t < 2 * K ? t + 1 : 2 * K);
            e = _mm_and_si128(e, _mm_cmpgt_epi16(_mm_set1_epi16(tc), lane2[j]));
        }
        __m128i e2 = _mm_add_epi16(e, e);
        eout[j] = _mm_add_epi16(_mm_add_epi16(e2, e), s->l0[j]);
        if (masked) { /* one past the row's end: hand on errors[width] = l0 */
            int64_t dt = (int64_t)t - w->width;
            int16_t dc = (int16_t)(dt < -1 ? -1 : dt > 2 * K ? 2 * K : dt);
            __m128i end = _mm_cmpeq_epi16(lane2[j], _mm_set1_epi16(dc));
            eout[j] = _mm_or_si128(_mm_and_si128(end, s->l0[j]), _mm_andnot_si128(end, eout[j]));
        }
        s->l0[j] = _mm_add_epi16(_mm_add_epi16(_mm_add_epi16(e2, e2), e), s->l1[j]);
        s->l1[j] = e;
        s->l[j] = _mm_sub_epi16(_mm_slli_epi16(e, 3), e);
    }
    _mm_storeu_si128((__m128i *)(w->out + t * K), _mm_packus_epi16(out[0], out[1]));
    /* errors[x] of lane k becomes lane k+1's input; lane 0 reads the row above */
    s->ein[0] = _mm_insert_epi16(_mm_slli_si128(eout[0], 2), w->errors[t + 2], 0);
    s->ein[1] = _mm_or_si128(_mm_srli_si128(eout[0], 14), _mm_slli_si128(eout[1], 2));
    if (!masked || t >= HEAD) w->errors[t - HEAD] = (int16_t)_mm_extract_epi16(eout[1], 7);
}

static void wave_strip(img_dither_t *d)
{
    const wave_t w = {d->skew_in, d->skew_out, d->errors, d->width};
    lanes_t s = {0};
    s.ein[0] = _mm_insert_epi16(s.ein[0], d->errors[1], 0);
    /* fast steps need every lane inside its row: t >= HEAD and t < width */
    size_t steps = (size_t)d->width + HEAD + 1, tail = d->width < HEAD ? HEAD : d->width;
    size_t t = 0;
    for (; t < HEAD; t++)
        wave_step(&w, &s, t, 1);
    for (; t < tail; t++)
        wave_step(&w, &s, t, 0);
    for (; t < steps; t++)
        wave_step(&w, &s, t, 1);
}

static void wave_dither(img_dither_t *d, img_pix_t pix, const uint8_t *const *in, unsigned n, uint8_t **out)
{
    size_t steps = strip_steps(d->width);
    /* rows past n keep stale but in-range luminance: their lanes' results are dropped */
    for (unsigned k = 0; k < n; k++)
        luma_row(pix, in[k], d->lum + k * d->stride + HEAD, d->width);
    for (size_t t0 = 0; t0 < steps; t0 += 16) {
        __m128i r[16];
        for (int k = 0; k < K; k++)
            r[k] = _mm_loadu_si128((const __m128i *)(d->lum + k * d->stride + HEAD - LAG * k + t0));
        transpose16(r);
        for (int i = 0; i < 16; i++)
            _mm_storeu_si128((__m128i *)(d->skew_in + (t0 + i) * K), r[i]);
    }
    wave_strip(d);
    for (size_t t0 = 0; t0 < steps; t0 += 16) {
        __m128i r[16];
        for (int i = 0; i < 16; i++)
            r[i] = _mm_loadu_si128((const __m128i *)(d->skew_out + (t0 + i) * K));
        transpose16(r);
        for (int k = 0; k < K; k++)
            _mm_storeu_si128((__m128i *)(d->out + k * d->stride + t0), r[k]);
    }
    for (unsigned k = 0; k < n; k++)
        out[k] = d->out + k * d->stride + LAG * k;
}
#endif

void img_dither_strip(img_dither_t *d, img_pix_t pix, const uint8_t *const *in, unsigned n, uint8_t **out)
{
#ifdef __SSE2__
    if (d->wavefront) {
        wave_dither(d, pix, in, n, out);
        return;
    }
#endif
    for (unsigned k = 0; k < n; k++) {
        luma_row(pix, in[k], d->lum, d->width);
        out[k] = d->out + (size_t)k * d->width;
        fs_row(d->lum, out[k], d->errors, d->width);
    }
}
