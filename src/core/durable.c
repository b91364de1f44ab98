#include "core/durable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX ".tmp-"
#define TMP_PREFIX_LEN 5
#define SUFFIX_LEN 12
#define TMP_NAME_SIZE (TMP_PREFIX_LEN + DURABLE_NAME_MAX + 1 + SUFFIX_LEN + 1)
#define CREATE_TRIES 8 /* O_EXCL collisions in a row before giving up: only a hostile folder */

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static bool is_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return -EINVAL;
    return n > DURABLE_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* Creates a fresh temporary file for name; its name goes to tmp. The fd or -errno. */
static int create_temp(int dirfd, const char *name, char tmp[TMP_NAME_SIZE])
{
    for (int attempt = 0; attempt < CREATE_TRIES; attempt++) {
        unsigned char rnd[SUFFIX_LEN];
        ssize_t got;
        do
            got = getrandom(rnd, sizeof rnd, 0);
        while (got < 0 && errno == EINTR);
        if (got != (ssize_t)sizeof rnd)
            return got < 0 ? -errno : -EIO;
        char suffix[SUFFIX_LEN + 1];
        for (int i = 0; i < SUFFIX_LEN; i++)
            suffix[i] = alnum[rnd[i] % (sizeof alnum - 1)];
        suffix[SUFFIX_LEN] = '\0';
        snprintf(tmp, TMP_NAME_SIZE, TMP_PREFIX "%s-%s", name, suffix);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd >= 0 ? fd : -errno;
    }
    return -EEXIST;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode, bool sync_dir)
{
    int r = check_name(name);
    if (r < 0)
        return r;
    char tmp[TMP_NAME_SIZE];
    int fd = create_temp(dirfd, name, tmp);
    if (fd < 0)
        return fd;
    /* fchmod, not the open mode: the stored file's permissions must not depend on the umask. */
    if (fchmod(fd, mode) < 0)
        r = -errno;
    if (r == 0)
        r = write_all(fd, data, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
        r = -errno;
    if (r < 0) {
        unlinkat(dirfd, tmp, 0);
        return r;
    }
    return sync_dir ? durable_sync_dir(dirfd) : 0;
}

int durable_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
    return replace(dirfd, name, data, len, mode, true);
}

int durable_replace_batch(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
    return replace(dirfd, name, data, len, mode, false);
}

static int unlink_name(int dirfd, const char *name, bool sync_dir)
{
    int r = check_name(name);
    if (r < 0)
        return r;
    if (unlinkat(dirfd, name, 0) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (sync_dir && (r = durable_sync_dir(dirfd)) < 0)
        return r;
    return 1;
}

int durable_unlink(int dirfd, const char *name)
{
    return unlink_name(dirfd, name, true);
}

int durable_unlink_batch(int dirfd, const char *name)
{
    return unlink_name(dirfd, name, false);
}

int durable_sync_dir(int dirfd)
{
    return fsync(dirfd) < 0 ? -errno : 0;
}

/* ".tmp-" name "-" and 12 letters or digits, as create_temp() makes them. */
static bool is_temp_name(const char *s)
{
    size_t n = strlen(s);
    if (n < TMP_PREFIX_LEN + 1 + 1 + SUFFIX_LEN || memcmp(s, TMP_PREFIX, TMP_PREFIX_LEN))
        return false;
    if (s[n - SUFFIX_LEN - 1] != '-')
        return false;
    for (size_t i = n - SUFFIX_LEN; i < n; i++)
        if (!is_alnum(s[i]))
            return false;
    return true;
}

int durable_clean_temps(int dirfd)
{
    /* A new open of the folder, not a dup: readdir must not move the caller's offset. */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    int removed = 0, r = 0;
    struct dirent *de;
    for (errno = 0; (de = readdir(d)); errno = 0) {
        if (!is_temp_name(de->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (unlinkat(dirfd, de->d_name, 0) == 0)
            removed++;
        else if (errno != ENOENT) {
            r = -errno;
            break;
        }
    }
    if (r == 0 && errno != 0)
        r = -errno;
    closedir(d);
    if (r == 0 && removed > 0)
        r = durable_sync_dir(dirfd);
    return r < 0 ? r : removed;
}
