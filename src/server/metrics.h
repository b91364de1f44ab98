/*
 * metrics: GET /metrics in Prometheus' text format (version 0.0.4), and GET /healthz.
 *
 * Each worker counts its own answers in its metrics_t (written by its thread only, read
 * relaxed by the scrape, as /status does): by route (the handler that answered) and status,
 * latency from a complete request head to the answer, and body bytes. The rest (caches, the
 * image queue, uploads, connections) is read from its owner at scrape time.
 */
#ifndef PIXD_SERVER_METRICS_H
#define PIXD_SERVER_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "server/req.h"

#define METRICS_ROUTES (REQ_ROUTE_NONE + 1) /* handler table entries, then "none" */
#define METRICS_BUCKETS 12 /* latency histogram upper bounds: see metrics.c */
#define METRICS_CODES 24   /* the statuses pixd sends, one slot each; the last is "other" */

typedef struct {
    uint64_t requests[METRICS_ROUTES][METRICS_CODES];
    uint64_t latency[METRICS_ROUTES][METRICS_BUCKETS + 1]; /* per bucket, not cumulative; +Inf last */
    uint64_t latency_us[METRICS_ROUTES];
    uint64_t bytes[METRICS_ROUTES];
} metrics_t;

/* One answer: route is req_t.route, ns the time since the request's head was complete. */
void metrics_count(metrics_t *m, unsigned route, int status, uint64_t bytes, uint64_t ns);

bool metrics_handle(req_t *r); /* /metrics */
bool health_handle(req_t *r);  /* /healthz: 200 while serving, 503 once draining */

#endif
