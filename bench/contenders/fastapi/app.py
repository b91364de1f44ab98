#!/usr/bin/python3
"""FastAPI peer: the avatar route and the three /magic endpoints, written as the originals were.

  PYTHONPATH=bench/peers AVATAR_DIR=DIR uvicorn --app-dir bench/contenders/fastapi --port P [--workers 2] --no-access-log app:app
  PYTHONPATH=bench/peers /usr/bin/python3 app.py --port P --avatars DIR        (one uvicorn worker)

As in the original, /magic/base64 and /magic/multipart are `async def` (Pillow runs on the event
loop) and /magic/imageurl is a plain `def` using urllib, which FastAPI runs in its thread pool.
"""
import base64
from urllib.request import urlopen

from fastapi import FastAPI, File, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

import common

app = FastAPI()


class Base64Body(BaseModel):
    filename: str = ""
    image: str


class ImageUrlBody(BaseModel):
    image_url: str


@app.get("/{uid}")
async def avatar(uid: str):
    return FileResponse(common.avatar_path(uid), headers={"Cache-Control": common.CACHE_CONTROL})


@app.post("/magic/base64")
async def magic_base64(body: Base64Body):
    encoded = base64.b64encode(common.bw_jpeg(base64.b64decode(body.image))).decode("ascii")
    return {"filename": body.filename, "encoded_img": encoded}


@app.post("/magic/multipart")
async def magic_multipart(image: UploadFile = File(...)):
    out = common.bw_jpeg(await image.read())
    return Response(out, media_type="image/jpeg",
                    headers={"Content-Disposition": f"attachment; filename={image.filename}"})


@app.post("/magic/imageurl")
def magic_imageurl(body: ImageUrlBody):
    with urlopen(body.image_url, timeout=10) as resp:
        data = resp.read()
    return {"filename": "bw.jpeg", "encoded_img": base64.b64encode(common.bw_jpeg(data)).decode("ascii")}


if __name__ == "__main__":
    import uvicorn

    args = common.cli_args("FastAPI avatar and /magic peer (uvicorn, one worker)")
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")
