/*
 * magic_json: the JSON bodies of /magic/base64, /magic/imageurl and PUT /<uid> (uploads), and
 * /magic's JSON reply.
 *
 * Requests (one top-level object; unknown keys are ignored, whatever their value):
 *   {"filename": "3.jpeg", "image": "<base64>"}        ("encoded_image" is an alias of "image")
 *   {"image_url": "http://..."}
 *   {"image": "<base64>", "email": "a@example.com", "crop": "x,y,w,h"}   (an upload)
 *   "{\"filename\": ...}"   the same object double-encoded as a JSON string, as a client does
 *                           when it json.dumps() its dict and then posts it with json=.
 * A field whose value is null counts as absent. The parser does not know the endpoint: the
 * caller checks that the field it needs is present.
 *
 * Tokenizing is jsmn's (in place, fixed token array, no allocation). jsmn is lax (it does not
 * check commas or colons, takes any byte run as a number or literal); a check over its tokens
 * closes that, so the whole body must be strict RFC 8259 JSON: one value, then whitespace.
 * One exception, to keep ignored data cheap: the string values of unknown keys are not
 * scanned for raw control bytes or lone surrogates (jsmn still checks their escapes).
 * Strings we use are checked fully: escapes (\uXXXX, surrogate pairs) decoded to UTF-8 in
 * place, raw control bytes, lone surrogates and bad escapes rejected; the filename must also
 * be valid UTF-8, without NUL, at most MAGIC_JSON_MAX_FILENAME bytes.
 *
 * Cost: a memchr for NUL, a memchr-paced pass that finds the strings, jsmn over the rest
 * (strings of 256 bytes or more are cut out of its view: it parses a small copy of the text
 * without them, and its tokens are moved back; same verdict as jsmn on the whole text), then
 * one pass per used string (word-at-a-time when it holds no escape or control byte, the
 * normal case for base64; no copy then). Tokens are bounded by MAGIC_JSON_MAX_TOKENS: linear
 * in the body size.
 */
#ifndef PIXD_SERVER_MAGIC_JSON_H
#define PIXD_SERVER_MAGIC_JSON_H

#include <stddef.h>
#include <stdint.h>

#define MAGIC_JSON_MAX_TOKENS 64     /* a request has ~5; more is not a request of ours */
#define MAGIC_JSON_MAX_FILENAME 1024 /* bytes after unescaping */

typedef struct {
    const char *filename; /* NULL if absent; valid UTF-8, no NUL */
    size_t filename_len;
    char *image_b64; /* "image" or "encoded_image", unescaped in place; NULL if absent */
    size_t image_b64_len;
    char *image_url; /* unescaped in place; NULL if absent */
    size_t image_url_len;
    char *email; /* unescaped in place; NULL if absent (the caller checks the address) */
    size_t email_len;
    char *crop; /* unescaped in place; NULL if absent (the caller parses it) */
    size_t crop_len;
} magic_json_req_t;

typedef enum {
    MAGIC_JSON_OK = 0,
    MAGIC_JSON_ERR_EMPTY,       /* nothing but whitespace */
    MAGIC_JSON_ERR_TOO_LARGE,   /* longer than jsmn's int offsets allow */
    MAGIC_JSON_ERR_SYNTAX,      /* malformed JSON */
    MAGIC_JSON_ERR_TRUNCATED,   /* JSON ends inside a value */
    MAGIC_JSON_ERR_TOO_COMPLEX, /* more than MAGIC_JSON_MAX_TOKENS tokens */
    MAGIC_JSON_ERR_NOT_OBJECT,  /* top level (after one string unwrapping) is not an object */
    MAGIC_JSON_ERR_FIELD_TYPE,  /* one of the fields above not a string (or null) */
    MAGIC_JSON_ERR_DUP_FIELD,   /* a field, or image and encoded_image, given twice */
    MAGIC_JSON_ERR_STRING,      /* bad escape, lone surrogate or raw control byte in a string */
    MAGIC_JSON_ERR_FILENAME,    /* filename too long, not UTF-8, or contains NUL */
} magic_json_status_t;

/* Parses body[0..len), which it modifies: the strings it returns are unescaped in place (so
 * they are not NUL-terminated) and a double-encoded body is unwrapped in place. All pointers
 * in *out point into body. On error *out is unspecified. */
magic_json_status_t magic_json_parse(char *body, size_t len, magic_json_req_t *out);

/* A short, static, lower-case reason for st (suitable for {"error": ...}). */
const char *magic_json_strerror(magic_json_status_t st);

/* Exact size of the reply magic_json_reply() writes (no NUL). */
size_t magic_json_reply_len(const char *filename, size_t flen, size_t jpeg_len);

/* Writes {"filename": <name>, "encoded_img": "<base64 of jpeg>"} into dst, which must hold
 * magic_json_reply_len() bytes; <name> is a JSON string, or null when filename is NULL.
 * Always valid JSON: invalid UTF-8 in filename becomes U+FFFD. Returns bytes written. */
size_t magic_json_reply(char *dst, const char *filename, size_t flen, const uint8_t *jpeg, size_t jpeg_len);

#endif
