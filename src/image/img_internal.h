/* Internal interfaces of the image pipeline, shared by the files of src/image/ only.
 *
 * The pipeline is: a decoder ("source") hands out rows top to bottom; the dither turns a
 * strip of IMG_STRIP_ROWS rows into 0/255 rows; the JPEG encoder (or a bitmap) takes them.
 * Nothing holds more than a strip unless the format forces a whole frame (GIF, WebP,
 * interlaced PNG, progressive JPEG inside libjpeg).
 * The same sources in colour mode feed img_decode_pixels (render.h) instead: RGB or RGBA
 * rows, into one whole frame. */
#ifndef PIXD_IMG_INTERNAL_H
#define PIXD_IMG_INTERNAL_H

#include "image/image.h"
#include "image/pixels.h"

#include <stdint.h>

/* What one source row holds, i.e. which Pillow path convert('1') takes. */
typedef enum {
    IMG_PIX_BILEVEL, /* 1 byte/pixel, already 0 or 255: modes "1" and P/PA (threshold) */
    IMG_PIX_GRAY,    /* 1 byte/pixel luminance, Floyd-Steinberg dithered (L, LA, I;16) */
    IMG_PIX_RGB,     /* 3 bytes/pixel, luminance (299R+587G+114B)/1000 then dithered */
    IMG_PIX_RGBX,    /* as IMG_PIX_RGB with a 4th byte per pixel that is ignored */
    IMG_PIX_RGBA,    /* 4 bytes/pixel, straight alpha: colour mode only, never dithered */
} img_pix_t;

/* Bytes per pixel of a source row. */
static inline unsigned img_pix_bytes(img_pix_t pix)
{
    return pix == IMG_PIX_RGB ? 3 : pix == IMG_PIX_RGBX || pix == IMG_PIX_RGBA ? 4 : 1;
}

/* What a source is opened for. */
typedef struct {
    /* 0: Pillow's modes for convert('1') (palettes thresholded, alpha dropped, see
     * image.h). 1: colour for img_decode_pixels: rows are IMG_PIX_RGB, or IMG_PIX_RGBA when
     * the image has alpha or transparency (palette tRNS, a GIF's transparent index);
     * palettes and gray are expanded; the source reads the EXIF orientation; and the
     * memory estimate includes the output frame the rows go into. */
    int colour;
    /* Colour only: a JPEG may be decoded scaled by 1/2, 1/4 or 1/8 (libjpeg's DCT scaling)
     * as long as both sides stay >= min_side; 0 = full size. width/height are then the
     * scaled size. */
    uint32_t min_side;
} img_mode_t;

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
    /* Colour mode: the EXIF orientation, 1 (upright) to 8; 1 when there is none. */
    unsigned orientation;
    /* Writes the next n rows into rows[0..n-1] (width * bytes-per-pixel each). After the
     * last row the source has checked whatever Pillow checks after it (JPEG trailer). */
    img_status_t (*read_rows)(img_source_t *src, uint8_t *const *rows, unsigned n);
    void (*destroy)(img_source_t *src);
};

/* Source constructors: parse the header, check the limits (`lim->max_pixels` is never 0
 * here), and prepare to decode in `mode`. On error nothing is left allocated. */
img_status_t img_jpeg_source(const uint8_t *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                             img_source_t **out);
img_status_t img_png_source(const uint8_t *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                            img_source_t **out);
img_status_t img_gif_source(const uint8_t *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                            img_source_t **out);
img_status_t img_webp_source(const uint8_t *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                             img_source_t **out);

/* A PNG's comment as Pillow carries it into its JPEG (the last text chunk named "comment",
 * see img_png_comment.c): *out is malloc'd UTF-8, NULL when there is none or it is empty.
 * IMG_ERR_CORRUPT where a text chunk makes Pillow fail. `in` is a whole PNG file. */
img_status_t img_png_comment(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

/* Picks the decoder by magic bytes and opens it in `mode` (IMG_ERR_UNSUPPORTED for other
 * data); `lim` may be NULL (defaults). */
img_status_t img_source_open_as(const void *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                                img_source_t **src);
/* img_source_open_as for convert('1'). */
img_status_t img_source_open(const void *in, size_t len, const img_limits_t *lim, img_source_t **src);

/* The Orientation tag (0x0112) of IFD0 of an EXIF TIFF structure ("II*\0" or "MM\0*" first):
 * 1..8, or 1 when it is absent, out of range or the structure is malformed. */
unsigned img_exif_orientation(const uint8_t *tiff, size_t len);

/* A picture render.h works on: pixels, both sides > 0, 3 or 4 bands. */
static inline int img_pixels_ok(const img_pixels_t *p)
{
    return p->px && p->width && p->height && (p->bands == 3 || p->bands == 4);
}

/* IMG_ERR_CORRUPT for an empty image, IMG_ERR_TOO_LARGE past the limit, else IMG_OK. */
static inline img_status_t img_check_size(uint64_t width, uint64_t height, uint64_t max_pixels)
{
    if (width == 0 || height == 0) return IMG_ERR_CORRUPT;
    /* both are at most 32 bits wide, so the product cannot overflow */
    return width * height > max_pixels ? IMG_ERR_TOO_LARGE : IMG_OK;
}

/* IMG_ERR_MEMORY when a decoder's estimated peak `need` exceeds the limit (0 = none). */
static inline img_status_t img_check_memory(uint64_t need, const img_limits_t *lim)
{
    return lim->max_memory && need > lim->max_memory ? IMG_ERR_MEMORY : IMG_OK;
}

/* What a decoder adds to its estimate for the frame its rows fill in `mode`: in colour mode
 * img_decode_pixels holds the whole w x h output at `bands` bytes a pixel; 0 otherwise. */
static inline uint64_t img_mode_frame(const img_mode_t *mode, uint64_t w, uint64_t h, unsigned bands)
{
    return mode->colour ? w * h * bands : 0;
}

/* A big-endian 32-bit number (PNG chunk lengths). */
static inline uint32_t img_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Pillow's palette to 1 bit (p2bit in Convert.c, used for modes P and PA): an entry is white
 * when its luminance 299R + 587G + 114B, kept scaled by 1000, reaches this; no dithering. */
#define IMG_PALETTE_WHITE_FROM 128000u

/* 0 or 255 for a palette entry, as Pillow's p2bit. */
static inline uint8_t img_palette_bit(uint8_t r, uint8_t g, uint8_t b)
{
    return 299u * r + 587u * g + 114u * b >= IMG_PALETTE_WHITE_FROM ? 255 : 0;
}

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

/* JPEG writer fed a few rows at a time. img_jpeg_enc_start: grayscale with Pillow's
 * settings (the pipeline's output). img_jpeg_enc_start_rgb: RGB rows at `quality` (1..100),
 * baseline with optimized Huffman tables, JFIF header and nothing else (no EXIF). */
typedef struct img_jpeg_enc img_jpeg_enc_t;
img_status_t img_jpeg_enc_start(img_jpeg_enc_t **enc, uint32_t width, uint32_t height, const uint8_t *comment,
                                size_t comment_len);
img_status_t img_jpeg_enc_start_rgb(img_jpeg_enc_t **enc, uint32_t width, uint32_t height, int quality);
img_status_t img_jpeg_enc_rows(img_jpeg_enc_t *enc, uint8_t *const *rows, unsigned n);
/* Finishes the file and hands its buffer to the caller; `enc` is freed either way. */
img_status_t img_jpeg_enc_finish(img_jpeg_enc_t *enc, uint8_t **out, size_t *out_len);
void img_jpeg_enc_destroy(img_jpeg_enc_t *enc);

#endif
