/* fetch_addr_allowed (the SSRF guard's verdict per address) and magic_disposition (the file
 * name in response headers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "server/fetch.h"
#include "server/magic.h"

/* ---- fetch_addr_allowed ----------------------------------------------------------------- */

static char allow[16][64];
static int nallow;

static void set_allow(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    memset(allow, 0, sizeof allow);
    for (int i = 0; i < n; i++)
        snprintf(allow[i], sizeof allow[i], "%s", va_arg(ap, const char *));
    nallow = n;
    va_end(ap);
}

/* The verdict for a textual address, built as curl hands it over (sockaddr_in or _in6). */
static bool allowed(const char *addr)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(80)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    if (inet_pton(AF_INET, addr, &v4.sin_addr) == 1)
        return fetch_addr_allowed((const struct sockaddr *)&v4, (const char(*)[64])allow, nallow);
    assert_int_equal(inet_pton(AF_INET6, addr, &v6.sin6_addr), 1);
    return fetch_addr_allowed((const struct sockaddr *)&v6, (const char(*)[64])allow, nallow);
}

static void assert_all(const char *const *addrs, size_t n, bool want)
{
    for (size_t i = 0; i < n; i++) {
        if (allowed(addrs[i]) != want) fail_msg("%s: expected %s", addrs[i], want ? "allowed" : "blocked");
    }
}

#define ASSERT_ALL(want, ...)                                                                                \
    do {                                                                                                     \
        static const char *const a_[] = {__VA_ARGS__};                                                       \
        assert_all(a_, sizeof a_ / sizeof a_[0], want);                                                      \
    } while (0)

static void test_v4_public_allowed(void **state)
{
    set_allow(0);
    ASSERT_ALL(true, "8.8.8.8", "1.1.1.1", "93.184.216.34", "11.0.0.1", "9.255.255.255", "100.63.255.255",
               "100.128.0.0", "126.255.255.255", "128.0.0.1", "169.253.255.255", "169.255.0.0",
               "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0", "198.17.255.255",
               "198.20.0.0", "223.255.255.255", "1.0.0.0");
}

static void test_v4_blocked(void **state)
{
    set_allow(0);
    ASSERT_ALL(false, "0.0.0.0", "0.1.2.3", "0.255.255.255",             /* this network */
               "10.0.0.0", "10.1.2.3", "10.255.255.255",                 /* private */
               "100.64.0.0", "100.100.100.100", "100.127.255.255",       /* CGNAT */
               "127.0.0.1", "127.0.0.2", "127.1.2.3", "127.255.255.255", /* loopback */
               "169.254.0.1", "169.254.169.254", "169.254.255.255",      /* link-local, cloud metadata */
               "172.16.0.0", "172.20.1.1", "172.31.255.255",             /* private */
               "192.0.0.1", "192.0.0.255",                               /* IETF protocol assignments */
               "192.168.0.1", "192.168.255.255",                         /* private */
               "198.18.0.1", "198.19.255.255",                           /* benchmarking */
               "224.0.0.1", "239.255.255.250",                           /* multicast */
               "240.0.0.1", "255.255.255.255");                          /* reserved, broadcast */
}

static void test_v6_public_allowed(void **state)
{
    set_allow(0);
    ASSERT_ALL(true, "2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001:82b::200e",
               "fbff:ffff::1", "fe00::1", "2001:db9::1", "64:ff9a::1");
}

static void test_v6_blocked(void **state)
{
    set_allow(0);
    ASSERT_ALL(false, "::", "::1", /* unspecified, loopback */
               "fc00::1", "fd12:3456:789a::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", /* ULA */
               "fe80::1", "febf:ffff::1",                                                 /* link-local */
               "ff02::1", "ff05::2", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",           /* multicast */
               "fec0::1", "fec0:1234::1", "feff:ffff::1",                                 /* site-local */
               "2001:db8::1", "2001:db8:ffff::1",                                         /* documentation */
               "::2", "::7f00:1",                 /* IPv4-compatible */
               "2002:7f00:1::1", "2002:a00:1::1", /* 6to4 of 127.0.0.1, 10.0.0.1 */
               "2001::1", "2001:0:4136:e378::1"); /* Teredo */
}

/* NAT64 (RFC 6052): a gateway connects to the IPv4 address in the last 32 bits of
 * 64:ff9b::/96, so that address decides, as for v4-mapped ones. */
static void test_nat64_well_known_prefix(void **state)
{
    set_allow(0);
    ASSERT_ALL(false, "64:ff9b::", "64:ff9b::127.0.0.1", "64:ff9b::7f00:2", "64:ff9b::10.0.0.1",
               "64:ff9b::169.254.169.254", "64:ff9b::172.16.0.1", "64:ff9b::192.168.1.1",
               "64:ff9b::100.64.0.1", "64:ff9b::192.0.0.1", "64:ff9b::192.0.2.1", "64:ff9b::198.18.0.1",
               "64:ff9b::224.0.0.1", "64:ff9b::240.0.0.1", "64:ff9b::255.255.255.255", "64:ff9b::0.1.2.3");
    ASSERT_ALL(true, "64:ff9b::8.8.8.8", "64:ff9b::808:808", "64:ff9b::93.184.216.34", "64:ff9b::1.1.1.1",
               "64:ff9b::9.255.255.255", "64:ff9b::11.0.0.0", "64:ff9b::172.32.0.0",
               "64:ff9b::223.255.255.255");
    /* outside the /96: not NAT64, nothing special */
    ASSERT_ALL(true, "64:ff9b:0:0:1::7f00:1", "64:ff9b:2::808:808", "64:ff9a:ffff:ffff:ffff:ffff:7f00:1");

    /* The allowed ranges apply to the embedded address as they do to the address itself. */
    set_allow(1, "10.0.0.0/8");
    ASSERT_ALL(true, "64:ff9b::10.1.2.3", "10.1.2.3");
    ASSERT_ALL(false, "64:ff9b::127.0.0.1", "64:ff9b:1::10.1.2.3");
    set_allow(1, "64:ff9b::/96");
    ASSERT_ALL(true, "64:ff9b::127.0.0.1", "64:ff9b::10.0.0.1");
    ASSERT_ALL(false, "127.0.0.1", "::ffff:127.0.0.1", "64:ff9b:1::1");
}

/* Local-use NAT64 (RFC 8215): the operator's own translator, with the IPv4 address at a
 * position that depends on its prefix length: all of it is refused. */
static void test_nat64_local_use_prefix(void **state)
{
    set_allow(0);
    ASSERT_ALL(false, "64:ff9b:1::", "64:ff9b:1::808:808", "64:ff9b:1::7f00:1",
               "64:ff9b:1:808:800::", /* 8.8.8.8 at the /48 position */
               "64:ff9b:1:ffff:ffff:ffff:ffff:ffff");
    ASSERT_ALL(true, "64:ff9b:2::", "64:ff9b:0:ffff::808:808");
    set_allow(1, "64:ff9b:1::/48");
    ASSERT_ALL(true, "64:ff9b:1::7f00:1");
}

static void test_site_local(void **state)
{
    set_allow(0);
    ASSERT_ALL(false, "fec0::", "fec0::1", "fed0:1::2", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    ASSERT_ALL(true, "fe7f:ffff::1", "fe00::1"); /* between fc00::/7 and fe80::/10 */
    set_allow(1, "fec0::/10");
    ASSERT_ALL(true, "fec0::1", "feff::1");
    ASSERT_ALL(false, "fe80::1", "::1");
}

static void test_v4_test_nets_blocked(void **state)
{
    set_allow(0);
    ASSERT_ALL(false, "192.0.2.1", "198.51.100.7", "203.0.113.255");
    ASSERT_ALL(true, "192.0.3.1", "198.51.101.1", "203.0.114.1");
}

static void test_cidr_valid(void **state)
{
    assert_true(fetch_cidr_valid("127.0.0.1/32"));
    assert_true(fetch_cidr_valid("10.0.0.0/8"));
    assert_true(fetch_cidr_valid("127.0.0.1"));
    assert_true(fetch_cidr_valid("fd00::/8"));
    assert_true(fetch_cidr_valid("::1"));
    assert_false(fetch_cidr_valid("garbage"));
    assert_false(fetch_cidr_valid("10.0.0.0/33"));
    assert_false(fetch_cidr_valid("10.0.0.0/"));
    assert_false(fetch_cidr_valid("10.0.0.0/-1"));
    assert_false(fetch_cidr_valid("::1/129"));
    assert_false(fetch_cidr_valid(""));
}

static void test_v4_mapped(void **state)
{
    /* An IPv6 socket reaches IPv4 through ::ffff:a.b.c.d: the v4 verdict must apply. */
    set_allow(0);
    ASSERT_ALL(false, "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:192.168.1.1",
               "::ffff:0.0.0.0", "::ffff:224.0.0.1", "::ffff:100.64.0.1");
    ASSERT_ALL(true, "::ffff:8.8.8.8", "::ffff:93.184.216.34");
    set_allow(1, "127.0.0.1/32");
    ASSERT_ALL(true, "::ffff:127.0.0.1", "127.0.0.1");
    ASSERT_ALL(false, "::ffff:127.0.0.2", "::1");
}

static void test_allow_opens_only_its_range(void **state)
{
    set_allow(1, "127.0.0.1/32");
    ASSERT_ALL(true, "127.0.0.1", "8.8.8.8");
    ASSERT_ALL(false, "127.0.0.2", "127.0.0.0", "10.0.0.1", "::1", "169.254.169.254");

    set_allow(2, "10.0.0.0/8", "::1/128");
    ASSERT_ALL(true, "10.0.0.0", "10.255.255.255", "::1");
    ASSERT_ALL(false, "127.0.0.1", "172.16.0.1", "fe80::1", "::ffff:7f00:1");

    /* Prefixes that do not end on a byte. */
    set_allow(2, "192.168.1.128/25", "fe80::/10");
    ASSERT_ALL(true, "192.168.1.128", "192.168.1.200", "192.168.1.255", "fe80::1", "febf::1");
    ASSERT_ALL(false, "192.168.1.127", "192.168.1.0", "192.168.2.128", "fc00::1");

    set_allow(1, "100.64.0.0/10");
    ASSERT_ALL(true, "100.64.0.0", "100.127.255.255");
    ASSERT_ALL(false, "10.0.0.1");

    /* A bare address is a single host. */
    set_allow(1, "127.0.0.2");
    ASSERT_ALL(true, "127.0.0.2");
    ASSERT_ALL(false, "127.0.0.1", "127.0.0.3");
    set_allow(1, "fd00::5");
    ASSERT_ALL(true, "fd00::5");
    ASSERT_ALL(false, "fd00::4");

    /* The widest ranges: v4 /0 is every IPv4 address (v4-mapped), never IPv6. */
    set_allow(1, "0.0.0.0/0");
    ASSERT_ALL(true, "127.0.0.1", "10.1.1.1", "0.0.0.0", "255.255.255.255", "::ffff:127.0.0.1");
    ASSERT_ALL(false, "::1", "fe80::1");
    set_allow(1, "::/0");
    ASSERT_ALL(true, "::1", "fe80::1", "127.0.0.1", "ff02::1");

    /* The last of several entries counts as much as the first. */
    set_allow(4, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8");
    ASSERT_ALL(true, "127.9.9.9", "172.16.5.5", "192.168.9.9", "10.9.9.9");
    ASSERT_ALL(false, "169.254.169.254", "::1");
}

static void test_malformed_allow_entries_open_nothing(void **state)
{
    set_allow(9, "", "garbage", "127.0.0.1/33", "127.0.0.1/", "127.0.0.1/-1", "127.0.0.1/8x", "::1/129",
              "127.0.0.1 /32", "localhost");
    ASSERT_ALL(false, "127.0.0.1", "::1", "10.0.0.1");
    ASSERT_ALL(true, "8.8.8.8", "2606:4700:4700::1111");
}

static void test_other_families_refused(void **state)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, "/tmp/x");
    set_allow(1, "::/0");
    assert_false(fetch_addr_allowed((const struct sockaddr *)&un, (const char(*)[64])allow, nallow));
    struct sockaddr sa = {.sa_family = AF_UNSPEC};
    assert_false(fetch_addr_allowed(&sa, (const char(*)[64])allow, nallow));
}

/* ---- magic_disposition --------------------------------------------------------------- */

/* Runs it with the buffer sizes magic.c uses and checks both outputs. */
static void disp_case(const char *name, size_t n, const char *want_disp, const char *want_bare)
{
    char disp[368], bare[192];
    memset(disp, 'Z', sizeof disp);
    memset(bare, 'Z', sizeof bare);
    size_t len = magic_disposition(name, n, disp, sizeof disp, bare, sizeof bare);
    assert_string_equal(disp, want_disp);
    assert_int_equal(len, strlen(want_disp));
    assert_string_equal(bare, want_bare);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)disp[i] < 0x20 || (unsigned char)disp[i] >= 0x7f)
            fail_msg("byte 0x%02x at %zu in %s", (unsigned char)disp[i], i, disp);
}

#define DISP(name, d, b) disp_case(name, sizeof(name) - 1, d, b)

static void test_disposition_tokens_bare(void **state)
{
    DISP("3.jpeg", "attachment; filename=3.jpeg", "3.jpeg");
    DISP("bw.jpeg", "attachment; filename=bw.jpeg", "bw.jpeg");
    DISP("a-b_c~d!e#f$g&h'i*j+k.l^m`n|o.png", "attachment; filename=a-b_c~d!e#f$g&h'i*j+k.l^m`n|o.png",
         "a-b_c~d!e#f$g&h'i*j+k.l^m`n|o.png");
    DISP("x", "attachment; filename=x", "x");
}

static void test_disposition_quoted(void **state)
{
    DISP("my photo.jpg", "attachment; filename=\"my photo.jpg\"", "my photo.jpg");
    DISP("a;b=c.jpg", "attachment; filename=\"a;b=c.jpg\"", "a;b=c.jpg");
    DISP("(1),[2]{3}<4>@:?.jpg", "attachment; filename=\"(1),[2]{3}<4>@:?.jpg\"", "(1),[2]{3}<4>@:?.jpg");
    DISP(" lead", "attachment; filename=\" lead\"", " lead");
}

static void test_disposition_strips(void **state)
{
    /* Quotes, backslashes, control bytes and DEL never reach a header. */
    DISP("say \"hi\".jpg", "attachment; filename=\"say hi.jpg\"", "say hi.jpg");
    DISP("a\tb\r\nc\x01\x7f.jpg", "attachment; filename=abc.jpg", "abc.jpg");
    DISP("x.jpg\r\nSet-Cookie: a=b", "attachment; filename=\"x.jpgSet-Cookie: a=b\"", "x.jpgSet-Cookie: a=b");
    DISP("a\0b.jpg", "attachment; filename=ab.jpg", "ab.jpg");
    /* Nothing left: the default name. */
    DISP("", "attachment; filename=bw.jpeg", "bw.jpeg");
    DISP("\"\"", "attachment; filename=bw.jpeg", "bw.jpeg");
    DISP("\r\n\t\x1f", "attachment; filename=bw.jpeg", "bw.jpeg");
}

static void test_disposition_paths(void **state)
{
    DISP("../../etc/passwd", "attachment; filename=passwd", "passwd");
    DISP("/abs/dir/pic.png", "attachment; filename=pic.png", "pic.png");
    DISP("C:\\Users\\me\\My Pics\\a.jpg", "attachment; filename=a.jpg", "a.jpg");
    DISP("dir\\sub/x y.gif", "attachment; filename=\"x y.gif\"", "x y.gif");
    DISP("dir/", "attachment; filename=bw.jpeg", "bw.jpeg");
    DISP("..", "attachment; filename=..", "..");
    DISP("a/..", "attachment; filename=..", "..");
}

static void test_disposition_non_ascii(void **state)
{
    DISP("\xc3\xa9t\xc3\xa9.jpg", "attachment; filename=\"__t__.jpg\"; filename*=UTF-8''%C3%A9t%C3%A9.jpg",
         "__t__.jpg");
    DISP("\xd1\x84\xd0\xbe\xd1\x82\xd0\xbe 1.jpg",
         "attachment; filename=\"________ 1.jpg\"; filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE%201.jpg",
         "________ 1.jpg");
    /* Characters with a meaning in RFC 8187 values are escaped there. */
    DISP("\xc3\xa9%'*.jpg", "attachment; filename=\"__%'*.jpg\"; filename*=UTF-8''%C3%A9%25%27%2A.jpg",
         "__%'*.jpg");
}

static void test_disposition_length_is_bounded(void **state)
{
    /* Only n bytes are read: the name need not be NUL-terminated. */
    disp_case("abc.jpgJUNK", 7, "attachment; filename=abc.jpg", "abc.jpg");

    /* Long names are cut to the buffers, always terminated and always valid header text. */
    char name[2000];
    char disp[368], bare[192];
    for (int kind = 0; kind < 3; kind++) {
        for (size_t i = 0; i < sizeof name; i++)
            name[i] = kind == 0 ? 'x' : kind == 1 ? (i % 2 ? ' ' : 'y') : (char)(i % 2 ? 0xc3 : 0xa9);
        memset(disp, 'Z', sizeof disp);
        memset(bare, 'Z', sizeof bare);
        size_t len = magic_disposition(name, sizeof name, disp, sizeof disp, bare, sizeof bare);
        assert_true(len < sizeof disp);
        assert_int_equal(len, strlen(disp));
        assert_int_equal(strlen(bare), sizeof bare - 1);
        for (size_t i = 0; i < len; i++)
            assert_true((unsigned char)disp[i] >= 0x20 && (unsigned char)disp[i] < 0x7f);
        for (size_t i = 0; bare[i]; i++)
            assert_true((unsigned char)bare[i] >= 0x20 && (unsigned char)bare[i] < 0x7f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_public_allowed),
        cmocka_unit_test(test_v4_blocked),
        cmocka_unit_test(test_v6_public_allowed),
        cmocka_unit_test(test_v6_blocked),
        cmocka_unit_test(test_v4_mapped),
        cmocka_unit_test(test_nat64_well_known_prefix),
        cmocka_unit_test(test_nat64_local_use_prefix),
        cmocka_unit_test(test_site_local),
        cmocka_unit_test(test_v4_test_nets_blocked),
        cmocka_unit_test(test_cidr_valid),
        cmocka_unit_test(test_allow_opens_only_its_range),
        cmocka_unit_test(test_malformed_allow_entries_open_nothing),
        cmocka_unit_test(test_other_families_refused),
        cmocka_unit_test(test_disposition_tokens_bare),
        cmocka_unit_test(test_disposition_quoted),
        cmocka_unit_test(test_disposition_strips),
        cmocka_unit_test(test_disposition_paths),
        cmocka_unit_test(test_disposition_non_ascii),
        cmocka_unit_test(test_disposition_length_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
