/* scenario: the serialised requests (byte-exact), defaults and overrides, the JSON
 * scenario format and its error messages, stats slots, weighted picking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load/scenario.h"

static load_config_t cfg;
static scenario_t sc;
static char err[1024];
static char dir[64];

static void write_file(const char *name, const char *data)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pixload-test-scenario-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    write_file("foobar", "foobar");
    write_file("img.jpg", "\xff\xd8\xff\xe0JPEG");
    /* A folder of three files, with what rotation must skip: a hidden file, a subfolder. */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/pics", dir);
    if (mkdir(sub, 0700) != 0) return -1;
    snprintf(sub, sizeof sub, "%s/pics/sub", dir);
    if (mkdir(sub, 0700) != 0) return -1;
    snprintf(sub, sizeof sub, "%s/empty", dir);
    if (mkdir(sub, 0700) != 0) return -1;
    write_file("pics/b.txt", "bb");
    write_file("pics/a.txt", "a");
    write_file("pics/c.txt", "ccc");
    write_file("pics/.hidden", "no");
    write_file("pics/sub/d.txt", "no");
    write_file("empty/.keep", "");
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int cleanup(void **state)
{
    scenario_free(&sc);
    load_config_free(&cfg);
    return 0;
}

/* Parses the arguments (NULL-terminated) into cfg; they must be valid. */
static void config(const char *first, ...)
{
    char *argv[32] = {"pixload"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    load_config_free(&cfg);
    if (load_config_parse(&cfg, argc, argv, 2, err, sizeof err) != LOAD_CONFIG_RUN)
        fail_msg("config: %s", err);
}

/* Builds from the command line; must succeed. */
static void build(void)
{
    scenario_free(&sc);
    if (scenario_build(&sc, &cfg, err, sizeof err) != 0) fail_msg("scenario_build: %s", err);
}

static void build_json(const char *json)
{
    scenario_free(&sc);
    if (scenario_build_json(&sc, &cfg, json, strlen(json), dir, err, sizeof err) != 0)
        fail_msg("scenario_build_json: %s", err);
}

/* Expects scenario_build_json to fail with a message containing needle. */
static void build_json_fails(const char *json, const char *needle)
{
    scenario_free(&sc);
    if (scenario_build_json(&sc, &cfg, json, strlen(json), dir, err, sizeof err) == 0)
        fail_msg("accepted: %s", json);
    if (!strstr(err, needle)) fail_msg("message '%s' lacks '%s'", err, needle);
    assert_int_equal(sc.n, 0);
}

static void assert_request(const scenario_entry_t *e, const char *want)
{
    struct iovec iov;
    scenario_request(e, &iov);
    if (iov.iov_len != strlen(want) || memcmp(iov.iov_base, want, iov.iov_len) != 0)
        fail_msg("request\n--- got\n%.*s\n--- want\n%s", (int)iov.iov_len, (char *)iov.iov_base, want);
}

static void test_cli_get(void **state)
{
    config("http://h:8080/path?q=1", NULL);
    build();
    assert_string_equal(sc.host, "h");
    assert_int_equal(sc.port, 8080);
    assert_false(sc.tls);
    assert_int_equal(sc.n, 1);
    assert_int_equal(sc.nstats, 1);
    const scenario_entry_t *e = &sc.entries[0];
    assert_request(e, "GET /path?q=1 HTTP/1.1\r\nHost: h:8080\r\n\r\n");
    assert_string_equal(e->name, "/path?q=1");
    assert_string_equal(e->method, "GET");
    assert_string_equal(sc.stats[0].name, "/path?q=1");
    assert_string_equal(sc.stats[0].method, "GET");
    assert_int_equal(e->stat, 0);
    assert_int_equal(e->weight, 1);
    assert_false(e->head);
    assert_int_equal(e->body_len, 0);
    assert_int_equal(e->timeout_ms, 10000);
    assert_true(load_status_set_has(&e->expect, 302));
    assert_false(load_status_set_has(&e->expect, 404));
    assert_ptr_equal(scenario_pick(&sc, 12345), e);

    config("https://[::1]/", NULL);
    build();
    assert_string_equal(sc.host, "::1");
    assert_int_equal(sc.port, 443);
    assert_true(sc.tls);
    assert_request(&sc.entries[0], "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n");
}

static void test_cli_headers_and_options(void **state)
{
    config("-H", "Accept: image/jpeg", "-H", "host: example.org", "--no-keepalive", "--timeout", "2s",
           "--expect-status", "200,404", "--expect-min-bytes", "10", "-m", "HEAD", "http://h/", NULL);
    build();
    const scenario_entry_t *e = &sc.entries[0];
    assert_request(e,
                   "HEAD / HTTP/1.1\r\nAccept: image/jpeg\r\nhost: example.org\r\nConnection: close\r\n\r\n");
    assert_true(e->head);
    assert_int_equal(e->timeout_ms, 2000);
    assert_int_equal(e->expect_min_bytes, 10);
    assert_true(load_status_set_has(&e->expect, 404));
    assert_false(load_status_set_has(&e->expect, 201));
    /* An explicit Connection header is not doubled. */
    config("-H", "Connection: keep-alive", "--no-keepalive", "http://h/", NULL);
    build();
    assert_request(&sc.entries[0], "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
    /* POST without a body still says how long it is. */
    config("-m", "POST", "http://h/x", NULL);
    build();
    assert_request(&sc.entries[0], "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
}

static void test_cli_bodies(void **state)
{
    config("--json", "{\"a\": 1}", "http://h/api", NULL);
    build();
    assert_request(&sc.entries[0], "POST /api HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                                   "Content-Length: 8\r\n\r\n{\"a\": 1}");
    assert_int_equal(sc.entries[0].body_len, 8);
    /* -m and -H Content-Type win over what the body implies. */
    config("--json", "[]", "-m", "PUT", "-H", "content-type: text/plain", "http://h/", NULL);
    build();
    assert_request(&sc.entries[0],
                   "PUT / HTTP/1.1\r\nHost: h\r\ncontent-type: text/plain\r\nContent-Length: 2\r\n\r\n[]");
    config("--image-url", "http://o/c.jpg", "http://h/magic/imageurl", NULL);
    build();
    assert_request(&sc.entries[0],
                   "POST /magic/imageurl HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                   "Content-Length: 31\r\n\r\n{\"image_url\": \"http://o/c.jpg\"}");

    char path[128];
    snprintf(path, sizeof path, "%s/foobar", dir);
    config("--base64-image", path, "--filename", "3.jpeg", "http://h/magic/base64", NULL);
    build();
    assert_request(&sc.entries[0],
                   "POST /magic/base64 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                   "Content-Length: 43\r\n\r\n{\"filename\": \"3.jpeg\", \"image\": \"Zm9vYmFy\"}");
    config("--body", path, "http://h/", NULL);
    build();
    assert_request(&sc.entries[0], "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\n"
                                   "Content-Length: 6\r\n\r\nfoobar");

    char spec[160];
    snprintf(spec, sizeof spec, "image=@%s/img.jpg", dir);
    config("--multipart", spec, "--multipart", "mode=fs", "http://h/magic/multipart", NULL);
    build();
    struct iovec iov;
    scenario_request(&sc.entries[0], &iov);
    const char *req = iov.iov_base;
    assert_non_null(memmem(req, iov.iov_len, "Content-Type: multipart/form-data; boundary=pixload", 51));
    const char *b = memmem(req, iov.iov_len, "boundary=", 9) + 9;
    size_t blen = strcspn(b, "\r");
    const char *body = memmem(req, iov.iov_len, "\r\n\r\n", 4) + 4;
    assert_int_equal(memcmp(body, "--", 2), 0);
    assert_int_equal(memcmp(body + 2, b, blen), 0);
    assert_int_equal((size_t)(req + iov.iov_len - body), sc.entries[0].body_len);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", sc.entries[0].body_len);
    assert_non_null(memmem(req, iov.iov_len, cl, strlen(cl)));
    assert_non_null(
        memmem(body, sc.entries[0].body_len, "filename=\"img.jpg\"\r\nContent-Type: image/jpeg", 44));

    /* A missing file is reported with its name. */
    config("--body", "/nonexistent/x.bin", "http://h/", NULL);
    scenario_free(&sc);
    assert_int_equal(scenario_build(&sc, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.bin"));
    assert_int_equal(sc.n, 0);
}

static const char full_scenario[] =
    "{\n"
    "  \"defaults\": {\"headers\": {\"X-Run\": \"1\", \"Accept\": \"*/*\"}, \"timeout\": \"3s\"},\n"
    "  \"requests\": [\n"
    "    {\"name\": \"avatar\", \"weight\": 10, \"path\": \"/42\", \"headers\": {\"accept\": "
    "\"image/jpeg\"}},\n"
    "    {\"name\": \"avatar\", \"path\": \"/43\"},\n"
    "    {\"name\": \"avatar\", \"method\": \"HEAD\", \"path\": \"/42\"},\n"
    "    {\"path\": \"/magic/base64\", \"base64_image\": \"foobar\", \"field\": \"encoded_image\",\n"
    "     \"filename\": \"f\\u00e9.jpg\", \"expect_status\": \"200,400\", \"timeout\": 30, \"weight\": 2},\n"
    "    {\"url\": \"http://H:8080/magic/json?x=1\", \"json\": {\"k\": [1, 2, \"\\\"\"]}, \"expect_status\": "
    "201},\n"
    "    {\"name\": \"str\", \"path\": \"/s\", \"json\": \"hi\"},\n"
    "    {\"name\": \"mp\", \"path\": \"/magic/multipart\", \"multipart\": [\"image=@img.jpg\", "
    "\"mode=fs\"],\n"
    "     \"headers\": [\"X-Mode: multi\"], \"expect_min_bytes\": 100},\n"
    "    {\"name\": \"url\", \"path\": \"/magic/imageurl\", \"image_url\": \"http://o/a b.jpg\"},\n"
    "    {\"name\": \"raw\", \"path\": \"/raw\", \"body_file\": \"foobar\", \"method\": \"PUT\"}\n"
    "  ]\n"
    "}\n";

static void test_json_scenario(void **state)
{
    config("-H", "X-Cli: yes", "-H", "X-Run: 0", "http://h:8080/", NULL);
    build_json(full_scenario);
    assert_int_equal(sc.n, 9);
    const scenario_entry_t *e = sc.entries;
    /* Headers: -H first, then the file's defaults (X-Run replaced in place), then the entry's
     * (Accept replaced in place, whatever its case). */
    assert_request(
        &e[0], "GET /42 HTTP/1.1\r\nHost: h:8080\r\nX-Cli: yes\r\nX-Run: 1\r\naccept: image/jpeg\r\n\r\n");
    assert_int_equal(e[0].weight, 10);
    assert_int_equal(e[0].timeout_ms, 3000);
    assert_request(&e[1],
                   "GET /43 HTTP/1.1\r\nHost: h:8080\r\nX-Cli: yes\r\nX-Run: 1\r\nAccept: */*\r\n\r\n");
    /* Same name and method: one stats slot; another method: another slot. */
    assert_int_equal(e[0].stat, e[1].stat);
    assert_int_not_equal(e[2].stat, e[0].stat);
    assert_true(e[2].head);
    assert_request(&e[3],
                   "POST /magic/base64 HTTP/1.1\r\nHost: h:8080\r\nX-Cli: yes\r\nX-Run: 1\r\nAccept: */*\r\n"
                   "Content-Type: application/json\r\nContent-Length: 52\r\n\r\n"
                   "{\"filename\": \"f\xc3\xa9.jpg\", \"encoded_image\": \"Zm9vYmFy\"}");
    assert_string_equal(e[3].name, "/magic/base64");
    assert_int_equal(e[3].timeout_ms, 30000);
    assert_true(load_status_set_has(&e[3].expect, 400));
    assert_false(load_status_set_has(&e[3].expect, 201));
    assert_int_equal(e[3].weight, 2);
    /* A same-origin URL (host case-insensitive) becomes its target; json is verbatim. */
    assert_string_equal(e[4].name, "/magic/json?x=1");
    assert_true(load_status_set_has(&e[4].expect, 201));
    assert_false(load_status_set_has(&e[4].expect, 200));
    struct iovec iov;
    scenario_request(&e[4], &iov);
    static const char want_json[] = "{\"k\": [1, 2, \"\\\"\"]}";
    assert_int_equal(
        memcmp((char *)iov.iov_base + iov.iov_len - (sizeof want_json - 1), want_json, sizeof want_json - 1),
        0);
    scenario_request(&e[5], &iov);
    assert_int_equal(memcmp((char *)iov.iov_base + iov.iov_len - 4, "\"hi\"", 4), 0);
    assert_int_equal(e[6].expect_min_bytes, 100);
    scenario_request(&e[6], &iov);
    assert_non_null(memmem(iov.iov_base, iov.iov_len, "X-Mode: multi\r\n", 15));
    assert_non_null(memmem(iov.iov_base, iov.iov_len, "Content-Type: multipart/form-data; boundary=", 44));
    assert_non_null(memmem(iov.iov_base, iov.iov_len, "\xff\xd8\xff\xe0JPEG", 8));
    scenario_request(&e[7], &iov);
    assert_non_null(memmem(iov.iov_base, iov.iov_len, "{\"image_url\": \"http://o/a b.jpg\"}", 33));
    assert_request(&e[8], "PUT /raw HTTP/1.1\r\nHost: h:8080\r\nX-Cli: yes\r\nX-Run: 1\r\nAccept: */*\r\n"
                          "Content-Type: application/octet-stream\r\nContent-Length: 6\r\n\r\nfoobar");
    /* Slots: avatar GET, avatar HEAD, /magic/base64, /magic/json?x=1, str, mp, url, raw. */
    assert_int_equal(sc.nstats, 8);
    for (size_t i = 0; i < sc.n; i++) {
        assert_string_equal(sc.stats[e[i].stat].name, e[i].name);
        assert_string_equal(sc.stats[e[i].stat].method, e[i].method);
    }
}

static void test_json_list_and_prefix(void **state)
{
    /* A bare list works; the command-line URL's path prefixes every path, as locust's host. */
    config("--expect-status", "2xx", "http://h/api/v1/", NULL);
    build_json("[{\"path\": \"/users\"}, {\"path\": \"/items?x\", \"weight\": 3}]");
    assert_int_equal(sc.n, 2);
    assert_request(&sc.entries[0], "GET /api/v1/users HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(sc.entries[1].name, "/api/v1/items?x");
    assert_false(load_status_set_has(&sc.entries[0].expect, 301)); /* --expect-status is the default */
}

static void test_json_errors(void **state)
{
    config("http://h:8080/", NULL);
    build_json_fails("", "empty");
    build_json_fails("{\"requests\": [", "ends too early");
    build_json_fails("{\"requests\": [}", "invalid JSON");
    build_json_fails("{\"requests\": [{\"path\": \"/\"}]} {}", "unexpected data after");
    build_json_fails("{\"requests\": []} x", "invalid JSON");
    build_json_fails("{\"requests\": []}", "no requests");
    build_json_fails("{\"requets\": []}", "unknown top-level key 'requets'");
    build_json_fails("{\"defaults\": {}}", "expected {\"requests\"");
    build_json_fails("{\"requests\": {}}", "expected {\"requests\"");
    build_json_fails("[1]", "requests[0]: must be an object");
    build_json_fails("[{}]", "requests[0]: needs a 'path'");
    build_json_fails("[{\"path\": \"/\"},\n {\"path\": \"/\", \"metod\": \"GET\"}]",
                     "line 2: requests[1]: unknown key 'metod'");
    build_json_fails("[{\"path\": \"/\", \"url\": \"http://h:8080/\"}]", "give one of 'path' and 'url'");
    build_json_fails("[{\"path\": \"x\"}]", "'path' must start with '/'");
    build_json_fails("[{\"path\": \"/a b\"}]", "percent-encoded");
    build_json_fails("[{\"path\": 5}]", "'path' must be a string");
    build_json_fails("[{\"url\": \"http://other:8080/\"}]", "must be on the command-line URL's server");
    build_json_fails("[{\"url\": \"http://h/\"}]", "must be on the command-line URL's server"); /* port 80 */
    build_json_fails("[{\"url\": \"http://h:8080/a b\"}]", "'url': invalid character");
    build_json_fails("[{\"path\": \"/\", \"weight\": 0}]",
                     "'weight' must be a whole number from 1 to 1000000");
    build_json_fails("[{\"path\": \"/\", \"weight\": 1.5}]", "'weight' must be a whole number");
    build_json_fails("[{\"path\": \"/\", \"weight\": \"2\"}]", "'weight' must be a whole number");
    build_json_fails("[{\"path\": \"/\", \"json\": 1, \"image_url\": \"x\"}]", "give one body");
    build_json_fails("[{\"path\": \"/\", \"field\": \"x\"}]", "'field' only applies to 'base64_image'");
    build_json_fails("[{\"path\": \"/\", \"headers\": {\"Bad Name\": \"x\"}}]", "not a valid token");
    build_json_fails("[{\"path\": \"/\", \"headers\": [\"NoColon\"]}]", "expected 'Name: value'");
    build_json_fails("[{\"path\": \"/\", \"headers\": \"X: 1\"}]", "'headers' must be an object");
    build_json_fails("[{\"path\": \"/\", \"headers\": {\"Content-Length\": \"1\"}}]", "computed by pixload");
    build_json_fails("[{\"path\": \"/\", \"name\": \"a\\qb\"}]", "invalid JSON");
    build_json_fails("[{\"path\": \"/\", \"name\": \"a\\u0000\"}]", "invalid string");
    build_json_fails("[{\"path\": \"/\", \"name\": \"\\ud800\"}]", "invalid string");
    build_json_fails("[{\"path\": \"/\", \"name\": \"\"}]", "'name' must not be empty");
    build_json_fails("[{\"path\": \"/\", \"method\": \"G T\"}]", "not a valid method");
    build_json_fails("[{\"path\": \"/\", \"expect_status\": \"2x\"}]", "invalid status list '2x'");
    build_json_fails("[{\"path\": \"/\", \"expect_status\": 20}]", "'expect_status' must be");
    build_json_fails("[{\"path\": \"/\", \"timeout\": \"soon\"}]", "'timeout': invalid duration 'soon'");
    build_json_fails("[{\"path\": \"/\", \"expect_min_bytes\": -1}]", "'expect_min_bytes' must be");
    build_json_fails("[{\"path\": \"/\", \"body_file\": \"missing.bin\"}]", "missing.bin: No such file");
    build_json_fails("[{\"path\": \"/\", \"multipart\": []}]", "needs 1 to");
    build_json_fails("[{\"path\": \"/\", \"multipart\": [\"novalue\"]}]", "expected name=value");
    build_json_fails("{\"defaults\": {\"weight\": 2}, \"requests\": [{\"path\": \"/\"}]}",
                     "defaults: unknown key 'weight'");
}

static void test_scenario_file(void **state)
{
    write_file("s.json", "{\"requests\": [{\"name\": \"f\", \"path\": \"/f\", \"body_file\": \"foobar\"}]}");
    char path[128];
    snprintf(path, sizeof path, "%s/s.json", dir);
    /* Relative files resolve against the scenario's directory, wherever pixload runs. */
    config("--scenario", path, "http://h/", NULL);
    build();
    assert_int_equal(sc.n, 1);
    assert_request(&sc.entries[0], "POST /f HTTP/1.1\r\nHost: h\r\nContent-Type: "
                                   "application/octet-stream\r\nContent-Length: 6\r\n\r\nfoobar");
    write_file("bad.json", "{\"requests\": [{\"path\": \"/\", \"oops\": 1}]}");
    snprintf(path, sizeof path, "%s/bad.json", dir);
    config("--scenario", path, "http://h/", NULL);
    scenario_free(&sc);
    assert_int_equal(scenario_build(&sc, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad.json: line 1: requests[0]: unknown key 'oops'"));
    config("--scenario", "/nonexistent/s.json", "http://h/", NULL);
    assert_int_equal(scenario_build(&sc, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/s.json"));
}

static void test_pick(void **state)
{
    config("http://h/", NULL);
    build_json("[{\"path\": \"/a\", \"weight\": 1}, {\"path\": \"/b\", \"weight\": 3}, {\"path\": \"/c\", "
               "\"weight\": 6}]");
    assert_ptr_equal(scenario_pick(&sc, 0), &sc.entries[0]);
    assert_ptr_equal(scenario_pick(&sc, UINT64_MAX), &sc.entries[2]);
    uint64_t counts[3] = {0}, state_ = 1;
    enum { N = 200000 };
    for (int i = 0; i < N; i++)
        counts[scenario_pick(&sc, scenario_rand(&state_)) - sc.entries]++;
    static const double want[3] = {0.1, 0.3, 0.6};
    for (int i = 0; i < 3; i++) {
        double got = (double)counts[i] / N;
        if (got < want[i] - 0.01 || got > want[i] + 0.01)
            fail_msg("entry %d picked %.4f of the time, want %.2f", i, got, want[i]);
    }
    /* Exhaustive on the top 32 bits' boundaries: the split is exactly 1:3:6 of 2^32. */
    uint64_t b1 = ((uint64_t)1 << 32) / 10, b2 = ((uint64_t)4 << 32) / 10;
    assert_ptr_equal(scenario_pick(&sc, (b1 - 1) << 32), &sc.entries[0]);
    assert_ptr_equal(scenario_pick(&sc, (b1 + 1) << 32), &sc.entries[1]);
    assert_ptr_equal(scenario_pick(&sc, (b2 - 1) << 32), &sc.entries[1]);
    assert_ptr_equal(scenario_pick(&sc, (b2 + 1) << 32), &sc.entries[2]);
}

static void test_folder_cli(void **state)
{
    char pics[128], arg[160];
    snprintf(pics, sizeof pics, "%s/pics", dir);
    config("--body", pics, "http://h/up", NULL);
    build();
    /* Name order; the hidden file and the subfolder are not sent. */
    assert_int_equal(sc.n, 3);
    assert_int_equal(sc.ngroups, 1);
    assert_int_equal(sc.folder_files, 3);
    assert_int_equal(sc.nstats, 1);
    assert_string_equal(sc.entries[0].file, "a.txt");
    assert_string_equal(sc.entries[2].file, "c.txt");
    assert_request(&sc.entries[1],
                   "POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: 2\r\n\r\nbb");
    uint64_t total = 0;
    for (size_t i = 0; i < sc.n; i++)
        total += sc.entries[i].request_len;
    assert_int_equal(sc.request_bytes, total);

    /* Round-robin: every file in order, per cursor; a second thread starts one file later. */
    scenario_cursor_t c0, c1;
    assert_int_equal(scenario_cursor_init(&c0, &sc, 0), 0);
    assert_int_equal(scenario_cursor_init(&c1, &sc, 1), 0);
    for (int i = 0; i < 7; i++) {
        assert_ptr_equal(scenario_next(&sc, &c0), &sc.entries[i % 3]);
        assert_ptr_equal(scenario_next(&sc, &c1), &sc.entries[(i + 1) % 3]);
    }
    scenario_cursor_free(&c0);
    scenario_cursor_free(&c1);

    /* --per-file: a stats slot per file, named after it. */
    snprintf(arg, sizeof arg, "img=@%s/", pics);
    config("--multipart", "kind=photo", "--multipart", arg, "--per-file", "http://h/m", NULL);
    build();
    assert_int_equal(sc.n, 3);
    assert_int_equal(sc.nstats, 3);
    assert_string_equal(sc.stats[0].name, "/m [a.txt]");
    assert_string_equal(sc.stats[2].name, "/m [c.txt]");
    assert_non_null(memmem(sc.entries[2].request, sc.entries[2].request_len, "filename=\"c.txt\"", 16));
    assert_non_null(memmem(sc.entries[2].request, sc.entries[2].request_len, "\r\n\r\nccc\r\n", 9));
}

static void test_folder_random(void **state)
{
    char pics[128];
    snprintf(pics, sizeof pics, "%s/pics", dir);
    enum { N = 300 };
    size_t first[N];
    for (int run = 0; run < 2; run++) {
        config("--base64-image", pics, "--pick", "random:7", "http://h/", NULL);
        build();
        scenario_cursor_t cur;
        assert_int_equal(scenario_cursor_init(&cur, &sc, 0), 0);
        size_t counts[3] = {0};
        for (int i = 0; i < N; i++) {
            size_t k = (size_t)(scenario_next(&sc, &cur) - sc.entries);
            counts[k]++;
            if (run == 0)
                first[i] = k;
            else if (first[i] != k)
                fail_msg("pick %d differs between two runs with the same seed", i);
        }
        scenario_cursor_free(&cur);
        for (int k = 0; k < 3; k++)
            if (counts[k] < N / 6) fail_msg("file %d picked %zu times of %d", k, counts[k], N);
    }
    assert_non_null(memmem(sc.entries[0].request, sc.entries[0].request_len, "{\"filename\": \"a.txt\"", 20));
}

static void test_folder_json_and_errors(void **state)
{
    config("http://h/", NULL);
    build_json("{\"requests\": [{\"path\": \"/a\", \"weight\": 3}, {\"path\": \"/f\", \"body_file\": \"pics\"}]}");
    assert_int_equal(sc.n, 4);
    assert_int_equal(sc.ngroups, 2);
    assert_int_equal(sc.groups[1].first, 1);
    assert_int_equal(sc.groups[1].n, 3);
    assert_int_equal(sc.nstats, 2);
    /* The group's weight, not its number of files, decides how often it is picked. */
    assert_ptr_equal(scenario_pick(&sc, UINT64_MAX), &sc.entries[1]);
    assert_ptr_equal(scenario_pick(&sc, 0), &sc.entries[0]);

    /* Expected answers by input name, from the scenario's folder. */
    build_json("[{\"path\": \"/f\", \"body_file\": \"pics\", \"check_body\": \"pics\"},"
               " {\"path\": \"/g\", \"check_body\": \"foobar\", \"check_field\": \"img\"}]");
    assert_true(sc.checks);
    assert_int_equal(sc.entries[1].check.mode, CHECK_BODY);
    assert_int_equal(sc.entries[1].check.len, 2); /* pics/b.txt */
    assert_true(check_body(&sc.entries[2].check, "ccc", 3));
    assert_int_equal(sc.entries[3].check.mode, CHECK_FIELD);
    assert_string_equal(sc.entries[3].check.field, "img");
    build_json_fails("[{\"path\": \"/g\", \"check_body\": \"pics\"}]", "needs a body from a folder");
    build_json_fails("[{\"path\": \"/g\", \"check_field\": \"img\"}]", "check_field needs check_body");
    build_json_fails("[{\"path\": \"/g\", \"check_body\": \"sha256:00\"}]", "64 hex digits");
    build_json_fails("[{\"path\": \"/f\", \"body_file\": \"empty\"}]", "a folder without files to send");
    build_json_fails("[{\"path\": \"/f\", \"multipart\": [\"a=@pics\", \"b=@pics/\"]}]",
                     "only one multipart part may name a folder");
    char pics[128];
    snprintf(pics, sizeof pics, "%s/pics", dir);
    config("--body", pics, "--max-body-memory", "100", "http://h/", NULL);
    scenario_free(&sc);
    assert_int_equal(scenario_build(&sc, &cfg, err, sizeof err), -1);
    if (!strstr(err, "more than --max-body-memory")) fail_msg("message: %s", err);
    assert_int_equal(sc.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_cli_get, cleanup),
        cmocka_unit_test_teardown(test_cli_headers_and_options, cleanup),
        cmocka_unit_test_teardown(test_cli_bodies, cleanup),
        cmocka_unit_test_teardown(test_json_scenario, cleanup),
        cmocka_unit_test_teardown(test_json_list_and_prefix, cleanup),
        cmocka_unit_test_teardown(test_json_errors, cleanup),
        cmocka_unit_test_teardown(test_scenario_file, cleanup),
        cmocka_unit_test_teardown(test_pick, cleanup),
        cmocka_unit_test_teardown(test_folder_cli, cleanup),
        cmocka_unit_test_teardown(test_folder_random, cleanup),
        cmocka_unit_test_teardown(test_folder_json_and_errors, cleanup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
