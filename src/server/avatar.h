/*
 * avatar: the avatar store. Maps a user id to the bytes and pre-built headers of
 * <dir>/<uid>.{png,jpg,jpeg,gif,webp} (first that exists) or of the default avatar.
 *
 * Files are held in memory with their response headers ready; the cache is an LRU bounded in
 * bytes. inotify on the folder drops an entry as soon as its file is created, replaced or
 * deleted. All functions are thread-safe.
 *
 * Symlinks are never followed, the default avatar's included: whoever can put a name in the
 * folder could otherwise make pixd serve any file it can read (/etc/passwd, the TLS key). A
 * user's symlink counts as no file (the default is served); a default that is a symlink counts
 * as no default (unknown users get 404, with a warning at startup). Hard links cannot be told
 * apart from files; fs.protected_hardlinks keeps others from making them.
 *
 * Bounds against hostile uids: the table hashes with SipHash-2-4 under a random key drawn at
 * store creation, so nobody can choose uids that collide. A user without a file leaves a
 * negative entry; those cost 160 bytes each against the cache budget, live on their
 * own LRU list and may take at most 1/8 of the budget, so random uids only ever push out other
 * negative entries, never a cached file. A cache of 128 MiB or more is split into up to 16
 * shards of at least 64 MiB, one lock each; a file larger than a quarter of its shard is
 * served but not cached.
 */
#ifndef PIXD_SERVER_AVATAR_H
#define PIXD_SERVER_AVATAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/loop.h"
#include "server/server.h"

#define AVATAR_UID_MAX 64

typedef struct avatar_store avatar_store_t;

typedef struct {
    int _refs;
    int64_t mtime;
    const uint8_t *body;
    size_t len;
    int fd;     /* a memfd holding body, for sendfile (-1 for small files) */
    /* "Content-Type: ...\r\n" then "ETag", "Last-Modified", "Cache-Control" lines; a 304
     * sends hdrs + ct_len (everything but the type). */
    char hdrs[256];
    size_t hdrs_len, ct_len;
    char etag[24]; /* quoted */
    size_t etag_len;
    bool is_default; /* the configured default avatar, served for users without a file */
} avatar_file_t;

/* A file made of body (taken: freed with the file, also on failure) with its headers: the
 * type (sniffed when mime is NULL), a strong ETag from the bytes, Last-Modified, Cache-Control.
 * One reference; NULL when out of memory. */
avatar_file_t *avatar_file_new(uint8_t *body, size_t len, const char *mime, int64_t mtime, int max_age);

avatar_store_t *avatar_store_new(const server_config_t *cfg, char *err, size_t errlen);
/* Watches the folder with inotify from `loop` (its thread handles the events). 0 or -1. */
int avatar_store_watch(avatar_store_t *s, loop_t *loop);
void avatar_store_free(avatar_store_t *s);
/* fn(arg, uid, n) runs on the watching loop when a user's file changed, fn(arg, NULL, 0) when
 * the default did or anything may have (events lost). Set before avatar_store_watch(). */
void avatar_store_on_change(avatar_store_t *s, void (*fn)(void *arg, const char *uid, size_t n), void *arg);

/* True when uid is 1..64 bytes of [A-Za-z0-9_-]: nothing else ever reaches the file system. */
int avatar_uid_valid(const char *uid, size_t n);
typedef enum { AVATAR_FOUND, AVATAR_NONE, AVATAR_SLOW } avatar_result_t;

/* A file found but not read: it must be read off the event loop (see avatar_get). */
typedef struct {
    int fd;
    struct stat st;
    char name[AVATAR_UID_MAX + 8];
    char uid[AVATAR_UID_MAX];
    uint8_t ulen;
    uint64_t gen, hash;
} avatar_slow_t;

/* The user's avatar, else the default, from memory or a quick read of a small file:
 * AVATAR_FOUND (*out holds a reference until avatar_put()) or AVATAR_NONE (neither exists).
 * A file of 1 MiB or more not in memory yet gives AVATAR_SLOW instead: *slow holds it open, and
 * avatar_load() reads it on a thread that may block, once per version of the file (a file too
 * large for the cache is kept as its own snapshot, bounded by the cache's size again). uid
 * must be valid. */
avatar_result_t avatar_get(avatar_store_t *s, const char *uid, size_t n, avatar_file_t **out, avatar_slow_t *slow);
/* Forgets what is cached of uid (its file, its large snapshot, its variants through the change
 * callback), as inotify would: for a writer that must not answer before every later request
 * sees its change. Any thread. */
void avatar_forget(avatar_store_t *s, const char *uid, size_t n);

/* The default avatar (a reference), or NULL when there is none. */
avatar_file_t *avatar_default(avatar_store_t *s);
/* Reads, hashes and keeps what avatar_get left in *slow, and closes it: a reference, or NULL
 * when out of memory. Any thread. */
avatar_file_t *avatar_load(avatar_store_t *s, avatar_slow_t *slow);
/* Closes *slow unread (its request went away). */
void avatar_slow_release(avatar_slow_t *slow);
void avatar_put(void *file);

typedef struct {
    uint64_t hits, misses, evictions, entries, bytes;
    uint64_t negative; /* entries for users without a file (included in entries) */
    uint64_t large_entries, large_bytes; /* snapshots of files too large for the cache */
    uint64_t slow_loads;                 /* files read off the loop (avatar_load) */
} avatar_stats_t;
/* Sums over the shards, one lock at a time: each shard is exact, the total a near snapshot. */
void avatar_store_stats(avatar_store_t *s, avatar_stats_t *out);

/* How many descriptors a store with this config may hold open at most: the folder, inotify,
 * and the memfd of every cached file of SENDFILE_MIN bytes or more. Requests in flight may
 * each hold one more (an uncached large file being sent). */
uint64_t avatar_store_max_fds(const server_config_t *cfg);

#endif
