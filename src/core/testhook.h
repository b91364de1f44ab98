/*
 * testhook: named points where a test can hold a thread, compiled in only with
 * -DPIXD_TEST_HOOKS=ON (scripts/test.sh's builds); elsewhere TESTHOOK() is nothing.
 *
 * With PIXD_TESTHOOK_DIR set, a thread reaching TESTHOOK("name") while the file
 * <dir>/name.arm exists renames it to <dir>/name.held and waits until that file is removed.
 * The rename is atomic, so one arming holds exactly one thread, once: a test arms, waits for
 * .held to appear, arranges what must happen while the thread stands still (bytes arriving in
 * one epoll batch, jobs queued behind a busy pool), then removes .held.
 */
#ifndef PIXD_CORE_TESTHOOK_H
#define PIXD_CORE_TESTHOOK_H

#ifdef PIXD_TEST_HOOKS
void testhook_point(const char *name);
#define TESTHOOK(name) testhook_point(name)
#else
#define TESTHOOK(name) ((void)0)
#endif

#endif
