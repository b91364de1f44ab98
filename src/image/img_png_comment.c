/* A PNG's comment as Pillow 9.4 carries it into the JPEG it saves.
 *
 * PngImagePlugin stores every text chunk in info[keyword], a later chunk replacing an
 * earlier one, and JpegImagePlugin writes info["comment"] as a COM marker (a str, encoded
 * UTF-8). So what counts is the last tEXt, zTXt or iTXt chunk whose keyword is exactly
 * "comment" (ImageMagick writes one; "Comment" is another key), before or after the image
 * data: Pillow reads the chunks after IDAT when it loads the pixels (load_end), which
 * convert() does before copying info. Each chunk type as Pillow parses it:
 *   tEXt  keyword up to the first NUL (no NUL: the whole chunk is the keyword, the value
 *         empty); the rest is the value, Latin-1;
 *   zTXt  method byte then zlib data: a method other than 0 makes Pillow fail (any keyword);
 *         inflated text over 1 MiB makes it fail; a zlib error gives ""; Latin-1;
 *   iTXt  keyword, compression flag, method, language, translated keyword, text: the chunk
 *         is skipped unless all of it is there, the method is 0 when compressed, and language,
 *         translated keyword and text are valid UTF-8; the value is that UTF-8.
 * An empty value writes no COM but still replaces an earlier comment. Pillow also refuses
 * more than 64 MiB of text in all (MAX_TEXT_MEMORY). Only chunks named "comment" are
 * inflated and counted here: where other text chunks make Pillow fail (over 1 MiB inflated,
 * over 64 MiB in all) pixd does not.
 *
 * Which chunks Pillow reads: before IDAT all of them, failing on a bad CRC or a truncated
 * chunk (libspng fails on those too, see img_png.c); after the image data (a run of IDAT)
 * up to IEND, a chunk header cut short or not 4 word characters, or the next frame's fcTL of
 * an animated PNG; CRCs unchecked, but a chunk whose data is cut short makes it fail. */
#include "image/img_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define TEXT_MAX (1u << 20)         /* PngImagePlugin.MAX_TEXT_CHUNK (ImageFile.SAFEBLOCK) */
#define TEXT_MEMORY_MAX (64u << 20) /* PngImagePlugin.MAX_TEXT_MEMORY */

/* Python's bytes regex \w: ASCII letters, digits and '_' (PngImagePlugin.is_cid). */
static int is_cid(const uint8_t *t)
{
    for (int i = 0; i < 4; i++)
        if (!(t[i] == '_' || (t[i] >= '0' && t[i] <= '9') || ((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z')))
            return 0;
    return 1;
}

/* Python's strict UTF-8 decoder: no overlong forms, no surrogates, nothing past U+10FFFF.
 * Returns the number of characters, or -1. */
static long utf8_chars(const uint8_t *p, size_t n)
{
    long chars = 0;
    for (size_t i = 0; i < n; chars++) {
        uint8_t c = p[i], lo = 0x80, hi = 0xBF; /* the second byte's range (RFC 3629's table) */
        unsigned more;
        if (c < 0x80)
            more = 0;
        else if (c >= 0xC2 && c <= 0xDF)
            more = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            more = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4)
            more = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else
            return -1;
        if (n - i <= more) return -1;
        for (unsigned k = 1; k <= more; k++)
            if (p[i + k] < (k == 1 ? lo : 0x80) || p[i + k] > (k == 1 ? hi : 0xBF)) return -1;
        i += 1 + more;
    }
    return chars;
}

typedef enum { INFLATE_OK, INFLATE_ZLIB_ERROR, INFLATE_TOO_LARGE, INFLATE_NOMEM } inflate_t;

/* Python's zlib.decompressobj().decompress(data, TEXT_MAX) as Pillow's _safe_zlib_decompress
 * uses it: a stream cut short gives what it has, a zlib error is an error, and output
 * reaching TEXT_MAX with input left over is "Decompressed Data Too Large". */
static inflate_t inflate_text(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len)
{
    z_stream z = {0};
    *out = NULL;
    *out_len = 0;
    if (n > UINT_MAX) return INFLATE_TOO_LARGE; /* > 4 GiB of input: past TEXT_MAX anyway */
    if (inflateInit(&z) != Z_OK) return INFLATE_NOMEM;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    int ret = Z_OK;
    for (;;) {
        if (len == cap) {
            if (cap == TEXT_MAX) break;
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, ncap < TEXT_MAX ? ncap : TEXT_MAX);
            if (!nb) {
                ret = Z_MEM_ERROR;
                break;
            }
            buf = nb;
            cap = ncap < TEXT_MAX ? ncap : TEXT_MAX;
        }
        z.next_out = buf + len;
        z.avail_out = (uInt)(cap - len);
        ret = inflate(&z, Z_SYNC_FLUSH);
        len = cap - z.avail_out;
        if (ret != Z_OK && ret != Z_BUF_ERROR) break; /* the end, or an error */
        if (z.avail_out) break;                       /* all input used */
    }
    size_t left = z.avail_in;
    inflateEnd(&z);
    inflate_t st = ret == Z_STREAM_END || ret == Z_OK || ret == Z_BUF_ERROR ? INFLATE_OK
                   : ret == Z_MEM_ERROR                                     ? INFLATE_NOMEM
                                                                            : INFLATE_ZLIB_ERROR;
    if (st == INFLATE_OK && ret != Z_STREAM_END && len == TEXT_MAX && left) st = INFLATE_TOO_LARGE;
    if (st != INFLATE_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = len;
    return INFLATE_OK;
}

/* The comment found so far: malloc'd UTF-8, or NULL with len 0 (absent or empty). */
typedef struct {
    uint8_t *text;
    size_t len;
    uint64_t memory; /* Pillow's text_memory, the comments' share */
} comment_t;

/* Replaces the comment with `v` (n bytes), Latin-1 (`latin1`) or already UTF-8. */
static img_status_t set_comment(comment_t *c, const uint8_t *v, size_t n, int latin1, uint64_t chars)
{
    if ((c->memory += chars) > TEXT_MEMORY_MAX)
        return IMG_ERR_CORRUPT; /* "Too much memory used in text chunks" */
    free(c->text);
    c->text = NULL;
    c->len = 0;
    if (n == 0) return IMG_OK;
    size_t len = n;
    if (latin1)
        for (size_t i = 0; i < n; i++)
            len += v[i] >> 7;
    uint8_t *t = malloc(len);
    if (!t) return IMG_ERR_NOMEM;
    if (!latin1) {
        memcpy(t, v, n);
    } else {
        uint8_t *d = t;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < 0x80) {
                *d++ = v[i];
            } else {
                *d++ = (uint8_t)(0xC0 | v[i] >> 6);
                *d++ = (uint8_t)(0x80 | (v[i] & 0x3F));
            }
        }
    }
    c->text = t;
    c->len = len;
    return IMG_OK;
}

static const char keyword[] = "comment";

/* One text chunk (type `t`, data d[0..n)) as PngStream.chunk_tEXt/zTXt/iTXt reads it. */
static img_status_t text_chunk(comment_t *c, const uint8_t *t, const uint8_t *d, size_t n)
{
    const uint8_t *nul = memchr(d, 0, n);
    size_t klen = nul ? (size_t)(nul - d) : n;
    int ours = klen == sizeof keyword - 1 && memcmp(d, keyword, klen) == 0;
    const uint8_t *v = nul ? nul + 1 : d + n, *end = d + n;
    if (memcmp(t, "tEXt", 4) == 0)
        return ours ? set_comment(c, v, (size_t)(end - v), 1, (uint64_t)(end - v)) : IMG_OK;

    if (memcmp(t, "zTXt", 4) == 0) {
        if (v < end && *v != 0) return IMG_ERR_CORRUPT; /* "Unknown compression method" */
        if (!ours) return IMG_OK;
        uint8_t *text;
        size_t len;
        inflate_t st = inflate_text(v < end ? v + 1 : end, v < end ? (size_t)(end - v - 1) : 0, &text, &len);
        if (st == INFLATE_NOMEM) return IMG_ERR_NOMEM;
        if (st == INFLATE_TOO_LARGE) return IMG_ERR_CORRUPT;
        img_status_t r = set_comment(c, text, len, 1, len); /* zlib error: "" */
        free(text);
        return r;
    }

    /* iTXt */
    if (!nul || !ours || end - v < 2) return IMG_OK;
    uint8_t flag = v[0], method = v[1];
    const uint8_t *lang = v + 2, *lang_end = memchr(lang, 0, (size_t)(end - lang));
    if (!lang_end) return IMG_OK;
    const uint8_t *tk = lang_end + 1, *tk_end = memchr(tk, 0, (size_t)(end - tk));
    if (!tk_end) return IMG_OK;
    const uint8_t *text = tk_end + 1;
    size_t len = (size_t)(end - text);
    uint8_t *inflated = NULL;
    if (flag != 0) {
        if (method != 0) return IMG_OK;
        inflate_t st = inflate_text(text, len, &inflated, &len);
        if (st == INFLATE_NOMEM) return IMG_ERR_NOMEM;
        if (st == INFLATE_TOO_LARGE) return IMG_ERR_CORRUPT;
        if (st == INFLATE_ZLIB_ERROR) return IMG_OK;
        text = inflated;
    }
    long chars = utf8_chars(text, len);
    img_status_t r = IMG_OK;
    if (chars >= 0 && utf8_chars(lang, (size_t)(lang_end - lang)) >= 0 &&
        utf8_chars(tk, (size_t)(tk_end - tk)) >= 0)
        r = set_comment(c, text, len, 0, (uint64_t)chars);
    else if (inflated && (c->memory += len) > TEXT_MEMORY_MAX)
        r = IMG_ERR_CORRUPT; /* not in Pillow's count, but bounds the inflating a file can ask for */
    free(inflated);
    return r;
}

static int is_text(const uint8_t *t)
{
    return memcmp(t, "tEXt", 4) == 0 || memcmp(t, "zTXt", 4) == 0 || memcmp(t, "iTXt", 4) == 0;
}

img_status_t img_png_comment(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    comment_t c = {0};
    const uint8_t *end = in + len, *p = in + 8; /* past the signature */
    int after = 0;                              /* past the image data */
    uint32_t frames = 0;                        /* acTL's frame count, 0 for none */
    int animated = 0, bbox = 0;                 /* bbox: an fcTL before IDAT */
    img_status_t st = IMG_OK;
    *out = NULL;
    *out_len = 0;
    while (st == IMG_OK && end - p >= 8 && is_cid(p + 4)) {
        size_t n = img_be32(p), avail = (size_t)(end - p - 8);
        const uint8_t *t = p + 4, *d = p + 8;
        if (!after) {
            if (n > avail || avail - n < 4) break; /* truncated: libspng fails */
            if (memcmp(t, "IDAT", 4) == 0) {
                /* the image data, a run of IDAT: Pillow stops reading once it has every row,
                 * libspng fails on a short chunk */
                while (end - p >= 12 && memcmp(p + 4, "IDAT", 4) == 0 &&
                       img_be32(p) <= (size_t)(end - p - 12))
                    p += 12 + img_be32(p);
                /* an animated PNG's IDAT is a frame of its own unless an fcTL came first */
                animated = frames > 0 && frames + !bbox > 1;
                after = 1;
                continue;
            }
            if (memcmp(t, "IEND", 4) == 0) break;
            if (memcmp(t, "acTL", 4) == 0) { /* PngStream.chunk_acTL */
                if (n < 8) {
                    st = IMG_ERR_CORRUPT; /* "APNG contains truncated acTL chunk" */
                    break;
                }
                uint32_t f = img_be32(d);
                frames = frames ? 0 : f == 0 || f > 0x80000000u ? frames : f; /* a second one drops it */
            }
            if (memcmp(t, "fcTL", 4) == 0) bbox = 1;
        } else {
            if (memcmp(t, "IEND", 4) == 0) break;
            if (memcmp(t, "fcTL", 4) == 0 && animated) break; /* the next frame */
            if (n > avail) {
                st = IMG_ERR_CORRUPT; /* "Truncated File Read" */
                break;
            }
        }
        if (is_text(t)) st = text_chunk(&c, t, d, n);
        p = n + 4 < avail ? d + n + 4 : end; /* past the CRC (after IDAT it may be cut) */
    }
    if (st != IMG_OK) {
        free(c.text);
        return st;
    }
    *out = c.text;
    *out_len = c.len;
    return IMG_OK;
}
