/*
 * plan: a load that changes over the run, in stages (-R and -u):
 *
 *     100@30s,ramp:100-2000@2m,2000@1m
 *
 * is 100 (requests/s, or users) for 30 s, then a straight line from 100 to 2000 over 2 min,
 * then 2000 for 1 min. A plain number ("100") is a plan of one stage without end. Values take
 * k and M suffixes (2k); durations are written as for -t (500ms, 30s, 2m, 1h).
 *
 * For an open loop (-R), the plan is a rate r(t): the k-th request of the run (k = 0, 1, ...)
 * is meant to go out when the integral of r from the start reaches k, so with a constant rate R
 * request k goes at k / R, and during a ramp the gaps shrink or grow smoothly (plan_time_of).
 * For users (-u), the plan is the number of users u(t): user k runs while u(t) >= k + 1
 * (plan_first_reach says when that next holds).
 *
 * A plan is parsed once (plan_parse) and then only read: the functions below are pure, take
 * O(stages), never allocate, and may be called from every thread at once.
 */
#ifndef PIXD_LOAD_PLAN_H
#define PIXD_LOAD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLAN_MAX_STAGES 64

typedef struct {
    double from, to; /* the value at the stage's start and end (equal: a constant stage) */
    double start_s;  /* when the stage starts, seconds from the start of the run */
    double secs;     /* how long it lasts (INFINITY: a plain number's one stage) */
    double before;   /* the integral of the value over the stages before this one */
} plan_stage_t;

typedef struct {
    plan_stage_t stages[PLAN_MAX_STAGES];
    size_t n;     /* 0: no plan */
    double total_s; /* the plan's length (INFINITY for a plain number) */
    double max;   /* the highest value anywhere in it */
    bool staged;  /* written with stages (not a plain number) */
} plan_t;

/* Parses spec into *p. whole: values must be whole numbers (users). A plan needs a value above
 * 0 somewhere (a plain number must be above 0). Returns 0, or -1 with a message naming the
 * problem (the stage and what is wrong in it) in err. */
int plan_parse(plan_t *p, const char *spec, bool whole, char *err, size_t errlen);

/* The value at t seconds into the run; after the plan's end, its last value. */
double plan_target(const plan_t *p, double t);
/* When the integral of the value reaches k (seconds from the start): the intended send time of
 * the run's request k under a rate plan. INFINITY when the plan ends before. */
double plan_time_of(const plan_t *p, double k);
/* The first time >= t at which the value is at least level; INFINITY when it never is. */
double plan_first_reach(const plan_t *p, double t, double level);

#endif
