/* buf: growth stops at the caller's limit; consumed bytes are reused; buf_shrink gives back what
 * a large request grew, keeping the bytes still held; the pool hands back what it was given,
 * keeps only buffers of its size and at most BUF_POOL_SLOTS of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"

static void test_reserve_limit(void **state)
{
    buf_t b = {0};
    assert_int_equal(buf_reserve(&b, 100, 4096), 4096);
    assert_true(buf_reserve(&b, 10000, 8192) <= 8192);
    assert_int_equal(b.cap, 8192);
    assert_int_equal(buf_reserve(&b, 10000, 8192), 8192); /* at the limit: what there is */
    buf_free(&b);
}

static void test_shrink(void **state)
{
    buf_t b = {0};
    assert_true(buf_reserve(&b, 1 << 20, 1 << 21) >= 1 << 20);
    memset(b.data, 'x', 1 << 20);
    b.len = 1 << 20;
    memcpy(b.data + b.len - 5, "tail!", 5);
    buf_consume(&b, (1 << 20) - 5); /* a large body answered; 5 bytes of the next request */
    assert_int_equal(buf_shrink(&b, 32768), 0);
    assert_int_equal(b.cap, 32768);
    assert_int_equal(buf_size(&b), 5);
    assert_memory_equal(buf_start(&b), "tail!", 5);
    assert_int_equal(buf_shrink(&b, 65536), 0); /* never grows */
    assert_int_equal(b.cap, 32768);
    /* more held than keep: keeps exactly what is held */
    assert_true(buf_reserve(&b, 100000, 1 << 20) >= 100000);
    memset(b.data + b.len, 'y', 100000);
    b.len += 100000;
    assert_int_equal(buf_shrink(&b, 4096), 0);
    assert_int_equal(b.cap, 100005);
    assert_memory_equal(buf_start(&b), "tail!", 5);
    buf_free(&b);
}

static void test_pool(void **state)
{
    buf_pool_t p = {.size = 16384};
    buf_t b = {0};
    buf_pool_take(&p, &b); /* empty pool: b stays without memory, buf_reserve allocates */
    assert_null(b.data);
    assert_int_equal(buf_reserve(&b, 16384, 16384), 16384);
    char *mem = b.data;
    buf_pool_give(&p, &b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    assert_int_equal(p.n, 1);
    buf_pool_take(&p, &b);
    assert_ptr_equal(b.data, mem);
    assert_int_equal(b.cap, 16384);
    assert_int_equal(buf_size(&b), 0);
    assert_int_equal(p.n, 0);

    /* grown past the size (a body): freed, not kept */
    assert_true(buf_reserve(&b, 40000, 1 << 20) >= 40000);
    buf_pool_give(&p, &b);
    assert_int_equal(p.n, 0);
    assert_null(b.data);

    /* full: the rest are freed (the leak check of the sanitizer build sees any kept) */
    for (int i = 0; i < BUF_POOL_SLOTS + 5; i++) {
        buf_t x = {0};
        assert_int_equal(buf_reserve(&x, 16384, 16384), 16384);
        buf_pool_give(&p, &x);
    }
    assert_int_equal(p.n, BUF_POOL_SLOTS);
    buf_pool_free(&p);
    assert_int_equal(p.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_limit),
        cmocka_unit_test(test_shrink),
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
