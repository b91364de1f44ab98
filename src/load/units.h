/*
 * units: the numbers pixload's options and files are written in: durations ("30s", "2m"), sizes
 * ("512M") and rates or counts with k/M suffixes ("2k"). Pure functions, no allocation.
 */
#ifndef PIXD_LOAD_UNITS_H
#define PIXD_LOAD_UNITS_H

#include <stdint.h>

#define LOAD_MAX_NUMBER 1e9 /* rates and counts read by load_parse_number */

/* Parses a duration ("500ms", "30s", "2m", "1h", "1.5s"; a bare number is seconds) into
 * milliseconds. Returns 0, or -1 when malformed, zero or above 1000 hours. */
int load_parse_duration_ms(const char *s, uint64_t *ms);

/* Parses a size in bytes ("512M", "64k", "1G", "1000"; k, M, G are powers of 1024). Returns 0,
 * or -1 when malformed or zero. */
int load_parse_size(const char *s, uint64_t *bytes);

/* Reads a non-negative number (decimals allowed) with an optional k (10^3) or M (10^6) suffix
 * at the start of s, at most LOAD_MAX_NUMBER; *end is set past it. Returns 0, or -1 when s
 * does not start with one. */
int load_parse_number(const char *s, const char **end, double *out);

#endif
