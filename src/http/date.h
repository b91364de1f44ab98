/*
 * date: HTTP dates (RFC 9110 §5.6.7 IMF-fixdate), and a per-thread cache of the current one
 * so a response's Date header costs a memcpy.
 */
#ifndef PIXD_HTTP_DATE_H
#define PIXD_HTTP_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes exactly HTTP_DATE_LEN bytes plus a NUL into out. */
void http_date_format(int64_t t, char out[HTTP_DATE_LEN + 1]);
/* Parses an IMF-fixdate. 0 and *t set, or -1 (the obsolete forms are refused: a caller
 * treats an unparsable date as absent). */
int http_date_parse(const char *s, size_t n, int64_t *t);

typedef struct {
    int64_t sec;
    char str[HTTP_DATE_LEN + 1];
} http_date_cache_t;

/* The date string for now_s, reformatted only when the second changes. */
static inline const char *http_date_cached(http_date_cache_t *c, int64_t now_s)
{
    if (c->sec != now_s) {
        http_date_format(now_s, c->str);
        c->sec = now_s;
    }
    return c->str;
}

#endif
