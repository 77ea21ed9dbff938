#!/usr/bin/env bash
# The README's test command: installs what is missing, type-checks, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
bash scripts/setup-system.sh --check-or-install
npx tsc -b
node esbuild.mjs
mapfile -t tests < <(find server/test webview/test -name '*.test.ts' | sort)
exec node --import tsx --test --test-reporter=spec --test-reporter-destination=stdout --test-reporter=./scripts/summary-reporter.mjs --test-reporter-destination=stdout "${tests[@]}"
