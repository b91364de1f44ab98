/* libFuzzer target: the .pixd-index loader on arbitrary file contents (the file is pixd's own,
 * but a disk, a restore or an operator's edit can hand it anything). Checked beyond the
 * sanitizers: a loaded index holds at most two names per line; every name the file gives that
 * the index knows leads to a valid uid; and what the index writes back after a change loads
 * again to the same number of names. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "server/avatar.h"
#include "server/hashindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int dirfd = -1;
    if (dirfd < 0) {
        char dir[] = "/tmp/pixd-fuzz-indexXXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        dirfd = open(dir, O_RDONLY | O_DIRECTORY);
        CHECK(dirfd >= 0);
    }
    int fd = openat(dirfd, HASHINDEX_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, data, size) == (ssize_t)size);
    close(fd);

    char err[256];
    hashindex_t *x = hashindex_open(dirfd, err, sizeof err);
    if (!x)
        return 0;
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    CHECK(hashindex_count(x) <= 2 * (lines + 1));
    /* Each line's first word, looked up: unknown, or a valid uid. */
    for (const uint8_t *p = data, *end = data + size; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *sp = memchr(p, ' ', (size_t)((nl ? nl : end) - p));
        char uid[65];
        if (sp && hashindex_lookup(x, (const char *)p, (size_t)(sp - p), uid))
            CHECK(avatar_uid_valid(uid, strlen(uid)));
        p = nl ? nl + 1 : end;
    }
    /* A change rewrites the file; it loads again as it was written. */
    if (hashindex_register(x, "fuzz@example.com", 16, "fuzz", 4) == 0) {
        hashindex_t *y = hashindex_open(dirfd, err, sizeof err);
        CHECK(y != NULL);
        CHECK(hashindex_count(y) == hashindex_count(x));
        hashindex_free(y);
    }
    hashindex_free(x);
    return 0;
}
