/* base64: decode(encode(x)) == x; decoding arbitrary input agrees with a slow reference
 * decoder (accept/reject and bytes), in place and out of place, and never touches memory
 * outside the exactly sized buffers (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/base64.h"

#define CHECK(x)                                                                                             \
    do {                                                                                                     \
        if (!(x)) abort();                                                                                   \
    } while (0)

static int sextet(uint8_t c)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? memchr(alphabet, c, 64) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

/* The rules of base64.h, spelled out the slow way: drop whitespace, split off the padding,
 * check lengths, decode bit by bit, require zero leftover bits. */
static ssize_t ref_decode(uint8_t *out, const uint8_t *in, size_t n)
{
    uint8_t *s = malloc(n ? n : 1);
    size_t m = 0, pads = 0;
    ssize_t ret = -1;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\r' || in[i] == '\n' || in[i] == ' ') continue;
        if (in[i] == '=')
            pads++;
        else if (pads || sextet(in[i]) < 0)
            goto out; /* data after '=', or a foreign byte */
        s[m++] = in[i];
    }
    size_t d = m - pads;
    if (d % 4 == 1 || (pads && (m % 4 != 0 || d % 4 == 0 || pads != 4 - d % 4))) goto out;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < d; i++) {
        acc = acc << 6 | (uint32_t)sextet(s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) goto out;
    ret = (ssize_t)o;
out:
    free(s);
    return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Round trip. */
    size_t elen = base64_encoded_len(size);
    char *enc = malloc(elen ? elen : 1);
    CHECK(base64_encode(enc, data, size) == elen);
    for (size_t i = 0; i < elen; i++)
        CHECK(sextet((uint8_t)enc[i]) >= 0 || (enc[i] == '=' && i + 2 >= elen));
    uint8_t *dec = malloc(base64_decoded_max(elen) + 1);
    CHECK(base64_decode(dec, enc, elen) == (ssize_t)size);
    CHECK(size == 0 || memcmp(dec, data, size) == 0);
    free(dec);
    free(enc);

    /* Arbitrary input: exactly sized copies so any overread or overwrite is caught. */
    size_t max = base64_decoded_max(size);
    char *in = malloc(size ? size : 1);
    memcpy(in, data, size);
    uint8_t *out = malloc(max ? max : 1), *ref = malloc(size ? size : 1);
    ssize_t got = base64_decode(out, in, size);
    ssize_t want = ref_decode(ref, data, size);
    CHECK(got == want);
    CHECK(got < 0 || (size_t)got <= max);
    CHECK(got <= 0 || memcmp(out, ref, (size_t)got) == 0);
    CHECK(base64_decode(in, in, size) == got);
    CHECK(got <= 0 || memcmp(in, ref, (size_t)got) == 0);
    free(in);
    free(out);
    free(ref);
    return 0;
}
