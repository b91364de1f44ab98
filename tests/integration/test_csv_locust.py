"""pixload's CSV headers are byte-identical to the ones Debian's locust writes.

Runs locust headless for 2 s against a tiny local HTTP server (one task that succeeds, one
that fails, so every file gets data rows), with --csv and --csv-full-history, and compares
the header line of each of its four files with what pixload's report module writes (printed
by the csv_headers tool, bench/tools/csv_headers.c). Rows must have as many fields as the
header (so pixload's rows, whose layout tests/unit/test_report.c checks, line up too).
"""
import csv
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import unittest

LOCUSTFILE = '''
from locust import HttpUser, task, constant

class User(HttpUser):
    wait_time = constant(0.01)

    @task(3)
    def ok(self):
        self.client.get("/")

    @task(1)
    def missing(self):
        self.client.get("/missing", name="miss")
'''

FILES = ["stats", "stats_history", "failures", "exceptions"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status, body = (200, b"hello\n") if self.path == "/" else (404, b"no\n")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def tool_path():
    build = os.environ.get("PIXD_BUILD")
    if not build:
        src = os.environ.get("PIXD_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
        build = os.path.join(src, "build")
    return os.path.join(build, "csv_headers")


class CsvLocustTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            subprocess.run([sys.executable, "-c", "import locust"], check=True, capture_output=True, timeout=60)
        except (subprocess.CalledProcessError, FileNotFoundError):
            raise unittest.SkipTest("locust is not installed (scripts/install-deps.sh test)")
        cls.tool = tool_path()
        if not os.access(cls.tool, os.X_OK):
            raise AssertionError(f"{cls.tool} not built (bench/tools/csv_headers.c)")
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.tmp = tempfile.TemporaryDirectory()
        lf = os.path.join(cls.tmp.name, "locustfile.py")
        with open(lf, "w") as f:
            f.write(LOCUSTFILE)
        cls.prefix = os.path.join(cls.tmp.name, "run")
        port = cls.server.server_address[1]
        proc = subprocess.run(
            [sys.executable, "-m", "locust", "-f", lf, "--headless", "-u", "2", "-r", "2", "-t", "2s",
             "--host", f"http://127.0.0.1:{port}", "--csv", cls.prefix, "--csv-full-history",
             "--loglevel", "WARNING"],
            capture_output=True, text=True, timeout=120, cwd=cls.tmp.name)
        # locust exits 1 when any request failed, which the "miss" task makes sure of.
        if proc.returncode not in (0, 1):
            raise AssertionError(f"locust failed ({proc.returncode}):\n{proc.stderr[-2000:]}")

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.tmp.cleanup()

    def locust_lines(self, name):
        with open(f"{self.prefix}_{name}.csv", "rb") as f:
            return f.read().split(b"\r\n")

    def test_headers_identical(self):
        for name in FILES:
            with self.subTest(file=name):
                ours = subprocess.run([self.tool, name], capture_output=True, check=True).stdout
                theirs = self.locust_lines(name)[0] + b"\r\n"
                self.assertEqual(ours, theirs)

    def read_csv(self, name):
        with open(f"{self.prefix}_{name}.csv", newline="") as f:
            return list(csv.reader(f))

    def test_locust_wrote_rows(self):
        # The comparison means something only if locust really used these headers for data.
        stats = self.read_csv("stats")
        self.assertEqual([r[1] for r in stats[1:]], ["/", "miss", "Aggregated"])
        history = self.read_csv("stats_history")
        failures = self.read_csv("failures")
        self.assertEqual(failures[1][:2], ["GET", "miss"])
        for rows in (stats, history, failures):
            for row in rows[1:]:
                self.assertEqual(len(row), len(rows[0]))


if __name__ == "__main__":
    unittest.main()
