/* hist: percentiles against the exact sorted values for several distributions, exact
 * count/min/max/mean, merge == recording everything into one, windows (hist_sub), clamping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "load/hist.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform01(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double normal(void)
{
    double u1 = uniform01(), u2 = uniform01();
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef uint64_t (*gen_fn)(void);

static uint64_t gen_uniform(void)
{
    return rnd() % 5000001; /* 0 .. 5 s */
}
static uint64_t gen_lognormal(void)
{
    double v = exp(7.0 + 1.5 * normal()); /* median ~1.1 ms, long tail */
    return v > 1e12 ? (uint64_t)1e12 : (uint64_t)v;
}
static uint64_t gen_bimodal(void)
{
    return rnd() & 1 ? 800 + rnd() % 400 : 190000 + rnd() % 20000;
}
static uint64_t gen_constant(void)
{
    return 12345;
}
static uint64_t gen_small(void)
{
    return rnd() % 200; /* exact range and the first octave */
}
static uint64_t gen_zero(void)
{
    return 0;
}
static uint64_t gen_heavy_tail(void)
{
    /* Pareto-like: most fast, a few up to minutes (some clamped). */
    double u = uniform01();
    double v = 100.0 / pow(1.0 - u * 0.999999, 1.2);
    return v > 9e7 ? 90000000 : (uint64_t)v;
}

static const double pcts[] = {0,  0.001, 0.1, 1,  5,  10, 25,   33.3,  50,     66,
                              75, 80,    90,  95, 98, 99, 99.9, 99.99, 99.999, 100};

/* Records n values from gen, then checks every percentile against the exact one. */
static void check_distribution(gen_fn gen, size_t n, uint64_t seed)
{
    rng_state = seed;
    uint64_t *v = malloc(n * sizeof *v);
    hist_t *h = malloc(sizeof *h);
    hist_reset(h);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = gen();
        hist_record(h, v[i]);
        /* What the histogram keeps: clamped values. */
        if (v[i] > HIST_MAX) v[i] = HIST_MAX;
        sum += (double)v[i];
    }
    qsort(v, n, sizeof *v, cmp_u64);
    assert_int_equal(hist_count(h), n);
    assert_int_equal(hist_min(h), v[0]);
    assert_int_equal(hist_max(h), v[n - 1]);
    assert_true(fabs(hist_mean(h) - sum / (double)n) <= 1e-9 * (sum / (double)n) + 1e-12);
    for (size_t i = 0; i < sizeof pcts / sizeof *pcts; i++) {
        uint64_t exact = v[hist_percentile_rank(n, pcts[i])];
        uint64_t got = hist_percentile(h, pcts[i]);
        double err = exact ? fabs((double)got - (double)exact) / (double)exact : (double)got;
        if (err > 0.01)
            fail_msg("p%g: got %llu, exact %llu (error %.4f)", pcts[i], (unsigned long long)got,
                     (unsigned long long)exact, err);
    }
    /* Every rank, not only the named percentiles (sampled to keep the test quick). */
    for (size_t r = 0; r < n; r += 1 + n / 2000) {
        uint64_t got = hist_value_at(h, r), exact = v[r];
        assert_true(exact ? fabs((double)got - (double)exact) <= 0.01 * (double)exact : got == 0);
    }
    free(v);
    free(h);
}

static void test_uniform(void **state)
{
    check_distribution(gen_uniform, 200000, 1);
}
static void test_lognormal(void **state)
{
    check_distribution(gen_lognormal, 200000, 2);
}
static void test_bimodal(void **state)
{
    check_distribution(gen_bimodal, 100001, 3);
}
static void test_constant(void **state)
{
    check_distribution(gen_constant, 1000, 4);
    hist_t h;
    hist_reset(&h);
    for (int i = 0; i < 1000; i++)
        hist_record(&h, 12345);
    /* One bucket, clamped to the exact min == max: everything reads back exactly. */
    assert_int_equal(hist_percentile(&h, 50), 12345);
    assert_int_equal(hist_percentile(&h, 0), 12345);
    assert_true(hist_stddev(&h) == 0.0);
}
static void test_small_values(void **state)
{
    check_distribution(gen_small, 50000, 5);
}
static void test_zero(void **state)
{
    check_distribution(gen_zero, 1000, 6);
    hist_t h;
    hist_reset(&h);
    hist_record(&h, 0);
    assert_int_equal(hist_percentile(&h, 99), 0);
    assert_int_equal(hist_max(&h), 0);
    assert_int_equal(hist_min(&h), 0);
}
static void test_heavy_tail(void **state)
{
    check_distribution(gen_heavy_tail, 200000, 7);
}

static void test_single_value(void **state)
{
    static const uint64_t vals[] = {0, 1, 127, 128, 129, 1000, 99999, 1234567, HIST_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        hist_t h;
        hist_reset(&h);
        hist_record(&h, vals[i]);
        for (size_t k = 0; k < sizeof pcts / sizeof *pcts; k++)
            assert_int_equal(hist_percentile(&h, pcts[k]), vals[i]);
        assert_int_equal(hist_min(&h), vals[i]);
        assert_int_equal(hist_max(&h), vals[i]);
        assert_true(hist_mean(&h) == (double)vals[i]);
        assert_true(hist_stddev(&h) == 0.0);
    }
}

static void test_empty(void **state)
{
    hist_t h;
    hist_reset(&h);
    assert_int_equal(hist_count(&h), 0);
    assert_int_equal(hist_min(&h), 0);
    assert_int_equal(hist_max(&h), 0);
    assert_int_equal(hist_percentile(&h, 50), 0);
    assert_true(hist_mean(&h) == 0.0);
    assert_true(hist_stddev(&h) == 0.0);
    assert_int_equal(hist_percentile_rank(0, 50), 0);
}

static void test_rank(void **state)
{
    /* Nearest rank: ceil(p/100 * n), 1-based. */
    assert_int_equal(hist_percentile_rank(100, 50), 49);
    assert_int_equal(hist_percentile_rank(100, 99), 98);
    assert_int_equal(hist_percentile_rank(100, 100), 99);
    assert_int_equal(hist_percentile_rank(100, 0), 0);
    assert_int_equal(hist_percentile_rank(3, 50), 1);
    assert_int_equal(hist_percentile_rank(1, 99.9), 0);
    assert_int_equal(hist_percentile_rank(1000, 99.9), 998);
    assert_int_equal(hist_percentile_rank(10, 150), 9);
}

static void test_clamp(void **state)
{
    hist_t h;
    hist_reset(&h);
    hist_record(&h, 5);
    hist_record(&h, HIST_MAX);
    hist_record(&h, HIST_MAX + 1);
    hist_record(&h, UINT64_MAX);
    assert_int_equal(h.clamped, 2);
    assert_int_equal(hist_count(&h), 4);
    assert_int_equal(hist_max(&h), HIST_MAX);
    assert_int_equal(hist_percentile(&h, 100), HIST_MAX);
    assert_int_equal(hist_percentile(&h, 25), 5);
}

static void test_index_layout(void **state)
{
    /* Buckets are monotonic in the value and the last one holds HIST_MAX. */
    unsigned prev = 0;
    for (uint64_t v = 0; v <= HIST_MAX; v += 1 + v / 1000) {
        unsigned i = hist__index(v);
        assert_true(i >= prev);
        assert_true(i < HIST_BUCKETS);
        prev = i;
    }
    assert_int_equal(hist__index(HIST_MAX), HIST_BUCKETS - 1);
    assert_int_equal(hist__index(127), 127);
    assert_int_equal(hist__index(128), 128);
    assert_int_equal(hist__index(129), 128);
    assert_int_equal(hist__index(130), 129);
}

static void test_merge(void **state)
{
    enum { THREADS = 4 };
    hist_t *parts = malloc(THREADS * sizeof *parts), *all = malloc(sizeof *all),
           *merged = malloc(sizeof *merged);
    hist_reset(all);
    hist_reset(merged);
    for (int t = 0; t < THREADS; t++)
        hist_reset(&parts[t]);
    rng_state = 42;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = i % 3 ? gen_lognormal() : gen_uniform();
        if (i % 1000 == 0) v = HIST_MAX + 7; /* clamped counts merge too */
        hist_record(&parts[rnd() % THREADS], v);
        hist_record(all, v);
    }
    for (int t = 0; t < THREADS; t++)
        hist_merge(merged, &parts[t]);
    assert_memory_equal(merged, all, sizeof *all);
    /* Merging an empty histogram changes nothing (min stays right). */
    hist_t *empty = malloc(sizeof *empty);
    hist_reset(empty);
    hist_merge(merged, empty);
    assert_memory_equal(merged, all, sizeof *all);
    hist_merge(empty, all);
    assert_memory_equal(empty, all, sizeof *all);
    free(parts);
    free(all);
    free(merged);
    free(empty);
}

static void test_sub_window(void **state)
{
    hist_t *h = malloc(sizeof *h), *snap = malloc(sizeof *snap), *only_new = malloc(sizeof *only_new),
           *w = malloc(sizeof *w);
    hist_reset(h);
    hist_reset(only_new);
    rng_state = 9;
    for (int i = 0; i < 5000; i++)
        hist_record(h, 100 + rnd() % 100);
    *snap = *h;
    for (int i = 0; i < 3000; i++) {
        uint64_t v = 5000 + rnd() % 5000;
        hist_record(h, v);
        hist_record(only_new, v);
    }
    hist_sub(w, h, snap);
    assert_int_equal(w->count, only_new->count);
    assert_int_equal(w->sum, only_new->sum);
    assert_memory_equal(w->buckets, only_new->buckets, sizeof w->buckets);
    for (size_t k = 0; k < sizeof pcts / sizeof *pcts; k++) {
        double exact = (double)hist_percentile(only_new, pcts[k]), got = (double)hist_percentile(w, pcts[k]);
        assert_true(fabs(got - exact) <= 0.016 * exact); /* the window's min/max are bucket-precise */
    }
    /* An empty window. */
    hist_sub(w, h, h);
    assert_int_equal(hist_count(w), 0);
    assert_int_equal(hist_percentile(w, 50), 0);
    /* In place. */
    hist_sub(h, h, snap);
    assert_int_equal(h->count, 3000);
    free(h);
    free(snap);
    free(only_new);
    free(w);
}

static void test_stddev_and_within(void **state)
{
    hist_t *h = malloc(sizeof *h);
    hist_reset(h);
    rng_state = 11;
    double sum = 0, sumsq = 0;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) {
        v[i] = (uint64_t)fmax(0, 20000 + 5000 * normal());
        hist_record(h, v[i]);
        sum += (double)v[i];
    }
    double mean = sum / N;
    for (int i = 0; i < N; i++)
        sumsq += ((double)v[i] - mean) * ((double)v[i] - mean);
    double sd = sqrt(sumsq / (N - 1));
    assert_true(fabs(hist_stddev(h) - sd) <= 0.01 * sd);
    uint64_t within = 0;
    for (int i = 0; i < N; i++)
        within += fabs((double)v[i] - mean) <= sd;
    double got = (double)hist_count_between(h, mean - sd, mean + sd);
    assert_true(fabs(got - (double)within) <= 0.01 * (double)N); /* ~68 % either way */
    free(v);
    free(h);
}

static void test_record_is_o1_and_fixed_size(void **state)
{
    /* The size is fixed at compile time: ~10.7 KiB, no pointers inside. */
    assert_true(sizeof(hist_t) < 11 * 1024);
    hist_t h;
    hist_reset(&h);
    hist_t copy = h;
    hist_record(&copy, 77);
    assert_int_equal(h.count, 0);
    assert_int_equal(copy.count, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_lognormal),
        cmocka_unit_test(test_bimodal),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_small_values),
        cmocka_unit_test(test_zero),
        cmocka_unit_test(test_heavy_tail),
        cmocka_unit_test(test_single_value),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_rank),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_index_layout),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_sub_window),
        cmocka_unit_test(test_stddev_and_within),
        cmocka_unit_test(test_record_is_o1_and_fixed_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
