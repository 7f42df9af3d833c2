#!/usr/bin/env bash
# Installs what banwatch needs on a fresh Debian 12 machine, and nothing twice.
#   scripts/setup.sh run    # to build and run banwatch
#   scripts/setup.sh test   # also what the test suite needs
#   scripts/setup.sh bench  # also the peers the benchmarks compare against
# Safe to run again: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

say() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
# To build and run: GStreamer (RTSP camera taps and the demo network), libpcap (live capture).
pkgs=(ca-certificates pkg-config gcc unzip python3 python3-pip
      libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly libpcap-dev)
case "$mode" in
  test) pkgs+=(squashfs-tools python3-venv mosquitto prometheus-alertmanager prometheus systemd postgresql-15
              cpio u-boot-tools xz-utils zstd bzip2 lz4 binutils dpkg e2fsprogs
              android-sdk-libsparse-utils rpm genromfs mtd-utils p7zip-full lzop device-tree-compiler chromium chromium-driver fonts-liberation) ;;
  bench) pkgs+=(squashfs-tools python3-venv mosquitto tshark libndpi-bin yara binwalk hyperfine time
                gstreamer1.0-tools bc
                # the nested firmware dump's tools, and binwalk 3's external extractors
                cpio u-boot-tools xz-utils zstd dpkg e2fsprogs mtd-utils p7zip-full lzop
                device-tree-compiler sleuthkit) ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Rust --------------------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { say "cargo not found: install a Rust toolchain (rustup) first"; exit 1; }

# --- ONNX Runtime (shared library from the onnxruntime wheel, for ort's load-dynamic) -----------
if [ -x scripts/fetch-onnxruntime.sh ] || [ -f scripts/fetch-onnxruntime.sh ]; then
  bash scripts/fetch-onnxruntime.sh >/dev/null
fi

# --- Python tools for generated test fixtures ----------------------------------------------------
# onnx, numpy, PyYAML: the generated ONNX and gait models. tflite (the TFLite schema's generated
# Python) and flatbuffers: the generated TFLite models. ai-edge-litert (Google's TFLite runtime)
# and onnxruntime: the reference the TFLite -> ONNX converter is checked against. opencv-python-
# headless: OpenCV itself, the reference the cascade evaluator is checked against. dlib-bin: dlib
# itself (a prebuilt wheel), the reference the dlib -> ONNX converter is checked against. ncnn:
# Tencent's runtime (its Python wheel), the reference the NCNN -> ONNX converter is checked
# against. kubernetes-validate: the Kubernetes manifests checked against the API's own schemas (it
# carries them, so no cluster is needed). h5py (HDF5's own library): writes the Keras HDF5 files
# banwatch's HDF5 reader is checked against. openvino: Intel's runtime, the reference the
# OpenVINO IR -> ONNX converter is checked against.
if [ "$mode" != run ]; then
  if [ ! -x .deps/venv/bin/python ] \
    || ! .deps/venv/bin/python -c 'import onnx, numpy, yaml, tflite, flatbuffers, ai_edge_litert, onnxruntime, kubernetes_validate, cv2, dlib, ncnn, h5py, openvino' 2>/dev/null; then
    say "creating .deps/venv with onnx, numpy, PyYAML, tflite, flatbuffers, ai-edge-litert, onnxruntime, kubernetes-validate, opencv-python-headless, dlib-bin, ncnn, h5py and openvino"
    python3 -m venv .deps/venv
    .deps/venv/bin/pip install -q --disable-pip-version-check onnx numpy pyyaml \
      tflite==2.18.0 flatbuffers ai-edge-litert==2.3.0 onnxruntime==1.31.1 kubernetes-validate==1.37.0 \
      opencv-python-headless==4.10.0.84 dlib-bin==20.0.1.post1 ncnn==1.0.20261020 \
      h5py==3.16.0 openvino==2026.4.1
  fi
fi
# --- Keras itself (Keras 3 on the JAX backend, in a venv of its own: its NumPy and SciPy pins
# stay apart from the tools above): writes the Keras HDF5 models the Keras -> ONNX converter is
# checked against and runs them (scripts/gen-probe-keras.py, scripts/compare-keras-onnx.py);
# joblib pickles a `.keras` zip as scikeras does.
if [ "$mode" != run ]; then
  if [ ! -x .deps/keras/bin/python ] \
    || ! .deps/keras/bin/python -c 'import keras, jax, h5py, onnxruntime, joblib' 2>/dev/null; then
    say "creating .deps/keras with keras, jax, h5py, onnxruntime and joblib"
    rm -rf .deps/keras
    python3 -m venv .deps/keras
    .deps/keras/bin/pip install -q --disable-pip-version-check keras==3.15.1 jax==0.10.2 \
      jaxlib==0.10.2 scipy==1.17.1 h5py==3.16.0 onnxruntime==1.31.1 joblib==1.6.0
  fi
fi
# --- TF.js itself (tfjs-core, its CPU backend, tfjs-converter): the reference the TF.js -> ONNX
# converter is checked against (scripts/run-tfjs-graph.js). Node.js and npm come with the machine;
# Debian's are installed where they are missing.
if [ "$mode" != run ]; then
  if [ ! -f .deps/tfjs/node_modules/@tensorflow/tfjs-converter/package.json ]; then
    if ! command -v npm >/dev/null; then
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    say "installing TF.js 4.22.0 (core, CPU backend, converter) into .deps/tfjs"
    mkdir -p .deps/tfjs
    (cd .deps/tfjs && npm install --silent --no-audit --no-fund \
      @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-backend-cpu@4.22.0 \
      @tensorflow/tfjs-converter@4.22.0 >/dev/null)
  fi
fi
# --- Web packages' own runtimes, the references three probe paths are checked against:
# face-api.js (@vladmandic/face-api 1.7.15, the fork the fixtures come from, on TF.js 4.22 with
# its CPU backend; the WASM backend only because face-api's Node build imports it) for the
# weights-manifest -> ONNX converter (scripts/run-faceapi.js), and jsfeat 0.0.8 for the BBF
# cascade evaluator (scripts/run-bbf-jsfeat.js, on jsfeat's own face cascade), and clmtrackr
# 1.1.2 with mosse 0.1.1 for the clmtrackr converter (scripts/run-clm.js, both patch experts).
if [ "$mode" != run ]; then
  if [ ! -f .deps/webjs/node_modules/@vladmandic/face-api/package.json ] \
    || [ ! -f .deps/webjs/node_modules/jsfeat/cascades/bbf_face.js ] \
    || [ ! -f .deps/webjs/node_modules/clmtrackr/src/svmfilter/svmfilter_fft.js ] \
    || [ ! -f .deps/webjs/node_modules/mosse/build/mosse.js ]; then
    say "installing face-api.js 1.7.15, TF.js 4.22.0, jsfeat 0.0.8 and clmtrackr 1.1.2 into .deps/webjs"
    mkdir -p .deps/webjs
    (cd .deps/webjs && npm install --silent --no-audit --no-fund \
      @vladmandic/face-api@1.7.15 @tensorflow/tfjs@4.22.0 \
      @tensorflow/tfjs-backend-wasm@4.22.0 jsfeat@0.0.8 >/dev/null)
    # clmtrackr's own dependencies name a git repository (no network here): unpack it and the
    # one it needs, mosse, alone, after npm (which would prune them).
    for pkg in clmtrackr@1.1.2 mosse@0.1.1; do
      (cd .deps/webjs && rm -rf "node_modules/${pkg%@*}" && mkdir -p "node_modules/${pkg%@*}" \
        && npm pack --silent "$pkg" >/dev/null \
        && tar xzf "${pkg%@*}-${pkg#*@}.tgz" -C "node_modules/${pkg%@*}" --strip-components=1 \
        && rm -f "${pkg%@*}-${pkg#*@}.tgz")
    done
  fi
fi
# --- binwalk 3's extractors that are not Debian packages (bench only) ---------------------------
if [ "$mode" = bench ]; then
  if [ ! -x .deps/bwtools/bin/jefferson ] || [ ! -x .deps/bwtools/bin/ubireader_extract_files ]; then
    say "creating .deps/bwtools with jefferson and ubi_reader (binwalk 3's JFFS2 and UBI extractors)"
    python3 -m venv .deps/bwtools
    .deps/bwtools/bin/pip install -q --disable-pip-version-check jefferson ubi_reader
  fi
  if [ ! -x .deps/unblob/bin/unblob ]; then
    say "creating .deps/unblob (unblob from PyPI, for the extraction comparison)"
    python3 -m venv .deps/unblob
    .deps/unblob/bin/pip install -q --disable-pip-version-check unblob
  fi
  # binwalk 3 extracts squashfs with sasquatch, a patched unsquashfs that Debian does not ship.
  if [ ! -x .deps/bwtools/bin/sasquatch ]; then
    printf '#!/bin/sh\nexec unsquashfs "$@"\n' > .deps/bwtools/bin/sasquatch
    chmod +x .deps/bwtools/bin/sasquatch
  fi
fi
say "ready ($mode)"
