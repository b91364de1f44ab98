"""Shared helpers for the integration tests: start a real pixd on a free port, talk raw HTTP.

Binaries come from the environment CTest sets (PIXD_BIN, PIXLOAD_BIN, PIXD_BUILD).
"""
import io
import os
import select
import signal
import socket
import subprocess
import tempfile
import time

from PIL import Image

PIXD_BIN = os.environ.get("PIXD_BIN", os.path.join(os.environ.get("PIXD_BUILD", "../../build"), "pixd"))
PIXLOAD_BIN = os.environ.get(
    "PIXLOAD_BIN", os.path.join(os.environ.get("PIXD_BUILD", "../../build"), "pixload"))
# pixd built with -DPIXD_TEST_HOOKS=ON: tests can hold its threads at named points (core/testhook.h).
HOOKS = os.environ.get("PIXD_TEST_HOOKS") == "1"


def wait_until(cond, what, timeout=30, pause=0.01):
    """Polls cond() until it gives a true value, and returns that value. A state that never comes
    fails the test naming `what` (a string, or a function that gives one then) after `timeout` s:
    a bound against hanging, generous because this machine's speed swings, never a measure of
    speed."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what() if callable(what) else what} (still not so after {timeout} s)")
        time.sleep(pause)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_image(fmt, size=(40, 40), color=(200, 30, 60)):
    """A small photo-like image in the given Pillow format, as bytes."""
    im = Image.new("RGB", size, color)
    for x in range(size[0]):
        for y in range(0, size[1], 3):
            im.putpixel((x, y), ((x * 7) % 256, (y * 5) % 256, (x * y) % 256))
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


class Pixd:
    """A pixd process on a free loopback port, with its own avatar folder."""

    def __init__(self, *args, avatars=None, default=True, preexec_fn=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="pixd-test-")
        self.hooks = os.path.join(self.tmp.name, "hooks")
        os.makedirs(self.hooks)
        self.dir = avatars or os.path.join(self.tmp.name, "avatars")
        os.makedirs(self.dir, exist_ok=True)
        if default and not os.path.exists(os.path.join(self.dir, "-1.png")):
            self.write("-1.png", make_image("PNG", color=(0, 0, 255)))
        self.port = free_port()
        self.log = open(os.path.join(self.tmp.name, "pixd.log"), "w+")
        cmd = [PIXD_BIN, "--listen", f"127.0.0.1:{self.port}", "--avatars", self.dir, "--threads", "2", *args]
        env = dict(os.environ, PIXD_TESTHOOK_DIR=self.hooks)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
        raise RuntimeError("pixd did not start: " + self.output())

    def arm(self, point):
        """Arms a test hook: the next pixd thread to reach it stands still (HOOKS only). Arming
        again while one is held holds one more thread; release() lets them all go."""
        open(os.path.join(self.hooks, point + ".arm"), "w").close()

    def wait_held(self, point, timeout=30):
        """Waits until a thread has taken the arming (the .arm file became .held)."""
        arm, held = (os.path.join(self.hooks, point + ext) for ext in (".arm", ".held"))
        deadline = time.time() + timeout
        while os.path.exists(arm) or not os.path.exists(held):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"pixd never reached hook {point}: " + self.output())
            time.sleep(0.002)

    def hold(self, point, timeout=30):
        self.arm(point)
        self.wait_held(point, timeout)

    def release(self, point):
        os.unlink(os.path.join(self.hooks, point + ".held"))

    def status(self):
        """GET /status on a new connection, as a dict."""
        import json
        c = self.connect()
        try:
            r = c.request("GET", "/status")
            assert r.status == 200, r
            return json.loads(r.body)
        finally:
            c.close()

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def write(self, name, data):
        """Writes a file atomically (temp file + rename), as a careful uploader would."""
        tmp = os.path.join(self.dir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.dir, name))

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.tmp.cleanup()
        return self.proc.returncode

    def connect(self, timeout=5):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return Conn(s)


class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status, self.reason, self.headers, self.body, self.version = status, reason, headers, body, version

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:80]!r}>"


class Conn:
    """A raw HTTP/1.1 client connection that reads responses one at a time."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by server")
        self.buf += chunk

    def read_response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, *reason = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        status = int(status)
        n = 0 if head_request or status in (204, 304) or status < 200 else int(headers.get("content-length", 0))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return Response(status, reason[0] if reason else "", headers, body, version)

    def request(self, method, path, headers=None, body=b"", version="1.1"):
        h = {"Host": "test"}
        h.update(headers or {})
        if body:
            h.setdefault("Content-Length", str(len(body)))
        req = f"{method} {path} HTTP/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        self.send(req.encode() + body)
        return self.read_response(head_request=(method == "HEAD"))

    def closed_by_peer(self, timeout=3):
        """True when the server closes the connection within timeout."""
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def raw(port, data, timeout=5):
    """Sends bytes on a new connection and returns everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def curl(*args):
    """Runs curl; returns (status, headers dict, body bytes)."""
    out = subprocess.run(["curl", "-s", "-D", "-", *args], capture_output=True, timeout=30)
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):  # interim answers to Expect: 100-continue
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    return status, headers, body


def run_pixload(*args, json_path=None, timeout=120):
    """Runs pixload -q with args (and --json-out json_path when given). Returns the finished
    process and the JSON document (None without json_path or when pixload wrote none)."""
    import json
    if json_path and os.path.exists(json_path):
        os.unlink(json_path)
    extra = ["--json-out", json_path] if json_path else []
    p = subprocess.run([PIXLOAD_BIN, "-q", *extra, *args], capture_output=True, text=True, timeout=timeout)
    doc = None
    if json_path and p.returncode == 0 and os.path.exists(json_path):
        with open(json_path) as f:
            doc = json.load(f)
    return p, doc
