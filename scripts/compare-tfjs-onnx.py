#!/usr/bin/env python3
"""Runs a TF.js graph model in TF.js itself (scripts/run-tfjs-graph.js: tfjs-core's CPU backend
under Node.js) and its ONNX conversion by banwatch in ONNX Runtime on the same random input,
and prints one JSON object: every output's shape and largest error relative to the output's
largest value. Outputs are matched in order (the signature's, as the converter writes them).
Exit code 0 when both runs gave the same number of outputs of the same sizes; 1 otherwise.

usage: compare-tfjs-onnx.py MODEL.json MODEL.onnx [SEED]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    model, onx = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) == 4 else 0)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(onx, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    x = rng.random(shape).astype(np.float32)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"shape": shape, "data": x.ravel().tolist()}, f)
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, ".deps/tfjs/node_modules"))
    run = subprocess.run(["node", os.path.join(ROOT, "scripts/run-tfjs-graph.js"), model, f.name],
                         capture_output=True, text=True, env=env)
    os.unlink(f.name)
    if run.returncode != 0:
        sys.exit(f"TF.js failed on {model}: {run.stderr.strip()[-500:]}")
    want = json.loads(run.stdout)
    got = sess.run(None, {inp.name: x})
    rows, ok = [], len(want) == len(got) and len(got) > 0
    for w, g in zip(want, got):
        w = np.array(w["data"], np.float32).reshape(w["shape"])
        if w.size != g.size:
            ok = False
            rows.append(dict(shape=list(w.shape), onnx_shape=list(g.shape)))
            continue
        err = float(np.abs(w - g.reshape(w.shape)).max() / (np.abs(w).max() + 1e-6))
        rows.append(dict(shape=list(w.shape), max_relative_error=err))
    print(json.dumps(dict(model=model, outputs=rows)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
