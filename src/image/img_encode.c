/* render.h's img_encode: JPEG (the pipeline's libjpeg writer in RGB), PNG (libspng), WebP
 * (libwebp) and AVIF (libavif). None is given any metadata to write. */
#include "image/render.h"

#include "image/img_internal.h"

#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <avif/avif.h>
#include <jpeglib.h>
#include <spng.h>
#include <webp/encode.h>

/* Alpha over white, a row at a time: c * a + 255 * (255 - a), rounded back to 0..255. */
static void over_white(const uint8_t *rgba, uint8_t *rgb, uint32_t width)
{
    for (uint32_t x = 0; x < width; x++, rgba += 4, rgb += 3) {
        unsigned a = rgba[3];
        for (int c = 0; c < 3; c++)
            rgb[c] = (uint8_t)((rgba[c] * a + 255 * (255 - a) + 127) / 255);
    }
}

static img_status_t encode_jpeg(const img_pixels_t *p, int quality, uint8_t **out, size_t *out_len)
{
    img_jpeg_enc_t *enc;
    img_status_t st = img_jpeg_enc_start_rgb(&enc, p->width, p->height, quality);
    if (st != IMG_OK) return st;
    size_t stride = (size_t)p->width * p->bands;
    uint8_t *rgb = p->bands == 4 ? malloc((size_t)p->width * 3) : NULL;
    if (p->bands == 4 && !rgb) st = IMG_ERR_NOMEM;
    for (uint32_t y = 0; y < p->height && st == IMG_OK; y++) {
        uint8_t *row = p->px + y * stride;
        if (rgb) {
            over_white(row, rgb, p->width);
            row = rgb;
        }
        st = img_jpeg_enc_rows(enc, &row, 1);
    }
    free(rgb);
    if (st == IMG_OK) return img_jpeg_enc_finish(enc, out, out_len);
    img_jpeg_enc_destroy(enc);
    return st;
}

static img_status_t encode_png(const img_pixels_t *p, uint8_t **out, size_t *out_len)
{
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx) return IMG_ERR_NOMEM;
    struct spng_ihdr ihdr = {
        .width = p->width,
        .height = p->height,
        .bit_depth = 8,
        .color_type = p->bands == 4 ? SPNG_COLOR_TYPE_TRUECOLOR_ALPHA : SPNG_COLOR_TYPE_TRUECOLOR,
    };
    int err = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    if (!err) err = spng_set_ihdr(ctx, &ihdr);
    if (!err)
        err = spng_encode_image(ctx, p->px, (size_t)p->width * p->height * p->bands, SPNG_FMT_PNG,
                                SPNG_ENCODE_FINALIZE);
    /* the buffer is the caller's, from libspng's default allocator: malloc */
    if (!err) *out = spng_get_png_buffer(ctx, out_len, &err);
    spng_ctx_free(ctx);
    if (!err && *out) return IMG_OK;
    *out = NULL;
    return err == SPNG_EMEM ? IMG_ERR_NOMEM : IMG_ERR_INTERNAL;
}

/* The output of the WebP and AVIF encoders, in our own malloc'd buffer. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
} outbuf_t;

static int outbuf_add(outbuf_t *b, const uint8_t *data, size_t n)
{
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *nd = realloc(b->data, cap);
        if (!nd) return 0;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 1;
}

static int webp_write(const uint8_t *data, size_t n, const WebPPicture *pic)
{
    return outbuf_add(pic->custom_ptr, data, n);
}

static img_status_t encode_webp(const img_pixels_t *p, int quality, uint8_t **out, size_t *out_len)
{
    WebPConfig config;
    WebPPicture pic;
    if (!WebPConfigInit(&config) || !WebPPictureInit(&pic)) return IMG_ERR_INTERNAL; /* ABI mismatch */
    config.quality = (float)quality; /* lossy; alpha, if any, lossless (libwebp's default) */
    outbuf_t buf = {0};
    pic.width = (int)p->width;
    pic.height = (int)p->height;
    pic.writer = webp_write;
    pic.custom_ptr = &buf;
    int stride = (int)(p->width * p->bands);
    int ok = p->bands == 4 ? WebPPictureImportRGBA(&pic, p->px, stride)
                           : WebPPictureImportRGB(&pic, p->px, stride);
    ok = ok && WebPEncode(&config, &pic);
    WebPEncodingError why = pic.error_code;
    WebPPictureFree(&pic);
    if (!ok) {
        free(buf.data);
        return why == VP8_ENC_ERROR_OUT_OF_MEMORY || why == VP8_ENC_ERROR_BAD_WRITE ? IMG_ERR_NOMEM
                                                                                    : IMG_ERR_INTERNAL;
    }
    *out = buf.data;
    *out_len = buf.len;
    return IMG_OK;
}

/* libavif 0.11 takes quantizers (0 best .. 63); libavif 1.0's mapping from a quality. */
static int avif_quantizer(int quality)
{
    return ((100 - quality) * AVIF_QUANTIZER_WORST_QUALITY + 50) / 100;
}

static img_status_t encode_avif(const img_pixels_t *p, int quality, uint8_t **out, size_t *out_len)
{
    avifImage *image = avifImageCreate((int)p->width, (int)p->height, 8, AVIF_PIXEL_FORMAT_YUV420);
    avifEncoder *enc = avifEncoderCreate();
    avifRWData data = AVIF_DATA_EMPTY;
    avifResult r = AVIF_RESULT_OUT_OF_MEMORY;
    if (image && enc) {
        /* sRGB, said in the colr box (not metadata: it is how the pixels are to be read) */
        image->colorPrimaries = AVIF_COLOR_PRIMARIES_BT709;
        image->transferCharacteristics = AVIF_TRANSFER_CHARACTERISTICS_SRGB;
        image->matrixCoefficients = AVIF_MATRIX_COEFFICIENTS_BT601;
        image->yuvRange = AVIF_RANGE_FULL;
        avifRGBImage rgb;
        avifRGBImageSetDefaults(&rgb, image);
        rgb.format = p->bands == 4 ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB;
        rgb.depth = 8;
        rgb.pixels = p->px;
        rgb.rowBytes = p->width * p->bands;
        r = avifImageRGBToYUV(image, &rgb);
        enc->maxThreads = 1; /* one job per pool thread */
        enc->speed = IMG_AVIF_SPEED;
        enc->minQuantizer = enc->maxQuantizer = avif_quantizer(quality);
        enc->minQuantizerAlpha = enc->maxQuantizerAlpha = avif_quantizer(quality);
        if (r == AVIF_RESULT_OK) r = avifEncoderWrite(enc, image, &data);
    }
    outbuf_t buf = {0};
    if (r == AVIF_RESULT_OK && !outbuf_add(&buf, data.data, data.size)) r = AVIF_RESULT_OUT_OF_MEMORY;
    avifRWDataFree(&data);
    if (enc) avifEncoderDestroy(enc);
    if (image) avifImageDestroy(image);
    if (r != AVIF_RESULT_OK)
        return r == AVIF_RESULT_OUT_OF_MEMORY        ? IMG_ERR_NOMEM
               : r == AVIF_RESULT_NO_CODEC_AVAILABLE ? IMG_ERR_UNSUPPORTED
                                                     : IMG_ERR_INTERNAL;
    *out = buf.data;
    *out_len = buf.len;
    return IMG_OK;
}

img_status_t img_encode(const img_pixels_t *p, img_format_t fmt, int quality, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!img_pixels_ok(p) || quality < 0 || quality > 100) return IMG_ERR_ARGUMENT;
    /* each format's largest side; AV1's is 2^16 (PNG's 2^31 is past any frame in memory) */
    uint32_t max = fmt == IMG_FMT_JPEG   ? JPEG_MAX_DIMENSION
                   : fmt == IMG_FMT_WEBP ? WEBP_MAX_DIMENSION
                                         : 65536;
    if (p->width > max || p->height > max) return IMG_ERR_TOO_LARGE;
    switch (fmt) {
    case IMG_FMT_JPEG:
        return encode_jpeg(p, quality ? quality : IMG_JPEG_QUALITY, out, out_len);
    case IMG_FMT_PNG:
        return encode_png(p, out, out_len);
    case IMG_FMT_WEBP:
        return encode_webp(p, quality ? quality : IMG_WEBP_QUALITY, out, out_len);
    case IMG_FMT_AVIF:
        return encode_avif(p, quality ? quality : IMG_AVIF_QUALITY, out, out_len);
    default:
        return IMG_ERR_ARGUMENT;
    }
}
