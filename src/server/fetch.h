/*
 * fetch: downloads for /magic/imageurl, on libcurl's multi interface driven by the worker's
 * event loop (never blocking it).
 *
 * The SSRF guard runs on every address curl is about to connect to, after name resolution
 * and again after each redirect: loopback, private, link-local, site-local, CGNAT,
 * multicast, reserved and unspecified addresses are refused unless an --fetch-allow range
 * covers them. Addresses that embed an IPv4 one are judged by it (v4-mapped, NAT64
 * 64:ff9b::/96) or refused (IPv4-compatible, 6to4, Teredo, local-use NAT64 64:ff9b:1::/48).
 * Only http and https, at most 3 redirects, no proxies from the environment.
 */
#ifndef PIXD_SERVER_FETCH_H
#define PIXD_SERVER_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/loop.h"
#include "server/server.h"

typedef struct fetch fetch_t;

/*
 * The outcome, on the loop's thread: status 0 and data/len (malloc'd, the callback owns it and
 * the len bytes charged for it against the server's memory budget: server_mem_release() them
 * with it), or the HTTP status to answer (403 guard, 404 upstream 404, 413 too large, 502
 * upstream failure, 503 the memory budget is spent, 504 timeout) with a short reason and data
 * NULL. Downloads count against --max-body-memory-mb as they grow, like request bodies.
 */
typedef void (*fetch_cb)(void *arg, int status, const char *reason, uint8_t *data, size_t len);

fetch_t *fetch_new(loop_t *loop, server_t *srv);
void fetch_free(fetch_t *f);
/* Starts a download. Returns 0 (cb will run exactly once, later), or an HTTP status (400 bad
 * URL, 403 scheme refused, 503 out of resources) when it cannot start: cb does not run. */
int fetch_start(fetch_t *f, const char *url, fetch_cb cb, void *arg);

/* True when cidr is "ADDR" or "ADDR/BITS" (IPv4 or IPv6). */
bool fetch_cidr_valid(const char *cidr);
/* The guard's verdict for one address given the allowed ranges ("10.0.0.0/8", "::1/128" ...). */
bool fetch_addr_allowed(const struct sockaddr *sa, const char (*allow)[64], int nallow);

#endif
