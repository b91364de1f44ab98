/*
 * durable: files that are never lost or half-written. A stored file is written to a temporary
 * name in its folder, fsync'd, renamed over its name, and the folder fsync'd: after a crash
 * the name holds the old bytes or the new ones, never a mix, and once a call returns 0 the
 * change survives a power cut.
 *
 * dirfd is the folder, opened O_RDONLY|O_DIRECTORY (an O_PATH descriptor cannot be fsync'd);
 * the caller owns it. name is one path component (no '/') of at most DURABLE_NAME_MAX bytes.
 * Every function returns a negative errno on failure and never aborts.
 *
 * Temporary names are ".tmp-<name>-XXXXXXXXXXXX" (12 random letters and digits): a dot-name
 * is never a valid uid nor an avatar file name, so readers of the folder never take one for
 * a stored file. durable_clean_temps() removes those an interrupted write left behind.
 *
 * Symlinks: the temporary file is created O_EXCL|O_NOFOLLOW, and rename replaces a symlink
 * at `name` by the new file; nothing is ever written through a link.
 */
#ifndef PIXD_CORE_DURABLE_H
#define PIXD_CORE_DURABLE_H

#include <stddef.h>
#include <sys/types.h>

/* NAME_MAX less the temporary name's ".tmp-" and "-XXXXXXXXXXXX". */
#define DURABLE_NAME_MAX 237

/* Replaces name by len bytes of data with permissions exactly `mode` (not filtered by the
 * umask): temp file, every byte written, fsync, rename over name, fsync of the folder. 0, or
 * -errno with the temporary file removed and name untouched. One exception: when only the
 * last step (the folder's fsync) fails, name already holds the new bytes, durable or not. */
int durable_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* 1 when name was removed (and the folder fsync'd), 0 when there was no such name (nothing
 * changed, no fsync), -errno otherwise. Lets DELETE tell "gone" from "never there". */
int durable_unlink(int dirfd, const char *name);

/*
 * Batches: the _batch variants do all of the above except the folder's fsync, which the caller
 * does once with durable_sync_dir() after the last change, before saying anything is stored.
 * An upload that stores alice.jpg over an old alice.png:
 *
 *     durable_replace_batch(d, "alice.jpg", ...);  first: the new file is in place...
 *     durable_unlink_batch(d, "alice.png");        ...before the old one goes
 *     durable_sync_dir(d);                         one folder fsync for both, then answer
 *
 * Readers of the folder then always find a file. Until durable_sync_dir() returns, a crash may
 * undo any suffix of the batch: ext4, xfs and btrfs commit a folder's changes to their journal
 * in the order they were made, so the new file never vanishes while the old one stays gone.
 * POSIX itself does not promise that; a caller that must not rely on it syncs between steps.
 */
int durable_replace_batch(int dirfd, const char *name, const void *data, size_t len, mode_t mode);
int durable_unlink_batch(int dirfd, const char *name);
/* fsync of the folder. 0 or -errno. */
int durable_sync_dir(int dirfd);

/* Removes the temporary files that interrupted writes left (names of the form above, regular
 * files only; nothing else is touched), then fsyncs the folder if any went. Call at start,
 * before any writer runs: a write in progress would lose its temporary file. The number
 * removed, or -errno. */
int durable_clean_temps(int dirfd);

#endif
