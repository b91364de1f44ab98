/*
 * avatar: the avatar store. Maps a user id to the bytes and pre-built headers of
 * <dir>/<uid>.{png,jpg,jpeg,gif,webp} (first that exists) or of the default avatar.
 *
 * Files are held in memory with their response headers ready; the cache is an LRU bounded in
 * bytes. inotify on the folder drops an entry as soon as its file is created, replaced or
 * deleted. All functions are thread-safe.
 */
#ifndef PIXD_SERVER_AVATAR_H
#define PIXD_SERVER_AVATAR_H

#include <stddef.h>
#include <stdint.h>

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
} avatar_file_t;

avatar_store_t *avatar_store_new(const server_config_t *cfg, char *err, size_t errlen);
/* Watches the folder with inotify from `loop` (its thread handles the events). 0 or -1. */
int avatar_store_watch(avatar_store_t *s, loop_t *loop);
void avatar_store_free(avatar_store_t *s);

/* True when uid is 1..64 bytes of [A-Za-z0-9_-]: nothing else ever reaches the file system. */
int avatar_uid_valid(const char *uid, size_t n);
/* The user's avatar, else the default; NULL when neither exists. The caller holds a
 * reference until avatar_put(). uid must be valid. */
avatar_file_t *avatar_get(avatar_store_t *s, const char *uid, size_t n);
void avatar_put(void *file);

typedef struct {
    uint64_t hits, misses, entries, bytes;
} avatar_stats_t;
void avatar_store_stats(avatar_store_t *s, avatar_stats_t *out);

#endif
