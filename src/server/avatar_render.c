#include "server/avatar_render.h"

#include <stdlib.h>

#include "image/render.h"

static int status_of(img_status_t st)
{
    switch (st) {
    case IMG_ERR_UNSUPPORTED:
        return 415;
    case IMG_ERR_NOMEM:
        return 503;
    default:
        return 422;
    }
}

static img_status_t draw(const avatar_render_t *a, img_pixels_t *px)
{
    if (!a->src)
        return img_generate(a->gen, a->seed, a->seed_len, a->text, a->text_len, a->size, px);
    img_format_t sfmt;
    img_status_t st = img_decode_pixels(a->src->body, a->src->len, &a->lim, a->size, px, &sfmt);
    if (st == IMG_OK)
        st = a->size ? img_square(px, a->size) : img_fit(px, AVATAR_SIZE_MAX);
    if (st != IMG_OK)
        img_pixels_free(px);
    return st;
}

static avatar_file_t *render(void *spec, int *status, const char **reason)
{
    avatar_render_t *a = spec;
    img_pixels_t px = {0};
    img_status_t st = draw(a, &px);
    if (st == IMG_ERR_UNSUPPORTED && !a->src && a->gen == IMG_GEN_INITIALS) {
        a->gen = IMG_GEN_MP; /* a letter the font lacks, or no letter at all */
        st = draw(a, &px);
    }
    uint8_t *out = NULL;
    size_t len = 0;
    if (st == IMG_OK)
        st = img_encode(&px, a->fmt, 0, &out, &len);
    img_pixels_free(&px);
    if (st != IMG_OK) {
        *status = status_of(st);
        *reason = img_status_str(st);
        return NULL;
    }
    avatar_file_t *f = avatar_file_new(out, len, img_format_mime(a->fmt), a->src ? a->src->mtime : a->mtime,
                                       a->max_age);
    if (!f) {
        *status = 503;
        *reason = "out of memory";
    }
    return f;
}

static void spec_free(void *spec)
{
    avatar_render_t *a = spec;
    avatar_put(a->src);
    free(a);
}

const variant_ops_t avatar_render_ops = {render, spec_free};
