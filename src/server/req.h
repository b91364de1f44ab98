/*
 * req: a request as handlers see it, whatever carries it (an HTTP/1.1 connection today; an
 * HTTP/2 stream gets the same object). Handlers never reach the connection, its buffers or
 * its socket: they read the request here and answer through req_respond*(), now or later.
 *
 * Lifetime: everything a req points to (head, headers, body) stays valid until its answer has
 * been sent; the req itself and its scratch area too. A handler answers exactly once, on the
 * request's loop thread: synchronously, or after req_hold() from any callback of that loop
 * (a pool completion, a download, a timer); the answer is written by the protocol's own loop
 * at the end of the loop iteration when it comes from outside it.
 */
#ifndef PIXD_SERVER_REQ_H
#define PIXD_SERVER_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/sock.h"
#include "http/parser.h"

typedef struct req req_t;
typedef struct worker worker_t;

typedef struct {
    /* Sends status, headers ("Name: value\r\n" lines, copied) and body (referenced until
     * release(arg); fd >= 0: the same bytes in a file, sent with sendfile where possible). */
    void (*respond)(req_t *r, int status, const char *hdrs, size_t hlen, const void *body, size_t blen, int fd,
                    void (*release)(void *), void *arg);
    void (*hold)(req_t *r, void (*cancel)(void *), void *arg);
} req_ops_t;

#define REQ_ROUTE_NONE 7 /* no handler took it (404), or it never reached one (a bad head) */
#define REQ_SCRATCH 128 /* error bodies: {"error": "<a short reason>"} */

struct req {
    const req_ops_t *ops;
    worker_t *wk;                /* the loop thread it lives on, and the server */
    const http_request_t *http;  /* method, target, path, headers */
    const char *body;            /* complete when a handler runs (decoded if it was chunked) */
    size_t body_len;
    const sock_addr_t *peer;
    unsigned route;              /* the handler table entry that took it (metrics), else REQ_ROUTE_NONE */
    char scratch[REQ_SCRATCH];   /* the request's own bytes, alive until its answer is sent */
};

/* What a respond call gives to be run once its body is no longer referenced. */
typedef struct {
    void (*fn)(void *arg);
    void *arg;
} req_release_t;

static inline void req_release(req_release_t *rel)
{
    if (rel->fn)
        rel->fn(rel->arg);
    rel->fn = NULL;
}

static inline void req_respond(req_t *r, int status, const char *hdrs, size_t hlen, const void *body,
                               size_t blen, void (*release)(void *), void *arg)
{
    r->ops->respond(r, status, hdrs, hlen, body, blen, -1, release, arg);
}

static inline void req_respond_file(req_t *r, int status, const char *hdrs, size_t hlen, const void *body,
                                    size_t blen, int fd, void (*release)(void *), void *arg)
{
    r->ops->respond(r, status, hdrs, hlen, body, blen, fd, release, arg);
}

/* {"error": "<reason>"} with the status (a 503 or 429 says Retry-After: 1, a 401
 * WWW-Authenticate: Bearer). reason: plain ASCII without quotes. */
void req_respond_error(req_t *r, int status, const char *reason);
/* 405 with an Allow header. */
void req_respond_405(req_t *r, const char *allow);

/* The handler answers later. If the client goes away meanwhile, cancel(arg) runs once on the
 * loop thread (the work may be dropped); the answer is still due and frees what it holds. */
static inline void req_hold(req_t *r, void (*cancel)(void *arg), void *arg)
{
    r->ops->hold(r, cancel, arg);
}

static inline bool req_path_equals(const req_t *r, const char *p, size_t n)
{
    return r->http->path_len == n && memcmp(r->http->path, p, n) == 0;
}
/* The path is exactly the string literal lit (its length known at compile time). */
#define req_path_is(r, lit) req_path_equals((r), "" lit, sizeof(lit) - 1)

static inline const http_header_t *req_header(const req_t *r, const char *lname, size_t n)
{
    return http_find_header(&r->http->h, lname, n);
}

/* True for GET and HEAD; otherwise answers 405 (Allow: GET, HEAD) and returns false. */
bool req_get_or_head(req_t *r);

/* ---- handlers ---------------------------------------------------------------------------- */

/* A handler answers (or holds) a request and returns true, or returns false: "not mine", the
 * next one in the table is asked (h2o's call_handlers). The table ends in 404. */
typedef bool (*req_handler_fn)(req_t *r);

typedef struct {
    const char *prefix; /* the path must start with it to be offered */
    size_t prefix_len;
    req_handler_fn fn;
    const char *name;   /* the route's name in metrics */
} req_handler_t;

/* A table entry for a literal prefix: REQ_HANDLER("/magic/", magic_handle, "magic"). */
#define REQ_HANDLER(lit, fn, name) {"" lit, sizeof(lit) - 1, (fn), (name)}

/* Offers r to each handler whose prefix matches, in order; 404 when none takes it. Sets
 * r->route. */
void req_dispatch(req_t *r, const req_handler_t *table, size_t n);

#endif
