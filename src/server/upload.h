/*
 * upload: PUT /<uid> and DELETE /<uid>, the way a web app stores its users' pictures.
 *
 * Who may: a bearer token from --upload-token-file, or a URL signed with a key from
 * --upload-key-file (server/auth.h). Nothing else; with neither file every PUT/DELETE is 403.
 * What is kept: the picture decoded under the image limits, upright (EXIF orientation
 * applied), cropped when crop=x,y,w,h asks, at most --upload-max-side pixels a side, and
 * re-encoded (JPEG quality 90, or PNG when it has transparency), so no metadata of the
 * original (a phone's GPS position) is ever published. How: written durably (core/durable.h)
 * as <uid>.jpg or <uid>.png, the uid's files under other extensions removed, the folder
 * fsync'd, and the cached picture forgotten, all before the answer (the next request sees the
 * new one); email= registers the address's names for /avatar/<hash>, after the file is stored.
 * The body: the picture raw, a multipart form (image, email, crop) or JSON
 * ({"image": "<base64>", "email": ..., "crop": ...}); fields of a body need a bearer token.
 * Uploads are serialised with each other (a few per second is the expected rate); the
 * decoding and encoding before them run in parallel on the pool.
 */
#ifndef PIXD_SERVER_UPLOAD_H
#define PIXD_SERVER_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "server/req.h"
#include "server/server.h"

struct hashindex;
struct avatar_store;
typedef struct upload upload_t;

/* Loads the token and key files named in cfg (either may be absent), opens the folder and
 * removes what interrupted uploads left, whether uploads are on or not. NULL with a message
 * on a bad file, or on a folder that cannot be cleaned when uploads are on. */
upload_t *upload_new(const server_config_t *cfg, struct hashindex *hashes, struct avatar_store *avatars, char *err,
                     size_t errlen);
void upload_free(upload_t *u);
/* Re-reads the token and key files (SIGHUP). On failure the ones in use stay; -1 with a message. */
int upload_reload(upload_t *u, char *err, size_t errlen);

/* PUT or DELETE /<uid> (uid valid). */
void upload_handle(req_t *r, const char *uid, size_t n);

/* Signs METHOD /<uid>?query with the first key (the demo page's minting): the hex signature
 * into sig, 0; -1 without a key. */
int upload_sign(upload_t *u, const char *method, const char *uid, size_t n, const char *query, size_t qlen,
                char sig[65]);

typedef struct {
    uint64_t stored, deleted;
    uint64_t unauthorized; /* 401 and 403 */
    uint64_t rejected;     /* bad pictures and parameters (4xx) */
    uint64_t failed;       /* the store could not be written (5xx) */
} upload_stats_t;
void upload_stats(upload_t *u, upload_stats_t *out);

#endif
