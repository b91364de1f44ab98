/* Internal interfaces of the image pipeline, shared by the files of src/image/ only.
 *
 * The pipeline is: a decoder ("source") hands out rows top to bottom; the dither turns a
 * strip of IMG_STRIP_ROWS rows into 0/255 rows; the JPEG encoder (or a bitmap) takes them.
 * Nothing holds more than a strip unless the format forces a whole frame (GIF, WebP,
 * interlaced PNG, progressive JPEG inside libjpeg). */
#ifndef PIXD_IMG_INTERNAL_H
#define PIXD_IMG_INTERNAL_H

#include "image/image.h"

#include <stdint.h>

/* What one source row holds, i.e. which Pillow path convert('1') takes. */
typedef enum {
    IMG_PIX_BILEVEL, /* 1 byte/pixel, already 0 or 255: modes "1" and P/PA (threshold) */
    IMG_PIX_GRAY,    /* 1 byte/pixel luminance, Floyd-Steinberg dithered (L, LA, I;16) */
    IMG_PIX_RGB,     /* 3 bytes/pixel, luminance (299R+587G+114B)/1000 then dithered */
    IMG_PIX_RGBX,    /* as IMG_PIX_RGB with a 4th byte per pixel that is ignored */
} img_pix_t;

/* Bytes per pixel of a source row. */
static inline unsigned img_pix_bytes(img_pix_t pix)
{
    return pix == IMG_PIX_RGB ? 3 : pix == IMG_PIX_RGBX ? 4 : 1;
}

/* Rows per strip: the dither runs this many rows at once as a wavefront. */
#define IMG_STRIP_ROWS 16

typedef struct img_source img_source_t;
struct img_source {
    uint32_t width, height;
    img_pix_t pix;
    /* Pillow's info["comment"], which its JPEG writer copies into the output; may point
     * into the input buffer or the source's own memory. NULL when absent or empty. */
    const uint8_t *comment;
    size_t comment_len;
    /* Writes the next n rows into rows[0..n-1] (width * bytes-per-pixel each). After the
     * last row the source has checked whatever Pillow checks after it (JPEG trailer). */
    img_status_t (*read_rows)(img_source_t *src, uint8_t *const *rows, unsigned n);
    void (*destroy)(img_source_t *src);
};

/* Source constructors: parse the header, check the limit, and prepare to decode. On
 * error nothing is left allocated. */
img_status_t img_jpeg_source(const uint8_t *in, size_t len, uint64_t max_pixels, img_source_t **out);
img_status_t img_png_source(const uint8_t *in, size_t len, uint64_t max_pixels, img_source_t **out);
img_status_t img_gif_source(const uint8_t *in, size_t len, uint64_t max_pixels, img_source_t **out);
img_status_t img_webp_source(const uint8_t *in, size_t len, uint64_t max_pixels, img_source_t **out);

/* Picks the decoder by magic bytes and opens it (IMG_ERR_UNSUPPORTED for other data). */
img_status_t img_source_open(const void *in, size_t len, const img_limits_t *lim, img_source_t **src);

/* IMG_ERR_CORRUPT for an empty image, IMG_ERR_TOO_LARGE past the limit, else IMG_OK. */
img_status_t img_check_size(uint64_t width, uint64_t height, uint64_t max_pixels);

/* Pillow's L() macro divided as tobilevel does: (299R + 587G + 114B) / 1000, truncated. */
static inline uint8_t img_luma(const uint8_t *rgb)
{
    return (uint8_t)((299u * rgb[0] + 587u * rgb[1] + 114u * rgb[2]) / 1000u);
}

/* Floyd-Steinberg exactly as Pillow's tobilevel, a strip at a time. The error row carries
 * from one strip to the next, so strips must come in order. */
typedef struct {
    uint32_t width;
    int wavefront;     /* SSE2 wavefront (else Pillow's loop row by row) */
    size_t stride;     /* of lum and out rows */
    int16_t *errors;   /* Pillow's errors[] row (plus padding) */
    uint8_t *lum;      /* luminance rows of the strip */
    uint8_t *skew_in;  /* the same, one 16-byte column per wavefront step */
    uint8_t *skew_out; /* 0/255 results in that layout */
    uint8_t *out;      /* 0/255 rows */
} img_dither_t;

/* `height` only bounds the rows kept for the row-by-row loop. */
img_status_t img_dither_init(img_dither_t *d, uint32_t width, uint32_t height);
void img_dither_free(img_dither_t *d);
/* Dithers the next n <= IMG_STRIP_ROWS rows (`pix` is not IMG_PIX_BILEVEL); out[k] is set
 * to row k's 0/255 result, owned by `d` and valid until the next call. */
void img_dither_strip(img_dither_t *d, img_pix_t pix, const uint8_t *const *in, unsigned n, uint8_t **out);
/* Pillow's loop as written (int16 error row, exact: the values stay within +-2048), one row
 * after another over a whole 8-bit image: the reference the wavefront is tested against. */
img_status_t img_dither_reference(const uint8_t *lum, uint8_t *out, uint32_t width, uint32_t height);

/* Grayscale JPEG writer with Pillow's settings, fed a few rows at a time. */
typedef struct img_jpeg_enc img_jpeg_enc_t;
img_status_t img_jpeg_enc_start(img_jpeg_enc_t **enc, uint32_t width, uint32_t height, const uint8_t *comment,
                                size_t comment_len);
img_status_t img_jpeg_enc_rows(img_jpeg_enc_t *enc, uint8_t *const *rows, unsigned n);
/* Finishes the file and hands its buffer to the caller; `enc` is freed either way. */
img_status_t img_jpeg_enc_finish(img_jpeg_enc_t *enc, uint8_t **out, size_t *out_len);
void img_jpeg_enc_destroy(img_jpeg_enc_t *enc);

#endif
