"""Uploads against a real pixd: PUT and DELETE /<uid> (server/upload.h, docs/uploads.md).

Checked: who may (bearer tokens, signed URLs exactly as server/auth.h defines their canonical
string, key rotation and reload on SIGHUP, a bad file on reload keeps the old one); what is
kept (raw and multipart bodies, .jpg or .png, the uid's other files removed, email= names for
/avatar/<hash>, crop boxes, --upload-max-side, EXIF orientation applied and metadata gone, bad
bodies refused with the right status and nothing stored); that nothing is lost or half-written
when pixd is killed with SIGKILL in the middle of uploads; the order of the system calls that
makes a stored file durable before the 2xx answer (under strace); and the TLS certificate
reloaded on SIGHUP without a restart.

Every image is generated here with Pillow.
"""
import base64
import hashlib
import hmac
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from PIL import Image, ImageOps

from pixd_env import PIXD_BIN, Conn, free_port, make_image, wait_until

TOKEN = "admin-token-0123456789abcdef"
KEY_NEW = "key-new-00112233445566778899aabbccddeeff"
KEY_OLD = "key-old-ffeeddccbbaa99887766554433221100"
BEARER = {"Authorization": "Bearer " + TOKEN}
TEMP_RE = re.compile(r"^\.tmp-.+-[A-Za-z0-9]{12}$")  # core/durable.h's temporary names


# ---- pictures ---------------------------------------------------------------------------------

def encode(im, fmt, **kw):
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def solid(fmt, size, color, mode="RGB"):
    return encode(Image.new(mode, size, color), fmt)


def decode(data):
    im = Image.open(io.BytesIO(data))
    im.load()  # the whole picture, not just the header
    return im


def mean(im, box=None):
    """The mean colour (r, g, b) of im (or of a box of it)."""
    im = im.convert("RGB")
    if box:
        im = im.crop(box)
    px = list(im.getdata())
    return tuple(sum(p[i] for p in px) / len(px) for i in range(3))


def near(c, want, tol=30):
    return all(abs(a - b) <= tol for a, b in zip(c, want))


def noise_jpeg(tint, size=1024):
    """A noisy picture of one dominant colour: slow to decode and encode, easy to tell apart."""
    bands = Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).split()
    bands = [b.point(lambda v, hi=hi: (200 + v % 56) if hi else v % 56) for b, hi in zip(bands, tint)]
    return encode(Image.merge("RGB", bands), "JPEG", quality=92)


def bomb_png(side=100000):
    """A valid PNG header declaring side x side pixels, with a tiny IDAT."""
    import struct
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) +
            chunk(b"IEND", b""))


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


def gravatar_name(email):
    """Gravatar's normalising: ASCII whitespace trimmed, lowercased."""
    return email.strip().lower()


# ---- signing (server/auth.h) ------------------------------------------------------------------

def canonical(method, uid, params):
    pairs = sorted((str(k).encode(), str(v).encode()) for k, v in params.items())
    return method.encode() + b"\n/" + uid.encode() + b"\n" + b"&".join(k + b"=" + v for k, v in pairs)


def sign(key, method, uid, params):
    """The hex HMAC-SHA256 of the canonical string of auth.h (params: every parameter but sig)."""
    return hmac.new(key.encode(), canonical(method, uid, params), hashlib.sha256).hexdigest()


def signed_path(key, method, uid, params=None, ttl=600, sent=None):
    """/uid?...&sig=... signed under key. sent: the parameters actually sent (default: those
    signed), to forge URLs that differ from what was signed."""
    params = dict(params or {})
    params.setdefault("expires", int(time.time()) + ttl)
    sig = sign(key, method, uid, params)
    q = dict(params if sent is None else sent)
    q["sig"] = sig
    return f"/{uid}?" + urllib.parse.urlencode(q)


def multipart(fields):
    """A multipart/form-data body and its content type; fields: name -> bytes or str."""
    boundary = "pixdtestboundary" + os.urandom(8).hex()
    out = b""
    for name, value in fields.items():
        data = value.encode() if isinstance(value, str) else value
        extra = '; filename="pic"' if name == "image" else ""
        ctype = "Content-Type: application/octet-stream\r\n" if name == "image" else ""
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n{ctype}\r\n"
                .encode() + data + b"\r\n")
    out += f"--{boundary}--\r\n".encode()
    return out, "multipart/form-data; boundary=" + boundary


# ---- a pixd process ---------------------------------------------------------------------------

def write_secret(path, lines):
    """Writes a secret file atomically, mode 600 (pixd warns about others' access)."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


class Server:
    """pixd on a free loopback port, over a given avatar folder (kept across restarts), with
    optional upload secrets and an optional wrapper command (strace)."""

    def __init__(self, folder, *args, token=None, keys=None, wrapper=(), default=True, env=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="pixd-up-")
        self.dir = folder
        os.makedirs(folder, exist_ok=True)
        if default and not os.path.exists(os.path.join(folder, "-1.png")):
            with open(os.path.join(folder, "-1.png"), "wb") as f:
                f.write(make_image("PNG", color=(0, 0, 255)))
        self.token_file = os.path.join(self.tmp.name, "tokens")
        self.key_file = os.path.join(self.tmp.name, "keys")
        extra = []
        if token:
            write_secret(self.token_file, [token])
            extra += ["--upload-token-file", self.token_file]
        if keys:
            write_secret(self.key_file, keys)
            extra += ["--upload-key-file", self.key_file]
        self.log = open(os.path.join(self.tmp.name, "pixd.log"), "w+")
        for attempt in range(3):  # another process may take the free port before pixd binds it
            self.port = free_port()
            self.log.seek(0)
            self.log.truncate()
            cmd = [*wrapper, PIXD_BIN, "--listen", f"127.0.0.1:{self.port}", "--avatars", folder, "--threads", "2",
                   *extra, *args]
            self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                         env=dict(os.environ, **(env or {})))
            # Ready once it says so: a connection alone could reach another process on the port.
            deadline = time.time() + 15
            while time.time() < deadline and self.proc.poll() is None:
                if f"(port {self.port})" in self.output():
                    return
                time.sleep(0.01)
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if "in use" not in self.output():
                break
        out = self.output()
        self.log.close()
        self.tmp.cleanup()
        raise RuntimeError("pixd did not start: " + out)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def wait_log(self, pattern, timeout=10, count=1):
        """Waits until the log holds pattern (a regex) count times; the log text."""
        deadline = time.time() + timeout
        while True:
            out = self.output()
            if len(re.findall(pattern, out)) >= count:
                return out
            if time.time() > deadline:
                raise AssertionError(f"pixd never logged {pattern!r}: {out}")
            time.sleep(0.02)

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def connect(self, timeout=10):
        return Conn(socket.create_connection(("127.0.0.1", self.port), timeout=timeout))

    def request(self, method, path, body=b"", headers=None):
        c = self.connect()
        try:
            h = dict(headers or {})
            if method in ("PUT", "POST"):
                h.setdefault("Content-Length", str(len(body)))
            return c.request(method, path, h, body)
        finally:
            c.close()

    def put(self, path, body, headers=None, ctype="image/jpeg"):
        h = {"Content-Type": ctype}
        h.update(headers or {})
        return self.request("PUT", path, body, h)

    def get(self, path):
        return self.request("GET", path)

    def files(self):
        return sorted(os.listdir(self.dir))

    def stored(self, uid):
        """(name, bytes) of the uid's one stored file; fails on none or several."""
        names = [n for n in self.files() if n.rsplit(".", 1)[0] == uid and not n.startswith(".")]
        assert len(names) == 1, names
        with open(os.path.join(self.dir, names[0]), "rb") as f:
            return names[0], f.read()

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        self.tmp.cleanup()

    def stop(self, timeout=15):
        """SIGTERM; fails when pixd reported a sanitizer error (an ASan/UBSan build) or crashed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.output()
        self.log.close()
        self.tmp.cleanup()
        if re.search(r"runtime error:|AddressSanitizer|LeakSanitizer", out) or self.proc.returncode < 0:
            raise AssertionError(f"pixd ended with {self.proc.returncode}: {out[-3000:]}")


class TmpFolder:
    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="pixd-up-av-")
        self.folder = os.path.join(self.tmpdir.name, "avatars")

    def tearDown(self):
        self.tmpdir.cleanup()


def error_of(r):
    return json.loads(r.body)["error"]


# ---- 1. who may -------------------------------------------------------------------------------

class UploadsOff(TmpFolder, unittest.TestCase):
    def test_off_without_files(self):
        srv = Server(self.folder)
        try:
            for method, body in (("PUT", solid("JPEG", (20, 20), (9, 9, 9))), ("DELETE", b"")):
                for headers in ({}, BEARER):
                    r = srv.request(method, "/someone", body, headers)
                    self.assertEqual(r.status, 403, (method, headers))
                    self.assertIn("uploads are off", error_of(r))
            self.assertFalse([n for n in srv.files() if n.startswith("someone")])
        finally:
            srv.stop()


    def test_leftover_temporary_files_removed_without_uploads(self):
        os.makedirs(self.folder, exist_ok=True)
        temps = [".tmp-alice.jpg-Ab3dEf9hIj0k", ".tmp-.pixd-index-000000000000"]
        kept = [".tmp-short", "alice.tmp-x"]  # not durable.c's names
        for name in temps + kept:
            with open(os.path.join(self.folder, name), "wb") as f:
                f.write(b"half a picture")
        srv = Server(self.folder)  # neither token nor key: uploads off
        try:
            names = set(srv.files())
            self.assertFalse(names & set(temps), names)
            self.assertLessEqual(set(kept), names)
            self.assertIn("removed 2 temporary file(s)", srv.output())
        finally:
            srv.stop()


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="pixd-up-av-")
        cls.srv = Server(os.path.join(cls.tmpdir.name, "avatars"), token=TOKEN, keys=[KEY_NEW, KEY_OLD])
        cls.pic = solid("JPEG", (30, 20), (250, 10, 10))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.tmpdir.cleanup()

    def assertRefused(self, r, status, word=None):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("content-type"), "application/json")
        if word:
            self.assertIn(word, error_of(r))

    def test_no_credentials_401(self):
        for method in ("PUT", "DELETE"):
            r = self.srv.request(method, "/nocred", self.pic if method == "PUT" else b"")
            self.assertRefused(r, 401)
            self.assertTrue(r.header("www-authenticate").startswith("Bearer"), r)
        self.assertNotIn("nocred.jpg", self.srv.files())

    def test_wrong_bearer_401(self):
        for value in ("Bearer nope-nope-nope-nope-nope", "Bearer " + TOKEN + "x", "Bearer " + TOKEN[:-1],
                      "Basic " + TOKEN, "Bearer " + KEY_NEW):
            r = self.srv.put("/wrongbearer", self.pic, {"Authorization": value})
            self.assertRefused(r, 401)
            self.assertIsNotNone(r.header("www-authenticate"))
        self.assertNotIn("wrongbearer.jpg", self.srv.files())

    def test_bearer_201_then_200(self):
        r = self.srv.put("/bearer1", self.pic, BEARER)
        self.assertEqual(r.status, 201, r)
        self.assertIn('"uid": "bearer1"', r.body.decode())
        r = self.srv.put("/bearer1", self.pic, {"Authorization": "bearer   " + TOKEN + "  "})  # any case, spaces
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.srv.request("DELETE", "/bearer1", headers=BEARER).status, 204)

    def test_signed_url_good(self):
        for key in (KEY_NEW, KEY_OLD):  # every listed key verifies
            uid = "signed" + key[4:7]
            r = self.srv.put(signed_path(key, "PUT", uid, {"email": "Signed@Example.com", "crop": "0,0,10,10"}),
                             self.pic)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(decode(self.srv.stored(uid)[1]).size, (10, 10))
            r = self.srv.request("DELETE", signed_path(key, "DELETE", uid))
            self.assertEqual(r.status, 204, r)
        # any hex case is accepted
        path = signed_path(KEY_NEW, "PUT", "signedupper")
        path = re.sub(r"sig=([0-9a-f]+)", lambda m: "sig=" + m.group(1).upper(), path)
        self.assertEqual(self.srv.put(path, self.pic).status, 201)

    def test_expired_403(self):
        now = int(time.time())
        for exp in (now - 5, now - 86400, now + 8 * 86400):  # past, or more than 7 days ahead
            r = self.srv.put(signed_path(KEY_NEW, "PUT", "expired", {"expires": exp}), self.pic)
            self.assertRefused(r, 403, "expired")
        self.assertRefused(self.srv.put("/expired?sig=" + sign(KEY_NEW, "PUT", "expired", {}), self.pic), 403)
        self.assertNotIn("expired.jpg", self.srv.files())

    def test_wrong_method_403(self):
        self.assertEqual(self.srv.put("/method1", self.pic, BEARER).status, 201)
        r = self.srv.request("DELETE", signed_path(KEY_NEW, "PUT", "method1"))
        self.assertRefused(r, 403, "signature")
        r = self.srv.put(signed_path(KEY_NEW, "DELETE", "method1"), self.pic)
        self.assertRefused(r, 403, "signature")
        self.assertIn("method1.jpg", self.srv.files())

    def test_wrong_uid_403(self):
        path = signed_path(KEY_NEW, "PUT", "uidone")
        r = self.srv.put(path.replace("/uidone?", "/uidtwo?"), self.pic)
        self.assertRefused(r, 403, "signature")
        self.assertNotIn("uidtwo.jpg", self.srv.files())

    def test_changed_parameters_403(self):
        signed = {"expires": int(time.time()) + 600, "email": "a@example.com", "crop": "0,0,10,10"}
        for sent in ({**signed, "email": "b@example.com"}, {**signed, "crop": "0,0,20,20"},
                     {**signed, "s": "80"}, {k: v for k, v in signed.items() if k != "email"},
                     {**signed, "expires": signed["expires"] + 1}):
            r = self.srv.put(signed_path(KEY_NEW, "PUT", "changed", signed, sent=sent), self.pic)
            self.assertRefused(r, 403, "signature")
        path = signed_path(KEY_NEW, "PUT", "changed", signed)
        self.assertRefused(self.srv.put(path + "&email=c%40example.com", self.pic), 403)  # given twice
        self.assertNotIn("changed.jpg", self.srv.files())
        self.assertEqual(self.srv.get(f"/avatar/{md5('b@example.com')}?d=404").status, 404)

    def test_bad_hex_403(self):
        good = signed_path(KEY_NEW, "PUT", "badhex")
        sig = re.search(r"sig=([0-9a-f]+)", good).group(1)
        for bad in ("z" * 64, sig[:-1], sig + "0", sig[:-2] + "g0", "", sig[:-4] + ("0000" if sig[-4:] != "0000" else "1111")):
            r = self.srv.put(good.replace("sig=" + sig, "sig=" + bad), self.pic)
            self.assertRefused(r, 403)
        self.assertNotIn("badhex.jpg", self.srv.files())

    def test_signature_with_another_key_403(self):
        r = self.srv.put(signed_path("key-unknown-0123456789abcdef", "PUT", "otherkey"), self.pic)
        self.assertRefused(r, 403, "signature")

    def test_multipart_fields_of_a_signed_upload_403(self):
        # The form is not signed: an email field would let whoever holds a URL for one uid take
        # another address's /avatar/<hash> names.
        body, ctype = multipart({"image": self.pic, "email": "victim@example.com"})
        r = self.srv.put(signed_path(KEY_NEW, "PUT", "formsigned"), body, ctype=ctype)
        self.assertRefused(r, 403, "signed URL")
        body, ctype = multipart({"image": self.pic, "crop": "0,0,5,5"})
        self.assertRefused(self.srv.put(signed_path(KEY_NEW, "PUT", "formsigned"), body, ctype=ctype), 403)
        self.assertEqual(self.srv.get(f"/avatar/{md5('victim@example.com')}?d=404").status, 404)
        self.assertNotIn("formsigned.jpg", self.srv.files())
        body, ctype = multipart({"image": self.pic})  # the picture alone is fine
        self.assertEqual(self.srv.put(signed_path(KEY_NEW, "PUT", "formsigned"), body, ctype=ctype).status, 201)

    def test_json_fields_of_a_signed_upload_403(self):
        # The same rule for a JSON body: only the signed URL may carry email and crop.
        b64 = base64.b64encode(self.pic).decode()
        for fields in ({"email": "victim@example.com"}, {"crop": "0,0,5,5"}):
            body = json.dumps({"image": b64, **fields}).encode()
            r = self.srv.put(signed_path(KEY_NEW, "PUT", "jsonsigned"), body, ctype="application/json")
            self.assertRefused(r, 403, "signed URL")
        self.assertEqual(self.srv.get(f"/avatar/{md5('victim@example.com')}?d=404").status, 404)
        self.assertNotIn("jsonsigned.jpg", self.srv.files())
        path = signed_path(KEY_NEW, "PUT", "jsonsigned", {"email": "signer@example.com"})
        r = self.srv.put(path, json.dumps({"image": b64}).encode(), ctype="application/json")
        self.assertEqual(r.status, 201, r)
        wait_until(lambda: self.srv.get(f"/avatar/{md5('signer@example.com')}?d=404").status == 200,
                   "the signed address does not name the picture")


class KeyRotation(TmpFolder, unittest.TestCase):
    def test_rotation_and_reload(self):
        srv = Server(self.folder, token=TOKEN, keys=[KEY_NEW, KEY_OLD])
        pic = solid("JPEG", (16, 16), (0, 200, 0))
        try:
            def put_with(key, uid="rot"):
                return srv.put(signed_path(key, "PUT", uid), pic).status

            self.assertIn(put_with(KEY_NEW), (200, 201))
            self.assertIn(put_with(KEY_OLD), (200, 201))

            # The old key goes: rewrite the file, SIGHUP, poll until old URLs are refused.
            write_secret(srv.key_file, ["# rotated", KEY_NEW])
            srv.hup()
            wait_until(lambda: put_with(KEY_OLD) == 403, "the old key still works after SIGHUP")
            srv.wait_log(r"SIGHUP: .*reloaded")
            self.assertEqual(put_with(KEY_NEW), 200)
            self.assertEqual(srv.put("/rot", pic, BEARER).status, 200)  # the token file was re-read too

            self.bad_files_keep(srv, srv.key_file, ([], ["short"], ["# only a comment"]),
                                lambda: put_with(KEY_NEW) == 200 and put_with(KEY_OLD) == 403)
        finally:
            srv.stop()


    def bad_files_keep(self, srv, path, bads, in_use):
        """Each bad file, then a missing one, on SIGHUP: logged, and in_use() still holds."""
        for bad in list(bads) + [None]:
            n = len(re.findall(r"old upload tokens and keys stay in use", srv.output()))
            if bad is None:
                os.unlink(path)
            else:
                write_secret(path, bad)
            srv.hup()
            srv.wait_log(r"old upload tokens and keys stay in use", count=n + 1)
            self.assertTrue(in_use(), bad)
        self.assertEqual(srv.proc.poll(), None)

    def test_bad_token_file_on_reload_keeps_the_tokens(self):
        new_token = "admin-token-fedcba9876543210"
        srv = Server(self.folder, token=TOKEN)
        pic = solid("JPEG", (16, 16), (0, 0, 200))
        try:
            def put_with(token):
                return srv.put("/tok", pic, {"Authorization": "Bearer " + token}).status

            self.assertEqual(put_with(TOKEN), 201)
            write_secret(srv.token_file, [new_token])
            srv.hup()
            wait_until(lambda: put_with(TOKEN) == 401, "the old token still works after SIGHUP")
            self.assertEqual(put_with(new_token), 200)
            self.bad_files_keep(srv, srv.token_file,
                                ([], ["short"], ["# only a comment"], ["has a space inside 0123456789"]),
                                lambda: put_with(new_token) == 200 and put_with(TOKEN) == 401)
        finally:
            srv.stop()

    def test_open_secret_file_warns(self):
        keys = os.path.join(self.tmpdir.name, "open-keys")
        with open(keys, "w") as f:
            f.write(KEY_NEW + "\n")
        os.chmod(keys, 0o644)
        srv = Server(self.folder, "--upload-key-file", keys)
        try:
            srv.wait_log(r"upload key file .* open to group or others")  # at start
            self.assertIn(srv.put(signed_path(KEY_NEW, "PUT", "warned"), solid("JPEG", (8, 8), (1, 1, 1))).status,
                          (200, 201))
            srv.hup()
            srv.wait_log(r"upload key file .* open to group or others", count=2)  # and on SIGHUP
        finally:
            srv.stop()


# ---- 2. what is kept --------------------------------------------------------------------------

class Behaviour(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="pixd-up-av-")
        cls.srv = Server(os.path.join(cls.tmpdir.name, "avatars"), token=TOKEN)
        with open(os.path.join(cls.srv.dir, "-1.png"), "rb") as f:
            cls.default = f.read()
        cls.red = solid("JPEG", (48, 32), (250, 0, 0))
        cls.green = solid("JPEG", (48, 32), (0, 250, 0))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.tmpdir.cleanup()

    def put(self, path, body, ctype="image/jpeg"):
        return self.srv.put(path, body, BEARER, ctype)

    def assertServes(self, path, data):
        """GET path gives data; polls when the answer was stale (the avatar cache is dropped by
        inotify, on another thread). The number of stale first answers."""
        answers = []

        def fresh():
            answers.append(self.srv.get(path))
            return answers[-1].status == 200 and answers[-1].body == data
        wait_until(fresh, lambda: f"{path} does not serve the stored picture: {answers[-1]}")
        return len(answers) - 1

    def assertNamed(self, h, uid):
        """/avatar/<h> serves uid's picture: the same answer as /<uid>?s=80 (Gravatar's default
        size for /avatar/<hash>), polled like assertServes."""
        def named():
            r, want = self.srv.get(f"/avatar/{h}?d=404"), self.srv.get(f"/{uid}?s=80")
            return r if r.status == 200 and r.body == want.body else None
        self.assertEqual(decode(wait_until(named, f"/avatar/{h} does not serve {uid}'s picture").body).size, (80, 80))

    def test_raw_and_multipart(self):
        r = self.put("/raw1", self.red, ctype="application/octet-stream")
        self.assertEqual(r.status, 201, r)
        name, data = self.srv.stored("raw1")
        self.assertEqual(name, "raw1.jpg")
        self.assertTrue(near(mean(decode(data)), (250, 0, 0)))
        self.assertIn('"format": "jpeg", "width": 48, "height": 32', r.body.decode())

        body, ctype = multipart({"note": "ignored", "image": self.green})
        r = self.put("/raw1", body, ctype)
        self.assertEqual(r.status, 200, r)
        name, data = self.srv.stored("raw1")
        self.assertTrue(near(mean(decode(data)), (0, 250, 0)))

        body, ctype = multipart({"image": self.red, "email": "Form@Example.com", "crop": "0,0,8,8"})
        self.assertEqual(self.put("/form1", body, ctype).status, 201)
        self.assertEqual(decode(self.srv.stored("form1")[1]).size, (8, 8))
        self.assertNamed(md5("form@example.com"), "form1")

        body, ctype = multipart({"picture": self.red})
        r = self.put("/form2", body, ctype)
        self.assertEqual(r.status, 400, r)
        self.assertIn("image", error_of(r))
        self.assertEqual(self.put("/form2", b"").status, 400)  # no body at all

    def test_json_body(self):
        """{"image": "<base64>", "email": ..., "crop": ...}, as /magic/base64 takes its picture."""
        b64 = base64.b64encode(self.red).decode()
        body = json.dumps({"image": b64, "email": "Json@Example.com", "crop": "2,2,10,6"}).encode()
        r = self.put("/json1", body, ctype="application/json")
        self.assertEqual(r.status, 201, r)
        name, data = self.srv.stored("json1")
        self.assertEqual((name, decode(data).size), ("json1.jpg", (10, 6)))
        self.assertTrue(near(mean(decode(data)), (250, 0, 0)))
        self.assertNamed(md5("json@example.com"), "json1")
        body = json.dumps({"image": base64.encodebytes(self.green).decode(), "filename": "ignored.jpg"})
        r = self.put("/json1", body.encode(), ctype="application/json; charset=utf-8")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(near(mean(decode(self.srv.stored("json1")[1])), (0, 250, 0)))
        for bad, status, word in ((b'{"email": "a@b.c"}', 400, "image"), (b'{"image": 5}', 400, "strings"),
                                  (b'{"image": "QUJD', 400, "json"), (b'{"image": "-_-_"}', 400, "base64"),
                                  (json.dumps({"image": b64, "crop": "1,2"}).encode(), 400, "crop"),
                                  (json.dumps({"image": b64, "email": "nobody"}).encode(), 400, "email"),
                                  (json.dumps({"image": base64.b64encode(b"plain text").decode()}).encode(), 415,
                                   "image")):
            r = self.put("/json2", bad, ctype="application/json")
            self.assertEqual(r.status, status, (bad[:40], r))
            self.assertIn(word, error_of(r))
        self.assertFalse([n for n in self.srv.files() if n.startswith("json2") or TEMP_RE.match(n)])

    def test_png_for_alpha_and_other_extensions_removed(self):
        for ext in (".png", ".webp", ".gif", ".jpeg"):
            with open(os.path.join(self.srv.dir, "ext1" + ext), "wb") as f:
                f.write(make_image({".jpeg": "JPEG", ".gif": "GIF"}.get(ext, ext[1:].upper())))
        self.assertEqual(self.put("/ext1", self.red).status, 200)  # it had a picture
        self.assertEqual([n for n in self.srv.files() if n.startswith("ext1")], ["ext1.jpg"])
        rgba = solid("PNG", (20, 10), (10, 20, 250, 128), mode="RGBA")
        r = self.put("/ext1", rgba, "image/png")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([n for n in self.srv.files() if n.startswith("ext1")], ["ext1.png"])
        im = decode(self.srv.stored("ext1")[1])
        self.assertEqual((im.format, im.mode, im.size), ("PNG", "RGBA", (20, 10)))
        self.assertEqual(im.getpixel((3, 3)), (10, 20, 250, 128))  # lossless, alpha kept
        self.assertEqual(self.put("/ext1", self.green).status, 200)  # and back
        self.assertEqual([n for n in self.srv.files() if n.startswith("ext1")], ["ext1.jpg"])
        # An alpha channel without transparency is a photo like any other: JPEG.
        opaque = solid("PNG", (20, 10), (10, 20, 250, 255), mode="RGBA")
        self.assertEqual(self.put("/ext1", opaque, "image/png").status, 200)
        self.assertEqual(self.srv.stored("ext1")[0], "ext1.jpg")
        # GIF and WebP come in, JPEG is kept.
        for fmt in ("GIF", "WEBP"):
            r = self.put("/ext2", solid(fmt, (30, 20), (0, 250, 0)), "image/" + fmt.lower())
            self.assertIn(r.status, (200, 201), (fmt, r))
            name, data = self.srv.stored("ext2")
            self.assertEqual((name, decode(data).format, decode(data).size), ("ext2.jpg", "JPEG", (30, 20)))
            self.assertTrue(near(mean(decode(data)), (0, 250, 0)), fmt)

    def test_get_serves_new_picture_after_2xx(self):
        stale = 0
        for i in range(20):
            pic = self.red if i % 2 else self.green
            self.assertIn(self.put("/fresh", pic).status, (200, 201))
            stale += self.assertServes("/fresh", self.srv.stored("fresh")[1])
        print(f"\n  GET right after the 2xx: {stale} stale answer(s) in 20 uploads", end=" ")

    def test_email_names_move_and_delete(self):
        email = "  Jane.Doe@Example.COM "
        path = "/jane?" + urllib.parse.urlencode({"email": email})
        self.assertEqual(self.put(path, self.red).status, 201)
        data = self.srv.stored("jane")[1]
        for h in (md5(gravatar_name(email)), sha256(gravatar_name(email)), md5(gravatar_name(email)).upper()):
            self.assertNamed(h, "jane")
        self.assertTrue(near(mean(decode(self.srv.get(f"/avatar/{md5('jane.doe@example.com')}").body)),
                             mean(decode(data))))
        with open(os.path.join(self.srv.dir, ".pixd-index")) as f:
            self.assertIn(md5("jane.doe@example.com") + " jane", f.read())

        # Another address for the same uid: the names move.
        self.assertEqual(self.put("/jane?email=jd%40example.org", self.green).status, 200)
        self.assertNamed(md5("jd@example.org"), "jane")
        self.assertNamed(sha256("jd@example.org"), "jane")
        for h in (md5("jane.doe@example.com"), sha256("jane.doe@example.com")):
            self.assertEqual(self.srv.get(f"/avatar/{h}?d=404").status, 404)

        # The same address for another uid: the names move there.
        self.assertEqual(self.put("/jane2?email=JD@example.org", self.red).status, 201)
        self.assertNamed(md5("jd@example.org"), "jane2")
        self.assertTrue(near(mean(decode(self.srv.get(f"/avatar/{md5('jd@example.org')}").body)), (250, 0, 0)))

        # A bad address changes nothing.
        r = self.put("/jane?email=no-at-sign", self.red)
        self.assertEqual(r.status, 400, r)
        self.assertTrue(near(mean(decode(self.srv.stored("jane")[1])), (0, 250, 0)))

        # DELETE: 204, then the names fall back and /<uid> gives the default; again: 404.
        self.assertEqual(self.srv.request("DELETE", "/jane2", headers=BEARER).status, 204)
        self.assertFalse([n for n in self.srv.files() if n.startswith("jane2.")])
        wait_until(lambda: self.srv.get(f"/avatar/{md5('jd@example.org')}?d=404").status == 404,
                   "the deleted user's hash still names a picture")
        self.assertServes("/jane2", self.default)
        self.assertEqual(self.srv.request("DELETE", "/jane2", headers=BEARER).status, 404)
        self.assertEqual(self.srv.request("DELETE", "/never-was", headers=BEARER).status, 404)

    def test_failed_upload_leaves_the_names(self):
        """An upload whose file cannot be stored moves no /avatar/<hash> name, in memory or in
        .pixd-index: the names are registered only after the picture is."""
        h = md5("kept@example.com")
        self.assertEqual(self.put("/keeper?email=kept%40example.com", self.red).status, 201)
        self.assertNamed(h, "keeper")
        with open(os.path.join(self.srv.dir, ".pixd-index")) as f:
            index = f.read()
        os.mkdir(os.path.join(self.srv.dir, "thief.jpg"))  # the rename over it fails, even as root
        try:
            r = self.put("/thief?email=kept%40example.com", self.green)
            self.assertEqual(r.status, 500, r)
        finally:
            os.rmdir(os.path.join(self.srv.dir, "thief.jpg"))
        self.assertNamed(h, "keeper")
        with open(os.path.join(self.srv.dir, ".pixd-index")) as f:
            self.assertEqual(f.read(), index)
        self.assertFalse([n for n in self.srv.files() if n.startswith("thief") or TEMP_RE.match(n)])

    def test_crop(self):
        im = Image.new("RGB", (200, 100), (250, 0, 0))
        im.paste((0, 0, 250), (100, 0, 200, 100))
        pic = encode(im, "PNG")
        self.assertEqual(self.put("/crop1?crop=0,0,100,100", pic, "image/png").status, 201)
        out = decode(self.srv.stored("crop1")[1])
        self.assertEqual(out.size, (100, 100))
        self.assertTrue(near(mean(out), (250, 0, 0)), mean(out))
        self.assertEqual(self.put("/crop1?crop=110,10,80,80", pic, "image/png").status, 200)
        out = decode(self.srv.stored("crop1")[1])
        self.assertEqual(out.size, (80, 80))
        self.assertTrue(near(mean(out), (0, 0, 250)), mean(out))
        before = self.srv.stored("crop1")[1]
        for box in ("150,0,100,100", "0,0,201,100", "0,50,10,51", "199,99,2,1"):  # not inside
            r = self.put(f"/crop1?crop={box}", pic, "image/png")
            self.assertEqual(r.status, 400, (box, r))
            self.assertIn("crop", error_of(r))
        for box in ("1,2,3", "0,0,0,10", "a,b,c,d", "1,2,3,4,5", "-1,0,5,5"):  # malformed
            self.assertEqual(self.put("/crop1?crop=" + urllib.parse.quote(box), pic, "image/png").status, 400, box)
        self.assertEqual(self.srv.stored("crop1")[1], before)

    def test_exif_orientation_applied_and_stripped(self):
        im = Image.new("RGB", (60, 40), (250, 0, 0))
        im.paste((0, 0, 250), (30, 0, 60, 40))  # left red, right blue, as stored in the file
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise to display
        exif[0x010F] = "PhoneMaker"
        exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 36.0)}
        src = encode(im, "JPEG", exif=exif.tobytes(), quality=95)
        check = Image.open(io.BytesIO(src)).getexif()  # Pillow really wrote the GPS position
        self.assertEqual(check.get(0x0112), 6)
        self.assertEqual(check.get_ifd(0x8825).get(1), "N")

        self.assertEqual(self.put("/phone", src).status, 201)
        name, data = self.srv.stored("phone")
        self.assertEqual(name, "phone.jpg")
        out = decode(data)
        self.assertEqual(out.size, (40, 60))  # upright: the sides swapped
        want = ImageOps.exif_transpose(Image.open(io.BytesIO(src)))
        self.assertEqual(want.size, (40, 60))
        for box in ((0, 0, 40, 25), (0, 35, 40, 60)):  # top and bottom as Pillow shows them
            self.assertTrue(near(mean(out, box), mean(want, box)), (box, mean(out, box), mean(want, box)))
        self.assertNotIn(b"Exif", data)
        self.assertNotIn(b"\xff\xe1", data[:data.index(b"\xff\xda")])  # no APP1 before the scan
        self.assertEqual(dict(out.getexif()), {})
        self.assertNotIn(b"PhoneMaker", data)

        # A PNG's eXIf chunk counts the same way.
        png = encode(im, "PNG", exif=exif.tobytes())
        self.assertIn(b"eXIf", png)
        self.assertEqual(self.put("/phone", png, "image/png").status, 200)
        name, data = self.srv.stored("phone")
        out = decode(data)
        self.assertEqual((name, out.size), ("phone.jpg", (40, 60)))
        for box in ((0, 0, 40, 25), (0, 35, 40, 60)):
            self.assertTrue(near(mean(out, box), mean(want, box)), (box, mean(out, box), mean(want, box)))
        self.assertNotIn(b"Exif", data)

    def test_bad_bodies(self):
        good = solid("JPEG", (100, 100), (1, 2, 3))
        cases = ((b"this is not an image at all, just text", "text/plain", 415),
                 (b"%PDF-1.4\n" + b"x" * 200, "application/pdf", 415),
                 (good[:len(good) // 2], "image/jpeg", 422),  # truncated
                 (b"\xff\xd8\xff\xe0" + b"\x00" * 300, "image/jpeg", 422),  # a JPEG signature, then nothing
                 (solid("PNG", (50, 50), (1, 2, 3))[:60], "image/png", 422),
                 (bomb_png(), "image/png", 422),  # 100000 x 100000 declared
                 (bomb_png(40000), "image/png", 422))
        def jobs():
            return json.loads(self.srv.get("/status").body)["jobs"]["done"]
        for body, ctype, status in cases:
            before = jobs()
            r = self.put("/badbody", body, ctype)
            self.assertEqual(r.status, status, (body[:16], r))
            self.assertTrue(error_of(r))
            if status == 415:  # refused from its first bytes, on the loop: no image job spent on it
                self.assertEqual(jobs(), before, body[:16])
        # A corrupt picture is 422 with a crop box too (the box is not to blame).
        r = self.put("/badbody?crop=0,0,5,5", good[:len(good) // 2])
        self.assertEqual(r.status, 422, r)
        self.assertFalse([n for n in self.srv.files() if n.startswith("badbody") or TEMP_RE.match(n)])
        self.assertEqual(self.srv.get("/badbody").body, self.default)

    def test_default_avatar_is_not_a_uid(self):
        # -1.png is the default avatar and "-1" a valid uid: an upload would replace the picture
        # of every unknown user, or remove it (stored as -1.jpg, the others removed).
        for method, body in (("PUT", self.red), ("DELETE", b"")):
            r = self.srv.request(method, "/-1", body, {"Content-Type": "image/jpeg", **BEARER})
            self.assertEqual(r.status, 403, (method, r))
            self.assertIn("default avatar", error_of(r))
        self.assertEqual([n for n in self.srv.files() if n.startswith("-1.")], ["-1.png"])
        self.assertEqual(self.srv.get("/nobody-at-all").body, self.default)


class Limits(TmpFolder, unittest.TestCase):
    def test_max_side_and_body_limit(self):
        srv = Server(self.folder, "--upload-max-side", "64", "--max-body-mb", "1", token=TOKEN)
        try:
            for size, want in (((300, 200), (64, 43)), ((50, 400), (8, 64)), ((40, 30), (40, 30))):
                r = srv.put("/side", solid("JPEG", size, (200, 100, 50)), BEARER)
                self.assertIn(r.status, (200, 201), r)
                im = decode(srv.stored("side")[1])
                self.assertEqual(max(im.size), max(want) if max(size) > 64 else max(size), (size, im.size))
                self.assertLessEqual(abs(im.size[0] - want[0]) + abs(im.size[1] - want[1]), 1, (size, im.size))
            big = solid("JPEG", (8, 8), (1, 2, 3))
            big = big[:-2] + os.urandom((1 << 20) + 4096) + big[-2:]  # a JPEG head, past 1 MiB
            r = srv.put("/toobig", big, BEARER)
            self.assertEqual(r.status, 413, r)
            self.assertFalse([n for n in srv.files() if n.startswith("toobig") or TEMP_RE.match(n)])
        finally:
            srv.stop()


    def test_default_max_side_and_stored_quality(self):
        """Without --upload-max-side a picture is bounded to 1024 px, and the JPEG kept is at
        quality 90 (upload.h): the same quantization tables as Pillow's (libjpeg's) at 90."""
        srv = Server(self.folder, token=TOKEN)
        try:
            grad = Image.linear_gradient("L").resize((1500, 1000)).convert("RGB")
            r = srv.put("/wide", encode(grad, "JPEG", quality=95), BEARER)
            self.assertEqual(r.status, 201, r)
            name, data = srv.stored("wide")
            im = decode(data)
            self.assertEqual((name, im.format), ("wide.jpg", "JPEG"))
            self.assertEqual(max(im.size), 1024)
            self.assertLessEqual(abs(im.size[1] - 683), 1, im.size)
            ref = decode(encode(Image.new("RGB", (16, 16)), "JPEG", quality=90))
            self.assertEqual(im.quantization, ref.quantization)
            self.assertNotEqual(im.quantization, decode(encode(Image.new("RGB", (16, 16)), "JPEG",
                                                               quality=89)).quantization)
            r = srv.put("/small", solid("JPEG", (1024, 300), (10, 20, 30)), BEARER)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(decode(srv.stored("small")[1]).size, (1024, 300))  # at the bound: unchanged
        finally:
            srv.stop()


# ---- 3. kill -9 in the middle of uploads -------------------------------------------------------

class CrashAtomicity(TmpFolder, unittest.TestCase):
    ITERATIONS = 30
    BUDGET_S = 45

    def test_kill9_never_loses_or_half_writes(self):
        pics = {"A": noise_jpeg((1, 0, 0)), "B": noise_jpeg((0, 0, 1))}
        # What each picture becomes once stored (the encoder is deterministic).
        srv = Server(self.folder, token=TOKEN)
        stored_form = {}
        for k, pic in pics.items():
            self.assertEqual(srv.put("/ref" + k, pic, BEARER).status, 201)
            stored_form[srv.stored("ref" + k)[1]] = k
        srv.stop()
        self.assertEqual(len(stored_form), 2)

        rng = random.Random()
        uid = "crashy"
        prev = None  # what the folder held before this iteration: None, "A" or "B"
        kills = acked_total = sent_total = temps_seen = 0
        start = time.time()
        for it in range(self.ITERATIONS):
            if time.time() - start > self.BUDGET_S:
                break
            srv = Server(self.folder, token=TOKEN)
            log = {"sent": [], "acked": []}  # (sequence number, picture), in order

            def uploader():
                c = None
                try:
                    c = srv.connect()
                    i = 0
                    while True:
                        k = "AB"[(i + it) % 2]
                        log["sent"].append((i, k))
                        r = c.request("PUT", f"/{uid}", {"Content-Type": "image/jpeg", **BEARER}, pics[k])
                        if r.status not in (200, 201):
                            log["error"] = r
                            return
                        log["acked"].append((i, k))
                        i += 1
                except (OSError, ConnectionError):
                    return  # killed
                finally:
                    if c:
                        c.close()

            t = threading.Thread(target=uploader)
            t.start()
            time.sleep(rng.uniform(0.0, 0.5))
            srv.proc.send_signal(signal.SIGKILL)
            t.join(30)
            self.assertFalse(t.is_alive())
            srv.kill()
            kills += 1
            self.assertNotIn("error", log, log.get("error"))
            acked_total += len(log["acked"])
            sent_total += len(log["sent"])

            temps = [n for n in os.listdir(self.folder) if TEMP_RE.match(n)]
            temps_seen += len(temps)

            # What may be there: the last acknowledged picture, or the one in flight after it.
            last_acked = log["acked"][-1] if log["acked"] else None
            allowed = {last_acked[1] if last_acked else prev}
            if log["sent"] and log["sent"][-1] != last_acked:
                allowed.add(log["sent"][-1][1])  # sent, not acknowledged: stored or not

            srv = Server(self.folder, token=TOKEN)  # restart on the same folder
            try:
                left = [n for n in os.listdir(self.folder) if TEMP_RE.match(n)]
                self.assertEqual(left, [], f"iteration {it}: temporary files after the restart")
                if temps:
                    self.assertIn("temporary file", srv.output())
                names = [n for n in os.listdir(self.folder) if n.startswith(uid + ".")]
                if None in allowed and not names:
                    got = None
                else:
                    self.assertEqual(names, [uid + ".jpg"], f"iteration {it}")
                    with open(os.path.join(self.folder, uid + ".jpg"), "rb") as f:
                        data = f.read()
                    try:
                        decode(data)  # decodes completely
                    except OSError as e:
                        self.fail(f"iteration {it}: {uid}.jpg does not decode: {e}")
                    self.assertIn(data, stored_form, f"iteration {it}: not A's nor B's stored bytes")
                    got = stored_form[data]
                    r = srv.get(f"/{uid}")
                    self.assertEqual((r.status, r.body), (200, data))
                self.assertIn(got, allowed, f"iteration {it}: {got} stored, {allowed} allowed; {log}")
                prev = got
            finally:
                srv.stop()
        print(f"\n  kill -9: {kills} kills, {sent_total} uploads sent, {acked_total} acknowledged, "
              f"{temps_seen} temporary file(s) left by kills and removed at start", end=" ")
        self.assertGreaterEqual(kills, 10)
        self.assertGreater(acked_total, 0)


# ---- 4. the order of the system calls ---------------------------------------------------------

def parse_strace(text):
    """The calls of an `strace -f -o` file, each with the line where it started and the line
    where it returned (different when strace split it as unfinished/resumed): tuples
    (name, pid, start line, end line, text)."""
    pending, calls = {}, []
    for idx, line in enumerate(text.splitlines()):
        m = re.match(r"(\d+)\s+(.*)", line)
        if not m:
            continue
        pid, rest = int(m.group(1)), m.group(2)
        r = re.match(r"<\.\.\. (\w+) resumed>(.*)", rest)
        if r:
            if pid in pending:
                name, start, head = pending.pop(pid)
                calls.append((name, pid, start, idx, head + r.group(2)))
            continue
        c = re.match(r"(\w+)\(", rest)
        if not c:
            continue
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (c.group(1), idx, rest[:-len("<unfinished ...>")])
        else:
            calls.append((c.group(1), pid, idx, idx, rest))
    return calls


class DurabilityOrder(TmpFolder, unittest.TestCase):
    def test_fsync_rename_fsync_before_answer(self):
        strace = shutil.which("strace")
        if not strace:
            self.skipTest("strace is not installed (Debian package strace)")
        trace = os.path.join(self.tmpdir.name, "trace")
        os.makedirs(self.folder)
        folder = os.path.realpath(self.folder)
        # LeakSanitizer cannot work under ptrace (a pixd built with ASan)
        asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0") if o)
        srv = Server(folder, token=TOKEN, env={"ASAN_OPTIONS": asan}, wrapper=[
            strace, "-f", "-y", "-s", "48", "-o", trace,
            "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,write,sendto,writev,sendmsg"])
        try:
            r = srv.put("/durable?email=durable%40example.com", solid("JPEG", (64, 64), (9, 90, 200)), BEARER)
            self.assertEqual(r.status, 201, r)
        finally:
            # pixd is strace's child: stop it, then strace ends and flushes its file.
            try:
                with open(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children") as f:
                    children = [int(p) for p in f.read().split()]
            except OSError:
                children = []
            for pid in children:
                os.kill(pid, signal.SIGTERM)
            srv.proc.wait(20)
            srv.stop()
        with open(trace) as f:
            text = f.read()
        if "PTRACE" in text[:2000] or not text.strip():
            self.skipTest("strace cannot trace here: " + text[:200])
        calls = parse_strace(text)
        esc = re.escape(folder)

        def first(pred, after=-1, what=""):
            for c in calls:
                if c[2] > after and pred(c):
                    return c
            self.fail(f"no {what} after line {after} in the trace:\n{text[-4000:]}")

        answer = first(lambda c: c[0] in ("write", "writev", "sendmsg", "sendto") and "HTTP/1.1 201" in c[4],
                       what="201 answer")
        self.assertRegex(answer[4], r"^\w+\(\d+<(socket|TCP)", "the answer goes to a socket")
        for name in ("durable.jpg", ".pixd-index"):
            tmp_re = esc + "/" + re.escape(".tmp-" + name + "-") + r"[A-Za-z0-9]{12}"
            fs = first(lambda c: c[0] in ("fsync", "fdatasync") and re.match(r"\w+\(\d+<" + tmp_re + ">\)", c[4]),
                       what=f"fsync of the temporary file of {name}")
            tmpname = re.search(r"\.tmp-" + re.escape(name) + r"-[A-Za-z0-9]{12}", fs[4]).group(0)
            ren = first(lambda c: c[0].startswith("rename") and f'"{tmpname}"' in c[4] and f'"{name}"' in c[4]
                        and c[4].rstrip().endswith("= 0"), what=f"rename of {tmpname} to {name}")
            self.assertLess(fs[3], ren[2], f"{name}: the temporary file is fsync'd before the rename")
            self.assertTrue(fs[4].rstrip().endswith("= 0"), fs)
            dsync = first(lambda c: c[0] == "fsync" and re.match(r"fsync\(\d+<" + esc + r">\)", c[4]),
                          after=ren[3], what=f"fsync of the folder after renaming {name}")
            self.assertTrue(dsync[4].rstrip().endswith("= 0"), dsync)
            self.assertLess(dsync[3], answer[2], f"{name}: the folder is fsync'd before the answer")
            self.assertLess(ren[3], answer[2])
        # Nothing but the temporary name was ever written to before the rename: the file's
        # content went into the temporary file (durable.h), never into durable.jpg itself.
        self.assertFalse([c for c in calls if c[0] == "write" and "/durable.jpg>" in c[4] and c[2] < answer[2]])


# ---- 5. the TLS certificate reloaded on SIGHUP -------------------------------------------------

def make_cert(folder, cn):
    os.makedirs(folder, exist_ok=True)
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={cn}"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def der_of(cert_file):
    with open(cert_file) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def replace_file(src, dst):
    tmp = dst + ".new"
    shutil.copyfile(src, tmp)
    os.rename(tmp, dst)


class TlsReload(TmpFolder, unittest.TestCase):
    def tls_conn(self, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # we compare the certificate's bytes ourselves
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
        return Conn(s), s.getpeercert(binary_form=True)

    def test_sighup_reloads_certificate(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed")
        a = make_cert(os.path.join(self.tmpdir.name, "a"), "pixd-cert-a")
        b = make_cert(os.path.join(self.tmpdir.name, "b"), "pixd-cert-b")
        live = os.path.join(self.tmpdir.name, "live")
        os.makedirs(live)
        cert, key = os.path.join(live, "cert.pem"), os.path.join(live, "key.pem")
        replace_file(a[0], cert)
        replace_file(a[1], key)
        tls_port = free_port()
        srv = Server(self.folder, "--tls-listen", f"127.0.0.1:{tls_port}", "--tls-cert", cert, "--tls-key", key)
        try:
            old, der = self.tls_conn(tls_port)
            self.assertEqual(der, der_of(a[0]))
            self.assertEqual(old.request("GET", "/someone").status, 200)

            replace_file(b[1], key)
            replace_file(b[0], cert)
            srv.hup()
            def new_cert():
                c, der = self.tls_conn(tls_port)
                if der == der_of(b[0]):
                    return c
                c.close()
                self.assertEqual(der, der_of(a[0]))
            c = wait_until(new_cert, "pixd never served the new certificate")
            self.assertEqual(c.request("GET", "/someone").status, 200)
            c.close()
            srv.wait_log(r"SIGHUP: certificate .*reloaded")
            # The connection made before the reload goes on, with its certificate.
            self.assertEqual(old.request("GET", "/someone").status, 200)
            self.assertEqual(old.sock.getpeercert(binary_form=True), der_of(a[0]))
            old.close()

            # Broken files on SIGHUP: an error in the log, B stays in use.
            broken = os.path.join(self.tmpdir.name, "broken.pem")
            with open(broken, "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
            cases = ((broken, b[1]),  # garbage certificate
                     (a[0], b[1]))    # a certificate with another's key
            for n, (cf, kf) in enumerate(cases, 1):
                replace_file(kf, key)
                replace_file(cf, cert)
                srv.hup()
                srv.wait_log(r"the old certificate stays in use", count=n)
                c, der = self.tls_conn(tls_port)
                self.assertEqual(der, der_of(b[0]), (cf, kf))
                self.assertEqual(c.request("GET", "/someone").status, 200)
                c.close()
            self.assertIsNone(srv.proc.poll())
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
