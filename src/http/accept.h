/*
 * accept: how much an Accept header value (RFC 9110 §12.5.1) wants one media type, so the
 * avatar service can pick an output format. (Wildcards are written "type/\*" and "*\/\*"
 * below: a C comment cannot hold them as they are.)
 *
 * One pass over the value, linear in its length, no allocation, no NUL needed. Parsing
 * follows the RFC's grammar, leniently where clients are sloppy:
 *   - elements are split on ',' (empty ones skipped); each is a media range ("type/subtype",
 *     "type/\*" or "*\/\*"; tokens, compared case-insensitively) then ';'-separated
 *     parameters (empty ones, as in "a/b;;;", allowed); spaces and tabs are allowed around
 *     ',', ';' and '=';
 *   - parameter values are tokens or quoted strings (a ',' or ';' inside quotes is data); an
 *     unterminated quoted string runs to the end of the value;
 *   - the weight is the parameter "q" (any case), wherever it stands among the parameters:
 *     "0" or "1", optionally followed by '.' and at most 3 digits, never above 1
 *     (RFC 9110 §12.4.2); no weight means 1;
 *   - an element that breaks these rules ("*\/html", "q=abc", "q=.5", "q=1.5", two weights,
 *     a NUL or control byte, a quote inside a token) is ignored, from where it breaks up to
 *     the next ',' (quotes no longer counted), and the rest of the value still counts.
 * Parameters other than q are ignored for matching: "text/html;level=1" is a text/html range.
 */
#ifndef PIXD_HTTP_ACCEPT_H
#define PIXD_HTTP_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>

/* The weight, in thousandths (0..1000), that the Accept value v[0..n) gives `type`, a
 * NUL-terminated concrete "type/subtype" such as "image/webp"; or -1 when no range matches
 * it (always so for an empty value: what an absent header means is the caller's call).
 * The most specific matching range decides: type/subtype, then type/\*, then *\/\*; among
 * equally specific ones ("image/webp;q=0, image/webp"), the highest weight, since ranges
 * that differ only by ignored parameters are not really about the same representation.
 * With explicit_only, wildcard ranges are not looked at: the type must be named, as
 * imgproxy requires before it answers WebP or AVIF (a "*\/\*" says nothing about support).
 * 0 means "not acceptable"; it differs from -1 when the caller would otherwise use the type
 * as its default. */
int http_accept_q(const char *v, size_t n, const char *type, bool explicit_only);

#endif
