/* The magic-byte table (see img_sniff.h). */
#include "image/img_sniff.h"

#include <stdint.h>

/* '?' in a pattern matches any byte (none of the magic numbers contains one). */
static const struct {
    img_format_t fmt;
    unsigned len;
    const char *magic;
} magics[] = {
    {IMG_FMT_JPEG, 3, "\xFF\xD8\xFF"},     /* SOI, then any marker */
    {IMG_FMT_PNG, 8, "\x89PNG\r\n\x1a\n"}, /* the signature */
    {IMG_FMT_GIF, 6, "GIF87a"},            /* the 1987 version */
    {IMG_FMT_GIF, 6, "GIF89a"},            /* and the 1989 one */
    {IMG_FMT_WEBP, 12, "RIFF????WEBP"},    /* RIFF, its size, the form type */
    {IMG_FMT_BMP, 2, "BM"},                /* BITMAPFILEHEADER */
    {IMG_FMT_TIFF, 4, "II*\0"},            /* little-endian, 42 */
    {IMG_FMT_TIFF, 4, "MM\0*"},            /* big-endian, 42 */
    {IMG_FMT_AVIF, 12, "????ftypavif"},    /* the first box's size, 'ftyp', the major brand */
    {IMG_FMT_AVIF, 12, "????ftypavis"},    /* an image sequence */
};

img_format_t img_sniff_any(const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < sizeof magics / sizeof *magics; i++) {
        if (len < magics[i].len) continue;
        unsigned k = 0;
        while (k < magics[i].len && (magics[i].magic[k] == '?' || (uint8_t)magics[i].magic[k] == p[k]))
            k++;
        if (k == magics[i].len) return magics[i].fmt;
    }
    return IMG_FMT_UNKNOWN;
}

img_format_t img_sniff(const void *data, size_t len)
{
    img_format_t fmt = img_sniff_any(data, len);
    return fmt == IMG_FMT_BMP || fmt == IMG_FMT_TIFF || fmt == IMG_FMT_AVIF ? IMG_FMT_UNKNOWN : fmt;
}

const char *img_format_mime(img_format_t fmt)
{
    switch (fmt) {
    case IMG_FMT_JPEG:
        return "image/jpeg";
    case IMG_FMT_PNG:
        return "image/png";
    case IMG_FMT_GIF:
        return "image/gif";
    case IMG_FMT_WEBP:
        return "image/webp";
    case IMG_FMT_BMP:
        return "image/bmp";
    case IMG_FMT_TIFF:
        return "image/tiff";
    case IMG_FMT_AVIF:
        return "image/avif";
    default:
        return "application/octet-stream";
    }
}
