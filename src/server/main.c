/* pixd: flags, start, wait for SIGTERM/SIGINT, drain, exit 0. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>

#include "server/server.h"

#define DRAIN_MS 10000

int main(int argc, char **argv)
{
    server_config_t cfg;
    server_config_defaults(&cfg);
    int r = server_config_parse(&cfg, argc, argv);
    if (r)
        return r == 1 ? 0 : 2;

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
    sigwait(&set, &sig);
    fprintf(stderr, "pixd: %s: finishing requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server_stop(&srv, DRAIN_MS);
    server_free(&srv);
    return 0;
}
