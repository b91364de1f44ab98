#include "server/fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "http/url.h"

#define FETCH_MAX_REDIRECTS 3

typedef struct sock {
    loop_watch_t w; /* first: the loop hands us this pointer */
    fetch_t *f;
    struct sock *next_dead;
} sock_t;

typedef struct transfer {
    CURL *easy;
    fetch_t *f;
    fetch_cb cb;
    void *arg;
    buf_t data;
    uint64_t charged; /* of the server's memory budget, ahead of data in steps */
    bool blocked, too_big, no_memory;
} transfer_t;

#define CHARGE_STEP (256u << 10)

struct fetch {
    loop_t *loop;
    server_t *srv;
    const server_config_t *cfg;
    CURLM *multi;
    loop_timer_t timer;
    sock_t *dead; /* removed sockets, freed after the current batch of events */
    bool reap_posted;
};

/* ---- the SSRF guard ------------------------------------------------------------------ */

/* Ranges no download may reach by default (RFC 6890 special-purpose addresses). */
static const char *const blocked[] = {
    "0.0.0.0/8",       "10.0.0.0/8",     "100.64.0.0/10",   "127.0.0.0/8",   "169.254.0.0/16",
    "172.16.0.0/12",   "192.0.0.0/24",   "192.0.2.0/24",    "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",     "240.0.0.0/4",
    /* IPv6, and the forms that embed an IPv4 address (v4-mapped and 64:ff9b::/96 ones are
     * judged by their IPv4 address, see fetch_addr_allowed). fec0::/10 is site-local:
     * deprecated (RFC 3879) but still routed inside some sites. */
    "::/96",           "::1/128",        "2002::/16",       "2001::/32",      "2001:db8::/32",
    "fc00::/7",        "fe80::/10",      "fec0::/10",       "ff00::/8",
    /* Local-use NAT64 (RFC 8215): the operator's own translator, and where the IPv4 address
     * sits depends on a prefix length we cannot know (RFC 6052 §2.2): all of it. */
    "64:ff9b:1::/48",
};

/* The well-known NAT64 prefix (RFC 6052): 64:ff9b::a.b.c.d reaches a.b.c.d. */
static const uint8_t nat64_wkp[12] = {0x00, 0x64, 0xff, 0x9b};

/* Parses "ADDR/BITS" into a 16-byte address (IPv4 as v4-mapped) and a prefix on that scale. */
static bool parse_cidr(const char *s, uint8_t net[16], int *bits)
{
    char host[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n >= sizeof host)
        return false;
    memcpy(host, s, n);
    host[n] = 0;
    struct in_addr a4;
    int max;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        memset(net, 0, 10);
        net[10] = net[11] = 0xff;
        memcpy(net + 12, &a4, 4);
        max = 32;
    } else if (inet_pton(AF_INET6, host, net) == 1) {
        max = 128;
    } else {
        return false;
    }
    int b = max;
    if (slash) {
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || v < 0 || v > max)
            return false;
        b = (int)v;
    }
    *bits = b + (128 - max);
    return true;
}

static bool in_range(const uint8_t a[16], const uint8_t net[16], int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

static bool covered(const uint8_t a[16], const char *cidr)
{
    uint8_t net[16];
    int bits;
    return parse_cidr(cidr, net, &bits) && in_range(a, net, bits);
}

bool fetch_cidr_valid(const char *cidr)
{
    uint8_t net[16];
    int bits;
    return parse_cidr(cidr, net, &bits);
}

bool fetch_addr_allowed(const struct sockaddr *sa, const char (*allow)[64], int nallow)
{
    uint8_t a[16];
    if (sa->sa_family == AF_INET) {
        memset(a, 0, 10);
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return false;
    }
    for (int i = 0; i < nallow; i++)
        if (covered(a, allow[i]))
            return true;
    if (memcmp(a, nat64_wkp, sizeof nat64_wkp) == 0) {
        /* A NAT64 gateway connects to the embedded IPv4 address: judge that one by the IPv4
         * rules and allowed ranges. RFC 6052 §3.1 forbids non-global IPv4 behind this
         * prefix, but nothing makes a gateway enforce it. */
        struct sockaddr_in v4 = {.sin_family = AF_INET};
        memcpy(&v4.sin_addr, a + 12, 4);
        return fetch_addr_allowed((const struct sockaddr *)&v4, allow, nallow);
    }
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        if (covered(a, blocked[i]))
            return false;
    return true;
}

/* ---- curl callbacks ------------------------------------------------------------------ */

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    transfer_t *t = clientp;
    if (!fetch_addr_allowed(&addr->addr, t->f->cfg->fetch_allow, t->f->cfg->fetch_allow_n)) {
        t->blocked = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    transfer_t *t = arg;
    if (buf_size(&t->data) + n > t->f->cfg->fetch_max_bytes) {
        t->too_big = true;
        return 0; /* aborts the transfer */
    }
    uint64_t need = buf_size(&t->data) + n;
    if (need > t->charged) { /* downloads share the budget of request bodies */
        uint64_t step = (need - t->charged + CHARGE_STEP - 1) / CHARGE_STEP * CHARGE_STEP;
        if (!server_mem_charge(t->f->srv, step)) {
            t->no_memory = true;
            return 0;
        }
        t->charged += step;
    }
    return buf_append(&t->data, p, n) == 0 ? n : 0;
}

static void reap(loop_t *loop, void *arg)
{
    fetch_t *f = arg;
    f->reap_posted = false;
    while (f->dead) {
        sock_t *s = f->dead;
        f->dead = s->next_dead;
        free(s);
    }
}

static void finish(fetch_t *f, CURL *easy, CURLcode rc)
{
    transfer_t *t;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_off_t connect_us = 0;
    curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    bool connected = connect_us > 0;
    curl_multi_remove_handle(f->multi, easy);
    curl_easy_cleanup(easy);

    int status = 0;
    const char *reason = NULL;
    if (t->blocked) {
        status = 403, reason = "image_url address not allowed";
    } else if (t->no_memory) {
        status = 503, reason = "too many downloads in memory";
    } else if (t->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        status = 413, reason = "downloaded image too large";
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        /* No connection at all is a different fault to report (an origin whose listen queue
         * overflows drops the SYN: curl retries it until the connect timeout). */
        status = 504, reason = connected ? "image_url download timed out" : "image_url connect timed out";
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL) { /* a redirect to file:, gopher: ... */
        status = 403, reason = "image_url scheme not allowed";
    } else if (rc == CURLE_TOO_MANY_REDIRECTS) {
        status = 502, reason = "image_url redirected too often";
    } else if (rc != CURLE_OK) {
        status = 502, reason = "image_url download failed";
    } else if (code == 404 || code == 410) {
        status = 404, reason = "image_url not found upstream";
    } else if (code < 200 || code > 299) {
        status = 502, reason = "image_url upstream error";
    }
    if (status) {
        server_mem_release(f->srv, t->charged);
        buf_free(&t->data);
        t->cb(t->arg, status, reason, NULL, 0);
    } else {
        /* Hand the bytes over with their charge (data starts at offset 0: only appended to). */
        server_mem_release(f->srv, t->charged - buf_size(&t->data));
        t->cb(t->arg, 0, NULL, (uint8_t *)t->data.data, buf_size(&t->data));
    }
    free(t);
}

static void check_done(fetch_t *f)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(f->multi, &left)))
        if (m->msg == CURLMSG_DONE)
            finish(f, m->easy_handle, m->data.result);
}

static void on_sock(loop_t *loop, loop_watch_t *w, uint32_t events)
{
    sock_t *s = (sock_t *)w;
    fetch_t *f = s->f;
    int ev = (events & EPOLLIN ? CURL_CSELECT_IN : 0) | (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
             (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action(f->multi, w->fd, ev, &running);
    check_done(f);
}

static void on_dead_sock(loop_t *loop, loop_watch_t *w, uint32_t events)
{
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    fetch_t *f = userp;
    sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            /* Freed after this batch: an event for it may still be pending in the batch. */
            loop_watch_del(f->loop, &s->w);
            s->w.cb = on_dead_sock;
            s->next_dead = f->dead;
            f->dead = s;
            if (!f->reap_posted && loop_post(f->loop, reap, f) == 0)
                f->reap_posted = true;
            curl_multi_assign(f->multi, fd, NULL);
        }
        return 0;
    }
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        s->f = f;
        if (loop_watch_add(f->loop, &s->w, fd, ev, on_sock) != 0) {
            free(s);
            return -1;
        }
        curl_multi_assign(f->multi, fd, s);
        return 0;
    }
    return loop_watch_mod(f->loop, &s->w, ev) == 0 ? 0 : -1;
}

static void on_timer(loop_t *loop, loop_timer_t *tm)
{
    fetch_t *f = (fetch_t *)((char *)tm - offsetof(fetch_t, timer));
    int running;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(f);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    fetch_t *f = userp;
    if (timeout_ms < 0)
        loop_timer_cancel(f->loop, &f->timer);
    else /* never act from inside curl: the loop fires it, even for 0 */
        loop_timer_arm(f->loop, &f->timer, (uint64_t)timeout_ms, on_timer);
    return 0;
}

/* ---- public -------------------------------------------------------------------------- */

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT); /* not thread-safe: once, before any handle */
}

fetch_t *fetch_new(loop_t *loop, server_t *srv)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    fetch_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->loop = loop;
    f->srv = srv;
    f->cfg = &srv->cfg;
    f->multi = curl_multi_init();
    if (!f->multi) {
        free(f);
        return NULL;
    }
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    return f;
}

void fetch_free(fetch_t *f)
{
    if (!f)
        return;
    curl_multi_cleanup(f->multi);
    reap(f->loop, f);
    free(f);
}

int fetch_start(fetch_t *f, const char *url, fetch_cb cb, void *arg)
{
    url_t u;
    url_status_t st = url_parse(url, strlen(url), &u);
    if (st == URL_ERR_SCHEME)
        return 403;
    if (st != URL_OK)
        return 400;
    transfer_t *t = calloc(1, sizeof *t);
    CURL *e = curl_easy_init();
    if (!t || !e) {
        free(t);
        curl_easy_cleanup(e);
        return 503;
    }
    t->easy = e;
    t->f = f;
    t->cb = cb;
    t->arg = arg;
    const server_config_t *cfg = f->cfg;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRECTS);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->fetch_connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->fetch_timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->fetch_max_bytes);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "pixd/" PIXD_VERSION);
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        free(t);
        return 503;
    }
    return 0;
}
