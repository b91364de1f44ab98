/*
 * parser: HTTP/1.x request and response heads, and chunked bodies.
 *
 * The contract is picohttpparser's: stateless, no allocation, everything points into the
 * caller's buffer (which must stay unchanged while the result is used). A parse returns
 *   > 0                    the length of the head, terminating blank line included;
 *   HTTP_PARSE_INCOMPLETE  the head is not complete yet: call again with more bytes;
 *   HTTP_PARSE_ERROR       malformed: `error` says which rule broke, http_err_status() the
 *                          answer to send.
 * The parser never reads past len. It does not limit the head's size: the caller answers 431
 * when an incomplete head reaches its limit.
 */
#ifndef PIXD_HTTP_PARSER_H
#define PIXD_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_PARSE_ERROR (-1)
#define HTTP_PARSE_INCOMPLETE (-2)
#define HTTP_MAX_HEADERS 64

typedef enum {
    HTTP_ERR_NONE = 0,
    HTTP_ERR_METHOD,            /* not a token */
    HTTP_ERR_TARGET,            /* empty, or a byte outside VCHAR */
    HTTP_ERR_VERSION,           /* not HTTP/d.d */
    HTTP_ERR_VERSION_UNSUPPORTED, /* HTTP/2+ or HTTP/0.x: 505 */
    HTTP_ERR_LINE,              /* request/status line shape: spaces, bare CR */
    HTTP_ERR_STATUS,            /* response status code not 3 digits */
    HTTP_ERR_HEADER_NAME,       /* empty or not a token (incl. space before ':') */
    HTTP_ERR_HEADER_VALUE,      /* control byte in a value */
    HTTP_ERR_OBS_FOLD,          /* line folding is not accepted */
    HTTP_ERR_TOO_MANY_HEADERS,  /* > HTTP_MAX_HEADERS: 431 */
    HTTP_ERR_CONTENT_LENGTH,    /* not digits, too large, or conflicting copies */
    HTTP_ERR_CL_AND_TE,         /* both framings: a smuggling vector */
    HTTP_ERR_TE_UNSUPPORTED,    /* codings we do not decode before the final chunked: 501 */
    HTTP_ERR_TE_CHUNKED,        /* chunked absent, not last, twice, or split over two headers:
                                   400, as RFC 9112 §6.3 requires (the length is unknown) */
    HTTP_ERR_TE_HTTP10,         /* Transfer-Encoding in an HTTP/1.0 request */
    HTTP_ERR_HOST,              /* HTTP/1.1 without exactly one Host */
    HTTP_ERR_EXPECT,            /* an expectation other than 100-continue: 417 */
} http_err_t;

typedef enum {
    HTTP_METHOD_OTHER = 0,
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_PATCH,
} http_method_t;

typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing whitespace removed */
    size_t value_len;
} http_header_t;

/* What both heads share: headers and the framing and connection facts derived from them. */
typedef struct {
    int minor_version;           /* 0 or 1 */
    size_t num_headers;
    http_header_t headers[HTTP_MAX_HEADERS];
    int64_t content_length;      /* -1 when absent */
    bool chunked;
    bool keep_alive;             /* by version and Connection */
    http_err_t error;            /* set when a parse returns HTTP_PARSE_ERROR */
} http_head_t;

typedef struct {
    http_method_t method;
    const char *method_str;
    size_t method_len;
    const char *target; /* the request-target as sent */
    size_t target_len;
    const char *path;   /* target up to '?' */
    size_t path_len;
    const char *query;  /* after '?', NULL when absent */
    size_t query_len;
    bool expect_continue;
    http_head_t h;
} http_request_t;

typedef struct {
    int status;
    const char *reason;
    size_t reason_len;
    http_head_t h;
} http_response_t;

int http_parse_request(const char *buf, size_t len, http_request_t *req);
/* Parses a response head. Framing facts follow RFC 9112 §6.3 for the caller to apply: chunked
 * when chunked is the final transfer coding ("gzip, chunked" too: the decoded body is then
 * gzip data); content_length == -1 and !chunked means "until close" unless the status has no
 * body (Transfer-Encoding without a final chunked, or no framing header). */
int http_parse_response(const char *buf, size_t len, http_response_t *resp);

/* The status to answer for a parse error (400, 417, 431, 501, 505). */
int http_err_status(http_err_t err);
/* A short reason for the JSON error body. */
const char *http_err_reason(http_err_t err);

/* The method's id from its token (HTTP_METHOD_OTHER for the ones not named above). */
http_method_t http_method_id(const char *m, size_t n);
/* A Content-Length value: 1*DIGIT, at most 18 digits; -1 when it is not one. */
int64_t http_parse_length(const char *v, size_t n);

/* Case-insensitive header lookup: the first match, or NULL. */
const http_header_t *http_find_header(const http_head_t *h, const char *name, size_t name_len);
/* True when `list` (a comma-separated header value) contains `token`, case-insensitively. */
bool http_list_has(const char *list, size_t len, const char *token, size_t token_len);

/*
 * Chunked body decoder, in place. Zero the struct before the first call. Each call decodes
 * buf[0..*len) in place, sets *len to the decoded bytes now at buf[0..*len), and returns
 *   >= 0                   the body is complete; the value is the number of bytes after the
 *                          body's end (the next message), left at buf[*len ...];
 *   HTTP_PARSE_INCOMPLETE  need more bytes;
 *   HTTP_PARSE_ERROR       malformed (bad size, overflow, a line not ended by CRLF, an
 *                          extension not introduced by ';', a trailer line that is not a
 *                          field line as a head's header would be, trailers over 4 KiB in all).
 * Framing is strict (CRLF only, trailers included: no bare CR, bare LF or NUL anywhere in the
 * framing): a lenient chunk decoder is a request-smuggling vector. Trailers are checked and
 * dropped, never returned. Zero the struct again before decoding another body; the caller
 * bounds the decoded size.
 */
typedef struct {
    uint64_t _left; /* bytes left in the current chunk's data */
    int _state;
    unsigned _digits;
    size_t _line; /* bytes seen on an extension or trailer line, bounded */
} http_chunked_t;

/* Bytes the chunk being decoded still announces (a lower bound while its size is being read):
 * lets the caller refuse a body over its limit before the bytes arrive. */
static inline uint64_t http_chunked_pending(const http_chunked_t *d)
{
    return d->_left;
}

ssize_t http_chunked_decode(http_chunked_t *d, char *buf, size_t *len);

#endif
