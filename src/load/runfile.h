/*
 * runfile: reads a --json-out document (schema REPORT_SCHEMA, report.h) back into the figures
 * it was written from, exactly: the per-name counts, status and error tallies and latency
 * histograms (bucket by bucket, with their exact count, min, max, sum and clamped), the
 * thread request-rate histogram, the byte counts and the per-second series. `pixload merge`
 * adds such runs up; a run read back and written again gives the same figures.
 *
 * The reader is strict, since a merge must not add up garbage: a document of another schema
 * major version, a missing or mistyped member, a bucket that does not start where a bucket of
 * this pixload's layout starts, counts that do not add up (buckets to the count, error kinds
 * to the failures, failed statuses to the status errors), min/max/sum outside their buckets,
 * or the same request name and method twice are errors naming the member and its line.
 * Members it does not know are ignored (fields may be added within a schema version);
 * "total" and the derived figures (means, percentiles, rates) are recomputed, not read.
 * Parsed with jsmn, as scenario files are.
 */
#ifndef PIXD_LOAD_RUNFILE_H
#define PIXD_LOAD_RUNFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "load/config.h"
#include "load/scenario.h"
#include "load/series.h"
#include "load/stats.h"

#define RUNFILE_MAX_BYTES (1u << 30) /* 1 GiB */

typedef struct {
    const char *host;     /* owned ("" when the document has none) */
    const char *protocol; /* owned: "http/1.1", "h2" or "h2c" */
    double start_wall;
    double duration_s;
    bool interrupted, aborted;
    unsigned streams; /* streams_per_connection (h2), 0 = none */
    /* The options it recorded ("config"): url_str, method and scenario_file are owned, cfg.url
     * points into url_str; thresholds are not kept. */
    load_config_t cfg;
    /* The request names: sc is a view holding only stats and nstats (do not scenario_free it). */
    scenario_t sc;
    stats_t st;
    series_t series;
    char **_strings; /* the owned names and methods */
    size_t _nstrings;
} runfile_t;

/* Parses a document (json[0..len)) into *r. 0, or -1 with "line N: what" in err; *r is then
 * empty (runfile_free is safe either way). */
int runfile_parse(runfile_t *r, const char *json, size_t len, char *err, size_t errlen);
/* Reads and parses the file at path; messages start with the path. */
int runfile_read(runfile_t *r, const char *path, char *err, size_t errlen);
void runfile_free(runfile_t *r);

#endif
