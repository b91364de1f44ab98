#!/usr/bin/python3
"""Libravatar-style peer: GET /<uid>?s=N resized with Pillow on every request (bench/sizes.sh).

What ivatar (Libravatar's server) does for a sized avatar, without its database: read the stored
picture, open it with Pillow, make it N x N, save a JPEG and answer it. Nothing is cached in
the process; as in ivatar, caching is left to something in front (there is nothing in front
here: this is the per-request cost).

  gunicorn:    AVATAR_DIR=DIR gunicorn -k gthread -w 1 --threads 2 -b 127.0.0.1:P \
                   --chdir bench/peers libravatar_app:app
  standalone:  /usr/bin/python3 libravatar_app.py --port P --avatars DIR   (Werkzeug, for checks)

s (or size): 1..2048, default 80 (ivatar's default size), else 400. The picture is centre-cropped
to a square first (ivatar crops at upload; the avatar folder's pictures may not be square), then
shrunk with thumbnail() (which lets Pillow decode a JPEG at 1/2, 1/4 or 1/8 scale first) or,
when smaller than N, enlarged with resize(); both LANCZOS, as ivatar. JPEG quality 80, pixd's
(ivatar has a JPEG_QUALITY setting of its own).
"""
import io
import logging

from flask import Flask, Response, jsonify, request
from PIL import Image

import common

app = Flask(__name__)
JPEG_QUALITY = 80
DEFAULT_SIZE = 80
MAX_SIZE = 2048


def square_jpeg(data, size):
    img = Image.open(io.BytesIO(data))
    w, h = img.size
    if w != h:
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side))
    if img.size[0] < size:
        img = img.resize((size, size), Image.LANCZOS)
    else:
        img.thumbnail((size, size), Image.LANCZOS)
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


@app.get("/<uid>")
def avatar(uid):
    raw = request.args.get("s", request.args.get("size", str(DEFAULT_SIZE)))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SIZE:
        return jsonify(error="bad size"), 400
    with open(common.avatar_path(uid), "rb") as f:
        data = f.read()
    return Response(square_jpeg(data, int(raw)), mimetype="image/jpeg",
                    headers={"Cache-Control": common.CACHE_CONTROL})


if __name__ == "__main__":
    args = common.cli_args("Libravatar-style resizing peer (dev server)")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host=args.host, port=args.port)
