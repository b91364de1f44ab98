#include "server/hashindex.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/durable.h"
#include "core/siphash.h"
#include "server/avatar.h"

#define VERSION_LINE "pixd-hashindex 1"
#define FILE_MODE 0600 /* only pixd reads it */
#define BUCKETS_MIN 64
#define MD5_LEN 16
#define SHA_LEN 32
/* "<64 hex> <uid>\n" */
#define LINE_MAX_LEN (2 * SHA_LEN + 1 + AVATAR_UID_MAX + 1)

/* One record per registered uid, in three tables at once: by uid, by MD5 name, by SHA-256 name. */
enum { K_UID, K_MD5, K_SHA, KINDS };

typedef struct rec {
    struct rec *next[KINDS];
    uint64_t hash[KINDS];
    bool has[KINDS]; /* has[K_UID] always; a record without names is freed */
    uint8_t md5[MD5_LEN], sha[SHA_LEN];
    uint8_t ulen;
    char uid[AVATAR_UID_MAX];
} rec_t;

struct hashindex {
    pthread_mutex_t lock;       /* the tables and gen */
    pthread_mutex_t write_lock; /* one whole write of the file at a time, and saved_gen */
    siphash_key_t key;
    rec_t **tab[KINDS];
    size_t nbuckets; /* a power of two, shared by the three tables */
    size_t nrecs, nnames;
    uint64_t gen;       /* bumped by every change */
    uint64_t saved_gen; /* the newest gen known durable on disk */
    int dirfd;
};

static const void *key_of(const rec_t *r, int k, size_t *len)
{
    *len = k == K_UID ? r->ulen : k == K_MD5 ? MD5_LEN : SHA_LEN;
    return k == K_UID ? (const void *)r->uid : k == K_MD5 ? (const void *)r->md5 : (const void *)r->sha;
}

static rec_t **find_slot(hashindex_t *x, int k, const void *key, size_t len, uint64_t h)
{
    rec_t **p = &x->tab[k][h & (x->nbuckets - 1)];
    for (; *p; p = &(*p)->next[k]) {
        size_t klen;
        const void *rk = key_of(*p, k, &klen);
        if ((*p)->hash[k] == h && klen == len && !memcmp(rk, key, len))
            break;
    }
    return p;
}

static rec_t *find(hashindex_t *x, int k, const void *key, size_t len)
{
    return *find_slot(x, k, key, len, siphash24(&x->key, key, len));
}

static void link_rec(hashindex_t *x, rec_t *r, int k)
{
    size_t len;
    const void *key = key_of(r, k, &len);
    r->hash[k] = siphash24(&x->key, key, len);
    rec_t **b = &x->tab[k][r->hash[k] & (x->nbuckets - 1)];
    r->next[k] = *b;
    *b = r;
}

static void unlink_rec(hashindex_t *x, rec_t *r, int k)
{
    rec_t **p = &x->tab[k][r->hash[k] & (x->nbuckets - 1)];
    while (*p != r)
        p = &(*p)->next[k];
    *p = r->next[k];
}

/* Doubles the tables at one record per bucket; without memory the chains just grow longer. */
static void maybe_grow(hashindex_t *x)
{
    if (x->nrecs <= x->nbuckets)
        return;
    size_t nb = x->nbuckets * 2;
    rec_t **t[KINDS];
    for (int k = 0; k < KINDS; k++) {
        t[k] = calloc(nb, sizeof *t[k]);
        if (!t[k]) {
            while (k-- > 0)
                free(t[k]);
            return;
        }
    }
    for (int k = 0; k < KINDS; k++) {
        for (size_t i = 0; i < x->nbuckets; i++)
            for (rec_t *r = x->tab[k][i], *next; r; r = next) {
                next = r->next[k];
                rec_t **b = &t[k][r->hash[k] & (nb - 1)];
                r->next[k] = *b;
                *b = r;
            }
        free(x->tab[k]);
        x->tab[k] = t[k];
    }
    x->nbuckets = nb;
}

static void drop_name(hashindex_t *x, rec_t *r, int k)
{
    unlink_rec(x, r, k);
    r->has[k] = false;
    x->nnames--;
}

static void drop_rec(hashindex_t *x, rec_t *r)
{
    for (int k = K_MD5; k < KINDS; k++)
        if (r->has[k])
            drop_name(x, r, k);
    unlink_rec(x, r, K_UID);
    x->nrecs--;
    free(r);
}

static rec_t *get_rec(hashindex_t *x, const char *uid, size_t ulen)
{
    rec_t *r = find(x, K_UID, uid, ulen);
    if (r || !(r = calloc(1, sizeof *r)))
        return r;
    memcpy(r->uid, uid, ulen);
    r->ulen = (uint8_t)ulen;
    r->has[K_UID] = true;
    link_rec(x, r, K_UID);
    x->nrecs++;
    maybe_grow(x);
    return r;
}

/* Gives r the name `name` of kind k, taking it from another owner (freed if left without
 * names). Whether anything changed. */
static bool set_name(hashindex_t *x, rec_t *r, int k, const uint8_t *name)
{
    size_t len;
    uint8_t *dst = (uint8_t *)key_of(r, k, &len);
    if (r->has[k] && !memcmp(dst, name, len))
        return false;
    rec_t *o = find(x, k, name, len);
    if (o) {
        drop_name(x, o, k);
        if (!o->has[K_MD5] && !o->has[K_SHA])
            drop_rec(x, o);
    }
    if (r->has[k])
        drop_name(x, r, k);
    memcpy(dst, name, len);
    r->has[k] = true;
    link_rec(x, r, k);
    x->nnames++;
    return true;
}

/* ---- persistence ---- */

static char *put_hex(char *p, const uint8_t *b, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    return p;
}

/* The file's bytes (malloc'd), under x->lock. NULL when out of memory. */
static char *serialize(hashindex_t *x, size_t *len)
{
    char *buf = malloc(sizeof VERSION_LINE + x->nnames * LINE_MAX_LEN), *p = buf;
    if (!buf)
        return NULL;
    memcpy(p, VERSION_LINE "\n", sizeof VERSION_LINE);
    p += sizeof VERSION_LINE;
    for (size_t i = 0; i < x->nbuckets; i++)
        for (rec_t *r = x->tab[K_UID][i]; r; r = r->next[K_UID])
            for (int k = K_MD5; k < KINDS; k++) {
                if (!r->has[k])
                    continue;
                size_t klen;
                const uint8_t *name = key_of(r, k, &klen);
                p = put_hex(p, name, klen);
                *p++ = ' ';
                memcpy(p, r->uid, r->ulen);
                p += r->ulen;
                *p++ = '\n';
            }
    *len = (size_t)(p - buf);
    return buf;
}

/* Makes generation g (or a newer one) durable. Writers take turns on write_lock and each writes
 * the newest snapshot, so the file never goes back to an older state; the map's lock is held
 * only to copy it, never across the fsyncs. */
static int persist(hashindex_t *x, uint64_t g)
{
    pthread_mutex_lock(&x->write_lock);
    int r = 0;
    if (x->saved_gen < g) {
        size_t len = 0;
        pthread_mutex_lock(&x->lock);
        uint64_t snap_gen = x->gen;
        char *buf = serialize(x, &len);
        pthread_mutex_unlock(&x->lock);
        r = buf ? durable_replace(x->dirfd, HASHINDEX_FILE, buf, len, FILE_MODE) : -ENOMEM;
        if (r == 0)
            x->saved_gen = snap_gen;
        free(buf);
    }
    pthread_mutex_unlock(&x->write_lock);
    return r;
}

/* ---- names ---- */

static int hexval(char c, bool lower_only)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (!lower_only)
        c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes 32 or 64 hex digits (lowercase only when lower_only: the file's) into out: the kind,
 * or -1. */
static int parse_name(const char *s, size_t n, bool lower_only, uint8_t out[SHA_LEN])
{
    if (n != 2 * MD5_LEN && n != 2 * SHA_LEN)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(s[i], lower_only), lo = hexval(s[i + 1], lower_only);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return n == 2 * MD5_LEN ? K_MD5 : K_SHA;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Gravatar's normalisation into out (HASHINDEX_EMAIL_MAX bytes): its length, or -EINVAL. */
static int normalise(const char *s, size_t n, char *out)
{
    while (n > 0 && is_space(s[0]))
        s++, n--;
    while (n > 0 && is_space(s[n - 1]))
        n--;
    if (n == 0 || n > HASHINDEX_EMAIL_MAX || !memchr(s, '@', n))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return -EINVAL;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return (int)n;
}

static bool digest(const EVP_MD *md, const char *s, size_t n, uint8_t *out, unsigned want)
{
    unsigned len = 0;
    return EVP_Digest(s, n, out, &len, md, NULL) == 1 && len == want;
}

bool hashindex_email_valid(const char *email, size_t n)
{
    char addr[HASHINDEX_EMAIL_MAX];
    return normalise(email, n, addr) >= 0;
}

int hashindex_register(hashindex_t *x, const char *email, size_t n, const char *uid, size_t ulen)
{
    char addr[HASHINDEX_EMAIL_MAX];
    int alen = normalise(email, n, addr);
    if (alen < 0 || !avatar_uid_valid(uid, ulen))
        return -EINVAL;
    uint8_t md5[MD5_LEN], sha[SHA_LEN];
    if (!digest(EVP_md5(), addr, (size_t)alen, md5, MD5_LEN) ||
        !digest(EVP_sha256(), addr, (size_t)alen, sha, SHA_LEN))
        return -EIO; /* MD5 is missing from an OpenSSL in FIPS mode */
    pthread_mutex_lock(&x->lock);
    rec_t *r = get_rec(x, uid, ulen);
    if (!r) {
        pthread_mutex_unlock(&x->lock);
        return -ENOMEM;
    }
    bool changed = set_name(x, r, K_MD5, md5);
    changed |= set_name(x, r, K_SHA, sha);
    x->gen += changed;
    uint64_t g = x->gen; /* unchanged: still make sure an earlier failed write is redone */
    pthread_mutex_unlock(&x->lock);
    return persist(x, g);
}

int hashindex_drop_uid(hashindex_t *x, const char *uid, size_t ulen)
{
    if (!avatar_uid_valid(uid, ulen))
        return -EINVAL;
    pthread_mutex_lock(&x->lock);
    rec_t *r = find(x, K_UID, uid, ulen);
    if (r) {
        drop_rec(x, r);
        x->gen++;
    }
    uint64_t g = x->gen;
    pthread_mutex_unlock(&x->lock);
    return persist(x, g);
}

bool hashindex_lookup(hashindex_t *x, const char *hash, size_t n, char uid_out[65])
{
    uint8_t name[SHA_LEN];
    int k = parse_name(hash, n, false, name);
    if (k < 0)
        return false;
    pthread_mutex_lock(&x->lock);
    rec_t *r = find(x, k, name, k == K_MD5 ? MD5_LEN : SHA_LEN);
    if (r) {
        memcpy(uid_out, r->uid, r->ulen);
        uid_out[r->ulen] = '\0';
    }
    pthread_mutex_unlock(&x->lock);
    return r != NULL;
}

size_t hashindex_count(hashindex_t *x)
{
    pthread_mutex_lock(&x->lock);
    size_t n = x->nnames;
    pthread_mutex_unlock(&x->lock);
    return n;
}

/* ---- open and free ---- */

/* The whole index file into a malloc'd buffer: 0 (*buf NULL when there is no file) or -errno. */
static int read_file(int dirfd, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = openat(dirfd, HASHINDEX_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct stat st;
    int e = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (e) {
        close(fd);
        return -e;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *b = malloc(cap);
    int r = b ? 0 : -ENOMEM;
    while (r == 0) {
        if (n == cap) { /* it grew since fstat */
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                r = -ENOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, b + n, cap - n);
        if (got == 0)
            break;
        if (got > 0)
            n += (size_t)got;
        else if (errno != EINTR)
            r = -errno;
    }
    close(fd);
    if (r < 0) {
        free(b);
        return r;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* Adds one "<hash> <uid>" line: false when it is malformed. */
static bool load_line(hashindex_t *x, const char *s, size_t n, bool *oom)
{
    const char *sp = memchr(s, ' ', n);
    uint8_t name[SHA_LEN];
    int k = sp ? parse_name(s, (size_t)(sp - s), true, name) : -1;
    size_t ulen = sp ? n - (size_t)(sp - s) - 1 : 0;
    if (k < 0 || !avatar_uid_valid(sp + 1, ulen))
        return false;
    rec_t *r = get_rec(x, sp + 1, ulen);
    if (!r)
        *oom = true;
    else
        set_name(x, r, k, name);
    return true;
}

/* Fills x from the file. 0, or -1 with a message in err. */
static int load(hashindex_t *x, char *err, size_t errlen)
{
    char *buf;
    size_t len, skipped = 0;
    int r = read_file(x->dirfd, &buf, &len);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", HASHINDEX_FILE, strerror(-r));
        return -1;
    }
    bool oom = false;
    for (size_t pos = 0, line = 0; pos < len && !oom; line++) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        const char *s = buf + pos;
        size_t n = end - pos;
        pos = end + 1;
        if (line == 0) {
            /* Another version may mean more than we can read: never overwrite it. */
            if (n != strlen(VERSION_LINE) || memcmp(s, VERSION_LINE, n)) {
                snprintf(err, errlen, "%s: not a version 1 index (first line is not \"%s\")", HASHINDEX_FILE,
                         VERSION_LINE);
                free(buf);
                return -1;
            }
        } else if (n > 0 && !load_line(x, s, n, &oom))
            skipped++;
    }
    free(buf);
    if (oom) {
        snprintf(err, errlen, "%s: out of memory", HASHINDEX_FILE);
        return -1;
    }
    if (skipped)
        snprintf(err, errlen, "%s: %zu malformed line%s skipped", HASHINDEX_FILE, skipped,
                 skipped > 1 ? "s" : "");
    return 0;
}

hashindex_t *hashindex_open(int dirfd, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    hashindex_t *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "hashindex: out of memory");
        return NULL;
    }
    x->dirfd = -1;
    x->nbuckets = BUCKETS_MIN;
    int r = siphash_key_random(&x->key);
    if (r < 0) {
        snprintf(err, errlen, "hashindex: random key: %s", strerror(-r));
        free(x);
        return NULL;
    }
    if (pthread_mutex_init(&x->lock, NULL) != 0) {
        snprintf(err, errlen, "hashindex: mutex init failed");
        free(x);
        return NULL;
    }
    if (pthread_mutex_init(&x->write_lock, NULL) != 0) {
        snprintf(err, errlen, "hashindex: mutex init failed");
        pthread_mutex_destroy(&x->lock);
        free(x);
        return NULL;
    }
    for (int k = 0; k < KINDS; k++)
        if (!(x->tab[k] = calloc(x->nbuckets, sizeof *x->tab[k]))) {
            snprintf(err, errlen, "hashindex: out of memory");
            hashindex_free(x);
            return NULL;
        }
    x->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (x->dirfd < 0) {
        snprintf(err, errlen, "hashindex: %s", strerror(errno));
        hashindex_free(x);
        return NULL;
    }
    if (load(x, err, errlen) < 0) {
        hashindex_free(x);
        return NULL;
    }
    return x;
}

void hashindex_free(hashindex_t *x)
{
    if (!x)
        return;
    for (size_t i = 0; x->tab[K_UID] && i < x->nbuckets; i++)
        for (rec_t *r = x->tab[K_UID][i], *next; r; r = next) {
            next = r->next[K_UID];
            free(r);
        }
    for (int k = 0; k < KINDS; k++)
        free(x->tab[k]);
    if (x->dirfd >= 0)
        close(x->dirfd);
    pthread_mutex_destroy(&x->write_lock);
    pthread_mutex_destroy(&x->lock);
    free(x);
}
