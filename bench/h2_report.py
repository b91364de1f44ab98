#!/usr/bin/python3
"""bench/h2.sh's Python side: idle HTTP/2 connections, and the tables.

  h2_report.py idle HOST PORT CONNS OUT.json --pgid PGID [--tls] [--status URL]
                    [--batch N] [--settle S] [--deadline S]
      Measures what CONNS idle HTTP/2 connections cost the server whose processes form process
      group PGID: its RSS (VmRSS, and RssAnon: the heap, without file pages) summed over the
      group before, while the connections are open, and after they are closed. Each connection
      is h2c with prior knowledge (or h2 by ALPN over TLS with --tls): the client preface, an
      empty SETTINGS frame, the ACK of the server's SETTINGS, then nothing. At most --batch
      (256) connections are being set up at once (a listen backlog never overflows); the whole
      set-up is bounded by --deadline (60 s). After --settle (2 s) the RSS is read, and pixd's
      /status (--status URL) for its own view (open connections, read buffers). Writes OUT.json.
  h2_report.py report RUNS.csv IDLE_DIR HZ
      The Markdown tables of the run (stdout).
"""
import csv
import errno
import glob
import json
import os
import resource
import selectors
import socket
import ssl
import statistics
import sys
import time
import urllib.request

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"      # empty SETTINGS
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"
T_SETTINGS, T_GOAWAY = 4, 7


def group_memory(pgid):
    """(VmRSS, RssAnon) in bytes, summed over every live process of group pgid."""
    rss = anon = 0
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            with open(stat[:-4] + "status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("RssAnon:"):
                        anon += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return rss, anon


def pixd_status(url):
    if not url:
        return None
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.load(resp)
    except Exception as exc:  # reported, not fatal: the RSS is the measurement
        return {"error": str(exc)}


class Conn:
    __slots__ = ("sock", "state", "buf", "acked")

    def __init__(self, sock):
        self.sock, self.state, self.buf, self.acked = sock, "connect", b"", False


def idle(host, port, conns, out, pgid, use_tls, status_url, batch, settle, deadline):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < conns + 64:
        conns = hard - 64
        print(f"idle: open files are limited to {hard}: {conns} connections", file=sys.stderr)
    ctx = None
    if use_tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])

    time.sleep(settle)
    before = group_memory(pgid)
    status_before = pixd_status(status_url)

    sel = selectors.DefaultSelector()
    live, pending, started, failed, goaway, closed = [], 0, 0, 0, 0, 0
    errors = {}
    t0 = time.monotonic()
    stop_at = t0 + deadline

    def fail(c, why):
        nonlocal pending, failed
        errors[why] = errors.get(why, 0) + 1
        failed += 1
        pending -= 1
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        c.state = "failed"

    def feed(c, data):
        """Frames from the server: ACK its SETTINGS; a GOAWAY ends the connection."""
        nonlocal goaway
        c.buf += data
        while len(c.buf) >= 9:
            length = int.from_bytes(c.buf[0:3], "big")
            if len(c.buf) < 9 + length:
                break
            ftype, flags = c.buf[3], c.buf[4]
            c.buf = c.buf[9 + length:]
            if ftype == T_SETTINGS and not flags & 1:
                c.sock.send(SETTINGS_ACK)
                c.acked = True
            elif ftype == T_GOAWAY:
                goaway += 1
                return False
        return True

    def step(c, mask):
        nonlocal pending
        try:
            if c.state == "connect":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return fail(c, errno.errorcode.get(err, str(err)))
                if ctx:
                    sel.unregister(c.sock)
                    c.sock = ctx.wrap_socket(c.sock, do_handshake_on_connect=False)
                    sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
                    c.state = "handshake"
                else:
                    c.sock.send(PREFACE + SETTINGS)
                    c.state = "preface"
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                    return
            if c.state == "handshake":
                try:
                    c.sock.do_handshake()
                except ssl.SSLWantReadError:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                    return
                except ssl.SSLWantWriteError:
                    sel.modify(c.sock, selectors.EVENT_WRITE, c)
                    return
                if c.sock.selected_alpn_protocol() != "h2":
                    return fail(c, "no h2 by ALPN")
                c.sock.send(PREFACE + SETTINGS)
                c.state = "preface"
                sel.modify(c.sock, selectors.EVENT_READ, c)
                return
            # preface sent, or established: read what came
            while True:
                try:
                    data = c.sock.recv(65536)
                except (BlockingIOError, ssl.SSLWantReadError):
                    break
                if not data:
                    if c.state == "preface":
                        return fail(c, "closed before SETTINGS")
                    c.state = "closed"
                    sel.unregister(c.sock)
                    return
                if not feed(c, data):
                    if c.state == "preface":
                        return fail(c, "GOAWAY before SETTINGS")
                    c.state = "closed"
                    sel.unregister(c.sock)
                    return
            if c.state == "preface" and c.acked:
                c.state = "idle"
                pending -= 1
        except (OSError, ssl.SSLError) as exc:
            if c.state in ("idle", "closed"):
                c.state = "closed"
                try:
                    sel.unregister(c.sock)
                except (KeyError, ValueError):
                    pass
                return
            fail(c, type(exc).__name__)

    while (started < conns or pending) and time.monotonic() < stop_at:
        while started < conns and pending < batch:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            c = Conn(s)
            started += 1
            pending += 1
            rc = s.connect_ex((host, port))
            if rc not in (0, errno.EINPROGRESS):
                s.close()
                pending -= 1
                failed += 1
                errors[errno.errorcode.get(rc, str(rc))] = errors.get(errno.errorcode.get(rc, str(rc)), 0) + 1
                continue
            live.append(c)
            sel.register(s, selectors.EVENT_WRITE, c)
        for key, mask in sel.select(timeout=0.5):
            step(key.data, mask)
    setup_s = time.monotonic() - t0

    # Idle: answer whatever comes (a late SETTINGS ACK, a PING) while the server settles.
    end = time.monotonic() + settle
    while time.monotonic() < end:
        for key, mask in sel.select(timeout=max(0.0, end - time.monotonic())):
            step(key.data, mask)
    established = sum(1 for c in live if c.state == "idle")
    during = group_memory(pgid)
    status_during = pixd_status(status_url)
    closed = sum(1 for c in live if c.state == "closed")

    for c in live:
        try:
            c.sock.close()
        except OSError:
            pass
    sel.close()
    time.sleep(settle)
    after = group_memory(pgid)
    status_after = pixd_status(status_url)

    res = {
        "host": host, "port": port, "tls": use_tls, "wanted": conns, "established": established,
        "failed": failed, "closed_by_server": closed, "goaway": goaway, "errors": errors,
        "setup_s": round(setup_s, 2), "rss_before": before[0], "anon_before": before[1],
        "rss_during": during[0], "anon_during": during[1], "rss_after": after[0], "anon_after": after[1],
        "rss_per_conn": (during[0] - before[0]) / established if established else None,
        "anon_per_conn": (during[1] - before[1]) / established if established else None,
        "status_before": status_before, "status_during": status_during, "status_after": status_after,
    }
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    per = res["rss_per_conn"]
    print(f"{established}/{conns} idle connections in {setup_s:.1f}s (failed {failed}, closed by the server {closed}); "
          f"RSS {before[0] / 2**20:.1f} -> {during[0] / 2**20:.1f} -> {after[0] / 2**20:.1f} MiB"
          + (f", {per:,.0f} bytes per connection" if per is not None else ""))


# ---- report ----------------------------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, digits=0):
    if x is None or x != x:
        return "–"
    return f"{x:,.{digits}f}"


def span(xs, digits=0):
    return f"{fmt(med(xs), digits)} ({fmt(min(xs), digits)}–{fmt(max(xs), digits)})" if xs else "–"


def ratio_cell(xs, target=None, higher_better=False):
    """Median of paired ratios, their range, and whether the median meets target."""
    if not xs:
        return "–", "–"
    m = med(xs)
    cell = f"**{m:.2f}** ({min(xs):.2f}–{max(xs):.2f}; {', '.join(f'{x:.2f}' for x in xs)})"
    if target is None:
        return cell, "A/A: ~1.00"
    ok = m >= target if higher_better else m <= target
    return cell, f"{'≥' if higher_better else '≤'} {target:.1f}: {'met' if ok else 'NOT met'}"


def report(runs_csv, idle_dir, hz):
    with open(runs_csv) as f:
        rows = list(csv.DictReader(f))
    runs = {}
    for r in rows:
        n = int(r["requests"])
        el = float(r["elapsed_s"]) or float("nan")
        r["n"] = n
        r["ok"] = r["exit"] == "0" and n > 0
        r["rps"] = float(r["req_per_s"])
        r["srv_us"] = int(r["server_ticks"]) * 1e6 / hz / n if n else float("nan")
        r["gen_us"] = int(r["gen_ticks"]) * 1e6 / hz / n if n else float("nan")
        r["core1_us"] = int(r["core1_ticks"]) * 1e6 / hz / n if n else float("nan")
        r["srv_pct"] = 100.0 * int(r["server_ticks"]) / hz / el
        r["gen_pct"] = 100.0 * int(r["gen_ticks"]) / hz / el
        r["bytes"] = int(r["data_bytes"]) / n if n else float("nan")
        runs[(int(r["round"]), r["file"], r["server"], r["gen"])] = r
    files = [f for f in ("thumb", "big") if any(k[1] == f for k in runs)]
    servers = [s for s in ("pixd", "nginx", "h2o", "pixd2") if any(k[2] == s for k in runs)]
    gens = [g for g in ("h2load", "pixload") if any(k[3] == g for k in runs)]
    rounds = sorted({k[0] for k in runs})
    label = {"thumb": "thumbnail", "big": "37 KB avatar"}
    size = {}
    for r in rows:
        size[r["file"]] = r["size"]

    print("| file | server | generator | runs ok | req/s median (min–max) | server CPU µs/req median (min–max) | "
          "core 1 µs/req | generator CPU µs/req median (min–max) | server CPU % | generator CPU % | bytes/answer | "
          "failed | disturbed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for f in files:
        for s in servers:
            for g in gens:
                rs = [runs[k] for k in sorted(runs) if k[1:] == (f, s, g)]
                if not rs:
                    continue
                ok = [r for r in rs if r["ok"]]
                print(f"| {label[f]} ({size[f]} B) | {s} | {g} | {len(ok)}/{len(rs)} | {span([r['rps'] for r in ok])} | "
                      f"{span([r['srv_us'] for r in ok], 1)} | {fmt(med([r['core1_us'] for r in ok]), 1)} | "
                      f"{span([r['gen_us'] for r in ok], 1)} | {fmt(med([r['srv_pct'] for r in ok]))} | "
                      f"{fmt(med([r['gen_pct'] for r in ok]))} | {'–' if g == 'h2load' else fmt(med([r['bytes'] for r in ok]))} | "
                      f"{sum(int(r['failed']) for r in rs)} | {sum(int(r['disturbed']) for r in rs)} |")
    print()
    print("bytes/answer: pixload's body bytes per answer (h2load's count also holds the answers in flight when -D ends; "
          "every server's bytes were checked with curl, h2load and pixload before the rounds).")
    print()

    def paired(f, a, b, ga, gb, field):
        out = []
        for rd in rounds:
            x, y = runs.get((rd, f, a, ga)), runs.get((rd, f, b, gb))
            if x and y and x["ok"] and y["ok"] and y[field]:
                out.append(x[field] / y[field])
        return out

    print("Server ratios, paired by round (the median of the per-round ratios, their range, each round's); "
          "server CPU per request: lower is better for pixd; req/s: higher. The A/A row is pixd against a "
          "second, identical pixd measured the same way: what the harness reads when nothing differs.")
    print()
    print("| file | generator | ratio | server CPU/req | target | req/s |")
    print("|---|---|---|---|---|---|")
    targets = {"nginx": 0.8, "h2o": 1.0}
    for f in files:
        for g in gens:
            for other in ("nginx", "h2o", "pixd2"):
                if other not in servers or (other == "pixd2" and not any(k[2:] == ("pixd2", g) for k in runs)):
                    continue
                cpu, verdict = ratio_cell(paired(f, "pixd", other, g, g, "srv_us"), targets.get(other))
                rps, _ = ratio_cell(paired(f, "pixd", other, g, g, "rps"), None)
                name = "pixd / pixd (A/A)" if other == "pixd2" else f"pixd / {other}"
                if g != "h2load" and other != "pixd2":
                    verdict = "cross-check (the targets are judged with h2load)"
                print(f"| {label[f]} | {g} | {name} | {cpu} | {verdict} | {rps} |")
    print()

    if "pixload" in gens:
        print("pixload `--h2` against h2load on the same server with the same connections and streams, paired by "
              "round (pixload ÷ h2load). The A/A rows compare h2load on pixd with h2load on the identical pixd2.")
        print()
        print("| file | server | req/s pixload ÷ h2load | target | generator CPU/req pixload ÷ h2load | target |")
        print("|---|---|---|---|---|---|")
        for f in files:
            for s in servers:
                if s == "pixd2":
                    continue
                rps, v1 = ratio_cell(paired(f, s, s, "pixload", "h2load", "rps"), 1.0, higher_better=True)
                gen, v2 = ratio_cell(paired(f, s, s, "pixload", "h2load", "gen_us"), 1.0)
                print(f"| {label[f]} | {s} | {rps} | {v1} | {gen} | {v2} |")
            if "pixd2" in servers:
                rps, _ = ratio_cell(paired(f, "pixd", "pixd2", "h2load", "h2load", "rps"))
                gen, _ = ratio_cell(paired(f, "pixd", "pixd2", "h2load", "h2load", "gen_us"))
                print(f"| {label[f]} | A/A: h2load on pixd ÷ h2load on pixd2 | {rps} | ~1.00 | {gen} | ~1.00 |")
        print()

    idle = []
    for path in sorted(glob.glob(os.path.join(idle_dir, "*.json")), key=os.path.getmtime):  # in the order run
        with open(path) as f:
            j = json.load(f)
        j["name"] = os.path.basename(path)[:-5]
        idle.append(j)
    if idle:
        print("Idle HTTP/2 connections: each the client preface, SETTINGS and the ACK of the server's, then "
              "nothing. The server's RSS (all its processes) before, with them open, after they closed; "
              "per connection: (with − before) ÷ established. RssAnon leaves out file-backed pages.")
        print()
        print("| server, transport | established / wanted | set-up s | RSS before MiB | with MiB | after MiB | "
              "RSS bytes/conn | RssAnon bytes/conn | pixd /status with them: open, read buffers |")
        print("|---|---|---|---|---|---|---|---|---|")
        for j in idle:
            st = j.get("status_during") or {}
            pst = (f"{st['connections']['open']:,}, {st['memory']['read_buffers']:,} B"
                   if isinstance(st, dict) and "connections" in st else "–")
            extra = ""
            if j["failed"] or j["closed_by_server"]:
                extra = f" (failed {j['failed']}, closed {j['closed_by_server']}: {j['errors']})"
            print(f"| {j['name']} | {j['established']:,} / {j['wanted']:,}{extra} | {j['setup_s']} | "
                  f"{j['rss_before'] / 2**20:.1f} | {j['rss_during'] / 2**20:.1f} | {j['rss_after'] / 2**20:.1f} | "
                  f"{fmt(j['rss_per_conn'])} | {fmt(j['anon_per_conn'])} | {pst} |")
        print()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "idle" and len(args) >= 4:
        opts = {"--pgid": None, "--status": "", "--batch": "256", "--settle": "2", "--deadline": "60"}
        flags = {"--tls": False}
        rest = args[4:]
        while rest:
            if rest[0] in flags:
                flags[rest[0]] = True
                rest = rest[1:]
            elif rest[0] in opts and len(rest) >= 2:
                opts[rest[0]] = rest[1]
                rest = rest[2:]
            else:
                sys.exit(f"idle: unknown option {rest[0]}")
        if opts["--pgid"] is None:
            sys.exit("idle: --pgid is required")
        idle(args[0], int(args[1]), int(args[2]), args[3], int(opts["--pgid"]), flags["--tls"], opts["--status"],
             int(opts["--batch"]), float(opts["--settle"]), float(opts["--deadline"]))
    elif cmd == "report" and len(args) == 3:
        report(args[0], args[1], int(args[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
