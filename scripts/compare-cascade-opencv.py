#!/usr/bin/env python3
"""Check banwatch's cascade evaluator against OpenCV's own CascadeClassifier.

Reads the pictures and results examples/cascade_probe.rs wrote with --dump DIR, runs each cascade
in OpenCV on the same grey pictures and compares:
  - the windows accepted at scale one (detectMultiScale with minNeighbors=0 and maxSize = the
    window: OpenCV's raw candidates, no resizing involved): these must match exactly;
  - the grouped detections over the whole pyramid (OpenCV's defaults): per picture, how many
    (pictures are resized with each library's own bilinear filter, so these may differ by one).
Prints one JSON object per cascade; exit 1 when any scale-one window set differs.
    python3 scripts/compare-cascade-opencv.py DIR
"""
import json
import pathlib
import sys

import cv2

cv2.setNumThreads(1)


def main():
    d = pathlib.Path(sys.argv[1])
    pictures = sorted(d.glob("scene-*.pgm"), key=lambda p: int(p.stem.split("-")[1]))
    grays = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in pictures]
    bad = 0
    for res in sorted(d.glob("*.json")):
        ours = json.loads(res.read_text())
        c = cv2.CascadeClassifier(ours["cascade"])
        if c.empty():
            print(json.dumps({"cascade": ours["cascade"], "error": "OpenCV could not load it"}))
            continue
        size = c.getOriginalWindowSize()
        same, differ, theirs_n, ours_n = 0, 0, [], []
        for g, mine in zip(grays, ours["scenes"]):
            raw = c.detectMultiScale(g, scaleFactor=1.1, minNeighbors=0, maxSize=size)
            theirs = sorted(tuple(int(v) for v in r) for r in raw)
            if theirs == sorted(tuple(r) for r in mine["scale_one"]):
                same += 1
            else:
                differ += 1
            if mine.get("detections") is not None:
                theirs_n.append(len(c.detectMultiScale(g)))
                ours_n.append(len(mine["detections"]))
        bad += differ
        print(json.dumps({
            "cascade": pathlib.Path(ours["cascade"]).name,
            "scale_one_pictures_equal": same,
            "scale_one_pictures_differing": differ,
            "detections_opencv": theirs_n,
            "detections_banwatch": ours_n,
        }))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
