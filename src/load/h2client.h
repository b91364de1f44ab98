/*
 * h2client: pixload's side of one HTTP/2 connection (--h2): a libnghttp2 client session, the
 * streams in flight on it and the frames to write. No I/O and no clock: the engine reads and
 * writes the socket, times the requests and records them (engine.c), as wrk's engine does for
 * HTTP/1.1.
 *
 * Requests are prepared once per scenario entry (h2client_req_build): the fields as nghttp2_nv
 * pointing into the entry's serialised HTTP/1.1 request (names lowercased once), and the body
 * pointing at the entry's last body_len bytes. Every stream of every connection sends them
 * without a copy of its own: the fields go to nghttp2 with the NO_COPY flags (HPACK encodes them
 * straight from there), the body goes out with NGHTTP2_DATA_FLAG_NO_COPY as iovecs into the
 * entry (only the 9-byte DATA frame headers are written into the output buffer).
 *
 * Output: h2client_output() runs nghttp2_session_send(), which hands every frame to one write
 * buffer, and returns it as iovecs for one writev per turn (at most H2CLIENT_OUT_MAX bytes and
 * H2CLIENT_IOV_MAX pieces per call; call again when all of it is written). Input: every read is
 * given whole to h2client_recv() (nghttp2_session_mem_recv). Receive windows are
 * H2CLIENT_WINDOW for each stream and for the connection, and bytes are consumed as they are
 * received (nghttp2's automatic WINDOW_UPDATE): the body is counted, never kept.
 *
 * Streams live in slots owned by the h2client (max_streams of them) that outlive the TCP
 * connection, so that a request the server never processed (above a GOAWAY's last stream id)
 * can wait in its slot and go out again on the next connection. At most
 * min(max_streams, the server's SETTINGS_MAX_CONCURRENT_STREAMS) are live at once, and none
 * before the server's first SETTINGS arrived (h2client_room).
 *
 * How a stream ends is told through the callback given to h2client_new(), called from inside
 * h2client_recv() and h2client_output(): the callee records it and then gives the slot back
 * (h2client_release) or sends it again later (h2client_requeue), and does nothing else with the
 * session there (no submit).
 */
#ifndef PIXD_LOAD_H2CLIENT_H
#define PIXD_LOAD_H2CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <nghttp2/nghttp2.h>

#define H2CLIENT_WINDOW ((1u << 30) - 1) /* receive windows: h2load's default (-w 30 -W 30) */
#define H2CLIENT_MAX_HEADER_LIST (64u << 10) /* response header list we accept: HTTP/1.1's head limit */
#define H2CLIENT_OUT_MAX (1u << 20)          /* bytes handed out per h2client_output() */
#define H2CLIENT_IOV_MAX 256                 /* pieces per h2client_output() */

/* ---- requests ------------------------------------------------------------------------------ */

/* A request as HTTP/2 fields, built once. Pointers go into the serialised request it was built
 * from (which must outlive it) and into _names. */
typedef struct {
    nghttp2_nv *nv;
    size_t nvlen;
    const uint8_t *body; /* the request's last body_len bytes */
    size_t body_len;
    char *_names; /* lowercased field names, owned */
} h2client_req_t;

/* Turns a serialised HTTP/1.1 request ("METHOD target HTTP/1.1\r\n", header lines, "\r\n", then
 * body_len bytes of body) into fields: :method, :scheme (https or http), :authority (from Host),
 * :path (the target), then the headers lowercased, without Host and without the fields HTTP/2
 * forbids (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE); a
 * Content-Length is kept (it agrees with the body, and tells the server the size up front).
 * 0, or -1 with a message in err. Free with h2client_req_free (safe on a zeroed one). */
int h2client_req_build(h2client_req_t *r, const char *request, size_t len, size_t body_len, bool https,
                       char *err, size_t errlen);
void h2client_req_free(h2client_req_t *r);

/* ---- the server's first bytes -------------------------------------------------------------- */

/* Whether p[0..n), the first bytes a server sent on a new connection, can begin its connection
 * preface (RFC 9113 §3.4: a SETTINGS frame on stream 0, not an ACK): 1 yes (n >= 9), 0 so far
 * (fewer than 9 bytes that could), -1 no (an HTTP/1.x answer, anything else). */
int h2client_check_preface(const uint8_t *p, size_t n);

/* ---- streams ------------------------------------------------------------------------------- */

typedef enum {
    H2CLIENT_FREE = 0,
    H2CLIENT_HELD, /* taken by the caller, not on the wire */
    H2CLIENT_LIVE, /* submitted on the session */
    H2CLIENT_WAIT, /* requeued: to be submitted again (h2client_next_waiting) */
} h2client_state_t;

typedef struct {
    /* The caller's: set before h2client_submit, kept across a requeue. */
    const h2client_req_t *req;
    const void *entry;
    uint64_t start_ns; /* latency counts from here */
    uint64_t sent_ns;  /* submitted at (timeouts) */
    unsigned retries;
    /* The h2client's. */
    h2client_state_t state;
    int32_t id;       /* stream id while live */
    int status;       /* :status of the final response (0: none yet) */
    uint64_t content; /* response body bytes */
    size_t body_off;  /* request body bytes written */
} h2client_stream_t;

typedef enum {
    H2CLIENT_DONE,    /* the response is complete (END_STREAM): status and content are set */
    H2CLIENT_REFUSED, /* the server reset the stream with REFUSED_STREAM */
    H2CLIENT_RESET,   /* reset with another code, or closed before the response was complete */
    H2CLIENT_UNSENT,  /* the server did not process it (above a GOAWAY's last stream id, or the
                         request could not be sent after a GOAWAY): safe to send again */
} h2client_end_t;

typedef struct h2client h2client_t;
/* s is no longer live (its state is H2CLIENT_HELD); give it back or requeue it. */
typedef void (*h2client_end_cb)(void *owner, h2client_stream_t *s, h2client_end_t how);

/* Each piece of a response body as it arrives, before the stream ends (e.g. to check it). */
typedef void (*h2client_data_cb)(void *owner, h2client_stream_t *s, const uint8_t *data, size_t len);

/* A connection's h2client with max_streams slots (>= 1). NULL when out of memory. */
h2client_t *h2client_new(unsigned max_streams, h2client_end_cb on_end, void *owner);
void h2client_free(h2client_t *h);

/* A new session for a new connection: the preface and our SETTINGS are queued for output.
 * 0, or an nghttp2 error (out of memory). */
int h2client_open(h2client_t *h);
/* Ends the session (the connection is gone). Streams that were live stay in their slots
 * (state LIVE, with their id): the caller fails them (h2client_slot) or requeues them. */
void h2client_close(h2client_t *h);

/* Calls on_data with every piece of response body from now on (NULL: none, the default). */
void h2client_on_data(h2client_t *h, h2client_data_cb on_data);

/* The slots: i < h2client_nslots(h); h2client_slot_index(h, h2client_slot(h, i)) == i. */
unsigned h2client_nslots(const h2client_t *h);
h2client_stream_t *h2client_slot(h2client_t *h, unsigned i);
unsigned h2client_slot_index(const h2client_t *h, const h2client_stream_t *s);

/* A free slot (state HELD, zeroed), or NULL. */
h2client_stream_t *h2client_take(h2client_t *h);
/* Gives a HELD slot back. */
void h2client_release(h2client_t *h, h2client_stream_t *s);
/* Keeps a HELD or LIVE slot to send again (state WAIT). */
void h2client_requeue(h2client_t *h, h2client_stream_t *s);
/* A WAIT slot (made HELD, to submit), or NULL. */
h2client_stream_t *h2client_next_waiting(h2client_t *h);
unsigned h2client_waiting(const h2client_t *h);

/* Streams that may be submitted now: min(max_streams, the server's limit) minus the live ones;
 * 0 before the server's SETTINGS came and after a GOAWAY. */
unsigned h2client_room(const h2client_t *h);
/* min(max_streams, the server's SETTINGS_MAX_CONCURRENT_STREAMS), once its SETTINGS came. */
unsigned h2client_limit(const h2client_t *h);
unsigned h2client_live(const h2client_t *h);
bool h2client_ready(const h2client_t *h);  /* the server's SETTINGS arrived */
bool h2client_goaway(const h2client_t *h); /* the server sent GOAWAY: no new streams */
/* The session is over (nothing to read or write: after GOAWAY both ways, or a protocol
 * error nghttp2 answered with GOAWAY). */
bool h2client_over(const h2client_t *h);

/* Sends a HELD slot's request (s->req set) as a new stream: 0, or an nghttp2 error. */
int h2client_submit(h2client_t *h, h2client_stream_t *s);
/* Gives up on a LIVE stream (its timeout): RST_STREAM(CANCEL) is queued and s becomes HELD,
 * without a callback. */
void h2client_cancel(h2client_t *h, h2client_stream_t *s);

#define H2CLIENT_NOT_H2 (-100000) /* h2client_recv: the server's first bytes are no preface */

/* Feeds bytes read from the connection. 0, H2CLIENT_NOT_H2, or a fatal nghttp2 error (the
 * connection is unusable). */
int h2client_recv(h2client_t *h, const uint8_t *p, size_t n);
/* The frames nghttp2 has to send now, as *n iovecs (*n == 0: nothing). They stay valid, and
 * the caller may advance them in place, until the next call. 0 or a fatal nghttp2 error. */
int h2client_output(h2client_t *h, struct iovec **iov, unsigned *n);

#endif
