#!/usr/bin/env bash
# The README's main-job command: checks the shipped example scripts, then probes one of them
# (edge_of_stability.py: a learning rate at the edge of stability) with the Python engine and
# prints the measured curvature, landscape, noise and weight spectra with the findings, and writes
# the run's HTML report (the panels' views in one file) to .demo/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
[[ dist/cli.js -nt server/src/cli/main.ts && dist/python/regscope_probe/__main__.py -nt server/python/regscope_probe/__main__.py && dist/webview/webview.js -nt webview/src/main.ts ]] || { npx tsc -b && node esbuild.mjs; }
echo "== regscope check examples/" >&2
node dist/cli.js check examples/ --fail-on never
echo >&2
echo "== regscope probe examples/edge_of_stability.py (runs the script for 10 steps and measures)" >&2
mkdir -p .demo
set +e
node dist/cli.js probe examples/edge_of_stability.py --out .demo --html .demo/report.html
code=$?
set -e
if [[ $code == 2 ]]; then
  echo >&2
  echo "The probe needs a Python with PyTorch. On Debian/Ubuntu: sudo apt-get install python3-torch" >&2
  echo "(or: pip install torch, or run 'sudo bash scripts/setup-system.sh'). The static checks above need nothing." >&2
  exit 0
fi
echo >&2
echo "== regscope runs --out .demo (stored probe runs)" >&2
node dist/cli.js runs --out .demo
echo >&2
echo "Open .demo/report.html in a browser: the run's overview, loss landscape, Hessian, gradient noise and weight spectra." >&2
