/*
 * router: the URL space.
 *   /, /magic/...      the image API and its page (magic.c)
 *   /status            counters as JSON
 *   /<uid>             the user's avatar, or the default one
 *   /<uid>.<ext>       301 to /<uid> (the original nginx scheme's pseudo-static URLs)
 * Anything that could escape the avatar folder (%-escapes, "..", bytes outside the uid
 * alphabet) is refused with 400 before it gets near the file system.
 */
#include "server/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/date.h"
#include "server/avatar.h"
#include "server/magic.h"

static bool path_is(const conn_t *c, const char *lit)
{
    size_t n = strlen(lit);
    return c->req.path_len == n && memcmp(c->req.path, lit, n) == 0;
}

static bool get_or_head(conn_t *c)
{
    if (c->req.method == HTTP_METHOD_GET || c->req.method == HTTP_METHOD_HEAD)
        return true;
    conn_respond_405(c, "GET, HEAD");
    return false;
}

static void status_json(conn_t *c)
{
    server_t *srv = c->wk->srv;
    uint64_t total = 0, open = 0, reqs = 0, bufs = 0;
    for (int i = 0; i < srv->nworkers; i++) {
        worker_stats_t *st = &srv->workers[i].stats;
        total += __atomic_load_n(&st->conns_total, __ATOMIC_RELAXED);
        open += __atomic_load_n(&st->conns_open, __ATOMIC_RELAXED);
        reqs += __atomic_load_n(&st->requests, __ATOMIC_RELAXED);
        bufs += __atomic_load_n(&st->buf_bytes, __ATOMIC_RELAXED);
    }
    avatar_stats_t as;
    avatar_store_stats(srv->avatars, &as);
    pool_stats_t ps;
    magic_stats(srv->magic, &ps);
    enum { STATUS_MAX = 1024 };
    char *body = malloc(STATUS_MAX); /* outlives this frame: freed once sent */
    if (!body) {
        conn_respond_error(c, 503, "out of memory");
        return;
    }
    int n = snprintf(body, STATUS_MAX,
                     "{\"version\": \"%s\", \"uptime_s\": %lld, \"threads\": %d, "
                     "\"connections\": {\"open\": %llu, \"total\": %llu}, \"requests\": %llu, "
                     "\"cache\": {\"hits\": %llu, \"misses\": %llu, \"entries\": %llu, \"bytes\": %llu}, "
                     "\"memory\": {\"read_buffers\": %llu, \"bodies\": %llu, \"bodies_max\": %llu}, "
                     "\"jobs\": {\"queued\": %llu, \"running\": %llu, \"done\": %llu, \"dropped\": %llu, "
                     "\"refused\": %llu}}\n",
                     PIXD_VERSION, (long long)(time(NULL) - srv->started_s), srv->nworkers,
                     (unsigned long long)open, (unsigned long long)total, (unsigned long long)reqs,
                     (unsigned long long)as.hits, (unsigned long long)as.misses,
                     (unsigned long long)as.entries, (unsigned long long)as.bytes, (unsigned long long)bufs,
                     (unsigned long long)__atomic_load_n(&srv->mem_used, __ATOMIC_RELAXED),
                     (unsigned long long)srv->cfg.max_body_memory, (unsigned long long)ps.queued,
                     (unsigned long long)ps.running, (unsigned long long)ps.ran, (unsigned long long)ps.dropped,
                     (unsigned long long)ps.refused);
    if (n < 0 || n >= STATUS_MAX) {
        free(body);
        conn_respond_error(c, 500, "status too long");
        return;
    }
    static const char h[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
    conn_respond(c, 200, h, sizeof h - 1, body, (size_t)n, free, body);
}

/* RFC 9110 §13.1.2: weak comparison, a list of entity-tags or "*". */
static bool etag_matches(const char *v, size_t n, const avatar_file_t *f)
{
    const char *p = v, *end = v + n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p < end && *p == '*')
            return true;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *s = p;
        if (p < end && *p == '"') {
            p++;
            while (p < end && *p != '"')
                p++;
            if (p < end)
                p++;
        } else {
            while (p < end && *p != ',')
                p++;
        }
        if ((size_t)(p - s) == f->etag_len && memcmp(s, f->etag, f->etag_len) == 0)
            return true;
    }
    return false;
}

static bool not_modified(const conn_t *c, const avatar_file_t *f)
{
    const http_header_t *inm = http_find_header(&c->req.h, "if-none-match", 13);
    if (inm) /* when present, If-Modified-Since is ignored (RFC 9110 §13.1.3) */
        return etag_matches(inm->value, inm->value_len, f);
    const http_header_t *ims = http_find_header(&c->req.h, "if-modified-since", 17);
    int64_t t;
    return ims && http_date_parse(ims->value, ims->value_len, &t) == 0 && f->mtime <= t;
}

static void avatar(conn_t *c, const char *uid, size_t n)
{
    avatar_file_t *f = avatar_get(c->wk->srv->avatars, uid, n);
    if (!f) {
        conn_respond_error(c, 404, "no such avatar");
        return;
    }
    if (not_modified(c, f)) {
        conn_respond(c, 304, f->hdrs + f->ct_len, f->hdrs_len - f->ct_len, NULL, 0, NULL, NULL);
        avatar_put(f);
        return;
    }
    conn_respond_file(c, 200, f->hdrs, f->hdrs_len, f->body, f->len, f->fd, avatar_put, f);
}

static bool image_ext(const char *e, size_t n)
{
    static const char *const known[] = {"png", "jpg", "jpeg", "gif", "webp"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == n && strncasecmp(e, known[i], n) == 0)
            return true;
    return false;
}

/* Bytes that may appear in a path without making it unsafe to think about. */
static bool path_safe(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '_' || ch == '-' || ch == '.' || ch == '/';
        if (!ok || (ch == '.' && i + 1 < n && p[i + 1] == '.'))
            return false;
    }
    return true;
}

void router_dispatch(conn_t *c)
{
    const char *path = c->req.path;
    size_t n = c->req.path_len;

    if (path_is(c, "/status")) {
        if (get_or_head(c))
            status_json(c);
        return;
    }
    if (magic_dispatch(c))
        return;
    if (n < 2 || path[0] != '/') {
        conn_respond_error(c, 404, "not found");
        return;
    }
    const char *seg = path + 1;
    size_t slen = n - 1;
    if (!path_safe(seg, slen)) {
        conn_respond_error(c, 400, "invalid path");
        return;
    }
    if (memchr(seg, '/', slen)) {
        conn_respond_error(c, 404, "not found");
        return;
    }
    if (avatar_uid_valid(seg, slen)) {
        if (get_or_head(c))
            avatar(c, seg, slen);
        return;
    }
    const char *dot = memchr(seg, '.', slen);
    size_t ulen = dot ? (size_t)(dot - seg) : slen;
    if (dot && avatar_uid_valid(seg, ulen) && image_ext(dot + 1, slen - ulen - 1)) {
        if (!get_or_head(c))
            return;
        /* Sized for the longest uid; a cut header would be worse than none, so check. */
        char h[sizeof "Location: /\r\nContent-Type: application/json\r\n" + AVATAR_UID_MAX];
        int hl = snprintf(h, sizeof h, "Location: /%.*s\r\nContent-Type: application/json\r\n", (int)ulen, seg);
        if (hl < 0 || (size_t)hl >= sizeof h) {
            conn_respond_error(c, 500, "location too long");
            return;
        }
        static const char msg[] = "{\"error\": \"moved permanently\"}\n";
        conn_respond(c, 301, h, (size_t)hl, msg, sizeof msg - 1, NULL, NULL);
        return;
    }
    conn_respond_error(c, 404, "not found");
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
