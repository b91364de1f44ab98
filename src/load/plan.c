#include "load/plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "load/errmsg.h"
#include "load/units.h"

/* One value at *s; moves *s past it. */
static int value(const char **s, bool whole, double *v)
{
    const char *end;
    if (load_parse_number(*s, &end, v) < 0) return -1;
    if (whole && *v != floor(*v)) return -1;
    *s = end;
    return 0;
}

int plan_parse(plan_t *p, const char *spec, bool whole, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    const char *what = whole ? "users" : "a rate";
    const char *s = spec;
    if (!*s) return errmsg_set(err, errlen, "empty plan");
    if (!strchr(spec, '@') && strncmp(spec, "ramp:", 5) != 0) { /* a plain number */
        double v;
        if (value(&s, whole, &v) < 0 || *s || !(v > 0))
            return errmsg_set(err, errlen, "'%s': expected %s above 0, or a plan such as 100@30s,ramp:100-500@1m",
                              spec, what);
        p->stages[0] = (plan_stage_t){.from = v, .to = v, .secs = INFINITY};
        p->n = 1;
        p->total_s = INFINITY;
        p->max = v;
        return 0;
    }
    double t = 0, area = 0;
    for (int i = 1;; i++) {
        const char *stage = s, *comma = strchr(s, ',');
        int len = comma ? (int)(comma - s) : (int)strlen(s);
        if (p->n == PLAN_MAX_STAGES) return errmsg_set(err, errlen, "more than %d stages", PLAN_MAX_STAGES);
        bool ramp = strncmp(s, "ramp:", 5) == 0;
        double from, to;
        if (ramp) s += 5;
        if (value(&s, whole, &from) < 0)
            return errmsg_set(err, errlen, "stage %d '%.*s': expected %s%s", i, len, stage,
                              ramp ? "ramp:FROM-TO@DURATION with FROM as " : "VALUE@DURATION with VALUE as ",
                              whole ? "a whole number of users" : "a rate");
        to = from;
        if (ramp && (*s != '-' || (s++, value(&s, whole, &to) < 0)))
            return errmsg_set(err, errlen, "stage %d '%.*s': expected ramp:FROM-TO@DURATION with TO as %s", i, len,
                              stage, whole ? "a whole number of users" : "a rate");
        if (*s != '@')
            return errmsg_set(err, errlen, "stage %d '%.*s': expected '@' and a duration after the %s", i, len, stage,
                              ramp ? "ramp" : "value");
        char dur[32];
        const char *d = ++s;
        size_t dlen = comma ? (size_t)(comma - d) : strlen(d);
        uint64_t ms;
        if (dlen >= sizeof dur || (memcpy(dur, d, dlen), dur[dlen] = '\0', load_parse_duration_ms(dur, &ms) < 0))
            return errmsg_set(err, errlen, "stage %d '%.*s': invalid duration '%.*s' (use e.g. 500ms, 30s, 2m)", i,
                              len, stage, (int)dlen, d);
        double secs = (double)ms / 1e3;
        p->stages[p->n++] = (plan_stage_t){.from = from, .to = to, .start_s = t, .secs = secs, .before = area};
        t += secs;
        area += (from + to) / 2 * secs;
        if (from > p->max) p->max = from;
        if (to > p->max) p->max = to;
        if (!comma) break;
        s = comma + 1;
        if (!*s) return errmsg_set(err, errlen, "a ',' ends the plan: expected another stage after it");
    }
    if (!(p->max > 0)) return errmsg_set(err, errlen, "'%s': every stage is 0: nothing would be sent", spec);
    p->total_s = t;
    p->staged = true;
    return 0;
}

/* The stage t falls in (the last one after the end). */
static const plan_stage_t *stage_at(const plan_t *p, double t)
{
    size_t i = 0;
    while (i + 1 < p->n && t >= p->stages[i + 1].start_s)
        i++;
    return &p->stages[i];
}

double plan_target(const plan_t *p, double t)
{
    if (!p->n) return 0;
    const plan_stage_t *st = stage_at(p, t);
    double x = t - st->start_s;
    if (x <= 0) return st->from;
    if (x >= st->secs) return st->to;
    return st->from + (st->to - st->from) * x / st->secs;
}

double plan_time_of(const plan_t *p, double k)
{
    for (size_t i = 0; i < p->n; i++) {
        const plan_stage_t *st = &p->stages[i];
        double a = st->from, b = st->to, r = k - st->before;
        double area = isinf(st->secs) ? INFINITY : (a + b) / 2 * st->secs;
        if (r < 0 || r >= area) continue;
        if (r == 0) return st->start_s;
        if (a == b) return st->start_s + r / a;
        /* a x + (b - a) x^2 / (2 secs) = r, in the form that stays exact as a or b - a nears 0 */
        double disc = a * a + 2 * (b - a) * r / st->secs;
        return st->start_s + 2 * r / (a + sqrt(disc > 0 ? disc : 0));
    }
    return INFINITY;
}

double plan_first_reach(const plan_t *p, double t, double level)
{
    for (size_t i = 0; i < p->n; i++) {
        const plan_stage_t *st = &p->stages[i];
        double end = st->start_s + st->secs, from = t > st->start_s ? t : st->start_s;
        if (end <= t) continue;
        if (plan_target(p, from) >= level) return from;
        if (st->to > st->from && st->to >= level) {
            /* A ramp that gets there only at its very end does not: that instant is the next
             * stage's (the last stage's value holds after the plan). */
            double at = st->start_s + (level - st->from) / (st->to - st->from) * st->secs;
            if (at < end || i + 1 == p->n) return at > from ? at : from;
        }
    }
    return INFINITY;
}
