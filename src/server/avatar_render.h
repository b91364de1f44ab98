/*
 * avatar_render: what makes a variant (variant.h) of an avatar: a file resized to a square and
 * re-encoded, or a picture drawn from a hash (identicon, retro, mp, blank, initials). Runs on
 * the image pool; the decoders' limits hold for every source (image/render.h).
 */
#ifndef PIXD_SERVER_AVATAR_RENDER_H
#define PIXD_SERVER_AVATAR_RENDER_H

#include <stdint.h>

#include "image/gen.h"
#include "image/image.h"
#include "server/avatar.h"
#include "server/avatar_params.h"
#include "server/variant.h"

typedef struct {
    avatar_file_t *src;   /* a reference: the file to resize; NULL for a generated picture */
    img_gen_t gen;
    uint8_t seed[32];
    uint8_t seed_len;
    char text[AVATAR_TEXT_MAX]; /* initials or a name, for IMG_GEN_INITIALS */
    uint8_t text_len;
    uint32_t size;        /* n x n; 0: the source's own size, re-encoded only */
    img_format_t fmt;
    img_limits_t lim;
    int64_t mtime;        /* Last-Modified of a generated picture */
    int max_age;
} avatar_render_t;

/* render() and free() for variant_render(); spec is a malloc'd avatar_render_t. */
extern const variant_ops_t avatar_render_ops;

#endif
