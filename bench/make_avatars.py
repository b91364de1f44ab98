#!/usr/bin/python3
"""Generates the avatar folder every contender serves.

  make_avatars.py DIR [--image FILE]

DIR/-1.png     the default avatar: a 400x400 photo-like JPEG of ~37 KB stored under a .png name,
               as the original experiment did (FILE's bytes when --image is given)
DIR/thumb.jpg  a 40x40 JPEG thumbnail of ~1.5 KB
DIR/1000.jpg, 1001.png, 1002.gif, 1003.jpeg, 1004.webp   users, one per format
DIR/3.jpeg     a 299x168 JPEG, the body the /magic benchmarks upload

The pictures are deterministic (fixed seed), so two runs produce the same bytes.
"""
import argparse
import io
import os
import random

from PIL import Image, ImageDraw, ImageFilter


def photo_like(w, h, seed):
    """Smooth light, a few soft shapes and sensor-like noise: JPEG compresses it like a photo."""
    rnd = random.Random(seed)
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (int(90 + 120 * x / w), int(60 + 100 * y / h), int(170 - 80 * (x + y) / (w + h)))
    draw = ImageDraw.Draw(img)
    for _ in range(14):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        r = rnd.randrange(w // 12, w // 3)
        color = tuple(rnd.randrange(256) for _ in range(3))
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=color)
    img = img.filter(ImageFilter.GaussianBlur(w / 60))
    noise = Image.frombytes("L", (w, h), rnd.randbytes(w * h)).convert("RGB")
    return Image.blend(img, noise, 0.12)


def jpeg_near(img, target):
    """The JPEG encoding of img whose size is closest to target bytes (quality searched)."""
    best = None
    for q in range(30, 97):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=q)
        data = buf.getvalue()
        if best is None or abs(len(data) - target) < abs(len(best) - target):
            best = data
    return best


def encoded(img, fmt):
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--image", help="JPEG to use as the 400x400 default avatar")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    if args.image:
        with open(args.image, "rb") as f:
            big = f.read()
        photo = Image.open(io.BytesIO(big)).convert("RGB")
    else:
        photo = photo_like(400, 400, seed=1)
        big = jpeg_near(photo, 37 * 1024)
    files = {
        "-1.png": big,
        "thumb.jpg": jpeg_near(photo.resize((40, 40), Image.LANCZOS), 1536),
        "1000.jpg": encoded(photo_like(200, 200, seed=2), "JPEG"),
        "1001.png": encoded(photo_like(64, 64, seed=3), "PNG"),
        "1002.gif": encoded(photo_like(64, 64, seed=4).convert("P"), "GIF"),
        "1003.jpeg": encoded(photo_like(96, 96, seed=5), "JPEG"),
        "1004.webp": encoded(photo_like(96, 96, seed=6), "WEBP"),
        "3.jpeg": encoded(photo_like(299, 168, seed=7), "JPEG"),
    }
    for name, data in files.items():
        tmp = os.path.join(args.dir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(args.dir, name))
    # Readable by nginx's unprivileged workers whatever the caller's umask.
    os.chmod(args.dir, 0o755)
    for name in files:
        os.chmod(os.path.join(args.dir, name), 0o644)


if __name__ == "__main__":
    main()
