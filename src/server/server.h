/*
 * server: pixd's process-wide state, its worker threads, and the connection API handlers use.
 *
 * Each worker thread runs one loop with its own SO_REUSEPORT listener; a connection lives on
 * the worker that accepted it. Requests reach the handlers of the table built here
 * (server/req.h), which never see the connection.
 */
#ifndef PIXD_SERVER_SERVER_H
#define PIXD_SERVER_SERVER_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/io.h"
#include "core/loop.h"
#include "core/sock.h"
#include "http/date.h"
#include "http/parser.h"
#include "server/metrics.h"
#include "server/req.h"

typedef struct server server_t;
typedef struct worker worker_t;
typedef struct conn conn_t;
struct avatar_store;
struct magic;
struct fetch;
struct pool;
struct tls_ctx;
struct variant_cache;
struct hashindex;
struct upload;

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
    /* the avatar service */
    uint64_t variant_cache_bytes;  /* resized and generated avatars kept */
    uint32_t variants_per_source;
    uint32_t renders_per_client;   /* under way per client address: 429 beyond (0: off) */
    bool avif;                     /* AVIF by Accept (opt-in: slow to encode) */
    char upload_token_file[4096], upload_key_file[4096];
    uint32_t upload_max_side;
    bool demo;                     /* the page may mint signed upload URLs */
    /* HTTP/2 (decision 010; the other limits are fixed in http/h2.c) */
    uint32_t h2_max_streams;         /* SETTINGS_MAX_CONCURRENT_STREAMS */
    uint32_t h2_settings_timeout_ms; /* our SETTINGS unacknowledged this long: GOAWAY */
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
    buf_pool_t bufs;   /* spare 16 KiB buffers: read buffers and HTTP/2 frame queues no connection
                          holds while it waits (conn_release_input) */
    loop_timer_t tick; /* flushes the log; ends the drain */
    struct fetch *fetch; /* downloads for /magic/imageurl on this loop */
    worker_stats_t stats;
    metrics_t metrics;
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
    struct pool *pool; /* image work and large file reads, off the loops */
    struct variant_cache *variants; /* sizes, formats and generated avatars */
    struct hashindex *hashes;       /* /avatar/<hash> names registered by uploads */
    struct upload *upload;
    sem_t draining;   /* posted by each worker once it drains (server_stop waits for all) */
    int log_fd;
    int64_t started_s;
    int conns_now;     /* atomic: open connections across workers */
    req_handler_t handlers[REQ_ROUTE_NONE]; /* in the order they are offered a request */
    size_t nhandlers;
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

/* The same for one owner (a request's body) that keeps count of what it holds in *held. */
static inline bool server_mem_hold(server_t *srv, uint64_t *held, uint64_t n)
{
    if (!server_mem_charge(srv, n))
        return false;
    *held += n;
    return true;
}

static inline void server_mem_drop(server_t *srv, uint64_t *held)
{
    if (!*held)
        return; /* most requests have no body: no atomic on the shared counter for them */
    server_mem_release(srv, *held);
    *held = 0;
}

/* Binds, starts the workers and returns; the caller then waits for a signal. 0 or -1. */
int server_start(server_t *srv, const server_config_t *cfg);
/* Stops accepting, lets requests in flight finish (at most drain_ms), joins the threads. */
void server_stop(server_t *srv, uint32_t drain_ms);
void server_free(server_t *srv);

/* The workers' counters summed (each read relaxed: a near snapshot). */
void server_worker_stats(const server_t *srv, worker_stats_t *out);

/* SIGHUP: reads the TLS certificate and key, and the upload token and key files, again. A
 * file that fails keeps the old one in use, with a message on stderr. 0, or -1 if any failed. */
int server_reload(server_t *srv);

/* Appends an access-log line (the worker's thread; written in batches). */
void server_log(worker_t *wk, const char *line, size_t n);

#endif
