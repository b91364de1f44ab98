#include "load/maxrate.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "load/engine.h"
#include "load/threshold.h"

#define MAX_RATE 1e9

typedef struct {
    double rate;     /* offered */
    double achieved; /* requests/s after the warm-up */
    uint64_t requests, failures;
    uint64_t p50_us, p99_us, late_p90_us;
    bool pass;      /* every SLO held */
    bool generator; /* pixload could not keep the schedule */
} step_t;

/* One step at rate: a run of its own, judged after its first MAXRATE_WARMUP_S seconds. */
static int run_step(const load_config_t *base, const scenario_t *sc, const sock_addr_t *addr,
                    const char *const *names, double rate, step_t *st)
{
    load_config_t c = *base; /* a shallow copy: nothing of it is freed */
    c.rate = rate;
    c.rate_plan = (plan_t){.n = 1, .total_s = INFINITY, .max = rate};
    c.rate_plan.stages[0] = (plan_stage_t){.from = rate, .to = rate, .secs = INFINITY};
    char err[512];
    stats_t warm, fin;
    threshold_result_t *res = calloc(base->nslos, sizeof *res);
    stats_entry_t *agg = malloc(sizeof *agg);
    if (!res || !agg || stats_init(&warm, sc->nstats) || stats_init(&fin, sc->nstats)) {
        fprintf(stderr, "pixload: out of memory\n");
        return -1;
    }
    engine_t *e = engine_start(&c, sc, addr, err, sizeof err);
    if (!e) {
        fprintf(stderr, "pixload: %s\n", err);
        return -1;
    }
    engine_event_t ev;
    while ((ev = engine_wait(e, MAXRATE_WARMUP_S, 100)) == ENGINE_TIMEOUT)
        ;
    if (ev == ENGINE_SECOND)
        engine_snapshot(e, &warm);
    while (engine_wait(e, UINT_MAX, 100) != ENGINE_ENDED)
        ;
    double secs = engine_result(e, &fin) - (ev == ENGINE_SECOND ? MAXRATE_WARMUP_S : 0);
    const char *fatal = engine_error(e);
    if (fatal)
        fprintf(stderr, "pixload: %s\n", fatal);
    engine_free(e);
    int rc = fatal ? -1 : 0;
    if (rc == 0) {
        stats_sub(&fin, &warm);
        stats_aggregate(&fin, agg);
        *st = (step_t){
            .rate = rate,
            .achieved = secs > 0 ? (double)agg->requests / secs : 0,
            .requests = agg->requests,
            .failures = agg->failures,
            .p50_us = hist_percentile(&agg->latency, 50),
            .p99_us = hist_percentile(&agg->latency, 99),
            .late_p90_us = hist_percentile(&fin.send_late, 90),
        };
        int failed = threshold_eval_all(base->slos, base->nslos, &fin, names, secs, res);
        st->pass = failed == 0;
        /* A step that held is a pass, late sends included (latency counts from the intended
         * time). One that broke the SLO while pixload's own lateness was much of its latency
         * says more about the generator than about the server. */
        st->generator = !st->pass && st->late_p90_us >= MAXRATE_LATE_US &&
                        (double)st->late_p90_us >= MAXRATE_LATE_SHARE * (double)st->p99_us;
        rc = failed < 0 ? -1 : 0;
    }
    stats_free(&warm);
    stats_free(&fin);
    free(res);
    free(agg);
    return rc;
}

static void print_step(FILE *out, unsigned i, const step_t *s)
{
    fprintf(out, "  %4u  %10.1f  %10.1f  %8.2fms  %8.2fms  %6.2f%%  %8.2fms  %s\n", i, s->rate, s->achieved,
            (double)s->p50_us / 1e3, (double)s->p99_us / 1e3,
            s->requests ? 100.0 * (double)s->failures / (double)s->requests : 0.0, (double)s->late_p90_us / 1e3,
            s->generator ? "late" : s->pass ? "pass" : "FAIL");
    fflush(out);
}

/* The knee: the highest rate whose p99 stayed within MAXRATE_KNEE_FACTOR of the lowest p99 of
 * any step, and below which every step did too. 0 when no step had a latency. */
static double knee(const step_t *steps, unsigned n)
{
    uint64_t best = UINT64_MAX;
    for (unsigned i = 0; i < n; i++)
        if (steps[i].requests && steps[i].p99_us < best)
            best = steps[i].p99_us;
    double k = 0, broke = INFINITY;
    for (unsigned i = 0; i < n; i++)
        if (steps[i].requests && steps[i].p99_us > best * MAXRATE_KNEE_FACTOR && steps[i].rate < broke)
            broke = steps[i].rate;
    for (unsigned i = 0; i < n; i++)
        if (steps[i].requests && steps[i].rate < broke && steps[i].rate > k)
            k = steps[i].rate;
    return k;
}

int maxrate_run(const load_config_t *cfg, const scenario_t *sc, const sock_addr_t *addr, FILE *out)
{
    const char **names = calloc(sc->nstats ? sc->nstats : 1, sizeof *names);
    step_t *steps = calloc(cfg->max_steps, sizeof *steps);
    if (!names || !steps) {
        fprintf(stderr, "pixload: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < sc->nstats; i++)
        names[i] = sc->stats[i].name;
    fprintf(out, "Finding the highest rate @ %s under", cfg->url_str);
    for (size_t i = 0; i < cfg->nslos; i++)
        fprintf(out, "%s %s", i ? " and" : "", cfg->slos[i].expr);
    fprintf(out, "\n  %u connections, steps of %.1fs (the first %ds of each discarded), at most %u steps\n",
            cfg->connections, (double)cfg->duration_ms / 1e3, MAXRATE_WARMUP_S, cfg->max_steps);
    fprintf(out, "  step   offered/s  achieved/s         p50         p99   failed   late p90  SLO\n");
    double lo = 0, hi = 0, rate = cfg->rate; /* lo: the highest that held, hi: the lowest that broke */
    unsigned n = 0;
    const step_t *late = NULL;
    bool again = false; /* the step just run repeated a rate that broke the SLO once */
    int rc = 0;
    while (n < cfg->max_steps) {
        step_t *s = &steps[n];
        if (run_step(cfg, sc, addr, names, rate, s) != 0) {
            rc = 1;
            break;
        }
        print_step(out, ++n, s);
        if (s->generator) {
            late = s;
            break;
        }
        /* One bad second of a shared machine must not end the search low: a rate breaks the SLO
         * only when it breaks it twice running; a repeat that holds counts as held. */
        if (!s->pass && !again && n < cfg->max_steps) {
            again = true;
            continue;
        }
        again = false;
        if (s->pass)
            lo = rate;
        else
            hi = rate;
        if (!hi)
            rate = fmin(rate * 2, MAX_RATE);
        else if (!lo)
            rate = hi / 2;
        else if (hi - lo <= MAXRATE_CLOSE * hi)
            break;
        else
            rate = (lo + hi) / 2;
        if (!hi && rate == MAX_RATE && lo == MAX_RATE)
            break;
    }
    if (rc == 0) {
        if (late)
            fprintf(out,
                    "pixload could not keep the schedule at %.1f requests/s (p90 of its sends %.2fms late, "
                    "counted from when they were due and a connection was free): the generator, not the "
                    "server, is the limit there (give it more threads or cores, or another machine)\n",
                    late->rate, (double)late->late_p90_us / 1e3);
        if (lo > 0) {
            fprintf(out, "Highest rate under the SLO: %.1f requests/s", lo);
            if (hi > 0)
                fprintf(out, " (%.1f broke it: the answer is within %.1f%%)\n", hi, 100 * (hi - lo) / hi);
            else
                fprintf(out, " (no step broke it: the highest tried)\n");
        } else {
            fprintf(out, "No rate tried met the SLO (the lowest tried: %.1f requests/s)\n", hi);
            rc = THRESHOLD_EXIT_FAILED;
        }
        double k = knee(steps, n);
        if (k > 0)
            fprintf(out, "Knee of the latency curve: about %.1f requests/s (p99 within %dx of its lowest up to there)\n",
                    k, MAXRATE_KNEE_FACTOR);
    }
    free(names);
    free(steps);
    return rc;
}
