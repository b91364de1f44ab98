#!/usr/bin/python3
"""bench/sizes.sh's Python side: check an answer, flood pixd with random sizes, write the tables.

  sizes_report.py check URL SIZE
      GET URL once: status 200, Content-Type image/jpeg, a body Pillow decodes to SIZE x SIZE.
      Prints "<bytes> <width>x<height>"; exits 1 (reason on stderr) otherwise.
  sizes_report.py flood URL_PREFIX SECONDS OUT.json [--conns N] [--source ADDR] [--max-size N]
      The misbehaving client: N keep-alive connections (threads) from source address ADDR
      (default 127.0.0.2, so pixd's per-address render bound sees another client than the
      pixload on 127.0.0.1) asking URL_PREFIX + random 1..max-size as fast as they can for
      SECONDS; no back-off on 429 or 503. Writes counts by status, errors and requests/s.
  sizes_report.py report RUNS.csv FLOOD.csv HZ
      The Markdown tables of the run (stdout); COLD_CONNS and GTHREADS for the labels.
"""
import csv
import http.client
import io
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request


def check(url, size):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            status, ctype, body = resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except Exception as exc:  # HTTPError included: anything but a 200 fails the check
        sys.exit(f"check {url}: {exc}")
    from PIL import Image
    if status != 200 or ctype.split(";")[0].strip() != "image/jpeg":
        sys.exit(f"check {url}: status {status}, Content-Type {ctype!r}; want 200 image/jpeg")
    try:
        img = Image.open(io.BytesIO(body))
        img.load()
    except Exception as exc:
        sys.exit(f"check {url}: the body ({len(body)} bytes) does not decode: {exc}")
    if img.format != "JPEG" or img.size != (size, size):
        sys.exit(f"check {url}: decodes as {img.format} {img.size[0]}x{img.size[1]}, want JPEG {size}x{size}")
    print(f"{len(body)} {img.size[0]}x{img.size[1]}")


def flood(prefix, seconds, out, conns, source, max_size):
    u = urllib.parse.urlsplit(prefix)
    path = u.path + ("?" + u.query if u.query else "")
    counts, errors, lock = {}, {"connect": 0, "io": 0}, threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(seed):
        rnd = random.Random(seed)
        conn = None
        local, local_err = {}, {"connect": 0, "io": 0}
        while time.monotonic() < deadline:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30,
                                                  source_address=(source, 0))
                try:
                    conn.connect()
                except OSError:
                    local_err["connect"] += 1
                    conn = None
                    time.sleep(0.01)
                    continue
            try:
                conn.request("GET", f"{path}{rnd.randint(1, max_size)}")
                resp = conn.getresponse()
                resp.read()
                local[resp.status] = local.get(resp.status, 0) + 1
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                local_err["io"] += 1
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
        with lock:
            for k, v in local.items():
                counts[k] = counts.get(k, 0) + v
            for k, v in local_err.items():
                errors[k] += v

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    total = sum(counts.values())
    with open(out, "w") as f:
        json.dump({"source": source, "connections": conns, "elapsed_s": elapsed, "answers": total,
                   "answers_per_s": total / elapsed if elapsed else 0,
                   "status": {str(k): v for k, v in sorted(counts.items())}, "errors": errors}, f, indent=1)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, digits=0):
    if x != x:  # nan
        return "–"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def span(xs, digits=0):
    return f"{fmt(med(xs), digits)} ({fmt(min(xs), digits)}–{fmt(max(xs), digits)})" if xs else "–"


def report(runs_csv, flood_csv, hz):
    with open(runs_csv) as f:
        rows = [r for r in csv.DictReader(f)]
    # The last attempt of each (round, server) counts.
    last = {}
    for r in rows:
        last[(r["round"], r["server"])] = r
    order = []
    for r in rows:
        if r["server"] not in order:
            order.append(r["server"])
    per = {s: [r for (rd, sv), r in sorted(last.items(), key=lambda kv: int(kv[0][0])) if sv == s] for s in order}

    def us(r, ticks="server_ticks"):
        n = int(r["requests"])
        return int(r[ticks]) * 1e6 / hz / n if n else float("nan")

    ref = "pixd"
    ref_rps = med([float(r["req_per_s"]) for r in per.get(ref, [])])
    ref_us = med([us(r) for r in per.get(ref, [])])
    print("| server | what | req/s median (min–max) | server CPU µs/req median (min–max) | core 1 busy µs/req | "
          "bytes/answer | renders/req | failures | disturbed runs | pixd ÷ this, req/s | this ÷ pixd, CPU/req |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    what = {
        "pixd": "`/-1?s=80`, cached variant",
        "pixd-thumb": "`/t80`, an 80x80 file (the same bytes)",
        "pixd-cold": f"`/-1?s=80`, `--variant-cache-mb 0`, `-c {os.environ.get('COLD_CONNS', '1')}`: a render per request",
        "nginx": "`image_filter resize 80 80` per request",
        "pillow": f"Flask + Pillow per request, gunicorn gthread, 1 worker × {os.environ.get('GTHREADS', '2')} threads",
    }
    for s in order:
        rs = per[s]
        rps = [float(r["req_per_s"]) for r in rs]
        cpu = [us(r) for r in rs]
        core = [us(r, "core1_ticks") for r in rs]
        nbytes = [int(r["content_bytes"]) / int(r["requests"]) for r in rs if int(r["requests"])]
        renders = [int(r["renders"]) / int(r["requests"]) for r in rs if r["renders"] not in ("", "-1") and int(r["requests"])]
        fails = sum(int(r["failures"]) for r in rs)
        dist = sum(int(r["disturbed"]) for r in rs)
        r_rps = ref_rps / med(rps) if rps and med(rps) else float("nan")
        r_cpu = med(cpu) / ref_us if cpu and ref_us == ref_us and ref_us else float("nan")
        is_ref = s == ref
        print(f"| {s} | {what.get(s, '')} | {span(rps)} | {span(cpu, 1)} | {fmt(med(core), 1)} | {fmt(med(nbytes))} | "
              f"{fmt(med(renders), 2) if renders else '–'} | {fails} | {dist}/{len(rs)} | "
              f"{'reference' if is_ref else fmt(r_rps, 2) + '×'} | {'reference' if is_ref else fmt(r_cpu, 2) + '×'} |")
    print()
    # Paired per round: the cached variant against the 80x80 file, both from the same pixd.
    pairs = []
    for rd in sorted({rd for (rd, _) in last}, key=int):
        a, b = last.get((rd, "pixd")), last.get((rd, "pixd-thumb"))
        if a and b and int(a["requests"]) and int(b["requests"]):
            pairs.append((rd, us(a), us(b), us(a) / us(b) if us(b) else float("nan")))
    if pairs:
        ratios = [p[3] for p in pairs]
        m = med(ratios)
        print(f"Cached variant against pixd's own file: server CPU per request of `/-1?s=80` over `/t80`, paired by round: "
              f"median **{m:.2f}×** (rounds: {', '.join(f'{p[3]:.2f}' for p in pairs)}); "
              f"{'within' if m <= 1.1 else 'NOT within'} the 1.1× goal.")
        print()
    cold = per.get("pixd-cold")
    if cold and ref_us == ref_us:
        cold_us = med([us(r) for r in cold])
        print(f"Per-request resizing in pixd itself (`--variant-cache-mb 0`) costs {fmt(cold_us, 1)} µs per request, "
              f"{cold_us / ref_us:.0f}× the cached variant. The resizers alone, per request, against pixd's: "
              + ", ".join(f"{s} {med([us(r) for r in per[s]]) / cold_us:.2f}×" for s in ("nginx", "pillow") if s in per)
              + " (server CPU per request over pixd-cold's).")
        print()

    try:
        with open(flood_csv) as f:
            frows = [r for r in csv.DictReader(f)]
    except FileNotFoundError:
        frows = []
    if not frows:
        return
    fl = {}
    for r in frows:
        fl.setdefault((r["round"], r["mode"]), {})[r["client"]] = r
    print("Random sizes: a client on 127.0.0.2 asks `/-1?s=<random 1..2048>` as fast as it can (no back-off on 429). "
          "Measured on 127.0.0.1: *normal*, other users' avatars (`/1000?s=80` and `/-1`, half each) and *same*, "
          "the flooded picture's own `/-1?s=80`; open loop, latency from each request's intended send time. "
          "Per round alone and with the flood, order alternating.")
    print()
    print("| round | mode | normal: 200s / offered | failures | p50 ms | p99 ms | max ms | same: 200s / offered | failures | "
          "p50 ms | p99 ms | max ms | random client: 200 | 429 | 503 | other, conn errors | pixd renders | pixd 429s | pixd CPU % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def cl(r):
        if not r:
            return "– | – | – | – | –"
        ok = int(r["requests"]) - int(r["failures"])
        return (f"{ok:,} / {int(r['offered']):,} | {r['failures']} | {int(r['p50_us']) / 1000:.2f} | "
                f"{int(r['p99_us']) / 1000:.2f} | {int(r['max_us']) / 1000:.1f}")

    for (rd, mode), d in sorted(fl.items(), key=lambda kv: (int(kv[0][0]), kv[0][1] != "alone")):
        r = d.get("normal") or d.get("same")
        st = json.loads(r["flood_status"]) if r["flood_status"] else {}
        other = sum(v for k, v in st.items() if k not in ("200", "429", "503"))
        fcol = (f"{st.get('200', 0):,} | {st.get('429', 0):,} | {st.get('503', 0):,} | {other:,}, {r['flood_errors']}"
                if mode == "flood" else "– | – | – | –")
        elapsed = float(r["elapsed_s"]) or 1
        print(f"| {rd} | {mode} | {cl(d.get('normal'))} | {cl(d.get('same'))} | {fcol} | {r['renders']} | {r['refused']} | "
              f"{int(r['server_ticks']) * 100 / hz / elapsed:.0f} |")
    print()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "check" and len(args) == 2:
        check(args[0], int(args[1]))
    elif cmd == "flood" and len(args) >= 3:
        opts = {"--conns": "16", "--source": "127.0.0.2", "--max-size": "2048"}
        rest = args[3:]
        while rest:
            if rest[0] not in opts or len(rest) < 2:
                sys.exit(f"flood: unknown option {rest[0]}")
            opts[rest[0]] = rest[1]
            rest = rest[2:]
        flood(args[0], float(args[1]), args[2], int(opts["--conns"]), opts["--source"], int(opts["--max-size"]))
    elif cmd == "report" and len(args) == 3:
        report(args[0], args[1], int(args[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
