/* libFuzzer target: the chunked body decoder alone, on arbitrary bytes (the head targets
 * reach it only behind a valid chunked head). The checks are in http_fuzz.h. */
#include <stdint.h>

#include "http_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_check_chunked((const char *)data, size);
    return 0;
}
