"""pixd raises its soft open-files limit to the hard one, and warns when --max-conns needs more."""
import resource
import subprocess
import tempfile
import unittest

from pixd_env import PIXD_BIN, free_port

SOFT = 1024  # Debian's default soft limit


class OpenFilesLimitTest(unittest.TestCase):
    def setUp(self):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.hard = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
        if self.hard <= SOFT:
            self.skipTest(f"hard open-files limit {hard} leaves nothing to raise")

    def start(self, *args):
        """pixd started under soft=1024, hard=self.hard; returns its /proc limit and its output."""
        d = tempfile.TemporaryDirectory(prefix="pixd-test-")
        self.addCleanup(d.cleanup)
        lim = (SOFT, self.hard)
        proc = subprocess.Popen(
            [PIXD_BIN, "--listen", f"127.0.0.1:{free_port()}", "--avatars", d.name, "--threads", "2", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, lim))
        out = []
        try:
            for line in proc.stdout:  # everything up to the "listening" line: the warnings come first
                out.append(line)
                if "listening on" in line:
                    break
            with open(f"/proc/{proc.pid}/limits") as f:
                row = next(r for r in f if r.startswith("Max open files"))
            soft = int(row.split()[3])
        finally:
            proc.terminate()
            proc.wait(10)
            proc.stdout.close()
        return soft, "".join(out)

    def test_soft_limit_raised_and_shortfall_reported(self):
        soft, out = self.start("--max-conns", "10000")
        self.assertEqual(soft, self.hard, out)
        self.assertIn("open files are limited to", out)
        self.assertIn("--max-conns 10000", out)

    def test_no_warning_when_enough(self):
        soft, out = self.start("--max-conns", "100", "--cache-mb", "1")
        self.assertEqual(soft, self.hard, out)
        self.assertNotIn("open files", out)


if __name__ == "__main__":
    unittest.main()
