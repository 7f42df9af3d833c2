#!/usr/bin/env bash
# Runs banwatch's whole test suite on a fresh Debian 12 machine: installs what the tests need
# (idempotently, see scripts/setup.sh), checks formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
source scripts/env.sh
cargo fmt --all --check
cargo clippy --all-targets --locked -- -D warnings
# The spot check alone (no GStreamer, libpcap, SQLite or ONNX Runtime): it must build and lint.
cargo clippy --all-targets --locked --no-default-features --features scan -- -D warnings
# A hang fails the run with its output rather than running into the CI limit.
timeout 2700 cargo test --all-targets --locked
