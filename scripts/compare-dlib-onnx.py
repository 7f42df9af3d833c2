#!/usr/bin/env python3
"""Check banwatch's dlib -> ONNX conversion against dlib itself.

Runs a dlib MMOD detector file in dlib (cnn_face_detection_model_v1, no upsampling) and its
ONNX conversion in ONNX Runtime on the same pictures: the grey PGM scenes in DIR (written by
the probe's picture battery), replicated to RGB, resized (nearest) to two thirds of the ONNX
input's side and set in the top-left corner of a grey picture of that side (the converted graph
runs at three times the detector window, so a face drawn half a scene wide fills the window).
dlib reports a detection where the detector's score map is above 0 (at any pyramid level); the
converted graph gives the map of the largest level, so per picture the two must agree on
whether there is a face, and where there is, the converted map's maximum must be close to
dlib's best confidence (the pyramid's other levels and its tiling may differ a little).
Prints one JSON object; exit 1 on a disagreement.
    python3 scripts/compare-dlib-onnx.py MODEL.dat MODEL.onnx DIR
"""
import json
import pathlib
import sys

import dlib
import numpy as np
import onnxruntime as ort


def pgm(path):
    head, dims, _maxval, data = path.read_bytes().split(b"\n", 3)
    w, h = map(int, dims.split())
    return np.frombuffer(data, np.uint8)[: w * h].reshape(h, w)


def main():
    dat, onnx_path, d = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    detector = dlib.cnn_face_detection_model_v1(dat)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    side = inp.shape[2]
    rows, disagree, worst = [], 0, 0.0
    for p in sorted(d.glob("scene-*.pgm"), key=lambda p: int(p.stem.split("-")[1])):
        g = pgm(p)
        h, w = g.shape
        inner = 2 * side // 3
        g = g[(np.arange(inner) * h // inner)][:, (np.arange(inner) * w // inner)]
        canvas = np.full((side, side), 128, np.uint8)
        canvas[:inner, :inner] = g
        rgb = np.ascontiguousarray(np.stack([canvas] * 3, -1))
        dets = [d.confidence for d in detector(rgb, 0)]
        ours = float(session.run(None, {inp.name: rgb.transpose(2, 0, 1)[None].astype(np.float32)})[0].max())
        agree = (ours > 0) == bool(dets)
        disagree += not agree
        if dets and ours > 0:
            worst = max(worst, abs(ours - max(dets)))
        rows.append({"picture": p.name, "ours_max": round(ours, 4), "dlib": [round(c, 4) for c in dets]})
    print(json.dumps({
        "pictures": len(rows),
        "with_faces_found": sum(1 for r in rows if r["dlib"]),
        "disagreements": disagree,
        "largest_score_difference": round(worst, 4),
        "rows": rows,
    }))
    sys.exit(1 if disagree else 0)


main()
