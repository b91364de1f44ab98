/*
 * avatar_handler: the avatar URL space, over the avatar store and the variant cache.
 *   /<uid>             the user's avatar, or the default one; conditional GET (ETag first)
 *   /<uid>?s=N&d=...   a square N x N variant, a generated default (avatar_params.h)
 *   /avatar/<hash>     Gravatar's URL: a name registered by an upload, a file named <hash>,
 *                      else d= (80 x 80 unless s= says otherwise)
 *   /<uid>.<ext>       301 to /<uid> (the original nginx scheme's pseudo-static URLs)
 * Without s= and fm= the original bytes are sent as they are. Anything that could escape the
 * avatar folder (%-escapes, "..", bytes outside the uid alphabet) is refused with 400 before
 * it gets near the file system.
 */
#include "server/avatar_handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "http/date.h"
#include "server/avatar.h"
#include "server/avatar_params.h"
#include "server/avatar_render.h"
#include "server/hashindex.h"
#include "server/pool.h"
#include "server/server.h"
#include "server/upload.h"
#include "server/variant.h"

#define GROUP_DEFAULT "*default*" /* the default avatar's variants: no uid looks like it */
#define VARY 1u                   /* serve flag: the format followed Accept */
/* d=404 and d=<url> answer for a user without a picture, who may get one any moment: cached
 * briefly, as gravatar.com does (300 s), not for --max-age. Nothing to validate: no ETag. */
#define FALLBACK_CACHE "Cache-Control: public, max-age=300\r\n"

/* RFC 9110 §13.1.2: weak comparison, a list of entity-tags or "*". */
static bool etag_matches(const char *v, size_t n, const avatar_file_t *f)
{
    const char *p = v, *end = v + n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p < end && *p == '*')
            return true;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *s = p;
        if (p < end && *p == '"') {
            p++;
            while (p < end && *p != '"')
                p++;
            if (p < end)
                p++;
        } else {
            while (p < end && *p != ',')
                p++;
        }
        if ((size_t)(p - s) == f->etag_len && memcmp(s, f->etag, f->etag_len) == 0)
            return true;
    }
    return false;
}

static bool not_modified(const req_t *r, const avatar_file_t *f)
{
    const http_header_t *inm = req_header(r, "if-none-match", 13);
    if (inm) /* when present, If-Modified-Since is ignored (RFC 9110 §13.1.3) */
        return etag_matches(inm->value, inm->value_len, f);
    const http_header_t *ims = req_header(r, "if-modified-since", 17);
    int64_t t;
    return ims && http_date_parse(ims->value, ims->value_len, &t) == 0 && f->mtime <= t;
}

/* Sends f (a reference, released once sent), or the error when f is NULL. */
static void serve(req_t *r, avatar_file_t *f, int status, const char *reason, unsigned flags)
{
    if (!f) {
        req_respond_error(r, status, reason);
        return;
    }
    static const char vary[] = "Vary: Accept\r\n";
    char h[sizeof f->hdrs + sizeof vary];
    const char *hdrs = f->hdrs;
    size_t hl = f->hdrs_len;
    if (flags & VARY) {
        memcpy(h, f->hdrs, hl);
        memcpy(h + hl, vary, sizeof vary - 1);
        hdrs = h;
        hl += sizeof vary - 1;
    }
    if (not_modified(r, f))
        req_respond(r, 304, hdrs + f->ct_len, hl - f->ct_len, NULL, 0, avatar_put, f);
    else
        req_respond_file(r, 200, hdrs, hl, f->body, f->len, f->fd, avatar_put, f);
}

/* ---- what a request asks for ------------------------------------------------------------ */

/* The parts of a request's parameters that outlive the handler's frame (a file read off the
 * loop first). Generated pictures are always made at once, so the rest need not. */
typedef struct {
    uint32_t size;      /* 0: the original, unless fm is set */
    img_format_t fm;
    char group[AVATAR_UID_MAX + 1]; /* the source's name, for dropping its variants */
} want_t;

static img_format_t natural_format(img_format_t src)
{
    return src == IMG_FMT_JPEG || src == IMG_FMT_WEBP ? src : IMG_FMT_PNG;
}

static void render_or_serve(req_t *r, const char *key, size_t klen, const char *group, size_t glen,
                            avatar_render_t *spec, unsigned flags)
{
    server_t *srv = r->wk->srv;
    avatar_file_t *f = variant_find(srv->variants, key, klen);
    if (f) {
        avatar_put(spec->src);
        serve(r, f, 0, NULL, flags);
        return;
    }
    avatar_render_t *a = malloc(sizeof *a);
    if (!a) {
        avatar_put(spec->src);
        req_respond_error(r, 503, "out of memory");
        return;
    }
    *a = *spec;
    a->lim = (img_limits_t){srv->cfg.max_pixels, srv->cfg.max_image_memory};
    a->max_age = srv->cfg.max_age;
    a->mtime = srv->started_s;
    variant_render(srv->variants, r, key, klen, group, glen, &avatar_render_ops, a, serve, flags);
}

/* Serves file f (a reference) as asked: the original bytes, or a variant of it. */
static void deliver(req_t *r, avatar_file_t *f, const want_t *w)
{
    if (!w->size && w->fm == IMG_FMT_UNKNOWN) {
        serve(r, f, 0, NULL, 0);
        return;
    }
    const http_header_t *acc = req_header(r, "accept", 6);
    avatar_params_t p = {.fm = w->fm};
    bool vary;
    img_format_t fmt = avatar_negotiate(&p, acc ? acc->value : NULL, acc ? acc->value_len : 0,
                                        natural_format(img_sniff(f->body, f->len)), r->wk->srv->cfg.avif, &vary);
    char key[VARIANT_KEY_MAX];
    int kl = snprintf(key, sizeof key, "f|%.*s|%u|%d", (int)f->etag_len, f->etag, w->size, (int)fmt);
    avatar_render_t spec = {.src = f, .size = w->size, .fmt = fmt};
    render_or_serve(r, key, (size_t)kl, w->group, strlen(w->group), &spec, vary ? VARY : 0);
}

/* A picture drawn from seed (the hash, or a digest of the uid), cached as any variant. */
/* seed NULL: a uid's, the SHA-256 of its name, made only here (it cost two thirds of a served
 * avatar's instructions when by_uid made it for every request, OpenSSL's one-shot SHA256()
 * fetching the algorithm each time). */
static void generate(req_t *r, const avatar_params_t *p, img_gen_t gen, const uint8_t *seed, size_t seed_len,
                     const char *name, size_t name_len)
{
    uint8_t digest[SHA256_DIGEST_LENGTH];
    if (!seed) {
        SHA256((const unsigned char *)name, name_len, digest);
        seed = digest;
        seed_len = sizeof digest;
    }
    const http_header_t *acc = req_header(r, "accept", 6);
    bool vary;
    img_format_t fmt = avatar_negotiate(p, acc ? acc->value : NULL, acc ? acc->value_len : 0, IMG_FMT_PNG,
                                        r->wk->srv->cfg.avif, &vary);
    avatar_render_t spec = {.gen = gen, .seed_len = (uint8_t)seed_len,
                            .size = p->size ? p->size : AVATAR_SIZE_HASH, .fmt = fmt};
    memcpy(spec.seed, seed, seed_len);
    if (gen == IMG_GEN_INITIALS) {
        const char *t = p->text_len ? p->text : name;
        spec.text_len = (uint8_t)(p->text_len ? p->text_len : name_len);
        memcpy(spec.text, t, spec.text_len);
    }
    static const char hex[] = "0123456789abcdef";
    char group[2 + 64 + 1] = "g|";
    for (size_t i = 0; i < seed_len; i++) {
        group[2 + 2 * i] = hex[seed[i] >> 4];
        group[3 + 2 * i] = hex[seed[i] & 15];
    }
    size_t glen = 2 + 2 * seed_len;
    char key[VARIANT_KEY_MAX];
    int kl = snprintf(key, sizeof key, "%.*s|%d|%u|%d|%.*s", (int)glen, group, (int)spec.gen, spec.size, (int)fmt,
                      (int)spec.text_len, spec.text);
    render_or_serve(r, key, (size_t)kl, group, glen, &spec, vary ? VARY : 0);
}

/* The user has no picture of their own (or f=y): what d= says, else the default avatar.
 * deflt: the default avatar (a reference) or NULL; seed: as generate() takes it. */
static void fallback(req_t *r, const avatar_params_t *p, avatar_file_t *deflt, uint32_t size, const uint8_t *seed,
                     size_t seed_len, const char *name, size_t name_len)
{
    avatar_default_t d = p->d;
    if (d != AVATAR_D_NONE || !deflt) {
        avatar_put(deflt);
        deflt = NULL;
    }
    switch (d) {
    case AVATAR_D_NONE:
        if (deflt) {
            want_t w = {.size = size, .fm = p->fm, .group = GROUP_DEFAULT};
            deliver(r, deflt, &w);
        } else if (size) { /* Gravatar's own default is a picture: ours is mp */
            generate(r, p, IMG_GEN_MP, seed, seed_len, name, name_len);
        } else {
            req_respond_error(r, 404, "no such avatar");
        }
        return;
    case AVATAR_D_404: {
        static const char h[] = "Content-Type: application/json\r\n" FALLBACK_CACHE;
        static const char msg[] = "{\"error\": \"no such avatar\"}\n";
        req_respond(r, 404, h, sizeof h - 1, msg, sizeof msg - 1, NULL, NULL);
        return;
    }
    case AVATAR_D_URL: {
        char h[AVATAR_URL_MAX + 128];
        int hl = snprintf(h, sizeof h, "Location: %.*s\r\nContent-Type: application/json\r\n" FALLBACK_CACHE,
                          (int)p->url_len, p->url);
        static const char msg[] = "{\"error\": \"no such avatar, see Location\"}\n";
        req_respond(r, 302, h, (size_t)hl, msg, sizeof msg - 1, NULL, NULL);
        return;
    }
    case AVATAR_D_PICTURE:
        generate(r, p, p->gen, seed, seed_len, name, name_len);
    }
}

/* A large file read on the pool, off the loop: once per version of the file. */
typedef struct {
    pool_job_t pj; /* first: the pool hands it back */
    req_t *r;
    avatar_store_t *store;
    avatar_slow_t slow;
    avatar_file_t *f;
    want_t want;
} load_job_t;

static void load_run(pool_job_t *pj)
{
    load_job_t *j = (load_job_t *)pj;
    j->f = avatar_load(j->store, &j->slow);
}

static void load_done(loop_t *loop, void *arg)
{
    load_job_t *j = arg;
    avatar_slow_release(&j->slow); /* when it never ran */
    if (j->pj.outcome != POOL_RAN)
        req_respond_error(j->r, 503, "server is shutting down");
    else if (!j->f)
        req_respond_error(j->r, 503, "out of memory");
    else
        deliver(j->r, j->f, &j->want);
    free(j);
}

static void load_cancel(void *arg)
{
    pool_cancel(&((load_job_t *)arg)->pj);
}

static void load_off_loop(req_t *r, avatar_store_t *store, const avatar_slow_t *slow, const want_t *want)
{
    load_job_t *j = malloc(sizeof *j);
    if (!j) {
        avatar_slow_t s = *slow;
        avatar_slow_release(&s);
        req_respond_error(r, 503, "out of memory");
        return;
    }
    *j = (load_job_t){.pj = {.run = load_run, .done = load_done, .loop = r->wk->loop}, .r = r, .store = store,
                      .slow = *slow, .want = *want};
    req_hold(r, load_cancel, j);
    int e = pool_submit(r->wk->srv->pool, &j->pj);
    if (e != 0) {
        avatar_slow_release(&j->slow);
        req_respond_error(r, 503, pool_refusal(e));
        free(j);
    }
}

/* The user's own file (a reference; the default avatar does not count), AVATAR_SLOW (read off
 * the loop, then delivered as w says), or none. */
static avatar_result_t own_file(req_t *r, const char *uid, size_t n, avatar_file_t **f, const want_t *w)
{
    avatar_store_t *store = r->wk->srv->avatars;
    avatar_slow_t slow;
    avatar_result_t res = avatar_get(store, uid, n, f, &slow);
    if (res == AVATAR_SLOW)
        load_off_loop(r, store, &slow, w);
    if (res == AVATAR_FOUND && (*f)->is_default) {
        avatar_put(*f);
        *f = NULL;
        res = AVATAR_NONE;
    }
    return res;
}

static bool parse(req_t *r, avatar_params_t *p)
{
    const char *reason;
    if (avatar_params_parse(r->http->query, r->http->query_len, p, &reason) != 0) {
        req_respond_error(r, 400, reason);
        return false;
    }
    if (p->fm == IMG_FMT_AVIF && !r->wk->srv->cfg.avif) {
        req_respond_error(r, 400, "AVIF output is off (pixd --avif)");
        return false;
    }
    return true;
}

/* GET /<uid> */
static void by_uid(req_t *r, const char *uid, size_t n)
{
    avatar_params_t p;
    if (!parse(r, &p))
        return;
    want_t w = {.size = p.size, .fm = p.fm};
    memcpy(w.group, uid, n);
    avatar_file_t *f = NULL;
    if (!p.forcedefault) {
        avatar_result_t res = own_file(r, uid, n, &f, &w);
        if (res == AVATAR_SLOW)
            return;
        if (f) {
            deliver(r, f, &w);
            return;
        }
    }
    /* A generated picture for a uid is 80 x 80 unless s= says otherwise, as on /avatar/. */
    fallback(r, &p, avatar_default(r->wk->srv->avatars), p.size, NULL, 0, uid, n);
}

static int unhex(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* GET /avatar/<hash> */
static void by_hash(req_t *r, const char *seg, size_t n)
{
    char hash[65];
    size_t hl = avatar_hash_parse(seg, n, hash);
    if (!hl) {
        req_respond_error(r, 404, "no such avatar (want an MD5 or SHA-256 hash)");
        return;
    }
    avatar_params_t p;
    if (!parse(r, &p))
        return;
    if (!p.size)
        p.size = AVATAR_SIZE_HASH;
    uint8_t seed[32];
    for (size_t i = 0; i < hl / 2; i++)
        seed[i] = (uint8_t)(unhex(hash[2 * i]) << 4 | unhex(hash[2 * i + 1]));
    if (!p.forcedefault) {
        /* A name registered by an upload first, then a file named after the hash. */
        char uid[65];
        const char *names[2] = {hash, NULL};
        if (hashindex_lookup(r->wk->srv->hashes, hash, hl, uid))
            names[0] = uid, names[1] = hash;
        for (int i = 0; i < 2 && names[i]; i++) {
            size_t un = strlen(names[i]);
            want_t w = {.size = p.size, .fm = p.fm};
            memcpy(w.group, names[i], un);
            avatar_file_t *f = NULL;
            avatar_result_t res = own_file(r, names[i], un, &f, &w);
            if (res == AVATAR_SLOW)
                return;
            if (f) {
                deliver(r, f, &w);
                return;
            }
        }
    }
    fallback(r, &p, avatar_default(r->wk->srv->avatars), p.size, seed, hl / 2, NULL, 0);
}

static bool image_ext(const char *e, size_t n)
{
    static const char *const known[] = {"png", "jpg", "jpeg", "gif", "webp"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == n && strncasecmp(e, known[i], n) == 0)
            return true;
    return false;
}

/* Bytes that may appear in a path without making it unsafe to think about. */
static bool path_safe(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '_' || ch == '-' || ch == '.' || ch == '/';
        if (!ok || (ch == '.' && i + 1 < n && p[i + 1] == '.'))
            return false;
    }
    return true;
}

bool avatar_handle(req_t *r)
{
    const char *path = r->http->path;
    size_t n = r->http->path_len;
    if (n < 2 || path[0] != '/')
        return false;
    const char *seg = path + 1;
    size_t slen = n - 1;
    if (!path_safe(seg, slen)) {
        req_respond_error(r, 400, "invalid path");
        return true;
    }
    static const char hash_prefix[] = "avatar/";
    if (slen > sizeof hash_prefix - 1 && memcmp(seg, hash_prefix, sizeof hash_prefix - 1) == 0 &&
        !memchr(seg + sizeof hash_prefix - 1, '/', slen - (sizeof hash_prefix - 1))) {
        if (req_get_or_head(r))
            by_hash(r, seg + sizeof hash_prefix - 1, slen - (sizeof hash_prefix - 1));
        return true;
    }
    if (memchr(seg, '/', slen))
        return false;
    if (avatar_uid_valid(seg, slen)) {
        if (r->http->method == HTTP_METHOD_PUT || r->http->method == HTTP_METHOD_DELETE)
            upload_handle(r, seg, slen);
        else if (req_get_or_head(r))
            by_uid(r, seg, slen);
        return true;
    }
    const char *dot = memchr(seg, '.', slen);
    size_t ulen = dot ? (size_t)(dot - seg) : slen;
    if (!dot || !avatar_uid_valid(seg, ulen) || !image_ext(dot + 1, slen - ulen - 1))
        return false;
    if (!req_get_or_head(r))
        return true;
    /* Sized for the longest uid; a cut header would be worse than none, so check. */
    char h[sizeof "Location: /\r\nContent-Type: application/json\r\n" + AVATAR_UID_MAX];
    int hl = snprintf(h, sizeof h, "Location: /%.*s\r\nContent-Type: application/json\r\n", (int)ulen, seg);
    if (hl < 0 || (size_t)hl >= sizeof h) {
        req_respond_error(r, 500, "location too long");
        return true;
    }
    static const char msg[] = "{\"error\": \"moved permanently\"}\n";
    req_respond(r, 301, h, (size_t)hl, msg, sizeof msg - 1, NULL, NULL);
    return true;
}
