#include "load/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/errmsg.h"
#include "load/html.h"

void merged_free(merged_t *m)
{
    stats_free(&m->st);
    series_free(&m->series);
    free(m->sc.stats);
    free(m->sources);
    free(m->hosts);
    memset(m, 0, sizeof *m);
}

/* The merged slot of (name, method), added when new. -1 when out of memory. */
static long slot_of(merged_t *m, const scenario_stat_t *s, size_t *cap)
{
    for (size_t i = 0; i < m->sc.nstats; i++)
        if (!strcmp(m->sc.stats[i].name, s->name) && !strcmp(m->sc.stats[i].method, s->method))
            return (long)i;
    if (m->sc.nstats == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        scenario_stat_t *v = realloc(m->sc.stats, nc * sizeof *v);
        if (!v) return -1;
        m->sc.stats = v;
        *cap = nc;
    }
    m->sc.stats[m->sc.nstats] = *s;
    return (long)m->sc.nstats++;
}

static int add_host(merged_t *m, const char *host)
{
    if (!host || !*host) return 0;
    size_t have = m->hosts ? strlen(m->hosts) : 0, n = strlen(host);
    if (m->hosts) { /* already listed? */
        for (const char *p = m->hosts; (p = strstr(p, host)) != NULL; p += n)
            if ((p == m->hosts || (p >= m->hosts + 2 && p[-2] == ',')) && (p[n] == '\0' || p[n] == ','))
                return 0;
    }
    char *h = realloc(m->hosts, have + n + 3);
    if (!h) return -1;
    if (have) memcpy(h + have, ", ", 2), have += 2;
    memcpy(h + have, host, n + 1);
    m->hosts = h;
    return 0;
}

int merge_runs(merged_t *m, const runfile_t *runs, size_t n, const char *const *files, char *err,
               size_t errlen)
{
    memset(m, 0, sizeof *m);
    series_init(&m->series);
    if (!n) return errmsg_set(err, errlen, "no runs to merge");
    for (size_t i = 1; i < n; i++)
        if (strcmp(runs[i].protocol, runs[0].protocol) != 0)
            return errmsg_set(err, errlen,
                              "%s spoke %s and %s spoke %s: runs of different protocols do not add up",
                              files ? files[0] : "run 1", runs[0].protocol, files ? files[i] : "another run",
                              runs[i].protocol);
    /* The names, in order of first appearance; then each run's slots added into theirs. */
    size_t cap = 0;
    size_t **map = calloc(n, sizeof *map);
    if (!map) return errmsg_set(err, errlen, "out of memory");
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        if (!(map[i] = calloc(runs[i].sc.nstats ? runs[i].sc.nstats : 1, sizeof **map))) goto oom;
        for (size_t j = 0; j < runs[i].sc.nstats; j++) {
            long k = slot_of(m, &runs[i].sc.stats[j], &cap);
            if (k < 0) goto oom;
            map[i][j] = (size_t)k;
        }
    }
    if (stats_init(&m->st, m->sc.nstats) < 0) goto oom;
    if (!(m->sources = calloc(n, sizeof *m->sources))) goto oom;
    m->nsources = n;
    m->cfg = runs[0].cfg;
    m->cfg.threads = m->cfg.connections = 0;
    m->cfg.rate = m->cfg.spawn_rate = 0;
    m->cfg.requests = m->cfg.duration_ms = 0;
    m->cfg.abort_on_fail = false;
    m->cfg.thresholds = NULL;
    m->cfg.nthresholds = 0;
    m->protocol = runs[0].protocol;
    double end = 0;
    m->start_wall = runs[0].start_wall;
    for (size_t i = 0; i < n; i++) {
        const runfile_t *r = &runs[i];
        for (size_t j = 0; j < r->sc.nstats; j++)
            stats_entry_merge(&m->st.entries[map[i][j]], &r->st.entries[j]);
        m->st.bytes_read += r->st.bytes_read;
        m->st.bytes_written += r->st.bytes_written;
        m->st.connects += r->st.connects;
        hist_merge(&m->st.req_rate, &r->st.req_rate);
        if (series_merge(&m->series, &r->series) < 0) goto oom;
        if (r->start_wall < m->start_wall) m->start_wall = r->start_wall;
        if (r->start_wall + r->duration_s > end) end = r->start_wall + r->duration_s;
        m->interrupted |= r->interrupted || r->aborted;
        if (r->streams && (!m->streams || r->streams < m->streams)) m->streams = r->streams;
        const load_config_t *c = &r->cfg;
        m->cfg.threads += c->threads;
        m->cfg.connections += c->connections;
        m->cfg.rate += c->rate;
        m->cfg.spawn_rate += c->spawn_rate;
        m->cfg.requests += c->requests;
        m->cfg.users_mode |= c->users_mode;
        if (c->duration_ms > m->cfg.duration_ms) m->cfg.duration_ms = c->duration_ms;
        if (c->start_at != runs[0].cfg.start_at) m->cfg.start_at = 0;
        if (strcmp(c->url_str, runs[0].cfg.url_str) != 0) m->urls_differ = true;
        if (add_host(m, r->host) < 0) goto oom;
        uint64_t reqs = 0;
        for (size_t j = 0; j < r->sc.nstats; j++)
            reqs += r->st.entries[j].requests;
        m->sources[i] = (report_source_t){.file = files ? files[i] : NULL,
                                          .host = r->host,
                                          .start_wall = r->start_wall,
                                          .duration_s = r->duration_s,
                                          .requests = reqs};
    }
    m->duration_s = end - m->start_wall;
    rc = 0;
    goto out;
oom:
    errmsg_set(err, errlen, "out of memory");
out:
    for (size_t i = 0; i < n; i++)
        free(map[i]);
    free(map);
    if (rc < 0) merged_free(m);
    return rc;
}

/* ---------------------------------------------------------------- the command */

static const char merge_usage[] =
    "Usage: pixload merge A.json B.json ... [options]\n"
    "\n"
    "Adds up runs made at the same time (e.g. on several machines started with --start-at),\n"
    "from their --json-out files: counts add, latency histograms merge bucket by bucket, the\n"
    "per-second series merge by wall-clock second. Prints the summary of the merged run.\n"
    "\n"
    "      --csv PREFIX        write the locust CSV set of the merged run\n"
    "      --html FILE         write the HTML report of the merged run\n"
    "      --json-out FILE     write the merged run's JSON (it can be merged again)\n"
    "      --threshold EXPR    judge the merged run (repeatable; as pixload --threshold)\n"
    "  -q, --quiet             no list of the runs merged (the summary is still printed)\n"
    "  -h, --help              this text\n"
    "\n"
    "Exit status: 0, 99 when a threshold failed, 2 for bad arguments or a file that is not\n"
    "a pixload/1 document, 1 when an output could not be written.\n";

typedef struct {
    const char **files;
    size_t nfiles;
    const char *csv, *html, *json;
    threshold_t *thresholds;
    size_t nthresholds;
    bool quiet, help;
} merge_opts_t;

static int parse_args(merge_opts_t *o, int argc, char **argv, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->files = calloc((size_t)argc, sizeof *o->files);
    o->thresholds = calloc((size_t)argc, sizeof *o->thresholds);
    if (!o->files || !o->thresholds) return errmsg_set(err, errlen, "out of memory");
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_files || a[0] != '-' || a[1] == '\0') {
            o->files[o->nfiles++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_files = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = true;
            return 0;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = true;
            continue;
        }
        static const char *const with_value[] = {"--csv", "--html", "--json-out", "--threshold"};
        const char *arg = NULL, *name = NULL;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value && !name; k++) {
            size_t len = strlen(with_value[k]);
            if (!strncmp(a, with_value[k], len) && (a[len] == '\0' || a[len] == '=')) {
                name = with_value[k];
                if (a[len] == '=')
                    arg = a + len + 1;
                else if (i + 1 < argc)
                    arg = argv[++i];
                else
                    return errmsg_set(err, errlen, "%s needs a value", name);
            }
        }
        if (!name) return errmsg_set(err, errlen, "unknown option '%s'", a);
        if (!*arg && strcmp(name, "--threshold") != 0)
            return errmsg_set(err, errlen, "%s: empty value", name);
        if (!strcmp(name, "--csv")) {
            o->csv = arg;
        } else if (!strcmp(name, "--html")) {
            o->html = arg;
        } else if (!strcmp(name, "--json-out")) {
            o->json = arg;
        } else {
            char why[256];
            if (threshold_parse(&o->thresholds[o->nthresholds], arg, why, sizeof why) < 0)
                return errmsg_set(err, errlen, "--threshold '%s': %s", arg, why);
            o->nthresholds++;
        }
    }
    if (!o->nfiles)
        return errmsg_set(err, errlen, "no files to merge (usage: pixload merge A.json B.json ...)");
    return 0;
}

/* The merged run's history rows, one per point of its series, as the run's would be. */
static int write_csv(const merged_t *m, const report_t *r, const char *prefix, char *err, size_t errlen)
{
    report_csv_t *c = report_csv_open(prefix, false, &m->sc, m->start_wall, err, errlen);
    if (!c) return -1;
    stats_t cum;
    if (stats_init(&cum, m->sc.nstats ? m->sc.nstats : 1) < 0) {
        report_csv_finish(c, r, err, errlen);
        return errmsg_set(err, errlen, "out of memory");
    }
    cum.n = m->sc.nstats;
    for (size_t i = 0; i < m->series.n && m->sc.nstats; i++) {
        const series_point_t *p = &m->series.p[i];
        stats_entry_t *e = &cum.entries[0];
        e->requests += p->requests;
        e->failures += p->failures;
        e->content_bytes += p->content_bytes;
        for (size_t b = 0; b < p->nbuckets; b++)
            if (p->buckets[b].index < HIST_BUCKETS)
                hist_add_bucket(&e->latency, p->buckets[b].index, p->buckets[b].count);
        report_csv_history(c, &cum, p->t, p->users, p->target);
    }
    cum.n = m->sc.nstats ? m->sc.nstats : 1;
    stats_free(&cum);
    return report_csv_finish(c, r, err, errlen);
}

int merge_main(int argc, char **argv)
{
    char err[600];
    merge_opts_t o;
    int rc = 0;
    if (parse_args(&o, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "pixload merge: %s (see pixload merge --help)\n", err);
        free(o.files);
        free(o.thresholds);
        return 2;
    }
    if (o.help) {
        fputs(merge_usage, stdout);
        free(o.files);
        free(o.thresholds);
        return 0;
    }
    runfile_t *runs = calloc(o.nfiles, sizeof *runs);
    merged_t m = {0};
    threshold_result_t *results = calloc(o.nthresholds ? o.nthresholds : 1, sizeof *results);
    const char **names = NULL;
    if (!runs || !results) {
        fprintf(stderr, "pixload merge: out of memory\n");
        return 1;
    }
    size_t nread = 0;
    for (; nread < o.nfiles; nread++) {
        if (runfile_read(&runs[nread], o.files[nread], err, sizeof err) < 0) {
            fprintf(stderr, "pixload merge: %s\n", err);
            rc = 2;
            goto out;
        }
    }
    if (merge_runs(&m, runs, o.nfiles, o.files, err, sizeof err) < 0) {
        fprintf(stderr, "pixload merge: %s\n", err);
        rc = 2;
        goto out;
    }
    if (!(names = calloc(m.sc.nstats ? m.sc.nstats : 1, sizeof *names))) {
        fprintf(stderr, "pixload merge: out of memory\n");
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < m.sc.nstats; i++)
        names[i] = m.sc.stats[i].name;
    if (threshold_check_names(o.thresholds, o.nthresholds, names, m.sc.nstats, err, sizeof err) < 0) {
        fprintf(stderr, "pixload merge: %s\n", err);
        rc = 2;
        goto out;
    }
    if (threshold_eval_all(o.thresholds, o.nthresholds, &m.st, names, m.duration_s, results) < 0) {
        fprintf(stderr, "pixload merge: out of memory\n");
        rc = 1;
        goto out;
    }
    m.cfg.thresholds = o.thresholds;
    m.cfg.nthresholds = o.nthresholds;
    report_t r = {.cfg = &m.cfg,
                  .sc = &m.sc,
                  .st = &m.st,
                  .start_wall = m.start_wall,
                  .duration_s = m.duration_s,
                  .interrupted = m.interrupted,
                  .protocol = m.protocol,
                  .streams = m.streams,
                  .host = m.hosts ? m.hosts : "",
                  .series = &m.series,
                  .thresholds = o.thresholds,
                  .threshold_results = results,
                  .nthresholds = o.nthresholds,
                  .sources = m.sources,
                  .nsources = m.nsources};
    if (!o.quiet) {
        printf("Merged %zu run%s of %s (%s):\n", o.nfiles, o.nfiles == 1 ? "" : "s", m.cfg.url_str,
               m.protocol);
        for (size_t i = 0; i < m.nsources; i++) {
            char iso[40];
            report_iso_time(iso, sizeof iso, m.sources[i].start_wall);
            printf("  %s: host %s, started %s, %.2fs, %llu requests\n", m.sources[i].file,
                   *m.sources[i].host ? m.sources[i].host : "?", iso, m.sources[i].duration_s,
                   (unsigned long long)m.sources[i].requests);
        }
        if (m.urls_differ) printf("  (the runs loaded different URLs: the first one's is shown)\n");
    }
    report_text(stdout, &r);
    fflush(stdout);
    if (o.csv && write_csv(&m, &r, o.csv, err, sizeof err) != 0) {
        fprintf(stderr, "pixload merge: %s\n", err);
        rc = 1;
    }
    if (o.json && report_json(&r, o.json, err, sizeof err) != 0) {
        fprintf(stderr, "pixload merge: %s\n", err);
        rc = 1;
    }
    if (o.html && report_html(&r, o.html, err, sizeof err) != 0) {
        fprintf(stderr, "pixload merge: %s\n", err);
        rc = 1;
    }
    if (rc == 0 && !report_thresholds_passed(&r)) rc = THRESHOLD_EXIT_FAILED;
out:
    merged_free(&m);
    for (size_t i = 0; i < nread; i++)
        runfile_free(&runs[i]);
    free(runs);
    free(results);
    free(names);
    free(o.files);
    free(o.thresholds);
    return rc;
}
