"""pixload --html in a real headless Chromium (driven by test_page's Chromium helper): a run against
pixd with two request names, failures and thresholds, then its merge. Checked in the browser:
every chart rendered (an SVG with a visible size, one polyline per line with a point per second
of the series, the histogram's bars holding every timed request), the figures, the thresholds'
verdicts and the per-name table showing what the --json-out document says, the embedded JSON
being that document, and nothing fetched. The screenshot goes to
$PIXD_BUILD/artifacts/pixload-report.png (docs/img/pixload-report.png is one).
"""
import io
import json
import os
import subprocess
import tempfile
import unittest

from PIL import Image

from pixd_env import Pixd, make_image
from test_page import CHROMIUM, Chromium

PIXLOAD_BIN = os.environ.get(
    "PIXLOAD_BIN", os.path.join(os.environ.get("PIXD_BUILD", "../../build"), "pixload"))


def fmt_count(n):
    return f"{n:,}"


@unittest.skipUnless(CHROMIUM, "chromium is not installed")
class HtmlReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixload-html-")
        cls.srv = Pixd()
        cls.srv.write("42.jpg", make_image("JPEG", size=(64, 64), color=(10, 200, 30)))
        scenario = os.path.join(cls.tmp.name, "mix.json")
        with open(scenario, "w") as f:
            json.dump({"requests": [{"path": "/42", "name": "avatar", "weight": 8},
                                    {"path": "/42?s=20", "name": "small avatar", "weight": 3},
                                    {"path": "/42", "name": "expects 404", "weight": 1, "expect_status": 404}]}, f)
        cls.json_path = os.path.join(cls.tmp.name, "run.json")
        cls.html_path = os.path.join(cls.tmp.name, "run.html")
        p = subprocess.run([PIXLOAD_BIN, "-q", "-c", "8", "-R", "1500", "-t", "4s", "--scenario", scenario,
                            "--threshold", "p99<2s", "--threshold", "name=avatar:fail_ratio<1%",
                            "--threshold", "fail_ratio<5%", "--json-out", cls.json_path, "--html", cls.html_path,
                            cls.srv.url("/")], capture_output=True, text=True, timeout=120)
        # one in twelve requests expects a 404 it never gets: fail_ratio ~8 % fails its 5 % threshold
        assert p.returncode == 99, p.stdout + p.stderr
        with open(cls.json_path) as f:
            cls.doc = json.load(f)
        cls.browser = Chromium(width=1100, height=2300)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.srv.stop()
        cls.tmp.cleanup()

    def open(self, path):
        b = self.browser
        b.navigate("file://" + path)
        self.assertTrue(b.js("document.readyState === 'complete'"))
        return b

    def check_charts(self, b, series_len):
        charts = b.js("""[...document.querySelectorAll('svg.chart')].map(s => {
            const r = s.getBoundingClientRect();
            return {id: s.id, points: +s.dataset.points, w: r.width, h: r.height,
                    lines: [...s.querySelectorAll('polyline')].map(p => ({
                        label: p.dataset.label, n: p.points.numberOfItems, len: p.getTotalLength()})),
                    bars: [...s.querySelectorAll('rect.bar')].map(r => ({
                        count: +r.dataset.count, w: r.getBoundingClientRect().width,
                        h: r.getBoundingClientRect().height}))};
        })""")
        self.assertEqual([c["id"] for c in charts], ["chart-rps", "chart-latency", "chart-errors", "chart-histogram"])
        for c in charts:
            self.assertGreater(c["w"], 500, c["id"])
            self.assertGreater(c["h"], 100, c["id"])
        by_id = {c["id"]: c for c in charts}
        for cid, labels in (("chart-rps", ["requests/s"]), ("chart-latency", ["p50", "p95", "p99"]),
                            ("chart-errors", ["failures/s"])):
            c = by_id[cid]
            self.assertEqual(c["points"], series_len, cid)
            self.assertEqual([line["label"] for line in c["lines"]], labels, cid)
            for line in c["lines"]:
                self.assertEqual(line["n"], series_len, f"{cid} {line['label']}")
                self.assertGreater(line["len"], 0, f"{cid} {line['label']}: drawn")
        bars = by_id["chart-histogram"]["bars"]
        self.assertGreater(len(bars), 3)
        self.assertTrue(all(bar["w"] > 0 and bar["h"] > 0 for bar in bars))
        return bars

    def test_report_shows_the_json(self):
        doc = self.doc
        b = self.open(self.html_path)
        self.assertEqual(b.js("document.title"), "pixload: " + self.srv.url("/"))
        # the embedded document is the --json-out file
        self.assertEqual(b.js("JSON.parse(document.getElementById('pixload-data').textContent)"), doc)
        # nothing was fetched: only the page itself
        self.assertEqual(b.js("performance.getEntriesByType('resource').length"), 0)
        self.assertEqual(b.js("document.querySelectorAll('script:not([type=\"application/json\"]), link, img, iframe')"
                              ".length"), 0)

        bars = self.check_charts(b, len(doc["series"]))
        total = doc["total"]
        self.assertEqual(sum(bar["count"] for bar in bars), total["latency_us"]["count"])

        figures = b.js("Object.fromEntries([...document.querySelectorAll('#figures dd')].map("
                       "d => [d.id, [+d.dataset.value, d.textContent]]))")
        self.assertEqual(figures["f-requests"], [total["requests"], fmt_count(total["requests"])])
        self.assertEqual(figures["f-failures"][0], total["failures"])
        self.assertTrue(figures["f-failures"][1].startswith(fmt_count(total["failures"]) + " ("))
        self.assertAlmostEqual(figures["f-rps"][0], total["requests_per_s"], places=6)
        for fid, p in (("f-p50", "50"), ("f-p95", "95"), ("f-p99", "99"), ("f-max", "100")):
            self.assertEqual(figures[fid][0], total["latency_us"]["percentiles"][p], fid)
        self.assertAlmostEqual(figures["f-mean"][0], total["latency_us"]["mean"], places=6)
        self.assertAlmostEqual(figures["f-duration"][0], doc["duration_s"], places=6)

        rows = b.js("[...document.querySelectorAll('#thresholds tr[data-pass]')].map(r => "
                    "[r.dataset.pass === 'true', r.cells[1].textContent, +r.cells[2].dataset.value])")
        self.assertEqual([[t["pass"], t["expr"], t["value"]] for t in doc["thresholds"]], rows)
        self.assertEqual([r[0] for r in rows], [True, True, False])
        self.assertEqual(b.js("document.getElementById('verdict').textContent"), "FAIL: 2 of 3 thresholds passed")

        names = b.js("[...document.querySelectorAll('#names tr[data-name]')].map(r => "
                     "[r.dataset.name, r.cells[0].textContent, ...[...r.cells].slice(2).map(c => +c.dataset.value)])")
        want = []
        for e in doc["by_name"] + [dict(total, name="Aggregated", method="")]:
            lat = e["latency_us"]
            pc = lat["percentiles"]
            want.append([e["name"], e["method"], e["requests"], e["failures"], 0, lat["mean"], lat["min"], pc["50"],
                         pc["95"], pc["99"], lat["max"], e["requests_per_s"]])
        for got, w in zip(names, want):
            got[4] = 0  # the fail % cell has no data-value
            self.assertEqual(got[:5], w[:5])
            for g, x in zip(got[5:], w[5:]):
                self.assertAlmostEqual(g, x, places=6)
        self.assertEqual(len(names), len(want))
        self.assertEqual(b.js("document.querySelector('#failures td[data-value]').dataset.value"),
                         str(total["errors"]["status"]))

        out = os.path.join(os.environ.get("PIXD_BUILD", tempfile.gettempdir()), "artifacts")
        os.makedirs(out, exist_ok=True)
        shot = Image.open(io.BytesIO(b.screenshot(os.path.join(out, "pixload-report.png")))).convert("RGB")
        self.assertEqual(shot.size, (1100, 2300))
        colors = shot.getcolors(1 << 20)
        self.assertGreater(len(colors), 50, "the screenshot is nearly blank")

    def test_merged_report(self):
        merged_json = os.path.join(self.tmp.name, "merged.json")
        merged_html = os.path.join(self.tmp.name, "merged.html")
        p = subprocess.run([PIXLOAD_BIN, "merge", self.json_path, self.json_path, "--html", merged_html,
                            "--json-out", merged_json, "--threshold", "requests>=1"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(merged_json) as f:
            m = json.load(f)
        self.assertEqual(m["total"]["requests"], 2 * self.doc["total"]["requests"])
        b = self.open(merged_html)
        self.assertEqual(b.js("JSON.parse(document.getElementById('pixload-data').textContent)"), m)
        bars = self.check_charts(b, len(m["series"]))
        self.assertEqual(sum(bar["count"] for bar in bars), m["total"]["latency_us"]["count"])
        self.assertEqual(b.js("+document.getElementById('f-requests').dataset.value"), m["total"]["requests"])
        self.assertEqual(b.js("document.querySelectorAll('#sources tr').length"), 1 + 2)
        self.assertEqual(b.js("document.getElementById('verdict').textContent"), "PASS: 1 of 1 thresholds passed")


if __name__ == "__main__":
    unittest.main()
