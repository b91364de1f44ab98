#include "load/units.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int load_parse_number(const char *s, const char **end, double *out)
{
    char *e;
    if (!isdigit((unsigned char)*s) && !(*s == '.' && isdigit((unsigned char)s[1]))) return -1;
    double v = strtod(s, &e);
    if (*e == 'k' || *e == 'K')
        v *= 1e3, e++;
    else if (*e == 'M')
        v *= 1e6, e++;
    if (!(v >= 0) || v > LOAD_MAX_NUMBER) return -1;
    *out = v;
    *end = e;
    return 0;
}

int load_parse_size(const char *s, uint64_t *bytes)
{
    char *end;
    if (!isdigit((unsigned char)*s)) return -1;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'M')
        shift = 20, end++;
    else if (*end == 'G')
        shift = 30, end++;
    if (*end || v == 0 || v > UINT64_MAX >> shift) return -1;
    *bytes = (uint64_t)v << shift;
    return 0;
}

int load_parse_duration_ms(const char *s, uint64_t *ms)
{
    char *end;
    if (!isdigit((unsigned char)*s) && *s != '.') return -1;
    double v = strtod(s, &end);
    double unit;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60e3;
    else if (strcmp(end, "h") == 0)
        unit = 3600e3;
    else
        return -1;
    double r = v * unit;
    if (!(r >= 1) || r > 1000.0 * 3600e3) return -1;
    *ms = (uint64_t)llround(r);
    return 0;
}
