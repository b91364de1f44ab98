"""Installing: `cmake --install` into a temporary prefix, then the installed files themselves.

Checked: exactly pixd, pixload, their two man pages and pixd.service are installed (no test or
benchmark tool); the man pages render without a groff warning; each page's OPTIONS section and
the program's --help name the same options (a new option without its entry, or an entry for
an option that is gone, fails here: that drift is the point), and every long option the pages
or the unit mention exists; the version on the pages is the programs'; the unit written for
the prefix passes `systemd-analyze verify` (which also checks that ExecStart's binary and the
man page of Documentation= exist) and keeps its exposure rating; the installed programs run,
and pixd survives SIGHUP, which the unit's ExecReload sends.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from pixd_env import free_port, make_image

BUILD = os.environ.get("PIXD_BUILD", "../../build")
SRC = os.environ.get("PIXD_SRC", "../..")
PIXD_BIN = os.environ.get("PIXD_BIN", os.path.join(BUILD, "pixd"))
PIXLOAD_BIN = os.environ.get("PIXLOAD_BIN", os.path.join(BUILD, "pixload"))
# systemd-analyze security --offline: the unit is rated 1.2 today; above this it has lost some
# of its hardening (the rating is 0 to 10, --threshold takes it times ten).
EXPOSURE_THRESHOLD = 20

OPTION_LINE = re.compile(r"^(?:(-[A-Za-z0-9])\s*,\s*)?(--[a-z0-9][a-z0-9-]*)")


def cache_value(name, default):
    """A variable from the build's CMakeCache.txt (how this build installs), or default."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            for line in f:
                m = re.match(re.escape(name) + r":[A-Z]+=(.*)$", line.rstrip("\n"))
                if m:  # GNUInstallDirs caches "" for the folders it derives (MANDIR)
                    return m.group(1) or default
    except OSError:
        pass
    return default


def help_options(binary):
    """{long option: its short option or None} from the option lines of `binary --help`: lines
    that start with blanks and then -x, --name or --name."""
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    opts = {}
    for line in out.stdout.splitlines():
        if not line.startswith(" "):
            continue
        m = OPTION_LINE.match(line.strip())
        if m:
            opts[m.group(2)] = m.group(1)
    return opts


def deroff(text):
    """Plain text of a roff line: no macro name, font changes, quotes or escapes."""
    text = re.sub(r"^\.[A-Za-z]+\s*", "", text)
    text = re.sub(r"\\f(?:\(..|\[[^]]*\]|.)", "", text)
    text = text.replace("\\-", "-").replace("\\(aq", "'").replace("\\(dq", '"')
    text = text.replace("\\c", "").replace("\\&", "").replace("\\e", "\\")
    return text.replace('"', "")


def page_sections(path):
    """{section name: [roff lines]}."""
    sections, name = {}, None
    with open(path) as f:
        for line in f.read().splitlines():
            if line.startswith(".SH "):
                name = line[4:].strip().strip('"')
                sections[name] = []
            elif name:
                sections[name].append(line)
    return sections


def page_options(path):
    """{long option: short or None} from the tags (the line after .TP) of the OPTIONS section,
    and the tags that name no option."""
    lines = page_sections(path).get("OPTIONS", [])
    opts, strays = {}, []
    for i, line in enumerate(lines[:-1]):
        if line.strip() == ".TP":
            tag = deroff(lines[i + 1]).strip()
            m = OPTION_LINE.match(tag)
            if m:
                opts[m.group(2)] = m.group(1)
            else:
                strays.append(tag)
    return opts, strays


def long_options_mentioned(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*", text))


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cmake = shutil.which("cmake")
        if not cls.cmake:
            raise unittest.SkipTest("cmake is not installed")
        if not os.path.exists(os.path.join(BUILD, "cmake_install.cmake")):
            raise unittest.SkipTest(f"PIXD_BUILD={BUILD} is not a configured build folder")
        dirs = {k: cache_value(k, d) for k, d in (("CMAKE_INSTALL_BINDIR", "bin"),
                                                   ("CMAKE_INSTALL_MANDIR", "share/man"),
                                                   ("PIXD_SYSTEMD_UNITDIR", "lib/systemd/system"))}
        if any(os.path.isabs(d) for d in dirs.values()):
            raise unittest.SkipTest(f"this build installs to absolute folders: {dirs}")
        cls.tmp = tempfile.TemporaryDirectory(prefix="pixd-install-")
        cls.prefix = os.path.join(cls.tmp.name, "prefix")
        cls.install = subprocess.run([cls.cmake, "--install", BUILD, "--prefix", cls.prefix],
                                     capture_output=True, text=True, timeout=300)
        cls.bindir = os.path.join(cls.prefix, dirs["CMAKE_INSTALL_BINDIR"])
        cls.man1 = os.path.join(cls.prefix, dirs["CMAKE_INSTALL_MANDIR"], "man1")
        cls.mandir = os.path.dirname(cls.man1)
        cls.unit = os.path.join(cls.prefix, dirs["PIXD_SYSTEMD_UNITDIR"], "pixd.service")
        cls.has_pixload = os.path.exists(PIXLOAD_BIN)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.install.returncode, 0, self.install.stdout + self.install.stderr)

    def programs(self):
        """(name, built binary, source page) of each installed program."""
        out = [("pixd", PIXD_BIN)]
        if self.has_pixload:
            out.append(("pixload", PIXLOAD_BIN))
        return [(name, binary, os.path.join(SRC, "docs", "man", name + ".1")) for name, binary in out]

    # (a) what is installed

    def test_installs_exactly_the_programs_pages_and_unit(self):
        found = set()
        for root, _, files in os.walk(self.prefix):
            found.update(os.path.relpath(os.path.join(root, f), self.prefix) for f in files)
        want = {self.unit}
        for name, _, _ in self.programs():
            want.add(os.path.join(self.bindir, name))
            want.add(os.path.join(self.man1, name + ".1"))
        self.assertEqual(found, {os.path.relpath(p, self.prefix) for p in want})
        for name, _, page in self.programs():
            self.assertTrue(os.access(os.path.join(self.bindir, name), os.X_OK))
            with open(page, "rb") as a, open(os.path.join(self.man1, name + ".1"), "rb") as b:
                self.assertEqual(a.read(), b.read(), name + ".1 is installed as it is in docs/man")

    # (b) the pages render

    def test_man_pages_render_without_warnings(self):
        man, groff = shutil.which("man"), shutil.which("groff")
        if not man and not groff:
            self.skipTest("neither man nor groff is installed")
        env = dict(os.environ, MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8", MANWIDTH="80")
        for name, _, _ in self.programs():
            page = os.path.join(self.man1, name + ".1")
            with self.subTest(page=name + ".1"):
                if man:
                    r = subprocess.run([man, "--warnings", "-l", page], capture_output=True, text=True,
                                       env=env, timeout=60)
                    self.assertEqual((r.returncode, r.stderr), (0, ""), "man --warnings -l " + page)
                    self.assertIn("SYNOPSIS", r.stdout)
                if groff:
                    r = subprocess.run([groff, "-man", "-ww", "-z", page], capture_output=True, text=True,
                                       env=env, timeout=60)
                    self.assertEqual((r.returncode, r.stderr), (0, ""), "groff -man -ww -z " + page)

    def test_man_pages_have_their_sections(self):
        common = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "EXIT STATUS", "FILES", "EXAMPLES",
                  "SEE ALSO"]
        extra = {"pixd": ["ENDPOINTS", "ERRORS"], "pixload": ["OUTPUT"]}
        for name, _, page in self.programs():
            with self.subTest(page=name + ".1"):
                have = list(page_sections(page))
                for section in common + extra[name]:
                    self.assertIn(section, have)

    # (c) the pages are true to --help

    def test_man_options_are_the_help_options(self):
        for name, binary, page in self.programs():
            with self.subTest(program=name):
                in_help = help_options(binary)
                in_page, strays = page_options(page)
                self.assertGreater(len(in_help), 5, f"{name} --help: no option lines found")
                self.assertEqual(strays, [], f"{name}.1 OPTIONS: entries that name no option")
                drift = {f"in `{name} --help`, not in docs/man/{name}.1 OPTIONS":
                         sorted(set(in_help) - set(in_page)),
                         f"in docs/man/{name}.1 OPTIONS, not in `{name} --help`":
                         sorted(set(in_page) - set(in_help))}
                self.assertEqual(drift, {k: [] for k in drift}, "the man page and --help differ")
                self.assertEqual({o: s for o, s in in_page.items() if o in in_help},
                                 {o: s for o, s in in_help.items() if o in in_page},
                                 "short options differ")

    def test_every_long_option_mentioned_exists(self):
        """Outside OPTIONS too (ERRORS, EXAMPLES), and in the unit's ExecStart and PIXD_OPTS example."""
        texts = [(page, binary) for _, binary, page in self.programs()] + [(self.unit, PIXD_BIN)]
        for path, binary in texts:
            with self.subTest(file=os.path.basename(path)):
                with open(path) as f:
                    text = f.read()
                if path.endswith(".1"):
                    text = "\n".join(deroff(line) for line in text.splitlines())
                else:  # pixd's command line and the PIXD_OPTS example, not other tools' options
                    text = "\n".join(line for line in text.splitlines()
                                     if "ExecStart=" in line or "PIXD_OPTS=" in line)
                unknown = long_options_mentioned(text) - set(help_options(binary))
                self.assertEqual(sorted(unknown), [], f"{path} mentions options that --help does not list")

    def test_man_page_version_is_the_programs(self):
        for name, binary, page in self.programs():
            with self.subTest(program=name):
                version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                         timeout=30).stdout.split()[-1]
                with open(page) as f:
                    th = next(line for line in f if line.startswith(".TH "))
                self.assertIn(f'"pixd {version}"', th, f"{name}.1's .TH names another version")

    # (d) the unit

    def test_unit_starts_the_installed_pixd(self):
        with open(self.unit) as f:
            unit = f.read()
        self.assertNotRegex(unit, r"@[A-Z_]+@", "a placeholder was left")
        execstart = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
        self.assertEqual(execstart, os.path.join(self.bindir, "pixd"))
        for key in ("DynamicUser=yes", "StateDirectory=pixd", "ProtectSystem=strict", "NoNewPrivileges=yes",
                    "CapabilityBoundingSet=\n", "ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM",
                    "EnvironmentFile=-/etc/default/pixd", "$PIXD_OPTS"):
            self.assertIn(key, unit)

    def test_unit_verifies(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed (apt-get install systemd): unit not verified")
        # MANPATH: Documentation=man:pixd(1) is looked up, and must be the page installed with it.
        env = dict(os.environ, MANPATH=self.mandir + ":", SYSTEMD_LOG_COLOR="0")
        r = subprocess.run([analyze, "verify", self.unit], capture_output=True, text=True, env=env,
                           timeout=120)
        # Unknown or misspelt settings are only warnings: any output is a failure.
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""), "systemd-analyze verify " + self.unit)

    def test_unit_exposure(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed: exposure not rated")
        r = subprocess.run([analyze, "security", "--offline=yes", f"--threshold={EXPOSURE_THRESHOLD}",
                            "--no-pager", self.unit], capture_output=True, text=True, timeout=120)
        if "--offline" in r.stderr and "unrecognized" in r.stderr:
            self.skipTest("this systemd-analyze has no --offline (systemd < 250)")
        self.assertEqual(r.returncode, 0, r.stdout[-600:] + r.stderr)

    # (e) the installed programs run

    def test_installed_programs_run(self):
        for name, binary, _ in self.programs():
            with self.subTest(program=name):
                built = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
                installed = subprocess.run([os.path.join(self.bindir, name), "--version"],
                                           capture_output=True, text=True, timeout=30)
                self.assertEqual(installed.returncode, 0, installed.stderr)
                self.assertRegex(installed.stdout, rf"^{name} \d+\.\d+\.\d+\n$")
                self.assertEqual(installed.stdout, built.stdout)

    def test_installed_pixd_serves_and_survives_reload(self):
        """systemctl reload sends SIGHUP (ExecReload): pixd must keep serving, not die of it."""
        avatars = os.path.join(self.tmp.name, "avatars")
        os.makedirs(avatars, exist_ok=True)
        with open(os.path.join(avatars, "-1.png"), "wb") as f:
            f.write(make_image("PNG"))
        port = free_port()
        proc = subprocess.Popen([os.path.join(self.bindir, "pixd"), "--listen", f"127.0.0.1:{port}",
                                 "--avatars", avatars, "--threads", "1", "--image-workers", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            self.assertEqual(self.get(port, proc), 200)
            proc.send_signal(signal.SIGHUP)
            try:  # a pixd that SIGHUP kills is gone well within this; one that reloads serves on
                code = proc.wait(0.5)
                self.fail(f"pixd ended on SIGHUP ({code}): systemctl reload would stop the service")
            except subprocess.TimeoutExpired:
                pass
            self.assertEqual(self.get(port, proc), 200)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(15), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()

    def get(self, port, proc):
        """Status of GET /1 (the default avatar), waiting for pixd to listen."""
        deadline = time.time() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET /1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    head = s.recv(64)
                    return int(head.split()[1])
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise
                time.sleep(0.02)


if __name__ == "__main__":
    unittest.main()
