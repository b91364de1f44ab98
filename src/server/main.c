/* pixd: flags, start, reload on SIGHUP, wait for SIGTERM/SIGINT, drain, exit 0. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>

#include "server/avatar.h"
#include "server/server.h"

#define DRAIN_MS 10000
#define FDS_PER_LOOP 16 /* epoll, wake-up and timer fds, two listeners, libcurl's idle connections */
#define FDS_FIXED 32    /* stdio, the access log, TLS and config files while they are read */

/* Descriptors pixd may need at once with this config: a socket per connection, the memfds of
 * cached avatars, and the loops' own. A request may hold one more for a moment (an uncached
 * large avatar, a download); those fail one request when short, not the process. */
static uint64_t fds_needed(const server_config_t *cfg)
{
    return (uint64_t)cfg->max_conns + avatar_store_max_fds(cfg) + (uint64_t)cfg->threads * FDS_PER_LOOP +
           (uint64_t)cfg->image_workers * 2 + FDS_FIXED;
}

/* The soft open-files limit is often 1024 (Debian's default, kept for select() users), far
 * below --max-conns; the hard limit is the administrator's real ceiling. pixd never uses
 * select(), so it takes the hard limit, as Go's runtime and systemd's advice do, and says so
 * when even that is short: past it accept() fails with EMFILE. */
static void raise_nofile(const server_config_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    uint64_t need = fds_needed(cfg);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        fprintf(stderr,
                "pixd: warning: open files are limited to %llu, --max-conns %d needs about %llu: raise "
                "the hard limit (ulimit -Hn, systemd LimitNOFILE=) or lower --max-conns\n",
                (unsigned long long)rl.rlim_cur, cfg->max_conns, (unsigned long long)need);
}

int main(int argc, char **argv)
{
    server_config_t cfg;
    server_config_defaults(&cfg);
    int r = server_config_parse(&cfg, argc, argv);
    if (r)
        return r == 1 ? 0 : 2;
    raise_nofile(&cfg);

    /* glibc hands the free top of a thread's heap back to the kernel once 128 KiB are free,
     * and the next /magic request faults the same pages in again: an madvise, a dozen page
     * faults and a TLB flush per request. Keep up to 64 MiB free per arena; blocks of 4 MiB
     * and more (large images) still come from mmap and go back when freed. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);

    /* Block the stop signals in every thread; the main thread takes them with sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    static server_t srv;
    if (server_start(&srv, &cfg) != 0)
        return 1;
    printf("pixd %s listening on http://%s (port %d)", PIXD_VERSION, cfg.listen, srv.port);
    if (srv.tls)
        printf(" and https://%s (port %d)", cfg.tls_listen, srv.tls_port);
    printf(", %d threads, avatars from %s\n", srv.nworkers, cfg.avatars);
    fflush(stdout);
    int sig;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        if (server_reload(&srv) == 0)
            fprintf(stderr, "pixd: SIGHUP: certificate and upload credentials reloaded\n");
    fprintf(stderr, "pixd: %s: finishing requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server_stop(&srv, DRAIN_MS);
    server_free(&srv);
    return 0;
}
