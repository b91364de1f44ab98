/* pool: jobs run once each on a pool thread and report back on the loop that submitted them;
 * the queue is bounded; a cancelled job that has not started is dropped, not run; draining
 * ends the queued jobs with POOL_SHUTDOWN and refuses new ones; with no threads a job runs
 * inline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>

#include "server/pool.h"

typedef struct {
    pool_job_t pj;
    pthread_t ran_on;
    int runs, dones;
    pool_outcome_t seen;
} tjob_t;

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, running_now;
static int done_count, done_target;

/* The job holds its thread until the test opens the gate: the queue behind it fills. */
static void run_gated(pool_job_t *pj)
{
    tjob_t *j = (tjob_t *)pj;
    pthread_mutex_lock(&gate_lock);
    running_now++;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    j->ran_on = pthread_self();
    j->runs++;
}

static void on_done(loop_t *loop, void *arg)
{
    tjob_t *j = arg;
    j->dones++;
    j->seen = j->pj.outcome;
    if (++done_count == done_target)
        loop_stop(loop);
}

static void init(tjob_t *j, loop_t *loop)
{
    *j = (tjob_t){.pj = {.run = run_gated, .done = on_done, .loop = loop}};
}

static void wait_running(int n)
{
    pthread_mutex_lock(&gate_lock);
    while (running_now < n)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static void reset(int target)
{
    gate_open = running_now = done_count = 0;
    done_target = target;
}

static void test_bounded_cancel_and_order(void **state)
{
    char err[128];
    loop_t *loop = loop_new();
    pool_t *p = pool_new(1, 2, err, sizeof err);
    assert_non_null(loop);
    assert_non_null(p);
    reset(3);
    tjob_t a, b, c, d;
    init(&a, loop), init(&b, loop), init(&c, loop), init(&d, loop);
    assert_int_equal(pool_submit(p, &a.pj), 0);
    wait_running(1); /* a holds the only thread */
    assert_int_equal(pool_submit(p, &b.pj), 0);
    assert_int_equal(pool_submit(p, &c.pj), 0);
    assert_int_equal(pool_submit(p, &d.pj), -EBUSY); /* two queued: full */
    pool_stats_t st;
    pool_stats(p, &st);
    assert_int_equal(st.running, 1);
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.refused, 1);
    pool_cancel(&b.pj); /* its client left before it started */
    open_gate();
    assert_int_equal(loop_run(loop), 0);
    assert_int_equal(a.runs, 1);
    assert_int_equal(a.seen, POOL_RAN);
    assert_int_equal(b.runs, 0);
    assert_int_equal(b.seen, POOL_DROPPED);
    assert_int_equal(c.runs, 1);
    assert_false(pthread_equal(a.ran_on, pthread_self()));
    assert_int_equal(a.dones + b.dones + c.dones + d.dones, 3);
    pool_stats(p, &st);
    assert_int_equal(st.ran, 2);
    assert_int_equal(st.dropped, 1);
    pool_free(p);
    loop_free(loop);
}

static void test_drain(void **state)
{
    char err[128];
    loop_t *loop = loop_new();
    pool_t *p = pool_new(1, 8, err, sizeof err);
    assert_non_null(p);
    reset(3);
    tjob_t a, b, c, d;
    init(&a, loop), init(&b, loop), init(&c, loop), init(&d, loop);
    assert_int_equal(pool_submit(p, &a.pj), 0);
    wait_running(1);
    assert_int_equal(pool_submit(p, &b.pj), 0);
    assert_int_equal(pool_submit(p, &c.pj), 0);
    pool_drain(p); /* b and c end now, a finishes */
    assert_int_equal(pool_submit(p, &d.pj), -ESHUTDOWN);
    open_gate();
    assert_int_equal(loop_run(loop), 0);
    assert_int_equal(a.seen, POOL_RAN);
    assert_int_equal(b.seen, POOL_SHUTDOWN);
    assert_int_equal(c.seen, POOL_SHUTDOWN);
    assert_int_equal(b.runs + c.runs + d.dones, 0);
    pool_free(p);
    loop_free(loop);
}

static void test_inline(void **state)
{
    char err[128];
    loop_t *loop = loop_new();
    pool_t *p = pool_new(0, 1, err, sizeof err);
    assert_non_null(p);
    reset(100);
    gate_open = 1;
    tjob_t a;
    init(&a, loop);
    assert_int_equal(pool_submit(p, &a.pj), 0); /* ran and reported before it returns */
    assert_int_equal(a.runs, 1);
    assert_int_equal(a.dones, 1);
    assert_true(pthread_equal(a.ran_on, pthread_self()));
    pool_free(p);
    loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_cancel_and_order),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_inline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
