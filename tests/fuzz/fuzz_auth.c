/* libFuzzer target: the upload credentials on arbitrary bytes. The input is split at its first
 * '\n': before it an Authorization value for auth_bearer_ok, after it a query string for
 * auth_check_signed (PUT, uid "alice"). Keys and tokens come from files written once. Checked
 * beyond the sanitizers: only the token itself passes as a bearer; a query the fuzzer signed
 * itself (auth_sign) checks as OK or EXPIRED, and one changed byte of its signature never OK. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "server/auth.h"

#define TOKEN "fuzz-token-0123456789abcdef"
#define NOW 1800000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static auth_t *load(void)
{
    char tok[] = "/tmp/pixd-fuzz-tokXXXXXX", key[] = "/tmp/pixd-fuzz-keyXXXXXX";
    int t = mkstemp(tok), k = mkstemp(key);
    CHECK(t >= 0 && k >= 0);
    CHECK(write(t, TOKEN "\n", sizeof TOKEN) == (ssize_t)sizeof TOKEN);
    static const char keys[] = "fuzz-key-new-0123456789\nfuzz-key-old-0123456789\n";
    CHECK(write(k, keys, sizeof keys - 1) == (ssize_t)sizeof keys - 1);
    close(t);
    close(k);
    char err[256];
    auth_t *a = auth_load(tok, key, err, sizeof err);
    unlink(tok);
    unlink(key);
    CHECK(a != NULL);
    return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static auth_t *a;
    if (!a)
        a = load();
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hn = nl ? (size_t)(nl - data) : size, qn = nl ? size - hn - 1 : 0;
    char *h = malloc(hn + 1), *q = malloc(qn + 80);
    memcpy(h, data, hn);
    if (qn)
        memcpy(q, nl + 1, qn);
    bool ok = auth_bearer_ok(a, h, hn);
    size_t ws = 0; /* a header value's leading whitespace is not part of it */
    while (ws < hn && (h[ws] == ' ' || h[ws] == '\t'))
        ws++;
    CHECK(!ok || (hn - ws > 6 && strncasecmp(h + ws, "bearer", 6) == 0 && memmem(h, hn, TOKEN, sizeof TOKEN - 1)));
    auth_status_t st = auth_check_signed(a, "PUT", "alice", 5, q, qn, NOW);
    CHECK(st == AUTH_OK || st == AUTH_MISSING || st == AUTH_EXPIRED || st == AUTH_BAD);
    char sig[AUTH_SIG_HEX + 1];
    if (auth_sign(a, "PUT", "alice", 5, q, qn, sig) == 0) {
        size_t n = qn;
        n += (size_t)snprintf(q + n, 80, "%ssig=%s", qn ? "&" : "", sig);
        auth_status_t s2 = auth_check_signed(a, "PUT", "alice", 5, q, n, NOW);
        CHECK(s2 == AUTH_OK || s2 == AUTH_EXPIRED);
        q[n - 1] = q[n - 1] == '0' ? '1' : '0';
        CHECK(auth_check_signed(a, "PUT", "alice", 5, q, n, NOW) != AUTH_OK);
        CHECK(auth_check_signed(a, "DELETE", "alice", 5, q, n, NOW) != AUTH_OK);
    }
    free(h);
    free(q);
    return 0;
}
