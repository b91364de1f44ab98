/*
 * bench_parser: how long the shared HTTP parser takes per request head, for the heads our
 * load generators send (picohttpparser's bench.c, with real requests).
 *
 *   bench_parser [iterations [ab|browser|wrk]]     default: 1000000 of each
 *
 * Prints the best of 5 rounds in ns/parse (the machine is shared: the minimum is the least
 * disturbed round). For a number that does not depend on the neighbours, count instructions:
 *   valgrind --tool=callgrind --toggle-collect=http_parse_request bench_parser 10000 ab
 * and divide the total Ir by the iterations (10000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/parser.h"

static const struct {
    const char *name, *head;
} requests[] = {
    {"ab", "GET /avatar/1 HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: 127.0.0.1:8080\r\n"
           "User-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"},
    {"browser", "GET /avatar/1?s=128 HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive\r\n"
                "sec-ch-ua: \"Chromium\";v=\"120\", \"Not?A_Brand\";v=\"8\"\r\nsec-ch-ua-mobile: ?0\r\n"
                "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/120.0.0.0 Safari/537.36\r\nsec-ch-ua-platform: \"Linux\"\r\n"
                "Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8\r\n"
                "Sec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: image\r\n"
                "Referer: http://localhost:8080/\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n"},
    {"wrk", "GET /avatar/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
};

#define ROUNDS 5

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    const char *only = argc > 2 ? argv[2] : NULL;
    if (iterations <= 0) {
        fprintf(stderr, "usage: %s [iterations [ab|browser|wrk]]\n", argv[0]);
        return 2;
    }
    int ran = 0;
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        if (only && strcmp(only, requests[i].name) != 0)
            continue;
        const char *head = requests[i].head;
        size_t len = strlen(head);
        http_request_t req;
        double best = 0;
        /* the rounds after the first would only measure the instructions again under callgrind */
        int rounds = only ? 1 : ROUNDS;
        for (int round = 0; round < rounds; round++) {
            double t0 = now_ns();
            for (long n = 0; n < iterations; n++) {
                if (http_parse_request(head, len, &req) != (int)len) {
                    fprintf(stderr, "%s: parse failed: %s\n", requests[i].name, http_err_reason(req.h.error));
                    return 1;
                }
            }
            double ns = (now_ns() - t0) / (double)iterations;
            if (round == 0 || ns < best)
                best = ns;
        }
        printf("%-8s %4zu bytes %3zu headers %8.1f ns/parse %7.2f GB/s\n", requests[i].name, len,
               req.h.num_headers, best, (double)len / best);
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "unknown request '%s' (ab, browser, wrk)\n", only);
        return 2;
    }
    return 0;
}
