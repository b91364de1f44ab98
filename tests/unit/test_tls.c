/* tls: a server and a client transport over a non-blocking socket pair, driven by hand as
 * the event loops drive them: the handshake inside the first reads and writes, data gathered
 * from many small buffers through tiny socket buffers (blocked writes repeated with the same
 * bytes, two connections sharing the thread's gathering buffer), input held inside the
 * transport reported by io->pending, close_notify as EOF, a non-TLS peer as an error, and
 * context errors that name the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/tls.h"

static char cert_path[64], key_path[64];

/* A throw-away self-signed P-256 certificate, written to two temporary PEM files. */
static int make_cert(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(key);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    snprintf(cert_path, sizeof cert_path, "/tmp/test_tls_cert_XXXXXX");
    snprintf(key_path, sizeof key_path, "/tmp/test_tls_key_XXXXXX");
    FILE *fc = fdopen(mkstemp(cert_path), "w"), *fk = fdopen(mkstemp(key_path), "w");
    assert_non_null(fc);
    assert_non_null(fk);
    assert_true(PEM_write_X509(fc, x));
    assert_true(PEM_write_PrivateKey(fk, key, NULL, NULL, 0, NULL, NULL));
    fclose(fc);
    fclose(fk);
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
}

static int drop_cert(void **state)
{
    unlink(cert_path);
    unlink(key_path);
    return 0;
}

typedef struct {
    tls_ctx_t *sctx, *cctx;
    io_t srv, cli;
} pair_t;

/* Socket buffers as small as the kernel allows, so that writes block often. */
static void pair_open(pair_t *p, int sndbuf)
{
    char err[256];
    p->sctx = tls_ctx_server(cert_path, key_path, err, sizeof err);
    p->cctx = tls_ctx_client(err, sizeof err);
    assert_non_null(p->sctx);
    assert_non_null(p->cctx);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    if (sndbuf) {
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    assert_int_equal(io_init_tls(&p->srv, sv[0], p->sctx, NULL), 0);
    assert_int_equal(io_init_tls(&p->cli, sv[1], p->cctx, "localhost"), 0);
}

static void pair_close(pair_t *p)
{
    p->srv.ops->close(&p->srv);
    p->cli.ops->close(&p->cli);
    tls_ctx_free(p->sctx);
    tls_ctx_free(p->cctx);
}

/* One direction of a connection driven by hand, as a loop would: `len` bytes given as
 * iovecs of `piece` bytes, written with the very same iovecs again after IO_AGAIN, read back
 * and compared. */
typedef struct {
    io_t *from, *to;
    const uint8_t *data;
    struct iovec *iov;
    uint8_t *got;
    size_t len, n, first, sent, recvd;
    int blocked, rounds;
} stream_t;

static void stream_open(stream_t *s, io_t *from, io_t *to, const uint8_t *data, size_t len, size_t piece)
{
    *s = (stream_t){.from = from, .to = to, .data = data, .len = len, .n = (len + piece - 1) / piece};
    s->iov = calloc(s->n, sizeof *s->iov);
    s->got = malloc(len);
    for (size_t i = 0; i < s->n; i++) {
        s->iov[i].iov_base = (void *)(data + i * piece);
        s->iov[i].iov_len = len - i * piece < piece ? len - i * piece : piece;
    }
}

/* A write attempt, and a small read every fourth round: the reader is slower than the
 * writer, which must then wait (with read-ahead one read empties the socket). True when
 * everything has arrived. */
static bool stream_step(stream_t *s)
{
    assert_true(++s->rounds < 1000000);
    if (s->sent < s->len) {
        int cnt = (int)(s->n - s->first) > 64 ? 64 : (int)(s->n - s->first);
        ssize_t w = s->from->ops->writev(s->from, s->iov + s->first, cnt);
        if (w == IO_AGAIN) {
            s->blocked++;
        } else {
            assert_true(w > 0);
            s->sent += (size_t)w;
            s->first = io_iov_advance(s->iov, (unsigned)s->first, (unsigned)s->n, (size_t)w);
        }
    }
    if (s->sent < s->len && s->rounds % 4)
        return false;
    size_t want = s->len - s->recvd < 700 ? s->len - s->recvd : 700;
    ssize_t r = s->to->ops->read(s->to, s->got + s->recvd, want);
    if (r != IO_AGAIN) {
        assert_true(r > 0);
        s->recvd += (size_t)r;
    }
    return s->recvd == s->len;
}

static void stream_close(stream_t *s, bool must_block)
{
    assert_int_equal(s->sent, s->len);
    assert_memory_equal(s->got, s->data, s->len);
    if (must_block)
        assert_true(s->blocked > 0); /* the tiny buffers did make writes wait */
    free(s->got);
    free(s->iov);
}

static void transfer(io_t *from, io_t *to, const uint8_t *data, size_t len, size_t piece, bool must_block)
{
    stream_t s;
    stream_open(&s, from, to, data, len, piece);
    while (!stream_step(&s))
        ;
    stream_close(&s, must_block);
}

static void test_handshake_and_data(void **state)
{
    pair_t p;
    pair_open(&p, 4096);
    size_t len = 300000;
    uint8_t *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 13);
    transfer(&p.cli, &p.srv, data, len, 37, true);    /* small pieces, gathered */
    transfer(&p.srv, &p.cli, data, len, 40000, true); /* large pieces, written direct */
    transfer(&p.srv, &p.cli, data, 1000, 1000, false); /* one small buffer */
    free(data);
    pair_close(&p);
}

/* Two connections on one thread take turns with gathered writes that block: the gathering
 * buffer is the thread's, so each retry must gather its own bytes again. */
static void test_two_connections_one_thread(void **state)
{
    pair_t a, b;
    pair_open(&a, 4096);
    pair_open(&b, 4096);
    size_t len = 200000;
    uint8_t *da = malloc(len), *db = malloc(len);
    for (size_t i = 0; i < len; i++) {
        da[i] = (uint8_t)(i * 2654435761u >> 13);
        db[i] = (uint8_t)~(i * 40503u >> 7);
    }
    stream_t sa, sb;
    stream_open(&sa, &a.cli, &a.srv, da, len, 37);
    stream_open(&sb, &b.cli, &b.srv, db, len, 29);
    bool done_a = false, done_b = false;
    while (!done_a || !done_b) {
        if (!done_a)
            done_a = stream_step(&sa);
        if (!done_b)
            done_b = stream_step(&sb);
    }
    stream_close(&sa, true);
    stream_close(&sb, true);
    free(da);
    free(db);
    pair_close(&a);
    pair_close(&b);
}

/* A large write leaves in batches of records: a call takes several records' worth (one send),
 * where a record per call was the rule, and the calls add up to the whole. */
static void test_batch(void **state)
{
    pair_t p;
    pair_open(&p, 0);
    transfer(&p.cli, &p.srv, (const uint8_t *)"x", 1, 1, false); /* handshake done */
    int big = 1 << 20;
    setsockopt(p.srv.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(p.cli.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    size_t len = 300000;
    uint8_t *data = malloc(len), *got = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 11);
    struct iovec v[2] = {{data, 100}, {data + 100, len - 100}}; /* gathered, then in place */
    unsigned first = 0;
    size_t sent = 0, n = 0;
    for (int call = 0; sent < len; call++) {
        ssize_t w = p.srv.ops->writev(&p.srv, v + first, 2 - (int)first);
        assert_true(w > 0);
        if (call == 0)
            assert_true(w >= 4 * 16384 && w % 16384 == 0);
        sent += (size_t)w;
        first = io_iov_advance(v, first, 2, (size_t)w);
        while (n < sent) { /* read as it goes: the socket pair's buffers are not endless */
            ssize_t r = p.cli.ops->read(&p.cli, got + n, len - n);
            assert_true(r > 0);
            n += (size_t)r;
        }
    }
    assert_memory_equal(got, data, len);
    free(data);
    free(got);
    pair_close(&p);
}

/* Three records arrive together; a reader with a small buffer gets them all through
 * io->pending, without another byte on the socket. */
static void test_pending(void **state)
{
    pair_t p;
    pair_open(&p, 0);
    transfer(&p.cli, &p.srv, (const uint8_t *)"hello, world", 12, 12, false); /* handshake done */
    static const char *msg[3] = {"first record ", "second record ", "third"};
    for (int i = 0; i < 3; i++) {
        struct iovec v = {(void *)msg[i], strlen(msg[i])};
        assert_int_equal(p.srv.ops->writev(&p.srv, &v, 1), (ssize_t)strlen(msg[i]));
    }
    char got[64] = {0};
    size_t n = 0;
    ssize_t r = p.cli.ops->read(&p.cli, got, 5);
    assert_int_equal(r, 5);
    n += 5;
    assert_true(p.cli.pending);
    while (p.cli.pending) {
        r = p.cli.ops->read(&p.cli, got + n, 5);
        if (r == IO_AGAIN)
            break;
        assert_true(r > 0);
        n += (size_t)r;
    }
    assert_string_equal(got, "first record second record third");
    assert_false(p.cli.pending);
    assert_int_equal(p.cli.ops->read(&p.cli, got, sizeof got), IO_AGAIN);
    assert_int_equal(p.cli.want, EPOLLIN);
    pair_close(&p);
}

/* The server's shutdown sends close_notify: the client reads EOF, not an error. */
static void test_close_notify(void **state)
{
    pair_t p;
    pair_open(&p, 0);
    transfer(&p.cli, &p.srv, (const uint8_t *)"x", 1, 1, false);
    p.srv.ops->shutdown(&p.srv);
    char buf[16];
    assert_int_equal(p.cli.ops->read(&p.cli, buf, sizeof buf), 0);
    pair_close(&p);
}

/* Plain HTTP on a TLS port is a protocol error for the read, which must not block. */
static void test_not_tls(void **state)
{
    char err[256];
    tls_ctx_t *ctx = tls_ctx_server(cert_path, key_path, err, sizeof err);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    io_t io;
    assert_int_equal(io_init_tls(&io, sv[0], ctx, NULL), 0);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(sv[1], req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    char buf[64];
    assert_int_equal(io.ops->read(&io, buf, sizeof buf), IO_EPROTO);
    io.ops->close(&io); /* no close_notify on a failed session, no crash */
    close(sv[1]);
    tls_ctx_free(ctx);
}

/* The peer ends the connection in the middle of the handshake: a write must fail, never
 * answer 0 (a caller would count 0 bytes as progress and retry forever). */
static void test_eof_in_handshake(void **state)
{
    char err[256];
    tls_ctx_t *ctx = tls_ctx_client(err, sizeof err);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    io_t io;
    assert_int_equal(io_init_tls(&io, sv[0], ctx, "localhost"), 0);
    struct iovec v = {(void *)"GET / HTTP/1.1\r\n\r\n", 18};
    assert_int_equal(io.ops->writev(&io, &v, 1), IO_AGAIN); /* the ClientHello is out */
    assert_int_equal(io.want, EPOLLIN);
    char hello[4096];
    assert_true(read(sv[1], hello, sizeof hello) > 0);
    shutdown(sv[1], SHUT_WR); /* EOF instead of a ServerHello; the socket stays writable */
    ssize_t r = io.ops->writev(&io, &v, 1);
    assert_true(r < 0 && r != IO_AGAIN);
    io.ops->close(&io);
    close(sv[1]);
    tls_ctx_free(ctx);
}

static void test_ctx_errors(void **state)
{
    char err[256];
    assert_null(tls_ctx_server("/nonexistent/cert.pem", key_path, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));
    /* The certificate file given as the key: no key in it. */
    assert_null(tls_ctx_server(cert_path, cert_path, err, sizeof err));
    assert_non_null(strstr(err, "private key"));
    /* A key that is not the certificate's. */
    char other[64];
    snprintf(other, sizeof other, "/tmp/test_tls_other_XXXXXX");
    FILE *f = fdopen(mkstemp(other), "w");
    EVP_PKEY *k = EVP_EC_gen("P-256");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    EVP_PKEY_free(k);
    assert_null(tls_ctx_server(cert_path, other, err, sizeof err));
    assert_non_null(strstr(err, other));
    assert_non_null(strstr(err, "mismatch"));
    unlink(other);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as pixd and pixload: a write to a closed peer is an error */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_data), cmocka_unit_test(test_two_connections_one_thread),
        cmocka_unit_test(test_pending),            cmocka_unit_test(test_batch),
        cmocka_unit_test(test_close_notify),       cmocka_unit_test(test_not_tls),
        cmocka_unit_test(test_eof_in_handshake),   cmocka_unit_test(test_ctx_errors),
    };
    return cmocka_run_group_tests(tests, make_cert, drop_cert);
}
