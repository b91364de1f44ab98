#!/usr/bin/python3
"""Starlette peer: the avatar route only, as the original experiment hand-optimised it.

  PYTHONPATH=bench/peers AVATAR_DIR=DIR uvicorn --app-dir bench/contenders/starlette --port P --workers 2 --no-access-log app:app

Per request it stats and reads the whole file, then answers through a bare ASGI callable with
last-modified, etag (md5 of mtime-size), cache-control and content-length. Unlike the original
(which tried .png only) it looks the uid up like every other peer, so /thumb finds thumb.jpg.
"""
import os
from email.utils import formatdate
from hashlib import md5

from starlette.applications import Starlette
from starlette.routing import Route

import common

CONTENT_TYPES = {".png": b"image/png", ".jpg": b"image/jpeg", ".jpeg": b"image/jpeg", ".gif": b"image/gif"}


def file_headers(path, st):
    return [
        (b"last-modified", formatdate(st.st_mtime, usegmt=True).encode("latin-1")),
        (b"etag", md5(f"{st.st_mtime}-{st.st_size}".encode()).hexdigest().encode("latin-1")),
        (b"cache-control", common.CACHE_CONTROL.encode("latin-1")),
        (b"content-type", CONTENT_TYPES.get(os.path.splitext(path)[1], b"application/octet-stream")),
        (b"content-length", str(st.st_size).encode("latin-1")),
    ]


def file_response(headers, body):
    async def respond(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    return respond


async def avatar(request):
    path = common.avatar_path(request.path_params["uid"])
    with open(path, "rb") as f:
        body = f.read()
        headers = file_headers(path, os.fstat(f.fileno()))
    return file_response(headers, body)


app = Starlette(routes=[Route("/{uid}", endpoint=avatar)])

if __name__ == "__main__":
    import uvicorn

    args = common.cli_args("Starlette avatar peer (uvicorn, one worker)")
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")
