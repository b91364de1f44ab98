#include "http/accept.h"

#include <string.h>

/* tchar (RFC 9110 §5.6.2). */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void skip_ows(const char *v, size_t n, size_t *i)
{
    while (*i < n && (v[*i] == ' ' || v[*i] == '\t'))
        (*i)++;
}

static size_t token_len(const char *v, size_t n, size_t i)
{
    size_t start = i;
    while (i < n && is_tchar((unsigned char)v[i]))
        i++;
    return i - start;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

static bool ieq(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn) return false;
    for (size_t i = 0; i < an; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return false;
    return true;
}

/* quoted-string (RFC 9110 §5.6.4) starting at the '"' at v[*i]; leaves *i after the closing
 * quote. On failure *i is where it broke (n when the quote is never closed). */
static bool skip_quoted(const char *v, size_t n, size_t *i)
{
    for ((*i)++; *i < n; (*i)++) {
        unsigned char c = (unsigned char)v[*i];
        if (c == '"') {
            (*i)++;
            return true;
        }
        if (c == '\\') {
            if (*i + 1 == n) break;
            c = (unsigned char)v[++*i];
        }
        /* qdtext and quoted-pair both allow HTAB, SP, VCHAR and obs-text; only the
         * quoted-pair may hold '"' and '\\', which the escape branch has consumed. */
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    *i = n;
    return false;
}

/* qvalue (RFC 9110 §12.4.2) in thousandths; leaves *i after it. */
static bool parse_qvalue(const char *v, size_t n, size_t *i, int *q)
{
    if (*i == n || (v[*i] != '0' && v[*i] != '1')) return false;
    int whole = v[(*i)++] - '0', frac = 0, digits = 0;
    if (*i < n && v[*i] == '.') {
        (*i)++;
        for (; digits < 3 && *i < n && v[*i] >= '0' && v[*i] <= '9'; digits++)
            frac = frac * 10 + (v[(*i)++] - '0');
    }
    for (; digits < 3; digits++)
        frac *= 10;
    if (whole == 1 && frac != 0) return false;
    *q = whole * 1000 + frac;
    return true;
}

typedef struct {
    const char *type, *sub;
    size_t type_len, sub_len;
    int q;
} range_t;

typedef enum { ELEM_EMPTY, ELEM_OK, ELEM_BAD } elem_t;

/* One list element from v[*i]; leaves *i at the ',' that ends it, at n, or (ELEM_BAD) where
 * it broke. */
static elem_t parse_element(const char *v, size_t n, size_t *i, range_t *r)
{
    skip_ows(v, n, i);
    if (*i == n || v[*i] == ',') return ELEM_EMPTY;

    r->type = v + *i;
    r->type_len = token_len(v, n, *i);
    *i += r->type_len;
    if (r->type_len == 0 || *i == n || v[*i] != '/') return ELEM_BAD;
    (*i)++;
    r->sub = v + *i;
    r->sub_len = token_len(v, n, *i);
    *i += r->sub_len;
    if (r->sub_len == 0) return ELEM_BAD;
    if (ieq(r->type, r->type_len, "*", 1) && !ieq(r->sub, r->sub_len, "*", 1)) return ELEM_BAD;

    r->q = 1000;
    bool weighted = false;
    for (;;) {
        skip_ows(v, n, i);
        if (*i == n || v[*i] == ',') return ELEM_OK;
        if (v[*i] != ';') return ELEM_BAD;
        (*i)++;
        skip_ows(v, n, i);
        if (*i == n || v[*i] == ',' || v[*i] == ';') continue;

        size_t name = *i, name_len = token_len(v, n, *i);
        *i += name_len;
        skip_ows(v, n, i);
        if (name_len == 0 || *i == n || v[*i] != '=') return ELEM_BAD;
        (*i)++;
        skip_ows(v, n, i);
        if (ieq(v + name, name_len, "q", 1)) {
            if (weighted || !parse_qvalue(v, n, i, &r->q)) return ELEM_BAD;
            weighted = true;
        } else if (*i < n && v[*i] == '"') {
            if (!skip_quoted(v, n, i)) return ELEM_BAD;
        } else {
            size_t len = token_len(v, n, *i);
            if (len == 0) return ELEM_BAD;
            *i += len;
        }
    }
}

int http_accept_q(const char *v, size_t n, const char *type, bool explicit_only)
{
    const char *slash = strchr(type, '/');
    if (!slash) return -1;
    size_t type_len = (size_t)(slash - type), sub_len = strlen(slash + 1);

    int best = -1, best_rank = 0; /* rank: 3 type/subtype, 2 type/\*, 1 *\/\* */
    size_t i = 0;
    while (i < n) {
        range_t r;
        elem_t e = parse_element(v, n, &i, &r);
        if (e == ELEM_BAD) {
            const char *comma = memchr(v + i, ',', n - i);
            i = comma ? (size_t)(comma - v) : n;
        } else if (e == ELEM_OK) {
            int rank = 0;
            bool any_sub = ieq(r.sub, r.sub_len, "*", 1);
            if (ieq(r.type, r.type_len, "*", 1))
                rank = 1;
            else if (ieq(r.type, r.type_len, type, type_len))
                rank = any_sub ? 2 : ieq(r.sub, r.sub_len, slash + 1, sub_len) ? 3 : 0;
            if (explicit_only && rank < 3) rank = 0;
            if (rank > best_rank || (rank == best_rank && rank > 0 && r.q > best)) {
                best_rank = rank;
                best = r.q;
            }
        }
        i++; /* past the ',' (or past n, which ends the loop) */
    }
    return best;
}
