#!/usr/bin/python3
"""aiohttp peer: the avatar route and the three /magic endpoints, written as the originals were.

Standalone:  PYTHONPATH=bench/peers /usr/bin/python3 app.py --port P --avatars DIR
gunicorn:    PYTHONPATH=bench/peers AVATAR_DIR=DIR gunicorn -k aiohttp.GunicornWebWorker -w 2 \
                 -b 127.0.0.1:P --chdir bench/contenders/aiohttp app:app

One difference from the original: /magic/imageurl downloads through one ClientSession per
process (aiohttp's documented practice) instead of opening a session per request.
"""
import base64
import json

import aiohttp
from aiohttp import web

import common


async def avatar(request):
    return web.FileResponse(common.avatar_path(request.match_info["uid"]),
                            headers={"Cache-Control": common.CACHE_CONTROL})


def json_body(raw, key):
    """The decoded JSON object of raw if it holds a string under key, else None."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) and isinstance(body.get(key), str) else None


async def magic_base64(request):
    body = json_body(await request.read(), "image")
    if body is None:
        return web.json_response({"error": "image required"}, status=400)
    encoded = base64.b64encode(common.bw_jpeg(base64.b64decode(body["image"]))).decode("ascii")
    return web.json_response({"filename": body.get("filename"), "encoded_img": encoded})


async def magic_multipart(request):
    form = await request.post()
    image = form.get("image")
    if not isinstance(image, web.FileField):
        return web.json_response({"error": "image required"}, status=400)
    out = common.bw_jpeg(image.file.read())
    return web.Response(body=out, content_type="image/jpeg",
                        headers={"Content-Disposition": f"attachment; filename={image.filename}"})


async def magic_imageurl(request):
    body = json_body(await request.read(), "image_url")
    if body is None:
        return web.json_response({"error": "image_url required"}, status=400)
    async with request.app["client"].get(body["image_url"]) as resp:
        data = await resp.read()
    encoded = base64.b64encode(common.bw_jpeg(data)).decode("ascii")
    return web.json_response({"filename": "bw.jpeg", "encoded_img": encoded})


async def client_session(app):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        app["client"] = session
        yield


app = web.Application(client_max_size=16 * 1024 * 1024)
app.cleanup_ctx.append(client_session)
app.router.add_get("/{uid}", avatar)
app.router.add_post("/magic/base64", magic_base64)
app.router.add_post("/magic/multipart", magic_multipart)
app.router.add_post("/magic/imageurl", magic_imageurl)

if __name__ == "__main__":
    args = common.cli_args("aiohttp avatar and /magic peer (standalone)")
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)
