"""What every Python peer shares: where the avatars are, the black-and-white conversion, the CLI.

Configuration comes from the environment so the same module runs under a WSGI/ASGI server
(gunicorn, uvicorn) and standalone:
  AVATAR_DIR       folder of <uid>.png|.jpg|.jpeg|.gif avatars, default avatar -1.png ("avatars")
  DEFAULT_AVATAR   file name of the default avatar (-1.png)
"""
import argparse
import io
import os

from PIL import Image

AVATAR_DIR = os.environ.get("AVATAR_DIR", "avatars")
DEFAULT_AVATAR = os.environ.get("DEFAULT_AVATAR", "-1.png")
# The extensions the original experiment's nginx try_files tried, in the same order.
AVATAR_EXTS = (".png", ".jpg", ".jpeg", ".gif")
CACHE_CONTROL = "public, max-age=7200"


def avatar_path(uid):
    """The file serving uid: the first <dir>/<uid>.<ext> that is a regular file, else the default.

    uid comes from a route segment, which never holds '/', so it cannot leave AVATAR_DIR.
    """
    for ext in AVATAR_EXTS:
        path = os.path.join(AVATAR_DIR, uid + ext)
        if os.path.isfile(path):
            return path
    return os.path.join(AVATAR_DIR, DEFAULT_AVATAR)


def bw_jpeg(data):
    """The experiments' conversion: decode, convert('1') (Floyd-Steinberg dither), save as JPEG."""
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("1").save(out, format="JPEG")
    return out.getvalue()


def cli_args(description):
    """--host/--port/--avatars for a standalone run; --avatars overrides AVATAR_DIR."""
    global AVATAR_DIR
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--avatars", default=AVATAR_DIR)
    args = ap.parse_args()
    AVATAR_DIR = args.avatars
    return args
