#!/usr/bin/python3
"""Summarises bench/avatars.sh's CSV as markdown: medians per (server, tool, avatar), then B/A ratios.

  avatars_report.py CSV LABEL_A LABEL_B HZ

Of the attempts at one (round, server, tool, avatar) the last counts (avatars.sh measures again
while a run is disturbed by foreign work). Runs whose load generator exited non-zero are left out
of the medians (counted in "runs ok"). Ratios are of the medians; "per-round" gives the range of
the ratios of the runs paired by round, which shows how much of a ratio is noise.
"""
import csv
import statistics
import sys


def per_request_us(ticks, completed, hz):
    return ticks * 1e6 / hz / completed if completed else float("nan")


def percent(ticks, elapsed, hz):
    return 100.0 * ticks / hz / elapsed if elapsed else float("nan")


def load(path, hz):
    last = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            key = (row["round"], row["server"], row["tool"], row["avatar"])
            if key not in last or int(row["attempt"]) > int(last[key]["attempt"]):
                last[key] = row
    runs = []
    for row in last.values():
        completed, elapsed = int(row["completed"]), float(row["elapsed_s"])
        server, core1 = int(row["server_ticks"]), int(row["core1_ticks"])
        loadgen, core0 = int(row["load_ticks"]), int(row["core0_ticks"])
        runs.append({
            "key": (row["server"], row["tool"], row["avatar"]), "round": int(row["round"]),
            "ok": row["exit"] == "0", "failed": int(row["failed"]), "rps": float(row["req_per_s"]),
            "attempt": int(row["attempt"]), "disturbed": row["disturbed"] == "1",
            "cpu": per_request_us(server, completed, hz), "core1": per_request_us(core1, completed, hz),
            "server_pct": percent(server, elapsed, hz), "load_pct": percent(loadgen, elapsed, hz),
            "foreign_pct": max(percent(core1 - server, elapsed, hz), percent(core0 - loadgen, elapsed, hz)),
        })
    return runs


def median(runs, field):
    values = [r[field] for r in runs if r["ok"]]
    return statistics.median(values) if values else float("nan")


def spread(runs, field, fmt):
    values = [r[field] for r in runs if r["ok"]]
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}" if values else "–"


def main():
    path, label_a, label_b, hz = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    runs = load(path, hz)
    cells = {}
    for r in runs:
        cells.setdefault(r["key"], []).append(r)

    print("| server | tool | avatar | runs ok | req/s median (min–max) | failed | server CPU µs/req"
          " (min–max) | core-1 µs/req | server CPU % | load gen CPU % | foreign % (max) | retried / disturbed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (server, tool, avatar), rs in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0] != label_a)):
        print(f"| {server} | {tool} | {avatar} | {sum(r['ok'] for r in rs)}/{len(rs)}"
              f" | {median(rs, 'rps'):,.0f} ({spread(rs, 'rps', '{:,.0f}')}) | {sum(r['failed'] for r in rs)}"
              f" | {median(rs, 'cpu'):.1f} ({spread(rs, 'cpu', '{:.1f}')}) | {median(rs, 'core1'):.1f}"
              f" | {median(rs, 'server_pct'):.0f} | {median(rs, 'load_pct'):.0f}"
              f" | {max(r['foreign_pct'] for r in rs):.1f}"
              f" | {sum(r['attempt'] > 1 for r in rs)} / {sum(r['disturbed'] for r in rs)} |")

    print()
    print(f"Ratios {label_b}/{label_a} (req/s: higher is better for {label_b}; CPU per request: lower is better):")
    print()
    print("| tool | avatar | req/s | per-round req/s | server CPU/req | per-round CPU/req | core-1 CPU/req |")
    print("|---|---|---|---|---|---|---|")
    for tool, avatar in sorted({(k[1], k[2]) for k in cells}):
        a, b = cells.get((label_a, tool, avatar), []), cells.get((label_b, tool, avatar), [])
        paired = {}
        for r in a + b:
            if r["ok"]:
                paired.setdefault(r["round"], {})[r["key"][0]] = r
        pairs = [p for p in paired.values() if label_a in p and label_b in p]

        def ratio(field):
            return median(b, field) / median(a, field)

        def round_range(field):
            rs = [p[label_b][field] / p[label_a][field] for p in pairs if p[label_a][field]]
            return f"{min(rs):.2f}–{max(rs):.2f}" if rs else "–"

        print(f"| {tool} | {avatar} | {ratio('rps'):.2f} | {round_range('rps')} | {ratio('cpu'):.2f}"
              f" | {round_range('cpu')} | {ratio('core1'):.2f} |")

    print()
    print("server CPU: utime+stime of the server's processes per completed request; core-1: all busy time of"
          " the server's core (adds softirq and anything else that ran there); load gen CPU %: the load"
          " generator's CPU over the run's time (near 100: the client, not the server, was the limit);"
          " foreign %: busy time of core 1 not charged to the server, or of core 0 not charged to the load"
          " generator, whichever is larger (worst run); retried / disturbed: runs measured again because"
          " foreign work disturbed them / runs still disturbed after the last attempt.")


if __name__ == "__main__":
    main()
