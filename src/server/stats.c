/* stats: GET /status, the process's counters as JSON. */
#include "server/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "server/avatar.h"
#include "server/pool.h"
#include "server/server.h"

bool stats_handle(req_t *r)
{
    if (!req_path_is(r, "/status"))
        return false;
    if (!req_get_or_head(r))
        return true;
    server_t *srv = r->wk->srv;
    worker_stats_t ws;
    server_worker_stats(srv, &ws);
    avatar_stats_t as;
    avatar_store_stats(srv->avatars, &as);
    pool_stats_t ps;
    pool_stats(srv->pool, &ps);
    enum { STATUS_MAX = 1024 };
    char *body = malloc(STATUS_MAX); /* outlives this frame: freed once sent */
    if (!body) {
        req_respond_error(r, 503, "out of memory");
        return true;
    }
    int n = snprintf(body, STATUS_MAX,
                     "{\"version\": \"%s\", \"uptime_s\": %lld, \"threads\": %d, "
                     "\"connections\": {\"open\": %llu, \"total\": %llu}, \"requests\": %llu, "
                     "\"cache\": {\"hits\": %llu, \"misses\": %llu, \"entries\": %llu, \"bytes\": %llu, "
                     "\"large_entries\": %llu, \"large_bytes\": %llu, \"slow_loads\": %llu}, "
                     "\"memory\": {\"read_buffers\": %llu, \"bodies\": %llu, \"bodies_max\": %llu}, "
                     "\"jobs\": {\"queued\": %llu, \"running\": %llu, \"done\": %llu, \"dropped\": %llu, "
                     "\"refused\": %llu}}\n",
                     PIXD_VERSION, (long long)(time(NULL) - srv->started_s), srv->nworkers,
                     (unsigned long long)ws.conns_open, (unsigned long long)ws.conns_total, (unsigned long long)ws.requests,
                     (unsigned long long)as.hits, (unsigned long long)as.misses,
                     (unsigned long long)as.entries, (unsigned long long)as.bytes,
                     (unsigned long long)as.large_entries, (unsigned long long)as.large_bytes,
                     (unsigned long long)as.slow_loads, (unsigned long long)ws.buf_bytes,
                     (unsigned long long)__atomic_load_n(&srv->mem_used, __ATOMIC_RELAXED),
                     (unsigned long long)srv->cfg.max_body_memory, (unsigned long long)ps.queued,
                     (unsigned long long)ps.running, (unsigned long long)ps.ran, (unsigned long long)ps.dropped,
                     (unsigned long long)ps.refused);
    if (n < 0 || n >= STATUS_MAX) {
        free(body);
        req_respond_error(r, 500, "status too long");
        return true;
    }
    static const char h[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
    req_respond(r, 200, h, sizeof h - 1, body, (size_t)n, free, body);
    return true;
}

