/* gen: the generated default avatars of a Gravatar/Libravatar-compatible service (its `d=`
 * parameter): mystery person, identicon, retro, blank, initials and color. No HTTP here.
 *
 * What callers may rely on:
 *  - the same (kind, seed, text, n) gives the same pixels on every run and every pixd version:
 *    mp, identicon, retro and blank are computed in integers only (bit-exact on any compiler
 *    and machine); initials' background and letter placement are integer too, the letters'
 *    antialiasing comes from FreeType's rasterizer and could change by a grey level at an edge
 *    with another FreeType release. docs/generated-avatars.md specifies every algorithm
 *    exactly enough to reimplement it;
 *  - identicon, retro, initials and color take their colour's hue from the seed the same way,
 *    so one user gets one hue whichever kind is asked for (color is exactly the initials'
 *    background);
 *  - every function here is thread-safe. */
#ifndef PIXD_IMAGE_GEN_H
#define PIXD_IMAGE_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"  /* img_status_t */
#include "image/pixels.h" /* img_pixels_t */

typedef enum {
    IMG_GEN_MP,        /* a grey head-and-shoulders silhouette, the same for every seed */
    IMG_GEN_IDENTICON, /* a 5x5 left-right mirrored grid of cells in one colour */
    IMG_GEN_RETRO,     /* an 8x8 mirrored pixel-art face in three colours */
    IMG_GEN_BLANK,     /* fully transparent */
    IMG_GEN_INITIALS,  /* one or two white letters on a coloured square */
    IMG_GEN_COLOR,     /* a square of one colour: the initials' background, without letters */
} img_gen_t;

#define IMG_GEN_MAX_SIZE 2048u
/* Longer initials text is refused (IMG_ERR_UNSUPPORTED): a name, not a document. */
#define IMG_GEN_MAX_TEXT 256u
/* The font of the initials unless img_gen_set_font() names another. */
#ifndef IMG_GEN_DEFAULT_FONT
#define IMG_GEN_DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
#endif

/* Draws an n x n picture into *out: RGBA for IMG_GEN_BLANK (every byte 0), RGB for the others.
 * out->px is malloc'd and the caller's (img_pixels_free); on any error out->px is NULL.
 *
 * seed: the bytes that make the picture, e.g. the 16-byte MD5 or 32-byte SHA-256 of an e-mail
 * address or a digest of a user id; any length (0 too, seed may then be NULL). Only its bytes
 * count: an MD5 and a SHA-256 of the same address give different pictures. Ignored by mp and
 * blank.
 * text (IMG_GEN_INITIALS only, need not be NUL-terminated): UTF-8, a name or initials. The
 * letters drawn are the first letter of the first and of the last word that has one (words
 * are split at white space and controls; a word's letter is its first code point that is not a
 * digit, a punctuation mark, a symbol or a combining mark), upper-cased in Latin, Greek,
 * Cyrillic and Armenian: "Jane Doe" -> "JD", "jane" -> "J", "Ludwig van Beethoven" -> "LB".
 * A text that is one word of two letters already upper case is drawn as it is: "JD" -> "JD".
 *
 * IMG_ERR_TOO_LARGE: n is 0 or above IMG_GEN_MAX_SIZE (the caller clamps a requested size).
 * IMG_ERR_UNSUPPORTED: an unknown kind; for initials, text that is not valid UTF-8, longer
 *   than IMG_GEN_MAX_TEXT bytes or without a letter, a letter the font has no glyph for
 *   (e.g. CJK in DejaVu), or no usable font - the caller then falls back to IMG_GEN_MP.
 * IMG_ERR_NOMEM: allocation failed. */
img_status_t img_generate(img_gen_t kind, const uint8_t *seed, size_t seed_len, const char *text,
                          size_t text_len, uint32_t n, img_pixels_t *out);

/* Gravatar's and Libravatar's d= names: mp (and its old name mm), identicon, retro, blank,
 * initials, color, and the kinds pixd does not draw answered with the nearest it does: monsterid,
 * wavatar and pagan -> IMG_GEN_RETRO (faces and creatures), robohash -> IMG_GEN_IDENTICON.
 * Exact, case-sensitive match (Gravatar's are lower case). Returns 0 and sets *kind, or -1
 * for anything else (404, a URL, unknown names: the caller's business). */
int img_gen_from_name(const char *name, size_t len, img_gen_t *kind);

/* Loads the initials' font from `path` (a TrueType/OpenType file; NULL for
 * IMG_GEN_DEFAULT_FONT) and makes it the font of every later call. Call it at startup to
 * choose a font and to fail early: without it, the first initials picture loads the default.
 * IMG_ERR_UNSUPPORTED when the file cannot be opened as a font (the previous font stays),
 * IMG_ERR_NOMEM. Safe to call at any time, from any thread. */
img_status_t img_gen_set_font(const char *path);

#endif
