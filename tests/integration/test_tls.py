"""TLS end to end: pixd --tls-listen with a certificate made by the openssl tool, spoken to by
Python's ssl module, curl and pixload over https.

Checked: the same answers as over plain HTTP (avatars, HEAD, /magic/base64, multipart with
Expect: 100-continue), keep-alive and pipelined requests in one TLS write (input held inside
the transport), big bodies both ways, clients that are not TLS or stall in the handshake
(the server serves on), the flags that go together, pixload's https counts against pixd's own
counters, and the page at / converting a picture in headless Chromium over https.
"""
import base64
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from pixd_env import PIXD_BIN, Conn, Pixd, curl, free_port, make_image, wait_until
from test_page import CHROMIUM, Chromium, convert_in_browser

PIXLOAD_BIN = os.environ.get(
    "PIXLOAD_BIN", os.path.join(os.environ.get("PIXD_BUILD", "../../build"), "pixload"))


def make_cert(folder):
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixd-tls-")
        cls.cert, cls.key = make_cert(cls.tmp.name)
        cls.tls_port = free_port()
        cls.srv = Pixd("--tls-listen", f"127.0.0.1:{cls.tls_port}", "--tls-cert", cls.cert, "--tls-key", cls.key,
                       "--header-timeout", "1")
        cls.avatar = make_image("PNG", size=(200, 200))  # above the sendfile threshold
        cls.srv.write("42.png", cls.avatar)
        cls.jpeg = make_image("JPEG", size=(120, 80))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.tmp.cleanup()

    def tls_conn(self, timeout=5):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False  # the certificate names localhost; we dial an address
        s = socket.create_connection(("127.0.0.1", self.tls_port), timeout=timeout)
        return Conn(ctx.wrap_socket(s, server_hostname="localhost"))

    def url(self, path):
        return f"https://127.0.0.1:{self.tls_port}{path}"

    def magic_body(self):
        return json.dumps({"filename": "a.jpeg", "image": base64.b64encode(self.jpeg).decode()}).encode()

    def magic_request(self):
        """A whole POST /magic/base64 request, for pipelining."""
        body = self.magic_body()
        return (b"POST /magic/base64 HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def settled_requests(self):
        """pixd's request count once the last answers of earlier tests are counted too (a
        client can read an answer before the server thread has counted it); each read of
        /status counts one."""
        last = [self.status()["requests"]]

        def settled():  # only our own read came in since the last one
            m = self.status()["requests"]
            done, last[0] = m == last[0] + 1, m
            return m if done else None
        return wait_until(settled, "pixd's request count does not settle", pause=0.05)

    def status(self):
        return json.loads(self.srv.connect().request("GET", "/status").body)

    def test_avatar_same_as_plain(self):
        c = self.tls_conn()
        r = c.request("GET", "/42")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.avatar)
        plain = self.srv.connect().request("GET", "/42")
        self.assertEqual(r.header("etag"), plain.header("etag"))
        h = c.request("HEAD", "/42")  # same connection, kept alive
        self.assertEqual((h.status, h.body, h.header("content-length")), (200, b"", str(len(self.avatar))))
        self.assertEqual(c.request("GET", "/nobody").status, 200)  # the default avatar
        c.close()

    def test_slow_readers_of_a_big_avatar(self):
        # Clients with the smallest receive buffers, read round-robin a few KB at a time: pixd's
        # batched records (one send for several) go out in parts, the rest waits with each
        # connection while the others use the thread's batch buffer. Every byte must arrive.
        big = self.avatar + os.urandom(3 << 19)
        self.srv.write("77.png", big)
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False
        socks = []
        for _ in range(4):
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.settimeout(10)
            raw.connect(("127.0.0.1", self.tls_port))
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(b"GET /77 HTTP/1.1\r\nHost: t\r\n\r\n")
            socks.append(s)
        got = [b""] * len(socks)

        def complete(i):
            head, sep, body = got[i].partition(b"\r\n\r\n")
            return sep and len(body) >= len(big)
        while not all(complete(i) for i in range(len(socks))):
            for i, s in enumerate(socks):
                if not complete(i):
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, f"connection {i} closed after {len(got[i])} bytes")
                    got[i] += chunk
        for i, s in enumerate(socks):
            head, _, body = got[i].partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:40])
            self.assertEqual(body, big, i)
            s.close()

    def test_alpn(self):
        # h2 is chosen when offered (test_h2 speaks it); http/1.1 when only it is offered; a
        # client offering neither still connects, without ALPN, and speaks HTTP/1.1.
        for offer, want in ((["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1"), (["spdy/3.1"], None)):
            ctx = ssl.create_default_context(cafile=self.cert)
            ctx.check_hostname = False
            ctx.set_alpn_protocols(offer)
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.tls_port), timeout=5),
                                 server_hostname="localhost") as s:
                self.assertEqual(s.selected_alpn_protocol(), want, offer)
                if want != "h2":
                    c = Conn(s)
                    self.assertEqual(c.request("GET", "/42").status, 200)

    def test_session_resumption(self):
        # A returning client resumes with the ticket it got (no full handshake again).
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False
        first = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.tls_port), timeout=5),
                                server_hostname="localhost")
        self.assertEqual(Conn(first).request("GET", "/42").status, 200)  # tickets come with the answer
        session = first.session
        first.close()
        again = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.tls_port), timeout=5),
                                server_hostname="localhost", session=session)
        self.assertTrue(again.session_reused)
        self.assertEqual(Conn(again).request("GET", "/42").status, 200)
        again.close()

    def test_certificate_verifies(self):
        # Verified against the CA file, as a browser would with the certificate installed.
        status, _, body = curl("--cacert", self.cert, "--resolve", f"localhost:{self.tls_port}:127.0.0.1",
                               f"https://localhost:{self.tls_port}/42")
        self.assertEqual((status, body), (200, self.avatar))

    def test_pipelined_in_one_write(self):
        # Three 5 KB requests in one TLS record: pixd reads a head 8 KiB at most, so the rest
        # stays inside the transport, where epoll cannot see it.
        c = self.tls_conn()
        c.send((b"GET /42 HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"p" * 5000 + b"\r\n\r\n") * 3)
        for _ in range(3):
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, self.avatar))
        c.close()

    def test_pipelined_behind_a_held_request(self):
        # One record: an image job, then a 7 KB GET. pixd reads a head 8 KiB at most, so when
        # the job holds the connection part of the GET is in its buffer and the rest inside
        # the transport, with nothing left on the socket: after the job's answer pixd must
        # read on by itself (no epoll event will come), not wait for the head timeout (408).
        magic = self.magic_request()
        self.assertLess(len(magic), 8192 - 1000)
        get = b"GET /42 HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"p" * 7000 + b"\r\n\r\n"
        c = self.tls_conn()
        c.send(magic + get)
        self.assertEqual(c.read_response().status, 200)
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, self.avatar))
        c.close()

    def test_pipelined_stream(self):
        # Hundreds of pipelined requests per write, many records each, an image job among
        # them: every answer comes, in order.
        magic = self.magic_request()
        c = self.tls_conn(timeout=10)
        for _ in range(10):
            reqs = [b"GET /nobody HTTP/1.1\r\nHost: t\r\nX-N: %d\r\n\r\n" % i for i in range(600)]
            reqs.insert(300, magic)
            c.send(b"".join(reqs))
            for i in range(len(reqs)):
                r = c.read_response()
                self.assertEqual(r.status, 200, i)
                self.assertEqual(r.header("content-type"), "application/json" if i == 300 else "image/png")
        c.close()

    def test_magic_base64(self):
        body = self.magic_body()
        over_tls = self.tls_conn().request("POST", "/magic/base64", {"Content-Type": "application/json"}, body)
        plain = self.srv.connect().request("POST", "/magic/base64", {"Content-Type": "application/json"}, body)
        self.assertEqual(over_tls.status, 200)
        self.assertEqual(over_tls.body, plain.body)

    def test_multipart_expect_continue(self):
        # A 3 MB upload with Expect: 100-continue (curl's default for big bodies): the interim
        # answer goes through the TLS transport before the body is read.
        big = self.jpeg + os.urandom(3 << 20)
        path = os.path.join(self.tmp.name, "big.jpeg")
        with open(path, "wb") as f:
            f.write(big)
        status, headers, body = curl("-k", "-H", "Expect: 100-continue", "-F", f"image=@{path};type=image/jpeg",
                                     self.url("/magic/multipart"))
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "image/jpeg")
        plain = curl("-F", f"image=@{path};type=image/jpeg", self.srv.url("/magic/multipart"))
        self.assertEqual(body, plain[2])

    def test_errors_are_json(self):
        r = self.tls_conn().request("POST", "/magic/base64", {"Content-Type": "application/json"}, b"{nope")
        self.assertEqual(r.status, 400)
        self.assertIn("error", json.loads(r.body))

    def test_not_tls_then_serves_on(self):
        # Plain HTTP on the TLS port: the connection ends, nothing else does.
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=5) as s:
            s.sendall(b"GET /42 HTTP/1.1\r\nHost: t\r\n\r\n")
            try:
                self.assertNotIn(b"HTTP/1.1 200", s.recv(65536))
            except ConnectionResetError:
                pass
        # Half a ClientHello, then silence: the head timeout (1 s here) closes it.
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            t0 = time.time()
            try:
                self.assertEqual(s.recv(100), b"")
            except ConnectionResetError:
                pass
            self.assertLess(time.time() - t0, 4)
        self.assertEqual(self.tls_conn().request("GET", "/42").status, 200)

    def test_pixload_https(self):
        before = self.settled_requests()
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            p = subprocess.run([PIXLOAD_BIN, "-q", "-c", "8", "-n", "400", "--expect-status", "200",
                                "--expect-min-bytes", str(len(self.avatar)), "--json-out", out.name,
                                self.url("/42")], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            doc = json.load(open(out.name))
        self.assertEqual(doc["total"]["requests"], 400)
        self.assertEqual(doc["total"]["failures"], 0)
        self.assertIn(doc["connects"], range(1, 9))  # a thread starting after -n ran out opens none
        self.assertEqual(self.status()["requests"] - before, 400 + 1)  # + the /status read
        # New connection (and handshake) per request, and an image body built in.
        with tempfile.NamedTemporaryFile(suffix=".json") as out, \
                tempfile.NamedTemporaryFile(suffix=".jpeg") as img:
            img.write(self.jpeg)
            img.flush()
            p = subprocess.run([PIXLOAD_BIN, "-q", "-c", "4", "-n", "40", "--no-keepalive", "--base64-image",
                                img.name, "--expect-status", "200", "--json-out", out.name,
                                self.url("/magic/base64")], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            doc = json.load(open(out.name))
        self.assertEqual((doc["total"]["requests"], doc["total"]["failures"], doc["connects"]), (40, 0, 40))

    def test_pixload_https_to_plain_port_fails_cleanly(self):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run([PIXLOAD_BIN, "-q", "-c", "2", "-n", "10", "--json-out", out.name,
                                f"https://127.0.0.1:{self.srv.port}/42"], capture_output=True, text=True, timeout=60)
            doc = json.load(open(out.name))
        self.assertEqual(doc["total"]["requests"], 10)
        self.assertEqual(doc["total"]["failures"], 10)
        self.assertEqual(doc["total"]["errors"]["tls"], 10)  # counted as such, not as a write error

    def test_max_connections(self):
        # Past --max-conns a TLS client is closed, not sent plain text it could not read.
        port = free_port()
        srv = Pixd("--max-conns", "2", "--tls-listen", f"127.0.0.1:{port}", "--tls-cert", self.cert,
                   "--tls-key", self.key)
        try:
            ctx = ssl.create_default_context(cafile=self.cert)
            ctx.check_hostname = False
            conns = []
            for _ in range(2):
                s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                    server_hostname="localhost")
                conns.append(Conn(s))
                self.assertEqual(conns[-1].request("GET", "/status").status, 200)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw_sock:
                raw_sock.sendall(b"\x16\x03\x01\x00\x05hello")  # the start of a ClientHello
                try:
                    self.assertEqual(raw_sock.recv(100), b"")  # closed, no plain-text 503
                except ConnectionResetError:
                    pass
            conns[0].close()
            time.sleep(0.2)
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost")
            self.assertEqual(Conn(s).request("GET", "/status").status, 200)
        finally:
            srv.stop()

    @unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/install-deps.sh test installs it)")
    def test_page_in_browser(self):
        # A real browser's TLS (BoringSSL, offering h2 and http/1.1) through the whole page.
        b = Chromium(extra_args=["--ignore-certificate-errors"])
        try:
            convert_in_browser(self, b, self.url("/"), self.tmp.name)
        finally:
            b.close()

    def test_flags(self):
        for args in (["--tls-listen", "127.0.0.1:0"], ["--tls-cert", self.cert, "--tls-key", self.key]):
            r = subprocess.run([PIXD_BIN, "--listen", "127.0.0.1:0", *args], capture_output=True, timeout=10)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(b"go together", r.stderr)
        r = subprocess.run([PIXD_BIN, "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert",
                            "/nonexistent.pem", "--tls-key", self.key], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"/nonexistent.pem", r.stderr)
        # One address for both would let SO_REUSEPORT split connections between plain and TLS.
        port = free_port()
        r = subprocess.run([PIXD_BIN, "--listen", f"127.0.0.1:{port}", "--tls-listen", f"localhost:{port}",
                            "--tls-cert", self.cert, "--tls-key", self.key], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"same address", r.stderr)


if __name__ == "__main__":
    unittest.main()
