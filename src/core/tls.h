/*
 * tls: the TLS transport behind io_t (OpenSSL), for pixd's listeners and pixload's https.
 *
 * A context is made once and shared by every thread; each connection gets its own session
 * with io_init_tls(). The handshake runs inside the first reads and writes: they answer
 * IO_AGAIN with io->want set (a read may need to write and a write to read) until it is
 * done, so callers drive TLS exactly as they drive a plain socket.
 *
 * What callers must keep to (io.h says it for every transport; TLS is why):
 *   - a write that answered IO_AGAIN is repeated with the same bytes (more may follow them);
 *   - after a read, io->pending set means the transport already holds more input that epoll
 *     will not report: read again before waiting.
 * There is no sendfile: responses go through writev.
 *
 * ALPN: a server offers h2 first, then http/1.1 (the connection's code tells them apart by
 * io_tls_alpn_h2); a client offers http/1.1, or both after tls_ctx_client_offer_h2.
 */
#ifndef PIXD_CORE_TLS_H
#define PIXD_CORE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/io.h"

typedef struct tls_ctx tls_ctx_t;

/* A server context from a PEM certificate chain and its key. NULL with a message in err. */
tls_ctx_t *tls_ctx_server(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* Reads the certificate and key again (a renewed certificate, SIGHUP): connections started
 * from now on use them, those open keep theirs. Any thread. On failure (-1, a message in err)
 * the old ones stay. */
int tls_ctx_reload(tls_ctx_t *ctx, const char *cert_file, const char *key_file, char *err, size_t errlen);

/* A client context for load generation: like wrk and ab, it does not verify the server's
 * certificate (a benchmark target is usually self-signed). NULL with a message in err. */
tls_ctx_t *tls_ctx_client(char *err, size_t errlen);

/* A client context offers h2 before http/1.1 from now on. 0 or -1. */
int tls_ctx_client_offer_h2(tls_ctx_t *ctx);

void tls_ctx_free(tls_ctx_t *ctx);

/* True once the handshake chose h2 by ALPN (false for plain sockets and before it is done). */
bool io_tls_alpn_h2(const io_t *io);

/* Makes io a TLS transport over the connected non-blocking socket fd. server_name: the SNI
 * a client sends (NULL for none, and for servers). 0, or -ENOMEM (fd left open). */
int io_init_tls(io_t *io, int fd, tls_ctx_t *ctx, const char *server_name);

#endif
