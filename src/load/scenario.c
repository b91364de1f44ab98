#include "load/scenario.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "http/json.h"
#include "load/errmsg.h"

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

/* Keeps a copy of s[0..n) for the scenario's lifetime. */
static const char *own(scenario_t *s, const char *str, size_t n)
{
    char **v = realloc(s->_strings, (s->_nstrings + 1) * sizeof *v);
    if (!v) return NULL;
    s->_strings = v;
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, str, n);
    p[n] = '\0';
    v[s->_nstrings++] = p;
    return p;
}

/* ---------------------------------------------------------------- one request */

/* What one entry is made of before it is serialised. Header strings point into argv, the
 * scenario text or s->_strings; later headers with the same name replace earlier ones, so
 * entry headers override the file's defaults, which override -H. */
typedef struct {
    const char *name;   /* NULL = path and query */
    const char *method; /* NULL = GET, or POST with a body */
    uint32_t weight;
    const char *target; /* path and query */
    size_t target_len;
    load_header_t headers[LOAD_MAX_HEADERS];
    size_t nheaders;
    body_t body;
    load_status_set_t expect;
    uint64_t expect_min_bytes;
    uint64_t timeout_ms;
    const char *check_body; /* FILE, DIR or sha256:HEX; NULL = no check */
    const char *check_field;
} spec_t;

static int spec_add_header(spec_t *sp, const load_header_t *h, char *err, size_t errlen)
{
    for (size_t i = 0; i < sp->nheaders; i++) {
        if (sp->headers[i].name_len == h->name_len &&
            strncasecmp(sp->headers[i].name, h->name, h->name_len) == 0) {
            sp->headers[i] = *h;
            return 0;
        }
    }
    if (sp->nheaders == LOAD_MAX_HEADERS)
        return errmsg_set(err, errlen, "too many headers (at most %u)", LOAD_MAX_HEADERS);
    sp->headers[sp->nheaders++] = *h;
    return 0;
}

static bool spec_has_header(const spec_t *sp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sp->nheaders; i++) {
        if (sp->headers[i].name_len == n && strncasecmp(sp->headers[i].name, name, n) == 0) return true;
    }
    return false;
}

static bool method_has_body_semantics(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static int append_str(buf_t *b, const char *s, size_t n)
{
    return buf_append(b, s, n);
}

#define APPEND_LIT(b, lit) append_str((b), (lit), sizeof(lit) - 1)

/* Serialises sp into a new entry of s. Consumes sp->body (freed here). */
static int add_entry(scenario_t *s, const load_config_t *c, spec_t *sp, char *err, size_t errlen)
{
    int rc = -1;
    buf_t b = {0};
    if (s->n == SCENARIO_MAX_ENTRIES) {
        errmsg_set(err, errlen, "too many requests (at most %u)", SCENARIO_MAX_ENTRIES);
        goto out;
    }
    const char *method = sp->method ? sp->method : sp->body.len || sp->body.content_type[0] ? "POST" : "GET";
    const char *name = sp->name;
    if (!name && !(name = own(s, sp->target, sp->target_len))) goto oom;
    if (!(method = own(s, method, strlen(method)))) goto oom;

    bool ok = append_str(&b, method, strlen(method)) == 0 && APPEND_LIT(&b, " ") == 0 &&
              append_str(&b, sp->target, sp->target_len) == 0 && APPEND_LIT(&b, " HTTP/1.1\r\n") == 0;
    if (ok && !spec_has_header(sp, "Host"))
        ok = APPEND_LIT(&b, "Host: ") == 0 && append_str(&b, c->url.hostport, c->url.hostport_len) == 0 &&
             APPEND_LIT(&b, "\r\n") == 0;
    for (size_t i = 0; ok && i < sp->nheaders; i++) {
        const load_header_t *h = &sp->headers[i];
        ok = append_str(&b, h->name, h->name_len) == 0 && APPEND_LIT(&b, ": ") == 0 &&
             append_str(&b, h->value, h->value_len) == 0 && APPEND_LIT(&b, "\r\n") == 0;
    }
    if (ok && sp->body.content_type[0] && !spec_has_header(sp, "Content-Type"))
        ok = APPEND_LIT(&b, "Content-Type: ") == 0 &&
             append_str(&b, sp->body.content_type, strlen(sp->body.content_type)) == 0 &&
             APPEND_LIT(&b, "\r\n") == 0;
    if (ok && (sp->body.len || method_has_body_semantics(method))) {
        char cl[48];
        int n = snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", sp->body.len);
        ok = append_str(&b, cl, (size_t)n) == 0;
    }
    if (ok && !c->keepalive && !spec_has_header(sp, "Connection"))
        ok = APPEND_LIT(&b, "Connection: close\r\n") == 0;
    if (ok)
        ok = APPEND_LIT(&b, "\r\n") == 0 &&
             (!sp->body.len || append_str(&b, sp->body.data, sp->body.len) == 0);
    if (!ok) goto oom;

    scenario_entry_t *es = realloc(s->entries, (s->n + 1) * sizeof *es);
    if (!es) goto oom;
    s->entries = es;
    es[s->n++] = (scenario_entry_t){
        .name = name,
        .method = method,
        .weight = sp->weight,
        .head = strcmp(method, "HEAD") == 0,
        .request = b.data,
        .request_len = b.len,
        .body_len = sp->body.len,
        .expect = sp->expect,
        .expect_min_bytes = sp->expect_min_bytes,
        .timeout_ms = sp->timeout_ms,
    };
    s->request_bytes += b.len;
    b = (buf_t){0};
    rc = 0;
    goto out;
oom:
    errmsg_set(err, errlen, "out of memory");
out:
    buf_free(&b);
    body_free(&sp->body);
    return rc;
}

/* The defaults every entry starts from: the command line's headers and checks. */
static int spec_init(spec_t *sp, const load_config_t *c, char *err, size_t errlen)
{
    memset(sp, 0, sizeof *sp);
    sp->weight = 1;
    sp->expect = c->expect_status;
    sp->expect_min_bytes = c->expect_min_bytes;
    sp->timeout_ms = c->timeout_ms;
    sp->check_body = c->check_body;
    sp->check_field = c->check_field;
    for (size_t i = 0; i < c->nheaders; i++) {
        if (spec_add_header(sp, &c->headers[i], err, errlen) < 0) return -1;
    }
    return 0;
}

/* Where a request's body comes from, before any file is read. */
typedef struct {
    load_body_kind_t kind;
    const char *path;             /* LOAD_BODY_FILE, LOAD_BODY_BASE64_IMAGE: a file or a folder */
    const char *field, *filename; /* LOAD_BODY_BASE64_IMAGE */
    const body_part_t *parts;     /* LOAD_BODY_MULTIPART: one file part may name a folder */
    size_t nparts;
    const char *text; /* LOAD_BODY_JSON (len bytes), LOAD_BODY_IMAGE_URL (NUL-terminated) */
    size_t len;
} body_src_t;

/* The body of src with file (one of a folder's files, else src's own path) in place of the
 * path; part is the multipart part that names the folder (SIZE_MAX: none). */
static int build_body(body_t *b, const body_src_t *src, const char *dir, const char *file, size_t part,
                      char *err, size_t errlen)
{
    body_part_t parts[LOAD_MAX_PARTS];
    *b = (body_t){0};
    switch (src->kind) {
    case LOAD_BODY_NONE:
        return 0;
    case LOAD_BODY_FILE:
        return body_from_file(b, dir, file, err, errlen);
    case LOAD_BODY_JSON:
        return body_json(b, src->text, src->len, err, errlen);
    case LOAD_BODY_BASE64_IMAGE:
        return body_base64_image(b, dir, file, src->field, src->filename, err, errlen);
    case LOAD_BODY_MULTIPART:
        memcpy(parts, src->parts, src->nparts * sizeof *parts);
        if (part != SIZE_MAX) parts[part].path = file;
        return body_multipart(b, dir, parts, src->nparts, NULL, err, errlen);
    case LOAD_BODY_IMAGE_URL:
        return body_image_url(b, src->text, err, errlen);
    }
    return errmsg_set(err, errlen, "internal: unknown body kind");
}

/* The folder src names, if any, into *files (else files->n == 0); *part is the multipart part
 * holding it. */
static int find_folder(const body_src_t *src, const char *dir, body_files_t *files, size_t *part, char *err,
                       size_t errlen)
{
    *files = (body_files_t){0};
    *part = SIZE_MAX;
    if (src->kind == LOAD_BODY_FILE || src->kind == LOAD_BODY_BASE64_IMAGE)
        return body_files(files, dir, src->path, err, errlen);
    if (src->kind != LOAD_BODY_MULTIPART) return 0;
    for (size_t i = 0; i < src->nparts; i++) {
        body_files_t f;
        if (!src->parts[i].path) continue;
        if (body_files(&f, dir, src->parts[i].path, err, errlen) < 0) {
            body_files_free(files);
            return -1;
        }
        if (!f.folder) {
            body_files_free(&f);
        } else if (files->folder) {
            body_files_free(&f);
            body_files_free(files);
            return errmsg_set(err, errlen, "only one multipart part may name a folder ('%s' and '%s')",
                              src->parts[*part].path, src->parts[i].path);
        } else {
            *files = f;
            *part = i;
        }
    }
    return 0;
}

static int cmp_name(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

/* The expected answer for entries first .. s->n - 1 (one group) from sp->check_body. */
static int group_checks(scenario_t *s, size_t first, const spec_t *sp, const char *dir, char *err, size_t errlen)
{
    if (!sp->check_body) {
        if (sp->check_field) return errmsg_set(err, errlen, "check_field needs check_body (the expected bytes)");
        return 0;
    }
    const char *spec = sp->check_body, *field = sp->check_field;
    check_t one;
    if (check_is_digest(spec)) {
        if (check_expect_sha256(&one, spec, field, err, errlen) < 0) return -1;
        for (size_t i = first; i < s->n; i++)
            s->entries[i].check = one;
        s->checks = true;
        return 0;
    }
    body_files_t ex;
    if (body_files(&ex, dir, spec, err, errlen) < 0) return -1;
    int rc = 0;
    for (size_t i = first; i < s->n && rc == 0; i++) {
        scenario_entry_t *e = &s->entries[i];
        const char *path = ex.paths[0];
        if (ex.folder) {
            if (!e->file) {
                rc = errmsg_set(err, errlen,
                                "check body %s is a folder: it needs a body from a folder (an expected file "
                                "per input file, by name)",
                                spec);
                break;
            }
            const char **hit = bsearch(e->file, ex.names, ex.n, sizeof *ex.names, cmp_name);
            if (!hit) {
                rc = errmsg_set(err, errlen, "check body %s: no expected answer for input file %s", spec, e->file);
                break;
            }
            path = ex.paths[hit - ex.names];
        } else if (i > first) { /* one expected file for the whole group */
            e->check = s->entries[first].check;
            continue;
        }
        body_t b;
        if ((rc = body_from_file(&b, dir, path, err, errlen)) < 0) break;
        if ((rc = check_expect_bytes(&e->check, b.data, b.len, field)) < 0) errmsg_set(err, errlen, "%s: cannot hash", path);
        body_free(&b);
    }
    body_files_free(&ex);
    if (rc == 0) s->checks = true;
    return rc;
}

/* Adds the group of entries sp and src describe: one, or one per file of a folder. */
static int add_group(scenario_t *s, const load_config_t *c, const spec_t *sp, const body_src_t *src,
                     const char *dir, char *err, size_t errlen)
{
    body_files_t files;
    size_t part;
    if (find_folder(src, dir, &files, &part, err, errlen) < 0) return -1;
    scenario_group_t *gs = realloc(s->groups, (s->ngroups + 1) * sizeof *gs);
    if (!gs) {
        body_files_free(&files);
        return errmsg_set(err, errlen, "out of memory");
    }
    s->groups = gs;
    size_t first = s->n, n = files.folder ? files.n : 1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        spec_t one = *sp;
        const char *file = files.folder ? files.paths[i] : src->path;
        if ((rc = build_body(&one.body, src, dir, file, part, err, errlen)) < 0) break;
        if (files.folder && c->per_file) { /* "NAME [FILE]": a row per file */
            const char *base = sp->name ? sp->name : sp->target;
            size_t blen = sp->name ? strlen(sp->name) : sp->target_len;
            char *name = malloc(blen + strlen(files.names[i]) + 4);
            if (!name) {
                body_free(&one.body);
                rc = errmsg_set(err, errlen, "out of memory");
                break;
            }
            sprintf(name, "%.*s [%s]", (int)blen, base, files.names[i]);
            one.name = own(s, name, strlen(name));
            free(name);
            if (!one.name) {
                body_free(&one.body);
                rc = errmsg_set(err, errlen, "out of memory");
                break;
            }
        }
        if ((rc = add_entry(s, c, &one, err, errlen)) < 0) break;
        scenario_entry_t *e = &s->entries[s->n - 1];
        e->group = (unsigned)s->ngroups;
        if (files.folder && !(e->file = own(s, files.names[i], strlen(files.names[i]))))
            rc = errmsg_set(err, errlen, "out of memory");
        if (rc == 0 && s->request_bytes > c->max_body_memory)
            rc = errmsg_set(err, errlen,
                            "%s: the pre-built requests need more than --max-body-memory (%llu MiB); raise "
                            "it or send fewer or smaller files",
                            file, (unsigned long long)(c->max_body_memory >> 20));
    }
    /* --check-body from the command line names a path from the working directory, as the
     * other options do; a scenario file's check_body one from the file's folder. */
    if (rc == 0) rc = group_checks(s, first, sp, sp->check_body == c->check_body ? NULL : dir, err, errlen);
    if (rc == 0) {
        s->groups[s->ngroups++] = (scenario_group_t){first, n};
        if (files.folder) s->folder_files += n;
    }
    body_files_free(&files);
    return rc;
}

static int build_cli(scenario_t *s, const load_config_t *c, char *err, size_t errlen)
{
    spec_t sp;
    if (spec_init(&sp, c, err, errlen) < 0) return -1;
    sp.method = c->method;
    size_t tlen = url_target_len(&c->url);
    char *target = malloc(tlen + 1);
    if (!target) return errmsg_set(err, errlen, "out of memory");
    url_write_target(&c->url, target);
    sp.target = own(s, target, tlen);
    free(target);
    if (!sp.target) return errmsg_set(err, errlen, "out of memory");
    sp.target_len = tlen;

    body_src_t src = {.kind = c->body_kind, .parts = c->parts, .nparts = c->nparts};
    switch (c->body_kind) {
    case LOAD_BODY_FILE:
        src.path = c->body_file;
        break;
    case LOAD_BODY_BASE64_IMAGE:
        src.path = c->b64_file;
        src.field = c->b64_field;
        src.filename = c->b64_filename;
        break;
    case LOAD_BODY_JSON:
        src.text = c->json;
        src.len = strlen(c->json);
        break;
    case LOAD_BODY_IMAGE_URL:
        src.text = c->image_url;
        break;
    default:
        break;
    }
    return add_group(s, c, &sp, &src, NULL, err, errlen);
}

/* ---------------------------------------------------------------- the JSON file */

typedef struct {
    scenario_t *s;
    const load_config_t *c;
    const char *js;
    size_t len;
    jsmntok_t *t;
    int ntok;
    const char *dir;
    char *err;
    size_t errlen;
    char where[64]; /* "requests[3]" or "defaults", for messages */
} jp_t;

static int line_of(const jp_t *p, int tok)
{
    int line = 1;
    for (int i = 0; i < p->t[tok].start && (size_t)i < p->len; i++)
        line += p->js[i] == '\n';
    return line;
}

static int jfail(jp_t *p, int tok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int jfail(jp_t *p, int tok, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return errmsg_set(p->err, p->errlen, "line %d: %s%s%s", line_of(p, tok), p->where,
                      p->where[0] ? ": " : "", msg);
}

/* Index of the token after the value at i (with everything nested in it). */
static int skip(const jp_t *p, int i)
{
    int pending = 1;
    while (pending && i < p->ntok) {
        pending += p->t[i].size - 1;
        i++;
    }
    return i;
}

static bool tok_is(const jp_t *p, int i, const char *s)
{
    size_t n = (size_t)(p->t[i].end - p->t[i].start);
    return p->t[i].type == JSMN_STRING && strlen(s) == n && memcmp(p->js + p->t[i].start, s, n) == 0;
}

/* The string token i, unescaped, NUL-terminated, kept in the scenario. NUL characters
 * (\u0000) are refused: every string here becomes a C string. */
static int jstring(jp_t *p, int i, const char *key, const char **out, size_t *outlen)
{
    if (p->t[i].type != JSMN_STRING) return jfail(p, i, "'%s' must be a string", key);
    size_t n = (size_t)(p->t[i].end - p->t[i].start);
    char *tmp = malloc(n + 1);
    if (!tmp) return errmsg_set(p->err, p->errlen, "out of memory");
    memcpy(tmp, p->js + p->t[i].start, n);
    ssize_t len = json_unescape(tmp, n);
    if (len < 0 || memchr(tmp, 0, (size_t)len)) {
        free(tmp);
        return jfail(p, i, "'%s': invalid string (bad escape, control character or \\u0000)", key);
    }
    *out = own(p->s, tmp, (size_t)len);
    if (outlen) *outlen = (size_t)len;
    free(tmp);
    if (!*out) return errmsg_set(p->err, p->errlen, "out of memory");
    return 0;
}

/* A whole number token in [min, max]. */
static int juint(jp_t *p, int i, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *s = p->js + p->t[i].start;
    size_t n = (size_t)(p->t[i].end - p->t[i].start);
    uint64_t v = 0;
    bool ok = p->t[i].type == JSMN_PRIMITIVE && n > 0 && n <= 19;
    for (size_t k = 0; ok && k < n; k++) {
        ok = isdigit((unsigned char)s[k]);
        v = v * 10 + (uint64_t)(s[k] - '0');
    }
    if (!ok || v < min || v > max)
        return jfail(p, i, "'%s' must be a whole number from %llu to %llu", key, (unsigned long long)min,
                     (unsigned long long)max);
    *out = v;
    return 0;
}

static int jheaders(jp_t *p, int i, spec_t *sp)
{
    const jsmntok_t *t = p->t;
    load_header_t h;
    if (t[i].type == JSMN_OBJECT) {
        int k = i + 1;
        for (int m = 0; m < t[i].size; m++, k = skip(p, k + 1)) {
            size_t vlen;
            if (jstring(p, k, "headers", &h.name, &h.name_len) < 0 ||
                jstring(p, k + 1, "headers", &h.value, &vlen) < 0)
                return -1;
            h.value_len = vlen;
            if (load_header_check(h.name, h.name_len, h.value, h.value_len, p->err, p->errlen) < 0 ||
                spec_add_header(sp, &h, p->err, p->errlen) < 0)
                return jfail(p, k, "%s", p->err);
        }
        return 0;
    }
    if (t[i].type == JSMN_ARRAY) {
        int k = i + 1;
        for (int m = 0; m < t[i].size; m++, k = skip(p, k)) {
            const char *line;
            if (jstring(p, k, "headers", &line, NULL) < 0) return -1;
            if (load_header_parse(&h, line, p->err, p->errlen) < 0 ||
                spec_add_header(sp, &h, p->err, p->errlen) < 0)
                return jfail(p, k, "%s", p->err);
        }
        return 0;
    }
    return jfail(p, i, "'headers' must be an object {\"Name\": \"value\"} or a list of \"Name: value\"");
}

static int jexpect_status(jp_t *p, int i, spec_t *sp)
{
    const char *spec;
    char num[8];
    if (p->t[i].type == JSMN_PRIMITIVE) {
        int n = p->t[i].end - p->t[i].start;
        if (n != 3) return jfail(p, i, "'expect_status' must be a status (200) or a list (\"200-299,304\")");
        snprintf(num, sizeof num, "%.3s", p->js + p->t[i].start);
        spec = num;
    } else if (jstring(p, i, "expect_status", &spec, NULL) < 0) {
        return -1;
    }
    if (load_status_set_parse(&sp->expect, spec) < 0)
        return jfail(p, i, "'expect_status': invalid status list '%s' (use e.g. 200, 2xx, 200-299,304)",
                     spec);
    return 0;
}

static int jtimeout(jp_t *p, int i, spec_t *sp)
{
    const char *spec;
    char num[32];
    if (p->t[i].type == JSMN_PRIMITIVE) {
        int n = p->t[i].end - p->t[i].start;
        snprintf(num, sizeof num, "%.*s", n < 31 ? n : 31, p->js + p->t[i].start);
        spec = num;
    } else if (jstring(p, i, "timeout", &spec, NULL) < 0) {
        return -1;
    }
    if (load_parse_duration_ms(spec, &sp->timeout_ms) < 0)
        return jfail(p, i, "'timeout': invalid duration '%s' (use e.g. 500ms, 30s, 2m)", spec);
    return 0;
}

/* Keys allowed in "defaults" and in every request. */
static int jcommon(jp_t *p, int k, spec_t *sp, bool *handled)
{
    uint64_t v;
    *handled = true;
    if (tok_is(p, k, "headers")) return jheaders(p, k + 1, sp);
    if (tok_is(p, k, "expect_status")) return jexpect_status(p, k + 1, sp);
    if (tok_is(p, k, "expect_min_bytes")) {
        if (juint(p, k + 1, "expect_min_bytes", 0, UINT64_MAX / 10, &v) < 0) return -1;
        sp->expect_min_bytes = v;
        return 0;
    }
    if (tok_is(p, k, "timeout")) return jtimeout(p, k + 1, sp);
    if (tok_is(p, k, "check_body")) return jstring(p, k + 1, "check_body", &sp->check_body, NULL);
    if (tok_is(p, k, "check_field")) return jstring(p, k + 1, "check_field", &sp->check_field, NULL);
    *handled = false;
    return 0;
}

static int jdefaults(jp_t *p, int i, spec_t *defaults)
{
    snprintf(p->where, sizeof p->where, "defaults");
    if (p->t[i].type != JSMN_OBJECT) return jfail(p, i, "must be an object");
    int k = i + 1;
    for (int m = 0; m < p->t[i].size; m++, k = skip(p, k + 1)) {
        bool handled;
        if (jcommon(p, k, defaults, &handled) < 0) return -1;
        if (!handled)
            return jfail(p, k,
                         "unknown key '%.*s' (allowed: headers, expect_status, expect_min_bytes, timeout, "
                         "check_body, check_field)",
                         p->t[k].end - p->t[k].start, p->js + p->t[k].start);
    }
    p->where[0] = '\0';
    return 0;
}

/* A request's path (or same-origin URL) into sp->target. */
static int jtarget(jp_t *p, int i, bool is_url, spec_t *sp)
{
    const char *str;
    size_t n;
    if (jstring(p, i, is_url ? "url" : "path", &str, &n) < 0) return -1;
    url_t u;
    const url_t *base = &p->c->url;
    if (is_url) {
        url_status_t st = url_parse(str, n, &u);
        if (st != URL_OK) return jfail(p, i, "'url': %s", url_strerror(st));
        if (u.scheme != base->scheme || u.port != base->port || u.host_len != base->host_len ||
            strncasecmp(u.host, base->host, u.host_len) != 0)
            return jfail(p, i,
                         "'url' must be on the command-line URL's server (%.*s): pixload connects to one",
                         (int)base->hostport_len, base->hostport);
        char *tmp = malloc(url_target_len(&u));
        if (!tmp) return errmsg_set(p->err, p->errlen, "out of memory");
        sp->target_len = url_write_target(&u, tmp);
        sp->target = own(p->s, tmp, sp->target_len);
        free(tmp);
        return sp->target ? 0 : errmsg_set(p->err, p->errlen, "out of memory");
    }
    if (n == 0 || str[0] != '/') return jfail(p, i, "'path' must start with '/'");
    for (size_t k = 0; k < n; k++) {
        if ((unsigned char)str[k] <= 0x20 || (unsigned char)str[k] >= 0x7f)
            return jfail(p, i, "'path': characters other than visible ASCII must be percent-encoded");
    }
    /* The command-line URL's path is a prefix, as locust's host is. */
    size_t plen = base->path_len;
    while (plen && base->path[plen - 1] == '/')
        plen--;
    char *tmp = malloc(plen + n);
    if (!tmp) return errmsg_set(p->err, p->errlen, "out of memory");
    memcpy(tmp, base->path, plen);
    memcpy(tmp + plen, str, n);
    sp->target = own(p->s, tmp, plen + n);
    sp->target_len = plen + n;
    free(tmp);
    return sp->target ? 0 : errmsg_set(p->err, p->errlen, "out of memory");
}

/* The part specs of a "multipart" value into parts (*nparts of them, to free by the caller
 * also on error). */
static int jmultipart(jp_t *p, int i, body_part_t *parts, size_t *nparts)
{
    const jsmntok_t *t = p->t;
    int count = t[i].type == JSMN_ARRAY ? t[i].size : 1;
    *nparts = 0;
    if (t[i].type != JSMN_ARRAY && t[i].type != JSMN_STRING)
        return jfail(p, i,
                     "'multipart' must be a list of part specs (\"name=value\", \"name=@FILE;type=...\")");
    if (count == 0 || count > (int)LOAD_MAX_PARTS)
        return jfail(p, i, "'multipart' needs 1 to %u parts", LOAD_MAX_PARTS);
    int k = t[i].type == JSMN_ARRAY ? i + 1 : i;
    for (; *nparts < (size_t)count; k = skip(p, k)) {
        const char *spec;
        if (jstring(p, k, "multipart", &spec, NULL) < 0) return -1;
        if (body_part_parse(&parts[*nparts], spec, p->err, p->errlen) < 0) return jfail(p, k, "%s", p->err);
        (*nparts)++;
    }
    return 0;
}

static int jrequest(jp_t *p, int i, const spec_t *defaults, int index)
{
    const jsmntok_t *t = p->t;
    snprintf(p->where, sizeof p->where, "requests[%d]", index);
    if (t[i].type != JSMN_OBJECT) return jfail(p, i, "must be an object");
    spec_t sp = *defaults;
    sp.body = (body_t){0};
    int target_tok = -1, body_tok = -1, field_tok = -1, filename_tok = -1;
    const char *body_key = NULL, *field = NULL, *filename = NULL;
    int k = i + 1;
    for (int m = 0; m < t[i].size; m++, k = skip(p, k + 1)) {
        int v = k + 1;
        uint64_t n;
        bool handled;
        if (jcommon(p, k, &sp, &handled) < 0) return -1;
        if (handled) continue;
        if (tok_is(p, k, "name")) {
            if (jstring(p, v, "name", &sp.name, NULL) < 0) return -1;
            if (!*sp.name) return jfail(p, v, "'name' must not be empty");
        } else if (tok_is(p, k, "method")) {
            if (jstring(p, v, "method", &sp.method, NULL) < 0) return -1;
            if (!load_token_valid(sp.method, strlen(sp.method)))
                return jfail(p, v, "'method': '%s' is not a valid method", sp.method);
        } else if (tok_is(p, k, "weight")) {
            if (juint(p, v, "weight", 1, SCENARIO_MAX_WEIGHT, &n) < 0) return -1;
            sp.weight = (uint32_t)n;
        } else if (tok_is(p, k, "path") || tok_is(p, k, "url")) {
            if (target_tok >= 0) return jfail(p, k, "give one of 'path' and 'url'");
            target_tok = k;
        } else if (tok_is(p, k, "body_file") || tok_is(p, k, "json") || tok_is(p, k, "base64_image") ||
                   tok_is(p, k, "multipart") || tok_is(p, k, "image_url")) {
            if (body_tok >= 0)
                return jfail(p, k,
                             "give one body ('body_file', 'json', 'base64_image', 'multipart' or "
                             "'image_url')");
            body_tok = k;
        } else if (tok_is(p, k, "field")) {
            field_tok = k;
            if (jstring(p, v, "field", &field, NULL) < 0) return -1;
        } else if (tok_is(p, k, "filename")) {
            filename_tok = k;
            if (jstring(p, v, "filename", &filename, NULL) < 0) return -1;
        } else {
            return jfail(p, k, "unknown key '%.*s'", t[k].end - t[k].start, p->js + t[k].start);
        }
    }
    if (target_tok < 0) return jfail(p, i, "needs a 'path' (or a 'url')");
    if (jtarget(p, target_tok + 1, tok_is(p, target_tok, "url"), &sp) < 0) return -1;
    if (body_tok >= 0) body_key = p->js + t[body_tok].start;
    bool b64 = body_tok >= 0 && tok_is(p, body_tok, "base64_image");
    if ((field_tok >= 0 || filename_tok >= 0) && !b64)
        return jfail(p, field_tok >= 0 ? field_tok : filename_tok, "'%s' only applies to 'base64_image'",
                     field_tok >= 0 ? "field" : "filename");
    body_src_t src = {.kind = LOAD_BODY_NONE, .field = field, .filename = filename};
    body_part_t parts[LOAD_MAX_PARTS];
    size_t nparts = 0;
    int rc = 0, v = body_tok + 1;
    if (body_tok >= 0 && tok_is(p, body_tok, "json")) {
        /* The value verbatim, whatever its type: a string keeps its quotes. */
        int start = t[v].start - (t[v].type == JSMN_STRING ? 1 : 0);
        int end = t[v].end + (t[v].type == JSMN_STRING ? 1 : 0);
        src = (body_src_t){.kind = LOAD_BODY_JSON, .text = p->js + start, .len = (size_t)(end - start)};
    } else if (body_tok >= 0 && tok_is(p, body_tok, "multipart")) {
        rc = jmultipart(p, v, parts, &nparts);
        src = (body_src_t){.kind = LOAD_BODY_MULTIPART, .parts = parts, .nparts = nparts};
    } else if (body_tok >= 0) {
        const char *str;
        bool file = tok_is(p, body_tok, "body_file");
        rc = jstring(p, v, file ? "body_file" : b64 ? "base64_image" : "image_url", &str, NULL);
        src.kind = file ? LOAD_BODY_FILE : b64 ? LOAD_BODY_BASE64_IMAGE : LOAD_BODY_IMAGE_URL;
        if (src.kind == LOAD_BODY_IMAGE_URL)
            src.text = str;
        else
            src.path = str;
    }
    p->where[0] = '\0';
    if (rc == 0 && add_group(p->s, p->c, &sp, &src, p->dir, p->err, p->errlen) < 0) {
        snprintf(p->where, sizeof p->where, "requests[%d]", index);
        rc = body_tok >= 0 ? jfail(p, v, "%.*s: %s", t[body_tok].end - t[body_tok].start, body_key, p->err)
                           : jfail(p, i, "%s", p->err);
    }
    for (size_t m = 0; m < nparts; m++)
        body_part_free(&parts[m]);
    return rc;
}

static int build_json(scenario_t *s, const load_config_t *c, const char *js, size_t len, const char *dir,
                      char *err, size_t errlen)
{
    if (len > SCENARIO_MAX_FILE)
        return errmsg_set(err, errlen, "larger than %u MiB", SCENARIO_MAX_FILE >> 20);
    jp_t p = {.s = s, .c = c, .js = js, .len = len, .dir = dir, .err = err, .errlen = errlen};
    jsmn_parser parser;
    jsmn_init(&parser);
    /* Counting pass, then the real one: only the latter notices unclosed brackets. */
    int ntok = jsmn_parse(&parser, js, len, NULL, 0);
    if (ntok > 0) {
        if (!(p.t = calloc((size_t)ntok, sizeof *p.t))) return errmsg_set(err, errlen, "out of memory");
        jsmn_init(&parser);
        int n = jsmn_parse(&parser, js, len, p.t, (unsigned)ntok);
        if (n < 0) {
            free(p.t);
            ntok = n;
        }
    }
    if (ntok <= 0) {
        size_t line = 1;
        for (size_t i = 0; i < parser.pos && i < len; i++)
            line += js[i] == '\n';
        return errmsg_set(err, errlen, "line %zu: %s", line,
                    ntok == JSMN_ERROR_PART ? "the JSON ends too early (unclosed { [ or \")"
                    : ntok == 0             ? "empty: expected {\"requests\": [...]}"
                                            : "invalid JSON");
    }
    p.ntok = ntok;

    int rc = -1, requests = -1;
    spec_t defaults;
    if (spec_init(&defaults, c, err, errlen) < 0) goto out;
    if (skip(&p, 0) != ntok) {
        jfail(&p, skip(&p, 0), "unexpected data after the top-level value");
        goto out;
    }
    if (p.t[0].type == JSMN_ARRAY) {
        requests = 0;
    } else if (p.t[0].type == JSMN_OBJECT) {
        int k = 1;
        for (int m = 0; m < p.t[0].size; m++, k = skip(&p, k + 1)) {
            if (tok_is(&p, k, "requests")) {
                requests = k + 1;
            } else if (tok_is(&p, k, "defaults")) {
                if (jdefaults(&p, k + 1, &defaults) < 0) goto out;
            } else {
                jfail(&p, k, "unknown top-level key '%.*s' (allowed: requests, defaults)",
                      p.t[k].end - p.t[k].start, js + p.t[k].start);
                goto out;
            }
        }
    }
    if (requests < 0 || p.t[requests].type != JSMN_ARRAY) {
        jfail(&p, requests < 0 ? 0 : requests, "expected {\"requests\": [...]} or a list of requests");
        goto out;
    }
    if (p.t[requests].size == 0) {
        jfail(&p, requests, "no requests");
        goto out;
    }
    int k = requests + 1;
    for (int m = 0; m < p.t[requests].size; m++, k = skip(&p, k)) {
        if (jrequest(&p, k, &defaults, m) < 0) goto out;
    }
    rc = 0;
out:
    free(p.t);
    return rc;
}

/* ---------------------------------------------------------------- the scenario */

/* Gives every entry its stats slot (one per distinct name and method) and the cumulative
 * weights scenario_pick searches. */
static int finish(scenario_t *s, char *err, size_t errlen)
{
    s->stats = calloc(s->n, sizeof *s->stats);
    s->_cum = calloc(s->ngroups, sizeof *s->_cum);
    if (!s->stats || !s->_cum) return errmsg_set(err, errlen, "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        scenario_entry_t *e = &s->entries[i];
        size_t k = 0;
        while (k < s->nstats &&
               !(strcmp(s->stats[k].name, e->name) == 0 && strcmp(s->stats[k].method, e->method) == 0))
            k++;
        if (k == s->nstats) s->stats[s->nstats++] = (scenario_stat_t){e->name, e->method};
        e->stat = (unsigned)k;
    }
    uint64_t total = 0;
    for (size_t g = 0; g < s->ngroups; g++)
        s->_cum[g] = total += s->entries[s->groups[g].first].weight;
    return 0;
}

static int init_target(scenario_t *s, const load_config_t *c, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->host = strndup(c->url.host, c->url.host_len);
    if (!s->host) return errmsg_set(err, errlen, "out of memory");
    s->port = c->url.port;
    s->tls = c->url.scheme == URL_HTTPS;
    s->pick = c->pick;
    if (c->pick == LOAD_PICK_RANDOM) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s->seed = c->pick_seeded ? c->pick_seed : (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    return 0;
}

int scenario_build_json(scenario_t *s, const load_config_t *c, const char *json, size_t len, const char *dir,
                        char *err, size_t errlen)
{
    if (init_target(s, c, err, errlen) < 0 || build_json(s, c, json, len, dir, err, errlen) < 0 ||
        finish(s, err, errlen) < 0) {
        scenario_free(s);
        return -1;
    }
    return 0;
}

int scenario_build(scenario_t *s, const load_config_t *c, char *err, size_t errlen)
{
    if (!c->scenario_file) {
        if (init_target(s, c, err, errlen) < 0 || build_cli(s, c, err, errlen) < 0 ||
            finish(s, err, errlen) < 0) {
            scenario_free(s);
            return -1;
        }
        return 0;
    }
    body_t file;
    char msg[512];
    if (body_from_file(&file, NULL, c->scenario_file, msg, sizeof msg) < 0) {
        memset(s, 0, sizeof *s);
        return errmsg_set(err, errlen, "--scenario %s", msg);
    }
    char *dir = strdup(c->scenario_file);
    if (!dir) {
        body_free(&file);
        memset(s, 0, sizeof *s);
        return errmsg_set(err, errlen, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    int rc =
        scenario_build_json(s, c, file.data ? file.data : "", file.len, slash ? dir : NULL, msg, sizeof msg);
    if (rc < 0) errmsg_set(err, errlen, "%s: %s", c->scenario_file, msg);
    free(dir);
    body_free(&file);
    return rc;
}

void scenario_free(scenario_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->entries[i].request);
    for (size_t i = 0; i < s->_nstrings; i++)
        free(s->_strings[i]);
    free(s->entries);
    free(s->stats);
    free(s->_cum);
    free(s->groups);
    free(s->_strings);
    free(s->host);
    memset(s, 0, sizeof *s);
}

const scenario_entry_t *scenario_pick(const scenario_t *s, uint64_t rnd)
{
    if (s->ngroups == 1) return &s->entries[0];
    /* Map rnd onto [0, total) with a multiply-shift (totals stay below 2^32: at most
     * SCENARIO_MAX_ENTRIES * SCENARIO_MAX_WEIGHT), then find the first cumulative weight
     * above it. */
    uint64_t total = s->_cum[s->ngroups - 1];
    uint64_t x = ((rnd >> 32) * total) >> 32;
    size_t lo = 0, hi = s->ngroups - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->_cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &s->entries[s->groups[lo].first];
}

int scenario_cursor_init(scenario_cursor_t *cur, const scenario_t *s, unsigned index)
{
    cur->rng = s->seed + 0x9e3779b97f4a7c15ULL * (index + 1);
    if (!(cur->next = calloc(s->ngroups ? s->ngroups : 1, sizeof *cur->next))) return -1;
    for (size_t g = 0; g < s->ngroups; g++)
        cur->next[g] = index % s->groups[g].n;
    return 0;
}

void scenario_cursor_free(scenario_cursor_t *cur)
{
    free(cur->next);
    cur->next = NULL;
}

const scenario_entry_t *scenario_next(const scenario_t *s, scenario_cursor_t *cur)
{
    if (s->n == 1) return &s->entries[0];
    const scenario_entry_t *e = scenario_pick(s, scenario_rand(&cur->rng));
    const scenario_group_t *g = &s->groups[e->group];
    if (g->n == 1) return e;
    size_t i;
    if (s->pick == LOAD_PICK_RANDOM) {
        i = (size_t)(((scenario_rand(&cur->rng) >> 32) * g->n) >> 32);
    } else {
        i = cur->next[e->group];
        cur->next[e->group] = i + 1 == g->n ? 0 : i + 1;
    }
    return &s->entries[g->first + i];
}
