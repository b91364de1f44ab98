"""The avatar service against a real pixd: sizes, Gravatar/Libravatar URLs, generated defaults,
formats by Accept, variants (ETags, invalidation, single flight, bounds) and /metrics.

Uploads have their own file (test_uploads.py)."""
import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

from PIL import Image

from pixd_env import HOOKS, Pixd, curl, make_image, wait_until


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


def solid(fmt, size, color):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def decode(body):
    im = Image.open(io.BytesIO(body))
    im.load()
    return im


def metrics(srv):
    """The /metrics text as {series with labels: value}."""
    st, h, body = curl(srv.url("/metrics"))
    assert st == 200, (st, body)
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def hash_colour(seed):
    """d=color's colour for a seed, from docs/generated-avatars.md (the initials' background)."""
    m = 2**64
    h = 0xcbf29ce484222325
    for b in seed:
        h = ((h ^ b) * 0x100000001b3) % m
    z = (h + 0x9e3779b97f4a7c15) % m
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) % m
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) % m
    hue = ((z ^ (z >> 31)) >> 32) % 360
    c = (100 - abs(2 * 50 - 100)) * 55
    big, x, low = 60 * c, c * (60 - abs(hue % 120 - 60)), 6000 * 50 - 30 * c
    v = [(big, x, 0), (x, big, 0), (0, big, x), (0, x, big), (x, 0, big), (big, 0, x)][hue // 60]
    rgb = [((k + low) * 255 + 300000) // 600000 for k in v]
    y = (2126 * rgb[0] + 7152 * rgb[1] + 722 * rgb[2] + 5000) // 10000
    return tuple((k * 115 + y // 2) // y for k in rgb) if y > 115 else tuple(rgb)


def get(srv, path, headers=(), source=None):
    """GET over a fresh socket (optionally from another loopback address): (status, headers, body)."""
    args = []
    for h in headers:
        args += ["-H", h]
    if source:
        args += ["--interface", source]
    return curl(*args, srv.url(path))


class SizesAndFormats(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Pixd()
        cls.jpg = make_image("JPEG", size=(400, 300))
        cls.srv.write("alice.jpg", cls.jpg)
        cls.srv.write("pat.png", make_image("PNG", size=(64, 64)))
        cls.srv.write(md5("hashed@example.com") + ".png", make_image("PNG", size=(120, 120), color=(0, 200, 0)))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_original_bytes_without_s(self):
        st, h, body = get(self.srv, "/alice")
        self.assertEqual((st, body), (200, self.jpg))
        self.assertNotIn("vary", h)

    def test_square_sizes(self):
        for q in ("s=1", "s=80", "size=80", "s=2048", "s=37&r=pg"):
            st, h, body = get(self.srv, "/alice?" + q)
            self.assertEqual(st, 200, q)
            n = int(re.search(r"(?:s|size)=(\d+)", q).group(1))
            im = decode(body)
            self.assertEqual((im.format, im.size), ("JPEG", (n, n)), q)
            self.assertEqual(h["content-type"], "image/jpeg")
            self.assertEqual(h["vary"], "Accept")
            self.assertIn("max-age=", h["cache-control"])
            self.assertTrue(h["etag"].startswith('"'))

    def test_png_stays_png(self):
        st, h, body = get(self.srv, "/pat?s=20")
        self.assertEqual((st, decode(body).format, decode(body).size), (200, "PNG", (20, 20)))

    def test_bad_sizes_are_400(self):
        for q in ("s=0", "s=2049", "s=abc", "s=", "s=-5", "size=99999", "s=1e3"):
            st, h, body = get(self.srv, "/alice?" + q)
            self.assertEqual(st, 400, q)
            self.assertIn("size", json.loads(body)["error"])

    def test_accept_picks_webp(self):
        chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
        for accept, fmt in ((chrome, "WEBP"), ("image/webp", "WEBP"), ("*/*", "JPEG"),
                            ("image/webp;q=0,image/jpeg", "JPEG"), ("image/jpeg;q=0.5, image/webp;q=0.9", "WEBP"),
                            ("image/avif", "JPEG")):  # AVIF is off without --avif
            st, h, body = get(self.srv, "/alice?s=50", ["Accept: " + accept])
            self.assertEqual((st, decode(body).format), (200, fmt), accept)
            self.assertEqual(h["vary"], "Accept")

    def test_fm_forces_a_format_without_vary(self):
        for fm, fmt in (("png", "PNG"), ("webp", "WEBP"), ("jpg", "JPEG")):
            st, h, body = get(self.srv, "/alice?s=30&fm=" + fm, ["Accept: image/webp"])
            self.assertEqual((st, decode(body).format, decode(body).size), (200, fmt, (30, 30)), fm)
            self.assertNotIn("vary", h)
        self.assertEqual(get(self.srv, "/alice?s=30&fm=avif")[0], 400)  # off without --avif
        self.assertEqual(get(self.srv, "/alice?s=30&fm=gif")[0], 400)

    def test_variant_etags_and_304(self):
        _, h1, b1 = get(self.srv, "/alice?s=64")
        _, h2, b2 = get(self.srv, "/alice?s=64", ["Accept: image/webp"])
        _, h0, _ = get(self.srv, "/alice")
        self.assertEqual(len({h0["etag"], h1["etag"], h2["etag"]}), 3)
        st, h, body = get(self.srv, "/alice?s=64", ["If-None-Match: " + h1["etag"]])
        self.assertEqual((st, body), (304, b""))
        self.assertEqual(h["etag"], h1["etag"])
        self.assertEqual(h["vary"], "Accept")
        # the same variant again is the same bytes, from memory
        self.assertEqual(get(self.srv, "/alice?s=64")[2], b1)

    def test_changed_source_drops_its_variants(self):
        self.srv.write("carol.jpg", make_image("JPEG", size=(100, 100), color=(250, 0, 0)))
        _, _, red = get(self.srv, "/carol?s=10")
        self.assertGreater(decode(red).convert("RGB").getpixel((5, 5))[0], 150)
        self.srv.write("carol.jpg", make_image("JPEG", size=(100, 100), color=(0, 0, 250)))
        wait_until(lambda: decode(get(self.srv, "/carol?s=10")[2]).convert("RGB").getpixel((5, 5))[2] > 150,
                   "the old rendering is still served")

    def test_if_modified_since_on_a_variant(self):
        st, h, _ = get(self.srv, "/alice?s=48")
        self.assertEqual(st, 200)
        st, h2, body = get(self.srv, "/alice?s=48", ["If-Modified-Since: " + h["last-modified"]])
        self.assertEqual((st, body, h2["etag"]), (304, b"", h["etag"]))
        st, _, _ = get(self.srv, "/alice?s=48", ["If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"])
        self.assertEqual(st, 200)

    def test_default_avatar_resized(self):
        st, h, body = get(self.srv, "/nobody?s=33")
        self.assertEqual((st, decode(body).size), (200, (33, 33)))
        st, _, body = get(self.srv, "/nobody?s=33&d=404")
        self.assertEqual(st, 404)

    def test_changed_default_drops_its_variants(self):
        srv = Pixd()
        try:
            srv.write("-1.png", solid("PNG", (50, 50), (250, 0, 0)))
            pixel = lambda: decode(get(srv, "/nobody?s=20")[2]).convert("RGB").getpixel((10, 10))
            wait_until(lambda: pixel()[0] >= 200, "the red default is not served")
            srv.write("-1.png", solid("PNG", (50, 50), (0, 250, 0)))  # every unknown user's source
            wait_until(lambda: pixel()[1] >= 200, "the old default's variant is still served")
            self.assertEqual(curl(srv.url("/healthz"))[0], 200)
        finally:
            self.assertEqual(srv.stop(), 0)


class GravatarRoute(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Pixd()
        cls.green = solid("PNG", (120, 120), (0, 200, 0))
        cls.srv.write(md5("hashed@example.com") + ".png", cls.green)
        cls.srv.write(sha256("long@example.com") + ".jpg", make_image("JPEG", size=(90, 90)))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def avatar(self, h, q="", headers=()):
        return get(self.srv, f"/avatar/{h}{'?' + q if q else ''}", headers)

    def test_hash_names_default_to_80(self):
        h = md5("hashed@example.com")
        for path in (h, h.upper(), h + ".jpg", h + ".png"):
            st, hd, body = self.avatar(path)
            self.assertEqual((st, decode(body).size), (200, (80, 80)), path)
        st, _, body = self.avatar(sha256("long@example.com"), "s=40")
        self.assertEqual((st, decode(body).size), (200, (40, 40)))

    def test_not_a_hash(self):
        for path in ("abc", "g" * 32, md5("x")[:31], md5("x") + "0"):
            self.assertEqual(self.avatar(path)[0], 404, path)

    def test_generated_defaults(self):
        h1, h2 = md5("one@example.com"), md5("two@example.com")
        for d in ("identicon", "retro", "mp", "mm", "monsterid", "wavatar", "robohash", "initials"):
            st, hd, a = self.avatar(h1, f"d={d}&name=Jane+Doe")
            self.assertEqual(st, 200, d)
            im = decode(a)
            self.assertEqual((im.format, im.size), ("PNG", (80, 80)), d)
            self.assertEqual(self.avatar(h1, f"d={d}&name=Jane+Doe")[2], a, d)  # deterministic
            if d in ("identicon", "retro"):
                self.assertNotEqual(self.avatar(h2, f"d={d}")[2], a, d)
        ident, retro = self.avatar(h1, "d=identicon")[2], self.avatar(h1, "d=retro")[2]
        self.assertNotEqual(ident, retro)
        st, _, blank = self.avatar(h1, "d=blank&s=16")
        im = decode(blank).convert("RGBA")
        self.assertEqual((st, im.size, im.getextrema()[3]), (200, (16, 16), (0, 0)))
        jd = self.avatar(h1, "d=initials&name=Jane+Doe")[2]
        self.assertNotEqual(jd, self.avatar(h1, "d=initials&name=Xavier+Young")[2])
        # a letter the font lacks falls back to mp
        self.assertEqual(self.avatar(h1, "d=initials&name=%E4%B8%80")[2], self.avatar(h1, "d=mp")[2])

    def test_d_404_and_url_and_errors(self):
        h = md5("nobody@example.com")
        st, _, body = self.avatar(h, "d=404")
        self.assertEqual((st, "error" in json.loads(body)), (404, True))
        st, hd, _ = self.avatar(h, "d=https%3A%2F%2Fexample.com%2Fdefault.png")
        self.assertEqual((st, hd["location"]), (302, "https://example.com/default.png"))
        for bad in ("d=javascript%3Aalert(1)", "d=https%3A%2F%2Fa%0d%0aSet-Cookie%3A+x", "d=nonsense",
                    "f=maybe", "d=%zz"):
            st, hd, body = self.avatar(h, bad)
            self.assertEqual(st, 400, bad)
            self.assertNotIn("set-cookie", hd)

    def test_fallback_answers_are_cached_briefly(self):
        h = md5("nobody@example.com")
        for path in (f"/avatar/{h}?d=404", f"/avatar/{h}?d=https%3A%2F%2Fexample.com%2Fa.png",
                     "/nobody?d=404", "/nobody?d=https%3A%2F%2Fexample.com%2Fa.png"):
            st, hd, _ = get(self.srv, path)
            self.assertIn(st, (302, 404), path)
            self.assertEqual(hd["cache-control"], "public, max-age=300", path)
            self.assertNotIn("etag", hd, path)  # nothing to revalidate: a redirect or no picture
        st, hd, _ = get(self.srv, "/avatar/" + h)
        self.assertEqual((st, hd["cache-control"]), (200, "public, max-age=7200"))  # a picture: --max-age

    def test_color_and_empty_d(self):
        for h in (md5("one@example.com"), sha256("one@example.com")):
            st, hd, body = self.avatar(h, "d=color")
            im = decode(body).convert("RGB")
            self.assertEqual((st, decode(body).format, im.size), (200, "PNG", (80, 80)))
            self.assertEqual(im.getextrema(), tuple((c, c) for c in hash_colour(bytes.fromhex(h))))
            initials = decode(self.avatar(h, "d=initials&name=Jane+Doe")[2]).convert("RGB")
            self.assertEqual(im.getpixel((0, 0)), initials.getpixel((0, 0)))  # the initials' background
            self.assertIn("etag", hd)
        default = self.avatar(md5("nobody@example.com"))
        for q in ("d=", "default=", "d=identicon&d="):  # empty: as if absent, as on gravatar.com
            st, _, body = self.avatar(md5("nobody@example.com"), q)
            self.assertEqual((st, body), (200, default[2]), q)

    def test_forcedefault(self):
        h = md5("hashed@example.com")
        own = self.avatar(h, "d=identicon")[2]
        forced = self.avatar(h, "d=identicon&f=y")[2]
        self.assertNotEqual(own, forced)
        self.assertEqual(forced, self.avatar(h, "default=identicon&forcedefault=y")[2])
        self.assertEqual(self.avatar(md5("nobody@x.org"), "d=identicon")[0], 200)

    def test_no_d_gives_the_default_avatar(self):
        st, _, body = self.avatar(md5("nobody@example.com"))
        self.assertEqual((st, decode(body).size), (200, (80, 80)))
        self.assertEqual(decode(body).convert("RGB").getpixel((40, 40))[2], 255)  # the blue -1.png

    def test_formats_and_vary(self):
        h = md5("one@example.com")
        st, hd, body = self.avatar(h, "d=identicon", ["Accept: image/webp,*/*"])
        self.assertEqual((st, decode(body).format, hd["vary"]), (200, "WEBP", "Accept"))
        st, hd, body = self.avatar(h, "d=identicon")
        self.assertEqual((decode(body).format, hd["vary"]), ("PNG", "Accept"))
        self.assertIn("last-modified", hd)
        st, _, _ = self.avatar(h, "d=identicon", ["If-None-Match: " + hd["etag"]])
        self.assertEqual(st, 304)

    def test_client_libraries_unchanged(self):
        """URLs built by Gravatar::URL and Libravatar::URL (Debian's libgravatar-url-perl)."""
        base = self.srv.url("/avatar")
        script = (
            'use Gravatar::URL; use Libravatar::URL; my $b = shift;'
            'print gravatar_url(email => q(hashed@example.com), base => $b), "\\n";'
            'print gravatar_url(email => q(hashed@example.com), size => 96, rating => "pg", base => $b), "\\n";'
            'print gravatar_url(email => q(nobody@example.com), default => "identicon", short_keys => 0,'
            ' base => $b), "\\n";'
            'print gravatar_url(email => q(nobody@example.com), default => q(http://example.com/d.png),'
            ' base => $b), "\\n";'
            'print libravatar_url(email => q(hashed@example.com), size => 48, default => "mm", base => $b), "\\n";'
            'print libravatar_url(email => q(nobody@example.com), size => 48, default => "mm", base => $b), "\\n";')
        try:
            urls = subprocess.run(["perl", "-e", script, base], capture_output=True, text=True, check=True,
                                  timeout=30).stdout.split()
        except FileNotFoundError:
            self.skipTest("perl is missing")
        if len(urls) != 6:
            self.skipTest("Gravatar::URL and Libravatar::URL are not installed (libgravatar-url-perl)")
        sizes = [80, 96, 80, None, 48, 48]
        for url, size in zip(urls, sizes):
            st, hd, body = curl(url)
            if size is None:
                self.assertEqual((st, hd["location"]), (302, "http://example.com/d.png"), url)
            else:
                self.assertEqual((st, decode(body).size), (200, (size, size)), url)
        self.assertEqual(decode(curl(urls[0])[2]).convert("RGB").getpixel((40, 40)), (0, 200, 0))


class UidDefaults(unittest.TestCase):
    """d= on /<uid> for a uid without a file: seeded with the SHA-256 of the uid, so the same
    picture as /avatar/<that hash>."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Pixd()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_generated_pictures(self):
        for d in ("identicon", "retro", "color", "mp"):
            st, hd, body = get(self.srv, f"/jane?d={d}")
            im = decode(body)
            self.assertEqual((st, im.format, im.size), (200, "PNG", (80, 80)), d)
            self.assertEqual(body, get(self.srv, f"/avatar/{sha256('jane')}?d={d}")[2], d)
            self.assertEqual(hd["cache-control"], "public, max-age=7200")
            self.assertIn("etag", hd)
        self.assertNotEqual(get(self.srv, "/jane?d=identicon")[2], get(self.srv, "/john?d=identicon")[2])
        st, _, body = get(self.srv, "/jane?d=identicon&s=33")
        self.assertEqual((st, decode(body).size), (200, (33, 33)))

    def test_url(self):
        st, hd, body = get(self.srv, "/jane?d=https%3A%2F%2Fexample.com%2Fdefault.png%3Fx%3D1")
        self.assertEqual((st, hd["location"]), (302, "https://example.com/default.png?x=1"))
        self.assertIn("error", json.loads(body))

    def test_initials(self):
        jd = get(self.srv, "/jane?d=initials&initials=JD")
        self.assertEqual(jd[0], 200)
        self.assertEqual(jd[2], get(self.srv, "/jane?d=initials&name=Jane+Doe")[2])
        self.assertEqual(jd[2], get(self.srv, f"/avatar/{sha256('jane')}?d=initials&initials=JD")[2])
        uid_only = get(self.srv, "/jane?d=initials")[2]  # the uid's letter: J
        self.assertNotEqual(uid_only, jd[2])
        self.assertEqual(uid_only, get(self.srv, "/jane?d=initials&initials=J")[2])

    def test_if_modified_since_on_a_generated_picture(self):
        st, hd, _ = get(self.srv, "/jane?d=retro")
        st, hd2, body = get(self.srv, "/jane?d=retro", ["If-Modified-Since: " + hd["last-modified"]])
        self.assertEqual((st, body, hd2["etag"]), (304, b"", hd["etag"]))
        st, _, _ = get(self.srv, "/jane?d=retro", ["If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"])
        self.assertEqual(st, 200)


class Avif(unittest.TestCase):
    def test_avif_when_on(self):
        srv = Pixd("--avif")
        try:
            srv.write("alice.jpg", make_image("JPEG", size=(100, 100)))
            st, hd, body = get(srv, "/alice?s=64", ["Accept: image/avif,image/webp,*/*"])
            self.assertEqual((st, hd["content-type"]), (200, "image/avif"))
            self.assertEqual(body[4:12], b"ftypavif")
            st, hd, body = get(srv, "/alice?s=64&fm=avif")
            self.assertEqual((st, hd["content-type"]), (200, "image/avif"))
        finally:
            srv.stop()


class VariantBounds(unittest.TestCase):
    def test_variants_per_source(self):
        srv = Pixd("--variants-per-source", "3")
        try:
            srv.write("alice.jpg", make_image("JPEG", size=(100, 100)))
            srv.write("bob.jpg", make_image("JPEG", size=(100, 100)))
            for s in range(10, 16):
                self.assertEqual(get(srv, f"/alice?s={s}")[0], 200)
            m = metrics(srv)
            self.assertEqual(m['pixd_cache_entries{cache="variants"}'], 3)
            self.assertEqual(m["pixd_variant_renders_total"], 6)
            self.assertGreaterEqual(m['pixd_cache_evictions_total{cache="variants"}'], 3)
            self.assertEqual(m["pixd_variants_per_source_max"], 3)
            self.assertEqual(m["pixd_variants_per_source_held"], 3)
            self.assertEqual(m["pixd_variant_source_evictions_total"], 3)
            for s in (10, 11):  # another source: held stays the most of any one source
                self.assertEqual(get(srv, f"/bob?s={s}")[0], 200)
            m = metrics(srv)
            self.assertEqual((m["pixd_variants_per_source_held"], m["pixd_variant_source_evictions_total"]), (3, 3))
            srv.write("alice.jpg", make_image("JPEG", size=(90, 90)))  # drops alice's variants
            wait_until(lambda: metrics(srv)["pixd_variants_per_source_held"] == 2, "alice's variants kept")
        finally:
            srv.stop()

    @unittest.skipUnless(HOOKS, "needs a pixd built with -DPIXD_TEST_HOOKS=ON")
    def test_single_flight(self):
        """Five clients ask for one uncached variant while the pool is held: one render."""
        srv = Pixd("--image-workers", "1")
        try:
            srv.write("alice.jpg", make_image("JPEG", size=(200, 200)))
            srv.arm("pool_job")
            results = [None] * 5
            def fetch(i):
                results[i] = get(srv, "/alice?s=99")
            threads = [threading.Thread(target=fetch, args=(i,)) for i in range(5)]
            threads[0].start()
            srv.wait_held("pool_job")
            for t in threads[1:]:
                t.start()
            wait_until(lambda: metrics(srv)["pixd_variant_render_joins_total"] >= 4, "the others never joined")
            srv.release("pool_job")
            for t in threads:
                t.join(30)
            self.assertEqual({r[0] for r in results}, {200})
            self.assertEqual(len({r[2] for r in results}), 1)
            m = metrics(srv)
            self.assertEqual((m["pixd_variant_renders_total"], m["pixd_variant_render_joins_total"]), (1, 4))
        finally:
            srv.stop()

    @unittest.skipUnless(HOOKS, "needs a pixd built with -DPIXD_TEST_HOOKS=ON")
    def test_renders_per_client(self):
        """One address with a render under way gets 429 for another; a second address does not."""
        srv = Pixd("--image-workers", "1", "--renders-per-client", "1")
        try:
            srv.write("alice.jpg", make_image("JPEG", size=(200, 200)))
            srv.arm("pool_job")
            first = threading.Thread(target=get, args=(srv, "/alice?s=50"))
            first.start()
            srv.wait_held("pool_job")
            st, hd, body = get(srv, "/alice?s=51")
            self.assertEqual((st, hd.get("retry-after")), (429, "1"))
            other = {}
            t2 = threading.Thread(target=lambda: other.update(r=get(srv, "/alice?s=52", source="127.0.0.2")))
            t2.start()
            # queued behind the held one, not refused
            wait_until(lambda: metrics(srv)["pixd_image_jobs_queued"] >= 1, "the second render is not queued")
            # and a cached avatar is served meanwhile
            self.assertEqual(get(srv, "/alice")[0], 200)
            srv.release("pool_job")
            first.join(30)
            t2.join(30)
            self.assertEqual(other["r"][0], 200)
            m = metrics(srv)
            self.assertEqual(m["pixd_variant_renders_refused_total"], 1)
            self.assertEqual(m["pixd_variant_render_clients"], 0)
        finally:
            srv.stop()

    @unittest.skipUnless(HOOKS, "needs a pixd built with -DPIXD_TEST_HOOKS=ON")
    def test_render_dropped_when_every_client_left(self):
        srv = Pixd("--image-workers", "1")
        try:
            srv.write("alice.jpg", make_image("JPEG", size=(200, 200)))
            srv.write("bob.jpg", make_image("JPEG", size=(200, 200)))
            srv.arm("pool_job")
            holder = threading.Thread(target=get, args=(srv, "/bob?s=40"))
            holder.start()
            srv.wait_held("pool_job")
            socks = []
            for _ in range(2):  # two clients wait for the same queued render, then leave
                s = socket.create_connection(("127.0.0.1", srv.port))
                s.sendall(b"GET /alice?s=77 HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            wait_until(lambda: metrics(srv)["pixd_variant_render_joins_total"] >= 1, "the second client never joined")
            before = metrics(srv)["pixd_connections_open"]
            for s in socks:
                s.close()
            # Both closes seen (the job is marked cancelled then) before the pool goes on.
            wait_until(lambda: metrics(srv)["pixd_connections_open"] <= before - 2, "pixd never saw the clients leave")
            srv.release("pool_job")
            holder.join(30)
            wait_until(lambda: metrics(srv)["pixd_variant_renders_in_flight"] == 0, "a render is still in flight")
            m = metrics(srv)
            self.assertEqual(m['pixd_image_jobs_total{outcome="dropped"}'], 1)
            # a client that comes later still gets it
            st, _, body = get(srv, "/alice?s=77")
            self.assertEqual((st, decode(body).size), (200, (77, 77)))
        finally:
            srv.stop()


class Metrics(unittest.TestCase):
    def test_metrics_and_healthz(self):
        srv = Pixd()
        try:
            srv.write("alice.jpg", make_image("JPEG", size=(100, 100)))
            get(srv, "/alice")
            get(srv, "/alice?s=20")
            get(srv, "/missing/path")
            st, hd, body = curl(srv.url("/metrics"))
            self.assertEqual(st, 200)
            self.assertTrue(hd["content-type"].startswith("text/plain; version=0.0.4"))
            line = re.compile(r'^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? '
                              r'[0-9.e+-]+)$')
            for l in body.decode().splitlines():
                self.assertRegex(l, line)
            m = metrics(srv)
            self.assertEqual(m['pixd_http_requests_total{route="avatar",code="200"}'], 2)
            self.assertEqual(m['pixd_http_requests_total{route="none",code="404"}'], 1)
            self.assertEqual(m['pixd_http_request_duration_seconds_count{route="avatar"}'], 2)
            self.assertEqual(m["pixd_variant_renders_total"], 1)
            self.assertGreaterEqual(m["pixd_connections_total"], 3)
            self.assertEqual(curl(srv.url("/healthz"))[0], 200)
        finally:
            srv.stop()


    @unittest.skipUnless(HOOKS, "needs a pixd built with -DPIXD_TEST_HOOKS=ON")
    def test_healthz_503_while_draining(self):
        srv = Pixd()
        try:
            srv.write("alice.jpg", make_image("JPEG", size=(100, 100)))
            self.assertEqual(curl(srv.url("/healthz"))[0], 200)
            held = srv.connect(timeout=60)
            srv.arm("pool_job")
            held.send(b"GET /alice?s=50 HTTP/1.1\r\nHost: t\r\n\r\n")
            srv.wait_held("pool_job")  # a render in flight keeps the drain going
            probe = srv.connect(timeout=60)
            probe.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # a head half-received: in flight too
            # the held one, the probe and /status's own
            wait_until(lambda: srv.status()["connections"]["open"] >= 3, "the probe was not accepted")
            srv.proc.send_signal(signal.SIGTERM)

            def refused():
                try:
                    socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
                    return False
                except ConnectionRefusedError:
                    return True
            wait_until(refused, "pixd still accepts after SIGTERM")  # every listener closed: draining
            probe.send(b"\r\n")
            r = probe.read_response()
            self.assertEqual((r.status, r.header("connection")), (503, "close"), r)
            self.assertIn("error", json.loads(r.body))
            srv.release("pool_job")
            r = held.read_response()
            self.assertEqual((r.status, decode(r.body).size), (200, (50, 50)))
            self.assertEqual(srv.proc.wait(30), 0)
            held.close()
            probe.close()
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
