"""pixload's inputs against a real pixd: bodies from a folder (rotation, --per-file rows, the
memory bound) and answer checks (--check-body, --check-field).

Counts come from pixload's --json-out and from pixd's /status. The expected /magic answers are
Pillow's, computed here with test_magic's helpers. A wrong answer comes from a tiny
http.server in this process that answers every POST with fixed bytes.
"""
import base64
import csv
import hashlib
import http.server
import json
import os
import subprocess
import tempfile
import threading
import unittest

from pixd_env import PIXLOAD_BIN, Pixd, run_pixload
from test_magic import photo, pillow_bw


class FixedAnswer(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the server's `answer` bytes (after reading the body)."""
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = self.server.answer
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class PixloadInputsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(PIXLOAD_BIN, os.X_OK):
            raise AssertionError(f"{PIXLOAD_BIN} not built")
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixload-inputs-")
        # Three photos of different sizes (so different answers), plus what rotation skips.
        cls.pics = os.path.join(cls.tmp.name, "pics")
        cls.expected = os.path.join(cls.tmp.name, "expected")
        os.makedirs(os.path.join(cls.pics, "sub"))
        os.makedirs(cls.expected)
        cls.images = {}
        for i, name in enumerate(("a.jpg", "b.jpg", "c.jpg")):
            data = photo((48 + 16 * i, 40 + 8 * i), seed=i)
            cls.images[name] = data
            with open(os.path.join(cls.pics, name), "wb") as f:
                f.write(data)
            with open(os.path.join(cls.expected, name), "wb") as f:
                f.write(pillow_bw(data))
        for junk in (".hidden.jpg", os.path.join("sub", "d.jpg")):
            with open(os.path.join(cls.pics, junk), "wb") as f:
                f.write(b"not an image")
        cls.srv = Pixd()
        cls.fixed = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FixedAnswer)
        cls.fixed.answer = b""
        threading.Thread(target=cls.fixed.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.fixed.shutdown()
        cls.fixed.server_close()
        rc = cls.srv.stop()
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError(f"pixd exited with {rc}")

    def pixload(self, *args, expect_rc=0, json_out=True):
        """Runs pixload -q with args; returns (stdout, stderr, the --json-out document or None)."""
        p, doc = run_pixload(*args, json_path=os.path.join(self.tmp.name, "run.json") if json_out else None)
        self.assertEqual(p.returncode, expect_rc, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p.stdout, p.stderr, doc

    def fixed_url(self, path="/magic/base64"):
        return f"http://127.0.0.1:{self.fixed.server_address[1]}{path}"

    # ---- bodies from a folder -------------------------------------------------------------

    def test_folder_round_robin_per_file(self):
        before = self.srv.status()["requests"]
        _, _, doc = self.pixload("-c", "1", "--threads", "1", "-n", "30", "--base64-image", self.pics,
                                 "--per-file", self.srv.url("/magic/base64"))
        rows = {e["name"]: e for e in doc["by_name"]}
        self.assertEqual(set(rows), {f"/magic/base64 [{n}]" for n in self.images})
        for name, e in rows.items():
            self.assertEqual(e["requests"], 10, name)  # one connection in turn: exactly a third each
            self.assertEqual(e["status"], {"200": 10}, name)
        self.assertEqual(doc["folder_files"], 3)
        self.assertGreater(doc["request_memory_bytes"], sum(len(d) for d in self.images.values()))
        self.assertGreaterEqual(self.srv.status()["requests"] - before, 30)

    def test_folder_multipart_random(self):
        out, _, doc = self.pixload("-c", "2", "-n", "40", "--multipart", f"image=@{self.pics}/", "--pick",
                                   "random:3", self.srv.url("/magic/multipart"))
        self.assertEqual(doc["total"]["status"], {"200": 40})
        self.assertEqual(len(doc["by_name"]), 1)  # without --per-file, one row for the request

    def test_folder_banner(self):
        p = subprocess.run([PIXLOAD_BIN, "-n", "3", "--body", self.pics, self.srv.url("/magic/multipart")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("3 bodies from folders", p.stdout)
        self.assertIn("picked in turn", p.stdout)

    def test_folder_errors(self):
        _, err, _ = self.pixload("-n", "1", "--body", self.pics, "--max-body-memory", "1k",
                                 self.srv.url("/magic/multipart"), expect_rc=2)
        self.assertIn("--max-body-memory", err)
        empty = os.path.join(self.tmp.name, "empty")
        os.makedirs(empty, exist_ok=True)
        _, err, _ = self.pixload("-n", "1", "--body", empty, self.srv.url("/"), expect_rc=2)
        self.assertIn("a folder without files to send", err)

    # ---- answer checks --------------------------------------------------------------------

    def test_check_body_fixed_server(self):
        want = b'{"encoded_img": "right"}'
        path = os.path.join(self.tmp.name, "want.json")
        with open(path, "wb") as f:
            f.write(want)
        self.fixed.answer = b'{"encoded_img": "wrong"}'  # as long as the right one: caught by the digest
        out, _, doc = self.pixload("-c", "2", "-n", "20", "--json", "{}", "--check-body", path, self.fixed_url())
        t = doc["total"]
        self.assertEqual((t["requests"], t["failures"], t["errors"]["body"]), (20, 20, 20), t)
        self.assertEqual(t["status"], {"200": 20})
        self.fixed.answer = want
        _, _, doc = self.pixload("-c", "2", "-n", "20", "--json", "{}", "--check-body", path, self.fixed_url())
        self.assertEqual((doc["total"]["failures"], doc["total"]["errors"]["body"]), (0, 0), doc["total"])
        # The same by digest; the error kind is absent from runs without a check.
        digest = "sha256:" + hashlib.sha256(want).hexdigest()
        _, _, doc = self.pixload("-n", "5", "--json", "{}", "--check-body", digest, self.fixed_url())
        self.assertEqual(doc["total"]["failures"], 0)
        _, _, doc = self.pixload("-n", "5", "--json", "{}", self.fixed_url())
        self.assertNotIn("body", doc["total"]["errors"])

    def test_check_field_magic_folder(self):
        """Every /magic/base64 answer of a rotating folder checked against Pillow's output."""
        _, _, doc = self.pixload("-c", "3", "-n", "45", "--base64-image", self.pics, "--per-file",
                                 "--check-body", self.expected, "--check-field", "encoded_img",
                                 self.srv.url("/magic/base64"))
        self.assertEqual(doc["total"]["requests"], 45)
        self.assertEqual(doc["total"]["failures"], 0, doc["total"])
        self.assertEqual(doc["total"]["errors"]["body"], 0)
        # The same over HTTP/2, several streams per connection (each stream checked on its own).
        _, _, doc = self.pixload("--h2", "--max-streams", "4", "-c", "2", "-n", "45", "--base64-image", self.pics,
                                 "--check-body", self.expected, "--check-field", "encoded_img",
                                 self.srv.url("/magic/base64"))
        self.assertEqual((doc["total"]["requests"], doc["total"]["failures"]), (45, 0), doc["total"])
        # One expected file for every input: every answer but a's differs.
        a = os.path.join(self.expected, "a.jpg")
        _, _, doc = self.pixload("-c", "1", "--threads", "1", "-n", "30", "--base64-image", self.pics,
                                 "--per-file", "--check-body", a, "--check-field", "encoded_img",
                                 self.srv.url("/magic/base64"))
        rows = {e["name"]: e for e in doc["by_name"]}
        self.assertEqual(rows["/magic/base64 [a.jpg]"]["failures"], 0)
        self.assertEqual(rows["/magic/base64 [b.jpg]"]["errors"]["body"], 10)
        self.assertEqual(rows["/magic/base64 [c.jpg]"]["errors"]["body"], 10)
        # A formatted-differently server with the right image passes by its bytes.
        self.fixed.answer = json.dumps(
            {"encoded_img": base64.encodebytes(pillow_bw(self.images["b.jpg"])).decode(), "filename": "b"},
            indent=2).encode()
        _, _, doc = self.pixload("-n", "5", "--base64-image", os.path.join(self.pics, "b.jpg"), "--check-body",
                                 os.path.join(self.expected, "b.jpg"), "--check-field", "encoded_img",
                                 self.fixed_url())
        self.assertEqual(doc["total"]["failures"], 0, doc["total"])

    def test_check_errors(self):
        _, err, _ = self.pixload("-n", "1", "--base64-image", os.path.join(self.pics, "a.jpg"), "--check-body",
                                 self.expected, self.srv.url("/magic/base64"), expect_rc=2)
        self.assertIn("needs a body from a folder", err)
        partial = os.path.join(self.tmp.name, "partial")
        os.makedirs(partial, exist_ok=True)
        with open(os.path.join(partial, "a.jpg"), "wb") as f:
            f.write(b"x")
        _, err, _ = self.pixload("-n", "1", "--base64-image", self.pics, "--check-body", partial,
                                 self.srv.url("/magic/base64"), expect_rc=2)
        self.assertIn("no expected answer for input file b.jpg", err)
        _, err, _ = self.pixload("-n", "1", "--check-body", "sha256:12", self.srv.url("/"), expect_rc=2)
        self.assertIn("64 hex digits", err)
        _, err, _ = self.pixload("-n", "1", "--check-field", "x", self.srv.url("/"), expect_rc=2)
        self.assertIn("--check-field needs --check-body", err)

    # ---- rate and user plans --------------------------------------------------------------

    def history(self, prefix):
        with open(prefix + "_stats_history.csv", newline="") as f:
            return list(csv.DictReader(f))

    def test_rate_plan_history(self):
        prefix = os.path.join(self.tmp.name, "plan")
        _, _, doc = self.pixload("-c", "4", "-R", "20@2s,ramp:20-60@2s,60@2s", "--csv", prefix, self.srv.url("/42"))
        self.assertEqual(doc["rate_plan"], "20@2s,ramp:20-60@2s,60@2s")
        self.assertEqual(doc["total"]["failures"], 0)
        rows = self.history(prefix)
        self.assertEqual(list(rows[0])[-1], "Target Requests/s")  # one column more, the last
        targets = [float(r["Target Requests/s"]) for r in rows]
        # One row a second: the first stage, the ramp through 40, the last stage, in that order.
        self.assertGreaterEqual(len(targets), 5, targets)
        self.assertEqual(targets[:2], [20.0, 20.0])
        self.assertEqual(targets[2], 40.0)
        self.assertEqual(targets[3:5], [60.0, 60.0])
        self.assertEqual(targets, sorted(targets))
        # The plan's integral: 40 + 80 + 120 requests are due; the run ends with the plan.
        self.assertGreater(doc["total"]["requests"], 120)
        self.assertLessEqual(doc["total"]["requests"], 240)

    def test_users_plan_history(self):
        prefix = os.path.join(self.tmp.name, "users")
        _, _, doc = self.pixload("-u", "2@2s,6@2s,3@2s", "--csv", prefix, self.srv.url("/42"))
        self.assertEqual(doc["users_plan"], "2@2s,6@2s,3@2s")
        self.assertEqual(doc["connections"], 6)
        self.assertEqual(doc["total"]["failures"], 0)
        rows = self.history(prefix)
        targets = [float(r["Target User Count"]) for r in rows]
        users = [int(r["User Count"]) for r in rows]
        self.assertGreaterEqual(len(rows), 5, rows)
        self.assertEqual(targets[:5], [2.0, 6.0, 6.0, 3.0, 3.0])
        # A second into each stage, the users running are the stage's: up, then down.
        self.assertEqual((users[0], users[2], users[4]), (2, 6, 3), users)

    def test_plan_errors(self):
        _, err, _ = self.pixload("-R", "100@30s,ramp:100@1m", self.srv.url("/"), expect_rc=2, json_out=False)
        self.assertIn("-R: stage 2 'ramp:100@1m': expected ramp:FROM-TO@DURATION", err)
        _, err, _ = self.pixload("-u", "5@1s", "-r", "2", self.srv.url("/"), expect_rc=2, json_out=False)
        self.assertIn("cannot be combined with a users plan", err)


class FindMaxRateTest(unittest.TestCase):
    """--find-max-rate against a pixd whose capacity the test sets: one event-loop thread, one
    image worker, a known /magic/base64 picture. Checked: a finite rate is found, the steps
    above it broke the SLO, the table's shape. Never absolute numbers."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixload-maxrate-")
        cls.image = os.path.join(cls.tmp.name, "photo.jpg")
        with open(cls.image, "wb") as f:
            f.write(photo((400, 300)))
        cls.srv = Pixd("--threads", "1", "--image-workers", "1")

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError(f"pixd exited with {rc}")

    def test_find_max_rate(self):
        p, _ = run_pixload("--find-max-rate", "--slo", "p99<100ms", "--slo", "fail_ratio<0.01", "-c", "32",
                           "-t", "2s", "--max-steps", "8", "--base64-image", self.image,
                           self.srv.url("/magic/base64"), timeout=300)
        self.assertEqual(p.returncode, 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        lines = p.stdout.splitlines()
        self.assertIn("p99<100ms and fail_ratio<0.01", lines[0])
        head = lines.index(next(l for l in lines if l.split()[:2] == ["step", "offered/s"]))
        rows = []
        for line in lines[head + 1:]:
            cols = line.split()
            if not cols or not cols[0].isdigit():
                break
            self.assertEqual(len(cols), 8, line)  # step, offered, achieved, p50, p99, failed, late, SLO
            rows.append((int(cols[0]), float(cols[1]), cols[7]))
        self.assertEqual([r[0] for r in rows], list(range(1, len(rows) + 1)))
        self.assertLessEqual(len(rows), 8)
        self.assertEqual(rows[0][1], 50.0)  # the default start
        found = next(l for l in lines[head:] if l.startswith(("Highest rate under the SLO:", "pixload could not")))
        if found.startswith("pixload could not"):  # the generator was the limit: said so, with a rate
            found = next(l for l in lines if l.startswith("Highest rate under the SLO:"))
        best = float(found.split(":")[1].split()[0])
        self.assertGreater(best, 0)
        self.assertIn((best, "pass"), [(r[1], r[2]) for r in rows])
        for _, rate, verdict in rows:  # every step above the answer broke the SLO (or found pixload late)
            if rate > best:
                self.assertIn(verdict, ("FAIL", "late"), rows)
            if verdict == "pass":
                self.assertLessEqual(rate, best, rows)

    def test_arguments(self):
        for args, msg in ((["--find-max-rate"], "needs at least one --slo"),
                          (["--slo", "p99<1ms"], "--slo needs --find-max-rate"),
                          (["--find-max-rate", "--slo", "p99<1ms", "-n", "5"], "runs steps of its own"),
                          (["--find-max-rate", "--slo", "p99<1ms", "-t", "1s"], "at least 2s"),
                          (["--find-max-rate", "--slo", "p99 < fast"], "--slo 'p99 < fast'")):
            p, _ = run_pixload(*args, self.srv.url("/"))
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(msg, p.stderr)
