/*
 * avatar_handler: the avatar URL space, over the avatar store.
 *   /<uid>             the user's avatar, or the default one; conditional GET (ETag first)
 *   /<uid>.<ext>       301 to /<uid> (the original nginx scheme's pseudo-static URLs)
 * Anything that could escape the avatar folder (%-escapes, "..", bytes outside the uid
 * alphabet) is refused with 400 before it gets near the file system.
 */
#include "server/avatar_handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/date.h"
#include "server/avatar.h"
#include "server/pool.h"
#include "server/server.h"

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

static bool not_modified(const req_t *r, const avatar_file_t *f)
{
    const http_header_t *inm = req_header(r, "if-none-match", 13);
    if (inm) /* when present, If-Modified-Since is ignored (RFC 9110 §13.1.3) */
        return etag_matches(inm->value, inm->value_len, f);
    const http_header_t *ims = req_header(r, "if-modified-since", 17);
    int64_t t;
    return ims && http_date_parse(ims->value, ims->value_len, &t) == 0 && f->mtime <= t;
}

static void serve(req_t *r, avatar_file_t *f)
{
    if (not_modified(r, f))
        req_respond(r, 304, f->hdrs + f->ct_len, f->hdrs_len - f->ct_len, NULL, 0, avatar_put, f);
    else
        req_respond_file(r, 200, f->hdrs, f->hdrs_len, f->body, f->len, f->fd, avatar_put, f);
}

/* A large file read on the pool, off the loop: once per version of the file. */
typedef struct {
    pool_job_t pj; /* first: the pool hands it back */
    req_t *r;
    avatar_store_t *store;
    avatar_slow_t slow;
    avatar_file_t *f;
} load_job_t;

static void load_run(pool_job_t *pj)
{
    load_job_t *j = (load_job_t *)pj;
    j->f = avatar_load(j->store, &j->slow);
}

static void load_done(loop_t *loop, void *arg)
{
    load_job_t *j = arg;
    avatar_slow_release(&j->slow); /* when it never ran */
    if (j->pj.outcome != POOL_RAN)
        req_respond_error(j->r, 503, "server is shutting down");
    else if (!j->f)
        req_respond_error(j->r, 503, "out of memory");
    else
        serve(j->r, j->f);
    free(j);
}

static void load_cancel(void *arg)
{
    pool_cancel(&((load_job_t *)arg)->pj);
}

static void load_off_loop(req_t *r, avatar_store_t *store, const avatar_slow_t *slow)
{
    load_job_t *j = malloc(sizeof *j);
    if (!j) {
        avatar_slow_t s = *slow;
        avatar_slow_release(&s);
        req_respond_error(r, 503, "out of memory");
        return;
    }
    *j = (load_job_t){.pj = {.run = load_run, .done = load_done, .loop = r->wk->loop}, .r = r, .store = store,
                      .slow = *slow};
    req_hold(r, load_cancel, j);
    int e = pool_submit(r->wk->srv->pool, &j->pj);
    if (e != 0) {
        avatar_slow_release(&j->slow);
        req_respond_error(r, 503, pool_refusal(e));
        free(j);
    }
}

static void avatar(req_t *r, const char *uid, size_t n)
{
    avatar_store_t *store = r->wk->srv->avatars;
    avatar_file_t *f;
    avatar_slow_t slow;
    switch (avatar_get(store, uid, n, &f, &slow)) {
    case AVATAR_FOUND:
        serve(r, f);
        break;
    case AVATAR_NONE:
        req_respond_error(r, 404, "no such avatar");
        break;
    case AVATAR_SLOW:
        load_off_loop(r, store, &slow);
        break;
    }
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

bool avatar_handle(req_t *r)
{
    const char *path = r->http->path;
    size_t n = r->http->path_len;
    if (n < 2 || path[0] != '/')
        return false;
    const char *seg = path + 1;
    size_t slen = n - 1;
    if (!path_safe(seg, slen)) {
        req_respond_error(r, 400, "invalid path");
        return true;
    }
    if (memchr(seg, '/', slen))
        return false;
    if (avatar_uid_valid(seg, slen)) {
        if (req_get_or_head(r))
            avatar(r, seg, slen);
        return true;
    }
    const char *dot = memchr(seg, '.', slen);
    size_t ulen = dot ? (size_t)(dot - seg) : slen;
    if (!dot || !avatar_uid_valid(seg, ulen) || !image_ext(dot + 1, slen - ulen - 1))
        return false;
    if (!req_get_or_head(r))
        return true;
    /* Sized for the longest uid; a cut header would be worse than none, so check. */
    char h[sizeof "Location: /\r\nContent-Type: application/json\r\n" + AVATAR_UID_MAX];
    int hl = snprintf(h, sizeof h, "Location: /%.*s\r\nContent-Type: application/json\r\n", (int)ulen, seg);
    if (hl < 0 || (size_t)hl >= sizeof h) {
        req_respond_error(r, 500, "location too long");
        return true;
    }
    static const char msg[] = "{\"error\": \"moved permanently\"}\n";
    req_respond(r, 301, h, (size_t)hl, msg, sizeof msg - 1, NULL, NULL);
    return true;
}
