/*
 * multipart: multipart/form-data bodies (RFC 7578 over RFC 2046), parsed in place.
 *
 * Stateless, never allocates, never writes to the body: every pointer it returns points
 * into the caller's buffers (the Content-Type value, the body), which must outlive the result.
 * The body must be complete (the HTTP layer buffers it, with its own size limit).
 *
 * What is accepted, decided for the clients that really post images (Python requests/urllib3
 * and so locust, curl, browsers):
 *  - Lines end in CRLF, strictly. A bare LF in a delimiter line or part header is an error
 *    (MULTIPART_ERR_BARE_LF), never guessed at: the delimiter is searched as
 *    "\r\n--boundary", so binary data (CR, LF, "--" included) is never cut short, and a part
 *    that ends in "\n" keeps it. Every client named above sends CRLF.
 *  - A preamble before the first delimiter and an epilogue after the closing one are skipped.
 *    The first delimiter may open the body without a CRLF before it (the usual case).
 *    Linear whitespace after a delimiter (RFC 2046 transport padding) is skipped.
 *  - A delimiter followed by anything but "--", whitespace or CRLF is an error: RFC 2046
 *    forbids the boundary inside the content, so "\r\n--boundaryX" is malformed, not data.
 *  - Part header names are case-insensitive; obsolete line folding is rejected. Only
 *    Content-Disposition (required, "form-data", with a "name"), Content-Type (optional) and
 *    Content-Transfer-Encoding (only 7bit/8bit/binary, anything else is rejected rather
 *    than silently left encoded) are interpreted; other headers are skipped.
 *  - Parameters: names case-insensitive, values quoted or not, whitespace around ';' and '='
 *    tolerated. A quoted value ends at the next '"' and a backslash is an ordinary byte: that
 *    is how browsers, urllib3 and curl send form-data (they percent-encode '"', CR and LF,
 *    per the HTML standard) and Windows paths ("C:\x\y.jpg") stay intact. A client that
 *    backslash-escapes a quote gets MULTIPART_ERR_DISPOSITION_SYNTAX, not a wrong name.
 *    Values are returned raw: quotes removed, no percent-decoding.
 *  - "filename*=" (RFC 5987) is ignored: RFC 7578 section 4.2 forbids senders to use it, and
 *    the plain "filename" is what every client sends. A part with only filename* has
 *    filename == NULL.
 *  - Limits: MULTIPART_MAX_HEADER_BYTES per part header block, MULTIPART_MAX_HEADERS lines
 *    per part, and the caller's max_parts.
 */
#ifndef PIXD_HTTP_MULTIPART_H
#define PIXD_HTTP_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define MULTIPART_BOUNDARY_MAX 70       /* RFC 2046 */
#define MULTIPART_MAX_HEADER_BYTES 8192 /* one part's header block, blank line included */
#define MULTIPART_MAX_HEADERS 16        /* header lines per part */

typedef struct {
    const char *name; /* form field name from Content-Disposition (may be empty, never NULL) */
    size_t name_len;
    const char *filename; /* NULL if none */
    size_t filename_len;
    const char *content_type; /* whole header value, parameters included; NULL if none */
    size_t content_type_len;
    const uint8_t *data; /* part body, points into the input */
    size_t data_len;
} multipart_part_t;

typedef enum {
    MULTIPART_OK = 0,
    MULTIPART_ERR_BOUNDARY,             /* the boundary passed in is not a valid one */
    MULTIPART_ERR_NO_DELIMITER,         /* the boundary never appears */
    MULTIPART_ERR_DELIMITER_LINE,       /* a delimiter followed by other bytes */
    MULTIPART_ERR_BARE_LF,              /* a line ends in LF without CR */
    MULTIPART_ERR_TRUNCATED,            /* the body ends before the closing delimiter */
    MULTIPART_ERR_NO_PARTS,             /* the closing delimiter comes first */
    MULTIPART_ERR_TOO_MANY_PARTS,       /* more than max_parts */
    MULTIPART_ERR_HEADER_TOO_LARGE,     /* > MULTIPART_MAX_HEADER_BYTES */
    MULTIPART_ERR_TOO_MANY_HEADERS,     /* > MULTIPART_MAX_HEADERS */
    MULTIPART_ERR_HEADER_SYNTAX,        /* no ':', bad name, control byte, lone CR */
    MULTIPART_ERR_HEADER_FOLDED,        /* obsolete line folding */
    MULTIPART_ERR_HEADERS_UNTERMINATED, /* a delimiter where the blank line should be */
    MULTIPART_ERR_DUP_HEADER,           /* Content-Disposition/-Type/-Transfer-Encoding twice */
    MULTIPART_ERR_NO_DISPOSITION,       /* part without Content-Disposition */
    MULTIPART_ERR_NOT_FORM_DATA,        /* disposition type other than form-data */
    MULTIPART_ERR_DISPOSITION_SYNTAX,   /* malformed parameter list, unterminated quote */
    MULTIPART_ERR_NO_NAME,              /* form-data without name= */
    MULTIPART_ERR_DUP_PARAM,            /* name= or filename= twice */
    MULTIPART_ERR_ENCODING,             /* Content-Transfer-Encoding other than 7bit/8bit/binary */
} multipart_status_t;

/* Extracts the boundary from a Content-Type value ("multipart/form-data; boundary=...",
 * media type and parameter names case-insensitive, value quoted or not, RFC 2046 charset
 * and 1..70 bytes). A type other than multipart/form-data, a missing or repeated boundary,
 * or a malformed parameter list fail.
 * Returns 0 with *b and *blen pointing into value (quotes excluded), or -1. */
int multipart_boundary(const char *value, size_t len, const char **b, size_t *blen);

/* Parses a complete body delimited by boundary (as multipart_boundary() returned it).
 * Fills parts[0..*nparts) in body order; *nparts is set on every return (on error: the parts
 * completed before it, for diagnostics only). Parts past max_parts are an error, not
 * dropped. Returns MULTIPART_OK or the first malformation found. */
multipart_status_t multipart_parse(const uint8_t *body, size_t len, const char *boundary, size_t blen,
                                   multipart_part_t *parts, size_t max_parts, size_t *nparts);

/* A short, static, lower-case reason for st (suitable for {"error": ...}). */
const char *multipart_strerror(multipart_status_t st);

/* The first part whose name equals name (exact, case-sensitive, as form fields are), or NULL. */
const multipart_part_t *multipart_find(const multipart_part_t *parts, size_t n, const char *name);

#endif
