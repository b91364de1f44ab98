/* GIF through giflib, first frame, as Pillow 9.4's GifImagePlugin loads it:
 *  - the canvas is the logical screen, grown to hold the frame if it sticks out;
 *  - outside the frame it holds the frame's transparent index if it has one, else 0;
 *  - the image is "P" if the local or the global palette is not just the gray ramp
 *    i -> (i, i, i) (see decode_frame); otherwise it is "L": the indices are gray levels;
 *  - convert('1') thresholds "P" on palette luminance (no dithering; indices past the
 *    palette read Pillow's default gray ramp) and dithers "L";
 *  - comment extensions before the image become info["comment"] (several joined by
 *    "\n"), which Pillow's JPEG writer copies into the output.
 * Colour mode expands the indices through the frame's table (local, else global; past its
 * end, and without any, the gray ramp) to RGB, or to RGBA when the frame has a transparent
 * index, which is then transparent, as is the canvas outside the frame. */
#include "image/img_internal.h"

#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    img_source_t base;
    uint8_t *canvas; /* width * height palette indices */
    uint8_t lut[256];
    int palette;             /* "P" (threshold through lut) rather than "L" */
    uint8_t colours[256][4]; /* colour mode: index -> RGBA */
    uint8_t *comment;
    uint32_t y;
} gif_src_t;

typedef struct {
    const uint8_t *p;
    size_t left;
    int eof_zero; /* the one virtual 0 byte past the end has been read */
} gif_mem_t;

/* Reads from memory. Past the end it yields one 0 byte: Pillow stops decoding once every
 * pixel is in, so a file cut right after the image data (no block terminator, no trailer)
 * is fine to it, while giflib reads on to the terminator after the last row. A 0 there is
 * that terminator; anywhere else it is still an error (early terminator, short read). */
static int gif_read(GifFileType *gif, GifByteType *buf, int n)
{
    gif_mem_t *m = gif->UserData;
    size_t k = n < 0 ? 0 : (size_t)n < m->left ? (size_t)n : m->left;
    memcpy(buf, m->p, k);
    m->p += k;
    m->left -= k;
    if (k < (size_t)n && !m->eof_zero) {
        m->eof_zero = 1;
        buf[k++] = 0;
    }
    return (int)k;
}

static void gif_src_destroy(img_source_t *base)
{
    gif_src_t *s = (gif_src_t *)base;
    free(s->canvas);
    free(s->comment);
    free(s);
}

static img_status_t gif_src_read(img_source_t *base, uint8_t *const *rows, unsigned n)
{
    gif_src_t *s = (gif_src_t *)base;
    for (unsigned i = 0; i < n; i++, s->y++) {
        const uint8_t *src = s->canvas + (size_t)s->y * base->width;
        if (base->pix == IMG_PIX_RGB || base->pix == IMG_PIX_RGBA) {
            unsigned bands = img_pix_bytes(base->pix);
            for (uint32_t x = 0; x < base->width; x++)
                memcpy(rows[i] + (size_t)x * bands, s->colours[src[x]], bands);
        } else if (s->palette)
            for (uint32_t x = 0; x < base->width; x++)
                rows[i][x] = s->lut[src[x]];
        else
            memcpy(rows[i], src, base->width);
    }
    return IMG_OK;
}

/* Pillow's _is_palette_needed: anything but entry i == (i, i, i). */
static int palette_needed(const ColorMapObject *map)
{
    for (int i = 0; i < map->ColorCount; i++) {
        const GifColorType *c = &map->Colors[i];
        if (c->Red != i || c->Green != i || c->Blue != i) return 1;
    }
    return 0;
}

static void build_lut(gif_src_t *s, const ColorMapObject *map)
{
    for (int i = 0; i < 256; i++) {
        GifColorType c = {(GifByteType)i, (GifByteType)i, (GifByteType)i};
        if (i < map->ColorCount) c = map->Colors[i];
        s->lut[i] = img_palette_bit(c.Red, c.Green, c.Blue);
    }
}

/* Colour mode's table: `map` (NULL for none), the gray ramp past its end, and the transparent
 * index (-1 for none) with alpha 0. */
static void build_colours(gif_src_t *s, const ColorMapObject *map, int transparency)
{
    for (int i = 0; i < 256; i++) {
        GifColorType c = {(GifByteType)i, (GifByteType)i, (GifByteType)i};
        if (map && i < map->ColorCount) c = map->Colors[i];
        uint8_t *e = s->colours[i];
        e[0] = c.Red;
        e[1] = c.Green;
        e[2] = c.Blue;
        e[3] = i == transparency ? 0 : 255;
    }
}

/* Pillow's mode of the frame and its convert('1') table. A local gray-ramp table makes Pillow
 * call the frame "L", but it still attaches the global palette, and loading that palette turns
 * the image into "P" underneath: so the first table that is not a ramp, local then global,
 * decides. */
static void set_bilevel(gif_src_t *s, const GifFileType *gif)
{
    const ColorMapObject *local = gif->Image.ColorMap, *global = gif->SColorMap;
    const ColorMapObject *map = local && palette_needed(local)     ? local
                                : global && palette_needed(global) ? global
                                                                   : NULL;
    s->palette = map != NULL;
    if (s->palette) build_lut(s, map);
    s->base.pix = s->palette ? IMG_PIX_BILEVEL : IMG_PIX_GRAY;
}

/* Appends one comment extension's sub-blocks as Pillow does. */
static img_status_t read_comment(gif_src_t *s, GifFileType *gif, GifByteType *ext)
{
    if (s->comment) { /* another comment block in the same frame: "\n" between */
        uint8_t *nc = realloc(s->comment, s->base.comment_len + 1);
        if (!nc) return IMG_ERR_NOMEM;
        s->comment = nc;
        s->comment[s->base.comment_len++] = '\n';
    }
    for (; ext;) {
        size_t add = ext[0];
        uint8_t *nc = realloc(s->comment, s->base.comment_len + add + 1);
        if (!nc) return IMG_ERR_NOMEM;
        s->comment = nc;
        memcpy(s->comment + s->base.comment_len, ext + 1, add);
        s->base.comment_len += add;
        if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) return IMG_ERR_CORRUPT;
    }
    if (!s->comment) /* an empty comment still counts for the "\n" rule */
        s->comment = malloc(1);
    return s->comment ? IMG_OK : IMG_ERR_NOMEM;
}

/* Reads records up to the first image descriptor. */
static img_status_t read_to_image(gif_src_t *s, GifFileType *gif, int *transparency)
{
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) return IMG_ERR_CORRUPT;
        if (type == IMAGE_DESC_RECORD_TYPE)
            return DGifGetImageDesc(gif) == GIF_ERROR ? IMG_ERR_CORRUPT : IMG_OK;
        if (type != EXTENSION_RECORD_TYPE) return IMG_ERR_CORRUPT; /* trailer before any image */
        int code;
        GifByteType *ext;
        if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) return IMG_ERR_CORRUPT;
        if (code == COMMENT_EXT_FUNC_CODE) {
            img_status_t st = read_comment(s, gif, ext);
            if (st != IMG_OK) return st;
            continue;
        }
        if (code == GRAPHICS_EXT_FUNC_CODE && ext) {
            if (ext[0] < 4) return IMG_ERR_CORRUPT;
            if (ext[1] & 1) *transparency = ext[4];
        }
        while (ext)
            if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) return IMG_ERR_CORRUPT;
    }
}

/* What decoding holds: the canvas (one byte a pixel) plus giflib's LZW tables and line
 * state, a few tens of KiB (GifFilePrivateType). */
#define GIF_FIXED_BYTES (64u << 10)

static img_status_t decode_frame(gif_src_t *s, GifFileType *gif, const img_limits_t *lim,
                                 const img_mode_t *mode)
{
    int transparency = -1;
    img_status_t st = read_to_image(s, gif, &transparency);
    if (st != IMG_OK) return st;
    const GifImageDesc *im = &gif->Image;
    uint64_t x1 = (uint64_t)im->Left + im->Width, y1 = (uint64_t)im->Top + im->Height;
    uint64_t w = x1 > (uint64_t)gif->SWidth ? x1 : (uint64_t)gif->SWidth;
    uint64_t h = y1 > (uint64_t)gif->SHeight ? y1 : (uint64_t)gif->SHeight;
    if ((st = img_check_size(w, h, lim->max_pixels)) != IMG_OK) return st;
    unsigned bands = transparency >= 0 ? 4 : 3;
    if ((st = img_check_memory(w * h + GIF_FIXED_BYTES + img_mode_frame(mode, w, h, bands), lim)) != IMG_OK)
        return st;
    s->base.width = (uint32_t)w;
    s->base.height = (uint32_t)h;
    if (mode->colour) {
        build_colours(s, im->ColorMap ? im->ColorMap : gif->SColorMap, transparency);
        s->base.pix = bands == 4 ? IMG_PIX_RGBA : IMG_PIX_RGB;
    } else {
        set_bilevel(s, gif);
    }

    s->canvas = malloc(w * h);
    if (!s->canvas) return IMG_ERR_NOMEM;
    memset(s->canvas, transparency >= 0 ? transparency : 0, w * h);
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    int passes = im->Interlace ? 4 : 1;
    for (int pass = 0; pass < passes; pass++) {
        int y0 = im->Interlace ? start[pass] : 0, dy = im->Interlace ? step[pass] : 1;
        for (int y = y0; y < im->Height && im->Width > 0; y += dy) {
            uint8_t *row = s->canvas + ((size_t)im->Top + y) * w + im->Left;
            if (DGifGetLine(gif, row, im->Width) == GIF_ERROR) return IMG_ERR_CORRUPT;
        }
    }
    return IMG_OK;
}

img_status_t img_gif_source(const uint8_t *in, size_t len, const img_limits_t *lim, const img_mode_t *mode,
                            img_source_t **out)
{
    gif_src_t *s = calloc(1, sizeof *s);
    if (!s) return IMG_ERR_NOMEM;
    s->base.read_rows = gif_src_read;
    s->base.destroy = gif_src_destroy;
    s->base.orientation = 1;
    gif_mem_t mem = {in, len, 0};
    int err = 0;
    GifFileType *gif = DGifOpen(&mem, gif_read, &err);
    img_status_t st = err == D_GIF_ERR_NOT_ENOUGH_MEM ? IMG_ERR_NOMEM : IMG_ERR_CORRUPT;
    if (gif) {
        st = decode_frame(s, gif, lim, mode);
        DGifCloseFile(gif, &err);
    }
    if (st != IMG_OK) {
        gif_src_destroy(&s->base);
        return st;
    }
    if (s->base.comment_len > 0) s->base.comment = s->comment;
    *out = &s->base;
    return IMG_OK;
}
