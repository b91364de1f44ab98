/* Unit tests for src/image/render.h: decoding every format to RGB/RGBA (alpha and
 * transparency kept), the EXIF orientation (JPEG APP1, PNG eXIf, all eight), scaled JPEG
 * decoding, the limits, crop, square and fit, and encoding to each format and back. Test
 * images are made here with the codec libraries' encoders, EXIF segments by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gif_lib.h>
#include <jpeglib.h>
#include <spng.h>
#include <webp/decode.h>
#include <webp/encode.h>

#include "image/img_internal.h"
#include "image/render.h"

typedef struct {
    uint8_t *data;
    size_t len;
} blob_t;

/* ---- pictures and encoders ---- */

static const uint8_t RED[3] = {255, 0, 0}, GREEN[3] = {0, 255, 0}, BLUE[3] = {0, 0, 255},
                     WHITE[3] = {255, 255, 255};

/* w x h RGB in four quadrants: red top left, green top right, blue bottom left, white. */
static uint8_t *quadrants(uint32_t w, uint32_t h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    assert_non_null(p);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            const uint8_t *c = y < h / 2 ? (x < w / 2 ? RED : GREEN) : (x < w / 2 ? BLUE : WHITE);
            memcpy(p + ((size_t)y * w + x) * 3, c, 3);
        }
    return p;
}

/* Gradients plus grain, `bands` bytes a pixel (a 4th band is opaque). */
static uint8_t *photo(uint32_t w, uint32_t h, unsigned bands)
{
    uint8_t *p = malloc((size_t)w * h * bands);
    assert_non_null(p);
    uint32_t seed = 7;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (unsigned c = 0; c < bands; c++) {
                seed = seed * 1103515245u + 12345u;
                p[((size_t)y * w + x) * bands + c] =
                    c == 3 ? 255
                           : (uint8_t)(x * 200 / w * (c != 1) / 2 + y * 200 / h * (c != 0) / 2 +
                                       (seed >> 16) % 24);
            }
    return p;
}

/* A JPEG of RGB pixels, 4:4:4 so that colour blocks stay clean, or of gray (components 1) or
 * CMYK (4). */
static blob_t make_jpeg(const uint8_t *px, uint32_t w, uint32_t h, int components, int quality)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = w;
    c.image_height = h;
    c.input_components = components;
    c.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    for (uint32_t y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)px + (size_t)y * w * components;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return (blob_t){buf, len};
}

/* An 8-bit PNG, with optional PLTE, tRNS and eXIf. */
static blob_t make_png(const uint8_t *px, uint32_t w, uint32_t h, uint8_t colour_type, struct spng_plte *plte,
                       struct spng_trns *trns, struct spng_exif *exif)
{
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {.width = w, .height = h, .bit_depth = 8, .color_type = colour_type};
    assert_int_equal(spng_set_ihdr(ctx, &ihdr), 0);
    if (plte) assert_int_equal(spng_set_plte(ctx, plte), 0);
    if (trns) assert_int_equal(spng_set_trns(ctx, trns), 0);
    if (exif) assert_int_equal(spng_set_exif(ctx, exif), 0);
    size_t bands = colour_type == SPNG_COLOR_TYPE_TRUECOLOR         ? 3
                   : colour_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ? 4
                                                                    : 1;
    int e = spng_encode_image(ctx, px, (size_t)w * h * bands, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    assert_int_equal(e, 0);
    blob_t b;
    b.data = spng_get_png_buffer(ctx, &b.len, &e);
    assert_non_null(b.data);
    spng_ctx_free(ctx);
    return b;
}

typedef struct {
    uint8_t *data;
    size_t len, cap;
} membuf_t;

static int gif_write(GifFileType *gif, const GifByteType *data, int n)
{
    membuf_t *m = gif->UserData;
    if (m->len + (size_t)n > m->cap) {
        m->cap = (m->len + (size_t)n) * 2;
        m->data = realloc(m->data, m->cap);
    }
    memcpy(m->data + m->len, data, (size_t)n);
    m->len += (size_t)n;
    return n;
}

/* A GIF of palette indices with the 4 colours red, green, blue, black, and the transparent
 * index `transparent` (-1: none). */
static blob_t make_gif(const uint8_t *idx, uint32_t w, uint32_t h, int transparent)
{
    membuf_t m = {0};
    int err;
    GifFileType *gif = EGifOpen(&m, gif_write, &err);
    GifColorType colours[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {0, 0, 0}};
    ColorMapObject *map = GifMakeMapObject(4, colours);
    EGifSetGifVersion(gif, true);
    assert_int_equal(EGifPutScreenDesc(gif, (int)w, (int)h, 2, 0, map), GIF_OK);
    if (transparent >= 0) {
        uint8_t gce[4] = {1, 0, 0, (uint8_t)transparent};
        assert_int_equal(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, gce), GIF_OK);
    }
    assert_int_equal(EGifPutImageDesc(gif, 0, 0, (int)w, (int)h, false, NULL), GIF_OK);
    for (uint32_t y = 0; y < h; y++)
        assert_int_equal(EGifPutLine(gif, (GifPixelType *)idx + (size_t)y * w, (int)w), GIF_OK);
    EGifCloseFile(gif, &err);
    GifFreeMapObject(map);
    return (blob_t){m.data, m.len};
}

/* A WebP of RGB or RGBA pixels, lossless or lossy at quality 95, copied into a malloc'd
 * blob (WebPFree and free may differ). */
static blob_t make_webp(const uint8_t *px, uint32_t w, uint32_t h, unsigned bands, int lossless)
{
    uint8_t *out = NULL;
    int stride = (int)(w * bands);
    size_t len =
        lossless
            ? (bands == 4 ? WebPEncodeLosslessRGBA : WebPEncodeLosslessRGB)(px, (int)w, (int)h, stride, &out)
            : (bands == 4 ? WebPEncodeRGBA : WebPEncodeRGB)(px, (int)w, (int)h, stride, 95, &out);
    assert_true(len > 0);
    blob_t b = {malloc(len), len};
    memcpy(b.data, out, len);
    WebPFree(out);
    return b;
}

/* A JPEG with an APP1 Exif segment (little- or big-endian TIFF) right after SOI, whose IFD0
 * holds Orientation = `o`. */
static blob_t with_exif(const blob_t *jpeg, unsigned o, int big_endian)
{
    static const uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 1, 3,
                                 0,   1,   0,  0, 0, 0, 0, 0, 0, 0, 0,    0, 0};
    static const uint8_t be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 1, 0x12, 0,
                                 3,   0,   0, 0,  1, 0, 0, 0, 0, 0, 0, 0,    0};
    uint8_t tiff[sizeof le];
    memcpy(tiff, big_endian ? be : le, sizeof tiff);
    tiff[big_endian ? 19 : 18] = (uint8_t)o; /* the SHORT at the start of the value field */
    size_t seg = 2 + 6 + sizeof tiff;
    blob_t b = {malloc(jpeg->len + 2 + seg), jpeg->len + 2 + seg};
    uint8_t *p = b.data;
    memcpy(p, jpeg->data, 2); /* SOI */
    p += 2;
    *p++ = 0xFF, *p++ = 0xE1, *p++ = (uint8_t)(seg >> 8), *p++ = (uint8_t)seg;
    memcpy(p, "Exif\0\0", 6);
    memcpy(p + 6, tiff, sizeof tiff);
    memcpy(p + 6 + sizeof tiff, jpeg->data + 2, jpeg->len - 2);
    return b;
}

static img_pixels_t decode(const blob_t *b, uint32_t min_side)
{
    img_pixels_t p;
    img_format_t fmt;
    assert_int_equal(img_decode_pixels(b->data, b->len, NULL, min_side, &p, &fmt), IMG_OK);
    assert_int_equal(fmt, img_sniff(b->data, b->len));
    return p;
}

static const uint8_t *px_at(const img_pixels_t *p, uint32_t x, uint32_t y)
{
    return p->px + ((size_t)y * p->width + x) * p->bands;
}

/* The pixel at (x, y) is within `tol` of `want` in each of R, G, B. */
static void assert_colour(const img_pixels_t *p, uint32_t x, uint32_t y, const uint8_t *want, int tol)
{
    const uint8_t *got = px_at(p, x, y);
    for (int c = 0; c < 3; c++)
        if (abs(got[c] - want[c]) > tol)
            fail_msg("(%u,%u) is %u,%u,%u, want %u,%u,%u", x, y, got[0], got[1], got[2], want[0], want[1],
                     want[2]);
}

/* Mean absolute difference over all bytes of two frames of the same shape. */
static double mean_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (uint64_t)abs(a[i] - b[i]);
    return (double)sum / (double)n;
}

/* ---- decoding ---- */

static void test_decode_formats(void **state)
{
    (void)state;
    uint8_t *rgb = quadrants(32, 16);
    uint8_t idx[32 * 16];
    for (size_t i = 0; i < sizeof idx; i++)
        idx[i] = (uint8_t)((i % 32) / 16 + (i / 32) / 8 * 2); /* quadrant k gets colour k */
    blob_t blobs[] = {
        make_jpeg(rgb, 32, 16, 3, 95), make_png(rgb, 32, 16, SPNG_COLOR_TYPE_TRUECOLOR, NULL, NULL, NULL),
        make_gif(idx, 32, 16, -1),     make_webp(rgb, 32, 16, 3, 1),
        make_webp(rgb, 32, 16, 3, 0),
    };
    const img_format_t fmts[] = {IMG_FMT_JPEG, IMG_FMT_PNG, IMG_FMT_GIF, IMG_FMT_WEBP, IMG_FMT_WEBP};
    const int tol[] = {40, 0, 0, 0, 60};
    const uint8_t *gif_q3 = (const uint8_t[]){0, 0, 0}; /* the GIF's 4th colour is black */
    for (size_t i = 0; i < sizeof blobs / sizeof *blobs; i++) {
        img_pixels_t p;
        img_format_t fmt;
        assert_int_equal(img_decode_pixels(blobs[i].data, blobs[i].len, NULL, 0, &p, &fmt), IMG_OK);
        assert_int_equal(fmt, fmts[i]);
        assert_int_equal(p.width, 32);
        assert_int_equal(p.height, 16);
        assert_int_equal(p.bands, 3);
        assert_colour(&p, 4, 4, RED, tol[i]);
        assert_colour(&p, 27, 4, GREEN, tol[i]);
        assert_colour(&p, 4, 11, BLUE, tol[i]);
        assert_colour(&p, 27, 11, fmts[i] == IMG_FMT_GIF ? gif_q3 : WHITE, tol[i]);
        img_pixels_free(&p);
        assert_null(p.px);
        free(blobs[i].data);
    }
    free(rgb);
}

/* Gray JPEG and gray PNG come out as RGB with R = G = B; a CMYK JPEG as RGB too. */
static void test_decode_gray_cmyk(void **state)
{
    (void)state;
    uint8_t gray[24 * 8];
    for (size_t i = 0; i < sizeof gray; i++)
        gray[i] = (uint8_t)(i * 5);
    blob_t blobs[] = {make_jpeg(gray, 24, 8, 1, 90),
                      make_png(gray, 24, 8, SPNG_COLOR_TYPE_GRAYSCALE, NULL, NULL, NULL)};
    for (size_t i = 0; i < 2; i++) {
        img_pixels_t p = decode(&blobs[i], 0);
        assert_int_equal(p.bands, 3);
        for (size_t k = 0; k < (size_t)p.width * p.height; k++) {
            assert_int_equal(p.px[3 * k], p.px[3 * k + 1]);
            assert_int_equal(p.px[3 * k], p.px[3 * k + 2]);
            if (i == 1) assert_int_equal(p.px[3 * k], gray[k]);
        }
        img_pixels_free(&p);
        free(blobs[i].data);
    }
    /* Adobe's inverted CMYK, as Pillow reads it: all 255 is white, C = 0 takes the red out */
    uint8_t cmyk[16 * 8 * 4];
    for (size_t i = 0; i < 16 * 8; i++)
        memcpy(cmyk + 4 * i,
               i % 16 < 8 ? (const uint8_t[]){255, 255, 255, 255} : (const uint8_t[]){0, 255, 255, 255}, 4);
    blob_t b = make_jpeg(cmyk, 16, 8, 4, 95);
    img_pixels_t p = decode(&b, 0);
    assert_int_equal(p.bands, 3);
    assert_colour(&p, 2, 4, WHITE, 8);
    assert_colour(&p, 13, 4, (const uint8_t[]){0, 255, 255}, 8);
    img_pixels_free(&p);
    free(b.data);
}

static void test_alpha_kept(void **state)
{
    (void)state;
    /* RGBA PNG: exact */
    uint8_t *rgba = photo(20, 10, 4);
    for (size_t i = 0; i < 200; i++)
        rgba[4 * i + 3] = (uint8_t)(i * 7);
    blob_t b = make_png(rgba, 20, 10, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, NULL, NULL, NULL);
    img_pixels_t p = decode(&b, 0);
    assert_int_equal(p.bands, 4);
    assert_memory_equal(p.px, rgba, 20 * 10 * 4);
    img_pixels_free(&p);
    free(b.data);

    /* palette with tRNS: alpha per entry; without: RGB */
    struct spng_plte plte = {.n_entries = 4};
    for (int i = 0; i < 4; i++)
        plte.entries[i] = (struct spng_plte_entry){(uint8_t)(i * 60), 100, (uint8_t)(200 - i * 50), 255};
    struct spng_trns trns = {.n_type3_entries = 2, .type3_alpha = {0, 128}};
    uint8_t idx[8] = {0, 1, 2, 3, 3, 2, 1, 0};
    b = make_png(idx, 4, 2, SPNG_COLOR_TYPE_INDEXED, &plte, &trns, NULL);
    p = decode(&b, 0);
    assert_int_equal(p.bands, 4);
    static const uint8_t alpha[4] = {0, 128, 255, 255};
    for (int i = 0; i < 8; i++) {
        const struct spng_plte_entry *e = &plte.entries[idx[i]];
        const uint8_t want[4] = {e->red, e->green, e->blue, alpha[idx[i]]};
        assert_memory_equal(p.px + 4 * i, want, 4);
    }
    img_pixels_free(&p);
    free(b.data);
    b = make_png(idx, 4, 2, SPNG_COLOR_TYPE_INDEXED, &plte, NULL, NULL);
    p = decode(&b, 0);
    assert_int_equal(p.bands, 3);
    assert_int_equal(p.px[3 * 3], plte.entries[3].red);
    img_pixels_free(&p);
    free(b.data);

    /* GIF with a transparent index: RGBA, that index clear; without one: RGB */
    b = make_gif(idx, 4, 2, 3);
    p = decode(&b, 0);
    assert_int_equal(p.bands, 4);
    for (int i = 0; i < 8; i++)
        assert_int_equal(p.px[4 * i + 3], idx[i] == 3 ? 0 : 255);
    assert_memory_equal(p.px + 4 * 1, ((const uint8_t[]){0, 255, 0, 255}), 4);
    img_pixels_free(&p);
    free(b.data);

    /* WebP with alpha (lossless): RGBA, exact */
    b = make_webp(rgba, 20, 10, 4, 1);
    p = decode(&b, 0);
    assert_int_equal(p.bands, 4);
    for (size_t i = 0; i < 200; i++)
        assert_int_equal(p.px[4 * i + 3], rgba[4 * i + 3]);
    img_pixels_free(&p);
    free(b.data);
    free(rgba);
}

/* ---- EXIF orientation ---- */

static void test_jpeg_orientation(void **state)
{
    (void)state;
    uint8_t *rgb = quadrants(32, 16);
    blob_t plain = make_jpeg(rgb, 32, 16, 3, 95);
    /* 6: turned 90 degrees clockwise to stand upright, 16 x 32 */
    for (int big_endian = 0; big_endian < 2; big_endian++) {
        blob_t b = with_exif(&plain, 6, big_endian);
        img_pixels_t p = decode(&b, 0);
        assert_int_equal(p.width, 16);
        assert_int_equal(p.height, 32);
        assert_colour(&p, 4, 8, BLUE, 40);
        assert_colour(&p, 12, 8, RED, 40);
        assert_colour(&p, 4, 24, WHITE, 40);
        assert_colour(&p, 12, 24, GREEN, 40);
        img_pixels_free(&p);
        free(b.data);
    }
    /* 3: turned 180 degrees, same size */
    blob_t b = with_exif(&plain, 3, 0);
    img_pixels_t p = decode(&b, 0);
    assert_int_equal(p.width, 32);
    assert_int_equal(p.height, 16);
    assert_colour(&p, 4, 4, WHITE, 40);
    assert_colour(&p, 27, 4, BLUE, 40);
    assert_colour(&p, 4, 11, GREEN, 40);
    assert_colour(&p, 27, 11, RED, 40);
    img_pixels_free(&p);
    free(b.data);
    /* the orientation survives a scaled decode: 64 x 32 at 1/2, then turned */
    uint8_t *big = quadrants(64, 32);
    blob_t bigj = make_jpeg(big, 64, 32, 3, 95);
    b = with_exif(&bigj, 6, 0);
    p = decode(&b, 16);
    assert_int_equal(p.width, 16);
    assert_int_equal(p.height, 32);
    assert_colour(&p, 12, 8, RED, 48);
    img_pixels_free(&p);
    free(b.data);
    free(bigj.data);
    free(big);
    free(plain.data);
    free(rgb);
}

/* Every orientation, pixel for pixel, through a PNG's eXIf chunk. */
static void test_png_orientations(void **state)
{
    (void)state;
    const uint32_t w = 7, h = 5;
    uint8_t *rgb = photo(w, h, 3);
    for (unsigned o = 1; o <= 8; o++) {
        uint8_t tiff[26] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 1, 3, 0, 1, 0, 0, 0, (uint8_t)o};
        struct spng_exif exif = {.length = sizeof tiff, .data = (char *)tiff};
        blob_t b = make_png(rgb, w, h, SPNG_COLOR_TYPE_TRUECOLOR, NULL, NULL, &exif);
        img_pixels_t p = decode(&b, 0);
        int t = o >= 5;
        assert_int_equal(p.width, t ? h : w);
        assert_int_equal(p.height, t ? w : h);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++) {
                /* where stored pixel (x, y) is shown, by the EXIF specification's names */
                const uint32_t to[9][2] = {
                    {0, 0},
                    {x, y},                 /* 1: as stored */
                    {w - 1 - x, y},         /* 2: mirrored left-right */
                    {w - 1 - x, h - 1 - y}, /* 3: turned 180 degrees */
                    {x, h - 1 - y},         /* 4: mirrored top-bottom */
                    {y, x},                 /* 5: transposed */
                    {h - 1 - y, x},         /* 6: turned 90 degrees clockwise */
                    {h - 1 - y, w - 1 - x}, /* 7: transversed */
                    {y, w - 1 - x},         /* 8: turned 90 degrees anticlockwise */
                };
                assert_memory_equal(px_at(&p, to[o][0], to[o][1]), rgb + ((size_t)y * w + x) * 3, 3);
            }
        img_pixels_free(&p);
        free(b.data);
    }
    free(rgb);
}

static void test_exif_parser(void **state)
{
    (void)state;
    uint8_t le[26] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 1, 3, 0, 1, 0, 0, 0, 6};
    assert_int_equal(img_exif_orientation(le, sizeof le), 6);
    assert_int_equal(img_exif_orientation(le, 22), 6); /* the entry is all there */
    assert_int_equal(img_exif_orientation(le, 21), 1); /* cut inside the entry */
    le[18] = 9;                                        /* out of range */
    assert_int_equal(img_exif_orientation(le, sizeof le), 1);
    le[18] = 6, le[12] = 4; /* LONG, not SHORT */
    assert_int_equal(img_exif_orientation(le, sizeof le), 1);
    le[12] = 3, le[4] = 0xF0, le[7] = 0x7F; /* IFD0 far past the end */
    assert_int_equal(img_exif_orientation(le, sizeof le), 1);
    le[4] = 8, le[7] = 0, le[8] = 0xFF, le[9] = 0xFF; /* 65535 entries, one there */
    assert_int_equal(img_exif_orientation(le, sizeof le), 6);
    le[0] = 'X'; /* no byte order */
    assert_int_equal(img_exif_orientation(le, sizeof le), 1);
    assert_int_equal(img_exif_orientation(le, 0), 1);
}

/* ---- scaled JPEG decoding ---- */

static void test_scaled_jpeg(void **state)
{
    (void)state;
    uint8_t *rgb = photo(400, 300, 3);
    blob_t b = make_jpeg(rgb, 400, 300, 3, 85);
    const struct {
        uint32_t min_side, w, h;
    } cases[] = {
        {0, 400, 300},    /* full size */
        {1, 50, 38},      /* 1/8: ceil(300 / 8) */
        {38, 50, 38},     /* still 1/8 */
        {39, 100, 75},    /* 1/4 */
        {80, 200, 150},   /* 300 / 4 = 75 < 80: 1/2 */
        {150, 200, 150},  /* 1/2 exactly */
        {151, 400, 300},  /* full */
        {5000, 400, 300}, /* more than there is: full */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        img_pixels_t p = decode(&b, cases[i].min_side);
        assert_int_equal(p.width, cases[i].w);
        assert_int_equal(p.height, cases[i].h);
        assert_true(p.width >= cases[i].min_side || p.width == 400);
        img_pixels_free(&p);
    }
    /* min_side is for JPEG only: a PNG comes out full size */
    blob_t png = make_png(rgb, 400, 300, SPNG_COLOR_TYPE_TRUECOLOR, NULL, NULL, NULL);
    img_pixels_t p = decode(&png, 10);
    assert_int_equal(p.width, 400);
    img_pixels_free(&p);
    free(png.data);
    free(b.data);
    free(rgb);
}

/* ---- limits ---- */

/* Headers that declare huge images and carry no pixels (as test_image's): refused as too
 * large, so the size was checked before anything was allocated for the pixels. */
static void test_limits_before_allocating(void **state)
{
    (void)state;
    static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0xEA, 0x60, 0xEA, 0x60, 1, 1,
                                   0x11, 0,    0xFF, 0xDA, 0, 8,  1, 1,    0,    0,    0x3F, 0};
    uint8_t png[33] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\1\x86\xa0\0\1\x86\xa0\x08\x06\0\0\0";
    uint32_t crc = 0;
    for (int i = 12; i < 29; i++) {
        crc ^= png[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    crc = ~crc;
    png[29] = (uint8_t)(crc >> 24), png[30] = (uint8_t)(crc >> 16), png[31] = (uint8_t)(crc >> 8),
    png[32] = (uint8_t)crc;
    static const uint8_t gif[] = "GIF89a\xff\xff\xff\xff\x00\x00\x00,\0\0\0\0\xff\xff\xff\xff\x00\x08";
    static const uint8_t webp[] = "RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\x10\0\0\0\xfe\x3f\0\xfe\x3f\0";
    const blob_t cases[] = {{(uint8_t *)jpeg, sizeof jpeg},
                            {png, sizeof png},
                            {(uint8_t *)gif, sizeof gif - 1},
                            {(uint8_t *)webp, sizeof webp - 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        img_pixels_t p = {(uint8_t *)"x", 1, 1, 3};
        assert_int_equal(img_decode_pixels(cases[i].data, cases[i].len, NULL, 0, &p, NULL),
                         IMG_ERR_TOO_LARGE);
        assert_null(p.px);
        /* a scaled decode is no way around it: the declared size counts */
        assert_int_equal(img_decode_pixels(cases[i].data, cases[i].len, NULL, 1, &p, NULL),
                         IMG_ERR_TOO_LARGE);
    }
    assert_int_equal(img_decode_pixels("not an image", 12, NULL, 0, &(img_pixels_t){0}, NULL),
                     IMG_ERR_UNSUPPORTED);
}

/* max_pixels exactly; max_memory counts the output frame (more than convert('1') needs). */
static void test_limits_exact(void **state)
{
    (void)state;
    uint8_t *rgb = photo(200, 200, 3);
    blob_t b = make_png(rgb, 200, 200, SPNG_COLOR_TYPE_TRUECOLOR, NULL, NULL, NULL);
    img_pixels_t p;
    img_limits_t exact = {200 * 200}, below = {200 * 200 - 1};
    assert_int_equal(img_decode_pixels(b.data, b.len, &exact, 0, &p, NULL), IMG_OK);
    img_pixels_free(&p);
    assert_int_equal(img_decode_pixels(b.data, b.len, &below, 0, &p, NULL), IMG_ERR_TOO_LARGE);
    img_limits_t mem = {0, 100000}; /* libspng's rows fit, the 120,000-byte frame does not */
    uint8_t *bm;
    uint32_t w, h;
    assert_int_equal(img_bw_bitmap(b.data, b.len, &mem, &bm, &w, &h), IMG_OK);
    free(bm);
    assert_int_equal(img_decode_pixels(b.data, b.len, &mem, 0, &p, NULL), IMG_ERR_MEMORY);
    free(b.data);
    /* a scaled JPEG counts its scaled frame: img_jpeg.c's estimate for this 4:4:4 baseline
     * file (fixed part, two 8-row buffers of RGBX) plus a frame of 1/8 but not of 1/1 */
    b = make_jpeg(rgb, 200, 200, 3, 80);
    img_limits_t jmem = {0, 128 * 1024 + 200 * 4 * 8 * 2 + 50 * 50 * 3};
    assert_int_equal(img_decode_pixels(b.data, b.len, &jmem, 25, &p, NULL), IMG_OK);
    assert_int_equal(p.width, 25);
    img_pixels_free(&p);
    assert_int_equal(img_decode_pixels(b.data, b.len, &jmem, 0, &p, NULL), IMG_ERR_MEMORY);
    free(b.data);
    free(rgb);
}

/* More than IMG_JPEG_MAX_SCANS scans: refused as by img_bw_jpeg. */
static void test_limits_scans(void **state)
{
    (void)state;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    uint8_t gray[16 * 16] = {0};
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = c.image_height = 16;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_simple_progression(&c); /* 6 scans for gray */
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < 16; y++) {
        JSAMPROW row = gray + y * 16;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    size_t sos = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (buf[i] == 0xFF && buf[i + 1] == 0xDA) sos = i;
    size_t scan = len - 2 - sos, n = len - 2 + (IMG_JPEG_MAX_SCANS + 1 - 6) * scan + 2;
    uint8_t *many = malloc(n), *p = many + len - 2;
    memcpy(many, buf, len - 2);
    for (int k = 6; k < IMG_JPEG_MAX_SCANS + 1; k++, p += scan)
        memcpy(p, buf + sos, scan); /* the last scan again: libjpeg only warns */
    p[0] = 0xFF, p[1] = 0xD9;
    img_pixels_t px;
    assert_int_equal(img_decode_pixels(many, n, NULL, 0, &px, NULL), IMG_ERR_TOO_MANY_SCANS);
    assert_int_equal(img_decode_pixels(buf, len, NULL, 0, &px, NULL), IMG_OK);
    img_pixels_free(&px);
    free(many);
    free(buf);
}

/* ---- crop, square, fit ---- */

static img_pixels_t frame(uint32_t w, uint32_t h, unsigned bands)
{
    return (img_pixels_t){photo(w, h, bands), w, h, (uint8_t)bands};
}

static void test_crop(void **state)
{
    (void)state;
    img_pixels_t p = frame(10, 8, 3);
    uint8_t *orig = malloc(10 * 8 * 3);
    memcpy(orig, p.px, 10 * 8 * 3);
    assert_int_equal(img_crop(&p, 2, 3, 5, 4), IMG_OK);
    assert_int_equal(p.width, 5);
    assert_int_equal(p.height, 4);
    for (uint32_t y = 0; y < 4; y++)
        assert_memory_equal(p.px + y * 5 * 3, orig + ((y + 3) * 10 + 2) * 3, 5 * 3);
    /* outside, empty, or wrapping around 32 bits: refused, the picture untouched */
    const uint32_t bad[][4] = {{0, 0, 6, 4}, {1, 0, 5, 4},          {0, 1, 5, 4},          {0, 0, 0, 1},
                               {0, 0, 1, 0}, {UINT32_MAX, 0, 2, 1}, {0, UINT32_MAX, 1, 2}, {5, 0, 1, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(img_crop(&p, bad[i][0], bad[i][1], bad[i][2], bad[i][3]), IMG_ERR_ARGUMENT);
        assert_int_equal(p.width, 5);
        assert_int_equal(p.height, 4);
    }
    assert_int_equal(img_crop(&p, 0, 0, 5, 4), IMG_OK); /* the whole picture */
    img_pixels_free(&p);
    free(orig);
}

static void test_square_sizes(void **state)
{
    (void)state;
    const struct {
        uint32_t w, h;
        unsigned bands;
    } in[] = {{400, 300, 3}, {300, 400, 3}, {400, 400, 3}, {50, 70, 4}, {1, 1, 3}, {3, 1000, 4}};
    const uint32_t sizes[] = {1, 80, 2048};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            img_pixels_t p = frame(in[i].w, in[i].h, in[i].bands);
            assert_int_equal(img_square(&p, sizes[k]), IMG_OK);
            assert_int_equal(p.width, sizes[k]);
            assert_int_equal(p.height, sizes[k]);
            assert_int_equal(p.bands, in[i].bands);
            img_pixels_free(&p);
        }
    img_pixels_t p = frame(4, 4, 3);
    assert_int_equal(img_square(&p, 0), IMG_ERR_ARGUMENT);
    assert_int_equal(img_square(&p, IMG_RENDER_MAX_SIDE + 1), IMG_ERR_TOO_LARGE);
    assert_int_equal(p.width, 4);
    img_pixels_free(&p);
}

/* The centre is kept: red | green | blue thirds of a wide picture give a green square. */
static void test_square_centre(void **state)
{
    (void)state;
    img_pixels_t p = {malloc(300 * 100 * 3), 300, 100, 3};
    for (size_t i = 0; i < 300 * 100; i++)
        memcpy(p.px + 3 * i, i % 300 < 100 ? RED : i % 300 < 200 ? GREEN : BLUE, 3);
    assert_int_equal(img_square(&p, 20), IMG_OK);
    for (uint32_t y = 0; y < 20; y++)
        for (uint32_t x = 3; x < 17; x++) /* the outer columns may blend with the next third */
            assert_colour(&p, x, y, GREEN, 8);
    img_pixels_free(&p);
}

/* Alpha is premultiplied while resizing: the colour of fully transparent pixels does not
 * bleed into the visible ones. */
static void test_square_alpha(void **state)
{
    (void)state;
    img_pixels_t p = {malloc(64 * 64 * 4), 64, 64, 4};
    for (size_t i = 0; i < 64 * 64; i++) {
        int clear = i % 64 < 32;
        const uint8_t px[4] = {clear ? 255 : 0, clear ? 0 : 255, 0, clear ? 0 : 255};
        memcpy(p.px + 4 * i, px, 4);
    }
    assert_int_equal(img_square(&p, 16), IMG_OK);
    int seen_partial = 0;
    for (size_t i = 0; i < 16 * 16; i++) {
        const uint8_t *q = p.px + 4 * i;
        if (q[3] > 8) assert_true(q[0] < 16); /* visible: green, no red */
        seen_partial |= q[3] > 8 && q[3] < 247;
    }
    assert_true(seen_partial);
    img_pixels_free(&p);
}

static void test_fit(void **state)
{
    (void)state;
    img_pixels_t p = frame(400, 200, 3);
    assert_int_equal(img_fit(&p, 100), IMG_OK);
    assert_int_equal(p.width, 100);
    assert_int_equal(p.height, 50);
    img_pixels_free(&p);
    p = frame(201, 999, 4);
    assert_int_equal(img_fit(&p, 333), IMG_OK);
    assert_int_equal(p.height, 333);
    assert_int_equal(p.width, 67);
    assert_int_equal(p.bands, 4);
    img_pixels_free(&p);
    p = frame(60, 40, 3); /* never enlarged: untouched */
    uint8_t *before = p.px;
    assert_int_equal(img_fit(&p, 100), IMG_OK);
    assert_ptr_equal(p.px, before);
    assert_int_equal(p.width, 60);
    assert_int_equal(img_fit(&p, 0), IMG_ERR_ARGUMENT);
    img_pixels_free(&p);
}

/* ---- the resampler ---- */

/* A w x h frame of one colour (`bands` bytes of `c`). */
static img_pixels_t flat(uint32_t w, uint32_t h, unsigned bands, const uint8_t *c)
{
    img_pixels_t p = {malloc((size_t)w * h * bands), w, h, (uint8_t)bands};
    assert_non_null(p.px);
    for (size_t i = 0; i < (size_t)w * h; i++)
        memcpy(p.px + i * bands, c, bands);
    return p;
}

static void assert_flat(const img_pixels_t *p, const uint8_t *c)
{
    for (size_t i = 0; i < (size_t)p->width * p->height; i++)
        if (memcmp(p->px + i * p->bands, c, p->bands) != 0)
            fail_msg("%ux%u: pixel %zu is %u,%u,%u, want %u,%u,%u", p->width, p->height, i,
                     p->px[i * p->bands], p->px[i * p->bands + 1], p->px[i * p->bands + 2], c[0], c[1], c[2]);
}

/* A picture of one colour stays exactly that colour, reduced or enlarged, to every size: the
 * weights of every window sum to exactly one. */
static void test_resize_constant(void **state)
{
    (void)state;
    static const uint8_t colours[][4] = {{0, 128, 255, 255}, {17, 200, 254, 255}, {1, 2, 3, 0}};
    static const uint32_t sides[][2] = {{1, 1},     {2, 2},     {5, 5},   {99, 99},
                                        {100, 100}, {333, 333}, {7, 300}, {640, 480}};
    static const uint32_t sizes[] = {1, 2, 3, 7, 80, 81, 255};
    for (size_t c = 0; c < sizeof colours / sizeof *colours; c++)
        for (unsigned bands = 3; bands <= 4; bands++) {
            /* fully clear pixels come out as 0, 0, 0, 0 whatever their colour was */
            const uint8_t *want = colours[c][3] == 0 && bands == 4 ? (const uint8_t[4]){0} : colours[c];
            if (colours[c][3] == 0 && bands == 3) continue;
            for (size_t i = 0; i < sizeof sides / sizeof *sides; i++)
                for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
                    img_pixels_t p = flat(sides[i][0], sides[i][1], bands, colours[c]);
                    assert_int_equal(img_square(&p, sizes[k]), IMG_OK);
                    assert_flat(&p, sizes[k] == (sides[i][0] < sides[i][1] ? sides[i][0] : sides[i][1])
                                        ? colours[c] /* only cropped */
                                        : want);
                    img_pixels_free(&p);
                    p = flat(sides[i][0], sides[i][1], bands, colours[c]);
                    assert_int_equal(img_fit(&p, sizes[k]), IMG_OK);
                    uint32_t longer = sides[i][0] > sides[i][1] ? sides[i][0] : sides[i][1];
                    assert_flat(&p, longer <= sizes[k] ? colours[c] : want);
                    img_pixels_free(&p);
                }
        }
    /* the largest sizes, up and down */
    const uint32_t big[][2] = {{1, 2048}, {333, 2048}, {2048, 80}, {3000, 7}};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        img_pixels_t p = flat(big[i][0], big[i][0], 3, colours[1]);
        assert_int_equal(img_square(&p, big[i][1]), IMG_OK);
        assert_int_equal(p.width, big[i][1]);
        assert_flat(&p, colours[1]);
        img_pixels_free(&p);
    }
}

/* Black | white halves: the edge stays where it was and stays sharp (a few pixels of grey, as
 * far as the kernel reaches: 2 output pixels either side when reducing, 2 input pixels when
 * enlarging), the rest stays black and white (the kernel's overshoot is clamped), and every
 * row goes from dark to light without a dip. */
static void test_resize_edge(void **state)
{
    (void)state;
    const uint32_t in = 100, sizes[] = {80, 50, 37, 160, 300};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        const uint32_t n = sizes[k];
        img_pixels_t p = {malloc(in * in * 3), in, in, 3};
        for (size_t i = 0; i < in * in; i++)
            memset(p.px + 3 * i, i % in < in / 2 ? 0 : 255, 3);
        assert_int_equal(img_square(&p, n), IMG_OK);
        unsigned reach = n > in ? 2 * n / in + 1 : 2, grey = 0;
        for (uint32_t x = 0; x < n; x++) {
            uint8_t v = px_at(&p, x, n / 2)[0];
            grey += v > 0 && v < 255;
            if (x + reach < n / 2) assert_int_equal(v, 0);
            if (x > n / 2 + reach) assert_int_equal(v, 255);
            if (x > 0) assert_true(v >= px_at(&p, x - 1, n / 2)[0]);
            for (uint32_t y = 0; y < n; y++) /* the same all the way down, all three bands */
                assert_memory_equal(px_at(&p, x, y), ((const uint8_t[]){v, v, v}), 3);
        }
        assert_true(grey >= 1 && grey <= 2 * reach);
        /* half way across is half way between */
        if (n % 2 == 0) {
            assert_true(px_at(&p, n / 2 - 1, 0)[0] < 128);
            assert_true(px_at(&p, n / 2, 0)[0] >= 128);
        } else {
            assert_true(abs(px_at(&p, n / 2, 0)[0] - 128) <= 1);
        }
        img_pixels_free(&p);
    }
}

/* A clear half does not darken the opaque half's edge: the colour of every visible pixel is
 * the opaque half's (premultiplied alpha), though the clear half is black, or red. */
static void test_resize_alpha_edge(void **state)
{
    (void)state;
    const uint8_t clear[][4] = {{0, 0, 0, 0}, {255, 0, 0, 0}};
    const uint32_t sides[] = {64, 100}, sizes[] = {80, 37, 16, 160};
    for (size_t c = 0; c < 2; c++)
        for (size_t i = 0; i < 2; i++)
            for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
                const uint32_t in = sides[i], n = sizes[k];
                img_pixels_t p = {malloc(in * in * 4), in, in, 4};
                for (size_t j = 0; j < in * in; j++)
                    memcpy(p.px + 4 * j, j % in < in / 2 ? clear[c] : (const uint8_t[]){255, 255, 255, 255},
                           4);
                assert_int_equal(img_square(&p, n), IMG_OK);
                unsigned partial = 0;
                for (uint32_t y = 0; y < n; y++)
                    for (uint32_t x = 0; x < n; x++) {
                        const uint8_t *q = px_at(&p, x, y);
                        partial += q[3] > 0 && q[3] < 255;
                        if (q[3] == 0)
                            assert_memory_equal(q, ((const uint8_t[]){0, 0, 0, 0}), 4);
                        else
                            assert_colour(&p, x, y, WHITE, 1);
                        if (x < n / 4) assert_int_equal(q[3], 0);
                        if (x >= n - n / 4) assert_int_equal(q[3], 255);
                    }
                assert_true(partial > 0);
                img_pixels_free(&p);
            }
}

/* A picture symmetric left to right and top to bottom comes out exactly symmetric: the windows
 * of the second half mirror those of the first. */
static void test_resize_symmetric(void **state)
{
    (void)state;
    const uint32_t sides[] = {31, 64, 100}, sizes[] = {1, 2, 17, 32, 80, 99, 128, 200};
    uint32_t seed = 11;
    for (unsigned bands = 3; bands <= 4; bands++)
        for (size_t i = 0; i < sizeof sides / sizeof *sides; i++)
            for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
                const uint32_t in = sides[i], n = sizes[k], h = (in + 1) / 2;
                uint8_t *quarter = malloc((size_t)h * h * bands);
                for (size_t j = 0; j < (size_t)h * h * bands; j++) {
                    seed = seed * 1103515245u + 12345u;
                    quarter[j] = (uint8_t)(seed >> 16);
                }
                img_pixels_t p = {malloc((size_t)in * in * bands), in, in, (uint8_t)bands};
                for (uint32_t y = 0; y < in; y++)
                    for (uint32_t x = 0; x < in; x++) {
                        uint32_t qx = x < h ? x : in - 1 - x, qy = y < h ? y : in - 1 - y;
                        memcpy(p.px + ((size_t)y * in + x) * bands, quarter + ((size_t)qy * h + qx) * bands,
                               bands);
                    }
                assert_int_equal(img_square(&p, n), IMG_OK);
                for (uint32_t y = 0; y < n; y++)
                    for (uint32_t x = 0; x < n; x++) {
                        assert_memory_equal(px_at(&p, x, y), px_at(&p, n - 1 - x, y), bands);
                        assert_memory_equal(px_at(&p, x, y), px_at(&p, x, n - 1 - y), bands);
                    }
                img_pixels_free(&p);
                free(quarter);
            }
}

/* Extreme shapes: a 2048 x 1 line squared is its centre pixel at any size; one pixel enlarged
 * to 2048 x 2048 stays that pixel; lines fitted keep their length ratio and their gradient. */
static void test_resize_extreme(void **state)
{
    (void)state;
    img_pixels_t line = {malloc(2048 * 4), 2048, 1, 4};
    for (uint32_t x = 0; x < 2048; x++)
        memcpy(line.px + 4 * x, ((const uint8_t[]){(uint8_t)(x / 8), (uint8_t)x, 7, 255}), 4);
    const uint8_t kept[4] = {1023 / 8, 1023 % 256, 7, 255}; /* the centre square is column (2048 - 1) / 2 */
    const uint32_t sizes[] = {1, 80, 2048};
    for (size_t k = 0; k < 3; k++) {
        img_pixels_t p = {malloc(2048 * 4), 2048, 1, 4};
        memcpy(p.px, line.px, 2048 * 4);
        assert_int_equal(img_square(&p, sizes[k]), IMG_OK);
        assert_int_equal(p.width, sizes[k]);
        assert_int_equal(p.height, sizes[k]);
        assert_flat(&p, kept);
        img_pixels_free(&p);
    }
    /* fitted: 2048 x 1 to 100 x 1, its red channel still rising from about 0 to about 255 */
    assert_int_equal(img_fit(&line, 100), IMG_OK);
    assert_int_equal(line.width, 100);
    assert_int_equal(line.height, 1);
    for (uint32_t x = 1; x < 100; x++)
        assert_true(line.px[4 * x] >= line.px[4 * (x - 1)]);
    assert_true(line.px[0] <= 2 && line.px[4 * 99] >= 253);
    assert_int_equal(line.px[4 * 50 + 3], 255);
    img_pixels_free(&line);
    /* 1 x 2048 to 64: 1 x 64 (never 0 wide) */
    img_pixels_t col = flat(1, 2048, 3, RED);
    assert_int_equal(img_fit(&col, 64), IMG_OK);
    assert_int_equal(col.width, 1);
    assert_int_equal(col.height, 64);
    assert_flat(&col, RED);
    img_pixels_free(&col);
    /* one pixel to the largest avatar; half transparent, within what 8-bit premultiplied colour
     * keeps (9 x 128 / 255 is 5 of 128, which is 10 of 255 again) */
    img_pixels_t dot = flat(1, 1, 4, (const uint8_t[]){9, 99, 199, 255});
    assert_int_equal(img_square(&dot, 2048), IMG_OK);
    assert_int_equal(dot.width, 2048);
    assert_flat(&dot, (const uint8_t[]){9, 99, 199, 255});
    img_pixels_free(&dot);
    dot = flat(1, 1, 4, (const uint8_t[]){9, 99, 199, 128});
    assert_int_equal(img_square(&dot, 300), IMG_OK);
    for (size_t i = 0; i < 300 * 300; i++) {
        assert_int_equal(dot.px[4 * i + 3], 128);
        assert_colour(&dot, (uint32_t)(i % 300), (uint32_t)(i / 300), (const uint8_t[]){9, 99, 199}, 1);
    }
    img_pixels_free(&dot);
}

/* Pillow 9.4's Image.resize(size, BICUBIC, reducing_gap=None) of the same pixels, once reduced
 * and once enlarged (with overshoot clamped to 0 and 255), to within 1 (our coefficients have
 * 14 to 22 bits, Pillow's 22). */
static void test_resize_as_pillow(void **state)
{
    (void)state;
    static const uint8_t want8to5[] = {
        50,  58,  120, 124, 100, 103, 154, 147, 125, 134, 158, 161, 104, 83,  44,  85,  147, 134, 93,
        114, 71,  145, 143, 198, 128, 114, 150, 137, 143, 69,  125, 150, 35,  140, 147, 110, 127, 134,
        209, 93,  123, 146, 128, 126, 95,  130, 115, 178, 156, 132, 191, 123, 120, 170, 154, 109, 145,
        141, 177, 122, 75,  190, 138, 167, 127, 138, 117, 127, 140, 125, 130, 144, 148, 64,  148};
    static const uint8_t want3to7[] = {
        0,  0,   0,   8,  7,   1,   51,  95,  102, 108, 161, 189, 175, 113, 171, 231, 41,  126, 255, 15,  110,
        0,  10,  20,  12, 22,  35,  58,  84,  114, 113, 134, 181, 159, 107, 161, 194, 62,  119, 211, 46,  104,
        2,  58,  119, 20, 54,  120, 75,  55,  146, 125, 63,  162, 121, 90,  137, 101, 115, 103, 100, 127, 90,
        5,  117, 205, 30, 98,  194, 94,  43,  169, 139, 11,  139, 88,  75,  109, 19,  154, 84,  0,   185, 73,
        12, 172, 193, 39, 152, 181, 107, 98,  151, 153, 54,  116, 98,  78,  87,  23,  115, 66,  0,   130, 56,
        20, 215, 154, 46, 199, 145, 115, 161, 123, 165, 118, 97,  118, 85,  71,  52,  62,  51,  27,  51,  42,
        23, 234, 141, 50, 220, 133, 119, 187, 113, 170, 141, 89,  125, 87,  64,  61,  41,  45,  35,  22,  36};
    const struct {
        uint32_t in, out;
        const uint8_t *want;
    } cases[] = {{8, 5, want8to5}, {3, 7, want3to7}};
    for (size_t i = 0; i < 2; i++) {
        const uint32_t w = cases[i].in, n = cases[i].out;
        img_pixels_t p = {malloc(w * w * 3), w, w, 3};
        for (uint32_t y = 0; y < w; y++)
            for (uint32_t x = 0; x < w; x++)
                for (unsigned c = 0; c < 3; c++) /* the same formula made Pillow's input */
                    p.px[(y * w + x) * 3 + c] = (uint8_t)(((x * 37 + y * 91) * (c + 3) + x * y * 11) % 256);
        assert_int_equal(img_square(&p, n), IMG_OK);
        for (size_t k = 0; k < (size_t)n * n * 3; k++)
            if (abs(p.px[k] - cases[i].want[k]) > 1)
                fail_msg("%u to %u: byte %zu is %u, Pillow's %u", w, n, k, p.px[k], cases[i].want[k]);
        img_pixels_free(&p);
    }
}

/* ---- encoding ---- */

/* The markers of a JPEG up to its first scan. */
static void assert_jpeg_markers(const uint8_t *d, size_t len)
{
    assert_true(len > 4 && d[0] == 0xFF && d[1] == 0xD8);
    int jfif = 0;
    for (size_t i = 2; i + 4 <= len;) {
        assert_int_equal(d[i], 0xFF);
        uint8_t m = d[i + 1];
        if (m == 0xDA) break;
        assert_true(m != 0xE1);              /* no APP1: no EXIF, no XMP */
        assert_true(m != 0xE2 && m != 0xFE); /* no ICC, no comment */
        assert_true(m != 0xC2);              /* not progressive */
        jfif |= m == 0xE0 && memcmp(d + i + 4, "JFIF", 4) == 0;
        i += 2 + ((size_t)d[i + 2] << 8 | d[i + 3]);
    }
    assert_true(jfif);
}

static void test_encode_jpeg(void **state)
{
    (void)state;
    img_pixels_t p = frame(64, 48, 3);
    uint8_t *out;
    size_t len;
    assert_int_equal(img_encode(&p, IMG_FMT_JPEG, 90, &out, &len), IMG_OK);
    assert_jpeg_markers(out, len);
    img_pixels_t back = decode(&(blob_t){out, len}, 0);
    assert_int_equal(back.width, 64);
    assert_int_equal(back.height, 48);
    assert_int_equal(back.bands, 3);
    assert_true(mean_diff(back.px, p.px, 64 * 48 * 3) < 8);
    img_pixels_free(&back);
    /* a lower quality makes a smaller file; 0 is the default */
    uint8_t *low, *dflt;
    size_t low_len, dflt_len;
    assert_int_equal(img_encode(&p, IMG_FMT_JPEG, 20, &low, &low_len), IMG_OK);
    assert_int_equal(img_encode(&p, IMG_FMT_JPEG, 0, &dflt, &dflt_len), IMG_OK);
    assert_true(low_len < dflt_len && dflt_len < len);
    free(low), free(dflt), free(out);
    img_pixels_free(&p);

    /* RGBA over white: clear is white, opaque keeps its colour */
    img_pixels_t a = {malloc(16 * 16 * 4), 16, 16, 4};
    for (size_t i = 0; i < 256; i++)
        memcpy(a.px + 4 * i, i % 16 < 8 ? (const uint8_t[]){255, 0, 0, 0} : (const uint8_t[]){0, 0, 255, 255},
               4);
    assert_int_equal(img_encode(&a, IMG_FMT_JPEG, 95, &out, &len), IMG_OK);
    back = decode(&(blob_t){out, len}, 0);
    assert_int_equal(back.bands, 3);
    assert_colour(&back, 2, 8, WHITE, 12);
    assert_colour(&back, 13, 8, BLUE, 24);
    img_pixels_free(&back);
    free(out);
    img_pixels_free(&a);
}

static void test_encode_png(void **state)
{
    (void)state;
    for (unsigned bands = 3; bands <= 4; bands++) {
        img_pixels_t p = frame(33, 17, bands);
        if (bands == 4)
            for (size_t i = 0; i < 33 * 17; i++)
                p.px[4 * i + 3] = (uint8_t)i;
        uint8_t *out;
        size_t len;
        assert_int_equal(img_encode(&p, IMG_FMT_PNG, 0, &out, &len), IMG_OK);
        img_pixels_t back = decode(&(blob_t){out, len}, 0);
        assert_int_equal(back.bands, bands);
        assert_memory_equal(back.px, p.px, (size_t)33 * 17 * bands);
        img_pixels_free(&back);
        free(out);
        img_pixels_free(&p);
    }
}

static void test_encode_webp(void **state)
{
    (void)state;
    for (unsigned bands = 3; bands <= 4; bands++) {
        img_pixels_t p = frame(40, 30, bands);
        if (bands == 4)
            for (size_t i = 0; i < 40 * 30; i++)
                p.px[4 * i + 3] = i % 40 < 20 ? 0 : 255;
        uint8_t *out;
        size_t len;
        assert_int_equal(img_encode(&p, IMG_FMT_WEBP, 0, &out, &len), IMG_OK);
        assert_memory_equal(out + 8, "WEBP", 4);
        img_pixels_t back = decode(&(blob_t){out, len}, 0);
        assert_int_equal(back.width, 40);
        assert_int_equal(back.height, 30);
        assert_int_equal(back.bands, bands);
        if (bands == 3) assert_true(mean_diff(back.px, p.px, 40 * 30 * 3) < 10);
        for (size_t i = 0; bands == 4 && i < 40 * 30; i++)
            assert_int_equal(back.px[4 * i + 3], p.px[4 * i + 3]); /* alpha is lossless */
        img_pixels_free(&back);
        free(out);
        img_pixels_free(&p);
    }
}

/* AVIF is not decoded here: the container is checked, and that it is not empty. */
static void test_encode_avif(void **state)
{
    (void)state;
    for (unsigned bands = 3; bands <= 4; bands++) {
        img_pixels_t p = frame(80, 80, bands);
        uint8_t *out;
        size_t len;
        assert_int_equal(img_encode(&p, IMG_FMT_AVIF, 0, &out, &len), IMG_OK);
        assert_true(len > 100);
        assert_memory_equal(out + 4, "ftypavif", 8);
        assert_int_equal(img_sniff_any(out, len), IMG_FMT_AVIF);
        assert_int_equal(img_sniff(out, len), IMG_FMT_UNKNOWN); /* not one we decode */
        assert_null(memmem(out, len, "Exif", 4));
        free(out);
        img_pixels_free(&p);
    }
    assert_string_equal(img_format_mime(IMG_FMT_AVIF), "image/avif");
    assert_int_equal(img_sniff_any("\0\0\0\x1c"
                                   "ftypavis",
                                   12),
                     IMG_FMT_AVIF);
    assert_int_equal(img_sniff_any("\0\0\0\x1c"
                                   "ftypheic",
                                   12),
                     IMG_FMT_UNKNOWN);
}

static void test_encode_refused(void **state)
{
    (void)state;
    img_pixels_t p = frame(8, 8, 3);
    uint8_t *out = (uint8_t *)"x";
    size_t len;
    assert_int_equal(img_encode(&p, IMG_FMT_GIF, 0, &out, &len), IMG_ERR_ARGUMENT);
    assert_null(out);
    assert_int_equal(img_encode(&p, IMG_FMT_JPEG, 101, &out, &len), IMG_ERR_ARGUMENT);
    assert_int_equal(img_encode(&p, IMG_FMT_JPEG, -1, &out, &len), IMG_ERR_ARGUMENT);
    img_pixels_t two = {p.px, 8, 8, 2};
    assert_int_equal(img_encode(&two, IMG_FMT_PNG, 0, &out, &len), IMG_ERR_ARGUMENT);
    img_pixels_t wide = {p.px, WEBP_MAX_DIMENSION + 1, 1, 3}; /* refused before reading pixels */
    assert_int_equal(img_encode(&wide, IMG_FMT_WEBP, 0, &out, &len), IMG_ERR_TOO_LARGE);
    assert_string_equal(img_status_str(IMG_ERR_ARGUMENT), "invalid image parameters");
    img_pixels_free(&p);
}

/* The whole avatar path: a JPEG photo to an 80 x 80 JPEG, with the scaled decode. */
static void test_avatar_path(void **state)
{
    (void)state;
    uint8_t *rgb = photo(400, 400, 3);
    blob_t b = make_jpeg(rgb, 400, 400, 3, 85);
    img_pixels_t p = decode(&b, 80);
    assert_int_equal(p.width, 100); /* 1/4 */
    assert_int_equal(img_square(&p, 80), IMG_OK);
    uint8_t *out;
    size_t len;
    assert_int_equal(img_encode(&p, IMG_FMT_JPEG, 85, &out, &len), IMG_OK);
    img_pixels_t back = decode(&(blob_t){out, len}, 0);
    assert_int_equal(back.width, 80);
    assert_int_equal(back.height, 80);
    img_pixels_free(&back);
    free(out);
    img_pixels_free(&p);
    free(b.data);
    free(rgb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_formats),
        cmocka_unit_test(test_decode_gray_cmyk),
        cmocka_unit_test(test_alpha_kept),
        cmocka_unit_test(test_jpeg_orientation),
        cmocka_unit_test(test_png_orientations),
        cmocka_unit_test(test_exif_parser),
        cmocka_unit_test(test_scaled_jpeg),
        cmocka_unit_test(test_limits_before_allocating),
        cmocka_unit_test(test_limits_exact),
        cmocka_unit_test(test_limits_scans),
        cmocka_unit_test(test_crop),
        cmocka_unit_test(test_square_sizes),
        cmocka_unit_test(test_square_centre),
        cmocka_unit_test(test_square_alpha),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_resize_constant),
        cmocka_unit_test(test_resize_edge),
        cmocka_unit_test(test_resize_alpha_edge),
        cmocka_unit_test(test_resize_symmetric),
        cmocka_unit_test(test_resize_extreme),
        cmocka_unit_test(test_resize_as_pillow),
        cmocka_unit_test(test_encode_jpeg),
        cmocka_unit_test(test_encode_png),
        cmocka_unit_test(test_encode_webp),
        cmocka_unit_test(test_encode_avif),
        cmocka_unit_test(test_encode_refused),
        cmocka_unit_test(test_avatar_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
