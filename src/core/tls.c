#include "core/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* The largest plaintext a record carries: small buffers are gathered up to it so that a
 * response head and its body leave in one record (one write, one TCP push), as nginx's
 * ssl_buffer_size does. */
#define TLS_RECORD 16384

struct tls_ctx {
    pthread_mutex_t lock; /* ssl may be replaced (tls_ctx_reload) while connections start */
    SSL_CTX *ssl;
    bool server;
};

typedef struct {
    SSL *ssl;
    bool failed;          /* after a fatal error OpenSSL forbids SSL_shutdown */
} tls_conn_t;

static void set_err(char *err, size_t errlen, const char *what, const char *arg)
{
    char ssl[160];
    ERR_error_string_n(ERR_get_error(), ssl, sizeof ssl);
    snprintf(err, errlen, "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "", ssl);
    ERR_clear_error();
}

/* ALPN (wire format: length-prefixed names). The server prefers h2 and still speaks
 * http/1.1; a client offers http/1.1 unless told to offer h2 too. */
static const unsigned char alpn_http11[] = "\x08http/1.1";
static const unsigned char alpn_both[] = "\x02h2\x08http/1.1";

/* Server side of ALPN: the first of ours (h2, then http/1.1) that the client offers; a client
 * offering neither goes on without ALPN rather than failing, as nginx does. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, alpn_both, sizeof alpn_both - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* An SSL_CTX with what both sides share. NULL with a message in err. */
static SSL_CTX *ssl_new(bool server, char *err, size_t errlen)
{
    SSL_CTX *s = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!s) {
        set_err(err, errlen, "TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
    /* A peer that closes without close_notify is an ordinary EOF for HTTP with framed
     * messages (curl, wrk and browsers do it). */
    SSL_CTX_set_options(s, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    /* A blocked write is repeated from the same bytes but not always the same address (the
     * gathering buffer, an iovec moved up); idle connections give their buffers back. */
    SSL_CTX_set_mode(s, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    /* One read() per record batch instead of a header read and a body read per record;
     * what it reads beyond is reported through io->pending. */
    SSL_CTX_set_read_ahead(s, 1);
    return s;
}

static SSL_CTX *server_ssl(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    SSL_CTX *s = ssl_new(true, err, errlen);
    if (!s)
        return NULL;
    if (SSL_CTX_use_certificate_chain_file(s, cert_file) != 1) {
        set_err(err, errlen, "certificate", cert_file);
    } else if (SSL_CTX_use_PrivateKey_file(s, key_file, SSL_FILETYPE_PEM) != 1) {
        /* also when it is not the certificate's key ("key values mismatch") */
        set_err(err, errlen, "private key", key_file);
    } else {
        static const unsigned char sid[] = "pixd";
        SSL_CTX_set_session_id_context(s, sid, sizeof sid - 1);
        SSL_CTX_set_alpn_select_cb(s, alpn_select, NULL);
        return s;
    }
    SSL_CTX_free(s);
    return NULL;
}

static tls_ctx_t *ctx_wrap(SSL_CTX *s, bool server, char *err, size_t errlen)
{
    tls_ctx_t *c = s ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        if (s)
            snprintf(err, errlen, "out of memory");
        SSL_CTX_free(s);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->ssl = s;
    c->server = server;
    return c;
}

tls_ctx_t *tls_ctx_server(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    return ctx_wrap(server_ssl(cert_file, key_file, err, errlen), true, err, errlen);
}

int tls_ctx_reload(tls_ctx_t *ctx, const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    SSL_CTX *s = server_ssl(cert_file, key_file, err, errlen);
    if (!s)
        return -1;
    pthread_mutex_lock(&ctx->lock);
    SSL_CTX *old = ctx->ssl;
    ctx->ssl = s;
    pthread_mutex_unlock(&ctx->lock);
    SSL_CTX_free(old); /* connections made from it hold their own reference */
    return 0;
}

tls_ctx_t *tls_ctx_client(char *err, size_t errlen)
{
    tls_ctx_t *c = ctx_wrap(ssl_new(false, err, errlen), false, err, errlen);
    if (c) {
        SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_alpn_protos(c->ssl, alpn_http11, sizeof alpn_http11 - 1);
    }
    return c;
}

int tls_ctx_client_offer_h2(tls_ctx_t *ctx)
{
    return SSL_CTX_set_alpn_protos(ctx->ssl, alpn_both, sizeof alpn_both - 1) == 0 ? 0 : -1;
}

bool io_tls_alpn_h2(const io_t *io)
{
    const tls_conn_t *t = io->tls;
    const unsigned char *p = NULL;
    unsigned n = 0;
    if (t)
        SSL_get0_alpn_selected(t->ssl, &p, &n);
    return n == 2 && memcmp(p, "h2", 2) == 0;
}

void tls_ctx_free(tls_ctx_t *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

/* Maps an OpenSSL failure onto the io return convention; a write never answers 0. */
static ssize_t failed(io_t *io, tls_conn_t *t, int ret, bool writing)
{
    int sys = errno;
    int e = SSL_get_error(t->ssl, ret);
    ERR_clear_error();
    switch (e) {
    case SSL_ERROR_WANT_READ:
        io->want = EPOLLIN;
        return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        io->want = EPOLLOUT;
        return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN: /* close_notify: the peer is done sending */
        return writing ? -EPIPE : 0;
    case SSL_ERROR_SYSCALL:
        t->failed = true;
        return sys && sys != EAGAIN ? -sys : -EIO; /* errno is cleared before each call */
    default: /* a protocol error: bad handshake, bad record, plain HTTP on a TLS port */
        t->failed = true;
        return IO_EPROTO;
    }
}

static ssize_t tls_read(io_t *io, void *buf, size_t n)
{
    tls_conn_t *t = io->tls;
    size_t got;
    ERR_clear_error(); /* SSL_get_error reads the queue: nothing else's errors in it */
    errno = 0;
    int ret = SSL_read_ex(t->ssl, buf, n, &got);
    if (ret == 1) {
        /* The rest of a record larger than buf, or records read ahead: no epoll event
         * will come for them. */
        io->pending = SSL_has_pending(t->ssl) == 1;
        return (ssize_t)got;
    }
    io->pending = false;
    return failed(io, t, ret, false);
}

/* The gathering buffer, one per thread rather than per connection: an idle keep-alive
 * connection then holds no buffer at all (OpenSSL's own are released too). OpenSSL keeps no
 * pointer into it once SSL_write returns, the record it could not send is already in its own
 * buffer, and a retried write gathers the same bytes again. */
static __thread unsigned char stage[TLS_RECORD];

static ssize_t tls_writev(io_t *io, const struct iovec *iov, int iovcnt)
{
    tls_conn_t *t = io->tls;
    const void *p = iov[0].iov_base;
    size_t n = iov[0].iov_len;
    if (iovcnt > 1 && n < TLS_RECORD) {
        n = 0;
        for (int i = 0; i < iovcnt && n < TLS_RECORD; i++) {
            size_t k = iov[i].iov_len < TLS_RECORD - n ? iov[i].iov_len : TLS_RECORD - n;
            memcpy(stage + n, iov[i].iov_base, k);
            n += k;
        }
        p = stage;
    }
    if (n == 0)
        return 0;
    size_t done;
    ERR_clear_error();
    errno = 0;
    int ret = SSL_write_ex(t->ssl, p, n, &done);
    return ret == 1 ? (ssize_t)done : failed(io, t, ret, true);
}

/* close_notify, once, and only on a session that is up and sound. */
static void notify(tls_conn_t *t)
{
    if (!t->failed && SSL_is_init_finished(t->ssl) && !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) {
        SSL_shutdown(t->ssl); /* best effort: a full socket buffer drops it */
        ERR_clear_error();
    }
}

static void tls_shutdown(io_t *io)
{
    notify(io->tls);
    shutdown(io->fd, SHUT_WR);
}

static void tls_close(io_t *io)
{
    tls_conn_t *t = io->tls;
    if (t) {
        notify(t);
        SSL_free(t->ssl);
        free(t);
        io->tls = NULL;
    }
    if (io->fd >= 0)
        close(io->fd);
    io->fd = -1;
    io->pending = false;
}

static const io_ops_t io_tls = {tls_read, tls_writev, NULL, tls_shutdown, tls_close};

int io_init_tls(io_t *io, int fd, tls_ctx_t *ctx, const char *server_name)
{
    tls_conn_t *t = calloc(1, sizeof *t);
    pthread_mutex_lock(&ctx->lock);
    SSL *ssl = t ? SSL_new(ctx->ssl) : NULL; /* takes a reference to the SSL_CTX */
    pthread_mutex_unlock(&ctx->lock);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        free(t);
        ERR_clear_error();
        return -ENOMEM;
    }
    if (ctx->server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (server_name)
            SSL_set_tlsext_host_name(ssl, server_name);
    }
    t->ssl = ssl;
    io_init_plain(io, fd);
    io->ops = &io_tls;
    io->tls = t;
    return 0;
}
