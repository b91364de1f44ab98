/*
 * h2: the HTTP/2 glue shared by pixd and pixload, over libnghttp2 (decision 010).
 *
 * What both ends agree on lives here, so that the server and the load generator cannot drift
 * apart: the limits a session runs with (every one set explicitly, never left to the
 * library's version), the SETTINGS they announce, and the conversion between HTTP/2 fields
 * and pixd's HTTP/1-shaped types (http_request_t, http_response_t of http/parser.h, and the
 * "Name: value\r\n" header blocks handlers write).
 *
 * Nothing here does I/O or keeps a session: callers own their nghttp2_session.
 */
#ifndef PIXD_HTTP_H2_H
#define PIXD_HTTP_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "http/parser.h"

/* The client connection preface (RFC 9113 §3.4): how a cleartext h2c connection with prior
 * knowledge announces itself. */
#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

/* Every limit of a session. h2_limits_default() gives pixd's values (decision 010 says why). */
typedef struct {
    uint32_t max_concurrent_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS we announce */
    uint32_t stream_window;          /* SETTINGS_INITIAL_WINDOW_SIZE we announce */
    uint32_t connection_window;      /* our connection-level receive window */
    uint32_t max_frame_size;         /* SETTINGS_MAX_FRAME_SIZE we announce */
    uint32_t max_header_list;        /* SETTINGS_MAX_HEADER_LIST_SIZE: the same 8 KiB as a 1.1 head */
    uint32_t header_table_size;      /* SETTINGS_HEADER_TABLE_SIZE: the peer's encoder table in our decoder */
    size_t deflate_table_size;       /* our encoder's dynamic table, whatever the peer allows */
    size_t max_send_header_block;    /* the largest header block we encode */
    uint64_t reset_burst, reset_rate; /* RST_STREAM token bucket (rapid reset, CVE-2023-44487) */
    size_t max_continuations;        /* CONTINUATION frames after one HEADERS */
    size_t max_settings;             /* entries in one SETTINGS frame */
    size_t max_outbound_ack;         /* SETTINGS and PING ACKs queued while the peer does not read */
    uint32_t max_empty_data;         /* DATA frames without payload or END_STREAM, per connection */
    uint32_t settings_timeout_ms;    /* our SETTINGS must be acknowledged within it */
} h2_limits_t;

void h2_limits_default(h2_limits_t *l);

/* The nghttp2 options for a session with these limits (server: the server-only ones too).
 * Windows are opened by the caller (nghttp2_session_consume) for bytes it accepted. NULL when
 * out of memory; free with nghttp2_option_del. */
nghttp2_option *h2_option_new(const h2_limits_t *l, bool server);

/* Submits our SETTINGS and opens the connection window to l->connection_window. 0 or an
 * nghttp2 error. */
int h2_submit_settings(nghttp2_session *s, const h2_limits_t *l);

/* A GOAWAY frame written by hand, for a session nghttp2 has given up on (a fatal error, a
 * flood): 17 bytes into out. */
#define H2_GOAWAY_LEN 17
void h2_goaway_frame(uint8_t out[H2_GOAWAY_LEN], int32_t last_stream_id, uint32_t error_code);

/* 0..n: how many bytes of p match the start of the preface (n when all of them do). */
size_t h2_preface_match(const char *p, size_t n);

/* ---- fields -> http_request_t / http_response_t --------------------------------------- */

/* A stream's copy of its header fields: names and values copied into one buffer that grows up
 * to max (the header-list limit); http_request_t's pointers point into it. Zero it, set max. */
typedef struct {
    char *data;
    size_t len, cap, max;
    bool too_large; /* a field did not fit (or more than HTTP_MAX_HEADERS): answer 431 */
    bool bad;       /* a field pixd cannot accept (a malformed content-length): answer 400 */
} h2_fields_t;

void h2_fields_free(h2_fields_t *f);

/* Adds one request field: the pseudo-headers fill method, target, path and query (:path split
 * at '?'), :authority becomes a Host header (unless one came), the others are headers as an
 * HTTP/1.1 head has them (findable by http_find_header; content-length parsed). Fields past
 * the limit set f->too_large and are dropped. Call h2_request_init first. */
void h2_request_field(http_request_t *req, h2_fields_t *f, const uint8_t *name, size_t nlen,
                      const uint8_t *value, size_t vlen);
/* Empties req (content_length -1, keep-alive, HTTP/1.1 semantics for handlers). */
void h2_request_init(http_request_t *req);

/* The same for a response (pixload): :status sets status, the rest are headers. */
void h2_response_field(http_response_t *resp, h2_fields_t *f, const uint8_t *name, size_t nlen,
                       const uint8_t *value, size_t vlen);
void h2_response_init(http_response_t *resp);

/* ---- "Name: value\r\n" lines -> nghttp2_nv --------------------------------------------- */

static inline nghttp2_nv h2_nv(const char *name, size_t nlen, const char *value, size_t vlen)
{
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, nlen, vlen, NGHTTP2_NV_FLAG_NONE};
}
#define H2_NV_LIT(name, value, vlen) h2_nv("" name, sizeof(name) - 1, (value), (vlen))

/* Converts a handler's header block into fields: names lowercased into lower (cap bytes),
 * values pointing into lines; the fields HTTP/2 forbids or frames itself (Connection,
 * Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE, Content-Length) are dropped.
 * Lines without a colon are skipped. Returns the number of fields, or -1 when nv (max) or
 * lower cannot hold them. */
int h2_nv_from_lines(const char *lines, size_t n, nghttp2_nv *nv, size_t max, char *lower, size_t cap);

#endif
