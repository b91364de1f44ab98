#include "load/html.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "load/errmsg.h"

#ifndef PIXD_VERSION
#define PIXD_VERSION "0"
#endif

/* The chart area, in SVG user units (the SVG scales to the page's width). */
#define CW 960
#define CH 260
#define ML 70 /* left margin: the y labels */
#define MR 36 /* right margin: room for the last x label */
#define MT 30
#define MB 40 /* bottom: the x labels */
#define PW (CW - ML - MR)
#define PH (CH - MT - MB)
#define HIST_BINS 60

static const char *const C_P50 = "#2f6fb0", *const C_P95 = "#e29a00", *const C_P99 = "#c8372d",
                         *const C_RPS = "#2f6fb0", *const C_FAIL = "#c8372d", *const C_USERS = "#7a7a7a";

/* ---------------------------------------------------------------- text */

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}


/* 1234567 as "1,234,567". */
static void fmt_count(char *buf, size_t n, uint64_t v)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* A latency in µs for a table: "1.23 ms", "812 µs", "2.50 s". */
static void fmt_lat(char *buf, size_t n, double us)
{
    if (us < 1000)
        snprintf(buf, n, "%.0f µs", us);
    else if (us < 1e6)
        snprintf(buf, n, "%.2f ms", us / 1e3);
    else
        snprintf(buf, n, "%.2f s", us / 1e6);
}

/* A latency on an axis: "500 µs", "2 ms", "1.5 s". */
static void fmt_lat_axis(char *buf, size_t n, double us)
{
    if (us < 1000)
        snprintf(buf, n, "%g µs", us);
    else if (us < 1e6)
        snprintf(buf, n, "%g ms", us / 1e3);
    else
        snprintf(buf, n, "%g s", us / 1e6);
}

/* An axis label: 0.5, 2, 1500, 1.5k. */
static void fmt_axis(char *buf, size_t n, double v)
{
    if (v >= 1e6)
        snprintf(buf, n, "%gM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, n, "%gk", v / 1e3);
    else
        snprintf(buf, n, "%g", v);
}

/* The smallest 1, 2 or 5 times a power of ten that is >= v. */
static double nice_ceil(double v)
{
    if (!(v > 0)) return 1;
    double e = pow(10, floor(log10(v)));
    double f = v / e;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

/* ---------------------------------------------------------------- line charts */

typedef struct {
    const char *label;
    const char *color;
    double *y; /* one per point */
    bool dashed;
} line_t;

static void svg_open(FILE *f, const char *id, const char *title, size_t points)
{
    fprintf(f, "<figure><figcaption>");
    esc(f, title);
    fprintf(f,
            "</figcaption>\n<svg class=\"chart\" id=\"%s\" data-points=\"%zu\" viewBox=\"0 0 %d %d\" "
            "role=\"img\" aria-label=\"",
            id, points, CW, CH);
    esc(f, title);
    fputs("\" xmlns=\"http://www.w3.org/2000/svg\">\n", f);
}

/* Axes: y from 0 to ymax (4 steps), x from 0 to xmax seconds. */
static void svg_axes(FILE *f, double ymax, double xmax, const char *yunit)
{
    for (int k = 0; k <= 4; k++) {
        double y = MT + PH - PH * k / 4.0;
        char lab[32];
        fmt_axis(lab, sizeof lab, ymax * k / 4);
        fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", ML, y, ML + PW, y);
        fprintf(f, "<text class=\"ylab\" x=\"%d\" y=\"%.1f\">%s</text>\n", ML - 6, y + 4, lab);
    }
    fprintf(f, "<text class=\"unit\" x=\"%d\" y=\"%d\">", 4, 14);
    esc(f, yunit);
    fputs("</text>\n", f);
    double step = nice_ceil(xmax / 8);
    if (step < 1) step = 1;
    for (double x = 0; x <= xmax + 1e-9; x += step) {
        double px = ML + (xmax > 0 ? PW * x / xmax : 0);
        fprintf(f, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", px, MT + PH, px, MT + PH + 4);
        fprintf(f, "<text class=\"xlab\" x=\"%.1f\" y=\"%d\">%gs</text>\n", px, MT + PH + 18, x);
    }
    fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", ML, MT + PH, ML + PW, MT + PH);
}

static void svg_legend(FILE *f, const line_t *lines, size_t nlines)
{
    double x = ML + 10;
    for (size_t i = 0; i < nlines; i++) {
        fprintf(f, "<rect x=\"%.0f\" y=\"%d\" width=\"12\" height=\"4\" fill=\"%s\"/>", x, 8, lines[i].color);
        fprintf(f, "<text class=\"legend\" x=\"%.0f\" y=\"%d\">", x + 16, 14);
        esc(f, lines[i].label);
        fputs("</text>", f);
        x += 24 + 8.0 * (double)strlen(lines[i].label);
    }
    fputc('\n', f);
}

/* One chart of lines over the run's time (x[i]: seconds from the start). */
static void line_chart(FILE *f, const char *id, const char *title, const char *yunit, const double *x, size_t n,
                       const line_t *lines, size_t nlines)
{
    double xmax = 1, ymax = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] > xmax) xmax = x[i];
        for (size_t l = 0; l < nlines; l++)
            if (lines[l].y[i] > ymax) ymax = lines[l].y[i];
    }
    ymax = nice_ceil(ymax * 1.05);
    svg_open(f, id, title, n);
    svg_axes(f, ymax, xmax, yunit);
    for (size_t l = 0; l < nlines; l++) {
        fprintf(f, "<polyline class=\"line\" data-label=\"");
        esc(f, lines[l].label);
        fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", lines[l].color,
                lines[l].dashed ? " stroke-dasharray=\"5 4\"" : "");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", ML + PW * x[i] / xmax, MT + PH - PH * lines[l].y[i] / ymax);
        fputs("\"><title>", f);
        esc(f, lines[l].label);
        fputs("</title></polyline>\n", f);
    }
    if (!n) fprintf(f, "<text class=\"empty\" x=\"%d\" y=\"%d\">no per-second data</text>\n", ML + PW / 2, MT + PH / 2);
    svg_legend(f, lines, nlines);
    fputs("</svg></figure>\n", f);
}

/* ---------------------------------------------------------------- the histogram */

static double bucket_mid(const hist_t *h, unsigned i)
{
    uint64_t lo, w;
    hist_bucket_range(i, &lo, &w);
    double v = (double)lo + (double)(w / 2);
    if (v < (double)hist_min(h)) v = (double)hist_min(h);
    if (v > (double)hist_max(h)) v = (double)hist_max(h);
    return v;
}

static void histogram_chart(FILE *f, const hist_t *h)
{
    double lo = h->count ? (double)hist_min(h) : 1, hi = h->count ? (double)hist_max(h) : 1;
    if (lo < 1) lo = 1;
    if (hi < lo) hi = lo;
    double span = log(hi / lo);
    uint64_t bins[HIST_BINS] = {0};
    for (unsigned i = 0; i < HIST_BUCKETS && h->count; i++) {
        if (!h->buckets[i]) continue;
        double v = bucket_mid(h, i);
        int b = span > 0 && v > lo ? (int)(log(v / lo) / span * HIST_BINS) : 0;
        if (b >= HIST_BINS) b = HIST_BINS - 1;
        if (b < 0) b = 0;
        bins[b] += h->buckets[i];
    }
    uint64_t top = 1;
    for (int b = 0; b < HIST_BINS; b++)
        if (bins[b] > top) top = bins[b];
    double ymax = nice_ceil((double)top * 1.05);
    svg_open(f, "chart-histogram", "Latency histogram (requests per latency, log scale)", HIST_BINS);
    for (int k = 0; k <= 4; k++) {
        double y = MT + PH - PH * k / 4.0;
        char lab[32];
        fmt_axis(lab, sizeof lab, ymax * k / 4);
        fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", ML, y, ML + PW, y);
        fprintf(f, "<text class=\"ylab\" x=\"%d\" y=\"%.1f\">%s</text>\n", ML - 6, y + 4, lab);
    }
    fprintf(f, "<text class=\"unit\" x=\"4\" y=\"%d\">requests</text>\n", 14);
    double bw = (double)PW / HIST_BINS;
    for (int b = 0; b < HIST_BINS; b++) {
        if (!bins[b]) continue;
        double from = span > 0 ? lo * exp(span * b / HIST_BINS) : lo, to = span > 0 ? lo * exp(span * (b + 1) / HIST_BINS) : hi;
        double hgt = PH * (double)bins[b] / ymax;
        char a[32], z[32];
        fmt_lat(a, sizeof a, from);
        fmt_lat(z, sizeof z, to);
        fprintf(f,
                "<rect class=\"bar\" data-count=\"%llu\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\"><title>%s – %s: %llu requests</title></rect>\n",
                (unsigned long long)bins[b], ML + bw * b + 0.5, MT + PH - hgt, bw - 1, hgt, C_RPS, a, z,
                (unsigned long long)bins[b]);
    }
    /* x axis: 1-2-5 steps across the range */
    for (double d = pow(10, floor(log10(lo))); d <= hi * 1.0001; d *= 10) {
        static const double m[] = {1, 2, 5};
        for (int k = 0; k < 3; k++) {
            double v = d * m[k];
            if (v < lo * 0.9999 || v > hi * 1.0001) continue;
            double px = ML + (span > 0 ? PW * log(v / lo) / span : 0);
            char lab[32];
            fmt_lat_axis(lab, sizeof lab, v);
            fprintf(f, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", px, MT + PH, px,
                    MT + PH + 4);
            fprintf(f, "<text class=\"xlab\" x=\"%.1f\" y=\"%d\">%s</text>\n", px, MT + PH + 18, lab);
        }
    }
    static const struct {
        double p;
        const char *label;
    } marks[] = {{50, "p50"}, {95, "p95"}, {99, "p99"}};
    const char *colors[] = {C_P50, C_P95, C_P99};
    for (int k = 0; k < 3 && h->count; k++) {
        double v = (double)hist_percentile(h, marks[k].p);
        double px = ML + (span > 0 && v > lo ? PW * log(v / lo) / span : 0);
        fprintf(f,
                "<line class=\"mark\" data-label=\"%s\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" "
                "stroke-dasharray=\"4 3\"/><text class=\"marklab\" x=\"%.1f\" y=\"%d\" fill=\"%s\">%s</text>\n",
                marks[k].label, px, MT, px, MT + PH, colors[k], px + 3, MT + 12 + 12 * k, colors[k], marks[k].label);
    }
    if (!h->count) fprintf(f, "<text class=\"empty\" x=\"%d\" y=\"%d\">no timed requests</text>\n", ML + PW / 2, MT + PH / 2);
    fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", ML, MT + PH, ML + PW, MT + PH);
    fputs("</svg></figure>\n", f);
}

/* ---------------------------------------------------------------- tables */

static void figure(FILE *f, const char *id, const char *label, const char *shown, double raw)
{
    fprintf(f, "<div><dt>%s</dt><dd id=\"%s\" data-value=\"%.17g\">", label, id, raw);
    esc(f, shown);
    fputs("</dd></div>\n", f);
}

static void name_row(FILE *f, const char *method, const char *name, const stats_entry_t *e, double secs, bool agg)
{
    const hist_t *h = &e->latency;
    fprintf(f, "<tr%s data-name=\"", agg ? " class=\"agg\"" : "");
    esc(f, name);
    fputs("\"><td class=\"l\">", f);
    esc(f, method);
    fputs("</td><td class=\"name\">", f);
    esc(f, name);
    fputs("</td>", f);
    char b[48];
    fmt_count(b, sizeof b, e->requests);
    fprintf(f, "<td data-value=\"%llu\">%s</td>", (unsigned long long)e->requests, b);
    fmt_count(b, sizeof b, e->failures);
    fprintf(f, "<td data-value=\"%llu\">%s</td>", (unsigned long long)e->failures, b);
    fprintf(f, "<td>%.2f%%</td>", e->requests ? 100.0 * (double)e->failures / (double)e->requests : 0.0);
    double lat[] = {hist_mean(h),
                    (double)hist_min(h),
                    (double)hist_percentile(h, 50),
                    (double)hist_percentile(h, 95),
                    (double)hist_percentile(h, 99),
                    (double)hist_max(h)};
    for (size_t i = 0; i < sizeof lat / sizeof *lat; i++) {
        fmt_lat(b, sizeof b, lat[i]);
        fprintf(f, "<td data-value=\"%.17g\">%s</td>", lat[i], h->count ? b : "–");
    }
    double rps = secs > 0 ? (double)e->requests / secs : 0;
    fprintf(f, "<td data-value=\"%.17g\">%.2f</td></tr>\n", rps, rps);
}

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d232a;margin:0;"
    "background:#f4f5f7}\n"
    "main{max-width:1040px;margin:0 auto;padding:20px 24px 40px}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 10px}\n"
    ".sub{color:#59636e;margin:0;word-break:break-all}\n"
    ".verdict{display:inline-block;margin:12px 0 0;padding:4px 12px;border-radius:4px;font-weight:600}\n"
    ".verdict.pass{background:#dff3e4;color:#17612c}.verdict.fail{background:#fbe1df;color:#9b1c14}\n"
    "dl.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:18px 0 0}\n"
    "dl.figures div{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 12px}\n"
    "dt{color:#59636e;font-size:12px;text-transform:uppercase;letter-spacing:.04em}\n"
    "dd{margin:2px 0 0;font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}\n"
    "figure{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:12px 0;padding:10px 12px 4px}\n"
    "figcaption{font-weight:600;margin-bottom:4px}svg.chart{width:100%;height:auto;display:block}\n"
    ".grid{stroke:#e6e9ed}.axis{stroke:#8a939c}.tick{stroke:#8a939c}\n"
    ".ylab{font-size:12px;fill:#59636e;text-anchor:end}.xlab{font-size:12px;fill:#59636e;text-anchor:middle}\n"
    ".unit{font-size:12px;fill:#59636e}.legend{font-size:12px;fill:#1d232a}.marklab{font-size:11px}\n"
    ".empty{font-size:14px;fill:#8a939c;text-anchor:middle}\n"
    "table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e6;font-variant-numeric:"
    "tabular-nums}\n"
    "th,td{padding:5px 8px;border-bottom:1px solid #eceef1;text-align:right;white-space:nowrap}\n"
    "th{background:#f7f8fa;font-size:12px;color:#59636e}td.name,td.expr,th.l,td.l{text-align:left;"
    "white-space:normal;word-break:break-all}\n"
    "tr.agg td{font-weight:600;border-top:2px solid #dde1e6}\n"
    "td.pass{color:#17612c;font-weight:600;text-align:left}td.fail{color:#9b1c14;font-weight:600;text-align:left}\n"
    "footer{color:#8a939c;font-size:12px;margin-top:28px}\n";

/* The JSON document, safe inside <script>: "</" written as "<\/". */
static int embed_json(FILE *f, const report_t *r)
{
    char *doc = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&doc, &len);
    if (!m) return -1;
    int rc = report_json_write(m, r);
    if (fclose(m) != 0) rc = -1;
    if (rc == 0) {
        fputs("<script type=\"application/json\" id=\"pixload-data\">\n", f);
        for (size_t i = 0; i < len; i++) {
            if (doc[i] == '<' && i + 1 < len && doc[i + 1] == '/') {
                fputs("<\\/", f);
                i++;
            } else {
                fputc(doc[i], f);
            }
        }
        fputs("</script>\n", f);
    }
    free(doc);
    return rc;
}

int report_html_write(FILE *f, const report_t *r)
{
    const stats_t *st = r->st;
    const load_config_t *c = r->cfg;
    stats_entry_t *agg = malloc(sizeof *agg);
    if (!agg) return -1;
    stats_aggregate(st, agg);
    const hist_t *lat = &agg->latency;
    double secs = r->duration_s;
    char iso[40], b[64];
    report_iso_time(iso, sizeof iso, r->start_wall);

    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>pixload: ",
          f);
    esc(f, c->url_str);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", css);

    /* header */
    fprintf(f, "<header>\n<h1>pixload report%s</h1>\n<p class=\"sub\" id=\"run\">",
            r->nsources ? ": merged runs" : "");
    esc(f, c->url_str);
    fprintf(f, " · %s · started %s · %.2f s", r->protocol ? r->protocol : report_protocol(c), iso, secs);
    if (r->host && *r->host) {
        fputs(" · ", f);
        esc(f, r->host);
    }
    fprintf(f, " · %u connections%s", c->connections, c->rate > 0 ? "" : " (closed loop)");
    if (c->rate > 0) fprintf(f, " · open loop at %g requests/s", c->rate);
    if (r->aborted)
        fprintf(f, " · <strong>aborted after %.0f s</strong>", r->aborted_at_s);
    else if (r->interrupted)
        fputs(" · <strong>interrupted</strong>", f);
    fputs("</p>\n", f);
    if (r->nthresholds || r->aborted) {
        size_t passed = 0;
        for (size_t i = 0; i < r->nthresholds; i++)
            passed += r->threshold_results[i].pass;
        bool ok = report_thresholds_passed(r);
        fprintf(f, "<p class=\"verdict %s\" id=\"verdict\">%s: %zu of %zu thresholds passed%s</p>\n",
                ok ? "pass" : "fail", ok ? "PASS" : "FAIL", passed, r->nthresholds,
                r->aborted ? " (aborted)" : "");
    }
    fputs("</header>\n", f);

    /* key figures */
    fputs("<dl class=\"figures\" id=\"figures\">\n", f);
    fmt_count(b, sizeof b, agg->requests);
    figure(f, "f-requests", "Requests", b, (double)agg->requests);
    char fb[80];
    fmt_count(b, sizeof b, agg->failures);
    snprintf(fb, sizeof fb, "%s (%.2f%%)", b, agg->requests ? 100.0 * (double)agg->failures / (double)agg->requests : 0.0);
    figure(f, "f-failures", "Failures", fb, (double)agg->failures);
    double rps = secs > 0 ? (double)agg->requests / secs : 0;
    snprintf(b, sizeof b, "%.1f", rps);
    figure(f, "f-rps", "Requests/s", b, rps);
    static const struct {
        const char *id, *label;
        double p;
    } pcts[] = {{"f-p50", "p50", 50}, {"f-p95", "p95", 95}, {"f-p99", "p99", 99}, {"f-max", "max", 100}};
    for (size_t i = 0; i < sizeof pcts / sizeof *pcts; i++) {
        double v = (double)hist_percentile(lat, pcts[i].p);
        fmt_lat(b, sizeof b, v);
        figure(f, pcts[i].id, pcts[i].label, lat->count ? b : "–", v);
    }
    fmt_lat(b, sizeof b, hist_mean(lat));
    figure(f, "f-mean", "mean", lat->count ? b : "–", hist_mean(lat));
    snprintf(b, sizeof b, "%.2f s", secs);
    figure(f, "f-duration", "Duration", b, secs);
    fputs("</dl>\n", f);

    /* thresholds */
    if (r->nthresholds) {
        fputs("<h2>Thresholds</h2>\n<table id=\"thresholds\">\n<tr><th class=\"l\">verdict</th><th class=\"l\">"
              "threshold</th><th>measured</th></tr>\n",
              f);
        for (size_t i = 0; i < r->nthresholds; i++) {
            const threshold_t *t = &r->thresholds[i];
            const threshold_result_t *res = &r->threshold_results[i];
            char label[32], v[48];
            threshold_metric_label(t, label, sizeof label);
            if (res->has_value)
                threshold_format_value(t, res->value, v, sizeof v);
            else
                snprintf(v, sizeof v, "n/a");
            fprintf(f, "<tr data-pass=\"%s\"><td class=\"%s\">%s</td><td class=\"expr\">",
                    res->pass ? "true" : "false", res->pass ? "pass" : "fail", res->pass ? "PASS" : "FAIL");
            esc(f, t->expr);
            fprintf(f, "</td><td data-value=\"%.17g\">%s = %s</td></tr>\n", res->has_value ? res->value : 0, label, v);
        }
        fputs("</table>\n", f);
        if (r->aborted) {
            fprintf(f, "<p id=\"aborted\">Aborted after %.0f s: threshold <code>", r->aborted_at_s);
            esc(f, r->abort_expr ? r->abort_expr : "?");
            fputs("</code> failed on the running totals (--abort-on-fail).</p>\n", f);
        }
    }

    /* charts */
    fputs("<h2>Over time</h2>\n", f);
    size_t n = r->series ? r->series->n : 0;
    double *buf = calloc(7 * (n ? n : 1), sizeof *buf);
    hist_t *w = malloc(sizeof *w);
    if (!buf || !w) {
        free(buf);
        free(w);
        free(agg);
        return -1;
    }
    double *x = buf, *rq = buf + n, *fl = buf + 2 * n, *p50 = buf + 3 * n, *p95 = buf + 4 * n, *p99 = buf + 5 * n,
           *users = buf + 6 * n;
    bool any_users = false;
    for (size_t i = 0; i < n; i++) {
        const series_point_t *p = &r->series->p[i];
        double dt = p->dt > 0 ? p->dt : 1;
        x[i] = p->t - r->start_wall;
        if (x[i] < 0) x[i] = 0;
        rq[i] = (double)p->requests / dt;
        fl[i] = (double)p->failures / dt;
        series_point_hist(p, w);
        p50[i] = (double)hist_percentile(w, 50) / 1e3;
        p95[i] = (double)hist_percentile(w, 95) / 1e3;
        p99[i] = (double)hist_percentile(w, 99) / 1e3;
        users[i] = p->users;
        any_users |= p->users != c->connections;
    }
    line_t l_rps[] = {{"requests/s", C_RPS, rq, false}, {"users", C_USERS, users, true}};
    line_chart(f, "chart-rps", "Requests per second", "req/s", x, n, l_rps, any_users ? 2 : 1);
    line_t l_lat[] = {{"p50", C_P50, p50, false}, {"p95", C_P95, p95, false}, {"p99", C_P99, p99, false}};
    line_chart(f, "chart-latency", "Latency per second: p50, p95, p99", "ms", x, n, l_lat, 3);
    line_t l_fail[] = {{"failures/s", C_FAIL, fl, false}};
    line_chart(f, "chart-errors", "Failures per second", "fail/s", x, n, l_fail, 1);
    free(buf);
    free(w);
    fputs("<h2>Latency distribution</h2>\n", f);
    histogram_chart(f, lat);

    /* per name */
    fputs("<h2>Requests by name</h2>\n<table id=\"names\">\n<tr><th class=\"l\">method</th><th class=\"l\">name</th>"
          "<th>requests</th><th>failures</th><th>fail %</th><th>mean</th><th>min</th><th>p50</th><th>p95</th>"
          "<th>p99</th><th>max</th><th>req/s</th></tr>\n",
          f);
    for (size_t i = 0; i < st->n; i++)
        name_row(f, r->sc->stats[i].method, r->sc->stats[i].name, &st->entries[i], secs, false);
    name_row(f, "", "Aggregated", agg, secs, true);
    fputs("</table>\n", f);

    /* failures by kind */
    if (agg->failures) {
        fputs("<h2>Failures by kind</h2>\n<table id=\"failures\">\n<tr><th class=\"l\">kind</th><th>count</th></tr>\n",
              f);
        for (int k = 0; k < STATS_ERR_KINDS; k++) {
            if (!agg->errors[k]) continue;
            fmt_count(b, sizeof b, agg->errors[k]);
            fprintf(f, "<tr><td class=\"l\">%s</td><td data-value=\"%llu\">%s</td></tr>\n", stats_err_name((stats_err_t)k),
                    (unsigned long long)agg->errors[k], b);
        }
        fputs("</table>\n", f);
    }

    /* the runs merged */
    if (r->nsources) {
        fputs("<h2>Runs merged</h2>\n<table id=\"sources\">\n<tr><th class=\"l\">file</th><th class=\"l\">host</th>"
              "<th>started</th><th>duration</th><th>requests</th></tr>\n",
              f);
        for (size_t i = 0; i < r->nsources; i++) {
            const report_source_t *s = &r->sources[i];
            report_iso_time(iso, sizeof iso, s->start_wall);
            fputs("<tr><td class=\"l\">", f);
            esc(f, s->file ? s->file : "");
            fputs("</td><td class=\"l\">", f);
            esc(f, s->host ? s->host : "");
            fmt_count(b, sizeof b, s->requests);
            fprintf(f, "</td><td>%s</td><td>%.2f s</td><td data-value=\"%llu\">%s</td></tr>\n", iso, s->duration_s,
                    (unsigned long long)s->requests, b);
        }
        fputs("</table>\n", f);
    }

    fputs("<footer>pixload " PIXD_VERSION ". Latencies from a log-bucketed histogram (within 0.79 %); per-second "
          "figures over the run's one-second windows. The figures are also in the JSON below (#pixload-data).</footer>\n",
          f);
    fputs("</main>\n", f);
    int rc = embed_json(f, r);
    fputs("</body>\n</html>\n", f);
    free(agg);
    return rc;
}

int report_html(const report_t *r, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) return errmsg_set(err, errlen, "--html: %s: %s", path, strerror(errno));
    int rc = report_html_write(f, r);
    if (rc != 0) {
        fclose(f);
        return errmsg_set(err, errlen, "--html: out of memory");
    }
    if (fflush(f) != 0 || ferror(f)) rc = errmsg_set(err, errlen, "--html: %s: write error", path);
    if (fclose(f) != 0 && rc == 0) rc = errmsg_set(err, errlen, "--html: %s: %s", path, strerror(errno));
    return rc;
}
