/*
 * auth: who may PUT and DELETE avatars. Two ways in, either may be configured alone:
 *   - admin bearer tokens (--upload-token-file): "Authorization: Bearer <token>";
 *   - signed URLs (--upload-key-file): an HMAC-SHA256 over the request's method, uid and
 *     query, minted by an application that holds a key (docs/uploads.md has examples).
 *
 * Secret files: one secret a line; blank lines and lines starting with '#' are skipped, and
 * whitespace around a secret is trimmed. A secret is AUTH_SECRET_MIN..AUTH_SECRET_MAX bytes of
 * visible ASCII (no inner whitespace), a file at most 64 KiB and at least one secret. Several
 * keys may be listed for rotation: every key verifies, the first one signs (auth_sign).
 *
 * An auth_t is immutable once loaded and reference-counted: reload (SIGHUP) builds a new one
 * and swaps it into an auth_holder_t, while requests finish with the one they took.
 */
#ifndef PIXD_SERVER_AUTH_H
#define PIXD_SERVER_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_SECRET_MIN 16
#define AUTH_SECRET_MAX 512
#define AUTH_QUERY_MAX 2048          /* longer queries are refused (AUTH_BAD) */
#define AUTH_PARAMS_MAX 16           /* so are queries with more parameters, sig included */
#define AUTH_EXPIRES_MAX (7 * 86400) /* how far ahead `expires` may lie */
#define AUTH_SIG_HEX 64

typedef struct auth auth_t;

/* Reads the files (either path may be NULL: that way in is then closed; both NULL gives an
 * auth_t that accepts nothing). NULL with a message in err on error. On success err holds ""
 * or a warning to log (a secret file readable or writable by group or others). The caller
 * owns the one reference returned. */
auth_t *auth_load(const char *token_file, const char *key_file, char *err, size_t errlen);
/* Reference counting, any thread (atomic). auth_unref(NULL) does nothing; the last reference
 * wipes the secrets from memory. */
auth_t *auth_ref(auth_t *a);
void auth_unref(auth_t *a);

/*
 * The current auth_t of a server, shared by threads. A mutex, not an atomic pointer: between
 * loading a pointer and counting a reference, a swap could free what was loaded, and the lock
 * costs nothing next to an upload. Workers take a reference per request with
 * auth_holder_get() (auth_unref when done); the main thread swaps in a reloaded one with
 * auth_holder_set(); the old one is freed when its last request ends.
 */
typedef struct {
    pthread_mutex_t _lock;
    auth_t *_cur;
} auth_holder_t;

/* Takes over the caller's reference to a (may be NULL). 0 or -errno. */
int auth_holder_init(auth_holder_t *h, auth_t *a);
/* A new reference to the current auth_t (NULL when none): auth_unref() it. */
auth_t *auth_holder_get(auth_holder_t *h);
/* Takes over the caller's reference to a and drops the holder's on the old one. */
void auth_holder_set(auth_holder_t *h, auth_t *a);
/* Drops the holder's reference; no thread may use h any more. */
void auth_holder_destroy(auth_holder_t *h);

/* Whether an Authorization value ("Bearer" in any case, one or more spaces, the token, optional
 * trailing whitespace) carries one of the tokens. Constant time in the tokens: the SHA-256 of
 * the presented token is compared with that of every token, all of them, with CRYPTO_memcmp,
 * so neither the time nor an early exit tells a token's length, its bytes or which one
 * matched. a may be NULL (false). */
bool auth_bearer_ok(const auth_t *a, const char *value, size_t n);

/*
 * Signed URLs. The signature is lowercase hex HMAC-SHA256(key, canonical) in the query
 * parameter `sig`, over this canonical string (no trailing newline):
 *
 *     METHOD "\n" "/" uid "\n" k1 "=" v1 "&" k2 "=" v2 ...
 *
 * where k=v are every query parameter except sig, percent-decoded ('+' decodes to a space, as
 * in HTML forms and Python's urlencode), sorted by key then value, bytewise. For example
 * PUT /alice?expires=1767225600&email=alice%40example.com signs
 *     "PUT\n/alice\nemail=alice@example.com&expires=1767225600".
 * Every parameter the handler reads (expires, email, crop, ...) is thus covered: none can be
 * added, removed or changed. `expires` (Unix seconds) is required.
 *
 * Refused as AUTH_BAD, because two queries could otherwise share a canonical string or a
 * parser could pick a different duplicate than the signer meant: a query over AUTH_QUERY_MAX
 * bytes or AUTH_PARAMS_MAX parameters; a parameter without '=' or with an empty key; a '%' not
 * followed by two hex digits; a decoded control byte, a decoded '=' or '&' in a key, a decoded
 * '&' in a value; any key given twice (after decoding). Empty parameters ("a=1&&b=2") are
 * skipped. The handler must read the query with the same decoding.
 */
typedef enum {
    AUTH_OK,
    AUTH_MISSING, /* no sig parameter: try the bearer token, else 401 */
    AUTH_EXPIRED, /* signature good, but expires missing, not digits, <= now or > now + 7 days */
    AUTH_BAD,     /* malformed query, or a signature (any hex case) no key made */
} auth_status_t;

/* Checks the query (without '?') of method /uid at Unix time now_s. The signature is checked
 * first, in constant time against every key (a key rotation lists old and new), and only a
 * genuine URL can be told it expired. Works in bounded stack memory, never allocates. a may
 * be NULL (AUTH_BAD, or AUTH_MISSING without sig). */
auth_status_t auth_check_signed(const auth_t *a, const char *method, const char *uid, size_t ulen,
                                const char *query, size_t qlen, int64_t now_s);
/* A short static reason for {"error": ...}. */
const char *auth_strerror(auth_status_t st);

/* The lowercase hex signature (64 characters and a NUL into sig_hex_out) of method /uid with
 * this query (without sig), under the first key: for minting demo URLs and for tests. 0, or
 * -1 when there is no key or the query is one auth_check_signed() would refuse. */
int auth_sign(const auth_t *a, const char *method, const char *uid, size_t ulen, const char *query,
              size_t qlen, char sig_hex_out[AUTH_SIG_HEX + 1]);

#endif
