#include "server/req.h"

#include <stdio.h>

void req_respond_error(req_t *r, int status, const char *reason)
{
    int n = snprintf(r->scratch, sizeof r->scratch, "{\"error\": \"%s\"}\n", reason);
    if (n < 0 || n >= (int)sizeof r->scratch)
        n = snprintf(r->scratch, sizeof r->scratch, "{\"error\": \"error\"}\n");
    /* A 503 or 429 is a moment's overload (memory, queue, shutdown, a busy client): say when
     * to come back. A 401 names the scheme that would do (RFC 9110 §11.6.1). */
    static const char h[] = "Content-Type: application/json\r\n";
    static const char retry[] = "Content-Type: application/json\r\nRetry-After: 1\r\n";
    static const char auth[] = "Content-Type: application/json\r\nWWW-Authenticate: Bearer realm=\"pixd\"\r\n";
    if (status == 503 || status == 429)
        req_respond(r, status, retry, sizeof retry - 1, r->scratch, (size_t)n, NULL, NULL);
    else if (status == 401)
        req_respond(r, status, auth, sizeof auth - 1, r->scratch, (size_t)n, NULL, NULL);
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
        r->route = (unsigned)i; /* before the call: the answer may go out from inside it */
        if (r->http->path_len >= plen && memcmp(r->http->path, table[i].prefix, plen) == 0 && table[i].fn(r))
            return;
    }
    r->route = REQ_ROUTE_NONE;
    req_respond_error(r, 404, "not found");
}
