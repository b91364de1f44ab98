/* plan: parsing stages and ramps (and every malformed form, with a message naming the
 * problem), the target at a time, the intended time of the k-th request, when a level is
 * reached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "load/plan.h"

static plan_t p;
static char err[256];

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6 * (1 + fabs((double)(b))))

static void test_parse(void **state)
{
    assert_int_equal(plan_parse(&p, "100@30s,ramp:100-2000@2m,2000@1m", false, err, sizeof err), 0);
    assert_int_equal(p.n, 3);
    assert_true(p.staged);
    assert_near(p.total_s, 210);
    assert_near(p.max, 2000);
    assert_near(p.stages[1].start_s, 30);
    assert_near(p.stages[1].from, 100);
    assert_near(p.stages[1].to, 2000);
    assert_near(p.stages[2].before, 100 * 30 + 1050 * 120);

    assert_int_equal(plan_parse(&p, "1.5k", false, err, sizeof err), 0); /* a plain rate */
    assert_int_equal(p.n, 1);
    assert_false(p.staged);
    assert_true(isinf(p.total_s));
    assert_near(p.max, 1500);

    assert_int_equal(plan_parse(&p, "ramp:0-10@500ms,0@1s,5@1.5s", true, err, sizeof err), 0);
    assert_near(p.total_s, 3);
}

static void parse_fails(const char *spec, bool whole, const char *needle)
{
    if (plan_parse(&p, spec, whole, err, sizeof err) == 0) fail_msg("'%s' accepted", spec);
    if (!strstr(err, needle)) fail_msg("'%s': message '%s' lacks '%s'", spec, err, needle);
}

static void test_malformed(void **state)
{
    parse_fails("", false, "empty plan");
    parse_fails("0", false, "expected a rate above 0");
    parse_fails("fast", false, "expected a rate above 0");
    parse_fails("100@", false, "stage 1 '100@': invalid duration ''");
    parse_fails("100@30x", false, "stage 1 '100@30x': invalid duration '30x'");
    parse_fails("100@30s,", false, "a ',' ends the plan");
    parse_fails("100@30s,,5@1s", false, "stage 2 '': expected VALUE@DURATION");
    parse_fails("100@30s,200", false, "stage 2 '200': expected '@' and a duration after the value");
    parse_fails("ramp:100@1m", false, "stage 1 'ramp:100@1m': expected ramp:FROM-TO@DURATION with TO");
    parse_fails("ramp:-5-10@1m", false, "stage 1 'ramp:-5-10@1m': expected ramp:FROM-TO@DURATION with FROM");
    parse_fails("ramp:1-x@1m", false, "with TO as a rate");
    parse_fails("ramp:1-2@1m@2m", false, "invalid duration '1m@2m'");
    parse_fails("10@0s", false, "invalid duration '0s'");
    parse_fails("0@10s,ramp:0-0@5s", false, "every stage is 0");
    parse_fails("2.5@10s", true, "a whole number of users");
    parse_fails("ramp:1-2.5@10s", true, "TO as a whole number of users");
    parse_fails("5G@1s", false, "stage 1 '5G@1s': expected '@'");
    char many[1024] = "";
    for (int i = 0; i < PLAN_MAX_STAGES + 1; i++)
        strcat(many, i ? ",1@1s" : "1@1s");
    parse_fails(many, false, "more than 64 stages");
}

static void test_target(void **state)
{
    assert_int_equal(plan_parse(&p, "100@30s,ramp:100-2000@2m,2000@1m", false, err, sizeof err), 0);
    assert_near(plan_target(&p, 0), 100);
    assert_near(plan_target(&p, 29.9), 100);
    assert_near(plan_target(&p, 30), 100);
    assert_near(plan_target(&p, 90), 1050);
    assert_near(plan_target(&p, 150), 2000);
    assert_near(plan_target(&p, 209), 2000);
    assert_near(plan_target(&p, 1000), 2000); /* after the end: the last value */
    assert_int_equal(plan_parse(&p, "10@1s,ramp:10-0@10s", true, err, sizeof err), 0);
    assert_near(plan_target(&p, 6), 5);
    assert_near(plan_target(&p, 20), 0);
}

static void test_time_of(void **state)
{
    /* Constant: request k at k / R, as a plain -R always did. */
    assert_int_equal(plan_parse(&p, "200", false, err, sizeof err), 0);
    assert_near(plan_time_of(&p, 0), 0);
    assert_near(plan_time_of(&p, 1), 0.005);
    assert_near(plan_time_of(&p, 1e6), 5000);

    assert_int_equal(plan_parse(&p, "100@30s,ramp:100-2000@2m,2000@1m", false, err, sizeof err), 0);
    assert_near(plan_time_of(&p, 2999), 29.99);
    assert_near(plan_time_of(&p, 3000), 30); /* the ramp's first request */
    /* In the ramp, the integral of 100 + 1900 x / 120 from 0 to x is k - 3000. */
    for (double x = 0.5; x < 120; x += 7.25) {
        double k = 3000 + 100 * x + 1900 * x * x / 240;
        assert_near(plan_time_of(&p, k), 30 + x);
    }
    double end_ramp = 3000 + 1050 * 120;
    assert_near(plan_time_of(&p, end_ramp), 150);
    assert_near(plan_time_of(&p, end_ramp + 2000 * 59.5), 209.5);
    assert_true(isinf(plan_time_of(&p, end_ramp + 2000 * 60))); /* the plan is over */
    /* Strictly increasing: no two requests at once, none out of order. */
    double prev = -1;
    for (double k = 0; k < end_ramp + 120000; k += 997) {
        double t = plan_time_of(&p, k);
        assert_true(t > prev);
        prev = t;
    }

    /* A ramp down to zero and a pause: requests only where the rate is above 0. */
    assert_int_equal(plan_parse(&p, "ramp:0-100@10s,0@5s,10@1s", false, err, sizeof err), 0);
    assert_near(plan_time_of(&p, 0), 0);
    assert_near(plan_time_of(&p, 125), 5); /* 100 x^2 / 20 = 125 at x = 5 */
    assert_near(plan_time_of(&p, 500), 15); /* the pause is skipped */
    assert_near(plan_time_of(&p, 505), 15.5);
    assert_true(isinf(plan_time_of(&p, 510)));
}

static void test_first_reach(void **state)
{
    assert_int_equal(plan_parse(&p, "2@10s,ramp:2-12@10s,4@10s,ramp:4-8@4s", true, err, sizeof err), 0);
    assert_near(plan_first_reach(&p, 0, 1), 0);
    assert_near(plan_first_reach(&p, 0, 2), 0);
    assert_near(plan_first_reach(&p, 0, 3), 11);
    assert_near(plan_first_reach(&p, 0, 11), 19);
    assert_true(isinf(plan_first_reach(&p, 0, 12))); /* only at the ramp's end, which is the next stage's */
    assert_near(plan_first_reach(&p, 25, 4), 25);
    assert_near(plan_first_reach(&p, 25, 5), 31);
    assert_true(isinf(plan_first_reach(&p, 25, 9)));
    assert_true(isinf(plan_first_reach(&p, 100, 1))); /* the plan is over */
    /* A ramp up to a level that the next stage drops from never holds it: no start there. */
    assert_int_equal(plan_parse(&p, "ramp:0-10@10s,0@5s,ramp:0-20@10s", true, err, sizeof err), 0);
    assert_near(plan_first_reach(&p, 0, 10), 20);
    assert_near(plan_first_reach(&p, 0, 20), 25); /* the last stage's end value holds */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),      cmocka_unit_test(test_malformed), cmocka_unit_test(test_target),
        cmocka_unit_test(test_time_of),    cmocka_unit_test(test_first_reach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
