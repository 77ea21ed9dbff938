#!/usr/bin/env bash
# System packages the tests need. As root it installs them with apt-get; otherwise it says
# exactly what to install. Issues add packages here as they bring them in (python3-torch,
# chromium, openssh-server, slurm-wlm).
set -euo pipefail
NEEDED=()   # the static-analysis tests need no system package beyond Node.js
missing=()
for p in "${NEEDED[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 2
fi
