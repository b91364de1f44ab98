/* status: every status pixd sends has its reason phrase (RFC 9110), none reads "Unknown". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http/status.h"

static void test_every_status_sent_has_a_phrase(void **state)
{
    static const int sent[] = {100, 200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 405, 408, 413,
                               415, 417, 422, 429, 431, 500, 501, 502, 503, 504, 505};
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++)
        assert_string_not_equal(http_status_text(sent[i]), "Unknown");
    assert_string_equal(http_status_text(201), "Created");
    assert_string_equal(http_status_text(401), "Unauthorized");
    assert_string_equal(http_status_text(429), "Too Many Requests");
    assert_string_equal(http_status_text(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_status_sent_has_a_phrase)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
