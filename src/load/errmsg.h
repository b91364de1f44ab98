/*
 * errmsg: pixload's modules report a failure as a status plus one line in the caller's
 * buffer (never by printing or exiting), so main decides how to show it and tests can read it.
 */
#ifndef PIXD_LOAD_ERRMSG_H
#define PIXD_LOAD_ERRMSG_H

#include <stddef.h>

/* Formats the message into err[0..errlen) (truncated to fit) and returns -1, so that
 * `return errmsg_set(err, errlen, "...", ...);` ends a failing function. */
int errmsg_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
