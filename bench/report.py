#!/usr/bin/python3
"""Turns a bench/run results folder into summary.md, results.json, four charts and index.html.

  report.py DIR            the report of a run
  report.py --verify DIR   DIR/verify.md: each contender's verification (bench/run --verify)

Reads DIR/meta.txt (settings, machine, versions), DIR/contenders.json (each contender's
declaration, bench/contenders.py record), DIR/starts.csv (did each contender start and answer
right), DIR/runs.csv (one row per load run: CPU and times) and each run's figures: pixload's
--json-out file, or ab's / wrk's / h2load's text output in DIR/logs.

Per experiment and contender the table shows medians over the trials with their spread
(bench/stats.py: the range, or from 6 trials a 95 % interval of the median). "reference ÷ this"
compares with the reference contender the folder names (compare_to) or has the same cores and
scheme: req/s, or server CPU time per request when the load generator, not the server, was the
limit (its core >= 90 % busy while the server's was not). Two contenders whose spreads overlap
are called tied. A --target's CPU is unknown: no CPU ratio is printed for it.
"""
import csv
import html
import json
import math
import os
import re
import statistics
import subprocess
import sys
from importlib import metadata

import stats

EXPERIMENTS = {
    "avatars": ("Avatars, a new connection per request",
                "GET /-1, the default avatar, closing the connection after each request: the original "
                "`ab -n 4000 -c 100` test"),
    "avatars-ka": ("Avatars, keep-alive", "GET /-1 on 100 keep-alive connections"),
    "avatars-h2": ("Avatars, HTTP/2", "GET /-1 over TLS with HTTP/2 (ALPN h2): 100 connections, 10 streams each"),
    "base64": ("/magic/base64", "POST JSON `{\"filename\", \"image\": <base64 JPEG>}`, answered with the "
               "black-and-white JPEG in base64 JSON; locust-style users started at a spawn rate"),
    "multipart": ("/magic/multipart", "POST the JPEG as multipart/form-data, answered with the "
                  "black-and-white JPEG"),
    "imageurl": ("/magic/imageurl", "POST `{\"image_url\"}`: the server downloads the JPEG from a local "
                 "nginx origin (on core 0) and answers as /magic/base64"),
}
CHART_LABELS = {"avatars": "avatars (close)", "avatars-ka": "avatars (keep-alive)", "avatars-h2": "avatars (HTTP/2)",
                "base64": "/magic/base64", "multipart": "/magic/multipart", "imageurl": "/magic/imageurl"}
# One colour per contender in every chart, whatever subset ran; the references in reds, others
# not listed from PALETTE in order.
COLORS = {"flask": "#9ecae1", "gunicorn2": "#6baed6", "gunicorn3": "#3182bd", "fastapi": "#a1d99b",
          "fastapi2": "#31a354", "aiohttp": "#fdae6b", "aiohttp2": "#e6550d", "starlette": "#bcbddc",
          "nginx": "#636363", "nginx-tls": "#bdbdbd", "pixd": "#a50f15", "pixd2": "#fb6a4a",
          "pixd-tls": "#67000d"}
PALETTE = ["#756bb1", "#e7ba52", "#8c6d31", "#7b4173", "#17becf", "#bcbd22", "#393b79", "#637939", "#d6616b"]
LOADGEN_BUSY = 90.0   # % busy: core 0, the load generator's, is saturated ...
SERVER_ROOM = 85.0    # ... while core 1, the server's, is below this
WIDE_SPREAD = 1.3     # fastest / slowest trial beyond this is called out
PY_PACKAGES = ["Flask", "Werkzeug", "gunicorn", "fastapi", "uvicorn", "aiohttp", "starlette", "Pillow"]
# contenders.json: every contender's declaration (bench/contenders.py record); set by main().
CONTENDERS = {}


# ---- reading the runs ------------------------------------------------------------------------

def read_meta(out):
    meta = {}
    with open(os.path.join(out, "meta.txt")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            meta[key] = value
    return meta


def ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def from_pixload(path):
    with open(path) as f:
        total = json.load(f)["total"]
    lat, n = total["latency_us"], total["requests"]
    kinds = {k: v for k, v in total.get("errors", {}).items() if v}
    return {"rps": total["requests_per_s"], "requests": n, "failures": total["failures"], "kinds": kinds,
            "p50": lat["percentiles"]["50"] / 1e3 if n else None,
            "p99": lat["percentiles"]["99"] / 1e3 if n else None,
            "mean": lat["mean"] / 1e3 if n else None,
            "content": total["content_bytes"] / n if n else None}


def from_ab(path):
    text = open(path, errors="replace").read()

    def num(pattern):
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else None
    n = int(num(r"^Complete requests:\s+(\d+)") or 0)
    body = num(r"^HTML transferred:\s+(\d+)")
    return {"rps": num(r"^Requests per second:\s+([\d.]+)") or 0.0, "requests": n,
            "failures": int((num(r"^Failed requests:\s+(\d+)") or 0) + (num(r"^Non-2xx responses:\s+(\d+)") or 0)),
            "p50": num(r"^\s+50%\s+(\d+)"), "p99": num(r"^\s+99%\s+(\d+)"),
            "mean": num(r"^Time per request:\s+([\d.]+) \[ms\] \(mean\)$"),
            "content": body / n if body is not None and n else None}


def from_wrk(path):
    text = open(path, errors="replace").read()

    def lat(pattern):
        m = re.search(pattern + r"\s+([\d.]+)(us|ms|s|m)\b", text, re.M)
        return ms(m.group(1), m.group(2)) if m else None
    m = re.search(r"^\s*(\d+) requests in", text, re.M)
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    m2 = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    return {"rps": float(rps.group(1)) if rps else 0.0, "requests": int(m.group(1)) if m else 0,
            "failures": errors + (int(m2.group(1)) if m2 else 0),
            "p50": lat(r"^\s+50%"), "p99": lat(r"^\s+99%"), "mean": lat(r"^\s+Latency"), "content": None}


def from_h2load(path):
    """h2load's figures: no percentiles, its mean "time for request"; bodies from its data bytes."""
    text = open(path, errors="replace").read()
    fin = re.search(r"^finished in [\d.]+m?s, ([\d.]+) req/s", text, re.M)
    req = re.search(r"^requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, "
                    r"(\d+) timeout", text, re.M)
    codes = re.search(r"^status codes: (\d+) 2xx", text, re.M)
    data = re.search(r"\((\d+)\) data", text)
    mean = re.search(r"^time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", text, re.M)
    done = int(req.group(1)) if req else 0
    failures = sum(int(req.group(i)) for i in (3, 4, 5)) + (done - int(codes.group(1)) if codes else 0) if req else 0
    return {"rps": float(fin.group(1)) if fin else 0.0, "requests": done, "failures": max(failures, 0),
            "p50": None, "p99": None, "mean": ms(mean.group(1), mean.group(2)) if mean else None,
            "content": int(data.group(1)) / done if data and done else None}


PARSERS = {"ab": from_ab, "wrk": from_wrk, "h2load": from_h2load}


def share(ticks, hz, seconds):
    """ticks of CPU time as a percentage of one core over seconds."""
    return 100.0 * ticks / hz / seconds if seconds > 0 else 0.0


def read_runs(out, hz):
    runs = []
    with open(os.path.join(out, "runs.csv"), newline="") as f:
        for row in csv.DictReader(f):
            tool, rid = row["tool"], row["id"]
            try:
                if tool == "pixload":
                    m = from_pixload(os.path.join(out, "json", rid + ".json"))
                else:
                    m = PARSERS[tool](os.path.join(out, "logs", rid + ".txt"))
            except (OSError, ValueError, KeyError):
                m = {"rps": 0.0, "requests": 0, "failures": 0, "p50": None, "p99": None, "mean": None, "content": None}
            m.setdefault("kinds", {})
            # pixload's own report of the run (--html), and how it checked the answers' bodies.
            page = os.path.join("html", rid + ".html")
            m["html"] = page if tool == "pixload" and os.path.isfile(os.path.join(out, page)) else None
            m["body_check"] = row.get("body_check") or ""
            # CPU shares are over the time between the counter readings around the run.
            window, load_cpu = float(row["window_s"]), float(row["loadgen_cpu_s"])
            origin, kernel = int(row["origin_ticks"]), int(row["kernel_ticks"])
            # Empty for a --target: its CPU is on another machine or not ours to read.
            server = int(row["server_cpu_us"]) * hz / 1e6 if row["server_cpu_us"] else None
            m.update(trial=int(row["trial"]), contender=row["contender"], experiment=row["experiment"],
                     role=row["role"], tool=tool, id=rid, tw_at_start=int(row["tw_at_start"]),
                     ok=row["exit"] == "0" and m["requests"] > 0, exit=row["exit"])
            m["server_us"] = server * 1e6 / hz / m["requests"] if m["requests"] and server is not None else None
            m["server_pct"] = share(server, hz, window) if server is not None else None
            m["load_pct"] = share(load_cpu * hz, hz, window)
            m["core0_pct"] = share(int(row["core0_busy"]), hz, window)
            m["core1_pct"] = share(int(row["core1_busy"]), hz, window)
            # Process time on the two cores that was not the server's, the load generator's, the
            # origin's or the kernel threads', as a share of the machine: other users' work.
            other = int(row["user_sys"]) - (server or 0) - origin - kernel - load_cpu * hz
            m["foreign_pct"] = max(0.0, share(other, hz, window) / 2)
            # Core 0 (the load generator's) saturated while core 1 (all the server's, or half of
            # it) still had room: the server was not the limit. A target's server is elsewhere:
            # the load generator's own CPU near a whole core says it.
            if server is None:
                m["loadgen_bound"] = m["load_pct"] >= LOADGEN_BUSY
            else:
                m["loadgen_bound"] = m["core0_pct"] >= LOADGEN_BUSY and m["core1_pct"] < SERVER_ROOM
            runs.append(m)
    return runs


def read_starts(out):
    """contender -> (status, detail, magic): ok when every start answered right, else the first
    failure; magic: "exact", "within tolerance" or "" as its verification found."""
    status = {}
    with open(os.path.join(out, "starts.csv"), newline="") as f:
        for row in csv.DictReader(f):
            name = row["contender"]
            magic = row["magic"] or status.get(name, ("", "", ""))[2]
            if row["status"] != "ok" and status.get(name, ("ok",))[0] == "ok":
                status[name] = (row["status"], f"trial {row['trial']}: {row['detail']}", magic)
            status.setdefault(name, ("ok", "", magic))
    return status


# ---- aggregation -----------------------------------------------------------------------------

def med(runs, key):
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if values else None


def aggregate(runs):
    """Medians over the trials of one contender's main runs of one experiment."""
    ok = [r for r in runs if r["ok"]]
    kinds = {}
    for r in runs:
        for k, v in r["kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
    agg = {"trials": len(runs), "trials_ok": len(ok), "tools": sorted({r["tool"] for r in runs}),
           "failures": sum(r["failures"] for r in runs), "failure_kinds": kinds,
           "body_check": sorted({r["body_check"] for r in runs}),
           "html": [(r["trial"], r["html"]) for r in sorted(runs, key=lambda r: r["trial"]) if r["html"]],
           "rps_trials": [round(r["rps"], 1) for r in sorted(ok, key=lambda r: r["trial"])],
           "foreign_pct_max": max((r["foreign_pct"] for r in runs), default=0.0),
           "tw_at_start_max": max((r["tw_at_start"] for r in runs), default=0)}
    for key in ("rps", "p50", "p99", "mean", "content", "requests", "server_us", "server_pct", "load_pct",
                "core0_pct", "core1_pct"):
        agg[key] = med(ok, key)
    # The spreads the headline judges ties by.
    agg["rps_stat"] = stats.summary([r["rps"] for r in ok])
    agg["server_us_stat"] = stats.summary([r["server_us"] for r in ok])
    agg["rps_min"] = min(agg["rps_trials"], default=None)
    agg["rps_max"] = max(agg["rps_trials"], default=None)
    agg["loadgen_bound"] = sum(r["loadgen_bound"] for r in ok) * 2 > len(ok) if ok else False
    return agg


def reference_of(name, results):
    """The reference contender name is compared with (its compare_to, else the one with the same
    cores and scheme, bench/contenders.py), when it was measured."""
    ref = CONTENDERS.get(name, {}).get("reference_of")
    return ref if ref in results and results[ref]["rps"] else None


def compare(name, results):
    """(text, value, kind, tied) of the reference's figure over contender name's: req/s, or CPU per
    request when the load generator was the limit in either run. tied: the two spreads overlap
    (None: one trial, nothing to judge)."""
    c = CONTENDERS.get(name, {})
    if c.get("reference"):
        return ("reference" + (", " + c["reference_label"] if c.get("reference_label") else ""), None, None, None)
    ref = reference_of(name, results)
    this = results[name]
    if ref is None or not this["rps"]:
        return ("–", None, None, None)
    r = results[ref]
    if this["loadgen_bound"] or r["loadgen_bound"]:
        why = "load gen bound" if this["loadgen_bound"] else f"{ref}: load gen bound"
        if this["server_us"] and r["server_us"]:
            v = this["server_us"] / r["server_us"]
            tie = stats.tied(this["server_us_stat"], r["server_us_stat"])
            return (f"{'tied, ' if tie else ''}CPU/req {v:.2f}× vs {ref} ({why})", v, "cpu", tie)
        return (f"{why}; no CPU ratio (server CPU not measured)", None, None, None)
    v = r["rps"] / this["rps"]
    tie = stats.tied(this["rps_stat"], r["rps_stat"])
    return (f"{'tied, ' if tie else ''}{f_ratio(v)} vs {ref}", v, "rps", tie)


# ---- formatting ------------------------------------------------------------------------------

def f_rps(v):
    return "–" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def f_ms(v):
    if v is None:
        return "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def f_int(v):
    return "–" if v is None else f"{v:,.0f}"


def f_pct(v):
    return "–" if v is None else f"{v:.0f} %"


def f_ratio(v):
    return f"{v:.2f}×" if v < 10 else f"{v:.1f}×" if v < 100 else f"{v:.0f}×"


def f_spread(s, fmt):
    """A figure's spread over the trials: lo–hi, marked when it is a 95 % interval."""
    if s["kind"] in ("none", "single"):
        return "–"
    return f"{fmt(s['lo'])}–{fmt(s['hi'])}" + (" (95 %)" if s["kind"] == "interval" else "")


def cores_of(name):
    cores = CONTENDERS.get(name, {}).get("cores")
    return "remote" if CONTENDERS.get(name, {}).get("target") else "core 1" if cores == 1 else "cores 0–1"


class Table:
    def __init__(self, *headers):
        self.headers, self.rows = list(headers), []

    def add(self, *cells):
        self.rows.append([str(c) for c in cells])

    def md(self):
        lines = ["| " + " | ".join(self.headers) + " |", "|" + "---|" * len(self.headers)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def html(self):
        head = "".join(f"<th>{inline_html(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(td(c) for c in row) + "</tr>\n" for row in self.rows)
        return f'<div class="wide"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table></div>'


# Cells right-aligned in HTML: figures, ratios, dashes.
NUMERIC = re.compile(r"^[\d–][\d,.]*( ?(%|×|ms|/ .*)|–.*)?( CPU)?$")


def td(cell):
    return f'<td class="n">{inline_html(cell)}</td>' if NUMERIC.match(cell) else f"<td>{inline_html(cell)}</td>"


def inline_html(text):
    """Markdown's `code`, **bold** and [links](path) in escaped text."""
    s = html.escape(text, quote=False)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', s)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)


def f_failures(a):
    """All trials' failures, by kind where there are any; wrong answers (kind body) stand out."""
    n, kinds = a["failures"], a["failure_kinds"]
    if not n:
        return "0"
    text = f"{n:,} (" + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())) + ")" if kinds else f"{n:,}"
    return f"**{text}: wrong answers**" if kinds.get("body") else text


def f_reports(a):
    """Links to pixload's HTML report of each trial."""
    return " ".join(f"[t{t}]({page})" for t, page in a["html"]) or "–"


# ---- the report ------------------------------------------------------------------------------

class Report:
    """Sections in order, each written both as markdown and as HTML."""

    def __init__(self):
        self.parts = []

    def heading(self, level, text, anchor=None):
        self.parts.append(("h", level, text, anchor))

    def para(self, text):
        self.parts.append(("p", text))

    def bullets(self, items):
        if items:
            self.parts.append(("ul", items))

    def table(self, table):
        self.parts.append(("table", table))

    def image(self, png, svg, alt):
        self.parts.append(("img", png, svg, alt))

    def md(self):
        out = []
        for part in self.parts:
            kind = part[0]
            if kind == "h":
                out.append("#" * part[1] + " " + part[2])
            elif kind == "p":
                out.append(part[1])
            elif kind == "ul":
                out.append("\n".join("- " + item for item in part[1]))
            elif kind == "table":
                out.append(part[1].md())
            elif kind == "img":
                out.append(f"![{part[3]}]({part[1]})")
        return "\n\n".join(out) + "\n"

    def html(self, title):
        out = []
        for part in self.parts:
            kind = part[0]
            if kind == "h":
                anchor = f' id="{part[3]}"' if part[3] else ""
                out.append(f"<h{part[1]}{anchor}>{inline_html(part[2])}</h{part[1]}>")
            elif kind == "p":
                out.append(f"<p>{inline_html(part[1])}</p>")
            elif kind == "ul":
                out.append("<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in part[1]) + "</ul>")
            elif kind == "table":
                out.append(part[1].html())
            elif kind == "img":
                out.append(f'<figure><a href="{part[2]}"><img src="{part[1]}" alt="{html.escape(part[3])}"></a>'
                           f"<figcaption>{html.escape(part[3])} (<a href=\"{part[2]}\">SVG</a>)</figcaption></figure>")
        return HTML_PAGE.format(title=html.escape(title), body="\n".join(out))


HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 1.5em auto;
       max-width: 1250px; padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.6em; }} h2 {{ margin-top: 1.8em; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 0.6em 0; font-variant-numeric: tabular-nums; }}
.wide {{ overflow-x: auto; }}
th, td {{ border: 1px solid #ccc; padding: 3px 7px; text-align: left; white-space: nowrap; font-size: 13px; }}
th {{ background: #f3f3f3; white-space: normal; vertical-align: bottom; }} td.n {{ text-align: right; }}
tbody tr:nth-child(even) {{ background: #fafafa; }}
code {{ background: #f3f3f3; padding: 0 3px; border-radius: 3px; font-size: 0.92em; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; border: 1px solid #eee; }}
figcaption {{ color: #555; font-size: 0.9em; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def versions(meta):
    pkgs = []
    for p in PY_PACKAGES:
        try:
            pkgs.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            pkgs.append(f"{p} missing")
    return (f"{meta['pixd']}, {meta['pixload']}, {meta['wrk']}, {meta['ab']}, {meta['h2load']}; Debian packages: "
            f"{meta['packages']}; Python {sys.version.split()[0]}: " + ", ".join(pkgs)
            + " (each contender's packages: contenders.json; its version: contenders/NAME/command.txt)")


def experiment_table(exp, results, starts, names, tw_wait, tw_max):
    t = Table("contender", "cores", "req/s (median)", "req/s spread", "p50 ms", "p99 ms",
              "mean ms", "content bytes", "requests", "failures (all trials)", "server CPU µs/req (spread)",
              "CPU % server / load gen", "busy % core 0 / 1", "reference ÷ this", "pixload report")
    notes = []
    for name in names:
        status = starts.get(name, ("not run",))[0]
        if name not in results:
            if status != "ok":
                t.add(name, "", f"**{status}**", *[""] * (len(t.headers) - 3))
            continue
        a = results[name]
        if not a["trials_ok"]:  # every trial failed: no figures, and the row says so
            t.add(name, cores_of(name), f"**no trial succeeded** ({a['trials']} run, "
                  f"{a['failures']} failed requests)", *[""] * (len(t.headers) - 3))
            continue
        tool = "" if a["tools"] == ["pixload"] else f" ({'/'.join(a['tools'])})"
        spread = f_spread(a["rps_stat"], f_rps)
        if a["trials_ok"] < a["trials"]:
            spread += f" ({a['trials'] - a['trials_ok']} of {a['trials']} failed)"
        cpu = "–" if a["server_us"] is None else f"{a['server_us']:,.0f}"
        if a["server_us_stat"]["kind"] in ("range", "interval"):
            cpu += f" ({f_spread(a['server_us_stat'], f_int)})"
        ratio = compare(name, results)[0]
        if a["failure_kinds"].get("body"):
            ratio = f"**wrong answers** ({ratio})"
        t.add(name + tool, cores_of(name), f_rps(a["rps"]), spread, f_ms(a["p50"]), f_ms(a["p99"]),
              f_ms(a["mean"]), f_int(a["content"]), f_int(a["requests"]), f_failures(a), cpu,
              f"{f_pct(a['server_pct']).rstrip(' %')} / {a['load_pct']:.0f}",
              f"{a['core0_pct']:.0f} / {a['core1_pct']:.0f}", ratio, f_reports(a))
        if a["rps_min"] and a["rps_max"] and a["rps_max"] / a["rps_min"] > WIDE_SPREAD:
            why = ("a multi-process server: the kernel may hand most connections to one process, see Notes"
                   if CONTENDERS.get(name, {}).get("cores") == 2 else
                   "runs this short are at the mercy of the load generator's core" if a["loadgen_bound"] else "")
            notes.append(f"{name}: trials ranged {f_rps(a['rps_min'])}–{f_rps(a['rps_max'])} req/s "
                         f"({', '.join(f_rps(v) for v in a['rps_trials'])})" + (f": {why}." if why else "."))
        if a["loadgen_bound"]:
            notes.append(f"{name}: the load generator was the limit (its CPU {f_pct(a['load_pct'])} of its core; core 0 "
                         f"{f_pct(a['core0_pct'])} busy, core 1 {f_pct(a['core1_pct'])}): req/s measure the load "
                         "generator; compare server CPU per request" + (
                             "." if a["server_us"] is not None else ", which is not measured for a --target."))
        if tw_wait and a["tw_at_start_max"] >= tw_max:
            notes.append(f"{name}: a run started among {a['tw_at_start_max']:,} TIME_WAIT sockets of earlier runs "
                         "(the bounded wait for them to drain ran out): its figures may be disturbed.")
        if a["failure_kinds"].get("body"):
            notes.append(f"{name}: **{a['failure_kinds']['body']:,} answers differed from Pillow's** under load (failures "
                         "of kind body): its speed is that of wrong answers.")
        if a["failures"]:
            notes.append(f"{name}: {a['failures']:,} failed requests (see csv/*_failures.csv and logs/).")
        if a["foreign_pct_max"] > 5:
            notes.append(f"{name}: up to {a['foreign_pct_max']:.0f} % of the machine was busy with other work during a trial.")
    return t, notes


def body_check_text(results, names):
    """Which contenders' /magic answers were compared with Pillow's under load, and which not."""
    ran = [n for n in names if n in results]
    checked = [n for n in ran if any(results[n]["body_check"])]
    unchecked = [n for n in ran if n not in checked]
    text = ("Answers checked under load: every answer of " + (", ".join(checked) or "none") + " was compared with "
            "Pillow's conversion of the test image (pixload `--check-field encoded_img --check-body`, /magic/multipart "
            "`--check-body`: byte-identical, as their folders declare `magic = \"pillow\"`); a different answer is a "
            "failure of kind body.")
    if unchecked:
        text += (" Not checked under load: " + ", ".join(unchecked) + " (`magic = \"tolerance\"`: its own algorithm, "
                 "whose answers differ from Pillow's by design; checked within the tolerance before the run only).")
    return text


def crosscheck_table(runs):
    """pixload and wrk/ab on the same contender with the same settings, side by side."""
    t = Table("contender", "run", "pixload req/s", "other tool", "other req/s", "other ÷ pixload",
              "pixload p50 / mean ms", "other p50 / mean ms", "pixload CPU", "other CPU")
    pairs = []
    by = {(r["contender"], r["experiment"], r["role"], r["tool"], r["trial"]): r for r in runs}
    for r in runs:
        if r["role"] != "xcheck" or r["tool"] == "pixload":
            continue
        if r["experiment"] == "base64-c":
            mine = by.get((r["contender"], "base64-c", "xcheck", "pixload", r["trial"]))
            label = "/magic/base64, same body file, all connections at once"
        else:
            mine = by.get((r["contender"], r["experiment"], "main", "pixload", r["trial"]))
            label = {"avatars": "avatars, new connection per request", "avatars-ka": "avatars, keep-alive",
                     "avatars-h2": "avatars, HTTP/2"}[r["experiment"]]
        if mine is None:
            continue
        ratio = f"{r['rps'] / mine['rps']:.2f}" if mine["rps"] else "–"
        t.add(r["contender"], label, f_rps(mine["rps"]), r["tool"], f_rps(r["rps"]), ratio,
              f"{f_ms(mine['p50'])} / {f_ms(mine['mean'])}", f"{f_ms(r['p50'])} / {f_ms(r['mean'])}",
              f_pct(mine["load_pct"]), f_pct(r["load_pct"]))
        pairs.append({"contender": r["contender"], "run": r["experiment"], "pixload": summary_of(mine),
                      r["tool"]: summary_of(r)})
    return t, pairs


def summary_of(run):
    keys = ("rps", "requests", "failures", "p50", "p99", "mean", "content", "server_us", "server_pct", "load_pct",
            "core0_pct", "core1_pct", "loadgen_bound", "ok")
    return {k: run[k] for k in keys}


def headline_table(results_by_exp, names, exps):
    t = Table("contender", *[CHART_LABELS[e] for e in exps])
    for name in names:
        if CONTENDERS.get(name, {}).get("reference") or not any(name in results_by_exp[e] for e in exps):
            continue
        cells = []
        for e in exps:
            res = results_by_exp[e]
            if name not in res:
                cells.append("")
                continue
            _, value, kind, tie = compare(name, res)
            if value is None:
                cells.append("–")
                continue
            cell = f_ratio(value) + (" CPU" if kind == "cpu" else "")
            cells.append(f"tied ({cell})" if tie else cell)
        t.add(name, *cells)
    return t


def protocols_table(results_by_exp):
    """Per server that took part in the HTTP/2 experiment: req/s and server CPU per request over
    HTTP/1.1 closing each connection, HTTP/1.1 keep-alive and HTTP/2, side by side."""
    exps = [e for e in ("avatars", "avatars-ka", "avatars-h2") if e in results_by_exp]
    names = [n for n in CONTENDERS if n in results_by_exp.get("avatars-h2", {})]
    if not names:
        return None
    t = Table("server", *[f"{CHART_LABELS[e]} req/s" for e in exps], *[f"{CHART_LABELS[e]} CPU µs/req" for e in exps])
    for n in names:
        got = [results_by_exp[e].get(n) for e in exps]
        t.add(n, *[f_rps(a["rps"]) if a else "" for a in got],
              *[(f_int(a["server_us"]) if a else "") for a in got])
    return t


# ---- latency under load ---------------------------------------------------------------------

STEP = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)ms\s+([\d.]+)ms\s+([\d.]+)%\s+([\d.]+)ms\s+(pass|FAIL|late)\s*$")


def from_maxrate(path):
    """The steps and the verdict of one pixload --find-max-rate run, from its text output."""
    text = open(path, errors="replace").read()
    steps = [{"step": int(m[1]), "offered": float(m[2]), "achieved": float(m[3]), "p50": float(m[4]),
              "p99": float(m[5]), "failed_pct": float(m[6]), "late_p90": float(m[7]), "slo": m[8]}
             for m in (STEP.match(line) for line in text.splitlines()) if m]
    best = re.search(r"^Highest rate under the SLO: ([\d.]+) requests/s(?: \(([\d.]+) broke it)?", text, re.M)
    knee = re.search(r"^Knee of the latency curve: about ([\d.]+)", text, re.M)
    late = re.search(r"^pixload could not keep the schedule at ([\d.]+)", text, re.M)
    return {"steps": steps, "max_rate": float(best[1]) if best else None,
            "broke_at": float(best[2]) if best and best[2] else None,
            "knee": float(knee[1]) if knee else None, "generator_late_at": float(late[1]) if late else None}


def read_latency(out, names):
    """{experiment: {contender: from_maxrate(...) with its file}} of DIR/latency/EXP-NAME.txt."""
    found = {}
    ldir = os.path.join(out, "latency")
    for exp in ("avatars-ka", "base64"):
        for n in names:
            path = os.path.join(ldir, f"{exp}-{n}.txt")
            if os.path.isfile(path):
                found.setdefault(exp, {})[n] = dict(from_maxrate(path), file=f"latency/{exp}-{n}.txt")
    return found


def latency_table(latency, results_by_exp):
    t = Table("experiment", "contender", "max req/s under the SLO", "closed-loop req/s (median)",
              "max under SLO ÷ closed loop", "knee req/s", "steps", "limit", "output")
    for exp, by_name in latency.items():
        for n, r in by_name.items():
            closed = results_by_exp.get(exp, {}).get(n, {}).get("rps")
            best = r["max_rate"]
            if r["generator_late_at"] is not None:
                limit = f"pixload could not keep the schedule at {f_rps(r['generator_late_at'])}/s"
            elif best is None:
                limit = "no rate tried met the SLO" if r["steps"] else "**no steps** (see its output)"
            elif r["broke_at"] is None:
                limit = "no step broke it: the highest tried"
            else:
                limit = f"broke at {f_rps(r['broke_at'])}/s"
            t.add(CHART_LABELS[exp], n, f_rps(best), f_rps(closed),
                  f_ratio(best / closed) if best and closed else "–", f_rps(r["knee"]), str(len(r["steps"])),
                  limit, f"[text]({r['file']})")
    return t


def draw_latency_charts(out, latency, slo):
    """Per experiment: p50 and p99 against the offered rate, one colour per contender (the hockey
    stick), log-scaled latency, the p99 SLO (from slo, bench/run's --slo expressions) as a line;
    PNG and SVG."""
    m = re.search(r"\bp99<=?([\d.]+)ms\b", slo)
    slo_ms = float(m[1]) if m else None
    cdir = os.path.join(out, "charts")
    drawn = []
    for exp, by_name in latency.items():
        names = [n for n in by_name if by_name[n]["steps"]]
        if not names:
            continue
        fname = f"latency_{exp}"
        plot = []
        for i, n in enumerate(names):
            dat = os.path.join(cdir, f"{fname}-{n}.dat")
            with open(dat, "w") as f:
                f.write("offered\tp50\tp99\n")
                for st in sorted(by_name[n]["steps"], key=lambda st: st["offered"]):
                    f.write(f"{st['offered']:.6g}\t{max(st['p50'], 0.001):.6g}\t{max(st['p99'], 0.001):.6g}\n")
            color = COLORS.get(n) or PALETTE[i % len(PALETTE)]
            plot.append(f"'{dat}' using 1:3 with linespoints lw 2 pt 7 lc rgb '{color}' title '{n} p99'")
            plot.append(f"'{dat}' using 1:2 with linespoints lw 1 dt 2 pt 6 lc rgb '{color}' title '{n} p50'")
        lines = ["set datafile separator '\\t'", "set key autotitle columnhead",
                 f"set title 'Latency under load, {CHART_LABELS[exp]}: p50 and p99 against the offered rate' font ',13'",
                 "set xlabel 'offered requests/s (open loop)'", "set ylabel 'milliseconds (log scale)'",
                 "set logscale y", "set grid xtics ytics lc rgb '#dddddd'", "set border 3", "set xtics nomirror",
                 "set ytics nomirror", "set key outside right top vertical", "set xrange [0:*]",
                 "plot " + ", \\\n  ".join(plot)]
        if slo_ms:
            lines[-1:-1] = [f"set arrow from graph 0, first {slo_ms:g} to graph 1, first {slo_ms:g} nohead dt 3 "
                            "lc rgb '#999999'",
                            f"set label 'SLO p99 {slo_ms:g} ms' at graph 0.01, first {slo_ms * 1.15:g} font ',8' "
                            "textcolor rgb '#777777'"]
        gnuplot_png_svg(cdir, fname, "1000,460", lines)
        drawn.append((fname, f"Latency under load, {CHART_LABELS[exp]}"))
    return drawn


# ---- charts ----------------------------------------------------------------------------------

CHARTS = [  # file, title, metric, y label, log scale
    ("response_time", "Average response time (median of trials)", "mean", "milliseconds (log scale)", True),
    ("requests_per_second", "Requests per second (median of trials)", "rps", "requests/s (log scale)", True),
    ("content_size", "Average content size", "content", "bytes per response", False),
    ("request_count", "Request count per run (median of trials)", "requests", "requests (log scale)", True),
]


def gnuplot_png_svg(cdir, fname, size, lines):
    """Draws the gnuplot commands lines as cdir/fname.png and .svg of size "W,H" (each with its
    script beside it, fname.EXT.gp)."""
    body = "\n".join(lines)
    for term, ext in ((f"pngcairo size {size} font 'DejaVu Sans,10' noenhanced", "png"),
                      (f"svg size {size} font 'DejaVu Sans,10' noenhanced dynamic", "svg")):
        script = os.path.join(cdir, f"{fname}.{ext}.gp")
        with open(script, "w") as f:
            f.write(f"set terminal {term}\nset output '{os.path.join(cdir, fname + '.' + ext)}'\n{body}\n")
        subprocess.run(["gnuplot", script], check=True, stderr=subprocess.PIPE)


def draw_charts(out, results_by_exp, names, exps):
    """The original's four charts: one bar per contender, grouped by endpoint; PNG and SVG."""
    cdir = os.path.join(out, "charts")
    names = [n for n in names if any(n in results_by_exp[e] for e in exps)]
    drawn = []
    for fname, title, key, ylabel, log in CHARTS:
        values = {(e, n): results_by_exp[e][n][key] for e in exps for n in names
                  if n in results_by_exp[e] and results_by_exp[e][n][key]}
        if not values:
            continue
        dat = os.path.join(cdir, fname + ".dat")
        with open(dat, "w") as f:
            f.write("endpoint\t" + "\t".join(names) + "\n")
            for e in exps:
                f.write(CHART_LABELS[e] + "\t" + "\t".join(
                    f"{values[(e, n)]:.6g}" if (e, n) in values else "-" for n in names) + "\n")
        lo, hi = min(values.values()), max(values.values())
        # Room above the tallest bar for its upright label.
        yrange = f"[{10 ** math.floor(math.log10(lo))}:{hi * 4}]" if log else f"[0:{hi * 1.2}]"
        n = len(names)
        lines = [
            "set datafile separator '\\t'", "set datafile missing '-'", "set key autotitle columnhead",
            "set style data histogram", "set style histogram clustered gap 1",
            "set style fill solid 0.95 border rgb '#555555'",
            f"set title '{title}' font ',13'", f"set ylabel '{ylabel}'",
            "set key outside right top vertical samplen 1.5", "set grid ytics lc rgb '#dddddd'",
            "set border 3", "set xtics nomirror scale 0", "set ytics nomirror",
            "set logscale y" if log else "unset logscale y", f"set yrange {yrange}",
        ]
        others = [nm for nm in names if nm not in COLORS]
        lines += [f"set linetype {i + 1} lc rgb '{COLORS.get(nm) or PALETTE[others.index(nm) % len(PALETTE)]}'"
                  for i, nm in enumerate(names)]
        # Each bar's value above it, upright so that neighbours do not overlap. Bar i of n in
        # group g is centred at g + (i - (n - 1) / 2) / (n + gap).
        offs = [(i - (n - 1) / 2) / (n + 1) for i in range(n)]
        plot = [f"'{dat}' using {i + 2}:xtic(1) title columnheader({i + 2}) lt {i + 1}" for i in range(n)]
        for i in range(n):
            c = i + 2
            y = f"(${c}*1.1)" if log else f"(${c}+{hi * 0.01:.6g})"
            text = f"(${c} >= 100 ? sprintf('%.0f', ${c}) : sprintf('%.3g', ${c}))"
            plot.append(f"'{dat}' using ($0+{offs[i]:.4f}):{y}:{text} with labels rotate by 90 left "
                        f"font ',7' textcolor rgb '#333333' notitle")
        lines.append("plot " + ", \\\n  ".join(plot))
        gnuplot_png_svg(cdir, fname, "1200,520", lines)
        drawn.append((fname, title))
    return drawn


def magic_cell(name, starts):
    """How the contender's /magic answers compared with Pillow's, as declared and as found."""
    c, found = CONTENDERS.get(name, {}), starts.get(name, ("", "", ""))[2]
    if not found:
        return "–"
    declared = {"pillow": "Pillow's algorithm", "tolerance": "own algorithm"}.get(c.get("magic"), "")
    return f"{'**exact**' if found == 'exact' else found}" + (f" ({declared})" if declared else "")


def contenders_table(names, starts):
    t = Table("contender", "what", "cores", "serves avatars", "/magic answers", "status")
    for n in names:
        c = CONTENDERS.get(n, {})
        status, detail, _ = starts.get(n, ("not run", "", ""))
        t.add(n, c.get("description", n), cores_of(n), "from memory" if c.get("from_memory") else "from files",
              magic_cell(n, starts), status if status == "ok" else f"**{status}**: {detail}")
    return t


def write_verify(out, names, starts):
    """verify.md: the verification of every contender (bench/run --verify)."""
    rep = Report()
    rep.heading(1, "Verification")
    rep.para("Each contender started alone and checked by bench/check_peer.py: status, headers, content type, the "
             "avatar bytes, that images decode, and for /magic contenders the answer image against Pillow's "
             "conversion: byte-identical (\"exact\"), or within the tolerance (mean difference <= "
             "4/255 after a Gaussian blur of radius 2 px) for contenders that declare their own algorithm. Logs: logs/check-*.txt.")
    rep.table(contenders_table(names, starts))
    exact = [n for n in names if starts.get(n, ("", "", ""))[2] == "exact"]
    if any(starts.get(n, ("", "", ""))[2] for n in names):
        rep.para("Byte-identical to Pillow: " + (", ".join(exact) if exact else "none") + ".")
    with open(os.path.join(out, "verify.md"), "w") as f:
        f.write(rep.md())


def main():
    verify = sys.argv[1] == "--verify"
    out = os.path.abspath(sys.argv[-1])
    meta = read_meta(out)
    with open(os.path.join(out, "contenders.json")) as f:
        CONTENDERS.update(json.load(f))
    starts = read_starts(out)
    names = meta["contenders"].split()
    if verify:
        write_verify(out, names, starts)
        return
    hz = int(meta["hz"])
    runs = read_runs(out, hz)
    exps = meta["experiments"].split()
    trials = int(meta["trials"])

    results_by_exp = {}
    for e in exps:
        res = {}
        for n in names:
            mine = [r for r in runs if r["experiment"] == e and r["contender"] == n and r["role"] == "main"]
            if mine:
                res[n] = aggregate(mine)
        results_by_exp[e] = res
    xc_table, xc_pairs = crosscheck_table(runs)
    targets = [n for n in names if CONTENDERS.get(n, {}).get("target")]

    rep = Report()
    title = f"pixd benchmark, {meta['start']}"
    rep.heading(1, title)
    rep.para(f"Command: `{meta['command']}` ({meta['mode']} mode, {meta['trials']} trial(s)). "
             f"Machine: {meta['cpu']}, {meta['cores']} cores, Linux {meta['kernel']}, CPU frequency governor "
             f"{meta['governor']}, net.ipv4.tcp_tw_reuse {meta['tcp_tw_reuse']}; load average before the run "
             f"{meta['load_before']}.")
    rep.para("Versions: " + versions(meta) + ".")
    cpu_how = ("each contender's own cgroup (cgroup v2 `cpu.stat` usage_usec: every process it ever had, exact to "
               "the microsecond)" if meta["cpu_source"] == "cgroup" else
               "/proc (user + system time of the live processes of its process group and the children they reaped, "
               "in clock ticks: cgroup v2 was not writable on this machine, so the time of worker processes that exit "
               "during a run is lost and short runs read coarsely)")
    rep.para("Cores: a contender declared with one core (its folder's `cores`) is pinned to core 1 with taskset; "
             "one with two may use both cores. The load generator (one thread), the nginx origin of /magic/imageurl "
             "and the harness run on core 0. \"CPU % server / load gen\": the server's CPU time, read from "
             f"{cpu_how}, and the load generator's, over the run, 100 % = one core; \"busy % core 0 / 1\": each "
             "core's busy time, the kernel's loopback network work included. \"reference ÷ this\": the requests/s "
             "of the reference the contender is compared with (its folder's `compare_to`, else the pixd on the same "
             "cores and scheme) over the contender's; where the load generator was the limit, the contender's server "
             "CPU time per request over the reference's (marked \"CPU\"). " +
             (f"Before every load run the harness waited (at most {meta['tw_wait']} s) for fewer than {meta['tw_max']} "
              "TIME_WAIT sockets of earlier runs to remain." if int(meta["tw_wait"]) else
              "A smoke run does not wait for the TIME_WAIT sockets of earlier runs to drain (runs.csv has their "
              "count at each start).") + (f" Targets ({', '.join(targets)}) were already running: their server CPU is not available, "
                          "and no CPU ratio is printed for them." if targets else ""))
    rep.para(f"Inputs: the default avatar /-1 is a {meta['avatar_bytes']}-byte 400x400 JPEG; the /magic image "
             f"is a {meta['image_size']} of {meta['image_bytes']} bytes. Contenders start one at a time, each on its "
             f"own loopback port, and are verified (status, headers, content type, the images decode, /magic answers "
             f"against Pillow's conversion) before they are measured; one that fails is not measured. Their order "
             f"flips every trial.")

    rep.heading(2, "Headline: reference ÷ each contender", "headline")
    rep.para("Requests/s of the reference (pixd on the same cores) over the contender's (\"CPU\": server CPU time "
             "per request of the contender over the reference's, where the load generator was the limit). Medians "
             f"over the trials; above 1 means pixd is ahead. Spread: {stats.method(trials)}; \"tied\" where the two "
             "spreads overlap: the noise does not support a ratio there." +
             (" One trial gives no spread: nothing is called tied or not." if trials == 1 else ""))
    rep.table(headline_table(results_by_exp, names, exps))
    ref_lines = []
    for e in exps:
        for p in names:
            a = results_by_exp[e].get(p)
            if CONTENDERS.get(p, {}).get("reference") and a and a["rps"]:
                cpu = "–" if a["server_us"] is None else f"{a['server_us']:,.0f}"
                ref_lines.append(f"{CHART_LABELS[e]}: {p} {f_rps(a['rps'])} req/s ({f_spread(a['rps_stat'], f_rps)}), "
                                 f"p50 {f_ms(a['p50'])} ms, {cpu} µs CPU/req")
    rep.bullets(ref_lines)

    protocols = protocols_table(results_by_exp)
    if protocols:
        rep.heading(2, "HTTP/1.1 and HTTP/2 side by side", "protocols")
        rep.para("The 37 KB avatar per server: HTTP/1.1 with a new connection per request (over TLS: a full handshake "
                 "each), HTTP/1.1 keep-alive, and HTTP/2 over TLS (100 connections, 10 streams each). Medians over "
                 "the trials.")
        rep.table(protocols)

    rep.heading(2, "Contenders", "contenders")
    rep.table(contenders_table(names, starts))

    for e in exps:
        title_e, what = EXPERIMENTS[e]
        rep.heading(2, title_e, e)
        cmd = meta.get(f"cmd_{e}", "")
        rep.para(f"{what}. Load: `{cmd}`.")
        t, notes = experiment_table(e, results_by_exp[e], starts, names, int(meta["tw_wait"]), int(meta["tw_max"]))
        rep.table(t)
        if e in ("base64", "multipart", "imageurl"):
            rep.para(body_check_text(results_by_exp[e], names))
        rep.bullets(notes)

    latency = read_latency(out, names)
    if latency:
        rep.heading(2, "Latency under load", "latency")
        rep.para(f"For the contenders whose folder names them (`latency`), in trial 1: the highest open-loop rate at "
                 f"which {' and '.join(f'`{x}`' for x in meta.get('slo', '').split())} held, found by stepping the "
                 f"offered rate (`pixload --find-max-rate`: it starts at a quarter of the closed-loop req/s of the "
                 f"same experiment, doubles while the SLO holds, then bisects; each step's first second discarded; "
                 f"the true limit lies between the highest rate that held and the lowest that broke). Next to it the "
                 f"closed-loop req/s of the same experiment (its table above), where a server may queue as much as "
                 f"it likes. Load: `{meta.get('cmd_latency_avatars-ka', '')}` and "
                 f"`{meta.get('cmd_latency_base64', '')}`. Few, short steps (bounded run time): the figure is "
                 f"coarse, within the interval its row names.")
        rep.table(latency_table(latency, results_by_exp))
        for fname, ctitle in draw_latency_charts(out, latency, meta.get("slo", "")):
            rep.image(f"charts/{fname}.png", f"charts/{fname}.svg", ctitle)

    rep.heading(2, "Charts", "charts")
    rep.para("The original experiment's four charts, one bar per contender, grouped by endpoint.")
    for fname, ctitle in draw_charts(out, results_by_exp, names, exps):
        rep.image(f"charts/{fname}.png", f"charts/{fname}.svg", ctitle)

    rep.heading(2, "Cross-check: pixload against wrk, ab and h2load", "crosscheck")
    if xc_table.rows:
        rep.para(f"In trial 1, right after pixload's run with the same settings: `{meta['cmd_ab']}` after the "
                 f"avatars run, `{meta['cmd_wrk_ka']}` after the keep-alive run, `{meta['cmd_h2load']}` after the "
                 f"HTTP/2 run (when h2load is installed), and for /magic/base64 both tools "
                 f"posting the same body file with all connections open from the start: `{meta['cmd_base64-c']}` "
                 f"and `{meta['cmd_wrk_base64']}`. Where a tool's core is near 100 %, its figure is the tool's "
                 f"speed, not the server's. ab's percentiles are whole milliseconds; h2load gives none (its mean only).")
        rep.table(xc_table)
    else:
        rep.para("Not run (--no-crosscheck, or no contender reached it).")

    rep.heading(2, "Notes", "notes")
    rep.bullets([
        "Multi-process servers (uvicorn `--workers 2`, aiohttp under gunicorn) sometimes hand almost all "
        "connections to one worker and run at one-process speed; that is why every table shows the spread "
        "beside the median.",
        "Without keep-alive, a one-thread load generator on one core saturates before a fast server does "
        "(opening and closing a TCP connection per request costs the client about as much as the server): "
        "that experiment is judged by server CPU per request.",
        "Figures are from pixload's `--json-out` files (json/); its locust-format CSVs are in csv/, each tool's "
        "text output in logs/, the raw per-run CPU counters in runs.csv, each contender's rendered configuration and "
        "command line in contenders/, its declaration and package versions in contenders.json.",
    ])

    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(rep.md())
    with open(os.path.join(out, "index.html"), "w") as f:
        f.write(rep.html(title))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta,
                   "contenders": {n: {"status": starts.get(n, ("not run",))[0],
                                      "detail": starts.get(n, ("", ""))[1],
                                      "magic": starts.get(n, ("", "", ""))[2],
                                      "target": CONTENDERS.get(n, {}).get("target", "")} for n in names},
                   "experiments": {e: {n: dict(a, ratio=compare(n, results_by_exp[e])[1],
                                               ratio_kind=compare(n, results_by_exp[e])[2],
                                               tied=compare(n, results_by_exp[e])[3])
                                       for n, a in results_by_exp[e].items()} for e in exps},
                   "crosscheck": xc_pairs, "latency": latency}, f, indent=1)


if __name__ == "__main__":
    main()
