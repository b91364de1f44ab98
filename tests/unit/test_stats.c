/* stats: the counting rules (as locust's), status slots, and that merging threads' stats
 * equals recording everything in one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "load/stats.h"

static void test_record(void **state)
{
    stats_t s;
    assert_int_equal(stats_init(&s, 2), 0);
    stats_entry_t *e = &s.entries[0];
    stats_record(e, 1500, 200, 100, STATS_OK);
    stats_record(e, 2500, 404, 20, STATS_ERR_STATUS);
    stats_record(e, 3000, 200, 5, STATS_ERR_MIN_BYTES);
    stats_record(e, STATS_NO_LATENCY, 0, 0, STATS_ERR_CONNECT);
    stats_record(e, 10000000, 0, 0, STATS_ERR_TIMEOUT);
    stats_record(e, 7, 999, 0, STATS_ERR_STATUS);
    assert_int_equal(e->requests, 6);
    assert_int_equal(e->failures, 5);
    assert_int_equal(e->content_bytes, 125);
    assert_int_equal(hist_count(&e->latency), 5); /* the connect error has no latency */
    assert_int_equal(e->errors[STATS_ERR_STATUS], 2);
    assert_int_equal(e->errors[STATS_ERR_MIN_BYTES], 1);
    assert_int_equal(e->errors[STATS_ERR_CONNECT], 1);
    assert_int_equal(e->errors[STATS_ERR_TIMEOUT], 1);
    assert_int_equal(e->errors[STATS_ERR_READ], 0);
    assert_int_equal(e->status[stats_status_slot(200)], 2);
    assert_int_equal(e->status[stats_status_slot(404)], 1);
    assert_int_equal(e->status_failed[stats_status_slot(404)], 1);
    assert_int_equal(e->status_failed[stats_status_slot(200)], 0);
    assert_int_equal(e->status[STATS_STATUS_OTHER], 1);
    assert_int_equal(e->status_failed[STATS_STATUS_OTHER], 1);
    assert_int_equal(s.entries[1].requests, 0);
    stats_free(&s);
}

static void test_status_slots(void **state)
{
    assert_int_equal(stats_status_slot(100), 0);
    assert_int_equal(stats_status_slot(200), 100);
    assert_int_equal(stats_status_slot(599), 499);
    assert_int_equal(stats_status_slot(600), STATS_STATUS_OTHER);
    assert_int_equal(stats_status_slot(99), STATS_STATUS_OTHER);
    assert_int_equal(stats_status_slot(0), STATS_STATUS_OTHER);
    assert_string_equal(stats_err_name(STATS_ERR_CONNECT), "connect");
    assert_string_equal(stats_err_name(STATS_ERR_MIN_BYTES), "min-bytes");
    assert_string_equal(stats_err_name(STATS_OK), "ok");
}

static void test_merge_equals_single(void **state)
{
    enum { THREADS = 3, SLOTS = 4 };
    stats_t threads[THREADS], all, merged;
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(stats_init(&threads[t], SLOTS), 0);
    assert_int_equal(stats_init(&all, SLOTS), 0);
    assert_int_equal(stats_init(&merged, SLOTS), 0);
    uint64_t x = 7;
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int t = (int)(x >> 60) % THREADS, slot = (int)(x >> 50) % SLOTS;
        uint64_t lat = (x >> 20) % 500000;
        int status = (x >> 8) % 7 ? 200 : 503;
        stats_err_t err = status == 503 ? STATS_ERR_STATUS : (x >> 4) % 50 == 0 ? STATS_ERR_READ : STATS_OK;
        stats_record(&threads[t].entries[slot], lat, status, lat % 1000, err);
        stats_record(&all.entries[slot], lat, status, lat % 1000, err);
        threads[t].bytes_read += 100;
        all.bytes_read += 100;
    }
    for (int t = 0; t < THREADS; t++) {
        hist_record(&threads[t].req_rate, 1000 + t);
        hist_record(&all.req_rate, 1000 + t);
        threads[t].connects = 5;
        all.connects += 5;
        stats_merge(&merged, &threads[t]);
    }
    assert_memory_equal(merged.entries, all.entries, SLOTS * sizeof *all.entries);
    assert_int_equal(merged.bytes_read, all.bytes_read);
    assert_int_equal(merged.connects, 15);
    assert_memory_equal(&merged.req_rate, &all.req_rate, sizeof all.req_rate);

    /* The aggregate is every slot together. */
    stats_entry_t *agg = malloc(sizeof *agg), *one = malloc(sizeof *one);
    stats_aggregate(&all, agg);
    memset(one, 0, sizeof *one);
    hist_reset(&one->latency);
    for (int s = 0; s < SLOTS; s++)
        stats_entry_merge(one, &all.entries[s]);
    assert_memory_equal(agg, one, sizeof *one);
    assert_int_equal(agg->requests, 20000);

    /* A snapshot is an independent copy; reset empties. */
    stats_t snap;
    assert_int_equal(stats_init(&snap, SLOTS), 0);
    stats_copy(&snap, &all);
    assert_memory_equal(snap.entries, all.entries, SLOTS * sizeof *all.entries);
    stats_record(&all.entries[0], 1, 200, 0, STATS_OK);
    assert_int_not_equal(snap.entries[0].requests, all.entries[0].requests);
    stats_reset(&snap);
    assert_int_equal(snap.entries[0].requests, 0);
    assert_int_equal(hist_count(&snap.entries[0].latency), 0);
    assert_int_equal(snap.bytes_read, 0);

    /* What happened between two snapshots: the later less the earlier. */
    stats_t later, earlier;
    assert_int_equal(stats_init(&later, SLOTS), 0);
    assert_int_equal(stats_init(&earlier, SLOTS), 0);
    stats_merge(&earlier, &threads[0]);
    stats_merge(&later, &threads[0]);
    stats_merge(&later, &threads[1]);
    hist_record(&earlier.send_late, 10);
    hist_record(&later.send_late, 10);
    hist_record(&later.send_late, 2000);
    stats_sub(&later, &earlier);
    for (int s = 0; s < SLOTS; s++) {
        const stats_entry_t *a = &later.entries[s], *b = &threads[1].entries[s];
        assert_int_equal(a->requests, b->requests);
        assert_int_equal(a->failures, b->failures);
        assert_int_equal(a->content_bytes, b->content_bytes);
        assert_memory_equal(a->errors, b->errors, sizeof a->errors);
        assert_memory_equal(a->status, b->status, sizeof a->status);
        assert_int_equal(hist_count(&a->latency), hist_count(&b->latency));
        assert_int_equal(hist_percentile(&a->latency, 50), hist_percentile(&b->latency, 50));
    }
    assert_int_equal(later.bytes_read, threads[1].bytes_read);
    assert_int_equal(hist_count(&later.send_late), 1);
    stats_free(&later);
    stats_free(&earlier);

    free(agg);
    free(one);
    stats_free(&snap);
    for (int t = 0; t < THREADS; t++)
        stats_free(&threads[t]);
    stats_free(&all);
    stats_free(&merged);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record),
        cmocka_unit_test(test_status_slots),
        cmocka_unit_test(test_merge_equals_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
