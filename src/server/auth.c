#include "server/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http/query.h"
#include "server/avatar.h"

#define FILE_MAX (64u << 10)
#define METHOD_MAX 16
#define MAC_LEN 32
/* METHOD \n / uid \n params: decoding never makes the query longer, and the canonical
 * separators stand in for the query's own '=' and '&' (and for the dropped sig's). */
#define CANON_MAX (METHOD_MAX + 2 + AVATAR_UID_MAX + 1 + AUTH_QUERY_MAX)

typedef struct {
    uint8_t *p;
    size_t n;
} secret_t;

struct auth {
    atomic_int refs;
    size_t ntokens, nkeys;
    uint8_t (*tokens)[MAC_LEN]; /* SHA-256 of each token: equal length, so comparing leaks none */
    secret_t *keys;             /* keys[0] signs */
};

/* ---- loading ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool sha256(const void *p, size_t n, uint8_t out[MAC_LEN])
{
    unsigned len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == MAC_LEN;
}

/* Appends "; "-separated text to a message buffer. */
static void add_msg(char *dst, size_t cap, const char *what, const char *path, const char *text)
{
    size_t used = strlen(dst);
    if (used < cap)
        snprintf(dst + used, cap - used, "%s%s %s %s", used ? "; " : "", what, path, text);
}

/* Reads every secret of path into a malloc'd array: exactly one of keys (the bytes, for HMAC
 * keys) and hashes (the SHA-256, for tokens) is non-NULL. 0, or -1 with a message in err. */
static int load_secrets(const char *what, const char *path, secret_t **keys, uint8_t (**hashes)[MAC_LEN],
                        size_t *count, char *err, size_t errlen, char *warn, size_t warnlen)
{
    /* Symlinks are followed, unlike in the avatar folder: the path comes from the admin's command
     * line, not from the network, and secrets are often links into /run/secrets or a mounted
     * Kubernetes volume. Whoever can change the link could change the file itself. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    struct stat st;
    const char *bad = NULL;
    if (fstat(fd, &st) < 0)
        bad = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        bad = "not a regular file";
    else if (st.st_size > (off_t)FILE_MAX)
        bad = "larger than 64 KiB";
    char *buf = bad ? NULL : malloc(FILE_MAX + 1);
    if (!bad && !buf)
        bad = "out of memory";
    size_t len = 0;
    ssize_t r = 0;
    while (!bad && len <= FILE_MAX && (r = read(fd, buf + len, FILE_MAX + 1 - len)) != 0) {
        if (r > 0)
            len += (size_t)r;
        else if (errno != EINTR)
            bad = strerror(errno);
    }
    close(fd);
    if (!bad && len > FILE_MAX)
        bad = "larger than 64 KiB"; /* it grew since fstat */
    if (bad) {
        snprintf(err, errlen, "%s %s: %s", what, path, bad);
        free(buf);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        add_msg(warn, warnlen, what, path, "is open to group or others (chmod 600 it)");

    size_t lines = 1, n = 0, lineno = 0, bad_line = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    secret_t *sec = keys ? calloc(lines, sizeof *sec) : NULL;
    uint8_t(*hs)[MAC_LEN] = hashes ? calloc(lines, sizeof *hs) : NULL;
    if (!sec && !hs)
        bad = "out of memory";
    for (size_t pos = 0; pos < len && !bad;) {
        lineno++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len, s = pos, e = end;
        pos = end + 1;
        while (s < e && is_space(buf[s]))
            s++;
        while (e > s && is_space(buf[e - 1]))
            e--;
        if (s == e || buf[s] == '#')
            continue;
        if (e - s < AUTH_SECRET_MIN)
            bad = "shorter than 16 bytes";
        else if (e - s > AUTH_SECRET_MAX)
            bad = "longer than 512 bytes";
        for (size_t i = s; i < e && !bad; i++)
            if (buf[i] <= ' ' || buf[i] > '~')
                bad = "has a space, a control byte or a non-ASCII byte";
        if (bad) {
            bad_line = lineno;
            break;
        }
        if (hs && !sha256(buf + s, e - s, hs[n]))
            bad = "SHA-256 unavailable";
        else if (sec && !(sec[n].p = malloc(e - s)))
            bad = "out of memory";
        else if (sec) {
            memcpy(sec[n].p, buf + s, e - s);
            sec[n].n = e - s;
        }
        if (!bad)
            n++;
    }
    OPENSSL_cleanse(buf, len);
    free(buf);
    if (!bad && n == 0)
        bad = "has no secret (only blank lines and comments)";
    if (bad) {
        if (bad_line)
            snprintf(err, errlen, "%s %s: line %zu: %s %s", what, path, bad_line, keys ? "key" : "token",
                     bad);
        else
            snprintf(err, errlen, "%s %s: %s", what, path, bad);
        for (size_t i = 0; sec && i < n; i++) {
            OPENSSL_cleanse(sec[i].p, sec[i].n);
            free(sec[i].p);
        }
        free(sec);
        if (hs)
            OPENSSL_cleanse(hs, lines * sizeof *hs);
        free(hs);
        return -1;
    }
    if (keys)
        *keys = sec;
    else
        *hashes = hs;
    *count = n;
    return 0;
}

static void auth_free(auth_t *a)
{
    for (size_t i = 0; i < a->nkeys; i++) {
        OPENSSL_cleanse(a->keys[i].p, a->keys[i].n);
        free(a->keys[i].p);
    }
    free(a->keys);
    if (a->tokens)
        OPENSSL_cleanse(a->tokens, a->ntokens * sizeof *a->tokens);
    free(a->tokens);
    free(a);
}

auth_t *auth_load(const char *token_file, const char *key_file, char *err, size_t errlen)
{
    char warn[512] = "";
    if (errlen)
        err[0] = '\0';
    auth_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "auth: out of memory");
        return NULL;
    }
    atomic_init(&a->refs, 1);
    const char *tf = "upload token file", *kf = "upload key file";
    if ((token_file &&
         load_secrets(tf, token_file, NULL, &a->tokens, &a->ntokens, err, errlen, warn, sizeof warn) < 0) ||
        (key_file && load_secrets(kf, key_file, &a->keys, NULL, &a->nkeys, err, errlen, warn, sizeof warn) < 0)) {
        auth_free(a);
        return NULL;
    }
    snprintf(err, errlen, "%s", warn);
    return a;
}

auth_t *auth_ref(auth_t *a)
{
    if (a)
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

void auth_unref(auth_t *a)
{
    if (a && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
        auth_free(a);
}

/* ---- the holder ---- */

int auth_holder_init(auth_holder_t *h, auth_t *a)
{
    int r = pthread_mutex_init(&h->_lock, NULL);
    if (r != 0)
        return -r;
    h->_cur = a;
    return 0;
}

auth_t *auth_holder_get(auth_holder_t *h)
{
    pthread_mutex_lock(&h->_lock);
    auth_t *a = auth_ref(h->_cur);
    pthread_mutex_unlock(&h->_lock);
    return a;
}

void auth_holder_set(auth_holder_t *h, auth_t *a)
{
    pthread_mutex_lock(&h->_lock);
    auth_t *old = h->_cur;
    h->_cur = a;
    pthread_mutex_unlock(&h->_lock);
    auth_unref(old); /* outside the lock: freeing wipes memory, no reason to make readers wait */
}

void auth_holder_destroy(auth_holder_t *h)
{
    auth_unref(h->_cur);
    h->_cur = NULL;
    pthread_mutex_destroy(&h->_lock);
}

/* ---- bearer tokens ---- */

bool auth_bearer_ok(const auth_t *a, const char *value, size_t n)
{
    if (!a || a->ntokens == 0)
        return false;
    size_t i = 0;
    while (i < n && (value[i] == ' ' || value[i] == '\t'))
        i++;
    if (n - i < 6 || strncasecmp(value + i, "Bearer", 6) != 0)
        return false;
    i += 6;
    size_t sp = i;
    while (i < n && value[i] == ' ')
        i++;
    size_t end = n;
    while (end > i && (value[end - 1] == ' ' || value[end - 1] == '\t'))
        end--;
    uint8_t h[MAC_LEN];
    if (i == sp || end == i || end - i > AUTH_SECRET_MAX || !sha256(value + i, end - i, h))
        return false;
    unsigned ok = 0;
    for (size_t t = 0; t < a->ntokens; t++) /* every token, no early exit */
        ok |= CRYPTO_memcmp(h, a->tokens[t], MAC_LEN) == 0;
    return ok != 0;
}

/* ---- signed URLs ---- */

typedef struct {
    const char *k, *v;
    size_t kn, vn;
} param_t;

typedef struct {
    char buf[AUTH_QUERY_MAX]; /* decoded keys and values */
    param_t p[AUTH_PARAMS_MAX];
    size_t np;
    const char *sig; /* NULL when absent */
    size_t sign;
} query_t;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* http_pct_decode ('+' is a space) refusing control bytes too: what a handler reads from a
 * signed parameter must be exactly what was signed. Its length, or -1. */
static long pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    ssize_t o = http_pct_decode(s, n, out, cap, true);
    for (ssize_t i = 0; i < o; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            return -1;
    return (long)o;
}

static int param_cmp(const void *pa, const void *pb)
{
    const param_t *a = pa, *b = pb;
    int c = memcmp(a->k, b->k, a->kn < b->kn ? a->kn : b->kn);
    if (c || a->kn != b->kn)
        return c ? c : (a->kn < b->kn ? -1 : 1);
    c = memcmp(a->v, b->v, a->vn < b->vn ? a->vn : b->vn);
    return c ? c : (a->vn < b->vn ? -1 : a->vn > b->vn);
}

/* Splits, decodes and sorts the query into q. false when it is malformed (see auth.h). */
static bool parse_query(const char *s, size_t n, query_t *q)
{
    q->np = 0;
    q->sig = NULL;
    if (n > AUTH_QUERY_MAX)
        return false;
    size_t used = 0, nparams = 0;
    for (size_t pos = 0; pos < n;) {
        const char *amp = memchr(s + pos, '&', n - pos);
        size_t end = amp ? (size_t)(amp - s) : n, seg = pos;
        pos = end + 1;
        if (seg == end)
            continue;
        if (++nparams > AUTH_PARAMS_MAX)
            return false;
        const char *eq = memchr(s + seg, '=', end - seg);
        if (!eq || eq == s + seg)
            return false;
        size_t kraw = (size_t)(eq - (s + seg));
        char *k = q->buf + used;
        long kn = pct_decode(s + seg, kraw, k, sizeof q->buf - used);
        if (kn <= 0 || memchr(k, '=', (size_t)kn) || memchr(k, '&', (size_t)kn))
            return false;
        char *v = k + kn;
        long vn = pct_decode(eq + 1, end - seg - kraw - 1, v, sizeof q->buf - used - (size_t)kn);
        if (vn < 0 || memchr(v, '&', (size_t)vn))
            return false;
        used += (size_t)(kn + vn);
        if (kn == 3 && !memcmp(k, "sig", 3)) {
            if (q->sig)
                return false;
            q->sig = v;
            q->sign = (size_t)vn;
        } else
            q->p[q->np++] = (param_t){.k = k, .kn = (size_t)kn, .v = v, .vn = (size_t)vn};
    }
    qsort(q->p, q->np, sizeof q->p[0], param_cmp);
    for (size_t i = 1; i < q->np; i++)
        if (q->p[i].kn == q->p[i - 1].kn && !memcmp(q->p[i].k, q->p[i - 1].k, q->p[i].kn))
            return false;
    return true;
}

static bool method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > METHOD_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] <= ' ' || m[i] > '~')
            return false;
    return true;
}

/* The canonical string of auth.h into dst (CANON_MAX bytes). Its length. */
static size_t canonical(char *dst, const char *method, const char *uid, size_t ulen, const query_t *q)
{
    size_t mlen = strlen(method), o = 0;
    memcpy(dst, method, mlen);
    o = mlen;
    dst[o++] = '\n';
    dst[o++] = '/';
    memcpy(dst + o, uid, ulen);
    o += ulen;
    dst[o++] = '\n';
    for (size_t i = 0; i < q->np; i++) {
        if (i)
            dst[o++] = '&';
        memcpy(dst + o, q->p[i].k, q->p[i].kn);
        o += q->p[i].kn;
        dst[o++] = '=';
        memcpy(dst + o, q->p[i].v, q->p[i].vn);
        o += q->p[i].vn;
    }
    return o;
}

static bool hmac(const secret_t *key, const char *msg, size_t n, uint8_t out[MAC_LEN])
{
    unsigned len = 0;
    return HMAC(EVP_sha256(), key->p, (int)key->n, (const uint8_t *)msg, n, out, &len) && len == MAC_LEN;
}

/* Parses the request into q and its canonical string into canon. false when malformed. */
static bool prepare(const char *method, const char *uid, size_t ulen, const char *query, size_t qlen,
                    query_t *q, char *canon, size_t *clen)
{
    if (!method_ok(method) || !avatar_uid_valid(uid, ulen) || !parse_query(query, qlen, q))
        return false;
    *clen = canonical(canon, method, uid, ulen, q);
    return true;
}

static bool expires_ok(const query_t *q, int64_t now_s)
{
    for (size_t i = 0; i < q->np; i++) {
        const param_t *p = &q->p[i];
        if (p->kn != 7 || memcmp(p->k, "expires", 7))
            continue;
        if (p->vn == 0 || p->vn > 18) /* 18 digits always fit in int64_t */
            return false;
        int64_t exp = 0;
        for (size_t j = 0; j < p->vn; j++) {
            if (p->v[j] < '0' || p->v[j] > '9')
                return false;
            exp = exp * 10 + (p->v[j] - '0');
        }
        /* exp > now_s, so the unsigned difference is exact even for a negative now_s. */
        return exp > now_s && (uint64_t)exp - (uint64_t)now_s <= AUTH_EXPIRES_MAX;
    }
    return false;
}

auth_status_t auth_check_signed(const auth_t *a, const char *method, const char *uid, size_t ulen,
                                const char *query, size_t qlen, int64_t now_s)
{
    query_t q;
    char canon[CANON_MAX];
    size_t clen;
    if (!prepare(method, uid, ulen, query, qlen, &q, canon, &clen))
        return AUTH_BAD;
    if (!q.sig)
        return AUTH_MISSING;
    uint8_t sig[MAC_LEN];
    if (q.sign != AUTH_SIG_HEX || !a || a->nkeys == 0)
        return AUTH_BAD;
    for (size_t i = 0; i < MAC_LEN; i++) {
        int hi = hexval(q.sig[2 * i]), lo = hexval(q.sig[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return AUTH_BAD;
        sig[i] = (uint8_t)(hi << 4 | lo);
    }
    unsigned ok = 0;
    for (size_t k = 0; k < a->nkeys; k++) { /* every key, no early exit */
        uint8_t mac[MAC_LEN];
        if (!hmac(&a->keys[k], canon, clen, mac))
            return AUTH_BAD;
        ok |= CRYPTO_memcmp(mac, sig, MAC_LEN) == 0;
    }
    if (!ok)
        return AUTH_BAD;
    return expires_ok(&q, now_s) ? AUTH_OK : AUTH_EXPIRED;
}

const char *auth_strerror(auth_status_t st)
{
    switch (st) {
    case AUTH_OK:
        return "ok";
    case AUTH_MISSING:
        return "authorization required";
    case AUTH_EXPIRED:
        return "signed URL expired";
    case AUTH_BAD:
        break;
    }
    return "bad signature";
}

int auth_sign(const auth_t *a, const char *method, const char *uid, size_t ulen, const char *query,
              size_t qlen, char sig_hex_out[AUTH_SIG_HEX + 1])
{
    query_t q;
    char canon[CANON_MAX];
    size_t clen;
    uint8_t mac[MAC_LEN];
    /* Refused too: a query that "&sig=<64 hex>" would take past the limits, or the URL minted
     * would never check. */
    if (!a || a->nkeys == 0 || qlen + 5 + AUTH_SIG_HEX > AUTH_QUERY_MAX ||
        !prepare(method, uid, ulen, query, qlen, &q, canon, &clen) || q.sig || q.np + 1 > AUTH_PARAMS_MAX ||
        !hmac(&a->keys[0], canon, clen, mac))
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < MAC_LEN; i++) {
        sig_hex_out[2 * i] = hex[mac[i] >> 4];
        sig_hex_out[2 * i + 1] = hex[mac[i] & 15];
    }
    sig_hex_out[AUTH_SIG_HEX] = '\0';
    return 0;
}
