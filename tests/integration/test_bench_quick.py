"""The benchmark suite's smoke test: `bench/run --quick`, then its report in headless Chromium.

Every contender folder of bench/contenders must parse and be listed (`--list`); one of each kind
(pixd and pixd-tls, the references; nginx from a template; nginx-tls with HTTP/2; flask, a Python
app with /magic; go, built by its setup step) must start, pass its verification and appear in
summary.md with non-zero figures in every experiment it declares: all of them twice in CI (plain
and sanitizer builds) would take a quarter of an hour. No speed is asserted. The same
run also reads a contenders folder made here (--contenders-dir): `tiny`, a small Python server
that must be started, verified and measured like the others, and `wrongbytes`, which answers
altered avatar bytes and must be reported as failing verification and never measured. The HTML
report must show its tables and every chart image, and link pixload's own HTML report of each
run; the screenshot goes to $PIXD_BUILD/artifacts/report.png. Under load the /magic answers of a
magic = "pillow" contender are checked against Pillow's (pixload --check-field/--check-body). A
second, short run measures a pixd started here with --target (its CPU unknown to the suite),
with the latency-under-load experiment (pixload --find-max-rate) its folder names.
"""
import base64
import csv
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import textwrap
import unittest

from test_page import CHROMIUM, Chromium

SRC = os.environ.get("PIXD_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("PIXD_BUILD") or os.path.dirname(os.environ.get("PIXD_BIN", ""))
PY = "/usr/bin/python3"
FOLDERS = subprocess.run([PY, os.path.join(SRC, "bench", "contenders.py"), "names"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.split()
QUICK = ["pixd", "pixd-tls", "nginx", "nginx-tls", "flask", "go"]
CONTENDERS = [n for n in QUICK if n in FOLDERS] + ["tiny"]
HEADINGS = {"avatars": "Avatars, a new connection per request", "avatars-ka": "Avatars, keep-alive",
            "avatars-h2": "Avatars, HTTP/2", "base64": "/magic/base64", "multipart": "/magic/multipart",
            "imageurl": "/magic/imageurl"}
RUN_BUDGET_S = 480  # CTest gives the whole file 600 s

# A contender as small as one gets: http.server answering the avatar route (with --wrong, the
# avatars' bytes with one flipped: it must fail verification).
TINY_APP = textwrap.dedent("""\
    import argparse, email.utils, mimetypes, os
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--avatars")
    ap.add_argument("--wrong", action="store_true")
    args = ap.parse_args()

    class Avatar(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            uid = self.path.lstrip("/")
            path = next((p for p in (os.path.join(args.avatars, uid + e) for e in (".png", ".jpg", ".jpeg", ".gif"))
                         if "/" not in uid and os.path.isfile(p)), os.path.join(args.avatars, "-1.png"))
            with open(path, "rb") as f:
                body = f.read()
            if args.wrong:
                body = body[:-1] + bytes([body[-1] ^ 1])
            st = os.stat(path)
            self.send_response(200)
            self.send_header("Content-Type", mimetypes.guess_type(path)[0] or "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "public, max-age=7200")
            self.send_header("ETag", f'"{st.st_mtime_ns:x}-{st.st_size:x}"')
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    ThreadingHTTPServer.request_queue_size = 1024
    ThreadingHTTPServer(("127.0.0.1", args.port), Avatar).serve_forever()
""")
TINY_TOML = """\
description = "http.server, threads (a test's contender)"
experiments = ["avatars-ka"]
cores = 1
start = "{python} %s --port {port} --avatars {avatars}%s"
"""


def table_rows(md, heading):
    """{first cell: cells} of the first table under '## heading' in markdown text md."""
    section = md.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells] for cells in rows[1:]}


def number(cell):
    return float(cell.replace(",", "")) if re.fullmatch(r"[\d,]+(\.\d+)?", cell) else 0.0


@unittest.skipUnless(BUILD and os.path.exists(os.path.join(BUILD, "pixload")), "PIXD_BUILD with pixload is needed")
class BenchQuickTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixd-bench-quick-")
        # nginx's unprivileged workers must reach the avatar folder inside it.
        os.chmod(cls.tmp.name, 0o755)
        cls.out = os.path.join(cls.tmp.name, "out")
        extra = os.path.join(cls.tmp.name, "contenders")
        for name, flag in (("tiny", ""), ("wrongbytes", " --wrong")):
            os.makedirs(os.path.join(extra, name))
            with open(os.path.join(extra, name, "contender.toml"), "w") as f:
                f.write(TINY_TOML % ("{dir}/../tiny/app.py", flag))
        with open(os.path.join(extra, "tiny", "app.py"), "w") as f:
            f.write(TINY_APP)
        env = dict(os.environ, PIXD_BUILD=BUILD)
        cls.proc = subprocess.run([os.path.join(SRC, "bench", "run"), "--quick", "--out", cls.out,
                                   "--contenders-dir", extra, "--only", ",".join(CONTENDERS + ["wrongbytes"])], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=RUN_BUDGET_S)
        cls.log = cls.proc.stdout.decode(errors="replace")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.proc.returncode, 0, self.log[-4000:])

    def results(self):
        with open(os.path.join(self.out, "results.json")) as f:
            return json.load(f)

    def declared(self):
        with open(os.path.join(self.out, "contenders.json")) as f:
            return {n: c["experiments"] for n, c in json.load(f).items()}

    def test_every_folder_is_listed(self):
        out = subprocess.run([os.path.join(SRC, "bench", "run"), "--list"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout)
        for name in FOLDERS:
            self.assertRegex(out.stdout, rf"(?m)^{re.escape(name)}: ", name)

    def test_every_contender_answers_and_is_measured(self):
        res, declared = self.results(), self.declared()
        for name in CONTENDERS:
            with self.subTest(contender=name):
                c = res["contenders"][name]
                self.assertEqual(c["status"], "ok", c["detail"])
                for exp in declared[name]:
                    a = res["experiments"][exp].get(name)
                    self.assertIsNotNone(a, f"{name} has no {exp} figures")
                    for key in ("rps", "requests", "mean", "server_us"):
                        self.assertGreater(a[key] or 0, 0, f"{exp} {name} {key}")
                    self.assertEqual(a["failures"], 0, f"{exp} {name}")
                    self.assertGreater(a["content"] or 0, 0, f"{exp} {name} content")

    def test_magic_exactness_is_reported(self):
        res = self.results()
        self.assertEqual(res["contenders"]["pixd"]["magic"], "exact")
        self.assertEqual(res["contenders"]["flask"]["magic"], "exact")
        self.assertEqual(res["contenders"]["go"]["magic"], "within tolerance")

    def test_wrong_bytes_fail_verification_and_are_not_measured(self):
        c = self.results()["contenders"]["wrongbytes"]
        self.assertEqual(c["status"], "wrong-answers")
        self.assertIn("is not -1.png", c["detail"])
        with open(os.path.join(self.out, "runs.csv"), newline="") as f:
            self.assertEqual([r["id"] for r in csv.DictReader(f) if r["contender"] == "wrongbytes"], [])
        self.assertIn("| wrongbytes |", self.summary().split("## Contenders", 1)[1])

    def test_records(self):
        with open(os.path.join(self.out, "meta.txt")) as f:
            meta = dict(line.rstrip("\n").split("=", 1) for line in f)
        for key in ("cpu", "cores", "kernel", "governor", "cpu_source", "packages"):
            self.assertTrue(meta[key], key)
        with open(os.path.join(self.out, "contenders.json")) as f:
            self.assertTrue(json.load(f)["nginx"]["packages_installed"]["nginx-light"])
        self.assertTrue(os.path.isfile(os.path.join(self.out, "contenders", "nginx", "nginx.conf")))
        with open(os.path.join(self.out, "contenders", "tiny", "command.txt")) as f:
            self.assertIn("app.py --port", f.read())

    def summary(self):
        with open(os.path.join(self.out, "summary.md")) as f:
            return f.read()

    def test_summary_tables(self):
        md, declared = self.summary(), self.declared()
        for exp, heading in HEADINGS.items():
            rows = {k.split(" (")[0]: v for k, v in table_rows(md, heading).items()}
            want = [n for n in CONTENDERS if exp in declared[n]] + ["wrongbytes"]
            self.assertEqual(sorted(rows), sorted(want), heading)
            for name in want[:-1]:
                with self.subTest(experiment=exp, contender=name):
                    cells = rows[name]
                    self.assertGreater(number(cells[2]), 0, cells)    # req/s
                    self.assertGreater(number(cells[8]), 0, cells)    # requests
                    self.assertGreater(number(cells[10].split(" (")[0]), 0, cells)   # server CPU µs/req
            self.assertIn("**wrong-answers**", rows["wrongbytes"][2])
        contenders = table_rows(md, "Contenders")
        self.assertEqual({k: v[5] for k, v in contenders.items() if k != "wrongbytes"}, {n: "ok" for n in CONTENDERS})
        side = table_rows(md, "HTTP/1.1 and HTTP/2 side by side")
        self.assertEqual(sorted(side), sorted(n for n in CONTENDERS if "avatars-h2" in declared[n]))
        # The cross-check ran pixload next to wrk, ab and (where installed) h2load.
        xc = md.split("## Cross-check", 1)[1]
        for tool in ("| ab |", "| wrk |") + (("| h2load |",) if os.path.exists("/usr/bin/h2load") else ()):
            self.assertIn(tool, xc)

    def runs(self):
        with open(os.path.join(self.out, "runs.csv"), newline="") as f:
            return list(csv.DictReader(f))

    def test_pixload_html_reports_are_linked(self):
        with open(os.path.join(self.out, "index.html")) as f:
            index = f.read()
        pixload_runs = [r["id"] for r in self.runs() if r["tool"] == "pixload"]
        self.assertTrue(pixload_runs)
        for rid in pixload_runs:
            with self.subTest(run=rid):
                page = os.path.join(self.out, "html", rid + ".html")
                self.assertGreater(os.path.getsize(page), 1000)
                if "-main-" in rid:
                    self.assertIn(f'href="html/{rid}.html"', index)

    def test_magic_answers_checked_under_load(self):
        runs = {(r["contender"], r["experiment"]): r for r in self.runs() if r["role"] == "main"}
        self.assertEqual(runs[("pixd", "base64")]["body_check"], "field encoded_img")
        self.assertEqual(runs[("pixd", "imageurl")]["body_check"], "field encoded_img")
        self.assertEqual(runs[("pixd", "multipart")]["body_check"], "body")
        self.assertEqual(runs[("flask", "base64")]["body_check"], "field encoded_img")
        self.assertEqual(runs[("go", "base64")]["body_check"], "")   # magic = "tolerance"
        res = self.results()["experiments"]
        for exp in ("base64", "multipart", "imageurl"):
            self.assertEqual(res[exp]["pixd"]["failure_kinds"].get("body", 0), 0, exp)
            self.assertEqual(res[exp]["pixd"]["failures"], 0, exp)
        base64_section = self.summary().split("\n## /magic/base64\n", 1)[1].split("\n## ", 1)[0]
        self.assertIn("Not checked under load: go", base64_section)

    def test_outputs(self):
        csvs = os.listdir(os.path.join(self.out, "csv"))
        self.assertIn("base64-pixd-pixload-main-t1_stats.csv", csvs)
        with open(os.path.join(self.out, "csv", "base64-pixd-pixload-main-t1_stats.csv")) as f:
            self.assertTrue(f.readline().startswith("Type,Name,Request Count,Failure Count,Median Response Time"))
        for chart in ("response_time", "requests_per_second", "content_size", "request_count"):
            for ext in ("png", "svg"):
                path = os.path.join(self.out, "charts", f"{chart}.{ext}")
                self.assertGreater(os.path.getsize(path), 1000, path)

    def test_report_survives_a_trial_with_no_answer(self):
        # A run that completed no request (a starved machine, a server that stopped) has no
        # figures: the report says so in its row instead of failing whole.
        import shutil
        copy = os.path.join(self.tmp.name, "no-answer")
        shutil.copytree(self.out, copy)
        os.unlink(os.path.join(copy, "json", "avatars-ka-nginx-pixload-main-t1.json"))
        p = subprocess.run([PY, os.path.join(SRC, "bench", "report.py"), copy],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        with open(os.path.join(copy, "summary.md")) as f:
            self.assertRegex(f.read(), r"\| nginx \| [^|]*\| \*\*no trial succeeded\*\*")

    @unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/install-deps.sh test installs it)")
    def test_report_in_browser(self):
        b = Chromium(width=1300, height=900)
        try:
            b.navigate("file://" + os.path.join(self.out, "index.html"))
            b.wait_for("[...document.images].every(i => i.complete)")
            images = b.js("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
            self.assertEqual(sorted(src for src, _ in images),
                             sorted(f"charts/{c}.png" for c in
                                    ("response_time", "requests_per_second", "content_size", "request_count")))
            for src, width in images:
                self.assertGreater(width, 0, f"{src} did not load")
            # Headline, HTTP/1.1 and HTTP/2, contenders, one per experiment, cross-check; each with rows.
            rows = b.js("[...document.querySelectorAll('table')].map(t => t.tBodies[0].rows.length)")
            self.assertEqual(len(rows), 4 + len(HEADINGS))
            self.assertTrue(all(n > 0 for n in rows), rows)
            self.assertIn("pixd", b.js("document.querySelector('h1').textContent"))

            height = b.js("document.documentElement.scrollHeight")
            shot = b.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": 1300, "height": height, "scale": 1})
            out = os.path.join(BUILD, "artifacts")
            os.makedirs(out, exist_ok=True)
            with open(os.path.join(out, "report.png"), "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        finally:
            b.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(BUILD and os.path.exists(os.path.join(BUILD, "pixload")), "PIXD_BUILD with pixload is needed")
class BenchTargetTest(unittest.TestCase):
    """bench/run --target: a pixd started here, serving an avatar folder made here (as on another
    machine), measured by a short run without starting anything of its own but the origin."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixd-bench-target-")
        os.chmod(cls.tmp.name, 0o755)
        avatars, cls.out = os.path.join(cls.tmp.name, "avatars"), os.path.join(cls.tmp.name, "out")
        subprocess.run([PY, os.path.join(SRC, "bench", "make_avatars.py"), avatars], check=True)
        port = free_port()
        cls.pixd = subprocess.Popen([os.path.join(BUILD, "pixd"), "--avatars", avatars, "--threads", "1",
                                     "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        env = dict(os.environ, PIXD_BUILD=BUILD)
        cls.proc = subprocess.run([os.path.join(SRC, "bench", "run"), "--quick", "--no-crosscheck", "--out", cls.out,
                                   "--experiments", "avatars-ka,base64,latency", "--avatars", avatars,
                                   "--target", f"pixd=http://127.0.0.1:{port}", "--target", f"far=http://127.0.0.1:{port}"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        cls.log = cls.proc.stdout.decode(errors="replace")

    @classmethod
    def tearDownClass(cls):
        cls.pixd.send_signal(signal.SIGTERM)
        cls.pixd.wait(timeout=10)
        cls.tmp.cleanup()

    def test_targets_verified_and_measured_without_cpu(self):
        self.assertEqual(self.proc.returncode, 0, self.log[-4000:])
        with open(os.path.join(self.out, "results.json")) as f:
            res = json.load(f)
        self.assertEqual(sorted(res["contenders"]), ["far", "pixd"])
        for name in ("pixd", "far"):
            with self.subTest(target=name):
                self.assertEqual(res["contenders"][name]["status"], "ok", res["contenders"][name]["detail"])
                self.assertEqual(res["contenders"][name]["magic"], "exact")
                for exp in ("avatars-ka", "base64"):
                    a = res["experiments"][exp][name]
                    self.assertGreater(a["requests"], 0)
                    self.assertEqual(a["failures"], 0)
                    self.assertIsNone(a["server_us"])
                    self.assertNotEqual(res["experiments"][exp][name]["ratio_kind"], "cpu")
        with open(os.path.join(self.out, "summary.md")) as f:
            self.assertIn("their server CPU is not available", f.read())

    def test_latency_under_load(self):
        """pixd's folder names avatars-ka and base64 for the latency runs; a generic target none."""
        self.assertEqual(self.proc.returncode, 0, self.log[-4000:])
        with open(os.path.join(self.out, "results.json")) as f:
            latency = json.load(f)["latency"]
        self.assertEqual(sorted(latency), ["avatars-ka", "base64"])
        for exp in ("avatars-ka", "base64"):
            with self.subTest(experiment=exp):
                self.assertEqual(sorted(latency[exp]), ["pixd"])
                steps = latency[exp]["pixd"]["steps"]
                self.assertGreater(len(steps), 0)
                self.assertTrue(all(st["offered"] > 0 and st["p99"] >= st["p50"] for st in steps), steps)
                for ext in ("png", "svg"):
                    self.assertGreater(os.path.getsize(os.path.join(self.out, "charts", f"latency_{exp}.{ext}")), 1000)
        with open(os.path.join(self.out, "summary.md")) as f:
            md = f.read()
        rows = [line for line in md.split("\n## Latency under load\n", 1)[1].split("\n## ", 1)[0].splitlines()
                if line.startswith("| ")]
        self.assertEqual(len(rows), 1 + 2, rows)   # the head, and a row per experiment
        self.assertIn("](charts/latency_base64.png)", md)


if __name__ == "__main__":
    unittest.main()
