/* pixload: flags, scenario, run, report. Ctrl-C ends the run early and still reports.
 * `pixload merge ...` adds up the JSON documents of runs instead (merge.h). */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "load/config.h"
#include "load/engine.h"
#include "load/html.h"
#include "load/latlog.h"
#include "load/maxrate.h"
#include "load/merge.h"
#include "load/report.h"
#include "load/scenario.h"

#define POLL_MS 20

static double wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* The live line: the last second's rate and percentiles, from two snapshots. */
static void live_line(const stats_entry_t *now, const stats_entry_t *prev, double elapsed, unsigned users,
                      double target, const char *unit)
{
    static hist_t window;
    hist_sub(&window, &now->latency, &prev->latency);
    report_live_t l = {
        .elapsed_s = elapsed,
        .users = users,
        .requests = now->requests,
        .failures = now->failures,
        .rps = (double)(now->requests - prev->requests),
        .p50_us = hist_percentile(&window, 50),
        .p99_us = hist_percentile(&window, 99),
        .target = target,
        .target_unit = isnan(target) ? NULL : unit,
    };
    char line[256];
    report_status_line(line, sizeof line, &l);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
}

/* The offered rate at a moment of the run, for the series (0: closed loop): the engine's
 * target, which follows a rate plan. */
static double current_target(const engine_t *e, double elapsed_s)
{
    const char *unit = NULL;
    double t = engine_target(e, elapsed_s, &unit);
    return !isnan(t) && strcmp(unit, "req/s") == 0 ? t : 0;
}

/* --start-at: sleeps until the time, taking Ctrl-C. 0, or -1 when interrupted. */
static int wait_until(double at, const sigset_t *set)
{
    for (;;) {
        double left = at - wall_now();
        if (left <= 0) return 0;
        struct timespec ts = {.tv_sec = (time_t)left, .tv_nsec = (long)((left - (double)(time_t)left) * 1e9)};
        if (ts.tv_sec > 0) { /* wake each second, then aim at the exact time */
            ts.tv_sec = 1;
            ts.tv_nsec = 0;
        }
        if (sigtimedwait(set, NULL, &ts) > 0) return -1;
    }
}

/* The CPUs this process may run on (taskset, cgroup cpusets), for one thread per core. */
static unsigned cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* An early exit after the CSV files were opened: they are closed with what they have (headers). */
static void drop_csv(report_csv_t *csv, const load_config_t *cfg, const scenario_t *sc)
{
    char err[256];
    stats_t none;
    if (!csv || stats_init(&none, sc->nstats) != 0)
        return;
    report_csv_finish(csv, &(report_t){.cfg = cfg, .sc = sc, .st = &none}, err, sizeof err);
    stats_free(&none);
}

static int run(load_config_t *cfg, scenario_t *sc, const char **names);

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "merge") == 0)
        return merge_main(argc - 1, argv + 1);
    char err[512];
    load_config_t cfg;
    switch (load_config_parse(&cfg, argc, argv, cpus_available(), err, sizeof err)) {
    case LOAD_CONFIG_HELP:
        fputs(load_config_usage(), stdout);
        return 0;
    case LOAD_CONFIG_VERSION:
        printf("pixload %s\n", PIXD_VERSION);
        return 0;
    case LOAD_CONFIG_ERROR:
        fprintf(stderr, "pixload: %s (see --help)\n", err);
        load_config_free(&cfg);
        return 2;
    case LOAD_CONFIG_RUN:
        break;
    }
    scenario_t sc;
    if (scenario_build(&sc, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "pixload: %s\n", err);
        load_config_free(&cfg);
        return 2;
    }
    const char **names = calloc(sc.nstats ? sc.nstats : 1, sizeof *names);
    int rc = 1;
    if (!names) {
        fprintf(stderr, "pixload: out of memory\n");
    } else {
        for (size_t i = 0; i < sc.nstats; i++)
            names[i] = sc.stats[i].name;
        rc = run(&cfg, &sc, names);
    }
    free(names);
    scenario_free(&sc);
    load_config_free(&cfg);
    return rc;
}

/* The run, from the built scenario on: its exit status. */
static int run(load_config_t *cfgp, scenario_t *scp, const char **names)
{
    load_config_t cfg = *cfgp; /* read-only from here: main frees the original */
    const scenario_t sc = *scp;
    char err[512];
    if (threshold_check_names(cfg.thresholds, cfg.nthresholds, names, sc.nstats, err, sizeof err) != 0) {
        fprintf(stderr, "pixload: %s\n", err);
        return 2;
    }
    char hostport[300];
    snprintf(hostport, sizeof hostport, strchr(sc.host, ':') ? "[%s]:%u" : "%s:%u", sc.host, sc.port);
    sock_addr_t addr;
    if (sock_resolve(hostport, &addr, err, sizeof err) != 0) {
        fprintf(stderr, "pixload: %s\n", err);
        return 2;
    }
    if (cfg.find_max_rate) {
        signal(SIGPIPE, SIG_IGN);
        return maxrate_run(&cfg, &sc, &addr, stdout);
    }
    if (cfg.start_at > 0 && cfg.start_at <= wall_now()) {
        char iso[40];
        report_iso_time(iso, sizeof iso, cfg.start_at);
        fprintf(stderr, "pixload: --start-at %s: that time has passed (%.1fs ago)\n", iso,
                wall_now() - cfg.start_at);
        return 2;
    }

    latlog_t *log = NULL;
    if (cfg.latency_log && !(log = latlog_open(cfg.latency_log, names, sc.nstats, err, sizeof err))) {
        fprintf(stderr, "pixload: %s\n", err);
        return 2;
    }
    report_csv_t *csv = NULL;
    if (cfg.csv_prefix &&
        !(csv = report_csv_open(cfg.csv_prefix, cfg.csv_full_history, &sc,
                                cfg.start_at > 0 ? cfg.start_at : wall_now(), err, sizeof err))) {
        fprintf(stderr, "pixload: %s\n", err);
        if (log) latlog_close(log, err, sizeof err);
        return 2;
    }
    if (csv && (cfg.rate_plan.staged || cfg.users_plan.n) &&
        report_csv_add_target(csv, cfg.rate > 0 ? "Target Requests/s" : "Target User Count") != 0) {
        fprintf(stderr, "pixload: cannot write %s_stats_history.csv: %s\n", cfg.csv_prefix, strerror(errno));
        drop_csv(csv, &cfg, &sc);
        if (log) latlog_close(log, err, sizeof err);
        return 2;
    }

    /* Ctrl-C and SIGTERM are taken synchronously by this thread, once a second at most late. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!cfg.quiet) {
        report_banner(stdout, &cfg);
        report_banner_bodies(stdout, &cfg, &sc);
        if (cfg.start_at > 0) {
            char iso[40];
            report_iso_time(iso, sizeof iso, cfg.start_at);
            printf("  starting at %s (--start-at), in %.1fs\n", iso, cfg.start_at - wall_now());
        }
    }
    fflush(stdout);
    if (cfg.start_at > 0 && wait_until(cfg.start_at, &set) != 0) {
        fprintf(stderr, "pixload: interrupted before --start-at: no load was sent\n");
        drop_csv(csv, &cfg, &sc);
        if (log) latlog_close(log, err, sizeof err);
        return 1;
    }
    engine_t *e = engine_start_logged(&cfg, &sc, &addr, log, err, sizeof err);
    if (!e) {
        fprintf(stderr, "pixload: %s\n", err);
        drop_csv(csv, &cfg, &sc);
        return 1;
    }
    double start_wall = engine_start_wall(e);
    bool live = !cfg.quiet && isatty(STDERR_FILENO);
    stats_t now;
    stats_entry_t *agg_now = malloc(sizeof *agg_now), *agg_prev = malloc(sizeof *agg_prev);
    threshold_result_t *results = calloc(cfg.nthresholds ? cfg.nthresholds : 1, sizeof *results);
    if (!agg_now || !agg_prev || !results || stats_init(&now, sc.nstats)) {
        fprintf(stderr, "pixload: out of memory\n");
        return 1;
    }
    memset(agg_prev, 0, sizeof *agg_prev);
    hist_reset(&agg_prev->latency);
    series_t series;
    series_init(&series);
    bool keep_series = cfg.json_out || cfg.html_out;
    bool snapshots = csv || live || keep_series || cfg.abort_on_fail;
    /* Wakes every POLL_MS to take Ctrl-C promptly, and at each whole second of the run for
     * the history row, the live line, the series and the running thresholds. */
    bool interrupted = false, aborted = false;
    const char *abort_expr = NULL;
    double aborted_at = 0;
    unsigned sec = 1, last_sec = 0, users = 0;
    engine_event_t ev;
    while ((ev = engine_wait(e, sec, POLL_MS)) != ENGINE_ENDED) {
        struct timespec zero = {0, 0};
        if (!interrupted && !aborted && sigtimedwait(&set, NULL, &zero) > 0) {
            interrupted = true;
            engine_stop(e);
        }
        if (ev != ENGINE_SECOND)
            continue;
        sec++;
        if (interrupted || aborted || !snapshots)
            continue; /* the summary follows as soon as the threads have stopped */
        unsigned elapsed = sec - 1;
        users = engine_snapshot(e, &now);
        const char *unit = NULL;
        double target = engine_target(e, elapsed, &unit);
        if (csv && report_csv_history(csv, &now, wall_now(), users, target) != 0)
            fprintf(stderr, "pixload: cannot write %s_stats_history.csv: %s\n", cfg.csv_prefix,
                    strerror(errno));
        stats_aggregate(&now, agg_now);
        if (live)
            live_line(agg_now, agg_prev, wall_now() - start_wall, users, target, unit);
        if (keep_series &&
            series_add_window(&series, start_wall + elapsed, elapsed - last_sec, agg_now, agg_prev, users,
                              current_target(e, elapsed)) != 0)
            fprintf(stderr, "pixload: out of memory for the per-second series\n");
        last_sec = elapsed;
        memcpy(agg_prev, agg_now, sizeof *agg_now);
        if (cfg.abort_on_fail && (uint64_t)elapsed * 1000 >= cfg.abort_delay_ms &&
            threshold_eval_all(cfg.thresholds, cfg.nthresholds, &now, names, elapsed, results) > 0) {
            for (size_t i = 0; i < cfg.nthresholds; i++) {
                if (results[i].pass || !threshold_final_on_failure(&cfg.thresholds[i])) continue;
                aborted = true;
                aborted_at = elapsed;
                abort_expr = cfg.thresholds[i].expr;
                if (live)
                    fputs("\r\033[K", stderr);
                fprintf(stderr, "pixload: threshold '%s' failed after %us: stopping (--abort-on-fail)\n",
                        abort_expr, elapsed);
                engine_stop(e);
                break;
            }
        }
    }
    if (live)
        fputs("\r\033[K", stderr);

    double secs = engine_result(e, &now);
    int rc = 0;
    if (log && latlog_close(log, err, sizeof err) != 0) {
        fprintf(stderr, "pixload: %s\n", err);
        rc = 1;
    }
    const char *fatal = engine_error(e);
    if (fatal) { /* --h2 and the server does not speak HTTP/2: nothing to report */
        fprintf(stderr, "pixload: %s\n", fatal);
        if (csv)
            report_csv_finish(csv, &(report_t){.cfg = &cfg, .sc = &sc, .st = &now}, err, sizeof err);
        engine_free(e);
        stats_free(&now);
        series_free(&series);
        free(agg_now);
        free(agg_prev);
        free(results);
        return 1;
    }
    /* The rest after the last whole second: its own point, or part of the last one when short. */
    if (keep_series) {
        stats_aggregate(&now, agg_now);
        double rest = secs - last_sec;
        int r = rest < 0.25 && series.n
                    ? series_extend_last(&series, start_wall + secs, rest, agg_now, agg_prev, users,
                                         current_target(e, secs))
                    : series_add_window(&series, start_wall + secs, rest > 0 ? rest : 0, agg_now, agg_prev, users,
                                        current_target(e, secs));
        if (r != 0) fprintf(stderr, "pixload: out of memory for the per-second series\n");
    }
    if (threshold_eval_all(cfg.thresholds, cfg.nthresholds, &now, names, secs, results) < 0) {
        fprintf(stderr, "pixload: out of memory\n");
        return 1;
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    report_t r = {.cfg = &cfg, .sc = &sc, .st = &now, .start_wall = start_wall, .duration_s = secs,
                  .interrupted = interrupted, .protocol = report_protocol(&cfg),
                  .streams = engine_h2_streams(e), .host = host, .series = &series,
                  .thresholds = cfg.thresholds, .threshold_results = results, .nthresholds = cfg.nthresholds,
                  .aborted = aborted, .aborted_at_s = aborted_at, .abort_expr = abort_expr};
    report_text(stdout, &r);
    if (csv && report_csv_finish(csv, &r, err, sizeof err) != 0) {
        fprintf(stderr, "pixload: %s\n", err);
        rc = 1;
    }
    if (cfg.json_out && report_json(&r, cfg.json_out, err, sizeof err) != 0) {
        fprintf(stderr, "pixload: %s\n", err);
        rc = 1;
    }
    if (cfg.html_out && report_html(&r, cfg.html_out, err, sizeof err) != 0) {
        fprintf(stderr, "pixload: %s\n", err);
        rc = 1;
    }
    if (rc == 0 && !report_thresholds_passed(&r))
        rc = THRESHOLD_EXIT_FAILED;
    engine_free(e);
    stats_free(&now);
    series_free(&series);
    free(agg_now);
    free(agg_prev);
    free(results);
    return rc;
}
