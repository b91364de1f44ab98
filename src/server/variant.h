/*
 * variant: rendered avatars (sizes, formats, generated pictures) kept in memory and rendered
 * once, however many clients ask at the same moment.
 *
 * A variant is an avatar_file_t (bytes with their headers pre-built, served as an original is)
 * under a key the caller builds: the key names everything the bytes depend on (the source's
 * ETag, size, format ...), so a changed source can never be answered with an old rendering.
 * The cache is an LRU bounded in bytes. Each variant belongs to a group, its source (a uid, a
 * hash): a group keeps at most per_group variants, its least recent going first, so one source
 * asked at every size cannot flush the others; variant_drop_group() frees a group's memory at
 * once when its source changes.
 *
 * Single flight: the first request for a missing variant starts its render on the pool; the
 * requests for the same key meanwhile, on any loop, wait for that render. The render is
 * dropped before it starts only when every waiting client has gone (a client that comes later
 * still gets it: the job is submitted again). A client address may have at most per_client
 * renders started and unfinished; past that it gets 429, other addresses are not affected.
 *
 * Thread-safe. Waiting requests are answered on their own loops.
 */
#ifndef PIXD_SERVER_VARIANT_H
#define PIXD_SERVER_VARIANT_H

#include <stddef.h>
#include <stdint.h>

#include "server/avatar.h"
#include "server/req.h"

struct pool;
typedef struct variant_cache variant_cache_t;

typedef struct {
    /* Runs on a pool thread: makes the variant described by spec. Returns a reference, or
     * NULL with *status (an HTTP error status) and *reason (a static string) set. */
    avatar_file_t *(*render)(void *spec, int *status, const char **reason);
    void (*free)(void *spec);
} variant_ops_t;

/* Answers r: with f (a reference the callee owns) or, when f is NULL, with status and reason.
 * flags: the caller's own, handed back unchanged (e.g. "add Vary: Accept"). */
typedef void (*variant_serve_fn)(req_t *r, avatar_file_t *f, int status, const char *reason, unsigned flags);

/* cap: bytes of variants kept (0: none kept, renders still single-flight); per_client 0: no
 * bound. NULL when out of memory. */
variant_cache_t *variant_cache_new(uint64_t cap, unsigned per_group, unsigned per_client, struct pool *pool);
void variant_cache_free(variant_cache_t *c);

#define VARIANT_KEY_MAX 256

/* The ready variant under key (a reference for avatar_put), or NULL. */
avatar_file_t *variant_find(variant_cache_t *c, const char *key, size_t klen);

/* Answers r through serve() with the variant under key: ready by now, rendered by a flight
 * already under way, or rendered by a new one made from spec (taken in every case: freed with
 * ops->free when not needed). r is held until then. klen <= VARIANT_KEY_MAX. */
void variant_render(variant_cache_t *c, req_t *r, const char *key, size_t klen, const char *group, size_t glen,
                    const variant_ops_t *ops, void *spec, variant_serve_fn serve, unsigned flags);

/* Forgets every ready variant of the group (its source changed). */
void variant_drop_group(variant_cache_t *c, const char *group, size_t glen);
/* Forgets every ready variant (the default avatar changed, or changes were lost). */
void variant_drop_all(variant_cache_t *c);

typedef struct {
    uint64_t hits, misses;      /* variant_find */
    uint64_t renders, joined;   /* flights started; requests that waited for one under way */
    uint64_t failed, refused;   /* renders that gave an error; 429s for a busy client address */
    uint64_t evictions, entries, bytes, groups;
    uint64_t group_evictions;    /* of the evictions, those of a group at per_group */
    uint64_t group_most;         /* the most variants any group holds now */
    uint64_t in_flight, clients; /* renders under way; addresses that have one */
} variant_stats_t;
void variant_cache_stats(variant_cache_t *c, variant_stats_t *out);

#endif
