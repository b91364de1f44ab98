/* libFuzzer target: an HTTP response head (what pixload parses), then, for a complete
 * chunked response, the body after it. The checks are in http_fuzz.h. */
#include <stdint.h>

#include "http_fuzz.h"

static int parse(const char *buf, size_t len, http_err_t *err)
{
    http_response_t resp;
    int r = http_parse_response(buf, len, &resp);
    *err = resp.h.error;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    http_response_t resp;
    int r = http_parse_response(buf, size, &resp);
    fuzz_check_head(r, &resp.h, buf, size);
    if (r > 0) {
        CHECK(resp.status >= 100 && resp.status <= 999);
        fuzz_check_in(resp.reason, resp.reason_len, buf, (size_t)r);
        if (resp.h.chunked)
            fuzz_check_chunked(buf + r, size - (size_t)r);
    }
    free(buf);
    fuzz_check_prefixes(parse, (const char *)data, size);
    return 0;
}
