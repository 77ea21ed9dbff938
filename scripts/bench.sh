#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
exec node --import tsx --expose-gc server/bench/analysisBench.ts "$@"
