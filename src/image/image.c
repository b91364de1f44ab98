/* The public face of the image pipeline: opening a decoder, and the strip loop that carries
 * rows from it through the dither into the JPEG encoder or a bitmap. */
#include "image/image.h"

#include "image/img_internal.h"

#include <stdlib.h>
#include <string.h>

const char *img_status_str(img_status_t st)
{
    switch (st) {
    case IMG_OK:
        return "ok";
    case IMG_ERR_UNSUPPORTED:
        return "unsupported image format";
    case IMG_ERR_CORRUPT:
        return "corrupt or truncated image";
    case IMG_ERR_TOO_LARGE:
        return "image too large";
    case IMG_ERR_NOMEM:
        return "out of memory";
    case IMG_ERR_MEMORY:
        return "image needs too much memory";
    case IMG_ERR_TOO_MANY_SCANS:
        return "too many JPEG scans";
    case IMG_ERR_ARGUMENT:
        return "invalid image parameters";
    case IMG_ERR_INTERNAL:
        return "image library failure";
    }
    return "unknown error";
}

img_status_t img_source_open_as(const void *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                                img_source_t **src)
{
    img_limits_t l = lim ? *lim : (img_limits_t){0};
    if (!l.max_pixels) l.max_pixels = IMG_DEFAULT_MAX_PIXELS;
    *src = NULL;
    if (!in) return IMG_ERR_UNSUPPORTED;
    switch (img_sniff(in, len)) {
    case IMG_FMT_JPEG:
        return img_jpeg_source(in, len, &l, mode, src);
    case IMG_FMT_PNG:
        return img_png_source(in, len, &l, mode, src);
    case IMG_FMT_GIF:
        return img_gif_source(in, len, &l, mode, src);
    case IMG_FMT_WEBP:
        return img_webp_source(in, len, &l, mode, src);
    default:
        return IMG_ERR_UNSUPPORTED;
    }
}

img_status_t img_source_open(const void *in, size_t len, const img_limits_t *lim, img_source_t **src)
{
    static const img_mode_t bilevel = {0};
    return img_source_open_as(in, len, lim, &bilevel, src);
}

/* Where finished 0/255 rows go. */
typedef struct {
    img_jpeg_enc_t *enc; /* encode, or else copy into bitmap */
    uint8_t *bitmap;
} sink_t;

/* Pulls every row out of `src`, a strip at a time, into `sink`. */
static img_status_t run(img_source_t *src, sink_t *sink)
{
    uint32_t w = src->width, h = src->height;
    unsigned strip = h < IMG_STRIP_ROWS ? h : IMG_STRIP_ROWS;
    size_t row_bytes = (size_t)w * img_pix_bytes(src->pix);
    uint8_t *buf = malloc(row_bytes * strip);
    img_dither_t dither;
    img_status_t st = src->pix == IMG_PIX_BILEVEL ? IMG_OK : img_dither_init(&dither, w, h);
    if (!buf || st != IMG_OK) {
        free(buf);
        if (st == IMG_OK) img_dither_free(&dither);
        return IMG_ERR_NOMEM;
    }
    uint8_t *in[IMG_STRIP_ROWS] = {0}, *out[IMG_STRIP_ROWS] = {0};
    for (unsigned k = 0; k < strip; k++)
        in[k] = buf + k * row_bytes;
    for (uint32_t y = 0; y < h && st == IMG_OK; y += strip) {
        unsigned n = h - y < strip ? h - y : strip;
        if (!sink->enc && src->pix == IMG_PIX_BILEVEL) /* straight into the bitmap */
            for (unsigned k = 0; k < n; k++)
                in[k] = sink->bitmap + (size_t)(y + k) * w;
        st = src->read_rows(src, in, n);
        if (st != IMG_OK) break;
        if (src->pix == IMG_PIX_BILEVEL)
            memcpy(out, in, sizeof out);
        else
            img_dither_strip(&dither, src->pix, (const uint8_t *const *)in, n, out);
        if (sink->enc)
            st = img_jpeg_enc_rows(sink->enc, out, n);
        else if (src->pix != IMG_PIX_BILEVEL)
            for (unsigned k = 0; k < n; k++)
                memcpy(sink->bitmap + (size_t)(y + k) * w, out[k], w);
    }
    if (src->pix != IMG_PIX_BILEVEL) img_dither_free(&dither);
    free(buf);
    return st;
}

img_status_t img_bw_jpeg(const void *in, size_t in_len, const img_limits_t *lim, uint8_t **out,
                         size_t *out_len)
{
    img_source_t *src;
    *out = NULL;
    *out_len = 0;
    img_status_t st = img_source_open(in, in_len, lim, &src);
    if (st != IMG_OK) return st;
    sink_t sink = {0};
    st = img_jpeg_enc_start(&sink.enc, src->width, src->height, src->comment, src->comment_len);
    if (st == IMG_OK) st = run(src, &sink);
    if (st == IMG_OK)
        st = img_jpeg_enc_finish(sink.enc, out, out_len);
    else
        img_jpeg_enc_destroy(sink.enc);
    src->destroy(src);
    return st;
}

img_status_t img_bw_bitmap(const void *in, size_t in_len, const img_limits_t *lim, uint8_t **out,
                           uint32_t *width, uint32_t *height)
{
    img_source_t *src;
    *out = NULL;
    img_status_t st = img_source_open(in, in_len, lim, &src);
    if (st != IMG_OK) return st;
    sink_t sink = {.bitmap = malloc((size_t)src->width * src->height)};
    st = sink.bitmap ? run(src, &sink) : IMG_ERR_NOMEM;
    if (st == IMG_OK) {
        *out = sink.bitmap;
        *width = src->width;
        *height = src->height;
    } else {
        free(sink.bitmap);
    }
    src->destroy(src);
    return st;
}

img_status_t img_gray_jpeg(const uint8_t *pixels, uint32_t width, uint32_t height, const uint8_t *comment,
                           size_t comment_len, uint8_t **out, size_t *out_len)
{
    img_jpeg_enc_t *enc;
    *out = NULL;
    img_status_t st = img_jpeg_enc_start(&enc, width, height, comment, comment_len);
    for (uint32_t y = 0; y < height && st == IMG_OK; y++) {
        uint8_t *row = (uint8_t *)pixels + (size_t)y * width;
        st = img_jpeg_enc_rows(enc, &row, 1);
    }
    if (st == IMG_OK) return img_jpeg_enc_finish(enc, out, out_len);
    img_jpeg_enc_destroy(enc);
    return st;
}
