/*
 * avatar_params: what an avatar URL asks for, from its query string and Accept header.
 * Gravatar's image API is the reference (its parameter spellings, long and short, as client
 * libraries send them: s/size, d/default, f/forcedefault, r/rating), plus fm= (a forced
 * format) and name=/initials= (for d=initials). Pure functions: no I/O, nothing kept.
 */
#ifndef PIXD_SERVER_AVATAR_PARAMS_H
#define PIXD_SERVER_AVATAR_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/gen.h"
#include "image/img_sniff.h"

#define AVATAR_SIZE_MAX 2048  /* as Gravatar */
#define AVATAR_SIZE_HASH 80   /* /avatar/<hash> without s=, as gravatar.com */
#define AVATAR_URL_MAX 2000   /* d=<url>, decoded */
#define AVATAR_TEXT_MAX 128   /* name= / initials=, decoded */

typedef enum {
    AVATAR_D_NONE,    /* not asked: the configured default avatar */
    AVATAR_D_404,
    AVATAR_D_PICTURE, /* a generated picture: gen (names as img_gen_from_name()) */
    AVATAR_D_URL,     /* a redirect (302) to url */
} avatar_default_t;

typedef struct {
    uint32_t size;            /* 0: not asked */
    img_format_t fm;          /* IMG_FMT_UNKNOWN: not forced; else JPEG, PNG, WEBP or AVIF */
    avatar_default_t d;
    img_gen_t gen;
    bool forcedefault;
    const char *url;          /* d=<url>: decoded into url_buf */
    size_t url_len;
    char text[AVATAR_TEXT_MAX]; /* name= or initials=, decoded ('+' is a space) */
    size_t text_len;
    char url_buf[AVATAR_URL_MAX];
} avatar_params_t;

/* Parses a query string (q may be NULL). An empty d= counts as none. 0, or -1 with *reason (a
 * static string for a 400) on a size outside 1..2048, an unknown d=, f= or fm= value, a d= URL
 * that is not plain http(s) (control bytes, spaces, too long), a bad %-escape, or a name too
 * long. A parameter given twice: the last one counts, as in most query parsers. */
int avatar_params_parse(const char *q, size_t n, avatar_params_t *p, const char **reason);

/* The hash of /avatar/<hash>[.jpg|.png]: 32 (MD5) or 64 (SHA-256) hex digits in any case.
 * Writes it lowercase into out (NUL-terminated) and returns its length; 0 when seg is not one. */
size_t avatar_hash_parse(const char *seg, size_t n, char out[65]);

/* The format of a rendered variant: fm= when given; else what Accept prefers among AVIF (only
 * when avif is on), WebP and the natural format (the source's, PNG for generated pictures and
 * GIF sources), AVIF and WebP only when named explicitly, ties going to the smaller format.
 * *vary tells whether the choice depended on Accept. */
img_format_t avatar_negotiate(const avatar_params_t *p, const char *accept, size_t alen, img_format_t natural,
                              bool avif, bool *vary);

#endif
