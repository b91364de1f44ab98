/*
 * avatar_handler: the avatar URL space, over the avatar store.
 *   /<uid>             the user's avatar, or the default one; conditional GET (ETag first)
 *   /<uid>.<ext>       301 to /<uid> (the original nginx scheme's pseudo-static URLs)
 * Anything that could escape the avatar folder (%-escapes, "..", bytes outside the uid
 * alphabet) is refused with 400 before it gets near the file system.
 */
#include "server/avatar_handler.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/date.h"
#include "server/avatar.h"
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

static void avatar(req_t *r, const char *uid, size_t n)
{
    avatar_file_t *f = avatar_get(r->wk->srv->avatars, uid, n);
    if (!f) {
        req_respond_error(r, 404, "no such avatar");
        return;
    }
    if (not_modified(r, f)) {
        req_respond(r, 304, f->hdrs + f->ct_len, f->hdrs_len - f->ct_len, NULL, 0, avatar_put, f);
        return;
    }
    req_respond_file(r, 200, f->hdrs, f->hdrs_len, f->body, f->len, f->fd, avatar_put, f);
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
