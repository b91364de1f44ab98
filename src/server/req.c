#include "server/req.h"

#include <stdio.h>

void req_respond_error(req_t *r, int status, const char *reason)
{
    int n = snprintf(r->scratch, sizeof r->scratch, "{\"error\": \"%s\"}\n", reason);
    if (n < 0 || n >= (int)sizeof r->scratch)
        n = snprintf(r->scratch, sizeof r->scratch, "{\"error\": \"error\"}\n");
    /* A 503 is a moment's overload (memory, queue, shutdown): say when to come back. */
    static const char h[] = "Content-Type: application/json\r\n";
    static const char h503[] = "Content-Type: application/json\r\nRetry-After: 1\r\n";
    if (status == 503)
        req_respond(r, status, h503, sizeof h503 - 1, r->scratch, (size_t)n, NULL, NULL);
    else
        req_respond(r, status, h, sizeof h - 1, r->scratch, (size_t)n, NULL, NULL);
}

void req_respond_405(req_t *r, const char *allow)
{
    char h[160];
    int n = snprintf(h, sizeof h, "Content-Type: application/json\r\nAllow: %s\r\n", allow);
    if (n < 0 || n >= (int)sizeof h)
        n = 0; /* allow lists are short literals: never send a cut header line */
    static const char msg[] = "{\"error\": \"method not allowed\"}\n";
    req_respond(r, 405, h, (size_t)n, msg, sizeof msg - 1, NULL, NULL);
}

bool req_get_or_head(req_t *r)
{
    if (r->http->method == HTTP_METHOD_GET || r->http->method == HTTP_METHOD_HEAD)
        return true;
    req_respond_405(r, "GET, HEAD");
    return false;
}

void req_dispatch(req_t *r, const req_handler_t *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t plen = table[i].prefix_len;
        if (r->http->path_len >= plen && memcmp(r->http->path, table[i].prefix, plen) == 0 && table[i].fn(r))
            return;
    }
    req_respond_error(r, 404, "not found");
}
