#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
[[ dist/server.js -nt server/src/lsp/main.ts ]] || { npx tsc -b && node esbuild.mjs; }
exec node --import tsx --expose-gc server/bench/runAll.ts "$@"
