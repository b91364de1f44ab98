#include "server/demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/query.h"
#include "server/avatar.h"
#include "server/server.h"
#include "server/upload.h"

#define VALID_S 600

/* Appends "&name=value", value %-escaped except for unreserved bytes (RFC 3986). Returns the
 * new length, or cap when it does not fit: a value cut short must never be signed. */
static size_t put_param(char *out, size_t at, size_t cap, const char *name, const char *v, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (at >= cap)
        return cap;
    at += (size_t)snprintf(out + at, cap - at, "&%s=", name);
    for (size_t i = 0; i < n; i++) {
        if (at + 3 >= cap)
            return cap;
        unsigned char c = (unsigned char)v[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out[at++] = (char)c;
        } else {
            out[at++] = '%';
            out[at++] = hex[c >> 4];
            out[at++] = hex[c & 15];
        }
    }
    return at;
}

bool demo_handle(req_t *r)
{
    if (!req_path_is(r, "/demo/upload-url"))
        return false;
    server_t *srv = r->wk->srv;
    if (!srv->cfg.demo) {
        req_respond_error(r, 404, "not found (start pixd with --demo)");
        return true;
    }
    if (!req_get_or_head(r))
        return true;
    char uid[AVATAR_UID_MAX + 1] = "", email[256] = "", crop[64] = "";
    ssize_t ulen = 0, elen = 0, clen = 0;
    http_query_iter_t it;
    http_qparam_t kv;
    http_query_iter(&it, r->http->query, r->http->query_len);
    while (http_query_next(&it, &kv)) {
        if (http_qparam_key(&kv, "uid"))
            ulen = http_pct_decode(kv.val, kv.val_len, uid, sizeof uid - 1, true);
        else if (http_qparam_key(&kv, "email"))
            elen = http_pct_decode(kv.val, kv.val_len, email, sizeof email - 1, true);
        else if (http_qparam_key(&kv, "crop"))
            clen = http_pct_decode(kv.val, kv.val_len, crop, sizeof crop - 1, true);
        if (ulen < 0 || elen < 0 || clen < 0) {
            req_respond_error(r, 400, "invalid query");
            return true;
        }
    }
    if (!avatar_uid_valid(uid, (size_t)ulen)) {
        req_respond_error(r, 400, "uid must be 1 to 64 of A-Z a-z 0-9 _ -");
        return true;
    }
    char q[512];
    size_t n = (size_t)snprintf(q, sizeof q, "expires=%lld", (long long)loop_wall_s(r->wk->loop) + VALID_S);
    if (elen)
        n = put_param(q, n, sizeof q, "email", email, (size_t)elen);
    if (clen)
        n = put_param(q, n, sizeof q, "crop", crop, (size_t)clen);
    char sig[65];
    if (n >= sizeof q || upload_sign(srv->upload, "PUT", uid, (size_t)ulen, q, n, sig) != 0) {
        req_respond_error(r, 400, "cannot sign that");
        return true;
    }
    char *body = malloc(1024);
    if (!body) {
        req_respond_error(r, 503, "out of memory");
        return true;
    }
    int bl = snprintf(body, 1024, "{\"url\": \"/%s?%.*s&sig=%s\", \"expires_in\": %d}\n", uid, (int)n, q, sig,
                      VALID_S);
    static const char h[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
    req_respond(r, 200, h, sizeof h - 1, body, (size_t)bl, free, body);
    return true;
}
