"""pixload --h2 against a real pixd: h2c with prior knowledge and h2 by ALPN over TLS.

Checked: exact counts against pixd's own /status, several streams per connection and the
server's limit taking over a larger --max-streams, image bodies (base64 JSON, multipart) and a
scenario over HTTP/2, the open loop (-R) with its latencies, --no-keepalive (a connection per
request), CSV and JSON, the protocol in the summary, streams that time out on a server that
sends SETTINGS and then nothing, and the clear error (exit 1) when the server does not speak
HTTP/2: an HTTP/1.1 server on cleartext, a TLS server that selects http/1.1 by ALPN, a server
that closes at once.
"""
import csv
import functools
import http.server
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from pixd_env import Pixd, free_port, make_image
from test_pixload import LOCUST_HEADERS, PIXLOAD_BIN, QuietFiles
from test_tls import make_cert

EMPTY_SETTINGS = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


class SettingsThenSilence:
    """Sends an empty SETTINGS frame on every connection, then reads and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            c.sendall(EMPTY_SETTINGS)
            threading.Thread(target=self._drain, args=(c,), daemon=True).start()

    @staticmethod
    def _drain(c):
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class ClosesAtOnce:
    """Accepts and closes every connection without a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.close()

    def close(self):
        self.sock.close()


class QuietServer(http.server.ThreadingHTTPServer):
    """An HTTP/1.1 file server that keeps quiet about clients that hang up (pixload gives up)."""

    def handle_error(self, request, client_address):
        pass


class PixloadH2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(PIXLOAD_BIN, os.X_OK):
            raise AssertionError(f"{PIXLOAD_BIN} not built")
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixload-h2-test-")
        cls.jpeg = make_image("JPEG", size=(64, 48))
        cls.jpeg_path = os.path.join(cls.tmp.name, "cat.jpg")
        with open(cls.jpeg_path, "wb") as f:
            f.write(cls.jpeg)
        cls.cert, cls.key = make_cert(cls.tmp.name)
        cls.tls_port = free_port()
        cls.srv = Pixd("--tls-listen", f"127.0.0.1:{cls.tls_port}", "--tls-cert", cls.cert, "--tls-key", cls.key)
        cls.avatar = make_image("JPEG", color=(10, 200, 30))
        cls.srv.write("42.jpg", cls.avatar)
        cls.srv.write("43.jpg", make_image("JPEG", color=(200, 200, 30)))

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError(f"pixd exited with {rc}")

    # ---- helpers --------------------------------------------------------------------------

    def tls_url(self, path="/"):
        return f"https://127.0.0.1:{self.tls_port}{path}"

    def run_pixload(self, *args, timeout=60):
        return subprocess.run([PIXLOAD_BIN, *args], capture_output=True, text=True, timeout=timeout)

    def pixload(self, *args, timeout=60, quiet=True):
        """Runs pixload --h2 with args; returns (stdout, the --json-out document)."""
        out = os.path.join(self.tmp.name, "run.json")
        if os.path.exists(out):
            os.unlink(out)
        p = self.run_pixload(*(["-q"] if quiet else []), "--h2", "--json-out", out, *args, timeout=timeout)
        self.assertEqual(p.returncode, 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        with open(out) as f:
            return p.stdout, json.load(f)

    def status(self):
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            s.sendall(b"GET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return json.loads(data.split(b"\r\n\r\n", 1)[1])

    def server_delta(self, *args, **kw):
        """Runs pixload --h2 and returns (json, requests, connections) the server saw from it."""
        s0 = self.status()
        s1 = self.status()
        own_req = s1["requests"] - s0["requests"]
        own_conn = s1["connections"]["total"] - s0["connections"]["total"]
        _, doc = self.pixload(*args, **kw)
        s2 = self.status()
        return (doc, s2["requests"] - s1["requests"] - own_req,
                s2["connections"]["total"] - s1["connections"]["total"] - own_conn)

    def assert_clean(self, doc, n):
        t = doc["total"]
        self.assertEqual(t["requests"], n)
        self.assertEqual(t["failures"], 0, t["errors"])
        self.assertEqual(sum(t["errors"].values()), 0)

    # ---- counts ---------------------------------------------------------------------------

    def test_h2c_exact(self):
        doc, reqs, conns = self.server_delta("-n", "2000", "-c", "4", "--max-streams", "10", "--threads", "2",
                                             self.srv.url("/42"))
        self.assert_clean(doc, 2000)
        self.assertEqual(doc["protocol"], "h2c")
        self.assertEqual(doc["total"]["status"], {"200": 2000})
        self.assertEqual(doc["total"]["content_bytes"], 2000 * len(self.avatar))
        self.assertEqual(reqs, 2000, "the server answered a different number of requests")
        # at most the 4 (a thread starting after -n ran out opens none), each one the server saw
        self.assertEqual(conns, doc["connects"])
        self.assertIn(doc["connects"], range(1, 5))
        self.assertEqual(doc["max_streams"], 10)
        self.assertEqual(doc["streams_per_connection"], 10)
        self.assertIn("refused", doc["total"]["errors"])

    def test_h2_tls_alpn(self):
        doc, reqs, conns = self.server_delta("-n", "1000", "-c", "3", "--max-streams", "8", self.tls_url("/42"))
        self.assert_clean(doc, 1000)
        self.assertEqual(doc["protocol"], "h2")
        self.assertEqual(doc["total"]["status"], {"200": 1000})
        self.assertEqual((reqs, conns), (1000, 3))

    def test_server_limit_lowers_max_streams(self):
        srv = Pixd("--h2-max-streams", "3", avatars=self.srv.dir)
        try:
            stdout, doc = self.pixload("-n", "600", "-c", "2", "--max-streams", "20", srv.url("/42"), quiet=False)
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assert_clean(doc, 600)
        self.assertEqual(doc["streams_per_connection"], 3)
        self.assertIn("protocol: h2c (the server allows 3 streams per connection: --max-streams 20 lowered)",
                      stdout)

    def test_summary_protocol_line(self):
        stdout, _ = self.pixload("-n", "50", "-c", "2", self.srv.url("/42"), quiet=False)
        self.assertIn("2 connections, h2c, up to 1 stream each", stdout)
        self.assertIn("  protocol: h2c\n", stdout)
        stdout, _ = self.pixload("-n", "50", "-c", "2", self.tls_url("/42"), quiet=False)
        self.assertIn("  protocol: h2\n", stdout)
        p = self.run_pixload("-n", "50", "-c", "2", self.tls_url("/42"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("  protocol: http/1.1\n", p.stdout)

    def test_no_keepalive(self):
        doc, reqs, conns = self.server_delta("-n", "120", "-c", "4", "--no-keepalive", self.srv.url("/42"))
        self.assert_clean(doc, 120)
        self.assertEqual((reqs, conns, doc["connects"]), (120, 120, 120))

    # ---- bodies ---------------------------------------------------------------------------

    def test_base64_post(self):
        doc, reqs, _ = self.server_delta("-n", "200", "-c", "2", "--max-streams", "4", "--base64-image",
                                         self.jpeg_path, self.srv.url("/magic/base64"))
        self.assert_clean(doc, 200)
        self.assertEqual(doc["total"]["status"], {"200": 200})
        self.assertGreater(doc["total"]["content_bytes"], 200 * 100)
        self.assertEqual(reqs, 200)
        # the same bytes as over HTTP/1.1
        out = os.path.join(self.tmp.name, "one.json")
        p = self.run_pixload("-q", "-n", "1", "-c", "1", "--json-out", out, "--base64-image", self.jpeg_path,
                             self.srv.url("/magic/base64"))
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            one = json.load(f)
        self.assertEqual(doc["total"]["content_bytes"], 200 * one["total"]["content_bytes"])

    def test_multipart_post_tls(self):
        _, doc = self.pixload("-n", "100", "-c", "2", "--max-streams", "4", "--multipart",
                              f"image=@{self.jpeg_path};type=image/jpeg", "--multipart", "mode=fs",
                              self.tls_url("/magic/multipart"))
        self.assert_clean(doc, 100)
        self.assertEqual(doc["total"]["status"], {"200": 100})

    def test_scenario(self):
        path = os.path.join(self.tmp.name, "mix.json")
        with open(path, "w") as f:
            json.dump({"requests": [
                {"name": "avatar", "weight": 3, "path": "/42"},
                {"name": "avatar", "weight": 1, "path": "/43"},
                {"name": "b64", "weight": 1, "path": "/magic/base64", "base64_image": "cat.jpg"},
                {"name": "missing", "weight": 1, "path": "/no/such", "expect_status": "404"},
            ]}, f)
        _, doc = self.pixload("-n", "600", "-c", "3", "--max-streams", "5", "--scenario", path, self.srv.url("/"))
        self.assert_clean(doc, 600)
        rows = {(e["name"], e["method"]): e["requests"] for e in doc["by_name"]}
        self.assertEqual(set(rows), {("avatar", "GET"), ("b64", "POST"), ("missing", "GET")})
        self.assertEqual(sum(rows.values()), 600)
        self.assertGreater(rows[("avatar", "GET")], rows[("b64", "POST")])

    # ---- load models ----------------------------------------------------------------------

    def test_rate_open_loop(self):
        _, doc = self.pixload("-c", "4", "--max-streams", "4", "-R", "200", "-t", "3s", "--latency",
                              self.srv.url("/42"))
        t = doc["total"]
        self.assertTrue(570 <= t["requests"] <= 630, t["requests"])
        self.assertAlmostEqual(t["requests_per_s"], 200, delta=10)
        self.assertEqual(t["failures"], 0)
        lat = t["latency_us"]
        self.assertEqual(lat["count"], t["requests"])
        self.assertGreater(lat["percentiles"]["50"], 0)
        self.assertLessEqual(lat["percentiles"]["50"], lat["percentiles"]["99"])
        self.assertEqual(doc["rate"], 200)

    def test_csv(self):
        prefix = os.path.join(self.tmp.name, "h2run")
        self.pixload("-c", "4", "--max-streams", "10", "-n", "500", "--csv", prefix, self.tls_url("/42"))
        for name, header in LOCUST_HEADERS.items():
            with open(f"{prefix}_{name}.csv", "rb") as f:
                self.assertEqual(f.readline(), header.encode() + b"\r\n", name)
        with open(prefix + "_stats.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([(r["Type"], r["Name"]) for r in rows], [("GET", "/42"), ("", "Aggregated")])
        self.assertEqual(int(rows[-1]["Request Count"]), 500)
        self.assertEqual(float(rows[-1]["Average Content Size"]), len(self.avatar))

    def test_stream_timeouts(self):
        srv = SettingsThenSilence()
        try:
            _, doc = self.pixload("-c", "2", "--max-streams", "3", "-t", "2500ms", "--timeout", "1s",
                                  f"http://127.0.0.1:{srv.port}/")
        finally:
            srv.close()
        t = doc["total"]
        self.assertEqual(t["failures"], t["requests"])
        self.assertEqual(t["errors"]["timeout"], t["requests"])
        self.assertIn(t["requests"], (6, 12))  # 3 streams x 2 connections, each second

    # ---- servers without HTTP/2 -----------------------------------------------------------

    def assert_fatal(self, url, *needles):
        p = self.run_pixload("--h2", "-n", "20", "-c", "2", url, timeout=30)
        self.assertEqual(p.returncode, 1, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("pixload: " + url + ": "), lines[0])
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertNotIn("Requests/sec", p.stdout)

    def test_http11_server_is_an_error(self):
        origin = QuietServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=self.tmp.name))
        threading.Thread(target=origin.serve_forever, daemon=True).start()
        try:
            self.assert_fatal(f"http://127.0.0.1:{origin.server_address[1]}/", "does not speak h2c",
                              "instead of a SETTINGS frame")
        finally:
            origin.shutdown()
            origin.server_close()

    def test_tls_without_h2_is_an_error(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        ctx.set_alpn_protocols(["http/1.1"])
        origin = QuietServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=self.tmp.name))
        origin.socket = ctx.wrap_socket(origin.socket, server_side=True)
        threading.Thread(target=origin.serve_forever, daemon=True).start()
        try:
            self.assert_fatal(f"https://127.0.0.1:{origin.server_address[1]}/", "did not select h2 by ALPN")
        finally:
            origin.shutdown()
            origin.server_close()

    def test_server_closing_is_an_error(self):
        srv = ClosesAtOnce()
        try:
            self.assert_fatal(f"http://127.0.0.1:{srv.port}/", "closed the connection without answering")
        finally:
            srv.close()

    def test_bad_arguments(self):
        url = self.srv.url("/42")
        for args, msg in ((["--max-streams", "4", url], "--max-streams needs --h2"),
                          (["--h2", "--pipeline", "4", url], "use --max-streams"),
                          (["--h2", "--max-streams", "0", url], "--max-streams")):
            p = self.run_pixload(*args, timeout=10)
            self.assertEqual(p.returncode, 2, f"{args}: {p.stderr}")
            self.assertIn(msg, p.stderr)


if __name__ == "__main__":
    unittest.main()
