/*
 * hashindex: the Gravatar-style names of /avatar/<hash>. An upload with email=<address>
 * registers two names for its uid: the MD5 (32 hex digits, Gravatar's) and the SHA-256 (64 hex
 * digits, Libravatar's) of the normalised address. Normalising is Gravatar's: ASCII whitespace
 * trimmed at both ends, ASCII letters lowercased, nothing else (no Unicode folding, no removing
 * of dots or "+tags").
 *
 * A uid has one address: registering another replaces its two names, and an address names one
 * uid: registering it for another uid moves its names there (the signer vouched for the newest).
 * So the map holds at most 2 names per registered uid, and registering only ever replaces.
 *
 * Persistence: <avatar dir>/.pixd-index (a dot-name: never a uid nor an avatar file), rewritten
 * whole with durable_replace() on every change: a line "pixd-hashindex 1", then one
 * "<hash> <uid>" line per name. When a change call returns 0, the file holding it is durable.
 *
 * Threads: every function but open and free may be called from any thread at once. Lookups take
 * one mutex for a hash-table probe (SipHash under a random key: hashes come from the network).
 * Changes update memory under that mutex, then persist outside it: a writer mutex orders whole
 * writes, and each write takes a snapshot of the newest state, so files on disk only ever move
 * forward, a lookup never waits for an fsync, and a writer whose change is already in a newer
 * durable file does not write again.
 */
#ifndef PIXD_SERVER_HASHINDEX_H
#define PIXD_SERVER_HASHINDEX_H

#include <stdbool.h>
#include <stddef.h>

#define HASHINDEX_FILE ".pixd-index"
#define HASHINDEX_EMAIL_MAX 254 /* RFC 5321's path limit less the brackets */

typedef struct hashindex hashindex_t;

/* Loads dirfd's index file (no file: an empty index). The index keeps its own duplicate of
 * dirfd. A malformed line is skipped and counted: on success err holds "" or a warning saying
 * how many. NULL with a message in err when the file cannot be read or has another version. */
hashindex_t *hashindex_open(int dirfd, char *err, size_t errlen);
void hashindex_free(hashindex_t *x);

/* Gives uid (valid, see avatar.h) the names of address email[0..n), dropping its previous ones,
 * and persists. 0; -EINVAL when the normalised address is not 1..HASHINDEX_EMAIL_MAX bytes with
 * an '@' and no control byte, or the uid is invalid; -ENOMEM; or the write's -errno: the change
 * is then served from memory but not known to be stored (the next successful write stores it). */
int hashindex_register(hashindex_t *x, const char *email, size_t n, const char *uid, size_t ulen);
/* Whether hashindex_register would take the address (its -EINVAL rule): callers check first,
 * so that a bad address is refused before anything else changes. */
bool hashindex_email_valid(const char *email, size_t n);
/* Drops uid's names (DELETE /<uid>) and persists. 0 (also when it had none), or as above. */
int hashindex_drop_uid(hashindex_t *x, const char *uid, size_t ulen);

/* The uid that hash[0..n) (32 or 64 hex digits, any case) names, NUL-terminated into uid_out.
 * false when none, or when hash is not such a name. */
bool hashindex_lookup(hashindex_t *x, const char *hash, size_t n, char uid_out[65]);
/* How many names the index holds (at most 2 per registered uid). */
size_t hashindex_count(hashindex_t *x);

#endif
