#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/base64.h"

#define LIT(s) s, sizeof(s) - 1

static uint32_t rng_state = 0x9E3779B9u;
static uint32_t rng(void) /* xorshift32: reproducible without depending on libc's rand */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Decodes src out of place into an exactly sized heap buffer (so ASan sees any overrun) and
 * in place on a copy; both must agree. Returns the length, the bytes in *out (caller frees). */
static ssize_t decode_both(const char *src, size_t n, uint8_t **out)
{
    size_t max = base64_decoded_max(n);
    uint8_t *dst = malloc(max ? max : 1);
    ssize_t r = base64_decode(dst, src, n);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, src, n);
    ssize_t r2 = base64_decode(copy, copy, n);
    assert_int_equal(r, r2);
    if (r > 0) {
        assert_true((size_t)r <= max);
        assert_memory_equal(dst, copy, (size_t)r);
    }
    free(copy);
    *out = dst;
    return r;
}

static void expect_decode(const char *src, size_t n, const char *want, size_t want_len)
{
    uint8_t *got;
    ssize_t r = decode_both(src, n, &got);
    assert_int_equal(r, (ssize_t)want_len);
    if (want_len) assert_memory_equal(got, want, want_len);
    free(got);
}

static void expect_reject(const char *src, size_t n)
{
    uint8_t *got;
    assert_int_equal(decode_both(src, n, &got), -1);
    free(got);
}

static const struct {
    const char *raw, *enc;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        const char *raw = rfc4648[i].raw, *enc = rfc4648[i].enc;
        char buf[16];
        assert_int_equal(base64_encoded_len(strlen(raw)), strlen(enc));
        assert_int_equal(base64_encode(buf, raw, strlen(raw)), strlen(enc));
        assert_memory_equal(buf, enc, strlen(enc));
        expect_decode(enc, strlen(enc), raw, strlen(raw));
        /* Unpadded form decodes the same. */
        size_t unpadded = strlen(enc);
        while (unpadded && enc[unpadded - 1] == '=')
            unpadded--;
        expect_decode(enc, unpadded, raw, strlen(raw));
    }
}

static void test_lengths(void **state)
{
    assert_int_equal(base64_encoded_len(0), 0);
    char none[1];
    assert_int_equal(base64_encode(none, NULL, 0), 0); /* an empty input may be NULL (UBSan) */
    assert_int_equal(base64_encoded_len(1), 4);
    assert_int_equal(base64_encoded_len(3), 4);
    assert_int_equal(base64_encoded_len(4), 8);
    assert_int_equal(base64_decoded_max(0), 0);
    assert_int_equal(base64_decoded_max(2), 1);
    assert_int_equal(base64_decoded_max(3), 2);
    assert_int_equal(base64_decoded_max(4), 3);
    assert_int_equal(base64_decoded_max(8), 6);
}

static void test_all_byte_values(void **state)
{
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)i;
    char enc[344];
    size_t n = base64_encode(enc, raw, sizeof raw);
    assert_int_equal(n, 344);
    expect_decode(enc, n, (const char *)raw, sizeof raw);
}

/* The encoder (vectorised where the CPU allows) against a bit-at-a-time reference, for every
 * length and alignment around the vector step of 12 bytes in, 16 out. */
static void test_encode_matches_bitwise_reference(void **state)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t raw[600];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)rng();
    char got[820], want[820];
    for (size_t off = 0; off < 4; off++) {
        for (size_t len = 0; len + off <= sizeof raw; len += len < 64 ? 1 : 37) {
            size_t o = 0, bits = 0;
            uint32_t acc = 0;
            for (size_t i = 0; i < len; i++) {
                acc = acc << 8 | raw[off + i];
                for (bits += 8; bits >= 6; bits -= 6)
                    want[o++] = alphabet[acc >> (bits - 6) & 63];
            }
            if (bits) want[o++] = alphabet[acc << (6 - bits) & 63];
            while (o % 4)
                want[o++] = '=';
            memset(got, '#', sizeof got);
            assert_int_equal(base64_encode(got, raw + off, len), o);
            assert_memory_equal(got, want, o);
            assert_int_equal(got[o], '#'); /* nothing written past the end */
        }
    }
}

/* Random round trips of every length 0..1000, plain, in MIME lines (CRLF and LF every 76
 * characters, as base64.encodebytes and MIME mailers produce) and with stray spaces. */
static void test_random_round_trips(void **state)
{
    for (size_t len = 0; len <= 1000; len++) {
        uint8_t raw[1000];
        for (size_t i = 0; i < len; i++)
            raw[i] = (uint8_t)rng();
        size_t elen = base64_encoded_len(len);
        char *enc = malloc(elen + 1);
        assert_int_equal(base64_encode(enc, raw, len), elen);
        expect_decode(enc, elen, (const char *)raw, len);

        char *lines = malloc(elen * 2 + 8);
        for (int variant = 0; variant < 3; variant++) {
            size_t o = 0;
            for (size_t i = 0; i < elen; i++) {
                if (variant < 2 && i && i % 76 == 0) {
                    if (variant == 0) lines[o++] = '\r';
                    lines[o++] = '\n';
                }
                if (variant == 2 && rng() % 7 == 0) lines[o++] = ' ';
                lines[o++] = enc[i];
            }
            if (variant == 1) lines[o++] = '\n'; /* encodebytes ends with one */
            expect_decode(lines, o, (const char *)raw, len);
        }
        free(lines);
        free(enc);
    }
}

/* Long inputs take the vector decoder: a foreign byte, '=' or whitespace at any position of a
 * block must end up exactly where the scalar rules put it. */
static void test_long_input_every_position(void **state)
{
    enum { N = 120 };
    uint8_t raw[N];
    for (size_t i = 0; i < N; i++)
        raw[i] = (uint8_t)rng();
    char enc[base64_encoded_len(N) + 1], alt[sizeof enc + 1];
    size_t elen = base64_encode(enc, raw, N);
    for (size_t pos = 0; pos < elen; pos++) {
        memcpy(alt, enc, elen);
        for (int b = 0; b < 256; b++) { /* every byte outside the alphabet, at every position */
            if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '+' ||
                b == '/' || b == '=' || b == ' ' || b == '\r' || b == '\n')
                continue;
            alt[pos] = (char)b;
            expect_reject(alt, elen);
        }
        if (pos < elen - 4) { /* in the last quad, "xyz=" can be valid padding */
            alt[pos] = '=';
            expect_reject(alt, elen);
        }
        memcpy(alt, enc, pos);
        alt[pos] = pos % 2 ? '\n' : ' ';
        memcpy(alt + pos + 1, enc + pos, elen - pos);
        expect_decode(alt, elen + 1, (const char *)raw, N);
    }
}

static void test_whitespace(void **state)
{
    expect_decode(LIT(" Zm9v YmFy\r\n"), LIT("foobar"));
    expect_decode(LIT("Z\nm\r9\n v"), LIT("foo"));
    expect_decode(LIT("Zm8\r\n=\r\n"), LIT("fo"));
    expect_decode(LIT("Zg=\n="), LIT("f"));
    expect_decode(LIT(" \r\n "), "", 0);
    expect_decode("", 0, "", 0);
}

static void test_in_place_long(void **state)
{
    /* In place with whitespace spread through: writes trail reads by more and more. */
    enum { N = 3000 };
    uint8_t raw[N];
    for (size_t i = 0; i < N; i++)
        raw[i] = (uint8_t)rng();
    char enc[N * 2];
    size_t elen = base64_encode(enc, raw, N);
    char spaced[N * 4];
    size_t o = 0;
    for (size_t i = 0; i < elen; i++) {
        spaced[o++] = enc[i];
        if (i % 5 == 0) spaced[o++] = '\n';
    }
    ssize_t r = base64_decode(spaced, spaced, o);
    assert_int_equal(r, N);
    assert_memory_equal(spaced, raw, N);
}

static void test_reject_foreign_bytes(void **state)
{
    expect_reject(LIT("Zm9-")); /* url-safe alphabet */
    expect_reject(LIT("Zm9_"));
    expect_reject(LIT("Zm9v\tYmFy")); /* tab is not MIME line whitespace */
    expect_reject(LIT("Zm9v\0mFy"));
    expect_reject(LIT("Zm9v\x80mFy"));
    expect_reject(LIT("Zm9v*mFy"));
    expect_reject(LIT("Zm9vYmF.")); /* foreign byte in the tail, off the fast path */
    expect_reject(LIT("\"Zm9v\"")); /* JSON quotes left in */
}

static void test_reject_bad_length(void **state)
{
    expect_reject(LIT("Z")); /* one sextet cannot make a byte */
    expect_reject(LIT("Zm9vY"));
    expect_reject(LIT("Zm9vY\r\n"));
}

static void test_reject_bad_padding(void **state)
{
    expect_reject(LIT("="));
    expect_reject(LIT("===="));
    expect_reject(LIT("Z==="));     /* padding after one sextet */
    expect_reject(LIT("Zg="));      /* one '=' short */
    expect_reject(LIT("Zm8=="));    /* one '=' too many */
    expect_reject(LIT("Zm9v="));    /* padding after a whole quad */
    expect_reject(LIT("Zg=a"));     /* data inside padding */
    expect_reject(LIT("Zg==Zg==")); /* data after padding (concatenated encodings) */
    expect_reject(LIT("Zg==="));
}

static void test_reject_leftover_bits(void **state)
{
    expect_reject(LIT("Zh==")); /* 'h' carries bits past the one byte */
    expect_reject(LIT("Zh"));
    expect_reject(LIT("Zm9=")); /* '9' carries bits past the two bytes */
    expect_reject(LIT("Zm9"));
    expect_decode(LIT("Zm8"), LIT("fo"));
}

static void test_decode_never_overreads(void **state)
{
    /* Exactly sized input buffers: ASan flags a read past n. Every prefix of an encoding. */
    const char full[] = "Zm9vYmFyIGJheg==";
    for (size_t n = 0; n <= sizeof full - 1; n++) {
        char *in = malloc(n ? n : 1);
        memcpy(in, full, n);
        uint8_t out[16];
        (void)base64_decode(out, in, n);
        free(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_all_byte_values),
        cmocka_unit_test(test_encode_matches_bitwise_reference),
        cmocka_unit_test(test_random_round_trips),
        cmocka_unit_test(test_long_input_every_position),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_in_place_long),
        cmocka_unit_test(test_reject_foreign_bytes),
        cmocka_unit_test(test_reject_bad_length),
        cmocka_unit_test(test_reject_bad_padding),
        cmocka_unit_test(test_reject_leftover_bits),
        cmocka_unit_test(test_decode_never_overreads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
