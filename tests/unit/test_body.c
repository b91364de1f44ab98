/* body builders: JSON with base64 (RFC 4648 vectors; string escaping is test_json.c's),
 * {"image_url"}, files, multipart byte-exact against a hand-built reference and parsed back
 * by Python's email package and python-multipart (the parser Starlette/FastAPI use), part
 * specs, type guessing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/multipart.h"
#include "load/body.h"

static char dir[64];
static char err[512];

/* A fake JPEG whose data holds CR, LF, "--" and NUL: what a naive multipart writer breaks. */
static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I',  'F',  0x00,
                                     '\r', '\n', '-',  '-',  '\r', '\n', '-', '-', 0x00, 0xFF, 0xD9};
static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n',
                                    0,    0,   0,   13,  'I',  'H',  'D',  'R'};

static void write_file(const char *name, const void *data, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/pixload-test-body-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    write_file("cat.jpg", jpeg, sizeof jpeg);
    write_file("x.png", png, sizeof png);
    write_file("foobar", "foobar", 6);
    write_file("empty", "", 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void assert_body(const body_t *b, const char *want)
{
    if (b->len != strlen(want) || memcmp(b->data, want, b->len) != 0)
        fail_msg("body\n  got  %.*s\n  want %s", (int)b->len, b->data, want);
}

static void test_base64_vectors(void **state)
{
    /* RFC 4648 section 10, through the whole builder. */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        char name[32], want[128];
        snprintf(name, sizeof name, "v%zu", i);
        write_file(name, in[i], strlen(in[i]));
        body_t b;
        assert_int_equal(body_base64_image(&b, dir, name, NULL, NULL, err, sizeof err), 0);
        snprintf(want, sizeof want, "{\"filename\": \"%s\", \"image\": \"%s\"}", name, out[i]);
        assert_body(&b, want);
        assert_string_equal(b.content_type, "application/json");
        body_free(&b);
    }
}

static void test_base64_image_options(void **state)
{
    body_t b;
    char path[256];
    snprintf(path, sizeof path, "%s/foobar", dir);
    /* Absolute path: dir is ignored; filename defaults to the basename. */
    assert_int_equal(body_base64_image(&b, "/nonexistent", path, NULL, NULL, err, sizeof err), 0);
    assert_body(&b, "{\"filename\": \"foobar\", \"image\": \"Zm9vYmFy\"}");
    body_free(&b);
    assert_int_equal(body_base64_image(&b, dir, "foobar", "encoded_image", "3.jpeg", err, sizeof err), 0);
    assert_body(&b, "{\"filename\": \"3.jpeg\", \"encoded_image\": \"Zm9vYmFy\"}");
    body_free(&b);
    /* The filename is JSON-escaped (quotes, backslashes, controls); UTF-8 passes through. */
    assert_int_equal(body_base64_image(&b, dir, "foobar", NULL, "a\"b\\c\n\x01\xc3\xa9.jpg", err, sizeof err),
                     0);
    assert_body(&b, "{\"filename\": \"a\\\"b\\\\c\\n\\u0001\xc3\xa9.jpg\", \"image\": \"Zm9vYmFy\"}");
    body_free(&b);
    assert_int_equal(body_base64_image(&b, dir, "foobar", NULL, "bad\xff.jpg", err, sizeof err), -1);
    assert_non_null(strstr(err, "not valid UTF-8"));
    assert_null(b.data);
    assert_int_equal(body_base64_image(&b, dir, "missing.jpg", NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing.jpg"));
    assert_non_null(strstr(err, "No such file"));
}

static void test_image_url_and_json(void **state)
{
    body_t b;
    assert_int_equal(body_image_url(&b, "http://origin:8000/cat.jpg?a=\"1\"", err, sizeof err), 0);
    assert_body(&b, "{\"image_url\": \"http://origin:8000/cat.jpg?a=\\\"1\\\"\"}");
    assert_string_equal(b.content_type, "application/json");
    body_free(&b);
    /* --json is sent verbatim, even when it is not JSON (testing a server's 400 path). */
    assert_int_equal(body_json(&b, "{not json", 9, err, sizeof err), 0);
    assert_body(&b, "{not json");
    assert_string_equal(b.content_type, "application/json");
    body_free(&b);
    assert_int_equal(body_json(&b, "", 0, err, sizeof err), 0);
    assert_int_equal(b.len, 0);
    body_free(&b);
}

static void test_from_file(void **state)
{
    body_t b;
    assert_int_equal(body_from_file(&b, dir, "cat.jpg", err, sizeof err), 0);
    assert_int_equal(b.len, sizeof jpeg);
    assert_memory_equal(b.data, jpeg, sizeof jpeg);
    assert_string_equal(b.content_type, "image/jpeg");
    body_free(&b);
    assert_int_equal(body_from_file(&b, dir, "foobar", err, sizeof err), 0);
    assert_string_equal(b.content_type, "application/octet-stream");
    body_free(&b);
    assert_int_equal(body_from_file(&b, dir, "empty", err, sizeof err), 0);
    assert_int_equal(b.len, 0);
    assert_null(b.data);
    body_free(&b);
    assert_int_equal(body_from_file(&b, NULL, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "is a directory"));
    assert_int_equal(body_from_file(&b, dir, "nope", err, sizeof err), -1);
    assert_non_null(strstr(err, "nope: No such file"));
}

static void test_guess_type(void **state)
{
    assert_string_equal(body_guess_type(jpeg, sizeof jpeg), "image/jpeg");
    assert_string_equal(body_guess_type(png, sizeof png), "image/png");
    assert_string_equal(body_guess_type("GIF89a....", 10), "image/gif");
    assert_string_equal(body_guess_type("GIF87a", 6), "image/gif");
    assert_string_equal(body_guess_type("RIFF\0\0\0\0WEBPVP8 ", 16), "image/webp");
    assert_string_equal(body_guess_type("RIFF\0\0\0\0WAVE", 12), "application/octet-stream");
    assert_string_equal(body_guess_type("BM\0\0", 4), "image/bmp");
    assert_string_equal(body_guess_type("II*\0", 4), "image/tiff");
    assert_string_equal(body_guess_type("MM\0*", 4), "image/tiff");
    assert_string_equal(body_guess_type("\xFF\xD8", 2), "application/octet-stream");
    assert_string_equal(body_guess_type("", 0), "application/octet-stream");
}

static void test_part_parse(void **state)
{
    body_part_t p;
    assert_int_equal(body_part_parse(&p, "image=@a/b.jpg;type=image/jpeg;filename=c.jpg", err, sizeof err),
                     0);
    assert_string_equal(p.name, "image");
    assert_string_equal(p.path, "a/b.jpg");
    assert_string_equal(p.type, "image/jpeg");
    assert_string_equal(p.filename, "c.jpg");
    assert_null(p.value);
    body_part_free(&p);
    assert_int_equal(body_part_parse(&p, "mode=a=b;c", err, sizeof err), 0);
    assert_string_equal(p.name, "mode");
    assert_string_equal(p.value, "a=b;c");
    body_part_free(&p);
    assert_int_equal(body_part_parse(&p, "empty=", err, sizeof err), 0);
    assert_string_equal(p.value, "");
    body_part_free(&p);
    static const char *const bad[] = {"",          "=v",          "name",           "f=@",
                                      "f=@x;type", "f=@x;size=3", "f=@x;filename=", "f=@x;type=a\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (body_part_parse(&p, bad[i], err, sizeof err) == 0) fail_msg("'%s' accepted", bad[i]);
        assert_null(p._buf);
    }
}

/* Runs Python's two multipart parsers on body and checks the parts against the expected
 * ones given as arguments: name, filename ("-" = none), type ("-" = none), data file. */
static const char py_check[] =
    "import sys, email, email.policy\n"
    "from multipart.multipart import MultipartParser, parse_options_header\n"
    "body = open(sys.argv[1], 'rb').read(); ctype = sys.argv[2]\n"
    "want = [sys.argv[i:i + 4] for i in range(3, len(sys.argv), 4)]\n"
    "want = [(n, None if f == '-' else f, None if t == '-' else t, open(d, 'rb').read()) for n, f, t, d in "
    "want]\n"
    "msg = email.message_from_bytes(b'Content-Type: ' + ctype.encode() + b'\\r\\n\\r\\n' + body,\n"
    "                               policy=email.policy.HTTP)\n"
    "assert msg.defects == [], msg.defects\n"
    "got = [(p.get_param('name', header='content-disposition'), p.get_filename(),\n"
    "        p['content-type'], p.get_payload(decode=True)) for p in msg.iter_parts()]\n"
    "assert got == want, ('email', got, want)\n"
    "_, params = parse_options_header(ctype)\n"
    "parts, cur = [], {}\n"
    "def begin(): cur.clear(); cur.update(h={}, d=b'', f=b'')\n"
    "def hfield(b, s, e): cur['f'] += b[s:e]\n"
    "def hvalue(b, s, e): cur['h'][cur['f'].lower()] = cur['h'].get(cur['f'].lower(), b'') + b[s:e]\n"
    "def hend(): cur['f'] = b''\n"
    "def data(b, s, e): cur['d'] += b[s:e]\n"
    "def end():\n"
    "    _, o = parse_options_header(cur['h'][b'content-disposition'])\n"
    "    fn = o.get(b'filename'); ct = cur['h'].get(b'content-type')\n"
    "    parts.append((o[b'name'].decode(), fn and fn.decode(), ct and ct.decode(), cur['d']))\n"
    "p = MultipartParser(params[b'boundary'], {'on_part_begin': begin, 'on_header_field': hfield,\n"
    "    'on_header_value': hvalue, 'on_header_end': hend, 'on_part_data': data, 'on_part_end': end})\n"
    "p.write(body); p.finalize()\n"
    "assert parts == want, ('python-multipart', parts, want)\n";

static void python_check(const body_t *b, const char *const *expect, size_t nexpect)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import multipart.multipart' 2>/dev/null") != 0) {
        print_message("skipping the Python cross-check: no /usr/bin/python3 with python3-multipart\n");
        return;
    }
    char body_path[128], script[128];
    snprintf(body_path, sizeof body_path, "%s/body.bin", dir);
    snprintf(script, sizeof script, "%s/check.py", dir);
    FILE *f = fopen(body_path, "wb");
    assert_non_null(f);
    fwrite(b->data, 1, b->len, f);
    fclose(f);
    f = fopen(script, "w");
    assert_non_null(f);
    fputs(py_check, f);
    fclose(f);
    const char *ct = strstr(b->content_type, "multipart/");
    assert_non_null(ct);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *argv[64] = {"/usr/bin/python3", script, body_path, b->content_type};
        size_t n = 4;
        for (size_t i = 0; i < nexpect; i++)
            argv[n++] = expect[i];
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("Python's parsers disagree with the multipart body (exit %d)", WEXITSTATUS(status));
}

/* pixd's own parser (src/http/multipart.h) must read what pixload writes. */
static void pixd_check(const body_t *b, size_t nparts, const char *const *names, const char *const *filenames)
{
    const char *v = b->content_type, *bd;
    size_t blen, got;
    assert_int_equal(multipart_boundary(v, strlen(v), &bd, &blen), 0);
    multipart_part_t parts[8];
    assert_int_equal(multipart_parse((const uint8_t *)b->data, b->len, bd, blen, parts, 8, &got),
                     MULTIPART_OK);
    assert_int_equal(got, nparts);
    for (size_t i = 0; i < nparts; i++) {
        assert_int_equal(parts[i].name_len, strlen(names[i]));
        assert_memory_equal(parts[i].name, names[i], parts[i].name_len);
        if (filenames[i]) {
            assert_non_null(parts[i].filename);
            assert_int_equal(parts[i].filename_len, strlen(filenames[i]));
            assert_memory_equal(parts[i].filename, filenames[i], parts[i].filename_len);
        } else {
            assert_null(parts[i].filename);
        }
    }
    assert_int_equal(parts[0].data_len, sizeof jpeg);
    assert_memory_equal(parts[0].data, jpeg, sizeof jpeg);
}

static void test_multipart_exact(void **state)
{
    body_part_t parts[3];
    assert_int_equal(body_part_parse(&parts[0], "image=@cat.jpg", err, sizeof err), 0);
    assert_int_equal(body_part_parse(&parts[1], "mode=fs", err, sizeof err), 0);
    assert_int_equal(body_part_parse(&parts[2], "doc=@x.png;type=application/x-custom;filename=my\"file.png",
                                     err, sizeof err),
                     0);
    body_t b;
    assert_int_equal(body_multipart(&b, dir, parts, 3, "BOUNDARY42", err, sizeof err), 0);
    assert_string_equal(b.content_type, "multipart/form-data; boundary=BOUNDARY42");

    /* The reference, written out by hand from RFC 7578. */
    static const char head1[] = "--BOUNDARY42\r\n"
                                "Content-Disposition: form-data; name=\"image\"; filename=\"cat.jpg\"\r\n"
                                "Content-Type: image/jpeg\r\n"
                                "\r\n";
    static const char mid[] = "\r\n"
                              "--BOUNDARY42\r\n"
                              "Content-Disposition: form-data; name=\"mode\"\r\n"
                              "\r\n"
                              "fs\r\n"
                              "--BOUNDARY42\r\n"
                              "Content-Disposition: form-data; name=\"doc\"; filename=\"my%22file.png\"\r\n"
                              "Content-Type: application/x-custom\r\n"
                              "\r\n";
    static const char tail[] = "\r\n--BOUNDARY42--\r\n";
    size_t n = sizeof head1 - 1 + sizeof jpeg + sizeof mid - 1 + sizeof png + sizeof tail - 1;
    unsigned char *want = malloc(n), *w = want;
    memcpy(w, head1, sizeof head1 - 1), w += sizeof head1 - 1;
    memcpy(w, jpeg, sizeof jpeg), w += sizeof jpeg;
    memcpy(w, mid, sizeof mid - 1), w += sizeof mid - 1;
    memcpy(w, png, sizeof png), w += sizeof png;
    memcpy(w, tail, sizeof tail - 1);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);
    free(want);

    char jpath[128], mpath[128], ppath[128];
    snprintf(jpath, sizeof jpath, "%s/cat.jpg", dir);
    snprintf(ppath, sizeof ppath, "%s/x.png", dir);
    snprintf(mpath, sizeof mpath, "%s/mode.txt", dir);
    write_file("mode.txt", "fs", 2);
    const char *expect[] = {"image", "cat.jpg",       "image/jpeg",           jpath, "mode", "-", "-", mpath,
                            "doc",   "my%22file.png", "application/x-custom", ppath};
    python_check(&b, expect, sizeof expect / sizeof *expect);
    const char *names[] = {"image", "mode", "doc"}, *filenames[] = {"cat.jpg", NULL, "my%22file.png"};
    pixd_check(&b, 3, names, filenames);
    body_free(&b);
    for (int i = 0; i < 3; i++)
        body_part_free(&parts[i]);
}

static void test_multipart_derived_boundary(void **state)
{
    body_part_t parts[2];
    assert_int_equal(body_part_parse(&parts[0], "image=@cat.jpg", err, sizeof err), 0);
    assert_int_equal(body_part_parse(&parts[1], "note=line1\r\nline2", err, sizeof err), 0);
    body_t a, b;
    assert_int_equal(body_multipart(&a, dir, parts, 2, NULL, err, sizeof err), 0);
    assert_int_equal(body_multipart(&b, dir, parts, 2, NULL, err, sizeof err), 0);
    /* Deterministic for the same parts. */
    assert_string_equal(a.content_type, b.content_type);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    const char *boundary = strstr(a.content_type, "boundary=") + 9;
    size_t blen = strlen(boundary);
    assert_true(blen >= 16 && blen <= 70);
    assert_int_equal(strncmp(boundary, "pixload", 7), 0);
    /* The body opens with it and closes with it. */
    assert_int_equal(memcmp(a.data, "--", 2), 0);
    assert_int_equal(memcmp(a.data + 2, boundary, blen), 0);
    assert_int_equal(memcmp(a.data + a.len - blen - 4, boundary, blen), 0);
    assert_int_equal(memcmp(a.data + a.len - 4, "--\r\n", 4), 0);
    body_free(&b);

    /* Different content, different boundary. */
    body_part_t other;
    assert_int_equal(body_part_parse(&other, "image=@x.png", err, sizeof err), 0);
    assert_int_equal(body_multipart(&b, dir, &other, 1, NULL, err, sizeof err), 0);
    assert_string_not_equal(a.content_type, b.content_type);
    body_free(&b);
    body_part_free(&other);

    char jpath[128], npath[128];
    snprintf(jpath, sizeof jpath, "%s/cat.jpg", dir);
    snprintf(npath, sizeof npath, "%s/note.txt", dir);
    write_file("note.txt", "line1\r\nline2", 12);
    const char *expect[] = {"image", "cat.jpg", "image/jpeg", jpath, "note", "-", "-", npath};
    python_check(&a, expect, sizeof expect / sizeof *expect);
    const char *names[] = {"image", "note"}, *filenames[] = {"cat.jpg", NULL};
    pixd_check(&a, 2, names, filenames);
    body_free(&a);
    for (int i = 0; i < 2; i++)
        body_part_free(&parts[i]);
}

static void test_multipart_errors(void **state)
{
    body_part_t p;
    body_t b;
    assert_int_equal(body_multipart(&b, dir, NULL, 0, NULL, err, sizeof err), -1);
    assert_int_equal(body_part_parse(&p, "image=@missing.jpg", err, sizeof err), 0);
    assert_int_equal(body_multipart(&b, dir, &p, 1, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing.jpg"));
    assert_null(b.data);
    body_part_free(&p);
    assert_int_equal(body_part_parse(&p, "a=b", err, sizeof err), 0);
    char longb[80];
    memset(longb, 'x', 71);
    longb[71] = '\0';
    assert_int_equal(body_multipart(&b, dir, &p, 1, longb, err, sizeof err), -1);
    body_part_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_vectors),     cmocka_unit_test(test_base64_image_options),
        cmocka_unit_test(test_image_url_and_json), cmocka_unit_test(test_from_file),
        cmocka_unit_test(test_guess_type),         cmocka_unit_test(test_part_parse),
        cmocka_unit_test(test_multipart_exact),    cmocka_unit_test(test_multipart_derived_boundary),
        cmocka_unit_test(test_multipart_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
