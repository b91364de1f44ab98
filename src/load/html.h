/*
 * html: --html FILE, one self-contained page for people (pixload runs and merges): the run's
 * key figures, the thresholds' verdicts, four charts drawn as inline SVG by this code
 * (requests/s, p50/p95/p99 and failures over time, from the per-second series; the latency
 * histogram, from the run's buckets), the per-name table and, for a merge, the runs merged.
 * No script runs and nothing is fetched: the page opens offline. The JSON document
 * (report_json_write) is embedded too, in <script type="application/json" id="pixload-data">,
 * so the figures shown can be checked against it and reused.
 *
 * Elements a test (or a script) can find: #figures dd[data-value] (the key figures, raw: µs,
 * counts, requests/s), #thresholds tr[data-pass], svg.chart with data-points (one per second)
 * and one polyline per line drawn, #chart-histogram rect.bar[data-count], #names tr[data-name].
 */
#ifndef PIXD_LOAD_HTML_H
#define PIXD_LOAD_HTML_H

#include <stddef.h>
#include <stdio.h>

#include "load/report.h"

/* Writes the page to path. 0, or -1 with a message in err. */
int report_html(const report_t *r, const char *path, char *err, size_t errlen);
/* The page into f. 0, or -1 when out of memory. */
int report_html_write(FILE *f, const report_t *r);

#endif
