#!/usr/bin/env bash
# `make test`: the whole suite (unit, integration, property and doc tests of every crate),
# then one closing line with the totals, so CI reads the sum rather than the last crate's.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Real validators the export tests use: Python's stix2 and headless Chromium.
bash scripts/build-deps.sh || exit 1
bash scripts/test-deps.sh || exit 1
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?/) p += $i; if ($(i+1) ~ /^failed;?/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
