"""HTTP/2 end to end (decision 010): pixd over TLS with ALPN h2 and over cleartext h2c with prior
knowledge, spoken to by curl, h2load, Python's h2 (frame level) and hand-built frames (hyperframe)
for what a well-behaved client never sends.

Checked: the same answers as over HTTP/1.1 (avatars with ETag and 304, /magic bodies larger than
the initial window, /status), HTTP/1.1 still served on both ports, the limits (header list,
concurrent streams, a window of zero that opens later, bodies charged to the budget and released
when a stream is reset, a job dropped when its stream is reset), each known flood ending its
connection with GOAWAY while another connection goes on, timeouts (SETTINGS, idle), graceful
shutdown (GOAWAY, open streams finish), h2load without errors, and Chromium loading the page
over h2.
"""
import base64
import json
import hashlib
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import h2.config
import h2.connection
import h2.events
import h2.settings
from hpack import Decoder, Encoder
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from pixd_env import HOOKS, Pixd, free_port, make_image, run_pixload, wait_until
from test_tls import make_cert

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, SETTINGS_TIMEOUT, REFUSED_STREAM, ENHANCE_YOUR_CALM = 0, 1, 2, 4, 7, 11
H2LOAD = shutil.which("h2load")


def curl_h2(*args):
    """curl; returns (http_version, status, body)."""
    out = subprocess.run(["curl", "-s", "-k", "-w", "\n%{http_version} %{http_code}", *args], capture_output=True,
                         timeout=60)
    body, _, tail = out.stdout.rpartition(b"\n")
    version, code = tail.decode().split()
    return version, int(code), body


class Client:
    """A client connection through Python's h2, over a socket (plain or TLS)."""

    def __init__(self, sock, settings=None):
        self.pings_acked = 0
        self.sock = sock
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.streams = {}
        self.goaway = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method, path, headers=(), body=b"", end=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "test"), *headers]
        if body:
            hdrs.append(("content-length", str(len(body))))
        self.conn.send_headers(sid, hdrs, end_stream=end and not body)
        self.streams[sid] = {"status": None, "headers": {}, "body": b"", "done": False, "reset": None}
        if body:
            self.send_body(sid, body, end)
        self.flush()
        return sid

    def send_body(self, sid, body, end=True):
        """Sends as much of body as the windows allow, reading on while they are shut."""
        while body:
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if room <= 0:
                self.pump(0.5)
                continue
            self.conn.send_data(sid, body[:room])
            body = body[room:]
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

    def pump(self, timeout=5):
        """Reads once and handles the events; False on EOF or timeout."""
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            return False
        for ev in self.conn.receive_data(data):
            st = self.streams.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived):
                st["headers"] = dict(ev.headers)
                st["status"] = int(st["headers"][":status"])
            elif isinstance(ev, h2.events.DataReceived):
                st["body"] += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                st["done"] = True
            elif isinstance(ev, h2.events.StreamReset):
                if st is not None:
                    st["reset"] = ev.error_code
                    st["done"] = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = ev
            elif isinstance(ev, h2.events.PingAckReceived):
                self.pings_acked += 1
        self.flush()
        return True

    def barrier(self, timeout=20):
        """A PING round trip: pixd has acted on every frame sent before it (it answers a PING
        after the work its frames caused, in the same turn)."""
        want = self.pings_acked + 1
        self.conn.ping(b"barrier!")
        self.flush()
        deadline = time.monotonic() + timeout
        while self.pings_acked < want:
            if time.monotonic() > deadline or not self.pump(deadline - time.monotonic()):
                raise AssertionError("no PING ACK")

    def wait(self, sid, timeout=20):
        deadline = time.monotonic() + timeout
        while not self.streams[sid]["done"]:
            if time.monotonic() > deadline or not self.pump(deadline - time.monotonic()):
                raise AssertionError(f"stream {sid} not done: {self.streams[sid]}")
        return self.streams[sid]

    def get(self, path, headers=()):
        return self.wait(self.request("GET", path, headers))

    def close(self):
        self.sock.close()


class Raw:
    """Hand-built frames on a cleartext connection: what h2 refuses to send."""

    def __init__(self, port, rcvbuf=None, ack=True):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.enc = Encoder()
        self.buf = b""
        # ack: acknowledge pixd's SETTINGS at once (before they come: they are on their way).
        self.send(PREFACE + SettingsFrame(0).serialize() + (SettingsFrame(0, flags=["ACK"]).serialize() if ack else b""))

    def send(self, data):
        self.sock.sendall(data)

    def headers(self, sid, path="/status", method="GET", extra=(), end_stream=True, end_headers=True):
        block = self.enc.encode([(":method", method), (":path", path), (":scheme", "http"), (":authority", "t"),
                                 *extra])
        flags = (["END_STREAM"] if end_stream else []) + (["END_HEADERS"] if end_headers else [])
        return HeadersFrame(sid, data=block, flags=flags).serialize()

    def frames(self, timeout=10):
        """Frames the server sends, until it closes (or timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            while len(self.buf) >= 9:
                f, n = Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) < 9 + n:
                    break
                f.parse_body(memoryview(self.buf[9:9 + n]))
                self.buf = self.buf[9 + n:]
                yield f
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return
            if not data:
                return
            self.buf += data

    def goaway(self, timeout=10):
        """The error code of the GOAWAY that ends the connection (None if none came)."""
        for f in self.frames(timeout):
            if isinstance(f, GoAwayFrame) and f.last_stream_id != 2**31 - 1:
                return f.error_code
        return None

    def closed(self, timeout=10):
        """True once the server has closed (EOF or reset) within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.sock], [], [], deadline - time.monotonic())
            if not r:
                return False
            try:
                if not self.sock.recv(65536):
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True
        return False

    def close(self):
        self.sock.close()


def magic_json(jpeg):
    return json.dumps({"filename": "a.jpeg", "image": base64.b64encode(jpeg).decode()}).encode()


class H2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixd-h2-")
        cls.cert, cls.key = make_cert(cls.tmp.name)
        cls.tls_port = free_port()
        cls.srv = Pixd("--tls-listen", f"127.0.0.1:{cls.tls_port}", "--tls-cert", cls.cert, "--tls-key", cls.key)
        cls.avatar = make_image("PNG", size=(300, 300))  # above the sendfile threshold of HTTP/1.1
        cls.srv.write("42.png", cls.avatar)
        cls.jpeg = make_image("JPEG", size=(900, 700))   # its base64 JSON is far over 64 KiB

    @classmethod
    def tearDownClass(cls):
        out = cls.srv.output()
        rc = cls.srv.stop()
        cls.tmp.cleanup()
        # Every connection above ended cleanly: the drain finishes, no sanitizer spoke.
        if rc != 0 or "Sanitizer" in out or "runtime error" in out:
            raise AssertionError(f"pixd exited {rc}: {out[-3000:]}")

    def plain(self, settings=None):
        return Client(socket.create_connection(("127.0.0.1", self.srv.port), timeout=10), settings)

    def tls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.tls_port), timeout=10))
        self.assertEqual(s.selected_alpn_protocol(), "h2")
        return Client(s)

    def test_downloads_go_on_while_the_client_says_nothing(self):
        # Ten 3 MB answers on one connection to a client that reads at once and, its windows
        # wide open (pixload's 1 GiB), sends nothing while they come: pixd must go on sending
        # of its own accord. It once stopped after a turn's worth of frames (16 x 256 KiB) and
        # waited for the client's next frame: 4 MB came, then nothing until the timeout.
        big = os.urandom(3 << 20)
        self.srv.write("79.png", big)
        for path in (os.path.join(self.tmp.name, "dl.json"),) * 3:
            p, doc = run_pixload("--h2", "-c", "1", "--max-streams", "10", "-n", "10", "--timeout", "20s",
                                 "--check-body", "sha256:" + hashlib.sha256(big).hexdigest(),
                                 f"http://127.0.0.1:{self.srv.port}/79", json_path=path)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual((doc["total"]["requests"], doc["total"]["failures"]), (10, 0), p.stdout)

    def test_tls_slow_reader_of_big_answers(self):
        # Over TLS with the smallest receive buffer: pixd's batched records go out in parts and
        # the rest waits with the connection; three streams' bodies must arrive whole.
        big = self.avatar + os.urandom(3 << 19)
        self.srv.write("78.png", big)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", self.tls_port))
        c = Client(ctx.wrap_socket(raw))
        try:
            sids = [c.request("GET", "/78") for _ in range(3)]
            for sid in sids:
                r = c.wait(sid, timeout=60)
                self.assertEqual((r["status"], r["body"]), (200, big), sid)
        finally:
            c.close()

    def status(self):
        c = self.plain()
        try:
            r = c.get("/status")
            self.assertEqual(r["status"], 200)
            return json.loads(r["body"])
        finally:
            c.close()

    def settle_bodies(self):
        """memory.bodies once the server has let go of every body (it may lag the client)."""
        wait_until(lambda: self.status()["memory"]["bodies"] == 0,
                   lambda: f"bodies still held: {self.status()['memory']}")
        return 0

    # ---- real clients ------------------------------------------------------------------------

    def test_curl_both_ports(self):
        for url, flag in ((f"https://127.0.0.1:{self.tls_port}", "--http2"),
                          (f"http://127.0.0.1:{self.srv.port}", "--http2-prior-knowledge")):
            v, code, body = curl_h2(flag, url + "/42")
            self.assertEqual((v, code), ("2", 200), url)
            self.assertEqual(body, self.avatar)
            v, code, body = curl_h2(flag, url + "/status")
            self.assertEqual((v, code), ("2", 200))
            self.assertIn("memory", json.loads(body))
            v, code, _ = curl_h2(flag, "-I", url + "/42")
            self.assertEqual((v, code), ("2", 200))

    def test_http11_still_served(self):
        v, code, body = curl_h2("--http1.1", f"https://127.0.0.1:{self.tls_port}/42")
        self.assertEqual((v, code, body), ("1.1", 200, self.avatar))
        v, code, body = curl_h2(f"http://127.0.0.1:{self.srv.port}/42")
        self.assertEqual((v, code, body), ("1.1", 200, self.avatar))
        c = self.srv.connect()
        try:
            r = c.request("GET", "/42")
            self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 200, self.avatar))
        finally:
            c.close()

    def test_conditional_avatar(self):
        for c in (self.plain(), self.tls()):
            try:
                r = c.get("/42")
                self.assertEqual((r["status"], r["body"]), (200, self.avatar))
                etag = r["headers"]["etag"]
                self.assertEqual(r["headers"]["content-length"], str(len(self.avatar)))
                self.assertNotIn("connection", r["headers"])
                r = c.get("/42", [("if-none-match", etag)])
                self.assertEqual((r["status"], r["body"]), (304, b""))
                r = c.wait(c.request("HEAD", "/42"))
                self.assertEqual((r["status"], r["body"]), (200, b""))
                self.assertEqual(r["headers"]["content-length"], str(len(self.avatar)))
            finally:
                c.close()

    def test_magic_bodies_larger_than_the_window(self):
        path = os.path.join(self.tmp.name, "photo.jpg")
        with open(path, "wb") as f:
            f.write(self.jpeg)
        want = curl_h2("-F", f"image=@{path}", f"http://127.0.0.1:{self.srv.port}/magic/multipart")
        self.assertEqual(want[:2], ("1.1", 200))
        for flag, url in (("--http2-prior-knowledge", f"http://127.0.0.1:{self.srv.port}"),
                          ("--http2", f"https://127.0.0.1:{self.tls_port}")):
            v, code, body = curl_h2(flag, "-F", f"image=@{path}", url + "/magic/multipart")
            self.assertEqual((v, code), ("2", 200))
            self.assertTrue(body == want[2], "the same bytes as over HTTP/1.1")
        body = magic_json(self.jpeg)
        self.assertGreater(len(body), 65535)
        h1 = self.srv.connect()
        try:
            want = h1.request("POST", "/magic/base64", {"Content-Type": "application/json"}, body)
            self.assertEqual(want.status, 200)
        finally:
            h1.close()
        for c in (self.plain(), self.tls()):
            try:
                r = c.wait(c.request("POST", "/magic/base64", [("content-type", "application/json")], body))
                self.assertEqual(r["status"], 200)
                self.assertTrue(r["body"] == want.body, "the same bytes as over HTTP/1.1")
            finally:
                c.close()
        self.assertEqual(self.settle_bodies(), 0)

    def test_access_log_says_http2(self):
        c = self.plain()
        try:
            self.assertEqual(c.get("/42")["status"], 200)
        finally:
            c.close()
        v, code, body = curl_h2("--http2-prior-knowledge", f"http://127.0.0.1:{self.srv.port}/metrics")
        self.assertEqual((v, code), ("2", 200))
        self.assertIn(b'route="avatar"', body)

    @unittest.skipUnless(H2LOAD, "h2load is not installed (nghttp2-client)")
    def test_h2load(self):
        for url in (f"http://127.0.0.1:{self.srv.port}/42", f"https://127.0.0.1:{self.tls_port}/42"):
            out = subprocess.run([H2LOAD, "-n", "2000", "-c", "10", "-m", "10", url], capture_output=True,
                                 text=True, timeout=120).stdout
            self.assertIn("2000 succeeded, 0 failed, 0 errored, 0 timeout", out, out)
            self.assertIn("status codes: 2000 2xx", out)

    # ---- limits ------------------------------------------------------------------------------

    def test_window_of_zero_opens_later(self):
        c = self.plain({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        try:
            # The library keeps no window for the stream: give the connection room only.
            sid = c.request("GET", "/42")
            while c.streams[sid]["status"] is None:
                self.assertTrue(c.pump())
            self.assertFalse(c.pump(0.3))  # headers came, no data can
            self.assertEqual(c.streams[sid]["body"], b"")
            c.conn.increment_flow_control_window(len(self.avatar), sid)
            c.flush()
            r = c.wait(sid)
            self.assertEqual((r["status"], r["body"]), (200, self.avatar))
        finally:
            c.close()

    def test_header_list_too_large(self):
        c = self.plain()
        try:
            sid = c.request("GET", "/42", [("x-big", "a" * 10000)])
            r = c.wait(sid)
            self.assertTrue(r["status"] == 431 or r["reset"] is not None, r)
            r = c.get("/42")  # the connection goes on
            self.assertEqual((r["status"], r["body"]), (200, self.avatar))
        finally:
            c.close()

    def test_more_than_max_concurrent_streams(self):
        # A client that has not seen pixd's SETTINGS yet opens 101 streams whose bodies never
        # come: the one past the limit is refused, the others go on. (Past a limit the client
        # has acknowledged, nghttp2 ends the connection with PROTOCOL_ERROR: decision 010.)
        raw = Raw(self.srv.port, ack=False)
        try:
            data = b"".join(raw.headers(1 + 2 * i, "/magic/base64", "POST", [("content-length", "2")],
                                        end_stream=False) for i in range(101))
            raw.send(data)
            frames = raw.frames(10)
            refused = []
            for f in frames:
                if isinstance(f, RstStreamFrame):
                    refused.append((f.stream_id, f.error_code))
                    break
            self.assertEqual(refused, [(201, REFUSED_STREAM)])
            raw.send(DataFrame(1, data=b"{}", flags=["END_STREAM"]).serialize())
            for f in frames:  # stream 1 is answered (its body is no image: 400)
                if isinstance(f, DataFrame) and f.stream_id == 1 and "END_STREAM" in f.flags:
                    break
            else:
                self.fail("stream 1 got no answer")
        finally:
            raw.close()
        self.assertEqual(self.settle_bodies(), 0)

    def test_body_over_the_limit(self):
        c = self.plain()
        try:
            sid = c.request("POST", "/magic/base64", [("content-length", str(30 << 20))], end=False)
            r = c.wait(sid)
            self.assertEqual(r["status"], 413)
            self.assertEqual(c.get("/42")["status"], 200)
        finally:
            c.close()

    def test_reset_mid_body_releases_memory(self):
        c = self.plain()
        try:
            sid = c.request("POST", "/magic/base64", [("content-length", str(1 << 20))], end=False)
            c.conn.send_data(sid, b"x" * 16384)
            c.flush()
            wait_until(lambda: self.status()["memory"]["bodies"] >= 1 << 20,  # charged once its head is in
                       "the announced body was never charged")
            c.conn.reset_stream(sid)
            c.flush()
            self.assertEqual(self.settle_bodies(), 0)
            self.assertEqual(c.get("/42")["status"], 200)
        finally:
            c.close()

    # ---- floods: each ends its connection with GOAWAY; another connection goes on -------------

    def flood(self, send, want_codes, rcvbuf=None):
        other = self.plain()
        try:
            self.assertEqual(other.get("/42")["status"], 200)
            raw = Raw(self.srv.port, rcvbuf)
            try:
                code = send(raw)
                if code is None:
                    code = raw.goaway()
                self.assertIn(code, want_codes)
                self.assertTrue(raw.closed())
            finally:
                raw.close()
            r = other.get("/42")
            self.assertEqual((r["status"], r["body"]), (200, self.avatar))
        finally:
            other.close()

    def test_rapid_reset(self):
        def send(raw):
            raw.send(b"".join(raw.headers(1 + 2 * i) + RstStreamFrame(1 + 2 * i, error_code=8).serialize()
                              for i in range(1500)))
        # nghttp2's rate limit answers INTERNAL_ERROR (its choice, documented in decision 010).
        self.flood(send, (INTERNAL_ERROR, ENHANCE_YOUR_CALM))

    def test_continuation_flood(self):
        def send(raw):
            frames = [raw.headers(1, end_headers=False)]
            frames += [ContinuationFrame(1, data=raw.enc.encode([("x-a", "b" * 8)])).serialize() for _ in range(50)]
            try:
                raw.send(b"".join(frames))
            except (BrokenPipeError, ConnectionResetError):
                pass
        self.flood(send, (ENHANCE_YOUR_CALM,))

    def test_settings_with_too_many_entries(self):
        def send(raw):
            f = SettingsFrame(0)
            f.settings = {0x100 + i: i for i in range(40)}  # unknown ids: ignored, but counted
            raw.send(f.serialize())
        self.flood(send, (ENHANCE_YOUR_CALM, PROTOCOL_ERROR))

    def test_settings_and_ping_floods_without_reading(self):
        for frame in (SettingsFrame(0).serialize(), PingFrame(0, opaque_data=b"12345678").serialize()):
            def send(raw, frame=frame):
                # The client never reads: the ACKs pile up in pixd until the bound.
                batch = frame * 1000
                deadline = time.monotonic() + 30  # until pixd gives up on it (bounded all the same)
                while time.monotonic() < deadline:
                    try:
                        raw.send(batch)
                    except (BrokenPipeError, ConnectionResetError, socket.timeout):
                        break
                return ENHANCE_YOUR_CALM if raw.closed(10) else None
            self.flood(send, (ENHANCE_YOUR_CALM,), rcvbuf=4096)

    def test_empty_data_flood(self):
        def send(raw):
            raw.send(raw.headers(1, "/magic/base64", "POST", end_stream=False) +
                     DataFrame(1, data=b"").serialize() * 300)
        self.flood(send, (ENHANCE_YOUR_CALM,))


class H2LifecycleTest(unittest.TestCase):
    def test_settings_timeout(self):
        srv = Pixd("--h2-settings-timeout", "0.5")
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(PREFACE + SettingsFrame(0).serialize())  # never acknowledges pixd's
            raw = Raw.__new__(Raw)
            raw.sock, raw.buf = s, b""
            self.assertEqual(raw.goaway(), SETTINGS_TIMEOUT)
            s.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_idle_timeout(self):
        srv = Pixd("--keepalive-timeout", "0.5")
        try:
            raw = Raw(srv.port)
            self.assertEqual(raw.goaway(), NO_ERROR)
            self.assertTrue(raw.closed())
            raw.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_graceful_shutdown_finishes_open_streams(self):
        # Python's h2 sends nothing after a GOAWAY: the client here is made of frames.
        srv = Pixd("--image-workers", "0")  # a job queued during the drain would get 503
        body = magic_json(make_image("JPEG", size=(64, 48)))
        try:
            raw = Raw(srv.port)
            raw.send(raw.headers(1, "/magic/base64", "POST", [("content-type", "application/json"),
                                                             ("content-length", str(len(body)))], end_stream=False)
                     + DataFrame(1, data=body[:100]).serialize() + raw.headers(3))
            frames = raw.frames(10)
            dec = Decoder()  # every HEADERS block is decoded, in order: the table depends on it
            for f in frames:  # the answer to stream 3 says stream 1's head is in
                if isinstance(f, HeadersFrame):
                    dec.decode(f.data)
                if isinstance(f, DataFrame) and f.stream_id == 3 and "END_STREAM" in f.flags:
                    break
            srv.proc.send_signal(signal.SIGTERM)
            goaways = []
            for f in frames:  # the shutdown notice first: every stream may still come
                if isinstance(f, HeadersFrame):
                    dec.decode(f.data)
                if isinstance(f, GoAwayFrame):
                    goaways.append((f.last_stream_id, f.error_code))
                    break
            raw.send(DataFrame(1, data=body[100:], flags=["END_STREAM"]).serialize())
            status, got = None, b""
            for f in frames:
                if isinstance(f, HeadersFrame) and f.stream_id == 1:
                    status = dict(dec.decode(f.data))[":status"]
                elif isinstance(f, DataFrame) and f.stream_id == 1:
                    got += f.data
                elif isinstance(f, GoAwayFrame):
                    goaways.append((f.last_stream_id, f.error_code))
            self.assertEqual(status, "200")
            self.assertIn("encoded_img", json.loads(got))
            self.assertEqual(goaways, [(2**31 - 1, NO_ERROR), (3, NO_ERROR)])
            raw.close()
            srv.proc.wait(15)
            self.assertEqual(srv.proc.returncode, 0)
        finally:
            srv.stop()

    @unittest.skipUnless(HOOKS, "needs a pixd built with -DPIXD_TEST_HOOKS=ON")
    def test_reset_stream_drops_its_job(self):
        srv = Pixd("--threads", "1", "--image-workers", "1")
        body = magic_json(make_image("JPEG", size=(64, 48)))
        hdrs = [("content-type", "application/json")]
        try:
            c = Client(socket.create_connection(("127.0.0.1", srv.port), timeout=60))
            srv.arm("pool_job")
            held = c.request("POST", "/magic/base64", hdrs, body)
            srv.wait_held("pool_job")
            gone = c.request("POST", "/magic/base64", hdrs, body)
            while srv.status()["jobs"]["queued"] < 1:
                time.sleep(0.01)
            c.conn.reset_stream(gone)
            c.flush()
            c.barrier()  # the cancel has reached the queued job before the pool looks at it
            srv.release("pool_job")
            self.assertEqual(c.wait(held)["status"], 200)
            # The pool counts the drop, then the loop frees the body: wait for both states.
            wait_until(lambda: (lambda st: (st["jobs"]["dropped"], st["memory"]["bodies"]) == (1, 0))(srv.status()),
                       lambda: f"the reset stream's job not dropped, or its body not freed: {srv.status()}")
            self.assertEqual(c.get("/status")["status"], 200)
        finally:
            self.assertEqual(srv.stop(), 0)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/install-deps.sh test installs it)")
class H2BrowserTest(unittest.TestCase):
    def test_page_over_h2(self):
        from test_page import Chromium
        tmp = tempfile.TemporaryDirectory(prefix="pixd-h2-chromium-")
        cert, key = make_cert(tmp.name)
        port = free_port()
        srv = Pixd("--tls-listen", f"127.0.0.1:{port}", "--tls-cert", cert, "--tls-key", key)
        b = Chromium(extra_args=("--ignore-certificate-errors",))
        try:
            b.navigate(f"https://127.0.0.1:{port}/")
            self.assertEqual(b.js("performance.getEntriesByType('navigation')[0].nextHopProtocol"), "h2")
            self.assertEqual(b.js("document.title"), "pixd: black and white")
        finally:
            b.close()
            srv.stop()
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
