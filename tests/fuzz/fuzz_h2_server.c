/*
 * fuzz_h2_server: arbitrary bytes, after the client preface, into pixd's HTTP/2 server side: the
 * real conn.c/h2.c lifecycle with the same session options and callbacks, on a real loop, over
 * a socketpair. The handler table has two fake handlers: one answers at once with a body of
 * several DATA frames, one holds its request and answers on a later loop iteration (so resets
 * and closes meet held streams). Beside the sanitizers, it checks that once the client has
 * closed, the connection is gone and every byte of the body budget is given back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "http/h2.h"
#include "server/conn.h"

#define INPUT_MAX 60000 /* fits the socketpair's buffer: written whole before the server runs */

static char answer[40000]; /* three DATA frames */

static bool now_handle(req_t *r)
{
    static const char h[] = "Content-Type: application/octet-stream\r\nX-Fuzz: 1\r\nConnection: close\r\n";
    req_respond(r, 200, h, sizeof h - 1, answer, r->http->method == HTTP_METHOD_POST ? r->body_len : sizeof answer,
                NULL, NULL);
    return true;
}

typedef struct {
    req_t *r;
    bool cancelled;
} later_t;

static void later_cancel(void *arg)
{
    ((later_t *)arg)->cancelled = true;
}

static void later_answer(loop_t *loop, void *arg)
{
    later_t *l = arg;
    /* The answer is due even after a cancel: it then only frees. */
    req_respond(l->r, l->cancelled ? 503 : 200, "", 0, answer, 100, free, l);
}

static bool later_handle(req_t *r)
{
    if (!req_path_is(r, "/later"))
        return false;
    later_t *l = calloc(1, sizeof *l);
    l->r = r;
    req_hold(r, later_cancel, l);
    loop_post(r->wk->loop, later_answer, l);
    return true;
}

static server_t srv;
static worker_t wk;

static void stop(loop_t *loop, void *arg)
{
    loop_stop(loop);
}

static void setup(void)
{
    if (wk.loop)
        return;
    memset(answer, 'a', sizeof answer);
    server_config_defaults(&srv.cfg);
    srv.cfg.max_body = 1 << 20;
    srv.cfg.max_body_memory = 4 << 20;
    srv.log_fd = -1;
    srv.handlers[0] = (req_handler_t)REQ_HANDLER("/later", later_handle, "later");
    srv.handlers[1] = (req_handler_t)REQ_HANDLER("/", now_handle, "now");
    srv.nhandlers = 2;
    srv.nworkers = 1;
    srv.workers = &wk;
    wk.srv = &srv;
    wk.loop = loop_new();
    CHECK(wk.loop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_MAX)
        return 0;
    setup();
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    CHECK(write(sv[1], H2_PREFACE, H2_PREFACE_LEN) == H2_PREFACE_LEN);
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(sv[1], data + off, size - off);
        CHECK(n > 0);
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR); /* the client has said everything: EOF after it */
    sock_addr_t peer = {.len = sizeof(struct sockaddr_storage)};
    srv.conns_now++;
    conn_accepted(&wk, sv[0], &peer, NULL);
    char sink[65536];
    for (int i = 0; i < 100000 && wk.nconns; i++) {
        while (read(sv[1], sink, sizeof sink) > 0) /* the client reads whatever comes */
            ;
        loop_post(wk.loop, stop, NULL);
        loop_run(wk.loop);
    }
    CHECK(wk.nconns == 0);
    CHECK(srv.conns_now == 0);
    CHECK(__atomic_load_n(&srv.mem_used, __ATOMIC_RELAXED) == 0);
    close(sv[1]);
    return 0;
}
