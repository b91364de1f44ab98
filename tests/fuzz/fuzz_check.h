/* fuzz_check: CHECK(cond), a contract a fuzz target enforces: on failure it names the check and
 * aborts, which libFuzzer reports as a crash with the input that broke it. */
#ifndef PIXD_FUZZ_CHECK_H
#define PIXD_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
