/*
 * maxrate: --find-max-rate, the highest open-loop rate at which every --slo holds.
 *
 * Steps: each is a run of its own (engine.h) at a constant rate for -t (default 5 s), whose
 * first second is discarded (connections opening, caches warming) before its SLOs are judged
 * (threshold.h, on the rest of the step). The rate starts at -R (default 50/s) and doubles
 * while the SLOs hold; once a step breaks them, the search halves the interval between the
 * highest rate that held and the lowest that broke, until they are within 5 % of each other or
 * --max-steps (default 10) steps have run. So the run takes at most max_steps x -t, and the
 * answer is within the last interval.
 *
 * Every request's lateness is measured: how long after both its intended time had come and
 * its connection was free it went out (stats.h, send_late). A server that falls behind keeps
 * connections busy, which is not counted; a generator short of CPU wakes up late, which is. A
 * step that broke an SLO while that lateness (p90) was at least MAXRATE_LATE_US and at least
 * MAXRATE_LATE_SHARE of its p99 latency ends the search: the generator, not the server, is the
 * limit there, and is reported as such.
 */
#ifndef PIXD_LOAD_MAXRATE_H
#define PIXD_LOAD_MAXRATE_H

#include <stdio.h>

#include "core/sock.h"
#include "load/config.h"
#include "load/scenario.h"

#define MAXRATE_WARMUP_S 1
#define MAXRATE_LATE_US 5000    /* lateness below this is wake-up noise */
#define MAXRATE_LATE_SHARE 0.5  /* ... and the share of the p99 it must reach to be the cause */
#define MAXRATE_CLOSE 0.05     /* stop when the interval is this narrow, relative to its top */
#define MAXRATE_KNEE_FACTOR 2  /* the knee: the highest rate whose p99 is within this of the lowest */

/* Runs the search with cfg's connections, threads, requests and SLOs, printing the table of
 * steps and the result to out. Returns the exit status: 0 when a rate met the SLOs,
 * THRESHOLD_EXIT_FAILED when none did, 1 when a step could not run (the message on stderr). */
int maxrate_run(const load_config_t *cfg, const scenario_t *sc, const sock_addr_t *addr, FILE *out);

#endif
