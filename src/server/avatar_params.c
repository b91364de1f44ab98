#include "server/avatar_params.h"

#include <string.h>
#include <strings.h>

#include "http/accept.h"
#include "http/query.h"

static bool is(const char *v, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(v, lit, n) == 0;
}

static int parse_size(const char *v, size_t n, uint32_t *out)
{
    uint32_t s = 0;
    if (n == 0 || n > 4)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        s = s * 10 + (uint32_t)(v[i] - '0');
    }
    if (s < 1 || s > AVATAR_SIZE_MAX)
        return -1;
    *out = s;
    return 0;
}

/* A redirect target we are willing to put in a Location header: absolute http(s), no
 * control bytes or spaces (nothing that could split or bend the header). */
static bool plain_url(const char *u, size_t n)
{
    if (!((n > 7 && strncasecmp(u, "http://", 7) == 0) || (n > 8 && strncasecmp(u, "https://", 8) == 0)))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
            return false;
    return true;
}

static int parse_default(const char *v, size_t n, avatar_params_t *p, const char **reason)
{
    p->url = NULL; /* a later d= replaces an earlier URL */
    p->url_len = 0;
    ssize_t dn = http_pct_decode(v, n, p->url_buf, sizeof p->url_buf, true);
    if (dn < 0) {
        *reason = "invalid d= value";
        return -1;
    }
    if (dn == 0) { /* gravatar.com takes an empty d= as none (URL builders send d= unset) */
        p->d = AVATAR_D_NONE;
        return 0;
    }
    if (is(p->url_buf, (size_t)dn, "404")) {
        p->d = AVATAR_D_404;
        return 0;
    }
    if (img_gen_from_name(p->url_buf, (size_t)dn, &p->gen) == 0) {
        p->d = AVATAR_D_PICTURE;
        return 0;
    }
    if (!plain_url(p->url_buf, (size_t)dn)) {
        *reason = "unknown d= value";
        return -1;
    }
    p->d = AVATAR_D_URL;
    p->url = p->url_buf;
    p->url_len = (size_t)dn;
    return 0;
}

static int parse_format(const char *v, size_t n, img_format_t *fm)
{
    if (is(v, n, "jpg") || is(v, n, "jpeg"))
        *fm = IMG_FMT_JPEG;
    else if (is(v, n, "png"))
        *fm = IMG_FMT_PNG;
    else if (is(v, n, "webp"))
        *fm = IMG_FMT_WEBP;
    else if (is(v, n, "avif"))
        *fm = IMG_FMT_AVIF;
    else
        return -1;
    return 0;
}

int avatar_params_parse(const char *q, size_t n, avatar_params_t *p, const char **reason)
{
    p->size = 0;
    p->fm = IMG_FMT_UNKNOWN;
    p->d = AVATAR_D_NONE;
    p->forcedefault = false;
    p->url = NULL;
    p->url_len = p->text_len = 0;
    http_query_iter_t it;
    http_qparam_t kv;
    http_query_iter(&it, q, n);
    while (http_query_next(&it, &kv)) {
        /* Values of s, f, fm and r are plain tokens: an escape there is refused as a bad value. */
        const char *v = kv.val;
        size_t vn = kv.val_len;
        if (http_qparam_key(&kv, "s") || http_qparam_key(&kv, "size")) {
            if (parse_size(v, vn, &p->size) != 0) {
                *reason = "size must be 1 to 2048";
                return -1;
            }
        } else if (http_qparam_key(&kv, "d") || http_qparam_key(&kv, "default")) {
            if (parse_default(v, vn, p, reason) != 0)
                return -1;
        } else if (http_qparam_key(&kv, "f") || http_qparam_key(&kv, "forcedefault")) {
            if (is(v, vn, "y") || is(v, vn, "yes") || is(v, vn, "true") || is(v, vn, "1"))
                p->forcedefault = true;
            else if (is(v, vn, "n") || is(v, vn, "no") || is(v, vn, "false") || is(v, vn, "0"))
                p->forcedefault = false;
            else {
                *reason = "forcedefault must be y or n";
                return -1;
            }
        } else if (http_qparam_key(&kv, "fm")) {
            if (parse_format(v, vn, &p->fm) != 0) {
                *reason = "fm must be jpg, png, webp or avif";
                return -1;
            }
        } else if (http_qparam_key(&kv, "name") || http_qparam_key(&kv, "initials")) {
            ssize_t tn = http_pct_decode(v, vn, p->text, sizeof p->text, true);
            if (tn < 0) {
                *reason = "invalid name= value";
                return -1;
            }
            p->text_len = (size_t)tn;
        }
        /* r/rating: every picture here is rated G, so any rating is met; other parameters
         * (a cache buster, a client's own) are ignored as gravatar.com ignores them. */
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t avatar_hash_parse(const char *seg, size_t n, char out[65])
{
    static const char *const suffixes[] = {".jpg", ".png", ".jpeg", ".gif", ".webp"};
    size_t h = n;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t sl = strlen(suffixes[i]);
        if (n > sl && strncasecmp(seg + n - sl, suffixes[i], sl) == 0) {
            h = n - sl;
            break;
        }
    }
    if (h != 32 && h != 64)
        return 0;
    for (size_t i = 0; i < h; i++) {
        if (hexval(seg[i]) < 0)
            return 0;
        out[i] = (char)(seg[i] | (seg[i] >= 'A' ? 0x20 : 0));
    }
    out[h] = '\0';
    return h;
}

img_format_t avatar_negotiate(const avatar_params_t *p, const char *accept, size_t alen, img_format_t natural,
                              bool avif, bool *vary)
{
    *vary = false;
    if (p->fm != IMG_FMT_UNKNOWN)
        return p->fm;
    *vary = true;
    if (!accept)
        return natural;
    /* Candidates from the smallest files to the largest: a tie goes to the first. */
    img_format_t best = natural;
    int best_q = http_accept_q(accept, alen, img_format_mime(natural), false);
    if (best_q < 0)
        best_q = 0; /* not acceptable at all: still what is sent when nothing else is (no 406) */
    int q;
    if (natural != IMG_FMT_WEBP && (q = http_accept_q(accept, alen, "image/webp", true)) > 0 && q >= best_q) {
        best = IMG_FMT_WEBP;
        best_q = q;
    }
    if (avif && (q = http_accept_q(accept, alen, "image/avif", true)) > 0 && q >= best_q)
        best = IMG_FMT_AVIF;
    return best;
}
