/*
 * pixload's response framing, end to end: the engine against a tiny blocking server that
 * answers every request with one canned response. A body framed the wrong way shows as a
 * timeout (pixload waits for a close that never comes), as a read error, or as extra
 * connections (a keep-alive body read as close-delimited).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load/config.h"
#include "load/engine.h"
#include "load/scenario.h"
#include "load/stats.h"

#define REQUESTS 4

typedef struct {
    int lfd;
    const char *resp;
    size_t resp_len;
    bool close_each; /* close after each answer: the only framing of a close-delimited body */
    int answers, conns;
} server_t;

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Accepts until the listener is shut down; answers each request head (pixload sends GETs
 * without a body) with s->resp. */
static void *serve(void *arg)
{
    server_t *s = arg;
    int fd;
    while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
        s->conns++;
        char buf[4096];
        size_t have = 0;
        for (;;) {
            char *end = memmem(buf, have, "\r\n\r\n", 4);
            if (end) {
                size_t used = (size_t)(end + 4 - buf);
                memmove(buf, buf + used, have - used);
                have -= used;
                if (!write_all(fd, s->resp, s->resp_len)) break;
                s->answers++;
                if (s->close_each) break;
                continue;
            }
            ssize_t n = have < sizeof buf ? read(fd, buf + have, sizeof buf - have) : -1;
            if (n <= 0) break;
            have += (size_t)n;
        }
        close(fd);
    }
    return NULL;
}

/* Runs pixload -n REQUESTS -c 1 against a server answering `resp`; returns the totals. */
static void run(const char *resp, size_t resp_len, bool close_each, stats_entry_t *total, uint64_t *connects,
                server_t *srv)
{
    *srv = (server_t){.resp = resp, .resp_len = resp_len, .close_each = close_each};
    srv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(srv->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(srv->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv->lfd, 16), 0);
    assert_int_equal(getsockname(srv->lfd, (struct sockaddr *)&a, &alen), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve, srv), 0);

    char url[64], n[16], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", ntohs(a.sin_port));
    snprintf(n, sizeof n, "%d", REQUESTS);
    char *argv[] = {"pixload", "-q", "-c", "1", "-n", n, "--timeout", "2s", url, NULL};
    load_config_t cfg;
    assert_int_equal(load_config_parse(&cfg, 9, argv, 1, err, sizeof err), LOAD_CONFIG_RUN);
    scenario_t sc;
    assert_int_equal(scenario_build(&sc, &cfg, err, sizeof err), 0);
    sock_addr_t addr = {.len = sizeof a};
    memcpy(&addr.addr, &a, sizeof a);
    engine_t *e = engine_start(&cfg, &sc, &addr, err, sizeof err);
    if (!e) fail_msg("engine_start: %s", err);
    unsigned sec = 1;
    engine_event_t ev;
    while ((ev = engine_wait(e, sec, 100)) != ENGINE_ENDED)
        if (ev == ENGINE_SECOND) sec++;
    stats_t st;
    assert_int_equal(stats_init(&st, sc.nstats), 0);
    engine_result(e, &st);
    engine_free(e);
    stats_aggregate(&st, total);
    *connects = st.connects;
    stats_free(&st);
    scenario_free(&sc);
    load_config_free(&cfg);

    shutdown(srv->lfd, SHUT_RDWR); /* ends the blocking accept() */
    pthread_join(th, NULL);
    close(srv->lfd);
}

static void check(const char *what, const char *resp, size_t resp_len, bool close_each, uint64_t body_bytes,
                  uint64_t want_connects)
{
    stats_entry_t t;
    uint64_t connects;
    server_t srv;
    run(resp, resp_len, close_each, &t, &connects, &srv);
    if (t.requests != REQUESTS || t.failures != 0 || t.status[stats_status_slot(200)] != REQUESTS)
        fail_msg("%s: %llu requests, %llu failures (timeout %llu, read %llu), %llu answered 200", what,
                 (unsigned long long)t.requests, (unsigned long long)t.failures,
                 (unsigned long long)t.errors[STATS_ERR_TIMEOUT],
                 (unsigned long long)t.errors[STATS_ERR_READ],
                 (unsigned long long)t.status[stats_status_slot(200)]);
    if (t.content_bytes != REQUESTS * body_bytes)
        fail_msg("%s: %llu content bytes, want %llu", what, (unsigned long long)t.content_bytes,
                 (unsigned long long)(REQUESTS * body_bytes));
    if (connects != want_connects || srv.conns != (int)want_connects || srv.answers != REQUESTS)
        fail_msg("%s: %llu connections (server: %d, %d answers), want %llu", what,
                 (unsigned long long)connects, srv.conns, srv.answers, (unsigned long long)want_connects);
}

#define LIT(s) s, sizeof(s) - 1

static void test_chunked(void **state)
{
    check("chunked",
          LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), false,
          5, 1);
}

/* RFC 9112 §6.3: chunked as the final coding frames the body whatever comes before it. Read
 * as close-delimited, each answer would wait for a close that never comes: a timeout. */
static void test_coded_chunked(void **state)
{
    check(
        "gzip, chunked",
        LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\n\x1f\x8b\x08\x00\r\n0\r\n\r\n"),
        false, 4, 1);
    check("deflate;x=1, Chunked + CL",
          LIT("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: deflate;x=1, Chunked\r\n\r\n"
              "2\r\nxy\r\n0\r\nT: v\r\n\r\n"),
          false, 2, 1);
}

/* Without a final chunked the body runs until the server closes: one connection each. */
static void test_until_close(void **state)
{
    check("gzip", LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00zz"), true, 6,
          REQUESTS);
    check("chunked, gzip", LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n"),
          true, 8, REQUESTS);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_coded_chunked),
        cmocka_unit_test(test_until_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
