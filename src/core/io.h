/*
 * io: how a connection reads and writes bytes, hidden behind a table of functions so that a
 * TLS transport can replace the plain socket without touching the code above it (wrk's
 * `struct sock`). Every call is non-blocking.
 *
 * Returns: > 0 bytes moved; 0 on orderly EOF (read only); IO_AGAIN when the transport would
 * block (io->want then says whether it waits to read or to write: a TLS write can need a
 * read); or -errno.
 *
 * Two rules every caller keeps, because TLS needs them (core/tls.h):
 *   - a write that answered IO_AGAIN is repeated with the same bytes first: no fire and forget;
 *   - after a read, io->pending set means the transport holds more input already, which
 *     epoll will not report: read again before waiting.
 */
#ifndef PIXD_CORE_IO_H
#define PIXD_CORE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define IO_AGAIN (-11) /* -EAGAIN */
#define IO_EPROTO (-71) /* -EPROTO: the transport's own protocol failed (TLS handshake or record) */

typedef struct io io_t;

typedef struct {
    ssize_t (*read)(io_t *io, void *buf, size_t n);
    ssize_t (*writev)(io_t *io, const struct iovec *iov, int iovcnt);
    /* Sends n bytes of file fd from *off (advanced); NULL when the transport cannot (TLS). */
    ssize_t (*sendfile)(io_t *io, int fd, off_t *off, size_t n);
    void (*shutdown)(io_t *io); /* ends the sending side (TLS: close_notify first), reads go on */
    void (*close)(io_t *io);    /* closes the fd and frees transport state */
} io_ops_t;

struct io {
    const io_ops_t *ops;
    int fd;
    uint32_t want; /* EPOLLIN or EPOLLOUT after IO_AGAIN */
    int more;      /* writev: more data follows at once (MSG_MORE): do not push a short segment */
    bool pending;  /* read: more input is buffered inside the transport (see above) */
    void *tls;     /* transport state, NULL for plain sockets */
};

extern const io_ops_t io_plain;

/* After a write of n bytes from iov[i..cnt): the index of the first buffer not wholly
 * written, that buffer trimmed by the part that was. */
static inline unsigned io_iov_advance(struct iovec *iov, unsigned i, unsigned cnt, size_t n)
{
    while (i < cnt && n >= iov[i].iov_len)
        n -= iov[i++].iov_len;
    if (i < cnt) {
        iov[i].iov_base = (char *)iov[i].iov_base + n;
        iov[i].iov_len -= n;
    }
    return i;
}

static inline void io_init_plain(io_t *io, int fd)
{
    io->ops = &io_plain;
    io->fd = fd;
    io->want = 0;
    io->more = 0;
    io->pending = false;
    io->tls = NULL;
}

#endif
