#!/usr/bin/python3
"""Checks that one running contender answers the avatar route and the /magic API correctly.

  check_peer.py BASE_URL AVATAR_DIR [--magic ORIGIN_URL [--magic-mode pillow|tolerance]
                [--endpoints base64,multipart,imageurl]] [--redirect] [--status] [--h2]

BASE_URL     http://127.0.0.1:P or https://... (certificate not verified: self-signed)
AVATAR_DIR   the folder the contender serves, made by make_avatars.py
--magic      also check the /magic endpoints; ORIGIN_URL serves AVATAR_DIR too (the download
             origin of /magic/imageurl)
--magic-mode pillow: the answers must be byte-identical to Pillow's; tolerance (default): within
             TOLERANCE of Pillow's bitmap (see compare_bw)
--endpoints  the /magic endpoints to check (default: all three)
--redirect   also check /<uid>.<ext> -> 301 /<uid> (pixd, nginx)
--status     also check GET /status answers JSON (pixd)
--h2         also check GET /-1 over HTTP/2 (curl --http2: by ALPN for https)

Prints one line per check, then `magic: exact` (every /magic answer byte-identical to this
process's own Pillow conversion) or `magic: within tolerance` when /magic was checked, and exits
1 if any check failed.
"""
import argparse
import base64
import http.client
import io
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
import uuid

from PIL import Image, ImageChops, ImageFilter, ImageStat

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import common  # noqa: E402  (the conversion the peers run)

failures = 0
inexact = 0
# Mean absolute difference, in 0-255 grey levels, allowed between an answer and Pillow's after both
# are decoded and blurred (Gaussian, radius BLUR px): a dither stands for the grey level of its
# neighbourhood, and two error-diffusion dithers of nearly equal input (another JPEG decoder's
# rounding) place their dots differently while keeping each neighbourhood's share of white. On the
# suite's test image Go's decoder with Pillow's dither reads 1.4; the same dither of an input 8
# levels brighter 7.8, a plain threshold 80.
TOLERANCE = 4.0
BLUR = 2


def report(ok, what, detail=""):
    global failures
    failures += not ok
    print(f"  {'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")


def request(base, method, path, body=None, headers=None):
    """(status, lower-cased headers, body) of one request on a fresh connection."""
    url = urllib.parse.urlsplit(base)
    if url.scheme == "https":
        conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=30,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def decodes(data):
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return img
    except Exception:  # any decoder complaint means "not an image"
        return None


def check_avatars(base, adir):
    cases = [("/-1", "-1.png"), ("/thumb", "thumb.jpg"), ("/1000", "1000.jpg"), ("/1001", "1001.png"),
             ("/1002", "1002.gif"), ("/1003", "1003.jpeg"), ("/no_such_user", "-1.png")]
    for path, name in cases:
        with open(os.path.join(adir, name), "rb") as f:
            want = f.read()
        status, hdrs, body = request(base, "GET", path)
        ctype = hdrs.get("content-type", "")
        problems = []
        if status != 200:
            problems.append(f"status {status}")
        if not ctype.startswith("image/"):
            problems.append(f"content-type {ctype!r}")
        if body != want:
            problems.append(f"body {len(body)} bytes is not {name} ({len(want)} bytes)")
        if decodes(body) is None:
            problems.append("does not decode")
        if "max-age=7200" not in hdrs.get("cache-control", ""):
            problems.append(f"cache-control {hdrs.get('cache-control')!r}")
        for h in ("etag", "last-modified"):
            if h not in hdrs:
                problems.append(f"no {h}")
        report(not problems, f"GET {path} -> {name} ({ctype})", "; ".join(problems))


def check_redirect(base):
    status, hdrs, _ = request(base, "GET", "/1000.jpg")
    loc = hdrs.get("location", "")
    report(status == 301 and urllib.parse.urlsplit(loc).path == "/1000", "GET /1000.jpg -> 301 /1000",
           f"status {status} location {loc!r}")


def check_status(base):
    status, hdrs, body = request(base, "GET", "/status")
    try:
        json.loads(body)
        ok = status == 200
    except ValueError:
        ok = False
    report(ok, "GET /status -> JSON", f"status {status} {hdrs.get('content-type')!r} {body[:80]!r}")


def check_h2(base, adir):
    """GET /-1 with curl --http2: HTTP/2 negotiated, status 200, the file's very bytes."""
    with open(os.path.join(adir, "-1.png"), "rb") as f:
        want = f.read()
    with tempfile.NamedTemporaryFile() as body:
        r = subprocess.run(["curl", "-sk", "--http2", "--max-time", "10", "-o", body.name, "-w", "%{http_version} %{http_code}",
                            base + "/-1"], stdout=subprocess.PIPE, text=True)
        got = body.read()
    report(r.stdout == "2 200" and got == want, "GET /-1 over HTTP/2 -> -1.png",
           f"curl: {r.stdout!r} (exit {r.returncode}), {len(got)} bytes, want '2 200' and {len(want)} bytes")


def compare_bw(data, src, what, mode):
    """Reports whether data (a JPEG) is the black-and-white conversion of src: byte-identical to
    Pillow's, or (mode "tolerance") within TOLERANCE of it."""
    global inexact
    want = common.bw_jpeg(src)
    if data == want:
        report(True, what, "byte-identical to Pillow")
        return
    inexact += 1
    got, ref = decodes(data), decodes(want)
    if got is None:
        report(False, what, f"answer of {len(data)} bytes does not decode")
        return
    if got.format != "JPEG" or got.size != ref.size:
        report(False, what, f"{got.format} {got.size}, want JPEG {ref.size}")
        return
    if mode == "pillow":
        report(False, what, "not byte-identical to Pillow's answer (the contender declares magic = \"pillow\")")
        return
    blur = ImageFilter.GaussianBlur(BLUR)
    diff = ImageStat.Stat(ImageChops.difference(got.convert("L").filter(blur), ref.convert("L").filter(blur))).mean[0]
    report(diff <= TOLERANCE, what, f"JPEG {got.size}, differs from Pillow's by {diff:.2f}/255 blurred by {BLUR} px "
           f"(tolerance {TOLERANCE:g})")


def check_json_answer(base, path, request_json, filename, src, mode):
    """POST request_json to path: a JSON answer naming filename whose encoded_img is src in black and white."""
    status, _, out = request(base, "POST", path, json.dumps(request_json), {"Content-Type": "application/json"})
    try:
        answer = json.loads(out)
        ok = status == 200 and answer.get("filename") == filename
    except ValueError:
        answer, ok = {}, False
    report(ok, f"POST {path} -> JSON", f"status {status} {out[:80]!r}")
    if ok:
        compare_bw(base64.b64decode(answer.get("encoded_img", "")), src, f"  {path.rsplit('/', 1)[1]} answer image",
                   mode)


def check_magic(base, adir, origin, mode, endpoints):
    with open(os.path.join(adir, "3.jpeg"), "rb") as f:
        src = f.read()

    if "base64" in endpoints:
        check_json_answer(base, "/magic/base64", {"filename": "3.jpeg", "image": base64.b64encode(src).decode()},
                          "3.jpeg", src, mode)

    if "multipart" in endpoints:
        boundary = uuid.uuid4().hex
        form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"3.jpeg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + src + f"\r\n--{boundary}--\r\n".encode()
        status, hdrs, out = request(base, "POST", "/magic/multipart", form,
                                    {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        disp = hdrs.get("content-disposition", "")
        ok = status == 200 and hdrs.get("content-type", "").startswith("image/jpeg") and "3.jpeg" in disp
        report(ok, "POST /magic/multipart -> image/jpeg attachment",
               f"status {status} {hdrs.get('content-type')!r} disposition {disp!r}")
        if ok:
            compare_bw(out, src, "  multipart answer image", mode)

    if "imageurl" in endpoints:
        check_json_answer(base, "/magic/imageurl", {"image_url": origin.rstrip("/") + "/3.jpeg"}, "bw.jpeg", src, mode)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("avatars")
    ap.add_argument("--magic", metavar="ORIGIN_URL")
    ap.add_argument("--redirect", action="store_true")
    ap.add_argument("--status", action="store_true")
    ap.add_argument("--h2", action="store_true")
    ap.add_argument("--magic-mode", choices=("pillow", "tolerance"), default="tolerance")
    ap.add_argument("--endpoints", default="base64,multipart,imageurl")
    args = ap.parse_args()
    check_avatars(args.base, args.avatars)
    if args.redirect:
        check_redirect(args.base)
    if args.status:
        check_status(args.base)
    if args.h2:
        check_h2(args.base, args.avatars)
    if args.magic:
        check_magic(args.base, args.avatars, args.magic, args.magic_mode, args.endpoints.split(","))
        print("magic: within tolerance" if inexact else "magic: exact")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
