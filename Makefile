# dcp: the two commands a newcomer needs are `make test` and `make demo`.
SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json
# dcp pins SDK versions that support Node 20; the SDK's notice about future releases is noise here.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED := true

.PHONY: all install moto build typecheck lint format test bench demo worker-check clean

all: build

# npm ci only when the lock file changed since the last install.
install: $(NPM_STAMP)
$(NPM_STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $(NPM_STAMP)

# moto_server from PATH, or a pinned moto in a project-local virtual environment.
moto:
	@scripts/ensure-moto.sh

build: install
	npx tsc -p tsconfig.json

typecheck: install
	npx tsc -p tsconfig.test.json

# The rules that matter, as tools: ESLint (with the layer import boundaries of docs/ARCHITECTURE.md),
# Prettier, and jscpd (no block of six or more lines repeated in src/).
lint: install
	npx eslint --max-warnings 0 .
	npx prettier --check --log-level warn .
	npx jscpd

format: install
	npx prettier --write --log-level warn .

# The worker image's Dockerfile rules and its native binaries' glibc needs (no Docker): worker/Makefile.
worker-check: install
	$(MAKE) --no-print-directory -C worker check

# Every test: unit tests and behaviour tests against local emulators (moto_server + fauxqs).
# The checks before the tests run two at a time (tsc and ESLint are single-threaded; CI has 2 cores).
test: install moto
	$(MAKE) --no-print-directory -j2 --output-sync=target typecheck build lint worker-check
	npx vitest run --reporter=default --reporter=json --outputFile.json=.vitest-report.json
	@node scripts/test-summary.mjs .vitest-report.json

# Benchmarks print their figures; the last line of each holds the ratio against its baseline.
# --options.deps.external: dcp's build in dist/ loads as plain Node ESM, as it ships; vite-node
# otherwise runs it through its own module transform, which costs about 10% in the hot paths.
BENCH_RUNNER = npx vite-node --options.deps.external=/dist/
bench: build
	@for b in bench/*.bench.ts; do echo "== $$b"; $(BENCH_RUNNER) "$$b" || exit 1; done

# The main flow on the local AWS emulator: setup, submit, start-cluster, workers, monitor.
demo: build
	npx vite-node demo/demo.ts

clean:
	rm -rf dist
