#include "core/testhook.h"

#ifdef PIXD_TEST_HOOKS
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *dir;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void read_env(void)
{
    dir = getenv("PIXD_TESTHOOK_DIR");
}

void testhook_point(const char *name)
{
    pthread_once(&once, read_env);
    if (!dir)
        return;
    char arm[PATH_MAX], held[PATH_MAX];
    snprintf(arm, sizeof arm, "%s/%s.arm", dir, name);
    snprintf(held, sizeof held, "%s/%s.held", dir, name);
    if (rename(arm, held) != 0)
        return; /* not armed, or another thread took it */
    while (access(held, F_OK) == 0)
        usleep(1000);
}
#endif
