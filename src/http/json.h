/*
 * json: JSON string contents (RFC 8259 §7) and UTF-8 (RFC 3629), shared by pixd's /magic
 * bodies and replies and by pixload's request bodies, scenario files and JSON report.
 *
 * These work on a string's content, the bytes between its quotes; tokenizing a document is
 * the caller's business (jsmn). Nothing allocates.
 */
#ifndef PIXD_HTTP_JSON_H
#define PIXD_HTTP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* True when s[0..n) is valid UTF-8: no overlong forms, surrogates, code points past
 * U+10FFFF or truncated sequences. NUL bytes are valid (callers that need C strings check). */
bool json_utf8_valid(const char *s, size_t n);

/* True when s[0..n) is a JSON literal (true, false, null) or number, by RFC 8259's grammar:
 * jsmn takes any run of bytes outside quotes as a primitive, so its callers check with this. */
bool json_primitive_valid(const char *s, size_t n);

/* Decodes the escapes of a string's content s[0..n) in place (\uXXXX and surrogate pairs to
 * UTF-8; \u0000 gives a NUL byte). Rejects raw bytes < 0x20, unknown escapes, truncated
 * escapes and lone surrogates. Returns the new length (<= n), or -1 (s is then garbage).
 * A run without escapes is scanned eight bytes at a time and not moved: a multi-megabyte
 * base64 string costs one pass. */
ssize_t json_unescape(char *s, size_t n);

/* Exact length of s[0..n) written as a string's content by json_escape (quotes excluded). */
size_t json_escaped_len(const char *s, size_t n);

/* Writes s[0..n) as a string's content, as Python's json.dumps(ensure_ascii=False) does:
 * '"' and '\\' and control bytes escaped (\b \f \n \r \t, else \u00xx), UTF-8 copied. Bytes
 * that are not UTF-8 become \ufffd, so the output is always valid JSON; callers that must
 * not alter text check json_utf8_valid first. dst holds json_escaped_len(s, n) bytes and
 * must not overlap s. Returns the bytes written (no NUL). */
size_t json_escape(char *dst, const char *s, size_t n);

#endif
