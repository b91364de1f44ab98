"""pixload's results against a real pixd: --threshold exit codes both ways (0 and 99, 2 for a bad
expression), --abort-on-fail stopping a run early (judged by request counts and flags, not
times), the pixload/1 JSON schema (histograms that add up, a per-second series that adds up to
the totals), --latency-log (one line per request, percentiles matching the histogram's), --start-at,
and `pixload merge` of two runs made at once, checked against pixd's /status.
"""
import datetime
import json
import math
import os
import socket
import subprocess
import tempfile
import time
import unittest

from pixd_env import Pixd, make_image

PIXLOAD_BIN = os.environ.get(
    "PIXLOAD_BIN", os.path.join(os.environ.get("PIXD_BUILD", "../../build"), "pixload"))

HIST_EXACT_BITS, HIST_SUB_BITS = 7, 6


def bucket_low(v):
    """The lowest value of v's histogram bucket (hist.h's layout)."""
    if v < 1 << HIST_EXACT_BITS:
        return v
    shift = v.bit_length() - 1 - HIST_SUB_BITS
    return (v >> shift) << shift


def nearest_rank(sorted_values, p):
    """hist_percentile_rank's position: ceil(p * n / 100) - 1, within [0, n - 1]."""
    n = len(sorted_values)
    r = math.ceil(p * n / 100.0)  # the same double operations as hist.c
    return sorted_values[min(max(r - 1, 0), n - 1)]


def read_latency_log(path):
    """[(start, latency or None, name, status, error)] from a --latency-log file."""
    rows = []
    with open(path) as f:
        header = f.readline()
        assert header.startswith("# pixload latency log"), header
        for line in f:
            start, lat, name, status, error = line.rstrip("\n").split("\t")
            rows.append((float(start), None if lat == "-" else int(lat), name, int(status), error))
    return rows


class ResultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(PIXLOAD_BIN, os.X_OK):
            raise AssertionError(f"{PIXLOAD_BIN} not built")
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixload-results-")
        cls.srv = Pixd()
        cls.srv.write("42.jpg", make_image("JPEG", color=(10, 200, 30)))

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError(f"pixd exited with {rc}")

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def run_pixload(self, *args, timeout=120):
        return subprocess.run([PIXLOAD_BIN, *args], capture_output=True, text=True, timeout=timeout)

    def pixload_json(self, *args, expect_rc=0, name="run.json", timeout=120):
        out = self.path(name)
        if os.path.exists(out):
            os.unlink(out)
        p = self.run_pixload("-q", "--json-out", out, *args, timeout=timeout)
        self.assertEqual(p.returncode, expect_rc, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        with open(out) as f:
            return p, json.load(f)

    def server_requests(self):
        return self.srv.status()["requests"]

    # ---- thresholds ---------------------------------------------------------------------------

    def test_thresholds_pass(self):
        p, doc = self.pixload_json("-c", "4", "-n", "2000", "--threshold", "p99<5s", "--threshold", "fail_ratio<1%",
                                   "--threshold", "requests==2000", "--threshold", "name=/42:max<=60s",
                                   self.srv.url("/42"))
        self.assertIn("Thresholds: 4 of 4 passed", p.stdout)
        self.assertRegex(p.stdout, r"PASS  p99<5s\s+p99 = 0\.\d+s\n")  # in the limit's unit
        self.assertRegex(p.stdout, r"PASS  requests==2000\s+requests = 2000")
        self.assertTrue(doc["thresholds_passed"])
        self.assertEqual([t["pass"] for t in doc["thresholds"]], [True] * 4)
        t = doc["thresholds"][0]
        self.assertEqual((t["expr"], t["metric"], t["op"], t["limit"], t["unit"], t["name"]),
                         ("p99<5s", "p99", "<", 5e6, "us", None))
        self.assertEqual(t["value"], doc["total"]["latency_us"]["percentiles"]["99"])
        self.assertEqual(doc["thresholds"][3]["name"], "/42")
        self.assertEqual(doc["config"]["thresholds"], ["p99<5s", "fail_ratio<1%", "requests==2000", "name=/42:max<=60s"])

    def test_thresholds_fail(self):
        # p50 under a microsecond cannot hold over a network stack; the other one passes
        p, doc = self.pixload_json("-c", "2", "-n", "500", "--threshold", "p50<1us", "--threshold", "failures<1",
                                   self.srv.url("/42"), expect_rc=99)
        self.assertIn("Thresholds: 1 of 2 passed", p.stdout)
        self.assertRegex(p.stdout, r"FAIL  p50<1us\s+p50 = \d+us")
        self.assertIn("PASS  failures<1", p.stdout)
        self.assertFalse(doc["thresholds_passed"])
        self.assertEqual([t["pass"] for t in doc["thresholds"]], [False, True])
        self.assertEqual(doc["total"]["requests"], 500)  # the run itself went to its end
        self.assertFalse(doc["aborted"])
        # failures count: answers outside --expect-status fail
        p, doc = self.pixload_json("-c", "2", "-n", "200", "--expect-status", "404", "--threshold", "fail_ratio<0.5",
                                   self.srv.url("/42"), expect_rc=99)
        self.assertEqual(doc["thresholds"][0]["value"], 1.0)

    def test_threshold_bad_expressions(self):
        for expr, why in [("p99<200", "a latency limit needs a unit"), ("p99<<1ms", "unknown operator '<<'"),
                          ("latency<1ms", "unknown metric 'latency'"), ("fail_ratio<2", "fail_ratio limit above 1"),
                          ("name=:p99<1ms", "empty request name")]:
            with self.subTest(expr=expr):
                p = self.run_pixload("-n", "1", "--threshold", expr, self.srv.url("/42"))
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(f"--threshold '{expr}': {why}", p.stderr)
        p = self.run_pixload("-n", "1", "--threshold", "name=/43:p99<1s", self.srv.url("/42"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("no request is named '/43' (the names: /42)", p.stderr)
        p = self.run_pixload("-n", "1", "--abort-on-fail", self.srv.url("/42"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("--abort-on-fail needs at least one --threshold", p.stderr)

    def test_abort_on_fail(self):
        before = self.server_requests()
        budget = 20_000_000  # far more than a run of a few seconds gets through
        p, doc = self.pixload_json("-c", "2", "-n", str(budget), "-t", "10m", "--threshold", "p50<1us",
                                   "--abort-on-fail", "--abort-delay", "1s", self.srv.url("/42"), expect_rc=99)
        self.assertIn("Aborted at", p.stdout)
        self.assertIn("(aborted: a threshold failed)", p.stdout)
        self.assertIn("threshold 'p50<1us' failed after", p.stderr)
        self.assertTrue(doc["aborted"])
        self.assertFalse(doc["interrupted"])
        self.assertEqual(doc["abort"]["threshold"], "p50<1us")
        self.assertGreaterEqual(doc["abort"]["at_s"], 1)
        self.assertFalse(doc["thresholds_passed"])
        total = doc["total"]["requests"]
        self.assertGreater(total, 0)
        self.assertLess(total, budget)  # stopped before its -n (and its -t)
        self.assertLessEqual(self.server_requests() - before, total + 2 * 2 + 1)

    def test_abort_on_fail_keeps_a_run_that_passes(self):
        p, doc = self.pixload_json("-c", "4", "-R", "2000", "-n", "3000", "--threshold", "p99<10s",
                                   "--threshold", "requests>=3000", "--abort-on-fail", "--abort-delay", "0",
                                   self.srv.url("/42"))
        # requests>=3000 fails on the running totals until the end: it is judged at the end only
        self.assertEqual(doc["total"]["requests"], 3000)
        self.assertFalse(doc["aborted"])
        self.assertTrue(doc["thresholds_passed"])

    # ---- the JSON document ----------------------------------------------------------------------

    def test_json_schema(self):
        _, doc = self.pixload_json("-c", "3", "-t", "2500ms", "--threads", "2", self.srv.url("/42"))
        self.assertEqual(doc["schema"], "pixload/1")
        self.assertEqual(doc["host"], socket.gethostname())
        iso = datetime.datetime.fromisoformat(doc["start_time_iso"].replace("Z", "+00:00"))
        self.assertAlmostEqual(iso.timestamp(), doc["start_time"], delta=0.001)
        self.assertEqual(doc["histogram_layout"], {"exact_bits": 7, "sub_bits": 6, "highest": 60000000})
        c = doc["config"]
        self.assertEqual((c["url"], c["connections"], c["threads"], c["duration_ms"], c["protocol"]),
                         (self.srv.url("/42"), 3, 2, 2500, "http/1.1"))
        for entry in [doc["total"]] + doc["by_name"]:
            lat = entry["latency_us"]
            buckets = lat["histogram"]
            self.assertEqual(sum(n for _, n in buckets), lat["count"])
            self.assertEqual([lo for lo, _ in buckets], sorted({lo for lo, _ in buckets}))
            self.assertTrue(all(bucket_low(lo) == lo for lo, _ in buckets))
            self.assertEqual(bucket_low(lat["min"]), buckets[0][0])
            self.assertEqual(bucket_low(lat["max"]), buckets[-1][0])
            self.assertAlmostEqual(lat["sum"] / lat["count"], lat["mean"], places=6)
        rate = doc["thread_requests_per_s"]
        self.assertEqual(sum(n for _, n in rate["histogram"]), rate["samples"])
        # the series: one point a second (the last is the rest), adding up to the totals
        series = doc["series"]
        self.assertIn(len(series), (2, 3))
        self.assertEqual(sum(p["requests"] for p in series), doc["total"]["requests"])
        self.assertEqual(sum(p["failures"] for p in series), doc["total"]["failures"])
        self.assertAlmostEqual(sum(p["dt"] for p in series), doc["duration_s"], delta=0.01)
        for p in series:
            self.assertEqual(sum(n for _, n in p["histogram"]), p["requests"])  # no untimed requests here
            self.assertEqual(p["users"], 3)
            self.assertLessEqual(p["p50_us"], p["p95_us"])
            self.assertLessEqual(p["p95_us"], p["p99_us"])
        self.assertAlmostEqual(series[0]["t"], doc["start_time"] + 1, delta=0.01)
        self.assertEqual(doc["thresholds"], [])
        self.assertTrue(doc["thresholds_passed"])

    # ---- the sample log ---------------------------------------------------------------------------

    def test_latency_log(self):
        log = self.path("lat.tsv")
        _, doc = self.pixload_json("-c", "4", "--threads", "2", "-n", "30000", "--latency-log", log,
                                   self.srv.url("/42"))
        rows = read_latency_log(log)
        self.assertEqual(len(rows), 30000)
        self.assertEqual({(r[2], r[3], r[4]) for r in rows}, {("/42", 200, "ok")})
        start, end = doc["start_time"], doc["start_time"] + doc["duration_s"]
        self.assertTrue(all(start - 0.001 <= r[0] <= end for r in rows))
        lat = sorted(r[1] for r in rows)
        self.assertEqual(lat[0], doc["total"]["latency_us"]["min"])
        self.assertEqual(lat[-1], doc["total"]["latency_us"]["max"])
        self.assertEqual(sum(lat), doc["total"]["latency_us"]["sum"])
        for p in ("50", "90", "99", "99.9"):
            exact = nearest_rank(lat, float(p))
            got = doc["total"]["latency_us"]["percentiles"][p]
            self.assertLessEqual(abs(got - exact), exact / 128 + 1, f"p{p}: {got} against {exact}")
        # the histogram is the log's samples bucket by bucket
        counts = {}
        for v in lat:
            counts[bucket_low(v)] = counts.get(bucket_low(v), 0) + 1
        self.assertEqual(sorted(counts.items()), [tuple(b) for b in doc["total"]["latency_us"]["histogram"]])

    def test_latency_log_failures(self):
        log = self.path("lat-fail.tsv")
        closed = Pixd()
        port = closed.port
        closed.stop()  # nobody listens there now: every connect fails
        self.pixload_json("-c", "1", "-n", "5", "--latency-log", log, f"http://127.0.0.1:{port}/")
        rows = read_latency_log(log)
        self.assertEqual([(r[1], r[3], r[4]) for r in rows], [(None, 0, "connect")] * 5)
        p = self.run_pixload("-n", "1", "--latency-log", "/nonexistent/dir/l.tsv", self.srv.url("/42"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("--latency-log: /nonexistent/dir/l.tsv", p.stderr)

    # ---- a common start, and merging runs made at once ---------------------------------------------

    def test_start_at(self):
        at = int(time.time()) + 2
        p = self.run_pixload("-c", "2", "-n", "100", "--start-at", str(at), "--json-out", self.path("s.json"),
                             self.srv.url("/42"))
        self.assertEqual(p.returncode, 0, p.stderr)
        iso = datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.assertIn(f"starting at {iso} (--start-at)", p.stdout)
        with open(self.path("s.json")) as f:
            doc = json.load(f)
        self.assertGreaterEqual(doc["start_time"], at)
        self.assertEqual(doc["config"]["start_at"], at)
        p = self.run_pixload("-n", "1", "--start-at", "2020-01-01T00:00:00Z", self.srv.url("/42"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("--start-at 2020-01-01T00:00:00.000Z: that time has passed", p.stderr)
        p = self.run_pixload("-n", "1", "--start-at", "soon", self.srv.url("/42"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("--start-at: invalid time 'soon'", p.stderr)

    def test_merge_two_runs_at_once(self):
        before = self.server_requests()
        at = datetime.datetime.fromtimestamp(int(time.time()) + 2, datetime.timezone.utc)
        at_iso = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        procs = [subprocess.Popen([PIXLOAD_BIN, "-q", "-c", "3", "-n", str(n), "--start-at", at_iso, "--json-out",
                                   self.path(f"m{i}.json"), "--latency-log", self.path(f"m{i}.tsv"),
                                   self.srv.url("/42")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for i, n in ((1, 4000), (2, 2500))]
        for p in procs:
            _, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        docs = []
        for i in (1, 2):
            with open(self.path(f"m{i}.json")) as f:
                docs.append(json.load(f))
        self.assertAlmostEqual(docs[0]["start_time"], docs[1]["start_time"], delta=0.5)
        merged = self.path("merged.json")
        p = self.run_pixload("merge", self.path("m1.json"), self.path("m2.json"), "--json-out", merged,
                             "--threshold", "requests==6500", "--threshold", "p99<10s")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("Merged 2 runs of " + self.srv.url("/42"), p.stdout)
        self.assertIn("6500 requests in", p.stdout)
        with open(merged) as f:
            m = json.load(f)
        self.assertEqual(m["total"]["requests"], 6500)
        self.assertEqual(self.server_requests() - before, 6500 + 1)  # + our first /status
        self.assertEqual(m["connections"], 6)
        self.assertEqual(len(m["merged_from"]), 2)
        self.assertEqual(sum(p["requests"] for p in m["series"]), 6500)
        lat = sorted(r[1] for i in (1, 2) for r in read_latency_log(self.path(f"m{i}.tsv")))
        self.assertEqual(len(lat), 6500)
        for p in ("50", "95", "99"):
            exact = nearest_rank(lat, float(p))
            self.assertLessEqual(abs(m["total"]["latency_us"]["percentiles"][p] - exact), exact / 128 + 1)
        # judged on the merge: the count of one run alone fails
        p = self.run_pixload("merge", "-q", self.path("m1.json"), self.path("m2.json"), "--threshold", "requests==4000")
        self.assertEqual(p.returncode, 99)
        self.assertIn("FAIL  requests==4000", p.stdout)
        # a document of another schema version is refused
        with open(self.path("m1.json")) as f:
            other = f.read().replace('"schema": "pixload/1"', '"schema": "pixload/2"')
        with open(self.path("v2.json"), "w") as f:
            f.write(other)
        p = self.run_pixload("merge", self.path("m2.json"), self.path("v2.json"))
        self.assertEqual(p.returncode, 2)
        self.assertIn('schema "pixload/2": this pixload reads pixload/1', p.stderr)

    # ---- the Kubernetes Job of docs/pixload.md ----------------------------------------------------

    def test_kubernetes_job_manifest(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("PyYAML is not installed")
        src = os.environ.get("PIXD_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
        with open(os.path.join(src, "deploy", "pixload-job.yaml")) as f:
            docs = list(yaml.safe_load_all(f))
        self.assertEqual([d["kind"] for d in docs], ["PersistentVolumeClaim", "Job", "Job"])
        gen, merge = docs[1], docs[2]
        self.assertEqual(gen["spec"]["completionMode"], "Indexed")
        self.assertEqual(gen["spec"]["parallelism"], gen["spec"]["completions"])
        c = gen["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in c["env"]}
        m = merge["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(int({e["name"]: e["value"] for e in m["env"]}["GENERATORS"]), gen["spec"]["completions"])
        # the generator's command line, as Kubernetes expands it: valid options (a start in the past
        # is the one complaint)
        args = [a.replace("$(START_AT)", env["START_AT"]).replace("$(TARGET)", self.srv.url("/42"))
                 .replace("$(INDEX)", "0").replace("/results", self.tmp.name) for a in c["args"]]
        p = self.run_pixload(*args[1:]) if c["command"] == ["pixload"] and args[0] == "-q" else None
        self.assertIsNotNone(p, c)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--start-at 2000-01-01T00:00:00.000Z: that time has passed", p.stderr)
        # the merge script, over two generators' documents
        results = self.path("k8s")
        os.makedirs(results, exist_ok=True)
        for i in (0, 1):
            self.pixload_json("-c", "2", "-n", "300", self.srv.url("/42"), name=f"k8s/gen-{i}.json")
        script = m["args"][0].replace("/results", results).replace("exec pixload", "exec " + PIXLOAD_BIN)
        p = subprocess.run(["/bin/sh", "-c", script], env=dict(os.environ, GENERATORS="2"), capture_output=True,
                           text=True, timeout=60)
        self.assertIn(p.returncode, (0, 99), p.stdout + p.stderr)
        self.assertIn("Merged 2 runs", p.stdout)
        self.assertIn("600 requests in", p.stdout)
        for out in ("merged.json", "report.html", "merged_stats.csv"):
            self.assertTrue(os.path.exists(os.path.join(results, out)), out)


if __name__ == "__main__":
    unittest.main()
