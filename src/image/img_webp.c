/* Still WebP (lossy, lossless, with or without alpha) through libwebp. Pillow 9.4 decodes
 * through WebPAnimDecoder as non-premultiplied RGBA and convert('1') drops the alpha, so we
 * decode to RGBA too and take the luminance of RGB. Colour mode decodes to RGBA when the file
 * has alpha, else to RGB. Animated files need libwebpdemux for the first frame and are
 * refused as unsupported. */
#include "image/img_internal.h"

#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>

typedef struct {
    img_source_t base;
    uint8_t *rgba; /* the decoded frame, rows of img_pix_bytes(base.pix) bytes a pixel */
    uint32_t y;
} webp_src_t;

static void webp_src_destroy(img_source_t *base)
{
    webp_src_t *s = (webp_src_t *)base;
    free(s->rgba);
    free(s);
}

static img_status_t webp_src_read(img_source_t *base, uint8_t *const *rows, unsigned n)
{
    webp_src_t *s = (webp_src_t *)base;
    size_t stride = (size_t)base->width * img_pix_bytes(base->pix);
    for (unsigned i = 0; i < n; i++, s->y++)
        memcpy(rows[i], s->rgba + s->y * stride, stride);
    return IMG_OK;
}

/* libwebp's peak besides our RGBA output (4 bytes a pixel), from its decoders: lossless
 * (VP8L) decodes the whole image into 32-bit ARGB first (4 bytes a pixel, plus a cache of
 * 16 rows); lossy (VP8) works a macroblock row at a time, but an alpha channel is a whole
 * plane (1 byte a pixel), with another plane for its own VP8L filtering. Mixed or unknown
 * formats are counted as lossless. Plus a fixed allowance for tables and per-row state. */
#define WEBP_FIXED_BYTES (1u << 20)

static uint64_t webp_memory(const WebPBitstreamFeatures *f)
{
    uint64_t w = (uint64_t)f->width, h = (uint64_t)f->height;
    uint64_t internal = f->format == 1 ? (f->has_alpha ? 2 * w * h : 0) + 48 * w : 4 * w * h + 64 * w;
    return 4 * w * h + internal + WEBP_FIXED_BYTES;
}

img_status_t img_webp_source(const uint8_t *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                             img_source_t **out)
{
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return IMG_ERR_UNSUPPORTED; /* libwebp ABI mismatch */
    VP8StatusCode vst = WebPGetFeatures(in, len, &config.input);
    if (vst == VP8_STATUS_NOT_ENOUGH_DATA || vst == VP8_STATUS_BITSTREAM_ERROR) return IMG_ERR_CORRUPT;
    if (vst != VP8_STATUS_OK) return IMG_ERR_UNSUPPORTED;
    img_status_t st =
        img_check_size((uint64_t)config.input.width, (uint64_t)config.input.height, lim->max_pixels);
    if (st != IMG_OK) return st;
    if (config.input.has_animation) return IMG_ERR_UNSUPPORTED;
    img_pix_t pix = !mode->colour ? IMG_PIX_RGBX : config.input.has_alpha ? IMG_PIX_RGBA : IMG_PIX_RGB;
    uint64_t frame =
        img_mode_frame(mode, (uint64_t)config.input.width, (uint64_t)config.input.height, img_pix_bytes(pix));
    if ((st = img_check_memory(webp_memory(&config.input) + frame, lim)) != IMG_OK) return st;
    webp_src_t *s = calloc(1, sizeof *s);
    if (!s) return IMG_ERR_NOMEM;
    s->base.width = (uint32_t)config.input.width;
    s->base.height = (uint32_t)config.input.height;
    s->base.pix = pix;
    s->base.orientation = 1;
    s->base.read_rows = webp_src_read;
    s->base.destroy = webp_src_destroy;
    size_t stride = (size_t)s->base.width * img_pix_bytes(pix), size = stride * s->base.height;
    s->rgba = malloc(size);
    if (!s->rgba) {
        webp_src_destroy(&s->base);
        return IMG_ERR_NOMEM;
    }
    config.output.colorspace = pix == IMG_PIX_RGB ? MODE_RGB : MODE_RGBA;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = s->rgba;
    config.output.u.RGBA.stride = (int)stride;
    config.output.u.RGBA.size = size;
    vst = WebPDecode(in, len, &config);
    WebPFreeDecBuffer(&config.output);
    if (vst != VP8_STATUS_OK) {
        webp_src_destroy(&s->base);
        return vst == VP8_STATUS_OUT_OF_MEMORY ? IMG_ERR_NOMEM : IMG_ERR_CORRUPT;
    }
    *out = &s->base;
    return IMG_OK;
}
