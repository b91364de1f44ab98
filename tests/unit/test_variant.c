/* variant: kept variants are found again; a group keeps at most per_group of them (its least
 * recent goes); the byte budget evicts the least recent; a dropped group is forgotten; a
 * variant requested again while it renders is rendered once (single flight) and every waiter
 * gets the same file; a client address past per_client gets 429, another address does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "server/pool.h"
#include "server/server.h"
#include "server/variant.h"

/* ---- a request as variant.c sees it ------------------------------------------------------- */

typedef struct {
    req_t r;
    int status;        /* 0 until answered */
    avatar_file_t *file;
    bool held;
} treq_t;

static void t_respond(req_t *r, int status, const char *h, size_t hl, const void *b, size_t bl, int fd,
                      void (*release)(void *), void *arg)
{
    treq_t *t = (treq_t *)r;
    t->status = status;
    if (release)
        release(arg);
}

static void t_hold(req_t *r, void (*cancel)(void *), void *arg)
{
    ((treq_t *)r)->held = true;
}

static const req_ops_t t_ops = {t_respond, t_hold};

static void serve(req_t *r, avatar_file_t *f, int status, const char *reason, unsigned flags)
{
    treq_t *t = (treq_t *)r;
    __atomic_store_n(&t->file, f, __ATOMIC_RELEASE);
    __atomic_store_n(&t->status, f ? 200 : status, __ATOMIC_RELEASE);
}

static sock_addr_t addr_v4(uint8_t last)
{
    sock_addr_t a = {.len = sizeof(struct sockaddr_in)};
    struct sockaddr_in *in = (struct sockaddr_in *)&a.addr;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(0x7f000000u | last);
    return a;
}

/* ---- renders: a file of `size` bytes; optionally held at a gate -------------------------- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gated, gate_open, rendering;
static int renders;

static avatar_file_t *render(void *spec, int *status, const char **reason)
{
    pthread_mutex_lock(&gate_lock);
    renders++;
    rendering = true;
    pthread_cond_broadcast(&gate_cond);
    while (gated && !gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    size_t n = *(size_t *)spec;
    uint8_t *body = calloc(1, n);
    return avatar_file_new(body, n, "image/png", 0, 60);
}

static void spec_free(void *spec)
{
    free(spec);
}

static const variant_ops_t ops = {render, spec_free};

static void *spec_of(size_t n)
{
    size_t *s = malloc(sizeof *s);
    *s = n;
    return s;
}

static worker_t wk;
static sock_addr_t peer1, peer2;

static treq_t *request(variant_cache_t *c, const char *key, const char *group, size_t n, const sock_addr_t *peer)
{
    treq_t *t = calloc(1, sizeof *t);
    t->r = (req_t){.ops = &t_ops, .wk = &wk, .peer = peer};
    variant_render(c, &t->r, key, strlen(key), group, strlen(group), &ops, spec_of(n), serve, 0);
    return t;
}

static bool cached(variant_cache_t *c, const char *key)
{
    avatar_file_t *f = variant_find(c, key, strlen(key));
    avatar_put(f);
    return f != NULL;
}

static void done(treq_t *t)
{
    avatar_put(t->file);
    free(t);
}

/* ---- inline pool: renders complete inside variant_render ---------------------------------- */

static void test_keep_find_and_group_bound(void **state)
{
    pool_t *pool = pool_new(0, 8, (char[64]){0}, 64);
    variant_cache_t *c = variant_cache_new(1 << 20, 2, 0, pool);
    const char *keys[] = {"a|1", "a|2", "a|3"};
    for (int i = 0; i < 3; i++) {
        treq_t *t = request(c, keys[i], "a", 100, &peer1);
        assert_int_equal(t->status, 200);
        assert_non_null(t->file);
        done(t);
    }
    treq_t *b = request(c, "b|1", "b", 100, &peer1);
    done(b);
    /* the group keeps its two most recent; the other group is untouched */
    assert_false(cached(c, "a|1"));
    assert_true(cached(c, "a|2"));
    assert_true(cached(c, "a|3"));
    assert_true(cached(c, "b|1"));
    /* recent by use, not by making: a|2, just asked for, outlives a|3 */
    assert_true(cached(c, "a|2"));
    done(request(c, "a|4", "a", 100, &peer1));
    assert_true(cached(c, "a|2"));
    assert_false(cached(c, "a|3"));
    done(request(c, "a|3", "a", 100, &peer1)); /* back, pushing out a|4 (a|2 was used since) */
    assert_true(cached(c, "a|2"));
    variant_stats_t st;
    variant_cache_stats(c, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.groups, 2);
    assert_int_equal(st.evictions, 3);
    assert_int_equal(st.group_evictions, 3);
    assert_int_equal(st.group_most, 2);
    assert_int_equal(st.renders, 6);

    variant_drop_group(c, "a", 1);
    assert_false(cached(c, "a|2"));
    assert_false(cached(c, "a|3"));
    assert_true(cached(c, "b|1"));
    variant_cache_stats(c, &st);
    assert_int_equal(st.groups, 1);
    assert_int_equal(st.group_most, 1);
    variant_drop_all(c);
    assert_false(cached(c, "b|1"));
    variant_cache_stats(c, &st);
    assert_int_equal(st.entries + st.groups + st.bytes + st.group_most, 0);
    variant_cache_free(c);
    pool_free(pool);
}

static void test_byte_budget_evicts_least_recent(void **state)
{
    pool_t *pool = pool_new(0, 8, (char[64]){0}, 64);
    /* room for four 1,000-byte variants with their overhead, not five */
    variant_cache_t *c = variant_cache_new(4800, 32, 0, pool);
    const char *keys[] = {"k1", "k2", "k3", "k4"}, *groups[] = {"g1", "g2", "g3", "g4"};
    for (int i = 0; i < 4; i++)
        done(request(c, keys[i], groups[i], 1000, &peer1));
    assert_true(cached(c, "k1")); /* now the most recent: k2 is the least */
    done(request(c, "k5", "g5", 1000, &peer1));
    assert_false(cached(c, "k2"));
    for (int i = 0; i < 4; i++)
        assert_true(i == 1 || cached(c, keys[i]));
    assert_true(cached(c, "k5"));
    /* a variant over a quarter of the budget is served but never kept */
    treq_t *big = request(c, "big", "g6", 2000, &peer1);
    assert_int_equal(big->status, 200);
    done(big);
    assert_false(cached(c, "big"));
    assert_true(cached(c, "k5"));
    variant_stats_t st;
    variant_cache_stats(c, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.group_evictions, 0); /* the budget's, not a source's bound */
    variant_cache_free(c);
    pool_free(pool);
}

/* ---- a pool thread and a loop thread: flights under way ------------------------------------ */

static void *run_loop(void *arg)
{
    loop_run(arg);
    return NULL;
}

static int wait_status(treq_t *t)
{
    int s;
    while (!(s = __atomic_load_n(&t->status, __ATOMIC_ACQUIRE)))
        sched_yield();
    return s;
}

static void post_request(loop_t *loop, void *arg)
{
    void **a = arg;
    *(treq_t **)a[0] = request(a[1], a[2], a[3], 100, a[4]);
    __atomic_store_n((int *)a[5], 1, __ATOMIC_RELEASE);
}

/* Makes the request on the loop's thread, as a handler would, and waits until it is made. */
static treq_t *request_on_loop(variant_cache_t *c, const char *key, const char *group, const sock_addr_t *peer)
{
    treq_t *t = NULL;
    int made = 0;
    void *args[] = {&t, c, (void *)key, (void *)group, (void *)peer, &made};
    assert_int_equal(loop_post(wk.loop, post_request, args), 0);
    while (!__atomic_load_n(&made, __ATOMIC_ACQUIRE))
        sched_yield();
    return t;
}

static void test_single_flight_and_client_bound(void **state)
{
    wk.loop = loop_new();
    pthread_t th;
    pthread_create(&th, NULL, run_loop, wk.loop);
    pool_t *pool = pool_new(1, 8, (char[64]){0}, 64);
    variant_cache_t *c = variant_cache_new(1 << 20, 32, 1, pool);
    gated = true;
    gate_open = false;
    renders = 0;

    treq_t *first = request_on_loop(c, "same", "g", &peer1);
    pthread_mutex_lock(&gate_lock);
    while (!rendering)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    treq_t *second = request_on_loop(c, "same", "g", &peer1); /* joins: no new render */
    treq_t *third = request_on_loop(c, "same", "g", &peer2);
    treq_t *busy = request_on_loop(c, "other", "g", &peer1);  /* peer1 has one under way */
    assert_int_equal(wait_status(busy), 429);
    treq_t *queued = request_on_loop(c, "other2", "g", &peer2); /* peer2 has none of its own */
    assert_true(first->held && second->held && third->held && queued->held);
    variant_stats_t st;
    variant_cache_stats(c, &st);
    assert_int_equal(st.renders, 2);
    assert_int_equal(st.joined, 2);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.in_flight, 2);
    assert_int_equal(st.clients, 2);

    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    assert_int_equal(wait_status(first), 200);
    assert_int_equal(wait_status(second), 200);
    assert_int_equal(wait_status(third), 200);
    assert_int_equal(wait_status(queued), 200);
    assert_ptr_equal(first->file, second->file);
    assert_ptr_equal(first->file, third->file);
    assert_int_equal(renders, 2);
    variant_cache_stats(c, &st);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.clients, 0);

    done(first);
    done(second);
    done(third);
    done(busy);
    done(queued);
    loop_stop(wk.loop);
    pthread_join(th, NULL);
    pool_drain(pool);
    pool_free(pool);
    variant_cache_free(c);
    loop_free(wk.loop);
    gated = false;
}

int main(void)
{
    peer1 = addr_v4(1);
    peer2 = addr_v4(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_find_and_group_bound),
        cmocka_unit_test(test_byte_budget_evicts_least_recent),
        cmocka_unit_test(test_single_flight_and_client_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
