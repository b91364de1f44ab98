#include "server/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/avatar.h"
#include "server/pool.h"
#include "server/server.h"
#include "server/upload.h"
#include "server/variant.h"

/* Upper bounds in microseconds: from a cached avatar (tens of µs) to a large image job. */
static const uint64_t bucket_us[METRICS_BUCKETS] = {100,   250,    500,    1000,   2500,    5000,
                                                    10000, 25000, 100000, 250000, 1000000, 5000000};
static const short codes[METRICS_CODES - 1] = {200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405,
                                               408, 411, 413, 415, 422, 429, 431, 500, 501, 503, 504};

static unsigned code_slot(int status)
{
    for (unsigned i = 0; i < METRICS_CODES - 1; i++)
        if (codes[i] == status)
            return i;
    return METRICS_CODES - 1;
}

void metrics_count(metrics_t *m, unsigned route, int status, uint64_t bytes, uint64_t ns)
{
    uint64_t us = ns / 1000;
    unsigned b = 0;
    while (b < METRICS_BUCKETS && us > bucket_us[b])
        b++;
    uint64_t *cells[] = {&m->requests[route][code_slot(status)], &m->latency[route][b]};
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++)
        __atomic_store_n(cells[i], *cells[i] + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&m->latency_us[route], m->latency_us[route] + us, __ATOMIC_RELAXED);
    __atomic_store_n(&m->bytes[route], m->bytes[route] + bytes, __ATOMIC_RELAXED);
}

/* ---- the scrape --------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
} out_t;

static void put(out_t *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = o->failed ? 0 : vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            o->failed = true;
        if (o->failed || (size_t)n < o->cap - o->len) {
            o->len += o->failed ? 0 : (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->failed = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
}

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(out_t *o, const char *name, const char *help, uint64_t v)
{
    family(o, name, "gauge", help);
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void counter(out_t *o, const char *name, const char *help, uint64_t v)
{
    family(o, name, "counter", help);
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

static const char *route_name(const server_t *srv, unsigned i)
{
    return i < srv->nhandlers ? srv->handlers[i].name : "none";
}

static void requests(out_t *o, const server_t *srv)
{
    metrics_t *t = calloc(1, sizeof *t);
    if (!t) {
        o->failed = true;
        return;
    }
    for (int w = 0; w < srv->nworkers; w++) {
        const metrics_t *m = &srv->workers[w].metrics;
        for (unsigned r = 0; r < METRICS_ROUTES; r++) {
            for (unsigned c = 0; c < METRICS_CODES; c++)
                t->requests[r][c] += __atomic_load_n(&m->requests[r][c], __ATOMIC_RELAXED);
            for (unsigned b = 0; b <= METRICS_BUCKETS; b++)
                t->latency[r][b] += __atomic_load_n(&m->latency[r][b], __ATOMIC_RELAXED);
            t->latency_us[r] += __atomic_load_n(&m->latency_us[r], __ATOMIC_RELAXED);
            t->bytes[r] += __atomic_load_n(&m->bytes[r], __ATOMIC_RELAXED);
        }
    }
    unsigned nroutes = (unsigned)srv->nhandlers + 1;
    family(o, "pixd_http_requests_total", "counter", "Answers sent, by route (the handler) and status.");
    for (unsigned r = 0; r < nroutes; r++) {
        unsigned ri = r < srv->nhandlers ? r : REQ_ROUTE_NONE;
        for (unsigned c = 0; c < METRICS_CODES; c++)
            if (t->requests[ri][c]) {
                if (c < METRICS_CODES - 1)
                    put(o, "pixd_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n", route_name(srv, r),
                        codes[c], (unsigned long long)t->requests[ri][c]);
                else
                    put(o, "pixd_http_requests_total{route=\"%s\",code=\"other\"} %llu\n", route_name(srv, r),
                        (unsigned long long)t->requests[ri][c]);
            }
    }
    family(o, "pixd_http_request_duration_seconds", "histogram",
           "From a complete request head to its answer being ready to send.");
    for (unsigned r = 0; r < nroutes; r++) {
        unsigned ri = r < srv->nhandlers ? r : REQ_ROUTE_NONE;
        uint64_t cum = 0;
        for (unsigned b = 0; b < METRICS_BUCKETS; b++) {
            cum += t->latency[ri][b];
            put(o, "pixd_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route_name(srv, r),
                (double)bucket_us[b] / 1e6, (unsigned long long)cum);
        }
        cum += t->latency[ri][METRICS_BUCKETS];
        put(o, "pixd_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", route_name(srv, r),
            (unsigned long long)cum);
        put(o, "pixd_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_name(srv, r),
            (double)t->latency_us[ri] / 1e6);
        put(o, "pixd_http_request_duration_seconds_count{route=\"%s\"} %llu\n", route_name(srv, r),
            (unsigned long long)cum);
    }
    family(o, "pixd_http_response_body_bytes_total", "counter", "Body bytes of the answers, by route.");
    for (unsigned r = 0; r < nroutes; r++) {
        unsigned ri = r < srv->nhandlers ? r : REQ_ROUTE_NONE;
        put(o, "pixd_http_response_body_bytes_total{route=\"%s\"} %llu\n", route_name(srv, r),
            (unsigned long long)t->bytes[ri]);
    }
    free(t);
}

static void caches(out_t *o, server_t *srv)
{
    avatar_stats_t a;
    avatar_store_stats(srv->avatars, &a);
    variant_stats_t v;
    variant_cache_stats(srv->variants, &v);
    family(o, "pixd_cache_hits_total", "counter", "Lookups answered from memory.");
    put(o, "pixd_cache_hits_total{cache=\"avatars\"} %llu\npixd_cache_hits_total{cache=\"variants\"} %llu\n",
        (unsigned long long)a.hits, (unsigned long long)v.hits);
    family(o, "pixd_cache_misses_total", "counter", "Lookups that had to read or render.");
    put(o, "pixd_cache_misses_total{cache=\"avatars\"} %llu\npixd_cache_misses_total{cache=\"variants\"} %llu\n",
        (unsigned long long)a.misses, (unsigned long long)v.misses);
    family(o, "pixd_cache_evictions_total", "counter", "Entries pushed out to stay within the budget.");
    put(o,
        "pixd_cache_evictions_total{cache=\"avatars\"} %llu\npixd_cache_evictions_total{cache=\"variants\"} %llu\n",
        (unsigned long long)a.evictions, (unsigned long long)v.evictions);
    family(o, "pixd_cache_entries", "gauge", "Entries held (avatars: users without a file included).");
    put(o, "pixd_cache_entries{cache=\"avatars\"} %llu\npixd_cache_entries{cache=\"variants\"} %llu\n",
        (unsigned long long)(a.entries + a.large_entries), (unsigned long long)v.entries);
    family(o, "pixd_cache_bytes", "gauge", "Memory held by the cache, overheads included.");
    put(o, "pixd_cache_bytes{cache=\"avatars\"} %llu\npixd_cache_bytes{cache=\"variants\"} %llu\n",
        (unsigned long long)(a.bytes + a.large_bytes), (unsigned long long)v.bytes);
    counter(o, "pixd_variant_renders_total", "Variants rendered (resized, re-encoded or drawn).", v.renders);
    counter(o, "pixd_variant_render_joins_total", "Requests that waited for a render already under way.",
            v.joined);
    counter(o, "pixd_variant_render_failures_total", "Renders that ended in an error answer.", v.failed);
    counter(o, "pixd_variant_renders_refused_total",
            "429s to a client address with --renders-per-client renders under way.", v.refused);
    gauge(o, "pixd_variant_renders_in_flight", "Renders under way.", v.in_flight);
    gauge(o, "pixd_variant_render_clients", "Client addresses with a render under way.", v.clients);
    gauge(o, "pixd_variant_sources", "Sources (pictures) with variants cached.", v.groups);
    put(o, "# HELP pixd_variants_per_source_max --variants-per-source\n# TYPE pixd_variants_per_source_max gauge\n"
           "pixd_variants_per_source_max %u\n",
        srv->cfg.variants_per_source);
    gauge(o, "pixd_variants_per_source_held", "The most variants any one source holds now.", v.group_most);
    counter(o, "pixd_variant_source_evictions_total",
            "Variants evicted because their source held --variants-per-source.", v.group_evictions);
    put(o, "# HELP pixd_renders_per_client_max --renders-per-client (0: no bound)\n"
           "# TYPE pixd_renders_per_client_max gauge\npixd_renders_per_client_max %u\n",
        srv->cfg.renders_per_client);
}

static void jobs(out_t *o, server_t *srv)
{
    pool_stats_t p;
    pool_stats(srv->pool, &p);
    gauge(o, "pixd_image_jobs_queued", "Image jobs waiting for a thread.", p.queued);
    gauge(o, "pixd_image_jobs_running", "Image jobs on a thread.", p.running);
    put(o, "# HELP pixd_image_jobs_total Image jobs by outcome.\n# TYPE pixd_image_jobs_total counter\n"
           "pixd_image_jobs_total{outcome=\"ran\"} %llu\npixd_image_jobs_total{outcome=\"dropped\"} %llu\n"
           "pixd_image_jobs_total{outcome=\"refused\"} %llu\n",
        (unsigned long long)p.ran, (unsigned long long)p.dropped, (unsigned long long)p.refused);
    family(o, "pixd_image_job_duration_seconds", "histogram", "Time an image job ran on its thread.");
    uint64_t cum = 0;
    for (unsigned b = 0; b < POOL_BUCKETS; b++) {
        cum += p.run_buckets[b];
        put(o, "pixd_image_job_duration_seconds_bucket{le=\"%g\"} %llu\n", (double)pool_bucket_us[b] / 1e6,
            (unsigned long long)cum);
    }
    cum += p.run_buckets[POOL_BUCKETS];
    put(o, "pixd_image_job_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    put(o, "pixd_image_job_duration_seconds_sum %.6f\npixd_image_job_duration_seconds_count %llu\n",
        (double)p.run_us / 1e6, (unsigned long long)cum);
}

static void rest(out_t *o, server_t *srv)
{
    upload_stats_t u;
    upload_stats(srv->upload, &u);
    put(o, "# HELP pixd_uploads_total PUT and DELETE requests by outcome.\n# TYPE pixd_uploads_total counter\n"
           "pixd_uploads_total{outcome=\"stored\"} %llu\npixd_uploads_total{outcome=\"deleted\"} %llu\n"
           "pixd_uploads_total{outcome=\"unauthorized\"} %llu\npixd_uploads_total{outcome=\"rejected\"} %llu\n"
           "pixd_uploads_total{outcome=\"failed\"} %llu\n",
        (unsigned long long)u.stored, (unsigned long long)u.deleted, (unsigned long long)u.unauthorized,
        (unsigned long long)u.rejected, (unsigned long long)u.failed);
    worker_stats_t ws;
    server_worker_stats(srv, &ws);
    gauge(o, "pixd_connections_open", "Client connections open.", ws.conns_open);
    counter(o, "pixd_connections_total", "Client connections accepted.", ws.conns_total);
    gauge(o, "pixd_request_body_bytes", "Request bodies and downloads in memory.",
          __atomic_load_n(&srv->mem_used, __ATOMIC_RELAXED));
    gauge(o, "pixd_start_time_seconds", "When the process started (Unix time).", (uint64_t)srv->started_s);
}

bool metrics_handle(req_t *r)
{
    if (!req_path_is(r, "/metrics"))
        return false;
    if (!req_get_or_head(r))
        return true;
    server_t *srv = r->wk->srv;
    out_t o = {.p = malloc(16384), .cap = 16384};
    o.failed = !o.p;
    requests(&o, srv);
    caches(&o, srv);
    jobs(&o, srv);
    rest(&o, srv);
    if (o.failed) {
        free(o.p);
        req_respond_error(r, 503, "out of memory");
        return true;
    }
    static const char h[] = "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nCache-Control: no-store\r\n";
    req_respond(r, 200, h, sizeof h - 1, o.p, o.len, free, o.p);
    return true;
}

bool health_handle(req_t *r)
{
    if (!req_path_is(r, "/healthz"))
        return false;
    if (!req_get_or_head(r))
        return true;
    static const char h[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
    static const char ok[] = "{\"status\": \"ok\"}\n";
    if (r->wk->draining)
        req_respond_error(r, 503, "shutting down");
    else
        req_respond(r, 200, h, sizeof h - 1, ok, sizeof ok - 1, NULL, NULL);
    return true;
}
