/* hashtab: growing a chained hash table whose entries carry `chain` (the next in the bucket)
 * and `hash` (the full hash; the bucket is its low bits). Shared by the avatar store and the
 * variant cache, whose tables differ only in their entries. */
#ifndef PIXD_CORE_HASHTAB_H
#define PIXD_CORE_HASHTAB_H

#include <stdint.h>
#include <stdlib.h>

/* Doubles the bucket array (a power of two) and rehashes. Out of memory it does nothing: the
 * chains grow longer and everything stays correct. */
#define HASHTAB_GROW(buckets, nbuckets, type)                                                                  \
    do {                                                                                                       \
        uint32_t n2_ = (nbuckets) * 2;                                                                         \
        type **b_ = calloc(n2_, sizeof *b_);                                                                   \
        if (!b_)                                                                                               \
            break;                                                                                             \
        for (uint32_t i_ = 0; i_ < (nbuckets); i_++)                                                           \
            for (type *x_ = (buckets)[i_], *next_; x_; x_ = next_) {                                           \
                next_ = x_->chain;                                                                             \
                x_->chain = b_[x_->hash & (n2_ - 1)];                                                          \
                b_[x_->hash & (n2_ - 1)] = x_;                                                                 \
            }                                                                                                  \
        free(buckets);                                                                                         \
        (buckets) = b_;                                                                                        \
        (nbuckets) = n2_;                                                                                      \
    } while (0)

#endif
