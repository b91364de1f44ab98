#include "load/body.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/base64.h"
#include "http/json.h"
#include "image/img_sniff.h"
#include "load/errmsg.h"

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* path, or dir/path when dir is given and path is relative (in joined). NULL when too long. */
static const char *resolve(const char *dir, const char *path, char joined[PATH_MAX], char *err, size_t errlen)
{
    if (!dir || !*dir || path[0] == '/') return path;
    int n = snprintf(joined, PATH_MAX, "%s/%s", dir, path);
    if (n < 0 || n >= PATH_MAX) {
        errmsg_set(err, errlen, "%s: path too long", path);
        return NULL;
    }
    return joined;
}

/* Reads a whole regular file (or anything readable, e.g. a pipe) of at most BODY_MAX_FILE
 * bytes. *out is malloc'ed (NULL for an empty file). */
static int read_file(const char *dir, const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    char joined[PATH_MAX];
    if (!(path = resolve(dir, path, joined, err, errlen))) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return errmsg_set(err, errlen, "%s: is a directory", path);
    }
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size : 65536, n = 0;
    if (cap > BODY_MAX_FILE) cap = BODY_MAX_FILE + 1; /* enough to see that it is too large */
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return errmsg_set(err, errlen, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap > BODY_MAX_FILE) break;
            size_t ncap = cap * 2 > BODY_MAX_FILE + 1 ? BODY_MAX_FILE + 1 : cap * 2;
            char *p = realloc(buf, ncap);
            if (!p) {
                free(buf);
                close(fd);
                return errmsg_set(err, errlen, "%s: out of memory", path);
            }
            buf = p;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return errmsg_set(err, errlen, "%s: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (n > BODY_MAX_FILE) {
        free(buf);
        return errmsg_set(err, errlen, "%s: larger than %u MiB", path, BODY_MAX_FILE >> 20);
    }
    if (n == 0) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    *len = n;
    return 0;
}

const char *body_guess_type(const void *data, size_t len)
{
    return img_format_mime(img_sniff_any(data, len));
}

/* Appends s as a JSON string (with its quotes) at *d. */
static char *put_json_string(char *d, const char *s, size_t n)
{
    *d++ = '"';
    d += json_escape(d, s, n);
    *d++ = '"';
    return d;
}

static char *put(char *d, const char *s, size_t n)
{
    memcpy(d, s, n);
    return d + n;
}

static int set_type(body_t *b, const char *type)
{
    int n = snprintf(b->content_type, sizeof b->content_type, "%s", type);
    return n < 0 || (size_t)n >= sizeof b->content_type ? -1 : 0;
}

int body_from_file(body_t *b, const char *dir, const char *path, char *err, size_t errlen)
{
    *b = (body_t){0};
    if (read_file(dir, path, &b->data, &b->len, err, errlen) < 0) return -1;
    set_type(b, body_guess_type(b->data, b->len));
    return 0;
}

int body_json(body_t *b, const char *json, size_t len, char *err, size_t errlen)
{
    *b = (body_t){0};
    if (len) {
        b->data = malloc(len);
        if (!b->data) return errmsg_set(err, errlen, "out of memory");
        memcpy(b->data, json, len);
        b->len = len;
    }
    set_type(b, "application/json");
    return 0;
}

/* A JSON object with string members, laid out as json.dumps() does: {"k": "v", "k2": "v2"}.
 * Values are taken verbatim when raw[i] (base64 never needs escaping). */
static int build_object(body_t *b, size_t n, const char *const *keys, const char *const *vals,
                       const size_t *vlens, const bool *raw, char *err, size_t errlen)
{
    size_t len = 2; /* {} */
    for (size_t i = 0; i < n; i++) {
        size_t klen = strlen(keys[i]);
        if (!json_utf8_valid(keys[i], klen) || (!raw[i] && !json_utf8_valid(vals[i], vlens[i])))
            return errmsg_set(err, errlen, "%s: not valid UTF-8", raw[i] ? keys[i] : vals[i]);
        len += (i ? 2 : 0) + 2 + json_escaped_len(keys[i], klen) + 2 + 2 +
               (raw[i] ? vlens[i] : json_escaped_len(vals[i], vlens[i]));
    }
    *b = (body_t){0};
    char *d = b->data = malloc(len);
    if (!d) return errmsg_set(err, errlen, "out of memory");
    *d++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i) d = put(d, ", ", 2);
        d = put_json_string(d, keys[i], strlen(keys[i]));
        d = put(d, ": ", 2);
        if (raw[i]) {
            *d++ = '"';
            d = put(d, vals[i], vlens[i]);
            *d++ = '"';
        } else {
            d = put_json_string(d, vals[i], vlens[i]);
        }
    }
    *d++ = '}';
    b->len = (size_t)(d - b->data);
    set_type(b, "application/json");
    return 0;
}

int body_base64_image(body_t *b, const char *dir, const char *path, const char *field, const char *filename,
                      char *err, size_t errlen)
{
    char *img;
    size_t n;
    *b = (body_t){0};
    if (read_file(dir, path, &img, &n, err, errlen) < 0) return -1;
    char *b64 = malloc(base64_encoded_len(n) + 1);
    if (!b64) {
        free(img);
        return errmsg_set(err, errlen, "out of memory");
    }
    size_t b64len = base64_encode(b64, img ? img : "", n);
    free(img);
    if (!filename) filename = basename_of(path);
    const char *keys[2] = {"filename", field ? field : "image"};
    const char *vals[2] = {filename, b64};
    size_t vlens[2] = {strlen(filename), b64len};
    bool raw[2] = {false, true};
    int rc = build_object(b, 2, keys, vals, vlens, raw, err, errlen);
    free(b64);
    return rc;
}

int body_image_url(body_t *b, const char *url, char *err, size_t errlen)
{
    const char *keys[1] = {"image_url"};
    const char *vals[1] = {url};
    size_t vlens[1] = {strlen(url)};
    bool raw[1] = {false};
    return build_object(b, 1, keys, vals, vlens, raw, err, errlen);
}

int body_part_parse(body_part_t *p, const char *spec, char *err, size_t errlen)
{
    *p = (body_part_t){0};
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec)
        return errmsg_set(err, errlen, "--multipart '%s': expected name=value or name=@FILE", spec);
    p->_buf = strdup(spec);
    if (!p->_buf) return errmsg_set(err, errlen, "out of memory");
    char *buf = p->_buf, *val = buf + (eq - spec);
    *val++ = '\0';
    p->name = buf;
    if (*val != '@') {
        p->value = val;
        return 0;
    }
    /* File part: @FILE then ;key=value attributes. */
    char *attr = strchr(++val, ';');
    if (attr) *attr++ = '\0';
    if (!*val) {
        body_part_free(p);
        return errmsg_set(err, errlen, "--multipart '%s': empty file name after '@'", spec);
    }
    p->path = val;
    while (attr) {
        char *next = strchr(attr, ';');
        if (next) *next++ = '\0';
        if (strncmp(attr, "type=", 5) == 0 && attr[5]) {
            p->type = attr + 5;
        } else if (strncmp(attr, "filename=", 9) == 0 && attr[9]) {
            p->filename = attr + 9;
        } else {
            body_part_free(p);
            return errmsg_set(err, errlen,
                        "--multipart '%s': unknown or empty attribute (use ;type= or ;filename=)", spec);
        }
        attr = next;
    }
    for (const char *c = p->type; c && *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            body_part_free(p);
            return errmsg_set(err, errlen, "--multipart '%s': control character in type", spec);
        }
    }
    return 0;
}

void body_part_free(body_part_t *p)
{
    free(p->_buf);
    *p = (body_part_t){0};
}

/* Length of a form-data parameter value with '"', CR and LF percent-encoded (the HTML
 * standard's rule, which curl and browsers follow), and the writer. */
static size_t param_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += (*s == '"' || *s == '\r' || *s == '\n') ? 3 : 1;
    return n;
}

static char *put_param(char *d, const char *s)
{
    for (; *s; s++) {
        if (*s == '"')
            d = put(d, "%22", 3);
        else if (*s == '\r')
            d = put(d, "%0D", 3);
        else if (*s == '\n')
            d = put(d, "%0A", 3);
        else
            *d++ = *s;
    }
    return d;
}

/* FNV-1a 64, enough to make a boundary that looks random and depends on the content. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

typedef struct {
    const char *data;
    size_t len;
    char *owned;      /* file contents, freed at the end */
    const char *type; /* Content-Type line value, NULL for text parts */
    const char *filename;
} part_bytes_t;

static void derive_boundary(char out[41], const part_bytes_t *pb, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t attempt = 0;
    for (;;) {
        uint64_t h1 = fnv1a(0xcbf29ce484222325ULL ^ attempt, "pixload", 7);
        for (size_t i = 0; i < n; i++)
            h1 = fnv1a(h1, pb[i].data ? pb[i].data : "", pb[i].len);
        uint64_t h2 = fnv1a(h1 ^ 0x9e3779b97f4a7c15ULL, &attempt, sizeof attempt);
        memcpy(out, "pixload", 7);
        for (int i = 0; i < 16; i++) {
            out[7 + i] = hex[(h1 >> (60 - 4 * i)) & 15];
            out[23 + i] = hex[(h2 >> (60 - 4 * i)) & 15];
        }
        out[39] = '\0';
        /* A boundary must not occur in any part: vanishingly unlikely with 128 bits of
         * hash, but a body crafted to contain it must not break the message. */
        bool clash = false;
        for (size_t i = 0; i < n && !clash; i++)
            clash = pb[i].len && memmem(pb[i].data, pb[i].len, out, 39) != NULL;
        if (!clash) return;
        attempt++;
    }
}

int body_multipart(body_t *b, const char *dir, const body_part_t *parts, size_t nparts, const char *boundary,
                   char *err, size_t errlen)
{
    *b = (body_t){0};
    if (nparts == 0) return errmsg_set(err, errlen, "multipart body without parts");
    part_bytes_t *pb = calloc(nparts, sizeof *pb);
    if (!pb) return errmsg_set(err, errlen, "out of memory");
    int rc = -1;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].path) {
            if (read_file(dir, parts[i].path, &pb[i].owned, &pb[i].len, err, errlen) < 0) goto done;
            pb[i].data = pb[i].owned;
            pb[i].type = parts[i].type ? parts[i].type : body_guess_type(pb[i].data, pb[i].len);
            pb[i].filename = parts[i].filename ? parts[i].filename : basename_of(parts[i].path);
        } else {
            pb[i].data = parts[i].value;
            pb[i].len = strlen(parts[i].value);
        }
    }
    char derived[41];
    if (!boundary) {
        derive_boundary(derived, pb, nparts);
        boundary = derived;
    }
    size_t blen = strlen(boundary);
    if (blen == 0 || blen > 70) {
        errmsg_set(err, errlen, "multipart boundary must be 1 to 70 bytes");
        goto done;
    }

    static const char cd[] = "Content-Disposition: form-data; name=\"";
    static const char ct[] = "Content-Type: ";
    size_t len = 2 + blen + 4; /* closing "--B--\r\n" */
    for (size_t i = 0; i < nparts; i++) {
        len += 2 + blen + 2;                                           /* --B\r\n */
        len += sizeof cd - 1 + param_len(parts[i].name) + 1;           /* ...name="x" */
        if (pb[i].filename) len += 12 + param_len(pb[i].filename) + 1; /* ; filename="y" */
        len += 2;                                                      /* \r\n */
        if (pb[i].type) len += sizeof ct - 1 + strlen(pb[i].type) + 2;
        len += 2 + pb[i].len + 2; /* \r\n data \r\n */
    }
    char *d = b->data = malloc(len);
    if (!d) {
        errmsg_set(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nparts; i++) {
        d = put(d, "--", 2);
        d = put(d, boundary, blen);
        d = put(d, "\r\n", 2);
        d = put(d, cd, sizeof cd - 1);
        d = put_param(d, parts[i].name);
        *d++ = '"';
        if (pb[i].filename) {
            d = put(d, "; filename=\"", 12);
            d = put_param(d, pb[i].filename);
            *d++ = '"';
        }
        d = put(d, "\r\n", 2);
        if (pb[i].type) {
            d = put(d, ct, sizeof ct - 1);
            d = put(d, pb[i].type, strlen(pb[i].type));
            d = put(d, "\r\n", 2);
        }
        d = put(d, "\r\n", 2);
        if (pb[i].len) d = put(d, pb[i].data, pb[i].len);
        d = put(d, "\r\n", 2);
    }
    d = put(d, "--", 2);
    d = put(d, boundary, blen);
    d = put(d, "--\r\n", 4);
    b->len = (size_t)(d - b->data);
    snprintf(b->content_type, sizeof b->content_type, "multipart/form-data; boundary=%s", boundary);
    rc = 0;
done:
    for (size_t i = 0; i < nparts; i++)
        free(pb[i].owned);
    free(pb);
    if (rc < 0) body_free(b);
    return rc;
}

void body_free(body_t *b)
{
    free(b->data);
    *b = (body_t){0};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void body_files_free(body_files_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->paths[i]);
    free(f->paths);
    free(f->names);
    *f = (body_files_t){0};
}

int body_files(body_files_t *f, const char *dir, const char *path, char *err, size_t errlen)
{
    *f = (body_files_t){0};
    char joined[PATH_MAX], sub[PATH_MAX];
    const char *full = resolve(dir, path, joined, err, errlen);
    struct stat st;
    if (!full) return -1;
    if (stat(full, &st) != 0 || !S_ISDIR(st.st_mode)) { /* a file: read (and any error) later */
        f->paths = malloc(sizeof *f->paths);
        f->names = malloc(sizeof *f->names);
        if (!f->paths || !f->names || !(f->paths[0] = strdup(path))) {
            body_files_free(f);
            return errmsg_set(err, errlen, "out of memory");
        }
        f->names[0] = basename_of(f->paths[0]);
        f->n = 1;
        return 0;
    }
    f->folder = true;
    DIR *d = opendir(full);
    if (!d) return errmsg_set(err, errlen, "%s: %s", path, strerror(errno));
    size_t plen = strlen(path), cap = 0;
    bool slash = plen && path[plen - 1] == '/';
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        int n = snprintf(sub, sizeof sub, "%s/%s", full, de->d_name);
        if (n < 0 || (size_t)n >= sizeof sub || stat(sub, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (f->n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(f->paths, cap * sizeof *p);
            if (!p) {
                rc = errmsg_set(err, errlen, "out of memory");
                break;
            }
            f->paths = p;
        }
        char *one = malloc(plen + 1 + strlen(de->d_name) + 1);
        if (!one) {
            rc = errmsg_set(err, errlen, "out of memory");
            break;
        }
        sprintf(one, "%s%s%s", path, slash ? "" : "/", de->d_name);
        f->paths[f->n++] = one;
    }
    closedir(d);
    if (rc == 0 && f->n == 0)
        rc = errmsg_set(err, errlen, "%s: a folder without files to send (hidden files and subfolders are skipped)",
                        path);
    if (rc == 0 && !(f->names = malloc(f->n * sizeof *f->names))) rc = errmsg_set(err, errlen, "out of memory");
    if (rc < 0) {
        body_files_free(f);
        return -1;
    }
    qsort(f->paths, f->n, sizeof *f->paths, cmp_str);
    for (size_t i = 0; i < f->n; i++)
        f->names[i] = basename_of(f->paths[i]);
    return 0;
}
