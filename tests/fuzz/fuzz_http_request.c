/* libFuzzer target: an HTTP request head, then, for a complete chunked request, the body
 * after it. The checks are in http_fuzz.h. */
#include <stdint.h>

#include "http_fuzz.h"

static int parse(const char *buf, size_t len, http_err_t *err)
{
    http_request_t req;
    int r = http_parse_request(buf, len, &req);
    *err = req.h.error;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    http_request_t req;
    int r = http_parse_request(buf, size, &req);
    fuzz_check_head(r, &req.h, buf, size);
    if (r > 0) {
        fuzz_check_in(req.method_str, req.method_len, buf, (size_t)r);
        fuzz_check_in(req.target, req.target_len, buf, (size_t)r);
        CHECK(req.method_len > 0 && req.target_len > 0);
        CHECK(req.path == req.target && req.path_len <= req.target_len);
        if (req.query)
            CHECK(req.query == req.target + req.path_len + 1 &&
                  req.path_len + 1 + req.query_len == req.target_len);
        else
            CHECK(req.path_len == req.target_len);
        /* the rules the server relies on to frame the body and route the request */
        CHECK(!req.h.chunked || req.h.minor_version == 1);
        CHECK(req.h.minor_version == 0 || http_find_header(&req.h, "Host", 4));
        CHECK(!req.expect_continue || req.h.minor_version == 1);
        if (req.h.chunked)
            fuzz_check_chunked(buf + r, size - (size_t)r);
    }
    free(buf);
    fuzz_check_prefixes(parse, (const char *)data, size);
    return 0;
}
