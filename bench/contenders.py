#!/usr/bin/python3
"""Contenders as data: reads bench/contenders/<name>/contender.toml, checks it, renders it.

  contenders.py [--dir DIR]... names [--only NAMES]
  contenders.py [--dir DIR]... list
  contenders.py [--dir DIR]... show NAME --port P --avatars DIR --run DIR --cert F --key F
                                     [--origin URL] [--pixd BIN] [--cores N] [--cpus LIST]
  contenders.py [--dir DIR]... target NAME URL [--origin URL] [--experiments NAMES]
  contenders.py [--dir DIR]... record OUT_JSON [--experiments NAMES] [--target NAME=URL]... NAME...

--dir adds a folder of contender folders (bench/contenders is always read first; a later folder's
contender replaces an earlier one of the same name). `names` prints the contenders, one a line, in
report order (others by name, then the references); `list` a table of them with their
experiments and whether their Debian packages are installed; `show` renders one contender's
templates into --run and prints shell assignments for bench/lib.sh (C_START, C_SETUP, C_VERSION,
C_READY, C_SCHEME, C_CORES, C_CPUS, C_EXPERIMENTS, C_MAGIC, C_LATENCY, C_CHECKS: bench/check_peer.py's
options, C_RENDERED: the rendered files); `target` the same C_EXPERIMENTS, C_READY, C_MAGIC,
C_LATENCY and C_CHECKS for a server
already running at URL (bench/run --target);
`record` writes every named contender's declaration, installed package versions and, for the
targets of bench/run --target, what is known about them, to OUT_JSON for bench/report.py.
The format is documented in docs/contenders.md. Errors name the file and the key and exit 2.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib

BENCH = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(BENCH)
PYTHON = "/usr/bin/python3"
AVATAR_EXPERIMENTS = ("avatars", "avatars-ka", "avatars-h2")
MAGIC_EXPERIMENTS = ("base64", "multipart", "imageurl")
EXPERIMENTS = AVATAR_EXPERIMENTS + MAGIC_EXPERIMENTS
# The experiments the "latency under load" runs (bench/run: pixload --find-max-rate) may step.
LATENCY_EXPERIMENTS = ("avatars-ka", "base64")
PLACEHOLDERS = ("port", "cores", "cpus", "avatars", "cert", "key", "run", "dir", "origin", "pixd", "python", "src")
PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
# The server's core when it has one (the load generator and the harness keep core 0).
SERVER_CPU = 1


class FormatError(Exception):
    pass


def _str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


# key: (check, description of a valid value, default; None = required)
KEYS = {
    "description": (lambda v: isinstance(v, str) and v.strip(), "a non-empty string", None),
    "packages": (_str_list, "a list of Debian package names", []),
    "experiments": (lambda v: _str_list(v) and v and set(v) <= set(EXPERIMENTS),
                    "a non-empty list of " + ", ".join(EXPERIMENTS), None),
    "cores": (lambda v: type(v) is int and 1 <= v <= 2, "1 or 2", 1),
    "reference": (lambda v: isinstance(v, bool), "true or false", False),
    "reference_label": (lambda v: isinstance(v, str), "a string", ""),
    "compare_to": (lambda v: isinstance(v, str), "a contender name or \"\"", ""),
    "from_memory": (lambda v: isinstance(v, bool), "true or false", False),
    "scheme": (lambda v: v in ("http", "https"), "\"http\" or \"https\"", "http"),
    "magic": (lambda v: v in ("pillow", "tolerance"), "\"pillow\" or \"tolerance\"", ""),
    "latency": (lambda v: _str_list(v) and set(v) <= set(LATENCY_EXPERIMENTS),
                "a list of " + ", ".join(LATENCY_EXPERIMENTS), []),
    "checks": (lambda v: _str_list(v) and set(v) <= {"redirect", "status"},
               "a list of \"redirect\", \"status\"", []),
    "templates": (_str_list, "a list of file names in the contender's folder", []),
    "setup": (lambda v: isinstance(v, str), "a shell command", ""),
    "version": (lambda v: isinstance(v, str), "a shell command", ""),
    "start": (lambda v: isinstance(v, str) and v.strip(), "a shell command", None),
    "ready": (lambda v: isinstance(v, str) and v.startswith("/"), "a path starting with /", "/-1"),
}


def load(folder):
    """The checked declaration of the contender in folder, with every default filled in."""
    path = os.path.join(folder, "contender.toml")
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise FormatError(f"{path}: {e}") from None
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise FormatError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(KEYS)})")
    c = {"name": os.path.basename(os.path.normpath(folder)), "dir": os.path.abspath(folder)}
    for key, (ok, what, default) in KEYS.items():
        if key not in raw:
            if default is None:
                raise FormatError(f"{path}: '{key}' is missing ({what})")
            c[key] = default
        elif not ok(raw[key]):
            raise FormatError(f"{path}: '{key}' = {raw[key]!r} should be {what}")
        else:
            c[key] = raw[key]
    serves_magic = [e for e in c["experiments"] if e in MAGIC_EXPERIMENTS]
    if serves_magic and not c["magic"]:
        raise FormatError(f"{path}: experiments {', '.join(serves_magic)} need 'magic' (\"pillow\" or \"tolerance\")")
    not_declared = [e for e in c["latency"] if e not in c["experiments"]]
    if not_declared:
        raise FormatError(f"{path}: 'latency' names {', '.join(not_declared)}, which 'experiments' does not declare")
    if "avatars-h2" in c["experiments"] and c["scheme"] != "https":
        raise FormatError(f"{path}: 'avatars-h2' is HTTP/2 over TLS: it needs scheme = \"https\"")
    if c["reference_label"] and not c["reference"]:
        raise FormatError(f"{path}: 'reference_label' is only for reference = true")
    for t in c["templates"]:
        if not os.path.isfile(os.path.join(folder, t)):
            raise FormatError(f"{path}: template {t!r} is not a file in {folder}")
    return c


def load_all(dirs):
    """{name: contender} from every folder of every dir (a later dir replaces an earlier name)."""
    found = {}
    for d in dirs:
        if not os.path.isdir(d):
            raise FormatError(f"{d}: not a folder of contenders")
        for entry in sorted(os.listdir(d)):
            folder = os.path.join(d, entry)
            if os.path.isfile(os.path.join(folder, "contender.toml")):
                found[entry] = load(folder)
    for c in found.values():
        if c["compare_to"] and not found.get(c["compare_to"], {}).get("reference"):
            raise FormatError(f"{c['dir']}/contender.toml: compare_to = {c['compare_to']!r} is not a reference contender")
    return found


def ordered(found):
    """Report order: the others by name, then the references."""
    return sorted(found, key=lambda n: (found[n]["reference"], n))


def reference_of(c, found):
    """The reference contender c is compared with: compare_to, else the one with the same cores and
    scheme, else the same cores; None for a reference or when no reference fits."""
    if c.get("reference"):
        return None
    if c.get("compare_to"):
        return c["compare_to"]
    refs = [found[n] for n in ordered(found) if found[n]["reference"]]
    for fits in (lambda r: r["cores"] == c.get("cores") and r["scheme"] == c["scheme"],
                 lambda r: r["cores"] == c.get("cores")):
        for r in refs:
            if fits(r):
                return r["name"]
    return None


def render(text, values):
    """text with each known {placeholder} replaced; other braces (nginx's blocks) stay."""
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def check_args(c, experiments, origin):
    """bench/check_peer.py's options for the answers c must give."""
    args = [f"--{k}" for k in c["checks"]] + (["--h2"] if "avatars-h2" in experiments else [])
    magic = [e for e in experiments if e in MAGIC_EXPERIMENTS]
    if magic:
        args += ["--magic", origin, "--magic-mode", c["magic"] or "tolerance", "--endpoints", ",".join(magic)]
    return args


def package_versions(packages):
    """{package: installed version or None}."""
    out = {}
    for p in packages:
        r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", p],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        status, _, version = r.stdout.partition(" ")
        out[p] = version if r.returncode == 0 and status == "installed" else None
    return out


def cmd_show(c, a):
    cores = a.cores or c["cores"]
    cpus = a.cpus if a.cpus is not None else str(SERVER_CPU) if cores == 1 else f"0-{min(cores, os.cpu_count()) - 1}"
    values = {"port": a.port, "cores": cores, "cpus": cpus, "avatars": a.avatars, "cert": a.cert, "key": a.key,
              "run": a.run, "dir": c["dir"], "origin": a.origin, "pixd": a.pixd, "python": PYTHON, "src": SRC}
    os.makedirs(a.run, exist_ok=True)
    rendered = []
    for t in c["templates"]:
        with open(os.path.join(c["dir"], t)) as f:
            text = render(f.read(), values)
        rendered.append(os.path.join(a.run, t[:-3] if t.endswith(".in") else t))
        with open(rendered[-1], "w") as f:
            f.write(text)
    out = {"C_START": render(c["start"], values), "C_SETUP": render(c["setup"], values),
           "C_VERSION": render(c["version"], values), "C_READY": c["ready"], "C_SCHEME": c["scheme"],
           "C_CORES": str(cores), "C_CPUS": cpus, "C_EXPERIMENTS": " ".join(c["experiments"]),
           "C_MAGIC": c["magic"], "C_LATENCY": " ".join(c["latency"])}
    for k, v in out.items():
        print(f"{k}={shlex.quote(v)}")
    print("C_CHECKS=(" + " ".join(shlex.quote(x) for x in check_args(c, c["experiments"], a.origin)) + ")")
    print("C_RENDERED=(" + " ".join(shlex.quote(x) for x in rendered) + ")")


def cmd_list(found):
    for n in ordered(found):
        c = found[n]
        vers = package_versions(c["packages"])
        missing = [p for p, v in vers.items() if v is None]
        ref = f", reference ({c['reference_label']})" if c["reference"] else ""
        print(f"{n}: {c['description']}")
        print(f"    experiments: {' '.join(c['experiments'])}; {c['cores']} core(s), {c['scheme']}{ref}"
              + (", from memory" if c["from_memory"] else "") + (f"; /magic: {c['magic']}" if c["magic"] else "")
              + (f"; latency under load: {' '.join(c['latency'])}" if c["latency"] else ""))
        print("    packages: " + (", ".join(f"{p} {v or 'NOT INSTALLED'}" for p, v in vers.items()) or "none")
              + (" (bench/run installs them, or: scripts/install-deps.sh bench " + " ".join(missing) + ")" if missing else ""))


def target_entry(name, url, found, experiments):
    """The contender for bench/run --target NAME=URL: the declaration of the folder NAME when there
    is one (its experiments, checks and reference role), else a generic one checked within the
    tolerance; never started, its CPU unknown. Its experiments: the chosen ones it can take part
    in (avatars-h2 needs https)."""
    scheme = url.split(":", 1)[0]
    c = dict(found[name]) if name in found else {
        "name": name, "experiments": list(EXPERIMENTS), "reference": False, "reference_label": "",
        "compare_to": "", "from_memory": False, "magic": "tolerance", "checks": [], "packages": [], "ready": "/-1",
        "latency": []}
    c.update(target=url, scheme=scheme, cores=None, packages_installed={},
             description=f"already running at {url} (--target: its CPU is not measured)"
                         + (f"; declared as {c['description']}" if name in found else ""),
             experiments=[e for e in experiments if e in c["experiments"] and (e != "avatars-h2" or scheme == "https")])
    c["reference_of"] = reference_of(c, found)
    return c


def cmd_target(found, a):
    c = target_entry(a.name, a.url, found, a.experiments.split())
    print(f"C_EXPERIMENTS={shlex.quote(' '.join(c['experiments']))}")
    print(f"C_READY={shlex.quote(c['ready'])}")
    print(f"C_MAGIC={shlex.quote(c['magic'])} C_LATENCY={shlex.quote(' '.join(c['latency']))}")
    print("C_CHECKS=(" + " ".join(shlex.quote(x) for x in check_args(c, c["experiments"], a.origin)) + ")")


def cmd_record(found, a):
    experiments = a.experiments.split() if a.experiments else list(EXPERIMENTS)
    out = {}
    for n in a.names:
        c = dict(found[n], packages_installed=package_versions(found[n]["packages"]), target="")
        c["reference_of"] = reference_of(c, found)
        out[n] = c
    for spec in a.target:
        name, url = spec.split("=", 1)
        out[name] = target_entry(name, url, found, experiments)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", action="append", default=[], help="another folder of contender folders")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("names")
    p.add_argument("--only", default="", help="names, comma- or space-separated")
    sub.add_parser("list")
    p = sub.add_parser("packages")
    p.add_argument("names", nargs="*")
    p = sub.add_parser("show")
    p.add_argument("name")
    for opt in ("--port", "--avatars", "--run", "--cert", "--key"):
        p.add_argument(opt, required=True)
    p.add_argument("--origin", default="")
    p.add_argument("--pixd", default=os.path.join(SRC, "build", "pixd"))
    p.add_argument("--cores", type=int, help="instead of the declared cores ({cores})")
    p.add_argument("--cpus", help="instead of the cores' CPU list ({cpus}, the taskset list)")
    p = sub.add_parser("target")
    p.add_argument("name")
    p.add_argument("url")
    p.add_argument("--origin", default="")
    p.add_argument("--experiments", default=" ".join(EXPERIMENTS))
    p = sub.add_parser("record")
    p.add_argument("out")
    p.add_argument("names", nargs="*")
    p.add_argument("--experiments", default="")
    p.add_argument("--target", action="append", default=[], metavar="NAME=URL")
    a = ap.parse_args()
    try:
        found = load_all([os.path.join(BENCH, "contenders")] + a.dir)
        wanted = getattr(a, "name", None)
        if a.cmd == "show" and wanted not in found:
            raise FormatError(f"unknown contender {wanted!r} (known: {' '.join(ordered(found))})")
        if a.cmd == "names":
            want = a.only.replace(",", " ").split()
            bad = [w for w in want if w not in found]
            if bad:
                raise FormatError(f"unknown contender(s) {' '.join(bad)} (known: {' '.join(ordered(found))})")
            for n in ordered(found):
                if not want or n in want:
                    print(n)
        elif a.cmd == "list":
            cmd_list(found)
        elif a.cmd == "packages":  # what the named contenders need, for scripts/install-deps.sh
            print(" ".join(sorted({p for n in a.names if n in found for p in found[n]["packages"]})))
        elif a.cmd == "show":
            cmd_show(found[a.name], a)
        elif a.cmd == "target":
            cmd_target(found, a)
        else:
            cmd_record(found, a)
    except FormatError as e:
        print(f"contenders.py: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
