/*
 * csv_headers: prints the header line pixload writes in one of its locust-compatible CSV
 * files, byte for byte (CRLF included), so tests can compare it with what locust writes.
 *
 *   csv_headers stats|stats_history|failures|exceptions
 */
#include <stdio.h>
#include <string.h>

#include "load/report.h"

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        report_csv_file_t which;
    } files[] = {{"stats", REPORT_CSV_STATS},
                 {"stats_history", REPORT_CSV_HISTORY},
                 {"failures", REPORT_CSV_FAILURES},
                 {"exceptions", REPORT_CSV_EXCEPTIONS}};
    for (size_t i = 0; argc == 2 && i < sizeof files / sizeof *files; i++) {
        if (strcmp(argv[1], files[i].name) == 0) {
            report_csv_header(stdout, files[i].which);
            return fflush(stdout) == 0 ? 0 : 1;
        }
    }
    fprintf(stderr, "usage: csv_headers stats|stats_history|failures|exceptions\n");
    return 2;
}
