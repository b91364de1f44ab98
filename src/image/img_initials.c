/* The letters of IMG_GEN_INITIALS: picked out of a name (strict UTF-8, a small case table)
 * and drawn with FreeType into a coverage map that whitens the background.
 *
 * One FT_Library and one FT_Face for the process, behind one mutex: a face is not
 * thread-safe, and opening one per picture costs about 0.4 ms (the file and its tables), twenty
 * times a whole 80 px picture, while two unhinted glyphs take microseconds to draw. The mutex
 * also covers loading the face (lazily, or by img_gen_set_font): no separate once-only state. */
#include "image/img_initials.h"

#include "image/gen.h"

#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_BBOX_H
#include FT_OUTLINE_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- the text ---- */

/* The code point at s[*i], advancing *i; -1 for anything but shortest-form UTF-8 of a scalar
 * value (stray or missing continuation bytes, overlong forms, surrogates, > U+10FFFF). */
static int utf8_next(const uint8_t *s, size_t len, size_t *i, uint32_t *cp)
{
    uint8_t b = s[*i];
    uint32_t c, min;
    size_t extra;
    if (b < 0x80) {
        *cp = b;
        *i += 1;
        return 0;
    }
    if (b >= 0xc2 && b <= 0xdf)
        c = b & 0x1f, extra = 1, min = 0x80;
    else if (b >= 0xe0 && b <= 0xef)
        c = b & 0x0f, extra = 2, min = 0x800;
    else if (b >= 0xf0 && b <= 0xf4)
        c = b & 0x07, extra = 3, min = 0x10000;
    else
        return -1;
    if (len - *i <= extra) return -1;
    for (size_t k = 1; k <= extra; k++) {
        uint8_t t = s[*i + k];
        if ((t & 0xc0) != 0x80) return -1;
        c = c << 6 | (t & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return -1;
    *i += extra + 1;
    *cp = c;
    return 0;
}

/* Unicode White_Space and the controls: what separates words. */
static int is_separator(uint32_t c)
{
    return c <= 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* What cannot be an initial: ASCII and Latin-1 non-letters, combining marks, common digits,
 * punctuation and symbol blocks, emoji, private use. Everything else counts as a letter: a
 * table of every script's letters is not worth its size here, and a code point the font lacks
 * is refused when drawing anyway. */
static const uint32_t not_letters[][2] = {
    {0x0000, 0x0040}, {0x005b, 0x0060}, {0x007b, 0x00bf}, {0x00d7, 0x00d7},   {0x00f7, 0x00f7},
    {0x02b0, 0x036f}, {0x0483, 0x0489}, {0x0660, 0x0669}, {0x06f0, 0x06f9},   {0x0966, 0x096f},
    {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff}, {0x2000, 0x2bff}, {0x2e00, 0x2e7f},   {0x3000, 0x303f},
    {0xe000, 0xf8ff}, {0xfe00, 0xfe0f}, {0xfe20, 0xfe6f}, {0xfeff, 0xfeff},   {0xff00, 0xff20},
    {0xff3b, 0xff40}, {0xff5b, 0xff65}, {0xfff0, 0xffff}, {0x1f000, 0x1faff}, {0xe0000, 0x10ffff},
};

static int is_letter(uint32_t c)
{
    for (size_t k = 0; k < sizeof not_letters / sizeof not_letters[0]; k++)
        if (c >= not_letters[k][0] && c <= not_letters[k][1]) return 0;
    return 1;
}

/* Simple upper case of Latin (ASCII, Latin-1, Extended-A, Extended Additional), Greek,
 * Cyrillic and Armenian; anything else as written. A fixed table rather than towupper():
 * no locale, and no change with the C library's Unicode version. */
static uint32_t upper(uint32_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 0xe0 && c <= 0xfe && c != 0xf7)) return c - 0x20;
    if (c == 0xff) return 0x178;
    if (c >= 0x100 && c <= 0x17f) { /* pairs, upper case first; 0139-0148 and 0179-017E odd first */
        if (c == 0x131) return 'I';
        if (c == 0x17f) return 'S';
        if (c == 0x149) return c;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) return c & 1 ? c : c - 1;
        return c & ~1u;
    }
    if (c == 0x3c2) return 0x3a3; /* final sigma */
    if (c >= 0x3b1 && c <= 0x3cb) return c - 0x20;
    if (c == 0x3ac) return 0x386;
    if (c >= 0x3ad && c <= 0x3af) return c - 0x25;
    if (c == 0x3cc) return 0x38c;
    if (c == 0x3cd || c == 0x3ce) return c - 0x3f;
    if (c >= 0x430 && c <= 0x44f) return c - 0x20;
    if (c >= 0x450 && c <= 0x45f) return c - 0x50;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf) || (c >= 0x4d0 && c <= 0x52f))
        return c & ~1u;
    if (c >= 0x4c1 && c <= 0x4ce) return c & 1 ? c : c - 1;
    if (c == 0x4cf) return 0x4c0;
    if (c >= 0x561 && c <= 0x586) return c - 0x30;
    if ((c >= 0x1e00 && c <= 0x1e95) || (c >= 0x1ea0 && c <= 0x1eff)) return c & ~1u;
    return c;
}

/* The first letter of the first and of the last word that has one, upper-cased: 0 to 2 code
 * points, 0 for malformed UTF-8 anywhere. A text of one word of two letters that upper-casing
 * leaves alone is initials already: "JD" gives JD (but "Al" gives A). */
static int pick_letters(const uint8_t *s, size_t len, uint32_t letters[2])
{
    int count = 0, in_word = 0, wanted = 0, words = 0, first_len = 0;
    uint32_t first[2] = {0, 0}; /* the first word's first code points */
    for (size_t i = 0; i < len;) {
        uint32_t c;
        if (utf8_next(s, len, &i, &c) < 0) return 0;
        if (is_separator(c)) {
            in_word = 0;
            continue;
        }
        if (!in_word) {
            in_word = wanted = 1;
            words++;
        }
        if (words == 1 && first_len < 3) {
            if (first_len < 2) first[first_len] = c;
            first_len++;
        }
        if (wanted && is_letter(c)) {
            wanted = 0;
            letters[count > 0] = upper(c);
            if (count < 2) count++;
        }
    }
    if (words == 1 && first_len == 2 && is_letter(first[0]) && is_letter(first[1]) &&
        upper(first[0]) == first[0] && upper(first[1]) == first[1]) {
        memcpy(letters, first, sizeof first);
        return 2;
    }
    return count;
}

/* ---- the font ---- */

static pthread_mutex_t font_lock = PTHREAD_MUTEX_INITIALIZER;
static FT_Library font_lib;
static FT_Face font_face;
static int default_missing; /* the default font failed to open: not retried per picture */

/* Under font_lock. */
static img_status_t font_load(const char *path)
{
    if (!font_lib && FT_Init_FreeType(&font_lib)) {
        font_lib = NULL;
        return IMG_ERR_NOMEM;
    }
    FT_Face face;
    FT_Error err = FT_New_Face(font_lib, path, 0, &face);
    if (err) return err == FT_Err_Out_Of_Memory ? IMG_ERR_NOMEM : IMG_ERR_UNSUPPORTED;
    if (!FT_IS_SCALABLE(face) || FT_Select_Charmap(face, FT_ENCODING_UNICODE)) {
        FT_Done_Face(face);
        return IMG_ERR_UNSUPPORTED;
    }
    if (font_face) FT_Done_Face(font_face);
    font_face = face;
    return IMG_OK;
}

img_status_t img_gen_set_font(const char *path)
{
    pthread_mutex_lock(&font_lock);
    img_status_t st = font_load(path ? path : IMG_GEN_DEFAULT_FONT);
    pthread_mutex_unlock(&font_lock);
    return st;
}

/* ---- drawing ---- */

typedef struct {
    uint8_t *cov; /* n x n coverage, rows top to bottom */
    uint32_t n;
} canvas_t;

/* FreeType's y grows upwards; its clip box keeps every span inside the canvas. Glyphs that
 * touch add up, saturating. */
static void add_spans(int y, int count, const FT_Span *spans, void *user)
{
    canvas_t *cv = user;
    uint8_t *row = cv->cov + (size_t)(cv->n - 1 - (uint32_t)y) * cv->n;
    for (int i = 0; i < count; i++)
        for (unsigned k = 0; k < spans[i].len; k++) {
            unsigned v = row[spans[i].x + k] + spans[i].coverage;
            row[spans[i].x + k] = v > 255 ? 255 : (uint8_t)v;
        }
}

/* Under font_lock. The letters are laid out in font units (advance widths, no kerning, no
 * hinting), scaled to an em of 0.45 n but to at most 0.75 n of ink either way, and centred on
 * the ink's exact bounding box; all of it integer (26.6 and 16.16 fixed point). */
static img_status_t render(const uint32_t *letters, int count, uint32_t n, uint8_t *cov)
{
    FT_Face face = font_face;
    FT_UInt glyph[2];
    FT_Pos pen[2], x = 0;
    FT_BBox box = {0, 0, 0, 0};
    for (int k = 0; k < count; k++) {
        glyph[k] = FT_Get_Char_Index(face, letters[k]);
        if (!glyph[k] || FT_Load_Glyph(face, glyph[k], FT_LOAD_NO_SCALE) ||
            face->glyph->format != FT_GLYPH_FORMAT_OUTLINE || face->glyph->outline.n_points == 0)
            return IMG_ERR_UNSUPPORTED;
        FT_BBox b;
        FT_Outline_Get_BBox(&face->glyph->outline, &b);
        pen[k] = x;
        b.xMin += x, b.xMax += x;
        if (k == 0) {
            box = b;
        } else {
            box.xMin = b.xMin < box.xMin ? b.xMin : box.xMin;
            box.yMin = b.yMin < box.yMin ? b.yMin : box.yMin;
            box.xMax = b.xMax > box.xMax ? b.xMax : box.xMax;
            box.yMax = b.yMax > box.yMax ? b.yMax : box.yMax;
        }
        x += face->glyph->metrics.horiAdvance;
    }
    /* 16.16 factor from font units to 26.6 pixels */
    int64_t upem = face->units_per_EM, w = box.xMax - box.xMin, h = box.yMax - box.yMin;
    int64_t scale = (int64_t)45 * n * 64 * 65536 / (100 * upem);
    int64_t ink = w > h ? w : h;
    if (ink > 0 && ink * scale > (int64_t)75 * n * 64 * 65536 / 100)
        scale = (int64_t)75 * n * 64 * 65536 / (100 * ink);
    FT_Pos ox = (FT_Pos)n * 32 - (FT_Pos)((box.xMin + box.xMax) * scale / (2 * 65536));
    FT_Pos oy = (FT_Pos)n * 32 - (FT_Pos)((box.yMin + box.yMax) * scale / (2 * 65536));
    FT_Matrix m = {(FT_Fixed)scale, 0, 0, (FT_Fixed)scale};
    canvas_t cv = {cov, n};
    FT_Raster_Params params;
    memset(&params, 0, sizeof params);
    params.flags = FT_RASTER_FLAG_AA | FT_RASTER_FLAG_DIRECT | FT_RASTER_FLAG_CLIP;
    params.gray_spans = add_spans;
    params.user = &cv;
    params.clip_box = (FT_BBox){0, 0, (FT_Pos)n, (FT_Pos)n};
    for (int k = 0; k < count; k++) {
        if (FT_Load_Glyph(face, glyph[k], FT_LOAD_NO_SCALE)) return IMG_ERR_UNSUPPORTED;
        FT_Outline *o = &face->glyph->outline;
        FT_Outline_Translate(o, pen[k], 0);
        FT_Outline_Transform(o, &m);
        FT_Outline_Translate(o, ox, oy);
        if (FT_Outline_Render(font_lib, o, &params)) return IMG_ERR_UNSUPPORTED;
    }
    return IMG_OK;
}

img_status_t img_initials_draw(const char *text, size_t text_len, const uint8_t bg[3], uint32_t n,
                               img_pixels_t *out)
{
    uint32_t letters[2];
    int count =
        text && text_len <= IMG_GEN_MAX_TEXT ? pick_letters((const uint8_t *)text, text_len, letters) : 0;
    if (!count) return IMG_ERR_UNSUPPORTED;
    size_t area = (size_t)n * n;
    uint8_t *cov = calloc(area, 1), *px = malloc(area * 3);
    if (!cov || !px) {
        free(cov);
        free(px);
        return IMG_ERR_NOMEM;
    }
    img_status_t st = IMG_OK;
    pthread_mutex_lock(&font_lock);
    if (!font_face && !default_missing) {
        st = font_load(IMG_GEN_DEFAULT_FONT);
        default_missing = st == IMG_ERR_UNSUPPORTED;
    }
    if (st == IMG_OK) st = font_face ? render(letters, count, n, cov) : IMG_ERR_UNSUPPORTED;
    pthread_mutex_unlock(&font_lock);
    if (st != IMG_OK) {
        free(cov);
        free(px);
        return st;
    }
    for (size_t i = 0; i < area; i++)
        for (int k = 0; k < 3; k++)
            px[3 * i + k] = (uint8_t)((bg[k] * (255u - cov[i]) + 255u * cov[i] + 127) / 255);
    free(cov);
    *out = (img_pixels_t){.px = px, .width = n, .height = n, .bands = 3};
    return IMG_OK;
}
