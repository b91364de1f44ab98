"""The avatar service and the HTTP core, against a real pixd process."""
import io
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from PIL import Image

from pixd_env import Pixd, curl, make_image, raw, wait_until




class AvatarTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.png = make_image("PNG", color=(10, 200, 10))
        cls.jpg = make_image("JPEG")
        cls.gif = make_image("GIF")
        cls.webp = make_image("WEBP")
        cls.srv = Pixd("--header-timeout", "0.5", "--keepalive-timeout", "1", "--max-body-mb", "1")
        cls.srv.write("1000.jpg", cls.jpg)
        cls.srv.write("42.png", cls.png)
        cls.srv.write("42.jpg", cls.jpg)  # .png wins: the lookup order is png, jpg, jpeg, gif, webp
        cls.srv.write("7.gif", cls.gif)
        cls.srv.write("8.webp", cls.webp)
        cls.srv.write("9.jpg", cls.png)  # PNG bytes under a .jpg name: the type comes from the bytes
        cls.srv.write("user_x-1.jpeg", cls.jpg)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_user_avatar_with_curl(self):
        status, h, body = curl(self.srv.url("/1000"))
        self.assertEqual(status, 200)
        self.assertEqual(body, self.jpg)
        self.assertEqual(h["content-type"], "image/jpeg")
        self.assertEqual(int(h["content-length"]), len(self.jpg))
        self.assertEqual(h["cache-control"], "public, max-age=7200")
        self.assertTrue(h["etag"].startswith('"') and h["etag"].endswith('"'))
        self.assertTrue(h["last-modified"].endswith(" GMT"))
        self.assertIn("date", h)

    def test_fallback_to_default(self):
        default = open(os.path.join(self.srv.dir, "-1.png"), "rb").read()
        for uid in ("123456", "-1", "nobody", "a" * 64):
            status, h, body = curl(self.srv.url("/" + uid))
            self.assertEqual((status, body), (200, default), uid)
            self.assertEqual(h["content-type"], "image/png")

    def test_extension_order_and_types(self):
        c = self.srv.connect()
        for uid, body, ctype in (("42", self.png, "image/png"), ("7", self.gif, "image/gif"),
                                 ("8", self.webp, "image/webp"), ("9", self.png, "image/png"),
                                 ("user_x-1", self.jpg, "image/jpeg")):
            r = c.request("GET", "/" + uid)
            self.assertEqual((r.status, r.header("content-type")), (200, ctype), uid)
            self.assertEqual(r.body, body, uid)

    def test_conditional_requests(self):
        c = self.srv.connect()
        r = c.request("GET", "/1000")
        etag, lm = r.header("etag"), r.header("last-modified")
        r = c.request("GET", "/1000", {"If-None-Match": etag})
        self.assertEqual((r.status, r.body), (304, b""))
        self.assertEqual(r.header("etag"), etag)
        self.assertIsNone(r.header("content-length"))
        r = c.request("GET", "/1000", {"If-None-Match": f'"zzz", W/{etag}'})
        self.assertEqual(r.status, 304)
        r = c.request("GET", "/1000", {"If-None-Match": "*"})
        self.assertEqual(r.status, 304)
        r = c.request("GET", "/1000", {"If-Modified-Since": lm})
        self.assertEqual(r.status, 304)
        r = c.request("GET", "/1000", {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
        self.assertEqual(r.status, 200)
        # If-None-Match decides when both are present.
        r = c.request("GET", "/1000", {"If-None-Match": '"other"', "If-Modified-Since": lm})
        self.assertEqual(r.status, 200)
        r = c.request("GET", "/1000", {"If-Modified-Since": "not a date"})
        self.assertEqual(r.status, 200)

    def test_head(self):
        c = self.srv.connect()
        r = c.request("HEAD", "/1000")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("content-length")), len(self.jpg))
        self.assertEqual(r.body, b"")
        # The connection is still in sync: no body bytes were sent.
        r = c.request("GET", "/status")
        self.assertEqual(r.status, 200)

    def test_redirect(self):
        for path in ("/1000.png", "/1000.jpg", "/-1.JPEG", "/x.gif", "/x.webp"):
            status, h, _ = curl(self.srv.url(path))
            self.assertEqual(status, 301, path)
            self.assertEqual(h["location"], path[: path.index(".")])

    def test_traversal_and_unsafe_paths(self):
        for path in ("/..%2f..%2fetc%2fpasswd", "/%2e%2e", "/..", "/a/../b", "/1000%00", "/%2f",
                     "/a%20b", "/~root", "/1000;x", "/a..b"):
            r = raw(self.srv.port, f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            self.assertTrue(r.startswith(b"HTTP/1.1 400 "), (path, r[:60]))
            self.assertIn(b'{"error": "', r)
        # NUL and other control bytes never get past the parser.
        r = raw(self.srv.port, b"GET /1000\x00 HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 400 "))

    def test_not_found(self):
        c = self.srv.connect()
        for path in ("/a/b", "/" + "a" * 65, "/1000.txt", "/.hidden", "/magic-nope/x"):
            r = c.request("GET", path)
            self.assertEqual(r.status, 404, path)
            self.assertEqual(json.loads(r.body), {"error": "not found"})
            self.assertEqual(r.header("content-type"), "application/json")

    def test_method_not_allowed(self):
        c = self.srv.connect()
        r = c.request("POST", "/1000", body=b"x")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("allow"), "GET, HEAD")
        self.assertIn("error", json.loads(r.body))
        r = c.request("DELETE", "/status")
        self.assertEqual(r.status, 405)

    def test_status(self):
        status, h, body = curl(self.srv.url("/status"))
        self.assertEqual(status, 200)
        st = json.loads(body)
        for key in ("uptime_s", "connections", "requests", "cache"):
            self.assertIn(key, st)
        self.assertGreaterEqual(st["connections"]["open"], 1)
        self.assertIn("hits", st["cache"])

    def test_keepalive_and_http10(self):
        c = self.srv.connect()
        for _ in range(5):
            self.assertEqual(c.request("GET", "/1000").status, 200)
        r = c.request("GET", "/1000", {"Connection": "close"})
        self.assertEqual(r.header("connection"), "close")
        self.assertTrue(c.closed_by_peer())
        c = self.srv.connect()
        r = c.request("GET", "/1000", version="1.0")
        self.assertEqual(r.header("connection"), "close")
        self.assertTrue(c.closed_by_peer())
        c = self.srv.connect()
        r = c.request("GET", "/1000", {"Connection": "keep-alive"}, version="1.0")
        self.assertEqual(r.header("connection"), "keep-alive")
        self.assertEqual(c.request("GET", "/42", {"Connection": "keep-alive"}, version="1.0").status, 200)

    def test_pipelining(self):
        c = self.srv.connect()
        reqs = b"".join(f"GET /{u} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for u in ("1000", "42", "7", "nobody"))
        reqs += b"HEAD /1000 HTTP/1.1\r\nHost: t\r\n\r\nGET /status HTTP/1.1\r\nHost: t\r\n\r\n"
        c.send(reqs)
        bodies = [c.read_response().body for _ in range(4)]
        self.assertEqual(bodies[:3], [self.jpg, self.png, self.gif])
        self.assertEqual(c.read_response(head_request=True).status, 200)
        self.assertEqual(c.read_response().status, 200)

    def test_pipelined_post_bodies(self):
        c = self.srv.connect()
        chunked = b"POST /1000 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        sized = b"POST /1000 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
        c.send(chunked + sized + b"GET /1000 HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(c.read_response().status, 405)
        self.assertEqual(c.read_response().status, 405)
        self.assertEqual(c.read_response().body, self.jpg)

    def test_expect_continue(self):
        c = self.srv.connect()
        c.send(b"POST /1000 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        interim = c.read_response()
        self.assertEqual(interim.status, 100)
        c.send(b"abcd")
        self.assertEqual(c.read_response().status, 405)
        r = raw(self.srv.port, b"GET /1000 HTTP/1.1\r\nHost: t\r\nExpect: magic\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 417 "))

    def test_limits(self):
        big = "x" * 9000
        r = raw(self.srv.port, f"GET /1000 HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n".encode())
        self.assertTrue(r.startswith(b"HTTP/1.1 431 "), r[:40])
        many = "".join(f"X-{i}: v\r\n" for i in range(100))
        r = raw(self.srv.port, f"GET /1000 HTTP/1.1\r\nHost: t\r\n{many}\r\n".encode())
        self.assertTrue(r.startswith(b"HTTP/1.1 431 "), r[:40])
        r = raw(self.srv.port, b"POST /1000 HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n")
        self.assertTrue(r.startswith(b"HTTP/1.1 413 "), r[:40])
        body = b"%x\r\n" % 700000 + b"a" * 700000 + b"\r\n" + b"%x\r\n" % 700000 + b"b" * 700000 + b"\r\n0\r\n\r\n"
        r = raw(self.srv.port, b"POST /1000 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        self.assertTrue(r.startswith(b"HTTP/1.1 413 "), r[:40])
        for bad in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n", b"GET /1000 HTTP/9.9\r\nHost: t\r\n\r\n",
                    b"GET /1000 HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
                    b"POST /1000 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                    b"GET /1000 HTTP/1.1\r\nHost: t\r\n Folded: x\r\n\r\n"):
            r = raw(self.srv.port, bad)
            self.assertRegex(r, rb"^HTTP/1.1 (400|505) ", bad)
            self.assertIn(b'{"error": "', r)

    def test_slow_head_gets_408(self):
        c = self.srv.connect()
        c.send(b"GET /1000 HTTP/1.1\r\nHost: t\r\n")  # never finished
        r = c.read_response()  # the head timeout answers, long before the client's own timeout
        self.assertEqual(r.status, 408)
        self.assertTrue(c.closed_by_peer())

    def test_silent_client_closed(self):
        c = self.srv.connect()  # connects, never sends a byte
        self.assertTrue(c.closed_by_peer(timeout=3))

    def test_idle_keepalive_closed(self):
        c = self.srv.connect()
        self.assertEqual(c.request("GET", "/1000").status, 200)
        self.assertTrue(c.closed_by_peer(timeout=4))

    def test_bad_client_does_not_disturb_others(self):
        good = self.srv.connect()
        self.assertEqual(good.request("GET", "/1000").status, 200)
        for junk in (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", b"\xff" * 5000, b"GET / HTTP/1.1\r\n" * 600):
            raw(self.srv.port, junk, timeout=3)
        self.assertEqual(good.request("GET", "/1000").body, self.jpg)

    def test_many_concurrent_clients(self):
        errors = []

        def client():
            try:
                c = self.srv.connect()
                for _ in range(20):
                    if c.request("GET", "/1000").body != self.jpg:
                        errors.append("wrong body")
                c.close()
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


class ChangesOnDiskTest(unittest.TestCase):
    def test_added_replaced_deleted(self):
        srv = Pixd()
        try:
            c = srv.connect()
            default = c.request("GET", "/555").body
            first, second = make_image("JPEG", color=(1, 2, 3)), make_image("PNG", color=(9, 9, 9))
            srv.write("555.jpg", first)
            self.assertEqual(self._await(c, "/555", first), first)
            srv.write("555.jpg", second)  # replaced (rename over it)
            self.assertEqual(self._await(c, "/555", second), second)
            with open(os.path.join(srv.dir, "555.jpg"), "wb") as f:  # rewritten in place
                f.write(first)
            self.assertEqual(self._await(c, "/555", first), first)
            os.unlink(os.path.join(srv.dir, "555.jpg"))
            self.assertEqual(self._await(c, "/555", default), default)
            new_default = make_image("GIF", color=(5, 5, 5))
            srv.write("-1.png", new_default)  # the default itself changes
            self.assertEqual(self._await(c, "/555", new_default), new_default)
        finally:
            srv.stop()

    def _await(self, c, path, want):
        """The body of path once it is want (the cache is dropped by inotify, on another thread)."""
        return wait_until(lambda: (lambda b: b if b == want else None)(c.request("GET", path).body),
                          f"{path} still serves the old bytes")


class LargeAvatarTest(unittest.TestCase):
    """Files from 16 KiB on go out with sendfile from a memfd snapshot."""

    def test_large_bodies(self):
        srv = Pixd()
        try:
            big = os.urandom(300_000)  # served as bytes: the type falls back to octet-stream
            buf = io.BytesIO()
            Image.frombytes("RGB", (120, 120), os.urandom(120 * 120 * 3)).save(buf, format="PNG")
            pic = buf.getvalue()
            self.assertGreater(len(pic), 16384)
            srv.write("big.png", pic)
            srv.write("huge.jpg", big)
            c = srv.connect()
            for _ in range(3):
                self.assertEqual(c.request("GET", "/big").body, pic)
                self.assertEqual(c.request("GET", "/huge").body, big)
            r = c.request("HEAD", "/huge")
            self.assertEqual((int(r.header("content-length")), r.body), (len(big), b""))
            c.send(b"GET /huge HTTP/1.1\r\nHost: t\r\n\r\nGET /big HTTP/1.1\r\nHost: t\r\n\r\n"
                   b"GET /status HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(c.read_response().body, big)
            self.assertEqual(c.read_response().body, pic)
            self.assertEqual(c.read_response().status, 200)
            self.assertEqual(raw(srv.port, b"GET /huge HTTP/1.0\r\n\r\n").split(b"\r\n\r\n", 1)[1], big)
            # A file rewritten in place: answers are old or new bytes, never a mix.
            other = os.urandom(300_000)
            with open(os.path.join(srv.dir, "huge.jpg"), "wb") as f:
                f.write(other)
            def fetch():
                body = c.request("GET", "/huge").body
                self.assertIn(body, (big, other))
                return body == other
            wait_until(fetch, "the rewritten file is not served", pause=0)
        finally:
            srv.stop()


class CacheBoundTest(unittest.TestCase):
    def test_small_cache_still_serves_everything(self):
        srv = Pixd("--cache-mb", "1")
        try:
            pics = {f"{i}": make_image("JPEG", size=(200, 200), color=(i, 0, 0)) for i in range(40)}
            for uid, data in pics.items():
                srv.write(uid + ".jpg", data)
            c = srv.connect()
            for _ in range(2):
                for uid, data in pics.items():
                    self.assertEqual(c.request("GET", "/" + uid).body, data)
            st = json.loads(c.request("GET", "/status").body)
            self.assertLessEqual(st["cache"]["bytes"], 1 << 20)
        finally:
            srv.stop()


class SymlinkTest(unittest.TestCase):
    """A symlink in the avatar folder must not make pixd serve a file from outside it."""

    def test_symlink_to_outside_file_not_served(self):
        srv = Pixd()
        try:
            secret = make_image("PNG", color=(66, 6, 6))  # an image, so only the bytes can tell
            outside = os.path.join(srv.tmp.name, "secret.png")
            with open(outside, "wb") as f:
                f.write(secret)
            os.symlink(outside, os.path.join(srv.dir, "evil.png"))
            os.symlink("../secret.png", os.path.join(srv.dir, "rel.jpg"))
            with open(os.path.join(srv.dir, "-1.png"), "rb") as f:
                default = f.read()
            c = srv.connect()
            for uid in ("evil", "rel"):
                r = c.request("GET", "/" + uid)
                self.assertEqual(r.status, 200, uid)
                self.assertFalse(r.body == secret, f"/{uid} served the file outside the folder")
                self.assertTrue(r.body == default, f"/{uid} did not serve the default avatar")
            c.close()
        finally:
            srv.stop()

    def test_default_avatar_symlink_refused(self):
        with tempfile.TemporaryDirectory() as d:
            avatars = os.path.join(d, "avatars")
            os.makedirs(avatars)
            with open(os.path.join(d, "secret.png"), "wb") as f:
                f.write(make_image("PNG"))
            os.symlink("../secret.png", os.path.join(avatars, "-1.png"))
            srv = Pixd(avatars=avatars, default=False)
            try:
                c = srv.connect()
                self.assertEqual(c.request("GET", "/nobody").status, 404)
                c.close()
                self.assertIn("symlink", srv.output())
            finally:
                srv.stop()


class LifecycleTest(unittest.TestCase):
    def test_graceful_shutdown_finishes_request_in_flight(self):
        srv = Pixd()
        srv.write("1.jpg", make_image("JPEG"))
        idle = srv.connect()
        self.assertEqual(idle.request("GET", "/1").status, 200)
        busy = srv.connect()
        busy.send(b"POST /1 HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
        time.sleep(0.2)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        self.assertTrue(idle.closed_by_peer(), "idle keep-alive connection closed at once")
        with self.assertRaises(OSError):  # no new connections
            socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        busy.send(b"world")
        r = busy.read_response()
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("connection"), "close")
        self.assertEqual(srv.proc.wait(10), 0)
        srv.stop()

    def test_max_connections(self):
        srv = Pixd("--max-conns", "3")
        try:
            conns = [srv.connect() for _ in range(3)]
            for c in conns:
                self.assertEqual(c.request("GET", "/status").status, 200)
            r = raw(srv.port, b"GET /status HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertTrue(r.startswith(b"HTTP/1.1 503 "), r[:40])
            conns[0].close()
            time.sleep(0.2)
            r = raw(srv.port, b"GET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            self.assertTrue(r.startswith(b"HTTP/1.1 200 "), r[:40])
        finally:
            srv.stop()

    def test_access_log(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "access.log")
            srv = Pixd("--access-log", path)
            srv.connect().request("GET", "/1000?x=1")
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(10), 0)
            srv.stop()
            with open(path) as f:
                line = f.read()
        self.assertRegex(line, r'^127\.0\.0\.1 - - \[.* GMT\] "GET /1000\?x=1 HTTP/1\.1" 200 \d+ \d+ms\n$')

    def test_cli_errors(self):
        for args in (["--threads", "0"], ["--listen", "nope"], ["--bogus"], ["--cache-mb", "x"],
                     ["--default-avatar", "../x"], ["--threads"], ["--fetch-allow", "garbage"]):
            r = subprocess.run([os.environ.get("PIXD_BIN", "pixd"), *args], capture_output=True, timeout=10)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(b"pixd", r.stderr, args)
        r = subprocess.run([os.environ.get("PIXD_BIN", "pixd"), "--help"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"--avatars", r.stdout)
        r = subprocess.run([os.environ.get("PIXD_BIN", "pixd"), "--avatars", "/nonexistent/x", "--listen",
                            "127.0.0.1:0"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"avatar folder", r.stderr)


if __name__ == "__main__":
    unittest.main()
