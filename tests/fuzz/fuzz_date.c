/* http_date_parse on arbitrary bytes and http_date_format on times drawn from them, with
 * date.h's contract checked beyond what the sanitizers see:
 *   - an exactly sized copy, so ASan catches any read past n; only HTTP_DATE_LEN bytes can
 *     parse, and the result lies between 1970 and the end of 9999 (4-digit years);
 *   - parse → format → parse gives the same time, and a date that names a real day and a
 *     second below 60 formats back to its own bytes (all but the day name, which the parser
 *     does not check): the parser reads what the formatter writes;
 *   - format → parse is the identity on every second from 1970 to 9999, and the output is
 *     exactly HTTP_DATE_LEN printable bytes and a NUL (checked against gmtime_r too).
 * Accepted leniencies, as the parser has them: any three bytes as the day name, day 29..31
 * in any month and second 60, each counted forward (31 Feb = 3 Mar, 23:59:60 = next 00:00:00).
 * Failures abort(), so the plain replay build fails too. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/date.h"
#include "fuzz_check.h"


#define T_MAX INT64_C(253402300799) /* 9999-12-31 23:59:59 */

static int num(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

static int month_days(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d[m - 1] + (m == 2 && leap);
}

/* Formats t and checks the output's shape and fields against gmtime_r. */
static void format_checked(int64_t t, char out[HTTP_DATE_LEN + 1])
{
    memset(out, 'Z', HTTP_DATE_LEN + 1);
    http_date_format(t, out);
    CHECK(out[HTTP_DATE_LEN] == '\0' && strlen(out) == HTTP_DATE_LEN);
    for (int i = 0; i < HTTP_DATE_LEN; i++)
        CHECK(out[i] >= 0x20 && out[i] < 0x7f);
    time_t tt = (time_t)t;
    struct tm tm;
    CHECK(gmtime_r(&tt, &tm) != NULL);
    char want[64];
    CHECK(strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm) == HTTP_DATE_LEN); /* C locale */
    CHECK(memcmp(out, want, HTTP_DATE_LEN) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    int64_t t = -1;
    int r = http_date_parse(s, size, &t);
    CHECK(r == 0 || r == -1);
    if (r == 0) {
        CHECK(size == HTTP_DATE_LEN);
        CHECK(t >= 0 && t <= T_MAX + 1); /* + 1: 9999-12-31 23:59:60 */
        char out[HTTP_DATE_LEN + 1] = "";
        int64_t t2 = -1;
        if (t <= T_MAX) {
            format_checked(t, out);
            CHECK(http_date_parse(out, HTTP_DATE_LEN, &t2) == 0 && t2 == t);
        }
        static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        int mon = 0;
        while (mon < 12 && memcmp(months + 3 * mon, s + 8, 3) != 0)
            mon++;
        CHECK(mon < 12);
        int year = num(s + 12, 4), day = num(s + 5, 2), sec = num(s + 23, 2);
        if (day <= month_days(year, mon + 1) && sec < 60)
            CHECK(t <= T_MAX && memcmp(out + 3, s + 3, HTTP_DATE_LEN - 3) == 0);
    }
    free(s);

    /* Any second from 1970 to 9999, from the input's first bytes. */
    if (size >= sizeof(uint64_t)) {
        uint64_t v;
        memcpy(&v, data, sizeof v);
        int64_t when = (int64_t)(v % (uint64_t)(T_MAX + 1)), back = -1;
        char out[HTTP_DATE_LEN + 1];
        format_checked(when, out);
        CHECK(http_date_parse(out, HTTP_DATE_LEN, &back) == 0 && back == when);
    }
    return 0;
}
