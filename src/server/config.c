/* config: pixd's command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"
#include "server/fetch.h"
#include "server/server.h"

static const char usage[] =
    "Usage: pixd [options]\n"
    "Serves avatars (GET /<uid>, /avatar/<hash>) and the black-and-white image API (/magic/*).\n"
    "\n"
    "  --listen HOST:PORT        address to listen on (default 127.0.0.1:8080; :0 picks a port)\n"
    "  --tls-listen HOST:PORT    also serve https here (with --tls-cert and --tls-key)\n"
    "  --tls-cert FILE           PEM certificate chain for --tls-listen\n"
    "  --tls-key FILE            PEM private key for --tls-listen\n"
    "  --avatars DIR             avatar folder (default ./avatars)\n"
    "  --default-avatar NAME     file served for unknown users (default -1.png)\n"
    "  --threads N               event-loop threads (default: one per core)\n"
    "  --cache-mb N              memory for cached avatars (default 64)\n"
    "  --max-age SEC             Cache-Control max-age of avatars (default 7200)\n"
    "  --variant-cache-mb N      memory for resized and generated avatars (default 64)\n"
    "  --variants-per-source N   sizes and formats kept per picture (default 32)\n"
    "  --renders-per-client N    renders one client address may have under way, 429 beyond\n"
    "                            (default 8; 0 = no bound, e.g. behind a proxy)\n"
    "  --avif                    send AVIF to clients that accept it (slow to encode)\n"
    "  --upload-token-file FILE  bearer tokens allowed to PUT and DELETE avatars\n"
    "  --upload-key-file FILE    HMAC keys of signed upload URLs (first signs, all verify)\n"
    "  --upload-max-side N       uploads are stored at most this many pixels wide and high\n"
    "                            (default 1024)\n"
    "  --demo                    the page mints signed upload URLs (needs --upload-key-file)\n"
    "  --h2-max-streams N        HTTP/2 streams open at once per connection (default 100)\n"
    "  --h2-settings-timeout SEC HTTP/2 SETTINGS must be acknowledged within it (default 10)\n"
    "  --access-log FILE         append one line per request to FILE\n"
    "  --max-conns N             open connections at most (default 10000)\n"
    "  --max-body-mb N           request body limit (default 20)\n"
    "  --max-body-memory-mb N    request bodies and downloads in memory at once, 503 beyond\n"
    "                            (default: a quarter of the machine's memory, at most 4096)\n"
    "  --max-pixels N            largest image accepted (default 40000000)\n"
    "  --max-image-memory-mb N   a decoder's estimated peak memory, 422 beyond (default 512)\n"
    "  --image-workers N         image threads (default: one per core); 0 runs image work\n"
    "                            (renders, uploads, /magic) on the event loop that took the\n"
    "                            request, stalling its other connections: for measuring only\n"
    "  --max-queue N             image jobs waiting for a thread, 503 beyond (default 64)\n"
    "  --header-timeout SEC      time to send a request head (default 10)\n"
    "  --body-timeout SEC        longest stall while reading a body or writing (default 30)\n"
    "  --body-min-rate BYTES     after --body-timeout, a body slower than this on average\n"
    "                            gets 408 (default 1024; 0 = off)\n"
    "  --keepalive-timeout SEC   idle keep-alive connections close after (default 75)\n"
    "  --default-image-url URL   image GET /magic/imageurl converts\n"
    "  --fetch-allow CIDR        let downloads reach this range (repeatable; default: public only)\n"
    "  --fetch-timeout SEC       download deadline (default 10)\n"
    "  --fetch-connect-timeout SEC  (default 3)\n"
    "  --fetch-max-mb N          download size limit (default 20)\n"
    "  -h, --help                this text\n"
    "  -V, --version             the version\n";

void server_config_defaults(server_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:8080");
    snprintf(cfg->avatars, sizeof cfg->avatars, "avatars");
    snprintf(cfg->default_avatar, sizeof cfg->default_avatar, "-1.png");
    cfg->threads = cores > 0 ? (int)cores : 1;
    cfg->image_workers = cfg->threads;
    cfg->max_conns = 10000;
    cfg->max_age = 7200;
    cfg->cache_bytes = 64u << 20;
    cfg->max_body = 20u << 20;
    cfg->max_pixels = IMG_DEFAULT_MAX_PIXELS;
    cfg->max_image_memory = 512u << 20;
    cfg->max_queue = 64;
    cfg->body_min_rate = 1024;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t quarter = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 4 : 1ull << 30;
    cfg->max_body_memory = quarter < (4ull << 30) ? quarter : 4ull << 30;
    cfg->variant_cache_bytes = 64u << 20;
    cfg->variants_per_source = 32;
    cfg->renders_per_client = 8;
    cfg->upload_max_side = 1024;
    cfg->h2_max_streams = 100;
    cfg->h2_settings_timeout_ms = 10000;
    cfg->header_timeout_ms = 10000;
    cfg->body_timeout_ms = 30000;
    cfg->keepalive_timeout_ms = 75000;
    cfg->fetch_max_bytes = 20u << 20;
    cfg->fetch_connect_timeout_ms = 3000;
    cfg->fetch_timeout_ms = 10000;
}

static int bad(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "pixd: invalid %s '%s': %s\n", opt, val, why);
    return 2;
}

static int num(const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char why[96];
        snprintf(why, sizeof why, "want an integer from %lld to %lld", lo, hi);
        return bad(opt, s, why);
    }
    *out = v;
    return 0;
}

static int seconds(const char *opt, const char *s, uint32_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 86400)
        return bad(opt, s, "want seconds, e.g. 10 or 0.5");
    *ms = (uint32_t)(v * 1000 + 0.5);
    if (*ms == 0)
        *ms = 1;
    return 0;
}

static int copy(const char *opt, char *dst, size_t n, const char *s)
{
    if (strlen(s) >= n)
        return bad(opt, s, "too long");
    strcpy(dst, s);
    return 0;
}

int server_config_parse(server_config_t *cfg, int argc, char **argv)
{
    enum { O_LISTEN = 256, O_AVATARS, O_DEFAULT, O_THREADS, O_CACHE, O_MAXAGE, O_LOG, O_CONNS, O_BODY,
           O_PIXELS, O_IWORKERS, O_HTO, O_BTO, O_KTO, O_URL, O_ALLOW, O_FTO, O_FCTO, O_FMAX,
           O_TLS, O_CERT, O_KEY, O_BODYMEM, O_IMGMEM, O_QUEUE, O_MINRATE, O_VCACHE, O_VPER, O_RPER, O_AVIF,
           O_UTOKEN, O_UKEY, O_USIDE, O_DEMO, O_H2STREAMS, O_H2SETTINGS };
    static const struct option opts[] = {
        {"listen", 1, 0, O_LISTEN}, {"avatars", 1, 0, O_AVATARS}, {"default-avatar", 1, 0, O_DEFAULT},
        {"threads", 1, 0, O_THREADS}, {"cache-mb", 1, 0, O_CACHE}, {"max-age", 1, 0, O_MAXAGE},
        {"access-log", 1, 0, O_LOG}, {"max-conns", 1, 0, O_CONNS}, {"max-body-mb", 1, 0, O_BODY},
        {"max-pixels", 1, 0, O_PIXELS}, {"image-workers", 1, 0, O_IWORKERS},
        {"header-timeout", 1, 0, O_HTO}, {"body-timeout", 1, 0, O_BTO},
        {"keepalive-timeout", 1, 0, O_KTO}, {"default-image-url", 1, 0, O_URL},
        {"fetch-allow", 1, 0, O_ALLOW}, {"fetch-timeout", 1, 0, O_FTO},
        {"fetch-connect-timeout", 1, 0, O_FCTO}, {"fetch-max-mb", 1, 0, O_FMAX},
        {"max-body-memory-mb", 1, 0, O_BODYMEM}, {"max-image-memory-mb", 1, 0, O_IMGMEM},
        {"max-queue", 1, 0, O_QUEUE}, {"body-min-rate", 1, 0, O_MINRATE},
        {"variant-cache-mb", 1, 0, O_VCACHE}, {"variants-per-source", 1, 0, O_VPER},
        {"renders-per-client", 1, 0, O_RPER}, {"avif", 0, 0, O_AVIF}, {"upload-token-file", 1, 0, O_UTOKEN},
        {"upload-key-file", 1, 0, O_UKEY}, {"upload-max-side", 1, 0, O_USIDE}, {"demo", 0, 0, O_DEMO},
        {"h2-max-streams", 1, 0, O_H2STREAMS}, {"h2-settings-timeout", 1, 0, O_H2SETTINGS},
        {"tls-listen", 1, 0, O_TLS}, {"tls-cert", 1, 0, O_CERT}, {"tls-key", 1, 0, O_KEY},
        {"help", 0, 0, 'h'}, {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
    long long v;
    int c, r = 0;
    optind = 1;
    opterr = 0;
    while (r == 0 && (c = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
        const char *o = argv[optind - 1];
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            return 1;
        case 'V':
            printf("pixd %s\n", PIXD_VERSION);
            return 1;
        case O_LISTEN: r = copy(o, cfg->listen, sizeof cfg->listen, optarg); break;
        case O_TLS: r = copy(o, cfg->tls_listen, sizeof cfg->tls_listen, optarg); break;
        case O_CERT: r = copy(o, cfg->tls_cert, sizeof cfg->tls_cert, optarg); break;
        case O_KEY: r = copy(o, cfg->tls_key, sizeof cfg->tls_key, optarg); break;
        case O_AVATARS: r = copy(o, cfg->avatars, sizeof cfg->avatars, optarg); break;
        case O_DEFAULT:
            if (strchr(optarg, '/') || !strcmp(optarg, "..") || !strcmp(optarg, "."))
                return bad(o, optarg, "a file name inside the avatar folder");
            r = copy(o, cfg->default_avatar, sizeof cfg->default_avatar, optarg);
            break;
        case O_THREADS: if (!(r = num(o, optarg, 1, 256, &v))) cfg->threads = (int)v; break;
        case O_CACHE: if (!(r = num(o, optarg, 0, 1 << 20, &v))) cfg->cache_bytes = (uint64_t)v << 20; break;
        case O_MAXAGE: if (!(r = num(o, optarg, 0, 1LL << 31, &v))) cfg->max_age = (int)v; break;
        case O_LOG: r = copy(o, cfg->access_log, sizeof cfg->access_log, optarg); break;
        case O_CONNS: if (!(r = num(o, optarg, 1, 1 << 24, &v))) cfg->max_conns = (int)v; break;
        case O_BODY: if (!(r = num(o, optarg, 1, 4096, &v))) cfg->max_body = (uint64_t)v << 20; break;
        case O_BODYMEM: if (!(r = num(o, optarg, 1, 1 << 20, &v))) cfg->max_body_memory = (uint64_t)v << 20; break;
        case O_IMGMEM: if (!(r = num(o, optarg, 0, 1 << 20, &v))) cfg->max_image_memory = (uint64_t)v << 20; break;
        case O_QUEUE: if (!(r = num(o, optarg, 1, 1 << 20, &v))) cfg->max_queue = (uint32_t)v; break;
        case O_MINRATE: if (!(r = num(o, optarg, 0, 1LL << 30, &v))) cfg->body_min_rate = (uint32_t)v; break;
        case O_PIXELS: if (!(r = num(o, optarg, 1, 1LL << 40, &v))) cfg->max_pixels = (uint64_t)v; break;
        case O_IWORKERS: if (!(r = num(o, optarg, 0, 256, &v))) cfg->image_workers = (int)v; break;
        case O_VCACHE: if (!(r = num(o, optarg, 0, 1 << 20, &v))) cfg->variant_cache_bytes = (uint64_t)v << 20; break;
        case O_VPER: if (!(r = num(o, optarg, 1, 4096, &v))) cfg->variants_per_source = (uint32_t)v; break;
        case O_RPER: if (!(r = num(o, optarg, 0, 1 << 20, &v))) cfg->renders_per_client = (uint32_t)v; break;
        case O_AVIF: cfg->avif = true; break;
        case O_UTOKEN: r = copy(o, cfg->upload_token_file, sizeof cfg->upload_token_file, optarg); break;
        case O_UKEY: r = copy(o, cfg->upload_key_file, sizeof cfg->upload_key_file, optarg); break;
        case O_USIDE: if (!(r = num(o, optarg, 16, 8192, &v))) cfg->upload_max_side = (uint32_t)v; break;
        case O_DEMO: cfg->demo = true; break;
        case O_H2STREAMS: if (!(r = num(o, optarg, 1, 10000, &v))) cfg->h2_max_streams = (uint32_t)v; break;
        case O_H2SETTINGS: r = seconds(o, optarg, &cfg->h2_settings_timeout_ms); break;
        case O_HTO: r = seconds(o, optarg, &cfg->header_timeout_ms); break;
        case O_BTO: r = seconds(o, optarg, &cfg->body_timeout_ms); break;
        case O_KTO: r = seconds(o, optarg, &cfg->keepalive_timeout_ms); break;
        case O_URL: r = copy(o, cfg->default_image_url, sizeof cfg->default_image_url, optarg); break;
        case O_ALLOW:
            if (cfg->fetch_allow_n == (int)(sizeof cfg->fetch_allow / sizeof cfg->fetch_allow[0]))
                return bad(o, optarg, "too many ranges");
            if (!fetch_cidr_valid(optarg))
                return bad(o, optarg, "want an address range such as 127.0.0.1/32 or fd00::/8");
            r = copy(o, cfg->fetch_allow[cfg->fetch_allow_n], sizeof cfg->fetch_allow[0], optarg);
            cfg->fetch_allow_n += r == 0;
            break;
        case O_FTO: r = seconds(o, optarg, &cfg->fetch_timeout_ms); break;
        case O_FCTO: r = seconds(o, optarg, &cfg->fetch_connect_timeout_ms); break;
        case O_FMAX: if (!(r = num(o, optarg, 1, 4096, &v))) cfg->fetch_max_bytes = (uint64_t)v << 20; break;
        case ':':
            fprintf(stderr, "pixd: %s needs a value (see --help)\n", o);
            return 2;
        default:
            fprintf(stderr, "pixd: unknown option '%s' (see --help)\n", o);
            return 2;
        }
    }
    if (r)
        return r;
    if (optind < argc) {
        fprintf(stderr, "pixd: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (!cfg->tls_listen[0] != !cfg->tls_cert[0] || !cfg->tls_cert[0] != !cfg->tls_key[0]) {
        fprintf(stderr, "pixd: --tls-listen, --tls-cert and --tls-key go together (see --help)\n");
        return 2;
    }
    if (cfg->demo && !cfg->upload_key_file[0]) {
        fprintf(stderr, "pixd: --demo mints signed upload URLs: it needs --upload-key-file (see --help)\n");
        return 2;
    }
    return 0;
}
