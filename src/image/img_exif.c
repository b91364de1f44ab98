/* The one EXIF tag pixd reads: Orientation, from IFD0 of the TIFF structure that a JPEG's
 * APP1 "Exif\0\0" segment or a PNG's eXIf chunk holds. Every offset comes from the file, so
 * each is checked against the length before it is read. */
#include "image/img_internal.h"

#define TAG_ORIENTATION 0x0112
#define TYPE_SHORT 3

/* 16/32-bit numbers in the structure's byte order. */
static uint32_t rd16(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? rd16(p, 1) | rd16(p + 2, 1) << 16 : rd16(p, 0) << 16 | rd16(p + 2, 0);
}

unsigned img_exif_orientation(const uint8_t *tiff, size_t len)
{
    if (len < 8) return 1;
    int le = tiff[0] == 'I' && tiff[1] == 'I';
    if (!le && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
    if (rd16(tiff + 2, le) != 42) return 1;
    uint64_t ifd = rd32(tiff + 4, le);
    if (ifd + 2 > len) return 1;
    uint32_t entries = rd16(tiff + ifd, le);
    for (uint64_t e = ifd + 2; entries-- > 0 && e + 12 <= len; e += 12) {
        if (rd16(tiff + e, le) != TAG_ORIENTATION) continue;
        if (rd16(tiff + e + 2, le) != TYPE_SHORT || rd32(tiff + e + 4, le) != 1) return 1;
        uint32_t v = rd16(tiff + e + 8, le); /* a lone SHORT sits at the start of the value field */
        return v >= 1 && v <= 8 ? v : 1;
    }
    return 1;
}
