/*
 * siphash: SipHash-2-4 (Aumasson and Bernstein, 2012), a keyed 64-bit hash for hash tables whose
 * keys come from the network. Without the key nobody can choose keys that collide, so a peer
 * cannot turn a table into one long chain (hash flooding). Not a MAC for long-lived secrets.
 */
#ifndef PIXD_CORE_SIPHASH_H
#define PIXD_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t k0, k1;
} siphash_key_t;

/* A fresh secret key from getrandom(). 0 or -errno (at startup: an error at startup). */
int siphash_key_random(siphash_key_t *k);
/* The key from 16 bytes read little-endian, the paper's convention (for test vectors). */
void siphash_key_from_bytes(siphash_key_t *k, const uint8_t bytes[16]);
uint64_t siphash24(const siphash_key_t *k, const void *data, size_t n);

#endif
