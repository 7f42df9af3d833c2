#!/usr/bin/env python3
"""pip download (wheels only) a list of packages into the cache, abort any > LIMIT MB."""
import subprocess, sys, re, os
CACHE = os.path.expanduser("~/.cache/banwatch/corpus/archives")
LIMIT = float(os.environ.get("LIMIT_MB", "300"))
PLAT = ["--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
        "--platform", "manylinux1_x86_64", "--platform", "linux_x86_64", "--platform", "any",
        "--python-version", "3.11", "--implementation", "cp"]
for spec in sys.argv[1:]:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--progress-bar", "off", "-d", CACHE] + PLAT + [spec]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    for line in p.stdout:
        out.append(line)
        m = re.search(r"Downloading (\S+) \(([\d.]+) (kB|MB|GB)\)", line)
        if m:
            mb = float(m.group(2)) * {"kB": 1e-3, "MB": 1, "GB": 1e3}[m.group(3)]
            if mb > LIMIT:
                p.kill(); out.append("ABORTED: %s is %.0f MB\n" % (m.group(1), mb)); break
    p.wait()
    res = [l.strip() for l in out if l.startswith(("Saved", "File was already", "ABORTED", "ERROR"))]
    print(spec, "->", "; ".join(res) or "".join(out[-3:]).strip(), flush=True)
