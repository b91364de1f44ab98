/*
 * body: request bodies built once before a run (files, JSON with a base64 image,
 * multipart/form-data, {"image_url": ...}), each with the Content-Type it implies.
 *
 * Every builder fills a body_t that owns its bytes (free with body_free()) and returns 0,
 * or -1 with a one-line message in err. Files are read whole, up to BODY_MAX_FILE bytes.
 * Relative file paths are resolved against `dir` when it is not NULL (the scenario file's
 * directory), else against the working directory.
 * Nothing here is on the hot path: a run serialises each request once (scenario.h) and
 * every connection sends the same bytes.
 */
#ifndef PIXD_LOAD_BODY_H
#define PIXD_LOAD_BODY_H

#include <stdbool.h>
#include <stddef.h>

#define BODY_MAX_FILE (256u << 20)
#define BODY_CONTENT_TYPE_MAX 128

typedef struct {
    char *data; /* malloc'ed, NULL when empty */
    size_t len;
    /* The Content-Type the body implies ("" when none): for multipart it carries the
     * boundary, so the two must travel together. */
    char content_type[BODY_CONTENT_TYPE_MAX];
} body_t;

/* One multipart/form-data part, from a curl-like spec:
 *   "name=value"                                  a text part, value verbatim
 *   "name=@FILE[;type=MIME][;filename=NAME]"      a file part; type defaults to a guess from
 *                                                 the file's first bytes, filename to
 *                                                 FILE's basename
 * The name must be non-empty; FILE ends at the first ';' (paths with ';' cannot be given).
 * The struct owns one copy of the spec (`_buf`) that the pointers point into. */
typedef struct {
    const char *name;
    const char *value;    /* text part: the value; file part: NULL */
    const char *path;     /* file part: the file; text part: NULL */
    const char *type;     /* ;type=, NULL = guess */
    const char *filename; /* ;filename=, NULL = basename of path */
    char *_buf;
} body_part_t;

int body_part_parse(body_part_t *p, const char *spec, char *err, size_t errlen);
void body_part_free(body_part_t *p);

/* FILE's bytes; Content-Type guessed from them (body_guess_type). */
int body_from_file(body_t *b, const char *dir, const char *path, char *err, size_t errlen);
/* The bytes of json verbatim (not validated: sending broken JSON on purpose must stay
 * possible), Content-Type application/json. */
int body_json(body_t *b, const char *json, size_t len, char *err, size_t errlen);
/* {"filename": "<filename>", "<field>": "<base64 of FILE>"}, spaced as Python's
 * json.dumps() writes it; filename NULL = FILE's basename. Content-Type application/json. */
int body_base64_image(body_t *b, const char *dir, const char *path, const char *field, const char *filename,
                      char *err, size_t errlen);
/* {"image_url": "<url>"}, Content-Type application/json. */
int body_image_url(body_t *b, const char *url, char *err, size_t errlen);
/* A multipart/form-data body (RFC 7578) with the parts in order. boundary NULL = one
 * derived from the parts' contents: random-looking, the same for the same parts (so runs and
 * tests are reproducible), and checked not to occur in any part. Names and filenames are
 * written as browsers and curl do: quoted, with '"', CR and LF percent-encoded.
 * Content-Type multipart/form-data; boundary=<boundary>. */
int body_multipart(body_t *b, const char *dir, const body_part_t *parts, size_t nparts, const char *boundary,
                   char *err, size_t errlen);
void body_free(body_t *b);

/* The files a body path stands for: FILE itself, or, when path names a folder, every regular
 * file in it (symlinks followed), in byte order of their names. Names starting with '.' are
 * skipped (editor and OS leftovers: .DS_Store, .swp), so is anything but a regular file
 * (subfolders are not entered, sockets and devices are not read). A folder with no such file
 * is an error. paths[i] is path joined with the file's name (resolved against dir later by the
 * builders above, like path itself); names[i] points at the name inside paths[i]. */
typedef struct {
    char **paths; /* owned */
    const char **names;
    size_t n;
    bool folder; /* path is a folder (even with a single file in it) */
} body_files_t;

int body_files(body_files_t *f, const char *dir, const char *path, char *err, size_t errlen);
void body_files_free(body_files_t *f);

/* The MIME type of data from its magic bytes: image/jpeg, image/png, image/gif,
 * image/webp, image/bmp, image/tiff, else application/octet-stream (image/img_sniff.h's
 * table, shared with pixd). */
const char *body_guess_type(const void *data, size_t len);

#endif
