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
/* Plaintext encrypted per write: its records leave in one send(). OpenSSL's socket BIO made
 * a system call per record (2.5 per 37 KB answer), and on this kind of VM a system call costs
 * more than the copy that gathering them takes. Four: eight measured 5 % less server CPU on
 * HTTP/2's 37 KB answers to h2load (a client that reads late), 9 % more to pixload (one that
 * reads at once, as a browser does: a larger send is taken in parts more often). */
#define TLS_BATCH (4 * TLS_RECORD)
#define TLS_BATCH_CHUNKS (TLS_BATCH / TLS_RECORD + 1)

struct tls_ctx {
    pthread_mutex_t lock; /* ssl may be replaced (tls_ctx_reload) while connections start */
    SSL_CTX *ssl;
    bool server;
};

typedef struct {
    SSL *ssl;
    int fd;
    bool failed; /* after a fatal error OpenSSL forbids SSL_shutdown */
    /* Records of a batch the socket did not take, tail[off, len), and how much of the
     * caller's plaintext they carry that it has not been told about (its retry, io.h's rule,
     * starts with those bytes: they are reported written once the records are out). */
    uint8_t *tail;
    size_t tail_off, tail_len, tail_plain;
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
        /* A load generator reads answers, many records at a time: up to four per read()
         * (OpenSSL's default is one). */
        SSL_CTX_set_default_read_buffer_len(c->ssl, 4 * (TLS_RECORD + 256));
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
 * pointer into it once SSL_write returns. */
static __thread unsigned char stage[TLS_RECORD];

/* The records of one batch, per thread; while `on` the write BIO appends here instead of
 * sending. Room for TLS_BATCH_CHUNKS records and what OpenSSL adds to them (a record's
 * header, type and tag: 22 to 29 bytes; a key update). */
#define TLS_BATCH_ROOM (TLS_BATCH_CHUNKS * (TLS_RECORD + 256))
static __thread struct {
    uint8_t p[TLS_BATCH_ROOM];
    size_t len;
    bool on;
} batch;

/* The errors after which OpenSSL's socket BIO tries again (a connect still under way included). */
static bool would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS || e == EALREADY || e == ENOTCONN;
}

/* Sends what is left of the tail. True when none is left; false with errno set (EAGAIN when
 * the socket is full). */
static bool tail_send(tls_conn_t *t)
{
    while (t->tail_off < t->tail_len) {
        ssize_t k = send(t->fd, t->tail + t->tail_off, t->tail_len - t->tail_off, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        t->tail_off += (size_t)k;
    }
    free(t->tail);
    t->tail = NULL;
    t->tail_off = t->tail_len = 0;
    return true;
}

/* The write BIO: records into the batch while one is made, else to the socket, after the
 * tail (a record OpenSSL writes on its own, an alert or a handshake message, never passes
 * records written before it). */
static int wbio_write(BIO *b, const char *data, int n)
{
    tls_conn_t *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (batch.on) {
        if ((size_t)n > sizeof batch.p - batch.len)
            return -1; /* cannot happen: records are bounded, as is their number */
        memcpy(batch.p + batch.len, data, (size_t)n);
        batch.len += (size_t)n;
        return n;
    }
    if (t->tail && !tail_send(t)) {
        if (would_block(errno))
            BIO_set_retry_write(b);
        return -1;
    }
    for (;;) {
        ssize_t k = send(t->fd, data, (size_t)n, MSG_NOSIGNAL);
        if (k >= 0)
            return (int)k;
        if (errno == EINTR)
            continue;
        if (would_block(errno))
            BIO_set_retry_write(b);
        return -1;
    }
}

static long wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH; /* the batch and the tail are sent by their owners */
}

static BIO_METHOD *wbio_method;

static void wbio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pixd batch");
    if (m && BIO_meth_set_write(m, wbio_write) == 1 && BIO_meth_set_ctrl(m, wbio_ctrl) == 1)
        wbio_method = m;
    else
        BIO_meth_free(m);
}

/* The next record's plaintext from iov[*i] at *off: in place when a whole record is there,
 * else gathered into the stage. Its length in *n (0 at the end). */
static const void *next_record(const struct iovec *iov, int iovcnt, int *i, size_t *off, size_t *n)
{
    while (*i < iovcnt && *off == iov[*i].iov_len) {
        (*i)++;
        *off = 0;
    }
    *n = 0;
    if (*i == iovcnt)
        return NULL;
    const uint8_t *p = (const uint8_t *)iov[*i].iov_base + *off;
    if (iov[*i].iov_len - *off >= TLS_RECORD) {
        *n = TLS_RECORD;
        *off += TLS_RECORD;
        return p;
    }
    while (*i < iovcnt && *n < TLS_RECORD) {
        size_t k = iov[*i].iov_len - *off < TLS_RECORD - *n ? iov[*i].iov_len - *off : TLS_RECORD - *n;
        memcpy(stage + *n, (const uint8_t *)iov[*i].iov_base + *off, k);
        *n += k;
        *off += k;
        if (*off == iov[*i].iov_len) {
            (*i)++;
            *off = 0;
        }
    }
    return stage;
}

/* The socket failed under a batch: the session is done (no close_notify after it). */
static ssize_t fail_sys(tls_conn_t *t, int err)
{
    t->failed = true;
    return -err;
}

static ssize_t tls_writev(io_t *io, const struct iovec *iov, int iovcnt)
{
    tls_conn_t *t = io->tls;
    if (t->tail || t->tail_plain) { /* the retry of a batch the socket took in part */
        if (t->tail && !tail_send(t)) {
            if (!would_block(errno))
                return fail_sys(t, errno);
            io->want = EPOLLOUT;
            return IO_AGAIN;
        }
        size_t plain = t->tail_plain;
        t->tail_plain = 0;
        return (ssize_t)plain;
    }
    /* Record by record: each SSL_write is one record (plus what OpenSSL adds, such as a key
     * update), so the plaintext a sent prefix of the batch carries is known. The handshake
     * writes unbatched: it may stop to read. */
    bool batching = wbio_method && SSL_is_init_finished(t->ssl);
    size_t plain_end[TLS_BATCH_CHUNKS], cipher_end[TLS_BATCH_CHUNKS], plain = 0;
    unsigned nrec = 0;
    int i = 0;
    size_t off = 0;
    batch.len = 0;
    batch.on = batching;
    while (nrec < (batching ? TLS_BATCH_CHUNKS : 1) && plain < TLS_BATCH) {
        size_t n;
        const void *p = next_record(iov, iovcnt, &i, &off, &n);
        if (!n)
            break;
        size_t done;
        ERR_clear_error();
        errno = 0;
        int ret = SSL_write_ex(t->ssl, p, n, &done);
        if (ret != 1) {
            if (nrec)
                break; /* what is encrypted goes out; the retry meets the error again */
            batch.on = false;
            return failed(io, t, ret, true);
        }
        plain += done;
        plain_end[nrec] = plain;
        cipher_end[nrec++] = batch.len;
    }
    batch.on = false;
    if (!batching || !batch.len)
        return (ssize_t)plain;
    ssize_t k;
    do
        k = send(t->fd, batch.p, batch.len, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    if (k < 0 && !would_block(errno))
        return fail_sys(t, errno);
    size_t sent = k > 0 ? (size_t)k : 0;
    if (sent == batch.len)
        return (ssize_t)plain;
    /* The rest waits with the connection. */
    unsigned whole = 0;
    while (whole < nrec && cipher_end[whole] <= sent)
        whole++;
    size_t told = whole ? plain_end[whole - 1] : 0;
    if (!(t->tail = malloc(batch.len - sent)))
        return fail_sys(t, ENOMEM);
    memcpy(t->tail, batch.p + sent, batch.len - sent);
    t->tail_len = batch.len - sent;
    t->tail_plain = plain - told;
    if (told)
        return (ssize_t)told;
    io->want = EPOLLOUT;
    return IO_AGAIN;
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
        free(t->tail);
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
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, wbio_method_init);
    BIO *wbio = ssl && wbio_method ? BIO_new(wbio_method) : NULL;
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || (wbio_method && !wbio)) {
        BIO_free(wbio);
        SSL_free(ssl);
        free(t);
        ERR_clear_error();
        return -ENOMEM;
    }
    if (wbio) { /* reads stay with the socket BIO SSL_set_fd made */
        BIO_set_data(wbio, t);
        BIO_set_init(wbio, 1);
        SSL_set0_wbio(ssl, wbio);
    }
    t->fd = fd;
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
