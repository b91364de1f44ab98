/* loop: timers in deadline order, cancel and re-arm; calls posted from other threads run once
 * each, on the loop's thread, in each poster's order, and wake an idle loop; deferred calls run
 * after the batch (so a callback may ask for another watch's free) and yield when they re-defer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/loop.h"

/* ---- timers -------------------------------------------------------------------------- */

enum { NTIMERS = 64 };

typedef struct {
    loop_timer_t t;
    int id;
    uint64_t due;
} tm_t;

static tm_t timers[NTIMERS];
static int fired[NTIMERS], nfired, remaining;
static uint64_t last_due;

static void on_timer(loop_t *loop, loop_timer_t *t)
{
    tm_t *tm = (tm_t *)t;
    assert_true(tm->due >= last_due); /* deadline order */
    assert_true(loop_now_ms(loop) >= tm->due);
    last_due = tm->due;
    fired[nfired++] = tm->id;
    if (--remaining == 0)
        loop_stop(loop);
}

static void test_timers(void **state)
{
    loop_t *loop = loop_new();
    assert_non_null(loop);
    nfired = 0;
    last_due = 0;
    remaining = 0;
    uint64_t now = loop_now_ms(loop);
    for (int i = 0; i < NTIMERS; i++) {
        uint64_t after = (uint64_t)(i * 37 % 25); /* scrambled deadlines, with ties */
        timers[i] = (tm_t){.id = i, .due = now + after};
        loop_timer_arm(loop, &timers[i].t, after, on_timer);
        assert_true(loop_timer_armed(&timers[i].t));
        remaining++;
    }
    for (int i = 0; i < NTIMERS; i += 3) { /* every third one cancelled ... */
        loop_timer_cancel(loop, &timers[i].t);
        assert_false(loop_timer_armed(&timers[i].t));
        remaining--;
    }
    loop_timer_arm(loop, &timers[0].t, 30, on_timer); /* ... one of them re-armed, last */
    timers[0].due = now + 30;
    remaining++;
    loop_timer_arm(loop, &timers[1].t, 40, on_timer); /* re-arming an armed timer moves it */
    timers[1].due = now + 40;
    assert_int_equal(loop_run(loop), 0);
    assert_int_equal(nfired, NTIMERS - (NTIMERS + 2) / 3 + 1);
    assert_int_equal(fired[nfired - 1], 1);
    assert_int_equal(fired[nfired - 2], 0);
    for (int i = 0; i < nfired; i++)
        assert_true(fired[i] == 0 || fired[i] % 3 != 0);
    loop_free(loop);
}

/* ---- posted calls -------------------------------------------------------------------- */

enum { POSTERS = 4, POSTS = 20000 };

static pthread_t loop_thread;
static int next_seq[POSTERS], total;

typedef struct {
    loop_t *loop;
    int id;
} poster_t;

static void on_call(loop_t *loop, void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    int id = (int)(v % POSTERS), seq = (int)(v / POSTERS);
    assert_true(pthread_equal(pthread_self(), loop_thread));
    assert_int_equal(seq, next_seq[id]); /* once each, in the poster's order */
    next_seq[id]++;
    if (++total == POSTERS * POSTS)
        loop_stop(loop);
}

static void *poster(void *arg)
{
    poster_t *p = arg;
    for (int s = 0; s < POSTS; s++)
        if (loop_post(p->loop, on_call, (void *)(uintptr_t)(s * POSTERS + p->id)) != 0) abort();
    return NULL;
}

static void on_watchdog(loop_t *loop, loop_timer_t *t)
{
    fail_msg("posted calls did not all run within the watchdog's 10 s");
}

static void test_post_from_threads(void **state)
{
    loop_t *loop = loop_new();
    assert_non_null(loop);
    loop_thread = pthread_self();
    total = 0;
    loop_timer_t watchdog = {0};
    loop_timer_arm(loop, &watchdog, 10000, on_watchdog);
    pthread_t th[POSTERS];
    poster_t ps[POSTERS];
    for (int i = 0; i < POSTERS; i++) {
        next_seq[i] = 0;
        ps[i] = (poster_t){loop, i};
        assert_int_equal(pthread_create(&th[i], NULL, poster, &ps[i]), 0);
    }
    assert_int_equal(loop_run(loop), 0);
    for (int i = 0; i < POSTERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(next_seq[i], POSTS);
    }
    loop_timer_cancel(loop, &watchdog);
    loop_free(loop);
}

/* One call at a time, each posted only after the previous one ran: every post finds the queue
 * empty and an idle loop (no timer due for seconds) that only its wake-up can get going. A lost
 * wake-up costs the idle loop's 1 s poll, and 50 of them exceed the watchdog. */
enum { PINGS = 50 };

static pthread_mutex_t ping_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ping_cond = PTHREAD_COND_INITIALIZER;
static int pongs;

static void on_ping(loop_t *loop, void *arg)
{
    pthread_mutex_lock(&ping_lock);
    pongs++;
    pthread_cond_signal(&ping_cond);
    pthread_mutex_unlock(&ping_lock);
    if (pongs == PINGS)
        loop_stop(loop);
}

static void *pinger(void *arg)
{
    loop_t *loop = arg;
    for (int i = 0; i < PINGS; i++) {
        if (loop_post(loop, on_ping, NULL) != 0) abort();
        pthread_mutex_lock(&ping_lock);
        while (pongs <= i)
            pthread_cond_wait(&ping_cond, &ping_lock);
        pthread_mutex_unlock(&ping_lock);
    }
    return NULL;
}

static void test_post_wakes_idle_loop(void **state)
{
    loop_t *loop = loop_new();
    assert_non_null(loop);
    pongs = 0;
    loop_timer_t watchdog = {0};
    loop_timer_arm(loop, &watchdog, 10000, on_watchdog);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pinger, loop), 0);
    assert_int_equal(loop_run(loop), 0);
    pthread_join(th, NULL);
    assert_int_equal(pongs, PINGS);
    loop_timer_cancel(loop, &watchdog);
    loop_free(loop);
}

/* ---- deferred calls ------------------------------------------------------------------- */

/* Two watches ready in one batch; whichever runs first closes the other and defers its free.
 * The other's event, still pending in the batch, must find it allocated and closed. */
typedef struct peer_w {
    loop_watch_t w;
    loop_defer_t free_call;
    int pipe[2];
    bool closed;
    struct peer_w *other;
} peer_w;

static int peer_events, peer_frees;

static void peer_free(loop_t *loop, void *arg)
{
    peer_w *p = arg;
    close(p->pipe[0]);
    close(p->pipe[1]);
    peer_frees++;
    free(p);
    if (peer_frees == 1)
        loop_stop(loop);
}

static void peer_close(loop_t *loop, peer_w *p)
{
    if (p->closed)
        return;
    p->closed = true;
    loop_watch_del(loop, &p->w);
    loop_defer(loop, &p->free_call, peer_free, p);
    loop_defer(loop, &p->free_call, peer_free, p); /* queued already: a no-op */
}

static void on_peer(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    peer_w *p = (peer_w *)w;
    peer_events++;
    if (p->closed) /* the event of a watch closed earlier in this batch */
        return;
    peer_close(loop, p->other);
}

static void test_defer_free_after_batch(void **state)
{
    loop_t *loop = loop_new();
    assert_non_null(loop);
    peer_w *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_true(a && b);
    a->other = b;
    b->other = a;
    peer_w *ps[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pipe(ps[i]->pipe), 0);
        assert_int_equal(write(ps[i]->pipe[1], "x", 1), 1);
        assert_int_equal(loop_watch_add(loop, &ps[i]->w, ps[i]->pipe[0], EPOLLIN, on_peer), 0);
    }
    peer_events = peer_frees = 0;
    assert_int_equal(loop_run(loop), 0);
    assert_int_equal(peer_events, 2); /* both events of the batch ran ... */
    assert_int_equal(peer_frees, 1);  /* ... and the one closed was freed once, after them */
    peer_w *open_one = a->closed ? b : a;
    loop_watch_del(loop, &open_one->w);
    close(open_one->pipe[0]);
    close(open_one->pipe[1]);
    free(open_one);
    loop_free(loop);
}

/* A deferred call that defers itself again runs once per iteration, so an always-ready watch
 * gets its event between any two of its runs. */
static int yields, ready_events;
static loop_defer_t again;

static void on_again(loop_t *loop, void *arg)
{
    assert_int_equal(ready_events, yields + 1);
    if (++yields == 20) {
        loop_stop(loop);
        return;
    }
    loop_defer(loop, &again, on_again, NULL);
}

static void on_ready(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    ready_events++;
}

static void test_defer_yields(void **state)
{
    loop_t *loop = loop_new();
    assert_non_null(loop);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "x", 1), 1); /* never read: ready at every iteration */
    loop_watch_t w = {0};
    assert_int_equal(loop_watch_add(loop, &w, fds[0], EPOLLIN, on_ready), 0);
    yields = ready_events = 0;
    loop_defer(loop, &again, on_again, NULL);
    assert_int_equal(loop_run(loop), 0);
    assert_int_equal(yields, 20);
    loop_watch_del(loop, &w);
    close(fds[0]);
    close(fds[1]);
    loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_post_from_threads),
        cmocka_unit_test(test_post_wakes_idle_loop),
        cmocka_unit_test(test_defer_free_after_batch),
        cmocka_unit_test(test_defer_yields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
