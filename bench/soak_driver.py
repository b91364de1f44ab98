#!/usr/bin/python3
"""The parts of bench/soak.sh that pixload cannot do: a hostile client, a sampler, a judge.

  soak_driver.py drive  URL --duration S --rate R --image FILE --max-body-mb N
                        [--image-url URL] [--stall-timeout S] --out counts.json
  soak_driver.py sample URL --pid PID --t0 UNIX_TIME --out samples.csv
  soak_driver.py judge  --samples CSV --duration S --driver counts.json
                        [--pixload NAME=FILE.json ...] [--fail MESSAGE ...] --out DIR

drive   Sends, at a fixed rate (open loop: one case every 1/R s, whatever pixd does), one case
        of CASES at a time, weighted, each on a new connection, and checks every answer's
        status against the one the case expects (the CASES table below). Cases that expect no
        answer (a client that vanishes) only count as run. Writes per-case counts, the
        statuses seen and the unexpected ones (want vs got) as JSON.
sample  Once a second until pixd exits (or SIGTERM): GET /status on one keep-alive connection
        (connections.open, memory.read_buffers, memory.bodies, jobs.*) and pixd's VmRSS,
        threads and open descriptors from /proc, one CSV row each, flushed at once.
judge   The verdict (thresholds in LIMITS), a summary printed and written to DIR/summary.md
        and DIR/summary.json; exits 1 when anything failed.

Standard library only (/usr/bin/python3).
"""
import argparse
import base64
import collections
import concurrent.futures
import csv
import http.client
import json
import os
import random
import signal
import socket
import statistics
import struct
import sys
import threading
import time
import urllib.parse

# ---- the hostile client ---------------------------------------------------------------------


class Closed(Exception):
    """The server closed the connection before a complete answer."""


class Client:
    """One raw HTTP/1.1 connection: send bytes, read answers one at a time."""

    def __init__(self, addr, timeout):
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def send_early_answer_ok(self, data):
        """Sends data; a server that answered (431, 413) and closed before taking all of it
        makes the write fail, which is fine: the answer is read next."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _more(self):
        b = self.sock.recv(65536)
        if not b:
            raise Closed()
        self.buf += b

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise ValueError("line too long")
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self, head_only=False):
        """Reads one answer; returns (status, headers dict with lower-case names)."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise ValueError("response head too long")
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ValueError(f"bad status line {lines[0][:60]!r}")
        status = int(parts[1])
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if status < 200 or status in (204, 304) or head_only:
            return status, hdrs
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            while True:
                size = int(self._line().split(b";")[0], 16)
                self._take(size + 2)
                if size == 0:
                    break
        elif "content-length" in hdrs:
            self._take(int(hdrs["content-length"]))
        else:
            try:
                while True:
                    self._more()
            except Closed:
                self.buf = b""
        return status, hdrs

    def closed_by_peer(self):
        """True when the server closes with nothing more to say."""
        try:
            return not self.buf and self.sock.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False

    def vanish(self, reset):
        """Leaves: a FIN (close) or, with reset, an RST (SO_LINGER 0)."""
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        self.sock.close()


def req(method, path, headers=(), body=b"", host=True, version="HTTP/1.1", length=None):
    """A request's bytes; Content-Length is the body's unless `length` says otherwise."""
    h = [f"{method} {path} {version}"]
    if host:
        h.append("Host: soak")
    h += list(headers)
    if body or method == "POST" or length is not None:
        h.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def json_req(obj_bytes, path="/magic/base64", extra=()):
    return req("POST", path, ["Content-Type: application/json", *extra], obj_bytes)


def multipart_body(image, boundary="soakboundary7f3a"):
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"3.jpeg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Context:
    """What the cases share: the server's address, the request bodies, the limits."""

    def __init__(self, args):
        u = urllib.parse.urlsplit(args.url)
        self.addr = (u.hostname, u.port or 80)
        self.timeout = args.timeout
        self.stall_timeout = args.stall_timeout
        image = open(args.image, "rb").read()
        self.b64 = json.dumps({"filename": "3.jpeg", "image": base64.b64encode(image).decode()}).encode()
        self.mp_body, self.mp_type = multipart_body(image)
        self.max_body = args.max_body_mb << 20
        self.image_url = args.image_url
        self.good = {
            "base64": json_req(self.b64),
            "multipart": req("POST", "/magic/multipart", [f"Content-Type: {self.mp_type}"], self.mp_body),
        }
        if self.image_url:
            self.good["imageurl"] = json_req(json.dumps({"image_url": self.image_url}).encode(), "/magic/imageurl")


class Outcome:
    """A case's answers as (want, got) pairs; `want` is a set of statuses (or "closed")."""

    def __init__(self):
        self.checks = []
        self.pending = None

    def expect(self, conn, want, head_only=False):
        self.pending = want
        status, hdrs = conn.response(head_only)
        self.checks.append((want, status))
        self.pending = None
        return status, hdrs

    def expect_closed(self, conn):
        self.checks.append(({"closed"}, "closed" if conn.closed_by_peer() else "left open"))


# Variants: (name, bytes to send, statuses expected). Built lazily from the context.
def bad_request_lines(ctx):
    return [
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n", {400}),
        ("no-version", b"GET /1000\r\n\r\n", {400}),
        ("double-spaces", b"GET  /1000  HTTP/1.1\r\nHost: soak\r\n\r\n", {400}),
        ("bare-cr", b"GET /1000 HTTP/1.1\rHost: soak\r\n\r\n", {400}),
        ("bad-method-char", b"G@T /1000 HTTP/1.1\r\nHost: soak\r\n\r\n", {400}),
        ("bad-path", b"GET /%zz HTTP/1.1\r\nHost: soak\r\n\r\n", {400}),
        ("http-2.0", b"GET /1000 HTTP/2.0\r\nHost: soak\r\n\r\n", {505}),
        ("http-0.9", b"GET /1000 HTTP/0.9\r\nHost: soak\r\n\r\n", {505}),
        ("unknown-method", b"BREW /1000 HTTP/1.1\r\nHost: soak\r\n\r\n", {405}),
    ]


def bad_heads(ctx):
    return [
        ("no-colon", req("GET", "/1000", ["X-Broken header"]), {400}),
        ("space-before-colon", req("GET", "/1000", ["Host : soak"], host=False), {400}),
        ("obs-fold", req("GET", "/1000", ["X-A: a", " folded"]), {400}),
        ("nul-in-value", req("GET", "/1000", ["X-A: a\x00b"]), {400}),
        ("no-host", req("GET", "/1000", host=False), {400}),
        ("two-hosts", req("GET", "/1000", ["Host: other"]), {400}),
        ("two-content-lengths", b"POST /magic/base64 HTTP/1.1\r\nHost: soak\r\nContent-Length: 3\r\n"
                                b"Content-Length: 4\r\n\r\nabcd", {400}),
        ("negative-content-length", req("POST", "/magic/base64", length=-1), {400}),
        ("length-and-chunked", b"POST /magic/base64 HTTP/1.1\r\nHost: soak\r\nContent-Length: 5\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {400}),
        ("gzip-coding", b"POST /magic/base64 HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: gzip\r\n\r\n", {400}),
        ("bad-expect", req("POST", "/magic/base64", ["Expect: teapot"], b"{}"), {417}),
    ]


def oversize_heads(ctx):
    return [
        ("long-header", req("GET", "/status", ["X-Big: " + "a" * 9000]), {431}),
        ("long-uri", req("GET", "/" + "u" * 9000), {431}),
        ("many-headers", req("GET", "/status", [f"X-{i}: y" for i in range(200)]), {431}),
        ("20k-head", req("GET", "/status", ["X-Big: " + "b" * 20000]), {431}),
        ("64k-head", req("GET", "/status", [f"X-{i}: {'c' * 100}" for i in range(600)]), {431}),
    ]


def bad_bodies(ctx):
    mp_open, mp_type = ctx.mp_body[: len(ctx.mp_body) // 2], ctx.mp_type
    return [
        ("bad-json", json_req(b"{bad json}"), {400}),
        ("truncated-json", json_req(b'{"image": "abc'), {400}),
        ("json-not-object", json_req(b"[1, 2]"), {400}),
        ("empty-json", json_req(b""), {400}),
        ("no-image-field", json_req(b'{"filename": "a.jpg"}'), {400}),
        ("image-not-string", json_req(b'{"image": 42}'), {400}),
        ("bad-base64", json_req(b'{"image": "!!!not base64 at all!!!"}'), {400}),
        ("base64-not-image", json_req(json.dumps({"image": base64.b64encode(b"just some text" * 20).decode()}).encode()), {415}),
        ("multipart-unclosed", req("POST", "/magic/multipart", [f"Content-Type: {mp_type}"], mp_open), {400}),
        ("multipart-no-boundary", req("POST", "/magic/multipart", ["Content-Type: multipart/form-data"], b"--x\r\n"), {400}),
        ("multipart-no-image", req("POST", "/magic/multipart", ["Content-Type: multipart/form-data; boundary=b"],
                                   b'--b\r\nContent-Disposition: form-data; name="mode"\r\n\r\nfs\r\n--b--\r\n'), {400}),
        ("bad-chunked", b"POST /magic/base64 HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", {400}),
        ("imageurl-bad-scheme", json_req(b'{"image_url": "file:///etc/passwd"}', "/magic/imageurl"), {400, 403}),
    ]


def too_large(ctx):
    over = ctx.max_body + 1
    return [
        ("length-over-limit", req("POST", "/magic/base64", ["Content-Type: application/json"], length=over), {413}),
        ("length-over-limit-multipart", req("POST", "/magic/multipart", [f"Content-Type: {ctx.mp_type}"],
                                            length=4 * over), {413}),
        ("length-huge", req("POST", "/magic/base64", ["Content-Type: application/json"], length=99999999999999), {413}),
    ]


def run_fixed(ctx, out, data):
    """Sends one fixed request and expects one answer."""
    data, want = data
    c = Client(ctx.addr, ctx.timeout)
    try:
        c.send_early_answer_ok(data)
        out.expect(c, want)
    finally:
        c.close()


def half_head_vanish(ctx, out, v):
    """Part of a head (nothing at all, a few bytes, nearly all of it), then FIN or RST."""
    n, reset = v
    head = req("GET", "/1000", ["User-Agent: soak", "Accept: */*"])
    c = Client(ctx.addr, ctx.timeout)
    if n:
        c.send(head[: n if n > 0 else len(head) + n])
    c.vanish(reset)


def half_body_vanish(ctx, out, v):
    """A complete /magic head, then half its body, then FIN or RST."""
    which, reset = v
    data = ctx.good[which]
    c = Client(ctx.addr, ctx.timeout)
    c.send(data[: len(data) - len(data) // 2])
    c.vanish(reset)


def magic_vanish(ctx, out, v):
    """A whole valid /magic request; the client leaves while its job runs (or waits)."""
    which, reset, delay_ms = v
    c = Client(ctx.addr, ctx.timeout)
    c.send(ctx.good[which])
    if delay_ms:
        time.sleep(delay_ms / 1000)
    c.vanish(reset)


def stalled(ctx, out, v):
    """Part of a head or body, then silence: pixd must answer 408 after its timeout."""
    name, data, want = v
    c = Client(ctx.addr, ctx.stall_timeout)
    try:
        c.send(data)
        out.expect(c, want)
    finally:
        c.close()


def stall_variants(ctx):
    b64 = ctx.good["base64"]
    return [
        ("head", req("GET", "/1000")[:-2], {408}),
        ("body", b64[: len(b64) - 100], {408}),
        # A chunk larger than --max-body-mb, announced but never sent. The current pixd waits for
        # it (408 after --body-timeout); answering 413 at once would be better still.
        ("chunk-over-limit", b"POST /magic/base64 HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n"
                             + f"{ctx.max_body * 4:x}\r\n".encode() + b"x" * 100, {408, 413}),
    ]


# A pipelined burst draws from these: (request bytes, want, HEAD?).
def pipeline_menu(ctx):
    return [
        (req("GET", "/1000"), {200}, False),
        (req("GET", "/-1"), {200}, False),
        (req("GET", "/nobody-here"), {200}, False),  # the default avatar
        (req("HEAD", "/1001"), {200}, True),
        (req("GET", "/status"), {200}, False),
        (req("GET", "/no/such/thing"), {404}, False),
        (req("DELETE", "/status"), {405}, False),
        (req("GET", "/1002.gif"), {301}, False),
        (json_req(b'{"image": 7}'), {400}, False),
    ]


def pipelined(ctx, out, v):
    """8-32 requests in one write, one of them a real /magic job at times; the last asks to
    close. Every answer in order, then the close."""
    n, with_magic, seed = v
    rnd = random.Random(seed)
    menu = pipeline_menu(ctx)
    burst = [rnd.choice(menu) for _ in range(n)]
    if with_magic:
        burst.insert(rnd.randrange(len(burst)), (ctx.good["base64"], {200}, False))
    data, want, head = burst[-1]
    burst[-1] = (data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1), want, head)
    c = Client(ctx.addr, ctx.timeout)
    try:
        c.send(b"".join(b for b, _, _ in burst))
        for _, want, head in burst:
            out.expect(c, want, head)
        out.expect_closed(c)
    finally:
        c.close()


def expect_continue(ctx, out, v):
    """Expect: 100-continue: the head, the 100, then the body and the answer."""
    c = Client(ctx.addr, ctx.timeout)
    try:
        data = ctx.good[v]
        head, _, body = data.partition(b"\r\n\r\n")
        c.send(head + b"\r\nExpect: 100-continue\r\n\r\n")
        out.expect(c, {100})
        c.send(body)
        out.expect(c, {200})
    finally:
        c.close()


def trickled(ctx, out, v):
    """A valid request whose head comes in a few pieces, 20 ms apart; HTTP/1.0 at times."""
    version = v
    data = req("GET", "/1003", ["User-Agent: soak-trickle", "Accept: image/*"],
               host=version == "HTTP/1.1", version=version)
    c = Client(ctx.addr, ctx.timeout)
    try:
        step = len(data) // 4 + 1
        for i in range(0, len(data), step):
            c.send(data[i:i + step])
            time.sleep(0.02)
        out.expect(c, {200})
    finally:
        c.close()


def build_cases(ctx):
    """name -> (weight, run function, list of variants); one variant per run, in turn."""
    fixed = lambda vs: [(d, w) for _, d, w in vs]  # noqa: E731
    magic = list(ctx.good)
    return {
        "bad-request-line": (2, run_fixed, fixed(bad_request_lines(ctx))),
        "bad-head": (2, run_fixed, fixed(bad_heads(ctx))),
        "oversize-head": (2, run_fixed, fixed(oversize_heads(ctx))),
        "bad-body": (3, run_fixed, fixed(bad_bodies(ctx))),
        "body-too-large": (1, run_fixed, fixed(too_large(ctx))),
        "half-head-vanish": (2, half_head_vanish, [(n, r) for n in (0, 3, 20, -2) for r in (False, True)]),
        "half-body-vanish": (2, half_body_vanish, [(w, r) for w in ("base64", "multipart") for r in (False, True)]),
        "magic-vanish": (2, magic_vanish, [(w, r, d) for w in magic for r in (False, True) for d in (0, 5, 30)]),
        "stalled": (1, stalled, stall_variants(ctx)),
        "pipelined": (2, pipelined, [(n, m, s) for s, (n, m) in enumerate(
            [(8, False), (16, True), (32, False), (12, True), (24, False)])]),
        "expect-continue": (1, expect_continue, magic[:2]),
        "trickled-head": (1, trickled, ["HTTP/1.1", "HTTP/1.0"]),
    }


def error_kind(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, Closed):
        return "closed"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    return type(e).__name__


def drive(args):
    ctx = Context(args)
    cases = build_cases(ctx)
    lock = threading.Lock()
    counts = {n: {"runs": 0, "answers": 0, "unexpected": 0, "statuses": collections.Counter(),
                  "variants": len(v)} for n, (_, _, v) in cases.items()}
    bad = collections.Counter()  # "case: want X, got Y" -> n
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def run(name, fn, variant):
        out = Outcome()
        try:
            fn(ctx, out, variant)
        except Exception as e:  # noqa: BLE001 - every failure is an outcome
            out.checks.append((out.pending or {"no error"}, error_kind(e)))
        with lock:
            c = counts[name]
            c["runs"] += 1
            for want, got in out.checks:
                c["answers"] += 1
                c["statuses"][str(got)] += 1
                if got not in want:
                    c["unexpected"] += 1
                    bad[f"{name}: want {'/'.join(map(str, sorted(want, key=str)))}, got {got}"] += 1

    # The schedule: each case `weight` times per round, rounds shuffled (fixed seed); variants
    # of a case in turn.
    rnd = random.Random(1)
    turn = collections.Counter()
    late = 0
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
        i = 0
        round_ = []
        while not stop.is_set():
            due = start + i / args.rate
            if due - start >= args.duration:
                break
            now = time.monotonic()
            if due > now:
                stop.wait(due - now)
            elif now - due > 1:
                late += 1
            if not round_:
                round_ = [n for n, (w, _, _) in cases.items() for _ in range(w)]
                rnd.shuffle(round_)
            name = round_.pop()
            _, fn, variants = cases[name]
            pool.submit(run, name, fn, variants[turn[name] % len(variants)])
            turn[name] += 1
            i += 1
    result = {
        "rate": args.rate, "duration_s": args.duration, "elapsed_s": round(time.monotonic() - start, 2),
        "interrupted": stop.is_set(), "late_starts": late,
        "runs": sum(c["runs"] for c in counts.values()),
        "unexpected": sum(c["unexpected"] for c in counts.values()),
        "cases": {n: dict(c, statuses=dict(sorted(c["statuses"].items()))) for n, c in counts.items()},
        "unexpected_kinds": dict(bad.most_common()),
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"soak driver: {result['runs']} cases, {result['unexpected']} unexpected answers")
    return 0


# ---- the sampler ----------------------------------------------------------------------------

COLUMNS = ["time", "t_s", "rss_kib", "fds", "threads", "conns_open", "conns_total", "requests",
           "read_buffers", "bodies", "jobs_queued", "jobs_running", "jobs_done", "jobs_dropped",
           "jobs_refused", "status_ms"]


def proc_info(pid):
    """(VmRSS KiB, open fds, threads), or None once pid is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/status") as f:
            st = dict(ln.split(":", 1) for ln in f if ":" in ln)
        if st.get("State", "").strip().startswith("Z") or "VmRSS" not in st:
            return None
        return int(st["VmRSS"].split()[0]), len(os.listdir(f"/proc/{pid}/fd")), int(st["Threads"])
    except (FileNotFoundError, ProcessLookupError):
        return None


def sample(args):
    u = urllib.parse.urlsplit(args.url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    conn = None
    nxt = time.monotonic()
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        while not stop.is_set():
            info = proc_info(args.pid)
            if info is None:
                break
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
                conn.request("GET", "/status")
                r = conn.getresponse()
                s = json.loads(r.read())
                ms = round((time.monotonic() - t0) * 1000, 2)
                row = [s["connections"]["open"], s["connections"]["total"], s["requests"],
                       s["memory"]["read_buffers"], s["memory"]["bodies"]] + \
                      [s["jobs"][k] for k in ("queued", "running", "done", "dropped", "refused")] + [ms]
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                if conn:
                    conn.close()
                conn = None
                row = [""] * 10 + ["failed"]
            now = time.time()
            w.writerow([f"{now:.3f}", f"{now - args.t0:.1f}", *info, *row])
            f.flush()
            nxt += 1
            stop.wait(max(0.0, nxt - time.monotonic()))
    return 0


# ---- the judge ------------------------------------------------------------------------------

# Growth limits: the median of the last 10 % of the load against the median of the 10 % right
# after the warm-up (the first 20 %, at least 10 s). A metric fails when its growth exceeds
# every bound given for it (absolute; relative where given).
LIMITS = {  # column: (label, unit divisor, unit, absolute bound in the column's unit, relative)
    "rss_kib": ("RSS", 1024, "MiB", 16 * 1024, 0.20),
    "fds": ("open fds", 1, "", 64, None),
    "conns_open": ("open connections", 1, "", 64, None),
    "read_buffers": ("read buffers", 1024, "KiB", 4 << 20, 0.50),
    "bodies": ("bodies in memory", 1024, "KiB", 4 << 20, 0.50),
    "jobs_queued": ("queued jobs", 1, "", 16, None),
}
# At the end, with every client gone (after the idle pause): what pixd may still hold. The
# sampler's own keep-alive connection is one open connection with its 16 KiB read buffer.
IDLE = {"conns_open": 1, "read_buffers": 64 * 1024, "bodies": 0, "jobs_queued": 0, "jobs_running": 0}
# Open descriptors at the end may exceed those before the load (sampled while idle) by this
# many: avatars of 16 KiB or more cached during the run keep a memfd each.
IDLE_FDS = 8


def fmt(col, v):
    label, div, unit, _, _ = LIMITS.get(col, (col, 1, "", 0, None))
    return f"{v / div:,.1f}" if unit == "MiB" else f"{v / div:,.0f}"


def judge(args):
    fails = list(args.fail)
    warns = []
    lines = []
    p = lines.append
    rows = list(csv.DictReader(open(args.samples))) if os.path.exists(args.samples) else []
    dur = args.duration
    warm = max(0.2 * dur, 10.0)
    win = max(0.1 * dur, 5.0)
    t_load_end = dur
    base_w, end_w = (warm, warm + win), (t_load_end - win, t_load_end)

    def num(r, k):
        return float(r[k]) if r.get(k) not in ("", None) else None

    ok_rows = [r for r in rows if r["status_ms"] != "failed"]
    failed_status = [r for r in rows if r["status_ms"] == "failed"]
    if failed_status:
        fails.append(f"/status did not answer (5 s timeout) {len(failed_status)} time(s), first at "
                     f"t={failed_status[0]['t_s']} s")

    # -- load: pixload's runs
    p(f"# pixd soak: {dur:g} s of load, warm-up {warm:g} s, {len(rows)} samples")
    p("")
    p("| load (pixload, open loop) | requests | req/s | failures | statuses | p99 |")
    p("|---|---:|---:|---:|---|---:|")
    summary = {"duration_s": dur, "warmup_s": warm, "pixload": {}, "driver": {}, "metrics": {}}
    total_req = 0
    for spec in args.pixload:
        name, _, path = spec.partition("=")
        try:
            j = json.load(open(path))
        except (OSError, ValueError) as e:
            fails.append(f"pixload {name}: no report ({e.__class__.__name__})")
            p(f"| {name} | - | - | - | no report | - |")
            continue
        t = j["total"]
        total_req += t["requests"]
        sts = ", ".join(f"{k}: {v}" for k, v in sorted(t["status"].items()))
        errs = {k: v for k, v in t["errors"].items() if v}
        p(f"| {name} | {t['requests']:,} | {t['requests_per_s']:,.1f} | {t['failures']:,} | {sts or '-'} | "
          f"{t['latency_us']['percentiles'].get('99', 0) / 1000:.1f} ms |")
        summary["pixload"][name] = {"requests": t["requests"], "failures": t["failures"], "status": t["status"],
                                    "errors": t["errors"], "rate": j.get("rate")}
        if t["failures"]:
            fails.append(f"pixload {name}: {t['failures']} failed request(s): "
                         + ", ".join(f"{k} {v}" for k, v in errs.items()))
        if j.get("interrupted"):
            fails.append(f"pixload {name}: interrupted")
        want = (j.get("rate") or 0) * j.get("duration_s", 0)
        if want and t["requests"] < 0.9 * want:
            warns.append(f"pixload {name}: {t['requests']} requests, fewer than 90 % of the "
                         f"{want:.0f} its rate asked for")
    p("")

    # -- the hostile client
    try:
        d = json.load(open(args.driver))
    except (OSError, ValueError) as e:
        d = None
        fails.append(f"soak driver: no report ({e.__class__.__name__})")
    if d:
        p(f"| hostile client ({d['rate']:g}/s) | runs | answers checked | unexpected | statuses seen |")
        p("|---|---:|---:|---:|---|")
        for n, c in d["cases"].items():
            sts = ", ".join(f"{k}: {v}" for k, v in c["statuses"].items()) or "- (no answer expected)"
            p(f"| {n} | {c['runs']:,} | {c['answers']:,} | {c['unexpected']:,} | {sts} |")
        p(f"| **all** | {d['runs']:,} | {sum(c['answers'] for c in d['cases'].values()):,} | "
          f"{d['unexpected']:,} | |")
        p("")
        summary["driver"] = d
        if d["unexpected"]:
            fails.append(f"soak driver: {d['unexpected']} unexpected answer(s): "
                         + "; ".join(f"{k} (x{v})" for k, v in list(d["unexpected_kinds"].items())[:8]))
        if d.get("interrupted"):
            fails.append("soak driver: interrupted")
        if d.get("late_starts"):
            warns.append(f"soak driver: {d['late_starts']} case(s) started more than 1 s late (CPU starved)")

    # -- growth and the idle end
    in_w = lambda r, w: w[0] <= float(r["t_s"]) < w[1]  # noqa: E731
    base_rows = [r for r in ok_rows if in_w(r, base_w)]
    end_rows = [r for r in ok_rows if in_w(r, end_w)]
    load_rows = [r for r in ok_rows if 0 <= float(r["t_s"]) <= t_load_end]
    last = ok_rows[-1] if ok_rows else None
    idle = last is not None and float(last["t_s"]) > t_load_end
    if not (base_rows and end_rows):
        p("(no growth table: too few samples)")
    else:
        p(f"| metric | after warm-up ({base_w[0]:g}-{base_w[1]:g} s) | end ({end_w[0]:g}-{end_w[1]:g} s) "
          f"| growth | fails above | peak | final (idle) |")
        p("|---|---:|---:|---:|---|---:|---:|")
    if len(base_rows) < 3 or len(end_rows) < 3:
        fails.append(f"too few samples to judge growth ({len(base_rows)} after warm-up, {len(end_rows)} at the end)")
    for col, (label, div, unit, absb, rel) in LIMITS.items():
        bv = [num(r, col) for r in base_rows if num(r, col) is not None]
        ev = [num(r, col) for r in end_rows if num(r, col) is not None]
        allv = [num(r, col) for r in load_rows if num(r, col) is not None]
        if not bv or not ev:
            continue
        b, e = statistics.median(bv), statistics.median(ev)
        g = e - b
        over = g > absb and (rel is None or g > rel * b)
        bound = f"+{fmt(col, absb)}{' ' + unit if unit else ''}" + (f" and +{rel:.0%}" if rel is not None else "")
        fin = fmt(col, num(last, col)) if last and num(last, col) is not None else "-"
        p(f"| {label}{' (' + unit + ')' if unit else ''} | {fmt(col, b)} | {fmt(col, e)} | "
          f"{'+' if g >= 0 else ''}{fmt(col, g)}{' (' + format(g / b, '+.0%') + ')' if b else ''} | {bound} | "
          f"{fmt(col, max(allv))} | {fin} |")
        summary["metrics"][col] = {"base": b, "end": e, "growth": g, "peak": max(allv),
                                   "final": num(last, col) if last else None, "failed": over}
        if over:
            fails.append(f"{label} grew from {fmt(col, b)} to {fmt(col, e)} {unit} after the warm-up "
                         f"(limit {bound})")
    p("")
    if not idle:
        fails.append("no sample after the load ended (pixd gone?): the idle state was not checked")
    else:
        held = [f"{k} {num(last, k):,.0f} (at most {v:,})" for k, v in IDLE.items() if num(last, k) > v]
        pre = [r for r in ok_rows if float(r["t_s"]) < 0]
        if pre:  # descriptors held before the load (idle), against after it
            before = num(pre[-1], "fds")
            if num(last, "fds") > before + IDLE_FDS:
                held.append(f"fds {num(last, 'fds'):,.0f} (at most {before + IDLE_FDS:,.0f}: "
                            f"{before:,.0f} before the load + {IDLE_FDS})")
            p(f"Before the load: fds {before:,.0f}, RSS {num(pre[-1], 'rss_kib') / 1024:,.1f} MiB, "
              f"threads {num(pre[-1], 'threads'):,.0f}.")
        p(f"Idle at t={last['t_s']} s: " + ", ".join(f"{k} {num(last, k):,.0f}" for k in IDLE)
          + f", RSS {num(last, 'rss_kib') / 1024:,.1f} MiB, fds {num(last, 'fds'):,.0f}, "
          f"jobs done {num(last, 'jobs_done'):,.0f}, dropped {num(last, 'jobs_dropped'):,.0f} "
          f"(clients that left), refused {num(last, 'jobs_refused'):,.0f}.")
        p("")
        if held:
            fails.append("not back to idle after the load: " + ", ".join(held))
        summary["idle"] = {k: num(last, k) for k in COLUMNS[2:-1]}
    if d and ok_rows:
        p(f"Requests: {total_req:,} from pixload, {d['runs']:,} hostile cases; pixd counted "
          f"{num(ok_rows[-1], 'requests'):,.0f} requests and {num(ok_rows[-1], 'conns_total'):,.0f} connections.")
        p("")
    for w in warns:
        p(f"warning: {w}")
    if fails:
        p("**FAIL**")
        for f_ in fails:
            p(f"- {f_}")
    else:
        p("**PASS**: no unexpected status, pixd up throughout, no growth after the warm-up, idle at the end.")
    summary.update(passed=not fails, failures=fails, warnings=warns)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    sys.stdout.write(text)
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("drive")
    a.add_argument("url")
    a.add_argument("--duration", type=float, required=True)
    a.add_argument("--rate", type=float, default=20)
    a.add_argument("--image", required=True)
    a.add_argument("--image-url", help="an image the origin serves, for /magic/imageurl cases")
    a.add_argument("--max-body-mb", type=int, required=True)
    a.add_argument("--timeout", type=float, default=10, help="seconds for an answer")
    a.add_argument("--stall-timeout", type=float, default=15, help="seconds for a 408")
    a.add_argument("--workers", type=int, default=64)
    a.add_argument("--out", required=True)
    s = sub.add_parser("sample")
    s.add_argument("url")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--t0", type=float, required=True, help="the load's start (Unix time): t_s = 0")
    s.add_argument("--out", required=True)
    j = sub.add_parser("judge")
    j.add_argument("--samples", required=True)
    j.add_argument("--duration", type=float, required=True)
    j.add_argument("--driver", required=True)
    j.add_argument("--pixload", action="append", default=[], metavar="NAME=FILE")
    j.add_argument("--fail", action="append", default=[], metavar="MESSAGE")
    j.add_argument("--out", required=True)
    args = ap.parse_args()
    return {"drive": drive, "sample": sample, "judge": judge}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
