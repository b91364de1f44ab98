#include "server/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/durable.h"
#include "http/base64.h"
#include "http/multipart.h"
#include "http/query.h"
#include "image/render.h"
#include "server/auth.h"
#include "server/avatar.h"
#include "server/hashindex.h"
#include "server/magic_json.h"
#include "server/pool.h"

#define STORE_QUALITY 90
#define MAX_PARTS 8

static const char *const exts[] = {".png", ".jpg", ".jpeg", ".gif", ".webp"}; /* as avatar.c looks them up */

struct upload {
    auth_holder_t auth;
    bool enabled;
    char token_file[4096], key_file[4096];
    int dirfd;
    struct hashindex *hashes;
    struct avatar_store *avatars; /* told of each change before the answer */
    pthread_mutex_t store_lock; /* one writer of the folder and the index at a time */
    img_limits_t lim;
    uint32_t max_side;
    /* The uid whose file name is the default avatar's ("-1" for -1.png), "" when none: an
     * upload for it would replace or (as .jpg) remove the picture every unknown user gets. */
    char default_uid[AVATAR_UID_MAX + 1];
    upload_stats_t st; /* atomics */
};

typedef struct {
    pool_job_t pj; /* first: the pool hands it back */
    req_t *r;
    upload_t *u;
    bool del;
    char uid[AVATAR_UID_MAX + 1];
    const uint8_t *img; /* in the request's body, alive until the answer */
    size_t img_len;
    bool base64;        /* img is a JSON body's base64 text, decoded in place on the pool */
    char email[HASHINDEX_EMAIL_MAX + 1];
    size_t email_len;
    bool crop;
    uint32_t cx, cy, cw, ch;
    bool signed_url; /* authorised by a signed URL, not a bearer token */
    /* the answer */
    int status;
    const char *reason;
    char body[256];
    int body_len;
} job_t;

static void count(uint64_t *c)
{
    __atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

/* ---- the store (pool threads) ----------------------------------------------------------- */

static int status_of(img_status_t st)
{
    return st == IMG_ERR_UNSUPPORTED ? 415 : st == IMG_ERR_NOMEM ? 503 : st == IMG_ERR_INTERNAL ? 500 : 422;
}

static void fail(job_t *j, int status, const char *reason)
{
    j->status = status;
    j->reason = reason;
}

/* Removes the uid's files except keep (NULL: all), for one fsync of the folder afterwards.
 * How many went, or -errno. */
static int unlink_others(job_t *j, const char *keep)
{
    int gone = 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char name[AVATAR_UID_MAX + 8];
        snprintf(name, sizeof name, "%s%s", j->uid, exts[i]);
        if (keep && strcmp(name, keep) == 0)
            continue;
        int e = durable_unlink_batch(j->u->dirfd, name);
        if (e < 0)
            return e;
        gone += e;
    }
    return gone;
}

static bool exists(job_t *j)
{
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char name[AVATAR_UID_MAX + 8];
        struct stat st;
        snprintf(name, sizeof name, "%s%s", j->uid, exts[i]);
        if (fstatat(j->u->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return true;
    }
    return false;
}

static void run_delete(job_t *j)
{
    upload_t *u = j->u;
    pthread_mutex_lock(&u->store_lock);
    int gone = unlink_others(j, NULL);
    if (gone > 0 && durable_sync_dir(u->dirfd) != 0)
        gone = -EIO;
    if (gone >= 0)
        hashindex_drop_uid(u->hashes, j->uid, strlen(j->uid));
    avatar_forget(u->avatars, j->uid, strlen(j->uid));
    pthread_mutex_unlock(&u->store_lock);
    if (gone < 0)
        fail(j, 500, "cannot change the avatar folder");
    else if (gone == 0)
        fail(j, 404, "no such avatar");
    else
        j->status = 204;
}

/* An RGBA picture whose every pixel is opaque (a screenshot, most RGBA PNGs) becomes RGB: it has
 * no transparency, so it is kept as a JPEG like any photo, not as a PNG many times larger. */
static void drop_opaque_alpha(img_pixels_t *px)
{
    if (px->bands != 4)
        return;
    size_t n = (size_t)px->width * px->height;
    for (size_t i = 0; i < n; i++)
        if (px->px[4 * i + 3] != 255)
            return;
    for (size_t i = 0; i < n; i++) /* in order: pixel i moves to an address at or before its own */
        memmove(px->px + 3 * i, px->px + 4 * i, 3);
    px->bands = 3;
}

/* Decoded, upright, cropped, bounded, re-encoded: what is kept of an upload. *bad_box when the
 * crop box does not fit the (decoded, upright) picture. */
static img_status_t prepare(job_t *j, uint8_t **out, size_t *len, img_format_t *fmt, img_pixels_t *px,
                            bool *bad_box)
{
    img_format_t src;
    img_status_t st = img_decode_pixels(j->img, j->img_len, &j->u->lim, 0, px, &src);
    *bad_box = false;
    if (st == IMG_OK && j->crop && (st = img_crop(px, j->cx, j->cy, j->cw, j->ch)) != IMG_OK)
        *bad_box = true;
    if (st == IMG_OK)
        st = img_fit(px, j->u->max_side);
    if (st == IMG_OK)
        drop_opaque_alpha(px);
    *fmt = px->bands == 4 ? IMG_FMT_PNG : IMG_FMT_JPEG;
    if (st == IMG_OK)
        st = img_encode(px, *fmt, STORE_QUALITY, out, len);
    return st;
}

static const char not_an_image[] = "not an image: send a JPEG, PNG, GIF or WebP";

/* A JSON body's picture, decoded from base64 here on the pool (a whole picture's worth) and
 * sniffed then; other bodies were sniffed on the loop, before a job was spent on them. false:
 * the answer is set. */
static bool picture(job_t *j)
{
    if (!j->base64)
        return true;
    ssize_t n = base64_decode((uint8_t *)j->img, (const char *)j->img, j->img_len);
    if (n < 0) {
        fail(j, 400, "invalid base64 in image");
        return false;
    }
    j->img_len = (size_t)n;
    if (img_sniff(j->img, j->img_len) == IMG_FMT_UNKNOWN) {
        fail(j, 415, not_an_image);
        return false;
    }
    return true;
}

static void run_put(job_t *j)
{
    if (!picture(j))
        return;
    upload_t *u = j->u;
    uint8_t *data = NULL;
    size_t len = 0;
    img_format_t fmt;
    img_pixels_t px = {0};
    bool bad_box;
    img_status_t st = prepare(j, &data, &len, &fmt, &px, &bad_box);
    uint32_t w = px.width, h = px.height;
    img_pixels_free(&px);
    if (st != IMG_OK) {
        /* img_crop says IMG_ERR_ARGUMENT for a box outside the picture; a corrupt picture is
         * 422 whether or not a crop was asked for. */
        fail(j, bad_box ? 400 : status_of(st), bad_box ? "crop box outside the picture" : img_status_str(st));
        free(data);
        return;
    }
    char name[AVATAR_UID_MAX + 8];
    snprintf(name, sizeof name, "%s%s", j->uid, fmt == IMG_FMT_PNG ? ".png" : ".jpg");
    pthread_mutex_lock(&u->store_lock);
    bool existed = exists(j);
    /* The new file is in place before the others go, so a reader always finds a picture. */
    int e = durable_replace_batch(u->dirfd, name, data, len, 0644);
    if (e == 0)
        e = unlink_others(j, name) < 0 ? -EIO : 0;
    if (e == 0)
        e = durable_sync_dir(u->dirfd);
    /* The address's names move only once the picture is stored: an upload that fails leaves
     * them where they were (the address was checked before the job). */
    if (e == 0 && j->email_len)
        e = hashindex_register(u->hashes, j->email, j->email_len, j->uid, strlen(j->uid));
    avatar_forget(u->avatars, j->uid, strlen(j->uid)); /* also after a failure: trust the disk */
    pthread_mutex_unlock(&u->store_lock);
    free(data);
    if (e != 0) {
        fail(j, 500, "cannot store the avatar");
        return;
    }
    j->status = existed ? 200 : 201;
    j->body_len = snprintf(j->body, sizeof j->body,
                           "{\"uid\": \"%s\", \"format\": \"%s\", \"width\": %u, \"height\": %u, \"bytes\": %zu}\n",
                           j->uid, fmt == IMG_FMT_PNG ? "png" : "jpeg", w, h, len);
}

static void job_run(pool_job_t *pj)
{
    job_t *j = (job_t *)pj;
    if (j->del)
        run_delete(j);
    else
        run_put(j);
}

static void job_done(loop_t *loop, void *arg)
{
    job_t *j = arg;
    upload_t *u = j->u;
    if (j->pj.outcome != POOL_RAN)
        fail(j, 503, j->pj.outcome == POOL_SHUTDOWN ? "server is shutting down" : "client went away");
    if (j->status >= 500)
        count(&u->st.failed);
    else if (j->status >= 400)
        count(&u->st.rejected);
    else
        count(j->del ? &u->st.deleted : &u->st.stored);
    if (j->status == 204) {
        /* Headers, never NULL: the head is built with memcpy (NULL is undefined even for 0 bytes,
         * and UBSan stops pixd on it). */
        static const char h[] = "Cache-Control: no-store\r\n";
        req_respond(j->r, 204, h, sizeof h - 1, NULL, 0, NULL, NULL);
        free(j);
    } else if (j->status < 300) {
        static const char h[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";
        req_respond(j->r, j->status, h, sizeof h - 1, j->body, (size_t)j->body_len, free, j);
    } else {
        req_respond_error(j->r, j->status, j->reason);
        free(j);
    }
}

static void job_cancel(void *arg)
{
    pool_cancel(&((job_t *)arg)->pj);
}

/* ---- the request (loop thread) ---------------------------------------------------------- */

/* 0 when the request may change the uid's picture (*signed_url: by a signed URL rather than a
 * bearer token); otherwise answered (401/403). */
static int authorize(req_t *r, upload_t *u, const char *uid, size_t n, bool *signed_url)
{
    *signed_url = false;
    auth_t *a = auth_holder_get(&u->auth);
    const http_header_t *h = req_header(r, "authorization", 13);
    int status = 0;
    const char *reason = NULL;
    if (h) {
        if (!auth_bearer_ok(a, h->value, h->value_len)) {
            status = 401;
            reason = "bad bearer token";
        }
    } else {
        /* method_str points into the request head and is not NUL-terminated (auth_check_signed
         * takes a C string): only PUT and DELETE reach this handler. */
        const char *method = r->http->method == HTTP_METHOD_DELETE ? "DELETE" : "PUT";
        auth_status_t st =
            auth_check_signed(a, method, uid, n, r->http->query, r->http->query_len, time(NULL));
        if (st != AUTH_OK) {
            status = st == AUTH_MISSING ? 401 : 403;
            reason = st == AUTH_MISSING ? "a bearer token or a signed URL is required" : auth_strerror(st);
        } else {
            *signed_url = true;
        }
    }
    auth_unref(a);
    if (!status)
        return 0;
    count(&u->st.unauthorized);
    req_respond_error(r, status, reason);
    return -1;
}

static int parse_crop(const char *v, size_t n, job_t *j)
{
    uint32_t f[4] = {0};
    size_t k = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] >= '0' && v[i] <= '9' && digits < 6) {
            f[k] = f[k] * 10 + (uint32_t)(v[i] - '0');
            digits++;
        } else if (v[i] == ',' && digits && k < 3) {
            k++;
            digits = 0;
        } else {
            return -1;
        }
    }
    if (k != 3 || !digits || !f[2] || !f[3])
        return -1;
    j->crop = true;
    j->cx = f[0], j->cy = f[1], j->cw = f[2], j->ch = f[3];
    return 0;
}

static int set_email(const char *v, size_t n, bool escaped, job_t *j)
{
    ssize_t e = escaped ? http_pct_decode(v, n, j->email, sizeof j->email - 1, true) : -1;
    if (!escaped && n < sizeof j->email) {
        memcpy(j->email, v, n);
        e = (ssize_t)n;
    }
    if (e <= 0 || !hashindex_email_valid(j->email, (size_t)e))
        return -1;
    j->email_len = (size_t)e;
    return 0;
}

static const char unsigned_fields[] =
    "email and crop of a signed upload must be in the signed URL, not in the body";

/* The email and crop fields of a multipart or JSON body (NULL: absent). The body is not
 * signed: with a signed URL, an email field would let whoever holds a URL for one uid take
 * over any address's /avatar/<hash> names. */
static const char *body_fields(job_t *j, const char *email, size_t en, const char *crop, size_t cn)
{
    if (j->signed_url && (email || crop))
        return unsigned_fields;
    if (email && set_email(email, en, false, j) != 0)
        return "invalid email address";
    if (crop && parse_crop(crop, cn, j) != 0)
        return "crop must be x,y,w,h";
    return NULL;
}

/* email= and crop= from the query (signed with it), then the image, email and crop fields of a
 * multipart or JSON body ({"image": "<base64>", ...}, magic_json.h), or the raw body. NULL
 * reason: fine (unsigned_fields is a 403, others 400). */
static const char *read_request(req_t *r, job_t *j)
{
    http_query_iter_t it;
    http_qparam_t kv;
    http_query_iter(&it, r->http->query, r->http->query_len);
    while (http_query_next(&it, &kv)) {
        if (http_qparam_key(&kv, "email") && set_email(kv.val, kv.val_len, true, j) != 0)
            return "invalid email address";
        char crop[64];
        ssize_t cn;
        if (http_qparam_key(&kv, "crop") &&
            ((cn = http_pct_decode(kv.val, kv.val_len, crop, sizeof crop, false)) < 0 ||
             parse_crop(crop, (size_t)cn, j) != 0))
            return "crop must be x,y,w,h";
    }
    j->img = (const uint8_t *)r->body;
    j->img_len = r->body_len;
    const http_header_t *ct = req_header(r, "content-type", 12);
    const char *b;
    size_t bl;
    if (ct && ct->value_len >= 10 && strncasecmp(ct->value, "multipart/", 10) == 0) {
        multipart_part_t parts[MAX_PARTS];
        size_t np;
        if (multipart_boundary(ct->value, ct->value_len, &b, &bl) != 0)
            return "invalid multipart boundary";
        multipart_status_t ms =
            multipart_parse((const uint8_t *)r->body, r->body_len, b, bl, parts, MAX_PARTS, &np);
        if (ms != MULTIPART_OK)
            return multipart_strerror(ms);
        const multipart_part_t *img = multipart_find(parts, np, "image");
        if (!img)
            return "no image field in the form";
        j->img = img->data;
        j->img_len = img->data_len;
        const multipart_part_t *em = multipart_find(parts, np, "email"), *cr = multipart_find(parts, np, "crop");
        const char *bad = body_fields(j, em ? (const char *)em->data : NULL, em ? em->data_len : 0,
                                      cr ? (const char *)cr->data : NULL, cr ? cr->data_len : 0);
        if (bad)
            return bad;
    } else if (ct && ct->value_len >= 16 && strncasecmp(ct->value, "application/json", 16) == 0) {
        /* Parsed here, as a form is: its fields decide the answer's status before any job.
         * The body is the request's own, unescaped in place. */
        magic_json_req_t jr;
        magic_json_status_t ms = magic_json_parse((char *)r->body, r->body_len, &jr);
        if (ms != MAGIC_JSON_OK)
            return magic_json_strerror(ms);
        if (!jr.image_b64)
            return "no image field in the json body";
        j->img = (const uint8_t *)jr.image_b64;
        j->img_len = jr.image_b64_len;
        j->base64 = true;
        const char *bad = body_fields(j, jr.email, jr.email_len, jr.crop, jr.crop_len);
        if (bad)
            return bad;
    }
    return j->img_len ? NULL : "empty body: send the picture";
}

void upload_handle(req_t *r, const char *uid, size_t n)
{
    upload_t *u = r->wk->srv->upload;
    if (!u->enabled) {
        req_respond_error(r, 403, "uploads are off (see --upload-token-file, --upload-key-file)");
        return;
    }
    bool signed_url;
    if (authorize(r, u, uid, n, &signed_url) != 0)
        return;
    if (u->default_uid[0] && strlen(u->default_uid) == n && memcmp(u->default_uid, uid, n) == 0) {
        count(&u->st.unauthorized);
        req_respond_error(r, 403, "that uid's file is the default avatar (--default-avatar)");
        return;
    }
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        req_respond_error(r, 503, "out of memory");
        return;
    }
    j->pj = (pool_job_t){.run = job_run, .done = job_done, .loop = r->wk->loop};
    j->r = r;
    j->u = u;
    j->del = r->http->method == HTTP_METHOD_DELETE;
    j->signed_url = signed_url;
    memcpy(j->uid, uid, n);
    const char *bad = j->del ? NULL : read_request(r, j);
    if (!bad && !j->del && !j->base64 && img_sniff(j->img, j->img_len) == IMG_FMT_UNKNOWN)
        bad = not_an_image;
    if (bad) {
        count(bad == unsigned_fields ? &u->st.unauthorized : &u->st.rejected);
        req_respond_error(r, bad == unsigned_fields ? 403 : bad == not_an_image ? 415 : 400, bad);
        free(j);
        return;
    }
    req_hold(r, job_cancel, j);
    int e = pool_submit(r->wk->srv->pool, &j->pj);
    if (e != 0) {
        req_respond_error(r, 503, pool_refusal(e));
        free(j);
    }
}

/* ---- life ------------------------------------------------------------------------------- */

/* auth_load, with its warning (a secret file open to group or others) logged here: on success
 * err would hold it, and callers only print err on failure. */
static auth_t *load(upload_t *u, char *err, size_t errlen)
{
    auth_t *a =
        auth_load(u->token_file[0] ? u->token_file : NULL, u->key_file[0] ? u->key_file : NULL, err, errlen);
    if (a && errlen && err[0]) {
        fprintf(stderr, "pixd: warning: %s\n", err);
        err[0] = '\0';
    }
    return a;
}

upload_t *upload_new(const server_config_t *cfg, struct hashindex *hashes, struct avatar_store *avatars, char *err,
                     size_t errlen)
{
    upload_t *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->dirfd = -1;
    snprintf(u->token_file, sizeof u->token_file, "%s", cfg->upload_token_file);
    snprintf(u->key_file, sizeof u->key_file, "%s", cfg->upload_key_file);
    u->enabled = u->token_file[0] || u->key_file[0];
    u->hashes = hashes;
    u->avatars = avatars;
    u->lim = (img_limits_t){cfg->max_pixels, cfg->max_image_memory};
    u->max_side = cfg->upload_max_side;
    const char *dot = strrchr(cfg->default_avatar, '.');
    size_t dn = dot ? (size_t)(dot - cfg->default_avatar) : 0;
    for (size_t i = 0; dot && i < sizeof exts / sizeof exts[0]; i++)
        if (strcmp(dot, exts[i]) == 0 && avatar_uid_valid(cfg->default_avatar, dn))
            memcpy(u->default_uid, cfg->default_avatar, dn); /* dn <= AVATAR_UID_MAX, calloc'd */
    auth_t *a = u->enabled ? load(u, err, errlen) : NULL;
    if ((u->enabled && !a) || auth_holder_init(&u->auth, a) != 0) {
        auth_unref(a);
        free(u);
        return NULL;
    }
    pthread_mutex_init(&u->store_lock, NULL);
    /* Temporary files are pixd's own interrupted writes (uploads, the hash index): removed at
     * every start, uploads on or not, or a restart with uploads off would keep them for good.
     * Only an upload needs the folder writable: without uploads a failure is a warning. */
    u->dirfd = open(cfg->avatars, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = u->dirfd < 0 ? -errno : durable_clean_temps(u->dirfd);
    if (e < 0 && u->enabled) {
        snprintf(err, errlen, "avatar folder %s: %s", cfg->avatars, strerror(-e));
        upload_free(u);
        return NULL;
    }
    if (e < 0)
        fprintf(stderr, "pixd: warning: temporary files in %s not removed: %s\n", cfg->avatars, strerror(-e));
    if (e > 0)
        fprintf(stderr, "pixd: removed %d temporary file(s) of interrupted uploads\n", e);
    return u;
}

void upload_free(upload_t *u)
{
    if (!u)
        return;
    auth_holder_destroy(&u->auth);
    pthread_mutex_destroy(&u->store_lock);
    if (u->dirfd >= 0)
        close(u->dirfd);
    free(u);
}

int upload_reload(upload_t *u, char *err, size_t errlen)
{
    if (!u->enabled)
        return 0;
    auth_t *a = load(u, err, errlen);
    if (!a)
        return -1;
    auth_holder_set(&u->auth, a);
    return 0;
}

int upload_sign(upload_t *u, const char *method, const char *uid, size_t n, const char *query, size_t qlen,
                char sig[65])
{
    auth_t *a = auth_holder_get(&u->auth);
    int r = a ? auth_sign(a, method, uid, n, query, qlen, sig) : -1;
    auth_unref(a);
    return r;
}

void upload_stats(upload_t *u, upload_stats_t *out)
{
    out->stored = __atomic_load_n(&u->st.stored, __ATOMIC_RELAXED);
    out->deleted = __atomic_load_n(&u->st.deleted, __ATOMIC_RELAXED);
    out->unauthorized = __atomic_load_n(&u->st.unauthorized, __ATOMIC_RELAXED);
    out->rejected = __atomic_load_n(&u->st.rejected, __ATOMIC_RELAXED);
    out->failed = __atomic_load_n(&u->st.failed, __ATOMIC_RELAXED);
}
