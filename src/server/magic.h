/*
 * magic: the image API (/magic/base64, /magic/multipart, /magic/imageurl).
 *
 * Request bodies are parsed, decoded and converted on a pool of image threads, never on an
 * event loop (docs/decisions/005-image-work-off-the-loop.md): the loop holds the connection,
 * the pool computes the whole answer, and the loop sends it.
 */
#ifndef PIXD_SERVER_MAGIC_H
#define PIXD_SERVER_MAGIC_H

#include <stdbool.h>
#include <stddef.h>

#include "server/pool.h"
#include "server/req.h"
#include "server/server.h"

typedef struct magic magic_t;

/* The image API's state; its jobs run on pool (which outlives it). NULL when out of memory. */
magic_t *magic_new(const server_config_t *cfg, pool_t *pool);
void magic_free(magic_t *m);

/* Answers every "/magic/..." request (the table offers only those). */
bool magic_handle(req_t *r);

/* The header value naming the file: bare when it is an HTTP token (as Flask writes it), quoted
 * otherwise, with control bytes, quotes, backslashes and directories removed, plus an RFC 8187
 * filename* for non-ASCII names. Writes "attachment; filename=..." into dst; returns its
 * length. *bare receives the plain name for the "filename:" header. */
size_t magic_disposition(const char *name, size_t n, char *dst, size_t dstlen, char *bare, size_t barelen);

#endif
