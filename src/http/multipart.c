#include "http/multipart.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name, *val;
    size_t name_len, val_len;
} param_t;

/* RFC 7230 tchar. */
static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046 bchars, space excluded. */
static bool is_bchar_nospace(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("'()+_,-./:=?", c) != NULL);
}

static bool valid_boundary(const char *b, size_t n)
{
    if (n < 1 || n > MULTIPART_BOUNDARY_MAX || b[n - 1] == ' ') return false;
    for (size_t i = 0; i < n; i++)
        if (b[i] != ' ' && !is_bchar_nospace((unsigned char)b[i])) return false;
    return true;
}

/* s[0..n) equals the NUL-terminated lit, ASCII case-insensitively. */
static bool ieq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Parses the leading type token of a header value (up to ';' or whitespace). */
static const char *type_token(const char *p, const char *end, size_t *len)
{
    const char *t = p;
    while (p < end && *p != ';' && *p != ' ' && *p != '\t')
        p++;
    *len = (size_t)(p - t);
    return p;
}

/* Parses one `OWS ";" OWS name OWS "=" OWS value` at *pp. A quoted value runs to the next
 * '"' (see multipart.h for why backslash is literal); an unquoted one is a run of visible
 * bytes other than ';' and '"'. Returns 1 and advances *pp, 0 at the end of the value
 * (a trailing ';' is tolerated), -1 if malformed. */
static int param_next(const char **pp, const char *end, param_t *out)
{
    const char *p = skip_ows(*pp, end);
    if (p == end) return 0;
    if (*p != ';') return -1;
    p = skip_ows(p + 1, end);
    if (p == end) return 0;
    out->name = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    out->name_len = (size_t)(p - out->name);
    p = skip_ows(p, end);
    if (out->name_len == 0 || p == end || *p != '=') return -1;
    p = skip_ows(p + 1, end);
    if (p < end && *p == '"') {
        p++;
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) return -1;
        out->val = p;
        out->val_len = (size_t)(q - p);
        p = q + 1;
    } else {
        out->val = p;
        while (p < end && (unsigned char)*p > ' ' && *p != 0x7F && *p != ';' && *p != '"')
            p++;
        out->val_len = (size_t)(p - out->val);
        if (out->val_len == 0) return -1;
    }
    *pp = p;
    return 1;
}

int multipart_boundary(const char *value, size_t len, const char **b, size_t *blen)
{
    const char *p = skip_ows(value, value + len), *end = value + len;
    size_t tlen;
    const char *t = p;
    p = type_token(p, end, &tlen);
    if (!ieq(t, tlen, "multipart/form-data")) return -1;
    const char *found = NULL;
    size_t flen = 0;
    param_t prm;
    int r;
    while ((r = param_next(&p, end, &prm)) > 0) {
        if (!ieq(prm.name, prm.name_len, "boundary")) continue;
        if (found) return -1; /* two boundaries: no way to tell which one the body uses */
        found = prm.val;
        flen = prm.val_len;
    }
    if (r < 0 || !found || !valid_boundary(found, flen)) return -1;
    *b = found;
    *blen = flen;
    return 0;
}

static multipart_status_t parse_disposition(const char *p, const char *end, multipart_part_t *part)
{
    size_t tlen;
    const char *t = p;
    p = type_token(p, end, &tlen);
    if (!ieq(t, tlen, "form-data")) return MULTIPART_ERR_NOT_FORM_DATA;
    param_t prm;
    int r;
    while ((r = param_next(&p, end, &prm)) > 0) {
        if (ieq(prm.name, prm.name_len, "name")) {
            if (part->name) return MULTIPART_ERR_DUP_PARAM;
            part->name = prm.val;
            part->name_len = prm.val_len;
        } else if (ieq(prm.name, prm.name_len, "filename")) {
            if (part->filename) return MULTIPART_ERR_DUP_PARAM;
            part->filename = prm.val;
            part->filename_len = prm.val_len;
        }
        /* filename* and unknown parameters are ignored (see multipart.h). */
    }
    if (r < 0) return MULTIPART_ERR_DISPOSITION_SYNTAX;
    return part->name ? MULTIPART_OK : MULTIPART_ERR_NO_NAME;
}

/* Parses a part's header block at *pp up to and including its blank line; on success *pp is
 * the first byte of the part's body. dash_boundary is "--boundary" (dlen bytes). */
static multipart_status_t parse_headers(const char **pp, const char *end, const char *dash_boundary,
                                        size_t dlen, multipart_part_t *part)
{
    const char *p = *pp;
    const char *limit = (size_t)(end - p) > MULTIPART_MAX_HEADER_BYTES ? p + MULTIPART_MAX_HEADER_BYTES : end;
    bool have_disposition = false, have_encoding = false;
    int nheaders = 0;

    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(limit - p));
        if (!nl) return limit == end ? MULTIPART_ERR_TRUNCATED : MULTIPART_ERR_HEADER_TOO_LARGE;
        if (nl == p || nl[-1] != '\r') return MULTIPART_ERR_BARE_LF;
        const char *eol = nl - 1;
        if (eol == p) { /* the blank line */
            *pp = nl + 1;
            break;
        }
        if ((size_t)(eol - p) >= dlen && memcmp(p, dash_boundary, dlen) == 0)
            return MULTIPART_ERR_HEADERS_UNTERMINATED;
        if (++nheaders > MULTIPART_MAX_HEADERS) return MULTIPART_ERR_TOO_MANY_HEADERS;
        /* Look ahead: a continuation line would change this header's value. */
        if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) return MULTIPART_ERR_HEADER_FOLDED;

        const char *name = p;
        while (p < eol && is_tchar((unsigned char)*p))
            p++;
        size_t name_len = (size_t)(p - name);
        if (name_len == 0 || p == eol || *p != ':') return MULTIPART_ERR_HEADER_SYNTAX;
        for (const char *q = ++p; q < eol; q++) {
            unsigned char c = (unsigned char)*q;
            if ((c < 0x20 && c != '\t') || c == 0x7F) return MULTIPART_ERR_HEADER_SYNTAX;
        }
        const char *v = skip_ows(p, eol), *vend = eol;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;

        if (ieq(name, name_len, "Content-Disposition")) {
            if (have_disposition) return MULTIPART_ERR_DUP_HEADER;
            have_disposition = true;
            multipart_status_t st = parse_disposition(v, vend, part);
            if (st != MULTIPART_OK) return st;
        } else if (ieq(name, name_len, "Content-Type")) {
            if (part->content_type) return MULTIPART_ERR_DUP_HEADER;
            part->content_type = v;
            part->content_type_len = (size_t)(vend - v);
        } else if (ieq(name, name_len, "Content-Transfer-Encoding")) {
            size_t n = (size_t)(vend - v);
            if (have_encoding) return MULTIPART_ERR_DUP_HEADER;
            have_encoding = true;
            if (!ieq(v, n, "binary") && !ieq(v, n, "8bit") && !ieq(v, n, "7bit"))
                return MULTIPART_ERR_ENCODING;
        }
        p = nl + 1;
    }
    return have_disposition ? MULTIPART_OK : MULTIPART_ERR_NO_DISPOSITION;
}

multipart_status_t multipart_parse(const uint8_t *body, size_t len, const char *boundary, size_t blen,
                                   multipart_part_t *parts, size_t max_parts, size_t *nparts)
{
    *nparts = 0;
    if (!valid_boundary(boundary, blen)) return MULTIPART_ERR_BOUNDARY;

    /* The delimiter is CRLF "--" boundary; the CRLF belongs to it, not to the data before. */
    char delim[4 + MULTIPART_BOUNDARY_MAX];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    const size_t dlen = 4 + blen;
    const char *p = (const char *)body, *end = p + len;

    if (len >= dlen - 2 && memcmp(p, delim + 2, dlen - 2) == 0) {
        p += dlen - 2; /* the body opens with "--boundary" */
    } else {
        const char *d = memmem(p, len, delim, dlen);
        if (!d) return MULTIPART_ERR_NO_DELIMITER;
        p = d + dlen;
    }

    for (;;) {
        /* p is just past a "--boundary". */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            if (*nparts == 0) return MULTIPART_ERR_NO_PARTS;
            p = skip_ows(p + 2, end);
            if (p == end || (end - p >= 2 && p[0] == '\r' && p[1] == '\n'))
                return MULTIPART_OK; /* what follows is the epilogue */
            return *p == '\n' ? MULTIPART_ERR_BARE_LF : MULTIPART_ERR_DELIMITER_LINE;
        }
        p = skip_ows(p, end);
        if (end - p < 2) return MULTIPART_ERR_TRUNCATED;
        if (p[0] != '\r' || p[1] != '\n')
            return p[0] == '\n' ? MULTIPART_ERR_BARE_LF : MULTIPART_ERR_DELIMITER_LINE;
        p += 2;

        if (*nparts == max_parts) return MULTIPART_ERR_TOO_MANY_PARTS;
        multipart_part_t *part = &parts[*nparts];
        memset(part, 0, sizeof *part);
        multipart_status_t st = parse_headers(&p, end, delim + 2, dlen - 2, part);
        if (st != MULTIPART_OK) return st;
        const char *d = memmem(p, (size_t)(end - p), delim, dlen);
        if (!d) return MULTIPART_ERR_TRUNCATED;
        part->data = (const uint8_t *)p;
        part->data_len = (size_t)(d - p);
        ++*nparts;
        p = d + dlen;
    }
}

const char *multipart_strerror(multipart_status_t st)
{
    switch (st) {
    case MULTIPART_OK:
        return "ok";
    case MULTIPART_ERR_BOUNDARY:
        return "invalid multipart boundary";
    case MULTIPART_ERR_NO_DELIMITER:
        return "multipart boundary not found in body";
    case MULTIPART_ERR_DELIMITER_LINE:
        return "junk after a multipart boundary";
    case MULTIPART_ERR_BARE_LF:
        return "multipart line ends in bare LF, CRLF required";
    case MULTIPART_ERR_TRUNCATED:
        return "multipart body ends before the closing boundary";
    case MULTIPART_ERR_NO_PARTS:
        return "multipart body has no parts";
    case MULTIPART_ERR_TOO_MANY_PARTS:
        return "too many multipart parts";
    case MULTIPART_ERR_HEADER_TOO_LARGE:
        return "multipart part headers too large";
    case MULTIPART_ERR_TOO_MANY_HEADERS:
        return "too many multipart part headers";
    case MULTIPART_ERR_HEADER_SYNTAX:
        return "malformed multipart part header";
    case MULTIPART_ERR_HEADER_FOLDED:
        return "folded multipart part header";
    case MULTIPART_ERR_HEADERS_UNTERMINATED:
        return "multipart part headers not ended by a blank line";
    case MULTIPART_ERR_DUP_HEADER:
        return "duplicate multipart part header";
    case MULTIPART_ERR_NO_DISPOSITION:
        return "multipart part without content-disposition";
    case MULTIPART_ERR_NOT_FORM_DATA:
        return "multipart part is not form-data";
    case MULTIPART_ERR_DISPOSITION_SYNTAX:
        return "malformed content-disposition";
    case MULTIPART_ERR_NO_NAME:
        return "multipart part without a name";
    case MULTIPART_ERR_DUP_PARAM:
        return "duplicate content-disposition parameter";
    case MULTIPART_ERR_ENCODING:
        return "unsupported content-transfer-encoding";
    }
    return "unknown multipart error";
}

const multipart_part_t *multipart_find(const multipart_part_t *parts, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (parts[i].name_len == len && memcmp(parts[i].name, name, len) == 0) return &parts[i];
    return NULL;
}
