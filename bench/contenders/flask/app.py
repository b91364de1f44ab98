#!/usr/bin/python3
"""Flask peer: the avatar route and the three /magic endpoints, written as the originals were.

Dev server:  PYTHONPATH=bench/peers /usr/bin/python3 app.py --port P --avatars DIR
gunicorn:    PYTHONPATH=bench/peers AVATAR_DIR=DIR gunicorn -w 3 -b 127.0.0.1:P --chdir bench/contenders/flask app:app
"""
import base64
import logging
from urllib.request import urlopen

from flask import Flask, jsonify, request, send_file

import common

app = Flask(__name__)


@app.get("/<uid>")
def avatar(uid):
    return send_file(common.avatar_path(uid), max_age=7200)


@app.post("/magic/base64")
def magic_base64():
    body = request.get_json(silent=True) or {}
    if not isinstance(body.get("image"), str):
        return jsonify(error="image required"), 400
    encoded = base64.b64encode(common.bw_jpeg(base64.b64decode(body["image"]))).decode("ascii")
    return jsonify(filename=body.get("filename"), encoded_img=encoded)


@app.post("/magic/multipart")
def magic_multipart():
    image = request.files.get("image")
    if image is None:
        return jsonify(error="image required"), 400
    out = common.bw_jpeg(image.stream.read())
    return app.response_class(out, mimetype="image/jpeg",
                              headers={"Content-Disposition": f"attachment; filename={image.filename}"})


@app.post("/magic/imageurl")
def magic_imageurl():
    body = request.get_json(silent=True) or {}
    if not isinstance(body.get("image_url"), str):
        return jsonify(error="image_url required"), 400
    with urlopen(body["image_url"], timeout=10) as resp:
        data = resp.read()
    return jsonify(filename="bw.jpeg", encoded_img=base64.b64encode(common.bw_jpeg(data)).decode("ascii"))


if __name__ == "__main__":
    args = common.cli_args("Flask avatar and /magic peer (dev server)")
    # The original benchmark silenced werkzeug's per-request log for load runs.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app.run(host=args.host, port=args.port)
