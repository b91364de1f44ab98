/* Internal to src/image: the letters of IMG_GEN_INITIALS (img_initials.c), called by
 * img_generate (img_gen.c), which validates n and picks the background from the seed. */
#ifndef PIXD_IMG_INITIALS_H
#define PIXD_IMG_INITIALS_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "image/pixels.h"

/* The initials of `text` in white on `bg`, n x n RGB (1 <= n <= IMG_GEN_MAX_SIZE). Statuses
 * and ownership as img_generate. */
img_status_t img_initials_draw(const char *text, size_t text_len, const uint8_t bg[3], uint32_t n,
                               img_pixels_t *out);

#endif
