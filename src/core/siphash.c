#include "core/siphash.h"

#include <errno.h>
#include <sys/random.h>

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t load64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define SIPROUND                                                                                          \
    do {                                                                                                  \
        v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);                                         \
        v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;                                                            \
        v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;                                                            \
        v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);                                         \
    } while (0)

uint64_t siphash24(const siphash_key_t *k, const void *data, size_t n)
{
    const uint8_t *p = data, *end = p + (n & ~(size_t)7);
    uint64_t v0 = k->k0 ^ 0x736f6d6570736575ull, v1 = k->k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k->k0 ^ 0x6c7967656e657261ull, v3 = k->k1 ^ 0x7465646279746573ull;
    for (; p < end; p += 8) {
        uint64_t m = load64le(p);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    /* The last block: the 0..7 remaining bytes, and the length's low byte on top. */
    uint64_t b = (uint64_t)n << 56;
    for (size_t i = 0; i < (n & 7); i++)
        b |= (uint64_t)p[i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

void siphash_key_from_bytes(siphash_key_t *k, const uint8_t bytes[16])
{
    k->k0 = load64le(bytes);
    k->k1 = load64le(bytes + 8);
}

int siphash_key_random(siphash_key_t *k)
{
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        got += (size_t)r;
    }
    siphash_key_from_bytes(k, b);
    return 0;
}
