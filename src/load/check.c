#include "load/check.h"

#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>

#include "http/base64.h"
#include "http/json.h"
#include "load/errmsg.h"

/* The answer is small JSON ({"filename": ..., "encoded_img": ...}): a few tokens; more and it
 * is not an answer of the kind compared. */
#define JSON_TOKENS 64
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

static int sha256(const void *data, size_t len, unsigned char out[CHECK_SHA256_LEN])
{
    unsigned int n;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int check_expect_bytes(check_t *ck, const void *data, size_t len, const char *field)
{
    *ck = (check_t){.mode = field ? CHECK_FIELD : CHECK_BODY, .len_known = true, .len = len, .field = field};
    return sha256(data ? data : "", len, ck->sha256);
}

bool check_is_digest(const char *spec)
{
    return strncmp(spec, "sha256:", 7) == 0;
}

int check_expect_sha256(check_t *ck, const char *spec, const char *field, char *err, size_t errlen)
{
    *ck = (check_t){.mode = field ? CHECK_FIELD : CHECK_BODY, .field = field};
    const char *hex = spec + 7;
    if (!check_is_digest(spec) || strlen(hex) != 2 * CHECK_SHA256_LEN)
        return errmsg_set(err, errlen, "'%s': expected sha256: and 64 hex digits", spec);
    for (int i = 0; i < CHECK_SHA256_LEN; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = (char)tolower((unsigned char)hex[2 * i + k]);
            if (!isxdigit((unsigned char)c)) return errmsg_set(err, errlen, "'%s': expected sha256: and 64 hex digits", spec);
            v = v * 16 + (isdigit((unsigned char)c) ? c - '0' : c - 'a' + 10);
        }
        ck->sha256[i] = (unsigned char)v;
    }
    return 0;
}

uint64_t check_json_limit(const check_t *ck)
{
    /* json_unescape never grows a string and base64 is 4/3 of its bytes: a member longer than
     * this, with the slack for the rest of the object and for escaped '/', cannot decode to
     * the expected bytes. */
    return ck->len_known ? 2 * base64_encoded_len(ck->len) + CHECK_FIELD_SLACK : CHECK_FIELD_MAX;
}

void check_run_free(check_run_t *r)
{
    EVP_MD_CTX_free(r->md);
    buf_free(&r->json);
    *r = (check_run_t){0};
}

void check_begin(check_run_t *r, const check_t *ck)
{
    r->n = 0;
    r->overflow = false;
    if (ck->mode == CHECK_FIELD) {
        buf_reset(&r->json);
        return;
    }
    if (!r->md && !(r->md = EVP_MD_CTX_new())) {
        r->overflow = true;
        return;
    }
    if (EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1) r->overflow = true;
}

void check_feed(check_run_t *r, const check_t *ck, const void *data, size_t len)
{
    r->n += len;
    if (r->overflow || !len) return;
    if (ck->mode == CHECK_FIELD) {
        if (r->n > check_json_limit(ck) || buf_append(&r->json, data, len) != 0) r->overflow = true;
    } else if ((ck->len_known && r->n > ck->len) || EVP_DigestUpdate(r->md, data, len) != 1) {
        r->overflow = true;
    }
}

/* The string member ck->field of the JSON object in s[0..n), unescaped and base64-decoded in
 * place: *out, *outlen. False when there is none or it does not decode. */
static bool field_bytes(const check_t *ck, char *s, size_t n, char **out, size_t *outlen)
{
    jsmn_parser p;
    jsmntok_t t[JSON_TOKENS];
    jsmn_init(&p);
    int ntok = jsmn_parse(&p, s, n, t, JSON_TOKENS);
    if (ntok < 1 || t[0].type != JSMN_OBJECT) return false;
    size_t flen = strlen(ck->field);
    for (int i = 1; i + 1 < ntok; i++) {
        if (t[i].parent != 0 || t[i].type != JSMN_STRING) continue; /* only the object's keys */
        const jsmntok_t *v = &t[i + 1];
        if ((size_t)(t[i].end - t[i].start) != flen || memcmp(s + t[i].start, ck->field, flen) != 0) continue;
        if (v->type != JSMN_STRING) return false;
        char *str = s + v->start;
        ssize_t len = json_unescape(str, (size_t)(v->end - v->start));
        if (len < 0) return false;
        ssize_t dec = base64_decode(str, str, (size_t)len);
        if (dec < 0) return false;
        *out = str;
        *outlen = (size_t)dec;
        return true;
    }
    return false;
}

bool check_end(check_run_t *r, const check_t *ck)
{
    unsigned char got[CHECK_SHA256_LEN];
    if (r->overflow) return false;
    if (ck->mode == CHECK_FIELD) {
        char *bytes;
        size_t len;
        if (!buf_size(&r->json) || !field_bytes(ck, buf_start(&r->json), buf_size(&r->json), &bytes, &len))
            return false;
        if ((ck->len_known && len != ck->len) || sha256(bytes, len, got) != 0) return false;
    } else {
        unsigned int n;
        if ((ck->len_known && r->n != ck->len) || EVP_DigestFinal_ex(r->md, got, &n) != 1) return false;
    }
    return memcmp(got, ck->sha256, sizeof got) == 0;
}

bool check_body(const check_t *ck, const void *data, size_t len)
{
    check_run_t r = {0};
    check_begin(&r, ck);
    check_feed(&r, ck, data, len);
    bool ok = check_end(&r, ck);
    check_run_free(&r);
    return ok;
}
