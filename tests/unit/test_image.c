/* Unit tests for src/image: sniffing, the pixel, memory and scan limits, corrupt and truncated
 * input of every format, the dither against a hand-computed case and against Pillow's loop,
 * PNG comments, and the JPEG that comes out. Test images are made here with the codec
 * libraries' encoders (and zlib for PNG chunks). */
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
#include <zlib.h>

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

/* A PNG of the given colour type and depth from raw samples (big-endian at 16 bits;
 * palette: a 4-entry PLTE), Adam7-interlaced or not. */
static blob_t make_png_il(const uint8_t *img, uint32_t w, uint32_t h, uint8_t colour_type, uint8_t depth,
                          int interlace)
{
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {.width = w,
                             .height = h,
                             .bit_depth = depth,
                             .color_type = colour_type,
                             .interlace_method = (uint8_t)interlace};
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

static blob_t make_png_from(const uint8_t *img, uint32_t w, uint32_t h, uint8_t colour_type, uint8_t depth)
{
    return make_png_il(img, w, h, colour_type, depth, 0);
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
    /* BMP and TIFF are in the table (pixload names them) but not decoded */
    assert_int_equal(img_sniff("BM\0\0", 4), IMG_FMT_UNKNOWN);
    assert_int_equal(img_sniff_any("BM\0\0", 4), IMG_FMT_BMP);
    assert_int_equal(img_sniff_any("II*\0", 4), IMG_FMT_TIFF);
    assert_int_equal(img_sniff_any("MM\0*", 4), IMG_FMT_TIFF);
    assert_int_equal(img_sniff_any("MM\0", 3), IMG_FMT_UNKNOWN);
    assert_int_equal(img_sniff_any("\xFF\xD8\xFF", 3), IMG_FMT_JPEG);
    assert_string_equal(img_format_mime(IMG_FMT_JPEG), "image/jpeg");
    assert_string_equal(img_format_mime(IMG_FMT_PNG), "image/png");
    assert_string_equal(img_format_mime(IMG_FMT_GIF), "image/gif");
    assert_string_equal(img_format_mime(IMG_FMT_WEBP), "image/webp");
    assert_string_equal(img_format_mime(IMG_FMT_BMP), "image/bmp");
    assert_string_equal(img_format_mime(IMG_FMT_TIFF), "image/tiff");
    assert_string_equal(img_format_mime(IMG_FMT_UNKNOWN), "application/octet-stream");
    for (int s = IMG_OK; s <= IMG_ERR_TOO_MANY_SCANS; s++)
        assert_string_not_equal(img_status_str((img_status_t)s), "unknown error");
    assert_string_equal(img_status_str(IMG_ERR_MEMORY), "image needs too much memory");
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

/* ---- decoder memory (img_limits_t.max_memory) ---- */

static img_status_t bw_with(const blob_t *b, uint64_t max_memory)
{
    img_limits_t lim = {0, max_memory};
    uint8_t *out = (uint8_t *)"x";
    size_t len;
    img_status_t st = img_bw_jpeg(b->data, b->len, &lim, &out, &len);
    if (st == IMG_OK)
        free(out);
    else
        assert_null(out);
    return st;
}

/* A progressive JPEG holds every DCT coefficient (2 bytes a sample, here 2 MiB) before the
 * first row; the same picture in baseline streams through a few rows. */
static void test_memory_jpeg(void **state)
{
    (void)state;
    blob_t base = make_jpeg(1024, 1024, 1, 0), prog = make_jpeg(1024, 1024, 1, 1);
    assert_int_equal(bw_with(&base, 1u << 20), IMG_OK);
    assert_int_equal(bw_with(&prog, 1u << 20), IMG_ERR_MEMORY);
    assert_int_equal(bw_with(&prog, 4u << 20), IMG_OK);
    assert_int_equal(bw_with(&prog, 0), IMG_OK); /* 0: no limit */
    free(base.data), free(prog.data);
    /* the audit's kind of file: a few dozen bytes declaring a progressive 6000x6000 (72 MB
     * of coefficients, within the pixel limit), refused before libjpeg allocates them */
    static const uint8_t hdr[] = {0xFF, 0xD8, 0xFF, 0xC2, 0, 11, 8, 0x17, 0x70, 0x17, 0x70, 1, 1,
                                  0x11, 0,    0xFF, 0xDA, 0, 8,  1, 1,    0,    0,    0,    0, 0};
    blob_t tiny = {(uint8_t *)hdr, sizeof hdr};
    assert_int_equal(bw_with(&tiny, 64u << 20), IMG_ERR_MEMORY);
}

/* An interlaced PNG is decoded whole first: 16-bit RGBA, 8 bytes a pixel (2 MiB here); the
 * same picture not interlaced goes row by row. */
static void test_memory_png(void **state)
{
    (void)state;
    uint32_t w = 512, h = 512;
    uint8_t *px = pixels(w, h * 2, 4); /* 8 bytes a pixel */
    blob_t flat = make_png_il(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 16, 0);
    blob_t il = make_png_il(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 16, 1);
    free(px);
    assert_int_equal(bw_with(&flat, 1u << 20), IMG_OK);
    assert_int_equal(bw_with(&il, 1u << 20), IMG_ERR_MEMORY);
    assert_int_equal(bw_with(&il, 3u << 20), IMG_OK);
    /* both give the same picture */
    uint8_t *a, *b;
    uint32_t aw, ah;
    assert_int_equal(img_bw_bitmap(flat.data, flat.len, NULL, &a, &aw, &ah), IMG_OK);
    assert_int_equal(img_bw_bitmap(il.data, il.len, NULL, &b, &aw, &ah), IMG_OK);
    assert_memory_equal(a, b, (size_t)w * h);
    free(a), free(b), free(flat.data), free(il.data);
    /* the audit's kind of file: an IHDR declaring an interlaced 16-bit RGBA 6000x6000
     * (288 MB decoded), refused before libspng allocates it */
    uint8_t png[33] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x17\x70\0\0\x17\x70\x10\x06\0\0\x01";
    uint32_t crc = (uint32_t)crc32(0, png + 12, 17);
    png[29] = (uint8_t)(crc >> 24), png[30] = (uint8_t)(crc >> 16), png[31] = (uint8_t)(crc >> 8),
    png[32] = (uint8_t)crc;
    blob_t tiny = {png, sizeof png};
    assert_int_equal(bw_with(&tiny, 256u << 20), IMG_ERR_MEMORY);
}

/* GIF holds its canvas (1 byte a pixel), WebP its RGBA output (and lossless its ARGB). */
static void test_memory_gif_webp(void **state)
{
    (void)state;
    blob_t gif = make_gif(600, 400, 0, NULL), webp = make_webp(600, 400, 1);
    assert_int_equal(bw_with(&gif, 600 * 400), IMG_ERR_MEMORY);
    assert_int_equal(bw_with(&gif, 1u << 20), IMG_OK);
    assert_int_equal(bw_with(&webp, 1u << 20), IMG_ERR_MEMORY);
    assert_int_equal(bw_with(&webp, 8u << 20), IMG_OK);
    free(gif.data), free(webp.data);
}

/* ---- JPEG scans ---- */

/* The offset of the last SOS marker (the last scan runs from there to EOI). */
static size_t last_sos(const blob_t *b)
{
    size_t at = 0;
    for (size_t i = 0; i + 1 < b->len; i++)
        if (b->data[i] == 0xFF && b->data[i + 1] == 0xDA) at = i;
    assert_true(at > 0);
    return at;
}

/* `b` with its last scan repeated until the file has `scans` scans (before EOI), then
 * `tail` (tail_len bytes) instead of the EOI. */
static blob_t with_scans(const blob_t *b, unsigned have, unsigned scans, const uint8_t *tail, size_t tail_len)
{
    size_t sos = last_sos(b), scan = b->len - 2 - sos;
    blob_t out = {malloc(b->len - 2 + (scans - have) * scan + tail_len), 0};
    memcpy(out.data, b->data, b->len - 2);
    out.len = b->len - 2;
    for (unsigned k = have; k < scans; k++, out.len += scan)
        memcpy(out.data + out.len, b->data + sos, scan);
    if (tail_len) memcpy(out.data + out.len, tail, tail_len);
    out.len += tail_len;
    return out;
}

/* Scans past IMG_JPEG_MAX_SCANS are refused before decoding. libjpeg only warns about the
 * repeated refinement scans, so up to the limit the file decodes. */
static void test_too_many_scans(void **state)
{
    (void)state;
    blob_t prog = make_jpeg(64, 48, 1, 1); /* jpeg_simple_progression: 6 scans for gray */
    unsigned have = 0;
    for (size_t i = 0; i + 1 < prog.len; i++)
        have += prog.data[i] == 0xFF && prog.data[i + 1] == 0xDA;
    assert_int_equal(have, 6);
    static const uint8_t eoi[] = {0xFF, 0xD9};
    blob_t at = with_scans(&prog, have, IMG_JPEG_MAX_SCANS, eoi, 2);
    blob_t over = with_scans(&prog, have, IMG_JPEG_MAX_SCANS + 1, eoi, 2);
    assert_int_equal(bw_with(&at, 0), IMG_OK);
    assert_int_equal(bw_with(&over, 0), IMG_ERR_TOO_MANY_SCANS);
    /* counted before decoding: cut right after the extra scan's header, a decoder would
     * have stopped on the truncation (IMG_ERR_CORRUPT) */
    blob_t cut = with_scans(&prog, have, IMG_JPEG_MAX_SCANS, NULL, 0);
    size_t sos = last_sos(&prog), hdr = 2 + ((size_t)prog.data[sos + 2] << 8 | prog.data[sos + 3]);
    cut.data = realloc(cut.data, cut.len + hdr);
    memcpy(cut.data + cut.len, prog.data + sos, hdr);
    cut.len += hdr;
    assert_int_equal(bw_with(&cut, 0), IMG_ERR_TOO_MANY_SCANS);
    /* scans after EOI are not the image's: libjpeg never reads them */
    blob_t junk = with_scans(&prog, have, IMG_JPEG_MAX_SCANS + 5, NULL, 0);
    junk.data = realloc(junk.data, junk.len + 2);
    memmove(junk.data + prog.len, junk.data + prog.len - 2, junk.len - (prog.len - 2));
    memcpy(junk.data + prog.len - 2, eoi, 2); /* the EOI back in its place */
    junk.len += 2;
    assert_int_equal(bw_with(&junk, 0), IMG_OK);
    free(prog.data), free(at.data), free(over.data), free(cut.data), free(junk.data);
}

/* ---- PNG comments (Pillow's info["comment"]) ---- */

/* A PNG chunk with its length and CRC appended to *b. */
static void add_chunk(blob_t *b, const char *type, const void *data, size_t n)
{
    b->data = realloc(b->data, b->len + 12 + n);
    uint8_t *p = b->data + b->len;
    p[0] = (uint8_t)(n >> 24), p[1] = (uint8_t)(n >> 16), p[2] = (uint8_t)(n >> 8), p[3] = (uint8_t)n;
    memcpy(p + 4, type, 4);
    if (n) memcpy(p + 8, data, n);
    uint32_t crc = (uint32_t)crc32(0, p + 4, (uInt)(n + 4));
    p[8 + n] = (uint8_t)(crc >> 24), p[9 + n] = (uint8_t)(crc >> 16), p[10 + n] = (uint8_t)(crc >> 8),
          p[11 + n] = (uint8_t)crc;
    b->len += 12 + n;
}

/* `keyword` NUL `rest` (rest_len bytes), for tEXt/zTXt/iTXt bodies. */
static size_t text_body(uint8_t *buf, const char *keyword, const void *rest, size_t rest_len)
{
    size_t k = strlen(keyword);
    memcpy(buf, keyword, k + 1);
    memcpy(buf + k + 1, rest, rest_len);
    return k + 1 + rest_len;
}

static size_t ztxt_body(uint8_t *buf, const char *keyword, const char *text, size_t text_len)
{
    uint8_t z[4096];
    uLongf zlen = sizeof z - 1;
    z[0] = 0; /* method: deflate */
    assert_int_equal(compress(z + 1, &zlen, (const Bytef *)text, text_len), Z_OK);
    return text_body(buf, keyword, z, zlen + 1);
}

/* A small gray PNG with `before` chunks ahead of IDAT and `after` chunks after it, as
 * (type, body) pairs laid out by the callers below. */
typedef struct {
    const char *type;
    uint8_t body[512];
    size_t len;
} chunk_t;

static blob_t png_with(const chunk_t *before, size_t nb, const chunk_t *after, size_t na)
{
    uint8_t px[8 * 4];
    memset(px, 100, sizeof px);
    blob_t plain = make_png_from(px, 8, 4, SPNG_COLOR_TYPE_GRAYSCALE, 8);
    size_t idat = 8 + 12 + 13; /* signature, IHDR (libspng writes nothing else first) */
    assert_memory_equal(plain.data + idat + 4, "IDAT", 4);
    size_t idat_end = idat + 12 + img_be32(plain.data + idat);
    blob_t b = {NULL, 0};
    b.data = malloc(idat);
    memcpy(b.data, plain.data, idat);
    b.len = idat;
    for (size_t i = 0; i < nb; i++)
        add_chunk(&b, before[i].type, before[i].body, before[i].len);
    b.data = realloc(b.data, b.len + idat_end - idat);
    memcpy(b.data + b.len, plain.data + idat, idat_end - idat);
    b.len += idat_end - idat;
    for (size_t i = 0; i < na; i++)
        add_chunk(&b, after[i].type, after[i].body, after[i].len);
    add_chunk(&b, "IEND", NULL, 0);
    free(plain.data);
    return b;
}

/* The comment pixd writes into the output JPEG (NULL if none), checked against `want`. */
static void assert_comment(const blob_t *png, const char *want, size_t want_len)
{
    uint8_t *out;
    size_t len;
    assert_int_equal(img_bw_jpeg(png->data, png->len, NULL, &out, &len), IMG_OK);
    if (!want) {
        assert_memory_equal(out + 20, "\xFF\xDB", 2); /* straight to the quantization table */
    } else {
        assert_memory_equal(out + 20, "\xFF\xFE", 2);
        assert_int_equal(((size_t)out[22] << 8 | out[23]) - 2, want_len);
        assert_memory_equal(out + 24, want, want_len);
    }
    free(out);
}

static void test_png_comment(void **state)
{
    (void)state;
    chunk_t c[3] = {{"tEXt"}, {"tEXt"}, {"tEXt"}};
    /* tEXt is Latin-1, written out as UTF-8; NUL bytes in the value stay */
    c[0].len = text_body(c[0].body, "comment", "caf\xe9\0!", 6);
    blob_t b = png_with(c, 1, NULL, 0);
    assert_comment(&b, "caf\xc3\xa9\0!", 7);
    free(b.data);
    /* the key is case-sensitive; other keys are not comments */
    c[0].len = text_body(c[0].body, "Comment", "no", 2);
    c[1].len = text_body(c[1].body, "Title", "no", 2);
    b = png_with(c, 2, NULL, 0);
    assert_comment(&b, NULL, 0);
    free(b.data);
    /* the last one wins, after IDAT too; an empty one still replaces */
    c[0].len = text_body(c[0].body, "comment", "first", 5);
    c[1].len = text_body(c[1].body, "comment", "second", 6);
    b = png_with(c, 1, c + 1, 1);
    assert_comment(&b, "second", 6);
    free(b.data);
    c[1].len = text_body(c[1].body, "comment", "", 0);
    b = png_with(c, 1, c + 1, 1);
    assert_comment(&b, NULL, 0);
    free(b.data);
    /* zTXt: inflated, Latin-1 */
    c[0].type = "zTXt";
    c[0].len = ztxt_body(c[0].body, "comment", "zipped \xff", 8);
    b = png_with(c, 1, NULL, 0);
    assert_comment(&b, "zipped \xc3\xbf", 9);
    free(b.data);
    /* iTXt: UTF-8 as is, compressed or not; invalid UTF-8 makes Pillow skip the chunk */
    c[0].type = "tEXt";
    c[0].len = text_body(c[0].body, "comment", "kept", 4);
    c[1].type = "iTXt";
    c[1].len = text_body(c[1].body, "comment", "\0\0en\0Kommentar\0\xc3\xa9t\xc3\xa9", 20);
    c[2].type = "iTXt";
    c[2].len = text_body(c[2].body, "comment", "\0\0\0\0\xc0\xaf", 6); /* overlong '/' */
    b = png_with(c, 2, c + 2, 1);
    assert_comment(&b, "\xc3\xa9t\xc3\xa9", 5);
    free(b.data);
    c[1].len--; /* a sequence cut short: skipped too */
    b = png_with(c, 2, c + 2, 1);
    assert_comment(&b, "kept", 4);
    free(b.data);
    /* Pillow fails on a zTXt method other than 0, and on a chunk cut short after IDAT */
    c[0].type = "zTXt";
    c[0].len = text_body(c[0].body, "anything", "\1xx", 3);
    b = png_with(c, 1, NULL, 0);
    uint8_t *out;
    size_t len;
    assert_int_equal(img_bw_jpeg(b.data, b.len, NULL, &out, &len), IMG_ERR_CORRUPT);
    free(b.data);
    c[0].type = "tEXt";
    c[0].len = text_body(c[0].body, "comment", "late", 4);
    b = png_with(NULL, 0, c, 1);
    assert_comment(&b, "late", 4);
    assert_int_equal(img_bw_jpeg(b.data, b.len - 12 - 5, NULL, &out, &len),
                     IMG_ERR_CORRUPT);                                               /* in its data */
    assert_int_equal(img_bw_jpeg(b.data, b.len - 12 - 1, NULL, &out, &len), IMG_OK); /* its CRC */
    free(out);
    free(b.data);
    /* before IDAT Pillow checks CRCs (libspng is told to as well) */
    b = png_with(c, 1, NULL, 0);
    b.data[8 + 25 + 12] ^= 1; /* the tEXt's first data byte */
    assert_int_equal(img_bw_jpeg(b.data, b.len, NULL, &out, &len), IMG_ERR_CORRUPT);
    free(b.data);
}

/* zlib as Python's decompressobj: a stream cut short gives what it has, a broken one gives an
 * empty comment, more than 1 MiB makes Pillow fail. */
static void test_png_comment_zlib(void **state)
{
    (void)state;
    uint8_t body[4096], *out;
    size_t len, n = ztxt_body(body, "comment", "hello world", 11);
    chunk_t c[2] = {{"tEXt"}, {"zTXt"}};
    c[0].len = text_body(c[0].body, "comment", "earlier", 7);
    /* cut: the Adler-32 and the last code missing */
    memcpy(c[1].body, body, n - 6);
    c[1].len = n - 6;
    blob_t b = png_with(c, 2, NULL, 0);
    assert_int_equal(img_png_comment(b.data, b.len, &out, &len), IMG_OK);
    assert_true(len > 0 && len < 11);
    assert_memory_equal(out, "hello world", len);
    free(out), free(b.data);
    /* broken: a bad zlib header replaces the earlier comment with nothing */
    memcpy(c[1].body, body, n);
    c[1].body[9] ^= 0xFF;
    c[1].len = n;
    b = png_with(c, 2, NULL, 0);
    assert_int_equal(img_png_comment(b.data, b.len, &out, &len), IMG_OK);
    assert_null(out);
    assert_int_equal(len, 0);
    /* exactly 1 MiB is fine, one byte more is not */
    for (size_t size = (1u << 20); size <= (1u << 20) + 1; size++) {
        char *text = malloc(size);
        memset(text, 'a', size);
        uLongf zlen = compressBound(size);
        blob_t png = {malloc(8 + 12 + 13), 8 + 12 + 13};
        memcpy(png.data, b.data, png.len); /* signature and IHDR */
        uint8_t *z = malloc(9 + zlen);
        memcpy(z, "comment\0\0", 9);
        assert_int_equal(compress(z + 9, &zlen, (const Bytef *)text, size), Z_OK);
        add_chunk(&png, "zTXt", z, 9 + zlen);
        img_status_t st = img_png_comment(png.data, png.len, &out, &len);
        if (size == (1u << 20)) {
            assert_int_equal(st, IMG_OK);
            assert_int_equal(len, size);
            free(out);
        } else {
            assert_int_equal(st, IMG_ERR_CORRUPT);
        }
        free(z), free(text), free(png.data);
    }
    free(b.data);
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
        cmocka_unit_test(test_memory_jpeg),
        cmocka_unit_test(test_memory_png),
        cmocka_unit_test(test_memory_gif_webp),
        cmocka_unit_test(test_too_many_scans),
        cmocka_unit_test(test_png_comment),
        cmocka_unit_test(test_png_comment_zlib),
        cmocka_unit_test(test_shared_photo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
