/* PNG through libspng, mapped onto the modes Pillow 9.4 opens PNGs in (PngImagePlugin
 * _MODES) and the way convert('1') then treats each:
 *   gray 1-bit        "1"              copied as is
 *   gray 2/4/8-bit    "L" (L;2 x85, L;4 x17)   dithered
 *   gray 16-bit       "I" (I;16B)      convert goes I -> L clipping to 0..255, dithered
 *   RGB(A) 8/16-bit   "RGB"/"RGBA", 16-bit keeps the high byte; luminance, dithered
 *   gray+alpha 8/16   "LA" / "RGBA" of gray; the gray byte, dithered
 *   palette 1..8-bit  "P": palette luminance >= 128 thresholded, no dithering; indices
 *                     past the PLTE read Pillow's default palette, a gray ramp.
 * Transparency, gamma and colour chunks do not change the pixels Pillow decodes.
 * Non-interlaced images are decoded a row at a time straight into the pipeline's rows;
 * interlaced ones need the whole image first.
 * Colour mode lets libspng expand every type to RGB8, or to RGBA8 with the tRNS chunk applied
 * when there is alpha or a tRNS (16-bit samples keep their high byte), and reads the
 * orientation of an eXIf chunk before IDAT. */
#include "image/img_internal.h"

#include <spng.h>
#include <stdlib.h>
#include <string.h>

/* Ancillary chunks (text, ICC, EXIF) libspng keeps: none of them matter here (the comment is
 * read by img_png_comment). */
#define CHUNK_CACHE_LIMIT (4u << 20)
/* libspng's and zlib's fixed state: the context, the inflate window (32 KiB) and tables. */
#define PNG_FIXED_BYTES (64u << 10)

typedef struct {
    img_source_t base;
    spng_ctx *ctx;
    struct spng_ihdr ihdr;
    uint8_t lut[256]; /* palette index -> 0/255 */
    uint8_t *raw;     /* one decoded row, or the whole interlaced image */
    size_t raw_row;   /* bytes per decoded row */
    uint32_t y;       /* next row */
    int use_lut;      /* packed samples through lut[] (palette, 1-bit gray) */
    int direct;       /* decoded rows are already in the pipeline's layout */
    int fmt, flags;   /* what libspng decodes to: SPNG_FMT_RAW, or RGB8/RGBA8 in colour mode */
    uint8_t *comment; /* img_png_comment's */
} png_src_t;

static void png_src_destroy(img_source_t *base)
{
    png_src_t *s = (png_src_t *)base;
    spng_ctx_free(s->ctx);
    free(s->raw);
    free(s->comment);
    free(s);
}

static img_status_t spng_status(int err)
{
    return err == SPNG_EMEM ? IMG_ERR_NOMEM : IMG_ERR_CORRUPT;
}

/* Sample i of a row of 1/2/4/8-bit samples. */
static inline unsigned packed_sample(const uint8_t *row, uint32_t i, unsigned depth)
{
    unsigned per_byte = 8 / depth, shift = 8 - depth * (i % per_byte + 1);
    return (row[i / per_byte] >> shift) & ((1u << depth) - 1);
}

/* One decoded PNG row -> one pipeline row (see the table above). */
static void convert_row(const png_src_t *s, const uint8_t *raw, uint8_t *out)
{
    uint32_t w = s->base.width;
    unsigned depth = s->ihdr.bit_depth;
    if (s->use_lut) {
        for (uint32_t x = 0; x < w; x++)
            out[x] = s->lut[packed_sample(raw, x, depth)];
        return;
    }
    switch (s->ihdr.color_type) {
    case SPNG_COLOR_TYPE_GRAYSCALE:
        if (depth == 16) {
            for (uint32_t x = 0; x < w; x++) {
                unsigned v = (unsigned)raw[2 * x] << 8 | raw[2 * x + 1];
                out[x] = (uint8_t)(v > 255 ? 255 : v);
            }
        } else {
            unsigned scale = 255 / ((1u << depth) - 1);
            for (uint32_t x = 0; x < w; x++)
                out[x] = (uint8_t)(packed_sample(raw, x, depth) * scale);
        }
        break;
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: /* the gray byte (high byte at 16 bits) */
        for (uint32_t x = 0; x < w; x++)
            out[x] = raw[x * depth / 4];
        break;
    default: { /* RGB or RGBA at 16 bits: the high bytes, 3 or 4 channels */
        unsigned ch = img_pix_bytes(s->base.pix);
        for (uint32_t x = 0; x < w * ch; x++)
            out[x] = raw[2 * x];
        break;
    }
    }
}

static img_status_t png_src_read(img_source_t *base, uint8_t *const *rows, unsigned n)
{
    png_src_t *s = (png_src_t *)base;
    size_t out_bytes = (size_t)base->width * img_pix_bytes(base->pix);
    for (unsigned i = 0; i < n; i++, s->y++) {
        const uint8_t *raw;
        if (s->ihdr.interlace_method) {
            raw = s->raw + (size_t)s->y * s->raw_row;
        } else {
            uint8_t *dst = s->direct ? rows[i] : s->raw;
            int err = spng_decode_row(s->ctx, dst, s->raw_row);
            if (err && err != SPNG_EOI) return spng_status(err);
            raw = dst;
        }
        if (s->direct && s->ihdr.interlace_method)
            memcpy(rows[i], raw, out_bytes);
        else if (!s->direct)
            convert_row(s, raw, rows[i]);
    }
    return IMG_OK;
}

/* Pillow's p2bit over the palette; past its end Pillow's palette is a gray ramp. */
static img_status_t build_lut(png_src_t *s)
{
    struct spng_plte plte;
    int err = spng_get_plte(s->ctx, &plte);
    if (err) return IMG_ERR_CORRUPT;
    for (unsigned i = 0; i < 256; i++) {
        struct spng_plte_entry e = {(uint8_t)i, (uint8_t)i, (uint8_t)i, 255};
        if (i < plte.n_entries) e = plte.entries[i];
        s->lut[i] = img_palette_bit(e.red, e.green, e.blue);
    }
    return IMG_OK;
}

/* What libspng may cache of the chunks before IDAT (it reads none after): their data, with
 * compressed text counted inflated at deflate's largest ratio, 1032:1; CHUNK_CACHE_LIMIT at
 * most. */
static uint64_t png_cache_bound(const uint8_t *in, size_t len)
{
    uint64_t sum = 0;
    for (size_t pos = 8; len - pos >= 12 && sum < CHUNK_CACHE_LIMIT;) {
        const uint8_t *type = in + pos + 4;
        uint64_t n = img_be32(in + pos);
        if (memcmp(type, "IDAT", 4) == 0) break;
        sum += memcmp(type, "zTXt", 4) == 0 || memcmp(type, "iTXt", 4) == 0 ? n * 1032 : n;
        if (n > len - pos - 12) break;
        pos += 12 + n;
    }
    return sum < CHUNK_CACHE_LIMIT ? sum : CHUNK_CACHE_LIMIT;
}

/* libspng's peak from IHDR: an interlaced image is decoded whole (SPNG_FMT_RAW: up to 8
 * bytes a pixel for 16-bit RGBA) before its first row comes out; any image also needs a few
 * rows (libspng's scanline and previous scanline, its deinterlacing row, ours), the chunks
 * it caches and zlib's state. (The comment, img_png_comment's, is bounded by the input and
 * by 1 MiB a chunk inflated.) */
static uint64_t png_memory(const png_src_t *s, const uint8_t *in, size_t len, size_t image_size)
{
    uint64_t need = PNG_FIXED_BYTES + png_cache_bound(in, len) + 4 * ((uint64_t)s->raw_row + 32);
    return need + (s->ihdr.interlace_method ? image_size : 0);
}

/* Colour mode: RGB8, or RGBA8 for alpha or tRNS, which libspng applies. */
static void colour_mode(png_src_t *s)
{
    struct spng_trns trns;
    int alpha = (s->ihdr.color_type & 4) || spng_get_trns(s->ctx, &trns) == 0;
    s->base.pix = alpha ? IMG_PIX_RGBA : IMG_PIX_RGB;
    s->fmt = alpha ? SPNG_FMT_RGBA8 : SPNG_FMT_RGB8;
    s->flags = alpha ? SPNG_DECODE_TRNS : 0;
    s->direct = 1;
    struct spng_exif exif;
    if (spng_get_exif(s->ctx, &exif) == 0)
        s->base.orientation = img_exif_orientation((const uint8_t *)exif.data, exif.length);
}

/* convert('1') mode: Pillow's modes, see the table above. */
static img_status_t bilevel_mode(png_src_t *s)
{
    unsigned depth = s->ihdr.bit_depth;
    s->fmt = SPNG_FMT_RAW;
    switch (s->ihdr.color_type) {
    case SPNG_COLOR_TYPE_INDEXED:
        s->base.pix = IMG_PIX_BILEVEL;
        s->use_lut = 1;
        return build_lut(s);
    case SPNG_COLOR_TYPE_GRAYSCALE:
        s->base.pix = depth == 1 ? IMG_PIX_BILEVEL : IMG_PIX_GRAY;
        s->use_lut = depth == 1; /* mode "1": bits 0/1 are 0/255 */
        s->lut[1] = 255;
        s->direct = depth == 8;
        break;
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA:
        s->base.pix = IMG_PIX_GRAY;
        break;
    case SPNG_COLOR_TYPE_TRUECOLOR:
        s->base.pix = IMG_PIX_RGB;
        s->direct = depth == 8;
        break;
    default:
        s->base.pix = IMG_PIX_RGBX;
        s->direct = depth == 8;
        break;
    }
    return IMG_OK;
}

img_status_t img_png_source(const uint8_t *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                            img_source_t **out)
{
    png_src_t *s = calloc(1, sizeof *s);
    if (!s) return IMG_ERR_NOMEM;
    s->base.read_rows = png_src_read;
    s->base.destroy = png_src_destroy;
    s->base.orientation = 1;
    s->ctx = spng_ctx_new(0);
    img_status_t st = IMG_ERR_NOMEM;
    if (!s->ctx) goto fail;
    spng_set_chunk_limits(s->ctx, CHUNK_CACHE_LIMIT, CHUNK_CACHE_LIMIT);
    /* Pillow checks every chunk's CRC before the image data and fails on a bad one, where
     * libspng would drop an ancillary chunk (after the data Pillow checks none, and libspng
     * reads nothing there unless asked) */
    spng_set_crc_action(s->ctx, SPNG_CRC_ERROR, SPNG_CRC_ERROR);
    spng_set_png_buffer(s->ctx, in, len);
    int err = spng_get_ihdr(s->ctx, &s->ihdr);
    if (err) {
        st = spng_status(err);
        goto fail;
    }
    st = img_check_size(s->ihdr.width, s->ihdr.height, lim->max_pixels);
    if (st != IMG_OK) goto fail;
    s->base.width = s->ihdr.width;
    s->base.height = s->ihdr.height;
    if (mode->colour)
        colour_mode(s);
    else if ((st = bilevel_mode(s)) != IMG_OK)
        goto fail;

    size_t image_size;
    if ((err = spng_decoded_image_size(s->ctx, s->fmt, &image_size))) {
        st = spng_status(err);
        goto fail;
    }
    s->raw_row = image_size / s->ihdr.height;
    uint64_t frame = img_mode_frame(mode, s->ihdr.width, s->ihdr.height, img_pix_bytes(s->base.pix));
    if ((st = img_check_memory(png_memory(s, in, len, image_size) + frame, lim)) != IMG_OK) goto fail;
    if (!mode->colour && (st = img_png_comment(in, len, &s->comment, &s->base.comment_len)) != IMG_OK)
        goto fail;
    s->base.comment = s->comment;
    if (s->ihdr.interlace_method) {
        /* zeroed: libspng ORs sub-byte samples into place when deinterlacing */
        s->raw = calloc(1, image_size);
        err = s->raw ? spng_decode_image(s->ctx, s->raw, image_size, s->fmt, s->flags) : SPNG_EMEM;
    } else {
        s->raw = s->direct ? NULL : malloc(s->raw_row);
        err = s->direct || s->raw
                  ? spng_decode_image(s->ctx, NULL, 0, s->fmt, s->flags | SPNG_DECODE_PROGRESSIVE)
                  : SPNG_EMEM;
    }
    if (err) {
        st = spng_status(err);
        goto fail;
    }
    *out = &s->base;
    return IMG_OK;
fail:
    png_src_destroy(&s->base);
    return st;
}
