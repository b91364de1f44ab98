/*
 * check: is an answer's body the expected one (--check-body, --check-field)?
 *
 * The expectation (check_t) is built once per scenario entry: the SHA-256 of the expected bytes
 * and, when known, their length. An answer is judged as it arrives, without keeping it:
 *  - CHECK_BODY: its bytes go through an incremental SHA-256 (and are counted against the
 *    expected length), compared with the expected digest at the end;
 *  - CHECK_FIELD: a JSON answer whose top-level object's string member `field` holds the
 *    expected bytes in base64 (pixd's and Flask's {"encoded_img": ...}): the answer is kept up
 *    to check_json_limit() bytes (larger cannot hold the expected bytes), then tokenized with
 *    jsmn, the member unescaped (json_unescape) and decoded (base64_decode) in place, and
 *    hashed. Two servers that format the JSON differently compare by the image bytes.
 * A check_run_t holds one answer's state; a connection keeps one per response it may read at
 * a time and reuses it. Nothing here is called for entries without a check.
 */
#ifndef PIXD_LOAD_CHECK_H
#define PIXD_LOAD_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define CHECK_SHA256_LEN 32
#define CHECK_FIELD_SLACK (64u << 10) /* JSON around the field (other members, escapes) */
#define CHECK_FIELD_MAX (256u << 20)  /* sha256:HEX with a field: the length is unknown */

typedef enum {
    CHECK_NONE = 0,
    CHECK_BODY,  /* the whole body */
    CHECK_FIELD, /* a JSON string member, base64-decoded */
} check_mode_t;

typedef struct {
    check_mode_t mode;
    bool len_known; /* false for sha256:HEX */
    uint64_t len;
    unsigned char sha256[CHECK_SHA256_LEN];
    const char *field; /* CHECK_FIELD: the member's name, NUL-terminated, not owned */
} check_t;

/* The expectation from the expected bytes (mode CHECK_BODY, or CHECK_FIELD when field is not
 * NULL). 0, or -1 when the hash cannot be computed. */
int check_expect_bytes(check_t *ck, const void *data, size_t len, const char *field);
/* The expectation from "sha256:HEX" (64 hex digits). 0, or -1 with a message in err. */
int check_expect_sha256(check_t *ck, const char *spec, const char *field, char *err, size_t errlen);
/* True when spec has the form "sha256:..." (a digest rather than a path). */
bool check_is_digest(const char *spec);

/* The most answer bytes kept for a CHECK_FIELD comparison. */
uint64_t check_json_limit(const check_t *ck);

typedef struct {
    void *md;       /* EVP_MD_CTX, CHECK_BODY */
    buf_t json;     /* CHECK_FIELD: the answer so far */
    uint64_t n;     /* bytes seen */
    bool overflow;  /* more than the expectation allows: already a mismatch */
} check_run_t;

/* A zeroed check_run_t is ready; check_run_free releases what it grew. */
void check_run_free(check_run_t *r);
/* A new answer for ck begins (out of memory, it will count as a mismatch). */
void check_begin(check_run_t *r, const check_t *ck);
/* The next bytes of the answer's body (decoded: no chunk framing). */
void check_feed(check_run_t *r, const check_t *ck, const void *data, size_t len);
/* The answer is complete: true when it matches. */
bool check_end(check_run_t *r, const check_t *ck);
/* The same over a whole body at once (for tests and tools). */
bool check_body(const check_t *ck, const void *data, size_t len);

#endif
