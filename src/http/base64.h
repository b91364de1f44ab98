/*
 * base64: RFC 4648 section 4 (standard alphabet "A-Za-z0-9+/", '=' padding).
 *
 * Shared by pixd (decode request images, encode the result) and pixload (encode request
 * bodies). Pure functions: no allocation, no global state, thread-safe.
 *
 * The url-safe alphabet ("-_", section 5) is NOT accepted: '-' and '_' are rejected like any
 * other foreign byte, so a client that sends url-safe base64 gets a clear error, never
 * silently wrong bytes.
 */
#ifndef PIXD_HTTP_BASE64_H
#define PIXD_HTTP_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Exact length base64_encode() writes for n input bytes ('=' padding included, no NUL).
 * n must be <= SIZE_MAX / 4 * 3 (always true for buffers that fit in memory). */
static inline size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Encodes n bytes of src into dst (standard alphabet, padded, no line breaks, no NUL).
 * dst must hold base64_encoded_len(n) bytes and must not overlap src.
 * Returns the number of bytes written (== base64_encoded_len(n)). */
size_t base64_encode(char *dst, const void *src, size_t n);

/* Upper bound on what base64_decode() writes for n input bytes (exact for input without
 * whitespace or padding). */
static inline size_t base64_decoded_max(size_t n)
{
    return n / 4 * 3 + n % 4 * 3 / 4;
}

/* Strict decode of n bytes of src into dst.
 * Accepts: standard alphabet, with or without the final '=' padding; '\r', '\n' and ' '
 *          anywhere (MIME line breaks, e.g. Python's base64.encodebytes) are skipped.
 * Rejects: any other byte (url-safe "-_", tabs, NUL, ...), a lone trailing sextet, wrong
 *          padding ("A===", "AB=", "ABC==", data after '='), non-zero leftover bits
 *          ("AB==" where 'B' carries bits past the byte: non-canonical encodings).
 * dst must hold base64_decoded_max(n) bytes. dst may equal src (decode in place); other
 * overlaps are not allowed. Never reads outside src[0..n).
 * Returns the decoded length, or -1 on malformed input (dst content is then unspecified). */
ssize_t base64_decode(void *dst, const char *src, size_t n);

#endif
