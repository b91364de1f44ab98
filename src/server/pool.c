#include "server/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/testhook.h"

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pool_job_t *head, *tail;
    unsigned queued, max_queue;
    bool draining;
    int nthreads;
    pthread_t *threads;
    uint64_t running, ran, dropped, refused; /* under lock */
    uint64_t run_us, run_buckets[POOL_BUCKETS + 1];
};

const uint64_t pool_bucket_us[POOL_BUCKETS] = {1000, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void finish(pool_job_t *j, pool_outcome_t outcome)
{
    j->outcome = outcome;
    if (loop_post(j->loop, j->done, j) != 0)
        abort(); /* a dozen bytes: treated like any small fixed allocation */
}

static void *pool_main(void *arg)
{
    pool_t *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->draining)
            pthread_cond_wait(&p->cond, &p->lock);
        pool_job_t *j = p->head;
        if (!j)
            break;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        if (pool_cancelled(j)) {
            p->dropped++;
            pthread_mutex_unlock(&p->lock);
            finish(j, POOL_DROPPED);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        p->running++;
        pthread_mutex_unlock(&p->lock);
        TESTHOOK("pool_job");
        uint64_t t0 = now_us();
        j->run(j);
        uint64_t us = now_us() - t0;
        unsigned b = 0;
        while (b < POOL_BUCKETS && us > pool_bucket_us[b])
            b++;
        pthread_mutex_lock(&p->lock);
        p->running--;
        p->ran++;
        p->run_us += us;
        p->run_buckets[b]++;
        pthread_mutex_unlock(&p->lock);
        finish(j, POOL_RAN);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int pool_submit(pool_t *p, pool_job_t *j)
{
    j->next = NULL;
    j->cancelled = 0;
    if (p->nthreads == 0) {
        j->run(j);
        j->outcome = POOL_RAN;
        j->done(j->loop, j);
        return 0;
    }
    pthread_mutex_lock(&p->lock);
    int r = 0;
    if (p->draining) {
        r = -ESHUTDOWN;
    } else if (p->queued >= p->max_queue) {
        p->refused++;
        r = -EBUSY;
    } else {
        if (p->tail)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        p->queued++;
        pthread_cond_signal(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return r;
}

const char *pool_refusal(int err)
{
    return err == -EBUSY ? "too many image jobs waiting" : "server is shutting down";
}

void pool_cancel(pool_job_t *j)
{
    __atomic_store_n(&j->cancelled, 1, __ATOMIC_RELEASE);
}

void pool_drain(pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    p->draining = true;
    pool_job_t *j = p->head;
    p->head = p->tail = NULL;
    p->queued = 0;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    while (j) {
        pool_job_t *next = j->next;
        finish(j, POOL_SHUTDOWN);
        j = next;
    }
}

void pool_stats(pool_t *p, pool_stats_t *out)
{
    pthread_mutex_lock(&p->lock);
    *out = (pool_stats_t){p->queued, p->running, p->ran, p->dropped, p->refused, p->run_us, {0}};
    memcpy(out->run_buckets, p->run_buckets, sizeof out->run_buckets);
    pthread_mutex_unlock(&p->lock);
}

pool_t *pool_new(int nthreads, unsigned max_queue, char *err, size_t errlen)
{
    pool_t *p = calloc(1, sizeof *p);
    pthread_t *th = calloc((size_t)nthreads + 1, sizeof *th);
    if (!p || !th) {
        free(p);
        free(th);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->max_queue = max_queue;
    p->threads = th;
    for (int i = 0; i < nthreads; i++) {
        int e = pthread_create(&p->threads[i], NULL, pool_main, p);
        if (e != 0) {
            snprintf(err, errlen, "cannot start image thread %d of %d: %s", i + 1, nthreads, strerror(e));
            pool_drain(p);
            pool_free(p);
            return NULL;
        }
        p->nthreads++;
    }
    return p;
}

void pool_free(pool_t *p)
{
    if (!p)
        return;
    pool_drain(p); /* idempotent: wakes the threads to exit */
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}
