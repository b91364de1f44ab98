"""The benchmark suite's smoke test: `bench/run --quick`, then its report in headless Chromium.

Every contender must start, pass bench/check_peer.py and appear in summary.md with non-zero
figures in every experiment it takes part in; no speed is asserted. The HTML report must show
its tables and every chart image. The screenshot goes to $PIXD_BUILD/artifacts/report.png.
"""
import base64
import json
import os
import re
import subprocess
import tempfile
import unittest

from test_page import CHROMIUM, Chromium

SRC = os.environ.get("PIXD_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("PIXD_BUILD") or os.path.dirname(os.environ.get("PIXD_BIN", ""))
CONTENDERS = ["flask", "gunicorn2", "gunicorn3", "fastapi", "fastapi2", "aiohttp", "aiohttp2", "starlette",
              "nginx", "nginx-tls", "pixd", "pixd2", "pixd-tls"]
EXPERIMENTS = ["avatars", "avatars-ka", "base64", "multipart", "imageurl"]
AVATARS_ONLY = {"starlette", "nginx", "nginx-tls", "pixd-tls"}
RUN_BUDGET_S = 480  # CTest gives the whole file 600 s


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
        env = dict(os.environ, PIXD_BUILD=BUILD)
        cls.proc = subprocess.run([os.path.join(SRC, "bench", "run"), "--quick", "--out", cls.out], env=env,
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

    def test_every_contender_answers_and_is_measured(self):
        res = self.results()
        for name in CONTENDERS:
            with self.subTest(contender=name):
                c = res["contenders"][name]
                self.assertEqual(c["status"], "ok", c["detail"])
                for exp in EXPERIMENTS:
                    if name in AVATARS_ONLY and exp not in ("avatars", "avatars-ka"):
                        continue
                    a = res["experiments"][exp].get(name)
                    self.assertIsNotNone(a, f"{name} has no {exp} figures")
                    for key in ("rps", "requests", "p50", "mean", "server_us"):
                        self.assertGreater(a[key] or 0, 0, f"{exp} {name} {key}")
                    self.assertEqual(a["failures"], 0, f"{exp} {name}")
                    if a["tools"] != ["wrk"]:  # wrk does not report body sizes
                        self.assertGreater(a["content"] or 0, 0, f"{exp} {name} content")

    def test_summary_tables(self):
        with open(os.path.join(self.out, "summary.md")) as f:
            md = f.read()
        headings = {"avatars": "Avatars, a new connection per request", "avatars-ka": "Avatars, keep-alive",
                    "base64": "/magic/base64", "multipart": "/magic/multipart", "imageurl": "/magic/imageurl"}
        for exp, heading in headings.items():
            rows = {k.split(" (")[0]: v for k, v in table_rows(md, heading).items()}
            want = [n for n in CONTENDERS if exp.startswith("avatars") or n not in AVATARS_ONLY]
            self.assertEqual(sorted(rows), sorted(want), heading)
            for name in want:
                with self.subTest(experiment=exp, contender=name):
                    cells = rows[name]
                    self.assertGreater(number(cells[2]), 0, cells)    # req/s
                    self.assertGreater(number(cells[8]), 0, cells)    # requests
                    self.assertGreater(number(cells[10]), 0, cells)   # server CPU µs/req
        contenders = table_rows(md, "Contenders")
        self.assertEqual({k: v[3] for k, v in contenders.items()}, {n: "ok" for n in CONTENDERS})
        # The cross-check ran pixload next to wrk and ab.
        xc = md.split("## Cross-check", 1)[1]
        for tool in ("| ab |", "| wrk |"):
            self.assertIn(tool, xc)

    def test_outputs(self):
        csvs = os.listdir(os.path.join(self.out, "csv"))
        self.assertIn("base64-pixd-pixload-main-t1_stats.csv", csvs)
        with open(os.path.join(self.out, "csv", "base64-pixd-pixload-main-t1_stats.csv")) as f:
            self.assertTrue(f.readline().startswith("Type,Name,Request Count,Failure Count,Median Response Time"))
        for chart in ("response_time", "requests_per_second", "content_size", "request_count"):
            for ext in ("png", "svg"):
                path = os.path.join(self.out, "charts", f"{chart}.{ext}")
                self.assertGreater(os.path.getsize(path), 1000, path)

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
            # Headline, contenders, one per experiment, cross-check; each with rows.
            rows = b.js("[...document.querySelectorAll('table')].map(t => t.tBodies[0].rows.length)")
            self.assertEqual(len(rows), 3 + len(EXPERIMENTS))
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


if __name__ == "__main__":
    unittest.main()
