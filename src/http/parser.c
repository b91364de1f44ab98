#include "http/parser.h"

#include <string.h>
#include <strings.h>

/* Byte classes (RFC 9110 §5.6.2 tchar, §5.5 field-vchar, RFC 3986 target bytes). */
enum { C_TOKEN = 1, C_TARGET = 2, C_VALUE = 4 };

static const unsigned char cls[256] = {
    ['\t'] = C_VALUE,
    [' '] = C_VALUE,
#define T(c) [c] = C_TOKEN | C_TARGET | C_VALUE
    T('!'), T('#'), T('$'), T('%'), T('&'), T('\''), T('*'), T('+'), T('-'), T('.'), T('^'), T('_'),
    T('`'), T('|'), T('~'),
    T('0'), T('1'), T('2'), T('3'), T('4'), T('5'), T('6'), T('7'), T('8'), T('9'),
    T('A'), T('B'), T('C'), T('D'), T('E'), T('F'), T('G'), T('H'), T('I'), T('J'), T('K'), T('L'),
    T('M'), T('N'), T('O'), T('P'), T('Q'), T('R'), T('S'), T('T'), T('U'), T('V'), T('W'), T('X'),
    T('Y'), T('Z'),
    T('a'), T('b'), T('c'), T('d'), T('e'), T('f'), T('g'), T('h'), T('i'), T('j'), T('k'), T('l'),
    T('m'), T('n'), T('o'), T('p'), T('q'), T('r'), T('s'), T('t'), T('u'), T('v'), T('w'), T('x'),
    T('y'), T('z'),
#undef T
#define V(c) [c] = C_TARGET | C_VALUE
    V('"'), V('('), V(')'), V(','), V('/'), V(':'), V(';'), V('<'), V('='), V('>'), V('?'), V('@'),
    V('['), V('\\'), V(']'), V('{'), V('}'),
#undef V
    /* obs-text is allowed in field values only */
    [0x80 ... 0xff] = C_VALUE,
};

/* Cursor helpers: each returns HTTP_PARSE_INCOMPLETE when the buffer ends first. */
#define NEED(p, end)                                                                           \
    do {                                                                                       \
        if ((p) >= (end))                                                                      \
            return HTTP_PARSE_INCOMPLETE;                                                      \
    } while (0)

#define FAIL(h, e)                                                                             \
    do {                                                                                       \
        (h)->error = (e);                                                                      \
        return HTTP_PARSE_ERROR;                                                               \
    } while (0)

/* Consumes a line ending at *pp: CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept
 * it); a bare CR is an error. Returns 0, or a parse status. */
static int eol(const char **pp, const char *end, http_head_t *h)
{
    const char *p = *pp;
    NEED(p, end);
    if (*p == '\r') {
        NEED(p + 1, end);
        if (p[1] != '\n')
            FAIL(h, HTTP_ERR_LINE);
        *pp = p + 2;
        return 0;
    }
    if (*p != '\n')
        FAIL(h, HTTP_ERR_LINE);
    *pp = p + 1;
    return 0;
}

/* "HTTP/d.d"; sets minor_version. */
static int version(const char **pp, const char *end, http_head_t *h)
{
    const char *p = *pp;
    static const char proto[] = "HTTP/";
    for (size_t i = 0; i < 5; i++, p++) {
        NEED(p, end);
        if (*p != proto[i])
            FAIL(h, HTTP_ERR_VERSION);
    }
    NEED(p + 2, end);
    if (p[0] < '0' || p[0] > '9' || p[1] != '.' || p[2] < '0' || p[2] > '9')
        FAIL(h, HTTP_ERR_VERSION);
    if (p[0] != '1')
        FAIL(h, HTTP_ERR_VERSION_UNSUPPORTED);
    h->minor_version = p[2] == '0' ? 0 : 1; /* 1.x for x > 1 is answered as 1.1 */
    *pp = p + 3;
    return 0;
}

static int headers(const char **pp, const char *end, http_head_t *h)
{
    const char *p = *pp;
    h->num_headers = 0;
    for (;;) {
        NEED(p, end);
        if (*p == '\r' || *p == '\n') {
            int r = eol(&p, end, h);
            if (r)
                return r;
            *pp = p;
            return 0;
        }
        if (*p == ' ' || *p == '\t')
            FAIL(h, HTTP_ERR_OBS_FOLD);
        if (h->num_headers == HTTP_MAX_HEADERS)
            FAIL(h, HTTP_ERR_TOO_MANY_HEADERS);
        http_header_t *hd = &h->headers[h->num_headers];
        hd->name = p;
        while (1) {
            NEED(p, end);
            if (!(cls[(unsigned char)*p] & C_TOKEN))
                break;
            p++;
        }
        if (*p != ':' || p == hd->name)
            FAIL(h, HTTP_ERR_HEADER_NAME);
        hd->name_len = (size_t)(p - hd->name);
        p++;
        for (;; p++) {
            NEED(p, end);
            if (*p != ' ' && *p != '\t')
                break;
        }
        hd->value = p;
        for (;; p++) {
            NEED(p, end);
            if (!(cls[(unsigned char)*p] & C_VALUE))
                break;
        }
        const char *vend = p;
        while (vend > hd->value && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        hd->value_len = (size_t)(vend - hd->value);
        if (*p != '\r' && *p != '\n')
            FAIL(h, HTTP_ERR_HEADER_VALUE);
        int r = eol(&p, end, h);
        if (r)
            return r;
        h->num_headers++;
    }
}

static bool name_is(const http_header_t *hd, const char *name, size_t len)
{
    return hd->name_len == len && strncasecmp(hd->name, name, len) == 0;
}

bool http_list_has(const char *list, size_t len, const char *token, size_t token_len)
{
    const char *p = list, *end = list + len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *start = p;
        while (p < end && *p != ',')
            p++;
        const char *e = p;
        while (e > start && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - start) == token_len && strncasecmp(start, token, token_len) == 0)
            return true;
    }
    return false;
}

const http_header_t *http_find_header(const http_head_t *h, const char *name, size_t name_len)
{
    for (size_t i = 0; i < h->num_headers; i++)
        if (name_is(&h->headers[i], name, name_len))
            return &h->headers[i];
    return NULL;
}

/* Content-Length: 1*DIGIT, at most 18 digits so it fits int64 without overflow checks. */
int64_t http_parse_length(const char *v, size_t n)
{
    if (n == 0 || n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* The shape of a Transfer-Encoding value, which decides the framing (RFC 9112 §6.3). */
enum {
    TE_BAD = -1,      /* chunked twice: no sender may do that (§6.1) */
    TE_NOT_CHUNKED,   /* chunked absent or not final */
    TE_CHUNKED,       /* chunked alone */
    TE_CODED_CHUNKED, /* other codings, then chunked: chunked framing around e.g. gzip */
};

static int parse_te(const char *v, size_t n)
{
    const char *p = v, *end = v + n;
    int chunked_seen = 0, others = 0, last_chunked = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p == end)
            break;
        const char *s = p;
        while (p < end && *p != ',' && *p != ';')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        /* Skip the coding's parameters; a quoted-string value may hold a comma. */
        for (bool quoted = false; p < end && (quoted || *p != ','); p++) {
            if (quoted && *p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                quoted = !quoted;
        }
        last_chunked = (e - s == 7 && strncasecmp(s, "chunked", 7) == 0);
        if (last_chunked)
            chunked_seen++;
        else
            others++;
    }
    if (chunked_seen > 1)
        return TE_BAD;
    if (!last_chunked)
        return TE_NOT_CHUNKED;
    return others ? TE_CODED_CHUNKED : TE_CHUNKED;
}

/* Derives framing and connection facts shared by requests and responses. */
static int derive(http_head_t *h, bool request, http_request_t *req)
{
    bool te_seen = false, conn_close = false, conn_keep = false;
    int hosts = 0;
    h->content_length = -1;
    h->chunked = false;
    for (size_t i = 0; i < h->num_headers; i++) {
        const http_header_t *hd = &h->headers[i];
        switch (hd->name_len) {
        case 4:
            if (name_is(hd, "host", 4))
                hosts++;
            break;
        case 6:
            if (request && name_is(hd, "expect", 6)) {
                /* RFC 9110 §10.1.1: 100-continue in an HTTP/1.0 request MUST be ignored */
                if (hd->value_len == 12 && strncasecmp(hd->value, "100-continue", 12) == 0)
                    req->expect_continue = h->minor_version == 1;
                else
                    FAIL(h, HTTP_ERR_EXPECT);
            }
            break;
        case 10:
            if (name_is(hd, "connection", 10)) {
                conn_close |= http_list_has(hd->value, hd->value_len, "close", 5);
                conn_keep |= http_list_has(hd->value, hd->value_len, "keep-alive", 10);
            }
            break;
        case 14:
            if (name_is(hd, "content-length", 14)) {
                int64_t n = http_parse_length(hd->value, hd->value_len);
                if (n < 0 || (h->content_length >= 0 && n != h->content_length))
                    FAIL(h, HTTP_ERR_CONTENT_LENGTH);
                h->content_length = n;
            }
            break;
        case 17:
            if (name_is(hd, "transfer-encoding", 17)) {
                if (te_seen) /* split across headers: refuse rather than guess */
                    FAIL(h, HTTP_ERR_TE_CHUNKED);
                te_seen = true;
                int te = parse_te(hd->value, hd->value_len);
                if (te == TE_BAD)
                    FAIL(h, request ? HTTP_ERR_TE_CHUNKED : HTTP_ERR_HEADER_VALUE);
                if (request && te == TE_NOT_CHUNKED) /* RFC 9112 §6.3: length unknown: 400 */
                    FAIL(h, HTTP_ERR_TE_CHUNKED);
                if (request && te == TE_CODED_CHUNKED) /* framed, but not decodable: 501 (§6.1) */
                    FAIL(h, HTTP_ERR_TE_UNSUPPORTED);
                /* A response's body is chunked whenever chunked is the final coding; otherwise it
                 * runs until close (§6.3). pixload counts the bytes, it never decodes gzip. */
                h->chunked = te == TE_CHUNKED || te == TE_CODED_CHUNKED;
            }
            break;
        }
    }
    if (request) {
        if (te_seen && h->minor_version == 0)
            FAIL(h, HTTP_ERR_TE_HTTP10);
        if (te_seen && h->content_length >= 0)
            FAIL(h, HTTP_ERR_CL_AND_TE);
        if (hosts > 1 || (hosts == 0 && h->minor_version == 1))
            FAIL(h, HTTP_ERR_HOST);
    } else if (te_seen) {
        h->content_length = -1; /* RFC 9112 §6.3: Transfer-Encoding overrides */
    }
    h->keep_alive = h->minor_version == 1 ? !conn_close : (conn_keep && !conn_close);
    return 0;
}

http_method_t http_method_id(const char *m, size_t n)
{
    switch (n) {
    case 3:
        if (memcmp(m, "GET", 3) == 0)
            return HTTP_METHOD_GET;
        if (memcmp(m, "PUT", 3) == 0)
            return HTTP_METHOD_PUT;
        break;
    case 4:
        if (memcmp(m, "HEAD", 4) == 0)
            return HTTP_METHOD_HEAD;
        if (memcmp(m, "POST", 4) == 0)
            return HTTP_METHOD_POST;
        break;
    case 5:
        if (memcmp(m, "PATCH", 5) == 0)
            return HTTP_METHOD_PATCH;
        break;
    case 6:
        if (memcmp(m, "DELETE", 6) == 0)
            return HTTP_METHOD_DELETE;
        break;
    case 7:
        if (memcmp(m, "OPTIONS", 7) == 0)
            return HTTP_METHOD_OPTIONS;
        break;
    }
    return HTTP_METHOD_OTHER;
}

/* The version check failed at p. If the bytes from p are more target followed by
 * " HTTP/", the client sent a space inside its target ("GET /a b HTTP/1.1"): name that
 * fault. Decided only from bytes present, so a prefix never reports another error. */
static int target_with_space(const char *p, const char *end, http_head_t *h)
{
    for (; p < end; p++) {
        if (*p == ' ') {
            if (end - p < 6) {
                h->error = HTTP_ERR_NONE;
                return HTTP_PARSE_INCOMPLETE;
            }
            if (memcmp(p + 1, "HTTP/", 5) == 0) {
                h->error = HTTP_ERR_TARGET;
                return HTTP_PARSE_ERROR;
            }
        } else if (!(cls[(unsigned char)*p] & C_TARGET)) {
            return HTTP_PARSE_ERROR; /* not a target: the version error stands */
        }
    }
    h->error = HTTP_ERR_NONE;
    return HTTP_PARSE_INCOMPLETE;
}

int http_parse_request(const char *buf, size_t len, http_request_t *req)
{
    const char *p = buf, *end = buf + len;
    http_head_t *h = &req->h;
    h->error = HTTP_ERR_NONE;
    req->expect_continue = false;

    /* RFC 9112 §2.2: ignore at least one empty line before the request line. */
    while (p < end && (*p == '\r' || *p == '\n')) {
        int r = eol(&p, end, h);
        if (r)
            return r;
    }
    req->method_str = p;
    for (;; p++) {
        NEED(p, end);
        if (!(cls[(unsigned char)*p] & C_TOKEN))
            break;
    }
    if (p == req->method_str)
        FAIL(h, *p == ' ' ? HTTP_ERR_LINE : HTTP_ERR_METHOD);
    if (*p != ' ')
        FAIL(h, HTTP_ERR_METHOD);
    req->method_len = (size_t)(p - req->method_str);
    req->method = http_method_id(req->method_str, req->method_len);

    req->target = ++p;
    req->query = NULL;
    for (;; p++) {
        NEED(p, end);
        if (!(cls[(unsigned char)*p] & C_TARGET))
            break;
        if (*p == '?' && !req->query)
            req->query = p + 1;
    }
    if (p == req->target)
        FAIL(h, *p == ' ' ? HTTP_ERR_LINE : HTTP_ERR_TARGET);
    if (*p != ' ')
        FAIL(h, (*p == '\r' || *p == '\n') ? HTTP_ERR_LINE : HTTP_ERR_TARGET);
    req->target_len = (size_t)(p - req->target);
    if (req->query) {
        req->path_len = (size_t)(req->query - 1 - req->target);
        req->query_len = (size_t)(p - req->query);
    } else {
        req->path_len = req->target_len;
        req->query_len = 0;
    }
    req->path = req->target;
    p++;

    int r = version(&p, end, h);
    if (r == HTTP_PARSE_ERROR && h->error == HTTP_ERR_VERSION)
        r = target_with_space(p, end, h);
    if (!r)
        r = eol(&p, end, h);
    if (!r)
        r = headers(&p, end, h);
    if (!r)
        r = derive(h, true, req);
    return r ? r : (int)(p - buf);
}

int http_parse_response(const char *buf, size_t len, http_response_t *resp)
{
    const char *p = buf, *end = buf + len;
    http_head_t *h = &resp->h;
    h->error = HTTP_ERR_NONE;

    int r = version(&p, end, h);
    if (r)
        return r;
    NEED(p, end);
    if (*p != ' ')
        FAIL(h, HTTP_ERR_LINE);
    p++;
    NEED(p + 2, end);
    if (p[0] < '1' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9')
        FAIL(h, HTTP_ERR_STATUS);
    resp->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    p += 3;
    NEED(p, end);
    if (*p == ' ')
        p++;
    else if (*p != '\r' && *p != '\n')
        FAIL(h, HTTP_ERR_STATUS);
    resp->reason = p;
    for (;; p++) {
        NEED(p, end);
        if (!(cls[(unsigned char)*p] & C_VALUE))
            break;
    }
    resp->reason_len = (size_t)(p - resp->reason);
    r = eol(&p, end, h);
    if (!r)
        r = headers(&p, end, h);
    if (!r)
        r = derive(h, false, NULL);
    return r ? r : (int)(p - buf);
}

int http_err_status(http_err_t err)
{
    switch (err) {
    case HTTP_ERR_TOO_MANY_HEADERS:
        return 431;
    case HTTP_ERR_TE_UNSUPPORTED:
        return 501;
    case HTTP_ERR_VERSION_UNSUPPORTED:
        return 505;
    case HTTP_ERR_EXPECT:
        return 417;
    default:
        return 400;
    }
}

const char *http_err_reason(http_err_t err)
{
    static const char *const reasons[] = {
        [HTTP_ERR_NONE] = "no error",
        [HTTP_ERR_METHOD] = "malformed method",
        [HTTP_ERR_TARGET] = "malformed request target",
        [HTTP_ERR_VERSION] = "malformed HTTP version",
        [HTTP_ERR_VERSION_UNSUPPORTED] = "HTTP version not supported",
        [HTTP_ERR_LINE] = "malformed request line",
        [HTTP_ERR_STATUS] = "malformed status line",
        [HTTP_ERR_HEADER_NAME] = "malformed header name",
        [HTTP_ERR_HEADER_VALUE] = "malformed header value",
        [HTTP_ERR_OBS_FOLD] = "header line folding is not allowed",
        [HTTP_ERR_TOO_MANY_HEADERS] = "too many headers",
        [HTTP_ERR_CONTENT_LENGTH] = "invalid Content-Length",
        [HTTP_ERR_CL_AND_TE] = "both Content-Length and Transfer-Encoding",
        [HTTP_ERR_TE_UNSUPPORTED] = "unsupported Transfer-Encoding",
        [HTTP_ERR_TE_CHUNKED] = "chunked must be the one final transfer coding",
        [HTTP_ERR_TE_HTTP10] = "Transfer-Encoding in an HTTP/1.0 request",
        [HTTP_ERR_HOST] = "missing or repeated Host header",
        [HTTP_ERR_EXPECT] = "unsupported expectation",
    };
    return (unsigned)err < sizeof reasons / sizeof reasons[0] ? reasons[err] : "bad request";
}

/* ---- chunked bodies ------------------------------------------------------------------ */

enum { CH_SIZE, CH_SIZE_WS, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_NAME,
       CH_TRAILER_VALUE, CH_TRAILER_LF, CH_END_LF };

#define CHUNK_LINE_MAX 4096 /* bound on a chunk-size line with extensions, and on trailers */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

ssize_t http_chunked_decode(http_chunked_t *d, char *buf, size_t *len)
{
    size_t i = 0, o = 0, n = *len;
    while (i < n) {
        char c = buf[i];
        switch (d->_state) {
        case CH_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                if (d->_digits == 16) /* would overflow 64 bits */
                    return HTTP_PARSE_ERROR;
                d->_left = d->_left * 16 + (uint64_t)v;
                d->_digits++;
                i++;
                break;
            }
            if (d->_digits == 0)
                return HTTP_PARSE_ERROR;
            d->_line = 0;
            d->_state = CH_SIZE_WS;
            break;
        }
        case CH_SIZE_WS: /* BWS, then ";ext" or the line end (RFC 9112 §7.1.1) */
            if (c == ' ' || c == '\t') {
                if (++d->_line > CHUNK_LINE_MAX)
                    return HTTP_PARSE_ERROR;
                i++;
            } else if (c == ';') {
                d->_state = CH_EXT;
            } else if (c == '\r') {
                d->_state = CH_SIZE_LF;
                i++;
            } else {
                return HTTP_PARSE_ERROR;
            }
            break;
        case CH_EXT:
            if (c == '\r') {
                d->_state = CH_SIZE_LF;
                i++;
                break;
            }
            if (++d->_line > CHUNK_LINE_MAX || c == '\0' || c == '\n')
                return HTTP_PARSE_ERROR;
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return HTTP_PARSE_ERROR;
            i++;
            d->_state = d->_left ? CH_DATA : CH_TRAILER;
            d->_line = 0;
            break;
        case CH_DATA: {
            size_t take = n - i;
            if (take > d->_left)
                take = (size_t)d->_left;
            if (o != i)
                memmove(buf + o, buf + i, take);
            o += take;
            i += take;
            d->_left -= take;
            if (d->_left == 0)
                d->_state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (c != '\r')
                return HTTP_PARSE_ERROR;
            i++;
            d->_state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return HTTP_PARSE_ERROR;
            i++;
            d->_state = CH_SIZE;
            d->_digits = 0;
            break;
        /* Trailer lines are field lines under the head's rules (token ':' field-vchars, no
         * obs-fold) but CRLF only, and _line bounds the whole trailer section. They are
         * checked, not kept. */
        case CH_TRAILER: /* at the start of a trailer line, or the final empty line */
            if (c == '\r') {
                d->_state = CH_END_LF;
                i++;
            } else if (cls[(unsigned char)c] & C_TOKEN) {
                d->_state = CH_TRAILER_NAME;
            } else {
                return HTTP_PARSE_ERROR; /* bare LF, obs-fold, empty name, a control byte */
            }
            break;
        case CH_TRAILER_NAME:
            if (++d->_line > CHUNK_LINE_MAX)
                return HTTP_PARSE_ERROR;
            if (c == ':')
                d->_state = CH_TRAILER_VALUE;
            else if (!(cls[(unsigned char)c] & C_TOKEN))
                return HTTP_PARSE_ERROR;
            i++;
            break;
        case CH_TRAILER_VALUE:
            if (++d->_line > CHUNK_LINE_MAX)
                return HTTP_PARSE_ERROR;
            if (c == '\r')
                d->_state = CH_TRAILER_LF;
            else if (!(cls[(unsigned char)c] & C_VALUE))
                return HTTP_PARSE_ERROR;
            i++;
            break;
        case CH_TRAILER_LF:
            if (c != '\n')
                return HTTP_PARSE_ERROR;
            i++;
            d->_state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (c != '\n')
                return HTTP_PARSE_ERROR;
            i++;
            goto done;
        }
    }
    *len = o;
    return HTTP_PARSE_INCOMPLETE;
done:
    if (o != i)
        memmove(buf + o, buf + i, n - i);
    *len = o;
    return (ssize_t)(n - i);
}
