"""The page at / in a real headless Chromium: pick an image, convert it, see both.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in NUL on fds 3 and 4, as Playwright drives it), so no websocket or WebDriver
package is needed. The screenshot goes to $PIXD_BUILD/artifacts/page.png.
"""
import base64
import fcntl
import io
import json
import os
import select
import shutil
import signal
import tempfile
import time
import unittest

from PIL import Image

from pixd_env import Pixd

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """A headless Chromium and a minimal DevTools client for one page."""

    def __init__(self, width=1200, height=900, extra_args=()):
        self.profile = tempfile.TemporaryDirectory(prefix="pixd-chromium-")
        self.log = tempfile.TemporaryFile()
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--no-first-run", "--no-default-browser-check", "--mute-audio",
                "--hide-scrollbars", f"--window-size={width},{height}", f"--user-data-dir={self.profile.name}",
                "--remote-debugging-pipe", *extra_args, "about:blank"]
        # Chromium reads commands on fd 3 and writes on fd 4. Our ends are moved above 9 first
        # so that placing the child's ends on 1-4 cannot clobber one another.
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        child = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (self.log.fileno(), cmd_r, evt_w)]
        for fd in (cmd_r, evt_w):
            os.close(fd)
        self.to_chrome, self.from_chrome = cmd_w, evt_r
        try:
            self.pid = os.posix_spawn(CHROMIUM, args, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, child[0], 1), (os.POSIX_SPAWN_DUP2, child[0], 2),
                (os.POSIX_SPAWN_DUP2, child[1], 3), (os.POSIX_SPAWN_DUP2, child[2], 4)])
        finally:
            for fd in child:
                os.close(fd)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        # The window size includes the (invisible) browser frame: fix the viewport itself.
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def _read(self, timeout):
        """One message from Chromium, or None after timeout seconds."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                return None
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium exited: " + self.output())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, timeout=20, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline - time.monotonic())
            if reply is None:
                raise TimeoutError(f"{method}: no answer in {timeout} s")
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    return self.events.pop(i)
            ev = self._read(deadline - time.monotonic())
            if ev is None:
                raise TimeoutError(f"no {method} in {timeout} s")
            self.events.append(ev)

    def js(self, expr, timeout=20):
        """The value of a JavaScript expression (awaited when it is a promise)."""
        r = self.call("Runtime.evaluate", timeout=timeout, expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expr, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(expr):
                return
            time.sleep(0.05)
        raise TimeoutError(f"still false after {timeout} s: {expr}")

    def navigate(self, url):
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def set_file(self, selector, path):
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", nodeId=node, files=[path])

    def screenshot(self, path):
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def close(self):
        try:
            self.session = None
            self.call("Browser.close", timeout=5)
        except (OSError, RuntimeError, TimeoutError):
            pass
        deadline = time.monotonic() + 10
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            time.sleep(0.05)
        os.close(self.to_chrome)
        os.close(self.from_chrome)
        self.log.close()
        self.profile.cleanup()


def sample_photo(size):
    """A picture with shapes and gradients: the black-and-white version is recognisable."""
    w, h = size
    im = Image.merge("RGB", (Image.linear_gradient("L").resize(size),
                             Image.linear_gradient("L").rotate(90).resize(size),
                             Image.new("L", size, 140)))
    for i in range(6):
        im.paste(((40 * i) % 256, 255 - 40 * i, 90), (w * i // 7, h // 4, w * i // 7 + w // 9, h * 3 // 4))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def convert_in_browser(tc, b, page_url, folder, screenshot=None):
    """Drives the page at page_url in browser b: picks a photo, converts it, and checks that
    both pictures show and that the result is Pillow's bytes. screenshot: a file name under
    $PIXD_BUILD/artifacts for a picture of the page, checked to show both images."""
    size = (480, 320)
    jpg = sample_photo(size)
    want = io.BytesIO()
    Image.open(io.BytesIO(jpg)).convert("1").save(want, format="JPEG")
    path = os.path.join(folder, "street photo.jpg")
    with open(path, "wb") as f:
        f.write(jpg)

    b.navigate(page_url)
    tc.assertEqual(b.js("document.title"), "pixd: black and white")
    tc.assertTrue(b.js("document.getElementById('send').disabled"))
    b.set_file("#file", path)
    b.wait_for("!document.getElementById('send').disabled && document.getElementById('original').naturalWidth > 0")
    tc.assertIn("ready", b.js("document.getElementById('status').textContent"))
    b.js("document.getElementById('send').click()")
    b.wait_for("(() => { const r = document.getElementById('result');"
               " return r.complete && r.naturalWidth > 0 &&"
               " document.getElementById('status').textContent.startsWith('done'); })()")
    status = b.js("document.getElementById('status').textContent")
    tc.assertRegex(status, r"^done in \d+ ms: ")
    tc.assertTrue(status.endswith('street photo.jpg'), status)
    tc.assertEqual(b.js("document.getElementById('status').className"), "")
    tc.assertEqual(b.js("[document.getElementById('result').naturalWidth,"
                        " document.getElementById('result').naturalHeight]"), list(size))
    tc.assertEqual(b.js("[document.getElementById('original').naturalWidth,"
                        " document.getElementById('original').naturalHeight]"), list(size))
    # The bytes the page shows are Pillow's.
    shown = b.js("fetch(document.getElementById('result').src).then(r => r.arrayBuffer())"
                 ".then(a => { let s = ''; new Uint8Array(a).forEach(c => s += String.fromCharCode(c));"
                 " return btoa(s); })")
    tc.assertEqual(base64.b64decode(shown), want.getvalue())
    if not screenshot:
        return
    out = os.path.join(os.environ.get("PIXD_BUILD", tempfile.gettempdir()), "artifacts")
    os.makedirs(out, exist_ok=True)
    shot = Image.open(io.BytesIO(b.screenshot(os.path.join(out, screenshot))))
    tc.assertEqual(shot.size, (1200, 900))
    # Both pictures are on screen: the result half has pure black and white pixels.
    colors = shot.convert("L").getcolors(1 << 16)
    tc.assertTrue(any(v < 10 for _, v in colors) and any(v > 245 for _, v in colors))


@unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/install-deps.sh test installs it)")
class PageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Pixd()
        cls.browser = Chromium()

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.srv.stop()

    def test_convert_in_browser(self):
        convert_in_browser(self, self.browser, self.srv.url("/"), self.srv.tmp.name, screenshot="page.png")

    def test_error_shown(self):
        b = self.browser
        path = os.path.join(self.srv.tmp.name, "notes.txt")
        with open(path, "w") as f:
            f.write("not an image")
        b.navigate(self.srv.url("/"))
        b.set_file("#file", path)
        b.wait_for("!document.getElementById('send').disabled")
        b.js("document.getElementById('send').click()")
        b.wait_for("document.getElementById('status').className === 'error'")
        self.assertEqual(b.js("document.getElementById('status').textContent"), "415: unsupported image format")
        self.assertFalse(b.js("document.getElementById('result').hasAttribute('src')"))


if __name__ == "__main__":
    unittest.main()
