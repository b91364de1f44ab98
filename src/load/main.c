/* pixload: flags, scenario, run, report. Ctrl-C ends the run early and still reports. */
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

/* The CPUs this process may run on (taskset, cgroup cpusets), for one thread per core. */
static unsigned cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int main(int argc, char **argv)
{
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
        return 2;
    case LOAD_CONFIG_RUN:
        break;
    }
    scenario_t sc;
    if (scenario_build(&sc, &cfg, err, sizeof err) != 0) {
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

    double start_wall = wall_now();
    report_csv_t *csv = NULL;
    if (cfg.csv_prefix &&
        !(csv = report_csv_open(cfg.csv_prefix, cfg.csv_full_history, &sc, start_wall, err, sizeof err))) {
        fprintf(stderr, "pixload: %s\n", err);
        return 2;
    }
    if (csv && (cfg.rate_plan.staged || cfg.users_plan.n) &&
        report_csv_add_target(csv, cfg.rate > 0 ? "Target Requests/s" : "Target User Count") != 0) {
        fprintf(stderr, "pixload: cannot write %s_stats_history.csv: %s\n", cfg.csv_prefix, strerror(errno));
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
    }
    fflush(stdout);
    engine_t *e = engine_start(&cfg, &sc, &addr, err, sizeof err);
    if (!e) {
        fprintf(stderr, "pixload: %s\n", err);
        return 1;
    }
    bool live = !cfg.quiet && isatty(STDERR_FILENO);
    stats_t now;
    stats_entry_t agg_now, agg_prev;
    memset(&agg_prev, 0, sizeof agg_prev);
    hist_reset(&agg_prev.latency);
    if (stats_init(&now, sc.nstats)) {
        fprintf(stderr, "pixload: out of memory\n");
        return 1;
    }
    /* Wakes every POLL_MS to take Ctrl-C promptly, and at each whole second of the run for
     * the history row and the live line. */
    bool interrupted = false;
    unsigned sec = 1;
    engine_event_t ev;
    while ((ev = engine_wait(e, sec, POLL_MS)) != ENGINE_ENDED) {
        struct timespec zero = {0, 0};
        if (!interrupted && sigtimedwait(&set, NULL, &zero) > 0) {
            interrupted = true;
            engine_stop(e);
        }
        if (ev != ENGINE_SECOND)
            continue;
        sec++;
        if (interrupted)
            continue; /* the summary follows as soon as the threads have stopped */
        unsigned users = engine_snapshot(e, &now);
        const char *unit = NULL;
        double target = engine_target(e, sec - 1, &unit);
        if (csv && report_csv_history(csv, &now, wall_now(), users, target) != 0)
            fprintf(stderr, "pixload: cannot write %s_stats_history.csv: %s\n", cfg.csv_prefix,
                    strerror(errno));
        if (live) {
            stats_aggregate(&now, &agg_now);
            live_line(&agg_now, &agg_prev, wall_now() - start_wall, users, target, unit);
            agg_prev = agg_now;
        }
    }
    if (live)
        fputs("\r\033[K", stderr);

    double secs = engine_result(e, &now);
    const char *fatal = engine_error(e);
    if (fatal) { /* --h2 and the server does not speak HTTP/2: nothing to report */
        fprintf(stderr, "pixload: %s\n", fatal);
        if (csv)
            report_csv_finish(csv, &(report_t){.cfg = &cfg, .sc = &sc, .st = &now}, err, sizeof err);
        engine_free(e);
        stats_free(&now);
        scenario_free(&sc);
        load_config_free(&cfg);
        return 1;
    }
    report_t r = {.cfg = &cfg, .sc = &sc, .st = &now, .start_wall = start_wall, .duration_s = secs,
                  .interrupted = interrupted, .protocol = report_protocol(&cfg),
                  .streams = engine_h2_streams(e)};
    report_text(stdout, &r);
    int rc = 0;
    if (csv && report_csv_finish(csv, &r, err, sizeof err) != 0) {
        fprintf(stderr, "pixload: %s\n", err);
        rc = 1;
    }
    if (cfg.json_out && report_json(&r, cfg.json_out, err, sizeof err) != 0) {
        fprintf(stderr, "pixload: %s\n", err);
        rc = 1;
    }
    engine_free(e);
    stats_free(&now);
    scenario_free(&sc);
    load_config_free(&cfg);
    return rc;
}
