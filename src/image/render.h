/* render: pictures in colour for the avatar service - decode an upload to pixels, crop,
 * square or shrink them, and encode them as JPEG, PNG, WebP or AVIF.
 *
 * What callers may rely on:
 *  - decoding goes through the same checked decoders as image.h, with the same limits, all
 *    checked before any pixel is allocated (docs/decisions/008-resizing.md);
 *  - resizing is pixd's own (Catmull-Rom as Pillow's BICUBIC, in fixed point), on pixels the
 *    decoders made: no other library parses the uploaded bytes;
 *  - every function is thread-safe and may run on any thread, one job per thread: nothing is
 *    kept between calls, no thread is started;
 *  - on error the picture passed in is left as it was (and *out of img_decode_pixels and
 *    img_encode is empty). No HTTP here. */
#ifndef PIXD_IMAGE_RENDER_H
#define PIXD_IMAGE_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"  /* img_status_t, img_limits_t, img_format_t */
#include "image/pixels.h" /* img_pixels_t */

/* Decodes a JPEG, PNG, GIF (first frame) or still WebP to RGB, or to RGBA when the image has
 * alpha or transparency (an alpha channel, a tRNS chunk, a GIF's transparent index), upright:
 * the EXIF orientation of a JPEG (first Exif APP1) or of a PNG (eXIf before IDAT) is applied.
 * `lim` as img_bw_jpeg (NULL: defaults); max_memory here also counts the output frame.
 * min_side is a hint: a JPEG may be decoded scaled by 1/2, 1/4 or 1/8 (libjpeg's DCT scaling,
 * as Pillow's draft mode) while both sides stay >= min_side; 0 = full size. Other formats come
 * out full size. On IMG_OK *out owns a malloc'd frame (img_pixels_free), *src_fmt (may be
 * NULL) is the container's format; on error *out is empty. */
img_status_t img_decode_pixels(const void *in, size_t len, const img_limits_t *lim, uint32_t min_side,
                               img_pixels_t *out, img_format_t *src_fmt);

/* Crops to the w x h box at (x, y), in place. IMG_ERR_ARGUMENT when the box is empty or
 * not inside the picture. */
img_status_t img_crop(img_pixels_t *p, uint32_t x, uint32_t y, uint32_t w, uint32_t h);

/* Crops the centre square and resizes it to n x n, enlarging small pictures as Gravatar does
 * (Catmull-Rom as Pillow's bicubic, antialiased when reducing, alpha premultiplied while
 * resizing); a square that is already n x n is only cropped. p->px is replaced.
 * IMG_ERR_ARGUMENT for n == 0, IMG_ERR_TOO_LARGE for n > IMG_RENDER_MAX_SIDE, IMG_ERR_NOMEM. */
#define IMG_RENDER_MAX_SIDE 16383u /* WebP's limit, so every size can be encoded */
img_status_t img_square(img_pixels_t *p, uint32_t n);

/* Shrinks, keeping the aspect ratio, so that the longer side is at most max_side (then it
 * is exactly max_side, the other side rounded, at least 1); never enlarges (then p is
 * untouched). IMG_ERR_ARGUMENT for max_side == 0, IMG_ERR_NOMEM. */
img_status_t img_fit(img_pixels_t *p, uint32_t max_side);

/* Default qualities (quality 0): */
#define IMG_JPEG_QUALITY 80
#define IMG_WEBP_QUALITY 80
#define IMG_AVIF_QUALITY 60
/* libavif's speed (0 slowest .. 10 fastest) for AVIF, with libaom on one thread: 80x80 in
 * about 1.5 ms, 512x512 in about 15 ms (008-resizing.md). */
#define IMG_AVIF_SPEED 9

/* Encodes `p` as IMG_FMT_JPEG (libjpeg-turbo: baseline, 4:2:0, optimized Huffman tables, alpha
 * composited over white), IMG_FMT_PNG (libspng, lossless, `quality` ignored), IMG_FMT_WEBP
 * (libwebp, lossy, alpha kept losslessly) or IMG_FMT_AVIF (libavif, 8-bit 4:2:0, alpha kept).
 * quality 1..100, 0 = the format's default above. No metadata is written (no EXIF, no ICC,
 * no XMP). IMG_ERR_ARGUMENT for another format or a quality out of range; IMG_ERR_TOO_LARGE
 * past a format's size limit. On IMG_OK *out is malloc'd (caller frees), else NULL. */
img_status_t img_encode(const img_pixels_t *p, img_format_t fmt, int quality, uint8_t **out, size_t *out_len);

#endif
