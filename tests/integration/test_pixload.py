"""pixload against a real pixd: exact counts, status tallies, failures by kind, image bodies,
scenarios, ramps, open-loop rate, the CSV/JSON outputs, argument errors and Ctrl-C.

pixload's own figures (from --json-out) are checked against pixd's /status counters where
the server can tell: requests it answered, connections it accepted. Other peers run in this
process: an http.server origin for /magic/imageurl, and a socket that accepts and never
answers (timeouts). A free port nobody listens on gives connection refused.
"""
import csv
import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from pixd_env import Pixd, free_port, make_image

PIXLOAD_BIN = os.environ.get(
    "PIXLOAD_BIN", os.path.join(os.environ.get("PIXD_BUILD", "../../build"), "pixload"))

# The header lines Debian's python3-locust 2.x writes (test_csv_locust.py checks that
# pixload's writer still prints exactly these).
LOCUST_HEADERS = {
    "stats": "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
             "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
             "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%",
    "stats_history": "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,"
                     "98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,"
                     "Total Median Response Time,Total Average Response Time,Total Min Response Time,"
                     "Total Max Response Time,Total Average Content Size",
    "failures": "Method,Name,Error,Occurrences",
    "exceptions": "Count,Message,Traceback,Nodes",
}


class SilentServer:
    """Accepts connections and never answers: every request times out."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)  # kept open, unread

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class PixloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(PIXLOAD_BIN, os.X_OK):
            raise AssertionError(f"{PIXLOAD_BIN} not built")
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixload-test-")
        cls.jpeg = make_image("JPEG", size=(64, 48))
        cls.jpeg_path = os.path.join(cls.tmp.name, "cat.jpg")
        with open(cls.jpeg_path, "wb") as f:
            f.write(cls.jpeg)
        cls.srv = Pixd("--fetch-allow", "127.0.0.1/32")
        cls.avatar = make_image("JPEG", color=(10, 200, 30))
        cls.srv.write("42.jpg", cls.avatar)
        cls.srv.write("43.jpg", make_image("JPEG", color=(200, 200, 30)))
        cls.origin = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(QuietFiles, directory=cls.tmp.name))
        threading.Thread(target=cls.origin.serve_forever, daemon=True).start()
        cls.silent = SilentServer()

    @classmethod
    def tearDownClass(cls):
        cls.origin.shutdown()
        cls.origin.server_close()
        cls.silent.close()
        rc = cls.srv.stop()
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError(f"pixd exited with {rc}")

    # ---- helpers --------------------------------------------------------------------------

    def pixload(self, *args, timeout=60, expect_rc=0):
        """Runs pixload -q with args; returns (stdout, stderr, the --json-out document)."""
        out = os.path.join(self.tmp.name, "run.json")
        if os.path.exists(out):
            os.unlink(out)
        p = subprocess.run([PIXLOAD_BIN, "-q", "--json-out", out, *args], capture_output=True, text=True,
                           timeout=timeout)
        self.assertEqual(p.returncode, expect_rc, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        with open(out) as f:
            return p.stdout, p.stderr, json.load(f)

    def status(self):
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            s.sendall(b"GET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return json.loads(data.split(b"\r\n\r\n", 1)[1])

    def server_delta(self, *args, **kw):
        """Runs pixload and returns (json, requests, connections) the server saw from it."""
        # What reading /status itself adds, measured rather than assumed.
        s0 = self.status()
        s1 = self.status()
        own_req = s1["requests"] - s0["requests"]
        own_conn = s1["connections"]["total"] - s0["connections"]["total"]
        _, _, doc = self.pixload(*args, **kw)
        s2 = self.status()
        return (doc, s2["requests"] - s1["requests"] - own_req,
                s2["connections"]["total"] - s1["connections"]["total"] - own_conn)

    # ---- counts and checks ----------------------------------------------------------------

    def test_requests_exact(self):
        for conns, n in ((10, 1000), (7, 333), (50, 20)):
            doc, reqs, conn = self.server_delta("-c", str(conns), "-n", str(n), "--threads", "2",
                                                self.srv.url("/42"))
            t = doc["total"]
            self.assertEqual(t["requests"], n)
            self.assertEqual(t["failures"], 0)
            self.assertEqual(t["status"], {"200": n})
            self.assertEqual(reqs, n, "the server answered a different number of requests")
            # keep-alive: at most one connection per user, each one the server saw; a thread that
            # starts after the others have used up -n opens none (none is opened for nothing)
            self.assertEqual(conn, doc["connects"])
            self.assertGreaterEqual(doc["connects"], 1)
            self.assertLessEqual(doc["connects"], min(conns, n))
            self.assertEqual(t["content_bytes"], n * len(self.avatar))

    def test_status_tallies(self):
        _, _, doc = self.pixload("-c", "4", "-n", "200", self.srv.url("/no/such/path"))
        t = doc["total"]
        self.assertEqual(t["requests"], 200)
        self.assertEqual(t["status"], {"404": 200})
        self.assertEqual(t["failed_status"], {"404": 200})
        self.assertEqual(t["failures"], 200)
        self.assertEqual(t["errors"]["status"], 200)

        _, _, doc = self.pixload("-c", "4", "-n", "200", "--expect-status", "404", self.srv.url("/no/such/path"))
        t = doc["total"]
        self.assertEqual(t["status"], {"404": 200})
        self.assertEqual(t["failures"], 0)
        self.assertEqual(t["failed_status"], {})

    def test_no_keepalive(self):
        doc, reqs, conns = self.server_delta("-c", "8", "-n", "300", "--no-keepalive", self.srv.url("/42"))
        self.assertEqual(doc["total"]["requests"], 300)
        self.assertEqual(doc["total"]["failures"], 0)
        self.assertFalse(doc["keepalive"])
        self.assertEqual(reqs, 300)
        self.assertEqual(conns, 300, "--no-keepalive: exactly one new connection per request")
        self.assertEqual(doc["connects"], 300)

    def test_busy_poll(self):
        # Polling instead of sleeping changes when the threads look for events, not what
        # they count: exact totals, and the setting in the JSON.
        doc, reqs, conns = self.server_delta("-c", "4", "-n", "2000", "--threads", "2", "--busy-poll", "50",
                                             self.srv.url("/42"))
        self.assertEqual(doc["busy_poll_us"], 50)
        self.assertEqual(doc["total"]["requests"], 2000)
        self.assertEqual(doc["total"]["failures"], 0)
        self.assertEqual((reqs, conns), (2000, 4))

    def test_pipeline(self):
        doc, reqs, conns = self.server_delta("-c", "5", "-n", "1001", "--pipeline", "4", self.srv.url("/42"))
        self.assertEqual(doc["total"]["requests"], 1001)
        self.assertEqual(doc["total"]["failures"], 0)
        self.assertEqual((reqs, conns), (1001, 5))
        # Answers without a body, several in one read: each is taken at once, none waits
        # for more bytes (which would end in a timeout).
        start = time.monotonic()
        _, _, doc = self.pixload("-m", "HEAD", "--pipeline", "8", "-c", "2", "-n", "500", "--timeout", "2s",
                                 self.srv.url("/42"))
        self.assertEqual(doc["total"]["requests"], 500)
        self.assertEqual(doc["total"]["errors"]["timeout"], 0)
        self.assertEqual(doc["total"]["status"], {"200": 500})
        self.assertLess(time.monotonic() - start, 1.5)

    def test_expect_min_bytes(self):
        size = len(self.avatar)
        _, _, doc = self.pixload("-c", "2", "-n", "50", "--expect-min-bytes", str(size), self.srv.url("/42"))
        self.assertEqual(doc["total"]["failures"], 0)
        _, _, doc = self.pixload("-c", "2", "-n", "50", "--expect-min-bytes", str(size + 1), self.srv.url("/42"))
        t = doc["total"]
        self.assertEqual(t["failures"], 50)
        self.assertEqual(t["errors"]["min-bytes"], 50)
        self.assertEqual(t["status"], {"200": 50})

    def test_timeout(self):
        start = time.monotonic()
        _, _, doc = self.pixload("-c", "2", "-t", "2s", "--timeout", "0.5s",
                                 f"http://127.0.0.1:{self.silent.port}/")
        self.assertLess(time.monotonic() - start, 6)
        t = doc["total"]
        # 2 connections x 2 s / 0.5 s, less what was still in flight at the end
        self.assertGreaterEqual(t["errors"]["timeout"], 6)
        self.assertLessEqual(t["errors"]["timeout"], 8)
        self.assertEqual(t["failures"], t["requests"])
        self.assertEqual(t["failures"], t["errors"]["timeout"])
        lat = t["latency_us"]
        self.assertGreaterEqual(lat["min"], 490_000)
        self.assertLess(lat["max"], 800_000)

    def test_connection_refused(self):
        url = f"http://127.0.0.1:{free_port()}/"
        _, _, doc = self.pixload("-c", "3", "-n", "40", url, timeout=30)
        t = doc["total"]
        self.assertEqual(t["requests"], 40)
        self.assertEqual(t["errors"]["connect"], 40)
        self.assertEqual(t["failures"], 40)
        self.assertEqual(t["latency_us"]["count"], 0)  # no time without a connection (as locust)
        start = time.monotonic()
        stdout, _, doc = self.pixload("-c", "3", "-t", "1s", url, timeout=30)
        self.assertLess(time.monotonic() - start, 5)
        self.assertGreater(doc["total"]["errors"]["connect"], 0)
        self.assertEqual(doc["total"]["errors"]["connect"], doc["total"]["requests"])
        self.assertIn("Socket errors: connect", stdout)

    # ---- image bodies against /magic ------------------------------------------------------

    def assert_all_ok(self, doc, n):
        t = doc["total"]
        self.assertEqual(t["requests"], n)
        self.assertEqual(t["status"], {"200": n}, t)
        self.assertEqual(t["failures"], 0)
        self.assertGreater(t["content_bytes"], 100 * n)

    def test_base64_image(self):
        _, _, doc = self.pixload("-c", "2", "-n", "20", "--base64-image", self.jpeg_path, "--filename", "3.jpeg",
                                 self.srv.url("/magic/base64"))
        self.assert_all_ok(doc, 20)

    def test_multipart(self):
        _, _, doc = self.pixload("-c", "2", "-n", "20", "--multipart", f"image=@{self.jpeg_path};type=image/jpeg",
                                 self.srv.url("/magic/multipart"))
        self.assert_all_ok(doc, 20)

    def test_image_url(self):
        origin = f"http://127.0.0.1:{self.origin.server_address[1]}/cat.jpg"
        _, _, doc = self.pixload("-c", "2", "-n", "20", "--image-url", origin, self.srv.url("/magic/imageurl"))
        self.assert_all_ok(doc, 20)

    # ---- scenario, ramp, rate -------------------------------------------------------------

    def test_scenario_weights(self):
        path = os.path.join(self.tmp.name, "mix.json")
        with open(path, "w") as f:
            json.dump({"requests": [{"name": "heavy", "weight": 3, "path": "/42"},
                                    {"name": "light", "weight": 1, "path": "/43"}]}, f)
        prefix = os.path.join(self.tmp.name, "mix")
        _, _, doc = self.pixload("-c", "4", "-n", "4000", "--scenario", path, "--csv", prefix, self.srv.url("/"))
        by = {e["name"]: e["requests"] for e in doc["by_name"]}
        self.assertEqual(set(by), {"heavy", "light"})
        self.assertEqual(sum(by.values()), 4000)
        self.assertAlmostEqual(by["light"] / 4000, 0.25, delta=0.03)  # ~5 sigma
        with open(prefix + "_stats.csv", newline="") as f:
            rows = {r["Name"]: r for r in csv.DictReader(f)}
        self.assertEqual(int(rows["heavy"]["Request Count"]), by["heavy"])
        self.assertEqual(int(rows["light"]["Request Count"]), by["light"])

    def test_ramp(self):
        prefix = os.path.join(self.tmp.name, "ramp")
        _, _, doc = self.pixload("-u", "20", "-r", "10", "-t", "3s", "--csv", prefix, self.srv.url("/42"))
        with open(prefix + "_stats_history.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertGreaterEqual(len(rows), 2)
        users = [int(r["User Count"]) for r in rows]
        # one row a second: 10 users started per second, up to 20
        self.assertTrue(9 <= users[0] <= 12, users)
        self.assertEqual(users[1], 20, users)
        self.assertTrue(all(u == 20 for u in users[2:]), users)
        stamps = [int(r["Timestamp"]) for r in rows]
        self.assertEqual(stamps, sorted(stamps))
        self.assertTrue(doc["users_mode"])
        self.assertEqual(doc["total"]["failures"], 0)

    def test_rate(self):
        _, _, doc = self.pixload("-c", "4", "-R", "200", "-t", "3s", self.srv.url("/42"))
        self.assertTrue(570 <= doc["total"]["requests"] <= 630, doc["total"]["requests"])
        self.assertAlmostEqual(doc["total"]["requests_per_s"], 200, delta=10)

    # ---- outputs --------------------------------------------------------------------------

    def test_csv_files(self):
        prefix = os.path.join(self.tmp.name, "run")
        self.pixload("-c", "4", "-n", "500", "--csv", prefix, self.srv.url("/42"))
        for name, header in LOCUST_HEADERS.items():
            with open(f"{prefix}_{name}.csv", "rb") as f:
                first = f.readline()
            self.assertEqual(first, header.encode() + b"\r\n", name)
        with open(prefix + "_stats.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([(r["Type"], r["Name"]) for r in rows], [("GET", "/42"), ("", "Aggregated")])
        agg = rows[-1]
        self.assertEqual(int(agg["Request Count"]), 500)
        self.assertEqual(int(agg["Failure Count"]), 0)
        self.assertEqual(float(agg["Average Content Size"]), len(self.avatar))

    def test_json_out(self):
        stdout, _, doc = self.pixload("-c", "3", "-n", "90", self.srv.url("/42"))
        self.assertEqual(doc["url"], self.srv.url("/42"))
        self.assertEqual(doc["connections"], 3)
        self.assertFalse(doc["interrupted"])
        self.assertEqual(doc["total"]["requests"], 90)
        self.assertEqual([e["name"] for e in doc["by_name"]], ["/42"])
        self.assertEqual(doc["by_name"][0]["requests"], 90)
        lat = doc["total"]["latency_us"]
        self.assertEqual(lat["count"], 90)
        self.assertLessEqual(lat["min"], lat["percentiles"]["50"])
        self.assertLessEqual(lat["percentiles"]["50"], lat["percentiles"]["99"])
        self.assertLessEqual(lat["percentiles"]["99"], lat["max"])
        self.assertIn("90 requests in", stdout)
        self.assertIn("Percentage of the requests served within a certain time (ms)", stdout)
        # "-" writes the document to stdout
        p = subprocess.run([PIXLOAD_BIN, "-q", "-c", "1", "-n", "5", "--json-out", "-", self.srv.url("/42")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertIn('"requests": 5', p.stdout)

    def test_bad_arguments(self):
        url = self.srv.url("/42")
        for args in (["-c", "0", url], ["--bogus", url], [], ["-t", "5x", url], ["-c", "2", "-u", "3", url],
                     ["ftp://host/"], ["--expect-status", "abc", url], ["-n", "-5", url],
                     ["--base64-image", "/no/such/file.jpg", url], ["-H", "Content-Length: 5", url]):
            p = subprocess.run([PIXLOAD_BIN, *args], capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, f"{args}: {p.stderr}")
            self.assertEqual(p.stdout, "", args)
            lines = p.stderr.splitlines()
            self.assertEqual(len(lines), 1, f"{args}: {p.stderr}")
            self.assertTrue(lines[0].startswith("pixload: "), lines[0])
            self.assertLessEqual(lines[0].count("see --help"), 1, lines[0])
        p = subprocess.run([PIXLOAD_BIN, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("Usage: pixload", p.stdout)

    def test_sigint(self):
        p = subprocess.Popen([PIXLOAD_BIN, "-c", "4", "-t", "30s", self.srv.url("/42")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise
        self.assertLess(time.monotonic() - start, 1.0, "Ctrl-C must end the run promptly")
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("(interrupted)", out)
        self.assertIn("Requests/sec:", out)
        self.assertIn("Status codes:", out)


if __name__ == "__main__":
    unittest.main()
