/* libFuzzer target: the whole image pipeline (sniff, decode, dither, encode) on arbitrary
 * bytes. As in libvips' harnesses, inputs and images are kept small so each run is quick:
 * big files only repeat the same code paths more slowly. On success the bitmap must be
 * strictly 0/255 and the streamed JPEG must equal encoding that bitmap in one go. */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (2u << 20)
#define MAX_PIXELS (512u * 512u)
/* Below what the largest such images need in some formats (a 4:4:4 progressive JPEG, an
 * interlaced 16-bit PNG), so the memory refusal is exercised too. */
#define MAX_MEMORY (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) return 0;
    img_limits_t lim = {MAX_PIXELS, MAX_MEMORY};
    uint8_t *jpeg, *bitmap, *again;
    size_t len, again_len;
    uint32_t w, h;
    if (img_bw_jpeg(data, size, &lim, &jpeg, &len) != IMG_OK) return 0;
    if (img_bw_bitmap(data, size, &lim, &bitmap, &w, &h) != IMG_OK)
        __builtin_trap(); /* decoding must not depend on the sink */
    for (size_t i = 0; i < (size_t)w * h; i++)
        if (bitmap[i] != 0 && bitmap[i] != 255) __builtin_trap();
    /* same bytes as the one-shot encoder, past SOI + JFIF (20 bytes) and any comment */
    if (img_gray_jpeg(bitmap, w, h, NULL, 0, &again, &again_len) != IMG_OK) __builtin_trap();
    size_t skip = 20;
    if (len > skip + 4 && jpeg[skip] == 0xFF && jpeg[skip + 1] == 0xFE)
        skip += 2 + ((size_t)jpeg[skip + 2] << 8 | jpeg[skip + 3]);
    if (len - skip != again_len - 20 || memcmp(jpeg + skip, again + 20, again_len - 20) != 0)
        __builtin_trap();
    free(again);
    free(bitmap);
    free(jpeg);
    return 0;
}
