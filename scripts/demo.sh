#!/usr/bin/env bash
# The README's main-job command: checks the shipped example scripts, then probes one of them
# (edge_of_stability.py: a learning rate at the edge of stability) on the embedded TensorFlow.js
# engine, which needs no Python, prints the measured curvature, landscape, noise and weight
# spectra with the findings, and writes the run's HTML report to .demo/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
[[ dist/cli.js -nt server/src/cli/main.ts && dist/tfjsWorker.js -nt server/src/probe/tfjs/surrogateProbe.ts && dist/python/regscope_probe/__main__.py -nt server/python/regscope_probe/__main__.py && dist/webview/webview.js -nt webview/src/main.ts ]] || { npx tsc -b && node esbuild.mjs; }
echo "== regscope check examples/" >&2
node dist/cli.js check examples/ --fail-on never
echo >&2
echo "== regscope probe examples/edge_of_stability.py --engine tfjs (a surrogate of the script's model, trained 10 steps in Node)" >&2
mkdir -p .demo
node dist/cli.js probe examples/edge_of_stability.py --engine tfjs --out .demo --html .demo/report.html
echo >&2
echo "== regscope runs --out .demo (stored probe runs)" >&2
node dist/cli.js runs --out .demo
echo >&2
echo "Open .demo/report.html in a browser: the run's overview, loss landscape, Hessian, gradient noise and weight spectra." >&2
echo "With a Python that has torch, 'regscope probe examples/edge_of_stability.py' (engine auto) runs the script itself." >&2
