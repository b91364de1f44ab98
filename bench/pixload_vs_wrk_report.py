#!/usr/bin/python3
"""Summarises bench/pixload_vs_wrk.sh's measurements as markdown.

  pixload_vs_wrk_report.py --runs CSV --a LABEL --b LABEL
                           [--rss CSV --ramp HISTORY_CSV --ramp-users N --ramp-rate R]

Per target: each round's requests/s and p50 of A and B with the ratios B/A, then the medians.
Of the attempts at one (round, target, tool) the last counts (the harness measures again while
a run is disturbed by foreign work); runs whose generator exited non-zero are left out.
"--rss": peak RSS at many connections. "--ramp": pixload's locust history, one row per second
of the run, against users = min(rate x second, users).
"""
import argparse
import csv
import statistics

RPS_TARGET = 1.0     # pixload's requests/s at least wrk's
P50_TOLERANCE = 0.05  # pixload's p50 within 5 % of wrk's
RSS_TARGET_MIB = 64
RAMP_TOLERANCE = 0.05


def last_attempts(path):
    last = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (int(row["round"]), row["target"], int(row["conns"]), row["tool"])
            if key not in last or int(row["attempt"]) > int(last[key]["attempt"]):
                last[key] = row
    return last


def fmt_us(us):
    return f"{us / 1000:.3f} ms" if us >= 1000 else f"{us:.1f} us"


def verdict(ok):
    return "**met**" if ok else "**not met**"


def in_flight(row):
    """Little's law: requests held by the server on average (average latency x rate)."""
    return float(row["avg_us"]) * float(row["req_per_s"]) / 1e6


def notes_of(pairs):
    notes = []
    for lbl, row in pairs:
        if row["exit"] != "0":
            notes.append(f"{lbl} exit {row['exit']}")
        if int(row["errors"]):
            notes.append(f"{lbl} {row['errors']} errors")
        if row["disturbed"] == "1":
            notes.append(f"{lbl} disturbed")
        if int(row["attempt"]) > 1:
            notes.append(f"{lbl} attempt {row['attempt']}")
    return ", ".join(notes)


def table(runs, a, b, target, conns, rps_verdict, aa):
    """One target at one connection count: a row per round, the medians, the verdicts."""
    rounds = sorted({k[0] for k in runs if k[1] == target and k[2] == conns})
    print(f"| round | order | {a} req/s | {b} req/s | req/s {b}/{a} | {a} p50 | {b} p50 | p50 {b}/{a} "
          f"| in flight {a} / {b} | CPU s {a} / {b} | RSS KiB {a} / {b} | notes |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rr, pr, xa, xb, pa, pb = [], [], [], [], [], []
    for r in rounds:
        ra, rb = runs.get((r, target, conns, a)), runs.get((r, target, conns, b))
        if not ra or not rb:
            continue
        ya, yb = float(ra["req_per_s"]), float(rb["req_per_s"])
        qa, qb = float(ra["p50_us"]), float(rb["p50_us"])
        ratio, p_ratio = (yb / ya if ya else float("nan")), (qb / qa if qa else float("nan"))
        if ra["exit"] == "0" and rb["exit"] == "0":
            rr.append(ratio)
            pr.append(p_ratio)
            xa.append(ya)
            xb.append(yb)
            pa.append(qa)
            pb.append(qb)
        order = f"{a} {b}" if r % 2 else f"{b} {a}"
        print(f"| {r} | {order} | {ya:,.0f} | {yb:,.0f} | {ratio:.3f} | {fmt_us(qa)} | {fmt_us(qb)} | {p_ratio:.3f} "
              f"| {in_flight(ra):.0f} / {in_flight(rb):.0f} | {ra['gen_cpu_s']} / {rb['gen_cpu_s']} "
              f"| {ra['gen_rss_kb']} / {rb['gen_rss_kb']} | {notes_of(((a, ra), (b, rb)))} |")
    print()
    if not rr:
        print("No complete pair of runs.")
        print()
        return
    med_rr, med_pr = statistics.median(rr), statistics.median(pr)
    print(f"Medians: {a} {statistics.median(xa):,.0f} req/s, p50 {fmt_us(statistics.median(pa))}; "
          f"{b} {statistics.median(xb):,.0f} req/s, p50 {fmt_us(statistics.median(pb))}.")
    print()
    if aa:
        print(f"- A/A (the same tool twice, both ratios should read ~1.00; their spread is the harness's noise): "
              f"req/s {med_rr:.3f} (rounds {min(rr):.3f}-{max(rr):.3f}), p50 {med_pr:.3f} "
              f"(rounds {min(pr):.3f}-{max(pr):.3f})")
        print()
        return
    if rps_verdict:
        print(f"- req/s ratio {b}/{a}: median **{med_rr:.3f}** (rounds {min(rr):.3f}-{max(rr):.3f}), "
              f"target >= {RPS_TARGET:.2f}: {verdict(med_rr >= RPS_TARGET)}")
    print(f"- p50 ratio {b}/{a}: median **{med_pr:.3f}** (rounds {min(pr):.3f}-{max(pr):.3f}), "
          f"target {1 - P50_TOLERANCE:.2f}-{1 + P50_TOLERANCE:.2f}: {verdict(abs(med_pr - 1) <= P50_TOLERANCE)}")
    print()


def throughput(runs, a, b, aa):
    targets = sorted({k[1] for k in runs}, key=lambda t: (t != "nginx", t))
    conns = sorted({k[2] for k in runs}, reverse=True)
    for c in conns:
        heavy = c == conns[0]
        print(f"## {'Throughput and latency' if heavy else 'Latency without queueing'}: -c {c}")
        print()
        for target in targets:
            print(f"### {target}, -c {c}")
            print()
            table(runs, a, b, target, c, heavy, aa)


def memory(path):
    print("## Memory at many connections (against nginx)")
    print()
    print("| tool | connections | max RSS | req/s | errors | exit |")
    print("|---|---:|---:|---:|---:|---:|")
    verdicts = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            mib = int(row["max_rss_kb"]) / 1024
            print(f"| {row['tool']} | {row['connections']} | {mib:.1f} MiB | {float(row['req_per_s']):,.0f} "
                  f"| {row['errors']} | {row['exit']} |")
            if row["tool"] == "pixload":
                verdicts.append(f"pixload peak RSS {mib:.1f} MiB, target <= {RSS_TARGET_MIB} MiB: "
                                f"{verdict(mib <= RSS_TARGET_MIB and row['exit'] == '0')}.")
    print()
    for v in verdicts:
        print(v)
    print()


def ramp(path, users, rate):
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    print(f"## Ramp: -u {users} -r {rate:g}")
    print()
    print("pixload's `_stats_history.csv` has one row per whole second of the run (on the run's own clock);"
          f" users at second i are compared with min({rate:g} x i, {users}).")
    print()
    worst, errors = 0.0, []
    lines = []
    prev = 0
    for i, row in enumerate(rows, 1):
        got = int(row["User Count"])
        want = min(round(rate * i), users)
        err = (got - want) / want
        errors.append(err)
        worst = max(worst, abs(err))
        lines.append(f"| {i} | {got} | {want} | {got - prev} | {100 * err:+.1f} % |")
        prev = got
    if not rows:
        print("No history rows: the ramp did not run.")
        print()
        return
    print(f"{len(rows)} rows; largest deviation {100 * worst:.2f} %, target +-{100 * RAMP_TOLERANCE:.0f} %: "
          f"{verdict(worst <= RAMP_TOLERANCE and int(rows[-1]['User Count']) == users)}.")
    print()
    print("<details><summary>users per second</summary>")
    print()
    print("| second | users | expected | added | deviation |")
    print("|---:|---:|---:|---:|---:|")
    print("\n".join(lines))
    print()
    print("</details>")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--aa", action="store_true", help="A and B are the same tool: no targets, only the spread")
    ap.add_argument("--rss")
    ap.add_argument("--ramp")
    ap.add_argument("--ramp-users", type=int)
    ap.add_argument("--ramp-rate", type=float)
    args = ap.parse_args()
    throughput(last_attempts(args.runs), args.a, args.b, args.aa)
    if args.rss:
        memory(args.rss)
    if args.ramp:
        ramp(args.ramp, args.ramp_users, args.ramp_rate)


if __name__ == "__main__":
    main()
