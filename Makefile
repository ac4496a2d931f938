# skein — the two set-up commands are `make demo` and `make test` (see README.md).
# Everything they need is installed here or by the scripts they call, idempotently.

CARGO      ?= cargo
STATE      ?= state
DEMO_DIR   ?= corpus/demo
BENCH_DIR  ?= bench-out
BENCH_EVENTS ?= 2500000
RELEASE_BIN = target/release/skein
CORPUS_BIN  = target/release/skein-corpus

.DEFAULT_GOAL := help
.PHONY: help build demo demo-corpus test check fmt clippy bench clean-state

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

build: ## Build skein and the corpus generator (release)
	bash scripts/build-deps.sh
	$(CARGO) build --release --locked -p skein -p skein-testkit --bins

demo: build ## Ingest the bundled sample corpus into ./state, correlate, print findings and cases, write state/cases.html
	@if [ -d $(STATE)/db ] && $(RELEASE_BIN) --state $(STATE) stats 2>&1 >/dev/null | grep -q 'is older than the supported version'; then \
	  aside=$(STATE)/db.schema-old-$$(date +%Y%m%d%H%M%S); \
	  echo "== $(STATE)/db was written by an older skein (schema); moving it aside to $$aside"; \
	  mv $(STATE)/db $$aside; \
	fi
	@echo "== ingesting $(DEMO_DIR) into $(STATE)"
	$(RELEASE_BIN) --state $(STATE) ingest --no-progress $(DEMO_DIR)/*/
	@echo
	@echo "== skein stats"
	$(RELEASE_BIN) --state $(STATE) stats
	@echo
	@echo "== skein correlate (rules in correlations/)"
	$(RELEASE_BIN) --state $(STATE) correlate --no-progress --rules correlations
	@echo
	@echo "== skein findings"
	$(RELEASE_BIN) --state $(STATE) findings
	@echo
	@echo "== skein cases list"
	$(RELEASE_BIN) --state $(STATE) cases list
	@echo
	@echo "== the cases as one self-contained HTML report"
	$(RELEASE_BIN) --state $(STATE) cases export --format html --out $(STATE)/cases.html

demo-corpus: build ## Regenerate the bundled corpus/demo (after changing the generator)
	rm -rf $(DEMO_DIR)
	$(CORPUS_BIN) --events 2000 --seed 7 --out $(DEMO_DIR)

test: ## Run the whole test suite
	scripts/test.sh

check: fmt clippy ## Formatting and lints (as CI runs them)

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	bash scripts/build-deps.sh
	$(CARGO) clippy --workspace --locked --all-targets -- -D warnings

bench: build ## Generate ~2.5M events, measure ingest events/s and peak memory, DuckDB as reference
	BENCH_DIR=$(BENCH_DIR) BENCH_EVENTS=$(BENCH_EVENTS) scripts/bench.sh

clean-state: ## Delete ./state (the sled database, lock and quarantine)
	rm -rf $(STATE)/db $(STATE)/skein.lock $(STATE)/quarantine.ndjson
