#!/usr/bin/env python3
"""Build manifest.json (and manifest-overlap-risk.json, README table) from curation.py
using archives already in the cache. Not needed by users of the corpus."""
import hashlib, json, os, re, sys, zipfile, tarfile, io, subprocess, email
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from curation import PACKAGES  # noqa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.expanduser("~/.cache/banwatch/corpus/archives")
CLASSES = {"face-recognition-embedding", "face-verification", "face-detection", "face-landmarks-alignment",
           "face-attributes", "anti-spoofing", "body-pose", "person-detection", "person-reid", "gait",
           "negative-other"}
FORMATS = {"onnx", "tflite", "tfjs", "keras_h5", "caffe", "ncnn", "dlib", "pytorch", "opencv_cascade", "tf_pb",
           "npy", "safetensors", "mnn", "paddle", "openvino", "coreml", "other"}


class Arc:
    def __init__(self, path):
        self.path = path
        if path.endswith(".whl"):
            self.z = zipfile.ZipFile(path); self.kind = "zip"
            self.names = set(self.z.namelist())
        elif path.endswith(".tgz"):
            self.t = tarfile.open(path); self.kind = "tar"
            self.m = {m.name: m for m in self.t.getmembers() if m.isfile()}
            self.names = set(self.m)
        elif path.endswith(".deb"):
            out = subprocess.run(["dpkg-deb", "--fsys-tarfile", path], stdout=subprocess.PIPE, check=True).stdout
            self.t = tarfile.open(fileobj=io.BytesIO(out)); self.kind = "tar"
            self.m = {}
            allm = {m.name[2:] if m.name.startswith("./") else m.name: m for m in self.t.getmembers()}
            for n, m in allm.items():
                while m.issym():
                    m = allm[os.path.normpath(os.path.join(os.path.dirname(n if m is allm[n] else m.name.lstrip('./')), m.linkname))]
                if m.isfile():
                    self.m[n] = m
            self.names = set(self.m)

    def read(self, name):
        if self.kind == "zip":
            return self.z.read(name)
        return self.t.extractfile(self.m[name]).read()


SPDX = {"MIT License": "MIT", "The MIT License (MIT)": "MIT", "MIT license": "MIT", "Apache Software License": "Apache-2.0",
        "Apache 2.0": "Apache-2.0", "Apache License 2.0": "Apache-2.0", "Apache License, Version 2.0": "Apache-2.0",
        "GNU General Public License v3 (GPLv3)": "GPL-3.0-only", "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
        "GNU General Public License v2 (GPLv2)": "GPL-2.0-only", "GNU Affero General Public License v3": "AGPL-3.0-only",
        "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later", "BSD License": "LicenseRef-BSD-unspecified",
        "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only", "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
        "UNKNOWN": "NOASSERTION", "": "NOASSERTION", "BSD": "LicenseRef-BSD-unspecified", "Other/Proprietary License": "LicenseRef-Proprietary"}


def spdx(l):
    l = (l or "").strip()
    return SPDX.get(l, l)


def licence_of(arc, pkg):
    return spdx(_licence_of(arc, pkg))


def _licence_of(arc, pkg):
    try:
        if arc.kind == "tar" and "package/package.json" in arc.names:
            j = json.loads(arc.read("package/package.json"))
            l = j.get("license") or j.get("licenses")
            if isinstance(l, dict): l = l.get("type")
            if isinstance(l, list): l = " OR ".join(x.get("type", "") if isinstance(x, dict) else x for x in l)
            return l or "UNKNOWN"
        if arc.kind == "zip":
            meta = [n for n in arc.names if n.endswith(".dist-info/METADATA")][0]
            m = email.message_from_bytes(arc.read(meta))
            if m.get("License-Expression"): return m["License-Expression"]
            cls = [c for c in m.get_all("Classifier") or [] if c.startswith("License ::")]
            lic = (m.get("License") or "").strip()
            if lic and len(lic) < 60 and "\n" not in lic and lic != "UNKNOWN" and not (cls and lic in ("BSD", "BSD License")): return lic
            if cls: return cls[0].split("::")[-1].strip()
            return lic[:60] or "UNKNOWN"
    except Exception as ex:
        return "UNKNOWN (%s)" % ex
    return "UNKNOWN"


def shape_tflite(data):
    import tflite
    m = tflite.Model.GetRootAsModel(data, 0)
    sg = m.Subgraphs(0)
    def t(i):
        tt = sg.Tensors(i)
        return "%s%s" % (tt.Name().decode(errors="replace"), [int(x) for x in tt.ShapeAsNumpy()] if tt.ShapeLength() else "[]")
    ins = [t(sg.Inputs(i)) for i in range(sg.InputsLength())]
    outs = [t(sg.Outputs(i)) for i in range(sg.OutputsLength())]
    return "tflite in: %s; out: %s" % (", ".join(ins), ", ".join(outs[:8]) + (" ..." if len(outs) > 8 else ""))


def shape_onnx(data):
    import onnx
    m = onnx.load_model_from_string(data)
    inits = {i.name for i in m.graph.initializer}
    def s(v):
        d = [x.dim_value if x.HasField("dim_value") else (x.dim_param or "?") for x in v.type.tensor_type.shape.dim]
        return "%s%s" % (v.name, d)
    ins = [s(v) for v in m.graph.input if v.name not in inits]
    outs = [s(v) for v in m.graph.output]
    return "onnx in: %s; out: %s" % (", ".join(ins[:6]), ", ".join(outs[:8]) + (" ..." if len(outs) > 8 else ""))


def auto_shape(fmt, data):
    try:
        if fmt == "tflite": return shape_tflite(data)
        if fmt == "onnx" and len(data) < 300_000_000: return shape_onnx(data)
    except Exception as ex:
        return "(shape parse failed: %s)" % str(ex)[:80]
    return ""


def main():
    manifest, risky, table = [], [], []
    seen = {}
    for p in PACKAGES:
        apath = os.path.join(CACHE, p["archive"])
        arc = Arc(apath)
        lic = p.get("licence") or licence_of(arc, p["package"])
        taken = []
        for f in p["files"]:
            path = f["path"]
            assert path in arc.names, (p["package"], path)
            assert f["class"] in CLASSES, f
            assert f["format"] in FORMATS, f
            data = arc.read(path)
            sha = hashlib.sha256(data).hexdigest()
            comps = f.get("companions", [])
            csha = {}
            for c in comps:
                assert c in arc.names, (p["package"], c)
                csha[c] = hashlib.sha256(arc.read(c)).hexdigest()
            note = f["note"]
            if f.get("shape", True):
                sh = auto_shape(f["format"], data)
                if sh: note = note + " | " + sh
            pip = path[len("package/"):] if p["ecosystem"] == "npm" and path.startswith("package/") else path
            e = {"id": "%s/%s" % (p["package"], pip), "ecosystem": p["ecosystem"], "package": p["package"],
                 "version": p["version"], "archive": p["archive"], "path": path, "sha256": sha,
                 "size": len(data), "format": f["format"], "class": f["class"], "licence": lic,
                 "note": note, "companions": comps}
            if csha: e["companions_sha256"] = csha
            if sha in seen:
                print("DUPLICATE sha256: %s == %s (skipped)" % (e["id"], seen[sha]))
                continue
            seen[sha] = e["id"]
            if f.get("risk"):
                e["overlap_risk"] = f["risk"]
                risky.append(e)
            else:
                manifest.append(e)
                taken.append(e)
        table.append((p, lic, taken))
    json.dump(manifest, open(os.path.join(ROOT, "manifest.json"), "w"), indent=1)
    json.dump(risky, open(os.path.join(ROOT, "manifest-overlap-risk.json"), "w"), indent=1)
    # README table
    rows = ["| package | ecosystem | version | licence | files taken | classes |", "|---|---|---|---|---|---|"]
    for p, lic, taken in table:
        if not taken:
            continue  # risk-only packages are listed in the held-back table
        cl = {}
        for e in taken: cl[e["class"]] = cl.get(e["class"], 0) + 1
        rows.append("| %s | %s | %s | %s | %d | %s |" % (p["package"], p["ecosystem"], p["version"], lic, len(taken),
                    ", ".join("%s (%d)" % kv for kv in sorted(cl.items()))))
    rpath = os.path.join(ROOT, "README.md")
    txt = open(rpath).read() if os.path.exists(rpath) else "<!-- TABLE -->\n<!-- /TABLE -->\n"
    txt = re.sub(r"<!-- TABLE -->.*<!-- /TABLE -->", lambda _: "<!-- TABLE -->\n" + "\n".join(rows) + "\n<!-- /TABLE -->", txt, flags=re.S)
    rk = ["| id | class | sha256 (first 16) | why it is held back |", "|---|---|---|---|"]
    for e in risky:
        rk.append("| %s | %s | %s | %s |" % (e["id"], e["class"], e["sha256"][:16], e["overlap_risk"]))
    txt = re.sub(r"<!-- RISK -->.*<!-- /RISK -->", lambda _: "<!-- RISK -->\n" + "\n".join(rk) + "\n<!-- /RISK -->", txt, flags=re.S)
    # stats
    from collections import Counter
    pk = {e["package"] for e in manifest}
    st = ["%d model files from %d packages in manifest.json (+%d in manifest-overlap-risk.json)." % (len(manifest), len(pk), len(risky)), "",
          "by class: " + ", ".join("%s %d" % kv for kv in sorted(Counter(e["class"] for e in manifest).items())), "",
          "by format: " + ", ".join("%s %d" % kv for kv in sorted(Counter(e["format"] for e in manifest).items()))]
    txt = re.sub(r"<!-- STATS -->.*<!-- /STATS -->", lambda _: "<!-- STATS -->\n" + "\n".join(st) + "\n<!-- /STATS -->", txt, flags=re.S)
    open(rpath, "w").write(txt)
    print("\n".join(st))


if __name__ == "__main__":
    main()
