/* pixels: a decoded or generated picture in memory, the currency between the decoders
 * (render.h), the generators (gen.h), the resizer and the encoders. No HTTP here. */
#ifndef PIXD_IMAGE_PIXELS_H
#define PIXD_IMAGE_PIXELS_H

#include <stdint.h>
#include <stdlib.h>

typedef struct {
    uint8_t *px;     /* width * height * bands bytes, rows packed top to bottom; malloc'd, owned */
    uint32_t width, height;
    uint8_t bands;   /* 3 (RGB) or 4 (RGBA, straight alpha) */
} img_pixels_t;

static inline void img_pixels_free(img_pixels_t *p)
{
    free(p->px);
    p->px = NULL;
}

#endif
