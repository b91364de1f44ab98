/*
 * merge: `pixload merge A.json B.json ... [--csv PREFIX] [--html FILE] [--json-out FILE]
 * [--threshold EXPR ...] [-q]`: adds up runs made at the same time (on several machines,
 * started together with --start-at) into one, as if one generator had made them all.
 *
 * Counts add (requests, failures, error kinds, statuses, bytes, connections); latency
 * histograms merge bucket by bucket (hist_merge), so the merged percentiles are those of all
 * the runs' requests together, to the histogram's resolution (0.79 %), and count, min, max,
 * mean and sum stay exact; request names are matched by name and method; the per-second series
 * merge by wall-clock second (series.h). The merged run starts at the earliest start and ends
 * at the latest end; its connections, threads and rates are the runs' sums. Thresholds are
 * judged on the merge. The outputs are the run's: the text summary, the locust CSV set (the
 * history from the merged series), the JSON document (which can be merged again) and the HTML
 * report.
 *
 * Exit status: 0, 99 when a threshold failed, 2 for bad arguments or a file that is not a
 * pixload/1 document (or runs that cannot be added: different protocols), 1 when an output
 * could not be written.
 */
#ifndef PIXD_LOAD_MERGE_H
#define PIXD_LOAD_MERGE_H

#include <stdbool.h>
#include <stddef.h>

#include "load/report.h"
#include "load/runfile.h"

typedef struct {
    load_config_t cfg; /* the runs' options together; strings point into the first run */
    scenario_t sc;     /* a view: stats (owned array; names point into the runs) and nstats */
    stats_t st;
    series_t series;
    double start_wall, duration_s;
    bool interrupted; /* one of the runs was interrupted or aborted */
    const char *protocol;
    unsigned streams;
    report_source_t *sources; /* owned array, one per run */
    size_t nsources;
    char *hosts;      /* the distinct hosts, ", "-separated (owned) */
    bool urls_differ; /* the runs did not all load the same URL (the first one's is kept) */
} merged_t;

/* Adds runs[0..n) (n >= 1) into *m; files[i] names runs[i] in the sources (NULL: none). The
 * runs must outlive m. 0, or -1 with a message in err (runs that spoke different protocols,
 * or out of memory). */
int merge_runs(merged_t *m, const runfile_t *runs, size_t n, const char *const *files, char *err, size_t errlen);
void merged_free(merged_t *m);

/* The `pixload merge` command: argv[0] is "merge". Returns the exit status. */
int merge_main(int argc, char **argv);

#endif
