/* The image pipeline: decode -> black and white -> JPEG, exactly as Pillow 9.4 (Debian 12)
 * does `Image.open(f).convert('1').save(buf, format='JPEG')`.
 *
 * Exactness (what callers may rely on):
 *  - the 1-bit bitmap equals Pillow's convert('1') pixel for pixel for every JPEG, PNG, GIF
 *    (first frame) and still WebP that Pillow opens (animated WebP: IMG_ERR_UNSUPPORTED);
 *  - the output file is byte-identical to Pillow's save(format='JPEG') (JFIF 1.01 with 1:1
 *    density, quality 75, baseline, standard Huffman tables; a JPEG's, GIF's or PNG's
 *    comment is carried over as Pillow does). Known differences:
 *    docs/decisions/003-image-pipeline.md.
 * Decoding is refused before any pixel is allocated when the declared width*height, the
 * decoder's estimated memory or a JPEG's number of scans exceeds its limit. Every function
 * here is thread-safe and keeps no global state. No HTTP here. */
#ifndef PIXD_IMAGE_H
#define PIXD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "image/img_sniff.h" /* img_format_t, img_sniff(), img_format_mime() */

typedef enum {
    IMG_OK = 0,
    IMG_ERR_UNSUPPORTED, /* not an image we decode -> HTTP 415 */
    IMG_ERR_CORRUPT,     /* truncated/corrupt data -> 422 */
    IMG_ERR_TOO_LARGE,   /* declared width*height > limit, refused before decoding -> 422 */
    IMG_ERR_NOMEM,       /* -> 500/503 */
    /* The two below are refused before decoding too -> 422. */
    IMG_ERR_MEMORY,         /* the decoder would need more than max_memory */
    IMG_ERR_TOO_MANY_SCANS, /* a JPEG with more than IMG_JPEG_MAX_SCANS scans */
    /* The two below come from render.h only. */
    IMG_ERR_ARGUMENT, /* the caller's parameters do not fit the picture (a crop box outside it,
                         a size of 0, a format we do not write) -> 400 */
    IMG_ERR_INTERNAL, /* an encoder failed on valid pixels -> 500 */
} img_status_t;

/* Short reason for a JSON error body, e.g. "corrupt image". Static string. */
const char *img_status_str(img_status_t st);

#define IMG_DEFAULT_MAX_PIXELS 40000000u
typedef struct {
    uint64_t max_pixels; /* 0 means IMG_DEFAULT_MAX_PIXELS */
    /* Bytes the decoder may need at its peak, 0 = unlimited. Each decoder estimates this
     * from the header (e.g. a progressive JPEG holds every DCT coefficient, 2 bytes a sample;
     * an interlaced 16-bit RGBA PNG the whole image, 8 bytes a pixel) and refuses with
     * IMG_ERR_MEMORY before allocating. The rest of the pipeline (a strip of rows, the output
     * JPEG, the bitmap of img_bw_bitmap) is bounded by max_pixels and not counted. */
    uint64_t max_memory;
} img_limits_t;

/* Scans a JPEG may have: common encoders write about 10 (see img_jpeg.c). */
#define IMG_JPEG_MAX_SCANS 100

/* decode -> convert('1') (Pillow-exact) -> grayscale JPEG quality 75 (Pillow's defaults).
 * `lim` may be NULL (defaults). On IMG_OK *out is malloc'd (caller frees) and *out_len set;
 * on any error *out is NULL. Memory use is a few rows for single-scan JPEG and
 * non-interlaced PNG (streamed); other inputs hold one decoded frame (or, for a multi-scan
 * JPEG, its DCT coefficients). */
img_status_t img_bw_jpeg(const void *in, size_t in_len, const img_limits_t *lim, uint8_t **out,
                         size_t *out_len);

/* The same pipeline stopped before encoding: *out is a malloc'd width*height bitmap, one
 * byte per pixel, 0 (black) or 255 (white), rows top to bottom (Pillow's convert('1') as
 * "L"). Used by conformance tests and benchmarks. */
img_status_t img_bw_bitmap(const void *in, size_t in_len, const img_limits_t *lim, uint8_t **out,
                           uint32_t *width, uint32_t *height);

/* Encodes a 0/255 (or any 8-bit gray) bitmap as Pillow saves mode "1"/"L" images: JFIF,
 * quality 75, libjpeg defaults, optional comment (COM marker, at most 65533 bytes, NULL or
 * empty for none). Ownership as img_bw_jpeg. */
img_status_t img_gray_jpeg(const uint8_t *pixels, uint32_t width, uint32_t height, const uint8_t *comment,
                           size_t comment_len, uint8_t **out, size_t *out_len);

#endif
