/*
 * server: pixd's process-wide state, its worker threads, and the connection API handlers use.
 *
 * Each worker thread runs one loop with its own SO_REUSEPORT listener; a connection lives on
 * the worker that accepted it, and every conn_* function runs on that worker's thread.
 * Handlers answer synchronously with conn_respond*() or take the connection asynchronously
 * (conn_hold()) and answer later from the same thread.
 */
#ifndef PIXD_SERVER_SERVER_H
#define PIXD_SERVER_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/io.h"
#include "core/loop.h"
#include "core/sock.h"
#include "http/date.h"
#include "http/parser.h"

typedef struct server server_t;
typedef struct worker worker_t;
typedef struct conn conn_t;
struct avatar_store;
struct magic;
struct fetch;
struct tls_ctx;

typedef struct {
    char listen[256];
    char tls_listen[256];         /* empty: no TLS listener */
    char tls_cert[4096], tls_key[4096];
    char avatars[4096];
    char default_avatar[256];
    char access_log[4096];
    int threads;
    int max_conns;
    int max_age;                  /* Cache-Control max-age of avatars */
    uint64_t cache_bytes;
    uint64_t max_body;            /* request body limit */
    uint64_t max_body_memory;     /* request bodies and downloads in memory, all at once: 503 beyond */
    uint64_t max_image_memory;    /* a decoder's estimated peak: 422 beyond (0: no limit) */
    uint32_t max_queue;           /* image jobs waiting for a thread: 503 beyond */
    uint32_t body_min_rate;       /* bytes/s a body must average after its grace (0: off) */
    uint64_t max_pixels;
    int image_workers;            /* threads for image jobs, 0 = inline on the loop */
    uint32_t header_timeout_ms;   /* a request head must complete in this time: 408 */
    uint32_t body_timeout_ms;     /* body or write progress stalled this long: 408 / close */
    uint32_t keepalive_timeout_ms;
    /* /magic/imageurl downloads */
    char default_image_url[2048];
    uint64_t fetch_max_bytes;
    uint32_t fetch_connect_timeout_ms, fetch_timeout_ms;
    char fetch_allow[16][64];     /* CIDRs opened past the SSRF guard */
    int fetch_allow_n;
} server_config_t;

/* Fills the defaults documented in `pixd --help`. */
void server_config_defaults(server_config_t *cfg);
/* Parses argv into cfg. Returns 0 to run, 1 when --help/--version was printed, or 2 with a
 * message on stderr for a bad argument. */
int server_config_parse(server_config_t *cfg, int argc, char **argv);

/* Per-worker counters: written by their thread only, read by /status (relaxed). */
typedef struct {
    uint64_t conns_total, conns_open, requests;
    uint64_t buf_bytes; /* capacity of the connections' read buffers */
} worker_stats_t;

/* One listening socket of a worker; tls says which transport its connections get. */
typedef struct {
    loop_watch_t w;
    worker_t *wk;
    struct tls_ctx *tls;
    loop_timer_t pause; /* out of descriptors: accepting resumes when it fires */
} listener_t;

struct worker {
    server_t *srv;
    int id;
    pthread_t thread;
    loop_t *loop;
    listener_t listeners[2]; /* plain, then TLS when configured */
    int nlisteners;
    int nconns;
    conn_t *conns;     /* open connections, for draining on shutdown */
    bool draining;
    http_date_cache_t date;
    buf_t log;         /* access log lines not yet written */
    loop_timer_t tick; /* flushes the log; ends the drain */
    struct fetch *fetch; /* downloads for /magic/imageurl on this loop */
    worker_stats_t stats;
};

struct server {
    server_config_t cfg;
    sock_addr_t addr, tls_addr;
    int port, tls_port; /* the bound ports (for :0) */
    struct tls_ctx *tls; /* NULL without --tls-listen */
    int nworkers;
    worker_t *workers;
    struct avatar_store *avatars;
    struct magic *magic;
    int log_fd;
    int64_t started_s;
    int conns_now;     /* atomic: open connections across workers */
    uint64_t mem_used; /* atomic: bytes charged against cfg.max_body_memory */
};

/* The process-wide budget for request bodies and downloads in memory (any thread). A charge
 * that would pass cfg.max_body_memory fails and charges nothing. */
static inline bool server_mem_charge(server_t *srv, uint64_t n)
{
    uint64_t used = __atomic_fetch_add(&srv->mem_used, n, __ATOMIC_RELAXED);
    if (used + n <= srv->cfg.max_body_memory)
        return true;
    __atomic_fetch_sub(&srv->mem_used, n, __ATOMIC_RELAXED);
    return false;
}

static inline void server_mem_release(server_t *srv, uint64_t n)
{
    __atomic_fetch_sub(&srv->mem_used, n, __ATOMIC_RELAXED);
}

/* Binds, starts the workers and returns; the caller then waits for a signal. 0 or -1. */
int server_start(server_t *srv, const server_config_t *cfg);
/* Stops accepting, lets requests in flight finish (at most drain_ms), joins the threads. */
void server_stop(server_t *srv, uint32_t drain_ms);
void server_free(server_t *srv);

/* ---- the connection, as handlers see it ------------------------------------------------ */

/* IDLE: no byte of a request yet; HEAD, BODY: reading; CONTINUE: sending "100 Continue"
 * before the body; DISPATCH: complete, a handler runs; HELD: a handler answers later;
 * WRITING: sending; CLOSED: socket gone, memory freed at the end of the loop iteration (or
 * when the handler holding it answers). */
enum conn_state {
    CONN_IDLE, CONN_HEAD, CONN_BODY, CONN_CONTINUE, CONN_DISPATCH, CONN_HELD, CONN_WRITING, CONN_CLOSED
};

struct conn {
    loop_watch_t w;
    io_t io;
    worker_t *wk;
    conn_t *prev, *next;
    loop_timer_t timer;
    enum conn_state state;
    bool keep_alive;
    bool sent_continue;
    bool unread;       /* answered before the request was read to its end */
    bool nodelay;      /* TCP_NODELAY set (once kept alive) */
    bool running;      /* inside conn_run(): an answer is written by it, not scheduled */
    bool held;         /* a handler will answer (conn_hold), even if the client has left */
    loop_defer_t defer; /* a run, or the free, at the end of the loop iteration */
    void (*hold_cancel)(void *arg);
    void *hold_arg;
    uint64_t body_charge; /* bytes of the memory budget this request holds */
    uint64_t body_started_ms;
    size_t buf_counted;   /* in.cap as last counted in worker_stats_t.buf_bytes */
    sock_addr_t peer;
    buf_t in;
    size_t head_len;   /* bytes of `in` the current head takes */
    const char *head_at; /* where the head was parsed: req's pointers point there */
    size_t body_len;   /* decoded body bytes, stored right after the head */
    size_t raw_len;    /* bytes after the head consumed so far (chunked framing included) */
    http_chunked_t chunked;
    http_request_t req;
    /* the response being written: head (copied) + body (referenced until release) */
    char out[1024];
    struct iovec iov[2];
    int iovcnt;
    int file_fd;       /* the body, when it goes by sendfile */
    off_t file_off;
    size_t file_left;
    void (*release)(void *arg);
    void *release_arg;
    int status;
    uint64_t sent;
    uint64_t started_ms;
};

/* The request body, complete when a handler runs. */
static inline char *conn_body(conn_t *c)
{
    return buf_start(&c->in) + c->head_len;
}

/*
 * Sends a response. `headers` are complete "Name: value\r\n" lines (copied). Content-Length
 * is added from blen unless the status has no body; the body is not sent for HEAD or 304.
 * `body` is referenced until it is sent or the connection dies; then release(arg) runs
 * (release may be NULL for static data).
 */
void conn_respond(conn_t *c, int status, const char *headers, size_t hlen, const void *body, size_t blen,
                  void (*release)(void *), void *arg);
/* The same, but the body is also in file fd (same bytes as `body`, kept open until release):
 * sent with sendfile when the transport allows, from `body` otherwise. */
void conn_respond_file(conn_t *c, int status, const char *headers, size_t hlen, const void *body, size_t blen,
                       int fd, void (*release)(void *), void *arg);
/* {"error": "<reason>"} with the status; reason must be a plain ASCII string without quotes. */
void conn_respond_error(conn_t *c, int status, const char *reason);
/* 405 with an Allow header. */
void conn_respond_405(conn_t *c, const char *allow);

/* A handler that will answer later calls conn_hold(); conn_respond*() then completes it, from
 * any callback of the connection's loop thread (the answer is written at the end of the loop
 * iteration). If the client goes away meanwhile, cancel(arg) runs once (the work may be
 * dropped) and the connection stays allocated until that answer arrives all the same. */
void conn_hold(conn_t *c, void (*cancel)(void *arg), void *arg);

const char *http_status_text(int status);

#endif
