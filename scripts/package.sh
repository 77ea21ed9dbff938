#!/usr/bin/env bash
# Builds a production bundle and packages the extension as regscope-<version>.vsix. The bundles
# contain every runtime dependency, so the package ships no node_modules (--no-dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
npx tsc -b
node esbuild.mjs --production
npx vsce package --no-dependencies "$@"
