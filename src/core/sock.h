/*
 * sock: socket set-up shared by the server (listeners) and the load generator (clients).
 * All sockets are non-blocking and close-on-exec.
 */
#ifndef PIXD_CORE_SOCK_H
#define PIXD_CORE_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct {
    struct sockaddr_storage addr;
    socklen_t len;
} sock_addr_t;

/* Resolves "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces) numerically or by name.
 * 0, or -1 with a message in err. */
int sock_resolve(const char *hostport, sock_addr_t *out, char *err, size_t errlen);
/* Formats an address as "host:port" into dst. */
void sock_format(const sock_addr_t *a, char *dst, size_t n);
/* A listening socket; reuseport lets every loop thread own one (the kernel balances
 * connections between them). Returns the fd or -errno. */
int sock_listen(const sock_addr_t *a, bool reuseport, int backlog);
/* Starts a non-blocking connect. Returns the fd (connection in progress or done) or -errno. */
int sock_connect(const sock_addr_t *a);
/* The port a bound socket got (for :0 listeners). */
int sock_local_port(int fd);

#endif
