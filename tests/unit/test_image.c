/* Unit tests for src/image: sniffing, the pixel limit, corrupt and truncated input of every
 * format, the dither against a hand-computed case and against Pillow's loop, and the JPEG
 * that comes out. Test images are made here with the codec libraries' encoders. */
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
#include <webp/encode.h>

#include "image/image.h"
#include "image/img_internal.h"

typedef struct {
    uint8_t *data;
    size_t len;
} blob_t;

/* ---- photo-like pixels and encoders ---- */

static uint32_t rng_state = 1;
static uint8_t rnd8(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (uint8_t)(rng_state >> 16);
}

/* Gradients plus grain, `ch` channels. */
static uint8_t *pixels(uint32_t w, uint32_t h, unsigned ch)
{
    uint8_t *p = malloc((size_t)w * h * ch);
    assert_non_null(p);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (unsigned c = 0; c < ch; c++)
                p[((size_t)y * w + x) * ch + c] =
                    (uint8_t)((x * 255 / w) * (c != 1) / 2 + (y * 255 / h) * (c != 0) / 2 + rnd8() % 32);
    return p;
}

static blob_t make_jpeg(uint32_t w, uint32_t h, int components, int progressive)
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
    jpeg_set_quality(&c, 90, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    jpeg_write_marker(&c, JPEG_COM, (const JOCTET *)"unit", 4);
    uint8_t *p = pixels(w, h, (unsigned)components);
    for (uint32_t y = 0; y < h; y++) {
        JSAMPROW row = p + (size_t)y * w * components;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(p);
    return (blob_t){buf, len};
}

/* An 8-bit PNG of the given colour type from raw samples (palette: a 4-entry PLTE). */
static blob_t make_png_from(const uint8_t *img, uint32_t w, uint32_t h, uint8_t colour_type, uint8_t depth)
{
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {.width = w, .height = h, .bit_depth = depth, .color_type = colour_type};
    spng_set_ihdr(ctx, &ihdr);
    if (colour_type == SPNG_COLOR_TYPE_INDEXED) {
        struct spng_plte plte = {.n_entries = 4};
        for (int i = 0; i < 4; i++)
            plte.entries[i] = (struct spng_plte_entry){(uint8_t)(i * 80), (uint8_t)(200 - i * 40), 90, 255};
        spng_set_plte(ctx, &plte);
    }
    size_t ch = colour_type == SPNG_COLOR_TYPE_TRUECOLOR         ? 3
                : colour_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ? 4
                                                                 : 1;
    int e = spng_encode_image(ctx, img, (size_t)w * h * ch * depth / 8, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    assert_int_equal(e, 0);
    blob_t b;
    b.data = spng_get_png_buffer(ctx, &b.len, &e);
    assert_non_null(b.data);
    spng_ctx_free(ctx);
    return b;
}

static blob_t make_png(uint32_t w, uint32_t h, uint8_t colour_type)
{
    size_t ch = colour_type == SPNG_COLOR_TYPE_TRUECOLOR         ? 3
                : colour_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ? 4
                                                                 : 1;
    uint8_t *p = pixels(w, h, (unsigned)ch);
    if (colour_type == SPNG_COLOR_TYPE_INDEXED)
        for (size_t i = 0; i < (size_t)w * h; i++)
            p[i] &= 3;
    blob_t b = make_png_from(p, w, h, colour_type, 8);
    free(p);
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

/* A GIF with a colour palette (opens as "P" in Pillow), or a gray ramp one ("L"). */
static blob_t make_gif(uint32_t w, uint32_t h, int gray, const char *comment)
{
    membuf_t m = {0};
    int err;
    GifFileType *gif = EGifOpen(&m, gif_write, &err);
    GifColorType colours[256];
    for (int i = 0; i < 256; i++)
        colours[i] = gray
                         ? (GifColorType){(GifByteType)i, (GifByteType)i, (GifByteType)i}
                         : (GifColorType){(GifByteType)(i * 7), (GifByteType)(255 - i), (GifByteType)(i * 3)};
    ColorMapObject *map = GifMakeMapObject(256, colours);
    EGifSetGifVersion(gif, true);
    assert_int_equal(EGifPutScreenDesc(gif, (int)w, (int)h, 8, 0, map), GIF_OK);
    if (comment) EGifPutComment(gif, comment);
    assert_int_equal(EGifPutImageDesc(gif, 0, 0, (int)w, (int)h, false, NULL), GIF_OK);
    uint8_t *p = pixels(w, h, 1);
    for (uint32_t y = 0; y < h; y++)
        assert_int_equal(EGifPutLine(gif, p + (size_t)y * w, (int)w), GIF_OK);
    EGifCloseFile(gif, &err);
    GifFreeMapObject(map);
    free(p);
    return (blob_t){m.data, m.len};
}

static blob_t make_webp(uint32_t w, uint32_t h, int lossless)
{
    uint8_t *p = pixels(w, h, 3), *out = NULL;
    size_t len = lossless ? WebPEncodeLosslessRGB(p, (int)w, (int)h, (int)w * 3, &out)
                          : WebPEncodeRGB(p, (int)w, (int)h, (int)w * 3, 80, &out);
    assert_true(len > 0);
    free(p);
    /* WebPFree and free may differ in principle: hand out our own copy */
    uint8_t *copy = malloc(len);
    memcpy(copy, out, len);
    WebPFree(out);
    return (blob_t){copy, len};
}

/* One of each kind, for the loops below. */
static blob_t make_kind(int kind)
{
    switch (kind) {
    case 0:
        return make_jpeg(37, 23, 3, 0);
    case 1:
        return make_jpeg(37, 23, 3, 1);
    case 2:
        return make_jpeg(21, 9, 1, 0);
    case 3:
        return make_jpeg(21, 9, 4, 0);
    case 4:
        return make_png(37, 23, SPNG_COLOR_TYPE_TRUECOLOR);
    case 5:
        return make_png(37, 23, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA);
    case 6:
        return make_png(37, 23, SPNG_COLOR_TYPE_INDEXED);
    case 7:
        return make_gif(37, 23, 0, NULL);
    case 8:
        return make_gif(37, 23, 1, "hi");
    case 9:
        return make_webp(37, 23, 0);
    default:
        return make_webp(37, 23, 1);
    }
}
#define KINDS 11

/* Decodes `data` as a JPEG: grayscale, w x h, all pixels near 0 or 255. */
static void assert_bw_jpeg(const uint8_t *data, size_t len, uint32_t w, uint32_t h)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr err;
    d.err = jpeg_std_error(&err);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, data, len);
    assert_int_equal(jpeg_read_header(&d, TRUE), JPEG_HEADER_OK);
    assert_int_equal(d.num_components, 1);
    assert_true(d.saw_JFIF_marker);
    assert_int_equal(d.image_width, w);
    assert_int_equal(d.image_height, h);
    jpeg_start_decompress(&d);
    uint8_t *row = malloc(w);
    size_t mid = 0;
    while (d.output_scanline < d.output_height) {
        jpeg_read_scanlines(&d, &row, 1);
        for (uint32_t x = 0; x < w; x++)
            mid += row[x] > 96 && row[x] < 160;
    }
    assert_true(mid * 10 < (size_t)w * h); /* q75 blurs edges, but stays mostly black/white */
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(row);
}

/* ---- tests ---- */

static void test_sniff(void **state)
{
    (void)state;
    assert_int_equal(img_sniff("\xFF\xD8\xFF\xE0", 4), IMG_FMT_JPEG);
    assert_int_equal(img_sniff("\xFF\xD8", 2), IMG_FMT_UNKNOWN);
    assert_int_equal(img_sniff("\x89PNG\r\n\x1a\n", 8), IMG_FMT_PNG);
    assert_int_equal(img_sniff("\x89PNG\r\n\x1a", 7), IMG_FMT_UNKNOWN);
    assert_int_equal(img_sniff("GIF87a", 6), IMG_FMT_GIF);
    assert_int_equal(img_sniff("GIF89a", 6), IMG_FMT_GIF);
    assert_int_equal(img_sniff("GIF88a", 6), IMG_FMT_UNKNOWN);
    assert_int_equal(img_sniff("RIFF\x10\0\0\0WEBPVP8 ", 16), IMG_FMT_WEBP);
    assert_int_equal(img_sniff("RIFF\x10\0\0\0WAVEfmt ", 16), IMG_FMT_UNKNOWN);
    assert_int_equal(img_sniff("", 0), IMG_FMT_UNKNOWN);
    assert_string_equal(img_format_mime(IMG_FMT_JPEG), "image/jpeg");
    assert_string_equal(img_format_mime(IMG_FMT_PNG), "image/png");
    assert_string_equal(img_format_mime(IMG_FMT_GIF), "image/gif");
    assert_string_equal(img_format_mime(IMG_FMT_WEBP), "image/webp");
    assert_string_equal(img_format_mime(IMG_FMT_UNKNOWN), "application/octet-stream");
    for (int s = IMG_OK; s <= IMG_ERR_NOMEM; s++)
        assert_true(strlen(img_status_str((img_status_t)s)) > 0);
}

static void test_not_an_image(void **state)
{
    (void)state;
    uint8_t *out = (uint8_t *)"x";
    size_t len;
    assert_int_equal(img_bw_jpeg("hello world, not an image", 25, NULL, &out, &len), IMG_ERR_UNSUPPORTED);
    assert_null(out);
    assert_int_equal(img_bw_jpeg(NULL, 0, NULL, &out, &len), IMG_ERR_UNSUPPORTED);
}

/* Headers that declare a huge image and carry no pixels: refused as too large, which
 * proves the size was checked before any decoding or allocation. */
static void test_limit_before_decode(void **state)
{
    (void)state;
    static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0xEA, 0x60, 0xEA, 0x60, 1, 1,
                                   0x11, 0,    0xFF, 0xDA, 0, 8,  1, 1,    0,    0,    0x3F, 0};
    uint8_t png[33] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\1\x86\xa0\0\1\x86\xa0\x08\x02\0\0\0";
    uint32_t crc = 0; /* libspng checks the IHDR CRC: compute it */
    for (int i = 12; i < 29; i++) {
        crc ^= png[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    crc = ~crc;
    png[29] = (uint8_t)(crc >> 24), png[30] = (uint8_t)(crc >> 16), png[31] = (uint8_t)(crc >> 8),
    png[32] = (uint8_t)crc;
    static const uint8_t gif[] = "GIF89a\xff\xff\xff\xff\x00\x00\x00,\0\0\0\0\xff\xff\xff\xff\x00\x08";
    /* VP8X with the animation flag: libwebp reports the canvas without needing frames */
    static const uint8_t webp[] = "RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0\xfe\x3f\0\xfe\x3f\0";
    const struct {
        const uint8_t *d;
        size_t n;
    } cases[] = {{jpeg, sizeof jpeg}, {png, sizeof png}, {gif, sizeof gif - 1}, {webp, sizeof webp - 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *out;
        size_t len;
        assert_int_equal(img_bw_jpeg(cases[i].d, cases[i].n, NULL, &out, &len), IMG_ERR_TOO_LARGE);
    }
}

static void test_limit_exact(void **state)
{
    (void)state;
    for (int kind = 0; kind < KINDS; kind++) {
        blob_t b = make_kind(kind);
        uint8_t *bm;
        uint32_t w, h;
        assert_int_equal(img_bw_bitmap(b.data, b.len, NULL, &bm, &w, &h), IMG_OK);
        free(bm);
        img_limits_t exact = {(uint64_t)w * h}, below = {(uint64_t)w * h - 1};
        assert_int_equal(img_bw_bitmap(b.data, b.len, &exact, &bm, &w, &h), IMG_OK);
        free(bm);
        assert_int_equal(img_bw_bitmap(b.data, b.len, &below, &bm, &w, &h), IMG_ERR_TOO_LARGE);
        assert_null(bm);
        free(b.data);
    }
}

/* Every format cut short anywhere past its magic bytes is corrupt, never a crash. The last
 * bytes (JPEG EOI, PNG IEND, GIF trailer) are left out of the loop: Pillow does not need
 * them and neither do we. */
static void test_truncated(void **state)
{
    (void)state;
    for (int kind = 0; kind < KINDS; kind++) {
        blob_t b = make_kind(kind);
        for (size_t n = 12; n + 16 < b.len; n += n < 64 ? 1 : 7) {
            uint8_t *out;
            size_t len;
            uint8_t *cut = malloc(n); /* exact size, so ASan sees any over-read */
            memcpy(cut, b.data, n);
            img_status_t st = img_bw_jpeg(cut, n, NULL, &out, &len);
            if (st != IMG_ERR_CORRUPT)
                fail_msg("kind %d cut at %zu of %zu: %s", kind, n, b.len, img_status_str(st));
            free(cut);
        }
        free(b.data);
    }
}

/* Flipped bytes: any status is fine, a crash or leak is not (run under ASan). */
static void test_corrupt(void **state)
{
    (void)state;
    for (int kind = 0; kind < KINDS; kind++) {
        blob_t b = make_kind(kind);
        for (int round = 0; round < 200; round++) {
            uint8_t *bad = malloc(b.len);
            memcpy(bad, b.data, b.len);
            for (int k = 0; k < 1 + round % 4; k++)
                bad[12 + rnd8() * (b.len - 12) / 256] ^= (uint8_t)(1 + rnd8() % 255);
            uint8_t *out;
            size_t len;
            if (img_bw_jpeg(bad, b.len, NULL, &out, &len) == IMG_OK) free(out);
            free(bad);
        }
        free(b.data);
    }
}

/* [[120, 200, 130], [120, 129, 120]] by Pillow's rules, by hand:
 * row 0: x0 l=120 -> 0, e=120 (errors[0]=360, l0=600, l1=120, l=840)
 *        x1 l=200+840/16=252 -> 255, e=-3 (errors[1]=591, l0=105, l1=-3, l=-21)
 *        x2 l=130+(-21)/16=130-1=129 -> 255 (C division truncates: floor would give 128 -> 0)
 *           e=-126 (errors[2]=-273, l0=-633), errors[3]=-633
 * row 1: x0 l=120+591/16=156 -> 255, e=-99 (l0=-495, l1=-99, l=-693)
 *        x1 l=129+(-693-273)/16=129-60=69 -> 0, e=69 (l=483)
 *        x2 l=120+(483-633)/16=120-9=111 -> 0
 * Pillow 9.4 agrees: [0, 255, 255, 255, 0, 0]. */
static void test_dither_by_hand(void **state)
{
    (void)state;
    static const uint8_t lum[6] = {120, 200, 130, 120, 129, 120};
    static const uint8_t want[6] = {0, 255, 255, 255, 0, 0};
    uint8_t out[6];
    assert_int_equal(img_dither_reference(lum, out, 3, 2), IMG_OK);
    assert_memory_equal(out, want, 6);
    /* the same through the whole pipeline, as an 8-bit gray PNG */
    blob_t png = make_png_from(lum, 3, 2, SPNG_COLOR_TYPE_GRAYSCALE, 8);
    uint8_t *bm;
    uint32_t w, h;
    assert_int_equal(img_bw_bitmap(png.data, png.len, NULL, &bm, &w, &h), IMG_OK);
    assert_int_equal(w, 3);
    assert_int_equal(h, 2);
    assert_memory_equal(bm, want, 6);
    free(bm);
    free(png.data);
}

/* The wavefront (and the row loop used past its width limit) against Pillow's loop. */
static void test_wavefront_matches_reference(void **state)
{
    (void)state;
    static const struct {
        uint32_t w, h;
    } sizes[] = {{1, 1}, {1, 40}, {2, 17}, {15, 16}, {31, 33}, {32, 5}, {33, 48}, {299, 168}, {70000, 3}};
    static const img_pix_t kinds[] = {IMG_PIX_GRAY, IMG_PIX_RGB, IMG_PIX_RGBX};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        for (size_t k = 0; k < 3; k++) {
            uint32_t w = sizes[i].w, h = sizes[i].h;
            unsigned bpp = img_pix_bytes(kinds[k]);
            uint8_t *src = pixels(w, h, bpp), *lum = malloc((size_t)w * h);
            uint8_t *want = malloc((size_t)w * h), *got = malloc((size_t)w * h);
            for (size_t p = 0; p < (size_t)w * h; p++)
                lum[p] = bpp == 1 ? src[p] : img_luma(src + p * bpp);
            assert_int_equal(img_dither_reference(lum, want, w, h), IMG_OK);
            img_dither_t d;
            assert_int_equal(img_dither_init(&d, w, h), IMG_OK);
            for (uint32_t y = 0; y < h; y += IMG_STRIP_ROWS) {
                unsigned n = h - y < IMG_STRIP_ROWS ? h - y : IMG_STRIP_ROWS;
                const uint8_t *in[IMG_STRIP_ROWS];
                uint8_t *out[IMG_STRIP_ROWS];
                for (unsigned r = 0; r < n; r++)
                    in[r] = src + (size_t)(y + r) * w * bpp;
                img_dither_strip(&d, kinds[k], in, n, out);
                for (unsigned r = 0; r < n; r++)
                    memcpy(got + (size_t)(y + r) * w, out[r], w);
            }
            img_dither_free(&d);
            assert_memory_equal(got, want, (size_t)w * h);
            free(src), free(lum), free(want), free(got);
        }
    }
}

/* Pillow's luminance: (299R + 587G + 114B) / 1000 truncated, for every value the SIMD
 * division trick must cover. */
static void test_luma(void **state)
{
    (void)state;
    for (unsigned r = 0; r < 256; r += 5)
        for (unsigned g = 0; g < 256; g += 3)
            for (unsigned b = 0; b < 256; b++) {
                uint8_t rgb[3] = {(uint8_t)r, (uint8_t)g, (uint8_t)b};
                assert_int_equal(img_luma(rgb), (299 * r + 587 * g + 114 * b) / 1000);
            }
    /* the SSE2 path of the dither's RGBX luminance, over every 8-pixel group shape */
    uint8_t rgbx[4 * 64], lum[64], want[64], *out[1];
    for (int i = 0; i < 4 * 64; i++)
        rgbx[i] = (uint8_t)(255 - (i * 37) % 256);
    for (int i = 0; i < 64; i++)
        lum[i] = img_luma(rgbx + 4 * i);
    img_dither_reference(lum, want, 64, 1);
    img_dither_t d;
    assert_int_equal(img_dither_init(&d, 64, 1), IMG_OK);
    const uint8_t *in[1] = {rgbx};
    img_dither_strip(&d, IMG_PIX_RGBX, in, 1, out);
    assert_memory_equal(out[0], want, 64);
    img_dither_free(&d);
}

/* Every kind comes out as a grayscale JFIF JPEG of the same size, mostly black and white. */
static void test_output_is_jpeg(void **state)
{
    (void)state;
    for (int kind = 0; kind < KINDS; kind++) {
        blob_t b = make_kind(kind);
        uint8_t *out, *bm;
        size_t len;
        uint32_t w, h;
        assert_int_equal(img_bw_jpeg(b.data, b.len, NULL, &out, &len), IMG_OK);
        assert_int_equal(img_bw_bitmap(b.data, b.len, NULL, &bm, &w, &h), IMG_OK);
        for (size_t i = 0; i < (size_t)w * h; i++)
            assert_true(bm[i] == 0 || bm[i] == 255);
        assert_bw_jpeg(out, len, w, h);
        /* the streamed pipeline and encoding the bitmap give the same bytes */
        uint8_t *again;
        size_t again_len;
        const char *com = kind == 8 ? "hi" : kind < 4 ? "unit" : NULL; /* as made above */
        assert_int_equal(
            img_gray_jpeg(bm, w, h, (const uint8_t *)com, com ? strlen(com) : 0, &again, &again_len), IMG_OK);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, out, len);
        free(again), free(out), free(bm), free(b.data);
    }
}

/* Pillow copies a JPEG's (or GIF's) comment into the saved file, right after JFIF. */
static void test_comment_carried(void **state)
{
    (void)state;
    blob_t b = make_jpeg(16, 16, 3, 0);
    uint8_t *out;
    size_t len;
    assert_int_equal(img_bw_jpeg(b.data, b.len, NULL, &out, &len), IMG_OK);
    assert_memory_equal(out + 20, "\xFF\xFE\0\x06unit", 8);
    free(out), free(b.data);
    b = make_png(16, 16, SPNG_COLOR_TYPE_TRUECOLOR);
    assert_int_equal(img_bw_jpeg(b.data, b.len, NULL, &out, &len), IMG_OK);
    assert_memory_equal(out + 20, "\xFF\xDB", 2); /* no comment: the quantization table */
    free(out), free(b.data);
}

/* Optional: the original experiment's photo, if the shared data folder is there. */
static void test_shared_photo(void **state)
{
    (void)state;
    FILE *f = fopen("/work/shared/data/3.jpeg", "rb");
    if (!f) skip();
    uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint8_t *out;
    size_t len;
    assert_int_equal(img_bw_jpeg(buf, n, NULL, &out, &len), IMG_OK);
    assert_bw_jpeg(out, len, 299, 168);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_not_an_image),
        cmocka_unit_test(test_limit_before_decode),
        cmocka_unit_test(test_limit_exact),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_dither_by_hand),
        cmocka_unit_test(test_wavefront_matches_reference),
        cmocka_unit_test(test_luma),
        cmocka_unit_test(test_output_is_jpeg),
        cmocka_unit_test(test_comment_carried),
        cmocka_unit_test(test_shared_photo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
