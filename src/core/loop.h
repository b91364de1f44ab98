/*
 * loop: one epoll event loop per thread, with timers and cross-thread calls.
 *
 * A loop belongs to the thread that runs it: every function here except loop_post() and
 * loop_stop() must be called from that thread. Watches and timers are embedded in the
 * caller's objects (no allocation per event); the caller owns them and must remove them
 * before freeing.
 */
#ifndef PIXD_CORE_LOOP_H
#define PIXD_CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef struct loop loop_t;
typedef struct loop_watch loop_watch_t;
typedef struct loop_timer loop_timer_t;
typedef struct loop_defer loop_defer_t;

/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP ...) that fired. An io
 * callback may free its own watch but no other: another watch may still have an event pending
 * in the current batch. Timers, posted and deferred calls run after the batch, so they may free
 * any watch; an object that another callback may want gone defers its own free (loop_defer). */
typedef void (*loop_io_cb)(loop_t *loop, loop_watch_t *w, uint32_t events);
typedef void (*loop_timer_cb)(loop_t *loop, loop_timer_t *t);
typedef void (*loop_call_cb)(loop_t *loop, void *arg);

struct loop_watch {
    int fd;
    uint32_t events; /* currently registered interest */
    loop_io_cb cb;
};

/* A call deferred to the end of the current iteration, embedded in its owner (no allocation). */
struct loop_defer {
    loop_defer_t *next;
    loop_call_cb fn;
    void *arg;
    bool queued;
};

struct loop_timer {
    uint64_t at_ms;    /* deadline on the loop's monotonic clock */
    loop_timer_cb cb;
    uint32_t _heap_ix; /* 0 when not armed */
};

/* Returns NULL on failure (errno set). */
loop_t *loop_new(void);
void loop_free(loop_t *loop);

/* Runs until loop_stop(). Returns 0, or -errno if epoll_wait fails. */
int loop_run(loop_t *loop);
/* Thread-safe: makes loop_run() return after the current iteration. */
void loop_stop(loop_t *loop);

/* Before sleeping in epoll, poll for usec microseconds (0, the default: never). With min_batch
 * 1 always; above, only under load: after a wait that returned min_batch events or more, and
 * then for as long as polling finds events; a lightly loaded loop sleeps at once. */
void loop_set_busy_poll(loop_t *loop, unsigned usec, unsigned min_batch);

/* Monotonic milliseconds, refreshed once per iteration (cheap to call often). */
uint64_t loop_now_ms(const loop_t *loop);
/* Wall-clock seconds, refreshed once per iteration. */
int64_t loop_wall_s(const loop_t *loop);

/* Registers w->fd for events (EPOLLET is the caller's choice). 0 or -errno. */
int loop_watch_add(loop_t *loop, loop_watch_t *w, int fd, uint32_t events, loop_io_cb cb);
/* Changes the interest set; a no-op when it is unchanged. 0 or -errno. */
int loop_watch_mod(loop_t *loop, loop_watch_t *w, uint32_t events);
/* Unregisters (safe to call before close(fd) or when never added: fd < 0). */
void loop_watch_del(loop_t *loop, loop_watch_t *w);

/* Arms (or re-arms) t to fire once, after_ms from now. */
void loop_timer_arm(loop_t *loop, loop_timer_t *t, uint64_t after_ms, loop_timer_cb cb);
void loop_timer_cancel(loop_t *loop, loop_timer_t *t);
static inline bool loop_timer_armed(const loop_timer_t *t)
{
    return t->_heap_ix != 0;
}

/* Runs fn(loop, arg) on this loop's thread after the current batch of events, timers and posted
 * calls, before the loop sleeps again; a no-op while d is queued. A call deferred while deferred
 * calls run waits for the next iteration (after one more, non-blocking, epoll_wait): a callback
 * that defers itself yields to everything else that is ready. d must stay allocated until its
 * call has run: an owner frees itself from there. */
void loop_defer(loop_t *loop, loop_defer_t *d, loop_call_cb fn, void *arg);

/* Thread-safe: runs fn(loop, arg) on the loop's thread at its next iteration. Calls from one
 * thread run in order. 0, or -ENOMEM. */
int loop_post(loop_t *loop, loop_call_cb fn, void *arg);

#endif
