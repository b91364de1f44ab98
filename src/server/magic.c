#include "server/magic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/base64.h"
#include "http/multipart.h"
#include "http/url.h"
#include "image/image.h"
#include "server/fetch.h"
#include "server/magic_json.h"
#include "server/pool.h"

#define MAX_PARTS 16
#define DEFAULT_NAME "bw.jpeg"

typedef enum { JOB_BASE64, JOB_MULTIPART, JOB_URL } job_kind_t;

typedef struct job {
    pool_job_t pj;      /* first: the pool hands it back */
    job_kind_t kind;
    bool want_jpeg;     /* imageurl with Accept: image/jpeg */
    req_t *r;
    server_t *srv;
    magic_t *m;
    char *body;         /* request body (in the held connection's buffer) */
    size_t body_len;
    const char *ctype;  /* Content-Type value (multipart boundary) */
    size_t ctype_len;
    uint8_t *fetched;   /* downloaded image, owned, charged to the memory budget */
    size_t fetched_len;
    /* the answer */
    int status;
    const char *reason;
    char hdrs[640];
    size_t hdrs_len;
    char *out;
    size_t out_len;
} job_t;

struct magic {
    img_limits_t limits;
    const server_config_t *cfg;
    pool_t *pool;
};

static void job_free(void *arg)
{
    job_t *j = arg;
    if (j->fetched)
        server_mem_release(j->srv, j->fetched_len);
    free(j->out);
    free(j->fetched);
    free(j);
}

static void fail(job_t *j, int status, const char *reason)
{
    j->status = status;
    j->reason = reason;
}

/* ---- the work (image threads) -------------------------------------------------------- */

static bool convert(job_t *j, const void *img, size_t len, uint8_t **jpeg, size_t *jpeg_len)
{
    img_status_t st = img_bw_jpeg(img, len, &j->m->limits, jpeg, jpeg_len);
    switch (st) {
    case IMG_OK:
        return true;
    case IMG_ERR_UNSUPPORTED:
        fail(j, 415, img_status_str(st));
        break;
    case IMG_ERR_NOMEM:
        fail(j, 503, img_status_str(st));
        break;
    default:
        fail(j, 422, img_status_str(st));
    }
    return false;
}

static void json_answer(job_t *j, const char *name, size_t nlen, const void *img, size_t len)
{
    uint8_t *jpeg;
    size_t jlen;
    if (!convert(j, img, len, &jpeg, &jlen))
        return;
    j->out = malloc(magic_json_reply_len(name, nlen, jlen));
    if (!j->out) {
        free(jpeg);
        fail(j, 503, "out of memory");
        return;
    }
    j->out_len = magic_json_reply(j->out, name, nlen, jpeg, jlen);
    free(jpeg);
    j->status = 200;
    j->hdrs_len = (size_t)snprintf(j->hdrs, sizeof j->hdrs, "Content-Type: application/json\r\n");
}

static void jpeg_answer(job_t *j, const char *name, size_t nlen, const void *img, size_t len)
{
    uint8_t *jpeg;
    size_t jlen;
    if (!convert(j, img, len, &jpeg, &jlen))
        return;
    /* Sized so the three lines below always fit j->hdrs: longer names are cut, never the
     * header block (snprintf would report the untruncated length and overrun hdrs). */
    char disp[368], bare[192];
    _Static_assert(64 + sizeof disp + sizeof bare <= sizeof j->hdrs, "header lines must fit hdrs");
    magic_disposition(name, nlen, disp, sizeof disp, bare, sizeof bare);
    j->out = (char *)jpeg;
    j->out_len = jlen;
    j->status = 200;
    j->hdrs_len = (size_t)snprintf(j->hdrs, sizeof j->hdrs,
                                   "Content-Type: image/jpeg\r\nContent-Disposition: %s\r\nfilename: %s\r\n",
                                   disp, bare);
}

static void run_base64(job_t *j)
{
    magic_json_req_t req;
    magic_json_status_t st = magic_json_parse(j->body, j->body_len, &req);
    if (st != MAGIC_JSON_OK)
        return fail(j, 400, magic_json_strerror(st));
    if (!req.image_b64)
        return fail(j, 400, "missing field image");
    ssize_t n = base64_decode(req.image_b64, req.image_b64, req.image_b64_len);
    if (n < 0)
        return fail(j, 400, "invalid base64 in image");
    if (req.filename)
        json_answer(j, req.filename, req.filename_len, req.image_b64, (size_t)n);
    else
        json_answer(j, DEFAULT_NAME, strlen(DEFAULT_NAME), req.image_b64, (size_t)n);
}

static void run_multipart(job_t *j)
{
    const char *b;
    size_t blen;
    if (!j->ctype || j->ctype_len < 19 || strncasecmp(j->ctype, "multipart/form-data", 19) != 0)
        return fail(j, 400, "expected multipart/form-data");
    if (multipart_boundary(j->ctype, j->ctype_len, &b, &blen) != 0)
        return fail(j, 400, "missing or invalid multipart boundary");
    multipart_part_t parts[MAX_PARTS];
    size_t n;
    multipart_status_t st = multipart_parse((const uint8_t *)j->body, j->body_len, b, blen, parts, MAX_PARTS, &n);
    if (st != MULTIPART_OK)
        return fail(j, 400, multipart_strerror(st));
    const multipart_part_t *img = multipart_find(parts, n, "image");
    if (!img)
        return fail(j, 400, "missing image part");
    const multipart_part_t *fname = multipart_find(parts, n, "filename");
    const char *name = DEFAULT_NAME;
    size_t nlen = strlen(DEFAULT_NAME);
    if (fname && fname->data_len) {
        name = (const char *)fname->data;
        nlen = fname->data_len;
    } else if (img->filename && img->filename_len) {
        name = img->filename;
        nlen = img->filename_len;
    }
    jpeg_answer(j, name, nlen, img->data, img->data_len);
}

static void run_url(job_t *j)
{
    if (j->want_jpeg)
        jpeg_answer(j, DEFAULT_NAME, strlen(DEFAULT_NAME), j->fetched, j->fetched_len);
    else
        json_answer(j, DEFAULT_NAME, strlen(DEFAULT_NAME), j->fetched, j->fetched_len);
}

/* Back on the connection's loop: send what the job computed. */
static void job_done(loop_t *loop, void *arg)
{
    job_t *j = arg;
    if (j->pj.outcome != POOL_RAN) /* dropped: the client has gone, the answer goes nowhere */
        fail(j, 503, "server is shutting down");
    if (j->status == 200) {
        req_respond(j->r, 200, j->hdrs, j->hdrs_len, j->out, j->out_len, job_free, j);
    } else {
        req_respond_error(j->r, j->status, j->reason);
        job_free(j);
    }
}

static void job_run(pool_job_t *pj)
{
    job_t *j = (job_t *)pj;
    switch (j->kind) {
    case JOB_BASE64:
        run_base64(j);
        break;
    case JOB_MULTIPART:
        run_multipart(j);
        break;
    case JOB_URL:
        run_url(j);
        break;
    }
}

/* Queues the held job; a full queue or a stopping pool answers 503 at once. */
static void submit(job_t *j)
{
    int r = pool_submit(j->m->pool, &j->pj);
    if (r == 0)
        return;
    j->pj.outcome = POOL_RAN;
    fail(j, 503, pool_refusal(r));
    job_done(j->pj.loop, j);
}

static void cancel(void *arg)
{
    pool_cancel(&((job_t *)arg)->pj);
}

/* ---- the handlers (loop threads) ----------------------------------------------------- */

static job_t *job_new(req_t *r, job_kind_t kind)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        req_respond_error(r, 503, "out of memory");
        return NULL;
    }
    j->kind = kind;
    j->r = r;
    j->srv = r->wk->srv;
    j->pj.run = job_run;
    j->pj.done = job_done;
    j->pj.loop = r->wk->loop;
    j->m = r->wk->srv->magic;
    j->body = (char *)r->body; /* the request's own bytes until answered: decoded in place */
    j->body_len = r->body_len;
    const http_header_t *ct = req_header(r, "content-type", 12);
    if (ct) {
        j->ctype = ct->value;
        j->ctype_len = ct->value_len;
    }
    req_hold(r, cancel, j);
    return j;
}

static void on_fetched(void *arg, int status, const char *reason, uint8_t *data, size_t len)
{
    job_t *j = arg;
    j->fetched = data;
    j->fetched_len = len;
    j->pj.outcome = POOL_RAN;
    if (pool_cancelled(&j->pj)) {
        j->pj.outcome = POOL_DROPPED; /* the client left during the download */
        job_done(j->pj.loop, j);
    } else if (status) {
        fail(j, status, reason);
        job_done(j->pj.loop, j);
    } else {
        submit(j);
    }
}

static void start_fetch(job_t *j, const char *url)
{
    int r = fetch_start(j->r->wk->fetch, url, on_fetched, j);
    if (r == 0)
        return;
    fail(j, r, r == 403 ? "image_url scheme not allowed" : r == 400 ? "invalid image_url" : "cannot fetch now");
    j->pj.outcome = POOL_RAN;
    job_done(j->pj.loop, j);
}

static bool wants_jpeg(const req_t *r)
{
    const http_header_t *a = req_header(r, "accept", 6);
    return a && memmem(a->value, a->value_len, "image/jpeg", 10);
}

static void imageurl(req_t *r)
{
    char url[URL_MAX_LEN + 1];
    if (r->http->method != HTTP_METHOD_POST) { /* GET or HEAD (method_ok let only these in) */
        const char *def = r->wk->srv->cfg.default_image_url;
        if (!def[0]) {
            req_respond_error(r, 404, "no default image_url configured");
            return;
        }
        snprintf(url, sizeof url, "%s", def);
    } else {
        /* Parse here, on the loop: the JSON is small and the URL is needed to start the download. */
        magic_json_req_t req;
        magic_json_status_t st = magic_json_parse((char *)r->body, r->body_len, &req);
        if (st != MAGIC_JSON_OK) {
            req_respond_error(r, 400, magic_json_strerror(st));
            return;
        }
        if (!req.image_url) {
            req_respond_error(r, 400, "missing field image_url");
            return;
        }
        if (req.image_url_len >= sizeof url || memchr(req.image_url, 0, req.image_url_len)) {
            req_respond_error(r, 400, "invalid image_url");
            return;
        }
        memcpy(url, req.image_url, req.image_url_len);
        url[req.image_url_len] = 0;
    }
    job_t *j = job_new(r, JOB_URL);
    if (!j)
        return;
    j->want_jpeg = wants_jpeg(r);
    start_fetch(j, url);
}

static bool method_ok(req_t *r, bool get, bool post)
{
    http_method_t m = r->http->method;
    if ((get && (m == HTTP_METHOD_GET || m == HTTP_METHOD_HEAD)) || (post && m == HTTP_METHOD_POST))
        return true;
    req_respond_405(r, get && post ? "GET, HEAD, POST" : get ? "GET, HEAD" : "POST");
    return false;
}

bool magic_handle(req_t *r)
{
    if (req_path_is(r, "/magic/base64")) {
        if (method_ok(r, false, true)) {
            job_t *j = job_new(r, JOB_BASE64);
            if (j)
                submit(j);
        }
    } else if (req_path_is(r, "/magic/multipart")) {
        if (method_ok(r, false, true)) {
            job_t *j = job_new(r, JOB_MULTIPART);
            if (j)
                submit(j);
        }
    } else if (req_path_is(r, "/magic/imageurl")) {
        if (method_ok(r, true, true))
            imageurl(r);
    } else {
        req_respond_error(r, 404, "not found");
    }
    return true;
}

/* ---- names in headers ---------------------------------------------------------------- */

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

size_t magic_disposition(const char *name, size_t n, char *dst, size_t dstlen, char *bare, size_t barelen)
{
    /* Only the last path component: some clients send C:\dir\file.jpg. */
    for (size_t i = n; i > 0; i--) {
        if (name[i - 1] == '/' || name[i - 1] == '\\') {
            name += i;
            n -= i;
            break;
        }
    }
    size_t b = 0;
    bool token = true, ascii = true;
    for (size_t i = 0; i < n && b + 1 < barelen; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
            continue;
        ascii &= ch < 0x80;
        token &= is_tchar(ch);
        bare[b++] = (char)ch;
    }
    if (b == 0) {
        b = (size_t)snprintf(bare, barelen, "%s", DEFAULT_NAME);
        token = ascii = true;
    }
    bare[b] = 0;
    size_t o = (size_t)snprintf(dst, dstlen, token ? "attachment; filename=%s" : "attachment; filename=\"", bare);
    if (!token) {
        /* Quoted ASCII fallback; non-ASCII bytes become '_' there and go in filename*. */
        for (size_t i = 0; i < b && o + 3 < dstlen; i++)
            dst[o++] = (unsigned char)bare[i] < 0x80 ? bare[i] : '_';
        dst[o++] = '"';
        static const char ext[] = "; filename*=UTF-8''";
        if (!ascii && o + sizeof ext < dstlen) { /* snprintf's length only where it fits */
            memcpy(dst + o, ext, sizeof ext - 1);
            o += sizeof ext - 1;
            for (size_t i = 0; i < b && o + 4 < dstlen; i++) {
                unsigned char ch = (unsigned char)bare[i];
                if (is_tchar(ch) && ch != '%' && ch != '\'' && ch != '*')
                    dst[o++] = (char)ch;
                else
                    o += (size_t)snprintf(dst + o, dstlen - o, "%%%02X", ch);
            }
        }
        dst[o] = 0;
        /* The plain header gets the ASCII form too: header values are not UTF-8. */
        for (size_t i = 0; i < b; i++)
            if ((unsigned char)bare[i] >= 0x80)
                bare[i] = '_';
    }
    return o;
}

/* ---- life ---------------------------------------------------------------------------- */

magic_t *magic_new(const server_config_t *cfg, pool_t *pool)
{
    magic_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = cfg;
    m->limits.max_pixels = cfg->max_pixels;
    m->limits.max_memory = cfg->max_image_memory;
    m->pool = pool;
    return m;
}

void magic_free(magic_t *m)
{
    free(m);
}
