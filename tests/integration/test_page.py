"""The page at / in a real headless Chromium: pick an image, convert it, see both; and the avatar
panel: pick a picture, move and resize its square crop box, upload it through a signed URL
(pixd --demo), see it at three sizes.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in NUL on fds 3 and 4, as Playwright drives it), so no websocket or WebDriver
package is needed. The screenshots go to $PIXD_BUILD/artifacts/page.png and page_avatar.png.
"""
import base64
import fcntl
import hashlib
import io
import json
import os
import select
import shutil
import signal
import tempfile
import time
import unittest
import urllib.request

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

    def mouse_drag(self, x0, y0, x1, y1, steps=5):
        """A left-button drag in viewport CSS pixels, as a user's mouse does it."""
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x0, y=y0)
        self.call("Input.dispatchMouseEvent", type="mousePressed", x=x0, y=y0, button="left", buttons=1,
                  clickCount=1)
        for i in range(1, steps + 1):
            self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x0 + (x1 - x0) * i / steps,
                      y=y0 + (y1 - y0) * i / steps, button="left", buttons=1)
        self.call("Input.dispatchMouseEvent", type="mouseReleased", x=x1, y=y1, button="left", buttons=0,
                  clickCount=1)

    def key(self, key, code, modifiers=0):
        """Presses and releases a key with a DOM key name and a Windows key code (to the focus);
        modifiers: 8 is shift."""
        for t in ("rawKeyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=t, key=key, code=key, windowsVirtualKeyCode=code,
                      modifiers=modifiers)

    def type_into(self, selector, text):
        """Focuses an input, clears it and types text (input events, as a user's typing)."""
        self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                " e.focus(); e.select(); })()")
        self.call("Input.insertText", text=text)

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


def red_blue_png(path, size=(300, 200)):
    """A picture whose left half is pure red and right half pure blue: a crop shows which half it took."""
    w, h = size
    im = Image.new("RGB", size, (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, w // 2, h))
    im.save(path, format="PNG")


def http_get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
        return r.status, r.read()


def mostly(color, want, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(color, want))


RED, BLUE = (255, 0, 0), (0, 0, 255)
# The avatar panel's elements, by id.
EL = "document.getElementById"


@unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/install-deps.sh test installs it)")
class AvatarPanelTest(unittest.TestCase):
    """The avatar panel against pixd --demo (signed URLs minted by the page's server), and against a
    pixd without --demo, which must make the panel say what is missing."""

    @classmethod
    def setUpClass(cls):
        cls.keys = tempfile.TemporaryDirectory(prefix="pixd-test-keys-")
        key = os.path.join(cls.keys.name, "upload.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, base64.b16encode(os.urandom(24)) + b"\n")
        os.close(fd)
        cls.srv = Pixd("--demo", "--upload-key-file", key)
        cls.plain = Pixd("--upload-key-file", key)
        cls.browser = Chromium()
        cls.picture = os.path.join(cls.keys.name, "red left, blue right.png")
        red_blue_png(cls.picture)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.srv.stop()
        cls.plain.stop()
        cls.keys.cleanup()

    def crop(self):
        return [int(v) for v in self.browser.js(f"{EL}('cropout').value").split(",")]

    def open_panel(self, srv, uid, email="", picture=None, start=(50, 0, 200, 200)):
        """Loads the page, fills the panel in and picks the picture (the red and blue one unless
        given); the crop box starts as the largest centred square, start."""
        b = self.browser
        b.navigate(srv.url("/"))
        b.js(f"{EL}('avatar').scrollIntoView()")
        self.assertTrue(b.js(f"{EL}('upload').disabled"))
        b.type_into("#uid", uid)
        if email:
            b.type_into("#email", email)
        b.set_file("#avfile", picture or self.picture)
        b.wait_for(f"!{EL}('upload').disabled")
        self.assertEqual(self.crop(), list(start))
        self.assertEqual(b.js(f"[{EL}('cropsize').min, {EL}('cropsize').max]"), ["1", str(start[2])])

    def canvas_point(self, x, y):
        """Viewport CSS pixels of the point (x, y) of the picture, as the crop canvas shows it."""
        r = self.browser.js(f"(() => {{ const r = {EL}('crop').getBoundingClientRect();"
                            " return [r.left, r.top, r.width, r.height]; })()")
        w, h = 300, 200  # the red and blue picture
        return r[0] + x * r[2] / w, r[1] + y * r[3] / h

    def drag_box(self, dx):
        """Drags the crop box by its middle dx picture pixels sideways (clamped by the page)."""
        x, y, s, _ = self.crop()
        x0, y0 = self.canvas_point(x + s / 2, y + s / 2)
        x1, _ = self.canvas_point(x + s / 2 + dx, 0)
        self.browser.mouse_drag(x0, y0, x1, y0)

    def set_size(self, side):
        """The crop side through the slider, as a user's keyboard or mouse changes it."""
        self.browser.js(f"(() => {{ const r = {EL}('cropsize'); r.value = {side};"
                        " r.dispatchEvent(new Event('input', {bubbles: true})); })()")

    def upload(self, uid, old_srcs=None):
        """Clicks Upload and waits until the three sizes have loaded (new URLs when old_srcs)."""
        b = self.browser
        b.js(f"{EL}('upload').click()")
        b.wait_for(f"{EL}('avstatus').className === 'error' ||"
                   f" {EL}('avstatus').textContent.startsWith('Stored')")
        self.assertEqual(b.js(f"{EL}('avstatus').className"), "", b.js(f"{EL}('avstatus').textContent"))
        b.wait_for("[32, 80, 200].every(s => { const im = document.getElementById('av' + s);"
                   " return im.complete && im.naturalWidth === s && im.naturalHeight === s &&"
                   f" !{json.dumps(old_srcs or [])}.includes(im.src); }})")
        srcs = b.js("[32, 80, 200].map(s => document.getElementById('av' + s).src)")
        for s, src in zip((32, 80, 200), srcs):
            self.assertRegex(src, rf"/{uid}\?s={s}&v=\d+$")
        self.assertFalse(b.js(f"{EL}('sizes').hidden"))
        return srcs

    def shown_color(self, size=200):
        """The colour in the middle of the avatar <img> of that size, as the page shows it."""
        return self.browser.js(f"(() => {{ const im = {EL}('av{size}'), c = document.createElement('canvas');"
                               f" c.width = c.height = {size}; const g = c.getContext('2d');"
                               f" g.drawImage(im, 0, 0); const m = {size} / 2;"
                               " return Array.from(g.getImageData(m, m, 1, 1).data.slice(0, 3)); })()")

    def stored(self, srv, uid):
        names = [n for n in os.listdir(srv.dir) if n.rsplit(".", 1)[0] == uid]
        self.assertEqual(len(names), 1, os.listdir(srv.dir))
        with Image.open(os.path.join(srv.dir, names[0])) as im:
            im.load()
            return im.copy()

    def test_upload_cropped_avatar(self):
        b = self.browser
        self.open_panel(self.srv, "alice_01", "  Alice@Example.COM ")
        self.set_size(100)  # keeps the centre: 100,50
        self.assertEqual(self.crop(), [100, 50, 100, 100])
        self.drag_box(-200)  # far left: clamped to the picture's edge
        self.assertEqual(self.crop(), [0, 50, 100, 100])
        b.js(f"{EL}('crop').focus()")
        b.key("ArrowDown", 40)  # one step is 1% of the picture's short side
        self.assertEqual(self.crop(), [0, 52, 100, 100])
        # The corner handle grows the box, its top left corner staying put.
        x0, y0 = self.canvas_point(98, 150)
        b.mouse_drag(x0, y0, x0 + 24, y0 + 24)
        x, y, side, h = self.crop()
        self.assertEqual((x, y, h), (0, 52, side))
        self.assertTrue(110 < side < 130 and x + side <= 150 and y + side <= 200, side)

        self.upload("alice_01")
        shown = json.loads(b.js(f"{EL}('avjson').textContent").split(" ", 1)[1])
        self.assertEqual(shown, {"uid": "alice_01", "format": "jpeg", "width": side, "height": side,
                                 "bytes": shown["bytes"]})
        self.assertTrue(mostly(self.shown_color(), RED), self.shown_color())

        # What pixd stored: the red crop, no bigger than the box.
        im = self.stored(self.srv, "alice_01")
        self.assertEqual(im.size, (side, side))
        self.assertTrue(mostly(im.convert("RGB").resize((1, 1)).getpixel((0, 0)), RED))
        lo, hi = zip(*im.convert("RGB").getextrema())
        self.assertTrue(hi[2] < 60 and lo[0] > 200, (lo, hi))

        # Gravatar's name for the address, trimmed and lowercased, serves the same picture (80 x 80).
        md5 = hashlib.md5(b"alice@example.com").hexdigest()
        status, by_hash = http_get(self.srv.url(f"/avatar/{md5}"))
        self.assertEqual(status, 200)
        self.assertEqual(by_hash, http_get(self.srv.url("/alice_01?s=80"))[1])
        av = Image.open(io.BytesIO(by_hash))
        self.assertEqual(av.size, (80, 80))
        self.assertTrue(mostly(av.convert("RGB").resize((1, 1)).getpixel((0, 0)), RED))

        out = os.path.join(os.environ.get("PIXD_BUILD", tempfile.gettempdir()), "artifacts")
        os.makedirs(out, exist_ok=True)
        b.js(f"{EL}('avatar').scrollIntoView()")
        shot = Image.open(io.BytesIO(b.screenshot(os.path.join(out, "page_avatar.png")))).convert("RGB")
        self.assertEqual(shot.size, (1200, 900))
        # The avatars (pure red) and the crop canvas's blue half, dimmed outside the box, are on screen.
        colors = {c for _, c in shot.getcolors(1 << 20)}
        self.assertTrue(any(mostly(c, RED, 20) for c in colors), "no red avatar in the screenshot")
        self.assertTrue(any(c[2] > 80 and c[0] < 20 and c[1] < 20 for c in colors), "no blue on screen")

    def test_reupload_shows_the_new_picture(self):
        b = self.browser
        self.open_panel(self.srv, "bob-2")
        self.set_size(80)
        self.drag_box(300)  # far right: the blue half
        self.assertEqual(self.crop(), [220, 60, 80, 80])
        srcs = self.upload("bob-2")
        self.assertTrue(mostly(self.shown_color(), BLUE), self.shown_color())
        self.assertTrue(mostly(self.stored(self.srv, "bob-2").convert("RGB").getpixel((40, 40)), BLUE))
        self.drag_box(-300)
        self.assertEqual(self.crop(), [0, 60, 80, 80])
        self.upload("bob-2", old_srcs=srcs)  # same uid: new URLs, so the browser shows the new picture
        self.assertTrue(mostly(self.shown_color(), RED), self.shown_color())
        self.assertTrue(mostly(self.shown_color(32), RED), self.shown_color(32))
        self.assertEqual(b.js(f"{EL}('avjson').textContent").split(" ")[0], "200")  # replaced

    def test_crop_follows_exif_orientation(self):
        """A phone's JPEG: stored sideways with EXIF orientation 6. The page shows it upright and
        crops in upright coordinates, as pixd does."""
        upright = Image.new("RGB", (200, 300), BLUE)
        upright.paste(RED, (0, 0, 200, 150))  # red on top
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise to show
        path = os.path.join(self.keys.name, "phone.jpg")
        upright.transpose(Image.Transpose.ROTATE_90).save(path, format="JPEG", quality=95, exif=exif.tobytes())
        with Image.open(path) as im:
            self.assertEqual(im.size, (300, 200))
        b = self.browser
        self.open_panel(self.srv, "phone", picture=path, start=(0, 50, 200, 200))
        self.set_size(100)
        self.assertEqual(self.crop(), [50, 100, 100, 100])
        b.js(f"{EL}('crop').focus()")
        for _ in range(5):
            b.key("ArrowUp", 38, modifiers=8)  # shift: ten steps of 2 pixels
        self.assertEqual(self.crop(), [50, 0, 100, 100])
        self.upload("phone")
        self.assertTrue(mostly(self.shown_color(), RED), self.shown_color())
        im = self.stored(self.srv, "phone").convert("RGB")
        self.assertEqual(im.size, (100, 100))
        lo, hi = zip(*im.getextrema())
        self.assertTrue(hi[2] < 60 and lo[0] > 200, (lo, hi))

    def test_invalid_uid_refused_in_the_page(self):
        b = self.browser
        self.open_panel(self.srv, "no spaces!")
        self.assertFalse(b.js(f"{EL}('uid').checkValidity()"))
        b.js(f"{EL}('upload').click()")
        b.wait_for(f"{EL}('avstatus').className === 'error'")
        self.assertIn("1 to 64", b.js(f"{EL}('avstatus').textContent"))
        self.assertTrue(b.js(f"{EL}('sizes').hidden"))
        self.assertFalse(any(n.startswith("no") for n in os.listdir(self.srv.dir)))

    def test_without_demo_says_so(self):
        b = self.browser
        self.open_panel(self.plain, "carol")
        b.js(f"{EL}('upload').click()")
        b.wait_for(f"{EL}('avstatus').className === 'error'")
        msg = b.js(f"{EL}('avstatus').textContent")
        self.assertIn("start it with --demo", msg)
        self.assertTrue(b.js(f"{EL}('sizes').hidden"))
        self.assertFalse(b.js(f"{EL}('upload').disabled"))
        self.assertFalse(any(n.startswith("carol") for n in os.listdir(self.plain.dir)))


if __name__ == "__main__":
    unittest.main()
