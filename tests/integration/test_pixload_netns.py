"""Two generators on two "machines" at once, merged: network namespaces on one host.

As root, the test makes a server namespace and two client namespaces, each client joined to the
server by a veth pair of its own (10.213.1.0/24 and 10.213.2.0/24), runs pixd in the server's and
one pixload with a fixed -n in each client's, started together with --start-at, then
`pixload merge`s their --json-out files. Checked: the merged request count is the sum of the two
-n and what pixd's /status counted once settled; the merged histogram is, bucket by bucket, that
of the two --latency-log files concatenated, and its percentiles are theirs within the
histogram's error (0.79 %); the per-second series adds up to the total; a threshold is judged on
the merge. Skipped, saying why, where network namespaces cannot be made (not root, no `ip`, a
container without CAP_SYS_ADMIN). The namespaces (and with them the veth pairs) and pixd are
always removed, also when a check fails.
"""
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from pixd_env import PIXD_BIN, make_image

PIXLOAD_BIN = os.environ.get(
    "PIXLOAD_BIN", os.path.join(os.environ.get("PIXD_BUILD", "../../build"), "pixload"))
IP = shutil.which("ip") or "/usr/sbin/ip"
PORT = 8080
REQUESTS = (6000, 4500)  # -n of client 1 and client 2


def bucket_low(v):
    """The lowest value of v's histogram bucket (hist.h: exact below 128, 64 per octave)."""
    if v < 128:
        return v
    shift = v.bit_length() - 7
    return (v >> shift) << shift


def nearest_rank(sorted_values, p):
    n = len(sorted_values)
    return sorted_values[min(max(math.ceil(p * n / 100.0) - 1, 0), n - 1)]


def run(*cmd, check=True, timeout=30):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


class NetnsMergeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(PIXLOAD_BIN, os.X_OK):
            raise AssertionError(f"{PIXLOAD_BIN} not built")
        if os.geteuid() != 0:
            raise unittest.SkipTest("network namespaces need root (ip netns): not running as root")
        if not os.access(IP, os.X_OK):
            raise unittest.SkipTest("no `ip` command (iproute2) to make network namespaces")
        tag = f"pxl{os.getpid() % 100000}"
        cls.srv_ns = tag + "s"
        cls.client_ns = [tag + "c1", tag + "c2"]
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixload-netns-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.made = []
        cls.addClassCleanup(cls.remove_namespaces)
        probe = run(IP, "netns", "add", cls.srv_ns, check=False)
        if probe.returncode != 0:
            raise unittest.SkipTest(f"network namespaces are not permitted here: ip netns add: {probe.stderr.strip()}")
        cls.made.append(cls.srv_ns)
        run(IP, "-n", cls.srv_ns, "link", "set", "lo", "up")
        for i, ns in enumerate(cls.client_ns, 1):
            run(IP, "netns", "add", ns)
            cls.made.append(ns)
            s_if, c_if = f"{tag}s{i}", f"{tag}c{i}"
            run(IP, "link", "add", s_if, "type", "veth", "peer", "name", c_if)
            run(IP, "link", "set", s_if, "netns", cls.srv_ns)
            run(IP, "link", "set", c_if, "netns", ns)
            run(IP, "-n", cls.srv_ns, "addr", "add", f"10.213.{i}.1/24", "dev", s_if)
            run(IP, "-n", cls.srv_ns, "link", "set", s_if, "up")
            run(IP, "-n", ns, "addr", "add", f"10.213.{i}.2/24", "dev", c_if)
            run(IP, "-n", ns, "link", "set", c_if, "up")
            run(IP, "-n", ns, "link", "set", "lo", "up")
        avatars = os.path.join(cls.tmp.name, "avatars")
        os.makedirs(avatars)
        with open(os.path.join(avatars, "-1.png"), "wb") as f:
            f.write(make_image("PNG", color=(0, 0, 255)))
        with open(os.path.join(avatars, "42.jpg"), "wb") as f:
            f.write(make_image("JPEG", color=(10, 200, 30)))
        cls.pixd_log = open(os.path.join(cls.tmp.name, "pixd.log"), "w+")
        cls.addClassCleanup(cls.pixd_log.close)
        # `ip netns exec` execs pixd itself: the process we hold is pixd
        cls.pixd = subprocess.Popen([IP, "netns", "exec", cls.srv_ns, PIXD_BIN, "--listen", f"0.0.0.0:{PORT}",
                                     "--avatars", avatars, "--threads", "2"],
                                    stdout=cls.pixd_log, stderr=subprocess.STDOUT)
        cls.addClassCleanup(cls.stop_pixd)
        deadline = time.time() + 10
        while True:
            try:
                cls.status(1)
                break
            except (RuntimeError, ValueError):
                if time.time() > deadline or cls.pixd.poll() is not None:
                    cls.pixd_log.seek(0)
                    raise RuntimeError("pixd did not start in its namespace: " + cls.pixd_log.read())
                time.sleep(0.1)

    @classmethod
    def stop_pixd(cls):
        if cls.pixd.poll() is None:
            cls.pixd.terminate()
            try:
                cls.pixd.wait(15)
            except subprocess.TimeoutExpired:
                cls.pixd.kill()
                cls.pixd.wait()

    @classmethod
    def remove_namespaces(cls):
        # removing a namespace removes the veth ends in it, and so both ends of each pair
        for ns in reversed(cls.made):
            run(IP, "netns", "del", ns, check=False)
        left = run(IP, "netns", "list", check=False).stdout
        assert not any(ns in left for ns in cls.made), "namespaces left behind: " + left

    @classmethod
    def status(cls, client):
        """pixd's /status, asked from client namespace `client` over its veth pair."""
        out = run(IP, "netns", "exec", cls.client_ns[client - 1], "curl", "-sf", "--max-time", "5",
                  f"http://10.213.{client}.1:{PORT}/status").stdout
        return json.loads(out)

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_two_generators_merged(self):
        # what asking /status adds to its own count, measured rather than assumed
        s0 = self.status(1)["requests"]
        s1 = self.status(1)["requests"]
        own = s1 - s0
        at = int(time.time()) + 3
        procs = []
        for i, n in enumerate(REQUESTS, 1):
            cmd = [IP, "netns", "exec", self.client_ns[i - 1], PIXLOAD_BIN, "-q", "-c", "4", "--threads", "2",
                   "-n", str(n), "--start-at", str(at), "--json-out", self.path(f"gen{i}.json"),
                   "--latency-log", self.path(f"gen{i}.tsv"), f"http://10.213.{i}.1:{PORT}/42"]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        try:
            for p in procs:
                out, err = p.communicate(timeout=120)
                self.assertEqual(p.returncode, 0, out + err)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        docs = []
        for i in (1, 2):
            with open(self.path(f"gen{i}.json")) as f:
                docs.append(json.load(f))
        for doc, n in zip(docs, REQUESTS):
            self.assertEqual(doc["total"]["requests"], n)
            self.assertEqual(doc["total"]["failures"], 0)
            self.assertGreaterEqual(doc["start_time"], at)
        # pixd counted both generators' requests once settled (its counters follow the answers)
        want = sum(REQUESTS)
        deadline = time.time() + 10
        while True:
            seen = self.status(1)["requests"] - s1 - own
            if seen == want or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(seen, want, "pixd's /status request count")

        merged = self.path("merged.json")
        p = run(PIXLOAD_BIN, "merge", self.path("gen1.json"), self.path("gen2.json"), "--json-out", merged,
                "--threshold", f"requests=={want}", "--threshold", "fail_ratio==0", check=False, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("Thresholds: 2 of 2 passed", p.stdout)
        with open(merged) as f:
            m = json.load(f)
        self.assertEqual(m["total"]["requests"], want)
        self.assertEqual(m["connections"], 8)
        self.assertEqual(sorted(s["file"] for s in m["merged_from"]),
                         [self.path("gen1.json"), self.path("gen2.json")])
        self.assertEqual(sum(pt["requests"] for pt in m["series"]), want)

        # the merged histogram is the two logs' samples, bucket by bucket
        lat = []
        for i in (1, 2):
            with open(self.path(f"gen{i}.tsv")) as f:
                f.readline()
                rows = [line.rstrip("\n").split("\t") for line in f]
            self.assertEqual(len(rows), REQUESTS[i - 1])
            lat += [int(r[1]) for r in rows]
        lat.sort()
        counts = {}
        for v in lat:
            counts[bucket_low(v)] = counts.get(bucket_low(v), 0) + 1
        total_lat = m["total"]["latency_us"]
        self.assertEqual([tuple(b) for b in total_lat["histogram"]], sorted(counts.items()))
        self.assertEqual((total_lat["min"], total_lat["max"], total_lat["sum"]), (lat[0], lat[-1], sum(lat)))
        for pct in ("50", "90", "95", "99", "99.9"):
            exact = nearest_rank(lat, float(pct))
            got = total_lat["percentiles"][pct]
            self.assertLessEqual(abs(got - exact), exact / 128 + 1, f"p{pct}: merged {got}, logs {exact}")

        # judged on the merge: one generator's count alone is not the total
        p = run(PIXLOAD_BIN, "merge", "-q", self.path("gen1.json"), self.path("gen2.json"), "--threshold",
                f"requests=={REQUESTS[0]}", check=False)
        self.assertEqual(p.returncode, 99, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
