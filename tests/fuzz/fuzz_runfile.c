/* runfile_parse (the --json-out reader behind `pixload merge`) on arbitrary bytes, in an exactly
 * sized heap copy. Checked beyond the sanitizers:
 *   - a refused document says why;
 *   - an accepted one obeys stats.h's counting rules: per name, failures <= requests, the error
 *     kinds add up to the failures and the failed statuses to the status errors, each
 *     histogram's buckets to its count with min <= max inside the first and last buckets;
 *     every name has a method; the series is in time order;
 *   - written again (report_json_write) and read back, it gives the same figures, bit for bit
 *     (counts, histograms, bytes, series, names, start and duration);
 *   - merged with itself (merge_runs), every count doubles and the histograms stay exact. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/merge.h"
#include "load/report.h"
#include "load/runfile.h"
#include "fuzz_check.h"

static void check_hist(const hist_t *h)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        total += h->buckets[i];
    CHECK(total == h->count);
    if (h->count) CHECK(h->min <= h->max && h->max <= HIST_MAX && h->clamped <= h->count);
}

static void check_run(const runfile_t *r)
{
    CHECK(r->sc.nstats == r->st.n && r->host && r->protocol && r->cfg.url_str);
    for (size_t i = 0; i < r->st.n; i++) {
        const stats_entry_t *e = &r->st.entries[i];
        CHECK(r->sc.stats[i].name && r->sc.stats[i].method && *r->sc.stats[i].method);
        uint64_t kinds = 0;
        for (int k = 0; k < STATS_ERR_KINDS; k++)
            kinds += e->errors[k];
        CHECK(e->failures <= e->requests && kinds == e->failures && e->latency.count <= e->requests);
        uint64_t failed = 0;
        for (unsigned s = 0; s < STATS_STATUS_SLOTS; s++)
            failed += e->status_failed[s];
        CHECK(failed == e->errors[STATS_ERR_STATUS]);
        check_hist(&e->latency);
    }
    check_hist(&r->st.req_rate);
    for (size_t i = 1; i < r->series.n; i++)
        CHECK(r->series.p[i].t >= r->series.p[i - 1].t);
}

static void same_runs(const runfile_t *a, const runfile_t *b)
{
    CHECK(a->st.n == b->st.n);
    for (size_t i = 0; i < a->st.n; i++) {
        CHECK(memcmp(&a->st.entries[i], &b->st.entries[i], sizeof a->st.entries[i]) == 0);
        CHECK(!strcmp(a->sc.stats[i].name, b->sc.stats[i].name));
        CHECK(!strcmp(a->sc.stats[i].method, b->sc.stats[i].method));
    }
    CHECK(memcmp(&a->st.req_rate, &b->st.req_rate, sizeof a->st.req_rate) == 0);
    CHECK(a->st.bytes_read == b->st.bytes_read && a->st.bytes_written == b->st.bytes_written &&
          a->st.connects == b->st.connects);
    CHECK(a->start_wall == b->start_wall && a->duration_s == b->duration_s);
    CHECK(!strcmp(a->protocol, b->protocol) && !strcmp(a->host, b->host));
    CHECK(!strcmp(a->cfg.url_str, b->cfg.url_str));
    CHECK(a->series.n == b->series.n);
    for (size_t i = 0; i < a->series.n; i++) {
        const series_point_t *p = &a->series.p[i], *q = &b->series.p[i];
        CHECK(p->t == q->t && p->dt == q->dt && p->requests == q->requests && p->failures == q->failures &&
              p->users == q->users && p->nbuckets == q->nbuckets);
        for (size_t k = 0; k < p->nbuckets; k++)
            CHECK(p->buckets[k].index == q->buckets[k].index && p->buckets[k].count == q->buckets[k].count);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size ? size : 1);
    memcpy(json, data, size);
    char err[512];
    runfile_t r;
    err[0] = '\0';
    if (runfile_parse(&r, json, size, err, sizeof err) != 0) {
        CHECK(err[0] != '\0');
        runfile_free(&r);
        free(json);
        return 0;
    }
    check_run(&r);

    /* written again and read back */
    report_t rep = {.cfg = &r.cfg, .sc = &r.sc, .st = &r.st, .start_wall = r.start_wall, .duration_s = r.duration_s,
                    .interrupted = r.interrupted, .protocol = r.protocol, .streams = r.streams, .host = r.host,
                    .series = &r.series};
    char *doc = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&doc, &len);
    CHECK(m && report_json_write(m, &rep) == 0);
    fclose(m);
    runfile_t back;
    if (runfile_parse(&back, doc, len, err, sizeof err) != 0) {
        fprintf(stderr, "written again, refused: %s\n", err);
        CHECK(0);
    }
    same_runs(&r, &back);

    /* merged with itself */
    runfile_t two[2] = {r, back};
    merged_t mg;
    CHECK(merge_runs(&mg, two, 2, NULL, err, sizeof err) == 0);
    CHECK(mg.sc.nstats == r.sc.nstats);
    for (size_t i = 0; i < r.st.n; i++) {
        const stats_entry_t *a = &r.st.entries[i], *b = &mg.st.entries[i];
        CHECK(b->requests == 2 * a->requests && b->failures == 2 * a->failures &&
              b->latency.count == 2 * a->latency.count && b->latency.sum == 2 * a->latency.sum);
        if (a->latency.count) CHECK(b->latency.min == a->latency.min && b->latency.max == a->latency.max);
    }
    merged_free(&mg);
    runfile_free(&back);
    free(doc);
    runfile_free(&r);
    free(json);
    return 0;
}
