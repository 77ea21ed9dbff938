#!/usr/bin/env bash
# Records the probe runs the panel tests replay (server/test/fixtures/runs/<name>/): real runs of
# the example scripts through the CLI, with the script and cwd paths made relative to the
# repository so the fixtures work from any checkout. Needs torch (python3-torch); rerun after a
# change to the event format, and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
node esbuild.mjs
out=server/test/fixtures/runs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
record() {
  local name=$1; shift
  node dist/cli.js probe --out "$tmp/$name" "$@" >/dev/null 2>&1 || true
  local dir
  dir=$(ls -d "$tmp/$name"/.regscope/runs/*)
  rm -rf "${out:?}/$name"
  mkdir -p "$out/$name"
  cp "$dir/run.json" "$dir/plan.json" "$dir/events.jsonl" "$out/$name/"
  python3 - "$out/$name" "$PWD" <<'PY'
import json, sys, os
folder, root = sys.argv[1], sys.argv[2]
for name in ("run.json", "plan.json"):
    p = os.path.join(folder, name)
    d = json.load(open(p))
    d["script"] = os.path.relpath(d["script"], root)
    if "cwd" in d: d["cwd"] = os.path.relpath(d["cwd"], root)
    json.dump(d, open(p, "w"), indent=2)
PY
  echo "recorded $name"
}
record mlp_sgd examples/mlp_sgd.py
record mlp_sgd_full examples/mlp_sgd.py --full-landscape
record edge_of_stability examples/edge_of_stability.py
record edge_of_stability_lr01 examples/edge_of_stability.py -- --lr 0.1
record cnn_batchnorm_adamw examples/cnn_batchnorm_adamw.py
record tiny_transformer_lm examples/tiny_transformer_lm.py
