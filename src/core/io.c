#include "core/io.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t plain_read(io_t *io, void *buf, size_t n)
{
    ssize_t r = read(io->fd, buf, n);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        io->want = EPOLLIN;
        return IO_AGAIN;
    }
    return errno == EINTR ? plain_read(io, buf, n) : -errno;
}

static ssize_t plain_writev(io_t *io, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t r = io->more ? sendmsg(io->fd, &mh, MSG_MORE | MSG_NOSIGNAL) : writev(io->fd, iov, iovcnt);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        io->want = EPOLLOUT;
        return IO_AGAIN;
    }
    return errno == EINTR ? plain_writev(io, iov, iovcnt) : -errno;
}

static ssize_t plain_sendfile(io_t *io, int fd, off_t *off, size_t n)
{
    ssize_t r = sendfile(io->fd, fd, off, n);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        io->want = EPOLLOUT;
        return IO_AGAIN;
    }
    return errno == EINTR ? plain_sendfile(io, fd, off, n) : -errno;
}

static void plain_shutdown(io_t *io)
{
    shutdown(io->fd, SHUT_WR);
}

static void plain_close(io_t *io)
{
    if (io->fd >= 0)
        close(io->fd);
    io->fd = -1;
}

const io_ops_t io_plain = {plain_read, plain_writev, plain_sendfile, plain_shutdown, plain_close};
