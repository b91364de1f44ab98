/* plan (pixload -R/-u PLAN): any text either parses, with stages that tile the time from 0
 * and a highest value above 0, or is refused with a message; for a parsed plan the target stays
 * within [0, max], request times never go backwards, and a level's first reach has the plan at
 * that level. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "load/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *spec = malloc(size + 1);
    memcpy(spec, data, size);
    spec[size] = '\0';
    static plan_t p;
    char err[256];
    for (int whole = 0; whole < 2; whole++) {
        err[0] = '\0';
        if (plan_parse(&p, spec, whole, err, sizeof err) != 0) {
            CHECK(err[0] != '\0');
            continue;
        }
        CHECK(p.n >= 1 && p.n <= PLAN_MAX_STAGES && p.max > 0);
        double t = 0;
        for (size_t i = 0; i < p.n; i++) {
            CHECK(p.stages[i].start_s == t && p.stages[i].secs > 0);
            t += p.stages[i].secs;
        }
        CHECK(t == p.total_s || (isinf(t) && isinf(p.total_s)));
        double span = isinf(p.total_s) ? 100 : p.total_s, prev = -1;
        for (int i = 0; i <= 64; i++) {
            double v = plan_target(&p, span * i / 64);
            CHECK(v >= 0 && v <= p.max * (1 + 1e-9));
        }
        for (double k = 0; k < 1e6; k = k * 2 + 1) {
            double at = plan_time_of(&p, k);
            if (isinf(at)) break;
            CHECK(at >= prev && (isinf(p.total_s) || at <= p.total_s * (1 + 1e-9)));
            prev = at;
        }
        double at = plan_first_reach(&p, 0, p.max / 2);
        CHECK(at < INFINITY && plan_target(&p, at) >= p.max / 2 * (1 - 1e-6));
    }
    free(spec);
    return 0;
}
