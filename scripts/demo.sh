#!/usr/bin/env bash
# The README's main-job command: checks the shipped example scripts and prints what RegScope
# finds, then the resolved hyperparameters of one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
[[ dist/cli.js -nt server/src/cli/main.ts ]] || { npx tsc -b && node esbuild.mjs; }
echo "== regscope check examples/" >&2
node dist/cli.js check examples/ --fail-on never
echo >&2
echo "== regscope inspect examples/cnn_adam_problems.py (hyperparameters and where they come from)" >&2
node dist/cli.js inspect examples/cnn_adam_problems.py | node -e '
let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);
for (const h of m.hyperparameters) if (h.source!=="default" && (h.source!=="literal" || /Adam|SGD|LR|Loss|DataLoader/.test(h.owner))) console.log(`  line ${String(h.line).padStart(3)}  ${(h.owner+"."+h.name).padEnd(32)} = ${JSON.stringify(h.value)}  (${h.source}: ${h.detail})`);});'
