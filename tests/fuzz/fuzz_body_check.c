/* check (pixload --check-body/--check-field): input = expected bytes, a NUL, an answer. The
 * answer is judged whole and in pieces (the same verdict), a field comparison never reads
 * outside the answer (ASan), and the canonical answer for the expected bytes,
 * {"encoded_img": "<base64>"}, always matches. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "http/base64.h"
#include "load/check.h"

static bool in_pieces(const check_t *ck, const uint8_t *p, size_t n)
{
    check_run_t r = {0};
    check_begin(&r, ck);
    for (size_t i = 0; i < n; i += 7)
        check_feed(&r, ck, p + i, n - i < 7 ? n - i : 7);
    bool ok = check_end(&r, ck);
    check_run_free(&r);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t elen = nul ? (size_t)(nul - data) : size;
    const uint8_t *ans = nul ? nul + 1 : data + size;
    size_t alen = size - elen - (nul ? 1 : 0);
    uint8_t *copy = malloc(alen ? alen : 1); /* exactly sized: ASan sees any over-read */
    memcpy(copy, ans, alen);

    check_t body, field;
    CHECK(check_expect_bytes(&body, data, elen, NULL) == 0);
    CHECK(check_expect_bytes(&field, data, elen, "encoded_img") == 0);
    CHECK(check_body(&body, copy, alen) == in_pieces(&body, copy, alen));
    CHECK(check_body(&body, copy, alen) == (alen == elen && memcmp(copy, data, elen) == 0));
    CHECK(check_body(&field, copy, alen) == in_pieces(&field, copy, alen));

    static const char pre[] = "{\"encoded_img\": \"", post[] = "\"}";
    size_t clen = sizeof pre - 1 + base64_encoded_len(elen) + sizeof post - 1;
    char *canon = malloc(clen);
    memcpy(canon, pre, sizeof pre - 1);
    size_t k = sizeof pre - 1 + base64_encode(canon + sizeof pre - 1, data, elen);
    memcpy(canon + k, post, sizeof post - 1);
    CHECK(check_body(&field, canon, clen));
    free(canon);
    free(copy);
    return 0;
}
