/* io: io_iov_advance, the bookkeeping after a partial writev that pixd's connections and
 * pixload's share: whole buffers skipped, the first one not wholly written trimmed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/io.h"

static char a[] = "head", b[] = "body-bytes", c[] = "tail";

static void reset(struct iovec *iov)
{
    iov[0] = (struct iovec){a, 4};
    iov[1] = (struct iovec){b, 10};
    iov[2] = (struct iovec){c, 4};
}

static void test_advance(void **state)
{
    struct iovec iov[3];
    reset(iov);
    assert_int_equal(io_iov_advance(iov, 0, 3, 0), 0); /* nothing written: nothing moves */
    assert_ptr_equal(iov[0].iov_base, a);
    assert_int_equal(iov[0].iov_len, 4);

    assert_int_equal(io_iov_advance(iov, 0, 3, 2), 0); /* inside the first */
    assert_ptr_equal(iov[0].iov_base, a + 2);
    assert_int_equal(iov[0].iov_len, 2);

    reset(iov);
    assert_int_equal(io_iov_advance(iov, 0, 3, 4), 1); /* exactly the first */
    assert_ptr_equal(iov[1].iov_base, b);
    assert_int_equal(iov[1].iov_len, 10);

    reset(iov);
    assert_int_equal(io_iov_advance(iov, 0, 3, 7), 1); /* across a boundary */
    assert_ptr_equal(iov[1].iov_base, b + 3);
    assert_int_equal(iov[1].iov_len, 7);
    assert_int_equal(io_iov_advance(iov, 1, 3, 8), 2); /* from a later start */
    assert_ptr_equal(iov[2].iov_base, c + 1);
    assert_int_equal(iov[2].iov_len, 3);

    reset(iov);
    assert_int_equal(io_iov_advance(iov, 0, 3, 18), 3); /* everything */
    assert_int_equal(iov[2].iov_len, 4);               /* past the end: nothing trimmed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_advance)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
