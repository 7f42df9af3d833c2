#!/usr/bin/env bash
# Runs the fault drills of examples/faults.rs (kill -9, sink outage, full disk, feed flaps, connection flood) against a debug `banwatch serve`; a manual check, not part of CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
cargo build --bin banwatch --example faults
BANWATCH_BIN=target/debug/banwatch target/debug/examples/faults "$@"
