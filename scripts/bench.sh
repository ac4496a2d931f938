#!/usr/bin/env bash
# `make bench`: generate a deterministic corpus of about $BENCH_EVENTS events (cached between
# runs), ingest it into a fresh state directory with the release build, and report events/s
# and peak memory; then run DuckDB over the same files as the side-by-side reference.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-bench-out}
BENCH_EVENTS=${BENCH_EVENTS:-2500000}
SEED=${BENCH_SEED:-42}
corpus="$BENCH_DIR/corpus-$BENCH_EVENTS-$SEED"
state="$BENCH_DIR/state"
mkdir -p "$BENCH_DIR"

if [ ! -f "$corpus/manifest.json" ]; then
  echo "== generating $BENCH_EVENTS events (seed $SEED) into $corpus"
  rm -rf "$corpus"
  /usr/bin/env time -f "generator: %e s, peak %M KiB" target/release/skein-corpus \
    --events "$BENCH_EVENTS" --seed "$SEED" --out "$corpus" 2>&1 | tail -n 3 || \
    target/release/skein-corpus --events "$BENCH_EVENTS" --seed "$SEED" --out "$corpus"
fi
echo "== corpus: $(du -sh "$corpus" | cut -f1) in $(find "$corpus" -type f | wc -l) files"

echo "== skein ingest (fresh state)"
rm -rf "$state"
target/release/skein --state "$state" ingest --no-progress --timings "$corpus"/*/
echo "== skein stats"
target/release/skein --state "$state" stats

echo "== skein correlate (every rule in correlations/ over every stored event)"
target/release/skein --state "$state" correlate --no-progress --timings --rules correlations | tail -n 1
echo "skein: qradar-t1586-003 flagged $(target/release/skein --state "$state" findings --rule qradar-t1586-003 --format ndjson | wc -l) sign-ins (DuckDB's count of the same query is printed below)"
echo "== correlate again (findings exist: nothing new)"
target/release/skein --state "$state" correlate --no-progress --timings --rules correlations | tail -n 1

echo "== re-ingest (everything is a duplicate)"
target/release/skein --state "$state" ingest --no-progress --timings "$corpus"/*/ | tail -n 4

echo "== DuckDB reference over the same files"
scripts/duckdb_reference.sh "$corpus" || echo "(DuckDB reference unavailable: see the message above)"
