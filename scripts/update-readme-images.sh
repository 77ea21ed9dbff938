#!/usr/bin/env bash
# Copies the screenshots the tests took (test-results/panels, test-results/e2e) into
# docs/images/ for the README, as 256-colour PNGs (a third of the size, same look). Run after
# `npm test`; commit the result when the views change.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/images/panels
/usr/bin/python3 - <<'PY'
import os
from PIL import Image
pairs = {
    "test-results/e2e/probe-panel.png": "docs/images/panels/vscode-probe-panel.png",
    "test-results/panels/adamw-overview-light.png": "docs/images/panels/overview.png",
    "test-results/panels/sgd-landscape-dark.png": "docs/images/panels/landscape.png",
    "test-results/panels/adamw-hessian-light.png": "docs/images/panels/hessian.png",
    "test-results/panels/sgd-noise-dark.png": "docs/images/panels/noise.png",
    "test-results/panels/adamw-weights-light.png": "docs/images/panels/weights.png",
    "test-results/panels/compare-dark.png": "docs/images/panels/compare.png",
    "test-results/panels/eos-hessian-high-contrast.png": "docs/images/panels/hessian-high-contrast.png",
}
for src, dst in pairs.items():
    if not os.path.exists(src):
        print(f"missing {src}: run npm test first")
        continue
    Image.open(src).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)
    print(f"{dst}: {os.path.getsize(dst) // 1024} KiB")
PY
