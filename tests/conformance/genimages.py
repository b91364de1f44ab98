#!/usr/bin/python3
"""Generates photo-like test images for pixd's image pipeline, with Pillow only.

    genimages.py OUTDIR            the conformance set (JPEG, PNG, GIF, WebP; 1x1 .. 2000x1500)
    genimages.py OUTDIR --bench    the two benchmark JPEGs (299x168, 1920x1080)
    genimages.py OUTDIR --seeds    tiny files of every kind, for the fuzz seed corpus

"Photo-like": colour gradients, soft blobs and film-grain noise, so JPEG sees real
texture and the dither real error. Everything is deterministic (seeded). Variants Pillow
cannot write (interlaced, 16-bit, 2-bit and short-palette PNG; GIF frames offset from or
larger than the screen) are written by the small encoders below.
"""
import io
import random
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, PngImagePlugin


def noise(w, h, seed, amp=48):
    """Grain: a seeded noise tile repeated over w x h (values 0..amp)."""
    rng = random.Random(seed)
    tw, th = min(w, 97), min(h, 89)  # odd sizes so the repeat does not line up
    tile = Image.frombytes("L", (tw, th), bytes(rng.randrange(amp + 1) for _ in range(tw * th)))
    out = Image.new("L", (w, h))
    for y in range(0, h, th):
        for x in range(0, w, tw):
            out.paste(tile, (x, y))
    return out


def photo(w, h, seed=1):
    """An RGB picture with gradients, blurred blobs and grain."""
    rng = random.Random(seed)
    r = Image.linear_gradient("L").rotate(90).resize((w, h))
    g = Image.linear_gradient("L").resize((w, h))
    b = Image.radial_gradient("L").resize((w, h))
    im = Image.merge("RGB", (r, g, b))
    layer = Image.new("RGB", (w, h), (128, 128, 128))
    draw = ImageDraw.Draw(layer)
    for _ in range(12):
        cx, cy = rng.randrange(w), rng.randrange(h)
        rad = rng.randrange(1, max(2, min(w, h) // 3))
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=colour)
    layer = layer.filter(ImageFilter.GaussianBlur(max(1, min(w, h) // 40)))
    im = Image.blend(im, layer, 0.5)
    grain = noise(w, h, seed)
    return ImageChops.add(im, Image.merge("RGB", (grain, grain, grain)), 1.0, -24)


# ---- hand-written encoders for what Pillow does not write ----

ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _pack(samples, depth):
    """Packs a row of integer samples at 1/2/4/8/16 bits (big-endian, MSB first)."""
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out, acc, nbits = bytearray(), 0, 0
    for s in samples:
        acc, nbits = (acc << depth) | s, nbits + depth
        if nbits == 8:
            out.append(acc)
            acc, nbits = 0, 0
    if nbits:
        out.append(acc << (8 - nbits))
    return bytes(out)


def write_png(path, w, h, pixel, colour_type, depth, plte=None, interlace=False):
    """pixel(x, y) -> tuple of samples. Filter 0 everywhere: we test decoding, not size."""
    raw = bytearray()
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    for x0, y0, dx, dy in passes:
        xs = range(x0, w, dx)
        if not xs:
            continue
        for y in range(y0, h, dy):
            raw += b"\0" + _pack([s for x in xs for s in pixel(x, y)], depth)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, int(interlace)))
    if plte:
        data += _chunk(b"PLTE", bytes(plte))
    data += _chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + _chunk(b"IEND", b"")
    Path(path).write_bytes(data)


def _gif_blocks(data):
    """Offsets of the logical screen and of the first image descriptor of a GIF."""
    pos = 13
    if data[10] & 0x80:
        pos += 3 << ((data[10] & 7) + 1)
    while data[pos] == 0x21:  # extension: label, then sub-blocks
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    assert data[pos] == 0x2C
    return pos


def png_insert(data, chunks, after_idat=False):
    """Inserts (type, body) chunks into a PNG just before its first IDAT, or just after
    its last one."""
    pos, idats = 8, []
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == b"IDAT":
            idats.append((pos, pos + 12 + length))
        pos += 12 + length
    at = idats[-1][1] if after_idat else idats[0][0]
    return data[:at] + b"".join(_chunk(kind, body) for kind, body in chunks) + data[at:]


def png_comment_cases(base):
    """Text chunks around a PNG (`base`, bytes) as Pillow reads them into info["comment"]
    (which its JPEG writer copies): name -> file. Some of these Pillow refuses."""
    def itxt(key, text, flag=0, method=0, lang=b"en", tkey=b""):
        value = zlib.compress(text) if flag else text
        return b"iTXt", key + b"\0" + bytes([flag, method]) + lang + b"\0" + tkey + b"\0" + value

    def ztxt(key, text, method=0):
        return b"zTXt", key + b"\0" + bytes([method]) + zlib.compress(text)

    def text(key, value):
        return b"tEXt", key + b"\0" + value

    broken = _chunk(b"tEXt", b"comment\0broken")
    broken = broken[:-1] + bytes([broken[-1] ^ 1])  # bad CRC
    pre = base.index(b"IDAT") - 4
    return {
        "latin1": png_insert(base, [text(b"comment", b"caf\xe9 \x00 nul")]),
        "other_keys": png_insert(base, [text(b"Comment", b"no"), text(b"comments", b"no"), text(b"Title", b"t")]),
        "no_nul": png_insert(base, [text(b"comment", b"x"), (b"tEXt", b"comment")]),  # key only: ""
        "last_wins": png_insert(png_insert(base, [text(b"comment", b"one"), ztxt(b"comment", b"two")]),
                                [itxt(b"comment", "dr\u00ee".encode())], after_idat=True),
        "empty_replaces": png_insert(png_insert(base, [text(b"comment", b"one")]), [text(b"comment", b"")], True),
        "ztxt_cut": png_insert(base, [(b"zTXt", ztxt(b"comment", b"hello world")[1][:-5])]),
        "ztxt_bad_zlib": png_insert(base, [text(b"comment", b"kept?"), (b"zTXt", b"comment\0\0\x78\x9c\xff\xff")]),
        "ztxt_method": png_insert(base, [ztxt(b"other", b"x", method=1)]),
        "ztxt_huge": png_insert(base, [ztxt(b"comment", b"a" * (1 << 20 | 1))]),
        "itxt_zip": png_insert(base, [itxt(b"comment", "z\u00fcp".encode(), flag=1, tkey="K\u00fc".encode())]),
        "itxt_bad_utf8": png_insert(base, [text(b"comment", b"kept"), itxt(b"comment", b"\xc0\xaf")]),
        "itxt_bad_lang": png_insert(base, [text(b"comment", b"kept"), itxt(b"comment", b"ok", lang=b"\xff")]),
        "itxt_bad_method": png_insert(base, [text(b"comment", b"kept"), itxt(b"comment", b"ok", flag=1, method=1)]),
        "after_iend": base + _chunk(b"tEXt", b"comment\0late"),
        "bad_crc_before": base[:pre] + broken + base[pre:],
        "bad_crc_after": base[:-12] + broken + base[-12:],  # base ends IDAT, IEND
    }


def gif_reframe(data, screen, offset):
    """Rewrites a one-frame GIF's screen size and frame position."""
    data = bytearray(data)
    data[6:10] = struct.pack("<HH", *screen)
    d = _gif_blocks(data)
    data[d + 1:d + 5] = struct.pack("<HH", *offset)
    return bytes(data)


def gif_local_palette(data, table=None):
    """Moves a one-frame GIF's global colour table into the frame (or gives the frame
    `table` and keeps the global one)."""
    data = bytearray(data)
    d = _gif_blocks(data)
    size = 3 << ((data[10] & 7) + 1)
    gct = bytes(data[13:13 + size])
    local = gct if table is None else bytes(table)
    assert len(local) == size
    flags = data[d + 9] | 0x80 | (data[10] & 7)
    out = data[:d + 9] + bytes([flags]) + local + data[d + 10:]
    if table is None:  # drop the global table
        out = out[:10] + bytes([out[10] & 0x7F]) + out[11:13] + out[13 + size:]
    return bytes(out)


# ---- the sets ----

def save(im, path, **kw):
    im.save(path, **kw)


def conformance_set(out):
    out.mkdir(parents=True, exist_ok=True)
    p = photo(299, 168)
    # JPEG: baseline 4:2:0 (Pillow's default), 4:4:4, 4:2:2, progressive, gray, CMYK, odd sizes
    save(p, out / "photo_299x168.jpg", quality=90)
    save(p, out / "photo_299x168_444.jpg", quality=90, subsampling=0)
    save(photo(640, 480, 2), out / "photo_640x480_prog.jpg", progressive=True)
    save(photo(640, 480, 3), out / "photo_640x480_422_optimized.jpg", subsampling=1, optimize=True)
    save(photo(2000, 1500, 4), out / "photo_2000x1500.jpg", quality=85)
    save(photo(333, 77, 5).convert("L"), out / "gray_333x77.jpg")
    save(photo(120, 90, 6).convert("CMYK"), out / "cmyk_120x90.jpg")
    save(photo(1, 1, 7), out / "tiny_1x1.jpg")
    save(photo(17, 13, 8), out / "odd_17x13.jpg", quality=30)
    save(photo(1, 300, 9), out / "column_1x300.jpg")
    save(photo(300, 1, 10), out / "row_300x1.jpg", quality=100)
    save(photo(64, 48, 11), out / "comment_64x48.jpg", comment=b"made by genimages")
    save(photo(200, 120, 12), out / "prog_444_200x120.jpg", progressive=True, subsampling=0)
    # PNG: every mode Pillow writes, plus hand-made ones
    q = photo(200, 150, 13)
    save(q, out / "rgb_200x150.png")
    rgba = q.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(q.size))
    save(rgba, out / "rgba_200x150.png")
    save(q.convert("L"), out / "gray_200x150.png")
    save(rgba.convert("LA"), out / "la_200x150.png")
    save(q.quantize(256), out / "palette_200x150.png")
    save(q.quantize(16), out / "palette16_200x150.png", bits=4)
    save(q.convert("1"), out / "bilevel_200x150.png")
    save(q.convert("L").convert("I"), out / "gray16_pillow_200x150.png")  # I -> 16-bit gray
    save(photo(1, 1, 14), out / "tiny_1x1.png")
    save(photo(1000, 700, 15), out / "rgb_1000x700.png")
    s = photo(61, 37, 16)
    px = s.load()
    g = s.convert("L").load()
    write_png(out / "interlaced_rgb_61x37.png", 61, 37, lambda x, y: px[x, y], 2, 8, interlace=True)
    write_png(out / "interlaced_gray2_61x37.png", 61, 37, lambda x, y: (g[x, y] >> 6,), 0, 2, interlace=True)
    write_png(out / "gray4_61x37.png", 61, 37, lambda x, y: (g[x, y] >> 4,), 0, 4)
    write_png(out / "rgb16_61x37.png", 61, 37, lambda x, y: tuple(c * 257 ^ (x * 7 + y) & 0xFF for c in px[x, y]), 2, 16)
    write_png(out / "rgba16_61x37.png", 61, 37, lambda x, y: tuple(c * 257 for c in px[x, y]) + (x * 1000,), 6, 16)
    write_png(out / "la16_61x37.png", 61, 37, lambda x, y: (g[x, y] * 257, y * 1000), 4, 16)
    write_png(out / "gray16_61x37.png", 61, 37, lambda x, y: ((g[x, y] * 3) ** 2 % 65536,), 0, 16, interlace=True)
    write_png(out / "short_plte_61x37.png", 61, 37, lambda x, y: ((x + y) % 16,), 3, 4,
              plte=[0, 0, 0, 255, 255, 255, 90, 200, 30])  # indices 3..15 past the PLTE
    # PNG text chunks named "comment" (ImageMagick writes them) become the JPEG's COM, as in Pillow
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "made by genimages \u00e9")  # tEXt, Latin-1
    save(q, out / "comment_text_200x150.png", pnginfo=info)
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "zipped " * 20, zip=True)  # zTXt
    save(q.quantize(64), out / "comment_ztxt_200x150.png", pnginfo=info)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("comment", "UTF-8 \u2713 \u6f22\u5b57", lang="en", tkey="Kommentar")  # iTXt
    save(q.convert("L"), out / "comment_itxt_200x150.png", pnginfo=info)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "not Pillow's key")
    save(q, out / "comment_key_case_200x150.png", pnginfo=info)
    plain = io.BytesIO()
    q.save(plain, format="PNG")
    (out / "comment_after_idat_200x150.png").write_bytes(
        png_insert(plain.getvalue(), [(b"tEXt", b"comment\0written after the pixels")], after_idat=True))
    # GIF: global palette, gray (opens as "L"), transparency, comment, animation, frame tricks
    save(q.quantize(256), out / "palette_200x150.gif")
    save(q.convert("L"), out / "gray_200x150.gif")
    save(q.quantize(64), out / "transparent_200x150.gif", transparency=5, comment=b"gif note")
    frames = [photo(80, 60, 17).quantize(32), photo(80, 60, 18).quantize(32)]
    frames[0].save(out / "animated_80x60.gif", save_all=True, append_images=frames[1:], duration=100)
    small = io.BytesIO()
    photo(40, 30, 19).quantize(16).save(small, format="GIF", transparency=3)
    (out / "offset_frame_70x50.gif").write_bytes(gif_reframe(small.getvalue(), (70, 50), (20, 11)))
    (out / "frame_past_screen.gif").write_bytes(gif_reframe(small.getvalue(), (30, 20), (5, 4)))
    pal = io.BytesIO()
    q.quantize(256).save(pal, format="GIF", interlace=False)
    (out / "local_palette_200x150.gif").write_bytes(gif_local_palette(pal.getvalue()))
    ramp = bytes(v for i in range(256) for v in (i, i, i))  # local gray ramp: Pillow opens it as "L"
    (out / "local_ramp_200x150.gif").write_bytes(gif_local_palette(pal.getvalue(), ramp))
    save(photo(1, 1, 20).quantize(2), out / "tiny_1x1.gif")
    # WebP: lossy, lossless, with and without alpha
    save(q, out / "lossy_200x150.webp", quality=80)
    save(q, out / "lossless_200x150.webp", lossless=True)
    save(rgba, out / "lossy_alpha_200x150.webp", quality=70)
    save(rgba, out / "lossless_alpha_200x150.webp", lossless=True)
    save(photo(1, 1, 21), out / "tiny_1x1.webp")
    return sorted(p for p in out.iterdir() if p.is_file())


def bench_set(out):
    """Saved with Pillow's defaults (quality 75, 4:2:0): the 299x168 one comes out about the
    size of the original experiment's photo (14 KB against 12.5 KB)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for w, h in ((299, 168), (1920, 1080)):
        path = out / f"photo_{w}x{h}.jpg"
        photo(w, h, 42).save(path)
        paths.append(path)
    return paths


def seed_set(out):
    """Tiny files of each kind: small enough to commit, varied enough to reach every path."""
    out.mkdir(parents=True, exist_ok=True)
    p = photo(8, 6, 30)
    save(p, out / "rgb.jpg", quality=50)
    save(p, out / "prog.jpg", progressive=True, quality=50)
    save(p.convert("L"), out / "gray.jpg", quality=50)
    save(p.convert("CMYK"), out / "cmyk.jpg", quality=50)
    save(p, out / "comment.jpg", quality=50, comment=b"c")
    save(p, out / "rgb.png")
    save(p.quantize(4), out / "palette.png", bits=2)
    save(p.convert("1"), out / "bilevel.png")
    plain = io.BytesIO()
    p.save(plain, format="PNG")
    with_text = png_insert(plain.getvalue(), [(b"tEXt", b"comment\0c"),
                                              (b"iTXt", b"comment\0\1\0en\0\0" + zlib.compress(b"i"))])
    (out / "comment.png").write_bytes(png_insert(with_text, [(b"zTXt", b"comment\0\0" + zlib.compress(b"z"))], True))
    g = p.convert("L").load()
    write_png(out / "interlaced16.png", 8, 6, lambda x, y: (g[x, y] * 257,), 0, 16, interlace=True)
    save(p.quantize(8), out / "palette.gif", transparency=1, comment=b"c")
    save(p.convert("L"), out / "gray.gif")
    save(p, out / "lossy.webp", quality=50)
    save(p, out / "lossless.webp", lossless=True)
    return sorted(out.iterdir())


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    out = Path(argv[1])
    kind = argv[2] if len(argv) > 2 else ""
    made = bench_set(out) if kind == "--bench" else seed_set(out) if kind == "--seeds" else conformance_set(out)
    for path in made:
        print(path)


if __name__ == "__main__":
    main(sys.argv)
