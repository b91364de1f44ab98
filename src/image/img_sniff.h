/* Image containers by their magic bytes: the one table behind pixd's img_sniff and pixload's
 * Content-Type guess (load/body.c). Nothing is decoded and no codec is linked: this module is
 * its own library (pixsniff) that piximage and pixload both link, so pixload stays free of
 * the decoders. Thread-safe, no state. */
#ifndef PIXD_IMG_SNIFF_H
#define PIXD_IMG_SNIFF_H

#include <stddef.h>

typedef enum {
    IMG_FMT_UNKNOWN = 0,
    IMG_FMT_JPEG, /* the four the pipeline decodes */
    IMG_FMT_PNG,
    IMG_FMT_GIF,
    IMG_FMT_WEBP,
    IMG_FMT_BMP, /* recognised, not decoded */
    IMG_FMT_TIFF,
    IMG_FMT_AVIF, /* recognised (ISO-BMFF 'ftyp' brand avif or avis), not decoded; render.h writes it */
} img_format_t;

/* Any container in the table, BMP, TIFF and AVIF included. */
img_format_t img_sniff_any(const void *data, size_t len);

/* Only the containers the pipeline decodes (JPEG, PNG, GIF, WebP), else IMG_FMT_UNKNOWN. */
img_format_t img_sniff(const void *data, size_t len);

/* "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff", "image/avif";
 * "application/octet-stream" for IMG_FMT_UNKNOWN. Static strings. */
const char *img_format_mime(img_format_t fmt);

#endif
