/*
 * server: worker threads, listeners, accept, access log and graceful stop.
 */
#include "server/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/tls.h"
#include "server/avatar.h"
#include "server/conn.h"
#include "server/fetch.h"
#include "server/magic.h"
#include "server/avatar_handler.h"
#include "server/demo.h"
#include "server/hashindex.h"
#include "server/metrics.h"
#include "server/upload.h"
#include "server/variant.h"
#include "server/page.h"
#include "server/pool.h"
#include "server/stats.h"

#define LOG_FLUSH_BYTES 32768

static void flush_log(worker_t *wk)
{
    if (buf_size(&wk->log) == 0)
        return;
    /* One write per batch of whole lines: O_APPEND keeps the workers' lines unmixed. */
    (void)!write(wk->srv->log_fd, buf_start(&wk->log), buf_size(&wk->log));
    buf_reset(&wk->log);
}

void server_log(worker_t *wk, const char *line, size_t n)
{
    buf_append(&wk->log, line, n);
    if (buf_size(&wk->log) >= LOG_FLUSH_BYTES)
        flush_log(wk);
}

#define ACCEPT_PAUSE_MS 100

static void on_accept(loop_t *loop, loop_watch_t *w, uint32_t events);

static void resume_accept(loop_t *loop, loop_timer_t *t)
{
    listener_t *l = (listener_t *)((char *)t - offsetof(listener_t, pause));
    if (l->w.fd >= 0)
        loop_watch_mod(loop, &l->w, EPOLLIN);
}

static void on_accept(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    listener_t *l = (listener_t *)w;
    server_t *srv = l->wk->srv;
    /* Bounded batch so one busy listener cannot starve the connections of this loop. */
    for (int i = 0; i < 64; i++) {
        sock_addr_t peer;
        peer.len = sizeof peer.addr;
        int fd = accept4(w->fd, (struct sockaddr *)&peer.addr, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* Out of descriptors, the pending connection stays queued and the level-triggered
             * listener would fire at once again: a spinning loop. Pause, as nginx does. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                loop_watch_mod(loop, w, 0);
                loop_timer_arm(loop, &l->pause, ACCEPT_PAUSE_MS, resume_accept);
            }
            return; /* EAGAIN, or a transient error (ECONNABORTED): retry on the next event */
        }
        if (__atomic_fetch_add(&srv->conns_now, 1, __ATOMIC_RELAXED) >= srv->cfg.max_conns) {
            /* Every 503 says when to come back. Plain text would be a protocol error to a TLS
             * client: it just gets the close. */
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nServer: pixd\r\n"
                                       "Content-Type: application/json\r\nContent-Length: 33\r\n"
                                       "Retry-After: 1\r\nConnection: close\r\n\r\n{\"error\": \"too many connections\"}";
            if (!l->tls)
                (void)!write(fd, busy, sizeof busy - 1);
            close(fd);
            __atomic_fetch_sub(&srv->conns_now, 1, __ATOMIC_RELAXED);
            continue;
        }
        conn_accepted(l->wk, fd, &peer, l->tls);
    }
}

static void on_tick(loop_t *loop, loop_timer_t *t)
{
    worker_t *wk = (worker_t *)((char *)t - offsetof(worker_t, tick));
    flush_log(wk);
    if (wk->draining && wk->nconns == 0) {
        loop_stop(loop);
        return;
    }
    loop_timer_arm(loop, t, wk->draining ? 20 : 1000, on_tick);
}

static void start_drain(loop_t *loop, void *arg)
{
    worker_t *wk = arg;
    wk->draining = true;
    for (int i = 0; i < wk->nlisteners; i++) {
        loop_timer_cancel(loop, &wk->listeners[i].pause);
        loop_watch_del(loop, &wk->listeners[i].w);
        close(wk->listeners[i].w.fd);
        wk->listeners[i].w.fd = -1;
    }
    conn_drain_all(wk);
    loop_timer_arm(loop, &wk->tick, 0, on_tick);
    sem_post(&wk->srv->draining);
}

static void force_stop(loop_t *loop, void *arg)
{
    loop_stop(loop);
}

static void *worker_main(void *arg)
{
    worker_t *wk = arg;
    loop_timer_arm(wk->loop, &wk->tick, 1000, on_tick);
    loop_run(wk->loop);
    flush_log(wk);
    return NULL;
}

/* Opens worker wk's SO_REUSEPORT socket on *addr. The first worker's bind fixes a port
 * asked as 0 (*port, *addr) for the others to join. 0 or -1 with a message. */
static int open_listener(worker_t *wk, const char *name, sock_addr_t *addr, int *port, struct tls_ctx *tls)
{
    /* SO_REUSEPORT would also let this process share a port another one (of the same user)
     * listens on, taking part of its connections: the first worker makes sure it is free. */
    uint16_t want = addr->addr.ss_family == AF_INET ? ((struct sockaddr_in *)&addr->addr)->sin_port
                                                     : ((struct sockaddr_in6 *)&addr->addr)->sin6_port;
    int probe = wk->id == 0 && want ? sock_listen(addr, false, 1) : 0;
    if (probe < 0) {
        fprintf(stderr, "pixd: cannot listen on %s: %s\n", name, strerror(-probe));
        return -1;
    }
    if (probe > 0)
        close(probe);
    int fd = sock_listen(addr, true, 4096);
    if (fd < 0) {
        fprintf(stderr, "pixd: cannot listen on %s: %s\n", name, strerror(-fd));
        return -1;
    }
    if (wk->id == 0 && sock_local_port(fd) > 0) {
        *port = sock_local_port(fd);
        if (addr->addr.ss_family == AF_INET)
            ((struct sockaddr_in *)&addr->addr)->sin_port = htons((uint16_t)*port);
        else
            ((struct sockaddr_in6 *)&addr->addr)->sin6_port = htons((uint16_t)*port);
    }
    int secs = 1; /* wake accept() only when the request's (or the TLS hello's) first bytes are in */
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
    listener_t *l = &wk->listeners[wk->nlisteners++];
    l->wk = wk;
    l->tls = tls;
    loop_watch_add(wk->loop, &l->w, fd, EPOLLIN, on_accept);
    return 0;
}

/* A source changed (avatar store, on its watching loop): its variants go at once; all of them
 * when the default did (it is every unknown user's source) or events were lost. */
static void avatar_changed(void *arg, const char *uid, size_t n)
{
    server_t *srv = arg;
    if (uid)
        variant_drop_group(srv->variants, uid, n);
    else
        variant_drop_all(srv->variants);
}

void server_worker_stats(const server_t *srv, worker_stats_t *out)
{
    *out = (worker_stats_t){0};
    for (int i = 0; i < srv->nworkers; i++) {
        const worker_stats_t *st = &srv->workers[i].stats;
        out->conns_total += __atomic_load_n(&st->conns_total, __ATOMIC_RELAXED);
        out->conns_open += __atomic_load_n(&st->conns_open, __ATOMIC_RELAXED);
        out->requests += __atomic_load_n(&st->requests, __ATOMIC_RELAXED);
        out->buf_bytes += __atomic_load_n(&st->buf_bytes, __ATOMIC_RELAXED);
    }
}

int server_reload(server_t *srv)
{
    char err[512];
    int r = 0;
    if (srv->tls && tls_ctx_reload(srv->tls, srv->cfg.tls_cert, srv->cfg.tls_key, err, sizeof err) != 0) {
        fprintf(stderr, "pixd: reload: %s; the old certificate stays in use\n", err);
        r = -1;
    }
    if (upload_reload(srv->upload, err, sizeof err) != 0) {
        fprintf(stderr, "pixd: reload: %s; the old upload tokens and keys stay in use\n", err);
        r = -1;
    }
    return r;
}

int server_start(server_t *srv, const server_config_t *cfg)
{
    char err[256];
    memset(srv, 0, sizeof *srv);
    sem_init(&srv->draining, 0, 0);
    srv->cfg = *cfg;
    srv->log_fd = -1;
    srv->started_s = time(NULL);
    if (sock_resolve(cfg->listen, &srv->addr, err, sizeof err) != 0 ||
        (cfg->tls_listen[0] && sock_resolve(cfg->tls_listen, &srv->tls_addr, err, sizeof err) != 0)) {
        fprintf(stderr, "pixd: %s\n", err);
        return -1;
    }
    if (cfg->tls_listen[0]) {
        /* SO_REUSEPORT would let both bind one address and split connections between them. */
        char plain[128], tls[128];
        sock_format(&srv->addr, plain, sizeof plain);
        sock_format(&srv->tls_addr, tls, sizeof tls);
        size_t n = strlen(plain);
        if (strcmp(plain, tls) == 0 && !(n >= 2 && strcmp(plain + n - 2, ":0") == 0)) {
            fprintf(stderr, "pixd: --listen and --tls-listen are the same address (%s)\n", tls);
            return -1;
        }
    }
    if (cfg->tls_listen[0] && !(srv->tls = tls_ctx_server(cfg->tls_cert, cfg->tls_key, err, sizeof err))) {
        fprintf(stderr, "pixd: %s\n", err);
        return -1;
    }
    if (cfg->access_log[0]) {
        srv->log_fd = open(cfg->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (srv->log_fd < 0) {
            fprintf(stderr, "pixd: cannot open access log %s: %s\n", cfg->access_log, strerror(errno));
            return -1;
        }
    }
    srv->avatars = avatar_store_new(cfg, err, sizeof err);
    if (!srv->avatars) {
        fprintf(stderr, "pixd: %s\n", err);
        return -1;
    }
    srv->pool = pool_new(cfg->image_workers, cfg->max_queue, err, sizeof err);
    if (!srv->pool) {
        fprintf(stderr, "pixd: %s\n", err);
        return -1;
    }
    srv->magic = magic_new(&srv->cfg, srv->pool);
    srv->variants = variant_cache_new(cfg->variant_cache_bytes, cfg->variants_per_source, cfg->renders_per_client,
                                      srv->pool);
    if (!srv->magic || !srv->variants) {
        fprintf(stderr, "pixd: out of memory\n");
        return -1;
    }
    avatar_store_on_change(srv->avatars, avatar_changed, srv);
    int dirfd = open(cfg->avatars, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    err[0] = '\0';
    srv->hashes = dirfd >= 0 ? hashindex_open(dirfd, err, sizeof err) : NULL;
    if (dirfd >= 0)
        close(dirfd);
    if (srv->hashes && err[0])
        fprintf(stderr, "pixd: warning: %s/.pixd-index: %s\n", cfg->avatars, err);
    srv->upload = srv->hashes ? upload_new(cfg, srv->hashes, srv->avatars, err, sizeof err) : NULL;
    if (!srv->upload) {
        fprintf(stderr, "pixd: %s\n", dirfd < 0 ? strerror(errno) : err);
        return -1;
    }
    /* The handler table: each is offered the paths under its prefix, in order; then 404. */
    static const req_handler_t table[] = {
        REQ_HANDLER("/status", stats_handle, "status"), REQ_HANDLER("/metrics", metrics_handle, "metrics"),
        REQ_HANDLER("/healthz", health_handle, "healthz"), REQ_HANDLER("/magic/", magic_handle, "magic"),
        REQ_HANDLER("/demo/", demo_handle, "demo"),
        REQ_HANDLER("/", page_handle, "page"), REQ_HANDLER("/", avatar_handle, "avatar")};
    _Static_assert(sizeof table <= sizeof srv->handlers, "room for the handler table");
    memcpy(srv->handlers, table, sizeof table);
    srv->nhandlers = sizeof table / sizeof table[0];
    srv->nworkers = cfg->threads;
    srv->workers = calloc((size_t)srv->nworkers, sizeof *srv->workers);
    if (!srv->workers) {
        fprintf(stderr, "pixd: out of memory\n");
        return -1;
    }
    for (int i = 0; i < srv->nworkers; i++) {
        worker_t *wk = &srv->workers[i];
        wk->srv = srv;
        wk->id = i;
        wk->loop = loop_new();
        wk->bufs.size = CONN_READ_CHUNK;
        wk->fetch = wk->loop ? fetch_new(wk->loop, srv) : NULL;
        if (!wk->loop || !wk->fetch) {
            fprintf(stderr, "pixd: cannot start worker %d: %s\n", i, strerror(errno));
            return -1;
        }
        if (open_listener(wk, cfg->listen, &srv->addr, &srv->port, NULL) != 0 ||
            (srv->tls && open_listener(wk, cfg->tls_listen, &srv->tls_addr, &srv->tls_port, srv->tls) != 0))
            return -1;
    }
    if (avatar_store_watch(srv->avatars, srv->workers[0].loop) != 0)
        fprintf(stderr, "pixd: warning: cannot watch %s for changes; files are re-read on cache expiry\n",
                cfg->avatars);
    for (int i = 0; i < srv->nworkers; i++) {
        int e = pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]);
        if (e != 0) { /* an error at startup: the process exits, with the threads started */
            fprintf(stderr, "pixd: cannot start worker thread %d: %s\n", i, strerror(e));
            return -1;
        }
    }
    return 0;
}

void server_stop(server_t *srv, uint32_t drain_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += drain_ms / 1000;
    ts.tv_nsec += (long)(drain_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    for (int i = 0; i < srv->nworkers; i++)
        loop_post(srv->workers[i].loop, start_drain, &srv->workers[i]);
    /* Queued jobs get 503 now, the drain waits for no backlog. Only once every loop drains:
     * a refusal answered on a loop (a download that completes and finds the pool closed)
     * must say "Connection: close" like every other answer of the drain. */
    for (int i = 0; i < srv->nworkers; i++)
        while (sem_timedwait(&srv->draining, &ts) != 0 && errno == EINTR)
            ;
    pool_drain(srv->pool);
    for (int i = 0; i < srv->nworkers; i++) {
        if (pthread_timedjoin_np(srv->workers[i].thread, NULL, &ts) != 0) {
            loop_post(srv->workers[i].loop, force_stop, NULL);
            pthread_join(srv->workers[i].thread, NULL);
        }
    }
}

void server_free(server_t *srv)
{
    /* The pool first: its last jobs post their answers to the loops, which must still exist. */
    pool_free(srv->pool);
    magic_free(srv->magic);
    for (int i = 0; i < srv->nworkers; i++) {
        worker_t *wk = &srv->workers[i];
        /* Connections still open after a forced stop: their memory goes with the process. */
        buf_free(&wk->log);
        buf_pool_free(&wk->bufs);
        fetch_free(wk->fetch);
        loop_free(wk->loop);
    }
    free(srv->workers);
    upload_free(srv->upload);
    sem_destroy(&srv->draining);
    hashindex_free(srv->hashes);
    variant_cache_free(srv->variants);
    avatar_store_free(srv->avatars);
    tls_ctx_free(srv->tls);
    if (srv->log_fd >= 0)
        close(srv->log_fd);
}
