#include "core/loop.h"

#include "core/testhook.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

typedef struct loop_call {
    struct loop_call *next;
    loop_call_cb fn;
    void *arg;
} loop_call_t;

struct loop {
    int epfd;
    volatile int stop;
    bool wake_pending;
    unsigned busy_poll_us, busy_poll_batch;
    int last_batch; /* events the last wait returned */
    bool polled;    /* the last wait's events were found by polling */
    uint64_t now_ms;
    int64_t wall_s;

    /* Timers: a binary min-heap of pointers, 1-based so that _heap_ix == 0 means "not armed". */
    loop_timer_t **heap;
    uint32_t heap_len, heap_cap;

    /* Cross-thread calls: a mutex-protected FIFO drained when the eventfd fires. */
    loop_watch_t wake;
    pthread_mutex_t calls_lock;
    loop_call_t *calls_head, *calls_tail;

    /* Deferred calls: a FIFO of embedded nodes, run after everything else in an iteration. */
    loop_defer_t *defer_head, *defer_tail;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void update_clock(loop_t *loop)
{
    loop->now_ms = mono_ms();
    loop->wall_s = time(NULL);
}

static void on_wake(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    uint64_t n;
    while (read(loop->wake.fd, &n, sizeof n) > 0)
        ;
    loop->wake_pending = true;
}

/* Posted calls run after the batch of events, like timers, so they may free any watch. */
static void run_calls(loop_t *loop)
{
    loop->wake_pending = false;
    pthread_mutex_lock(&loop->calls_lock);
    loop_call_t *c = loop->calls_head;
    loop->calls_head = loop->calls_tail = NULL;
    pthread_mutex_unlock(&loop->calls_lock);
    while (c) {
        loop_call_t *next = c->next;
        c->fn(loop, c->arg);
        free(c);
        c = next;
    }
}

loop_t *loop_new(void)
{
    loop_t *loop = calloc(1, sizeof *loop);
    if (!loop)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    int wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epfd < 0 || wfd < 0)
        goto fail;
    pthread_mutex_init(&loop->calls_lock, NULL);
    if (loop_watch_add(loop, &loop->wake, wfd, EPOLLIN, on_wake) != 0)
        goto fail;
    update_clock(loop);
    return loop;
fail:
    if (wfd >= 0)
        close(wfd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop);
    return NULL;
}

void loop_free(loop_t *loop)
{
    if (!loop)
        return;
    loop_call_t *c = loop->calls_head;
    while (c) {
        loop_call_t *next = c->next;
        free(c);
        c = next;
    }
    close(loop->wake.fd);
    close(loop->epfd);
    pthread_mutex_destroy(&loop->calls_lock);
    free(loop->heap);
    free(loop);
}

uint64_t loop_now_ms(const loop_t *loop)
{
    return loop->now_ms;
}

int64_t loop_wall_s(const loop_t *loop)
{
    return loop->wall_s;
}

int loop_watch_add(loop_t *loop, loop_watch_t *w, int fd, uint32_t events, loop_io_cb cb)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    w->fd = fd;
    w->events = events;
    w->cb = cb;
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

int loop_watch_mod(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    if (w->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) != 0)
        return -errno;
    w->events = events;
    return 0;
}

void loop_watch_del(loop_t *loop, loop_watch_t *w)
{
    if (w->fd >= 0)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

/* ---- timer heap ---------------------------------------------------------------------- */

static void heap_set(loop_t *loop, uint32_t ix, loop_timer_t *t)
{
    loop->heap[ix] = t;
    t->_heap_ix = ix;
}

static void heap_up(loop_t *loop, uint32_t ix)
{
    loop_timer_t *t = loop->heap[ix];
    while (ix > 1 && loop->heap[ix / 2]->at_ms > t->at_ms) {
        heap_set(loop, ix, loop->heap[ix / 2]);
        ix /= 2;
    }
    heap_set(loop, ix, t);
}

static void heap_down(loop_t *loop, uint32_t ix)
{
    loop_timer_t *t = loop->heap[ix];
    for (;;) {
        uint32_t c = ix * 2;
        if (c > loop->heap_len)
            break;
        if (c + 1 <= loop->heap_len && loop->heap[c + 1]->at_ms < loop->heap[c]->at_ms)
            c++;
        if (loop->heap[c]->at_ms >= t->at_ms)
            break;
        heap_set(loop, ix, loop->heap[c]);
        ix = c;
    }
    heap_set(loop, ix, t);
}

void loop_timer_cancel(loop_t *loop, loop_timer_t *t)
{
    uint32_t ix = t->_heap_ix;
    if (ix == 0)
        return;
    t->_heap_ix = 0;
    loop_timer_t *last = loop->heap[loop->heap_len--];
    if (ix > loop->heap_len)
        return;
    heap_set(loop, ix, last);
    heap_up(loop, ix);
    heap_down(loop, last->_heap_ix);
}

void loop_timer_arm(loop_t *loop, loop_timer_t *t, uint64_t after_ms, loop_timer_cb cb)
{
    loop_timer_cancel(loop, t);
    if (loop->heap_len + 1 >= loop->heap_cap) {
        uint32_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        loop_timer_t **h = realloc(loop->heap, cap * sizeof *h);
        if (!h)
            abort(); /* a few bytes per connection: treated like any small fixed struct */
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->at_ms = loop->now_ms + after_ms;
    t->cb = cb;
    loop->heap[++loop->heap_len] = t;
    heap_up(loop, loop->heap_len);
}

static int next_timeout(const loop_t *loop)
{
    if (loop->defer_head)
        return 0;
    if (loop->heap_len == 0)
        return 1000; /* keep the clocks fresh even when idle */
    uint64_t at = loop->heap[1]->at_ms;
    if (at <= loop->now_ms)
        return 0;
    uint64_t d = at - loop->now_ms;
    return d > 1000 ? 1000 : (int)d;
}

static void run_timers(loop_t *loop)
{
    while (loop->heap_len && loop->heap[1]->at_ms <= loop->now_ms) {
        loop_timer_t *t = loop->heap[1];
        loop_timer_cancel(loop, t);
        t->cb(loop, t);
    }
}

void loop_defer(loop_t *loop, loop_defer_t *d, loop_call_cb fn, void *arg)
{
    if (d->queued)
        return;
    d->queued = true;
    d->fn = fn;
    d->arg = arg;
    d->next = NULL;
    if (loop->defer_tail)
        loop->defer_tail->next = d;
    else
        loop->defer_head = d;
    loop->defer_tail = d;
}

/* Runs the calls queued so far; those they queue wait for the next iteration. */
static void run_deferred(loop_t *loop)
{
    loop_defer_t *d = loop->defer_head;
    loop->defer_head = loop->defer_tail = NULL;
    while (d) {
        loop_defer_t *next = d->next; /* d may be freed by its call */
        d->queued = false;
        d->fn(loop, d->arg);
        d = next;
    }
}

/* ---- running ------------------------------------------------------------------------- */

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int wait_events(loop_t *loop, struct epoll_event *evs)
{
    int timeout = next_timeout(loop);
    /* Polling starts after a batch and goes on while it finds events in time: under load events
     * come one at a time too, and waking for each was what polling saves. */
    bool poll = loop->busy_poll_us && timeout != 0 && (loop->polled || loop->last_batch >= (int)loop->busy_poll_batch);
    loop->polled = false;
    if (poll) {
        uint64_t until = mono_us() + loop->busy_poll_us;
        do {
            int n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, 0);
            if (n != 0) {
                loop->polled = true;
                return n;
            }
        } while (mono_us() < until);
    }
    return epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, timeout);
}

int loop_run(loop_t *loop)
{
    struct epoll_event evs[LOOP_MAX_EVENTS];
    while (!loop->stop) {
        TESTHOOK("loop_wait"); /* a test lets events pile up into one batch */
        int n = wait_events(loop, evs);
        loop->last_batch = n;
        if (n < 0 && errno != EINTR)
            return -errno;
        update_clock(loop);
        for (int i = 0; i < n; i++) {
            loop_watch_t *w = evs[i].data.ptr;
            w->cb(loop, w, evs[i].events);
        }
        run_timers(loop);
        if (loop->wake_pending)
            run_calls(loop);
        run_deferred(loop);
    }
    loop->stop = 0;
    return 0;
}

void loop_stop(loop_t *loop)
{
    __atomic_store_n(&loop->stop, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    (void)!write(loop->wake.fd, &one, sizeof one);
}

int loop_post(loop_t *loop, loop_call_cb fn, void *arg)
{
    loop_call_t *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->next = NULL;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&loop->calls_lock);
    bool was_empty = !loop->calls_tail;
    if (was_empty)
        loop->calls_head = c;
    else
        loop->calls_tail->next = c;
    loop->calls_tail = c;
    pthread_mutex_unlock(&loop->calls_lock);
    /* Only the call that finds the queue empty wakes the loop: the others ride on its wake,
     * since run_calls() takes the whole queue (a syscall saved per burst of completions). */
    if (was_empty) {
        uint64_t one = 1;
        (void)!write(loop->wake.fd, &one, sizeof one);
    }
    return 0;
}

void loop_set_busy_poll(loop_t *loop, unsigned usec, unsigned min_batch)
{
    loop->busy_poll_us = usec;
    loop->busy_poll_batch = min_batch;
}
